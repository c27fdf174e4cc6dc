"""The combined matcher as a pipeline that codes a whole campaign, on one machine or a Dask cluster.

After the event, the teams' ideas become one chain of stages, each a function over frames
(:mod:`datathon.challenges.sirene.matcher` holds them; this module runs them at scale):

1. **normalise** the declared names and addresses (:func:`datathon.challenges.sirene.names.normalise_names`,
   :func:`datathon.challenges.sirene.blocking.resolve_workplace`);
2. **retrieve** each bulletin's candidates in its geographic block (:func:`datathon.challenges.sirene.matcher.retrieve`);
3. compute the **pair features** (:func:`datathon.challenges.sirene.matcher.pair_features`);
4. **score** each pair with the trained matchers, then each bulletin's best candidate with the
   confidence model (:meth:`datathon.challenges.sirene.matcher.Coder.predict`);
5. **decide**: code automatically above the threshold chosen for the target precision, send the
   rest to manual review with a ranked list (:func:`datathon.challenges.sirene.matcher.decide`).

Why partitions
    A bulletin is only ever compared with the establishments of its block, and a block never
    leaves the département the bulletin declares (:mod:`datathon.challenges.sirene.blocking`). So the work splits
    into one independent task per département: that département's bulletins against its
    establishments, plus those of the adjacent communes across its border, plus MCA's candidates.
    Peak memory is that of the largest département, not of the whole register, and the tasks run
    on as many workers as there are, on one machine or on a cluster. Every feature is computed
    inside the partition (the name index's word weights included), so a campaign's partition
    behaves like a world of ``departement`` scale: the quality measured there carries over.

    Bulletins whose département cannot be read at all (no commune, no département, no home) form
    one more partition, matched against MCA's candidates only: a national name search would cost
    more than it finds.

The model file
    :func:`train` learns the matcher on the labelled bulletins of a few départements (by default
    the fewest that give 25,000 bulletins) and :meth:`Model.save` writes it with what it was
    trained on: the data directory's manifest (seed, scale, row counts, checksums), the
    départements, the versions of datathon and scikit-learn, and the threshold with its
    held-out precision. A model file is a pickle: load only the files you made or trust.

Typical use::

    from datathon import pipeline
    model = pipeline.train("data_samples")               # or `datathon train --data ... --out model.pkl`
    model.save("model.pkl")
    report = pipeline.match("data_samples", "model.pkl", "submission.csv", workers=2)

or from the shell::

    datathon train --data DIR --out model.pkl
    datathon match --data DIR --model model.pkl --out submission.csv [--workers N] [--scheduler tcp://host:port]
"""
from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import platform
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datathon import data, schema
from datathon.challenges.sirene.blocking import neighbourhoods, resolve_workplace
from datathon.errors import UserError
from datathon.files import written_atomically

MODEL_FORMAT = "datathon-model"
MODEL_VERSION = 1

#: The partition of bulletins whose département cannot be read.
UNPLACED = "unplaced"

#: Files every partition gets whole: they are small, and the resolution of communes needs them all.
SHARED_FILES = ("communes.parquet", "communes_adjacentes.csv", schema.NAF_FILE)

#: How many labelled bulletins :func:`train` learns on by default (whole départements).
TRAINING_BULLETINS = 25_000

#: The columns that place a bulletin (what :func:`datathon.challenges.sirene.blocking.resolve_workplace` reads).
_PLACE_COLUMNS = ("CLT_X", "DLT_X", "ILT_X", "DEPCOM_CODE")

#: How long to try reaching a Dask scheduler before saying it cannot be reached.
SCHEDULER_TIMEOUT = "15s"

_SCHEDULER_ADDRESS = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$")


# ------------------------------------------------------------------------------------------------
# Partitions
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Partition:
    """One task's data directory: the bulletins of some départements and the establishments,
    addresses, communes and NAF labels they need, in the files of a data directory."""

    name: str
    directory: Path
    rows: Mapping[str, int]

    @property
    def bulletins(self) -> int:
        """How many bulletins this partition codes (test split) or learns from (train split)."""
        return self.rows.get("bulletins_test.parquet", 0) + self.rows.get("bulletins_train.parquet", 0)


def departements_of(bulletins: pd.DataFrame, communes: pd.DataFrame) -> np.ndarray:
    """Each bulletin's partition: the département its block lies in (:data:`UNPLACED` when none
    can be read), exactly as :func:`datathon.challenges.sirene.blocking.block_bulletins` will read it."""
    placed = resolve_workplace(bulletins, communes)["departement"]
    return placed.fillna(UNPLACED).to_numpy(dtype=object)


def _read_table(directory: Path, name: str, *, required: bool) -> pa.Table | None:
    """A file of the data directory as an Arrow table, as stored (parquet, or CSV as text)."""
    path = data.find_file(directory, name)
    if path is None:
        if required:
            data.load_frame(directory, name)  # raises the loader's own message: what is missing, what to do
        return None
    if path.suffix == ".parquet":
        try:
            return pq.read_table(path)
        except (OSError, pa.ArrowException) as err:
            raise UserError(f"cannot read {path}: {str(err).splitlines()[0]}; "
                            f"`datathon data check {directory}` says more") from None
    return pa.Table.from_pandas(data.read_raw(path), preserve_index=False)


def _strings(table: pa.Table, column: str) -> np.ndarray:
    """A text column as an object array, nulls as ""."""
    return pc.fill_null(table.column(column).cast(pa.string()), "").to_numpy(zero_copy_only=False)


def partition(data_dir, work, *, groups: Mapping[str, Iterable[str]] | None = None,
              splits: Sequence[str] = ("train", "test"), progress: bool = True) -> list[Partition]:
    """Split a data directory into one data directory per partition, under ``work``.

    ``groups`` maps a partition name to the départements whose bulletins it takes (default: one
    partition per département, plus :data:`UNPLACED` when some bulletins cannot be placed).
    Each partition holds those bulletins of ``splits``, the establishments and addresses of their
    départements' communes and of the communes adjacent to them, the establishments MCA proposed
    to them, and the whole commune, adjacency and NAF tables. ``work`` must not exist yet; it is
    written completely or not at all.
    """
    from tqdm.auto import tqdm

    directory = data.data_directory(data_dir)
    work = Path(work)
    if work.exists():
        raise UserError(f"{work} already exists: the partitions go to a new directory")
    communes = data.load_frame(directory, "communes.parquet")
    adjacences = data.load_frame(directory, "communes_adjacentes.csv")
    neighbours = neighbourhoods(adjacences)

    # Which partition each bulletin goes to.
    bulletins: dict[str, pa.Table] = {}
    keys: dict[str, np.ndarray] = {}
    for split in splits:
        name = f"bulletins_{split}.parquet"
        table = _read_table(directory, name, required=split == "test")
        if table is None:
            continue
        places = data.load_frame(directory, name, columns=[c for c in _PLACE_COLUMNS if c in table.column_names])
        bulletins[split] = table
        keys[split] = departements_of(places, communes)
    if groups is None:
        found = sorted(set().union(*(set(k) for k in keys.values())) - {UNPLACED})
        groups = {d: [d] for d in found}
        if any((k == UNPLACED).any() for k in keys.values()):
            groups[UNPLACED] = [UNPLACED]
    groups = {name: set(deps) for name, deps in groups.items()}

    # The communes each partition needs: its départements' and their neighbours.
    by_departement: dict[str, list[str]] = {}
    for code in communes["code_commune"].astype("string").dropna():
        by_departement.setdefault(schema.departement_of(code), []).append(code)
    needed: dict[str, set[str]] = {}
    for name, deps in groups.items():
        own = [c for dep in deps for c in by_departement.get(dep, [])]
        needed[name] = {n for c in own for n in neighbours.get(c, [c])}

    register = _read_table(directory, "etablissements.parquet", required=True)
    adresses = _read_table(directory, "adresses.parquet", required=False)
    register_communes = _CommuneCodes(_strings(register, "codeCommuneEtablissement"))
    address_communes = _CommuneCodes(_strings(adresses, "code_insee")) if adresses is not None else None
    position = pd.Series(np.arange(register.num_rows), index=_strings(register, "siret"))
    position = position[~position.index.duplicated()]

    work.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{work.name}.", dir=work.parent))
    out: list[Partition] = []
    try:
        for name in tqdm(sorted(groups), desc="partitioning", unit="part.", disable=not progress):
            part = tmp / name
            part.mkdir()
            rows: dict[str, int] = {}
            mca_rows = []
            for split, table in bulletins.items():
                mine = np.flatnonzero(np.isin(keys[split], list(groups[name])))
                chosen = table.take(mine)
                rows[f"bulletins_{split}.parquet"] = _write(chosen, part / f"bulletins_{split}.parquet")
                if "SIRETC" in chosen.column_names:
                    proposed = position.reindex(_strings(chosen, "SIRETC")).dropna()
                    mca_rows.append(proposed.to_numpy(dtype=np.int64))
            area = sorted(needed[name])
            in_area = register_communes.rows_in(area)
            taken = np.union1d(in_area, np.concatenate(mca_rows) if mca_rows else np.empty(0, np.int64))
            rows["etablissements.parquet"] = _write(register.take(taken), part / "etablissements.parquet")
            if adresses is not None:
                rows["adresses.parquet"] = _write(adresses.take(address_communes.rows_in(area)),
                                                  part / "adresses.parquet")
            for shared in SHARED_FILES:
                source = data.find_file(directory, shared)
                if source is not None:
                    shutil.copyfile(source, part / source.name)
            out.append(Partition(name=name, directory=work / name, rows=rows))
        os.replace(tmp, work)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


class _CommuneCodes:
    """The commune code of every row, as small integers: which rows lie in a set of communes is then
    one lookup per row (the register has millions of rows, a campaign a hundred partitions)."""

    def __init__(self, communes: np.ndarray):
        self.codes, self.uniques = pd.factorize(pd.Series(communes, dtype=object))

    def rows_in(self, communes: Sequence[str]) -> np.ndarray:
        wanted = pd.Index(self.uniques).get_indexer(list(communes))
        inside = np.zeros(len(self.uniques) + 1, dtype=bool)  # the last slot: code -1, no commune
        inside[wanted[wanted >= 0]] = True
        return np.flatnonzero(inside[self.codes])


def _write(table: pa.Table, path: Path) -> int:
    pq.write_table(table, path, compression="zstd")
    return table.num_rows


# ------------------------------------------------------------------------------------------------
# The model file
# ------------------------------------------------------------------------------------------------


@dataclass
class Model:
    """A trained :class:`datathon.challenges.sirene.matcher.Coder` without its register, and what it was trained on.

    ``coder`` holds the activity classifier, the matchers, the confidence model and the threshold;
    :meth:`coder_for` puts it to work on a partition's register.
    """

    coder: object  # a datathon.challenges.sirene.matcher.Coder with reference=None and held_out=None
    trained_on: dict  # the training data's manifest (seed, scale, rows, checksums), and its directory
    departements: list[str]
    bulletins: int
    held_out: dict  # the threshold's coding rate and precision on held-out training bulletins
    seconds: float
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    versions: dict = field(default_factory=lambda: _versions())

    @property
    def threshold(self) -> float:
        return self.coder.threshold

    @property
    def precision(self) -> float:
        return self.coder.precision

    def coder_for(self, reference):
        """The coder, working on ``reference`` (a :class:`datathon.challenges.sirene.matcher.Reference`)."""
        return dataclasses.replace(self.coder, reference=reference)

    def describe(self) -> str:
        """One line saying what the model is and what it was trained on."""
        manifest = self.trained_on.get("manifest") or {}
        world = (f"{manifest.get('scale')} world of seed {manifest.get('seed')}" if manifest.get("seed") is not None
                 else f"data of {self.trained_on.get('directory')}")
        return (f"trained on {self.bulletins:,} labelled bulletins of {len(self.departements)} département(s) "
                f"of a {world}, for {self.precision:.0%} precision (threshold {self.threshold:.3f}: "
                f"{self.held_out['coding_rate']:.1%} coded at {self.held_out['precision']:.1%} on held-out bulletins)")

    def save(self, path) -> Path:
        """Write the model file, whole or not at all."""
        path = Path(path)
        if path.is_dir():
            raise UserError(f"{path} is a directory: give the model file's name, say {path / 'model.pkl'}")
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"format": MODEL_FORMAT, "version": MODEL_VERSION, "features": _features(),
                   **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}}
        with written_atomically(path) as tmp, open(tmp, "wb") as f:
            pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
        return path

    @classmethod
    def load(cls, path) -> Model:
        """Read a model file written by :meth:`save` (``datathon train``)."""
        path = Path(path)
        if not path.is_file():
            raise UserError(f"no model file {path}: train one with `datathon train --data DIR --out {path}`")
        try:
            with open(path, "rb") as f:
                payload = pickle.load(f)
        except Exception as err:  # a truncated or foreign file raises anything pickle can
            raise UserError(f"{path} is not a datathon model file ({type(err).__name__}): "
                            "train one with `datathon train`") from None
        if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
            raise UserError(f"{path} is not a datathon model file: train one with `datathon train`")
        if payload.get("version") != MODEL_VERSION or payload.get("features") != _features():
            raise UserError(f"{path} was written by another version of datathon (model format "
                            f"{payload.get('version')}, its features differ): retrain it with `datathon train`")
        trained_with = payload["versions"].get("scikit-learn")
        if trained_with != _versions()["scikit-learn"]:
            logging.getLogger(__name__).warning(
                "%s was trained with scikit-learn %s, this is %s: retrain it if the results look odd",
                path, trained_with, _versions()["scikit-learn"])
        return cls(**{f.name: payload[f.name] for f in dataclasses.fields(cls)})


def _features() -> list[str]:
    from datathon.challenges.sirene.matcher import FEATURES

    return list(FEATURES)


def _versions() -> dict:
    import sklearn

    from datathon import __version__

    return {"datathon": __version__, "scikit-learn": sklearn.__version__, "python": platform.python_version()}


def training_departements(data_dir, *, bulletins: int = TRAINING_BULLETINS) -> list[str]:
    """The fewest départements whose labelled bulletins reach ``bulletins`` (the most labelled
    first, then by code): all of them in a world of one département."""
    directory = data.data_directory(data_dir)
    places = data.load_frame(directory, "bulletins_train.parquet", columns=[*_PLACE_COLUMNS, schema.TRUTH_COLUMN])
    places = places[places[schema.TRUTH_COLUMN].notna()]
    communes = data.load_frame(directory, "communes.parquet")
    counts = pd.Series(departements_of(places, communes)).value_counts()
    counts = counts.drop(UNPLACED, errors="ignore")
    if counts.empty:
        raise UserError(f"{directory}/bulletins_train.parquet has no labelled bulletin (SIRET_DEC) "
                        "in a département that can be read: nothing to learn from")
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    chosen, total = [], 0
    for dep, n in ordered:
        chosen.append(dep)
        total += n
        if total >= bulletins:
            break
    return sorted(chosen)


def train(data_dir, *, departements: Sequence[str] | None = None, bulletins: int = TRAINING_BULLETINS,
          precision: float = 0.95, seed: int = 0, work=None, progress: bool = True) -> Model:
    """Learn the matcher on the labelled bulletins of ``departements`` (by default
    :func:`training_departements`) and return the :class:`Model`."""
    from datathon.challenges.sirene.matcher import Coder, Reference

    if not 0 < precision < 1:
        raise UserError(f"the target precision is a share between 0 and 1 (say 0.95), not {precision}")
    if bulletins < 1:
        raise UserError(f"the number of training bulletins must be positive, not {bulletins}")
    started = time.perf_counter()
    directory = data.data_directory(data_dir)
    chosen = sorted(departements) if departements else training_departements(directory, bulletins=bulletins)
    with _work_directory(work, directory) as root:
        parts = partition(directory, root / "parts", groups={"training": chosen}, splits=("train",),
                          progress=progress)
        if parts[0].rows.get("bulletins_train.parquet", 0) == 0:
            raise UserError(f"no training bulletin in département(s) {', '.join(chosen)} of {directory}")
        ds = data.load(parts[0].directory, splits=("train",), with_truth=False)
    coder = Coder.train(Reference.from_dataset(ds), ds.bulletins_train, precision=precision, seed=seed,
                        progress=progress)
    table = coder.held_out
    coded = table["confidence"].to_numpy() >= coder.threshold
    held_out = {"bulletins": int(len(table)), "coding_rate": float(coded.mean()) if len(table) else 0.0,
                "precision": float(table["correct"].to_numpy()[coded].mean()) if coded.any() else 0.0}
    manifest = data.load_manifest(directory) or {}
    return Model(coder=dataclasses.replace(coder, reference=None, held_out=None),
                 trained_on={"directory": str(directory.resolve()), "manifest": manifest},
                 departements=list(chosen), bulletins=int(len(ds.bulletins_train)), held_out=held_out,
                 seconds=round(time.perf_counter() - started, 1))


class _work_directory:
    """A scratch directory: ``work`` when given (created, left in place), else a temporary one
    beside ``near`` (removed at the end, whatever happens)."""

    def __init__(self, work, near: Path):
        self.given = Path(work) if work is not None else None
        self.near = Path(near)
        self.path: Path | None = None

    def __enter__(self) -> Path:
        if self.given is not None:
            self.given.mkdir(parents=True, exist_ok=True)
            self.path = Path(tempfile.mkdtemp(prefix="datathon-", dir=self.given))
        else:
            parent = self.near if self.near.is_dir() else self.near.parent
            try:
                self.path = Path(tempfile.mkdtemp(prefix=".datathon-work-", dir=parent))
            except OSError:  # a read-only data directory: the system's temporary directory then
                self.path = Path(tempfile.mkdtemp(prefix="datathon-work-"))
        return self.path

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


# ------------------------------------------------------------------------------------------------
# Coding
# ------------------------------------------------------------------------------------------------


def code_partition(directory, model: Model, k: int = 5, threads: int | None = None) -> tuple[pd.DataFrame, dict]:
    """The submission lines (``CABBI``, ``siret``, ``rank``, ``score``) of one partition's test
    bulletins, and the seconds spent loading it, building its reference (name index, geocoder,
    nearby index) and coding its bulletins. Runs wherever the partition's directory can be read: in
    this process or on a Dask worker. ``threads`` caps the numerical libraries' threads (one per
    worker on a cluster)."""
    from threadpoolctl import threadpool_limits

    from datathon.challenges.sirene.matcher import Reference

    directory = Path(directory)
    if not directory.is_dir():
        raise UserError(f"{directory} cannot be read from {platform.node()}: on a cluster, --work must be "
                        "a directory every worker can read (a shared file system)")
    seconds = {}
    tick = time.perf_counter()
    with threadpool_limits(limits=threads):
        has_train = data.find_file(directory, "bulletins_train.parquet") is not None
        ds = data.load(directory, splits=("train", "test") if has_train else ("test",), with_truth=False)
        test = ds.bulletins_test.reset_index(drop=True)
        seconds["load"] = time.perf_counter() - tick
        if len(test) == 0 or len(ds.etablissements) == 0:
            return _unmatched(test), seconds
        tick = time.perf_counter()
        reference = Reference.from_dataset(ds)
        if has_train:
            reference.learn_frequent_employers(ds.bulletins_train)
        seconds["reference"] = time.perf_counter() - tick
        tick = time.perf_counter()
        prediction = model.coder_for(reference).predict(test, k=k)
        lines = prediction.submission()
        seconds["code"] = time.perf_counter() - tick
        seconds.update(prediction.seconds)
    return lines, seconds


def _unmatched(bulletins: pd.DataFrame) -> pd.DataFrame:
    """A rank-1 line without a SIRET for each bulletin: nothing to propose, manual review."""
    return pd.DataFrame({"CABBI": bulletins["CABBI"].astype("string").to_numpy(dtype=object),
                         "siret": np.full(len(bulletins), None, dtype=object),
                         "rank": np.ones(len(bulletins), dtype=np.int64), "score": np.zeros(len(bulletins))})


@dataclass
class MatchReport:
    """What :func:`match` did: the submission's counts and how the work went."""

    out: Path
    bulletins: int
    coded: int
    lines: int
    partitions: int
    workers: int | str
    threshold: float
    seconds: dict  # wall time: partition, code, write, total
    work_seconds: dict  # summed over partitions, on whichever worker: load, reference, code and its stages
    largest_partition: dict  # its name, establishments and test bulletins

    @property
    def coding_rate(self) -> float:
        return self.coded / self.bulletins if self.bulletins else 0.0

    def describe(self) -> str:
        return (f"wrote {self.out}: {self.bulletins:,} bulletins, {self.coded:,} coded automatically "
                f"({self.coding_rate:.1%}) at threshold {self.threshold:.3f}, the rest ranked for review; "
                f"{self.partitions} partitions on {self.workers} in {self.seconds['total']:.0f} s")


def match(data_dir, model, out, *, workers: int | None = None, scheduler: str | None = None, work=None,
          k: int = 5, progress: bool = True) -> MatchReport:
    """Code the test bulletins of ``data_dir`` with ``model`` (a :class:`Model` or its file) and
    write the ranked submission ``out`` (``CABBI;siret;rank;score``), whole or not at all.

    The work runs one task per département (:func:`partition`): with ``workers=0`` in this
    process, otherwise on Dask, on an embedded local cluster of ``workers`` processes (default:
    one per core) or, with ``scheduler`` (``tcp://host:port``), on an
    existing cluster whose workers can read ``work``.
    """
    started = time.perf_counter()
    directory = data.data_directory(data_dir)
    out = Path(out)
    if out.is_dir():
        raise UserError(f"--out {out} is a directory: give the submission file's name, say {out / 'submission.csv'}")
    if not out.parent.is_dir():
        raise UserError(f"cannot write {out}: the directory {out.parent} does not exist")
    if k < 1:
        raise UserError(f"k (the candidates listed per bulletin) must be at least 1, not {k}")
    if workers is not None and workers < 0:
        raise UserError(f"--workers must be 0 (this process) or more, not {workers}")
    if scheduler is not None and not _SCHEDULER_ADDRESS.match(scheduler):
        raise UserError(f"--scheduler {scheduler!r} is not a Dask scheduler address: say tcp://host:8786")
    if isinstance(model, (str, Path)):
        model = Model.load(model)
    if data.find_file(directory, "bulletins_test.parquet") is None:
        data.load_frame(directory, "bulletins_test.parquet")  # the loader's message: what is missing

    timings = {}
    with _work_directory(work, out.parent) as root:
        tick = time.perf_counter()
        parts = partition(directory, root / "parts", progress=progress)
        timings["partition"] = round(time.perf_counter() - tick, 1)
        tick = time.perf_counter()
        results, where = _run(parts, model, k=k, workers=workers, scheduler=scheduler, progress=progress)
        timings["code"] = round(time.perf_counter() - tick, 1)
    tick = time.perf_counter()
    lines = pd.concat([results[p.name][0] for p in parts], ignore_index=True)
    with written_atomically(out) as tmp:
        lines.to_csv(tmp, sep=";", index=False)
    timings["write"] = round(time.perf_counter() - tick, 1)
    timings["total"] = round(time.perf_counter() - started, 1)
    first = lines[lines["rank"] == 1]
    work_seconds: dict[str, float] = {}
    for _, spent in results.values():
        for stage, value in spent.items():
            work_seconds[stage] = round(work_seconds.get(stage, 0.0) + value, 1)
    largest = max(parts, key=lambda p: (p.rows.get("etablissements.parquet", 0), p.name))
    return MatchReport(out=out, bulletins=int(len(first)), coded=int(first["siret"].notna().sum()),
                       lines=int(len(lines)), partitions=len(parts), workers=where, threshold=model.threshold,
                       seconds=timings, work_seconds=work_seconds,
                       largest_partition={"name": largest.name,
                                          "establishments": largest.rows.get("etablissements.parquet", 0),
                                          "bulletins": largest.rows.get("bulletins_test.parquet", 0)})


def _run(parts: list[Partition], model: Model, *, k: int, workers: int | None, scheduler: str | None,
         progress: bool) -> tuple[dict[str, tuple[pd.DataFrame, dict]], str]:
    """Each partition's :func:`code_partition` result, and a phrase saying where they were computed."""
    from tqdm.auto import tqdm

    # The largest partitions first: the last task to start is then a short one.
    order = sorted(parts, key=lambda p: (-p.bulletins, p.name))
    bar = tqdm(total=sum(p.rows.get("bulletins_test.parquet", 0) for p in parts), desc="coding",
               unit="bulletin", unit_scale=True, disable=not progress)
    results: dict[str, tuple[pd.DataFrame, dict]] = {}
    try:
        if scheduler is None and workers == 0:
            for p in order:
                results[p.name] = code_partition(p.directory, model, k)
                bar.update(p.rows.get("bulletins_test.parquet", 0))
            return results, "this process"
        with _client(workers, scheduler) as (client, where):
            shared = client.scatter(model, broadcast=True)
            futures = {client.submit(code_partition, str(p.directory), shared, k, 1, pure=False): p for p in order}
            from distributed import as_completed

            for future in as_completed(futures):
                p = futures[future]
                results[p.name] = future.result()
                bar.update(p.rows.get("bulletins_test.parquet", 0))
                bar.set_postfix_str(f"dép. {p.name}")
        return results, where
    finally:
        bar.close()


class _client:
    """A Dask client: on the cluster at ``scheduler``, or on an embedded local cluster."""

    def __init__(self, workers: int | None, scheduler: str | None):
        self.workers = workers
        self.scheduler = scheduler
        self.cluster = None
        self.client = None

    def __enter__(self):
        from distributed import Client, LocalCluster

        if self.scheduler is not None:
            try:
                self.client = Client(self.scheduler, timeout=SCHEDULER_TIMEOUT)
            except (OSError, TimeoutError) as err:
                raise UserError(f"cannot reach the Dask scheduler at {self.scheduler} ({err}): start one with "
                                "`dask scheduler`, and workers with `dask worker ADDRESS`") from None
            count = len(self.client.scheduler_info(n_workers=-1).get("workers", {}))
            if count == 0:
                self.client.close()
                raise UserError(f"the Dask scheduler at {self.scheduler} has no worker: start some with "
                                f"`dask worker {self.scheduler}`")
            return self.client, f"{count} Dask worker(s) of {self.scheduler}"
        workers = self.workers or os.cpu_count() or 1
        # One thread per worker process: the tasks are numpy/pandas/scikit-learn code that holds the GIL
        # between vectorised calls, so processes, not threads, use the cores.
        self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                    dashboard_address=None, silence_logs=logging.ERROR)
        self.client = Client(self.cluster)
        return self.client, f"{workers} local Dask worker(s)"

    def __exit__(self, *exc) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

"""What the course notebooks share: the check that opens each of them, the real figures they quote,
the measures of the data they plot, and the metrics record ``datathon material run`` collects.

Every notebook of ``course/`` and ``solutions/`` opens with a ``parameters`` cell, then::

    from datathon.course import check_environment
    data_dir = check_environment(data_dir, required=["etablissements.parquet", "bulletins_train.parquet"])

which prints one compact status block (Python, the key packages against the kit's pins, the data
directory and the files the notebook needs) and returns the data directory as an absolute path.
A relative ``data_dir`` is looked for in the working directory, then in its parents: JupyterLab
and nbval start a notebook's kernel in the notebook's own directory (``course/``), while the
sample lives at the top of the repository. When something is missing, the check raises
:class:`EnvironmentProblem`, whose one-line message says what to run (``make sample``, ...).

A notebook that wants figures in ``OUT/summary.json`` calls :func:`record_metrics` (usually in
its last cell); see :mod:`datathon.material`.
"""
from __future__ import annotations

import importlib.metadata
import json
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from datathon import schema
from datathon.errors import UserError

MIN_PYTHON = (3, 11)
#: The packages a notebook's reader cares about: their versions are printed and checked.
KEY_PACKAGES = ("numpy", "pandas", "pyarrow", "matplotlib", "scikit-learn", "rapidfuzz")
#: What a notebook needs when it does not say: the register and the labelled bulletins.
DEFAULT_REQUIRED = ("etablissements.parquet", "bulletins_train.parquet")
SAMPLE_DIR = "data_samples"
#: The event's data directory, when a notebook's parameters name none (set by grading and the event's server).
DATA_VARIABLE = "DATATHON_DATA"
#: The MIME type of a metrics record in a notebook's outputs (what :mod:`datathon.material` reads).
METRICS_MIMETYPE = "application/vnd.datathon.metrics+json"


class EnvironmentProblem(UserError):
    """The environment cannot run the notebook: the message says what is wrong and what to do.

    A notebook shows it as its message alone, without a traceback (IPython calls
    :meth:`_render_traceback_`): the traceback of a missing file is noise to a participant.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[31mEnvironmentProblem\x1b[0m: {self.message}"]


# --------------------------------------------------------------------------------------------
# The environment check
# --------------------------------------------------------------------------------------------


@dataclass
class PackageStatus:
    name: str
    installed: str | None  # None: not installed
    pinned: str | None  # None: the kit does not pin it

    @property
    def as_pinned(self) -> bool:
        return self.installed is not None and (self.pinned is None or self.installed == self.pinned)


@dataclass
class EnvironmentReport:
    """What :func:`check_environment` found; :meth:`format` is the block it prints."""

    python: tuple[int, ...]
    packages: list[PackageStatus]
    data_given: str
    data_dir: Path | None  # resolved, None when not found
    required: list[str]
    missing_files: list[str] = field(default_factory=list)
    manifest: dict | None = None

    @property
    def python_ok(self) -> bool:
        return tuple(self.python[:2]) >= MIN_PYTHON

    def problems(self) -> list[str]:
        """What stops the notebook, each with what to do; empty when all is well."""
        out = []
        if not self.python_ok:
            out.append(f"Python {_version(self.python)} is too old: the kit needs Python "
                       f"{_version(MIN_PYTHON)} or later (`make lab` builds .venv with the right one)")
        missing = [p.name for p in self.packages if p.installed is None]
        if missing:
            out.append(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed: "
                       "run `make venv` at the top of the repository (or `pip install -e .`)")
        if self.data_dir is None:
            out.append(f"no data directory {self.data_given!r} here or above {Path.cwd()}: "
                       + _how_to_get_data(self.data_given))
        elif self.missing_files:
            out.append(f"{self.data_dir} lacks {', '.join(self.missing_files)}: "
                       + _how_to_get_data(self.data_given, self.missing_files))
        return out

    def warnings(self) -> list[str]:
        """What may change results without stopping the notebook: versions other than the pins."""
        return [f"{p.name} {p.installed} is installed, the kit pins {p.pinned}: results may differ "
                "(`make venv` installs the pinned set)"
                for p in self.packages if p.installed is not None and not p.as_pinned]

    def format(self) -> str:
        """One compact status block: a line for Python, the packages, the data, then any problem."""
        ok, bad = "✓", "✗"
        lines = [f"{ok if self.python_ok else bad} Python {_version(self.python)}"]
        shown = " · ".join(f"{p.name} {p.installed or 'MISSING'}" for p in self.packages)
        all_pinned = all(p.as_pinned for p in self.packages)
        lines.append(f"{ok if all_pinned else '!'} {shown}"
                     + ("  (as pinned)" if all_pinned else "  (see below)"))
        if self.data_dir is None:
            lines.append(f"{bad} data: {self.data_given} not found")
        else:
            what = _describe_manifest(self.manifest)
            files = (f"{len(self.required)} needed file{'s' if len(self.required) != 1 else ''} present"
                     if not self.missing_files else f"missing {', '.join(self.missing_files)}")
            lines.append(f"{bad if self.missing_files else ok} data: {self.data_dir}"
                         + (f" ({what})" if what else "") + f"; {files}")
        lines += [f"  warning: {w}" for w in self.warnings()]
        lines += [f"  problem: {p}" for p in self.problems()]
        return "\n".join(lines)


def _version(parts: Sequence[int]) -> str:
    return ".".join(str(p) for p in parts[:3])


def _describe_manifest(manifest: dict | None) -> str:
    if not manifest:
        return ""
    if manifest.get("kind") == "synthetic":
        return f"synthetic, scale {manifest.get('scale')}, seed {manifest.get('seed')}"
    return str(manifest.get("kind") or "")


def _how_to_get_data(given: str, missing: Sequence[str] = ()) -> str:
    if list(missing) == ["truth_test.parquet"]:
        return ("the test truth is kept apart by the instructor: score on the train split instead, "
                "or copy truth_test.parquet into the directory")
    given_path = Path(given)
    if SAMPLE_DIR in (given_path.name, given_path.parent.name):  # data_samples[/<challenge>]: the kit's sample
        from datathon.challenges import get

        challenge = given_path.name if given_path.parent.name == SAMPLE_DIR else notebook_challenge()
        try:
            seed = get(challenge).sample_seed
        except UserError:  # not an installed challenge: say what would make one
            seed = "N"
        return (f"run `make sample` at the top of the repository (or `datathon generate --challenge {challenge} "
                f"--scale sample --seed {seed} --out {SAMPLE_DIR}/{challenge} --force`)")
    return (f"generate one with `datathon generate --scale sample --seed N --out {given}`, "
            "or copy the event's data files there")


def pinned_versions() -> dict[str, str]:
    """The kit's pins (``name -> version``), runtime and development ones.

    Read from ``pyproject.toml`` when the package runs from the repository (``pip install -e``),
    so that a pin changed there shows at once; otherwise from the installed package's metadata
    (what ``pip install`` recorded from it). Empty when neither is found.
    """
    requirements: list[str] = []
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    if pyproject.is_file():
        import tomllib

        try:
            project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
            requirements = list(project.get("dependencies", []))
            for extra in project.get("optional-dependencies", {}).values():
                requirements += list(extra)
        except (OSError, ValueError):
            requirements = []
    if not requirements:
        try:
            requirements = importlib.metadata.requires("datathon") or []
        except importlib.metadata.PackageNotFoundError:
            return {}
    pins = {}
    for req in requirements:
        m = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;,]+)", req)
        if m:
            pins[_normalise(m[1])] = m[2]
    return pins


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_version(name: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def find_data_dir(data_dir: str | Path, start: str | Path | None = None) -> Path | None:
    """The data directory as an absolute path, or None when there is none.

    An absolute path is taken as it is. A relative one is looked for in ``start`` (the working
    directory), then in each of its parents: a notebook of ``course/sirene/`` finds
    ``data_samples/sirene`` at the top of the repository.
    """
    path = Path(data_dir).expanduser()
    if path.is_absolute():
        return path if path.is_dir() else None
    here = Path(start).resolve() if start is not None else Path.cwd()
    for base in (here, *here.parents):
        if (base / path).is_dir():
            return (base / path).resolve()
    return None


def notebook_challenge(start: str | Path | None = None) -> str:
    """The challenge a notebook belongs to: ``$DATATHON_CHALLENGE`` (set by grading and the event's
    server), else the nearest enclosing folder named after an installed challenge (``course/energy/``),
    else the default."""
    from datathon.challenges import DEFAULT, ENVIRONMENT, available

    if os.environ.get(ENVIRONMENT):
        return os.environ[ENVIRONMENT]
    names = available()
    here = Path(start).resolve() if start is not None else Path.cwd()
    return next((p.name for p in (here, *here.parents) if p.name in names), DEFAULT)


def sample_dir(challenge: str | None = None) -> str:
    """The public sample of a challenge, relative: ``data_samples/<challenge>`` (found from a notebook's
    folder upwards by :func:`find_data_dir`)."""
    return f"{SAMPLE_DIR}/{challenge or notebook_challenge()}"


def chosen_data_dir(data_dir: str | Path | None) -> str | Path:
    """A notebook's data directory: the one it names, else the event's (``$DATATHON_DATA``: set by the
    event's server and by grading), else its challenge's public sample."""
    if data_dir is not None:
        return data_dir
    return os.environ.get(DATA_VARIABLE) or sample_dir()


def environment_report(
    data_dir: str | Path | None = None,
    required: Sequence[str] = DEFAULT_REQUIRED,
    *,
    packages: Sequence[str] = KEY_PACKAGES,
    start: str | Path | None = None,
    python: Sequence[int] | None = None,
) -> EnvironmentReport:
    """Check Python, the ``packages`` and the data directory, without printing or raising.

    ``required`` lists file names of the data directory (:mod:`datathon.schema`); a schema
    ``.parquet`` file may be given as ``.csv``. ``start`` is where a relative ``data_dir`` is
    looked for first (default: the working directory); ``python`` stands for ``sys.version_info``.
    """
    from datathon.data import find_file

    if isinstance(required, str):
        required = [required]
    pins = pinned_versions()
    statuses = [PackageStatus(p, installed_version(p), pins.get(_normalise(p))) for p in packages]
    data_dir = chosen_data_dir(data_dir)
    found = find_data_dir(data_dir, start)
    missing: list[str] = []
    manifest = None
    if found is not None:
        missing = [name for name in required if find_file(found, name) is None]
        try:
            manifest = json.loads((found / schema.MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            manifest = None
    return EnvironmentReport(
        python=tuple(python if python is not None else sys.version_info[:3]),
        packages=statuses,
        data_given=str(data_dir),
        data_dir=found,
        required=list(required),
        missing_files=missing,
        manifest=manifest if isinstance(manifest, dict) else None,
    )


def check_environment(
    data_dir: str | Path | None = None,
    required: Sequence[str] = DEFAULT_REQUIRED,
    *,
    packages: Sequence[str] = KEY_PACKAGES,
    quiet: bool = False,
) -> Path:
    """The first cell of every notebook: print the status block, return the data directory.

    Raises :class:`EnvironmentProblem` (one line in a notebook) when Python is too old, a key
    package is missing, or the data directory or one of the ``required`` files is absent.
    Versions other than the kit's pins are warnings only.
    """
    report = environment_report(data_dir, required, packages=packages)
    if not quiet:
        print(report.format())
    problems = report.problems()
    if problems:
        raise EnvironmentProblem("; ".join(problems))
    assert report.data_dir is not None
    return report.data_dir


# --------------------------------------------------------------------------------------------
# The real figures the course builds on (DESIGN §1)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RealFigures:
    """The 2017 census campaign, its coding by MCA and by hand, and the 2021 prototype."""

    bulletins: int = 1_700_000  # bulletins of employed people to code, 2017 campaign
    establishments: int = 1_674_000  # establishments they point to
    register_extract: int = 8_500_000  # establishments in the 2018 event's register extract
    mca_auto_low: float = 0.44  # MCA codes 44–45 % automatically
    mca_auto_high: float = 0.45
    coders: int = 70  # the rest is coded by hand: 70 people ...
    coding_months: int = 5  # ... for 5 months
    # Share of re-coded bulletins where a second coder chose another SIRET, by how it was coded.
    recoding_disagreement: tuple[tuple[str, float], ...] = (
        ("MCA alone", 0.116),
        ("MCA + activity check", 0.192),
        ("manual choice", 0.332),
    )
    prototype_auto: float = 0.51  # 2021 prototype (search engine + learning): auto-coded share ...
    prototype_precision: float = 0.81  # ... at this precision, on real data

    @property
    def mca_auto(self) -> float:
        """The middle of MCA's 44–45 %."""
        return (self.mca_auto_low + self.mca_auto_high) / 2

    @property
    def mca_precision(self) -> float:
        """MCA's precision as re-coding measures it: 1 − 11.6 % disagreement."""
        return 1 - dict(self.recoding_disagreement)["MCA alone"]

    @property
    def manual_bulletins(self) -> int:
        return round(self.bulletins * (1 - self.mca_auto))

    @property
    def person_months(self) -> int:
        return self.coders * self.coding_months


REAL = RealFigures()


# --------------------------------------------------------------------------------------------
# Measures of a labelled split (bulletins_train) the notebooks plot
# --------------------------------------------------------------------------------------------

#: MCA's decision for its best candidate's class (datathon/mca.py).
MCA_DECISIONS = {0: "no candidate", 1: "validated", 2: "validated", 3: "activity check",
                 4: "activity check", 5: "activity check", 6: "rejected", 7: "rejected",
                 8: "rejected", 9: "rejected"}
#: Name level × address level of each class ("good/fair" = good name, fair address).
MCA_CLASS_LEVELS = {1: "good/good", 2: "good/fair", 3: "fair/good", 4: "good/bad", 5: "fair/fair",
                    6: "bad/good", 7: "fair/bad", 8: "bad/fair", 9: "bad/bad"}
CLEAN = "clean"


def mca_submission(bulletins: pd.DataFrame, *, with_score: bool = False) -> pd.DataFrame:
    """MCA's codings (``SIRETC``) as a submission frame ``CABBI, siret`` (null = not coded).

    ``with_score`` adds MCA's name score (``NOTE_MCA_NOM_C``) as the ``score`` column.
    """
    sub = pd.DataFrame({"CABBI": bulletins["CABBI"].to_numpy(),
                        "siret": bulletins["SIRETC"].astype("string").to_numpy()})
    if with_score:
        sub["score"] = pd.to_numeric(bulletins["NOTE_MCA_NOM_C"], errors="coerce").astype("float64").to_numpy()
    return sub


def mechanisms_of(noise: pd.Series) -> pd.Series:
    """Each bulletin's noise mechanisms as a list (``[]`` when none was applied)."""
    return noise.fillna("").astype(str).map(lambda s: [m for m in s.split("|") if m])


def mechanism_frequencies(bulletins: pd.DataFrame) -> pd.DataFrame:
    """How often each noise mechanism was applied to labelled bulletins, overall and by mode.

    One row per mechanism of the ``NOISE`` column, plus ``clean`` (no mechanism), sorted by
    frequency; columns ``level`` (from :mod:`datathon.challenges.sirene.world.noise`), ``n``, ``share`` of all
    bulletins, ``paper`` and ``internet`` (share of the bulletins of that collection mode). A
    bulletin with several mechanisms counts in each: shares do not add up to 1.
    """
    from datathon.challenges.sirene.world.noise import MECHANISMS_BY_NAME

    lists = mechanisms_of(bulletins[schema.NOISE_COLUMN])
    lists = lists.map(lambda ms: ms or [CLEAN])
    typcol = pd.to_numeric(bulletins["TYPCOL"], errors="coerce")
    long = pd.DataFrame({"mechanism": lists, "typcol": typcol.to_numpy()}).explode("mechanism")
    n_mode = {0: int((typcol == 0).sum()), 1: int((typcol == 1).sum())}
    counts = long.groupby("mechanism").size()
    by_mode = long.groupby(["mechanism", "typcol"]).size().unstack(fill_value=0)
    out = pd.DataFrame({
        "level": [MECHANISMS_BY_NAME[m].level if m in MECHANISMS_BY_NAME else "" for m in counts.index],
        "n": counts.to_numpy(),
        "share": counts.to_numpy() / max(len(bulletins), 1),
        "paper": [by_mode.at[m, 0] / n_mode[0] if n_mode[0] and 0 in by_mode else np.nan for m in counts.index],
        "internet": [by_mode.at[m, 1] / n_mode[1] if n_mode[1] and 1 in by_mode else np.nan for m in counts.index],
    }, index=pd.Index(counts.index, name="mechanism"))
    return out.sort_values(["n"], ascending=False, kind="stable")


def mca_by_class(bulletins: pd.DataFrame) -> pd.DataFrame:
    """MCA's classes on labelled bulletins: how many, how many coded, how many right.

    One row per class 0–9 (0: no candidate found): ``levels`` (name/address), ``decision``,
    ``bulletins``, ``coded``, ``right``, ``share`` of all bulletins, ``coding_rate`` within the
    class and ``precision`` of its codings (NaN when it codes none).
    """
    from datathon.dictionary import mca_classes  # the counts the data dictionary quotes

    table = mca_classes(bulletins)
    table.insert(0, "decision", [MCA_DECISIONS[c] for c in table.index])
    table.insert(0, "levels", [MCA_CLASS_LEVELS.get(c, "") for c in table.index])
    n = max(len(bulletins), 1)
    table["share"] = table["bulletins"] / n
    with np.errstate(invalid="ignore", divide="ignore"):
        table["coding_rate"] = table["coded"] / table["bulletins"].where(table["bulletins"] > 0)
        table["precision"] = table["right"] / table["coded"].where(table["coded"] > 0)
    return table


def by_mechanism(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """The ``by_noise`` part of :func:`datathon.evaluate.score`'s result as a frame.

    One row per mechanism (``clean`` first), columns ``n``, ``coding_rate``, ``precision``,
    ``success_rate`` and ``level``.
    """
    from datathon.challenges.sirene.world.noise import MECHANISMS_BY_NAME

    groups = metrics.get("by_noise") or {}
    frame = pd.DataFrame.from_dict(groups, orient="index")
    if frame.empty:
        return pd.DataFrame(columns=["level", "n", "coding_rate", "precision", "success_rate"])
    frame = frame[["n", "coding_rate", "precision", "success_rate"]].astype(
        {"n": int, "coding_rate": float, "precision": float, "success_rate": float})
    frame.insert(0, "level", [MECHANISMS_BY_NAME[m].level if m in MECHANISMS_BY_NAME else "" for m in frame.index])
    frame.index.name = "mechanism"
    return frame


# Which register and bulletin fields show each level of difficulty in mechanism_examples.
def _address(num, typ, street) -> str:
    parts = [p for p in (num, typ, street) if isinstance(p, str) and p]
    return " ".join(parts)


def mechanism_examples(
    bulletins: pd.DataFrame,
    register: pd.DataFrame,
    *,
    per_mechanism: int = 2,
    naf: pd.DataFrame | None = None,
    communes: pd.DataFrame | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Real examples of each noise mechanism: what was declared next to what the register holds.

    For each mechanism of the ``NOISE`` column, ``per_mechanism`` labelled bulletins, drawn with
    ``seed`` among those where that mechanism acted alone when there are enough (the effect is
    then easy to see), else among all. Columns: ``mechanism``, ``level``, ``field`` (what the
    mechanism touches: name, workplace, activity), ``declared``, ``register`` (the true
    establishment's values; "— (no SIRET)" for bulletins that cannot be coded), ``CABBI``.
    ``naf`` (``code``, ``libelle``) turns the register's activity code into its label, and
    ``communes`` (``code_commune``, ``nom_commune``) a home commune's code into its name.
    """
    from datathon.challenges.sirene.world.noise import MECHANISMS, MECHANISMS_BY_NAME

    lists = mechanisms_of(bulletins[schema.NOISE_COLUMN])
    reg = register.set_index("siret")
    labels = dict(zip(naf["code"], naf["libelle"])) if naf is not None else {}
    towns = dict(zip(communes["code_commune"], communes["nom_commune"])) if communes is not None else {}
    order = {m.name: i for i, m in enumerate(MECHANISMS)}
    present = sorted({m for ms in lists for m in ms}, key=lambda m: order.get(m, len(order)))
    rng = np.random.default_rng(seed)
    rows = []
    for mechanism in present:
        has = lists.map(lambda ms, m=mechanism: m in ms).to_numpy()
        alone = lists.map(lambda ms, m=mechanism: ms == [m]).to_numpy()
        pool = np.flatnonzero(alone) if alone.sum() >= per_mechanism else np.flatnonzero(has)
        # Different establishments and different declarations make better examples than repeats.
        distinct = bulletins.iloc[pool][[schema.TRUTH_COLUMN, "RS_X"]].astype("string").fillna("")
        varied = pool[~distinct[schema.TRUTH_COLUMN].where(distinct[schema.TRUTH_COLUMN] != "",
                                                           distinct["RS_X"]).duplicated().to_numpy()]
        pool = varied if len(varied) >= per_mechanism else pool
        chosen = np.sort(rng.choice(pool, size=min(per_mechanism, len(pool)), replace=False))
        level = MECHANISMS_BY_NAME[mechanism].level if mechanism in MECHANISMS_BY_NAME else ""
        for i in chosen:
            b = bulletins.iloc[i]
            truth = b[schema.TRUTH_COLUMN]
            e = reg.loc[truth] if isinstance(truth, str) and truth in reg.index else None
            field_, declared, registered = _example_fields(mechanism, level, b, e, labels, towns)
            rows.append({"mechanism": mechanism, "level": level, "field": field_, "declared": declared,
                         "register": registered, "CABBI": b["CABBI"]})
    return pd.DataFrame(rows, columns=["mechanism", "level", "field", "declared", "register", "CABBI"])


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _register_name(e) -> str:
    """The legal name, then the establishment's other names: its sign, usual name, acronym."""
    legal = _text(e.get("denominationUniteLegale")) or " ".join(
        p for p in (_text(e.get("nomUniteLegale")), _text(e.get("prenom1UniteLegale"))) if p)
    others = [(label, _text(e.get(col))) for label, col in (
        ("sign", "enseigne1Etablissement"), ("usual name", "denominationUsuelleEtablissement"),
        ("acronym", "sigleUniteLegale"))]
    others = [f"{label} {value}" for label, value in others if value and value != legal]
    return legal + (f" [{'; '.join(others)}]" if others else "")


def _example_fields(mechanism: str, level: str, b, e, labels: dict, towns: dict) -> tuple[str, str, str]:
    none = "— (no SIRET)"
    if level == "address":
        declared = _address(_text(b.get("NUMVOI_X")), _text(b.get("TYPEVOI_X")), _text(b.get("NOMVOI_X")))
        declared = ", ".join(x for x in (declared, _text(b.get("CLT_X"))) if x)
        if not _text(b.get("CLT_X")) and _text(b.get("ILT_X")) == "1":
            home = _text(b.get("DEPCOM_CODE"))
            declared += (", " if declared else "") + f"(ILT_X = 1: home commune {towns.get(home, home)})"
        registered = none if e is None else ", ".join(x for x in (
            _address(_text(e.get("numeroVoieEtablissement")), _text(e.get("typeVoieEtablissement")),
                     _text(e.get("libelleVoieEtablissement"))),
            f"{_text(e.get('libelleCommuneEtablissement'))} ({_text(e.get('codeCommuneEtablissement'))})") if x)
        return "workplace", declared or "(blank)", registered
    if level == "activity":
        code = _text(e.get("activitePrincipaleEtablissement")) if e is not None else ""
        registered = none if e is None else f"{code} {labels.get(code, '')}".strip()
        return "activity", _text(b.get("ACTET_X")) or "(blank)", registered
    declared = _text(b.get("RS_X")) or "(blank)"
    if mechanism == "household_employer":
        declared += f"  [VARDOMPART_X = {_text(b.get('VARDOMPART_X'))}]"
    return "name", declared, none if e is None else _register_name(e)


# --------------------------------------------------------------------------------------------
# Metrics records: what `datathon material run` collects from a notebook
# --------------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if value is None or isinstance(value, (int, str)):
        return value
    if value is pd.NA:
        return None
    return str(value)


def record_metrics(metrics: Mapping[str, Any]) -> None:
    """Leave ``metrics`` (a flat dict of key figures) in the notebook's outputs.

    The output carries the figures twice: as ``application/vnd.datathon.metrics+json``, which
    ``datathon material run`` reads into ``summary.json`` (the last record of a notebook wins),
    and as plain text, which is what JupyterLab and the HTML rendering show. Values must be
    JSON-like (numbers, strings, lists, dicts); numpy scalars are converted.
    """
    from IPython.display import display

    data = _jsonable(dict(metrics))
    text = "metrics: " + ", ".join(f"{k} = {_short(v)}" for k, v in data.items())
    display({METRICS_MIMETYPE: data, "text/plain": text}, raw=True)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)


def recorded_metrics(notebook) -> dict | None:
    """The last metrics record in an executed notebook (an ``nbformat`` node), or None."""
    found = None
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = output.get("data") or {}
            if METRICS_MIMETYPE in data:
                value = data[METRICS_MIMETYPE]
                found = json.loads(value) if isinstance(value, str) else dict(value)
    return found

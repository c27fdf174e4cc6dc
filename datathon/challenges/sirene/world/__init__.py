"""The synthetic census × Sirene world, generated département by département.

:func:`generate` writes a whole data directory (see :mod:`datathon.schema`). Each département is
generated from its own seed, derived from the world's seed and the département's index, so the
work partitions (and runs on both cores) while the same seed always gives the same bytes.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from datathon import __version__
from datathon.files import check_out_directory
from datathon.errors import UserError
from datathon.files import replace_directory, sha256_file
from datathon.challenges.sirene.mca import apply_mca
from datathon.challenges.sirene.naf import naf_csv_frame
from datathon.schema import (ADRESSES, BULLETINS, BULLETINS_TRAIN, COMMUNES, ETABLISSEMENTS,
                             MANIFEST, NAF_FILE, NOISE_COLUMN, TRUTH, TRUTH_COLUMN)
from datathon.challenges.sirene.world import noise
from datathon.challenges.sirene.world.bulletins import draw_bulletins
from datathon.challenges.sirene.world.geography import (Departement, departement_codes, make_addresses, make_adjacency,
                                      make_communes, make_departements, make_streets)
from datathon.challenges.sirene.world.register import NationalUnits, build_register, make_national_units
from datathon.challenges.sirene.world.scales import SCALES, Scale
from datathon.seeds import parse_seed

__all__ = ["generate", "generate_departement", "SCALES"]

PARQUET_OPTIONS = {"compression": "zstd", "use_dictionary": True, "write_statistics": False}
FILES = {
    "etablissements.parquet": ETABLISSEMENTS,
    "communes.parquet": COMMUNES,
    "adresses.parquet": ADRESSES,
    "bulletins_train.parquet": BULLETINS_TRAIN,
    "bulletins_test.parquet": BULLETINS,
    "truth_test.parquet": TRUTH,
}


def _seed(seed: int, dep: Departement, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, dep.index, stream])


def generate_departement(seed: int, dep: Departement, scale: Scale, national: NationalUnits,
                         rates: dict | None = None) -> dict[str, pd.DataFrame]:
    """Every frame of one département: geography, register, bulletins (with MCA), split."""
    rates = noise.resolve_rates(rates)
    communes = make_communes(_seed(seed, dep, 1), dep, scale.communes_per_departement,
                             scale.population_per_departement)
    adjacency = make_adjacency(communes)
    geo_rng = _seed(seed, dep, 2)
    streets = make_streets(geo_rng, communes)
    addresses = make_addresses(geo_rng, streets)
    register = build_register(_seed(seed, dep, 3), dep, communes, streets, addresses, adjacency, national,
                              scale.establishments_per_departement, noise.register_rates(rates))
    bulletins = draw_bulletins(_seed(seed, dep, 4), dep, register, communes, adjacency,
                               scale.bulletins_per_departement, rates)
    bulletins = apply_mca(bulletins, register, communes)
    test = _seed(seed, dep, 5).random(len(bulletins)) < scale.test_share
    train = bulletins[~test].sort_values("CABBI", kind="stable").reset_index(drop=True)
    tests = bulletins[test].sort_values("CABBI", kind="stable").reset_index(drop=True)
    return {
        "etablissements.parquet": register[list(ETABLISSEMENTS)],
        "communes.parquet": communes[list(COMMUNES)],
        "communes_adjacentes.csv": adjacency,
        "adresses.parquet": addresses[list(ADRESSES)],
        "bulletins_train.parquet": train[list(BULLETINS_TRAIN)],
        "bulletins_test.parquet": tests[list(BULLETINS)],
        "truth_test.parquet": tests[["CABBI", TRUTH_COLUMN, NOISE_COLUMN]],
    }


def _arrow_schema(spec: dict[str, str]) -> pa.Schema:
    types = {"string": pa.string(), "float64": pa.float64(), "int64": pa.int64(), "Int8": pa.int8(),
             "Int16": pa.int16()}
    return pa.schema([(c, types[t]) for c, t in spec.items()])


def generate(scale: str | Scale, seed: int | str, out, register=None, unites_legales=None, force: bool = False,
             progress: bool = True, workers: int | None = None, rates: dict | None = None,
             departements: int | None = None) -> dict:
    """Write a synthetic world (or bulletins synthesised on a real register) to ``out``.

    ``scale`` names one of :data:`SCALES` (or is a :class:`Scale`, for tests that want a tiny
    world); ``departements`` overrides its number of départements (``campaign`` with 10 is a tenth
    of the campaign). The first ``n`` départements of a seed are the same whatever ``n``.

    The directory is written completely or not at all: files go to a temporary directory beside
    ``out`` and replace its content only at the end. Returns the manifest.

    ``seed`` is a non-negative integer or a passphrase (:func:`datathon.seeds.parse_seed`);
    the manifest records the integer either way.
    """
    if not isinstance(scale, Scale) and scale not in SCALES:
        raise UserError(f"unknown scale {scale!r}: choose one of {', '.join(SCALES)}")
    seed = parse_seed(seed)
    out = Path(out)
    check_out_directory(out, force)
    if unites_legales is not None and register is None:
        raise UserError("--unites-legales goes with --register (the StockEtablissement file it joins)")
    sc = scale if isinstance(scale, Scale) else SCALES[scale]
    if departements is not None:
        most = len(departement_codes(10_000))
        if not isinstance(departements, (int, np.integer)) or not 1 <= departements <= most:
            raise UserError(f"--departements must be a whole number from 1 to {most}, not {departements!r}")
        if register is not None:
            raise UserError("--departements sizes a synthetic world; with --register the register decides")
        sc = dataclasses.replace(sc, departements=int(departements))
    noise.resolve_rates(rates)  # refuse unknown mechanisms before any work
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        if register is not None:
            from datathon.challenges.sirene.world.sirene import generate_on_register

            manifest = generate_on_register(sc, seed, tmp, register, unites_legales, progress=progress,
                                            rates=rates)
        else:
            manifest = _generate_synthetic(sc, seed, tmp, progress=progress, workers=workers, rates=rates)
        manifest = _finish(tmp, manifest)
        replace_directory(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _generate_synthetic(sc: Scale, seed: int, tmp: Path, progress: bool, workers: int | None,
                        rates: dict | None) -> dict:
    from tqdm.auto import tqdm

    deps = make_departements(sc.departements)
    national = make_national_units(np.random.default_rng([seed, 10_000]))
    workers = workers or min(2, os.cpu_count() or 1, len(deps))
    writers = PartitionWriters(tmp)
    bar = tqdm(total=len(deps), desc=f"generating {sc.name}", unit="dép.", disable=not progress)
    try:
        if workers > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(generate_departement, seed, d, sc, national, rates) for d in deps]
                for fut in futures:  # in département order: same seed, same bytes
                    writers.write(fut.result())
                    bar.update(1)
        else:
            for d in deps:
                writers.write(generate_departement(seed, d, sc, national, rates))
                bar.update(1)
    finally:
        bar.close()
        writers.close()
    return {
        "kind": "synthetic",
        "scale": sc.name,
        "seed": seed,
        "departements": [d.code for d in deps],
        "rows": writers.rows,
        "noise": noise.manifest_rates(noise.resolve_rates(rates)),
        "mca": writers.mca_summary(),
    }


class PartitionWriters:
    """Appends each département's frames to the directory's files as it comes."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.rows: dict[str, int] = {}
        self.adjacency_header = True
        self._mca = {"train": [0, 0, 0], "test": [0, 0, 0]}  # bulletins, coded, right

    def write(self, frames: dict[str, pd.DataFrame]) -> None:
        for name, df in frames.items():
            self.rows[name] = self.rows.get(name, 0) + len(df)
            if name.endswith(".csv"):
                df.to_csv(self.directory / name, sep=";", index=False, mode="a", header=self.adjacency_header)
                self.adjacency_header = False
                continue
            table = pa.Table.from_pandas(df, schema=_arrow_schema(FILES[name]), preserve_index=False)
            if name not in self.writers:
                self.writers[name] = pq.ParquetWriter(self.directory / name, table.schema, **PARQUET_OPTIONS)
            self.writers[name].write_table(table)
        for split, name in (("train", "bulletins_train.parquet"), ("test", "bulletins_test.parquet")):
            b = frames[name]
            truth = frames[name][TRUTH_COLUMN] if split == "train" else frames["truth_test.parquet"][TRUTH_COLUMN]
            coded = b["SIRETC"].notna().to_numpy()
            right = (b["SIRETC"] == truth.to_numpy()).fillna(False).to_numpy(dtype=bool)
            acc = self._mca[split]
            acc[0] += len(b)
            acc[1] += int(coded.sum())
            acc[2] += int(right.sum())

    def mca_summary(self) -> dict:
        return {split: {"bulletins": n, "coding_rate": round(c / n, 4) if n else None,
                        "precision": round(r / c, 4) if c else None,
                        "success_rate": round(r / n, 4) if n else None}
                for split, (n, c, r) in self._mca.items()}

    def close(self) -> None:
        for w in self.writers.values():
            w.close()


def _finish(directory: Path, manifest: dict) -> dict:
    """naf.csv, then manifest.json with every file's checksum (written last)."""
    naf_csv_frame().to_csv(directory / NAF_FILE, sep=";", index=False)
    files = sorted(p.name for p in directory.iterdir() if p.is_file() and p.name != MANIFEST)
    manifest = {
        "generator": "datathon",
        "version": __version__,
        **manifest,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "checksums": {name: sha256_file(directory / name) for name in files},
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest

"""The files of the 2018 hackathon, both ways: a kit data directory as INSEE's internal formats, and back.

The participants of "Les champs de Sirene" (January 2018) received ``;``-separated Latin-1 text
files (``/work/shared/reference/insee-2018-files.md`` describes them column by column):

``rp_final_<year>.csv``              the census bulletins, the 46 :data:`RP_FINAL_COLUMNS`
``sirus_<year>.csv``                 the SIRUS register, the 45 :data:`SIRUS_COLUMNS`
``communes_adjacentes_<year>.csv``   commune adjacency, comma-separated UTF-8 (:data:`ADJACENCY_COLUMNS`)

:func:`export` writes a kit data directory in that format (``datathon export --format insee2018``),
with two choices of its own, because the kit keeps a test split whose truth is apart:

* the training bulletins go to ``rp_final_<year>.csv`` (their truth in ``SIRET_DEC``), the test
  bulletins to ``rp_final_<year>_test.csv``, same columns, ``SIRET_DEC`` and ``ACTET_C`` (the
  truth's activity) blank;
* the test truth goes to another directory the instructor keeps: ``truth_test_<year>.csv``,
  ``CABBI;SIRET_DEC;NOISE``, Latin-1. Put it beside the files to score the test split.

:func:`read_directory` reads such a directory back into the kit's frames, and :func:`materialize`
converts it once into a kit data directory (cached, keyed by the files' sizes and dates), which is
how :mod:`datathon.data` lets ``load``, ``mca``, ``train`` and ``match`` read the 2018 format as they
read the kit's own. An institute's real folder has a single ``rp_final_<year>.csv`` whose
``SIRET_DEC`` is filled everywhere: without a ``_test`` file, a stable share of the bulletins
(:data:`TEST_SHARE`, chosen by a hash of the CABBI) is held out as the test split, its
``SIRET_DEC`` becoming the test truth. :func:`check_directory` lists every deviation from the format.

How the kit's columns map to the real ones
------------------------------------------
* ``I_MCA_C``: the kit's MCA class 1–9 (:data:`datathon.challenges.sirene.mca.CLASS_TABLE`, by name and
  address levels) becomes ``C`` for classes 1–2 validated, ``D`` for classes 3–5 (medium quality:
  validated only when the activity check agrees), ``E`` for classes 6–9 and for exact ties, blank
  when MCA found no candidate. Read back, the class is recomputed from ``NOTE_MCA_NOM_C`` and
  ``NOTE_MCA_ADR_C`` with the same table, and MCA's coding is ``SIRETC`` for ``C``, and for ``D``
  when :class:`~datathon.challenges.sirene.mca.ActivityCheck` agrees with the candidate's APET.
* ``SIRETC``: the real column holds MCA's best candidate whether validated or not. The kit's replica
  (:func:`~datathon.challenges.sirene.mca.run_mca`) returns only the validated candidate, so the export
  fills ``SIRETC`` (and ``ACTET_C_C``, ``CLT_C_C`` from it) for ``C`` and validated ``D`` bulletins and
  leaves it blank for ``E`` and rejected ``D``; ``CLT_C_C`` then falls back on the commune coded from
  ``CLT_X`` / ``ILT_X`` (:func:`~datathon.challenges.sirene.mca.resolve_communes`).
* ``VARDOMPART_X``: the real codes are 1 variable workplace, 2 at home, 3 for a private person; the
  kit's 3 (a private household) is written 3, its 1 and 2 (company, public employer: an ordinary
  workplace) blank. Read back, only 3 is kept.
* SIRUS: ``sirus_id`` the SIREN, ``nic``, ``apet``/``ape`` without the dot, ``adr_et_loc_geo`` the
  commune followed by ten zeros (the kit has no finer localisation), ``nom_comm_et`` the usual name,
  ``enseigne_et1`` the sign, ``denom``/``sigle``/``cj`` the legal unit's, ``denom_condense`` the
  legal name upper-case without accents, spaces or punctuation (38 characters), ``nic_siege``,
  ``adr_depcom``, ``region`` and ``enseigne`` from the head office when the register has it,
  ``x``/``y`` the Lambert 93 coordinates, the postal lines ``adr_et_l1``…``l6``. Sole proprietors have
  no ``denom``: ``adr_et_l1`` holds ``NOM PRENOM`` and the last word is read back as the first name.
  ``eff_3112_et`` is the lower bound of the kit's headcount band (blank for ``NN``), so that the
  band reads back unchanged.

What the format cannot carry (read back empty): ``TYPCOL`` (a 2014 column), ``NOISE`` of the
training bulletins (the truth file keeps it for the test split), ``etatAdministratifEtablissement``
(SIRUS has no state), the kit's ``adresses`` (rebuilt from the register, as for a Sirene extract)
and the communes' centroids and populations (rebuilt from the register: the median position of
its establishments, eight inhabitants per establishment). :data:`NOT_GENERATED_YET` lists the
columns written blank because the kit's world does not generate their signal yet.

Text is written in Latin-1: characters it cannot hold are transliterated (``œ`` → ``oe``,
typographic quotes and dashes → ASCII, accents of other alphabets dropped, ``?`` as a last resort),
and the export says how many values were.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from datathon import schema
from datathon.errors import UserError

FORMAT = "insee2018"
FORMAT_VERSION = 1  # part of the conversion cache's key, with this module's own bytes
DEFAULT_YEAR = 2017
ENCODING = "latin-1"
SEPARATOR = ";"
TEST_SHARE = 0.4  # held out of a real rp_final without a _test file (the kit's scales hold out 40 %)

# The reference's column lists, in file order (insee-2018-files.md).
RP_FINAL_COLUMNS = (
    "CABBI;RS_X;ACTET_C;ACTET_C_C;ACTET_X;NOMVOI_X;NUMVOI_X;TYPEVOI_X;BISTER_X;CPLADR_X;CLT_C_C;CLT_X;DLT_X;"
    "PLT_X;DEPCOM_CODE;I_MCA_C;I_REPRISE_ACT;I_SIRET_M;NOTE_MCA_ADR_C;NOTE_MCA_NOM_C;PROFA_X;PROFI_X;PROFS_X;"
    "VARDOMPART_X;SIRET_DEC;SIRETC;SIRETM;id;ILT_X;code_retour;naf1;pct1;naf2;pct2;naf3;pct3;naf4;pct4;naf5;"
    "pct5;nbtot;nb5;x;y;SourceXYW;qual"
).split(";")
SIRUS_COLUMNS = (
    "sirus_id;nic;ape;apet;eff_3112_et;eff_etp_et;eff_et_effet_daaaammjj;enseigne_et1;nom_comm_et;"
    "adr_et_loc_geo;adr_et_compl;adr_et_voie_num;adr_et_voie_repet;adr_et_voie_type;adr_et_voie_lib;"
    "adr_et_cedex;adr_et_distsp;sir_adr_et_com_lib;adr_et_post;adr_et_l1;adr_et_l2;adr_et_l3;adr_et_l4;"
    "adr_et_l5;adr_et_l6;adr_et_l7;nic_siege;unite_type;region;adr_depcom;region_impl;region_mult;tr_eff_etp;"
    "cj;denom;denom_condense;sigle;enseigne;eff_3112_uniteLegale;eff_etp_uniteLegale;"
    "eff_effet_daaaammjj_uniteLegale;x;y;SourceXYW;qual"
).split(";")
ADJACENCY_COLUMNS = ["insee", "nom", "nb_voisins", "insee_voisins", "noms_voisins", "cap_voisins"]
TRUTH_COLUMNS = ["CABBI", schema.TRUTH_COLUMN, schema.NOISE_COLUMN]

# Written blank because the kit's world does not generate their signal yet (a later step will).
NOT_GENERATED_YET: dict[str, list[str]] = {
    "rp_final": ["PROFA_X", "PROFI_X", "PROFS_X", "x", "y", "SourceXYW", "qual", "code_retour",
                 *[f"{p}{k}" for k in range(1, 6) for p in ("naf", "pct")], "nbtot", "nb5",
                 "SIRETM", "I_SIRET_M", "I_REPRISE_ACT", "id"],
    "sirus": ["eff_etp_et", "eff_et_effet_daaaammjj", "adr_et_cedex", "adr_et_distsp", "adr_et_l5", "adr_et_l7",
              "region_impl", "region_mult", "tr_eff_etp", "eff_3112_uniteLegale", "eff_etp_uniteLegale",
              "eff_effet_daaaammjj_uniteLegale", "SourceXYW", "qual"],
}

# Codes of the real files (the reference's tables). NOTE_MCA_ADR_C 34 is the replica's "no usable
# commune declared" (datathon/challenges/sirene/mca.py).
I_MCA_CODES = ("C", "D", "E")
ADDRESS_CODES = ("10", "11", "20", "21", "22", "31", "32", "33", "34", "35")
QUAL_CODES = ("1", "2.1", "2.2", "8", "8.5", "9")
CODE_RETOUR = ("CCS", "C_C", "C_R")
ABSENT_NAF = "*****"

# SIRUS columns that hold a kit register column as it is, both ways.
SIRUS_AS_KIT = {
    "sirus_id": "siren", "nic": "nic", "enseigne_et1": "enseigne1Etablissement",
    "nom_comm_et": "denominationUsuelleEtablissement", "adr_et_compl": "complementAdresseEtablissement",
    "adr_et_voie_num": "numeroVoieEtablissement", "adr_et_voie_repet": "indiceRepetitionEtablissement",
    "adr_et_voie_type": "typeVoieEtablissement", "adr_et_voie_lib": "libelleVoieEtablissement",
    "sir_adr_et_com_lib": "libelleCommuneEtablissement", "adr_et_post": "codePostalEtablissement",
    "cj": "categorieJuridiqueUniteLegale", "denom": "denominationUniteLegale", "sigle": "sigleUniteLegale",
}

# Regions (2016) of the départements, for SIRUS's head-office region.
_REGIONS = {
    "84": "01 03 07 15 26 38 42 43 63 69 73 74", "27": "21 25 39 58 70 71 89 90", "53": "22 29 35 56",
    "24": "18 28 36 37 41 45", "94": "2A 2B", "44": "08 10 51 52 54 55 57 67 68 88", "32": "02 59 60 62 80",
    "11": "75 77 78 91 92 93 94 95", "28": "14 27 50 61 76", "75": "16 17 19 23 24 33 40 47 64 79 86 87",
    "76": "09 11 12 30 31 32 34 46 48 65 66 81 82", "52": "44 49 53 72 85", "93": "04 05 06 13 83 84",
    "01": "971", "02": "972", "03": "973", "04": "974", "06": "976",
}
REGION_OF_DEPARTEMENT = {dep: region for region, deps in _REGIONS.items() for dep in deps.split()}

# Characters Latin-1 lacks that French text uses, and their usual transliteration.
_TRANSLITERATIONS = str.maketrans({"œ": "oe", "Œ": "OE", "’": "'", "‘": "'", "“": '"', "”": '"', "„": '"',
                                   "–": "-", "—": "-", "‑": "-", "…": "...", "€": "EUR", "\u202f": " ",
                                   "\u2009": " ", "Ÿ": "Y", "ŉ": "'n", "Ł": "L", "ł": "l", "Đ": "D", "đ": "d",
                                   "ı": "i"})
_COMMUNE = re.compile(r"[0-9][0-9AB][0-9]{3}")
_COMPACT_NAF = re.compile(r"[0-9]{4}[A-Z]")
_HEADER_LIMIT = 1 << 20  # a header line longer than this is not a header
_ENCODING_SAMPLE = 16 << 20  # bytes read to tell UTF-8 from Latin-1
_BLOCK_SIZE = 4 << 20  # the CSV reader's block: the longest line it accepts
CHUNK_ROWS = 500_000  # rows the export turns into text at once
_CHECK_HINT = "; `datathon data check {directory}` lists every deviation"


# ------------------------------------------------------------------------------------------------
# Finding the files
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Files:
    """The 2018-format files of a directory, for one year."""

    directory: Path
    year: int
    rp_final: Path
    sirus: Path
    rp_test: Path | None = None
    adjacency: Path | None = None
    truth: Path | None = None

    def all(self) -> list[Path]:
        return [p for p in (self.rp_final, self.rp_test, self.sirus, self.adjacency, self.truth) if p is not None]


def _years(directory: Path, prefix: str) -> set[int]:
    pattern = re.compile(rf"{prefix}_(\d{{4}})\.csv")
    return {int(m.group(1)) for p in directory.iterdir() if (m := pattern.fullmatch(p.name))}


def is_insee2018(directory: str | Path) -> bool:
    """Does ``directory`` hold the 2018 files (``rp_final_*.csv`` and ``sirus_*.csv``) rather than
    the kit's own? A directory with the kit's register is the kit's, whatever else it holds."""
    directory = Path(directory)
    if not directory.is_dir():
        return False
    if any((directory / f"etablissements.{ext}").is_file() for ext in ("parquet", "csv")):
        return False
    return bool(_years(directory, "rp_final") & _years(directory, "sirus"))


def locate(directory: str | Path) -> Files:
    """The files of the latest year that has both ``rp_final_<year>.csv`` and ``sirus_<year>.csv``
    (the 2014 quality sample, 52 columns, is left aside when 2017 is there)."""
    directory = Path(directory)
    years = _years(directory, "rp_final") & _years(directory, "sirus")
    if not years:
        raise UserError(f"{directory} holds no rp_final_<year>.csv with its sirus_<year>.csv: it is not in the "
                        "2018 INSEE format")
    year = max(years)
    adjacency_years = _years(directory, "communes_adjacentes")
    adjacency = None
    if adjacency_years:  # the same year's, else the closest (2016 and 2018 were handed out too)
        chosen = min(adjacency_years, key=lambda y: (abs(y - year), -y))
        adjacency = directory / f"communes_adjacentes_{chosen}.csv"

    def optional(name: str) -> Path | None:
        return directory / name if (directory / name).is_file() else None

    return Files(directory, year, directory / f"rp_final_{year}.csv", directory / f"sirus_{year}.csv",
                 optional(f"rp_final_{year}_test.csv"), adjacency, optional(f"truth_test_{year}.csv"))


# ------------------------------------------------------------------------------------------------
# Text: Latin-1, codes
# ------------------------------------------------------------------------------------------------


def to_latin1(text: str) -> str:
    """``text`` with the characters Latin-1 cannot hold transliterated (``œ`` → ``oe``, ``’`` → ``'``,
    other alphabets' accents dropped, ``?`` as a last resort)."""
    if text.isascii():
        return text
    text = text.translate(_TRANSLITERATIONS)
    out = []
    for ch in text:
        if ord(ch) < 256:
            out.append(ch)
            continue
        base = unicodedata.normalize("NFKD", ch).encode(ENCODING, "ignore").decode(ENCODING)
        out.append(base or "?")
    return "".join(out)


def compact_naf(code) -> str | None:
    """``56.10A`` → ``5610A`` (None stays None)."""
    return code.replace(".", "") if isinstance(code, str) and code else None


def dotted_naf(code) -> str | None:
    """``5610A`` → ``56.10A`` (None, blank and ``*****`` give None)."""
    if not isinstance(code, str) or not code.strip() or code == ABSENT_NAF:
        return None
    code = code.strip().upper()
    return f"{code[:2]}.{code[2:]}" if len(code) == 5 and "." not in code else code


def band_of_headcount(value) -> str:
    """The size band (trancheEffectifs) of a headcount; ``NN`` when there is none."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "NN"
    count = int(value)
    if count <= 0:
        return "00"
    for code, (low, high) in schema.TRANCHES.items():
        if code not in ("NN", "00") and low <= count <= high:
            return code
    return "53"


def condensed(name) -> str | None:
    """SIRUS's ``denom_condense`` as the kit writes it: upper case, no accents, letters and digits only, 38 long."""
    if not isinstance(name, str) or not name:
        return None
    from datathon.text import simplify

    return simplify(name).replace(" ", "")[:38] or None


def _stable_share(codes: np.ndarray) -> np.ndarray:
    """A number in [0, 1) per code, the same on every machine and Python (blake2b of the text)."""
    return np.array([int.from_bytes(hashlib.blake2b(str(c).encode(), digest_size=8).digest(), "big") / 2**64
                     for c in codes])


# ------------------------------------------------------------------------------------------------
# Export: a kit data directory → the 2018 files
# ------------------------------------------------------------------------------------------------


@dataclass
class ExportReport:
    """What :func:`export` wrote."""

    out: Path
    truth_out: Path | None
    year: int
    rows: dict[str, int] = field(default_factory=dict)
    transliterated: int = 0

    def describe(self) -> str:
        counts = ", ".join(f"{name} {n:,}" for name, n in self.rows.items())
        text = f"wrote {self.out} in the 2018 INSEE format ({counts})"
        if self.truth_out is not None:
            text += f"; the test truth apart in {self.truth_out / truth_file_name(self.year)}"
        else:
            text += "; no test truth to keep apart (the data directory has no truth_test.parquet)"
        if self.transliterated:
            text += f"; {self.transliterated:,} values transliterated to Latin-1"
        return text


def not_generated_note() -> str:
    """The one-line note ``datathon export`` prints: the columns written blank for now."""
    return ("note: written blank, the kit's world does not generate them yet: rp_final "
            + ", ".join(NOT_GENERATED_YET["rp_final"]) + "; sirus " + ", ".join(NOT_GENERATED_YET["sirus"]))


def truth_file_name(year: int) -> str:
    return f"truth_test_{year}.csv"


def _inside(path: Path, directory: Path) -> bool:
    path, directory = path.resolve(), directory.resolve()
    return path == directory or directory in path.parents


def _check_target(out: Path, force: bool, option: str) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"{option} {out} exists and is not a directory: choose another {option}")
    if out.exists() and any(out.iterdir()) and not force:
        raise UserError(f"{option} {out} is not empty: choose an empty directory, or add --force to replace it")


def export(data_dir: str | Path, out: str | Path, *, year: int = DEFAULT_YEAR, truth_out: str | Path | None = None,
           force: bool = False) -> ExportReport:
    """Write the kit data directory ``data_dir`` as the 2018 files in ``out``, the test truth in ``truth_out``.

    ``truth_out`` defaults to ``<out>-truth`` beside ``out``; it may not be inside ``out`` (participants
    receive ``out``). Both directories are written whole or not at all (temporary directories
    renamed at the end); a non-empty one is replaced only with ``force``.
    """
    from datathon import data
    from datathon.files import replace_directory

    source = data.data_directory(data_dir)  # a 2018 directory given as the source is read through its conversion
    out = Path(out)
    truth_out = Path(truth_out) if truth_out is not None else out.with_name(f"{out.name}-truth")
    if not isinstance(year, int) or not 1900 <= year <= 2999:
        raise UserError(f"--year must be a four-digit year, not {year!r}")
    for target, option in ((out, "--out"), (truth_out, "--truth-out")):
        if _inside(target, Path(data_dir)) or _inside(target, source):
            raise UserError(f"{option} {target} is inside the data directory {data_dir}: write the export elsewhere")
    if _inside(truth_out, out) or _inside(out, truth_out):
        raise UserError(f"--truth-out {truth_out} and --out {out} overlap: the truth must stay apart from "
                        "the participants' files")
    _check_target(out, force, "--out")
    _check_target(truth_out, force, "--truth-out")

    ds = data.load(source, with_truth=True)
    if ds.communes is None or ds.adjacences is None:
        raise UserError(f"{source} lacks communes.parquet or communes_adjacentes.csv: the 2018 format needs the "
                        "communes and their adjacency")
    counter = _Transliterations()
    register = ds.etablissements
    lookups = _by_siret(register, "activitePrincipaleEtablissement"), _by_siret(register, "codeCommuneEtablissement")
    head = head_offices(register)
    # Each file is built and written a slice of rows at a time: the campaign's register would not
    # fit in memory as Python text all at once.
    files = {
        f"rp_final_{year}.csv": (ds.bulletins_train, lambda part: rp_final_frame(
            part, register, ds.communes, split="train", lookups=lookups)),
        f"rp_final_{year}_test.csv": (ds.bulletins_test, lambda part: rp_final_frame(
            part, register, ds.communes, split="test", lookups=lookups)),
        f"sirus_{year}.csv": (register, lambda part: sirus_frame(part, head=head)),
    }
    report = ExportReport(out=out, truth_out=truth_out, year=year)
    written: list[tuple[Path, Path]] = []
    try:
        tmp = _temporary_beside(out)
        written.append((tmp, out))
        for name, (source_frame, build) in files.items():
            for start in range(0, max(len(source_frame), 1), CHUNK_ROWS):
                part = source_frame.iloc[start:start + CHUNK_ROWS].reset_index(drop=True)
                _write_latin1(build(part), tmp / name, counter, header=start == 0)
            report.rows[name] = len(source_frame)
        adjacency = adjacency_frame(ds.communes, ds.adjacences)
        adjacency.to_csv(tmp / f"communes_adjacentes_{year}.csv", sep=",", index=False, encoding="utf-8",
                         lineterminator="\n")
        report.rows[f"communes_adjacentes_{year}.csv"] = len(adjacency)
        if ds.truth_test is not None:  # a participants' copy has none: then there is nothing to keep apart
            truth_tmp = _temporary_beside(truth_out)
            written.append((truth_tmp, truth_out))
            truth = pd.DataFrame({c: ds.truth_test[c] if c in ds.truth_test else None for c in TRUTH_COLUMNS})
            _write_latin1(truth, truth_tmp / truth_file_name(year), counter)
        else:
            report.truth_out = None
        # The truth first: should the second rename fail, the instructor's file exists without a hand-out,
        # never a hand-out without its truth.
        for tmp_dir, target in reversed(written):
            replace_directory(tmp_dir, target)
    except BaseException:
        for tmp_dir, _ in written:
            shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    report.transliterated = counter.count
    return report


def _temporary_beside(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))


class _Transliterations:
    count = 0


def _write_latin1(frame: pd.DataFrame, path: Path, counter: _Transliterations, *, header: bool = True) -> None:
    """``frame`` as a ``;``-separated Latin-1 file, every value as text, blanks empty (appended to
    ``path`` without a header line when ``header`` is false)."""
    text = {}
    for column in frame.columns:
        values = frame[column].astype("string")
        # Only the non-ASCII values can need a transliteration: look at those alone.
        special = ~values.str.isascii().fillna(True).to_numpy(dtype=bool)
        if special.any():
            before = values[special]
            after = before.map(to_latin1).astype("string")
            counter.count += int((after != before).sum())
            values = values.copy()
            values[special] = after
        text[column] = values
    pd.DataFrame(text, columns=list(frame.columns)).to_csv(
        path, sep=SEPARATOR, index=False, encoding=ENCODING, na_rep="", lineterminator="\n",
        header=header, mode="w" if header else "a")


def _by_siret(register: pd.DataFrame, column: str) -> dict:
    values = register[column].astype("string").to_numpy(dtype=object, na_value=None)
    return dict(zip(register["siret"].astype("string").to_numpy(dtype=object, na_value=None), values))


def mca_letter(mca_class, validated: bool) -> str | None:
    """The real ``I_MCA_C`` of the kit's class 1–9 and whether MCA validated its candidate."""
    if mca_class is None or mca_class is pd.NA:
        return None
    mca_class = int(mca_class)
    if mca_class <= 2:
        return "C" if validated else "E"  # an exact tie between establishments is never validated
    if mca_class <= 5:
        return "D"
    return "E"


def rp_final_frame(bulletins: pd.DataFrame, register: pd.DataFrame, communes: pd.DataFrame, *,
                   split: str, lookups: tuple[dict, dict] | None = None) -> pd.DataFrame:
    """The kit's bulletins of one split as ``rp_final`` rows (the 46 columns, in order, as text).

    ``lookups`` (SIRET → APET, SIRET → commune of the register) are built from ``register`` when not given.
    """
    from datathon.challenges.sirene.mca import resolve_communes

    n = len(bulletins)
    text = {c: bulletins[c].astype("string") if c in bulletins else pd.Series([None] * n, dtype="string")
            for c in schema.BULLETINS_TRAIN}
    siretc = text["SIRETC"].to_numpy(dtype=object, na_value=None)
    apet, commune = lookups or (_by_siret(register, "activitePrincipaleEtablissement"),
                                _by_siret(register, "codeCommuneEtablissement"))
    coded_from_declaration = resolve_communes(bulletins, communes) if n else np.empty(0, dtype=object)
    classes = bulletins["I_MCA_C"].to_numpy(dtype=object, na_value=None)
    out: dict[str, object] = {c: [None] * n for c in RP_FINAL_COLUMNS}
    for column in ("CABBI", "RS_X", "ACTET_X", "NOMVOI_X", "NUMVOI_X", "TYPEVOI_X", "BISTER_X", "CPLADR_X",
                   "CLT_X", "DLT_X", "PLT_X", "DEPCOM_CODE", "ILT_X", "NOTE_MCA_NOM_C", "NOTE_MCA_ADR_C", "SIRETC"):
        out[column] = text[column].to_numpy(dtype=object, na_value=None)
    out["I_MCA_C"] = [mca_letter(c, s is not None) for c, s in zip(classes, siretc)]
    out["ACTET_C_C"] = [compact_naf(apet.get(s)) if s else None for s in siretc]
    out["CLT_C_C"] = [commune.get(s) if s else d for s, d in zip(siretc, coded_from_declaration)]
    out["VARDOMPART_X"] = np.where(text["VARDOMPART_X"].to_numpy(dtype=object, na_value=None) == "3", "3", None)
    if split == "train":  # the truth and its activity; blank on the test split, kept apart
        truth = text[schema.TRUTH_COLUMN].to_numpy(dtype=object, na_value=None)
        out[schema.TRUTH_COLUMN] = truth
        out["ACTET_C"] = [compact_naf(apet.get(s)) if s else None for s in truth]
    return pd.DataFrame(out, columns=RP_FINAL_COLUMNS, dtype=object)


def head_offices(register: pd.DataFrame) -> pd.DataFrame:
    """Each legal unit's head office (``etablissementSiege == "true"``): its NIC, commune and sign, by SIREN."""
    head = pd.DataFrame({"siren": _values(register, "siren"), "nic": _values(register, "nic"),
                         "commune": _values(register, "codeCommuneEtablissement"),
                         "sign": _values(register, "enseigne1Etablissement")})
    return head[_values(register, "etablissementSiege") == "true"].drop_duplicates("siren").set_index("siren")


def sirus_frame(register: pd.DataFrame, *, head: pd.DataFrame | None = None) -> pd.DataFrame:
    """The kit's register as ``sirus`` rows (the 45 columns, in order, as text); ``head`` is
    :func:`head_offices` of the whole register when ``register`` is a slice of it."""
    r = {c: _values(register, c) for c, dtype in schema.ETABLISSEMENTS.items() if dtype == schema.STRING}
    n = len(register)
    out: dict[str, object] = {c: [None] * n for c in SIRUS_COLUMNS}
    out.update({real: r[kit] for real, kit in SIRUS_AS_KIT.items()})
    out["ape"] = [compact_naf(v) for v in r["activitePrincipaleUniteLegale"]]
    out["apet"] = [compact_naf(v) for v in r["activitePrincipaleEtablissement"]]
    out["eff_3112_et"] = [None if b in (None, "NN") else str(schema.TRANCHES[b][0]) if b in schema.TRANCHES else None
                          for b in r["trancheEffectifsEtablissement"]]
    out["adr_et_loc_geo"] = [f"{c}0000000000" if c else None for c in r["codeCommuneEtablissement"]]
    person = [" ".join(v for v in (nom, prenom) if v) or None
              for nom, prenom in zip(r["nomUniteLegale"], r["prenom1UniteLegale"])]
    out["adr_et_l1"] = [d or p for d, p in zip(r["denominationUniteLegale"], person)]
    out["adr_et_l2"] = [u or s for u, s in zip(r["denominationUsuelleEtablissement"], r["enseigne1Etablissement"])]
    out["adr_et_l3"] = r["complementAdresseEtablissement"]
    out["adr_et_l4"] = [" ".join(v for v in parts if v) or None for parts in zip(
        r["numeroVoieEtablissement"], r["indiceRepetitionEtablissement"], r["typeVoieEtablissement"],
        r["libelleVoieEtablissement"])]
    out["adr_et_l6"] = [" ".join(v for v in parts if v) or None for parts in zip(
        r["codePostalEtablissement"], r["libelleCommuneEtablissement"])]
    out["unite_type"] = ["1"] * n
    out["denom_condense"] = [condensed(d) for d in r["denominationUniteLegale"]]
    # The head office's NIC, commune, region and sign, when the register holds it.
    by_siren = head_offices(register) if head is None else head
    sirens = pd.Index(r["siren"])
    at = by_siren.index.get_indexer(sirens)
    found = at >= 0

    def head_values(column: str) -> list:
        values = by_siren[column].to_numpy(dtype=object)
        return [values[i] if ok else None for i, ok in zip(at, found)]

    out["nic_siege"] = head_values("nic")
    out["adr_depcom"] = head_values("commune")
    out["enseigne"] = head_values("sign")
    out["region"] = [REGION_OF_DEPARTEMENT.get(schema.departement_of(c)) if c else None for c in out["adr_depcom"]]
    for kit, real in (("coordonneeLambertAbscisseEtablissement", "x"), ("coordonneeLambertOrdonneeEtablissement", "y")):
        values = register[kit].to_numpy(dtype=float, na_value=np.nan)
        out[real] = [repr(float(v)) if np.isfinite(v) else None for v in values]
    return pd.DataFrame(out, columns=SIRUS_COLUMNS, dtype=object)


def adjacency_frame(communes: pd.DataFrame, adjacences: pd.DataFrame) -> pd.DataFrame:
    """``communes_adjacentes``: one row per commune, its neighbours' codes, names and bearings joined by ``|``."""
    names = dict(zip(communes["code_commune"].astype(str), communes["nom_commune"].astype("string").fillna("")))
    position = {c: (x, y) for c, x, y in zip(communes["code_commune"].astype(str), communes["x"], communes["y"])}
    neighbours: dict[str, list[str]] = {c: [] for c in names}
    for a, b in zip(adjacences["code_commune"].astype(str), adjacences["code_commune_adjacente"].astype(str)):
        neighbours.setdefault(a, [])
        if b not in neighbours[a]:
            neighbours[a].append(b)
    rows = []
    for code in sorted(neighbours):
        near = sorted(neighbours[code])
        rows.append({"insee": code, "nom": names.get(code, ""), "nb_voisins": len(near),
                     "insee_voisins": "|".join(near), "noms_voisins": "|".join(names.get(c, "") for c in near),
                     "cap_voisins": "|".join(_bearing(position.get(code), position.get(c)) for c in near)})
    return pd.DataFrame(rows, columns=ADJACENCY_COLUMNS)


def _bearing(origin, target) -> str:
    """Degrees clockwise from north, from one centroid to another ("" when a position is unknown)."""
    if origin is None or target is None or not all(np.isfinite([*origin, *target])):
        return ""
    angle = math.degrees(math.atan2(target[0] - origin[0], target[1] - origin[1])) % 360
    return str(int(round(angle)) % 360)


# ------------------------------------------------------------------------------------------------
# Reading: the 2018 files → the kit's frames
# ------------------------------------------------------------------------------------------------


def read_text_csv(path: Path, *, separator: str = SEPARATOR, encoding: str = ENCODING,
                  columns: list[str] | None = None) -> pd.DataFrame:
    """A CSV file as text columns (blank values null), or a one-line :class:`UserError`.

    A line longer than the reader's block (4 MB), an unterminated quote or a line with the wrong
    number of fields is refused, naming the file; so is a UTF-8 file where Latin-1 is expected.
    """
    if encoding == ENCODING and sniff_encoding(path) == "utf-8":
        raise UserError(f"{path.name} is encoded in UTF-8, the 2018 files are Latin-1 (ISO-8859-1): convert it with "
                        f"`iconv -f utf-8 -t latin1`, or check it with `datathon data check {path.parent}`")
    header = read_header(path, encoding)
    names = header.split(separator)
    try:
        table = pacsv.read_csv(
            path,
            # One thread: a parse error raised while pyarrow's reader threads still run can abort the
            # interpreter at exit ("terminate called without an active exception"), one run in ten.
            read_options=pacsv.ReadOptions(encoding="latin1" if encoding == ENCODING else "utf8",
                                           block_size=_BLOCK_SIZE, use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter=separator),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in names},
                                                 include_columns=columns, null_values=[""],
                                                 strings_can_be_null=True, quoted_strings_can_be_null=True),
        )
    except (pa.ArrowException, OSError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "straddling" in reason or "block" in reason:
            reason = f"a line longer than {_BLOCK_SIZE >> 20} MB, or a quote never closed"
        elif "Expected" in reason and "columns" in reason:
            shown = reason if len(reason) <= 160 else reason[:160] + " ..."
            reason = f"{shown}: a quote never closed, or a separator in an unquoted value?"
        raise UserError(f"cannot read {path.name} as a '{separator}'-separated file: {reason}{_CHECK_HINT}"
                        .replace("{directory}", str(path.parent))) from None
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype(), pa.large_string(): pd.StringDtype()}.get)
    # Blank values (spaces only) are nulls, as the kit's loader reads them; other text is kept as written.
    return frame.apply(lambda s: s.mask((s.str.strip() == "").fillna(False))) if len(frame.columns) else frame


def read_header(path: Path, encoding: str = ENCODING) -> str:
    """The header line of a file, without its line end (a :class:`UserError` when there is none)."""
    try:
        with open(path, "rb") as f:
            raw = f.readline(_HEADER_LIMIT)
    except OSError as err:
        raise UserError(f"cannot read {path}: {err.strerror}") from None
    if not raw.strip():
        raise UserError(f"{path.name} is empty: expected its header line")
    if len(raw) >= _HEADER_LIMIT and not raw.endswith(b"\n"):
        raise UserError(f"{path.name}: the first line is longer than 1 MB, it is not a header line")
    return raw.decode(encoding, errors="replace").lstrip("\ufeff").rstrip("\r\n")


def sniff_encoding(path: Path) -> str:
    """``"ascii"``, ``"utf-8"`` or ``"latin-1"``: what the file's first 16 MB look like.

    Latin-1 accepts every byte, so a UTF-8 file read as Latin-1 gives no error, only mojibake: text
    whose non-ASCII bytes form valid UTF-8 sequences is UTF-8 (real Latin-1 French text almost never does).
    """
    with open(path, "rb") as f:
        sample = f.read(_ENCODING_SAMPLE)
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    if sample.isascii():
        return "ascii"
    if len(sample) == _ENCODING_SAMPLE:
        sample = sample[: sample.rfind(b"\n") + 1] or sample  # a character cut at the sample's end is not an error
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def _require(frame: pd.DataFrame, path: Path, wanted: list[str]) -> pd.DataFrame:
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise UserError(f"{path.name} lacks the columns {', '.join(missing)}; `datathon data check {path.parent}` "
                        "lists every deviation from the 2018 format")
    return frame


def _values(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A text column as Python objects, None for blanks; all None when the file lacks the column."""
    if name not in frame:
        return np.full(len(frame), None, dtype=object)
    return frame[name].to_numpy(dtype=object, na_value=None)


def _numbers(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A text column as floats, NaN where blank or not a number (data check reports those)."""
    return pd.to_numeric(pd.Series(_values(frame, name), dtype="string"), errors="coerce").to_numpy(
        dtype=float, na_value=np.nan)


def register_from_sirus(sirus: pd.DataFrame) -> pd.DataFrame:
    """SIRUS rows as the kit's register frame (:data:`datathon.schema.ETABLISSEMENTS`)."""
    def col(name):
        return _values(sirus, name)

    siren, nic, head = col("sirus_id"), col("nic"), col("nic_siege")
    denom, cj, l1 = col("denom"), col("cj"), col("adr_et_l1")
    nom, prenom = [], []
    for d, c, line in zip(denom, cj, l1):
        # Sole proprietors have no denomination: their name is the first postal line, NOM PRENOM.
        if d is None and isinstance(c, str) and c.startswith("1") and line:
            words = line.split()
            nom.append(" ".join(words[:-1]) if len(words) > 1 else line)
            prenom.append(words[-1] if len(words) > 1 else None)
        else:
            nom.append(None)
            prenom.append(None)
    geo = col("adr_et_loc_geo")
    frame = pd.DataFrame({
        "siren": siren, "nic": nic,
        "siret": [s + n if s and n else None for s, n in zip(siren, nic)],
        "etatAdministratifEtablissement": None,  # SIRUS has no state
        "etablissementSiege": ["true" if h is not None and n == h else "false" for n, h in zip(nic, head)],
        "trancheEffectifsEtablissement": [band_of_headcount(v) for v in _numbers(sirus, "eff_3112_et")],
        "activitePrincipaleEtablissement": [dotted_naf(v) for v in col("apet")],
        **{kit: col(real) for real, kit in SIRUS_AS_KIT.items() if kit not in ("siren", "nic")},
        "codeCommuneEtablissement": [g[:5] if g else None for g in geo],
        "coordonneeLambertAbscisseEtablissement": col("x"),
        "coordonneeLambertOrdonneeEtablissement": col("y"),
        "nomUniteLegale": nom, "prenom1UniteLegale": prenom,
        "activitePrincipaleUniteLegale": [dotted_naf(v) for v in col("ape")],
    })
    return frame[list(schema.ETABLISSEMENTS)]


def bulletins_from_rp_final(rp: pd.DataFrame, register: pd.DataFrame, *, with_truth: bool) -> pd.DataFrame:
    """``rp_final`` rows as the kit's bulletins (:data:`datathon.schema.BULLETINS`, plus ``SIRET_DEC``
    when ``with_truth``): MCA's class from its two scores, its coding as the kit's ``SIRETC``."""
    from datathon.challenges.sirene.mca import CLASS_TABLE, ActivityCheck, address_level, name_level

    def col(name):
        return _values(rp, name)

    name_score, address_score = _numbers(rp, "NOTE_MCA_NOM_C"), _numbers(rp, "NOTE_MCA_ADR_C")
    letters = col("I_MCA_C")
    scored = np.isfinite(name_score) & np.isfinite(address_score) & np.array([v is not None for v in letters])
    levels = name_level(np.nan_to_num(name_score)), address_level(np.nan_to_num(address_score, nan=99))
    classes = np.where(scored, CLASS_TABLE[levels], 0)
    candidates = col("SIRETC")
    # The candidates' APET, for the activity check of the D bulletins (looked up for them only).
    doubtful = np.flatnonzero((letters == "D") & np.array([c is not None for c in candidates]))
    register_apet = register.drop_duplicates("siret").set_index("siret")["activitePrincipaleEtablissement"]
    apet = register_apet.reindex(candidates[doubtful]).to_numpy(dtype=object, na_value="")
    check = ActivityCheck()
    activity = col("ACTET_X")
    siretc = np.where(letters == "C", candidates, None)
    for i, naf in zip(doubtful, apet):
        if check.agrees(activity[i], naf):
            siretc[i] = candidates[i]
    vardompart = col("VARDOMPART_X")
    frame = pd.DataFrame({
        **{c: col(c) for c in ("CABBI", "RS_X", "ACTET_X", "NUMVOI_X", "BISTER_X", "TYPEVOI_X", "NOMVOI_X", "CPLADR_X",
                               "CLT_X", "DLT_X", "PLT_X", "ILT_X")},
        "VARDOMPART_X": np.where(vardompart == "3", "3", None),
        "DEPCOM_CODE": col("DEPCOM_CODE"),
        "TYPCOL": None,  # not a column of rp_final_2017 (the 2014 quality sample has it)
        "SIRETC": siretc,
        "I_MCA_C": [int(c) if s else None for c, s in zip(classes, scored)],
        "NOTE_MCA_NOM_C": col("NOTE_MCA_NOM_C"),
        "NOTE_MCA_ADR_C": col("NOTE_MCA_ADR_C"),
    })
    if with_truth:
        frame[schema.TRUTH_COLUMN] = col(schema.TRUTH_COLUMN)
    return frame


def communes_from_files(adjacency: pd.DataFrame | None, register: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The kit's communes and adjacency pairs: codes and names from ``communes_adjacentes``, postal
    codes and positions from the register (median of its establishments), eight inhabitants per
    establishment (the 2018 files carry no population)."""
    from datathon.challenges.sirene.world.sirene import fill_missing_positions

    names: dict[str, str | None] = {}
    pairs: list[tuple[str, str]] = []
    if adjacency is not None:
        for code, name, near in zip(adjacency["insee"].to_numpy(dtype=object, na_value=None),
                                    adjacency["nom"].to_numpy(dtype=object, na_value=None),
                                    adjacency["insee_voisins"].to_numpy(dtype=object, na_value=None)):
            if not code:
                continue
            names[code] = name
            pairs.extend((code, other) for other in (near or "").split("|") if other)
    # The communes of the adjacency and of the register; a home commune (DEPCOM_CODE) in neither is
    # a deviation data check reports (unknown-commune), not a commune to invent.
    codes = set(names) | set(register["codeCommuneEtablissement"].dropna())
    reg = register.assign(x=pd.to_numeric(register["coordonneeLambertAbscisseEtablissement"], errors="coerce"),
                          y=pd.to_numeric(register["coordonneeLambertOrdonneeEtablissement"], errors="coerce"))
    g = reg.groupby("codeCommuneEtablissement", sort=True)
    postal = g["codePostalEtablissement"].agg(lambda s: s.mode().iloc[0] if s.notna().any() else None)
    town = g["libelleCommuneEtablissement"].agg(lambda s: s.mode().iloc[0] if s.notna().any() else None)
    ordered = np.array(sorted(codes), dtype=object)
    deps = np.array([schema.departement_of(c) for c in ordered], dtype=object)
    x = g["x"].median().reindex(ordered).to_numpy(dtype=float, copy=True)
    y = g["y"].median().reindex(ordered).to_numpy(dtype=float, copy=True)
    fill_missing_positions(x, y, deps, np.random.default_rng(FORMAT_VERSION))
    counts = g.size().reindex(ordered).fillna(0).to_numpy(dtype=np.int64)
    communes = pd.DataFrame({
        "code_commune": ordered,
        "nom_commune": [names.get(c) or town.get(c) for c in ordered],
        "code_postal": [postal.get(c) for c in ordered],
        "code_departement": deps,
        "x": np.round(x, 1), "y": np.round(y, 1),
        "population": counts * 8,
    })
    adjacences = pd.DataFrame(pairs, columns=["code_commune", "code_commune_adjacente"])
    return communes, adjacences


def _in_chunks(frame: pd.DataFrame, convert) -> pd.DataFrame:
    """``convert`` applied to slices of ``frame``'s rows, the results concatenated: converting goes
    through Python objects, which a whole campaign's register would not fit in memory as."""
    if len(frame) <= CHUNK_ROWS:
        return convert(frame)
    parts = [convert(frame.iloc[start:start + CHUNK_ROWS].reset_index(drop=True))
             for start in range(0, len(frame), CHUNK_ROWS)]
    return pd.concat(parts, ignore_index=True)


def read_directory(directory: str | Path) -> dict[str, pd.DataFrame]:
    """The 2018 files of ``directory`` as the kit's frames, keyed by the kit's file names
    (``etablissements.parquet``, ``bulletins_train.parquet``, ...; ``truth_test.parquet`` when the
    truth is there), typed as :func:`datathon.data.load` types them."""
    from datathon import data
    from datathon.challenges.sirene.world.sirene import addresses_from_register

    files = locate(directory)
    sirus = _require(read_text_csv(files.sirus), files.sirus, ["sirus_id", "nic", "apet", "adr_et_loc_geo"])
    register = _in_chunks(sirus, lambda part: data.cast(register_from_sirus(part), schema.ETABLISSEMENTS,
                                                         file=files.sirus.name, directory=files.directory))
    del sirus
    rp = _require(read_text_csv(files.rp_final), files.rp_final, ["CABBI", "I_MCA_C", "SIRETC"])
    truth = None
    if files.rp_test is not None:
        train_rp = rp
        test_rp = _require(read_text_csv(files.rp_test), files.rp_test, ["CABBI", "I_MCA_C", "SIRETC"])
        if files.truth is not None:
            truth = _require(read_text_csv(files.truth), files.truth, ["CABBI", schema.TRUTH_COLUMN])
    else:
        # A real folder: every bulletin has its SIRET_DEC; hold a stable share out as the test split.
        held = _stable_share(rp["CABBI"].to_numpy(dtype=object, na_value="")) < TEST_SHARE
        train_rp, test_rp = rp[~held].reset_index(drop=True), rp[held].reset_index(drop=True)
        if schema.TRUTH_COLUMN in rp:
            truth = test_rp[["CABBI", schema.TRUTH_COLUMN]]
    frames = {"etablissements.parquet": register}
    for split, part in (("train", train_rp), ("test", test_rp)):
        spec = schema.BULLETINS_TRAIN if split == "train" else schema.BULLETINS
        source = files.rp_final if split == "train" or files.rp_test is None else files.rp_test
        def convert(rows, spec=spec, name=source.name, labelled=split == "train"):
            return data.cast(bulletins_from_rp_final(rows, register, with_truth=labelled), spec, file=name,
                             directory=files.directory)

        frames[f"bulletins_{split}.parquet"] = _in_chunks(part, convert)
    if truth is not None:
        frames["truth_test.parquet"] = data.cast(truth.reset_index(drop=True), schema.TRUTH,
                                                 file=(files.truth or files.rp_final).name, directory=files.directory)
    adjacency = None
    if files.adjacency is not None:
        adjacency = _require(read_text_csv(files.adjacency, separator=",", encoding="utf-8"), files.adjacency,
                             ["insee", "nom", "insee_voisins"])
    communes, adjacences = communes_from_files(adjacency, register)
    frames["communes.parquet"] = data.cast(communes, schema.COMMUNES, file="communes", directory=files.directory)
    adjacency_name = files.adjacency.name if files.adjacency else "communes_adjacentes"
    frames["communes_adjacentes.csv"] = data.cast(adjacences, schema.ADJACENCES, file=adjacency_name,
                                                  directory=files.directory)
    addresses = addresses_from_register(register)
    frames["adresses.parquet"] = data.cast(addresses, schema.ADRESSES, file=files.sirus.name, directory=files.directory)
    return frames


# ------------------------------------------------------------------------------------------------
# The conversion cache: what datathon.data reads a 2018 directory through
# ------------------------------------------------------------------------------------------------


def cache_root() -> Path:
    """Where conversions are kept: ``$DATATHON_CACHE``, else ``$XDG_CACHE_HOME/datathon``, else
    ``~/.cache/datathon``."""
    if os.environ.get("DATATHON_CACHE"):
        return Path(os.environ["DATATHON_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "datathon"


def _fingerprint(files: Files) -> str:
    """The conversion's key: this reader's code, the directory, each file's name, size and date (a kit
    upgrade or a changed file converts again)."""
    digest = hashlib.sha256(f"{FORMAT}:{FORMAT_VERSION}:{files.directory.resolve()}".encode())
    digest.update(Path(__file__).read_bytes())
    for path in files.all():
        st = path.stat()
        digest.update(f"|{path.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:24]


def materialize(directory: str | Path) -> Path:
    """The kit data directory converted from the 2018 files of ``directory`` (converted on first use,
    then reused while the files are unchanged)."""
    files = locate(directory)
    root = cache_root() / FORMAT
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only home (a sandbox): the machine's temporary directory instead
        root = Path(tempfile.gettempdir()) / f"datathon-{FORMAT}"
        root.mkdir(parents=True, exist_ok=True)
    target = root / _fingerprint(files)
    if (target / schema.MANIFEST).is_file():
        return target
    frames = read_directory(directory)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=root))
    try:
        for name, frame in frames.items():
            if name.endswith(".csv"):
                frame.to_csv(tmp / name, sep=";", index=False)
            else:
                pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp / name, compression="zstd")
        from datathon.challenges.sirene.naf import naf_csv_frame

        naf_csv_frame().to_csv(tmp / schema.NAF_FILE, sep=";", index=False)
        manifest = {"generator": "datathon", "kind": FORMAT, "source": str(files.directory.resolve()),
                    "year": files.year, "files": [p.name for p in files.all()],
                    "held_out": files.rp_test is None}
        (tmp / schema.MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        try:
            os.replace(tmp, target)
        except OSError:  # another process converted the same files first: use theirs
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


# ------------------------------------------------------------------------------------------------
# Checking: every deviation from the format, one line each
# ------------------------------------------------------------------------------------------------

# Kinds of deviation, beside datathon.check.KINDS (whose kit-level checks also run, on the conversion).
FORMAT_KINDS: dict[str, str] = {
    "wrong-encoding": "a file not in its encoding (Latin-1; UTF-8 for communes_adjacentes)",
    "wrong-separator": "a file not separated by its separator (';'; ',' for communes_adjacentes)",
    "missing-columns": "columns of the format absent",
    "extra-columns": "columns beyond the format (a warning at the end of the line, an error inserted)",
    "reordered-columns": "the format's columns in another order",
    "non-digit": "an identifier (CABBI, SIREN, NIC, SIRET) with characters other than digits",
    "bad-padding": "an identifier shorter than its width: its leading zeros were lost",
    "wrong-length": "an identifier longer than its width",
    "bad-code": "a value outside the column's codes (I_MCA_C, qual, code_retour, VARDOMPART_X, ...)",
    "bad-commune-code": "a commune code that is not 5 characters (35238, 2A004)",
    "not-a-number": "a value that should be a number",
    "unreadable-file": "a file that cannot be read (malformed CSV, a line too long, a quote never closed)",
    "truth-in-test": "the test bulletins carry SIRET_DEC: the truth must be kept apart",
    "missing-file": "communes_adjacentes_<year>.csv is absent",
}


def _digits(width: int):
    def rule(values: pd.Series) -> list[tuple[str, np.ndarray, str]]:
        text = values.fillna("")
        present = values.notna().to_numpy()
        digits = text.str.fullmatch(r"[0-9]+").to_numpy(dtype=bool)
        length = text.str.len().to_numpy()
        return [("non-digit", present & ~digits, "not only digits"),
                ("bad-padding", present & digits & (length < width), f"shorter than {width} digits (zeros lost)"),
                ("wrong-length", present & digits & (length > width), f"longer than {width} digits")]
    return rule


def _codes(allowed, what: str):
    def rule(values: pd.Series):
        bad = values.notna().to_numpy() & ~values.isin(list(allowed)).fillna(False).to_numpy(dtype=bool)
        return [("bad-code", bad, f"not {what}")]
    return rule


def _pattern(regex: str, kind: str, what: str, allowed=()):
    def rule(values: pd.Series):
        ok = values.str.fullmatch(regex).fillna(False) | values.isin(list(allowed)).fillna(False)
        ok = ok.to_numpy(dtype=bool)
        return [(kind, values.notna().to_numpy() & ~ok, f"not {what}")]
    return rule


def _number(low: float | None = None, high: float | None = None, integer: bool = False):
    def rule(values: pd.Series):
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        present = values.notna().to_numpy()
        bad = present & ~np.isfinite(numbers)
        with np.errstate(invalid="ignore"):
            if integer:
                bad |= present & np.isfinite(numbers) & (np.floor(numbers) != numbers)
            if low is not None:
                bad |= present & (numbers < low)
            if high is not None:
                bad |= present & (numbers > high)
        bounds = f" from {low:g} to {high:g}" if low is not None and high is not None else ""
        return [("not-a-number", bad, f"not {'an integer' if integer else 'a number'}{bounds}")]
    return rule


_COMMUNE_RULE = _pattern(_COMMUNE.pattern, "bad-commune-code", "a 5-character commune code")
_NAF_RULE = _pattern(_COMPACT_NAF.pattern, "bad-code", "a NAF code without the dot (5610A)")

RP_FINAL_RULES = {
    "CABBI": _digits(10), "SIRETC": _digits(14), "SIRETM": _digits(14), schema.TRUTH_COLUMN: _digits(14),
    "I_MCA_C": _codes(I_MCA_CODES, "C, D, E or blank"),
    "NOTE_MCA_NOM_C": _number(0, 1000, integer=True),
    "NOTE_MCA_ADR_C": _codes(ADDRESS_CODES, "an MCA address code (10, 11, 20-22, 31-35)"),
    "I_SIRET_M": _codes(("0", "1"), "0, 1 or blank"), "I_REPRISE_ACT": _codes(("N", "A", "V"), "N, A, V or blank"),
    "ILT_X": _codes(("1", "2"), "1 or 2"), "VARDOMPART_X": _codes(("1", "2", "3"), "1, 2, 3 or blank"),
    "code_retour": _codes(CODE_RETOUR, "CCS, C_C or C_R"), "qual": _codes(QUAL_CODES, "1, 2.1, 2.2, 8, 8.5 or 9"),
    "DEPCOM_CODE": _COMMUNE_RULE, "CLT_C_C": _COMMUNE_RULE, "ACTET_C": _NAF_RULE, "ACTET_C_C": _NAF_RULE,
    **{f"naf{k}": _pattern(_COMPACT_NAF.pattern, "bad-code", "a NAF code without the dot or *****", (ABSENT_NAF,))
       for k in range(1, 6)},
    **{f"pct{k}": _number(0, 100) for k in range(1, 6)},
    "nbtot": _number(0, integer=True), "nb5": _number(0, integer=True),
    "x": _number(), "y": _number(), "SourceXYW": _number(0),
}
SIRUS_RULES = {
    "sirus_id": _digits(9), "nic": _digits(5), "nic_siege": _digits(5), "ape": _NAF_RULE, "apet": _NAF_RULE,
    "adr_et_loc_geo": _pattern(r"[0-9][0-9AB][0-9]{3}.{10}", "bad-commune-code",
                               "15 characters starting with a commune code"),
    "adr_depcom": _COMMUNE_RULE, "adr_et_post": _digits(5), "cj": _digits(4), "unite_type": _codes(("1",), "1"),
    "eff_3112_et": _number(0, integer=True), "eff_3112_uniteLegale": _number(0, integer=True),
    "eff_etp_et": _number(0), "eff_etp_uniteLegale": _number(0),
    "eff_et_effet_daaaammjj": _pattern(r"[0-9]{8}", "bad-code", "a date AAAAMMJJ"),
    "eff_effet_daaaammjj_uniteLegale": _pattern(r"[0-9]{8}", "bad-code", "a date AAAAMMJJ"),
    "tr_eff_etp": _codes(tuple(schema.TRANCHES), "a headcount band (NN, 00, 01, ... 53)"),
    "x": _number(), "y": _number(), "SourceXYW": _number(0), "qual": _codes(QUAL_CODES, "1, 2.1, 2.2, 8, 8.5 or 9"),
}
TRUTH_RULES = {"CABBI": _digits(10), schema.TRUTH_COLUMN: _digits(14)}


def _examples(values: pd.Series, mask: np.ndarray) -> tuple[str, ...]:
    # The header is line 1 (no multi-line quoted fields in these files).
    return tuple(f"line {i + 2}: {values.iat[i]!r}" for i in np.flatnonzero(mask)[:5])


def check_file(path: Path, expected: list[str], rules: dict, *, separator: str = SEPARATOR,
               encoding: str = ENCODING, test_split: bool = False,
               optional: tuple[str, ...] = ()) -> tuple[list, int | None]:
    """The deviations of one file from its format, and its row count (None when unreadable)."""
    from datathon.check import ERROR, WARNING, Problem
    from datathon.text import plural

    name = path.name
    problems: list[Problem] = []
    sniffed = sniff_encoding(path)
    if encoding == ENCODING and sniffed == "utf-8":
        problems.append(Problem(name, "wrong-encoding", "is UTF-8, the format is Latin-1 (ISO-8859-1): accents read "
                                "wrong; convert it with `iconv -f utf-8 -t latin1`"))
    elif encoding == "utf-8" and sniffed == "latin-1":
        problems.append(Problem(name, "wrong-encoding", "is not UTF-8 (Latin-1?): communes_adjacentes is UTF-8"))
    try:
        header = read_header(path, ENCODING if encoding == ENCODING else "utf-8")
    except UserError as err:
        return [*problems, Problem(name, "unreadable-file", err.message)], None
    present = header.split(separator)
    if len(present) == 1 and len(expected) > 1:
        found = max((",", ";", "\t", "|"), key=header.count)
        shown = "tab" if found == "\t" else repr(found)
        problems.append(Problem(name, "wrong-separator", f"is not separated by {separator!r}"
                                + (f" (the header is separated by {shown})" if header.count(found) else "")))
        return problems, None
    missing = [c for c in expected if c not in present and c not in optional]
    if missing:
        problems.append(Problem(name, "missing-columns", f"{plural(len(missing), 'column')} of the format absent: "
                                f"{', '.join(missing)}", count=len(missing)))
    extra = [c for c in present if c not in expected]
    if extra:
        at_end = present[len(present) - len(extra):] == extra
        problems.append(Problem(name, "extra-columns", f"{plural(len(extra), 'column')} beyond the format: "
                                f"{', '.join(extra)}" + ("" if at_end else " (inserted among the format's: tools "
                                                         "reading by position shift)"),
                                count=len(extra), level=WARNING if at_end else ERROR))
    order = [c for c in present if c in expected]
    wanted = [c for c in expected if c in present]
    if order != wanted:
        first = next(i for i, (a, b) in enumerate(zip(order, wanted)) if a != b)
        problems.append(Problem(name, "reordered-columns", f"columns out of the format's order: {order[first]} where "
                                f"{wanted[first]} is expected (column {present.index(order[first]) + 1})"))
    try:
        frame = read_text_csv(path, separator=separator, encoding=encoding if sniffed != "utf-8" else "utf-8",
                              columns=[c for c in rules if c in present])
    except UserError as err:
        reason = err.message.split(_CHECK_HINT.split("{")[0])[0]  # data check is what is running
        return [*problems, Problem(name, "unreadable-file", reason)], None
    for column, rule in rules.items():
        if column not in frame:
            continue
        for kind, mask, what in rule(frame[column]):
            n = int(mask.sum())
            if n:
                verb = "is" if n == 1 else "are"
                problems.append(Problem(name, kind, f"{plural(n, 'value')} of {column} {verb} {what}",
                                        _examples(frame[column], mask), n))
    if test_split and schema.TRUTH_COLUMN in frame and frame[schema.TRUTH_COLUMN].notna().any():
        n = int(frame[schema.TRUTH_COLUMN].notna().sum())
        problems.append(Problem(name, "truth-in-test", f"{plural(n, 'test bulletin')} carry SIRET_DEC: the test truth "
                                "goes to truth_test_<year>.csv, kept apart"))
    return problems, len(frame)


# Which 2018 file a kit file of the conversion comes from, to name it in the kit checker's problems.
def _source_names(files: Files) -> dict[str, str | None]:
    rp_test = files.rp_test or files.rp_final
    adjacency = files.adjacency.name if files.adjacency else f"communes_adjacentes_{files.year}.csv"
    return {
        "etablissements.parquet": files.sirus.name, "adresses.parquet": files.sirus.name,
        "bulletins_train.parquet": files.rp_final.name, "bulletins_test.parquet": rp_test.name,
        "truth_test.parquet": (files.truth or rp_test).name, "communes.parquet": adjacency,
        "communes_adjacentes.csv": adjacency, schema.NAF_FILE: None, schema.MANIFEST: None,
    }


def check_directory(directory: str | Path):
    """:class:`datathon.check.CheckReport` of a 2018-format directory: every deviation from the format,
    then the kit's own checks (keys, duplicates, codes known to the register and communes) run on
    its conversion, named by the 2018 file they come from."""
    from datathon.check import WARNING, CheckReport, Problem, run_check

    files = locate(directory)
    report = CheckReport(Path(directory))
    rows: dict[str, int | None] = {}
    checks = [(files.rp_final, RP_FINAL_COLUMNS, RP_FINAL_RULES, {}),
              (files.sirus, SIRUS_COLUMNS, SIRUS_RULES, {})]
    if files.rp_test is not None:
        checks.append((files.rp_test, RP_FINAL_COLUMNS, RP_FINAL_RULES, {"test_split": True}))
    if files.truth is not None:
        checks.append((files.truth, TRUTH_COLUMNS, TRUTH_RULES, {"optional": (schema.NOISE_COLUMN,)}))
    if files.adjacency is not None:
        rules = {"insee": _COMMUNE_RULE, "nb_voisins": _number(0, integer=True)}
        checks.append((files.adjacency, ADJACENCY_COLUMNS, rules, {"separator": ",", "encoding": "utf-8"}))
    else:
        report.problems.append(Problem(f"communes_adjacentes_{files.year}.csv", "missing-file",
                                       "is absent: the communes' names and adjacency come from it", level=WARNING))
    for path, expected, rules, options in checks:
        found, count = check_file(path, expected, rules, **options)
        report.problems.extend(found)
        rows[path.name] = count
    if not any(p.kind in ("unreadable-file", "wrong-separator", "wrong-encoding") for p in report.problems):
        try:
            converted = run_check(materialize(directory))
        except UserError as err:
            report.problems.append(Problem(files.directory.name, "unreadable-file", f"cannot be converted to the kit's "
                                           f"frames: {err.message}"))
        else:
            names = _source_names(files)
            for p in converted.problems:
                file = names.get(p.file, p.file)
                if file is None or p.kind == "missing-file":
                    continue
                # Rows of the conversion are not lines of the 2018 files (train and test were split): keep the values.
                examples = tuple(dict.fromkeys(re.sub(r"^(row|line) \d+: ", "", e) for e in p.examples))
                # "not in communes.parquet": the communes of the conversion are the adjacency's and the register's.
                message = p.message.replace("communes.parquet", f"{names['communes.parquet']} or {files.sirus.name}")
                for kit_name, source in names.items():
                    if source is not None:
                        message = message.replace(kit_name, source)
                report.problems.append(Problem(file, p.kind, message, examples, p.count, p.level))
    report.rows = {name: n for name, n in rows.items() if n is not None}
    return report

"""The data dictionary of a data directory (``data_samples/sirene/README.md``), generated from the data.

``python -m datathon.dictionary [DIR]`` (default ``data_samples/sirene``; ``make sample`` runs it) writes
``DIR/README.md``. The prose lives here; every table, count, share and example comes from the
directory's files and manifest, and from :mod:`datathon.schema`, :data:`datathon.challenges.sirene.world.noise.MECHANISMS`
and :data:`datathon.challenges.sirene.mca.CLASS_TABLE`. Same data, same bytes: examples are the first rows that fit,
bulletins taken in ``CABBI`` order.

Also here: a Markdown table reader (for the tests) and the measures the dictionary quotes.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from datathon import schema
from datathon.errors import UserError
from datathon.challenges.sirene.mca import CLASS_TABLE
from datathon.text import plural
from datathon.challenges.sirene.world.noise import MECHANISMS, manifest_rates

README = "README.md"
DATA_FILES = (*schema.FILES, schema.NAF_FILE)
TRUTH_FILE = "truth_test.parquet"  # absent from a participants' bundle (`datathon event bundle`)

# -- prose: what each column means, and which columns each noise mechanism alters ----------------
MEANINGS = {
    # register
    "siren": "SIREN of the legal unit (9 digits, Luhn key)",
    "nic": "number of the establishment within its legal unit (5 digits)",
    "siret": "SIRET = SIREN + NIC (14 digits, Luhn key): what a matcher must find",
    "etatAdministratifEtablissement": "`A` active, `F` closed",
    "etablissementSiege": "`true` for the legal unit's head office",
    "trancheEffectifsEtablissement": "headcount band: `NN` not an employer, `00` none, `01` 1–2, `02` 3–5, …, "
                                     "`53` 10,000 or more",
    "activitePrincipaleEtablissement": "activity of the establishment (APE): a NAF rév. 2 sous-classe",
    "enseigne1Etablissement": "the sign (enseigne) the establishment trades under, when Sirene records it",
    "denominationUsuelleEtablissement": "the establishment's usual name (a school's, a municipal service's)",
    "complementAdresseEtablissement": "address complement (building, business park)",
    "numeroVoieEtablissement": "street number",
    "indiceRepetitionEtablissement": "repetition index of the number: `B` bis, `T` ter, `Q` quater",
    "typeVoieEtablissement": "street type, abbreviated: `RUE`, `AV`, `BD`, `PL`, …",
    "libelleVoieEtablissement": "street name, without its type",
    "codePostalEtablissement": "postal code",
    "libelleCommuneEtablissement": "commune name, upper case",
    "codeCommuneEtablissement": "commune (COG code): joins `communes.parquet`",
    "coordonneeLambertAbscisseEtablissement": "x, Lambert 93 (metres)",
    "coordonneeLambertOrdonneeEtablissement": "y, Lambert 93 (metres)",
    "denominationUniteLegale": "name of the legal unit (company, association, public body)",
    "sigleUniteLegale": "acronym of the legal unit",
    "nomUniteLegale": "a sole proprietor's surname (who then has no denomination)",
    "prenom1UniteLegale": "a sole proprietor's first name",
    "categorieJuridiqueUniteLegale": "legal category: `1000` sole proprietor, `54xx` SARL, `57xx` SAS, "
                                     "`7210` commune, `92xx` association, …",
    "activitePrincipaleUniteLegale": "main activity of the legal unit (NAF rév. 2)",
    # geography
    "code_commune": "commune (COG code, 5 characters)",
    "nom_commune": "commune name, mixed case",
    "code_postal": "postal code",
    "code_departement": "département",
    "x": "x, Lambert 93 (metres)",
    "y": "y, Lambert 93 (metres)",
    "population": "inhabitants",
    "code_commune_adjacente": "a commune that shares a border with `code_commune`",
    "id": "BAN-style identifier: commune, street, number",
    "numero": "street number",
    "rep": "repetition index: `bis`, `ter`, …",
    "nom_voie": "street name with its type, mixed case",
    "code_insee": "commune (COG code)",
    # bulletins
    "CABBI": "bulletin identifier",
    "RS_X": "declared name of the employer (raison sociale)",
    "ACTET_X": "declared activity of the establishment",
    "NUMVOI_X": "declared workplace address: street number",
    "BISTER_X": "… repetition index (`B`, `T`, …)",
    "TYPEVOI_X": "… street type (abbreviated or in full)",
    "NOMVOI_X": "… street name",
    "CPLADR_X": "… address complement",
    "CLT_X": "declared workplace commune, as written",
    "DLT_X": "declared workplace département",
    "PLT_X": "declared workplace country (abroad only)",
    "ILT_X": "workplace: `1` in the home commune, `2` another commune of the département",
    "VARDOMPART_X": "employer: `1` company or association, `2` public employer, `3` private household",
    "DEPCOM_CODE": "home commune (COG code)",
    "TYPCOL": "collection mode: `1` internet, `0` paper",
    "SIRETC": "MCA: the SIRET it coded; empty when it validated no candidate",
    "I_MCA_C": "MCA: class of its best candidate, 1–9; empty when it found none",
    "NOTE_MCA_NOM_C": "MCA: name score of its best candidate, 0–1000",
    "NOTE_MCA_ADR_C": "MCA: address score of its best candidate, 10–35",
    schema.TRUTH_COLUMN: "the truth: the employer's SIRET; empty when the bulletin cannot be coded",
    schema.NOISE_COLUMN: "synthetic data only: the noise mechanisms applied, joined by `|`; empty when none",
    # naf.csv
    "code": "NAF rév. 2 sous-classe, dotted",
    "libelle": "its label",
}
MEANINGS_BY_FILE = {  # where a column name means something else in one file
    ("communes.parquet", "x"): "x of the centroid, Lambert 93 (metres)",
    ("communes.parquet", "y"): "y of the centroid, Lambert 93 (metres)",
    ("truth_test.parquet", "CABBI"): "bulletin identifier (joins `bulletins_test.parquet`)",
}
_ADDRESS = ["NUMVOI_X", "BISTER_X", "TYPEVOI_X", "NOMVOI_X"]
_NAMES = ["denominationUniteLegale", "nomUniteLegale", "prenom1UniteLegale", "sigleUniteLegale"]
TOUCHES = {  # mechanism -> the columns it alters
    "homonym_nearby": _NAMES + ["enseigne1Etablissement"],
    "closed_distractor": ["etatAdministratifEtablissement"],
    "sign_not_in_register": ["enseigne1Etablissement"],
    "household_employer": ["RS_X", "VARDOMPART_X", schema.TRUTH_COLUMN],
    "blank_answer": ["RS_X", schema.TRUTH_COLUMN],
    "temp_agency_client": ["RS_X", "ACTET_X", *_ADDRESS, "CLT_X"],
    "typos": ["RS_X", "NOMVOI_X", "CLT_X"],
    "missing_address": _ADDRESS,
    "partial_address": _ADDRESS,
    "neighbouring_commune": ["CLT_X"],
    "home_commune": ["CLT_X", "ILT_X"],
    "vague_activity": ["ACTET_X"],
    **{m: ["RS_X"] for m in ("sign_for_name", "education_nationale", "mairie", "other_name", "informal_name",
                             "acronym", "abbreviation", "legal_form", "truncation")},
}
# What an example shows of a bulletin, and of the register row of its establishment, by level.
SHOWN = {
    "bulletin": (["RS_X", "ACTET_X", "VARDOMPART_X"], []),
    "name": (["RS_X"], ["denominationUniteLegale", "nomUniteLegale", "prenom1UniteLegale", "sigleUniteLegale",
                        "enseigne1Etablissement", "denominationUsuelleEtablissement"]),
    "address": ([*_ADDRESS, "CLT_X", "ILT_X", "DEPCOM_CODE"],
                ["numeroVoieEtablissement", "typeVoieEtablissement", "libelleVoieEtablissement",
                 "libelleCommuneEtablissement", "codeCommuneEtablissement"]),
    "activity": (["ACTET_X"], ["activitePrincipaleEtablissement"]),
    "register": (["RS_X", "CLT_X"], ["denominationUniteLegale", "nomUniteLegale", "prenom1UniteLegale",
                                     "enseigne1Etablissement", "libelleCommuneEtablissement",
                                     "etatAdministratifEtablissement"]),
}
PREFER = {  # mechanism -> (which of its bulletins make the clearest example, given their true register rows)
    "typos": ("one whose name itself differs from the register's",
              lambda b, reg: b["RS_X"].str.upper() != legal_name(reg).to_numpy()),
    "sign_for_name": ("one whose sign the register records",  # sign_not_in_register shows the other case
                      lambda b, reg: reg["enseigne1Etablissement"].notna().to_numpy()),
}
SHOWN_EMPTY = {"sign_not_in_register": "enseigne1Etablissement"}  # the point of the example is that it is empty
LEVELS = ["good", "fair", "bad"]
NAME_LEVELS = ["good (≥ 800)", "fair (200–799)", "bad (< 200)"]
ADDRESS_LEVELS = ["good (10–11)", "fair (20–22)", "bad (31–35)"]


# -- Markdown: reading (for the tests) and writing --------------------------------------------------
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")


@dataclass
class Table:
    """A Markdown table: the heading it sits under, its header and its rows (column → cell text)."""

    heading: str
    header: list[str]
    rows: list[dict[str, str]] = field(default_factory=list)

    def column(self, name: str) -> list[str]:
        return [r[name] for r in self.rows]


def _cells(line: str) -> list[str]:
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", body)]


def markdown_tables(text: str) -> list[Table]:
    """Every pipe table of a Markdown text, in order, with the nearest heading above it."""
    lines = text.splitlines()
    tables: list[Table] = []
    heading = ""
    in_code = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code and (m := _HEADING.match(line)):
            heading = m.group(2)
        elif (not in_code and line.lstrip().startswith("|") and i + 1 < len(lines)
              and _RULE.match(lines[i + 1].strip())):
            header = _cells(line)
            table = Table(heading, header)
            i += 2
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                cells = _cells(lines[i])
                table.rows.append(dict(zip(header, cells + [""] * (len(header) - len(cells)))))
                i += 1
            tables.append(table)
            continue
        i += 1
    return tables


def backticked(cell: str) -> list[str]:
    """The values quoted as code in a cell: ``RUE`` → ``["RUE"]``."""
    return re.findall(r"`([^`]*)`", cell)


def table(header: list[str], rows: list[list], right: int = 0) -> str:
    """A pipe table; the last ``right`` columns are right-aligned. Cells may not hold newlines."""
    rule = ["---"] * (len(header) - right) + ["---:"] * right
    return "\n".join("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |"
                     for row in [header, rule, *rows])


def code(value) -> str:
    """A value as printed: in backticks, floats to one decimal."""
    return f"`{value:.1f}`" if isinstance(value, float) else f"`{value}`"


def num(n) -> str:
    return f"{int(n):,}"


def pct(share: float) -> str:
    """A share as a percentage to one decimal, never rounded to 0 or 100 when it is neither."""
    text = f"{100 * share:.1f} %"
    if 0 < share < 1 and text in ("0.0 %", "100.0 %"):
        return "< 0.1 %" if share < 0.5 else "> 99.9 %"
    return text


def rate(r: float) -> str:
    return f"{100 * r:g} %"


# -- measures ---------------------------------------------------------------------------------------
def noise_counts(noise: pd.Series) -> dict[str, int]:
    """Bulletins per mechanism, from a ``NOISE`` column (mechanisms joined by ``|``, null for none)."""
    counts: dict[str, int] = {}
    for record, n in noise.dropna().value_counts().items():  # a few hundred distinct records
        for name in dict.fromkeys(str(record).split("|")):
            if name:
                counts[name] = counts.get(name, 0) + int(n)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def mca_classes(bulletins: pd.DataFrame) -> pd.DataFrame:
    """Per MCA class (``I_MCA_C``; 0 when no candidate was found): bulletins, coded, right.

    ``bulletins`` must hold ``I_MCA_C``, ``SIRETC`` and the truth ``SIRET_DEC``.
    """
    cls = bulletins["I_MCA_C"].astype("Int64").fillna(0).astype(int).to_numpy()
    coded = bulletins["SIRETC"].notna().to_numpy()
    right = (bulletins["SIRETC"] == bulletins["SIRET_DEC"]).fillna(False).to_numpy(dtype=bool)
    frame = pd.DataFrame({"I_MCA_C": cls, "bulletins": 1, "coded": coded.astype(int), "right": right.astype(int)})
    return frame.groupby("I_MCA_C").sum().reindex(range(10), fill_value=0)


def legal_name(register: pd.DataFrame) -> pd.Series:
    """The name of each establishment's legal unit: its denomination, or a sole proprietor's name."""
    person = (register["nomUniteLegale"].fillna("") + " " + register["prenom1UniteLegale"].fillna("")).str.strip()
    return register["denominationUniteLegale"].fillna(person.where(person != "", None))


def _among(values: pd.Series, members: set) -> pd.Series:
    """``values.isin(members)``, nulls never among them (fast on text columns)."""
    return pd.Series([v in members for v in values.fillna("").tolist()], index=values.index, dtype=bool)


def namesake_codings(register: pd.DataFrame, bulletins: pd.DataFrame) -> pd.Series:
    """Bulletins MCA coded wrongly onto an open establishment of another SIREN with the true one's name."""
    wrong = bulletins[(bulletins["SIRETC"] != bulletins["SIRET_DEC"]).fillna(False).astype(bool)]
    reg = register.set_index("siret")
    got, true = (reg.reindex(wrong[c].to_numpy()).reset_index(drop=True) for c in ("SIRETC", "SIRET_DEC"))
    trap = ((legal_name(got) == legal_name(true)) & (got["siren"] != true["siren"])
            & (got["etatAdministratifEtablissement"] == "A")).fillna(False).to_numpy(bool)
    return pd.Series(bulletins.index.isin(wrong.index[trap]), index=bulletins.index)


def closed_codings(register: pd.DataFrame, bulletins: pd.DataFrame) -> pd.Series:
    """Bulletins MCA coded onto a closed establishment."""
    closed = set(register.loc[register["etatAdministratifEtablissement"] == "F", "siret"])
    return _among(bulletins["SIRETC"], closed)


def unrecorded_signs(register: pd.DataFrame, bulletins: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Bulletins that give the sign for the name (not a temp agency's client), and among them
    those whose establishment's sign is not in ``enseigne1Etablissement``."""
    def records(name):
        return bulletins["NOISE"].str.contains(rf"(?:^|\|){name}(?:\||$)").fillna(False).astype(bool)

    signs = records("sign_for_name") & ~records("temp_agency_client") & bulletins["SIRET_DEC"].notna()
    recorded = set(register.loc[register["enseigne1Etablissement"].notna(), "siret"])
    return signs, signs & ~_among(bulletins["SIRET_DEC"], recorded)


def register_measures(register: pd.DataFrame, adjacency: pd.DataFrame, bulletins: pd.DataFrame) -> dict:
    """What the register-level noise mechanisms left in a sample, per mechanism, in the order the
    dictionary prints the numbers. ``bulletins`` are labelled ones (``SIRET_DEC``, ``NOISE``)."""
    reg = register.assign(_name=legal_name(register),
                          _division=register["activitePrincipaleEtablissement"].str[:2])
    is_open = reg["etatAdministratifEtablissement"] == "A"
    opened = reg[is_open]

    # homonym_nearby: open establishments whose name and division another SIREN has next door.
    keys = opened[["siret", "siren", "_name", "_division", "codeCommuneEtablissement"]].dropna()
    keys = keys[keys.duplicated(["_name", "_division"], keep=False)]  # only names that recur can pair
    pairs = (keys.merge(adjacency, left_on="codeCommuneEtablissement", right_on="code_commune")
             .merge(keys, left_on=["code_commune_adjacente", "_name", "_division"],
                    right_on=["codeCommuneEtablissement", "_name", "_division"], suffixes=("", "_other")))
    with_namesake = int(pairs.loc[pairs["siren"] != pairs["siren_other"], "siret"].nunique())
    n_closed = int((~is_open).sum())
    signs, unrecorded = unrecorded_signs(register, bulletins)
    n_signs, n_unrecorded = int(signs.sum()), int(unrecorded.sum())
    return {
        "homonym_nearby": [with_namesake, len(opened), round(100 * with_namesake / len(opened), 1),
                           int(namesake_codings(register, bulletins).sum())],
        "closed_distractor": [n_closed, len(opened), round(100 * n_closed / len(opened), 1),
                              int(closed_codings(register, bulletins).sum())],
        "sign_not_in_register": [int(opened["enseigne1Etablissement"].notna().sum()), n_signs, n_unrecorded,
                                 round(100 * n_unrecorded / n_signs, 1) if n_signs else 0.0],
    }


# -- reading a data directory -------------------------------------------------------------------------
def read(directory: Path) -> tuple[dict[str, pd.DataFrame], dict]:
    """The files of a data directory as stored (bulletins in ``CABBI`` order), and its manifest.

    The test truth may be absent (a participants' bundle): then ``frames`` has no entry for it.
    """
    missing = [n for n in (*DATA_FILES, schema.MANIFEST) if not (directory / n).is_file() and n != TRUTH_FILE]
    if missing:
        raise UserError(f"{directory} lacks {', '.join(missing)}: give a directory `datathon generate` wrote")
    manifest = json.loads((directory / schema.MANIFEST).read_text(encoding="utf-8"))
    if manifest["noise"] != manifest_rates():
        raise UserError(f"{directory} was generated with other noise mechanisms than datathon/world/noise.py's: "
                        "regenerate it first (`make sample`)")
    frames = {}
    for name in (n for n in DATA_FILES if (directory / n).is_file()):
        if name.endswith(".csv"):
            frames[name] = pd.read_csv(directory / name, sep=";", dtype="string",
                                       keep_default_na=False).replace("", pd.NA)
        else:
            frames[name] = pd.read_parquet(directory / name)
        if "CABBI" in frames[name]:
            frames[name] = frames[name].sort_values("CABBI", kind="stable", ignore_index=True)
    return frames, manifest


# -- sections -----------------------------------------------------------------------------------------
def examples(values: pd.Series) -> str:
    """Every value of a column that has few, else its first distinct values (within ~60 characters)."""
    values = values.dropna()
    if values.empty:
        return "— (always empty)"
    distinct = values.unique()
    if len(distinct) <= 4:
        return ", ".join(code(v) for v in sorted(distinct.tolist()))
    shown: list[str] = []
    for v in distinct[:3].tolist():
        if shown and sum(len(s) for s in shown) + len(code(v)) > 60:
            break
        shown.append(code(v))
    return ", ".join(shown) + ", …"


def column_table(name: str, df: pd.DataFrame) -> str:
    spec = schema.FILES.get(name, {})
    touching = {c: [f"`{m}`" for m, cols in TOUCHES.items() if c in cols] for c in df.columns}
    noise = any(touching.values())
    rows = []
    for col in df.columns:
        meaning = MEANINGS_BY_FILE.get((name, col)) or MEANINGS.get(col)
        if meaning is None:
            raise UserError(f"{name}: no meaning for column {col}: add it to MEANINGS in datathon/dictionary.py")
        filled = df[col].notna().mean()
        row = [f"`{col}`", spec.get(col, "string"), pct(filled) if 0 < filled < 1 else f"{100 * filled:.0f} %",
               examples(df[col]), meaning]
        rows.append(row + ([", ".join(touching[col]) or "—"] if noise else []))
    header = ["Column", "Type", "Filled", "Example", "Meaning"] + (["Noise"] if noise else [])
    return table(header, rows)


def intro(frames, manifest) -> str:
    deps = ", ".join(f"`{d}`" for d in manifest["departements"])
    rows = manifest["rows"]
    n_bulletins = rows["bulletins_train.parquet"] + rows["bulletins_test.parquet"]
    made = f"""{num(rows["communes.parquet"])} communes, {num(rows["etablissements.parquet"])} establishments and \
{num(n_bulletins)} census bulletins, generated by `{manifest["generator"]}` {manifest["version"]} at scale \
`{manifest["scale"]}`"""
    bundle = TRUTH_FILE not in frames
    real = f"""Nothing in it is real: names, streets and people are invented. \
The files have the real schemas, though (the Sirene stock's column names for the register, the census \
dictionary's for the bulletins, the BAN's for addresses), so that what works on {"them" if bundle else "the sample"} \
runs on real files.

Every count, share and example below is measured on these files: this page is generated from them."""
    if bundle:  # a participants' bundle: neither the seed nor the way to regenerate it (both rebuild the truth)
        return f"""\
<!-- Generated by `datathon event bundle` (datathon/dictionary.py) from the files beside it. -->

# The event's data: a data dictionary

This directory holds the event's data: {plural(len(manifest["departements"]), "synthetic département")} ({deps}) \
of {made}. {real} The test bulletins' truth is not here: the instructor keeps it, and scores the submissions \
with it."""
    return f"""\
<!-- Generated by `python -m datathon.dictionary` from the files beside it (`make sample` runs it): \
edit datathon/dictionary.py, not this file. -->

# The sample data: a data dictionary

`data_samples/sirene/` holds the kit's public sample: one synthetic département ({deps}) of \
{made} with seed `{manifest["seed"]}`. {real} To regenerate the sample, then this page:

```bash
make sample   # datathon generate --scale {manifest["scale"]} --seed {manifest["seed"]} --out data_samples/sirene --force
              # python -m datathon.dictionary data_samples/sirene
```"""


def files_section(frames, manifest) -> str:
    what = {
        "etablissements.parquet": "the register: establishments, their legal unit's columns joined",
        "communes.parquet": "reference geography: the communes",
        "communes_adjacentes.csv": "pairs of adjacent communes, in both directions (`;`-separated)",
        "adresses.parquet": "a BAN-like address reference: numbered points with coordinates",
        "bulletins_train.parquet": "labelled bulletins: declarations, MCA's output, the truth and the noise applied",
        "bulletins_test.parquet": "test bulletins: declarations and MCA's output, without the truth",
        "truth_test.parquet": "the test bulletins' truth, kept apart",
        schema.NAF_FILE: "the NAF rév. 2 sous-classes and their labels (`;`-separated)",
        schema.MANIFEST: "how the sample was made: seed, scale, version, row counts, noise rates, MCA's figures, "
                         "checksums",
    }
    here = "data_samples/sirene"
    if TRUTH_FILE not in frames:
        what[schema.MANIFEST] = ("how the data were made: scale, version, row counts, noise rates, MCA's figures on "
                                 "the train split, checksums (not the seed: it would rebuild the truth)")
        here = "DIR"
    rows = [[f"`{n}`", num(manifest["rows"].get(n, len(frames[n]))), what[n]] for n in DATA_FILES if n in frames]
    rows.append([f"`{schema.MANIFEST}`", "—", what[schema.MANIFEST]])
    return f"""\
## The files

{table(["File", "Rows", "What it holds"], rows)}

In a notebook, `from datathon.data import load; ds = load("{here}")` reads them all with the types below; \
`datathon data check {here}` lists any problem a directory has."""


def conventions() -> str:
    return """\
## Conventions

- Suffix `_X`: as **declared** on the bulletin; suffix `_C`: as **coded** (by MCA). The truth is `SIRET_DEC`.
- Text columns hold text, with nulls for missing values (pandas `string`): codes keep their leading zeros.
- A SIREN (9 digits) identifies a legal unit, a NIC (5 digits) one of its establishments, and the SIRET \
(SIREN + NIC, 14 digits) the establishment. SIREN and SIRET carry a valid Luhn key.
- Activities are NAF rév. 2 sous-classes, dotted (`56.10A`); their labels are in `naf.csv`.
- Communes are COG codes (5 characters); coordinates are Lambert 93 (EPSG:2154), in metres.
- In the tables: **Type** is the column's type in `datathon/schema.py`; **Filled** the share of non-empty values; \
**Example** every value when a column has at most four, else its first distinct values in file order (bulletins in \
`CABBI` order); **Noise** the [noise mechanisms](#noise-mechanisms) that alter the column."""


def register_section(frames) -> str:
    reg = frames["etablissements.parquet"]
    is_open = reg["etatAdministratifEtablissement"] == "A"
    sole = reg["nomUniteLegale"].notna()
    return f"""\
## The register: `etablissements.parquet`

One row per establishment (SIRET), with the columns of its legal unit (SIREN) joined: \
{num(len(reg))} establishments of {num(reg["siren"].nunique())} legal units, {num(is_open.sum())} open and \
{num((~is_open).sum())} closed. Closed establishments stay in the register, as in the real extract MCA searches: \
a matcher should prefer open ones. Sole proprietors ({num(sole.sum())} establishments) have no \
`denominationUniteLegale` but a `nomUniteLegale` and a `prenom1UniteLegale`; \
{num(reg["enseigne1Etablissement"].notna().sum())} establishments record a sign (`enseigne1Etablissement`).

{column_table("etablissements.parquet", reg)}"""


def geography_section(frames) -> str:
    adj = frames["communes_adjacentes.csv"]
    per = adj.groupby("code_commune").size()
    ad = frames["adresses.parquet"]
    return f"""\
## Reference geography

### `communes.parquet`

{column_table("communes.parquet", frames["communes.parquet"])}

### `communes_adjacentes.csv`

Each pair of communes that share a border appears in both directions: {num(len(adj))} rows, \
{per.median():g} neighbours per commune (median), {num(per.max())} at most.

{column_table("communes_adjacentes.csv", adj)}

### `adresses.parquet`

{num(len(ad))} numbered points on {num(ad[["code_insee", "nom_voie"]].drop_duplicates().shape[0])} streets, \
to geocode a declared address (`NUMVOI_X`, `TYPEVOI_X`, `NOMVOI_X`, `CLT_X`) and measure distances.

{column_table("adresses.parquet", ad)}"""


def bulletins_section(frames) -> str:
    b = frames["bulletins_train.parquet"]
    test = frames["bulletins_test.parquet"]
    home = b["ILT_X"] == "1"
    uncodable = b[schema.TRUTH_COLUMN].isna()
    return f"""\
## Census bulletins

Each bulletin is one person in employment: what they wrote about the establishment that employs them (name, \
activity, workplace address), their home commune, and MCA's output. The train split holds {num(len(b))} \
bulletins ({num((b["TYPCOL"] == 1).sum())} internet, {num((b["TYPCOL"] == 0).sum())} paper), the test split \
{num(len(test))}.

- `ILT_X = 1` says the workplace is the home commune: `CLT_X` is then usually left empty \
({100 * b.loc[home, "CLT_X"].isna().mean():.0f} % of such train bulletins), and the commune is `DEPCOM_CODE`.
- {num(uncodable.sum())} train bulletins ({pct(uncodable.mean())}) have no `SIRET_DEC`: they cannot be coded \
(employed by a private household, `VARDOMPART_X = 3`, or a blank or unusable answer). A matcher should leave them \
uncoded.
- Paper forms are written in capitals; internet ones keep the case people typed.

### `bulletins_train.parquet`

{column_table("bulletins_train.parquet", b)}

### `bulletins_test.parquet`

The same columns without the truth (`SIRET_DEC`) and the noise record (`NOISE`): these are the bulletins to code.

{column_table("bulletins_test.parquet", test)}{truth_section(frames)}"""


def truth_section(frames) -> str:
    if TRUTH_FILE not in frames:  # a participants' bundle
        return ""
    return f"""

### `truth_test.parquet`

The test bulletins' truth, kept apart to score submissions (`datathon score`). At an event, participants never get \
it: the event's data are generated with a seed only the instructor knows.

{column_table("truth_test.parquet", frames["truth_test.parquet"])}"""


def naf_section(frames) -> str:
    naf = frames[schema.NAF_FILE]
    return f"""\
## The nomenclature: `naf.csv`

The {num(len(naf))} sous-classes of NAF rév. 2 (in {num(naf["code"].str[:2].nunique())} divisions), \
to read `activitePrincipaleEtablissement` and compare it with a declared `ACTET_X`. \
`datathon.naf.nomenclature()` adds the labels of the classe, groupe, division and section.

{column_table(schema.NAF_FILE, naf)}"""


def manifest_section(manifest) -> str:
    keys = [
        ("generator, version", f"`{manifest['generator']}`, `{manifest['version']}`", "what wrote the directory"),
        ("kind", code(manifest["kind"]), "`synthetic`, or bulletins synthesised on a real register"),
        ("scale, seed", f"`{manifest['scale']}`, `{manifest['seed']}`", "same scale and seed, same bytes")
        if "seed" in manifest else ("scale", code(manifest["scale"]), "the scale's name (no seed here: it would "
                                                                      "rebuild the test truth)"),
        ("departements", ", ".join(code(d) for d in manifest["departements"]), "the départements generated"),
        ("rows", f"{len(manifest['rows'])} files", "rows per file"),
        ("noise", f"{len(manifest['noise'])} mechanisms", "each mechanism's level, rates and description"),
        ("mca", ", ".join(f"`{s}`" for s in manifest["mca"]), "MCA's bulletins, coding rate, precision and success "
                                                               "rate per split"),
        ("generated_at", "—", "when the directory was written (the only key that changes from run to run)"),
        ("checksums", f"{len(manifest['checksums'])} files", "the sha256 of every file"),
    ]
    here = "In this sample" if "seed" in manifest else "Here"
    return f"""\
## The manifest: `manifest.json`

{table(["Key", here, "Meaning"], [[f"`{k}`".replace(", ", "`, `"), v, m] for k, v, m in keys])}"""


def noise_section(frames) -> str:
    b = frames["bulletins_train.parquet"]
    internet, paper = b["TYPCOL"] == 1, b["TYPCOL"] == 0
    counts = noise_counts(b["NOISE"])
    by_mode = {"internet": noise_counts(b.loc[internet, "NOISE"]), "paper": noise_counts(b.loc[paper, "NOISE"])}
    rows = []
    for m in MECHANISMS:
        row = [f"`{m.name}`", m.level, rate(m.internet), rate(m.paper), m.description]
        if m.level == "register":
            rows.append(row + ["—"] * 4)
        else:
            rows.append(row + [num(counts.get(m.name, 0)), pct(counts.get(m.name, 0) / len(b)),
                               pct(by_mode["internet"].get(m.name, 0) / internet.sum()),
                               pct(by_mode["paper"].get(m.name, 0) / paper.sum())])
    preferred = "; ".join(f"for `{m}`, {description}" for m, (description, _) in PREFER.items())
    header = ["Mechanism", "Level", "Internet", "Paper", "What it does", "Train bulletins", "Share",
              "Share, internet", "Share, paper"]
    return f"""\
## Noise mechanisms

The noise model (`datathon/world/noise.py`) turns each true (person, establishment) pair into a declaration, \
with every known difficulty of real declarations as a named mechanism. Each has its own rate, higher on paper forms \
(`TYPCOL = 0`) than on internet ones where the collection mode matters. The register-level mechanisms act once, on \
the register; the others act on each bulletin, and those applied are recorded in `NOISE` (train split and \
`truth_test.parquet`; real data have no such column). A rate is the chance a mechanism applies when it can \
(`sign_for_name` needs a sign, `temp_agency_client` a temp agency's worker), so a measured share can be lower. \
{num(b["NOISE"].isna().sum())} train bulletins carry none.

{table(header, rows, right=4)}

### What the register-level mechanisms left

{register_table(frames)}

### One example per mechanism

For each mechanism, a train bulletin that shows it (the first in `CABBI` order among those with the fewest other \
mechanisms; {preferred}) and the register row of its establishment. For `homonym_nearby` and `closed_distractor`, \
the first bulletin MCA coded into the trap; for `sign_not_in_register`, the first that gives a sign the register \
lacks.

{examples_table(frames)}"""


def register_table(frames) -> str:
    reg, b = frames["etablissements.parquet"], frames["bulletins_train.parquet"]
    measured = register_measures(reg, frames["communes_adjacentes.csv"], b)
    h, c, s = measured["homonym_nearby"], measured["closed_distractor"], measured["sign_not_in_register"]
    text = {
        "homonym_nearby": f"{num(h[0])} of the {num(h[1])} open establishments ({h[2]} %) share their legal name and "
                          f"NAF division with an establishment of another SIREN in an adjacent commune; {num(h[3])} "
                          "of MCA's wrong train codings land on such a namesake",
        "closed_distractor": f"{num(c[0])} closed establishments beside {num(c[1])} open ones ({c[2]} %); {num(c[3])} "
                             "of MCA's train codings land on a closed establishment",
        "sign_not_in_register": f"{num(s[0])} open establishments record a sign; of the {num(s[1])} train bulletins "
                                f"that give the sign for the name, {num(s[2])} ({s[3]} %) give one the register does "
                                "not record",
    }
    rows = [[f"`{m.name}`", rate(m.internet), text[m.name]] for m in MECHANISMS if m.level == "register"]
    return table(["Mechanism", "Rate", "Measured in the sample"], rows)


def example_bulletin(mechanism: str, frames, applied: pd.DataFrame) -> pd.Series | None:
    """The example of a mechanism: the first train bulletin, in CABBI order, that shows it best.

    ``applied`` says which mechanisms each train bulletin's ``NOISE`` records (a column per mechanism).
    """
    reg, b = frames["etablissements.parquet"], frames["bulletins_train.parquet"]
    traps = {"homonym_nearby": lambda: namesake_codings(reg, b), "closed_distractor": lambda: closed_codings(reg, b),
             "sign_not_in_register": lambda: unrecorded_signs(reg, b)[1]}
    shows = traps[mechanism]() if mechanism in traps else applied.get(mechanism, pd.Series(False, index=b.index))
    if mechanism in PREFER:
        candidates = b[shows]
        truth = reg.set_index("siret").reindex(candidates[schema.TRUTH_COLUMN].to_numpy())
        clearer = pd.Series(PREFER[mechanism][1](candidates, truth), index=candidates.index, dtype="boolean")
        shows = shows & clearer.reindex(b.index).fillna(False) if clearer.fillna(False).any() else shows
    if not shows.any():
        return None
    others = applied[shows].sum(axis=1)
    return b.loc[others[others == others.min()].index[0]]


def _fields(row: pd.Series, columns: list[str]) -> str:
    return ", ".join(f"{c} {code(row[c])}" if pd.notna(row[c]) else f"{c} empty" for c in columns)


def examples_table(frames) -> str:
    reg = frames["etablissements.parquet"].set_index("siret", drop=False)
    applied = frames["bulletins_train.parquet"]["NOISE"].str.get_dummies(sep="|").astype(bool)
    rows = []
    for m in MECHANISMS:
        bulletin = example_bulletin(m.name, frames, applied)
        if bulletin is None:
            rows.append([f"`{m.name}`", "—", "no train bulletin shows it", "—"])
            continue
        declared, registered = SHOWN[m.level]
        truth = bulletin[schema.TRUTH_COLUMN]
        trapped = m.name in ("homonym_nearby", "closed_distractor")  # examples of an MCA coding
        declared = declared + ["SIRETC"] * trapped
        if pd.isna(truth):
            found = "SIRET_DEC empty: not codable"
        else:
            sirets = [truth] + [bulletin["SIRETC"]] * trapped
            shown = [c for c in registered if pd.notna(reg.at[truth, c]) or c == SHOWN_EMPTY.get(m.name)]
            found = "; ".join(f"{code(s)} ({'truth' if s == truth else 'MCA'}): {_fields(reg.loc[s], shown)}"
                              for s in sirets)
        rows.append([f"`{m.name}`", code(bulletin["CABBI"]), _fields(bulletin, declared), found])
    return table(["Mechanism", "CABBI", "Declared", "In the register"], rows)


def mca_section(frames, manifest) -> str:
    b = frames["bulletins_train.parquet"]
    runs = [["real MCA, 2017 campaign", "≈ 1,700,000", "44–45 %", "≈ 88.4 % (11.6 % disagreement on re-coding)",
             "—"]]
    for split, f in manifest["mca"].items():  # a bundle has train only: the test figures need the truth
        runs.append([f"replica, {split}", num(f["bulletins"]), pct(f["coding_rate"]), pct(f["precision"]),
                     pct(f["success_rate"])])
    grid = table(["Name score \\ address score", *ADDRESS_LEVELS],
                 [[f"**{NAME_LEVELS[i]}**", *(str(int(k)) for k in CLASS_TABLE[i])] for i in range(3)])
    measured = mca_classes(b)
    rows = []
    for k in [*range(1, 10), 0, None]:
        m = measured.sum() if k is None else measured.loc[k]
        if k:
            i, j = (int(x[0]) for x in (CLASS_TABLE == k).nonzero())
            decision = "validated" if k <= 2 else "activity check" if k <= 5 else "rejected"
            label = [str(k), LEVELS[i], LEVELS[j], decision]
        else:
            label = ["empty", "—", "—", "no candidate"] if k == 0 else ["all", "", "", ""]
        rows.append(label + [num(m["bulletins"]), pct(m["bulletins"] / len(b)), num(m["coded"]),
                             pct(m["right"] / m["coded"]) if m["coded"] else "—"])
    top = measured.loc[1:2]
    ties = int((top["bulletins"] - top["coded"]).sum())
    middle = measured.loc[3:5]
    made = "the sample was" if "seed" in manifest else "the data were"
    return f"""\
## MCA, the incumbent

MCA (*Mise en Concordance Automatique*) codes a bulletin when it finds one candidate it trusts. The replica in \
`datathon/mca.py` follows the documented algorithm: it searches the register by name in the declared workplace \
commune (and by exact name in the département), scores the best candidate's name (`NOTE_MCA_NOM_C`, 0–1000) and \
address (`NOTE_MCA_ADR_C`, 10–35), combines the two into a class (`I_MCA_C`, 1–9), and decides by class \
(`SIRETC`). Like the real MCA, it searches the register as extracted, closed establishments included. The noise rates are \
calibrated on MCA alone, so that the replica performs as the real one does; the course's approaches never set them.

### How it performs

The replica's figures are those `manifest.json` recorded when {made} generated.

{table(["Run", "Bulletins", "Coding rate", "Precision", "Success rate"], runs, right=4)}

Coding rate: bulletins given a SIRET; precision: right among those coded; success rate: right among all bulletins.

### Classes

{grid}

Address scores: `10` same street and number, `11` same street; `20` similar street, `21` no street declared; `31` \
same commune but another street, `32` another commune with the same postal code, `33` another commune of the \
département, `34` no usable commune declared. Classes 1–2 are validated; classes 3–5 only when the declared \
activity (`ACTET_X`) shares a significant word with the candidate's NAF labels; classes 6–9 are rejected, and so is \
any bulletin whose best candidate ties exactly with another establishment.

On the train split:

{table(["I_MCA_C", "Name", "Address", "Decision", "Train bulletins", "Share", "Coded", "Precision"], rows, right=4)}

{num(ties)} bulletins of classes 1–2 stay uncoded because of a tie; the activity check validates \
{num(middle["coded"].sum())} of the {num(middle["bulletins"].sum())} bulletins of classes 3–5."""


def real_data() -> str:
    return """\
## Bring real data

- **Real bulletins and register**: put them in a directory with the same file names and columns (`.csv` files, \
`;`- or `,`-separated, are accepted in place of `.parquet`), then run `datathon data check DIR`: it lists every \
missing column, wrong type, invalid SIREN or SIRET key, duplicate `CABBI`, unknown commune, or truth SIRET absent \
from the register. Real bulletins have no `NOISE` column; extra columns (a real Sirene extract has dozens) are kept.
- **A real register, synthetic bulletins** (to rehearse on the real Sirene stock): `datathon generate --scale \
departement --seed N --out DIR --register StockEtablissement_utf8.csv [--unites-legales StockUniteLegale_utf8.csv]`. \
The files are INSEE's open stock files, with their official headers; communes, adjacency and addresses are rebuilt \
from the register's own addresses and coordinates."""


def render(directory) -> str:
    """The data dictionary of a data directory, as Markdown."""
    frames, manifest = read(Path(directory))
    sections = [intro(frames, manifest), files_section(frames, manifest), conventions(), register_section(frames),
                geography_section(frames), bulletins_section(frames), naf_section(frames), manifest_section(manifest),
                noise_section(frames), mca_section(frames, manifest)]
    if TRUTH_FILE in frames:  # participants rehearse on the data they get: bringing real data is the kit's
        sections.append(real_data())
    return "\n\n".join(sections) + "\n"


def write(directory) -> Path:
    """Write ``DIR/README.md``; returns its path."""
    path = Path(directory) / README
    path.write_text(render(directory), encoding="utf-8")
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m datathon.dictionary", description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", nargs="?", default="data_samples/sirene",
                        help="data directory (default: data_samples/sirene)")
    try:
        print(f"wrote {write(parser.parse_args(argv).directory)}")
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)


if __name__ == "__main__":
    main()

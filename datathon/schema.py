"""The data contracts: every file of a data directory, its columns and their types.

Column names are the real ones: the official Sirene stock names for the register, the census (RP)
dictionary names for bulletins (suffix ``_X`` declared, ``_C`` coded), BAN names for addresses.
A data directory, synthetic or real, holds:

============================  ============================================================
``etablissements.parquet``    the register, legal-unit columns joined (:data:`ETABLISSEMENTS`)
``communes.parquet``          reference geography (:data:`COMMUNES`)
``communes_adjacentes.csv``   pairs of adjacent communes, both directions (:data:`ADJACENCES`)
``adresses.parquet``          a BAN-like address reference (:data:`ADRESSES`)
``bulletins_train.parquet``   labelled bulletins (:data:`BULLETINS` + ``SIRET_DEC``, ``NOISE``)
``bulletins_test.parquet``    test bulletins, without their truth (:data:`BULLETINS`)
``truth_test.parquet``        the test truth, kept apart (:data:`TRUTH`)
``naf.csv``                   the NAF rév. 2 sous-classes, ``code;libelle``
``manifest.json``             seed, scale, version, row counts, noise rates, checksums
============================  ============================================================
"""
from __future__ import annotations

# dtype names understood by pandas; "string" columns hold text with nulls for missing values.
STRING = "string"
FLOAT = "float64"

ETABLISSEMENTS: dict[str, str] = {
    # establishment (StockEtablissement)
    "siren": STRING,
    "nic": STRING,
    "siret": STRING,
    "etatAdministratifEtablissement": STRING,  # A active, F closed
    "etablissementSiege": STRING,  # "true" / "false"
    "trancheEffectifsEtablissement": STRING,  # NN, 00, 01, 02, 03, 11, 12, 21, ... 53
    "activitePrincipaleEtablissement": STRING,  # NAF rév. 2, dotted: 56.10A
    "enseigne1Etablissement": STRING,
    "denominationUsuelleEtablissement": STRING,
    "complementAdresseEtablissement": STRING,
    "numeroVoieEtablissement": STRING,
    "indiceRepetitionEtablissement": STRING,  # B, T, Q, ...
    "typeVoieEtablissement": STRING,  # RUE, AV, BD, PL, ...
    "libelleVoieEtablissement": STRING,
    "codePostalEtablissement": STRING,
    "libelleCommuneEtablissement": STRING,
    "codeCommuneEtablissement": STRING,
    "coordonneeLambertAbscisseEtablissement": FLOAT,  # Lambert 93, metres
    "coordonneeLambertOrdonneeEtablissement": FLOAT,
    # legal unit (StockUniteLegale), joined on siren
    "denominationUniteLegale": STRING,
    "sigleUniteLegale": STRING,
    "nomUniteLegale": STRING,  # sole proprietors: surname ...
    "prenom1UniteLegale": STRING,  # ... and first name; no denomination
    "categorieJuridiqueUniteLegale": STRING,
    "activitePrincipaleUniteLegale": STRING,
}

COMMUNES: dict[str, str] = {
    "code_commune": STRING,  # COG code, 5 characters (35238)
    "nom_commune": STRING,
    "code_postal": STRING,
    "code_departement": STRING,
    "x": FLOAT,  # Lambert 93 centroid, metres
    "y": FLOAT,
    "population": "int64",
}

ADJACENCES: dict[str, str] = {
    "code_commune": STRING,
    "code_commune_adjacente": STRING,
}

ADRESSES: dict[str, str] = {
    "id": STRING,  # code_insee + street + number, as BAN ids
    "numero": STRING,
    "rep": STRING,  # repetition index: bis, ter, ...
    "nom_voie": STRING,  # full street name with its type, mixed case: "Rue de la Gare"
    "code_postal": STRING,
    "code_insee": STRING,
    "nom_commune": STRING,
    "x": FLOAT,  # Lambert 93, metres
    "y": FLOAT,
}

BULLETINS: dict[str, str] = {
    "CABBI": STRING,  # bulletin identifier
    "RS_X": STRING,  # declared name of the establishment (raison sociale)
    "ACTET_X": STRING,  # declared activity
    "NUMVOI_X": STRING,  # declared workplace address: number,
    "BISTER_X": STRING,  # repetition index,
    "TYPEVOI_X": STRING,  # street type,
    "NOMVOI_X": STRING,  # street name,
    "CPLADR_X": STRING,  # address complement
    "CLT_X": STRING,  # declared workplace commune (as written)
    "DLT_X": STRING,  # declared workplace département
    "PLT_X": STRING,  # declared workplace country
    "ILT_X": STRING,  # workplace indicator: 1 home commune, 2 other commune of the département
    "VARDOMPART_X": STRING,  # 1 company or association, 2 public employer, 3 private household
    "DEPCOM_CODE": STRING,  # home commune (COG code)
    "TYPCOL": "Int8",  # collection mode: 1 internet, 0 paper
    "SIRETC": STRING,  # MCA: coded SIRET, null when MCA did not validate a candidate
    "I_MCA_C": "Int8",  # MCA: class of the best candidate, 1..9; null when none was found
    "NOTE_MCA_NOM_C": "Int16",  # MCA: name score of the best candidate, 0..1000
    "NOTE_MCA_ADR_C": "Int8",  # MCA: address score of the best candidate, 10..35
}

# Labelled bulletins add the truth; synthetic ones also record the noise that was applied.
TRUTH_COLUMN = "SIRET_DEC"  # true SIRET, null when the bulletin cannot be coded
NOISE_COLUMN = "NOISE"  # synthetic data only: applied noise mechanisms joined by "|"

BULLETINS_TRAIN: dict[str, str] = {**BULLETINS, TRUTH_COLUMN: STRING, NOISE_COLUMN: STRING}

TRUTH: dict[str, str] = {"CABBI": STRING, TRUTH_COLUMN: STRING, NOISE_COLUMN: STRING}

# Columns a real file may lack (they are the generator's own diagnostics).
OPTIONAL_COLUMNS = {NOISE_COLUMN}

FILES: dict[str, dict[str, str]] = {
    "etablissements.parquet": ETABLISSEMENTS,
    "communes.parquet": COMMUNES,
    "communes_adjacentes.csv": ADJACENCES,
    "adresses.parquet": ADRESSES,
    "bulletins_train.parquet": BULLETINS_TRAIN,
    "bulletins_test.parquet": BULLETINS,
    "truth_test.parquet": TRUTH,
}

MANIFEST = "manifest.json"
NAF_FILE = "naf.csv"

# Size bands of the register (trancheEffectifs): code -> (min, max) employees.
TRANCHES: dict[str, tuple[int, int]] = {
    "NN": (0, 0),
    "00": (0, 0),
    "01": (1, 2),
    "02": (3, 5),
    "03": (6, 9),
    "11": (10, 19),
    "12": (20, 49),
    "21": (50, 99),
    "22": (100, 199),
    "31": (200, 249),
    "32": (250, 499),
    "41": (500, 999),
    "42": (1000, 1999),
    "51": (2000, 4999),
    "52": (5000, 9999),
    "53": (10000, 20000),
}


def nullable_strings(values):
    """Text values as a pandas string array, empty strings and None becoming nulls."""
    import numpy as np
    import pandas as pd

    arr = np.asarray(values, dtype=object)
    mask = np.array([v is None or v == "" or v != v for v in arr], dtype=bool)
    arr = arr.copy()
    arr[mask] = None
    return pd.array(arr, dtype="string")


def departement_of(code_commune: str) -> str:
    """The département of a COG commune code: ``"35238"`` → ``"35"``, ``"97411"`` → ``"974"``."""
    return code_commune[:3] if code_commune.startswith("97") else code_commune[:2]


def as_objects(column):
    """A column as Python objects, None for every kind of missing value (no pandas NA in comparisons)."""
    import numpy as np

    values = column.to_numpy(dtype=object)
    return np.where(column.isna().to_numpy(), None, values)

"""A tiny but fully consistent data directory for tests: :func:`write_tiny_world`.

Six real communes of Ille-et-Vilaine with their adjacency (both directions), a few streets of
numbered addresses, 30 establishments of 20 legal units with valid Luhn SIREN/SIRET and real NAF
rév. 2 codes, 40 training and 20 test bulletins (some uncodable, some coded by the MCA), the test
truth apart, ``naf.csv`` and a ``manifest.json`` with the files' sha256 checksums.

Everything is deterministic (fixed seed) and checks clean with ``datathon data check``. To break
a copy on purpose, read a file with :func:`read`, change it, and write it back with
:func:`rewrite`, which also refreshes the manifest's checksum so that only the intended problem
shows.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datathon import __version__, schema
from datathon.luhn import with_luhn_key
from datathon.naf import naf_csv_frame, nomenclature

SEED = 20180118
N_TRAIN = 40
N_TEST = 20

# (code, name, postal code, x, y, population): real COG codes, approximate Lambert 93 centroids.
COMMUNES = [
    ("35238", "Rennes", "35000", 351_900.0, 6_789_300.0, 222_485),
    ("35051", "Cesson-Sévigné", "35510", 357_300.0, 6_789_900.0, 18_211),
    ("35281", "Saint-Jacques-de-la-Lande", "35136", 348_200.0, 6_784_600.0, 13_523),
    ("35024", "Betton", "35830", 354_400.0, 6_797_200.0, 12_283),
    ("35047", "Bruz", "35170", 344_600.0, 6_779_600.0, 18_797),
    ("35055", "Chantepie", "35135", 356_600.0, 6_785_100.0, 10_600),
]
ADJACENT = [
    ("35238", "35051"), ("35238", "35281"), ("35238", "35024"), ("35238", "35055"),
    ("35051", "35055"), ("35051", "35024"), ("35281", "35047"),
]
STREETS = [("RUE", "Rue de la Gare"), ("AV", "Avenue Jean Jaurès"), ("PL", "Place de la Mairie")]

# Legal units: (denomination, sigle, enseigne, NAF code, catégorie juridique, establishments).
# Sole proprietors (1000) have no denomination but a surname and a first name.
UNITS = [
    ("BOULANGERIE DU CENTRE", None, "AU BON PAIN", "10.71C", "5499", 1),
    ("SUPERMARCHES DE L'OUEST", "SDO", "MARCHE PLUS", "47.11F", "5710", 3),
    ("COMMUNE DE RENNES", None, None, "84.11Z", "7210", 2),
    ("CENTRE HOSPITALIER UNIVERSITAIRE DE RENNES", "CHU", None, "86.10Z", "7364", 3),
    ("LYCEE CHATEAUBRIAND", None, None, "85.31Z", "7331", 1),
    ("BRETAGNE INFORMATIQUE CONSEIL", "BIC", None, "62.01Z", "5710", 2),
    ("ELEC SERVICES 35", None, None, "43.21A", "5499", 1),
    ("INTERIM OUEST", None, "OUEST TRAVAIL TEMPORAIRE", "78.20Z", "5710", 2),
    ("RESTAURANT LE GALOPIN", None, "LE GALOPIN", "56.10A", "5499", 1),
    ("PHARMACIE DES LICES", None, None, "47.73Z", "5499", 1),
    ("TRANSPORTS URBAINS RENNAIS", "STAR", "STAR", "49.31Z", "5599", 2),
    ("GARAGE DE LA GARE", None, None, "45.20A", "5499", 1),
    (None, None, "COIFFURE NATHALIE", "96.02A", "1000", 1),
    (None, None, "TAXI MARTIN", "49.32Z", "1000", 1),
    ("ASSOCIATION AIDE A DOMICILE", "ADMR", None, "88.10A", "9220", 2),
    ("BANQUE REGIONALE DE BRETAGNE", "BRB", None, "64.19Z", "5599", 2),
    ("LABORATOIRE D'ANALYSES DU SUD", None, None, "86.90B", "5485", 1),
    ("CREPERIE TI BREIZH", None, "TI BREIZH", "56.10C", "5499", 1),
    ("MENUISERIE LE ROUX", None, None, "43.32A", "5499", 1),
    ("ECOLE DE MUSIQUE DE BRUZ", None, None, "85.52Z", "9220", 1),
]
SOLE_PROPRIETORS = {12: ("LE GALL", "NATHALIE"), 13: ("MARTIN", "PIERRE")}


def write_tiny_world(directory: str | Path) -> Path:
    """Write the tiny world into ``directory`` (created if needed) and return its path."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)

    communes = _communes()
    adjacences = _adjacences()
    adresses = _adresses()
    register = _register(rng, adresses)
    train, test = _bulletins(rng, register)
    truth = test[["CABBI", schema.TRUTH_COLUMN, schema.NOISE_COLUMN]].reset_index(drop=True)
    test = test.drop(columns=[schema.TRUTH_COLUMN, schema.NOISE_COLUMN])

    frames = {
        "etablissements.parquet": register,
        "communes.parquet": communes,
        "communes_adjacentes.csv": adjacences,
        "adresses.parquet": adresses,
        "bulletins_train.parquet": train,
        "bulletins_test.parquet": test,
        "truth_test.parquet": truth,
        schema.NAF_FILE: naf_csv_frame(),
    }
    for name, frame in frames.items():
        _write(out / name, frame)
    manifest = {
        "seed": SEED,
        "scale": "tiny",
        "version": __version__,
        "rows": {name: len(frame) for name, frame in frames.items()},
        "checksums": {name: _sha256(out / name) for name in frames},
    }
    (out / schema.MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return out


def read(directory: str | Path, name: str) -> pd.DataFrame:
    """A file of the world as stored (parquet, or CSV as text), to be broken and rewritten."""
    path = Path(directory) / name
    if path.suffix == ".csv":
        return pd.read_csv(path, sep=";", dtype="string", keep_default_na=False)
    return pd.read_parquet(path)


def rewrite(directory: str | Path, name: str, frame: pd.DataFrame) -> Path:
    """Write ``frame`` as file ``name`` and refresh its checksum in the manifest."""
    directory = Path(directory)
    path = directory / name
    _write(path, frame)
    refresh_manifest(directory)
    return path


def refresh_manifest(directory: str | Path) -> None:
    """Recompute the manifest's checksums and row counts after a deliberate edit.

    Files that are absent lose their checksum; files that cannot be read keep their row count.
    """
    directory = Path(directory)
    path = directory / schema.MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["checksums"] = {
        name: _sha256(directory / name) for name in manifest["checksums"] if (directory / name).is_file()
    }
    for name in manifest["checksums"]:
        try:
            manifest["rows"][name] = len(read(directory, name))
        except Exception:  # a file broken on purpose: its count stays as it was
            pass
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------


def _write(path: Path, frame: pd.DataFrame) -> None:
    if path.suffix == ".csv":
        frame.to_csv(path, sep=";", index=False)
    else:
        frame.to_parquet(path, index=False, engine="pyarrow")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _strings(values) -> pd.Series:
    return pd.Series(schema.nullable_strings(list(values)))


def _typed(columns: dict, types: dict[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    return frame.astype({c: types[c] for c in frame.columns})[list(types)]


def _communes() -> pd.DataFrame:
    code, nom, cp, x, y, pop = zip(*COMMUNES)
    return _typed(
        {"code_commune": code, "nom_commune": nom, "code_postal": cp,
         "code_departement": ["35"] * len(code), "x": x, "y": y, "population": pop},
        schema.COMMUNES,
    )


def _adjacences() -> pd.DataFrame:
    pairs = ADJACENT + [(b, a) for a, b in ADJACENT]
    a, b = zip(*sorted(pairs))
    return _typed({"code_commune": a, "code_commune_adjacente": b}, schema.ADJACENCES)


def _adresses() -> pd.DataFrame:
    rows = []
    for code, nom, cp, x, y, _ in COMMUNES:
        for s, (_, street) in enumerate(STREETS):
            for number in range(1, 6):
                rows.append({
                    "id": f"{code}_{s + 1:04d}_{number:05d}",
                    "numero": str(number),
                    "rep": "bis" if number == 5 and s == 0 else None,
                    "nom_voie": street,
                    "code_postal": cp,
                    "code_insee": code,
                    "nom_commune": nom,
                    "x": x + 40.0 * number + 300.0 * s,
                    "y": y - 25.0 * number + 150.0 * s,
                })
    frame = pd.DataFrame(rows)
    for column, dtype in schema.ADRESSES.items():
        frame[column] = _strings(frame[column]) if dtype == schema.STRING else frame[column].astype(dtype)
    return frame[list(schema.ADRESSES)]


def _register(rng: np.random.Generator, adresses: pd.DataFrame) -> pd.DataFrame:
    bodies = rng.choice(np.arange(10_000_000, 99_999_999), size=len(UNITS), replace=False)
    sirens = with_luhn_key(bodies, 9)
    labels = dict(zip(nomenclature()["code"], nomenclature()["libelle"]))
    assert all(u[3] in labels for u in UNITS)
    communes = {c[0]: c for c in COMMUNES}
    rows = []
    for u, (denomination, sigle, enseigne, code, categorie, n) in enumerate(UNITS):
        siren = f"{sirens[u]:09d}"
        nom, prenom = SOLE_PROPRIETORS.get(u, (None, None))
        for k in range(n):
            # The NIC is a 4-digit order number followed by the SIRET's Luhn key.
            siret = f"{with_luhn_key(np.array([int(siren) * 10_000 + k + 1]), 14)[0]:014d}"
            address = adresses.iloc[int(rng.integers(len(adresses)))]
            commune = communes[address["code_insee"]]
            street_type = next(t for t, name in STREETS if name == address["nom_voie"])
            rows.append({
                "siren": siren,
                "nic": siret[9:],
                "siret": siret,
                "etatAdministratifEtablissement": "A" if (u + k) % 9 else "F",
                "etablissementSiege": "true" if k == 0 else "false",
                "trancheEffectifsEtablissement": ["NN", "01", "03", "11", "21", "41"][(u + k) % 6],
                "activitePrincipaleEtablissement": code,
                "enseigne1Etablissement": enseigne,
                "denominationUsuelleEtablissement": None,
                "complementAdresseEtablissement": "BATIMENT B" if k == 2 else None,
                "numeroVoieEtablissement": address["numero"],
                "indiceRepetitionEtablissement": "B" if pd.notna(address["rep"]) else None,
                "typeVoieEtablissement": street_type,
                "libelleVoieEtablissement": address["nom_voie"].split(" ", 1)[1].upper(),
                "codePostalEtablissement": commune[2],
                "libelleCommuneEtablissement": commune[1].upper(),
                "codeCommuneEtablissement": commune[0],
                "coordonneeLambertAbscisseEtablissement": float(address["x"]),
                "coordonneeLambertOrdonneeEtablissement": float(address["y"]),
                "denominationUniteLegale": denomination,
                "sigleUniteLegale": sigle,
                "nomUniteLegale": nom,
                "prenom1UniteLegale": prenom,
                "categorieJuridiqueUniteLegale": categorie,
                "activitePrincipaleUniteLegale": code,
            })
    frame = pd.DataFrame(rows)
    for column, dtype in schema.ETABLISSEMENTS.items():
        frame[column] = _strings(frame[column]) if dtype == schema.STRING else frame[column].astype(dtype)
    return frame[list(schema.ETABLISSEMENTS)]


def _bulletins(rng: np.random.Generator, register: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    labels = dict(zip(nomenclature()["code"], nomenclature()["libelle"]))
    codes = [c[0] for c in COMMUNES]
    names = {c[0]: c[1] for c in COMMUNES}
    # Plain dicts with None for nulls: comparisons below then need no NA handling.
    establishments = register.astype(object).where(register.notna(), None).to_dict("records")
    rows = []
    for i in range(N_TRAIN + N_TEST):
        codable = i % 8 != 7  # one in eight: a private household or a blank answer
        e = establishments[int(rng.integers(len(establishments)))] if codable else None
        paper = i % 3 == 0
        if e is not None:
            name = e["enseigne1Etablissement"] if i % 4 == 1 and e["enseigne1Etablissement"] \
                else e["denominationUniteLegale"]
            name = name or e["enseigne1Etablissement"]
            noise = "enseigne" if name == e["enseigne1Etablissement"] else ""
            mca_class = int(rng.choice([1, 2, 3, 5, 7, 9]))
            validated = mca_class <= 2
            wrong = validated and i % 11 == 0  # the MCA's own mistakes
            siretc = register["siret"].iat[(i * 7) % len(register)] if wrong else e["siret"]
            rows.append({
                "CABBI": f"{3500000000 + 17 * i:010d}",
                "RS_X": name.title() if not paper else name,
                "ACTET_X": labels[e["activitePrincipaleEtablissement"]].lower(),
                "NUMVOI_X": e["numeroVoieEtablissement"],
                "BISTER_X": e["indiceRepetitionEtablissement"],
                "TYPEVOI_X": e["typeVoieEtablissement"],
                "NOMVOI_X": e["libelleVoieEtablissement"],
                "CPLADR_X": None,
                "CLT_X": names[e["codeCommuneEtablissement"]],
                "DLT_X": "35",
                "PLT_X": None,
                "ILT_X": "1" if e["codeCommuneEtablissement"] == codes[i % len(codes)] else "2",
                "VARDOMPART_X": "2" if e["categorieJuridiqueUniteLegale"].startswith("7") else "1",
                "DEPCOM_CODE": codes[i % len(codes)],
                "TYPCOL": 0 if paper else 1,
                "SIRETC": siretc if validated else None,
                "I_MCA_C": mca_class,
                "NOTE_MCA_NOM_C": int(rng.integers(800, 1001)) if mca_class <= 3 else int(rng.integers(0, 800)),
                "NOTE_MCA_ADR_C": [10, 11, 20, 22, 31, 35][mca_class % 6],
                schema.TRUTH_COLUMN: e["siret"],
                schema.NOISE_COLUMN: noise,
            })
        else:
            rows.append({
                "CABBI": f"{3500000000 + 17 * i:010d}",
                "RS_X": "particulier employeur" if i % 16 == 7 else None,
                "ACTET_X": "garde d'enfants" if i % 16 == 7 else None,
                "DLT_X": "35",
                "VARDOMPART_X": "3" if i % 16 == 7 else None,
                "DEPCOM_CODE": codes[i % len(codes)],
                "TYPCOL": 0 if paper else 1,
                "I_MCA_C": None,
                schema.TRUTH_COLUMN: None,
                schema.NOISE_COLUMN: "household" if i % 16 == 7 else "blank",
            })
    frame = pd.DataFrame(rows, columns=list(schema.BULLETINS_TRAIN))
    for column, dtype in schema.BULLETINS_TRAIN.items():
        frame[column] = _strings(frame[column]) if dtype == schema.STRING else frame[column].astype(dtype)
    return frame.iloc[:N_TRAIN].reset_index(drop=True), frame.iloc[N_TRAIN:].reset_index(drop=True)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """The tiny world, written once per module; tests change copies of it."""
    return write_tiny_world(tmp_path_factory.mktemp("pristine") / "world")


@pytest.fixture
def world(pristine, tmp_path) -> Path:
    """A fresh copy of the tiny world that a test may break."""
    return Path(shutil.copytree(pristine, tmp_path / "world"))

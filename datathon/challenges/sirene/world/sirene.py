"""Bring a real register: read a Sirene stock extract and synthesise bulletins on it.

An institute that holds the real census keeps its bulletins; one that wants to rehearse the event
on the real register (the open StockEtablissement file, optionally with StockUniteLegale joined on
``siren``) gets synthetic bulletins of its establishments, through the same noise model and MCA
replica as the synthetic world. The geography (communes, adjacency, addresses) is rebuilt from the
register's own addresses and Lambert coordinates.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import Delaunay

from datathon.errors import UserError
from datathon.challenges.sirene.mca import apply_mca
from datathon.challenges.sirene.naf import to_dotted
from datathon.schema import (ADRESSES, BULLETINS, BULLETINS_TRAIN, COMMUNES, ETABLISSEMENTS, NOISE_COLUMN,
                             TRANCHES, TRUTH_COLUMN, departement_of, nullable_strings)
from datathon.challenges.sirene.world.bulletins import draw_bulletins
from datathon.challenges.sirene.world.geography import Departement
from datathon.challenges.sirene.world.scales import Scale

# The official StockEtablissement header (Sirene API 3.11), in order.
STOCK_ETABLISSEMENT_HEADER = (
    "siren,nic,siret,statutDiffusionEtablissement,dateCreationEtablissement,trancheEffectifsEtablissement,"
    "anneeEffectifsEtablissement,activitePrincipaleRegistreMetiersEtablissement,dateDernierTraitementEtablissement,"
    "etablissementSiege,nombrePeriodesEtablissement,complementAdresseEtablissement,numeroVoieEtablissement,"
    "indiceRepetitionEtablissement,dernierNumeroVoieEtablissement,indiceRepetitionDernierNumeroVoieEtablissement,"
    "typeVoieEtablissement,libelleVoieEtablissement,codePostalEtablissement,libelleCommuneEtablissement,"
    "libelleCommuneEtrangerEtablissement,distributionSpecialeEtablissement,codeCommuneEtablissement,"
    "codeCedexEtablissement,libelleCedexEtablissement,codePaysEtrangerEtablissement,libellePaysEtrangerEtablissement,"
    "identifiantAdresseEtablissement,coordonneeLambertAbscisseEtablissement,coordonneeLambertOrdonneeEtablissement,"
    "complementAdresse2Etablissement,numeroVoie2Etablissement,indiceRepetition2Etablissement,typeVoie2Etablissement,"
    "libelleVoie2Etablissement,codePostal2Etablissement,libelleCommune2Etablissement,"
    "libelleCommuneEtranger2Etablissement,distributionSpeciale2Etablissement,codeCommune2Etablissement,"
    "codeCedex2Etablissement,libelleCedex2Etablissement,codePaysEtranger2Etablissement,"
    "libellePaysEtranger2Etablissement,dateDebut,etatAdministratifEtablissement,enseigne1Etablissement,"
    "enseigne2Etablissement,enseigne3Etablissement,denominationUsuelleEtablissement,"
    "activitePrincipaleEtablissement,nomenclatureActivitePrincipaleEtablissement,caractereEmployeurEtablissement"
).split(",")
# The official StockUniteLegale header (Sirene API 3.11), in order.
STOCK_UNITE_LEGALE_HEADER = (
    "siren,statutDiffusionUniteLegale,unitePurgeeUniteLegale,dateCreationUniteLegale,sigleUniteLegale,"
    "sexeUniteLegale,prenom1UniteLegale,prenom2UniteLegale,prenom3UniteLegale,prenom4UniteLegale,"
    "prenomUsuelUniteLegale,pseudonymeUniteLegale,identifiantAssociationUniteLegale,trancheEffectifsUniteLegale,"
    "anneeEffectifsUniteLegale,dateDernierTraitementUniteLegale,nombrePeriodesUniteLegale,categorieEntreprise,"
    "anneeCategorieEntreprise,dateDebut,etatAdministratifUniteLegale,nomUniteLegale,nomUsageUniteLegale,"
    "denominationUniteLegale,denominationUsuelle1UniteLegale,denominationUsuelle2UniteLegale,"
    "denominationUsuelle3UniteLegale,categorieJuridiqueUniteLegale,activitePrincipaleUniteLegale,"
    "nomenclatureActivitePrincipaleUniteLegale,nicSiegeUniteLegale,economieSocialeSolidaireUniteLegale,"
    "societeMissionUniteLegale,caractereEmployeurUniteLegale"
).split(",")

REQUIRED_ETABLISSEMENT = ["siren", "nic", "siret", "etatAdministratifEtablissement", "activitePrincipaleEtablissement",
                          "codeCommuneEtablissement", "libelleCommuneEtablissement", "codePostalEtablissement",
                          "libelleVoieEtablissement"]
UNITE_LEGALE_COLUMNS = ["denominationUniteLegale", "sigleUniteLegale", "nomUniteLegale", "prenom1UniteLegale",
                        "categorieJuridiqueUniteLegale", "activitePrincipaleUniteLegale"]
ETAB_OWN = [c for c in ETABLISSEMENTS if c not in UNITE_LEGALE_COLUMNS]


def _header(path: Path) -> list[str]:
    try:
        with open(path, "r", encoding="utf-8-sig", errors="replace") as f:
            first = f.readline()
    except OSError as err:
        raise UserError(f"cannot read {path}: {err.strerror}") from None
    if not first.strip():
        raise UserError(f"{path} is empty: expected a Sirene stock CSV with its header line")
    sep = ";" if first.count(";") > first.count(",") else ","
    return [c.strip().strip('"') for c in first.rstrip("\r\n").split(sep)], sep


def read_stock(etablissements: Path, unites_legales: Path | None = None) -> pd.DataFrame:
    """A real StockEtablissement extract (UL columns joined when given), as the kit's register frame."""
    etablissements = Path(etablissements)
    if not etablissements.is_file():
        raise UserError(f"--register {etablissements}: no such file (expected INSEE's StockEtablissement CSV)")
    header, sep = _header(etablissements)
    missing = [c for c in REQUIRED_ETABLISSEMENT if c not in header]
    if missing:
        raise UserError(f"{etablissements} is not a StockEtablissement file: missing column(s) {', '.join(missing)} "
                        f"(the header starts with {', '.join(header[:4])})")
    usecols = [c for c in ETABLISSEMENTS if c in header]
    try:
        reg = pd.read_csv(etablissements, sep=sep, usecols=usecols, dtype=str, keep_default_na=False,
                          na_values=["", "[ND]"], encoding="utf-8-sig")
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise UserError(f"cannot parse {etablissements}: {str(err).splitlines()[0]}") from None
    if unites_legales is not None:
        unites_legales = Path(unites_legales)
        if not unites_legales.is_file():
            raise UserError(f"--unites-legales {unites_legales}: no such file (expected INSEE's StockUniteLegale CSV)")
        ul_header, ul_sep = _header(unites_legales)
        if "siren" not in ul_header:
            raise UserError(f"{unites_legales} is not a StockUniteLegale file: no 'siren' column")
        ul_cols = ["siren"] + [c for c in UNITE_LEGALE_COLUMNS if c in ul_header]
        try:
            ul = pd.read_csv(unites_legales, sep=ul_sep, usecols=ul_cols, dtype=str, keep_default_na=False,
                             na_values=["", "[ND]"], encoding="utf-8-sig")
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as err:
            raise UserError(f"cannot parse {unites_legales}: {str(err).splitlines()[0]}") from None
        reg = reg.drop(columns=[c for c in ul_cols if c != "siren" and c in reg.columns])
        reg = reg.merge(ul.drop_duplicates("siren"), on="siren", how="left")
    for col, dtype in ETABLISSEMENTS.items():
        if col not in reg:
            reg[col] = None
        if dtype == "string":
            reg[col] = nullable_strings(reg[col].to_numpy(dtype=object))
        else:
            reg[col] = pd.to_numeric(reg[col], errors="coerce").astype(dtype)
    reg["activitePrincipaleEtablissement"] = reg["activitePrincipaleEtablissement"].map(
        lambda c: to_dotted(c) if isinstance(c, str) else c).astype("string")
    reg = reg[reg["codeCommuneEtablissement"].notna()].reset_index(drop=True)
    if reg.empty:
        raise UserError(f"{etablissements} holds no establishment with a commune code (codeCommuneEtablissement)")
    return reg[list(ETABLISSEMENTS)]


def write_stock(register: pd.DataFrame, etablissements: Path, unites_legales: Path | None = None) -> None:
    """Write a register frame as INSEE's stock files (official headers, comma-separated)."""
    etab = pd.DataFrame({c: register[c] if c in register else None for c in STOCK_ETABLISSEMENT_HEADER})
    if unites_legales is None:
        for c in UNITE_LEGALE_COLUMNS:
            etab[c] = register[c]
    else:
        ul = register.drop_duplicates("siren")
        ul_frame = pd.DataFrame({c: ul[c].to_numpy() if c in ul else None for c in STOCK_UNITE_LEGALE_HEADER})
        ul_frame.to_csv(unites_legales, index=False)
    etab["activitePrincipaleEtablissement"] = register["activitePrincipaleEtablissement"]
    etab["nomenclatureActivitePrincipaleEtablissement"] = "NAFRev2"
    etab.to_csv(etablissements, index=False)


def _kinds(reg: pd.DataFrame) -> np.ndarray:
    """The generator's kinds, read off legal categories and activity codes."""
    cat = reg["categorieJuridiqueUniteLegale"].fillna("").to_numpy(dtype=object)
    naf = reg["activitePrincipaleEtablissement"].fillna("").to_numpy(dtype=object)
    siege = reg["etablissementSiege"].fillna("").to_numpy(dtype=object)
    state = reg["etatAdministratifEtablissement"].fillna("A").to_numpy(dtype=object)
    kinds = np.full(len(reg), "independent", dtype=object)
    commune = cat == "7210"
    kinds[commune] = np.where(siege[commune] == "true", "mairie", "municipal_service")
    kinds[np.char.startswith(cat.astype(str), "733")] = "eple"
    kinds[naf == "78.20Z"] = "temp_agency"
    kinds[(naf == "86.10Z") & np.char.startswith(cat.astype(str), "7")] = "hospital"
    kinds[state == "F"] = "closed"
    return kinds


def _known_names(reg: pd.DataFrame) -> list[str]:
    out = []
    for sign, usual, denom, nom, prenom in zip(*(reg[c].to_numpy(dtype=object) for c in (
            "enseigne1Etablissement", "denominationUsuelleEtablissement", "denominationUniteLegale",
            "nomUniteLegale", "prenom1UniteLegale"))):
        name = next((v for v in (denom, usual, sign) if isinstance(v, str) and v), None)
        if name is None:
            name = " ".join(v for v in (nom, prenom) if isinstance(v, str) and v) or "INCONNU"
        out.append(name)
    return out


def prepare_register(reg: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Add the generator's working columns (kind, usual name, sign, headcount) to a real register."""
    reg = reg.copy()
    reg["_kind"] = _kinds(reg)
    reg["_known_name"] = _known_names(reg)
    reg["_sign"] = reg["enseigne1Etablissement"].astype(object).where(reg["enseigne1Etablissement"].notna(), None)
    bands = reg["trancheEffectifsEtablissement"].fillna("NN").to_numpy(dtype=object)
    lo = np.array([TRANCHES.get(b, (0, 0))[0] for b in bands])
    hi = np.array([TRANCHES.get(b, (0, 0))[1] for b in bands])
    heads = lo + np.floor(rng.random(len(reg)) * (hi - lo + 1)).astype(np.int64)
    reg["_headcount"] = np.where(reg["_kind"] == "closed", 0, heads)
    reg["_teacher_share"] = np.where(reg["_kind"] == "eple", 0.75, 0.0)
    reg["_temp_share"] = np.where(reg["_kind"] == "temp_agency", 0.9, 0.0)
    return reg


def communes_from_register(reg: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Communes seen in the register: most frequent name and postal code, centroid of coordinates."""
    g = reg.groupby("codeCommuneEtablissement", sort=True)
    name = g["libelleCommuneEtablissement"].agg(lambda s: s.mode().iloc[0] if s.notna().any() else "")
    postal = g["codePostalEtablissement"].agg(lambda s: s.mode().iloc[0] if s.notna().any() else "")
    x = g["coordonneeLambertAbscisseEtablissement"].median()
    y = g["coordonneeLambertOrdonneeEtablissement"].median()
    codes = name.index.to_numpy(dtype=object)
    deps = np.array([departement_of(c) for c in codes], dtype=object)
    # Copies: under pandas' copy-on-write, to_numpy() gives a read-only view of the medians.
    x, y = x.to_numpy(dtype=float, copy=True), y.to_numpy(dtype=float, copy=True)
    fill_missing_positions(x, y, deps, rng)
    counts = g.size().to_numpy()
    return pd.DataFrame({
        "code_commune": codes.astype(str), "nom_commune": name.to_numpy(dtype=object),
        "code_postal": postal.to_numpy(dtype=object), "code_departement": deps,
        "x": np.round(x, 1), "y": np.round(y, 1), "population": (counts * 8).astype(np.int64),
    })


def fill_missing_positions(x: np.ndarray, y: np.ndarray, deps: np.ndarray, rng: np.random.Generator) -> None:
    """Give communes without coordinates (NaN in ``x``, ``y``, changed in place) a place near their
    département's others: adjacency needs one."""
    for d in np.unique(deps):
        m = deps == d
        missing = m & np.isnan(x)
        if missing.any():
            cx = np.nanmean(x[m]) if np.isfinite(x[m]).any() else 100_000.0 * len(np.unique(deps[:np.argmax(m)]))
            cy = np.nanmean(y[m]) if np.isfinite(y[m]).any() else 6_500_000.0
            x[missing] = cx + rng.normal(0, 15_000, missing.sum())
            y[missing] = cy + rng.normal(0, 15_000, missing.sum())


def adjacency_from_centroids(communes: pd.DataFrame) -> pd.DataFrame:
    """Delaunay neighbours within each département (edges over 25 km dropped)."""
    parts = []
    for _, c in communes.groupby("code_departement", sort=True):
        codes = c["code_commune"].to_numpy()
        pts = c[["x", "y"]].to_numpy()
        pairs = set()
        if len(c) == 2:
            pairs.add((0, 1))
        elif len(c) >= 3:
            try:
                tri = Delaunay(pts)
                for s in tri.simplices:
                    for u, v in ((s[0], s[1]), (s[1], s[2]), (s[0], s[2])):
                        if np.hypot(*(pts[u] - pts[v])) < 25_000:
                            pairs.add((min(u, v), max(u, v)))
            except Exception:  # collinear or duplicate points: fall back on nearest neighbours
                order = np.argsort(pts[:, 0])
                pairs |= {(min(a, b), max(a, b)) for a, b in zip(order[:-1], order[1:])}
        for u, v in pairs:
            parts.append((codes[u], codes[v]))
            parts.append((codes[v], codes[u]))
    adj = pd.DataFrame(parts, columns=["code_commune", "code_commune_adjacente"])
    return adj.sort_values(["code_commune", "code_commune_adjacente"], kind="stable").reset_index(drop=True)


def addresses_from_register(reg: pd.DataFrame) -> pd.DataFrame:
    """A BAN-like reference of the numbered addresses the register uses."""
    cols = ["codeCommuneEtablissement", "libelleCommuneEtablissement", "codePostalEtablissement",
            "typeVoieEtablissement", "libelleVoieEtablissement", "numeroVoieEtablissement",
            "indiceRepetitionEtablissement", "coordonneeLambertAbscisseEtablissement",
            "coordonneeLambertOrdonneeEtablissement"]
    a = reg[cols].dropna(subset=["libelleVoieEtablissement"]).drop_duplicates(cols[:7]).reset_index(drop=True)
    voie = (a["typeVoieEtablissement"].fillna("") + " " + a["libelleVoieEtablissement"]).str.strip()
    ids = (a["codeCommuneEtablissement"] + "_" + voie.str.replace(r"\W+", "_", regex=True) + "_"
           + a["numeroVoieEtablissement"].fillna("0") + a["indiceRepetitionEtablissement"].fillna(""))
    return pd.DataFrame({
        "id": ids.astype("string"), "numero": a["numeroVoieEtablissement"].astype("string"),
        "rep": a["indiceRepetitionEtablissement"].astype("string"), "nom_voie": voie.astype("string"),
        "code_postal": a["codePostalEtablissement"].astype("string"),
        "code_insee": a["codeCommuneEtablissement"].astype("string"),
        "nom_commune": a["libelleCommuneEtablissement"].astype("string"),
        "x": a["coordonneeLambertAbscisseEtablissement"].astype(float),
        "y": a["coordonneeLambertOrdonneeEtablissement"].astype(float),
    }).drop_duplicates("id").reset_index(drop=True)


def generate_on_register(sc: Scale, seed: int, tmp: Path, register: Path, unites_legales: Path | None,
                         progress: bool = True, rates: dict | None = None) -> dict:
    """Write a data directory whose register is the real extract and whose bulletins are synthetic."""
    from tqdm.auto import tqdm

    from datathon.files import sha256_file
    from datathon.challenges.sirene.world import PartitionWriters, noise

    rates = noise.resolve_rates(rates)
    rng = np.random.default_rng([seed, 20_000])
    reg = prepare_register(read_stock(register, unites_legales), rng)
    communes = communes_from_register(reg, rng)
    adjacency = adjacency_from_centroids(communes)
    addresses = addresses_from_register(reg)
    writers = PartitionWriters(tmp)
    deps = sorted(communes["code_departement"].unique())
    bar = tqdm(total=len(deps), desc="bulletins on the register", unit="dép.", disable=not progress)
    try:
        for i, code in enumerate(deps):
            com = communes[communes["code_departement"] == code].reset_index(drop=True)
            rdep = reg[reg["codeCommuneEtablissement"].isin(set(com["code_commune"]))].reset_index(drop=True)
            adj = adjacency[adjacency["code_commune"].isin(set(com["code_commune"]))]
            dep = Departement(code=code, index=i, x=float(com["x"].mean()), y=float(com["y"].mean()))
            frames = {
                "etablissements.parquet": rdep[list(ETABLISSEMENTS)],
                "communes.parquet": com[list(COMMUNES)],
                "communes_adjacentes.csv": adj,
                "adresses.parquet": addresses[addresses["code_insee"].isin(set(com["code_commune"]))][list(ADRESSES)],
            }
            if (rdep["etatAdministratifEtablissement"] != "F").any():
                b = draw_bulletins(np.random.default_rng([seed, i, 4]), dep, rdep, com, adj,
                                   sc.bulletins_per_departement, rates)
                b = apply_mca(b, rdep, com)
            else:
                b = pd.DataFrame({c: pd.Series(dtype=t) for c, t in BULLETINS_TRAIN.items()})
            test = np.random.default_rng([seed, i, 5]).random(len(b)) < sc.test_share
            tests = b[test].sort_values("CABBI", kind="stable").reset_index(drop=True)
            frames["bulletins_train.parquet"] = b[~test].sort_values("CABBI", kind="stable").reset_index(drop=True)[
                list(BULLETINS_TRAIN)]
            frames["bulletins_test.parquet"] = tests[list(BULLETINS)]
            frames["truth_test.parquet"] = tests[["CABBI", TRUTH_COLUMN, NOISE_COLUMN]]
            writers.write(frames)
            bar.update(1)
    finally:
        bar.close()
        writers.close()
    return {
        "kind": "register",
        "scale": sc.name,
        "seed": seed,
        "register": {"file": Path(register).name, "sha256": sha256_file(Path(register)),
                     **({"unites_legales": Path(unites_legales).name, "unites_legales_sha256": sha256_file(Path(unites_legales))}
                        if unites_legales else {})},
        "departements": deps,
        "rows": writers.rows,
        "noise": noise.manifest_rates(rates),
        "mca": writers.mca_summary(),
    }

"""Bringing a real register: reading INSEE's stock files and synthesising bulletins on them."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datathon.challenges.sirene.world import generate
from datathon.challenges.sirene.world.scales import Scale
from datathon.challenges.sirene.world.sirene import (STOCK_ETABLISSEMENT_HEADER, STOCK_UNITE_LEGALE_HEADER,
                                                     read_stock, write_stock)
from datathon.errors import UserError

# A register-sized world with few bulletins: generating on an extract then takes seconds.
SMALL = Scale("small", 1, 0, 0, 1_500)
COORDINATES = ["coordonneeLambertAbscisseEtablissement", "coordonneeLambertOrdonneeEtablissement"]


def sample_register(repo_root: Path) -> pd.DataFrame:
    """The committed sample's register, wherever the per-challenge layout puts it."""
    for directory in (repo_root / "data_samples" / "sirene", repo_root / "data_samples"):
        if (directory / "etablissements.parquet").is_file():
            return pd.read_parquet(directory / "etablissements.parquet")
    pytest.skip("no committed sample register (data_samples/sirene/etablissements.parquet)")


def write_extract(register: pd.DataFrame, directory: Path, *, without_coordinates: float = 0.0,
                  communes_without_coordinates: int = 0, without_legal_unit: float = 0.0,
                  seed: int = 0) -> tuple[Path, Path]:
    """Write ``register`` as INSEE's two stock files, damaged the way real extracts are.

    ``without_coordinates``: share of establishments whose Lambert coordinates are blank (not
    geocoded); ``communes_without_coordinates``: whole communes with none; ``without_legal_unit``:
    share of SIRENs absent from StockUniteLegale (a legal unit outside the extract).
    """
    rng = np.random.default_rng(seed)
    register = register.copy()
    blank = rng.random(len(register)) < without_coordinates
    communes = register["codeCommuneEtablissement"].drop_duplicates().to_numpy()
    blank |= register["codeCommuneEtablissement"].isin(communes[:communes_without_coordinates]).to_numpy()
    register.loc[blank, COORDINATES] = np.nan
    directory.mkdir(parents=True, exist_ok=True)
    etab, ul = directory / "StockEtablissement_utf8.csv", directory / "StockUniteLegale_utf8.csv"
    write_stock(register, etab, ul)
    if without_legal_unit:
        units = pd.read_csv(ul, dtype=str, keep_default_na=False)
        units[rng.random(len(units)) >= without_legal_unit].to_csv(ul, index=False)
    return etab, ul


@pytest.fixture(scope="module")
def stock_files(tmp_path_factory, repo_root):
    """The committed sample's register written as INSEE's two stock files (official headers)."""
    register = sample_register(repo_root)
    etab, ul = write_extract(register, tmp_path_factory.mktemp("stock"))
    return register, etab, ul


@pytest.fixture(scope="module")
def damaged_extract(tmp_path_factory, repo_root):
    """A smaller extract (the establishments of 40 communes) as real ones come: 10 % of the
    establishments and three whole communes without coordinates, 5 % of the legal units missing,
    closed establishments and sole proprietors kept."""
    register = sample_register(repo_root)
    communes = register["codeCommuneEtablissement"].drop_duplicates().sort_values().to_numpy()[:40]
    part = register[register["codeCommuneEtablissement"].isin(communes)].reset_index(drop=True)
    etab, ul = write_extract(part, tmp_path_factory.mktemp("damaged"), without_coordinates=0.1,
                             communes_without_coordinates=3, without_legal_unit=0.05)
    return part, etab, ul


def test_written_stock_files_have_the_official_headers(stock_files):
    """Do the stock files written for the test carry INSEE's headers, in order?"""
    _, etab, ul = stock_files
    assert etab.read_text(encoding="utf-8").splitlines()[0].split(",") == STOCK_ETABLISSEMENT_HEADER
    assert ul.read_text(encoding="utf-8").splitlines()[0].split(",") == STOCK_UNITE_LEGALE_HEADER


def test_read_stock_joins_legal_units_and_keeps_every_establishment(stock_files):
    """Does reading the two files give back the register, legal-unit columns joined on siren?"""
    register, etab, ul = stock_files
    got = read_stock(etab, ul).set_index("siret").sort_index()
    want = register.set_index("siret").sort_index()
    assert len(got) == len(want)
    for col in ["denominationUniteLegale", "nomUniteLegale", "prenom1UniteLegale", "enseigne1Etablissement",
                "activitePrincipaleEtablissement", "codeCommuneEtablissement"]:
        pd.testing.assert_series_equal(got[col], want[col], check_names=False)


def test_sole_proprietors_are_named_by_surname_and_first_name(stock_files):
    """Do sole proprietors (no denomination) keep nomUniteLegale and prenom1UniteLegale?"""
    _, etab, ul = stock_files
    reg = read_stock(etab, ul)
    sole = reg[reg["categorieJuridiqueUniteLegale"] == "1000"]
    assert len(sole) > 100
    assert sole["denominationUniteLegale"].isna().all()
    assert sole["nomUniteLegale"].notna().all() and sole["prenom1UniteLegale"].notna().all()


def test_generate_on_a_real_register_synthesises_bulletins_on_it(stock_files, tmp_path):
    """With --register, is the register the given one, and does every truth SIRET belong to it?"""
    register, etab, ul = stock_files
    out = tmp_path / "real"
    manifest = generate(scale="sample", seed=3, out=out, register=etab, unites_legales=ul, progress=False)
    assert manifest["kind"] == "register"
    assert manifest["register"]["file"] == etab.name
    got = pd.read_parquet(out / "etablissements.parquet")
    assert set(got["siret"]) == set(register["siret"])
    train = pd.read_parquet(out / "bulletins_train.parquet")
    truth = pd.read_parquet(out / "truth_test.parquet")
    sirets = pd.concat([train["SIRET_DEC"], truth["SIRET_DEC"]]).dropna()
    assert len(sirets) > 1000 and sirets.isin(set(register["siret"])).all()
    assert train["SIRETC"].notna().mean() > 0.2  # MCA ran on the real register


def test_generate_on_a_real_register_passes_data_check(stock_files, tmp_path):
    """Is a directory generated on a real register valid for `datathon data check`?"""
    _, etab, ul = stock_files
    out = tmp_path / "real"
    generate(scale="sample", seed=4, out=out, register=etab, unites_legales=ul, progress=False)
    r = subprocess.run([sys.executable, "-m", "datathon", "data", "check", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_register_without_legal_units_still_generates(stock_files, tmp_path):
    """Can the StockEtablissement file be used alone (names from signs and usual names only)?"""
    _, etab, _ = stock_files
    manifest = generate(scale="sample", seed=5, out=tmp_path / "alone", register=etab, progress=False)
    assert manifest["rows"]["bulletins_train.parquet"] > 1000


def test_a_file_that_is_not_a_stock_extract_is_refused(tmp_path):
    """Is a CSV without the StockEtablissement columns refused with a message naming them?"""
    bad = tmp_path / "other.csv"
    bad.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    with pytest.raises(UserError, match="not a StockEtablissement file: missing column"):
        read_stock(bad)


def test_cli_refuses_a_missing_register_file_without_traceback(tmp_path):
    """Does `datathon generate --register` on a missing file exit 2 with one line and no traceback?"""
    r = subprocess.run([sys.executable, "-m", "datathon", "generate", "--scale", "sample", "--seed", "1",
                        "--out", str(tmp_path / "o"), "--register", str(tmp_path / "nope.csv"), "--quiet"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "no such file" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()  # nothing written half-way


def test_extract_with_missing_coordinates_generates(damaged_extract, tmp_path):
    """Regression: an extract where some establishments, and whole communes, have no Lambert
    coordinates generates (it ended in "assignment destination is read-only"), and every commune
    gets a finite position near its département's others."""
    part, etab, ul = damaged_extract
    out = tmp_path / "real"
    manifest = generate(scale=SMALL, seed=6, out=out, register=etab, unites_legales=ul, progress=False)
    assert manifest["rows"]["bulletins_train.parquet"] > 300
    communes = pd.read_parquet(out / "communes.parquet")
    assert len(communes) == 40
    assert np.isfinite(communes[["x", "y"]].to_numpy()).all()
    got = pd.read_parquet(out / "etablissements.parquet")
    assert got["coordonneeLambertAbscisseEtablissement"].isna().sum() > 0.1 * len(got)  # kept as blank


def test_extract_without_any_coordinates_generates(repo_root, tmp_path):
    """Does an extract with no coordinate at all (nothing geocoded) still place its communes?"""
    register = sample_register(repo_root)
    part = register[register["codeCommuneEtablissement"].isin(
        register["codeCommuneEtablissement"].drop_duplicates().to_numpy()[:10])]
    etab, _ = write_extract(part, tmp_path / "stock", without_coordinates=1.0)
    generate(scale=SMALL, seed=7, out=tmp_path / "out", register=etab, progress=False)
    communes = pd.read_parquet(tmp_path / "out" / "communes.parquet")
    assert len(communes) == 10 and np.isfinite(communes[["x", "y"]].to_numpy()).all()


def test_missing_legal_units_closed_establishments_and_sole_proprietors(damaged_extract, tmp_path):
    """Establishments whose legal unit is absent from StockUniteLegale stay in the register without
    its columns; closed establishments stay closed and are never the truth; sole proprietors keep
    their surname and first name and no denomination."""
    part, etab, ul = damaged_extract
    units = set(pd.read_csv(ul, dtype=str, keep_default_na=False)["siren"])
    reg = read_stock(etab, ul)
    assert len(reg) == len(part)
    orphan = ~reg["siren"].isin(units)
    assert orphan.sum() > 0
    assert reg.loc[orphan, ["denominationUniteLegale", "categorieJuridiqueUniteLegale"]].isna().all().all()
    assert (reg["etatAdministratifEtablissement"] == "F").sum() == (part["etatAdministratifEtablissement"] == "F").sum() > 0
    sole = reg[(reg["categorieJuridiqueUniteLegale"] == "1000")]
    assert len(sole) > 0 and sole["denominationUniteLegale"].isna().all()
    assert sole["nomUniteLegale"].notna().all() and sole["prenom1UniteLegale"].notna().all()

    out = tmp_path / "real"
    generate(scale=SMALL, seed=8, out=out, register=etab, unites_legales=ul, progress=False)
    train = pd.read_parquet(out / "bulletins_train.parquet")
    closed = set(reg.loc[reg["etatAdministratifEtablissement"] == "F", "siret"])
    truths = train["SIRET_DEC"].dropna()
    assert len(truths) > 100 and not truths.isin(closed).any()


@pytest.mark.slow
def test_cli_generates_on_a_damaged_extract(damaged_extract, tmp_path):
    """Does `datathon generate --register` on the damaged extract exit 0 and write a directory
    that `datathon data check` accepts?"""
    _, etab, ul = damaged_extract
    out = tmp_path / "o"
    r = subprocess.run([sys.executable, "-m", "datathon", "generate", "--scale", "sample", "--seed", "9",
                        "--out", str(out), "--register", str(etab), "--unites-legales", str(ul), "--quiet"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "datathon", "data", "check", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr

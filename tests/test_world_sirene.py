"""Bringing a real register: reading INSEE's stock files and synthesising bulletins on them."""
import subprocess
import sys

import pandas as pd
import pytest

from datathon.errors import UserError
from datathon.world import generate
from datathon.world.sirene import (STOCK_ETABLISSEMENT_HEADER, STOCK_UNITE_LEGALE_HEADER, read_stock,
                                   write_stock)


@pytest.fixture(scope="module")
def stock_files(tmp_path_factory, repo_root):
    """The committed sample's register written as INSEE's two stock files (official headers)."""
    d = tmp_path_factory.mktemp("stock")
    register = pd.read_parquet(repo_root / "data_samples" / "etablissements.parquet")
    etab, ul = d / "StockEtablissement_utf8.csv", d / "StockUniteLegale_utf8.csv"
    write_stock(register, etab, ul)
    return register, etab, ul


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

"""Tests of datathon.data: loading a data directory, parquet or CSV, typed as the schema says."""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from datathon import data, schema
from datathon.errors import UserError
from worlds import pristine, read, rewrite, world  # noqa: F401 (pristine and world are fixtures)


def assert_schema_dtypes(frame: pd.DataFrame, columns: dict[str, str]) -> None:
    for column, dtype in columns.items():
        if column in frame:
            assert str(frame[column].dtype) == dtype, (column, frame[column].dtype, dtype)


# --------------------------------------------------------------------------------------------
# The whole directory
# --------------------------------------------------------------------------------------------


def test_tiny_world_loads_with_schema_dtypes(pristine):
    """Does every frame of the tiny world load with the schema's columns and dtypes?"""
    ds = data.load(pristine)
    expected = {
        "etablissements": schema.ETABLISSEMENTS,
        "communes": schema.COMMUNES,
        "adjacences": schema.ADJACENCES,
        "adresses": schema.ADRESSES,
        "bulletins_train": schema.BULLETINS_TRAIN,
        "bulletins_test": schema.BULLETINS,
        "truth_test": schema.TRUTH,
        "naf": data.NAF,
    }
    for attribute, columns in expected.items():
        frame = getattr(ds, attribute)
        assert list(frame.columns) == list(columns), attribute
        assert_schema_dtypes(frame, columns)
    assert ds.rows() == {"etablissements": 30, "communes": 6, "adjacences": 14, "adresses": 90,
                         "bulletins_train": 40, "bulletins_test": 20, "truth_test": 20, "naf": 732}
    assert ds.manifest["scale"] == "tiny"


def test_string_dtype_is_pandas_string_with_na(pristine):
    """Are text columns pandas "string" with pd.NA for missing values (not pandas 3's "str")?"""
    register = data.load_register(pristine)
    assert isinstance(register["siret"].dtype, pd.StringDtype)
    assert register["siret"].dtype.na_value is pd.NA
    assert register["denominationUsuelleEtablissement"].isna().all()


def test_dataset_repr_is_a_summary(pristine):
    """Does a DataSet print as a one-line summary of row counts, not as whole frames?"""
    text = repr(data.load(pristine))
    assert "\n" not in text and "etablissements=30" in text and "bulletins_test=20" in text


def test_only_requested_splits_are_loaded(world):
    """Are the bulletins of other splits left out, and not required?"""
    (world / "bulletins_test.parquet").unlink()
    ds = data.load(world, splits=("train",))
    assert ds.bulletins_test is None
    assert len(ds.bulletins_train) == 40


def test_truth_is_optional(world):
    """Does a participants' copy (no truth_test.parquet) load with truth_test None?"""
    (world / "truth_test.parquet").unlink()
    (world / "manifest.json").unlink()
    (world / "naf.csv").unlink()
    ds = data.load(world)
    assert ds.truth_test is None and ds.manifest is None and ds.naf is None


def test_with_truth_false_keeps_truth_out(pristine):
    """Does with_truth=False leave the truth out even when the file is there?"""
    assert data.load(pristine, with_truth=False).truth_test is None


def test_columns_restrict_what_is_read(pristine):
    """Does columns= read only the asked columns, in the asked order?"""
    ds = data.load(pristine, columns={"etablissements": ["siret", "codeCommuneEtablissement"]})
    assert list(ds.etablissements.columns) == ["siret", "codeCommuneEtablissement"]
    reg = data.load_register(pristine, columns=["denominationUniteLegale", "siret"])
    assert list(reg.columns) == ["denominationUniteLegale", "siret"]
    assert reg["siret"].dtype == "string"


def test_load_bulletins_train_and_test(pristine):
    """Do the training bulletins carry SIRET_DEC and the test bulletins not?"""
    train = data.load_bulletins(pristine, "train")
    test = data.load_bulletins(pristine, "test")
    assert schema.TRUTH_COLUMN in train and schema.TRUTH_COLUMN not in test
    assert str(train["TYPCOL"].dtype) == "Int8"
    assert str(test["NOTE_MCA_NOM_C"].dtype) == "Int16"
    truth = data.load_truth(pristine)
    assert set(truth["CABBI"]) == set(test["CABBI"])


def test_extra_columns_are_kept_after_the_schema(world):
    """Are columns beyond the schema kept, after the schema's own columns?"""
    rewrite(world, "communes.parquet", read(world, "communes.parquet").assign(surface=50.0, note=""))
    communes = data.load_frame(world, "communes.parquet")
    assert list(communes.columns) == [*schema.COMMUNES, "surface", "note"]
    assert communes["note"].isna().all()  # empty text is a null, in extra columns too


def test_blank_strings_become_nulls(world):
    """Are empty and blank strings loaded as nulls?"""
    register = read(world, "etablissements.parquet")
    register.loc[0, "enseigne1Etablissement"] = ""
    register.loc[1, "enseigne1Etablissement"] = "   "
    rewrite(world, "etablissements.parquet", register)
    loaded = data.load_register(world)
    assert loaded["enseigne1Etablissement"].iloc[:2].isna().all()


def test_numeric_columns_stored_as_text_are_cast(world):
    """Are numbers stored as text (as in a real CSV-turned-parquet) cast to the schema dtype?"""
    train = read(world, "bulletins_train.parquet")
    train["TYPCOL"] = train["TYPCOL"].astype("string")
    train["NOTE_MCA_NOM_C"] = train["NOTE_MCA_NOM_C"].astype("string")
    rewrite(world, "bulletins_train.parquet", train)
    loaded = data.load_bulletins(world, "train")
    assert str(loaded["TYPCOL"].dtype) == "Int8"
    assert str(loaded["NOTE_MCA_NOM_C"].dtype) == "Int16"
    original = read(world, "bulletins_train.parquet")
    assert loaded["TYPCOL"].tolist() == pd.to_numeric(original["TYPCOL"]).tolist()


# --------------------------------------------------------------------------------------------
# Real data as CSV
# --------------------------------------------------------------------------------------------


def test_csv_register_loads_like_parquet(world):
    """Does etablissements.csv (';'-separated) load exactly like etablissements.parquet?"""
    from_parquet = data.load_register(world)
    read(world, "etablissements.parquet").to_csv(world / "etablissements.csv", sep=";", index=False)
    (world / "etablissements.parquet").unlink()
    from_csv = data.load_register(world)
    pd.testing.assert_frame_equal(from_csv, from_parquet)


def test_csv_with_commas_leading_zeros_and_nd(world):
    """Does a ','-separated CSV keep leading zeros and read the stock's '[ND]' as null?"""
    (world / "communes.parquet").unlink()
    (world / "communes.csv").write_text(
        "code_commune,nom_commune,code_postal,code_departement,x,y,population\n"
        "01001,L'Abergement-Clémenciat,01400,01,[ND],6563220.5,779\n"
        '2A004,"Ajaccio, Corse",20000,2A,1177500,6103000,71361\n',
        encoding="utf-8",
    )
    communes = data.load_frame(world, "communes.parquet")
    assert communes["code_commune"].tolist() == ["01001", "2A004"]
    assert communes["nom_commune"].iloc[1] == "Ajaccio, Corse"
    assert np.isnan(communes["x"].iloc[0]) and communes["x"].iloc[1] == 1177500.0
    assert communes["population"].dtype == "int64"


def test_parquet_wins_over_csv(world):
    """When both forms exist, is the parquet file the one read?"""
    (world / "etablissements.csv").write_text("garbage;\n")
    assert len(data.load_register(world)) == 30


# --------------------------------------------------------------------------------------------
# Errors a user can make
# --------------------------------------------------------------------------------------------


def test_missing_directory_says_how_to_generate(tmp_path):
    """Is a missing directory a UserError that says how to generate data?"""
    with pytest.raises(UserError, match=r"datathon generate --scale sample --seed N --out"):
        data.load(tmp_path / "nowhere")


def test_file_instead_of_directory(tmp_path):
    """Is a file given as the data directory a UserError?"""
    path = tmp_path / "etablissements.parquet"
    path.write_text("x")
    with pytest.raises(UserError, match="not a data directory"):
        data.load(path)


def test_missing_register_names_the_file_and_the_fix(world):
    """Does a missing register raise a UserError naming the file and the way out?"""
    (world / "etablissements.parquet").unlink()
    with pytest.raises(UserError) as err:
        data.load(world)
    assert "no etablissements.parquet (or etablissements.csv)" in err.value.message
    assert "datathon generate" in err.value.message and "Bring real data" in err.value.message


def test_missing_bulletins_of_a_requested_split(world):
    """Is a missing bulletins file of a requested split a UserError?"""
    (world / "bulletins_test.parquet").unlink()
    with pytest.raises(UserError, match="bulletins_test.parquet"):
        data.load(world)


def test_unknown_split(pristine):
    """Is an unknown split a UserError listing the valid ones?"""
    with pytest.raises(UserError, match="'validation'.*'train', 'test'"):
        data.load_bulletins(pristine, "validation")


def test_missing_column_is_a_user_error(world):
    """Does a file without a schema column raise a UserError pointing to `datathon data check`?"""
    rewrite(world, "communes.parquet", read(world, "communes.parquet").drop(columns=["x", "y"]))
    with pytest.raises(UserError, match=r"lacks the columns x, y.*datathon data check"):
        data.load(world)


def test_missing_optional_column_is_fine(world):
    """Does a training file without the synthetic-only NOISE column load?"""
    rewrite(world, "bulletins_train.parquet", read(world, "bulletins_train.parquet").drop(columns="NOISE"))
    assert "NOISE" not in data.load_bulletins(world, "train")


def test_unknown_requested_column(pristine):
    """Is asking for a column the file does not have a UserError?"""
    with pytest.raises(UserError, match="lacks the columns nope"):
        data.load_register(pristine, columns=["siret", "nope"])


def test_non_numeric_coordinates_are_a_user_error(world):
    """Does a non-numeric coordinate raise a UserError naming the column and a bad value?"""
    register = read(world, "etablissements.parquet")
    register["coordonneeLambertAbscisseEtablissement"] = register[
        "coordonneeLambertAbscisseEtablissement"].astype("string")
    register.loc[2, "coordonneeLambertAbscisseEtablissement"] = "3519OO.0"
    rewrite(world, "etablissements.parquet", register)
    with pytest.raises(UserError, match=r"coordonneeLambertAbscisseEtablissement.*'3519OO.0'.*data check"):
        data.load_register(world)


def test_unreadable_parquet_is_a_user_error(world):
    """Is a file that is not parquet a UserError, not a pyarrow traceback?"""
    (world / "communes.parquet").write_text("not parquet")
    with pytest.raises(UserError, match="cannot read .*communes.parquet"):
        data.load(world)


# --------------------------------------------------------------------------------------------
# convert_column, the cast shared with the checker
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, dtype, bad",
    [
        (["0", "1", None, ""], "Int8", [False, False, False, False]),
        (["1", "x", "1.5", "300"], "Int8", [False, True, True, True]),
        ([1.0, np.nan], "int64", [False, True]),
        (["1,5", "2.5", " 3 "], "float64", [True, False, False]),
        ([1, 2], "string", [False, False]),
    ],
)
def test_convert_column_flags_bad_values(values, dtype, bad):
    """Are values that cannot take the schema dtype flagged, and the others converted?"""
    converted, mask = data.convert_column(pd.Series(values), dtype)
    assert mask.tolist() == bad
    assert str(converted.dtype) == (dtype if not any(bad) or dtype != "int64" else "Int64")

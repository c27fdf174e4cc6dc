"""Tests of datathon.evaluate and the `datathon score` command.

Small truths and submissions are built by hand so that every metric can be checked against a
value computed on paper. The bad-input corpus runs through the real command line
(``python -m datathon score``): each file must give exit code 2, one message naming the
problem, and never a traceback.
"""
from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datathon import evaluate
from datathon.errors import UserError
from datathon.evaluate import Submission, load_truth, read_submission, score, score_directory
from datathon.luhn import siret_valid, with_luhn_key


def siret(i: int) -> str:
    """The i-th valid SIRET of these tests (14 digits with a Luhn key)."""
    return f"{with_luhn_key(np.array([31_000_000_000 + 7 * i]), 14)[0]:014d}"


def bad_key(valid: str) -> str:
    """The same SIRET with a wrong Luhn key."""
    return valid[:-1] + str((int(valid[-1]) + 1) % 10)


def approx(fraction) -> pytest.approx:
    return pytest.approx(float(Fraction(fraction)), abs=1e-12)


# --------------------------------------------------------------------------- the tiny world
#
# Ten test bulletins, 3500000001 … 3500000010. Bulletins 9 and 10 cannot be coded.
#   bulletin        1     2         3                     4     5       6  7  8  9     10
#   SIRET_DEC       S1    S2        S3                    S4    S5      S6 S7 S8 null  null
#   SIRETC (MCA)    S1    S2        S50 (wrong)           -     S5      -  -  -  S51   -
#   TYPCOL          0     0         0                     1     1       1  1  1  1     1
#   NOISE           ""    enseigne  enseigne|commune_v.   null  mairie  "" "" "" ""    ""

CABBI = [f"35{i:08d}" for i in range(1, 11)]
S = {i: siret(i) for i in range(1, 60)}
TRUTH_SIRET = [S[1], S[2], S[3], S[4], S[5], S[6], S[7], S[8], None, None]
MCA_SIRET = [S[1], S[2], S[50], None, S[5], None, None, None, S[51], None]
TYPCOL = [0, 0, 0, 1, 1, 1, 1, 1, 1, 1]
NOISE = ["", "enseigne", "enseigne|commune_voisine", None, "mairie", "", "", "", "", ""]

# The hand-computed submission: correct on 1, 2, 3, 6; wrong on 4; codes the uncodable 9;
# leaves 5 blank and 7, 8, 10 out.
HAND_LINES = [
    (CABBI[0], S[1]),
    (CABBI[1], S[2]),
    (CABBI[2], S[3]),
    (CABBI[3], S[40]),
    (CABBI[4], ""),
    (CABBI[5], S[6]),
    (CABBI[8], S[41]),
]


def truth_frame() -> pd.DataFrame:
    """The test truth as load_truth returns it."""
    return pd.DataFrame(
        {
            "CABBI": pd.array(CABBI, dtype="string"),
            "SIRET_DEC": pd.array(TRUTH_SIRET, dtype="string"),
            "NOISE": pd.array(NOISE, dtype="string"),
            "SIRETC": pd.array(MCA_SIRET, dtype="string"),
            "TYPCOL": pd.array(TYPCOL, dtype="Int8"),
        }
    )


def csv_bytes(lines, header: str = "CABBI;siret", sep: str = ";", newline: str = "\n", encoding: str = "utf-8") -> bytes:
    rows = [header] + [sep.join(map(str, line)) for line in lines]
    return (newline.join(rows) + newline).encode(encoding)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """A minimal data directory: test bulletins, test truth, training bulletins, register."""
    root = tmp_path_factory.mktemp("data")
    truth = truth_frame()
    truth[["CABBI", "SIRET_DEC", "NOISE"]].to_parquet(root / "truth_test.parquet", index=False)
    bulletins = truth[["CABBI", "SIRETC", "TYPCOL"]].copy()
    bulletins["RS_X"] = pd.array([f"ETABLISSEMENT {i}" for i in range(1, 11)], dtype="string")
    # Another order than the truth's: the join must go by CABBI, not by position.
    bulletins.iloc[::-1].to_parquet(root / "bulletins_test.parquet", index=False)
    train = pd.DataFrame(
        {
            "CABBI": pd.array(["3590000001", "3590000002", "3590000003"], dtype="string"),
            "SIRET_DEC": pd.array([S[20], S[21], None], dtype="string"),
            "SIRETC": pd.array([S[20], None, None], dtype="string"),
            "TYPCOL": pd.array([1, 0, 1], dtype="Int8"),
            "NOISE": pd.array(["", "interim", ""], dtype="string"),
        }
    )
    train.to_parquet(root / "bulletins_train.parquet", index=False)
    register = [S[i] for i in range(1, 55)]  # everything but S55 … S59
    pd.DataFrame({"siret": pd.array(register, dtype="string")}).to_parquet(root / "etablissements.parquet", index=False)
    return root


def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "datathon", "score", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


# --------------------------------------------------------------------------- metrics


def test_hand_computed_counts_and_rates():
    """Are coded and correct counts, coding rate, precision and success rate the hand-computed ones?"""
    sub = read_submission(csv_bytes(HAND_LINES), known_cabbi=CABBI)
    m = score(sub, truth_frame())
    assert (m["n_bulletins"], m["n_coded"], m["n_correct"]) == (10, 6, 4)
    assert m["coding_rate"] == approx("6/10")
    assert m["precision"] == approx("4/6")
    assert m["success_rate"] == approx("4/10")


def test_coding_an_uncodable_bulletin_is_wrong():
    """Is a SIRET given to a bulletin whose truth is null counted as coded and wrong?"""
    sub = read_submission(csv_bytes([(CABBI[8], S[9])]))
    m = score(sub, truth_frame())
    assert (m["n_coded"], m["n_correct"], m["precision"]) == (1, 0, 0.0)


def test_nothing_coded_gives_null_precision():
    """Is precision null, and are the rates zero, when no bulletin is coded?"""
    sub = read_submission(csv_bytes([(c, "") for c in CABBI]))
    m = score(sub, truth_frame())
    assert m["precision"] is None
    assert m["coding_rate"] == 0.0 and m["success_rate"] == 0.0
    assert m["mca_concordance"] is None  # nothing coded by both


def test_mca_concordance_and_who_alone_is_right():
    """Are MCA concordance, 'only team right' and 'only MCA right' the hand-computed shares?"""
    m = score(read_submission(csv_bytes(HAND_LINES)), truth_frame())
    # Coded by both: 1, 2, 3, 9; same SIRET on 1 and 2.
    assert m["mca_concordance"] == approx("2/4")
    # Team right on 1, 2, 3, 6; MCA right on 1, 2, 5.
    assert m["only_team_right"] == approx("2/10")
    assert m["only_mca_right"] == approx("1/10")


def test_mca_metrics_are_null_without_siretc():
    """Are the MCA metrics null when the truth has no SIRETC column?"""
    m = score(read_submission(csv_bytes(HAND_LINES)), truth_frame().drop(columns=["SIRETC"]))
    assert m["mca_concordance"] is None and m["only_team_right"] is None and m["only_mca_right"] is None


def test_by_typcol_and_by_noise_groups():
    """Are the per collection mode and per noise mechanism metrics the hand-computed ones?"""
    m = score(read_submission(csv_bytes(HAND_LINES)), truth_frame())
    assert m["by_typcol"]["paper"] == {"coding_rate": 1.0, "precision": 1.0, "success_rate": 1.0, "n": 3}
    internet = m["by_typcol"]["internet"]
    assert internet["n"] == 7
    assert internet["coding_rate"] == approx("3/7")
    assert internet["precision"] == approx("1/3")
    assert internet["success_rate"] == approx("1/7")
    noise = m["by_noise"]
    assert list(noise) == ["clean", "commune_voisine", "enseigne", "mairie"]
    # Clean: 1, 4 (null), 6, 7, 8, 9, 10; coded 1, 4, 6, 9; right on 1 and 6.
    assert noise["clean"]["n"] == 7
    assert noise["clean"]["coding_rate"] == approx("4/7")
    assert noise["clean"]["precision"] == approx("2/4")
    # A bulletin with two mechanisms counts in both.
    assert noise["enseigne"] == {"coding_rate": 1.0, "precision": 1.0, "success_rate": 1.0, "n": 2}
    assert noise["commune_voisine"]["n"] == 1
    assert noise["mairie"] == {"coding_rate": 0.0, "precision": None, "success_rate": 0.0, "n": 1}


def test_breakdowns_are_null_without_their_columns():
    """Are by_typcol and by_noise null when the truth has no TYPCOL or NOISE?"""
    m = score(read_submission(csv_bytes(HAND_LINES)), truth_frame().drop(columns=["TYPCOL", "NOISE"]))
    assert m["by_typcol"] is None and m["by_noise"] is None


def test_topk_accuracy_on_ranked_candidates():
    """Is top-k accuracy the share of codable bulletins whose true SIRET is ranked <= k?"""
    lines = [(CABBI[0], S[1], 1)]  # right at rank 1
    lines += [(CABBI[1], S[30], 1), (CABBI[1], S[31], 2), (CABBI[1], S[2], 3)]  # right at rank 3
    lines += [(CABBI[2], S[30 + r], r) for r in range(1, 7)] + [(CABBI[2], S[3], 7)]  # rank 7
    lines += [(CABBI[3], S[30 + r], r) for r in range(1, 12)] + [(CABBI[3], S[4], 12)]  # rank 12
    lines += [(CABBI[8], S[30], 1), (CABBI[8], S[31], 2)]  # not codable: outside the denominator
    sub = read_submission(csv_bytes(lines, "CABBI;siret;rank"), known_cabbi=CABBI)
    m = score(sub, truth_frame())
    # Eight codable bulletins (1 … 8).
    assert m["topk_accuracy"] == {"1": approx("1/8"), "5": approx("2/8"), "10": approx("3/8")}
    # The rank-1 lines are the coding: five coded, one right.
    assert (m["n_coded"], m["n_correct"]) == (5, 1)


def test_topk_is_null_without_ranks():
    """Is top-k accuracy null when the submission has no rank column?"""
    assert score(read_submission(csv_bytes(HAND_LINES)), truth_frame())["topk_accuracy"] is None


def _coverage_case(tied: bool):
    """20 codable bulletins, 16 coded; scores descending, right (R) or wrong (W):
    R×10 (0.99 … 0.90), W 0.89, R 0.88, W 0.87 (0.88 when tied), R 0.86, W 0.85, W 0.84."""
    cabbi = [f"36{i:08d}" for i in range(20)]
    truth = pd.DataFrame({"CABBI": cabbi, "SIRET_DEC": [S[i + 1] for i in range(20)]}).astype("string")
    right = [True] * 10 + [False, True, False, True, False, False]
    scores = [0.99 - 0.01 * i for i in range(10)] + [0.89, 0.88, 0.88 if tied else 0.87, 0.86, 0.85, 0.84]
    lines = [(cabbi[i], S[i + 1] if ok else S[45], s) for i, (ok, s) in enumerate(zip(right, scores))]
    return read_submission(csv_bytes(lines, "CABBI;siret;score")), truth


@pytest.mark.parametrize(
    "tied, expected",
    [
        # Prefix precisions: 10/10, 10/11, 11/12, 11/13 … → 0.90 reached up to 12 codings.
        (False, {"0.90": "12/20", "0.95": "10/20", "0.98": "10/20"}),
        # 0.88 twice: no threshold keeps the 12th coding without the 13th (11/13 < 0.90).
        (True, {"0.90": "11/20", "0.95": "10/20", "0.98": "10/20"}),
    ],
)
def test_coverage_at_precision(tied, expected):
    """Is coverage at precision the largest share a score threshold keeps at that precision?"""
    sub, truth = _coverage_case(tied)
    m = score(sub, truth)
    assert m["coverage_at_precision"] == {k: approx(v) for k, v in expected.items()}


def test_coverage_is_null_without_scores():
    """Is coverage at precision null when the submission has no score column?"""
    assert score(read_submission(csv_bytes(HAND_LINES)), truth_frame())["coverage_at_precision"] is None


def test_scoring_a_subset_of_the_truth():
    """Are submission lines outside a truth subset ignored, and its missing bulletins not coded?"""
    sub = read_submission(csv_bytes(HAND_LINES), known_cabbi=CABBI)
    part = truth_frame().iloc[[0, 3, 4, 9]].reset_index(drop=True)  # bulletins 1, 4, 5, 10
    m = score(sub, part)
    assert (m["n_bulletins"], m["n_coded"], m["n_correct"]) == (4, 2, 1)
    # The leaderboard's way: the submission filtered to the part's CABBI first.
    frame = sub.frame[sub.frame["CABBI"].isin(part["CABBI"])]
    assert score(Submission(frame=frame), part)["success_rate"] == m["success_rate"] == 0.25


def test_a_siret_outside_the_register_counts_as_wrong():
    """Is a valid SIRET absent from the register counted as wrong, with a warning naming it?"""
    truth = truth_frame()
    register = [S[i] for i in range(2, 55)]  # S1 is missing from this register
    sub = read_submission(csv_bytes([(CABBI[0], S[1]), (CABBI[1], S[2]), (CABBI[2], S[57])]))
    m = score(sub, truth, register_sirets=register)
    assert (m["n_coded"], m["n_correct"]) == (3, 1)
    assert len(m["warnings"]) == 1
    assert "2 coded SIRETs are valid but not in the register" in m["warnings"][0]
    assert S[1] in m["warnings"][0] and S[57] in m["warnings"][0]
    assert score(sub, truth)["warnings"] == []


def test_a_built_submission_with_malformed_sirets_scores_them_as_not_coded():
    """Does score() count malformed SIRETs of a directly built Submission as not coded?"""
    frame = pd.DataFrame({"CABBI": CABBI[:3], "siret": [S[1], "not a siret", None]}).astype("string")
    m = score(Submission(frame=frame), truth_frame())
    assert (m["n_coded"], m["n_correct"]) == (1, 1)


def test_an_empty_truth_gives_null_rates():
    """Are the rates null, not a division error, when the truth has no bulletin?"""
    m = score(read_submission(csv_bytes(HAND_LINES)), truth_frame().iloc[:0])
    assert m["n_bulletins"] == 0
    assert m["coding_rate"] is None and m["precision"] is None and m["success_rate"] is None


def test_score_accepts_a_dataframe():
    """Does score() check and score a plain DataFrame submission?"""
    frame = pd.DataFrame(HAND_LINES, columns=["CABBI", "siret"])
    assert score(frame, truth_frame())["n_correct"] == 4


def test_metrics_are_json_values():
    """Are all metrics plain JSON values (no numpy types, no NaN)?"""
    sub = read_submission(csv_bytes([(c, s, 0.5) for c, s in HAND_LINES], "CABBI;siret;score"))
    m = score(sub, truth_frame())
    text = json.dumps(m, allow_nan=False)
    assert json.loads(text) == m


def test_score_directory_reads_checks_and_scores(data_dir, tmp_path):
    """Does score_directory join the truth with MCA's codings and report the missing bulletins?"""
    path = tmp_path / "team.csv"
    path.write_bytes(csv_bytes(HAND_LINES))
    m = score_directory(path, data_dir)
    assert (m["n_bulletins"], m["n_correct"]) == (10, 4)
    assert m["mca_concordance"] == approx("2/4")
    assert m["by_typcol"]["paper"]["n"] == 3
    assert any("3 of the 10 bulletins are not in the submission" in w for w in m["warnings"])


def test_score_directory_warns_about_sirets_outside_the_register(data_dir, tmp_path):
    """Does score_directory check coded SIRETs against the directory's register?"""
    path = tmp_path / "team.csv"
    path.write_bytes(csv_bytes([(CABBI[0], S[56])]))
    m = score_directory(path, data_dir)
    assert m["n_correct"] == 0
    assert any("not in the register" in w and S[56] in w for w in m["warnings"])


def test_score_directory_on_the_training_split(data_dir, tmp_path):
    """Can a submission be scored against the training split?"""
    path = tmp_path / "train.csv"
    path.write_bytes(csv_bytes([("3590000001", S[20]), ("3590000002", S[20])]))
    m = score_directory(path, data_dir, split="train")
    assert (m["n_bulletins"], m["n_coded"], m["n_correct"]) == (3, 2, 1)
    assert m["by_noise"]["interim"]["n"] == 1


# --------------------------------------------------------------------------- truth


def test_load_truth_joins_mca_and_collection_mode(data_dir):
    """Does load_truth add SIRETC and TYPCOL from bulletins_test by CABBI, not by position?"""
    truth = load_truth(data_dir)
    assert list(truth.columns) == ["CABBI", "SIRET_DEC", "NOISE", "SIRETC", "TYPCOL"]
    assert truth["CABBI"].tolist() == CABBI
    assert truth["SIRETC"].tolist() == [s if s else pd.NA for s in MCA_SIRET]
    assert truth["TYPCOL"].tolist() == TYPCOL
    assert truth["SIRET_DEC"].isna().sum() == 2


def test_load_truth_of_the_training_split(data_dir):
    """Does load_truth read the training truth from bulletins_train.parquet?"""
    truth = load_truth(data_dir, split="train")
    assert set(truth.columns) == {"CABBI", "SIRET_DEC", "SIRETC", "TYPCOL", "NOISE"}
    assert len(truth) == 3


def test_load_truth_without_the_data_directory(tmp_path):
    """Is an error raised, saying how to get one, when the data directory does not exist?"""
    with pytest.raises(UserError, match="data directory not found.*datathon generate"):
        load_truth(tmp_path / "nowhere")


def test_load_truth_without_the_test_truth(tmp_path):
    """Is an error raised, saying where the truth goes, when truth_test.parquet is missing?"""
    with pytest.raises(UserError, match="truth_test.parquet not found.*kept apart.*--split train"):
        load_truth(tmp_path)


def test_load_truth_refuses_repeated_cabbi(tmp_path):
    """Is an error raised when the truth lists a CABBI twice?"""
    pd.DataFrame({"CABBI": ["1", "1"], "SIRET_DEC": [S[1], S[2]]}).to_parquet(tmp_path / "truth_test.parquet")
    with pytest.raises(UserError, match="1 CABBI appear more than once"):
        load_truth(tmp_path)


# --------------------------------------------------------------------------- reading


def test_read_submission_frame_and_digest():
    """Does read_submission give the documented frame (dtypes, <NA>, line index) and the bytes' digest?"""
    raw = csv_bytes([(CABBI[0], S[1], "0.9", 1), (CABBI[1], "", "", 1)], "CABBI;siret;score;rank")
    sub = read_submission(raw)
    frame = sub.frame
    assert list(frame.columns) == ["CABBI", "siret", "score", "rank"]
    assert str(frame["CABBI"].dtype) == "string" and str(frame["siret"].dtype) == "string"
    assert frame["score"].dtype == np.float64 and frame["rank"].dtype == np.int64
    assert frame["siret"].isna().tolist() == [False, True]
    assert frame.index.tolist() == [2, 3] and frame.index.name == "line"
    assert sub.sha256 == hashlib.sha256(raw).hexdigest()
    assert sub.warnings == []


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"\xef\xbb\xbf" + csv_bytes(HAND_LINES), id="utf8-bom"),
        pytest.param(csv_bytes(HAND_LINES, newline="\r\n"), id="crlf"),
        pytest.param(csv_bytes(HAND_LINES, newline="\r"), id="cr"),
        pytest.param(csv_bytes(HAND_LINES, sep=",", header="CABBI,siret"), id="comma"),
        pytest.param(csv_bytes(HAND_LINES, header="cabbi;SIRET"), id="header-case"),
        pytest.param(csv_bytes(HAND_LINES, header='"CABBI";"siret"'), id="quoted-header"),
        pytest.param(csv_bytes([(c, f" {s} ") for c, s in HAND_LINES]), id="spaces"),
        pytest.param(csv_bytes(HAND_LINES) + b"\n\n;\n", id="trailing-blank-lines"),
    ],
)
def test_accepted_variants_give_the_same_scores(raw):
    """Do BOMs, CRLF, commas, header case and stray blanks leave the scores unchanged?"""
    m = score(read_submission(raw, known_cabbi=CABBI), truth_frame())
    assert (m["n_coded"], m["n_correct"]) == (6, 4)


def test_latin1_is_accepted_with_a_warning():
    """Is a Latin-1 file read (with a warning), its unknown column ignored (with a warning)?"""
    lines = [(c, s, "société générale") for c, s in HAND_LINES]
    sub = read_submission(csv_bytes(lines, "CABBI;siret;commentaire", encoding="latin-1"))
    assert score(sub, truth_frame())["n_correct"] == 4
    assert any("Latin-1" in w for w in sub.warnings)
    assert any("ignored 1 unknown column: 'commentaire'" in w for w in sub.warnings)


def test_decimal_comma_scores_with_semicolons():
    """Is a French decimal comma in the score accepted when fields are separated by ';'?"""
    sub = read_submission(csv_bytes([(CABBI[0], S[1], "0,75")], "CABBI;siret;score"))
    assert sub.frame["score"].tolist() == [0.75]


def test_blank_lines_keep_line_numbers_right():
    """Do error messages give the file's line numbers even after blank lines?"""
    raw = b"CABBI;siret\n\n" + f"{CABBI[0]};{S[1]}\n\n\n{CABBI[1]};{bad_key(S[2])}\n".encode()
    with pytest.raises(UserError, match=r"\(line 6\)"):
        read_submission(raw)


def test_whitespace_only_lines_keep_line_numbers_right():
    """Do whitespace-only lines (skipped like blank ones) leave the line numbers right?"""
    raw = f"CABBI;siret\n{CABBI[0]};{S[1]}\n   \n\t\n{CABBI[1]};{bad_key(S[2])}\n".encode()
    with pytest.raises(UserError, match=r"\(line 5\)"):
        read_submission(raw)


def test_a_huge_field_is_one_message():
    """Is a field beyond the csv module's own limit reported as too long, not as a crash?"""
    with pytest.raises(UserError, match=r"longer than 10,000 characters \(line 2\)"):
        read_submission(b"CABBI;siret\n" + b"x" * 200_000 + b";\n")


def test_at_most_ten_lines_are_listed():
    """Does a message list the first ten offending lines, then an ellipsis?"""
    raw = csv_bytes([(f"x{i}", bad_key(S[1])) for i in range(25)])
    with pytest.raises(UserError) as err:
        read_submission(raw)
    assert "25 SIRETs fail their Luhn key (lines 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, …)" in err.value.message


def test_rank_without_rank_one_is_not_coded():
    """Does a bulletin whose candidates start at rank 2 count as not coded, with a warning?"""
    sub = read_submission(csv_bytes([(CABBI[0], S[1], 2), (CABBI[1], S[2], 1)], "CABBI;siret;rank"))
    assert any("1 bulletin has candidates but no rank-1 line" in w for w in sub.warnings)
    m = score(sub, truth_frame())
    assert (m["n_coded"], m["n_correct"]) == (1, 1)
    assert m["topk_accuracy"]["5"] == approx("2/8")


def test_dataframe_submission_with_integer_sirets():
    """Are integer SIRETs of a DataFrame padded back to 14 digits, with a warning?"""
    small = f"{with_luhn_key(np.array([1_234_567_890]), 14)[0]:014d}"  # leading zeros
    assert small.startswith("000")
    frame = pd.DataFrame({"CABBI": ["a", "b"], "SIRET": [int(small), pd.NA]}).astype({"SIRET": "Int64"})
    sub = read_submission(frame)
    assert sub.frame["siret"].tolist() == [small, pd.NA]
    assert any("padded to 14 digits" in w for w in sub.warnings)
    assert sub.sha256 is None


def test_dataframe_errors_name_rows_by_index():
    """Are a DataFrame's offending rows named by their index labels?"""
    frame = pd.DataFrame({"CABBI": ["a", "b", "c"], "siret": [S[1], bad_key(S[2]), S[3]]}, index=[10, 20, 30])
    with pytest.raises(UserError, match=r"1 SIRET fails its Luhn key \(row 20\)"):
        read_submission(frame)


def test_vectorised_keys_agree_with_siret_valid():
    """Does the vectorised Luhn check agree with datathon.luhn.siret_valid, La Poste included?"""
    rng = np.random.default_rng(7)
    values = [f"{v:014d}" for v in rng.integers(0, 10**14, 3000)]
    values += [f"{v:014d}" for v in with_luhn_key(rng.integers(0, 10**13, 1000), 14)]
    values += [f"356000000{v:05d}" for v in range(0, 300)]  # La Poste's establishments
    expected = np.array([siret_valid(v) for v in values])
    got = evaluate.siret_keys_valid(evaluate._strings(values))
    assert expected.any() and not expected.all()
    np.testing.assert_array_equal(got, expected)


def test_max_bytes_and_max_field_are_configurable(tmp_path):
    """Are files over max_bytes and fields over max_field refused, naming the limit?"""
    raw = csv_bytes(HAND_LINES)
    with pytest.raises(UserError, match="more than the 50-byte limit"):
        read_submission(raw, max_bytes=50)
    path = tmp_path / "big.csv"
    path.write_bytes(raw)
    with pytest.raises(UserError, match="big.csv: the file is .* more than the 50-byte limit"):
        read_submission(path, max_bytes=50)
    with pytest.raises(UserError, match=r"longer than 12 characters \(line 2\)"):
        read_submission(csv_bytes([("x" * 13, S[1])]), max_field=12)


# --------------------------------------------------------------------------- the command line

VALID = csv_bytes(HAND_LINES)


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("submission.csv", VALID.decode())
    return buf.getvalue()


def _parquet_bytes() -> bytes:
    buf = io.BytesIO()
    pd.DataFrame(HAND_LINES, columns=["CABBI", "siret"]).to_parquet(buf)
    return buf.getvalue()


def _lines(lines, header="CABBI;siret"):
    return csv_bytes(lines, header)


LUHN_BAD = [(CABBI[0], bad_key(S[1])), (CABBI[1], S[2]), (CABBI[2], bad_key(S[3])), (CABBI[3], bad_key(S[4]))]

# (id, file content, extra options, what the message must say)
BAD_INPUTS = [
    ("empty", b"", [], ["the file is empty"]),
    ("blank", b"\n  \n", [], ["the file is empty"]),
    ("header-only", b"CABBI;siret\n", [], ["header but no bulletin lines"]),
    ("nul-bytes", b"CABBI;siret\n\x00\x00\x01\x02", [], ["binary data", "NUL byte on line 2", "not a CSV text file"]),
    ("control-chars", bytes(range(1, 9)) * 50, [], ["binary data", "not a CSV text file"]),
    ("random-bytes", np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes(), [], ["not a CSV text file"]),
    ("parquet", _parquet_bytes(), [], ["Parquet file, not a CSV text file"]),
    ("zip", _zip_bytes(), [], ["zip archive", "not a CSV text file"]),
    ("png", b"\x89PNG\r\n\x1a\n" + bytes(100), [], ["PNG image, not a CSV text file"]),
    ("utf16", VALID.decode().encode("utf-16"), [], ["UTF-16"]),
    ("json", json.dumps([{"CABBI": c, "siret": s} for c, s in HAND_LINES]).encode(), [], ["looks like JSON"]),
    ("html", b"<html><body>oops</body></html>", [], ["HTML"]),
    ("missing-column", _lines([(CABBI[0], S[1])], "CABBI;code"), [], ["missing required column siret", "'CABBI;code'"]),
    ("missing-columns", _lines([(CABBI[0], S[1])], "id;code"), [], ["missing required columns CABBI, siret"]),
    ("no-header", _lines([(CABBI[1], S[2])], f"{CABBI[0]};{S[1]}"), [], ["looks like data"]),
    ("tab", VALID.replace(b";", b"\t"), [], ["with tab", "accepted delimiters are ';' and ','"]),
    ("pipe", VALID.replace(b";", b"|"), [], ["with '|'", "accepted delimiters are ';' and ','"]),
    ("repeated-column", _lines([(CABBI[0], S[1], S[1])], "CABBI;siret;SIRET"), [], ["repeats the column siret"]),
    ("wrong-field-count", _lines([(CABBI[0], S[1]), (CABBI[1], S[2], "x"), (CABBI[2],)]), [], ["2 lines do not have the header's 2 fields (lines 3, 4)"]),
    ("short-siret", _lines([(CABBI[0], S[1]), (CABBI[1], "1234567890123")]), [], ["1 SIRET is not 14 digits (line 3)", "leading zeros"]),
    ("letters-in-siret", _lines([(CABBI[0], "3100000000001A")]), [], ["1 SIRET is not 14 digits (line 2)"]),
    ("scientific-siret", _lines([(CABBI[0], "3.1000000000E+13")]), [], ["not 14 digits", "written as numbers"]),
    ("luhn", _lines(LUHN_BAD), [], ["3 SIRETs fail their Luhn key (lines 2, 4, 5)", bad_key(S[1])]),
    ("no-cabbi", _lines([(CABBI[0], S[1]), ("", S[2])]), [], ["1 line without a CABBI (line 3)"]),
    ("duplicate-cabbi", _lines([(CABBI[0], S[1]), (CABBI[1], S[2]), (CABBI[0], S[3])]), [], ["1 CABBI appears on more than one line (lines 2, 4)", "rank"]),
    ("duplicate-rank", _lines([(CABBI[0], S[1], 1), (CABBI[0], S[2], 2), (CABBI[0], S[3], 2)], "CABBI;siret;rank"), [], ["1 (CABBI, rank) pair appears more than once (lines 3, 4)"]),
    ("unknown-cabbi", _lines([(CABBI[0], S[1]), ("3599999999", S[2])]), [], ["1 CABBI is not a bulletin of this split (line 3)", "3599999999"]),
    ("score-not-number", _lines([(CABBI[0], S[1], "0.9"), (CABBI[1], S[2], "high")], "CABBI;siret;score"), [], ["1 score is not a number (line 3)", "'high'"]),
    ("score-nan", _lines([(CABBI[0], S[1], "NaN")], "CABBI;siret;score"), [], ["1 score is not a finite number, the first on line 2: 'NaN'"]),
    ("score-blank", _lines([(CABBI[0], S[1], "")], "CABBI;siret;score"), [], ["coded line has a blank or NaN score"]),
    ("rank-fraction", _lines([(CABBI[0], S[1], "1.5")], "CABBI;siret;rank"), [], ["1 rank is not a whole number ≥ 1 (line 2)", "'1.5'"]),
    ("rank-zero", _lines([(CABBI[0], S[1], "0")], "CABBI;siret;rank"), [], ["rank is not a whole number ≥ 1 (line 2)"]),
    ("rank-blank", _lines([(CABBI[0], S[1], "1"), (CABBI[1], S[2], "")], "CABBI;siret;rank"), [], ["rank is not a whole number ≥ 1 (line 3)"]),
    ("long-field", _lines([(CABBI[0], S[1]), ("x" * 10_001, S[2])]), [], ["1 line holds a field longer than 10,000 characters (line 3)"]),
    ("too-big", VALID, ["--max-bytes", "100"], ["more than the 100-byte limit", "--max-bytes"]),
]


@pytest.mark.parametrize("content, options, expected", [pytest.param(c, o, e, id=i) for i, c, o, e in BAD_INPUTS])
def test_bad_submissions_exit_2_with_one_message(data_dir, tmp_path, content, options, expected):
    """Is every bad submission refused with exit code 2 and one message naming the problem?"""
    path = tmp_path / "submission.csv"
    path.write_bytes(content)
    result = run_cli(path, "--data", data_dir, *options)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("datathon score: error: submission.csv: ") or "limit" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    for text in expected:
        assert text in result.stderr


@pytest.mark.parametrize(
    "make_args, expected",
    [
        pytest.param(lambda d, t: [t / "none.csv", "--data", d], "submission file not found", id="no-file"),
        pytest.param(lambda d, t: [t, "--data", d], "is a directory, not a regular file", id="directory"),
        pytest.param(lambda d, t: [t / "ok.csv", "--data", t / "nowhere"], "data directory not found", id="no-data"),
        pytest.param(lambda d, t: [t / "ok.csv", "--data", t], "truth_test.parquet not found", id="no-truth"),
        pytest.param(lambda d, t: [t / "ok.csv", "--data", d, "--max-bytes", "0"], "positive", id="zero-limit"),
    ],
)
def test_command_errors_are_one_line(data_dir, tmp_path, make_args, expected):
    """Are a missing file, a missing data directory or truth, and a bad limit one message and exit 2?"""
    (tmp_path / "ok.csv").write_bytes(VALID)
    result = run_cli(*make_args(data_dir, tmp_path))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert expected in result.stderr


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"\xef\xbb\xbf" + VALID, id="bom"),
        pytest.param(csv_bytes(HAND_LINES, newline="\r\n"), id="crlf"),
        pytest.param(csv_bytes([(c, s, "é") for c, s in HAND_LINES], "CABBI;siret;note", encoding="latin-1"), id="latin-1"),
        pytest.param(csv_bytes(HAND_LINES, sep=",", header="cabbi,SIRET"), id="comma"),
    ],
)
def test_accepted_encodings_through_the_command(data_dir, tmp_path, content):
    """Does `datathon score --json` accept BOM, CRLF, Latin-1 and ',' files and print the metrics?"""
    path = tmp_path / "submission.csv"
    path.write_bytes(content)
    result = run_cli(path, "--data", data_dir, "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert (metrics["n_bulletins"], metrics["n_coded"], metrics["n_correct"]) == (10, 6, 4)
    assert metrics["success_rate"] == 0.4
    assert metrics["topk_accuracy"] is None
    assert any("not in the submission" in w for w in metrics["warnings"])


def test_readable_summary_with_the_warnings_first(data_dir, tmp_path):
    """Does `datathon score` print the warnings first, then aligned metrics, on stdout, and nothing twice?"""
    path = tmp_path / "submission.csv"
    path.write_bytes(csv_bytes([(c, s, 0.5) for c, s in HAND_LINES], "CABBI;siret;score"))
    result = run_cli(path, "--data", data_dir)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "success rate" in out and "40.0 %" in out
    assert "coverage at precision 0.90" in out
    assert "by collection mode:" in out and "internet" in out
    warning = "warning: submission.csv: 3 of the 10 bulletins are not in the submission"
    assert out.startswith(warning) and out.count(warning) == 1 and warning not in result.stderr
    assert "Traceback" not in result.stderr


def test_the_summary_puts_warnings_then_one_line_before_the_breakdown():
    """Does format_summary print every warning first, then a one-line summary, then the aligned breakdown
    (so that a warning is never lost below twenty lines of metrics)?"""
    result = {"n_bulletins": 10, "n_coded": 6, "n_correct": 4, "coding_rate": 0.6, "precision": 4 / 6,
              "success_rate": 0.4, "warnings": ["a.csv: 3 of the 10 bulletins are not in the submission", "two"],
              "by_typcol": {"internet": {"coding_rate": 0.5, "precision": 1.0, "success_rate": 0.5, "n": 4}}}
    lines = evaluate.format_summary(result).splitlines()
    assert lines[:2] == ["warning: a.csv: 3 of the 10 bulletins are not in the submission", "warning: two"]
    assert lines[2].startswith("success rate 40.0 %") and "precision 66.7 %" in lines[2] and "10 bulletins" in lines[2]
    assert lines.index("by collection mode:") > 3
    assert evaluate.format_summary({**result, "warnings": []}).splitlines()[0].startswith("success rate")


# --------------------------------------------------------------------------- bounded reading (issue 12)


def _padded_lines(n_blank: int, header: str = "CABBI;siret") -> bytes:
    """A valid one-bulletin file padded with ``n_blank`` one-character lines."""
    return f"{header}\n{CABBI[0]};{S[1]}\n".encode() + b";\n" * n_blank


def test_a_file_with_far_more_lines_than_bulletins_is_refused_before_parsing(tmp_path, monkeypatch):
    """Is a file with more lines than twice the split's bulletins refused in one line, saying how
    many lines it has and the maximum, before the CSV parser builds anything (bytes and path)?"""
    def no_parsing(*args, **kwargs):
        raise AssertionError("the CSV was parsed")

    monkeypatch.setattr(evaluate.pacsv, "read_csv", no_parsing)
    data = _padded_lines(25)  # 27 lines for 10 bulletins: more than a header and 2 x 10
    path = tmp_path / "padded.csv"
    path.write_bytes(data)
    for source, name in ((data, "submission"), (path, "padded.csv")):
        with pytest.raises(UserError) as err:
            read_submission(source, known_cabbi=CABBI)
        assert str(err.value).startswith(f"{name}: the file has 27 lines, more than the 21 allowed")
        assert "\n" not in str(err.value)
    old_mac = data.replace(b"\n", b"\r")  # lines ended by CR alone count as lines too
    with pytest.raises(UserError, match="27 lines"):
        read_submission(old_mac, known_cabbi=CABBI)


def test_the_line_bound_leaves_room_for_ranked_candidates():
    """Does a file with a rank column get max(TOPK) lines per bulletin, and a file within twice
    the bulletins, blank lines included, still read as before?"""
    ranked = "CABBI;siret;rank\n" + "".join(f"{CABBI[0]};{S[k]};{k}\n" for k in range(1, 11))
    sub = read_submission(ranked.encode(), known_cabbi=CABBI[:1])  # 11 lines for 1 bulletin
    assert len(sub.frame) == 10
    with pytest.raises(UserError, match="at most 10 candidate lines per bulletin"):
        read_submission((ranked + "\n").encode(), known_cabbi=CABBI[:1])
    assert len(read_submission(_padded_lines(19), known_cabbi=CABBI).frame) == 1  # 21 lines: fine
    assert len(read_submission(_padded_lines(25)).frame) == 1, "no bulletin list, no line bound"


@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity", "nan", "1e309"])
def test_non_finite_scores_are_refused_naming_the_first_line(value):
    """Is a score of inf, -inf, nan or 1e309 refused in one line naming the first offending line,
    even on a line that codes nothing?"""
    lines = [(CABBI[0], S[1], "0.9"), (CABBI[1], "", value), (CABBI[2], S[3], value)]
    with pytest.raises(UserError) as err:
        read_submission(csv_bytes(lines, "CABBI;siret;score"), known_cabbi=CABBI)
    message = str(err.value)
    assert "not a finite number, the first on line 3" in message and "\n" not in message
    frame = pd.DataFrame({"CABBI": CABBI[:2], "siret": [S[1], S[2]], "score": [0.5, float(value)]})
    if value not in ("nan",):  # a frame's NaN is a blank score, refused only where coded
        with pytest.raises(UserError, match="not a finite number"):
            read_submission(frame)


def test_paths_that_are_not_regular_files_are_refused_unread(tmp_path, data_dir):
    """Are a symbolic link (to a readable secret), a directory, a named pipe, a device and a socket
    refused by read_submission in one line that quotes nothing from them, without blocking?"""
    import socket

    from leaderboard_fixtures import SECRET_LINE, odd_paths

    cases = odd_paths(tmp_path)
    sock_path = tmp_path / "s.sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    try:
        cases.update({Path("/dev/null"): "a device", sock_path: "a socket"})
        for path, kind in cases.items():
            with pytest.raises(UserError) as err:
                read_submission(path)
            assert f"is {kind}, not a regular file" in str(err.value)
            assert SECRET_LINE[:9] not in str(err.value)
    finally:
        sock.close()
    result = run_cli(tmp_path / "link.csv", "--data", data_dir)
    assert result.returncode == 2 and "symbolic link" in result.stderr and SECRET_LINE[:9] not in result.stderr


def test_a_wrong_header_is_quoted_short_and_escaped(tmp_path):
    """When the header is wrong, does the message show only its first names, each cut short,
    non-printable characters escaped, never the whole line?"""
    line = "TOPSECRET:x:0:0:root:/root:/bin/bash;" + "y" * 200 + ";" + ";".join(f"c{i}" for i in range(10))
    with pytest.raises(UserError) as err:
        read_submission((line + "\n1;2\n").encode())
    message = str(err.value)
    assert "TOPSECRET:x:0:0:roo…" in message and "/bin/bash" not in message and "y" * 30 not in message
    assert "c3;…" in message and "c4" not in message, "six names at most"
    with pytest.raises(UserError) as err:
        read_submission(b"CABBI;\x1b[31mred\xe2\x80\xae\n" + b"1;2\n" * 100)
    assert "\\x1b" in str(err.value) and "\x1b" not in str(err.value) and "\u202e" not in str(err.value)

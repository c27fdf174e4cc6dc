"""datathon.checks: the one-line feedback of ``q1.check()`` and ``q1.hint()`` in assignment notebooks.

The right answers are the reference solution itself (the answer cells of
solutions/a1_names/a1_names.ipynb, executed here); the unanswered ones are the starter's cells, as
nbgrader leaves them (``raise NotImplementedError()``); the wrong ones are small mistakes students make.
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from datathon import checks, names, starters
from datathon.bands import PERFORMANCE
from datathon.checks import HINT, INCORRECT, NOT_ATTEMPTED, a1

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "solutions" / "sirene" / "a1_names" / "a1_names.ipynb"
STARTER = ROOT / "starter_notebooks" / "sirene" / "a1_names" / "a1_names.ipynb"
QUESTIONS = [a1.q1, a1.q2, a1.q3, a1.q4, a1.q5]


def answers(path: Path) -> dict:
    """A namespace holding the notebook's answer cells, executed after the imports its setup cell makes."""
    namespace = {"math": math, "re": re, "unicodedata": unicodedata, "Counter": Counter, "pd": pd,
                 "ABBREVIATIONS": names.ABBREVIATIONS, "ABBREVIATIONS_AT_START": names.ABBREVIATIONS_AT_START,
                 "LEGAL_FORMS": names.LEGAL_FORMS, "SPACED_LEGAL_FORMS": names.SPACED_LEGAL_FORMS,
                 "STOP_WORDS": names.STOP_WORDS}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            exec(compile(cell.source, f"{path.name}:{cell.id}", "exec"), namespace)  # noqa: S102
    return namespace


@pytest.fixture(scope="module")
def solved() -> dict:
    return answers(SOURCE)


@pytest.fixture(autouse=True)
def _unbound():
    """Each test starts and ends with no bound namespace."""
    checks.unbind()
    yield
    checks.unbind()


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.label)
def test_the_reference_solution_is_correct(question, solved, capsys):
    """Does every check print one 'correct' line for the reference solution of solutions/a1_names?"""
    question.check(solved)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith(f"✓ {question.label} correct: "), out


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.label)
def test_the_starter_is_not_attempted(question, capsys):
    """Does every check say 'not attempted', naming NotImplementedError, on the starter nbgrader generated?"""
    if not STARTER.exists():
        pytest.skip("no starter_notebooks/a1_names (make starters)")
    question.check(answers(STARTER))
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith(f"○ {question.label} not attempted: "), out
    assert "NotImplementedError" in out


def test_an_undefined_function_is_not_attempted():
    """Is a function that is not defined yet 'not attempted', with what to do?"""
    feedback = a1.q4.feedback({"ngrams": lambda name, n=3: []})
    assert feedback.status == NOT_ATTEMPTED
    assert feedback.message.startswith("jaccard, cosine are not defined: run the cell")


def test_a_function_returning_none_is_not_attempted(solved):
    """Is a function that returns None (a forgotten return) 'not attempted', with the call shown?"""
    def clean(text):
        text.upper()  # computes, returns nothing

    feedback = a1.q1.feedback({"clean": clean})
    assert feedback.status == NOT_ATTEMPTED
    assert feedback.message == "clean('Boulangerie Martin') returned None: is a `return` missing?"


WRONG = {
    # q1: upper case only, accents kept
    "clean-accents": (a1.q1, {"clean": lambda text: "" if text is None or text != text else
                              re.sub(r"[^\w]+", " ", text.upper()).strip()},
                      "clean('Café de la Gare') returned 'CAFÉ DE LA GARE', expected 'CAFE DE LA GARE' (no accents)"),
    # q2: substrings instead of words
    "drop-substrings": (a1.q2, {"drop_words": lambda name: " ".join(
        name.replace("SARL", "").replace("SAS", "").replace("EURL", "").split())},
                        "drop_words('EURL LE FOURNIL DES SAVEURS') returned 'LE FOURNIL DES SAVEURS', "
                        "expected 'FOURNIL SAVEURS' (legal form and stop words removed, order kept)"),
    # q4: words not padded
    "ngrams-unpadded": (a1.q4, {"ngrams": lambda name, n=3: [name[i:i + n] for i in range(len(name) - n + 1)],
                                "jaccard": lambda a, b: 0.0, "cosine": lambda a, b: 0.0},
                        "ngrams('RUE') returned ['RUE'], expected [' RU', 'RUE', 'UE '] (each word padded"),
}


@pytest.mark.parametrize("case", list(WRONG), ids=list(WRONG))
def test_a_wrong_answer_names_the_example_the_result_and_the_rule(case, capsys):
    """Does a wrong answer get one 'incorrect' line with the failing input, what came back and what was expected?"""
    question, namespace, expected = WRONG[case]
    question.check(namespace)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith(f"✗ {question.label} incorrect: "), out
    assert expected in out, out


def test_a_division_by_zero_in_the_student_code_is_a_verdict_not_a_traceback(solved, capsys):
    """Does an exception in the student's function become an 'incorrect' line naming the call and the error?"""
    namespace = dict(solved, jaccard=lambda a, b: len(set(a) & set(b)) / len(set(a) | set(b)))
    a1.q4.check(namespace)
    out = capsys.readouterr().out
    assert out == "✗ q4 incorrect: jaccard([], []) raised ZeroDivisionError: division by zero\n"


def test_a_row_counted_once_per_name_is_caught(solved):
    """Does q5 catch a top_k that lists a row once per name instead of once with its best similarity?"""
    def top_k(declared, candidates, k=10, similarity=None):
        scored = sorted(((similarity(declared, g), r) for r, g in candidates), key=lambda x: (-x[0], x[1]))
        return [r for s, r in scored if s > 0][:k]

    feedback = a1.q5.feedback(dict(solved, top_k=top_k))
    assert feedback.status == INCORRECT
    assert "each row at most once" in feedback.message and "returned [4, 7, 2]" not in feedback.message


def test_recall_over_every_bulletin_instead_of_the_codable_ones_is_caught(solved):
    """Does q5 say that the bulletins with true row -1 do not count, when recall_at_k counts them?"""
    def recall_at_k(ranked, true_rows, k):
        return sum(t in r[:k] for r, t in zip(ranked, true_rows)) / len(true_rows)

    feedback = a1.q5.feedback(dict(solved, recall_at_k=recall_at_k))
    assert feedback.status == INCORRECT
    assert "returned 0.4, expected 0.5" in feedback.message and "-1 is not codable" in feedback.message


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.label)
def test_hint_prints_one_line(question, capsys):
    """Does hint() print one line, marked as a hint, of some substance?"""
    question.hint()
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith(f"💡 {question.label} hint: ") and len(out) > 60
    assert question.hint_feedback().status == HINT


def test_bind_makes_checks_read_the_bound_namespace(solved, capsys):
    """After bind(namespace), does check() read that namespace, and see functions defined after binding?"""
    namespace = {}
    checks.bind(namespace)
    a1.q1.check()
    assert "not attempted" in capsys.readouterr().out
    namespace["clean"] = solved["clean"]  # defined later in the notebook
    a1.q1.check()
    assert capsys.readouterr().out.startswith("✓ q1 correct")


def test_without_bind_a_check_reads_its_callers_globals(solved, capsys):
    """Unbound, does q1.check() called from a cell read that cell's globals (the notebook's namespace)?"""
    cell_globals = {"q1": a1.q1, "clean": solved["clean"]}
    exec("q1.check()", cell_globals)  # noqa: S102 - what IPython does with a cell
    assert capsys.readouterr().out.startswith("✓ q1 correct")


def test_a_check_never_raises(capsys):
    """Does a check that meets something unexpected (not a function, a wrong type) still print one line?"""
    a1.q1.check({"clean": "not a function"})
    assert capsys.readouterr().out == "✗ q1 incorrect: clean should be a function, not str\n"
    a1.q4.check({"ngrams": lambda name, n=3: 42, "jaccard": lambda a, b: 0.0, "cosine": lambda a, b: 0.0})
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("✗ q4 incorrect: ") and "(1) ngrams('RUE') returned 42" in out


def test_long_values_are_shortened_to_keep_one_line():
    """Are long or multi-line values shortened in a feedback line?"""
    shown = checks.show("A" * 200)
    assert len(shown) == checks.MAX_REPR and shown.endswith("…")
    line = checks.Feedback("q9", INCORRECT, "first\nsecond").line
    assert line == "✗ q9 incorrect: first second"
    assert checks.show(len) == "len" and checks.show(1 / 3) == "0.3333"


def test_checks_hold_no_solution_or_hidden_test_code():
    """Does no line of a solution region or a hidden test of solutions/ appear in datathon/checks?"""
    secrets = starters.collect_secrets(ROOT)
    assert secrets.solution_lines and secrets.hidden_lines
    for path in sorted((ROOT / "datathon" / "checks").glob("*.py")):
        lines = {line.strip() for line in path.read_text(encoding="utf-8").splitlines()}
        assert not lines & secrets.solution_lines, f"{path.name}: {sorted(lines & secrets.solution_lines)}"
        assert not lines & secrets.hidden_lines, f"{path.name}: {sorted(lines & secrets.hidden_lines)}"


def test_every_answer_cell_of_the_source_is_followed_by_its_check():
    """Is each solution cell of the a1_names source followed by an unlocked, ungraded cell calling its check?"""
    cells = nbformat.read(SOURCE, as_version=4).cells
    answer_cells = [i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(answer_cells) == len(QUESTIONS)
    for i, question in zip(answer_cells, QUESTIONS):
        follower = cells[i + 1]
        assert follower.cell_type == "code" and "nbgrader" not in follower.metadata
        assert follower.source.splitlines()[0] == f"{question.label}.check()"
    assert math.isclose(sum(c.metadata["nbgrader"].get("points", 0) for c in cells
                            if c.metadata.get("nbgrader", {}).get("grade")), 50)


# --------------------------------------------------------------------------------------------
# a2_places: the same feedback for the places assignment
# --------------------------------------------------------------------------------------------

from datathon.checks import a2  # noqa: E402

A2_SOURCE = ROOT / "solutions" / "sirene" / "a2_places" / "a2_places.ipynb"
A2_STARTER = ROOT / "starter_notebooks" / "sirene" / "a2_places" / "a2_places.ipynb"
A2_QUESTIONS = [a2.q1, a2.q2, a2.q3, a2.q4, a2.q5]


def a2_answers(path: Path) -> dict:
    """A namespace holding the a2 notebook's answer cells, executed after what its setup cell defines."""
    import ast

    from rapidfuzz import fuzz

    from datathon.places import STREET_STOP_WORDS, STREET_TYPES
    from datathon.text import simplify

    cells = nbformat.read(path, as_version=4).cells
    setup = next(c for c in cells if c.id == "setup")
    spellings = next(node.value for node in ast.parse(setup.source).body if isinstance(node, ast.Assign)
                     and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["OTHER_SPELLINGS"])
    namespace = {"math": math, "fuzz": fuzz, "simplify": simplify, "STREET_TYPES": STREET_TYPES,
                 "STREET_STOP_WORDS": STREET_STOP_WORDS, "OTHER_SPELLINGS": ast.literal_eval(spellings)}
    for cell in cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            exec(compile(cell.source, f"{path.name}:{cell.id}", "exec"), namespace)  # noqa: S102
    return namespace


@pytest.fixture(scope="module")
def a2_solved() -> dict:
    return a2_answers(A2_SOURCE)


@pytest.mark.parametrize("question", A2_QUESTIONS, ids=lambda q: f"a2-{q.label}")
def test_a2_the_reference_solution_is_correct(question, a2_solved, capsys):
    """Does every a2 check print one 'correct' line for the reference solution of solutions/a2_places?"""
    question.check(a2_solved)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith(f"✓ {question.label} correct: "), out


@pytest.mark.parametrize("question", A2_QUESTIONS, ids=lambda q: f"a2-{q.label}")
def test_a2_the_starter_is_not_attempted(question, capsys):
    """Does every a2 check say 'not attempted', naming NotImplementedError, on the starter nbgrader generated?"""
    if not A2_STARTER.exists():
        pytest.skip("no starter_notebooks/a2_places (make starters)")
    question.check(a2_answers(A2_STARTER))
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith(f"○ {question.label} not attempted: "), out
    assert "NotImplementedError" in out


def test_a2_geocode_waits_for_find_street(a2_solved):
    """When find_street() is not written yet, does q3 say so rather than blame geocode()?"""
    def find_street(key, streets, cutoff=80.0, similarity=None):
        raise NotImplementedError()

    feedback = a2.q3.feedback(dict(a2_solved, find_street=find_street))
    assert feedback.status == NOT_ATTEMPTED
    assert feedback.message.startswith("geocode() uses your find_street(), which is not done yet")


def _first_type_always(number, kind, street, commune, reference):
    """geocode() that ignores the declared type: always the first street of the key."""
    if commune is None or commune not in reference.centroids:
        return math.nan, math.nan, "none"
    from rapidfuzz import fuzz, process

    best = process.extractOne(street, reference.street_keys.get(commune, []), scorer=fuzz.ratio, score_cutoff=80)
    found = best[0] if street and best else None
    if found is None:
        return (*reference.centroids[commune], "commune")
    on_street = reference.points[(commune, reference.types[(commune, found)][0], found)]
    hits = [(x, y) for n, x, y in on_street if number is not None and n == number]
    return (*hits[0], "number") if hits else (*on_street[len(on_street) // 2][1:], "street")


def _last_on_tie(key, streets, cutoff=80.0, similarity=None):
    """find_street() with '>=': the last of equal scores wins."""
    from rapidfuzz import fuzz

    similarity = similarity or fuzz.ratio
    best, top = None, -1.0
    for street in streets if key else []:
        if similarity(key, street) >= top:
            best, top = street, float(similarity(key, street))
    return (best, top) if best is not None and top >= cutoff else (None, 0.0)


A2_WRONG = {
    # q1: full words not turned into codes
    "type-codes-only": (a2.q1, {"normalise_type": lambda text: text.upper() if isinstance(text, str) and
                                text.upper() in ("RUE", "PL") else "", "normalise_street": lambda name: ""},
                        "normalise_type('Avenue') returned '', expected 'AV' (a full word gives its code"),
    # q2: no cutoff at all
    "no-cutoff": (a2.q2, {"find_street": lambda key, streets, cutoff=80.0, similarity=None: (
                      max(streets, key=lambda s: a2_fuzz_ratio(key, s)), a2_fuzz_ratio(key, max(
                          streets, key=lambda s: a2_fuzz_ratio(key, s)))) if key and streets else (None, 0.0)},
                  "find_street('PONT', ['EGLISE', 'GARE', 'GARENNE', 'MOULIN', 'PONT NEUF']) returned "
                  "('PONT NEUF', 61.53846153846154), expected (None, 0.0)"),
    # q2: the last of equal scores
    "last-on-tie": (a2.q2, {"find_street": _last_on_tie}, "the first street of the list wins"),
    # q3: the declared type ignored
    "type-ignored": (a2.q3, {"find_street": lambda key, streets, cutoff=80.0, similarity=None: (key, 100.0),  # unused
                             "geocode": _first_type_always},
                     "geocode(2, 'RUE', 'FOUR', '00001', reference) returned (110.0, 10.0, 'number'), expected "
                     "(500.0, 50.0, 'number') (the RUE's number 2)"),
    # q4: an exponential score, 1/e at `scale` metres
    "exp-score": (a2.q4, {"distance": lambda a, b: math.hypot(a[0] - b[0], a[1] - b[1]),
                          "distance_score": lambda d, scale=100.0: 0.0 if d != d else math.exp(-d / scale)},
                  "distance_score(100) returned 0.3679, expected 0.5 (one half at `scale` metres"),
    # q5: ties kept in the candidates' order rather than by row
    "ties-by-order": (a2.q5, {"rank_by_distance": lambda point, candidates, k=10: [
                          row for row, x, y in sorted(candidates, key=lambda c: math.hypot(c[1] - point[0],
                                                                                          c[2] - point[1]))][:k],
                              "share_within": lambda distances, radius=100.0: 0.0},
                      "rank_by_distance((0.0, 0.0), candidates, 3) returned [2, 8, 3], expected [2, 3, 6]"),
    # q5: NaN counted as within (`not d > radius`)
    "nan-within": (a2.q5, {"rank_by_distance": lambda point, candidates, k=10: [] if point[0] != point[0] else [
                       row for _, row in sorted((math.hypot(x - point[0], y - point[1]), row)
                                                for row, x, y in candidates)][:k],
                           "share_within": lambda distances, radius=100.0: (
                               sum(not d > radius for d in distances) / len(distances) if distances else 0.0)},
                   "share_within([5.0, nan, 300.0, 20.0]) returned 0.75, expected 0.5 (a NaN (not placed) counts"),
}


def a2_fuzz_ratio(a: str, b: str) -> float:
    from rapidfuzz import fuzz

    return float(fuzz.ratio(a, b))


@pytest.mark.parametrize("case", list(A2_WRONG), ids=list(A2_WRONG))
def test_a2_a_wrong_answer_names_the_example_the_result_and_the_rule(case, capsys):
    """Does a wrong a2 answer get one 'incorrect' line with the failing input, what came back and what was expected?"""
    question, namespace, expected = A2_WRONG[case]
    question.check(namespace)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith(f"✗ {question.label} incorrect: "), out
    assert expected in out, out


@pytest.mark.parametrize("question", A2_QUESTIONS, ids=lambda q: f"a2-{q.label}")
def test_a2_hint_prints_one_line(question, capsys):
    """Does each a2 hint() print one line, marked as a hint, of some substance?"""
    question.hint()
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith(f"💡 {question.label} hint: ") and len(out) > 60


def test_a2_every_answer_cell_is_followed_by_its_check_and_graded_cells_say_what_they_check():
    """Is each a2 solution cell followed by its check, does each graded cell open with a docstring question,
    and do the points add up to 50?"""
    cells = nbformat.read(A2_SOURCE, as_version=4).cells
    answer_cells = [i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(answer_cells) == len(A2_QUESTIONS)
    for i, question in zip(answer_cells, A2_QUESTIONS):
        follower = cells[i + 1]
        assert follower.cell_type == "code" and "nbgrader" not in follower.metadata
        assert follower.source.splitlines()[0] == f"{question.label}.check()"
    graded = [c for c in cells if c.metadata.get("nbgrader", {}).get("grade")]
    for cell in graded:
        first = cell.source.splitlines()[0]
        assert first.startswith('"""') and first.endswith('?"""'), cell.id
        if cell.metadata["nbgrader"]["grade_id"] in A3_PERFORMANCE:
            continue
        assert "### BEGIN HIDDEN TESTS" in cell.source and "### END HIDDEN TESTS" in cell.source, cell.id
    assert math.isclose(sum(c.metadata["nbgrader"].get("points", 0) for c in graded), 50)


# --------------------------------------------------------------------------------------------
# a3_learning: activity, pair features, matcher, threshold, submission
# --------------------------------------------------------------------------------------------

from datathon.checks import a3  # noqa: E402

A3_SOURCE = ROOT / "solutions" / "sirene" / "a3_learning" / "a3_learning.ipynb"
A3_STARTER = ROOT / "starter_notebooks" / "sirene" / "a3_learning" / "a3_learning.ipynb"
A3_QUESTIONS = [a3.q1, a3.q2, a3.q3, a3.q4, a3.q5]
#: The graded cells whose points come from performance bands (nbgrader's partial credit).
#: Cells graded by bands inside the notebook (on training bulletins); q5-tests-bands is scored by the grader, outside
#: (datathon.bands.PERFORMANCE, tested in tests/test_bands.py).
A3_BANDED = {"q1-tests": 8, "q3-tests": 8}
A3_PERFORMANCE = {p.cell for p in PERFORMANCE if p.assignment == "a3_learning"}


def a3_answers(path: Path) -> dict:
    """A namespace holding the a3 notebook's answer cells, executed after the imports of its setup cell."""
    import inspect
    import re
    import warnings

    import numpy as np
    from rapidfuzz import fuzz
    from rapidfuzz.process import cpdist
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    namespace = {"math": math, "re": re, "inspect": inspect, "warnings": warnings, "np": np, "pd": pd,
                 "fuzz": fuzz, "cpdist": cpdist, "TfidfVectorizer": TfidfVectorizer,
                 "LogisticRegression": LogisticRegression, "make_pipeline": make_pipeline,
                 "HistGradientBoostingClassifier": HistGradientBoostingClassifier}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            exec(compile(cell.source, f"{path.name}:{cell.id}", "exec"), namespace)  # noqa: S102
    return namespace


@pytest.fixture(scope="module")
def a3_solved() -> dict:
    return a3_answers(A3_SOURCE)


@pytest.mark.parametrize("question", A3_QUESTIONS, ids=lambda q: f"a3-{q.label}")
def test_a3_the_reference_solution_is_correct(question, a3_solved, capsys):
    """Does every a3 check print one 'correct' line for the reference solution of solutions/a3_learning?"""
    question.check(a3_solved)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith(f"✓ {question.label} correct: "), out


@pytest.mark.parametrize("question", A3_QUESTIONS, ids=lambda q: f"a3-{q.label}")
def test_a3_the_starter_is_not_attempted(question, capsys):
    """Does every a3 check say 'not attempted', naming NotImplementedError, on the starter nbgrader generated?"""
    if not A3_STARTER.exists():
        pytest.skip("no starter_notebooks/a3_learning (make starters)")
    question.check(a3_answers(A3_STARTER))
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith(f"○ {question.label} not attempted: "), out
    assert "NotImplementedError" in out


def _a3_unfitted(texts, divisions):
    """activity_classifier() that forgets to fit its pipeline."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(), LogisticRegression())


def _a3_features(fill_distance: bool = False, hard_activity: bool = False):
    """pair_features() from the reference, with the distance's NaN as 0 or the activity as 1/0 agreement."""
    def pair_features(pairs, classifier):
        import numpy as np

        from rapidfuzz import fuzz

        out = pd.DataFrame({"name_similarity": [fuzz.ratio(a, b) / 100 if a and b else 0.0 for a, b in zip(
            pairs["declared_name"], pairs["candidate_name"])]}, index=pairs.index)
        distance = np.hypot(pairs["x"] - pairs["candidate_x"], pairs["y"] - pairs["candidate_y"])
        out["distance"] = distance.fillna(0.0) if fill_distance else distance
        proba = np.asarray(classifier.predict_proba(list(pairs["declared_activity"])))
        column = {c: j for j, c in enumerate(classifier.classes_)}
        col = pairs["candidate_activity"].str[:2].map(column).fillna(-1).astype(int).to_numpy()
        if hard_activity:
            predicted = np.asarray(classifier.predict(list(pairs["declared_activity"])))
            out["activity_agreement"] = (predicted == pairs["candidate_activity"].str[:2].to_numpy()).astype(float)
        else:
            out["activity_agreement"] = np.where(col >= 0, proba[np.arange(len(pairs)), np.maximum(col, 0)], 0.0)
        return out
    return pair_features


def _a3_logistic(features, is_employer):
    """train_matcher() with a logistic regression fed NaN."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression().fit(features, is_employer)


def _a3_first_failure(scores, correct, precision):
    """choose_threshold() that stops at the first threshold below the precision."""
    pairs = sorted(zip(scores, correct), reverse=True)
    best, right = float("inf"), 0
    for kept, (score, ok) in enumerate(pairs, start=1):
        right += ok
        if right < precision * kept:
            break
        best = score
    return best


def _a3_split_ties(scores, correct, precision):
    """choose_threshold() that ignores equal scores."""
    pairs = sorted(zip(scores, correct), reverse=True)
    best, right = float("inf"), 0
    for kept, (score, ok) in enumerate(pairs, start=1):
        right += ok
        if right >= precision * kept:
            best = score
    return best


def _a3_submission(probability_as_score: bool = False, every_bulletin: bool = True):
    """make_submission() scoring rank 1 by its probability, or forgetting bulletins without candidates."""
    def make_submission(top, bulletins, threshold):
        first = top[top["rank"] == 1].set_index("CABBI")
        cabbi = list(bulletins["CABBI"]) if every_bulletin else list(first.index)
        score = first["probability" if probability_as_score else "confidence"].reindex(cabbi).fillna(0.0)
        siret = first["siret"].reindex(cabbi).where(score.to_numpy() >= threshold)
        lines = pd.DataFrame({"CABBI": cabbi, "siret": siret.to_numpy(), "rank": 1, "score": score.to_numpy()})
        others = top[top["rank"] > 1].assign(score=lambda t: t["probability"])[["CABBI", "siret", "rank", "score"]]
        return pd.concat([lines, others], ignore_index=True)
    return make_submission


A3_WRONG = {
    "unfitted": (a3.q1, {"activity_classifier": _a3_unfitted}, "missing: classes_"),
    "distance-zero": (a3.q2, {"pair_features": _a3_features(fill_distance=True)},
                      "expected NaN: the distance is unknown (not 0"),
    "activity-hard": (a3.q2, {"pair_features": _a3_features(hard_activity=True)},
                      "expected 0.9 ('GARAGE' is division 45 at 90 %"),
    "logistic-nan": (a3.q3, {"train_matcher": _a3_logistic},
                     "raised ValueError: Input X contains NaN: the features hold missing values"),
    "first-failure": (a3.q4, {"choose_threshold": _a3_first_failure},
                      "returned 0.8, expected 0.6 (keeping all four"),
    "split-ties": (a3.q4, {"choose_threshold": _a3_split_ties},
                   "returned 0.7, expected 0.9 (the two codings at 0.7 go together"),
    "probability-score": (a3.q5, {"make_submission": _a3_submission(probability_as_score=True)},
                          "X's rank 1 with siret '30000000000011' and score 0.9, expected siret 30000000000011 and "
                          "score 0.75"),
    "no-candidate-forgotten": (a3.q5, {"make_submission": _a3_submission(every_bulletin=False)},
                               "rank-1 lines for ['W', 'X', 'Y']"),
}


@pytest.mark.parametrize("case", list(A3_WRONG), ids=list(A3_WRONG))
def test_a3_a_wrong_answer_names_the_example_the_result_and_the_rule(case, capsys):
    """Does a wrong a3 answer get one 'incorrect' line with the failing input, what came back and what was expected?"""
    question, namespace, expected = A3_WRONG[case]
    question.check(namespace)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith(f"✗ {question.label} incorrect: "), out
    assert expected in out, out


def test_a3_pair_features_must_not_modify_the_pairs(a3_solved):
    """Does q2 say so when pair_features() writes its features into the pairs it was given?"""
    def pair_features(pairs, classifier):
        pairs["name_similarity"] = 1.0
        return a3_solved["pair_features"](pairs.drop(columns="name_similarity"), classifier)

    feedback = a3.q2.feedback({"pair_features": pair_features})
    assert feedback.status == INCORRECT and "must not modify the pairs" in feedback.message


@pytest.mark.parametrize("question", A3_QUESTIONS, ids=lambda q: f"a3-{q.label}")
def test_a3_hint_prints_one_line(question, capsys):
    """Does each a3 hint() print one line, marked as a hint, of some substance?"""
    question.hint()
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith(f"💡 {question.label} hint: ") and len(out) > 60


def test_a3_every_answer_cell_is_followed_by_its_check_and_graded_cells_say_what_they_check():
    """Is each a3 solution cell followed by its check, does each graded cell open with a docstring question and
    hold hidden tests (but the performance cell, scored outside the notebook), and do the points add up to 50?"""
    cells = nbformat.read(A3_SOURCE, as_version=4).cells
    answer_cells = [i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(answer_cells) == len(A3_QUESTIONS)
    for i, question in zip(answer_cells, A3_QUESTIONS):
        follower = cells[i + 1]
        assert follower.cell_type == "code" and "nbgrader" not in follower.metadata
        assert follower.source.splitlines()[0] == f"{question.label}.check()"
    graded = [c for c in cells if c.metadata.get("nbgrader", {}).get("grade")]
    for cell in graded:
        first = cell.source.splitlines()[0]
        assert first.startswith('"""') and first.endswith('?"""'), cell.id
        if cell.metadata["nbgrader"]["grade_id"] in A3_PERFORMANCE:
            continue
        assert "### BEGIN HIDDEN TESTS" in cell.source and "### END HIDDEN TESTS" in cell.source, cell.id
    assert math.isclose(sum(c.metadata["nbgrader"].get("points", 0) for c in graded), 50)


def test_a3_banded_cells_end_with_their_points_and_their_bands_add_up_to_the_cell():
    """Does each banded a3 test cell end with an expression (nbgrader's partial credit is the cell's value), and do
    its bands' best points add up to the cell's points?"""
    import ast

    cells = {c.id: c for c in nbformat.read(A3_SOURCE, as_version=4).cells}
    for cell_id, points in A3_BANDED.items():
        cell = cells[cell_id]
        assert cell.metadata["nbgrader"]["points"] == points
        tree = ast.parse(cell.source)
        assert isinstance(tree.body[-1], ast.Expr), f"{cell_id}: the last statement must be the points earned"
        lists = [node for node in ast.walk(tree) if isinstance(node, ast.List) and node.elts
                 and all(isinstance(e, ast.Call) and getattr(e.func, "id", "") == "Band" for e in node.elts)]
        best = sum(max(ast.literal_eval(e.args[1]) for e in node.elts) for node in lists)
        assert lists and best == points, f"{cell_id}: bands worth {best} points, the cell {points}"


def test_a3_partial_credit_is_what_nbgrader_reads_from_a_banded_cell():
    """Does nbgrader grade a banded cell by its value (partial credit), and give nothing when it writes to stderr?"""
    from nbformat.v4 import new_code_cell, new_output
    from nbgrader.utils import determine_grade

    grading = {"grade": True, "grade_id": "q5-tests-bands", "locked": True, "points": 14, "schema_version": 3,
               "solution": False, "task": False}
    cell = new_code_cell("earned.points", metadata={"nbgrader": grading}, outputs=[
        new_output("stream", name="stdout", text="success rate 52.0% → 5 points; coverage ...\n"),
        new_output("execute_result", data={"text/plain": "10.0"}, execution_count=1)])
    assert determine_grade(cell) == (10.0, 14.0)
    cell.outputs.insert(0, new_output("stream", name="stderr", text="a warning\n"))
    assert determine_grade(cell) == (0, 14.0)


# --------------------------------------------------------------------------------------------
# Every mistake, solutions, and locked cells that run the student's code (issue 14)
# --------------------------------------------------------------------------------------------


def _double_check(double):
    for x, wanted in ((1, 2), (2, 4), (3, 6), (4, 8), (5, 10)):
        got = checks.call(double, x)
        checks.expect(got == wanted, double, [x], got, str(wanted))
    return "double() doubles."


def test_a_check_reports_every_failing_example_not_only_the_first():
    """Does one verdict list each failing example (the first MAX_MISTAKES in full, the rest counted),
    numbered, on one line — and say correct when none fails?"""
    q = checks.Question("qx", ["double"], _double_check, "multiply by two")
    two_wrong = q.feedback({"double": lambda x: x * 2 if x < 4 else x})
    assert two_wrong.status == checks.INCORRECT
    assert two_wrong.message.startswith("2 examples fail: (1) double(4) returned 4, expected 8; (2) double(5)")
    all_wrong = q.feedback({"double": lambda x: -1}).message
    assert f"({checks.MAX_MISTAKES}) double(3)" in all_wrong and all_wrong.endswith("and 2 more")
    one_wrong = q.feedback({"double": lambda x: 9 if x == 2 else 2 * x}).message
    assert one_wrong == "double(2) returned 9, expected 4"
    assert q.feedback({"double": lambda x: 2 * x}).status == checks.CORRECT


def test_a_mistake_followed_by_a_crash_keeps_the_mistakes():
    """When an answer fails an example and then raises on the next, are both reported (not 'not attempted')?"""
    q = checks.Question("qx", ["double"], _double_check, "multiply by two")
    feedback = q.feedback({"double": lambda x: 3 if x == 1 else 1 / 0})
    assert feedback.status == checks.INCORRECT
    assert "(1) double(1) returned 3" in feedback.message and "ZeroDivisionError" in feedback.message


def test_solution_prints_the_kept_solution_or_says_the_question_is_graded(capsys):
    """Does solution() print the solution a question keeps, and refuse politely for a graded question?"""
    checks.Question("ex1", ["double"], _double_check, "hint", solution="def double(x):\n    return 2 * x").solution()
    assert capsys.readouterr().out == "📖 ex1 solution:\ndef double(x):\n    return 2 * x\n"
    checks.Question("q1", ["double"], _double_check, "hint").solution()
    assert "graded" in capsys.readouterr().out


def test_student_code_turns_the_students_errors_into_one_line_and_lets_the_kits_through(capsys):
    """Does `with student_code(label)` print one line for NotImplementedError, NameError and an error raised
    in a function defined in a notebook cell, and let an error of the kit's own code propagate?"""
    namespace: dict = {}
    exec(compile("def answer(x):\n    y = 1\n    return x / 0\n", "/tmp/ipykernel_1/abc.py", "exec"), namespace)
    with checks.student_code("q5"):
        namespace["answer"](1)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("✗ q5 incorrect: your answer() raised ZeroDivisionError at its line 2")
    with checks.student_code("q5"):
        raise NotImplementedError()
    assert capsys.readouterr().out.startswith("○ q5 not attempted: this cell did not run")
    with checks.student_code("q5"):
        undefined_name  # noqa: F821 - the point of the test
    assert "answer the earlier questions first" in capsys.readouterr().out
    with pytest.raises(ZeroDivisionError):
        with checks.student_code("q5"):
            1 / 0


STARTERS = sorted((Path(__file__).resolve().parents[1] / "starter_notebooks" / "sirene").glob("*/*.ipynb"))


@pytest.mark.parametrize("starter", STARTERS, ids=lambda p: p.stem)
def test_a_starter_runs_all_past_its_unanswered_questions(starter):
    """In each generated starter, is every graded test cell tagged raises-exception (Jupyter's Run All and nbval
    go past it) and every other cell that uses a student's function wrapped in student_code (one line, not a
    traceback) — so that an unanswered question never stops Run All?"""
    nb = nbformat.read(starter, as_version=4)
    answers = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]
    student = {name for c in answers for name in re.findall(r"^\s*def (\w+)", c.source, flags=re.M)}
    assert answers and all("NotImplementedError" in c.source for c in answers)
    for cell in nb.cells:
        grading = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or grading.get("solution"):
            continue
        if grading.get("grade"):
            assert "raises-exception" in cell.metadata.get("tags", []), f"{starter.stem}: {grading['grade_id']}"
        elif ".check()" not in cell.source and any(re.search(rf"\b{n}\b", cell.source) for n in student):
            assert "with student_code(" in cell.source, f"{starter.stem}: {grading.get('grade_id')} is unguarded"

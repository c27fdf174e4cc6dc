"""The pandas/scikit-learn refresher (course/sirene/00b_tools.ipynb) and its exercises
(datathon/challenges/sirene/checks/tools.py).

Each check must accept its own solution, refuse a wrong answer naming the failing example, explain
the plausible mistakes it was written for, and call a stub "not attempted"; the lesson must hold its
exercises as stubs (never a solution line), open with its card, end with a recap and a three-question
quiz, and collapse its three plumbing cells.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from datathon import checks
from datathon.challenges.sirene.checks import tools

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "course" / "sirene" / "00b_tools.ipynb"
QUESTIONS = tools.EXERCISES["00b_tools"]


def _solution_namespace(question: checks.Question) -> dict:
    namespace: dict = {}
    exec(question._solution, namespace)  # noqa: S102 - the module's own solution text
    return namespace


def _cells() -> list[dict]:
    return json.loads(LESSON.read_text(encoding="utf-8"))["cells"]


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.label)
def test_the_check_accepts_the_solution_it_keeps(question):
    """Does solution()'s text, run, pass its own check (so a student who copies it sees ✓)?"""
    feedback = question.feedback(_solution_namespace(question))
    assert feedback.status == checks.CORRECT, feedback.line


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.label)
def test_the_check_refuses_a_wrong_answer_with_the_failing_example(question):
    """Is an answer that returns the wrong thing incorrect, naming the call (short, not a frame's repr) and what
    was expected?"""
    feedback = question.feedback({name: (lambda *args, **kwargs: "wrong") for name in question.names})
    assert feedback.status == checks.INCORRECT
    assert "returned 'wrong', expected" in feedback.message and f"{question.names[0]}(" in feedback.message


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.label)
def test_a_stub_a_missing_function_or_a_crash_is_reported_in_one_short_line(question):
    """Is the lesson's stub (returning None) and an undefined name 'not attempted', and a crash 'incorrect',
    each naming the call with short arguments rather than a whole frame?"""
    stub = question.feedback({n: (lambda *args, **kwargs: None) for n in question.names})
    assert stub.status == checks.NOT_ATTEMPTED and "returned None" in stub.message
    assert question.feedback({}).status == checks.NOT_ATTEMPTED

    def crash(*args, **kwargs):
        raise KeyError("RS_X")

    crashed = question.feedback({n: crash for n in question.names})
    assert crashed.status == checks.INCORRECT and "raised KeyError" in crashed.message
    for line in (stub.line, crashed.line):
        assert len(line) < 200 and "dtype" not in line, line


def test_plausible_mistakes_are_explained():
    """Are the classic mistakes caught with their reason: ties left in value_counts' order, a case-sensitive
    str.contains, and an inner merge that drops bulletins?"""
    by_count_only = tools.ex00b_1.feedback({"top_divisions": lambda register, n: register[
        "activitePrincipaleEtablissement"].str[:2].value_counts().head(n).index.tolist()})
    assert by_count_only.status == checks.INCORRECT and "ties by code" in by_count_only.message

    case_sensitive = tools.ex00b_2.feedback({"name_mentions": lambda bulletins, word: float(
        bulletins["RS_X"].str.contains(word, na=False).astype(bool).mean())})
    assert case_sensitive.status == checks.INCORRECT and "case" in case_sensitive.message

    inner = tools.ex00b_3.feedback({"employer_activity": lambda bulletins, register: bulletins.merge(
        register, left_on="SIRET_DEC", right_on="siret")["activitePrincipaleEtablissement"]})
    assert inner.status == checks.INCORRECT and "keeps every bulletin" in inner.message


def test_a_student_function_that_alters_its_frames_does_not_spoil_the_next_examples():
    """Does each example get fresh frames, so that an answer which drops rows in place is still judged right?"""
    def top_divisions(register, n):
        counts = register["activitePrincipaleEtablissement"].str[:2].value_counts()
        answer = sorted(counts.index, key=lambda division: (-counts[division], division))[:n]
        register.loc[register.index[0], "activitePrincipaleEtablissement"] = "99.99Z"  # a side effect
        return answer

    feedback = tools.ex00b_1.feedback({"top_divisions": top_divisions})
    assert feedback.status == checks.CORRECT, feedback.line
    assert tools._REGISTER["activitePrincipaleEtablissement"].iloc[0] == "56.10A"


def test_the_lesson_holds_its_exercises_as_stubs_without_their_solution():
    """Does the lesson import its exercises, call check(), hint() and solution() for each, define each function
    as a stub, and hold no line of any solution?"""
    code = "\n".join("".join(c["source"]) for c in _cells() if c["cell_type"] == "code")
    assert "from datathon.challenges.sirene.checks.tools import ex00b_1, ex00b_2, ex00b_3" in code
    assert 2 <= len(QUESTIONS) <= 4
    for question in QUESTIONS:
        for call in ("check", "hint", "solution"):
            assert f"{question.label}.{call}()" in code
        assert f"def {question.names[0]}(" in code
        for line in question._solution.strip().splitlines()[1:]:  # the def line is the stub's too
            assert line.strip() not in code, f"the lesson holds the solution line {line.strip()!r}"


def test_the_lesson_opens_with_its_card_and_ends_with_a_recap_and_a_quiz():
    """Does the lesson open with a title and its card (purpose, objectives, prerequisites, time, a link to the
    glossary), end with a recap and three collapsed answers, and collapse its three plumbing cells?"""
    cells = _cells()
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).startswith("# 00b · ")
    card = "".join(cells[1]["source"])
    for part in ("**Purpose.**", "**By the end of this lesson you can:**", "**Prerequisites.**", "**Time.**",
                 "(../../docs/glossary.md)"):
        assert part in card
    assert (ROOT / "docs" / "glossary.md").is_file()
    recap = next("".join(c["source"]) for c in cells if c.get("id") == "recap")
    assert "## Recap" in recap and recap.count("<details><summary>Answer</summary>") == 3
    plumbing = [c for c in cells if "plumbing" in c["metadata"].get("tags", [])]
    assert [c.get("id") for c in plumbing] == ["parameters", "environment", "record"]
    assert cells[2] is plumbing[0] and "parameters" in plumbing[0]["metadata"]["tags"]
    assert "data_dir = None" in "".join(plumbing[0]["source"])
    assert "check_environment(data_dir" in "".join(plumbing[1]["source"])
    assert "record_metrics(" in "".join(plumbing[2]["source"])
    for cell in plumbing:
        assert cell["metadata"]["jupyter"]["source_hidden"] is True
        assert {"hide-input", "remove-input"} & set(cell["metadata"]["tags"])


def test_the_check_frames_are_typed_like_the_loaded_data():
    """Are the checks' toy frames typed as datathon.data.load types text (pandas string, <NA> for a blank), so that
    an answer right on the real data is right on them?"""
    assert tools._NAMES["RS_X"].dtype == pd.StringDtype() and tools._NAMES["RS_X"].isna().any()
    assert tools._BULLETINS["SIRET_DEC"].dtype == pd.StringDtype()

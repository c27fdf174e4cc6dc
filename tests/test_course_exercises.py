"""The exercises of Sirene's course (datathon/challenges/sirene/checks/course.py) and their place in the lessons.

Each exercise's check must accept its own solution, refuse a wrong answer saying which example fails and
what was expected, and call a stub that returns None "not attempted"; each lesson must hold its exercises
as stubs (never the solution) with the check, hint and solution calls next to them.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from datathon import checks
from datathon.challenges.sirene.checks import course

ROOT = Path(__file__).resolve().parents[1]
ALL = [q for questions in course.EXERCISES.values() for q in questions]


def _solution_namespace(question: checks.Question) -> dict:
    namespace: dict = {}
    exec(question._solution, namespace)  # noqa: S102 - the module's own solution text
    return namespace


@pytest.mark.parametrize("question", ALL, ids=lambda q: q.label)
def test_the_check_accepts_the_solution_it_keeps(question):
    """Does solution()'s text, run, pass its own check (so a student who copies it sees ✓)?"""
    feedback = question.feedback(_solution_namespace(question))
    assert feedback.status == checks.CORRECT, feedback.line


@pytest.mark.parametrize("question", ALL, ids=lambda q: q.label)
def test_the_check_refuses_a_wrong_answer_with_the_failing_example(question):
    """Is an answer that returns the wrong thing incorrect, with the call, what came back and what was expected?"""
    wrong = {name: (lambda *args, **kwargs: "wrong") for name in question.names}
    feedback = question.feedback(wrong)
    assert feedback.status == checks.INCORRECT
    assert "returned 'wrong', expected" in feedback.message and f"{question.names[0]}(" in feedback.message


@pytest.mark.parametrize("question", ALL, ids=lambda q: q.label)
def test_a_stub_or_a_missing_function_is_not_attempted(question):
    """Is the lesson's stub (a function returning None) and an undefined name 'not attempted', not a mistake?"""
    assert question.feedback({n: (lambda *args, **kwargs: None) for n in question.names}).status == checks.NOT_ATTEMPTED
    assert question.feedback({}).status == checks.NOT_ATTEMPTED


def test_a_plausible_mistake_is_explained():
    """Does the success-rate check catch the classic mistake (right / coded instead of right / all) and say why?"""
    feedback = course.ex00_1.feedback({"success_rate": lambda coded, truth: sum(
        c == t for c, t in zip(coded, truth) if c is not None) / max(1, sum(c is not None for c in coded))})
    assert feedback.status == checks.INCORRECT
    assert "right / all bulletins, not right / coded" in feedback.message


@pytest.mark.parametrize("lesson", sorted(course.EXERCISES))
def test_each_lesson_holds_its_exercises_as_stubs_without_their_solution(lesson):
    """Does each course notebook import its exercises, call check(), hint() and solution() for each, define
    the asked function as a stub, and hold none of the solutions' code?"""
    cells = json.loads((ROOT / "course" / "sirene" / f"{lesson}.ipynb").read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    questions = course.EXERCISES[lesson]
    assert 2 <= len(questions) <= 4
    for question in questions:
        assert f"{question.label}.check()" in code and f"{question.label}.hint()" in code
        assert f"{question.label}.solution()" in code
        assert f"def {question.names[0]}(" in code
        body = question._solution.strip().splitlines()[-1].strip()
        assert body not in code, f"{lesson} holds the solution line {body!r} of {question.label}"


@pytest.mark.parametrize("lesson", sorted(course.EXERCISES))
def test_each_lesson_opens_with_its_card_and_ends_with_a_recap_and_a_three_question_quiz(lesson):
    """Does each lesson open (after its title) with purpose, objectives, prerequisites and a time estimate, end
    with a recap and three self-check questions whose answers are collapsed, and collapse its plumbing cells
    (parameters, environment check, metrics record) with tags a site builder reads?"""
    cells = json.loads((ROOT / "course" / "sirene" / f"{lesson}.ipynb").read_text(encoding="utf-8"))["cells"]
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).startswith("# ")
    card = "".join(cells[1]["source"])
    for part in ("**Purpose.**", "**By the end of this lesson you can:**", "**Prerequisites.**", "**Time.**"):
        assert part in card, f"{lesson}: the opening lacks {part}"
    recap = next("".join(c["source"]) for c in cells if c.get("id") == "recap")
    assert "## Recap" in recap and recap.count("<details><summary>Answer</summary>") == 3
    plumbing = [c for c in cells if "plumbing" in c["metadata"].get("tags", [])]
    assert len(plumbing) == 3, f"{lesson}: parameters, environment and record cells are the plumbing"
    for cell in plumbing:
        assert cell["metadata"]["jupyter"]["source_hidden"] is True
        assert {"hide-input", "remove-input"} & set(cell["metadata"]["tags"])
    sources = ["".join(c["source"]) for c in plumbing]
    assert "parameters" in plumbing[0]["metadata"]["tags"] and "check_environment(" in sources[1]
    assert "record_metrics(" in sources[2]


def test_the_scale_lesson_is_titled_in_english():
    """Is 06_scale's title English (the French term may follow in italics, not lead)?"""
    title = json.loads((ROOT / "course" / "sirene" / "06_scale.ipynb").read_text(encoding="utf-8"))["cells"][0]
    assert "".join(title["source"]).startswith("# 06 · Scaling up")

"""No figure about the data is typed into the Markdown of a course or solution notebook.

Prose says what to look for; the numbers come from cells (a printed sentence, a table, a labelled
plot) or from an ``assert`` that nbval runs, so they cannot go stale when the data change. This
test scans every Markdown cell of ``course/`` and ``solutions/`` for the shapes a typed figure
takes — a percentage, "two in three", "about N", thousands, a fraction in words ("a third",
"most of the bulletins") or a count of data objects ("300 codings") — and fails on any that is
not in the documented allow-list below:

- facts about the real world, generated from :data:`datathon.course.REAL` (44–45 %, 1.7 M, 70
  people × 5 months...);
- the rules of the event and settings of the method, which are choices, not measures (a precision
  target, a grading band, the size of a top-k);
- hand-worked arithmetic on a toy example, written ``a / b = x %`` (checked here to be right);
- a lesson's time estimate ("**Time.** About 40 minutes");
- section numbers, NAF codes, years, assignment and question names (never matched: the patterns
  do not take them, and numbered headings and list markers are stripped first).

Code spans, fenced code and LaTeX are not prose and are not scanned.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from datathon.course import REAL

ROOT = Path(__file__).resolve().parents[1]
#: The challenges whose lessons are held to this rule. Sirene's real figures are ``datathon.course.REAL``;
#: a challenge joins once its prose is clean and its real-world figures have an allow-list of their own.
CHALLENGES = ("sirene",)
NOTEBOOKS = sorted(p for c in CHALLENGES
                   for p in [*ROOT.glob(f"course/{c}/*.ipynb"), *ROOT.glob(f"solutions/{c}/*/*.ipynb")])
#: The course as it was before issue 14: each of its listed contradictions must be caught.
STALE_FIXTURE = ROOT / "tests" / "fixtures" / "course_prose_stale.ipynb"

_NUMBER_WORD = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|\d+)"
_DATA_NOUNS = (r"bulletins?|establishments?|codings?|candidates?|communes?|rows?|legal units?|SIRETs?|"
               r"names?|addresses|streets?|sources|features|mistakes|errors|pairs|points")
#: What a figure typed into prose looks like, by kind.
PATTERNS: dict[str, re.Pattern] = {
    "percentage": re.compile(r"\d+(?:[.,]\d+)?\s*(?:[–-]\s*\d+(?:[.,]\d+)?\s*)?%|\bper ?cent\b", re.I),
    "x in y": re.compile(rf"\b{_NUMBER_WORD}\s+(?:\w+\s+)?(?:in|out of)\s+(?:{_NUMBER_WORD}|a hundred)\b"
                         r"|\b(?:nine|eight|seven|six|five|four|three|two|one) times in\b", re.I),
    "about N": re.compile(r"\b(?:about|around|roughly|nearly|almost|approximately|some|over|under|more than|"
                          r"less than|fewer than|close to|just over|just under)\s+(?:\d|a (?:hundred|thousand|"
                          r"dozen|few dozen)|half|a (?:third|quarter|half|fifth|tenth))", re.I),
    "thousands": re.compile(r"\b\d{1,3}(?:[,  ]\d{3})+\b|\b\d+(?:\.\d+)?\s*(?:k|M|thousand|million)\b"
                            r"|\b(?:a few dozen|dozens of|hundreds of|thousands of)\b"),
    "fraction": re.compile(r"\b(?:a|one|two|three)\s+(?:half|third|thirds|quarter|quarters|fifth|tenth)\b"
                           r"|\bhalf (?:of|the)\b|\bmost (?:of )?(?:the |its |these |their )?(?:" + _DATA_NOUNS + r")\b"
                           r"|\bmost of (?:the|them|these|its)\b|\b(?:nearly|almost) (?:all|every|never|always|none)\b"
                           r"|\b(?:majority|minority)\b", re.I),
    "count": re.compile(rf"(?<![\d.])\d[\d,]*\s+(?:{_DATA_NOUNS})\b", re.I),
    "comparison": re.compile(r"\b(?:more|less) often (?:than|\*\*)|\b(?:about |roughly )?as many (?:\w+ ){0,2}as\b"
                             r"|\bno source proposes\b", re.I),
}


def _real_world_figures() -> list[str]:
    """The real figures the prose may quote, spelled as the course spells them, from ``REAL``."""
    pct = lambda share, digits=0: f"{share * 100:.{digits}f} %"  # noqa: E731
    figures = [
        f"{REAL.mca_auto_low * 100:.0f}–{REAL.mca_auto_high * 100:.0f} %",
        f"{REAL.bulletins / 1e6:.1f} M", f"{REAL.bulletins / 1e6:.1f} million",
        f"{REAL.register_extract / 1e6:.1f} M", f"{REAL.register_extract / 1e6:.1f} million",
        f"{REAL.coders} people", f"{REAL.coding_months} months",
        pct(REAL.prototype_auto), pct(REAL.prototype_precision), pct(REAL.mca_precision),
        pct(REAL.mca_auto_high), pct(REAL.mca_auto_high * REAL.mca_precision),
    ]
    figures += [pct(share, digits) for _, share in REAL.recoding_disagreement for digits in (0, 1)]
    return figures


#: Phrases that hold a number but are not a measure of the data, each with why it may stay.
ALLOWED: list[tuple[str, str]] = [
    *[(re.escape(f), "a real-world figure from datathon.course.REAL") for f in _real_world_figures()],
    (r"\b(?:90|95)\s*%", "the precision targets of the evaluation (coverage at 95 %) and of the lessons (90 %)"),
    (r"\b\d+ points from\s+\d+\s*%(?:,\s+\d+\s+from\s+\d+\s*%)*", "a grading band (the rules)"),
    (r"\(\d+ points\)|\*\*\d+ points\*\*|\b\d+ points (?:if|by|whose)\b", "the points of a graded question"),
    (r"\brank-\d+\b", "a rank, not a count"),
    (r"\*\*Time\.\*\* About \d+ minutes", "a lesson's time estimate, not a measure of the data"),
    (r"\b\d+ / \d+ = \d+(?:\.\d+)?\s*%", "hand arithmetic on a toy example, checked by this test"),
    (r"\bMCA's level\b", "names a level, gives no figure"),
]
_ALLOWED = [re.compile(p) for p, _ in ALLOWED]


@dataclass(frozen=True)
class TypedFigure:
    notebook: str
    cell: int
    kind: str
    text: str
    context: str

    def __str__(self) -> str:
        return f"{self.notebook} cell {self.cell}: {self.kind} {self.text!r} in “…{self.context}…”"


def prose(markdown: str) -> str:
    """The Markdown a reader reads as sentences: no code, no LaTeX, no HTML comments, no numbering."""
    text = re.sub(r"```.*?```|`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]*\$|<!--.*?-->", " ", markdown, flags=re.S)
    # "## 4. Communes", "### 4.1 Names", "1. The census": numbering, not figures.
    text = re.sub(r"(?m)^(\s*#+\s*)\d+(?:\.\d+)*\.?\s", r"\1", text)
    return re.sub(r"(?m)^(\s*)\d+\.\s", r"\1", text)


def typed_figures(notebook: Path) -> list[TypedFigure]:
    """Every figure typed into ``notebook``'s Markdown that the allow-list does not cover."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    found = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        text = prose("".join(cell["source"]))
        allowed = [m.span() for pattern in _ALLOWED for m in pattern.finditer(text)]
        for kind, pattern in PATTERNS.items():
            for match in pattern.finditer(text):
                if any(match.start() < end and start < match.end() for start, end in allowed):
                    continue
                context = " ".join(text[max(0, match.start() - 40): match.end() + 30].split())
                found.append(TypedFigure(notebook.name, index, kind, match.group(0), context))
    return found


def test_the_scan_sees_every_notebook_of_the_course_and_the_solutions():
    """Does the scan cover the seven lessons and the four assignment sources (a glob that finds nothing passes)?"""
    names = {p.stem for p in NOTEBOOKS}
    assert {"00_challenge", "03_places", "06_scale", "a1_names", "a3_learning", "challenge"} <= names
    assert len(NOTEBOOKS) >= 11


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_figure_about_the_data_is_typed_into_the_prose(notebook):
    """Does this notebook's Markdown hold no percentage, "x in y", "about N", thousands, fraction in
    words or count of data objects outside the allow-list (the figure must come from a cell)?"""
    figures = typed_figures(notebook)
    assert not figures, "figures typed into prose (compute and print them instead):\n" + "\n".join(map(str, figures))


ORIGINAL_CONTRADICTIONS = [
    ("03_places", "two bulletins in three"),
    ("03_places", "more often"),
    ("03_places", "three bulletins in four"),
    ("03_places", "about as many"),
    ("03_places", "a quarter to a third"),
    ("02_names", "about a third"),
    ("05_submit", "a few dozen codings"),
    ("04_activity_learning", "almost never"),
]


@pytest.mark.parametrize("where, phrase", ORIGINAL_CONTRADICTIONS, ids=[p for _, p in ORIGINAL_CONTRADICTIONS])
def test_the_scan_catches_each_contradiction_issue_14_listed(where, phrase):
    """Does the scan flag each stale figure of the course before issue 14 (kept in a fixture notebook)?"""
    figures = typed_figures(STALE_FIXTURE)
    cells = json.loads(STALE_FIXTURE.read_text(encoding="utf-8"))["cells"]
    holding = [i for i, c in enumerate(cells) if c["metadata"].get("from") == where and phrase in "".join(c["source"])]
    assert holding, f"the fixture lacks {phrase!r} from {where}"
    assert any(f.cell in holding for f in figures), f"{phrase!r} ({where}) was not flagged"


def test_worked_arithmetic_in_the_prose_is_right():
    """Is every "a / b = x %" the prose may hold (allowed as hand arithmetic) correct to its rounding?"""
    for notebook in [*NOTEBOOKS, STALE_FIXTURE]:
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "markdown":
                continue
            for a, b, shown in re.findall(r"\b(\d+) / (\d+) = (\d+(?:\.\d+)?)\s*%", prose("".join(cell["source"]))):
                decimals = len(shown.split(".")[1]) if "." in shown else 0
                assert f"{100 * int(a) / int(b):.{decimals}f}" == shown, f"{notebook.name}: {a} / {b} ≠ {shown} %"


def test_an_allowed_real_figure_passes_and_a_measured_one_does_not(tmp_path):
    """Is a real-world figure from REAL let through while a share of the sample typed beside it is flagged?"""
    real = _real_world_figures()[0]
    notebook = tmp_path / "n.ipynb"
    notebook.write_text(json.dumps({"cells": [{"cell_type": "markdown", "metadata": {}, "source": [
        f"MCA codes {real} of real bulletins. In the sample, 58.6 % of bulletins name the commune."]}]}))
    assert [f.text for f in typed_figures(notebook)] == ["58.6 %"]


def retrieval_sources_described(notebook: Path) -> set[str]:
    """The retrieval sources ``notebook``'s Markdown describes, as the bold names of a bullet list that
    follows the words "the union of" (how 04_activity_learning §2 lists them)."""
    described: set[str] = set()
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and "the union of" in text:
            described |= {name.lower() for name in re.findall(r"(?m)^- \*\*([^*]+)\*\*", text)}
    return described


#: How 04_activity_learning names each of the matcher's retrieval sources (datathon/challenges/sirene/matcher.py).
SOURCE_NAMES = {"from_names": "names", "from_places": "places", "from_mca": "mca", "from_siblings": "siblings",
                "from_frequent": "frequent employers", "from_activity": "activity",
                "from_temp_agency": "temp agencies", "from_departement": "département"}


def test_the_lesson_describes_every_retrieval_source_of_the_matcher():
    """Does 04_activity_learning §2 describe each source of matcher.SOURCES (it once listed six of eight),
    and did the pre-issue text indeed miss some (so that this test can fail)?"""
    from datathon.challenges.sirene.matcher import SOURCES

    assert set(SOURCE_NAMES) == set(SOURCES), "a source was added to the matcher: name it here and in the lesson"
    lesson = retrieval_sources_described(ROOT / "course" / "sirene" / "04_activity_learning.ipynb")
    missing = sorted(s for s, name in SOURCE_NAMES.items() if name not in lesson)
    assert not missing, f"04_activity_learning §2 does not describe {missing}"
    assert {"temp agencies", "département"} - retrieval_sources_described(STALE_FIXTURE)

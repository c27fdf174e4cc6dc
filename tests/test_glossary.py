"""The glossary (docs/glossary.md) explains every acronym the Sirene lessons and assignments use, and
translates every NAF section and division (datathon/challenges/sirene/glossary.py).

An acronym is a word of two or more capitals (``SIRET``, ``TF-IDF``) in a notebook's prose. Code,
LaTeX, links' targets and quoted or italic examples of declared text ("BOULANGERIE DU CENTRE",
*CAFE DE L EGLISE*) are not prose: the words there are data, not terms to explain.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from datathon.challenges.sirene import glossary
from datathon.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / glossary.GLOSSARY
NOTEBOOKS = sorted([*ROOT.glob("course/sirene/*.ipynb"), *ROOT.glob("solutions/sirene/*/*.ipynb")])

#: Acronyms the glossary leaves out, each with why: general computing words, not the challenge's terms.
IGNORED = {
    "API": "computing: application programming interface",
    "CLI": "computing: command-line interface",
    "CPU": "computing: processor",
    "CSV": "computing: a file format",
    "GB": "computing: a unit", "GIB": "computing: a unit", "MB": "computing: a unit",
    "HTML": "computing: a file format",
    "ID": "computing: identifier",
    "JSON": "computing: a file format",
    "NFS": "computing: a network file system",
    "OK": "plain English",
    "PDF": "computing: a file format",
    "RAM": "computing: memory",
    "README": "a file name",
    "URL": "computing: a web address",
    "UTF": "computing: a text encoding (UTF-8)",
}
_ACRONYM = re.compile(r"(?<![\w-])[A-Z][A-Z0-9]*[A-Z](?:-[A-Z]+)*(?![\w-])")
_NOT_PROSE = re.compile(r"```.*?```|`[^`]+`|\$\$.*?\$\$|\$[^$\n]+\$|<!--.*?-->|<[^>\n]+>|\]\([^)]*\)"
                        r"|\"[^\"\n]*\n?[^\"\n]*\"|“[^”]*”|«[^»]*»|(?<!\*)\*[^*\n]+\*(?!\*)", re.S)
#: (A quoted example may wrap onto a second line; a pair of quotes further apart is not one quotation.)


def acronyms(markdown: str) -> set[str]:
    """The acronyms of ``markdown``'s prose (code, LaTeX, HTML, link targets and quoted or italic examples removed)."""
    return set(_ACRONYM.findall(_NOT_PROSE.sub(" ", markdown)))


def glossary_terms(page: str) -> set[str]:
    """The terms the glossary defines: the bold words of each table row's first cell (``**SIREN**``)."""
    terms: set[str] = set()
    for line in page.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            first = line[2:].split(" | ", 1)[0]
            terms |= set(re.findall(r"\*\*([^*]+)\*\*", first))
    return terms


def test_the_scan_sees_the_course_and_the_assignments():
    """Does the scan cover the seven lessons and the assignment sources (a glob that finds nothing would pass)?"""
    names = {p.stem for p in NOTEBOOKS}
    assert {"00_challenge", "01_data", "06_scale", "a1_names"} <= names


def test_acronyms_are_found_in_prose_and_not_in_code_or_quoted_examples():
    """Are prose acronyms found (TF-IDF whole) while code spans, quoted declarations and italics are skipped?"""
    text = ('MCA codes a SIRET with TF-IDF. `RS_X` holds "BOULANGERIE DU CENTRE" or *CAFE DE L EGLISE* or "EDUCATION\n'
            'NATIONALE"; see [the APE](../README.md) and\n```python\nSIREN = 1\n```')
    assert acronyms(text) == {"MCA", "SIRET", "TF-IDF", "APE"}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_acronym_of_the_prose_is_in_the_glossary(notebook):
    """Is each acronym of this notebook's Markdown defined in docs/glossary.md or in the documented IGNORED list?"""
    defined = glossary_terms(GLOSSARY.read_text(encoding="utf-8")) | set(IGNORED)
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    used = set().union(*(acronyms("".join(c["source"])) for c in cells if c["cell_type"] == "markdown"))
    missing = sorted(used - defined)
    assert not missing, f"{notebook.name} uses {', '.join(missing)}: explain them in docs/glossary.md"


def test_the_glossary_defines_the_terms_the_data_dictionary_relies_on():
    """Does the glossary define the identifiers, systems and French register terms the data dictionary uses?"""
    terms = glossary_terms(GLOSSARY.read_text(encoding="utf-8"))
    assert {"SIREN", "SIRET", "NIC", "APE", "APET", "NAF", "CABBI", "MCA", "SIRUS", "RP", "INSEE", "BAN",
            "Lambert 93", "COG", "TYPCOL", "IRIS", "commune", "département", "catégorie juridique", "enseigne",
            "dénomination", "sigle", "établissement", "unité légale"} <= terms


def test_every_naf_section_and_division_has_an_english_title():
    """Do the 21 sections and 88 divisions of the shipped nomenclature all have an English title, and no title a
    code the nomenclature lacks?"""
    assert glossary.untranslated() == {}
    sections, divisions = glossary.translation("section"), glossary.translation("division")
    assert len(sections) == 21 and len(divisions) == 88
    assert sections["english"].notna().all() and divisions["english"].notna().all()
    assert divisions.set_index("code").loc["56", "english"] == "Food and beverage service activities"


def test_a_missing_title_is_reported_and_blocks_the_update(monkeypatch, tmp_path):
    """Is a division without an English title named, and does the update refuse with a one-line UserError?"""
    monkeypatch.delitem(glossary.DIVISIONS_EN, "56")
    assert glossary.untranslated() == {"division": ["56"]}
    page = tmp_path / "glossary.md"
    page.write_text(f"# G\n{glossary.START}\n{glossary.END}\n", encoding="utf-8")
    with pytest.raises(UserError, match="divisions 56"):
        glossary.update(page)


def test_the_naf_tables_of_the_glossary_are_up_to_date():
    """Do docs/glossary.md's NAF tables equal what the nomenclature and the English titles generate now?"""
    assert glossary.update(GLOSSARY, check=True) is False
    page = GLOSSARY.read_text(encoding="utf-8")
    assert "| 56 | I | Restauration | Food and beverage service activities |" in page


def test_the_update_rewrites_stale_tables_and_check_exits_2(tmp_path, capsys):
    """Does --check exit 2 on stale tables, and does the command then rewrite them (keeping the rest of the page)?"""
    page = tmp_path / "glossary.md"
    page.write_text(f"# Glossary\nbefore\n{glossary.START}\nold table\n{glossary.END}\nafter\n", encoding="utf-8")
    with pytest.raises(SystemExit) as stopped:
        glossary.main([str(page), "--check"])
    assert stopped.value.code == 2 and "out of date" in capsys.readouterr().err
    glossary.main([str(page)])
    text = page.read_text(encoding="utf-8")
    assert "old table" not in text and text.startswith("# Glossary\nbefore\n") and text.endswith("\nafter\n")
    assert "| A | Agriculture, sylviculture et pêche | Agriculture, forestry and fishing |" in text
    assert glossary.update(page) is False  # a second run changes nothing


@pytest.mark.parametrize("page", ["# no markers\n", f"{glossary.END}\n{glossary.START}\n",
                                  f"{glossary.START}\n{glossary.START}\n{glossary.END}\n"])
def test_a_page_without_its_markers_is_refused_in_one_line(tmp_path, page, capsys):
    """Does a glossary whose markers are missing, swapped or doubled give a clear error (exit 2), not a traceback?"""
    path = tmp_path / "glossary.md"
    path.write_text(page, encoding="utf-8")
    with pytest.raises(SystemExit) as stopped:
        glossary.main([str(path)])
    assert stopped.value.code == 2 and "markers" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == page  # nothing written


def test_an_unknown_level_is_a_user_error():
    """Is asking for a NAF level other than section or division a clear UserError?"""
    with pytest.raises(UserError, match="section"):
        glossary.translation("groupe")

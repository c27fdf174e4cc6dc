"""The README tells the truth: its commands exist and its figures are the measured ones."""
import json
import re

from datathon.cli import build_parser


def test_readme_quotes_the_samples_mca_figures(repo_root):
    """Are the sample's MCA coding rate and precision in the README those of its manifest?"""
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    mca = json.loads((repo_root / "data_samples" / "sirene" / "manifest.json").read_text(encoding="utf-8"))["mca"]["test"]
    row = next(line for line in readme.splitlines() if line.startswith("| replica, public sample"))
    assert f"{mca['coding_rate']:.1%}".replace("%", " %") in row
    assert f"{mca['precision']:.1%}".replace("%", " %") in row


def test_every_datathon_command_in_the_readme_exists(repo_root):
    """Is every `datathon VERB` the README shows a command of the CLI?"""
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    verbs = set(re.findall(r"^\s*datathon ([a-z-]+)", readme, flags=re.M))
    verbs |= set(re.findall(r"`datathon ([a-z-]+)", readme))
    known = set(build_parser()._subparsers._group_actions[0].choices)
    assert verbs and verbs <= known, verbs - known


def test_every_make_target_in_the_readme_exists(repo_root):
    """Is every `make TARGET` the README shows a target of the Makefile?"""
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    makefile = (repo_root / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"make ([a-z][a-z-]*)", readme))
    defined = set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.M))
    assert targets and targets <= defined, targets - defined

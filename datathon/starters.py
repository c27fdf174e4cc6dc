"""What students get: ``starter_notebooks/`` generated from ``solutions/`` by nbgrader, and checked for leaks.

Each folder holds one sub-folder per challenge; paths below are those of one challenge, Sirene's
by default. ``make starters`` (``python -m datathon.starters``) runs, for each assignment of
``solutions/<c>/`` (a folder holding notebooks: ``solutions/sirene/a1_names/``), the real
``nbgrader generate_assignment`` with the challenge's course configuration
(``grader/<c>/nbgrader_config.py``), into a temporary release directory and a temporary gradebook,
so that the course's own ``release/`` and ``gradebook.db`` are not touched. nbgrader replaces each solution region by ``raise NotImplementedError()``, removes the
hidden tests, locks the read-only cells and records each graded cell's checksum. The released files
are then normalised and written to ``starter_notebooks/<c>/<assignment>/``, which is rewritten to hold
exactly what was generated (a file that is not generated any more is removed).

Normalising keeps everything nbgrader needs to grade a student's copy (every cell's ``nbgrader``
metadata with its ``grade_id``, ``points`` and ``checksum``, the ``editable``/``deletable`` locks)
and drops only what changes from one run or one machine to the next: outputs and execution counts,
JupyterLab's cell timings, the Python version in ``language_info``. Cell ids are the sources' (the
notebook tests require unique ones); a cell without one gets ``cell-<n>``. The same sources give the
same bytes, so CI can compare what is committed with what the command produces
(``python -m datathon.starters --check``).

The same check looks for **leaks** in ``starter_notebooks/`` and ``course/``, everything students
see: no line of a solution region (between ``### BEGIN SOLUTION`` and ``### END SOLUTION``) or of a
hidden test (between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``) of any source
notebook, no marker itself, and no SIRET of the test truth (``data_samples/<c>/truth_test.parquet``),
in the sources or in outputs. In ``starter_notebooks/`` (what students fill in and hand in), no code
may read the test truth either: the file name ``truth_test``, ``load_truth(..., "test")``,
``with_truth=True``, or ``datathon.data.load`` without ``with_truth=False``. Preparation notebooks
of ``course/`` may score on the *public sample's* test split, whose truth is committed (an event's
is not), so that rule is not applied to them (:data:`NO_TRUTH_READING`).
"""
from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from datathon.errors import UserError

# Each holds one folder per challenge (solutions/sirene/a1_names/, ...): docs/challenges.md, §3.
SOLUTIONS = "solutions"
STARTERS = "starter_notebooks"
COURSE = "course"
GRADER = "grader"
SAMPLES = "data_samples"
TRUTH = "truth_test.parquet"  # in the challenge's sample
DEFAULT_CHALLENGE = "sirene"
#: What nbgrader puts in solution and hidden-test regions (nbgrader's default delimiters).
BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
#: A line shorter than this (once stripped) is too common to be a leak by itself (``return grams``).
MIN_LEAK_LENGTH = 16
#: Seconds nbgrader may take to generate one assignment.
GENERATE_TIMEOUT = 300
#: Directories whose notebooks must not read the test truth at all (see the module docstring).
NO_TRUTH_READING = (STARTERS,)
# The tokens of a notebook's text a truth value is looked for among: runs of digits (a SIRET glued to
# a letter) and words.
_TOKEN = re.compile(r"(?<!\d)\d+(?!\d)|[\w.-]+")
_IMPORT = re.compile(r"^(?:import\s|from\s+\S+\s+import\s)")


# --------------------------------------------------------------------------------------------
# Generating
# --------------------------------------------------------------------------------------------


def assignments(root: str | Path = ".", challenge: str = DEFAULT_CHALLENGE) -> list[str]:
    """The assignments of ``solutions/<challenge>/``: its sub-directories holding a notebook, sorted."""
    base = Path(root) / SOLUTIONS / challenge
    if not base.is_dir():
        return []
    return sorted(d.name for d in base.iterdir()
                  if d.is_dir() and not d.name.startswith(".") and any(d.glob("*.ipynb")))


def generate(root: str | Path = ".", names: Sequence[str] | None = None,
             challenge: str = DEFAULT_CHALLENGE) -> dict[str, bytes]:
    """Run nbgrader on each assignment of ``challenge`` and return the normalised starter files.

    Keys are paths relative to ``starter_notebooks/<challenge>/`` (``a1_names/a1_names.ipynb``),
    values the bytes to write. Raises :class:`UserError` (one line) when nbgrader fails.
    """
    root = Path(root).resolve()
    grader = root / GRADER / challenge
    if not (grader / "nbgrader_config.py").is_file():
        raise UserError(f"no nbgrader course configuration at {grader / 'nbgrader_config.py'}")
    names = list(assignments(root, challenge) if names is None else names)
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="datathon-starters-") as tmp:
        release = Path(tmp) / "release"
        for name in names:
            _generate_one(grader, name, release, Path(tmp) / "gradebook.db")
            released = release / name
            for path in sorted(released.rglob("*")):
                if path.is_dir() or ".ipynb_checkpoints" in path.parts:
                    continue
                relative = f"{name}/{path.relative_to(released).as_posix()}"
                data = path.read_bytes()
                files[relative] = normalise_notebook_bytes(data) if path.suffix == ".ipynb" else data
    return files


def _generate_one(grader: Path, name: str, release: Path, db: Path) -> None:
    """``nbgrader generate_assignment NAME`` in ``grader/``, into ``release`` and the gradebook ``db``."""
    env = dict(os.environ)
    # nbgrader migrates its gradebook by running the `alembic` script: it must be on PATH, next to
    # this Python (the venv's bin/, which `make` does not put on PATH).
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    cmd = [sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force",
           f"--CourseDirectory.release_directory={release}", f"--CourseDirectory.db_url=sqlite:///{db}"]
    try:
        run = subprocess.run(cmd, cwd=grader, env=env, capture_output=True, text=True, timeout=GENERATE_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise UserError(f"nbgrader generate_assignment {name} took more than {GENERATE_TIMEOUT} s") from None
    if run.returncode != 0 or not (release / name).is_dir():
        errors = [line for line in (run.stderr + run.stdout).splitlines() if "ERROR" in line or "Error" in line]
        detail = errors[0].strip() if errors else f"exit code {run.returncode}"
        raise UserError(f"nbgrader generate_assignment {name} failed: {detail} "
                        f"(run it in {grader} to see its whole log)")


def normalise_notebook(nb):
    """A released notebook without what differs between runs; nbgrader's own metadata kept as it is."""
    nb = copy.deepcopy(nb)
    seen: set[str] = set()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in ("execution", "collapsed", "scrolled", "jupyter"):  # editor state, timings
            cell.metadata.pop(key, None)
        if not cell.get("id") or cell.id in seen:
            cell.id = f"cell-{i + 1}"
        seen.add(cell.id)
    language = nb.metadata.get("language_info")
    if isinstance(language, dict):  # the kernel's version and paths: the machine's, not the notebook's
        nb.metadata["language_info"] = {"name": language.get("name", "python")}
    for key in ("widgets", "toc", "varInspector"):
        nb.metadata.pop(key, None)
    return nb


def normalise_notebook_bytes(data: bytes) -> bytes:
    """:func:`normalise_notebook` on a file's bytes, written as nbformat writes notebooks (sorted keys)."""
    import nbformat

    raw = json.loads(data.decode("utf-8"))
    # Cell ids first, on the JSON itself: nbformat would "repair" a missing or repeated id with a
    # random one while reading, and the same sources would no longer give the same bytes.
    seen: set[str] = set()
    for i, cell in enumerate(raw.get("cells", [])):
        if not cell.get("id") or cell["id"] in seen:
            cell["id"] = f"cell-{i + 1}"
        seen.add(cell["id"])
    if raw.get("nbformat") == 4 and raw.get("nbformat_minor", 0) < 5:
        raw["nbformat_minor"] = 5  # cell ids exist from nbformat 4.5 on
    nb = nbformat.from_dict(raw)
    text = nbformat.writes(normalise_notebook(nb))
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")


def read_starters(root: str | Path = ".", challenge: str = DEFAULT_CHALLENGE) -> dict[str, bytes]:
    """The committed starter files, keyed as :func:`generate` keys them (top-level files left out)."""
    base = Path(root) / STARTERS / challenge
    if not base.is_dir():
        return {}
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*"))
            if p.is_file() and len(p.relative_to(base).parts) > 1 and ".ipynb_checkpoints" not in p.parts}


def differences(generated: dict[str, bytes], committed: dict[str, bytes],
                challenge: str = DEFAULT_CHALLENGE) -> list[str]:
    """What differs between generated and committed starters, one line per file."""
    out = []
    starters, solutions = f"{STARTERS}/{challenge}", f"{SOLUTIONS}/{challenge}"
    for path in sorted(set(generated) | set(committed)):
        if path not in committed:
            out.append(f"{starters}/{path} is missing")
        elif path not in generated:
            out.append(f"{starters}/{path} is not generated from {solutions}/ any more")
        elif generated[path] != committed[path]:
            out.append(f"{starters}/{path} differs from what {solutions}/{path.split('/')[0]}/ generates")
    return out


def write_starters(root: str | Path, files: dict[str, bytes], challenge: str = DEFAULT_CHALLENGE) -> list[str]:
    """Make ``starter_notebooks/<challenge>/<assignment>/`` hold exactly ``files``; return the paths that changed."""
    base = Path(root) / STARTERS / challenge
    base.mkdir(parents=True, exist_ok=True)
    changed = differences(files, read_starters(root, challenge), challenge)
    wanted = {path.split("/")[0] for path in files}
    for directory in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if directory.name not in wanted:
            shutil.rmtree(directory)
    for path in read_starters(root, challenge):
        if path not in files:
            (base / path).unlink()
    for path, data in files.items():
        target = base / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
    return changed


# --------------------------------------------------------------------------------------------
# Leaks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Secrets:
    """What must never reach students: solution and hidden-test lines, and the distinctive values of the
    test truth (Sirene's SIRETs: :meth:`datathon.challenge.Challenge.truth_values`)."""

    solution_lines: frozenset[str]
    hidden_lines: frozenset[str]
    truth_values: frozenset[str]
    truth_label: str = "value"


def regions(source: str, begin: str, end: str) -> list[str]:
    """The lines strictly between ``### <begin>`` and ``### <end>`` markers of a cell's source."""
    out, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            out.append(line)
    return out


def _significant(line: str) -> str | None:
    """The stripped line when it is specific enough to reveal something, else None."""
    text = line.strip()
    if len(text) < MIN_LEAK_LENGTH or text.startswith("#") or _IMPORT.match(text):
        return None
    return text


def collect_secrets(root: str | Path = ".", sources: Iterable[Path] | None = None,
                    challenge: str = DEFAULT_CHALLENGE) -> Secrets:
    """The secrets of every source notebook of ``solutions/<challenge>/`` (or of ``sources``) and of
    the test truth of its sample."""
    import nbformat

    root = Path(root)
    notebooks = sorted((root / SOLUTIONS / challenge).rglob("*.ipynb")) if sources is None else list(sources)
    solution, hidden = set(), set()
    for path in notebooks:
        if ".ipynb_checkpoints" in path.parts:
            continue
        for cell in nbformat.read(path, as_version=4).cells:
            solution.update(filter(None, map(_significant, regions(cell.source, BEGIN_SOLUTION, END_SOLUTION))))
            hidden.update(filter(None, map(_significant, regions(cell.source, BEGIN_HIDDEN, END_HIDDEN))))
    from datathon.challenges import get

    label, values = get(challenge).truth_values(root / SAMPLES / challenge)
    return Secrets(frozenset(solution), frozenset(hidden), values, label)


def leaks(path: Path, secrets: Secrets, *, name: str | None = None, truth_reading: bool = True) -> list[str]:
    """Every leak of one notebook students see, one line each (empty: nothing leaks).

    ``truth_reading`` also reports code that reads the test truth (:func:`reads_test_truth`)."""
    import nbformat

    name = name or str(path)
    raw = path.read_text(encoding="utf-8")
    nb = nbformat.reads(raw, as_version=4)
    found = []
    for number, cell in enumerate(nb.cells, start=1):
        where = f"{name}, cell {number}"
        for line in cell.source.splitlines():
            text = line.strip()
            for marker in (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN):
                if marker in text and text.lstrip("#").strip() == marker:
                    found.append(f"{where}: an nbgrader marker `{text}` (a source notebook, not a student version)")
            if text in secrets.solution_lines:
                found.append(f"{where}: a line of a solution: `{text}`")
            if text in secrets.hidden_lines:
                found.append(f"{where}: a line of a hidden test: `{text}`")
        if truth_reading and cell.cell_type == "code":
            found += [f"{where}: {problem}" for problem in reads_test_truth(cell.source)]
    values = sorted(set(_TOKEN.findall(raw)) & secrets.truth_values)  # sources and outputs alike
    if values:
        found.append(f"{name}: {len(values)} {secrets.truth_label}(s) of the test truth, e.g. {values[0]}")
    return found


def reads_test_truth(source: str) -> list[str]:
    """How a cell's code reads the test truth, if it does (one line per way)."""
    out = []
    if "truth_test" in source:
        out.append("it names truth_test (the test truth is kept apart)")
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return out
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else None
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        with_truth = keywords.get("with_truth")
        if isinstance(with_truth, ast.Constant) and with_truth.value is True:
            out.append("it loads the data with with_truth=True")
        if name == "load_truth":
            split = node.args[1] if len(node.args) > 1 else keywords.get("split")
            if split is None or (isinstance(split, ast.Constant) and split.value == "test"):
                out.append("it calls load_truth() on the test split")
        elif name == "load" and (owner in (None, "data")) and with_truth is None:
            out.append("it calls load() without with_truth=False (load() reads truth_test when it is there)")
    return out


def scan(root: str | Path = ".", directories: Sequence[str] = (STARTERS, COURSE),
         secrets: Secrets | None = None, no_truth_reading: Sequence[str] = NO_TRUTH_READING,
         challenge: str = DEFAULT_CHALLENGE) -> list[str]:
    """Every leak in the notebooks of ``challenge`` that students see (``starter_notebooks/<c>/`` and
    ``course/<c>/``); code reading the test truth counts only in ``no_truth_reading``."""
    root = Path(root)
    secrets = secrets if secrets is not None else collect_secrets(root, challenge=challenge)
    found = []
    for directory in directories:
        for path in sorted((root / directory / challenge).rglob("*.ipynb")):
            if ".ipynb_checkpoints" not in path.parts:
                found += leaks(path, secrets, name=path.relative_to(root).as_posix(),
                               truth_reading=directory in no_truth_reading)
    return found


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m datathon.starters",
        description="Regenerate starter_notebooks/<challenge>/ from solutions/<challenge>/ with nbgrader "
        "generate_assignment (`make starters`); with --check, change nothing and fail when they are out of "
        "date or leak.",
    )
    parser.add_argument("--root", type=Path, default=Path("."), help="the repository (default: .)")
    parser.add_argument("--challenge", dest="challenges", action="append", metavar="NAME",
                        help="a challenge (repeatable; default: every one with a solutions/<challenge>/ folder)")
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed starters and scan for leaks; exit 1 on any problem")
    args = parser.parse_args(argv)
    challenges = args.challenges or sorted(p.name for p in (args.root / SOLUTIONS).glob("*")
                                           if p.is_dir() and not p.name.startswith(".")) or [DEFAULT_CHALLENGE]
    status = 0
    for challenge in challenges:
        status = max(status, _one_challenge(args.root, challenge, check=args.check))
    return status


def _one_challenge(root: Path, challenge: str, *, check: bool) -> int:
    """``main`` for one challenge: its exit code."""
    starters = f"{STARTERS}/{challenge}"
    try:
        files = generate(root, challenge=challenge)
        if check:
            problems = differences(files, read_starters(root, challenge), challenge)
            if problems:
                problems.append(f"run `make starters` and commit {starters}/")
            problems += scan(root, challenge=challenge)
            for line in problems:
                print(f"datathon.starters: {line}", file=sys.stderr)
            if not problems:
                print(f"{starters}/ is up to date ({len(files)} files) and nothing leaks")
            return 1 if problems else 0
        changed = write_starters(root, files, challenge)
        leaked = scan(root, challenge=challenge)
    except UserError as err:
        print(f"datathon.starters: error: {err.message}", file=sys.stderr)
        return err.exit_code
    for line in changed:
        print(f"updated: {line}")
    print(f"wrote {starters}/: {len(files)} files from {len(assignments(root, challenge))} assignment(s)"
          + ("" if changed else ", unchanged"))
    for line in leaked:
        print(f"datathon.starters: leak: {line}", file=sys.stderr)
    return 1 if leaked else 0


if __name__ == "__main__":
    sys.exit(main())

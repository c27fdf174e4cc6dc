"""A course laid out as in the kit's checkout, in a temporary directory, for tests that run nbgrader.

The kit's folders hold one sub-folder per challenge (``grader/sirene/``, ``solutions/sirene/``, ...),
and a course root's ``nbgrader_config.py`` finds its sources from its own place in that layout.
"""
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def course_root(root: Path, challenge: str = "sirene") -> Path:
    """``root/grader/<challenge>/`` holding the kit's nbgrader configuration for ``challenge``; returned."""
    grader = root / "grader" / challenge
    grader.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "grader" / challenge / "nbgrader_config.py", grader / "nbgrader_config.py")
    return grader


def sources(root: Path, challenge: str = "sirene") -> Path:
    """``root/solutions/<challenge>/``: where the course root above reads its assignments' sources."""
    return root / "solutions" / challenge

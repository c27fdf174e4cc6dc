"""nbgrader's configuration of the Sirene course: this directory is its course root (datathon/nbgrader_course.py)."""
from pathlib import Path

from datathon.nbgrader_course import configure

configure(get_config(), "sirene", course_root=Path(__file__).resolve().parent)  # noqa: F821 - traitlets defines get_config()

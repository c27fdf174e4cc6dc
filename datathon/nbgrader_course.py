"""nbgrader's settings for a challenge's course: one nbgrader course per challenge.

nbgrader reads the sources of a course from one directory and keeps one gradebook per course, so
each challenge is its own course (docs/challenges.md, §3): its course root is ``grader/<name>/``
(the gradebook and the directories of the grading cycle, ``release/``, ``submitted/``,
``autograded/``, ``feedback/``, are created there at run time and git-ignored), its sources are
``solutions/<name>/<assignment>/`` (also course material that papermill and nbval run), and its
assignments are filed in the exchange under the challenge's ``course_id``. Each course root holds
a two-line ``nbgrader_config.py`` calling :func:`configure`; the one at the top of the checkout
(where ``make lab`` starts JupyterLab, whose nbgrader extension reads only the server's working
directory) loads the course of ``$DATATHON_CHALLENGE``, Sirene by default.

Two environment variables change what a run needs to change, without editing a file:

``DATATHON_EXCHANGE``
    the exchange directory through which assignments are released, fetched, submitted and
    collected (default: ``grader/exchange``, one local exchange for one machine, shared by the
    challenges' courses; give a shared directory when students work on other accounts);
``DATATHON_CELL_TIMEOUT``
    seconds a single cell may run during ``nbgrader autograde`` and ``nbgrader validate``
    (default 120: the assignments run in seconds on the samples, a student's slow loop should not
    hang the grading of a whole class).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

DEFAULT_CELL_TIMEOUT = 120


def cell_timeout() -> int:
    """``$DATATHON_CELL_TIMEOUT`` as a number of seconds, or the default.

    A wrong value is reported on one line and the default used: raising in a config file would make
    nbgrader drop the whole file (it only warns about a config file that fails), and grade without it.
    """
    raw = os.environ.get("DATATHON_CELL_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_CELL_TIMEOUT
    try:
        seconds = int(raw)
    except ValueError:
        seconds = 0
    if seconds <= 0:
        print(f"nbgrader_config.py: DATATHON_CELL_TIMEOUT={raw!r} is not a positive whole number of seconds; "
              f"using {DEFAULT_CELL_TIMEOUT}", file=sys.stderr)
        return DEFAULT_CELL_TIMEOUT
    return seconds


def configure(c, challenge: str, *, course_root: str | Path) -> None:
    """Set the nbgrader configuration ``c`` (``get_config()``) for ``challenge``'s course at ``course_root``.

    ``course_root`` is ``grader/<challenge>`` of the checkout (the config file's own directory),
    so the paths do not depend on the working directory nbgrader was started from.
    """
    from datathon.challenges import get

    course = Path(course_root).resolve()
    checkout = course.parents[1]  # grader/<challenge>/ -> the checkout
    c.CourseDirectory.course_id = get(challenge).course_id

    # The course root, absolute: nbgrader's default is the working directory, which is the top of the
    # checkout when JupyterLab (or an instructor) runs nbgrader from there.
    c.CourseDirectory.root = str(course)

    # The sources live in solutions/<challenge>/<assignment>/. nbgrader joins root, this directory
    # name, the student id ("." for sources) and the assignment id with os.path.join, so a path
    # relative to the root works for reading and matching the sources (checked by tests/test_starters.py
    # and `make starters`). Relative rather than absolute: the formgrader shows it as a path.
    c.CourseDirectory.source_directory = os.path.relpath(checkout / "solutions" / challenge, course)

    # The gradebook, next to the rest of the course's run-time state (git-ignored). Assignments enter
    # it with `nbgrader generate_assignment`, students when `collect`/`autograde` meets them.
    c.CourseDirectory.db_url = f"sqlite:///{course / 'gradebook.db'}"

    # The exchange: a directory of the checkout by default (nbgrader's default, /srv/nbgrader/exchange,
    # needs root to create), shared by the courses (their ids keep them apart); $DATATHON_EXCHANGE else.
    c.Exchange.root = os.environ.get("DATATHON_EXCHANGE") or str(checkout / "grader" / "exchange")

    # Per-cell time limit when nbgrader executes notebooks (autograde, validate). nbgrader's Execute
    # preprocessor takes it from its parent ExecutePreprocessor; Execute is set too, because it declares
    # its own `timeout` trait (default 30 s) that a more specific setting elsewhere would otherwise win over.
    c.ExecutePreprocessor.timeout = cell_timeout()
    c.Execute.timeout = c.ExecutePreprocessor.timeout

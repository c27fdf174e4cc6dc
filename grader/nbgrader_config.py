"""nbgrader's configuration for the kit's course (DESIGN.md §7).

This directory, ``grader/``, is the nbgrader *course root*: the gradebook and the directories of
the grading cycle (``release/``, ``submitted/``, ``autograded/``, ``feedback/``) are created here at
run time and git-ignored. The *sources* of the assignments are not in ``grader/source/`` but in the
repository's ``solutions/`` (one folder per assignment: ``solutions/a1_names/``, ...), because
they are also course material that papermill and nbval run like every other notebook.

nbgrader reads this file when it runs with ``grader/`` as its working directory::

    cd grader && nbgrader generate_assignment a1_names

and through ``../nbgrader_config.py`` when it runs at the top of the repository, which is where
``make lab`` starts JupyterLab: the formgrader, the Validate button and the Assignment List of
nbgrader's lab extension load ``nbgrader_config.py`` from the server's working directory.

Two environment variables change what a run needs to change, without editing this file:

``DATATHON_EXCHANGE``
    the exchange directory through which assignments are released, fetched, submitted and
    collected (default: ``grader/exchange``, a local exchange for one machine; give a shared
    directory when students work on other accounts);
``DATATHON_CELL_TIMEOUT``
    seconds a single cell may run during ``nbgrader autograde`` and ``nbgrader validate``
    (default 120: the assignments run in seconds on ``data_samples/``, a student's slow loop
    should not hang the grading of a whole class).
"""
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 - traitlets defines get_config() when it reads a config file

#: This directory. traitlets sets ``__file__`` to the config file it is reading, also when the
#: file is loaded from ../nbgrader_config.py, so the paths below do not depend on the working
#: directory nbgrader was started from.
GRADER = Path(__file__).resolve().parent
REPOSITORY = GRADER.parent
DEFAULT_CELL_TIMEOUT = 120


def _cell_timeout() -> int:
    """``$DATATHON_CELL_TIMEOUT`` as a number of seconds, or the default.

    A wrong value is reported on one line and the default used: raising here would make nbgrader
    drop this whole file (it only warns about a config file that fails), and grade without it.
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


# One course; release, fetch, submit and collect file its assignments under this id in the exchange.
c.CourseDirectory.course_id = "datathon"

# The course root, absolute: nbgrader's default is the working directory, which is the top of the
# repository when JupyterLab (or an instructor) runs nbgrader from there.
c.CourseDirectory.root = str(GRADER)

# The sources live in solutions/<assignment>/. nbgrader joins root, this directory name, the
# student id ("." for sources) and the assignment id with os.path.join, so a path relative to the
# root works for reading the sources and for matching them (checked in tests/test_starters.py
# and by `make starters`). Relative rather than absolute: the formgrader shows it as a path.
c.CourseDirectory.source_directory = os.path.relpath(REPOSITORY / "solutions", GRADER)

# The gradebook, next to the other run-time state of the course (git-ignored). Assignments enter
# it when `nbgrader generate_assignment` runs; students when `nbgrader collect`/`autograde` meets
# them (nbgrader >= 0.6 has no db_assignments/db_students lists in the config any more: the
# gradebook is the one list, managed with `nbgrader db student add|import`).
c.CourseDirectory.db_url = f"sqlite:///{GRADER / 'gradebook.db'}"

# The exchange: a directory on this machine by default (nbgrader's default, /srv/nbgrader/exchange,
# needs root to create), another one when $DATATHON_EXCHANGE says so.
c.Exchange.root = os.environ.get("DATATHON_EXCHANGE") or str(GRADER / "exchange")

# Per-cell time limit when nbgrader executes notebooks (autograde, validate). nbgrader's Execute
# preprocessor is an ExecutePreprocessor and takes this setting from its parent class; Execute is
# set too, because it declares its own `timeout` trait (default 30 s) that a later, more specific
# setting elsewhere would otherwise win over.
c.ExecutePreprocessor.timeout = _cell_timeout()
c.Execute.timeout = c.ExecutePreprocessor.timeout

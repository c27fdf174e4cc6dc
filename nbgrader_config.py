"""nbgrader's configuration at the top of the repository: the course's own, in grader/.

`make lab` starts JupyterLab here, and nbgrader's lab extension (the formgrader, the Validate
button, the Assignment List) reads ``nbgrader_config.py`` from the server's working directory and
from the Jupyter config directories, never from a sub-directory. This file only loads
``grader/nbgrader_config.py``, which holds every setting (course id, course root, sources in
``solutions/``, exchange, timeouts), so that nbgrader finds the same course whether it is run
here, in ``grader/``, or from JupyterLab.
"""
from pathlib import Path

_COURSE_CONFIG = Path(__file__).resolve().parent / "grader" / "nbgrader_config.py"
if not _COURSE_CONFIG.is_file():  # load_subconfig() would silently load nothing
    raise FileNotFoundError(f"{_COURSE_CONFIG} is missing: the course's nbgrader settings live there")
load_subconfig(_COURSE_CONFIG.name, path=str(_COURSE_CONFIG.parent))  # noqa: F821 - defined by traitlets

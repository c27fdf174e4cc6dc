"""nbgrader's configuration at the top of the checkout: the course of ``$DATATHON_CHALLENGE`` (Sirene by default).

`make lab` starts JupyterLab here, and nbgrader's lab extension (the formgrader, the Validate
button, the Assignment List) reads ``nbgrader_config.py`` from the server's working directory and
from the Jupyter config directories, never from a sub-directory. This file loads the course's own
``grader/<challenge>/nbgrader_config.py``, so that nbgrader finds the same course whether it runs
there or here (``make lab CHALLENGE=energy`` serves another challenge's course).
"""
import os
from pathlib import Path

_CHALLENGE = os.environ.get("DATATHON_CHALLENGE") or "sirene"
_COURSE_CONFIG = Path(__file__).resolve().parent / "grader" / _CHALLENGE / "nbgrader_config.py"
if not _COURSE_CONFIG.is_file():  # load_subconfig() would silently load nothing
    raise FileNotFoundError(f"{_COURSE_CONFIG} is missing: the nbgrader settings of challenge {_CHALLENGE!r} live there")
load_subconfig(_COURSE_CONFIG.name, path=str(_COURSE_CONFIG.parent))  # noqa: F821 - defined by traitlets

"""The event's server: one JupyterHub on one machine for every participant (``datathon hub``, docs/hub.md).

``datathon hub setup`` (as root) installs the kit once where every account can use it, creates the
participants' system accounts, places the course in each home, the event's public data read-only,
the nbgrader exchange and its system-wide configuration, and JupyterHub's configuration;
``datathon hub start`` runs JupyterHub in the foreground; ``datathon hub check`` says what is in place.

Everything lives under one root directory (default ``/srv/datathon``), described by :class:`Layout`.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from datathon.errors import UserError

DEFAULT_ROOT = Path("/srv/datathon")
DEFAULT_PORT = 8000
DEFAULT_LEADERBOARD_PORT = 8765
STUDENTS_GROUP = "datathon-students"
INSTRUCTORS_GROUP = "datathon-instructors"
#: Where each user's server opens (datathon.lab's DEFAULT_URL: the preparation notebooks).
DEFAULT_URL = "/lab/tree/course"
#: The leaderboard as a JupyterHub service: its path through the hub's proxy.
LEADERBOARD_SERVICE = "leaderboard"


@dataclass(frozen=True)
class Layout:
    """Where the hub keeps each thing under its root."""

    root: Path = DEFAULT_ROOT

    @property
    def venv(self) -> Path:  # the kit, executable by every account
        return self.root / "venv"

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    @property
    def data(self) -> Path:  # the event's public data, read-only for everyone
        return self.root / "data"

    @property
    def exchange(self) -> Path:  # nbgrader's exchange: root-owned, 1777
        return self.root / "exchange"

    @property
    def instructor(self) -> Path:  # the course root of the instructors' group: gradebook, submissions, grades
        return self.root / "instructor"

    def course_root(self, challenge: str) -> Path:
        """nbgrader's course root of ``challenge``: laid out as in the checkout (datathon/nbgrader_course.py)."""
        return self.instructor / "grader" / challenge

    @property
    def hub(self) -> Path:  # JupyterHub's state: database, cookie secret, configuration (root only)
        return self.root / "hub"

    @property
    def settings(self) -> Path:
        return self.hub / "settings.json"

    @property
    def jupyterhub_config(self) -> Path:
        return self.hub / "jupyterhub_config.py"

    @property
    def nbgrader_config(self) -> Path:  # system-wide for everyone who runs the venv's nbgrader
        return self.venv / "etc" / "jupyter" / "nbgrader_config.py"

    @property
    def slips(self) -> Path:  # printed passwords (root only)
        return self.root / "slips"


def load_settings(layout: Layout) -> dict:
    """What ``setup`` recorded in ``hub/settings.json``; :class:`UserError` when setup has not run."""
    try:
        return json.loads(layout.settings.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{layout.settings} is missing: run `datathon hub setup --root {layout.root} ...` first, "
                        "as root") from None
    except PermissionError:
        raise UserError(f"cannot read {layout.settings}: run this as root") from None
    except (OSError, ValueError) as err:
        raise UserError(f"{layout.settings} is unreadable ({err}): run `datathon hub setup` again") from None


def require_root(what: str) -> None:
    """:class:`UserError` unless running as root (accounts, /srv, the exchange's owner)."""
    if os.geteuid() != 0:
        raise UserError(f"{what} needs root: run it with sudo (as root)")

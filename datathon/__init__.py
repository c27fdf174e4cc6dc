"""datathon: a Jupyter-centred teaching kit for a record-linkage hackathon.

Census bulletins name the establishment that employs each person; the task is to find its SIRET
in the Sirene register. See the README for the instructor's and the student's paths.
"""
__version__ = "0.1.0"

from datathon import _moved  # noqa: E402

_moved.install()  # old paths of moved modules (datathon.names, datathon.world, ...) keep working

from datathon.leaderboard.client import submit  # noqa: E402  (stdlib-only at import: stays fast)

__all__ = ["submit", "__version__"]

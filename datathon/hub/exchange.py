"""nbgrader's submission, sealed: only its owner and the instructors' group can enter it.

nbgrader's own submit leaves each submission in the exchange's ``inbound/`` with mode 0777 ("hidden
from other users by the timestamp"): a student who learns another's submission name could read it, or
empty it and put other files in. :class:`SealedSubmit` submits as nbgrader does, then closes the
submission's directory to others: 0770, its group being the instructors' (inherited from
``inbound/``'s setgid bit when it was created). The files inside keep nbgrader's modes: some of
them belong to the student's own group (nbgrader writes them after copying, and a student cannot
give a file to a group they are not in), and a closed directory already keeps every other student
out. Collecting needs nothing more: instructors enter through the group and read the files. The
sticky bit of ``inbound/`` stops anyone but the owner from renaming or deleting the submission.
The hub's system-wide nbgrader configuration selects it (``c.ExchangeFactory.submit``), for the
Assignments panel and the command line alike.
"""
from __future__ import annotations

import os

from nbgrader.exchange.default import ExchangeSubmit

#: Not setgid: the kernel drops that bit when the owner is not in the group; the group is already the instructors'.
SUBMISSION_MODE = 0o770


def seal(path: str) -> None:
    """Close the submission directory at ``path`` to everyone but its owner and its group."""
    os.chmod(path, SUBMISSION_MODE, follow_symlinks=False)


class SealedSubmit(ExchangeSubmit):
    """nbgrader's submit, whose submission no other student can enter."""

    def copy_files(self):
        super().copy_files()
        seal(os.path.join(self.inbound_path, self.assignment_filename))

"""File helpers shared by the generator, the checker, the leaderboard and the pipeline."""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


def sha256_file(path: Path) -> str:
    """The sha256 hex digest of a file, read in blocks (the register can weigh gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def written_atomically(target: Path):
    """Yield a temporary path beside ``target``; it replaces ``target`` only when the block ends
    without error, so readers find the old file or the new one, never half of it."""
    target = Path(target)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def replace_directory(new: Path, target: Path) -> None:
    """Put the directory ``new`` in place of ``target``, whole or not at all.

    An existing ``target`` is moved aside first and deleted only once ``new`` is in place; if the
    swap fails it is put back, so a reader never finds nothing or half of both.
    """
    new, target = Path(new), Path(target)
    if not target.exists():
        os.replace(new, target)
        return
    backup = Path(tempfile.mkdtemp(prefix=f".old-{target.name}.", dir=target.parent))
    backup.rmdir()
    os.replace(target, backup)
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(backup, target)
        raise
    shutil.rmtree(backup, ignore_errors=True)

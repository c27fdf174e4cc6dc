"""File helpers shared by the generator, the checker, the leaderboard, the scorer and the pipeline."""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from datathon.errors import UserError


def check_out_directory(out: Path, force: bool) -> None:
    """The rule of every command that writes a directory (``--out``): absent, empty, or replaced with ``force``."""
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a directory: choose another --out")
    if out.exists() and any(out.iterdir()) and not force:
        raise UserError(f"{out} is not empty: choose an empty directory, or add --force to replace its files")


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


def remove_tree(path: str | os.PathLike) -> None:
    """Remove a tree whatever is in it: read-only files (nbgrader writes its outputs so), and links left by a
    student's notebook, which are removed, never followed (a chmod through one would change its target)."""
    def onerror(func, p, _exc):
        try:
            if not os.path.islink(p):
                os.chmod(p, 0o700 if os.path.isdir(p) else 0o600)
            func(p)
        except OSError:
            pass

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=onerror)


def _kind(mode: int) -> str | None:
    """What a file that is not a regular one is, in words (None for a regular file)."""
    for test, kind in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return None if stat.S_ISREG(mode) else "not a regular file"


def open_regular_file(path: str | os.PathLike, what: str = "file") -> BinaryIO:
    """Open ``path`` for reading in binary, only if it is a regular file itself.

    A symbolic link, a directory, a named pipe, a device or a socket is refused with a one-line
    :class:`~datathon.errors.UserError` that names the path and never anything read from it: a
    link could point at a file the user never meant to show (``/etc/passwd``), and a pipe or a
    device would block or never end. The type is checked with ``lstat`` before opening, and the
    file is opened with ``O_NOFOLLOW`` and ``O_NONBLOCK`` (a pipe swapped in meanwhile cannot
    block the open) and checked again on the open descriptor, so a swap between check and open
    is refused too. ``what`` names the file in messages ("submission file", "token file").
    """
    path = os.fspath(path)
    try:
        kind = _kind(os.lstat(path).st_mode)
    except FileNotFoundError:
        raise UserError(f"{what} not found: {path}") from None
    except OSError as err:
        raise UserError(f"cannot read the {what} {path}: {err.strerror or err}") from None
    if kind is not None:
        raise UserError(f"{path} is {kind}, not a regular file: give the {what} itself")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:  # ELOOP: it became a link since the lstat
        raise UserError(f"cannot open the {what} {path}: {err.strerror or err}") from None
    kind = _kind(os.fstat(fd).st_mode)
    if kind is not None:
        os.close(fd)
        raise UserError(f"{path} is {kind}, not a regular file: give the {what} itself")
    return os.fdopen(fd, "rb")

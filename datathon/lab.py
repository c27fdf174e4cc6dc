"""How the kit starts JupyterLab: one command line, shared by ``make lab`` and the tests.

``python -m datathon.lab --port 8888 --root .`` replaces itself with::

    python -m jupyterlab --no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port=8888 \
        --ServerApp.root_dir=<root> --LabApp.default_url=/lab/tree/course \
        [--ServerApp.allow_root=True]   # only when running as root (containers, CI)

Any further option (``--IdentityProvider.token=...``, ``--ServerApp.port_retries=0``) is passed on
to JupyterLab unchanged, so a test can start the very server ``make lab`` starts.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

#: Where the browser lands: the preparation notebooks (DESIGN.md §3).
DEFAULT_URL = "/lab/tree/course"
#: Loopback only: the kit serves one user on their own machine.
IP = "127.0.0.1"


def lab_command(port: int, root: str | Path, extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The argv that starts JupyterLab on ``root`` at ``http://127.0.0.1:<port>/``."""
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--ServerApp.ip={IP}",
        f"--ServerApp.port={int(port)}",
        f"--ServerApp.root_dir={Path(root).resolve()}",
        f"--LabApp.default_url={DEFAULT_URL}",
        # Containers and CI run as root; Jupyter refuses root unless told. Loopback + token keep it local.
        *(["--ServerApp.allow_root=True"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        *extra,
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m datathon.lab",
        description="Start JupyterLab on the course (further options go to JupyterLab).",
    )
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the directory JupyterLab serves")
    args, extra = parser.parse_known_args(argv)
    cmd = lab_command(args.port, args.root, extra)
    sys.stdout.flush()
    os.execv(cmd[0], cmd)  # same pid: Ctrl-C and kill reach JupyterLab itself


if __name__ == "__main__":
    main()

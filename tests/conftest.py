"""Fixtures shared by the whole suite. Keep them small and generic."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's top directory (where pyproject.toml and the Makefile are)."""
    return REPO_ROOT


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# Generated worlds (tests/test_world_*.py, tests/test_mca.py)
# --------------------------------------------------------------------------------------------
# Seeds: 101 and 202 are reserved for the MCA calibration (no solution uses them, tests/test_mca.py);
# 11 and 12 are the test suite's own; 20180118 (the public sample's) only checks the committed
# data_samples (tests/test_world_generate.py).
WORLD_SEED = 11


def _shared_tmp(tmp_path_factory) -> Path:
    """A temporary directory shared by every pytest-xdist worker of this run."""
    import os

    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def sample_world(tmp_path_factory):
    """``sample_world(seed)``: the data directory of a ``sample``-scale world, generated once per run.

    Every xdist worker shares it (a file lock makes the first one generate it, the others wait),
    so the ~10 s generation happens once per seed. Tests must treat it as read-only.
    """
    import fcntl

    from datathon.world import generate

    root = _shared_tmp(tmp_path_factory)

    def get(seed: int) -> Path:
        out = root / f"world-sample-{seed}"
        with open(root / f"world-sample-{seed}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if not (out / "manifest.json").exists():  # generate() writes the whole directory or nothing
                    generate(scale="sample", seed=seed, out=out, progress=False, force=True)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return out

    return get


@pytest.fixture(scope="session")
def world_dir(sample_world) -> Path:
    """The suite's own sample-scale world (seed 11), read-only."""
    return sample_world(WORLD_SEED)


@pytest.fixture(scope="session")
def world_frames(world_dir) -> dict:
    """The seed-11 world's files as frames: register, communes, adjacency, addresses, bulletins."""
    import pandas as pd

    frames = {name: pd.read_parquet(world_dir / f"{name}.parquet")
              for name in ("etablissements", "communes", "adresses", "bulletins_train", "bulletins_test",
                           "truth_test")}
    frames["communes_adjacentes"] = pd.read_csv(world_dir / "communes_adjacentes.csv", sep=";", dtype=str)
    return frames


@pytest.fixture
def tiny_scale(monkeypatch):
    """Make ``--scale sample`` a 20-commune world (about a second) for tests of generate()'s plumbing."""
    from datathon import world
    from datathon.world.scales import Scale

    tiny = Scale("sample", 1, 20, 1_500, 800)
    monkeypatch.setitem(world.SCALES, "sample", tiny)
    return tiny


def pytest_collection_modifyitems(config, items):
    """Tests that need a generated sample-scale world are ``slow`` (``make test-fast`` skips them)."""
    for item in items:
        if "sample_world" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)

"""Record the Sirene golden figures: ``tests/golden/sirene.json``.

The figures are what must never change while Sirene moves under the challenge contract
(docs/challenges.md, §3 and §4 step 0): the bytes ``datathon generate --scale sample --seed 11``
writes, ``data check`` on them, and the scores of the MCA on that world and on the committed sample.
``tests/test_sirene_golden.py`` recomputes them with :func:`figures` and compares.

Re-recording is a reviewed change: run ``.venv/bin/python tests/golden/record.py`` and show the diff.
"""
from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

GOLDEN = Path(__file__).with_name("sirene.json")
REPO_ROOT = Path(__file__).resolve().parents[2]
SEED = 11  # the suite's own world (tests/conftest.py WORLD_SEED), so the test reuses its fixture
SPLITS = ("test", "train")


def figures(world: Path, sample: Path) -> dict:
    """Every golden figure of ``world`` (generated with :data:`SEED` at sample scale) and ``sample``."""
    from datathon.check import run_check

    return {
        "generate": file_digests(world),
        "data_check": [asdict(p) for p in run_check(world).problems],
        "world_scores": _mca_scores(world),
        "sample_scores": _mca_scores(sample),
    }


def file_digests(directory: Path) -> dict[str, str]:
    """sha256 of every file; the manifest's without ``generated_at`` (a timestamp, the one moving part)."""
    digests = {}
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        data = path.read_bytes()
        if path.name == "manifest.json":
            manifest = json.loads(data)
            manifest.pop("generated_at", None)
            data = json.dumps(manifest, sort_keys=True).encode()
        digests[path.name] = hashlib.sha256(data).hexdigest()
    return digests


def _mca_scores(directory: Path) -> dict:
    """``score()`` of the MCA's recorded codings (SIRETC) and of its re-run, per split.

    The scores go through JSON so that a recorded float and a recomputed one compare as equal.
    """
    import pandas as pd

    from datathon.evaluate import _register_sirets, load_truth, score
    from datathon.mca import run_mca_on_directory

    result = {}
    register = _register_sirets(directory)
    for split in SPLITS:
        truth = load_truth(directory, split)
        recorded = pd.DataFrame({"CABBI": truth["CABBI"], "siret": truth["SIRETC"]})
        result[split] = {
            "recorded": score(recorded, truth, register_sirets=register),
            "rerun": score(run_mca_on_directory(directory, split), truth, register_sirets=register),
        }
    return json.loads(json.dumps(result))


def main() -> int:
    from datathon.world import generate

    with tempfile.TemporaryDirectory() as tmp:
        world = Path(tmp) / "world"
        generate(scale="sample", seed=SEED, out=world, progress=False)
        GOLDEN.write_text(json.dumps(figures(world, REPO_ROOT / "data_samples"), indent=1, sort_keys=True) + "\n",
                          encoding="utf-8")
    print(f"wrote {GOLDEN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Record the Sirene golden figures: ``tests/golden/sirene.json``.

The figures are what must never change while Sirene moves under the challenge contract
(docs/challenges.md, §3 and §4 step 0): the bytes ``datathon generate --scale sample --seed 11``
writes, ``data check`` on them, and the scores of the MCA on that world and on the committed sample.
``tests/test_sirene_golden.py`` recomputes them with :func:`figures` and compares.

``tests/golden/sirene_leaderboard.json`` (recorded at the start of step 2a, before the leaderboard
went through the contract) holds the standings of a scripted event on the same world:
:func:`leaderboard_figures`.

Re-recording is a reviewed change: run ``.venv/bin/python tests/golden/record.py [scores|leaderboard]``
(both when no argument is given) and show the diff.
"""
from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from datathon.testing import file_digests

GOLDEN = Path(__file__).with_name("sirene.json")
LEADERBOARD_GOLDEN = Path(__file__).with_name("sirene_leaderboard.json")
REPO_ROOT = Path(__file__).resolve().parents[2]
SEED = 11  # the suite's own world (tests/conftest.py WORLD_SEED), so the test reuses its fixture
SPLITS = ("test", "train")
SAMPLE = REPO_ROOT / "data_samples" / "sirene"  # the committed sample


def figures(world: Path, sample: Path) -> dict:
    """Every golden figure of ``world`` (generated with :data:`SEED` at sample scale) and ``sample``."""
    from datathon.check import run_check

    return {
        "generate": file_digests(world),
        "data_check": [asdict(p) for p in run_check(world).problems],
        "world_scores": _mca_scores(world),
        "sample_scores": _mca_scores(sample),
    }


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


#: The split's secret in the scripted event: fixed, so that the public part is the same each run.
EVENT_SALT = "golden-" + "11" * 28
#: The scripted event's clock: submissions at fixed times, so that quota days never interfere.
EVENT_START = "2018-03-15T09:00:00+01:00"
TEAMS = ("Alpha", "Beta", "Gamma", "Delta")  # Delta never submits: it stays unranked


def leaderboard_figures(world: Path, workdir: Path) -> dict:
    """The standings of a scripted event on ``world``, under each rule, before and after the reveal.

    The script: the MCA's own codings, submissions of several qualities (one with top-2
    candidates and scores), a one-line probe, a blank file and a SIRET absent from the register
    (a warning). Recorded per submission: the answer's public metrics, score, team score, rank
    and warnings, and the private metrics stored; per board: every team's ranks, scores and
    counted submission, and the reference's scores. Volatile fields (times of creation, of the
    reveal, of the board) are left out.
    """
    from unittest import mock

    from datathon.leaderboard import service
    from datathon.leaderboard.store import Store

    script = _scripted_submissions(world)
    result = {}
    for rule in ("best", "last"):
        ev = workdir / f"event-{rule}"
        with mock.patch.object(service, "make_salt", lambda: EVENT_SALT):
            service.init_event(ev, world, quota=50, rule=rule, public_share=0.5, name=f"golden {rule}", timezone="Europe/Paris")
        tokens = {team: service.add_team(ev, team) for team in TEAMS}
        answers = []
        for minute, (team, body) in enumerate(script):
            now = _at(minute)
            answer = service.submit_source(ev, body, team=team, token=tokens[team], filename=f"{team}.csv", now=now)
            answers.append({k: answer[k] for k in ("submission", "team", "n_rows", "public_score", "public", "team_score",
                                                   "rank", "n_ranked", "mca_public_score", "warnings", "duplicate_of")})
        public_board = _board_figures(service.standings(ev))
        service.reveal(ev)
        private_board = _board_figures(service.standings(ev))
        with Store(ev / service.DB_FILE).reading() as conn:
            stored = {s["id"]: Store.submission_metrics(conn, s["id"]) for s in Store.submissions(conn)}
            reference = Store.get_meta(conn, "reference")
        result[rule] = {"answers": answers, "stored": {str(k): v for k, v in stored.items()}, "reference": reference,
                        "public_board": public_board, "private_board": private_board}
    return json.loads(json.dumps(result))


def _at(minute: int):
    import datetime as dt

    return dt.datetime.fromisoformat(EVENT_START) + dt.timedelta(minutes=7 * minute)


def _board_figures(board: dict) -> dict:
    """The parts of a board that scoring and ranking decide (no times)."""
    keys = ("rank", "team", "team_id", "public_score", "private_score", "public_rank", "submissions",
            "counted_submission")
    ev = board["event"]
    return {
        "event": {k: ev[k] for k in ("rule", "part", "revealed", "n_public", "n_private", "public_share")},
        "reference": {k: board["reference"][k] for k in ("team", "public_score", "private_score") if k in board["reference"]},
        "teams": [{k: row[k] for k in keys if k in row} for row in board["teams"]],
    }


def _scripted_submissions(world: Path) -> list[tuple[str, bytes]]:
    """``(team, CSV bytes)`` in submission order; deterministic (seeded) from ``world``'s test truth."""
    import numpy as np
    import pandas as pd

    from datathon.evaluate import _register_sirets, load_truth
    from datathon.luhn import siret_valid

    truth = load_truth(world, "test")
    cabbi = truth["CABBI"].astype(str).to_numpy()
    true = truth["SIRET_DEC"].astype(object).where(truth["SIRET_DEC"].notna(), None).to_numpy()
    pool = np.array([s for s in true if s is not None], dtype=object)

    def csv(frame: pd.DataFrame) -> bytes:
        return frame.to_csv(sep=";", index=False).encode("utf-8")

    def quality(q: float, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        right = rng.random(len(truth)) < q
        wrong = pool[rng.integers(0, len(pool), len(truth))]
        coded = np.where(right, true, np.where(rng.random(len(truth)) < 0.5, wrong, None))
        return pd.DataFrame({"CABBI": cabbi, "siret": coded})

    mca = pd.DataFrame({"CABBI": cabbi, "siret": truth["SIRETC"].astype(object).where(truth["SIRETC"].notna(), None)})
    # Top-2 candidates with scores: the first is a 0.55-quality coding, the second the truth.
    first = quality(0.55, 3)
    rng = np.random.default_rng(4)
    scores = rng.random(len(truth))
    top2 = pd.concat([
        first.assign(score=scores, rank=1),
        pd.DataFrame({"CABBI": cabbi, "siret": true, "score": scores / 2, "rank": 2}).dropna(subset=["siret"]),
    ]).sort_values(["CABBI", "rank"], kind="stable")
    top2 = top2[top2["siret"].notna() | (top2["rank"] == 1)]
    probe_at = int(np.flatnonzero(pd.notna(true))[0])
    probe = pd.DataFrame({"CABBI": [cabbi[probe_at]], "siret": [true[probe_at]]})
    blank = pd.DataFrame({"CABBI": cabbi, "siret": [None] * len(cabbi)})
    # A valid SIRET that names no establishment: counted wrong, with a warning.
    register = set(int(s) for s in _register_sirets(world))
    absent = next(str(n) for n in range(12345678900000, 12345679000000)
                  if n not in register and siret_valid(str(n)))
    unknown = quality(0.65, 5)
    unknown.loc[0, "siret"] = absent
    return [
        ("Alpha", csv(mca)),
        ("Beta", csv(top2)),
        ("Alpha", csv(quality(0.7, 1))),
        ("Gamma", csv(probe)),
        ("Beta", csv(quality(0.5, 2))),
        ("Gamma", csv(blank)),
        ("Gamma", csv(unknown)),
        ("Alpha", csv(quality(0.7, 1))),  # the same bytes again: a duplicate
        ("Beta", csv(quality(0.62, 6))),
    ]


def main(argv: list[str]) -> int:
    from datathon.world import generate

    what = set(argv) or {"scores", "leaderboard"}
    with tempfile.TemporaryDirectory() as tmp:
        world = Path(tmp) / "world"
        generate(scale="sample", seed=SEED, out=world, progress=False)
        if "scores" in what:
            _write(GOLDEN, figures(world, SAMPLE))
        if "leaderboard" in what:
            _write(LEADERBOARD_GOLDEN, leaderboard_figures(world, Path(tmp)))
    return 0


def _write(path: Path, figures: dict) -> None:
    path.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

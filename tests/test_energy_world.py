"""The energy challenge's world, files, checks and data dictionary (datathon/challenges/energy/)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datathon.challenges import get
from datathon.challenges.energy import data, schema, world
from datathon.cli import main
from datathon.errors import UserError

SAMPLE = Path(__file__).resolve().parents[1] / "data_samples" / "energy"
SAMPLE_SEED = 20190601  # data_samples/energy (make sample)
SEED = 911  # the suite's own: no notebook uses it
LAG_SEED = 31337  # the lag test's: no notebook uses it either
ENERGY = get("energy")


def _digests(directory: Path) -> dict[str, bytes]:
    """Every file's bytes, the manifest without its time of writing."""
    out = {}
    for path in sorted(directory.iterdir()):
        if path.name == schema.MANIFEST:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            manifest.pop("generated_at")
            out[path.name] = json.dumps(manifest, sort_keys=True).encode()
        else:
            out[path.name] = path.read_bytes()
    return out


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("energy") / "sample"
    ENERGY.generate(SEED, "sample", out, progress=False)
    return out


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("energy") / "full"
    ENERGY.generate(LAG_SEED, "full", out, progress=False)
    return out


def _copy(directory: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(directory, target)
    return target


# --------------------------------------------------------------------------- seeds and bytes


def test_same_seed_same_bytes(sample, tmp_path):
    """Generating the same seed again writes the same bytes in every file (the manifest's time aside)."""
    again = tmp_path / "again"
    ENERGY.generate(SEED, "sample", again, progress=False)
    assert _digests(again) == _digests(sample)


def test_different_seeds_differ_and_passphrases_are_seeds(sample, tmp_path):
    """Another seed gives other counts; a passphrase is a seed, recorded in the manifest as its integer."""
    other = tmp_path / "other"
    manifest = ENERGY.generate("seven green hills under a slow river", "sample", other, progress=False)
    assert (other / schema.DAILY).read_bytes() != (sample / schema.DAILY).read_bytes()
    assert isinstance(manifest["seed"], int) and "river" not in (other / schema.MANIFEST).read_text()


def test_committed_sample_is_regenerated_byte_for_byte(tmp_path):
    """data_samples/energy is exactly what its seed generates (data, README and manifest)."""
    fresh = tmp_path / "fresh"
    ENERGY.generate(SAMPLE_SEED, "sample", fresh, progress=False)
    assert _digests(fresh) == _digests(SAMPLE)


def test_sample_is_the_tail_of_the_full_world(sample, tmp_path):
    """Scales write different spans of one world: the sample's days equal the full scale's same days."""
    full = tmp_path / "full"
    ENERGY.generate(SEED, "full", full, progress=False)
    small, large = data.history(sample), data.history(full)
    assert len(large) > 3 * len(small)
    tail = large[large["date"] >= small["date"].min()].reset_index(drop=True)
    pd.testing.assert_frame_equal(tail, small)
    pd.testing.assert_frame_equal(data.load(full, schema.TRUTH), data.load(sample, schema.TRUTH))


def test_generate_refuses_in_one_line(sample, tmp_path):
    """A non-empty directory, an unknown scale and Sirene's options are refused with one line each."""
    cases = [
        (lambda: ENERGY.generate(SEED, "sample", sample), "not empty"),
        (lambda: ENERGY.generate(SEED, "campaign", tmp_path / "x"), "unknown scale"),
        (lambda: ENERGY.generate(SEED, "sample", tmp_path / "y", departements=3), "--departements"),
        (lambda: ENERGY.generate("-3", "sample", tmp_path / "z"), "plain digits"),
    ]
    for call, phrase in cases:
        with pytest.raises(UserError) as err:
            call()
        assert phrase in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


# --------------------------------------------------------------------------- the world's content


def test_every_mechanism_is_in_the_manifest_with_its_stream(sample):
    """manifest.json names the challenge and every mechanism with its parameters; each random mechanism
    has its own stream number; the realised draws (campaigns, shocks, tariff changes) are recorded."""
    manifest = json.loads((sample / schema.MANIFEST).read_text(encoding="utf-8"))
    assert manifest["challenge"] == "energy"
    mechanisms = manifest["mechanisms"]
    assert set(mechanisms) == set(world.MECHANISMS)
    for name, params in world.MECHANISMS.items():
        for key, value in params.items():
            if key != "stream":
                assert mechanisms[name][key] == json.loads(json.dumps(value)), (name, key)
    streams = [m["stream"][1] for m in mechanisms.values() if m["stream"] is not None]
    assert len(streams) >= 10 and len(set(streams)) == len(streams)
    assert ["Fukushima accident", "2011-03-11"] in [shock[:2] for shock in mechanisms["news"]["shocks"]]
    assert mechanisms["campaigns"]["planned"] and mechanisms["tariff"]["changes"]
    assert set(manifest["checksums"]) == {spec.name for spec in schema.FILES}


def test_stock_is_the_cumulative_growth_and_parts_add_up(sample):
    """customers grows by net_growth each day, net_growth is new - terminations, and the region ×
    channel rows add up to the daily totals."""
    daily = data.history(sample)
    assert (daily["customers"].diff().iloc[1:] == daily["net_growth"].iloc[1:]).all()
    assert (daily["net_growth"] == daily["new"] - daily["terminations"]).all()
    rows = data.load(sample, schema.SUBSCRIPTIONS).groupby("date")[["new", "terminations"]].sum()
    joined = daily.set_index("date")[["new", "terminations"]].join(rows.add_suffix("_rows")).fillna(0)
    assert (joined["new"] == joined["new_rows"]).all() and (joined["terminations"] == joined["terminations_rows"]).all()


def test_growth_is_of_the_documented_order_and_slows(full):
    """A decade from about 5,000 customers to tens of thousands, growing by more than 30 % a year at
    first and by 10-35 % in the last full year."""
    daily = data.history(full).set_index("date")["customers"]
    yearly = daily.resample("YE").last()
    growth = yearly.pct_change().dropna()
    assert 4_000 < daily.iloc[0] < 6_000 and 40_000 < daily.iloc[-1] < 200_000
    assert growth.iloc[0] > 0.3 and 0.10 < growth.iloc[-1] < 0.35 and growth.iloc[-1] < growth.iloc[0]


def test_signals_have_gaps_but_the_counts_and_truth_do_not(sample):
    """signals.parquet misses a few days and has a web-analytics outage; daily has every day and the
    truth is the 61 days after it."""
    daily = data.history(sample)
    signals = data.load(sample, schema.SIGNALS)
    truth = data.load(sample, schema.TRUTH)
    assert 0 < len(daily) - len(signals) < 0.05 * len(daily)
    assert signals["web_visits"].isna().sum() >= world.MECHANISMS["missing_days"]["outage_min"] - 1
    assert (daily["date"].diff().dropna() == pd.Timedelta(days=1)).all()
    expected = pd.date_range(daily["date"].max() + pd.Timedelta(days=1), periods=world.HORIZON, freq="D")
    assert list(truth["date"]) == list(expected)


def test_calendar_plans_campaigns_in_the_forecast_days(sample):
    """Campaigns planned in the forecast window are public; no news is listed after the history."""
    calendar = data.load(sample, schema.CALENDAR)
    window = (calendar["start"] > pd.Timestamp(world.HISTORY_END))
    assert (calendar.loc[window, "kind"] == "campaign").any()
    assert not (calendar.loc[window, "kind"] == "news").any()
    assert set(calendar["kind"]) <= set(schema.CALENDAR_KINDS)


def _residual(values: pd.Series) -> pd.Series:
    """log values minus a 29-day centred mean and the weekday means: what a lag analysis correlates."""
    log = np.log(values.astype("float64") + 1)
    rest = log - log.rolling(29, center=True, min_periods=15).mean()
    return rest - rest.groupby(rest.index.day_of_week).transform("mean")


def test_social_reach_leads_new_subscriptions_at_the_documented_lag(full):
    """On published full-scale data of a seed no notebook uses, the cross-correlation of reach with
    later new subscriptions peaks at the kernel's documented lag (within a day), well above lag 0."""
    daily = data.history(full).set_index("date")
    signals = data.load(full, schema.SIGNALS).set_index("date").reindex(daily.index)  # gaps as NaN
    reach, new = _residual(signals["reach"]), _residual(daily["new"])
    correlations = [reach.shift(k).corr(new) for k in range(31)]
    documented = world.MECHANISMS["social_lag"]["peak_lag"]
    assert documented == int(np.argmax(world.lag_kernel()))
    assert abs(int(np.argmax(correlations)) - documented) <= 1
    assert max(correlations) > 0.1 and max(correlations) > 3 * abs(correlations[0])


# --------------------------------------------------------------------------- check()


def test_check_is_clean_on_generated_data_and_on_csv_twins(sample, tmp_path):
    """check() finds nothing in generated data, nor in the same data exported as ';' CSV files (an
    organiser's extract), which load with the same types."""
    assert ENERGY.check(sample) == []
    twins = tmp_path / "twins"
    twins.mkdir()
    for spec in schema.FILES:
        frame = data.load(sample, spec.name)
        _write_csv(frame, twins / spec.name.replace(".parquet", ".csv"))
    assert ENERGY.check(twins) == []
    pd.testing.assert_frame_equal(data.load(twins, schema.SIGNALS), data.load(sample, schema.SIGNALS))


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    out.to_csv(path, sep=";", index=False)


def _csv_copy(sample: Path, tmp_path: Path, name: str, change) -> Path:
    """A copy of the data where file ``name`` is a CSV twin changed by ``change(frame) -> frame``."""
    target = _copy(sample, tmp_path)
    (target / schema.MANIFEST).unlink()  # the manifest's checksums would name the change too
    frame = data.load(target, name)
    (target / name).unlink()
    _write_csv(change(frame), target / name.replace(".parquet", ".csv"))
    return target


def _set(frame: pd.DataFrame, row: int, column: str, value) -> pd.DataFrame:
    frame = frame.astype({column: object}) if not isinstance(value, (int, float)) else frame.copy()
    frame.loc[row, column] = value
    return frame


FAULTS = {
    "missing-file": (schema.SIGNALS, None),
    "missing-columns": (schema.DAILY, lambda f: f.drop(columns="customers")),
    "wrong-type": (schema.DAILY, lambda f: _set(f, 3, "new", "twelve")),
    "duplicate-key": (schema.DAILY, lambda f: pd.concat([f, f.iloc[[5]]])),
    "missing-date": (schema.DAILY, lambda f: f.drop(index=10)),
    "negative-count": (schema.SUBSCRIPTIONS, lambda f: _set(f, 2, "new", -4)),
    "net-mismatch": (schema.DAILY, lambda f: _set(f, 7, "net_growth", int(f.loc[7, "net_growth"]) + 1)),
    "stock-mismatch": (schema.DAILY, lambda f: _set(f, 9, "customers", int(f.loc[9, "customers"]) + 5)),
    "total-mismatch": (schema.SUBSCRIPTIONS, lambda f: _set(f, 0, "terminations", int(f.loc[0, "terminations"]) + 1)),
    "invalid-value": (schema.CALENDAR, lambda f: _set(f, 0, "kind", "sale")),
    "truth-mismatch": (schema.TRUTH, lambda f: f.iloc[:-1]),
    "missing-value": (schema.SIGNALS, lambda f: _set(f, 1, "posts", None)),
}


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_check_names_each_injected_fault(sample, tmp_path, kind):
    """Each fault injected in an organiser-style CSV copy gives a problem of its kind, on one line."""
    name, change = FAULTS[kind]
    if change is None:
        target = _copy(sample, tmp_path)
        (target / name).unlink()
    else:
        target = _csv_copy(sample, tmp_path, name, change)
    problems = ENERGY.check(target)
    assert kind in {p.kind for p in problems}, problems
    assert all("\n" not in str(p) for p in problems)


def test_check_names_manifest_faults_and_unreadable_files(sample, tmp_path):
    """A file changed since the manifest, a manifest of another challenge and a corrupt parquet file
    are each named."""
    target = _copy(sample, tmp_path)
    frame = data.load(target, schema.CALENDAR)
    frame.loc[0, "name"] = "Renamed"
    from datathon.challenges.energy.generate import write_parquet

    write_parquet(frame, target / schema.CALENDAR, schema.CALENDAR)
    manifest = json.loads((target / schema.MANIFEST).read_text(encoding="utf-8"))
    manifest["challenge"] = "sirene"
    (target / schema.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    (target / schema.SIGNALS).write_bytes(b"PAR1 not really parquet")
    kinds = {(p.file, p.kind) for p in ENERGY.check(target)}
    assert (schema.CALENDAR, "checksum-mismatch") in kinds
    assert (schema.MANIFEST, "wrong-challenge") in kinds
    assert (schema.SIGNALS, "unreadable-file") in kinds


def test_loader_refuses_bad_values_in_one_line(sample, tmp_path):
    """Loading a file with a malformed date says which column and what to run, in one line."""
    target = _csv_copy(sample, tmp_path, schema.DAILY, lambda f: _set(f.astype({"date": object}), 4, "date", "31/12/2017"))
    with pytest.raises(UserError) as err:
        data.history(target)
    assert "column date" in str(err.value) and "datathon data check" in str(err.value) and "\n" not in str(err.value)


# --------------------------------------------------------------------------- dictionary and CLI


def test_dictionary_covers_every_column_and_never_the_seed(sample):
    """README.md is written at generation, lists every file and column of the schema with its meaning,
    every mechanism, and does not quote the seed."""
    text = (sample / schema.README).read_text(encoding="utf-8")
    assert text == ENERGY.dictionary(sample)
    for spec in schema.FILES:
        assert f"## `{spec.name}`" in text
        for column in spec.columns:
            assert f"| `{column.name}` | {column.dtype} |" in text and column.meaning in text
    for name in world.MECHANISMS:
        assert f"| `{name}` |" in text
    assert str(SEED) not in text


def test_cli_generate_and_reference(tmp_path, capsys):
    """`datathon generate --challenge energy` writes the directory and `datathon reference` (challenge
    read from its manifest) writes a submission the challenge reads back for the test and train splits."""
    out = tmp_path / "data"
    assert main(["generate", "--challenge", "energy", "--scale", "sample", "--seed", str(SEED), "--out", str(out),
                 "--quiet"]) == 0
    assert ENERGY.check(out) == []
    for split in ("test", "train"):
        target = tmp_path / f"ref-{split}.csv"
        assert main(["reference", "--data", str(out), "--split", split, "--out", str(target)]) == 0
        truth = ENERGY.load_truth(out, split)
        submission = ENERGY.read_submission(target, known_ids=truth["date"])
        assert len(submission.frame) == world.HORIZON
    assert main(["generate", "--challenge", "energy", "--scale", "sample", "--seed", str(SEED), "--out", str(out),
                 "--quiet"]) == 2
    assert "not empty" in capsys.readouterr().err


def test_participants_bundle_hides_the_mechanisms_and_the_seed(sample):
    """A bundle's dictionary leaves out the mechanisms (the lag, the shocks); the manifest keys a bundle
    may keep include neither the seed nor the mechanisms, and keep only the bundle's own row counts."""
    full_text, bundle_text = ENERGY.dictionary(sample), ENERGY.dictionary(sample, bundle=True)
    assert "## How the world is made" in full_text and "## How the world is made" not in bundle_text
    assert "peak_lag" not in bundle_text and "## `daily.parquet`" in bundle_text
    keys = ENERGY.public_manifest_keys()
    assert "seed" not in keys and "mechanisms" not in keys and "checksums" not in keys
    manifest = json.loads((sample / schema.MANIFEST).read_text(encoding="utf-8"))
    public = {k: keys[k](v, {schema.DAILY}) for k, v in manifest.items() if k in keys}
    assert public["rows"] == {schema.DAILY: manifest["rows"][schema.DAILY]} and public["challenge"] == "energy"


def test_each_mechanism_draws_from_its_own_stream(monkeypatch):
    """Changing the press or the export-gap mechanism's parameters changes its own output and leaves the
    subscriptions, the stock and the social signals drawn exactly as before."""
    before = world.simulate(SEED)
    monkeypatch.setitem(world.MECHANISMS, "press", {**world.MECHANISMS["press"], "base": 5.0})
    monkeypatch.setitem(world.MECHANISMS, "missing_days", {**world.MECHANISMS["missing_days"], "gap_rate": 0.05})
    after = world.simulate(SEED)
    assert (after.new == before.new).all() and (after.customers == before.customers).all()
    assert after.signals["reach"].equals(before.signals["reach"])
    assert after.signals["press_mentions"].sum() > before.signals["press_mentions"].sum()
    assert after.missing_dates.sum() > before.missing_dates.sum()


def test_cli_data_check_and_score(sample, tmp_path, capsys):
    """`datathon data check` reads the challenge from the manifest: clean data exit 0 with each file's row
    count, an injected fault exit 1 naming it; `datathon score --json` gives every score type's key."""
    assert main(["data", "check", str(sample)]) == 0
    assert "daily 1,095" in capsys.readouterr().out
    broken = _csv_copy(sample, tmp_path, schema.DAILY, lambda f: _set(f, 9, "customers", int(f.loc[9, "customers"]) + 5))
    assert main(["data", "check", str(broken), "--challenge", "energy"]) == 1
    assert "stock-mismatch" in capsys.readouterr().out
    reference = tmp_path / "ref.csv"
    assert main(["reference", "--data", str(sample), "--out", str(reference)]) == 0
    capsys.readouterr()
    assert main(["score", str(reference), "--data", str(sample), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert {t.key for t in ENERGY.score_types} <= set(metrics) and metrics["interval_score"] is None

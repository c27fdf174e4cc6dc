"""The energy challenge's files and columns: types and meanings (the data dictionary's source).

Dtypes are those of :func:`datathon.data.convert_column` plus ``"date"`` (a day: parquet
``date32``, ISO ``YYYY-MM-DD`` text in a CSV twin), which :mod:`datathon.challenges.energy.data`
reads.
"""
from __future__ import annotations

from datathon.challenge import Column, FileSpec, Schema

DATE = "date"
MANIFEST = "manifest.json"
README = "README.md"

DAILY = "daily.parquet"
SUBSCRIPTIONS = "subscriptions.parquet"
SIGNALS = "signals.parquet"
CALENDAR = "calendar.parquet"
TRUTH = "truth_test.parquet"

CALENDAR_KINDS = ("holiday", "tariff", "price", "campaign", "news")

_DATE = Column("date", DATE, "the day (Europe/Paris), ISO `YYYY-MM-DD`")

FILES = (
    FileSpec(DAILY, (
        _DATE,
        Column("new", "int64", "new subscriptions that day (contracts signed, all channels and regions)"),
        Column("terminations", "int64", "contracts ended that day (moves, switches away, deaths, closures)"),
        Column("net_growth", "int64", "`new` − `terminations`: what the challenge forecasts"),
        Column("customers", "int64", "customers at the end of the day: the previous day's plus `net_growth`"),
    )),
    FileSpec(SUBSCRIPTIONS, (
        _DATE,
        Column("region", "string", "the customer's region (delivery point)"),
        Column("channel", "string", "how the contract was signed: `web`, `phone`, `events` (stands at fairs), "
                                    "`partners`; for terminations, the channel the customer had come through"),
        Column("new", "int64", "new subscriptions of that day, region and channel"),
        Column("terminations", "int64", "terminations of that day, region and channel"),
    )),
    FileSpec(SIGNALS, (
        _DATE,
        Column("posts", "int64", "posts the cooperative published on its social-media accounts"),
        Column("reach", "int64", "people its posts and shares reached that day (platform statistics)"),
        Column("shares", "int64", "shares of its posts"),
        Column("new_followers", "int64", "new followers across its accounts"),
        Column("web_visits", "Int64", "visits to its website (web analytics); empty during a tracking outage"),
        Column("press_mentions", "int64", "articles naming the cooperative (press monitoring)"),
    )),
    FileSpec(CALENDAR, (
        Column("kind", "string", "`holiday` (public holiday), `tariff` (regulated tariff change), `price` (the "
                                 "cooperative's own price change), `campaign` (a planned marketing campaign), "
                                 "`news` (a past event that moved opinion on energy)"),
        Column("name", "string", "what it is"),
        Column("start", DATE, "first day"),
        Column("end", DATE, "last day (the same as `start` for a one-day event)"),
        Column("channel", "string", "for a campaign, the channel it targets; empty otherwise"),
        Column("change_pct", "float64", "for a tariff or price change, the change in % (announced); empty "
                                        "otherwise"),
    )),
    FileSpec(TRUTH, (
        _DATE,
        Column("new", "int64", "new subscriptions of the forecast day", hidden=True),
        Column("terminations", "int64", "terminations of the forecast day", hidden=True),
        Column("net_growth", "int64", "`new` − `terminations` of the forecast day: what is scored", hidden=True),
    ), role="truth"),
)

# Columns that are keys (unique together), per file.
KEYS = {DAILY: ("date",), SUBSCRIPTIONS: ("date", "region", "channel"), SIGNALS: ("date",), TRUTH: ("date",)}
# Columns that count something: never negative (net_growth is a difference: it may be).
COUNTS = {spec.name: tuple(c.name for c in spec.columns if c.dtype in ("int64", "Int64") and c.name != "net_growth")
          for spec in FILES}

SCHEMA = Schema(FILES, id_column="date", splits=("train", "test"))


def spec(name: str) -> FileSpec:
    return SCHEMA.file(name)


def dtypes(name: str) -> dict[str, str]:
    return {c.name: c.dtype for c in spec(name).columns}

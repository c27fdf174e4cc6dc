"""Forming the event's teams from the participants file (``datathon event teams``).

In 2018 teams formed at the opening briefing by affinity with the suggested leads, pre-organised in a
shared spreadsheet: each participant wrote the lead they preferred (a column ``lead``: "names",
"places", "learning", …) and, sometimes, their skills (a column ``skills``: "python;sql",
"statistics"). :func:`form_teams` turns that sheet into teams of ``minimum`` to ``maximum`` people:

- those who chose a lead stay with it: a lead chosen by ``n`` people gets ``ceil(n / maximum)``
  teams, its people dealt among them so that each team gets a mix of skills;
- a lead too few people chose for one team, and those who chose none, fill the teams with room,
  each person going where their first skill is rarest; whoever is left forms teams of their own.

The result is the participants file with a ``team`` column filled, which ``datathon leaderboard
teams import`` and ``datathon hub setup`` read. Same file, same seed, same teams.
"""
from __future__ import annotations

import csv
import io
import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from datathon.errors import UserError

OPEN_LEAD = "open"  # the teams of those who chose no lead, or a lead too few people chose


@dataclass(frozen=True)
class Person:
    login: str
    name: str
    email: str
    lead: str  # the lead they prefer ("" for none)
    skills: tuple[str, ...]


def parse_size(text: str) -> tuple[int, int]:
    """``"3-5"`` (or ``"4"``) as (minimum, maximum); a one-line :class:`UserError` otherwise."""
    parts = text.strip().split("-")
    try:
        low, high = (int(parts[0]), int(parts[-1])) if 1 <= len(parts) <= 2 else (0, 0)
    except ValueError:
        low = high = 0
    if not 1 <= low <= high <= 50:
        raise UserError(f"--size {text!r}: give the team size as MIN-MAX, e.g. 3-5 (1 to 50)")
    return low, high


def read_people(path: str | Path) -> list[Person]:
    """The participants of a sheet: its ``login``, ``name``, ``email``, ``lead`` (or ``team``) and ``skills``
    columns, checked as :mod:`datathon.hub.participants` checks them (one line, naming the line)."""
    from datathon.hub.participants import parse_participants, read_participants_text

    text = read_participants_text(path)
    participants = parse_participants(text, source=str(path))
    first = text.split("\n", 1)[0]
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";" if first.count(";") > first.count(",") else ","))
    header = [h.strip().lower() for h in rows[0]]
    skills_at = header.index("skills") if "skills" in header else None
    skills = {}
    for row in rows[1:]:
        if any(cell.strip() for cell in row) and skills_at is not None:
            login = row[header.index("login")].strip()
            raw_skills = row[skills_at].replace(",", ";").split(";") if skills_at < len(row) else []
            skills[login] = tuple(s.strip().casefold() for s in raw_skills if s.strip())[:10]
    return [Person(p.login, p.name, p.email, p.team.strip(), skills.get(p.login, ())) for p in participants]


def form_teams(people: list[Person], minimum: int = 3, maximum: int = 5, seed: int = 0) -> dict[str, list[Person]]:
    """Teams of ``minimum`` to ``maximum`` people (see the module docstring), keyed by team name."""
    if len(people) < minimum:
        raise UserError(f"{len(people)} participant(s) cannot make a team of at least {minimum}")
    rng = random.Random(seed)
    by_lead: dict[str, list[Person]] = defaultdict(list)
    for person in people:
        by_lead[person.lead].append(person)
    teams: dict[str, list[Person]] = {}
    pool: list[Person] = []
    for lead in sorted(by_lead):
        members = by_lead[lead]
        if not lead or len(members) < minimum:
            pool += members
            continue
        count = math.ceil(len(members) / maximum)
        names = [f"{lead} {i}" if count > 1 else lead for i in range(1, count + 1)]
        for name in names:
            teams[name] = []
        for i, person in enumerate(_mixed(members, rng)):  # dealt like cards: each team a mix of skills
            teams[names[i % count]].append(person)
    for person in sorted(pool, key=lambda p: (len(p.skills) == 0, p.login)):
        room = [name for name, members in teams.items() if len(members) < maximum]
        if not room:
            break
        teams[min(room, key=lambda name: (_has(teams[name], person), len(teams[name]), name))].append(person)
        pool.remove(person)
    if pool:
        count = math.ceil(len(pool) / maximum)
        if len(pool) < minimum * count:  # too few left for teams of their own, and no room elsewhere
            raise UserError(f"{len(pool)} participant(s) fit in no team of {minimum} to {maximum}: "
                            f"widen --size or add them to a lead")
        names = [f"{OPEN_LEAD} {i}" if count > 1 else OPEN_LEAD for i in range(1, count + 1)]
        for i, person in enumerate(_mixed(pool, rng)):
            teams.setdefault(names[i % count], []).append(person)
    return teams


def _mixed(members: list[Person], rng: random.Random) -> list[Person]:
    """``members`` ordered by first skill (a seeded order within each), so that dealing them spreads skills."""
    members = sorted(members, key=lambda p: p.login)
    rng.shuffle(members)
    return sorted(members, key=lambda p: p.skills[:1])


def _has(members: list[Person], person: Person) -> int:
    """How many of ``members`` share ``person``'s first skill (0 when they have none)."""
    if not person.skills:
        return 0
    return Counter(s for m in members for s in m.skills[:1])[person.skills[0]]


def write_teams(teams: dict[str, list[Person]], out: str | Path) -> Path:
    """The participants file with its ``team`` column (``login,name,email,team``), written whole or not at all."""
    from datathon.files import written_atomically

    out = Path(out)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["login", "name", "email", "team"])
    for name in sorted(teams):
        for person in sorted(teams[name], key=lambda p: p.login):
            writer.writerow([person.login, person.name, person.email, name])
    out.parent.mkdir(parents=True, exist_ok=True)
    with written_atomically(out) as tmp:
        tmp.write_text(buffer.getvalue(), encoding="utf-8")
    return out

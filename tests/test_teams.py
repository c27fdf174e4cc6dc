"""datathon/teams.py: `datathon event teams`, teams formed from the participants' leads and skills."""
from __future__ import annotations

import pytest

from datathon.cli import main
from datathon.errors import UserError
from datathon.leaderboard import service
from datathon.teams import Person, form_teams, parse_size, read_people

SHEET = """login,name,email,lead,skills
ana,Ana,ana@x.fr,names,python
bob,Bob,,names,sql
cyd,Cyd,,names,statistics
dan,Dan,,names,python
eve,Eve,,names,python
fay,Fay,,names,sql
gus,Gus,,places,gis
hal,Hal,,places,python
ivy,Ivy,,places,sql
jon,Jon,,learning,python
kim,Kim,,,statistics
lea,Lea,,,
"""


def people(n_leads: dict[str, int], undecided: int = 0) -> list[Person]:
    out = [Person(f"{lead[:3]}{i}", lead, "", lead, ("python" if i % 2 else "sql",))
           for lead, n in n_leads.items() for i in range(n)]
    return out + [Person(f"und{i}", "u", "", "", ()) for i in range(undecided)]


@pytest.mark.parametrize("leads, undecided", [({"names": 6, "places": 3, "learning": 1}, 2),
                                              ({"names": 11}, 0), ({"a": 2, "b": 2, "c": 2}, 3),
                                              ({"names": 5, "places": 5}, 7)])
def test_every_participant_is_in_one_team_of_the_allowed_size(leads, undecided):
    """Is each participant in exactly one team, every team of 3 to 5, and does each person who chose a lead
    chosen by at least three people stay with that lead?"""
    everyone = people(leads, undecided)
    teams = form_teams(everyone, 3, 5)
    placed = [p.login for members in teams.values() for p in members]
    assert sorted(placed) == sorted(p.login for p in everyone)
    assert all(3 <= len(members) <= 5 for members in teams.values()), {k: len(v) for k, v in teams.items()}
    for name, members in teams.items():
        for person in members:
            if person.lead and leads.get(person.lead, 0) >= 3:
                assert name.startswith(person.lead), (person, name)


def test_a_lead_chosen_by_many_is_split_with_a_mix_of_skills():
    """Does a lead chosen by ten people make two teams of five, each with both skills present?"""
    teams = form_teams(people({"names": 10}), 3, 5)
    assert sorted(teams) == ["names 1", "names 2"]
    for members in teams.values():
        assert {p.skills[0] for p in members} == {"python", "sql"}


def test_the_undecided_fill_teams_where_their_skill_is_rarest(tmp_path):
    """From a real sheet: does the lone 'learning' participant and the undecided fill the teams with room, a
    statistician going to the names team without one?"""
    (tmp_path / "p.csv").write_text(SHEET, encoding="utf-8")
    teams = form_teams(read_people(tmp_path / "p.csv"), 3, 5)
    where = {p.login: name for name, members in teams.items() for p in members}
    assert sorted(len(m) for m in teams.values()) == [4, 4, 4]
    cyd_team = where["cyd"]
    assert where["kim"] != cyd_team and where["kim"].startswith("names")  # statistics: where there is none yet


def test_the_same_sheet_and_seed_give_the_same_teams_another_seed_may_not():
    """Is forming deterministic in (people, size, seed)?"""
    everyone = people({"names": 9, "places": 7}, 4)

    def logins(teams):
        return {name: sorted(p.login for p in m) for name, m in teams.items()}

    assert logins(form_teams(everyone, 3, 5, seed=1)) == logins(form_teams(everyone, 3, 5, seed=1))
    assert any(logins(form_teams(everyone, 3, 5, seed=s)) != logins(form_teams(everyone, 3, 5, seed=1))
               for s in range(2, 8))


@pytest.mark.parametrize("size, message", [("5-3", "MIN-MAX"), ("0-4", "MIN-MAX"), ("three", "MIN-MAX"),
                                           ("1-2-3", "MIN-MAX")])
def test_a_bad_size_is_one_line(size, message):
    """Is a team size that is not MIN-MAX with 1 <= MIN <= MAX refused in one line?"""
    with pytest.raises(UserError, match=message):
        parse_size(size)


def test_too_few_people_for_a_team_is_refused():
    """Are two people refused for teams of at least three, in one line?"""
    with pytest.raises(UserError, match="cannot make a team of at least 3"):
        form_teams(people({"names": 2}), 3, 5)


def test_the_command_writes_a_file_the_leaderboard_imports(tmp_path, capsys, world_dir):
    """Does `datathon event teams` write login,name,email,team, print each team, refuse to overwrite its input,
    and does `leaderboard teams import` create exactly those teams?"""
    sheet, out = tmp_path / "p.csv", tmp_path / "teams.csv"
    sheet.write_text(SHEET, encoding="utf-8")
    assert main(["event", "teams", str(sheet), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "12 participants in 3 teams" in printed
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "login,name,email,team" and len(lines) == 13
    assert main(["event", "teams", str(sheet), "--out", str(sheet)]) == 2
    assert "the participants file itself" in capsys.readouterr().err
    event = tmp_path / "ev"
    service.init_event(event, world_dir, name="teams test")
    created = service.import_teams(event, out)["created"]
    assert sorted(created) == sorted({line.rsplit(",", 1)[1] for line in lines[1:]})


def test_a_hostile_sheet_is_one_line(tmp_path):
    """Is a sheet that is a link, too big or not UTF-8 refused in one line before anything is formed (the one
    reader `event teams`, `leaderboard teams import` and `hub setup` share)?"""
    big, latin, link = tmp_path / "big.csv", tmp_path / "latin.csv", tmp_path / "link.csv"
    big.write_text("login,name\n" + "abc,x\n" * 200_000, encoding="utf-8")
    latin.write_bytes("login,name,lead\nana,Anaïs,names\n".encode("latin-1"))
    link.symlink_to("/etc/passwd")
    for path, words in ((big, "more than"), (latin, "not UTF-8"), (link, "link")):
        with pytest.raises(UserError) as err:
            read_people(path)
        assert words in err.value.message and "\n" not in err.value.message, err.value.message

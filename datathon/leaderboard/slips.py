"""Printable token slips: one self-contained HTML page, A4, one slip per team between cut lines.

:func:`render_slips` only renders; :func:`datathon.leaderboard.service.write_slips` issues the
tokens it prints and writes the page (tokens are stored hashed, so they can be printed only when
they are issued). Each slip holds the event's name, the team's name, its token in a large
monospace font, the ``datathon submit`` command (with ``--token-file``) and the server's address
when given. Every text from outside is escaped (``html.escape``); the page loads nothing: its
CSS is inline and its fonts are the printer's own monospace and sans-serif.
"""
from __future__ import annotations

import shlex
from html import escape

TOKEN_FILE = "token.txt"

_CSS = """
@page { size: A4; margin: 10mm; }
* { box-sizing: border-box; }
body { margin: 0; font-family: sans-serif; color: #000; background: #fff; }
.slip { width: 100%; padding: 6mm 8mm; border-bottom: 0.4mm dashed #000; break-inside: avoid;
        page-break-inside: avoid; overflow-wrap: anywhere; }
.slip:first-child { border-top: 0.4mm dashed #000; }
.event { font-size: 10pt; margin: 0; }
.team { font-size: 16pt; font-weight: bold; margin: 1mm 0 2mm; }
.token { font-family: monospace; font-size: 20pt; font-weight: bold; letter-spacing: 0.5pt; margin: 0 0 2mm;
         padding: 1mm 2mm; border: 0.3mm solid #000; display: inline-block; max-width: 100%; }
.how { font-size: 9pt; margin: 0; }
code { font-family: monospace; font-size: 9pt; white-space: pre-wrap; }
"""


def render_slips(event_name: str, tokens: dict[str, str], *, server: str | None = None) -> str:
    """The HTML page of slips for ``tokens`` (``{team name: token}``), in that order."""
    slips = [_slip(event_name, team, token, server) for team, token in tokens.items()]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>Team tokens: {escape(event_name)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(slips)
        + "\n</body></html>\n"
    )


def _slip(event_name: str, team: str, token: str, server: str | None) -> str:
    where = f"--server {shlex.quote(server)}" if server else "--server URL"
    command = f"datathon submit predictions.csv {where} --team {shlex.quote(team)} --token-file {TOKEN_FILE}"
    server_line = f"<p class=\"how\">Leaderboard: <code>{escape(server)}</code></p>" if server else ""
    return (
        "<section class=\"slip\">"
        f"<p class=\"event\">{escape(event_name)}</p>"
        f"<p class=\"team\">{escape(team)}</p>"
        f"<p class=\"token\">{escape(token)}</p>"
        "<p class=\"how\">Keep this token secret. Save it, alone on one line, in "
        f"<code>{TOKEN_FILE}</code>, then submit with:</p>"
        f"<p class=\"how\"><code>{escape(command)}</code></p>"
        f"{server_line}"
        "</section>"
    )

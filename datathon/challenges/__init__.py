"""The registry of challenges: the built-in ones and those other packages install.

Sources, merged: the literal :data:`BUILTINS` table (so a stale ``*.egg-info`` never hides a
built-in challenge) and the entry points of group ``datathon.challenges``, which a third-party
package declares in its pyproject::

    [project.entry-points."datathon.challenges"]
    wind = "datathon_wind:CHALLENGE"

A source is ``"module:attribute"`` naming a :class:`datathon.challenge.Challenge` instance.
"""
from __future__ import annotations

import importlib
import os
from importlib.metadata import entry_points
from pathlib import Path

from datathon.challenge import API, Challenge
from datathon.errors import UserError

GROUP = "datathon.challenges"
DEFAULT = "sirene"
ENVIRONMENT = "DATATHON_CHALLENGE"  # the grader sets it in the sandbox; make lab CHALLENGE=…
BUILTINS = {"sirene": "datathon.challenges.sirene:CHALLENGE", "energy": "datathon.challenges.energy:CHALLENGE"}

_loaded: dict[str, Challenge] = {}


def available() -> dict[str, str]:
    """Every installed challenge's name and source, built-ins first.

    A name declared with two different sources is a clash: one :class:`UserError` naming both.
    """
    sources = dict(BUILTINS)
    for ep in sorted(entry_points(group=GROUP), key=lambda e: (e.name, e.value)):
        known = sources.setdefault(ep.name, ep.value)
        if known != ep.value:  # our own pyproject declares the built-ins again, with the same source
            raise UserError(f"two challenges are named {ep.name!r}: {known} and {ep.value} "
                            f"(entry point group {GROUP}); uninstall one")
    return sources


def get(name: str) -> Challenge:
    """The challenge called ``name``, loaded once; a one-line :class:`UserError` when there is none."""
    if name in _loaded:
        return _loaded[name]
    sources = available()
    if name not in sources:
        raise UserError(f"unknown challenge {name!r} (installed: {', '.join(sources)}); "
                        f"`datathon challenges` lists them")
    source = sources[name]
    module, _, attribute = source.partition(":")
    try:
        challenge = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as err:
        raise UserError(f"challenge {name!r}: cannot load {source}: {err}") from None
    if not isinstance(challenge, Challenge):
        raise UserError(f"challenge {name!r}: {source} is a {type(challenge).__name__}, not a Challenge")
    if challenge.api != API:
        raise UserError(f"challenge {name!r} ({source}) was written for contract version {challenge.api}; "
                        f"this datathon has version {API}")
    if challenge.name != name:
        raise UserError(f"challenge {name!r}: {source} calls itself {challenge.name!r}")
    _loaded[name] = challenge
    return challenge


def installed() -> list[Challenge]:
    """Every installed challenge, loaded, built-ins first."""
    return [get(name) for name in available()]


def resolve(name: str | None = None, *, data: Path | None = None) -> Challenge:
    """The challenge a command works on (docs/challenges.md, "Which challenge a command uses").

    ``name`` (``--challenge``) when given; else the ``challenge`` of the data directory's
    ``manifest.json``, where no key means Sirene (its manifest stays byte for byte as it is); else
    ``$DATATHON_CHALLENGE``; else Sirene. A name contradicting the manifest is a one-line error.
    """
    chosen = get(name) if name is not None else None  # an unknown name is said as such first
    declared = None
    # A missing directory or manifest is left to the command, whose message says what to do.
    if data is not None and (path := Path(data) / "manifest.json").is_file():
        from datathon.data import load_manifest

        try:
            declared = load_manifest(data).get("challenge", DEFAULT)
        except (UserError, AttributeError):  # unreadable or not an object: the command's own checks report it
            declared = None
    if name is not None and declared is not None and name != declared:
        raise UserError(f"--challenge {name}, but {path} says {declared}")
    return chosen or get(declared or os.environ.get(ENVIRONMENT) or DEFAULT)

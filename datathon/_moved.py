"""Old import paths of modules that moved keep working, as the very same module objects.

Sirene's modules moved from the top of the package into :mod:`datathon.challenges.sirene`
(docs/challenges.md, §3). Notebooks students already hold, pickled models, benchmarks and scripts
import them by their old names (``from datathon.names import ...``); this finder answers those names
with the new module itself, not a copy, so monkeypatching, private names and pickles keep working.
It sits first on ``sys.meta_path``: otherwise ``datathon.world.sirene`` would be found again under
the moved package's ``__path__`` and loaded a second time.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

_SIRENE = "datathon.challenges.sirene"

#: old name -> new name; a name below an old package follows it (``datathon.world.noise``).
MOVED = {
    "datathon.world.seeds": "datathon.seeds",  # generic: every challenge's seeds
    "datathon.world": f"{_SIRENE}.world",
    **{f"datathon.{name}": f"{_SIRENE}.{name}"
       for name in ("mca", "names", "places", "activity", "matcher", "blocking", "pipeline", "naf", "luhn")},
    **{f"datathon.checks.{name}": f"{_SIRENE}.checks.{name}" for name in ("a1", "a2", "a3")},
}


def new_name(old: str) -> str | None:
    """Where the module once called ``old`` lives now; None when it did not move."""
    for prefix in sorted(MOVED, key=len, reverse=True):  # the longest match: world.seeds before world
        if old == prefix or old.startswith(prefix + "."):
            return MOVED[prefix] + old[len(prefix):]
    return None


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self):
        self._specs: dict[str, object] = {}

    def find_spec(self, fullname, path=None, target=None):
        if new_name(fullname) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        module = importlib.import_module(new_name(spec.name))
        self._specs[spec.name] = module.__spec__  # the import system overwrites it with the alias's spec
        return module

    def exec_module(self, module):
        # Already executed under its new name; give it back its own spec.
        for old, spec in list(self._specs.items()):
            if spec is not None and spec.name == module.__name__:
                module.__spec__ = self._specs.pop(old)


def install() -> None:
    """Put the finder first on ``sys.meta_path``, once."""
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MovedFinder())

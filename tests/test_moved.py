"""datathon/_moved.py: the old import paths of the modules that moved into datathon/challenges/sirene/."""
import importlib
import pickle
import subprocess
import sys

import pytest

from datathon import _moved


@pytest.mark.parametrize("old", sorted(_moved.MOVED))
def test_an_old_path_is_the_very_module_of_the_new_one(old):
    """Does importing a module by its old name give the moved module itself (not a copy), with its own name
    and spec, so that monkeypatching either name patches both?"""
    new = _moved.new_name(old)
    module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert module.__name__ == new and module.__spec__.name == new


def test_submodules_of_a_moved_package_are_not_loaded_twice():
    """In a fresh interpreter, do `datathon.world.sirene` and `datathon.challenges.sirene.world.sirene` name one
    module, imported once, whichever comes first, and do `from datathon import names` and private names work?"""
    code = ("import sys\n"
            "import datathon.world.sirene as a\n"
            "import datathon.challenges.sirene.world.sirene as b\n"
            "from datathon import names, luhn\n"
            "import datathon.challenges.sirene.names as n2\n"
            "assert a is b and names is n2 and luhn.siret_valid\n"
            "assert [m for m in sys.modules if m.endswith('world.sirene')] == "
            "['datathon.challenges.sirene.world.sirene', 'datathon.world.sirene']\n"
            "assert sys.modules['datathon.world.sirene'] is b\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_pickle_made_under_an_old_name_loads():
    """Does an object pickled when its class lived at the old path (a model saved before the move) load?"""
    from datathon.challenges.sirene.blocking import Blocks

    payload = pickle.dumps(Blocks.__new__(Blocks), protocol=0).replace(  # protocol 0: names as plain text lines
        b"datathon.challenges.sirene.blocking", b"datathon.blocking")
    assert b"datathon.blocking" in payload
    assert type(pickle.loads(payload)) is Blocks


def test_names_that_did_not_move_are_not_answered():
    """Are modules that never moved (the engine's) left to the normal import system?"""
    assert _moved.new_name("datathon.checks") is None and _moved.new_name("datathon.worlds") is None
    assert _moved.new_name("datathon.world.seeds") == "datathon.seeds"

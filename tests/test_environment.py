"""environment.yml (conda) and pyproject.toml (pip/venv) must describe the same pinned set,
and the running environment must be that set."""
from __future__ import annotations

import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml  # PyYAML: already installed by the Jupyter stack (jupyter-events), no new dependency

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
ENVIRONMENT = ROOT / "environment.yml"

#: Conda-only entries that have no counterpart in pyproject's dependencies.
CONDA_ONLY = {"python"}
#: Lines allowed without a "# why" comment: the interpreter needs no justification.
NO_COMMENT_NEEDED: set[str] = set()

PIP_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;,]+)\s*$")
CONDA_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==?\s*([^\s=<>!,|*]+)\s*$")


def normalise(name: str) -> str:
    """PEP 503 name: lower case, runs of ``-``, ``_``, ``.`` become one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject_requirements() -> list[str]:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    return list(project["dependencies"]) + list(project["optional-dependencies"]["dev"])


def pyproject_pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for req in pyproject_requirements():
        m = PIP_PIN.match(req)
        assert m, f"pyproject.toml: {req!r} is not pinned as name==version"
        name = normalise(m[1])
        assert name not in pins, f"pyproject.toml lists {name} twice"
        pins[name] = m[2]
    return pins


def environment() -> dict:
    return yaml.safe_load(ENVIRONMENT.read_text(encoding="utf-8"))


def environment_pins() -> dict[str, str]:
    """Conda pins (``name=version``) plus any ``pip:`` subsection (``name==version``)."""
    pins: dict[str, str] = {}

    def add(name: str, version: str) -> None:
        name = normalise(name)
        assert name not in pins, f"environment.yml lists {name} twice"
        pins[name] = version

    for dep in environment()["dependencies"]:
        if isinstance(dep, dict):
            assert set(dep) == {"pip"}, f"environment.yml: unexpected entry {dep!r}"
            for req in dep["pip"]:
                m = PIP_PIN.match(req)
                assert m, f"environment.yml pip: {req!r} is not pinned as name==version"
                add(m[1], m[2])
        else:
            m = CONDA_PIN.match(str(dep))
            assert m, f"environment.yml: {dep!r} is not pinned as name=version"
            add(m[1], m[2])
    return pins


def test_every_pyproject_dependency_is_pinned_exactly():
    """Is every dependency of pyproject.toml (runtime and dev extra) pinned with ``==``?"""
    pins = pyproject_pins()
    assert pins, "pyproject.toml declares no dependencies"


def test_pyproject_pins_are_in_environment_yml():
    """Does environment.yml list every pyproject pin, at the same version?"""
    env = environment_pins()
    problems = []
    for name, version in sorted(pyproject_pins().items()):
        if name not in env:
            problems.append(f"{name}=={version}: missing from environment.yml")
        elif env[name] != version:
            problems.append(f"{name}: pyproject {version}, environment.yml {env[name]}")
    assert not problems, "\n".join(problems)


def test_environment_yml_has_nothing_pyproject_lacks():
    """Is every environment.yml dependency (except python) also a pyproject pin?"""
    pins = pyproject_pins()
    extra = sorted(n for n in environment_pins() if n not in pins and n not in CONDA_ONLY)
    assert not extra, f"in environment.yml but not in pyproject.toml: {extra}"


def test_environment_python_satisfies_requires_python():
    """Does environment.yml's python satisfy pyproject's requires-python?"""
    env = environment_pins()
    assert "python" in env, "environment.yml does not pin python"
    requires = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["requires-python"]
    m = re.fullmatch(r">=\s*(\d+)\.(\d+)", requires.strip())
    assert m, f"unexpected requires-python {requires!r}"
    env_python = tuple(int(x) for x in env["python"].split(".")[:2])
    assert env_python >= (int(m[1]), int(m[2])), f"python={env['python']} but requires-python {requires}"


def test_environment_is_named_and_uses_conda_forge():
    """Is the conda environment named, and does it install from conda-forge only?"""
    env = environment()
    assert env.get("name") == "datathon"
    channels = env.get("channels") or []
    assert channels and channels[0] == "conda-forge", channels
    assert set(channels) <= {"conda-forge", "nodefaults"}, f"channels other than conda-forge: {channels}"


def test_every_environment_dependency_says_why():
    """Does each dependency line of environment.yml carry a ``# why`` comment?"""
    lines = ENVIRONMENT.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("dependencies:"))
    missing = []
    for line in lines[start + 1 :]:
        if line and not line[0].isspace() and not line.startswith("#"):
            break  # the next top-level key
        m = re.match(r"^\s*-\s*([^#\s]+)\s*(?:#\s*(.*))?$", line)
        if not m or m[1].endswith(":"):  # not an item, or the ``- pip:`` header
            continue
        name = normalise(re.split(r"[=<>!]", m[1])[0])
        if name not in NO_COMMENT_NEEDED and not (m[2] or "").strip():
            missing.append(line.strip())
    assert not missing, "dependencies without a '# why' comment:\n" + "\n".join(missing)


@pytest.mark.parametrize("name,version", sorted(pyproject_pins().items()))
def test_installed_version_matches_pin(name, version):
    """Is the package installed in the running environment at exactly its pinned version?"""
    try:
        installed = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f"{name} is not installed in {sys.prefix}; run `make venv`")
    assert installed == version, f"{name}: installed {installed}, pinned {version}; run `make venv`"

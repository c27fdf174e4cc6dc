"""Geographic blocking: which establishments of the register are worth comparing with a bulletin.

Comparing every bulletin with every establishment is both slow (1.7 M × 8.5 M pairs for a
campaign) and harmful: a common name ("MAIRIE", "BOULANGERIE DU CENTRE", a chain's sign) has
namesakes all over the country. People work close to where they say they work, so each bulletin
is compared only with the establishments of its **block**:

1. **The declared workplace commune** (:func:`resolve_workplace`): ``CLT_X`` as written, read
   against the commune names (``ST``/``SAINT``, hyphens, accents and case do not matter; a
   misspelt name is matched to the closest commune of the département when one is clearly
   closest), inside the declared département ``DLT_X`` (or the home département when none is
   declared). An empty ``CLT_X`` with ``ILT_X = 1`` ("I work in my home commune") means the home
   commune ``DEPCOM_CODE``.
2. **The block** (:func:`block_bulletins`): that commune and its adjacent communes
   (``communes_adjacentes.csv``), since people often give a neighbouring commune; when no commune
   can be read, the whole département (``DLT_X``, else the home one).
3. **Closed establishments** (``etatAdministratifEtablissement = "F"``) are left out by default:
   a census bulletin describes a current job. ``keep_closed=True`` keeps them.

The price of blocking is recall: a bulletin whose establishment lies outside its block can no
longer be coded right (someone who gives the home commune while working elsewhere, say).

Typical use::

    from datathon.challenges.sirene.blocking import block_bulletins
    blocks = block_bulletins(bulletins, register, communes, adjacences)
    blocks.candidates(0)          # register row positions to compare with bulletin 0
    blocks.sizes()                # how many candidates each bulletin has
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from datathon.schema import departement_of
from datathon.text import commune_key, is_missing

# A misspelt commune name is accepted when its closest commune scores at least this (rapidfuzz
# ratio, 0-100) and clearly more than the runner-up.
FUZZY_CUTOFF = 85.0
FUZZY_MARGIN = 5.0

# How each bulletin's place was found (column ``source`` of resolve_workplace).
DECLARED = "declared"  # CLT_X read exactly (up to spelling conventions)
FUZZY = "fuzzy"  # CLT_X misspelt, matched to the closest commune
HOME = "home"  # CLT_X empty, ILT_X = 1: the home commune
DEPARTEMENT = "departement"  # no commune: the département only
UNKNOWN = "unknown"  # neither commune nor département


def _text(value) -> str | None:
    """A present, non-blank text value stripped, else None."""
    if is_missing(value):
        return None
    value = str(value).strip()
    return value or None


class CommuneResolver:
    """Reads declared commune names into COG codes, département by département.

    ``communes`` is the reference (``code_commune``, ``nom_commune``, ``code_departement``).
    """

    def __init__(self, communes: pd.DataFrame, *, fuzzy_cutoff: float = FUZZY_CUTOFF,
                 fuzzy_margin: float = FUZZY_MARGIN):
        self.fuzzy_cutoff = fuzzy_cutoff
        self.fuzzy_margin = fuzzy_margin
        keys = [commune_key(n) for n in communes["nom_commune"].to_numpy(dtype=object)]
        codes = communes["code_commune"].to_numpy(dtype=object)
        deps = communes["code_departement"].to_numpy(dtype=object)
        self.departements = set(deps)
        self._by_dep: dict[str, dict[str, str]] = {}
        self._by_key: dict[str, str | None] = {}  # None: the name exists in several départements
        for key, code, dep in zip(keys, codes, deps):
            self._by_dep.setdefault(dep, {})[key] = code
            self._by_key[key] = None if key in self._by_key else code
        self._choices = {dep: list(names) for dep, names in self._by_dep.items()}
        self._fuzzy_cache: dict[tuple[str, str], str | None] = {}

    def exact(self, name, departement: str | None = None) -> str | None:
        """The code of a commune named ``name`` (spelling conventions aside), or None."""
        key = commune_key(name)
        if not key:
            return None
        if departement:
            return self._by_dep.get(departement, {}).get(key)
        return self._by_key.get(key)

    def closest(self, name, departement: str) -> str | None:
        """The code of the commune of ``departement`` whose name is clearly closest to ``name``."""
        key = commune_key(name)
        if not key or departement not in self._choices:
            return None
        cached = self._fuzzy_cache.get((departement, key))
        if cached is not None or (departement, key) in self._fuzzy_cache:
            return cached
        found = process.extract(key, self._choices[departement], scorer=fuzz.ratio, limit=2)
        code = None
        if found and found[0][1] >= self.fuzzy_cutoff:
            runner_up = found[1][1] if len(found) > 1 else 0.0
            if found[0][1] - runner_up >= self.fuzzy_margin:
                code = self._by_dep[departement][found[0][0]]
        self._fuzzy_cache[(departement, key)] = code
        return code

    def resolve(self, name, departement: str | None = None, *, home_departement: str | None = None,
                fuzzy: bool = True) -> tuple[str | None, str | None]:
        """``(code, source)`` of a declared commune; ``(None, None)`` when it cannot be read.

        Without a declared ``departement``, the name is looked up in ``home_departement`` first,
        then anywhere (when only one département has a commune of that name).
        """
        deps = [departement] if departement else [d for d in (home_departement,) if d]
        for dep in deps:
            code = self.exact(name, dep)
            if code:
                return code, DECLARED
        if not departement:
            code = self.exact(name)
            if code:
                return code, DECLARED
        if fuzzy:
            for dep in deps:
                code = self.closest(name, dep)
                if code:
                    return code, FUZZY
        return None, None


def resolve_workplace(bulletins: pd.DataFrame, communes: pd.DataFrame, *, fuzzy: bool = True) -> pd.DataFrame:
    """The declared workplace of each bulletin, as far as it can be read.

    Returns a frame aligned with ``bulletins`` (same index) with ``commune`` (COG code or
    ``<NA>``), ``departement`` (``<NA>`` when unknown) and ``source`` (``declared``, ``fuzzy``,
    ``home``, ``departement`` or ``unknown``). Uses ``CLT_X``, ``DLT_X``, ``ILT_X`` and
    ``DEPCOM_CODE``.
    """
    resolver = CommuneResolver(communes)
    n = len(bulletins)
    clt = bulletins["CLT_X"].to_numpy(dtype=object) if "CLT_X" in bulletins else np.full(n, None)
    dlt = bulletins["DLT_X"].to_numpy(dtype=object) if "DLT_X" in bulletins else np.full(n, None)
    ilt = bulletins["ILT_X"].to_numpy(dtype=object) if "ILT_X" in bulletins else np.full(n, None)
    home = bulletins["DEPCOM_CODE"].to_numpy(dtype=object) if "DEPCOM_CODE" in bulletins else np.full(n, None)

    commune = np.full(n, None, dtype=object)
    departement = np.full(n, None, dtype=object)
    source = np.full(n, UNKNOWN, dtype=object)
    memo: dict[tuple, tuple[str | None, str | None]] = {}  # the same few names recur
    for i in range(n):
        name, dep, home_code = _text(clt[i]), _text(dlt[i]), _text(home[i])
        home_dep = departement_of(home_code) if home_code else None
        if name:
            key = (name, dep, home_dep)
            if key not in memo:
                memo[key] = resolver.resolve(name, dep, home_departement=home_dep, fuzzy=fuzzy)
            code, how = memo[key]
            if code:
                commune[i], source[i] = code, how
        elif _text(ilt[i]) == "1" and home_code:
            commune[i], source[i] = home_code, HOME
        if commune[i] is not None:
            departement[i] = departement_of(commune[i])
        else:
            departement[i] = dep or home_dep
            if departement[i]:
                source[i] = DEPARTEMENT
    return pd.DataFrame(
        {"commune": pd.array(commune, dtype="string"), "departement": pd.array(departement, dtype="string"),
         "source": pd.array(source, dtype="string")},
        index=bulletins.index,
    )


def neighbourhoods(adjacences: pd.DataFrame) -> dict[str, list[str]]:
    """Each commune with its adjacent communes: ``{code: [code, adjacent, ...]}`` (itself first).

    ``adjacences`` lists pairs (``code_commune``, ``code_commune_adjacente``); a pair given in one
    direction only counts in both.
    """
    pairs: dict[str, set[str]] = {}
    a = adjacences["code_commune"].to_numpy(dtype=object)
    b = adjacences["code_commune_adjacente"].to_numpy(dtype=object)
    for x, y in zip(a, b):
        if is_missing(x) or is_missing(y):
            continue
        pairs.setdefault(x, set()).add(y)
        pairs.setdefault(y, set()).add(x)
    return {c: [c, *sorted(others - {c})] for c, others in pairs.items()}


@dataclass
class Blocks:
    """The block of every bulletin: which register rows it should be compared with.

    Bulletins that share a block share its key: ``key[i]`` is ``"C:<commune>"`` (a commune and its
    neighbours), ``"D:<département>"`` or ``"-"`` (no block: every establishment kept), and
    ``rows[key]`` the sorted register row positions (0-based, as in ``register.iloc``) of the
    block. ``workplace`` is what :func:`resolve_workplace` returned.
    """

    key: np.ndarray
    rows: dict[str, np.ndarray]
    workplace: pd.DataFrame

    def __len__(self) -> int:
        return len(self.key)

    def candidates(self, i: int) -> np.ndarray:
        """The register row positions of bulletin ``i``'s block."""
        return self.rows[self.key[i]]

    def __getitem__(self, i: int) -> np.ndarray:
        return self.candidates(i)

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self.rows[k] for k in self.key)

    def subset(self, positions) -> Blocks:
        """The blocks of the bulletins at ``positions`` (in that order)."""
        positions = np.asarray(positions, dtype=np.int64)
        key = self.key[positions]
        return Blocks(key=key, rows={k: self.rows[k] for k in set(key)},
                      workplace=self.workplace.iloc[positions])

    def sizes(self) -> np.ndarray:
        """How many establishments each bulletin is compared with."""
        size = {k: len(v) for k, v in self.rows.items()}
        return np.array([size[k] for k in self.key], dtype=np.int64)

    def groups(self) -> dict[str, np.ndarray]:
        """Bulletin positions per block key (the unit of work of a blocked search)."""
        codes, uniques = pd.factorize(pd.Series(self.key, dtype=object))
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
        return {uniques[j]: order[bounds[j]:bounds[j + 1]] for j in range(len(uniques))}

    def contains(self, register_rows) -> np.ndarray:
        """For each bulletin, whether the register row ``register_rows[i]`` is in its block
        (False where it is negative or missing): the recall of the blocking."""
        targets = np.asarray(pd.array(register_rows, dtype="Int64").fillna(-1), dtype=np.int64)
        return self.contains_pairs(np.arange(len(self.key)), targets)

    def contains_pairs(self, bulletins, register_rows) -> np.ndarray:
        """For pairs (``bulletins[i]``, ``register_rows[i]``), whether the row is in the bulletin's block."""
        bulletins = np.asarray(bulletins, dtype=np.int64)
        targets = np.asarray(register_rows, dtype=np.int64)
        out = np.zeros(len(bulletins), dtype=bool)
        if len(bulletins) == 0:
            return out
        codes, uniques = pd.factorize(pd.Series(self.key[bulletins], dtype=object))
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
        for j, key in enumerate(uniques):
            where = order[bounds[j]:bounds[j + 1]]
            out[where] = _member(self.rows[key], targets[where])
        return out


def _member(sorted_rows: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Whether each of ``targets`` is in ``sorted_rows`` (negative targets never are)."""
    pos = np.searchsorted(sorted_rows, targets)
    hit = (targets >= 0) & (pos < len(sorted_rows))
    hit[hit] = sorted_rows[pos[hit]] == targets[hit]
    return hit


def block_bulletins(
    bulletins: pd.DataFrame,
    register: pd.DataFrame,
    communes: pd.DataFrame,
    adjacences: pd.DataFrame | None = None,
    *,
    adjacent: bool = True,
    keep_closed: bool = False,
    fuzzy: bool = True,
) -> Blocks:
    """The geographic block of each bulletin (module docstring).

    ``adjacent=False`` keeps the declared commune alone (the block then misses everyone who gave a
    neighbouring commune); ``keep_closed=True`` keeps closed establishments. Register rows are
    positions in ``register`` as given (``register.iloc``).
    """
    workplace = resolve_workplace(bulletins, communes, fuzzy=fuzzy)
    near = neighbourhoods(adjacences) if (adjacent and adjacences is not None) else {}

    reg_commune = register["codeCommuneEtablissement"].astype("string").fillna("").to_numpy(dtype=object)
    keep = np.ones(len(register), dtype=bool)
    if not keep_closed and "etatAdministratifEtablissement" in register:
        keep = (register["etatAdministratifEtablissement"].astype("string") != "F").fillna(True).to_numpy(dtype=bool)
    kept = np.flatnonzero(keep)
    by_commune: dict[str, np.ndarray] = {}
    codes, uniques = pd.factorize(pd.Series(reg_commune[kept], dtype=object))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    for j, code in enumerate(uniques):
        by_commune[code] = kept[order[bounds[j]:bounds[j + 1]]]  # sorted: kept is, the sort is stable
    by_departement: dict[str, list[np.ndarray]] = {}
    for code, rows_of in by_commune.items():
        if code:
            by_departement.setdefault(departement_of(code), []).append(rows_of)

    commune = workplace["commune"].to_numpy(dtype=object, na_value=None)
    departement = workplace["departement"].to_numpy(dtype=object, na_value=None)
    key = np.empty(len(bulletins), dtype=object)
    rows: dict[str, np.ndarray] = {}
    for i in range(len(bulletins)):
        if commune[i] is not None:
            k = "C:" + commune[i]
            if k not in rows:
                members = near.get(commune[i], [commune[i]]) if adjacent else [commune[i]]
                parts = [by_commune[c] for c in members if c in by_commune]
                rows[k] = np.sort(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)
        elif departement[i] is not None:
            k = "D:" + departement[i]
            if k not in rows:
                parts = by_departement.get(departement[i], [])
                rows[k] = np.sort(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)
        else:
            k = "-"
            if k not in rows:
                rows[k] = kept
        key[i] = k
    return Blocks(key=key, rows=rows, workplace=workplace)


def candidate_rows(bulletins: pd.DataFrame, register: pd.DataFrame, communes: pd.DataFrame,
                   adjacences: pd.DataFrame | None = None, **options) -> list[np.ndarray]:
    """For each bulletin, the register row positions of its block (see :func:`block_bulletins`)."""
    return list(block_bulletins(bulletins, register, communes, adjacences, **options))

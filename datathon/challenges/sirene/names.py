"""Matching on names: normalise, index the register's names, retrieve and compare candidates.

The declared name (``RS_X``) is the strongest clue to the employer, and the noisiest: legal forms
added (``SARL``), words abbreviated (``STE``, ``ETS``, ``ST``), the sign given instead of the
legal name, words dropped or added, typos, truncation. This module holds the pieces of the names
approach (``course/02_names.ipynb``):

* :func:`normalise_name` / :func:`normalise_names`: one spelling for the same name (upper case,
  no accents or punctuation, legal forms removed, abbreviations expanded, stop words dropped);
* :func:`name_variants`: every name an establishment may be declared under (legal name, sign,
  usual name, acronym, a sole proprietor's "surname first name" and "first name surname");
* :class:`NameIndex`: character n-gram TF-IDF vectors of those names, and a blocked top-k
  search by cosine similarity (sparse products block by block, never a dense bulletins ×
  register matrix);
* :func:`string_features`: rapidfuzz distances (ratio, token_set_ratio, partial_ratio,
  Jaro-Winkler) for candidate pairs;
* :func:`candidate_table`: each bulletin's top-k candidates with every signal (similarities,
  same commune, size, how common the matched name is);
* :class:`ChoiceModel`: which candidate is the employer, or none of them (a softmax with a few
  weights fitted on training bulletins), and :class:`NameReliability`, how far a declared name
  can be trusted (learnt on training bulletins); :func:`threshold_for_precision` picks the
  confidence above which to code.

Typical use::

    from datathon.challenges.sirene.blocking import block_bulletins
    from datathon.challenges.sirene.names import NameIndex, normalise_names
    index = NameIndex(register)
    blocks = block_bulletins(bulletins, register, communes, adjacences)
    top = index.query(normalise_names(bulletins["RS_X"]), k=10, block=blocks)
    candidates = candidate_table(index, normalise_names(bulletins["RS_X"]), blocks, k=20)
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
import pandas as pd
from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from datathon import schema
from datathon.text import commune_key, is_missing, simplify
from datathon.text import without_words as drop_words

# Legal forms (catégories juridiques written as words): they say nothing about who the employer is.
LEGAL_FORMS = frozenset({
    "SA", "SAS", "SASU", "SARL", "SARLU", "EURL", "SNC", "SCS", "SCA", "SCI", "SCM", "SCP", "SCOP", "SCIC",
    "SELARL", "SELAS", "SELAFA", "SELCA", "SEL", "GAEC", "EARL", "SCEA", "GFA", "GIE", "GIP", "EI", "EIRL",
    "SEM", "SEML", "SAEM", "SPL", "SCPI", "SICA", "CUMA", "SASP",
})
# Dotted or spaced legal forms, after punctuation became spaces: "S.A.R.L." -> "S A R L".
SPACED_LEGAL_FORMS = ("S A R L U", "S A R L", "S A S U", "S A S", "E U R L", "S N C", "S C I", "S A")

# Abbreviations and their expansion (word for word). STE is ambiguous: SOCIETE at the start of
# a name ("STE PAYET"), SAINTE elsewhere ("MAIRIE DE STE ANNE").
ABBREVIATIONS = {
    "ST": "SAINT", "STS": "SAINTS", "ETS": "ETABLISSEMENTS", "ETAB": "ETABLISSEMENTS",
    "ETABL": "ETABLISSEMENTS", "ETABS": "ETABLISSEMENTS", "CIE": "COMPAGNIE",
    "STE": "SAINTE", "SOC": "SOCIETE", "ASSO": "ASSOCIATION", "ASSOC": "ASSOCIATION", "ASS": "ASSOCIATION",
    "CTRE": "CENTRE", "CTR": "CENTRE", "GPE": "GROUPE", "GRPE": "GROUPE", "SCE": "SERVICE", "SCES": "SERVICES",
    "SERV": "SERVICES", "ENTR": "ENTREPRISE", "ENTRP": "ENTREPRISE", "ENTSE": "ENTREPRISE",
    "LABO": "LABORATOIRE", "PHIE": "PHARMACIE", "INTERNAT": "INTERNATIONAL", "INTL": "INTERNATIONAL",
    "DIST": "DISTRIBUTION", "DISTRIB": "DISTRIBUTION", "TRANSP": "TRANSPORTS",
    "HOSP": "HOSPITALIER", "UNIV": "UNIVERSITAIRE", "MUNIC": "MUNICIPAL", "ADMIN": "ADMINISTRATION",
    "CHAMB": "CHAMBRE", "COOP": "COOPERATIVE", "NAT": "NATIONAL", "NATLE": "NATIONALE", "DEPT": "DEPARTEMENT",
    "DEP": "DEPARTEMENT", "REG": "REGIONAL", "MAG": "MAGASIN", "MAGS": "MAGASINS", "BOUL": "BOULANGERIE",
}
ABBREVIATIONS_AT_START = {"STE": "SOCIETE"}

# Small words that carry no identity.
STOP_WORDS = frozenset({
    "LE", "LA", "LES", "L", "DE", "DU", "DES", "D", "ET", "A", "AU", "AUX", "EN", "SUR", "SOUS", "PAR",
    "POUR", "UN", "UNE", "Y", "THE", "OF", "AND",
})

# The register's name columns and the kind of name each gives.
NAME_COLUMNS = {
    "legal": "denominationUniteLegale",
    "sign": "enseigne1Etablissement",
    "usual": "denominationUsuelleEtablissement",
    "acronym": "sigleUniteLegale",
}
PERSON_COLUMNS = ("nomUniteLegale", "prenom1UniteLegale")
KINDS = ("legal", "sign", "usual", "acronym", "person", "person_reversed")
#: Kinds name_variants() can also build, on request: the initials of the legal name (``BM``).
EXTRA_KINDS = ("initials",)

_SPACED = re.compile(r"\b(?:" + "|".join(re.escape(f) for f in SPACED_LEGAL_FORMS) + r")\b")


def normalise_name(text, *, drop: Iterable[str] = ()) -> str:
    """One spelling for a declared or registered name.

    Upper case, no accents, punctuation as spaces, legal forms removed (``SARL``, ``S.A.S.``),
    abbreviations expanded (``STE`` → ``SOCIETE`` at the start, ``ETS`` → ``ETABLISSEMENTS``,
    ``ST`` → ``SAINT``, …), stop words dropped (``DE``, ``LA``, …). ``drop`` adds words to remove.
    A missing value gives ``""``; a name made only of dropped words keeps them rather than vanish
    (``"LA POSTE"`` → ``"POSTE"``, but ``"SA"`` alone stays ``"SA"``).

    >>> normalise_name("Ste Dupont & Fils, S.A.R.L.")
    'SOCIETE DUPONT FILS'
    """
    if is_missing(text):
        return ""
    return _normalise(str(text), frozenset(drop))


@lru_cache(maxsize=1 << 18)
def _normalise(text: str, drop: frozenset) -> str:
    plain = simplify(text)
    if not plain:
        return ""
    plain = _SPACED.sub(" ", plain).strip() or plain
    words = plain.split()
    out = []
    for i, w in enumerate(words):
        if i == 0 and w in ABBREVIATIONS_AT_START:
            w = ABBREVIATIONS_AT_START[w]
        else:
            w = ABBREVIATIONS.get(w, w)
        if w in LEGAL_FORMS or w in STOP_WORDS or w in drop:
            continue
        out.append(w)
    if not out:  # nothing but small words: keep what there was, expanded
        out = [ABBREVIATIONS.get(w, w) for w in words]
    return " ".join(out)


def normalise_names(names: pd.Series | Sequence, *, drop: Iterable[str] = ()) -> pd.Series:
    """:func:`normalise_name` over a Series (each distinct value normalised once).

    Returns a Series of ``str`` with the same index (a plain range for a sequence); missing values
    give ``""``.
    """
    series = names if isinstance(names, pd.Series) else pd.Series(list(names), dtype=object)
    drop = frozenset(drop)
    values = series.astype(object).to_numpy()
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    done = np.array([normalise_name(u, drop=drop) for u in uniques] + [""], dtype=object)
    return pd.Series(done[codes], index=series.index, dtype=object)


def size_prior(register: pd.DataFrame) -> np.ndarray:
    """``log(1 + employees)`` of each establishment, from its size band (0 when unknown).

    A bulletin is a person: a 500-employee site employs far more of the people who fill in
    bulletins than a one-person business, so among namesakes the larger one is the better bet.
    """
    if "trancheEffectifsEtablissement" not in register:
        return np.zeros(len(register))
    middle = {code: (low + high) / 2 for code, (low, high) in schema.TRANCHES.items()}
    bands = register["trancheEffectifsEtablissement"].astype(object).to_numpy()
    return np.log1p(np.array([middle.get(b, 0.0) if isinstance(b, str) else 0.0 for b in bands], dtype=np.float64))


def initials(name: str) -> str:
    """The initials of a normalised name's words: ``"BISCUITERIE MORLILON"`` → ``"BM"``."""
    return "".join(w[0] for w in name.split() if w)


def name_variants(register: pd.DataFrame, *, kinds: Sequence[str] = KINDS) -> pd.DataFrame:
    """Every name under which each establishment may be declared, normalised.

    Returns one row per (establishment, distinct name): ``row`` (the establishment's position in
    ``register``), ``kind`` (``legal``, ``sign``, ``usual``, ``acronym``, ``person``,
    ``person_reversed``), ``raw`` (as registered) and ``name`` (normalised). Blank names are left
    out; when two kinds give the same name, the first kind of ``kinds`` is kept.
    """
    parts = []
    positions = np.arange(len(register), dtype=np.int64)
    for kind in kinds:
        if kind in NAME_COLUMNS:
            column = NAME_COLUMNS[kind]
            if column not in register:
                continue
            raw = register[column].astype(object).to_numpy()
        elif kind == "initials":
            if NAME_COLUMNS["legal"] not in register:
                continue
            legal = normalise_names(register[NAME_COLUMNS["legal"]]).to_numpy(dtype=object)
            raw = np.array([initials(n) if len(n.split()) >= 2 else "" for n in legal], dtype=object)
        elif kind in ("person", "person_reversed"):
            if not all(c in register for c in PERSON_COLUMNS):
                continue
            nom = register[PERSON_COLUMNS[0]].astype("string").fillna("").str.strip()
            prenom = register[PERSON_COLUMNS[1]].astype("string").fillna("").str.strip()
            both = (nom + " " + prenom) if kind == "person" else (prenom + " " + nom)
            raw = both.str.strip().where(nom != "", "").astype(object).to_numpy()
        else:
            raise ValueError(f"unknown kind of name {kind!r}; known: {', '.join(KINDS + EXTRA_KINDS)}")
        present = np.array([isinstance(v, str) and v.strip() != "" for v in raw], dtype=bool)
        parts.append(pd.DataFrame({"row": positions[present], "kind": kind, "raw": raw[present]}))
    if not parts:
        return pd.DataFrame({"row": np.empty(0, np.int64), "kind": [], "raw": [], "name": []})
    out = pd.concat(parts, ignore_index=True)
    out["name"] = normalise_names(out["raw"]).to_numpy()
    out = out[out["name"] != ""]
    out = out.drop_duplicates(["row", "name"], keep="first")
    return out.sort_values(["row"], kind="stable").reset_index(drop=True)


class NameIndex:
    """Character n-gram TF-IDF vectors of the register's names, searched block by block.

    Character n-grams (by default 3 and 4 letters inside word boundaries, ``char_wb``) survive
    what breaks word matching: a typo changes a handful of n-grams out of dozens, a truncated name
    keeps most of its n-grams, glued words (``OUESTDISTRIB``) share n-grams with the split ones.
    IDF weights, learnt on the register's names, make rare n-grams (a surname) count more than
    frequent ones (``SOCIETE``). Two-letter n-grams occur in nearly every name: they make the
    similarity products dense (twice as slow) for no gain on the sample's training bulletins.

    ``register`` is the establishments' frame; ``variants`` may be given instead of being
    computed with :func:`name_variants`. Extra keyword arguments go to ``TfidfVectorizer``.
    """

    def __init__(self, register: pd.DataFrame, *, variants: pd.DataFrame | None = None,
                 analyzer: str = "char_wb", ngram_range: tuple[int, int] = (3, 4), sublinear_tf: bool = True,
                 min_df: int = 1, budget: int = 4_000_000, **tfidf):
        self.n_establishments = len(register)
        # Facts about each establishment that candidate_table() reports next to the similarities.
        self.siret = register["siret"].astype("string").to_numpy(dtype=object, na_value=None) \
            if "siret" in register else np.arange(len(register)).astype(object)
        self.commune = register["codeCommuneEtablissement"].astype("string").to_numpy(dtype=object, na_value=None) \
            if "codeCommuneEtablissement" in register else np.full(len(register), None, dtype=object)
        self.log_size = size_prior(register)
        self.variants = (name_variants(register) if variants is None else variants).reset_index(drop=True)
        self.vectorizer = TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range, sublinear_tf=sublinear_tf,
                                          min_df=min_df, lowercase=False, dtype=np.float32, **tfidf)
        names = self.variants["name"].to_numpy(dtype=object)
        self.matrix = self.vectorizer.fit_transform(names).tocsr() if len(names) else sparse.csr_matrix((0, 0))
        self.budget = budget  # bulletin × name cells per sparse product
        # Variants grouped by establishment: variant_rows[starts[r]:starts[r + 1]] are row r's.
        rows = self.variants["row"].to_numpy(dtype=np.int64)
        self._variant_order = np.argsort(rows, kind="stable")
        self._starts = np.searchsorted(rows[self._variant_order], np.arange(self.n_establishments + 1))
        self._variant_row = rows
        self.max_names = int(np.diff(self._starts).max()) if self.n_establishments else 1
        self._kind = self.variants["kind"].to_numpy(dtype=object)
        # How many establishments carry each name (a name many share identifies nobody).
        names_all = self.variants["name"]
        self.name_count = names_all.map(self.variants.groupby("name")["row"].nunique()).to_numpy(dtype=np.int64)

    def transform(self, names: pd.Series | Sequence[str]) -> sparse.csr_matrix:
        """TF-IDF vectors (L2-normalised rows) of already normalised names."""
        values = [v if isinstance(v, str) else "" for v in (names.tolist() if isinstance(names, pd.Series) else names)]
        return self.vectorizer.transform(values).tocsr()

    def variants_of(self, rows: np.ndarray) -> np.ndarray:
        """Positions (in ``self.variants``) of every name of the establishments ``rows``."""
        rows = np.asarray(rows, dtype=np.int64)
        lo, hi = self._starts[rows], self._starts[rows + 1]
        counts = hi - lo
        if counts.sum() == 0:
            return np.empty(0, dtype=np.int64)
        offsets = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        return self._variant_order[offsets]

    def query(self, names: pd.Series | Sequence[str], k: int = 10, block=None, *,
              min_similarity: float = 0.0) -> pd.DataFrame:
        """The ``k`` establishments whose names are most similar to each of ``names``.

        ``names`` are normalised names (:func:`normalise_names`), one per bulletin. ``block`` limits
        each bulletin's search: a :class:`datathon.challenges.sirene.blocking.Blocks`, or a sequence giving each
        bulletin's register row positions; None searches the whole register. An establishment's
        similarity is the best cosine similarity over its names.

        Returns a long frame, best first within each bulletin: ``bulletin`` (position in
        ``names``), ``row`` (register position), ``similarity`` (0–1), ``kind`` (which of its
        names matched best: ``legal``, ``sign``, …), ``variant`` (position of that name in
        ``self.variants``) and ``rank`` (1 = best). Bulletins with an empty name, or no
        candidate sharing any n-gram, get no rows. Equal similarities are ordered by register row.
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        if len(names) == 0:
            return self._frame([])
        q = self.transform(names)
        n = q.shape[0]
        parts: list[tuple] = []
        for bulletins, rows in self._groups(n, block):
            active = bulletins[q.indptr[bulletins + 1] > q.indptr[bulletins]]  # empty names: nothing to find
            if len(active) == 0 or (rows is not None and len(rows) == 0):
                continue
            variants = self.variants_of(rows) if rows is not None else np.arange(self.matrix.shape[0])
            if len(variants) == 0:
                continue
            sub_t = self.matrix[variants].T.tocsr()
            chunk = max(1, self.budget // max(1, len(variants)))
            for lo in range(0, len(active), chunk):
                b = active[lo:lo + chunk]
                part = self._top_k(q[b] @ sub_t, b, variants, k, min_similarity)
                if part is not None:
                    parts.append(part)
        return self._frame(parts)

    def pair_similarity(self, names: Sequence[str], bulletins, rows) -> pd.DataFrame:
        """The similarity of given (bulletin, establishment) pairs, found some other way (by
        address, say): ``names`` are the bulletins' normalised names, ``bulletins[i]`` and
        ``rows[i]`` a pair's positions. Returns ``similarity`` (best cosine over the
        establishment's names, 0 when none shares an n-gram), ``kind`` and ``variant`` of that
        best name (``None`` / -1 when the establishment has no name), one row per pair."""
        bulletins = np.asarray(bulletins, dtype=np.int64)
        rows = np.asarray(rows, dtype=np.int64)
        counts = self._starts[rows + 1] - self._starts[rows]
        variants = self.variants_of(rows)
        pair = np.repeat(np.arange(len(rows)), counts)
        q = self.transform(list(names))
        cosine = np.asarray(q[bulletins[pair]].multiply(self.matrix[variants]).sum(axis=1)).ravel() \
            if len(pair) else np.empty(0)
        best = np.zeros(len(rows))
        variant = np.full(len(rows), -1, dtype=np.int64)
        if len(pair):
            order = np.lexsort((-cosine, pair))  # best name first within each pair
            first = np.ones(len(order), dtype=bool)
            first[1:] = pair[order][1:] != pair[order][:-1]
            chosen = order[first]
            best[pair[chosen]] = cosine[chosen]
            variant[pair[chosen]] = variants[chosen]
        kind = np.where(variant >= 0, self._kind[np.maximum(variant, 0)], None)
        return pd.DataFrame({"similarity": best.astype(np.float32), "kind": kind, "variant": variant})

    # -- internals ---------------------------------------------------------------------------

    def _groups(self, n: int, block):
        """(bulletin positions, register rows or None) for each group of bulletins sharing a block."""
        if block is None:
            yield np.arange(n), None
            return
        if hasattr(block, "groups") and hasattr(block, "rows"):
            if len(block) != n:
                raise ValueError(f"the blocks are for {len(block)} bulletins, the names for {n}")
            for key, where in block.groups().items():
                yield where, np.asarray(block.rows[key], dtype=np.int64)
            return
        block = list(block)
        if len(block) != n:
            raise ValueError(f"the blocks are for {len(block)} bulletins, the names for {n}")
        # Bulletins with identical candidate sets share one product.
        seen: dict[bytes, list[int]] = {}
        arrays: dict[bytes, np.ndarray] = {}
        for i, rows in enumerate(block):
            rows = np.unique(np.asarray(rows, dtype=np.int64))
            key = rows.tobytes()
            seen.setdefault(key, []).append(i)
            arrays[key] = rows
        for key, where in seen.items():
            yield np.array(where, dtype=np.int64), arrays[key]

    def _top_k(self, product: sparse.spmatrix, bulletins: np.ndarray, variants: np.ndarray, k: int,
               min_similarity: float) -> tuple | None:
        """The best ``k`` establishments of each row of a bulletins × names similarity product."""
        product = product.tocsr()
        indptr, indices, data = product.indptr, product.indices, product.data
        # An establishment has at most max_names names: the best k * max_names names of a bulletin
        # hold its best k establishments. Selecting them row by row keeps the work linear.
        keep_names = k * self.max_names
        b_parts, c_parts = [], []
        for i in range(product.shape[0]):
            lo, hi = indptr[i], indptr[i + 1]
            if hi - lo > keep_names:
                sel = lo + np.argpartition(-data[lo:hi], keep_names - 1)[:keep_names]
            else:
                sel = np.arange(lo, hi)
            b_parts.append(np.full(len(sel), i, dtype=np.int64))
            c_parts.append(sel)
        if not c_parts:
            return None
        at = np.concatenate(c_parts)
        b = np.concatenate(b_parts)
        v = variants[indices[at]]
        s = data[at].astype(np.float32)
        if min_similarity > 0:
            keep = s >= min_similarity
            b, v, s = b[keep], v[keep], s[keep]
        if len(s) == 0:
            return None
        est = self._variant_row[v]
        # Best name of each (bulletin, establishment).
        order = np.lexsort((-s, est, b))
        b, v, s, est = b[order], v[order], s[order], est[order]
        first = np.ones(len(b), dtype=bool)
        first[1:] = (b[1:] != b[:-1]) | (est[1:] != est[:-1])
        b, v, s, est = b[first], v[first], s[first], est[first]
        # Top k per bulletin.
        order = np.lexsort((est, -s, b))
        b, v, s, est = b[order], v[order], s[order], est[order]
        start = np.searchsorted(b, b, side="left")
        rank = np.arange(len(b)) - start + 1
        keep = rank <= k
        return bulletins[b[keep]], est[keep], s[keep], v[keep], rank[keep]

    def _frame(self, parts: list[tuple]) -> pd.DataFrame:
        if not parts:
            return pd.DataFrame({"bulletin": np.empty(0, np.int64), "row": np.empty(0, np.int64),
                                 "similarity": np.empty(0, np.float32), "kind": np.empty(0, object),
                                 "variant": np.empty(0, np.int64), "rank": np.empty(0, np.int64)})
        b, est, s, v, rank = (np.concatenate(p) for p in zip(*parts))
        out = pd.DataFrame({"bulletin": b, "row": est, "similarity": np.clip(s, 0.0, 1.0), "kind": self._kind[v],
                            "variant": v, "rank": rank})
        return out.sort_values(["bulletin", "rank"], kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------------------------------
# String distances for candidate pairs
# ------------------------------------------------------------------------------------------------

FEATURES = ("ratio", "token_set_ratio", "partial_ratio", "jaro_winkler")


def pair_features(a: str, b: str) -> tuple[float, float, float, float]:
    """The four string similarities (0–1) of two normalised names."""
    if not a or not b:
        return 0.0, 0.0, 0.0, 0.0
    return (fuzz.ratio(a, b) / 100, fuzz.token_set_ratio(a, b) / 100, fuzz.partial_ratio(a, b) / 100,
            JaroWinkler.normalized_similarity(a, b))


def string_features(left: Sequence[str], right: Sequence[str]) -> pd.DataFrame:
    """String similarities (0–1) of aligned pairs of normalised names.

    * ``ratio``: edit-distance similarity of the whole strings (typos);
    * ``token_set_ratio``: the same on word sets, so that extra or missing words cost little
      (``"GROUPE DUPONT"`` against ``"DUPONT"``);
    * ``partial_ratio``: the best alignment of the shorter string inside the longer (truncation);
    * ``jaro_winkler``: favours agreement at the start of the strings (truncated, or words added at
      the end).

    Each distinct pair is computed once (names repeat a lot).
    """
    left = [a if isinstance(a, str) else "" for a in left]
    right = [b if isinstance(b, str) else "" for b in right]
    if len(left) != len(right):
        raise ValueError(f"{len(left)} left names for {len(right)} right names")
    if not left:
        return pd.DataFrame(np.empty((0, len(FEATURES))), columns=list(FEATURES))
    pairs = pd.MultiIndex.from_arrays([left, right])
    codes, uniques = pd.factorize(pairs)
    values = np.array([pair_features(a, b) for a, b in uniques], dtype=np.float64).reshape(len(uniques), len(FEATURES))
    return pd.DataFrame(values[codes], columns=list(FEATURES))


def candidate_features(candidates: pd.DataFrame, names: Sequence[str], index: NameIndex) -> pd.DataFrame:
    """``candidates`` (as :meth:`NameIndex.query` returns them) with string similarities added.

    Each feature is the best over the establishment's names, not only the one whose n-grams
    matched best: the bulletin may carry the sign while the legal name scored a little higher.
    """
    if len(candidates) == 0:
        return candidates.assign(**{f: np.empty(0) for f in FEATURES})
    pair_b = candidates["bulletin"].to_numpy(dtype=np.int64)
    rows = candidates["row"].to_numpy(dtype=np.int64)
    counts = index._starts[rows + 1] - index._starts[rows]
    variants = index.variants_of(rows)
    pair = np.repeat(np.arange(len(candidates)), counts)
    names = np.array([n if isinstance(n, str) else "" for n in names], dtype=object)
    left = names[pair_b[pair]]
    right = index.variants["name"].to_numpy(dtype=object)[variants]
    values = string_features(left, right).to_numpy()
    best = np.zeros((len(candidates), len(FEATURES)))
    np.maximum.at(best, pair, values)
    return candidates.assign(**{f: best[:, j] for j, f in enumerate(FEATURES)})


# ------------------------------------------------------------------------------------------------
# Places in names
# ------------------------------------------------------------------------------------------------

# Words of commune names that also make up ordinary names: never removed.
_PLACE_KEEP = STOP_WORDS | {"SAINT", "SAINTE", "SAINTS", "SUR", "MER", "GRAND", "PETIT", "BOIS", "LANDES"}


def place_words(commune_codes: Sequence, communes: pd.DataFrame) -> list[frozenset]:
    """The words of each bulletin's commune name (``None`` codes give an empty set).

    ``communes`` is the reference (``code_commune``, ``nom_commune``). Generic words (``SAINT``,
    ``SUR``, ``LE`` …) are left out: they belong to plenty of names.
    """
    words = {code: frozenset(commune_key(name).split()) - _PLACE_KEEP
             for code, name in zip(communes["code_commune"].to_numpy(dtype=object),
                                   communes["nom_commune"].to_numpy(dtype=object))}
    empty = frozenset()
    return [words.get(c, empty) if isinstance(c, str) else empty for c in commune_codes]


def without_words(names: Sequence[str], words: Sequence[frozenset]) -> pd.Series:
    """Each normalised name without the given words, unless nothing would remain.

    ``without_words(["BOULANGERIE MINSAC"], [{"MINSAC"}])`` → ``["BOULANGERIE"]``: people add the
    town to a name ("the bakery, in Minsac") that the register does not carry.
    """
    return pd.Series([drop_words(n if isinstance(n, str) else "", frozenset(d)) if d else
                      (n if isinstance(n, str) else "") for n, d in zip(names, words)], dtype=object)


# ------------------------------------------------------------------------------------------------
# Candidates, their probability, and the decision
# ------------------------------------------------------------------------------------------------

# What the choice model weighs, per candidate.
SIGNALS = ("similarity", *FEATURES, "same_commune", "log_size", "log_name_count")


def candidate_table(index: NameIndex, names: Sequence[str], block=None, *, k: int = 20,
                    alternatives: Sequence[str] | None = None, communes: Sequence | None = None) -> pd.DataFrame:
    """The top-``k`` candidates of each bulletin with every signal the names approach uses.

    ``names`` are normalised declared names; ``alternatives`` (optional) another version of each
    (the name without its town, say): a candidate's similarity is the best of the two.
    ``block`` is a :class:`datathon.challenges.sirene.blocking.Blocks` (or any block :meth:`NameIndex.query`
    accepts); ``communes``, each bulletin's declared commune code, defaults to the block's.

    Columns: ``bulletin``, ``row``, ``siret``, ``kind``, ``variant``, ``similarity`` (TF-IDF
    cosine), the string similarities of :data:`FEATURES`, ``same_commune`` (1 when the
    establishment is in the declared commune), ``log_size`` (:func:`size_prior`),
    ``log_name_count`` (log of how many establishments carry the matched name).
    """
    names = [n if isinstance(n, str) else "" for n in names]
    top = index.query(names, k=k, block=block)
    top = candidate_features(top, names, index)
    if alternatives is not None:
        alternatives = [n if isinstance(n, str) else "" for n in alternatives]
        # Only bulletins whose alternative name differs need a second search.
        differs = np.flatnonzero([a != n for a, n in zip(alternatives, names)])
        if len(differs):
            sub_block = _subset_block(block, differs)
            other = index.query([alternatives[i] for i in differs], k=k, block=sub_block)
            other["bulletin"] = differs[other["bulletin"].to_numpy(dtype=np.int64)]
            other = candidate_features(other, alternatives, index)
            # Candidates found by both searches keep the better of each similarity.
            both = pd.concat([top, other], ignore_index=True)
            signals = ["similarity", *FEATURES]
            best = both.groupby(["bulletin", "row"], sort=False)[signals].max()
            first = (both.sort_values(["bulletin", "similarity"], ascending=[True, False], kind="stable")
                     .drop_duplicates(["bulletin", "row"]).set_index(["bulletin", "row"]))
            first[signals] = best.reindex(first.index)
            top = first.reset_index()
            top = (top.sort_values(["bulletin", "similarity", "row"], ascending=[True, False, True], kind="stable"))
            top = top[top.groupby("bulletin").cumcount() < k].reset_index(drop=True)
    if communes is None and block is not None and hasattr(block, "workplace"):
        communes = block.workplace["commune"].to_numpy(dtype=object, na_value=None)
    rows = top["row"].to_numpy(dtype=np.int64)
    declared = (np.asarray(communes, dtype=object)[top["bulletin"].to_numpy(dtype=np.int64)]
                if communes is not None else np.full(len(top), None, dtype=object))
    top["siret"] = index.siret[rows]
    top["same_commune"] = (index.commune[rows] == declared).astype(np.float64)
    top["log_size"] = index.log_size[rows]
    top["log_name_count"] = np.log(index.name_count[top["variant"].to_numpy(dtype=np.int64)]) if len(top) else 0.0
    top = top.sort_values(["bulletin", "similarity", "row"], ascending=[True, False, True], kind="stable")
    top["rank"] = top.groupby("bulletin").cumcount() + 1
    order = ["bulletin", "row", "siret", "rank", "kind", "variant", "similarity", *FEATURES,
             "same_commune", "log_size", "log_name_count"]
    return top[order].reset_index(drop=True)


def _subset_block(block, positions: np.ndarray):
    """The block of the bulletins at ``positions`` only."""
    if block is None:
        return None
    if hasattr(block, "subset"):
        return block.subset(positions)
    block = list(block)
    return [block[i] for i in positions]


class ChoiceModel:
    """Which candidate is the employer, or none of them: a softmax over each bulletin's candidates.

    Each candidate gets a utility ``u = w · signals`` (:data:`SIGNALS`); "none of them" (the
    employer is not among the candidates, or the bulletin cannot be coded) gets a constant utility
    ``u0``. The probability of a candidate is ``exp(u) / (exp(u0) + Σ exp(u'))`` over the
    bulletin's candidates. The weights are fitted on labelled bulletins by maximum likelihood (a
    conditional logit: a handful of numbers, each readable as "how much this signal counts").
    Because candidates compete, namesakes share the probability: a name carried by ten
    establishments of the block gives each a low one, however perfect the match.
    """

    def __init__(self, signals: Sequence[str] = SIGNALS, *, l2: float = 1e-3):
        self.signals = tuple(signals)
        self.l2 = l2
        self.weights_: np.ndarray | None = None
        self.none_: float | None = None

    def _x(self, candidates: pd.DataFrame) -> np.ndarray:
        return candidates[list(self.signals)].to_numpy(dtype=np.float64)

    def fit(self, candidates: pd.DataFrame, true_rows, n_bulletins: int | None = None) -> ChoiceModel:
        """Fit on ``candidates`` (:func:`candidate_table`) of bulletins whose true register row is
        ``true_rows[bulletin]`` (negative when not codable)."""
        from scipy.optimize import minimize

        true_rows = np.asarray(true_rows, dtype=np.int64)
        n = len(true_rows) if n_bulletins is None else n_bulletins
        b = candidates["bulletin"].to_numpy(dtype=np.int64)
        x = self._x(candidates)
        chosen = candidates["row"].to_numpy(dtype=np.int64) == true_rows[b]
        scale = np.maximum(x.std(axis=0), 1e-9)  # optimise on a common scale, report in the original
        xs = x / scale

        def loss(theta):
            w, u0 = theta[:-1], theta[-1]
            u = xs @ w
            top = np.full(n, u0)
            np.maximum.at(top, b, u)
            e = np.exp(u - top[b])
            total = np.exp(u0 - top) + np.bincount(b, weights=e, minlength=n)
            log_z = top + np.log(total)
            picked = np.full(n, u0)
            picked[b[chosen]] = u[chosen]
            p = e / total[b]
            # gradient: (expected - observed) signals, and the same for the constant of "none".
            p0 = np.exp(u0 - top) / total
            grad_w = xs.T @ p - xs[chosen].sum(axis=0)
            has_choice = np.zeros(n, dtype=bool)
            has_choice[b[chosen]] = True
            grad_u0 = p0.sum() - (~has_choice).sum()
            value = (log_z - picked).sum() / n + self.l2 * (w @ w)
            grad = np.r_[grad_w / n + 2 * self.l2 * w, grad_u0 / n]
            return value, grad

        theta0 = np.r_[np.zeros(x.shape[1]), 0.0]
        result = minimize(loss, theta0, jac=True, method="L-BFGS-B")
        self.weights_ = result.x[:-1] / scale
        self.none_ = float(result.x[-1])
        return self

    def weights(self) -> pd.Series:
        """The fitted weight of each signal, and of ``none`` (the utility of "none of them")."""
        if self.weights_ is None:
            raise RuntimeError("fit the model first")
        return pd.Series([*self.weights_, self.none_], index=[*self.signals, "none"])

    def probabilities(self, candidates: pd.DataFrame) -> np.ndarray:
        """Each candidate's probability of being the employer (per bulletin, they and "none"
        sum to 1)."""
        if self.weights_ is None:
            raise RuntimeError("fit the model first")
        if len(candidates) == 0:
            return np.empty(0)
        b = candidates["bulletin"].to_numpy(dtype=np.int64)
        codes, uniques = pd.factorize(b)
        m = len(uniques)
        u = self._x(candidates) @ self.weights_
        top = np.full(m, self.none_)
        np.maximum.at(top, codes, u)
        e = np.exp(u - top[codes])
        total = np.exp(self.none_ - top) + np.bincount(codes, weights=e, minlength=m)
        return e / total[codes]


def _shrunk_share(names: pd.Series, flags: pd.Series, base: float, strength: float) -> tuple[pd.Series, pd.Series]:
    """Per distinct name, the share of its ``flags`` shrunk towards ``base`` with ``strength``
    pseudo-counts (a name seen once says little), and how many times it was seen."""
    stats = pd.DataFrame({"name": names.to_numpy(), "flag": flags.to_numpy(dtype=np.float64)}).groupby("name")[
        "flag"].agg(["sum", "count"])
    return (stats["sum"] + strength * base) / (stats["count"] + strength), stats["count"]


class NameReliability:
    """How far a declared name can be trusted, learnt from the training bulletins.

    Some names are declared by many people and are systematically misleading: teachers write
    "EDUCATION NATIONALE" (their employer is the school), the town hall stands for any municipal
    service. For each declared (normalised) name seen in training, the share of times the
    best candidate was right, shrunk towards the overall share with ``strength`` pseudo-counts,
    divided by that overall share and capped at 1: a factor by which to lower the confidence.
    Names not seen in training get 1.
    """

    def __init__(self, strength: float = 2.0):
        self.strength = strength
        self.table_: pd.Series | None = None

    def fit(self, names: Sequence[str], correct: Sequence[bool]) -> NameReliability:
        frame = pd.DataFrame({"name": list(names), "correct": np.asarray(correct, dtype=float)})
        frame = frame[frame["name"] != ""]
        base = frame["correct"].mean() if len(frame) else 1.0
        base = base if base > 0 else 1.0
        shrunk, _ = _shrunk_share(frame["name"], frame["correct"], base, self.strength)
        self.table_ = (shrunk / base).clip(upper=1.0)
        return self

    def factor(self, names: Sequence[str]) -> np.ndarray:
        if self.table_ is None:
            raise RuntimeError("fit first")
        return self.table_.reindex(list(names)).fillna(1.0).to_numpy(dtype=np.float64)

    @classmethod
    def cross_fit(cls, names: Sequence[str], correct: Sequence[bool], *, folds: int = 5, seed: int = 0,
                  strength: float = 2.0) -> np.ndarray:
        """Out-of-fold factors for the training bulletins themselves: each is computed without its
        own label, so that a threshold chosen on them is not fooled by names seen once."""
        names = np.asarray(list(names), dtype=object)
        correct = np.asarray(correct, dtype=bool)
        fold = np.random.default_rng(seed).integers(0, folds, len(names))
        out = np.ones(len(names))
        for f in range(folds):
            held = fold == f
            out[held] = cls(strength).fit(names[~held], correct[~held]).factor(names[held])
        return out


def best_candidates(candidates: pd.DataFrame, probability: np.ndarray, k: int = 5) -> pd.DataFrame:
    """The ``k`` most probable candidates of each bulletin, ``rank`` 1 first, with ``probability``."""
    table = candidates.assign(probability=probability)
    table = table.sort_values(["bulletin", "probability", "row"], ascending=[True, False, True], kind="stable")
    table["rank"] = table.groupby("bulletin").cumcount() + 1
    return table[table["rank"] <= k].reset_index(drop=True)


def threshold_for_precision(scores, correct, precision: float = 0.9, *, margin: float = 0.0) -> float:
    """The lowest score threshold whose codings (``score >= threshold``) reach ``precision``.

    ``scores`` are the confidences of the best candidates, ``correct`` whether each was right.
    ``margin`` asks for a safety margin, in standard errors of a precision measured on that many
    codings (``sqrt(p (1 - p) / n)``): the precision measured on ``n`` bulletins is itself a
    draw, and the lowest threshold that reaches the target on them is the one most likely to fall
    short on new bulletins. Returns ``inf`` when no threshold reaches it.
    """
    scores = np.asarray(scores, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    hits = np.cumsum(correct[order])
    kept = np.arange(1, len(order) + 1)
    ends = np.ones(len(order), dtype=bool)
    ends[:-1] = ranked[:-1] != ranked[1:]  # a threshold cannot split equal scores
    needed = precision + margin * np.sqrt(precision * (1.0 - precision) / kept)
    ok = ends & (hits >= needed * kept)
    if not ok.any():
        return float("inf")
    return float(ranked[np.flatnonzero(ok).max()])


class NonAnswers:
    """Which declared names are not answers, learnt from the labelled bulletins.

    "NEANT", "?", "VOIR AU DOS", "PLUSIEURS EMPLOYEURS", "PARTICULIER": some declared names never
    lead to an establishment, yet the bulletin may give the address of a real workplace, and an
    address alone can look like a good match. Others are answers, but say little about who the
    employer is ("SERVICE TECHNIQUE", "MAIRIE"): many people give them. For each normalised name
    seen in training, :meth:`share` is the share of its bulletins that could not be coded (shrunk
    towards the overall share with ``strength`` pseudo-counts; names never seen get the overall
    share) and :meth:`frequency` how often it was declared, per 1,000 bulletins (0 when never seen).
    The empty name (a blank answer) is a name like the others.
    """

    def __init__(self, strength: float = 2.0):
        self.strength = strength
        self.base_: float | None = None
        self.share_: pd.Series | None = None
        self.frequency_: pd.Series | None = None

    def fit(self, names: Sequence[str], codable: Sequence[bool]) -> NonAnswers:
        """Learn from normalised declared ``names`` and whether each bulletin could be coded."""
        names = ["" if not isinstance(n, str) else n for n in names]
        uncodable = ~np.asarray(codable, dtype=bool)
        if len(names) != len(uncodable):
            raise ValueError(f"{len(names)} names for {len(uncodable)} codable flags")
        self.base_ = float(uncodable.mean()) if len(uncodable) else 0.0
        self.share_, count = _shrunk_share(pd.Series(names, dtype=object), pd.Series(uncodable.astype(np.float64)),
                                           self.base_, self.strength)
        self.frequency_ = count * 1000.0 / max(len(names), 1)
        return self

    def _fitted(self) -> None:
        if self.share_ is None:
            raise RuntimeError("fit first")

    def share(self, names: Sequence[str]) -> np.ndarray:
        """The share of bulletins declaring each name that could not be coded."""
        self._fitted()
        keys = ["" if not isinstance(n, str) else n for n in names]
        return self.share_.reindex(keys).fillna(self.base_).to_numpy(dtype=np.float64)

    def frequency(self, names: Sequence[str]) -> np.ndarray:
        """How many of 1,000 training bulletins declared each name."""
        self._fitted()
        keys = ["" if not isinstance(n, str) else n for n in names]
        return self.frequency_.reindex(keys).fillna(0.0).to_numpy(dtype=np.float64)

    @classmethod
    def cross_fit(cls, names: Sequence[str], codable: Sequence[bool], *, folds: int = 5, seed: int = 0,
                  strength: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
        """Out-of-fold ``(share, frequency)`` for the training bulletins themselves: each from a table
        learnt without its fold, as a new bulletin's would be (a name seen once is then unseen)."""
        names = np.asarray(["" if not isinstance(n, str) else n for n in names], dtype=object)
        codable = np.asarray(codable, dtype=bool)
        fold = np.random.default_rng(seed).integers(0, folds, len(names))
        share, frequency = np.zeros(len(names)), np.zeros(len(names))
        for f in range(folds):
            held = fold == f
            if not held.any():
                continue
            model = cls(strength).fit(names[~held], codable[~held])
            share[held], frequency[held] = model.share(names[held]), model.frequency(names[held])
        return share, frequency

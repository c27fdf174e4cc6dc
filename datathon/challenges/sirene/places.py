"""Matching on places: normalise and geocode the declared workplace, score candidates by distance.

The declared address (``NUMVOI_X``, ``BISTER_X``, ``TYPEVOI_X``, ``NOMVOI_X``, ``CLT_X``) is the
second clue to the employer. It fails differently from the name: a sign nobody registered or
"EDUCATION NATIONALE" says nothing, but "12 rue de la Gare" points at a handful of
establishments. This module holds the pieces of the places approach (``course/03_places.ipynb``):

* :func:`street_type` and :func:`street_key`: one spelling for a street (``AV`` and ``AVENUE``
  agree; ``DE LA``, accents and case do not matter);
* :class:`Geocoder`: the declared address placed on the map with the BAN-like address reference
  (``adresses.parquet``): at the numbered point when the number is found, on the street when only
  the street is, at the commune's centroid otherwise, with the level reached;
* :func:`place_features`: for candidate (bulletin, establishment) pairs, the distance between the
  geocoded address and the establishment, whether the street and the number agree, whether the
  commune is the declared one or a neighbour;
* :class:`NearbyIndex`: the establishments closest to a geocoded point (a k-d tree), to find
  candidates by address when the name is of no help.

Typical use::

    from datathon.challenges.sirene.places import Geocoder, NearbyIndex, place_features
    geocoder = Geocoder(adresses, communes, adjacences)
    located = geocoder.geocode(bulletins, workplace=blocks.workplace)
    near = NearbyIndex(register).query(located, k=10, radius=300)
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from scipy.spatial import cKDTree

from datathon.schema import departement_of
from datathon.text import is_missing, simplify

# Sirene's street type codes (typeVoieEtablissement) and the words people write instead.
STREET_TYPES = {
    "RUE": "RUE", "AV": "AVENUE", "BD": "BOULEVARD", "PL": "PLACE", "CHE": "CHEMIN", "ALL": "ALLEE",
    "IMP": "IMPASSE", "RTE": "ROUTE", "LD": "LIEU DIT", "ZA": "ZONE ARTISANALE", "ZI": "ZONE INDUSTRIELLE",
    "ZAC": "ZONE D AMENAGEMENT CONCERTE", "QUAI": "QUAI", "SQ": "SQUARE", "CRS": "COURS", "FG": "FAUBOURG",
    "HAM": "HAMEAU", "LOT": "LOTISSEMENT", "PASS": "PASSAGE", "PROM": "PROMENADE", "QUA": "QUARTIER",
    "RPT": "ROND POINT", "SEN": "SENTIER", "VLA": "VILLA", "CITE": "CITE", "CAR": "CARREFOUR",
    "CHS": "CHAUSSEE", "ESP": "ESPLANADE", "PARC": "PARC", "VOIE": "VOIE", "MTE": "MONTEE", "TRA": "TRAVERSE",
}
# Other ways of writing a type: the word in full, and common short forms.
_TYPE_ALIASES = {word: code for code, word in STREET_TYPES.items()}
_TYPE_ALIASES.update({"AVE": "AV", "BLD": "BD", "BVD": "BD", "BOUL": "BD", "PLA": "PL", "CH": "CHE", "ALLE": "ALL",
                      "RT": "RTE", "R": "RUE", "LIEUDIT": "LD", "LIEU DIT": "LD", "Z A": "ZA", "Z I": "ZI",
                      "ZONE ACTIVITE": "ZA", "ZONE D ACTIVITE": "ZA", "ZONE D ACTIVITES": "ZA",
                      "ZONE ARTISANALE": "ZA", "ZONE INDUSTRIELLE": "ZI", "ROND POINT": "RPT"})
# Type words long enough to find at the start of a BAN street name ("Zone d'activité de la Touche").
_LEADING_TYPES = sorted(((w, c) for w, c in _TYPE_ALIASES.items() if len(w) > 2), key=lambda wc: -len(wc[0]))
# Small words that street names do not need to be told apart.
STREET_STOP_WORDS = frozenset({"DE", "DU", "DES", "LA", "LE", "LES", "L", "D", "A", "AU", "AUX", "ET"})
# Repetition indices: Sirene writes B/T/Q, the BAN bis/ter/quater, people either.
_REPETITION = {"B": "B", "BIS": "B", "T": "T", "TER": "T", "Q": "Q", "QUATER": "Q", "C": "C", "QUINQUIES": "C"}

# Geocoding levels, best first (column ``level`` of Geocoder.geocode).
NUMBER = "number"  # the numbered point itself
STREET = "street"  # the street, at its closest number (or its middle)
COMMUNE = "commune"  # the commune's centroid
NONE = "none"  # nowhere
LEVELS = (NUMBER, STREET, COMMUNE, NONE)

#: A declared street matches a reference street when their keys score at least this (0-100).
STREET_CUTOFF = 80.0


def street_type(value) -> str:
    """The Sirene code of a declared street type: ``"Avenue"`` → ``"AV"``, ``"bd"`` → ``"BD"``;
    ``""`` when missing or unknown."""
    text = simplify(value)
    if not text:
        return ""
    if text in STREET_TYPES:
        return text
    return _TYPE_ALIASES.get(text, "")


def street_key(name) -> str:
    """A street name reduced so that the usual spellings agree: upper case, no accents or
    punctuation, no small words (``"de l'Église"`` → ``"EGLISE"``; ``"Saint-Michel"`` →
    ``"SAINT MICHEL"``). A name made only of small words keeps them."""
    words = simplify(name).split()
    words = ["SAINT" if w == "ST" else "SAINTE" if w == "STE" else w for w in words]
    kept = [w for w in words if w not in STREET_STOP_WORDS]
    return " ".join(kept or words)


def street_similarity(a: str, b: str, *, score_cutoff: float | None = None, **_) -> float:
    """How alike two street keys are (0-100): their edit-distance ratio, or, a little lower, the
    share of words one has in common with the other (``"DESS LILAS"`` against ``"LILAS"``: a
    doubled small word, or a word added or dropped)."""
    if not a or not b:
        return 0.0
    score = max(fuzz.ratio(a, b), fuzz.token_set_ratio(a, b) - 8.0)
    return score if score_cutoff is None or score >= score_cutoff else 0.0


def split_ban_street(nom_voie) -> tuple[str, str]:
    """A BAN street name (type and name together) split into (type code, key):
    ``"Rue de la Gare"`` → ``("RUE", "GARE")``; ``"La Touche"`` (a lieu-dit) → ``("", "TOUCHE")``."""
    text = simplify(nom_voie)
    for word, code in _LEADING_TYPES:
        if text.startswith(word + " "):
            return code, street_key(text[len(word) + 1:])
    first, _, rest = text.partition(" ")
    if first in STREET_TYPES and rest:
        return first, street_key(rest)
    return "", street_key(text)


@dataclass(frozen=True)
class _Street:
    """The numbered points of one street of the reference, sorted by number."""

    number: np.ndarray
    rep: np.ndarray
    numeric: np.ndarray
    x: np.ndarray
    y: np.ndarray


def _number(value) -> str:
    """A street number as digits (``"12"``), ``""`` when missing or not a number."""
    text = simplify(value)
    digits = "".join(ch for ch in text.split(" ")[0] if ch.isdigit()) if text else ""
    return str(int(digits)) if digits else ""


def _repetition(value) -> str:
    return _REPETITION.get(simplify(value), "")


class Geocoder:
    """Declared workplace addresses placed on the map with the address reference.

    ``adresses`` is the BAN-like reference (``numero``, ``rep``, ``nom_voie``, ``code_insee``,
    ``x``, ``y``), ``communes`` the communes (``code_commune``, ``x``, ``y``) and ``adjacences``
    (optional) their adjacency: a street not found in the declared commune is looked for in the
    adjacent ones, since people often give a neighbouring commune.
    """

    def __init__(self, adresses: pd.DataFrame, communes: pd.DataFrame, adjacences: pd.DataFrame | None = None,
                 *, cutoff: float = STREET_CUTOFF):
        self.cutoff = cutoff
        ref = pd.DataFrame({
            "commune": adresses["code_insee"].astype("string").to_numpy(dtype=object, na_value=None),
            "nom_voie": adresses["nom_voie"].astype("string").to_numpy(dtype=object, na_value=None),
            "number": [_number(v) for v in adresses["numero"].to_numpy(dtype=object)],
            "rep": [_repetition(v) for v in adresses["rep"].to_numpy(dtype=object)]
            if "rep" in adresses else "",
            "x": adresses["x"].to_numpy(dtype=np.float64),
            "y": adresses["y"].to_numpy(dtype=np.float64),
        })
        ref = ref[ref["commune"].notna() & ref["nom_voie"].notna()]
        split = {name: split_ban_street(name) for name in ref["nom_voie"].unique()}
        ref["type"] = ref["nom_voie"].map(lambda s: split[s][0])
        ref["key"] = ref["nom_voie"].map(lambda s: split[s][1])
        # One entry per (commune, type, street): "RUE DU FOUR" and "QUAI DU FOUR" are two streets
        # with the same key. Its points, sorted by number, serve the number lookup.
        self._streets: dict[str, list[tuple[str, str]]] = {}
        self._points: dict[tuple[str, str, str], _Street] = {}
        ref["numeric"] = pd.to_numeric(ref["number"], errors="coerce")
        ref = ref.sort_values(["commune", "key", "type", "numeric", "rep"], kind="stable")
        for (commune, key, kind), points in ref.groupby(["commune", "key", "type"], sort=False):
            if not key:
                continue
            self._streets.setdefault(commune, []).append((key, kind))
            self._points[(commune, key, kind)] = _Street(
                number=points["number"].to_numpy(dtype=object), rep=points["rep"].to_numpy(dtype=object),
                numeric=points["numeric"].to_numpy(dtype=np.float64),
                x=points["x"].to_numpy(dtype=np.float64), y=points["y"].to_numpy(dtype=np.float64))
        self._street_keys = {c: [k for k, _ in streets] for c, streets in self._streets.items()}
        codes = communes["code_commune"].astype("string").to_numpy(dtype=object)
        self._communes = communes if "code_departement" in communes else communes.assign(
            code_departement=[departement_of(c) for c in codes])
        self._centroid = dict(zip(codes, zip(communes["x"].to_numpy(dtype=np.float64),
                                             communes["y"].to_numpy(dtype=np.float64))))
        self._near: dict[str, list[str]] = {}
        if adjacences is not None:
            for a, b in zip(adjacences["code_commune"].astype("string").to_numpy(dtype=object),
                            adjacences["code_commune_adjacente"].astype("string").to_numpy(dtype=object)):
                if isinstance(a, str) and isinstance(b, str):
                    self._near.setdefault(a, []).append(b)
                    self._near.setdefault(b, []).append(a)
        self._memo: dict[tuple, tuple] = {}

    @property
    def n_streets(self) -> int:
        return len(self._points)

    def find_street(self, commune: str, key: str, kind: str = "") -> tuple[str | None, str | None, float]:
        """The reference street of ``commune`` (or, failing that, of an adjacent commune) closest to
        the declared street ``key`` of type ``kind``: (commune, street key, score 0-100), or
        ``(None, None, 0)`` when none scores at least the cutoff. A matching type adds a little,
        a different one takes a little: "RUE DE LA GARE" and "AVENUE DE LA GARE" both exist."""
        code, found, _, score = self._find_street(commune, key, kind)
        return code, found, score

    def _find_street(self, commune: str, key: str, kind: str) -> tuple[str | None, str | None, str, float]:
        """:meth:`find_street`, with the matched street's type: (commune, key, type, score)."""
        memo_key = (commune, key, kind)
        if memo_key in self._memo:
            return self._memo[memo_key]
        best = (None, None, "", 0.0)
        for rank, code in enumerate([commune, *sorted(self._near.get(commune, []))]):
            keys = self._street_keys.get(code)
            if not keys:
                continue
            # Streets sharing a key (RUE and QUAI DU FOUR) come out together: the type decides.
            for found, score, position in process.extract(key, keys, scorer=street_similarity, limit=6,
                                                           score_cutoff=self.cutoff):
                ref_type = self._streets[code][position][1]
                if kind and ref_type:
                    score += 2.0 if kind == ref_type else -3.0
                score -= 4.0 * (rank > 0)  # the declared commune first
                if score > best[3]:
                    best = (code, found, ref_type, float(score))
            if best[0] == commune and best[3] >= 100:
                break
        best = (*best[:3], min(best[3], 100.0))  # the type bonus ranks streets; the score stays 0-100
        self._memo[memo_key] = best
        return best

    def geocode(self, bulletins: pd.DataFrame, workplace: pd.DataFrame | None = None) -> pd.DataFrame:
        """Each bulletin's declared workplace on the map.

        ``workplace`` is :func:`datathon.challenges.sirene.blocking.resolve_workplace`'s output (the commune read from
        ``CLT_X``, ``ILT_X``, ``DEPCOM_CODE``); it is computed when not given. Returns a frame aligned
        with ``bulletins`` (same index): ``x``, ``y`` (Lambert 93 metres, NaN when nowhere),
        ``level`` (:data:`LEVELS`), ``commune`` (where the street was found, else the declared
        commune), ``street`` (the matched street key, ``""`` if none), ``street_score`` (0-100) and
        ``declared_street`` (the declared street's key).
        """
        if workplace is None:
            from datathon.challenges.sirene.blocking import resolve_workplace
            workplace = resolve_workplace(bulletins, self._communes)
        n = len(bulletins)
        column = lambda name: (bulletins[name].to_numpy(dtype=object) if name in bulletins  # noqa: E731
                               else np.full(n, None, dtype=object))
        numbers, reps, types, streets = column("NUMVOI_X"), column("BISTER_X"), column("TYPEVOI_X"), column("NOMVOI_X")
        communes = workplace["commune"].to_numpy(dtype=object, na_value=None)
        x = np.full(n, np.nan)
        y = np.full(n, np.nan)
        level = np.full(n, NONE, dtype=object)
        where = np.array([c if isinstance(c, str) else None for c in communes], dtype=object)
        matched = np.full(n, "", dtype=object)
        score = np.zeros(n)
        declared = np.array([street_key(s) if not is_missing(s) else "" for s in streets], dtype=object)
        for i in range(n):
            commune = communes[i] if isinstance(communes[i], str) else None
            if commune is None:
                continue
            if declared[i]:
                code, key, kind, s = self._find_street(commune, declared[i], street_type(types[i]))
                if key is not None:
                    point, exact = self._point(code, key, kind, _number(numbers[i]), _repetition(reps[i]))
                    x[i], y[i] = point
                    level[i] = NUMBER if exact else STREET
                    where[i], matched[i], score[i] = code, key, s
                    continue
            if commune in self._centroid:
                x[i], y[i] = self._centroid[commune]
                level[i] = COMMUNE
        return pd.DataFrame({"x": x, "y": y, "level": level, "commune": where, "street": matched,
                             "street_score": score, "declared_street": declared}, index=bulletins.index)

    def _point(self, commune: str, key: str, kind: str, number: str, rep: str) -> tuple[tuple[float, float], bool]:
        """The numbered point of a street (exact: True), else its closest number, else its middle."""
        street = self._points[(commune, key, kind)]
        if number:
            same = np.flatnonzero(street.number == number)
            if len(same):
                exact = same[street.rep[same] == rep]
                j = exact[0] if len(exact) else same[0]
                return (street.x[j], street.y[j]), len(exact) > 0
            if np.isfinite(street.numeric).any():
                j = int(np.nanargmin(np.abs(street.numeric - int(number))))
                return (street.x[j], street.y[j]), False
        middle = len(street.x) // 2
        return (street.x[middle], street.y[middle]), False


def register_streets(register: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(street key, type code, number) of each establishment of the register."""
    keys = np.array([street_key(s) for s in register["libelleVoieEtablissement"].to_numpy(dtype=object)], dtype=object)
    types = np.array([street_type(t) for t in register["typeVoieEtablissement"].to_numpy(dtype=object)], dtype=object)
    numbers = np.array([_number(v) for v in register["numeroVoieEtablissement"].to_numpy(dtype=object)], dtype=object)
    return keys, types, numbers


def coordinates(register: pd.DataFrame) -> np.ndarray:
    """The establishments' (x, y), Lambert 93 metres (NaN where the register has none)."""
    return np.column_stack([
        pd.to_numeric(register["coordonneeLambertAbscisseEtablissement"], errors="coerce").to_numpy(dtype=np.float64),
        pd.to_numeric(register["coordonneeLambertOrdonneeEtablissement"], errors="coerce").to_numpy(dtype=np.float64),
    ])


#: What place_features() adds to each candidate pair.
PLACE_FEATURES = ("log_distance", "street_similarity", "same_street", "same_number", "geocode_level")


class PlaceScorer:
    """Place features of candidate pairs: how well an establishment's address fits a declaration.

    Built once per register (street keys and coordinates of every establishment), then applied to
    any candidate table with :meth:`features`.
    """

    def __init__(self, register: pd.DataFrame):
        self.street, self.type, self.number = register_streets(register)
        self.xy = coordinates(register)

    def features(self, candidates: pd.DataFrame, located: pd.DataFrame, bulletins: pd.DataFrame) -> pd.DataFrame:
        """``candidates`` (``bulletin`` positions, ``row`` register positions) with
        :data:`PLACE_FEATURES`: ``log_distance`` (log10 of 1 + metres between the geocoded
        declaration and the establishment; NaN when the declaration could not be placed),
        ``street_similarity`` (0-1, declared street against the establishment's, NaN when no street
        was declared), ``same_street`` (the geocoded street is the establishment's), ``same_number``
        (same street number, when both are given) and ``geocode_level`` (0 numbered point,
        1 street, 2 commune, 3 nowhere)."""
        b = candidates["bulletin"].to_numpy(dtype=np.int64)
        rows = candidates["row"].to_numpy(dtype=np.int64)
        lx = located["x"].to_numpy(dtype=np.float64)[b]
        ly = located["y"].to_numpy(dtype=np.float64)[b]
        distance = np.hypot(lx - self.xy[rows, 0], ly - self.xy[rows, 1])
        declared = located["declared_street"].to_numpy(dtype=object)[b]
        matched = located["street"].to_numpy(dtype=object)[b]
        theirs = self.street[rows]
        pairs = pd.Series(list(zip(declared, theirs)), dtype=object)
        codes, uniques = pd.factorize(pairs)
        similarity = np.array([street_similarity(a, c) / 100 if a else np.nan for a, c in uniques],
                              dtype=np.float64)
        numbers = np.array([_number(v) for v in bulletins["NUMVOI_X"].to_numpy(dtype=object)], dtype=object) \
            if "NUMVOI_X" in bulletins else np.full(len(bulletins), "", dtype=object)
        ours = numbers[b]
        levels = {NUMBER: 0, STREET: 1, COMMUNE: 2, NONE: 3}
        return candidates.assign(
            log_distance=np.log10(1 + distance),
            street_similarity=similarity[codes] if len(codes) else np.empty(0),
            same_street=((matched != "") & (matched == theirs)).astype(np.float64),
            same_number=np.where((ours != "") & (self.number[rows] != ""),
                                 (ours == self.number[rows]).astype(np.float64), np.nan),
            geocode_level=np.array([levels[v] for v in located["level"].to_numpy(dtype=object)], dtype=np.float64)[b],
        )


class NearbyIndex:
    """The establishments closest to a point: candidates found by address rather than by name.

    ``register`` rows without coordinates, and closed establishments unless ``keep_closed``, are
    left out. Queries return register row positions (``register.iloc``).
    """

    def __init__(self, register: pd.DataFrame, *, keep_closed: bool = False):
        xy = coordinates(register)
        keep = np.isfinite(xy).all(axis=1)
        if not keep_closed and "etatAdministratifEtablissement" in register:
            keep &= (register["etatAdministratifEtablissement"].astype("string") != "F").fillna(True).to_numpy(dtype=bool)
        self.rows = np.flatnonzero(keep)
        self.tree = cKDTree(xy[keep]) if len(self.rows) else None

    def query(self, located: pd.DataFrame, *, k: int = 10, radius: float = 300.0,
              levels: Sequence[str] = (NUMBER, STREET)) -> pd.DataFrame:
        """The ``k`` nearest establishments within ``radius`` metres of each declaration placed at
        one of ``levels``: ``bulletin`` (position in ``located``), ``row``, ``distance`` (metres)
        and ``rank`` (1 = nearest)."""
        if self.tree is None:
            return pd.DataFrame({"bulletin": np.empty(0, np.int64), "row": np.empty(0, np.int64),
                                 "distance": np.empty(0), "rank": np.empty(0, np.int64)})
        placed = np.flatnonzero(located["level"].isin(list(levels)).to_numpy()
                                & np.isfinite(located["x"].to_numpy(dtype=np.float64)))
        points = located[["x", "y"]].to_numpy(dtype=np.float64)[placed]
        k = min(k, len(self.rows))
        distance, index = self.tree.query(points, k=k, distance_upper_bound=radius)
        distance = distance.reshape(len(placed), k)
        index = index.reshape(len(placed), k)
        ok = np.isfinite(distance)
        bulletin = np.repeat(placed, k).reshape(len(placed), k)[ok]
        rank = np.tile(np.arange(1, k + 1), (len(placed), 1))[ok]
        return pd.DataFrame({"bulletin": bulletin.astype(np.int64), "row": self.rows[index[ok]].astype(np.int64),
                             "distance": distance[ok], "rank": rank.astype(np.int64)})

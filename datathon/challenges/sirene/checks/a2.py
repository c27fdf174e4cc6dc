"""Checks for assignment a2_places (``solutions/a2_places``): normalising, geocoding and comparing places.

``q1`` ``normalise_type`` and ``normalise_street``, ``q2`` ``find_street``, ``q3`` ``geocode``, ``q4``
``distance`` and ``distance_score``, ``q5`` ``rank_by_distance`` and ``share_within``. Each check tries
small examples written for it (the graded tests use others) and properties every right answer has.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

from datathon.checks import Incorrect, Literal, NotAttempted, Question, approx, call, expect, show

__all__ = ["q1", "q2", "q3", "q4", "q5"]


# ------------------------------------------------------------------------------------------------
# q1: normalise_type, normalise_street
# ------------------------------------------------------------------------------------------------

_TYPE_EXAMPLES = [
    ("RUE", "RUE", "a Sirene code stays as it is"),
    ("Avenue", "AV", "a full word gives its code, whatever the case"),
    ("boulevard", "BD", "a full word gives its code"),
    ("  pl. ", "PL", "punctuation and spaces do not matter"),
    ("Zone Industrielle", "ZI", "a type of several words"),
    ("bvd", "BD", "another spelling of OTHER_SPELLINGS"),
    ("Z.I.", "ZI", "'Z.I.' cleaned is 'Z I', in OTHER_SPELLINGS"),
    ("CHEZ", "", "'' for an unknown type"),
    ("", "", "'' for an empty type"),
]
_STREET_EXAMPLES = [
    ("de la Gare", "GARE", "small words dropped"),
    ("DES TILLEULS", "TILLEULS", "small words dropped"),
    ("Saint-Exupéry", "SAINT EXUPERY", "upper case, no accents, the hyphen as a space"),
    ("ST JOSEPH", "SAINT JOSEPH", "ST written in full"),
    ("STE ANNE", "SAINTE ANNE", "STE written in full"),
    ("du 8 Mai 1945", "8 MAI 1945", "digits kept"),
    ("de l'Océan", "OCEAN", "the L of l' is a small word too"),
    ("LE BOURG", "BOURG", "LE dropped"),
    ("DE LA", "DE LA", "a name made only of small words keeps them"),
]


def _verify_normalisation(normalise_type, normalise_street) -> str:
    for text, wanted, why in _TYPE_EXAMPLES:
        got = call(normalise_type, text)
        expect(got == wanted, normalise_type, [text], got, f"{show(wanted)} ({why})")
    for missing in (None, float("nan")):
        got = call(normalise_type, missing, none_ok=True)
        expect(got == "", normalise_type, [missing], got, "'' (a missing type gives an empty text)")
    for name, wanted, why in _STREET_EXAMPLES:
        got = call(normalise_street, name)
        expect(got == wanted, normalise_street, [name], got, f"{show(wanted)} ({why})")
    got = call(normalise_street, None, none_ok=True)
    expect(got == "", normalise_street, [None], got, "'' (a missing street gives an empty key)")
    return "normalise_type() and normalise_street() bring the usual spellings of a street to one."


q1 = Question(
    "q1", ["normalise_type", "normalise_street"], _verify_normalisation,
    "Clean the text first (simplify() does case, accents and punctuation). normalise_type(): a cleaned type is "
    "either a code (a key of STREET_TYPES), a full word (one of its values: turn the dict around to look it "
    "up), another spelling (OTHER_SPELLINGS), or unknown. normalise_street(): work on the list of words, and "
    "keep the original words when the filter would leave none.",
)


# ------------------------------------------------------------------------------------------------
# q2: find_street
# ------------------------------------------------------------------------------------------------

_STREETS = ["EGLISE", "GARE", "GARENNE", "MOULIN", "PONT NEUF"]


def _verify_find_street(find_street) -> str:
    shown_streets = Literal("['EGLISE', 'GARE', 'GARENNE', 'MOULIN', 'PONT NEUF']")
    cases = [
        (("GARE", _STREETS), ("GARE", 100.0), "the same key scores 100"),
        (("MOULN", _STREETS), ("MOULIN", 100 * 10 / 11), "a typo: fuzz.ratio('MOULN', 'MOULIN') is 90.9"),
        (("GARENE", _STREETS), ("GARENNE", 100 * 12 / 13), "GARENNE (92.3) beats GARE (80.0)"),
        (("PONT", _STREETS), (None, 0.0), "(None, 0.0): the best, PONT NEUF, scores 61.5, under the cutoff 80"),
        (("PONT", _STREETS, 60.0), ("PONT NEUF", 100 * 8 / 13), "with cutoff=60, PONT NEUF (61.5) is kept"),
        (("", _STREETS), (None, 0.0), "(None, 0.0) for an empty key"),
        (("GARE", []), (None, 0.0), "(None, 0.0) when the commune has no street"),
    ]
    for args, (street, score), why in cases:
        got = call(find_street, *args)
        shown = [args[0], shown_streets if args[1] else [], *args[2:]]
        ok = (isinstance(got, tuple) and len(got) == 2 and got[0] == street and approx(got[1], score, 1e-6))
        expect(ok, find_street, shown, got, f"{show((street, round(score, 1)))} ({why})")
    got = call(find_street, "ABCD", ["ABCE", "ABCF"], 70.0)
    expect(isinstance(got, tuple) and got[:1] == ("ABCE",), find_street, ["ABCD", ["ABCE", "ABCF"], 70.0], got,
           "('ABCE', 75.0): equal scores, the first street of the list wins")
    got = call(find_street, "GARE", ["GARE"], similarity=lambda a, b, **_: 90.0)
    expect(isinstance(got, tuple) and got[0] == "GARE" and approx(got[1], 90.0), find_street,
           ["GARE", ["GARE"]], got, "('GARE', 90.0): the score is what `similarity` returns",
           {"similarity": Literal("lambda a, b: 90.0")})
    return "find_street() keeps the most similar street (the first on a tie) when it scores at least the cutoff."


q2 = Question(
    "q2", ["find_street"], _verify_find_street,
    "Score every street of the list with similarity(key, street) and remember the best one; a strict '>' keeps "
    "the first of equal scores. Compare the best score with the cutoff only at the end. rapidfuzz's "
    "process.extractOne does all of it in one call, if you prefer (mind its score_cutoff and empty keys).",
)


# ------------------------------------------------------------------------------------------------
# q3: geocode
# ------------------------------------------------------------------------------------------------

# A toy reference: commune "00001" has a RUE and a QUAI both keyed FOUR, and a RUE DE LA GARE with
# five numbered points; commune "00002" has no street at all.
_TOY = SimpleNamespace(
    street_keys={"00001": ["FOUR", "GARE"], "00002": []},
    types={("00001", "FOUR"): ["QUAI", "RUE"], ("00001", "GARE"): ["RUE"]},
    points={
        ("00001", "QUAI", "FOUR"): [(1, 100.0, 10.0), (2, 110.0, 10.0), (3, 120.0, 10.0)],
        ("00001", "RUE", "FOUR"): [(2, 500.0, 50.0), (4, 520.0, 50.0)],
        ("00001", "RUE", "GARE"): [(1, 0.0, 0.0), (3, 0.0, 20.0), (5, 0.0, 40.0), (7, 0.0, 60.0), (None, 0.0, 80.0)],
    },
    centroids={"00001": (300.0, 300.0), "00002": (9000.0, 9000.0)},
)


def _verify_geocode(find_street, geocode) -> str:
    try:
        call(find_street, "GARE", ["GARE"])
    except NotAttempted as err:
        raise NotAttempted(f"geocode() uses your find_street(), which is not done yet: {err}") from None
    except Incorrect as err:
        raise Incorrect(f"geocode() uses your find_street(), which fails: {err}") from None
    ref = Literal("reference")
    cases = [
        ((5, "RUE", "GARE", "00001"), (0.0, 40.0, "number"), "the point numbered 5 of RUE GARE"),
        ((6, "RUE", "GARE", "00001"), (0.0, 40.0, "street"), "no number 6: the middle point of the street (index 5 // 2)"),
        ((None, "", "GARE", "00001"), (0.0, 40.0, "street"), "no number given: the middle point"),
        ((3, "RUE", "GAR", "00001"), (0.0, 20.0, "number"), "the misspelt GAR is found as GARE (score 85.7)"),
        ((2, "QUAI", "FOUR", "00001"), (110.0, 10.0, "number"), "the QUAI's number 2, not the RUE's: the type decides"),
        ((2, "RUE", "FOUR", "00001"), (500.0, 50.0, "number"), "the RUE's number 2"),
        ((2, "", "FOUR", "00001"), (110.0, 10.0, "number"), "no type: the first type of the list, QUAI"),
        ((4, "AV", "FOUR", "00001"), (110.0, 10.0, "street"), "no AV FOUR: the QUAI, which has no number 4"),
        ((1, "RUE", "POSTE", "00001"), (300.0, 300.0, "commune"), "no such street: the commune's centroid"),
        ((1, "RUE", "", "00001"), (300.0, 300.0, "commune"), "no street declared: the commune's centroid"),
        ((1, "RUE", "GARE", "00002"), (9000.0, 9000.0, "commune"), "a commune without streets: its centroid"),
    ]
    for args, (x, y, level), why in cases:
        got = call(geocode, *args, _TOY)
        ok = (isinstance(got, tuple) and len(got) == 3 and got[2] == level and approx(got[0], x) and approx(got[1], y))
        expect(ok, geocode, [*args, ref], got, f"{show((x, y, level))} ({why})")
    for commune in (None, "99999"):
        got = call(geocode, 1, "RUE", "GARE", commune, _TOY)
        ok = (isinstance(got, tuple) and len(got) == 3 and got[2] == "none"
              and all(isinstance(v, float) and math.isnan(v) for v in got[:2]))
        expect(ok, geocode, [1, "RUE", "GARE", commune, ref], got,
               "(nan, nan, 'none'): a missing or unknown commune cannot be placed")
    return "geocode() reaches the number, the street or the commune, and tells streets of the same key apart by type."


q3 = Question(
    "q3", ["find_street", "geocode"], _verify_geocode,
    "Go from the coarsest to the finest: no known commune, stop; look the street up with find_street() among "
    "reference.street_keys[commune]; pick the type among reference.types[(commune, key)]; then scan "
    "reference.points[(commune, type, key)] for the number. Each step that fails falls back on the level above.",
)


# ------------------------------------------------------------------------------------------------
# q4: distance, distance_score
# ------------------------------------------------------------------------------------------------


def _verify_distances(distance, distance_score) -> str:
    nan = float("nan")
    for a, b, wanted, why in [
        ((0.0, 0.0), (3.0, 4.0), 5.0, "√(3² + 4²)"),
        ((351000.0, 6789000.0), (351000.0, 6789250.0), 250.0, "Lambert 93 is in metres: 250 m due north"),
        ((10.0, 10.0), (10.0, 10.0), 0.0, "the same point"),
        ((-5.0, 2.0), (1.0, -6.0), 10.0, "√(6² + 8²)"),
    ]:
        got = call(distance, a, b)
        expect(approx(got, wanted), distance, [a, b], got, f"{wanted} ({why})")
        swapped = call(distance, b, a)
        expect(approx(swapped, wanted), distance, [b, a], swapped, f"{wanted} (the same both ways)")
    got = call(distance, (nan, nan), (1.0, 2.0), none_ok=True)
    expect(isinstance(got, float) and math.isnan(got), distance, [(nan, nan), (1.0, 2.0)], got,
           "nan: a point that could not be placed has no distance")
    for args, wanted, why in [
        ((0.0,), 1.0, "1 at 0 m"),
        ((100.0,), 0.5, "one half at `scale` metres (default 100)"),
        ((300.0,), 0.25, "100 / (100 + 300)"),
        ((50.0, 50.0), 0.5, "one half at `scale` metres"),
        ((nan,), 0.0, "0.0 for a missing distance: nothing to go on"),
    ]:
        got = call(distance_score, *args)
        expect(approx(got, wanted), distance_score, args, got, f"{wanted} ({why})")
    near, far = call(distance_score, 10.0), call(distance_score, 1000.0)
    expect(isinstance(near, float) and isinstance(far, float) and 0 < far < near < 1, distance_score, [1000.0], far,
           f"a score between 0 and distance_score(10.0) = {show(near)}: the farther, the lower")
    return "distance() measures metres, and distance_score() turns them into a score from 1 (here) down to 0 (far)."


q4 = Question(
    "q4", ["distance", "distance_score"], _verify_distances,
    "Lambert 93 coordinates are metres on a plane: Pythagoras (math.hypot) is all distance() needs, and NaN "
    "propagates by itself. distance_score(): scale / (scale + d) is 1 at 0 and one half at d = scale; test for "
    "NaN (math.isnan) before anything else.",
)


# ------------------------------------------------------------------------------------------------
# q5: rank_by_distance, share_within
# ------------------------------------------------------------------------------------------------

# (row, x, y): rows 8 and 3 stand at the same point, 5 m from (0, 0); row 6 at 5 m too; row 9 far away.
_CANDIDATES = [(8, 3.0, 4.0), (2, 0.0, 1.0), (9, 900.0, 0.0), (3, 3.0, 4.0), (6, -5.0, 0.0), (7, 0.0, 50.0)]


def _verify_ranking(rank_by_distance, share_within) -> str:
    nan = float("nan")
    shown = Literal("candidates")
    got = call(rank_by_distance, (0.0, 0.0), _CANDIDATES, 3)
    expect(isinstance(got, (list, tuple)), rank_by_distance, [(0.0, 0.0), shown, 3], got, "a list of rows")
    expect(list(got) == [2, 3, 6], rank_by_distance, [(0.0, 0.0), shown, 3], got,
           "[2, 3, 6]: row 2 at 1 m, then rows 3, 6 and 8 at 5 m, smaller rows first, k = 3")
    got = call(rank_by_distance, (0.0, 0.0), _CANDIDATES, 10)
    expect(isinstance(got, (list, tuple)) and list(got) == [2, 3, 6, 8, 7, 9], rank_by_distance,
           [(0.0, 0.0), shown, 10], got, "every row, nearest first: [2, 3, 6, 8, 7, 9]")
    got = call(rank_by_distance, (nan, nan), _CANDIDATES, 3, none_ok=True)
    expect(isinstance(got, (list, tuple)) and list(got) == [], rank_by_distance, [(nan, nan), shown, 3], got,
           "[]: a point that could not be placed ranks nothing")
    for args, wanted, why in [
        (([0.0, 50.0, 100.0, 150.0],), 0.75, "3 of 4 within 100 m (100 m itself counts)"),
        (([5.0, nan, 300.0, 20.0],), 0.5, "a NaN (not placed) counts as not within"),
        (([5.0, 300.0], 500.0), 1.0, "radius 500"),
        (([],), 0.0, "0.0 when there is no distance"),
    ]:
        got = call(share_within, *args)
        expect(approx(got, wanted), share_within, args, got, f"{wanted} ({why})")
    return "rank_by_distance() puts the nearest rows first (smaller rows first on a tie), share_within() counts NaN as far."


q5 = Question(
    "q5", ["rank_by_distance", "share_within"], _verify_ranking,
    "rank_by_distance(): compute each candidate's distance with your distance(), then sorted() with a key that "
    "is a tuple (distance, row) orders by distance and breaks ties by row. share_within(): a comparison with "
    "NaN is always False, which is exactly what 'not within' needs; mind the empty list.",
)

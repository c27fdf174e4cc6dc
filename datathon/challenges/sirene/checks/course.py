"""Exercises of Sirene's course notebooks (``course/sirene/``): ``check()``, ``hint()``, ``solution()``.

One module for all seven lessons, one question per exercise, named after its lesson: ``ex00_1`` is
the first exercise of ``00_challenge``. A lesson imports its own::

    from datathon.checks import bind
    from datathon.challenges.sirene.checks.course import ex00_1, ex00_2
    bind(globals())

    def success_rate(coded, truth): ...   # the student writes it in the lesson
    ex00_1.check()      # ✓ / ○ not attempted / ✗ every failing example
    ex00_1.hint()
    ex00_1.solution()   # prints the solution kept here, never in the student's notebook

Unlike the graded assignments (``a1``–``a3``), these exercises are practice: their solutions are
given on request. None of them asks for what an assignment grades (n-grams, distances, recall@k,
a threshold), so a solution here gives no graded answer away. Each check tries small worked
examples written for it, which need no data: a lesson's exercises run in milliseconds.
"""
from __future__ import annotations

import math

from datathon.checks import Question, approx, call, expect, show

__all__ = ["ex00_1", "ex00_2", "ex01_1", "ex01_2", "ex02_1", "ex02_2", "ex03_1", "ex03_2",
           "ex04_1", "ex04_2", "ex05_1", "ex05_2", "ex06_1", "ex06_2", "EXERCISES"]


def _examples(function, examples, *, close: bool = False) -> None:
    """Try ``(args, wanted, why)`` examples; a float answer is compared within 1e-9 when ``close``."""
    for args, wanted, why in examples:
        got = call(function, *args)  # None is "not attempted": what a lesson's stub returns
        if close and isinstance(wanted, float) and math.isnan(wanted):
            ok = isinstance(got, float) and math.isnan(got)
        else:
            ok = approx(got, wanted) if close else got == wanted
        expect(ok, function, list(args), got, f"{show(wanted)} ({why})")


# ------------------------------------------------------------------------------------------------
# 00_challenge: the metrics by hand, and the SIRET's Luhn key
# ------------------------------------------------------------------------------------------------

_B = ["S1", "S2", "S3", "S4"]


def _verify_success_rate(success_rate) -> str:
    _examples(success_rate, [
        ((["S1", "S2", "S3", "S4"], _B), 1.0, "every bulletin coded right"),
        ((["S1", None, "S9", "S4"], _B), 0.5, "right / all bulletins, not right / coded"),
        (([None, None, None, None], _B), 0.0, "nothing coded, nothing right"),
        ((["S1"], ["S1"]), 1.0, "one bulletin"),
    ], close=True)
    return "success_rate() counts right codings among all bulletins: an uncoded bulletin counts as not right."


ex00_1 = Question(
    "ex00_1", ["success_rate"], _verify_success_rate,
    "Count the positions where the coding is not None and equals the truth, then divide by the number of "
    "bulletins (all of them, coded or not).",
    solution='''def success_rate(coded, truth):
    right = sum(c is not None and c == t for c, t in zip(coded, truth))
    return right / len(truth)''',
)


def _verify_luhn(siret_key_ok) -> str:
    _examples(siret_key_ok, [
        (("73282932000074",), True, "a valid SIRET"),
        (("35600000000048",), True, "a valid SIRET"),
        (("73282932000075",), False, "the last digit changed"),
        (("73282932000047",), False, "two digits swapped"),
        (("7328293200007",), False, "13 digits is not a SIRET"),
        (("7328293200007A",), False, "a letter is not a digit"),
    ])
    return "siret_key_ok() applies the Luhn key: one mistyped digit, or two swapped, breaks it."


ex00_2 = Question(
    "ex00_2", ["siret_key_ok"], _verify_luhn,
    "From the right, double every second digit (the 2nd, 4th...), subtract 9 from any result above 9, add "
    "everything up: the SIRET is valid when the sum is a multiple of 10. Check first that it is 14 digits.",
    solution='''def siret_key_ok(siret):
    if len(siret) != 14 or not siret.isdigit():
        return False
    total = 0
    for position, digit in enumerate(reversed(siret)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0''',
)


# ------------------------------------------------------------------------------------------------
# 01_data: difficulties and MCA's classes
# ------------------------------------------------------------------------------------------------


def _verify_mechanism_share(mechanism_share) -> str:
    noise = ["clean", "typo|missing_address", "missing_address", "typo", None]
    _examples(mechanism_share, [
        ((noise, "typo"), 0.4, "2 of 5 bulletins, one of them with two difficulties"),
        ((noise, "missing_address"), 0.4, "a mechanism is found anywhere in the '|' list"),
        ((noise, "home_commune"), 0.0, "a mechanism no bulletin has"),
        ((["other_name_x"], "other_name"), 0.0, "whole names only: other_name_x is not other_name"),
    ], close=True)
    return "mechanism_share() reads the NOISE lists: several difficulties per bulletin, whole names only."


ex01_1 = Question(
    "ex01_1", ["mechanism_share"], _verify_mechanism_share,
    "Split each NOISE value on '|' (a missing value is an empty list) and test membership in the list, "
    "not a substring of the text; divide by the number of bulletins.",
    solution='''def mechanism_share(noise, mechanism):
    has = [mechanism in (value.split("|") if isinstance(value, str) else []) for value in noise]
    return sum(has) / len(has)''',
)


def _verify_mca_decision(mca_decision) -> str:
    _examples(mca_decision, [
        ((0,), "no candidate", "class 0: no candidate at all"),
        ((1,), "validated", "class 1: good name, good address"),
        ((2,), "validated", "class 2: good name, fair address"),
        ((3,), "activity check", "classes 3–5 depend on the activity"),
        ((5,), "activity check", "classes 3–5 depend on the activity"),
        ((6,), "rejected", "classes 6–9 are rejected"),
        ((9,), "rejected", "classes 6–9 are rejected"),
    ])
    return "mca_decision() reproduces MCA's grid: 1–2 validated, 3–5 activity check, 6–9 rejected, 0 nothing."


ex01_2 = Question(
    "ex01_2", ["mca_decision"], _verify_mca_decision,
    "Three ranges and one special case: 0, then 1–2, 3–5 and 6–9 (section 3 of 00_challenge).",
    solution='''def mca_decision(mca_class):
    if mca_class == 0:
        return "no candidate"
    if mca_class <= 2:
        return "validated"
    if mca_class <= 5:
        return "activity check"
    return "rejected"''',
)


# ------------------------------------------------------------------------------------------------
# 02_names: the town in the name, and another similarity
# ------------------------------------------------------------------------------------------------


def _verify_strip_town(strip_town) -> str:
    _examples(strip_town, [
        (("BOULANGERIE MINSAC", "MINSAC"), "BOULANGERIE", "the town's word removed"),
        (("GARAGE DU PORT SAINT MALO", "SAINT MALO"), "GARAGE DU PORT", "every word of the town's name"),
        (("MINSACOISE DE TRANSPORT", "MINSAC"), "MINSACOISE DE TRANSPORT", "whole words only"),
        (("MINSAC", "MINSAC"), "MINSAC", "a name made only of the town stays as it was"),
        (("MAIRIE", ""), "MAIRIE", "no town: nothing removed"),
    ])
    return "strip_town() removes the commune's words from a name, whole words only, never emptying it."


ex02_1 = Question(
    "ex02_1", ["strip_town"], _verify_strip_town,
    "Split both on spaces; keep the name's words that are not among the town's; if none is left, return the "
    "name unchanged.",
    solution='''def strip_town(name, town):
    town_words = set(town.split())
    kept = [word for word in name.split() if word not in town_words]
    return " ".join(kept) if kept else name''',
)


def _verify_dice(dice) -> str:
    _examples(dice, [
        (({"AB", "BC"}, {"AB", "BC"}), 1.0, "identical sets"),
        (({"AB", "BC"}, {"BC", "CD"}), 0.5, "2 × 1 shared / (2 + 2)"),
        (({"AB"}, {"CD"}), 0.0, "nothing shared"),
        (({"AB", "BC", "CD"}, {"AB"}), 0.5, "2 × 1 / (3 + 1)"),
        ((set(), set()), 0.0, "two empty sets: 0, not a division by zero"),
    ], close=True)
    return "dice() = 2|A ∩ B| / (|A| + |B|): like Jaccard, it is 1 for equal sets and 0 for disjoint ones."


ex02_2 = Question(
    "ex02_2", ["dice"], _verify_dice,
    "Twice the size of the intersection over the sum of the two sizes; decide first what two empty sets give.",
    solution='''def dice(a, b):
    if not a and not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))''',
)


# ------------------------------------------------------------------------------------------------
# 03_places: geocoding levels, and the share within a radius
# ------------------------------------------------------------------------------------------------


def _verify_level(geocoding_level) -> str:
    _examples(geocoding_level, [
        ((True, True, True), "number", "the numbered point was found"),
        ((False, True, True), "street", "the street without its number"),
        ((False, False, True), "commune", "only the commune"),
        ((False, False, False), "none", "not even a commune"),
        ((True, False, True), "commune", "a number is nothing without its street"),
    ])
    return "geocoding_level() gives the most precise level the declaration reached."


ex03_1 = Question(
    "ex03_1", ["geocoding_level"], _verify_level,
    "Test from the most precise level down, and remember that a number only counts on a street that was found.",
    solution='''def geocoding_level(number_found, street_found, commune_found):
    if street_found and number_found:
        return "number"
    if street_found:
        return "street"
    if commune_found:
        return "commune"
    return "none"''',
)


def _verify_within(share_within) -> str:
    nan = float("nan")
    _examples(share_within, [
        (([0.0, 50.0, 150.0, 900.0], 100), 0.5, "2 of 4 within 100 m"),
        (([0.0, 100.0], 100), 1.0, "exactly at the radius counts"),
        (([10.0, nan, nan, 500.0], 100), 0.5, "unplaced bulletins (nan) are left out"),
        (([nan], 100), nan, "no placed bulletin: nan, not 0"),
    ], close=True)
    return "share_within() counts placed bulletins only, the radius included."


ex03_2 = Question(
    "ex03_2", ["share_within"], _verify_within,
    "Keep the distances that are not nan (math.isnan), then count those <= metres among them; with none left, "
    "return float('nan').",
    solution='''import math

def share_within(distances, metres):
    placed = [d for d in distances if not math.isnan(d)]
    if not placed:
        return float("nan")
    return sum(d <= metres for d in placed) / len(placed)''',
)


# ------------------------------------------------------------------------------------------------
# 04_activity_learning: NAF divisions, and the union of retrieval sources
# ------------------------------------------------------------------------------------------------


def _verify_division(naf_division) -> str:
    _examples(naf_division, [
        (("56.10A",), "56", "the two first digits of a NAF sub-class"),
        (("78.20Z",), "78", "temp agencies' division"),
        (("0111Z",), "01", "the code without its dot"),
        (("",), "", "a missing code has no division"),
        ((None,), "", "a missing code has no division"),
        (("XX.XXX",), "", "not a NAF code"),
    ])
    return "naf_division() reads the division of a NAF code, with or without its dot, '' when there is none."


ex04_1 = Question(
    "ex04_1", ["naf_division"], _verify_division,
    "A division is two digits; take the code's first two characters when they are digits, '' otherwise "
    "(and for None).",
    solution='''def naf_division(code):
    if not isinstance(code, str) or len(code) < 2 or not code[:2].isdigit():
        return ""
    return code[:2]''',
)


def _verify_union(union_recall) -> str:
    _examples(union_recall, [
        (({"names": [True, False, False, False], "places": [False, True, False, False]},), 0.5,
         "each source finds one employer, the union two of four"),
        (({"names": [True, True, False, False], "places": [True, True, False, False]},), 0.5,
         "two sources finding the same employers add nothing"),
        (({"names": [False, False]},), 0.0, "nothing found"),
        (({"a": [True], "b": [False], "c": [True]},), 1.0, "any number of sources"),
    ], close=True)
    return "union_recall() is the ceiling of the matcher: a codable bulletin no source finds cannot be coded."


ex04_2 = Question(
    "ex04_2", ["union_recall"], _verify_union,
    "Walk the bulletins by position and ask whether any source found the employer there (any(...)); the "
    "share of such bulletins is the union's recall.",
    solution='''def union_recall(found_by):
    rows = list(zip(*found_by.values()))
    return sum(any(row) for row in rows) / len(rows)''',
)


# ------------------------------------------------------------------------------------------------
# 05_submit: how noisy is a score, and the concordance with MCA
# ------------------------------------------------------------------------------------------------


def _verify_standard_error(standard_error) -> str:
    _examples(standard_error, [
        ((0.5, 100), 0.05, "sqrt(0.5 × 0.5 / 100)"),
        ((0.4, 2400), 0.01, "sqrt(0.4 × 0.6 / 2400)"),
        ((0.0, 10), 0.0, "a rate of 0 does not vary"),
        ((1.0, 10), 0.0, "nor does a rate of 1"),
    ], close=True)
    return "standard_error() = sqrt(p(1 − p) / n): four times the bulletins halve the noise."


ex05_1 = Question(
    "ex05_1", ["standard_error"], _verify_standard_error,
    "The formula is in section 4: math.sqrt of p times (1 − p) over n.",
    solution='''import math

def standard_error(p, n):
    return math.sqrt(p * (1 - p) / n)''',
)


def _verify_concordance(concordance) -> str:
    nan = float("nan")
    _examples(concordance, [
        ((["S1", "S2", None, "S4"], ["S1", "S9", "S3", None]), 0.5, "2 both coded, 1 the same"),
        ((["S1", "S2"], ["S1", "S2"]), 1.0, "the same codings"),
        (([None, "S2"], ["S1", None]), nan, "no bulletin coded by both: nan"),
    ], close=True)
    return "concordance() compares only the bulletins both coded."


ex05_2 = Question(
    "ex05_2", ["concordance"], _verify_concordance,
    "Keep the pairs where neither is None; among them, the share that are equal. With no such pair, "
    "return float('nan').",
    solution='''def concordance(ours, mca):
    both = [(a, b) for a, b in zip(ours, mca) if a is not None and b is not None]
    if not both:
        return float("nan")
    return sum(a == b for a, b in both) / len(both)''',
)


# ------------------------------------------------------------------------------------------------
# 06_scale: extrapolating a cost, and choosing the training départements
# ------------------------------------------------------------------------------------------------


def _verify_extrapolate(extrapolate) -> str:
    _examples(extrapolate, [
        ((10.0, 1_000, 100_000), 1000.0, "linear: 100 times the bulletins, 100 times the seconds"),
        ((3.0, 500, 500), 3.0, "the same size"),
        ((8.0, 4_000, 1_000), 2.0, "a smaller size too"),
    ], close=True)
    return "extrapolate() scales a measured time linearly: what 06_scale's guide line assumes."


ex06_1 = Question(
    "ex06_1", ["extrapolate"], _verify_extrapolate,
    "Seconds per bulletin, measured, times the bulletins of the target.",
    solution='''def extrapolate(seconds, size, target_size):
    return seconds / size * target_size''',
)


def _verify_training_departements(training_departements) -> str:
    sizes = {"01": 300, "02": 500, "03": 200, "04": 900}
    _examples(training_departements, [
        ((sizes, 800), ["01", "02"], "in order, until the bulletins reach the target"),
        ((sizes, 300), ["01"], "exactly the target is enough"),
        ((sizes, 10_000), ["01", "02", "03", "04"], "all of them when the target is out of reach"),
        (({}, 100), [], "no département, none chosen"),
    ])
    return "training_departements() takes the fewest départements, in order, that give enough bulletins."


ex06_2 = Question(
    "ex06_2", ["training_departements"], _verify_training_departements,
    "Walk the départements in order, adding each one's bulletins; stop as soon as the total reaches the target.",
    solution='''def training_departements(sizes, target):
    chosen, total = [], 0
    for departement, bulletins in sizes.items():
        if total >= target:
            break
        chosen.append(departement)
        total += bulletins
    return chosen''',
)

#: Each lesson's exercises, by notebook name (what tests and the lessons' exercise cells go through).
EXERCISES = {
    "00_challenge": (ex00_1, ex00_2), "01_data": (ex01_1, ex01_2), "02_names": (ex02_1, ex02_2),
    "03_places": (ex03_1, ex03_2), "04_activity_learning": (ex04_1, ex04_2), "05_submit": (ex05_1, ex05_2),
    "06_scale": (ex06_1, ex06_2),
}

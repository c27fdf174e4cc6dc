"""Checks for assignment a1_names (``solutions/a1_names``): normalising and comparing names.

``q1`` ``clean``, ``q2`` ``drop_words``, ``q3`` ``expand`` and ``normalise``, ``q4`` ``ngrams``,
``jaccard`` and ``cosine``, ``q5`` ``top_k`` and ``recall_at_k``. Each check tries small examples
written for it (the graded tests use others) and properties every right answer has.
"""
from __future__ import annotations

from datathon.checks import Literal, Question, approx, call, expect, show

__all__ = ["q1", "q2", "q3", "q4", "q5"]


# ------------------------------------------------------------------------------------------------
# q1: clean
# ------------------------------------------------------------------------------------------------

_CLEAN_EXAMPLES = [
    ("Boulangerie Martin", "BOULANGERIE MARTIN", "upper case"),
    ("Café de la Gare", "CAFE DE LA GARE", "no accents"),
    ("Garage -- du   Port !", "GARAGE DU PORT", "each run of other characters as one space, none at the ends"),
    ("Bœuf & Cie", "BOEUF CIE", "the ligature Œ as OE"),
    ("L'Atelier n°3", "L ATELIER N 3", "apostrophes and symbols as spaces, digits kept"),
    ("", "", "an empty text stays empty"),
]


def _verify_clean(clean) -> str:
    for text, wanted, why in _CLEAN_EXAMPLES:
        got = call(clean, text)
        expect(got == wanted, clean, [text], got, f"{show(wanted)} ({why})")
    for missing in (None, float("nan")):
        got = call(clean, missing, none_ok=True)
        expect(got == "", clean, [missing], got, "'' (a missing value gives an empty text)")
    return "clean() gives one spelling whatever the case, accents, punctuation or spacing, and '' for missing values."


q1 = Question(
    "q1", ["clean"], _verify_clean,
    "Unicode can write 'É' as 'E' followed by a combining accent (look at unicodedata.normalize and "
    "unicodedata.combining); once the accents are gone and the text upper-cased, one regular expression can "
    "turn every run of characters that are not A-Z or 0-9 into a space. Deal with missing values first.",
)


# ------------------------------------------------------------------------------------------------
# q2: drop_words
# ------------------------------------------------------------------------------------------------

_DROP_EXAMPLES = [
    ("BOULANGERIE MARTIN SARL", "BOULANGERIE MARTIN", "the legal form SARL removed"),
    ("EURL LE FOURNIL DES SAVEURS", "FOURNIL SAVEURS", "legal form and stop words removed, order kept"),
    ("S A R L MARTIN ET FILS", "MARTIN FILS", "a dotted legal form (S.A.R.L. became 'S A R L') removed"),
    ("TRANSPORTS SASSEVILLE", "TRANSPORTS SASSEVILLE", "whole words only: SASSEVILLE is not SAS + EVILLE"),
    ("LA POSTE", "POSTE", "the stop word LA removed"),
    ("SA", "SA", "a name made only of dropped words stays as it was"),
    ("LE DE LA", "LE DE LA", "a name made only of dropped words stays as it was"),
]


def _verify_drop_words(drop_words) -> str:
    for name, wanted, why in _DROP_EXAMPLES:
        got = call(drop_words, name)
        expect(got == wanted, drop_words, [name], got, f"{show(wanted)} ({why})")
    return ("drop_words() removes legal forms (also dotted ones) and stop words, whole words only, "
            "and never empties a name.")


q2 = Question(
    "q2", ["drop_words"], _verify_drop_words,
    "Compare whole words, not substrings, or 'SAS' would cut 'SASSEVILLE'. A dotted form is several "
    "one-letter words in a row: it is easiest to remove while the name is still one string, taking care "
    "that ' S A ' does not eat half of ' S A R L '. Remember the original name in case nothing is left.",
)


# ------------------------------------------------------------------------------------------------
# q3: expand and normalise
# ------------------------------------------------------------------------------------------------

_EXPAND_EXAMPLES = [
    ("ETS MARTIN", "ETABLISSEMENTS MARTIN", "ETS expanded"),
    ("STE PAYET", "SOCIETE PAYET", "STE as the first word means SOCIETE"),
    ("PHARMACIE STE ANNE", "PHARMACIE SAINTE ANNE", "STE elsewhere means SAINTE"),
    ("GARAGE ST MARC", "GARAGE SAINT MARC", "ST expanded"),
    ("STEPHANIE CIEL", "STEPHANIE CIEL", "whole words only: STEPHANIE and CIEL are not abbreviations"),
]
_NORMALISE_EXAMPLES = [
    ("Ets. Dupont & Cie, S.A.S.", "ETABLISSEMENTS DUPONT COMPAGNIE", "clean, expand, then drop words"),
    ("Sté de la Gare", "SOCIETE GARE", "Sté → STE → SOCIETE, then LA and DE dropped"),
    ("La Poste", "POSTE", "a stop word dropped"),
]


def _verify_expand_normalise(expand, normalise) -> str:
    for name, wanted, why in _EXPAND_EXAMPLES:
        got = call(expand, name)
        expect(got == wanted, expand, [name], got, f"{show(wanted)} ({why})")
    for text, wanted, why in _NORMALISE_EXAMPLES:
        got = call(normalise, text)
        expect(got == wanted, normalise, [text], got, f"{show(wanted)} ({why})")
    got = call(normalise, None, none_ok=True)
    expect(got == "", normalise, [None], got, "'' (a missing name gives an empty text)")
    return "expand() and normalise() bring abbreviations, legal forms and stop words to one spelling."


q3 = Question(
    "q3", ["expand", "normalise"], _verify_expand_normalise,
    "expand() works word by word: a word found in ABBREVIATIONS is replaced, any other is kept, and the first "
    "word looks in ABBREVIATIONS_AT_START before. normalise() needs no new code: think about the order of "
    "your three functions (which one must run before 'STE' can be recognised as a word?).",
)


# ------------------------------------------------------------------------------------------------
# q4: ngrams, jaccard, cosine
# ------------------------------------------------------------------------------------------------

_NGRAM_EXAMPLES = [
    (("RUE",), [" RU", "RUE", "UE "], "each word padded with one space at each end, then every 3 characters"),
    (("AB CD",), [" AB", "AB ", " CD", "CD "], "words cut separately: no n-gram spans two words"),
    (("A",), [" A "], "a padded word shorter than n is one n-gram"),
    (("ANNA",), [" AN", "ANN", "NNA", "NA "], "in order"),
    (("AAAA",), [" AA", "AAA", "AAA", "AA "], "repeated n-grams kept (cosine counts them)"),
    (("",), [], "an empty name has no n-grams"),
    (("ABC", 2), [" A", "AB", "BC", "C "], "n=2"),
]


def _verify_similarities(ngrams, jaccard, cosine) -> str:
    for args, wanted, why in _NGRAM_EXAMPLES:
        got = call(ngrams, *args)
        expect(isinstance(got, (list, tuple)) and list(got) == wanted, ngrams, args, got, f"{show(wanted)} ({why})")
    for a, b, wanted, why in [
        (["AB", "BC"], ["BC", "CD"], 1 / 3, "1 shared n-gram out of 3 distinct ones"),
        (["AB", "BC"], ["AB", "BC"], 1.0, "identical n-grams"),
        (["AB", "AB", "BC"], ["AB", "BC"], 1.0, "sets: repeats do not count"),
        (["AB"], ["CD"], 0.0, "nothing shared"),
        ([], [], 0.0, "0.0, not a division by zero, for two empty names"),
    ]:
        got = call(jaccard, a, b)
        expect(approx(got, wanted), jaccard, [a, b], got, f"{wanted:.4g} ({why})")
        swapped = call(jaccard, b, a)
        expect(approx(swapped, wanted), jaccard, [b, a], swapped, f"{wanted:.4g} (the same both ways)")
    for a, b, wanted, why in [
        (["AB", "AB", "BC"], ["AB", "BC", "BC"], 0.8, "count vectors (2, 1) and (1, 2): 4 / (√5 · √5)"),
        (["AB", "BC"], ["BC", "CD"], 0.5, "count vectors (1, 1, 0) and (0, 1, 1): 1 / (√2 · √2)"),
        (["AB", "AB"], ["AB"], 1.0, "same direction: repeating every n-gram does not change the cosine"),
        (["AB"], [], 0.0, "0.0 when a name is empty"),
    ]:
        got = call(cosine, a, b)
        expect(approx(got, wanted), cosine, [a, b], got, f"{wanted:.4g} ({why})")
    name = "BOULANGERIE MARTIN"
    typo = "BOULANGRIE MARTIN"
    grams, typo_grams = call(ngrams, name), call(ngrams, typo)
    for similarity in (jaccard, cosine):
        same = call(similarity, grams, grams)
        close = call(similarity, grams, typo_grams)
        expect(approx(same, 1.0), similarity, [Literal("ngrams('BOULANGERIE MARTIN')")] * 2, same,
               "1.0 for a name with itself")
        expect(isinstance(close, (int, float)) and 0.5 < close < 1.0, similarity,
               [Literal("ngrams('BOULANGERIE MARTIN')"), Literal("ngrams('BOULANGRIE MARTIN')")], close,
               "a value between 0.5 and 1: one typo changes only a few n-grams")
    return "ngrams(), jaccard() and cosine() agree with every worked example; a typo costs little."


q4 = Question(
    "q4", ["ngrams", "jaccard", "cosine"], _verify_similarities,
    "ngrams(): slicing a padded word with a sliding window of width n gives its n-grams; mind the words "
    "shorter than the window. jaccard() compares sets (Python's set operators do the work), cosine() "
    "compares counts (collections.Counter): a dot product over the shared n-grams, divided by two norms.",
)


# ------------------------------------------------------------------------------------------------
# q5: top_k, recall_at_k
# ------------------------------------------------------------------------------------------------


def _shared_letters(a, b) -> float:
    """A toy similarity for the check: the share of the declared letters found in the candidate."""
    letters = set(a)
    return len(letters.intersection(b)) / len(letters) if letters else 0.0


# (row, n-grams of one of its names): row 4 has three names, two of which hold every declared
# letter; row 9 shares nothing. With _shared_letters, rows score 4: 1.0, 7: 0.75, 2 and 5: 0.5, 9: 0.
_CANDIDATES = [
    (7, ["M", "A", "R"]),
    (4, ["M", "U"]),
    (4, ["M", "A", "R", "T"]),
    (2, ["M", "A"]),
    (9, ["X", "Y"]),
    (5, ["M", "A"]),
    (4, ["M", "A", "R", "T", "X"]),
]
_DECLARED = ["M", "A", "R", "T"]


def _verify_ranking(top_k, recall_at_k) -> str:
    kwargs = {"similarity": _shared_letters}
    got = call(top_k, _DECLARED, _CANDIDATES, 3, **kwargs)
    shown = [_DECLARED, Literal("candidates"), 3]
    toy = {"similarity": Literal("share_of_letters")}
    expect(isinstance(got, (list, tuple)), top_k, shown, got, "a list of register rows", toy)
    got = list(got)
    expect(len(got) == len(set(got)), top_k, shown, got, "each row at most once (a row's similarity is the best "
           "over its names)", toy)
    expect(len(got) <= 3, top_k, shown, got, "at most k = 3 rows", toy)
    expect(got[:1] == [4], top_k, shown, got, "row 4 first: two of its names hold every declared letter", toy)
    expect(got == [4, 7, 2], top_k, shown, got, "[4, 7, 2]: 4 (1.0), 7 (0.75), then 2 before 5 — equal "
           "similarity (0.5), smaller row first", toy)
    got = call(top_k, _DECLARED, _CANDIDATES, 10, **kwargs)
    expect(isinstance(got, (list, tuple)) and len(got) == len(set(got)), top_k, [_DECLARED, Literal("candidates"), 10],
           got, "each row at most once", toy)
    expect(9 not in list(got), top_k, [_DECLARED, Literal("candidates"), 10], got,
           "no row 9: a candidate with similarity 0 shares nothing and is left out", toy)
    got = call(top_k, [], _CANDIDATES, 3, none_ok=True, **kwargs)
    expect(isinstance(got, (list, tuple)) and list(got) == [], top_k, [[], Literal("candidates"), 3], got,
           "[] for an empty declared name", toy)

    ranked = [[3, 1], [2], [], [5, 4], [8]]
    true_rows = [1, 7, 6, 4, -1]
    for k, wanted, why in [(1, 0.0, "no true row is first"),
                           (2, 0.5, "rows 1 and 4 in the top 2 of 4 codable bulletins"),
                           (5, 0.5, "k beyond the list: still 2 of 4")]:
        got = call(recall_at_k, ranked, true_rows, k)
        expect(approx(got, wanted), recall_at_k, [ranked, true_rows, k], got,
               f"{wanted} ({why}; the bulletin with true row -1 is not codable and does not count)")
    got = call(recall_at_k, [[1]], [-1], 1)
    expect(approx(got, 0.0), recall_at_k, [[[1]], [-1], 1], got,
           "0.0 when no bulletin is codable (no division by zero)")
    return ("top_k() ranks by best similarity with ties to the smaller row, and recall_at_k() counts "
            "codable bulletins only.")


q5 = Question(
    "q5", ["top_k", "recall_at_k"], _verify_ranking,
    "top_k(): a row can appear several times (one line per name), so first keep each row's best similarity, "
    "e.g. in a dict; sorted() with a key that is a tuple orders by several things at once (a minus sign "
    "reverses a number). recall_at_k(): the denominator is the codable bulletins only.",
)

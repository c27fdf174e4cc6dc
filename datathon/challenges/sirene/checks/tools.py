"""Exercises of the pandas and scikit-learn refresher (``course/sirene/00b_tools.ipynb``).

``ex00b_1`` ``top_divisions`` (string slicing and ``value_counts``), ``ex00b_2`` ``name_mentions``
(``str.contains`` and missing values), ``ex00b_3`` ``employer_activity`` (``merge``). The lesson
imports them::

    from datathon.checks import bind
    from datathon.challenges.sirene.checks.tools import ex00b_1, ex00b_2, ex00b_3
    bind(globals())

Like the course's exercises (:mod:`datathon.challenges.sirene.checks.course`) these are practice:
``solution()`` prints one, kept here and never in the notebook. Each check runs the student's
function on small frames typed like ``datathon.data.load``'s (text as pandas ``string``, missing
values as ``<NA>``), so it needs no data and answers in milliseconds.
"""
from __future__ import annotations

import pandas as pd

from datathon.checks import Incorrect, Literal, NotAttempted, Question, approx, call, expect, show

__all__ = ["ex00b_1", "ex00b_2", "ex00b_3", "EXERCISES"]


def _text(values) -> pd.Series:
    """A text column as ``load`` gives it: pandas ``string``, missing values ``<NA>``."""
    return pd.Series(values, dtype="string")


def _as_list(values) -> list | None:
    """``values`` (a Series, list or tuple) as a plain list, missing values as None; None if it is none of those."""
    if isinstance(values, pd.Series):
        return [None if pd.isna(v) else v for v in values.tolist()]
    if isinstance(values, (list, tuple)):
        return list(values)
    return None


def _call(function, shown: list, *args):
    """:func:`call`, with ``shown`` in its messages for the arguments: a frame's repr would fill the line."""
    try:
        return call(function, *(a.copy() if isinstance(a, pd.DataFrame) else a for a in args))  # a student may alter them
    except (NotAttempted, Incorrect) as err:
        text = str(err)
        for verb in (" returned ", " raised "):
            if text.startswith(f"{function.__name__}(") and verb in text:
                text = f"{function.__name__}({', '.join(map(show, shown))}){verb}{text.split(verb, 1)[1]}"
                break
        raise type(err)(text) from None


# ------------------------------------------------------------------------------------------------
# ex00b_1: the most frequent NAF divisions of a register
# ------------------------------------------------------------------------------------------------

_REGISTER = pd.DataFrame({
    "siret": _text(["1", "2", "3", "4", "5", "6", "7"]),
    "activitePrincipaleEtablissement": _text(["56.10A", "85.20Z", "56.30Z", "47.11B", "85.20Z", "56.10C", "47.24Z"]),
})


def _verify_top_divisions(top_divisions) -> str:
    register = Literal("register")
    for n, wanted, why in [
        (1, ["56"], "division 56 (restaurants, bars) holds three establishments: 56.10A, 56.30Z and 56.10C"),
        (3, ["56", "47", "85"], "56 (three), then 47 and 85 (two each), ties by code"),
        (10, ["56", "47", "85"], "only the divisions there are, when n is larger"),
    ]:
        got = _call(top_divisions, [register, n], _REGISTER, n)
        expect(_as_list(got) == wanted, top_divisions, [register, n], got, f"{show(wanted)} ({why})")
    return "top_divisions() cuts each code to its division, counts, and breaks ties by code."


ex00b_1 = Question(
    "ex00b_1", ["top_divisions"], _verify_top_divisions,
    "A NAF code's division is its first two characters: .str[:2] on the activity column. value_counts() counts "
    "them; to break ties by code, sort by count (descending) then by code, e.g. with sort_values on a frame, "
    "or sorted() with a key. Return a list of codes.",
    solution='''def top_divisions(register, n):
    divisions = register["activitePrincipaleEtablissement"].str[:2]
    counts = divisions.value_counts().rename_axis("division").reset_index(name="count")
    counts = counts.sort_values(["count", "division"], ascending=[False, True])
    return counts["division"].head(n).tolist()''',
)


# ------------------------------------------------------------------------------------------------
# ex00b_2: the share of declared names that mention a word
# ------------------------------------------------------------------------------------------------

_NAMES = pd.DataFrame({"RS_X": _text(["Mairie de Bournagan", "MAIRIE", "boulangerie martin", pd.NA,
                                      "LYCEE", "Ecole publique"])})


def _verify_name_mentions(name_mentions) -> str:
    bulletins = Literal("bulletins")
    for word, wanted, why in [
        ("MAIRIE", 2 / 6, "2 of 6 bulletins, whatever the case they were typed in"),
        ("mairie", 2 / 6, "the word's case does not matter either"),
        ("BOULANGERIE", 1 / 6, "a missing name (<NA>) does not mention the word, and counts in the total"),
        ("GARAGE", 0.0, "no bulletin mentions it"),
    ]:
        got = _call(name_mentions, [bulletins, word], _NAMES, word)
        expect(approx(got, wanted), name_mentions, [bulletins, word], got, f"{wanted:.4g} ({why})")
    dotted = [Literal("['S.A.R.L. MARTIN', 'SARL MARTIN']"), "S.A."]
    got = _call(name_mentions, dotted, pd.DataFrame({"RS_X": _text(["S.A.R.L. MARTIN", "SARL MARTIN"])}), "S.A.")
    expect(approx(got, 0.5), name_mentions, dotted, got,
           "0.5 (the word is plain text, not a regular expression: '.' is a dot, not any character)")
    return "name_mentions() ignores case, counts a missing name as not mentioning the word, and reads it literally."


ex00b_2 = Question(
    "ex00b_2", ["name_mentions"], _verify_name_mentions,
    "Series.str.contains has parameters for each trap: case (ignore upper/lower case), na (what a missing value "
    "gives) and regex (whether the word is a pattern). The mean of a boolean Series is the share of True.",
    solution='''def name_mentions(bulletins, word):
    found = bulletins["RS_X"].str.contains(word, case=False, regex=False, na=False)
    return float(found.astype(bool).mean())''',
)


# ------------------------------------------------------------------------------------------------
# ex00b_3: each bulletin's employer activity, through a merge on the SIRET
# ------------------------------------------------------------------------------------------------

_BULLETINS = pd.DataFrame({
    "CABBI": _text(["b1", "b2", "b3", "b4"]),
    "SIRET_DEC": _text(["30000000000002", pd.NA, "10000000000001", "30000000000002"]),
})
_EMPLOYERS = pd.DataFrame({
    "siret": _text(["10000000000001", "20000000000003", "30000000000002"]),
    "activitePrincipaleEtablissement": _text(["85.20Z", "47.11B", "56.10A"]),
})


def _verify_employer_activity(employer_activity) -> str:
    shown = [Literal("bulletins"), Literal("register")]
    wanted = ["56.10A", None, "85.20Z", "56.10A"]
    got = _call(employer_activity, shown, _BULLETINS, _EMPLOYERS)
    listed = _as_list(got)
    expect(listed is not None and len(listed) == len(_BULLETINS), employer_activity, shown, got,
           "one value per bulletin (a left merge keeps every bulletin, once)")
    expect(listed == wanted, employer_activity, shown, got,
           f"{show(wanted)} (each bulletin's employer's activity, in the bulletins' order; missing when the "
           "bulletin has no SIRET_DEC)")
    if isinstance(got, pd.Series):
        expect(got.index.equals(_BULLETINS.index), employer_activity, shown, got.index.tolist(),
               "the bulletins' index, so that the result can be assigned as a column of bulletins")
    return "employer_activity() merges on the SIRET from the bulletins' side and keeps every bulletin, in order."


ex00b_3 = Question(
    "ex00b_3", ["employer_activity"], _verify_employer_activity,
    "bulletins.merge(register, left_on=..., right_on=..., how=...): which side's rows must all stay? Select only "
    "the register columns you need before merging. A merge numbers its rows anew: give the result the bulletins' "
    "index back (set_axis, or .to_numpy() into a Series).",
    solution='''def employer_activity(bulletins, register):
    merged = bulletins[["SIRET_DEC"]].merge(register[["siret", "activitePrincipaleEtablissement"]],
                                            left_on="SIRET_DEC", right_on="siret", how="left")
    return merged["activitePrincipaleEtablissement"].set_axis(bulletins.index)''',
)

#: The lesson's exercises, by notebook name (as :data:`datathon.challenges.sirene.checks.course.EXERCISES`).
EXERCISES = {"00b_tools": (ex00b_1, ex00b_2, ex00b_3)}

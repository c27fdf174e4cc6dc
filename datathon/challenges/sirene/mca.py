"""A replica of MCA (*Mise en Concordance Automatique*), the incumbent deterministic coder.

MCA searches the register by name and address, scores the best candidates, and validates or
rejects each bulletin's best candidate by a class that combines the two scores:

* **Candidates**: the establishments of the declared workplace commune (``CLT_X``, or the home
  commune ``DEPCOM_CODE`` when ``ILT_X = 1`` and no commune is written), plus those of the
  département whose normalised name equals the declared one exactly. Like the real MCA, it
  searches the register as extracted, recently closed establishments included.
* **Name score** (``NOTE_MCA_NOM_C``, 0–1000): the best similarity between the normalised
  declared name and each name of the candidate (legal name, sign, usual name, acronym, a sole
  proprietor's surname and first name), words sorted: ≥ 800 good, 200–799 fair, < 200 bad.
* **Address score** (``NOTE_MCA_ADR_C``): 10 same street and number, 11 same street; 20 similar
  street, 21 no street declared; 31 same commune but another street, 32 another commune with the
  same postal code, 33 another commune of the département, 34 no usable commune declared.
  10–11 good, 20–22 fair, 31–35 bad.
* **Class** (``I_MCA_C``, 1–9), by (name, address): good/good 1, good/fair 2, fair/good 3,
  good/bad 4, fair/fair 5, bad/good 6, fair/bad 7, bad/fair 8, bad/bad 9.
* **Decision** (``SIRETC``): classes 1–2 are validated; 3–5 only when the declared activity
  (``ACTET_X``) shares a significant word with the candidate's NAF labels; 6–9 are rejected, as
  are exact ties between different establishments.
"""
from __future__ import annotations

from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from datathon.challenges.sirene.naf import nomenclature
from datathon.schema import as_objects, departement_of
from datathon.text import commune_key, simplify, without_words

LEGAL_FORM_WORDS = {"SARL", "SAS", "SA", "EURL", "SASU", "SNC", "SCI", "SCOP", "STE", "SOCIETE", "ETS",
                    "ETABLISSEMENTS", "CIE", "ET", "DE", "DU", "DES", "LA", "LE", "LES", "L", "D"}
NAME_FIELDS = ["denominationUniteLegale", "enseigne1Etablissement", "denominationUsuelleEtablissement",
               "sigleUniteLegale"]
CHUNK_CELLS = 4_000_000  # cells of a (declared name × name or establishment) score matrix (16 MB of int32)
OUTPUT_COLUMNS = ["CABBI", "SIRETC", "I_MCA_C", "NOTE_MCA_NOM_C", "NOTE_MCA_ADR_C"]
CLASS_TABLE = np.array([[1, 2, 4], [3, 5, 7], [6, 8, 9]], dtype=np.int8)  # [name level][address level]


def mca_name(text) -> str:
    """MCA's normalised name: simplified, legal forms and small words dropped, words sorted."""
    return _mca_name(simplify(text))


@lru_cache(maxsize=1 << 18)
def _mca_name(simple: str) -> str:
    # Names repeat a lot across a register (chains, trades, surnames): cache their normal form.
    return " ".join(sorted(w for w in simple.split() if w not in LEGAL_FORM_WORDS))


def name_level(score: np.ndarray) -> np.ndarray:
    """0 good (≥ 800), 1 fair (200–799), 2 bad (< 200)."""
    return np.where(score >= 800, 0, np.where(score >= 200, 1, 2))


def address_level(score: np.ndarray) -> np.ndarray:
    """0 good (10–11), 1 fair (20–22), 2 bad (31–35)."""
    return np.where(score <= 11, 0, np.where(score <= 22, 1, 2))


class ActivityCheck:
    """Does a declared activity agree with a NAF code? A shared significant word stem says yes."""

    STEM = 6
    MAX_CODES_PER_STEM = 40  # stems shared by more sous-classes than this are too vague to count

    def __init__(self):
        nom = nomenclature()
        stems_by_code: dict[str, set[str]] = {}
        for r in nom.itertuples(index=False):
            text = " ".join([r.libelle, r.libelle_classe, r.libelle_groupe, r.libelle_division])
            stems_by_code[r.code] = self.stems(text)
        counts: dict[str, int] = {}
        for stems in stems_by_code.values():
            for s in stems:
                counts[s] = counts.get(s, 0) + 1
        self.stems_by_code = {c: {s for s in st if counts[s] <= self.MAX_CODES_PER_STEM}
                              for c, st in stems_by_code.items()}

    @classmethod
    def stems(cls, text) -> set[str]:
        return {w[: cls.STEM] for w in simplify(text).split() if len(w) >= 4}

    def agrees(self, activity, naf: str) -> bool:
        return bool(self.stems(activity) & self.stems_by_code.get(naf, set()))


def each_distinct(func, values) -> np.ndarray:
    """``[func(v) for v in values]`` as an object array, calling ``func`` once per distinct value.

    Missing values (None, NaN, pandas' NA) all get ``func(None)``. Registers and bulletins repeat
    their names and streets a lot: normalising each text once saves most of the work.
    """
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    # One slot more, for the missing values: their code is -1, the last slot.
    results = np.empty(len(uniques) + 1, dtype=object)
    results[:-1] = [func(u) for u in uniques]
    if (codes < 0).any():
        results[-1] = func(None)
    return results[codes]


def _register_names(reg: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Every (establishment row, normalised name) pair of the register, blanks dropped."""
    rows, names = [], []
    for col in NAME_FIELDS:
        values = reg[col].to_numpy(dtype=object)
        present = np.flatnonzero([isinstance(v, str) and v != "" for v in values])
        rows.append(present)
        names.append(each_distinct(mca_name, values[present]))
    if "nomUniteLegale" in reg:
        noms = reg["nomUniteLegale"].to_numpy(dtype=object)
        prenoms = reg["prenom1UniteLegale"].to_numpy(dtype=object)
        present = np.flatnonzero([isinstance(v, str) and v != "" for v in noms])
        full = [f"{nom} {prenom if isinstance(prenom, str) else ''}"
                for nom, prenom in zip(noms[present], prenoms[present])]
        rows.append(present)
        names.append(each_distinct(mca_name, full))
    rows_a = np.concatenate(rows).astype(np.int64)
    names_a = np.concatenate(names)
    keep = names_a != ""
    return rows_a[keep], names_a[keep]


def resolve_communes(bulletins: pd.DataFrame, communes: pd.DataFrame) -> np.ndarray:
    """The declared workplace commune's code for each bulletin, or None when it cannot be read."""
    keys = communes["nom_commune"].map(commune_key)
    by_dep_key = {(d, k): c for d, k, c in zip(communes["code_departement"], keys, communes["code_commune"])}
    by_key: dict[str, str | None] = {}
    for k, c in zip(keys, communes["code_commune"]):
        by_key[k] = None if k in by_key else c  # ambiguous across départements without DLT_X
    out = np.empty(len(bulletins), dtype=object)
    clt = bulletins["CLT_X"].to_numpy(dtype=object)
    dlt = bulletins["DLT_X"].to_numpy(dtype=object)
    ilt = bulletins["ILT_X"].to_numpy(dtype=object)
    home = bulletins["DEPCOM_CODE"].to_numpy(dtype=object)
    for i in range(len(bulletins)):
        key = commune_key(clt[i]) if isinstance(clt[i], str) else ""
        if key:
            d = dlt[i] if isinstance(dlt[i], str) and dlt[i] else None
            out[i] = by_dep_key.get((d, key)) if d else by_key.get(key)
            if out[i] is None and not d and isinstance(home[i], str):
                out[i] = by_dep_key.get((departement_of(home[i]), key))
        elif isinstance(ilt[i], str) and ilt[i] == "1" and isinstance(home[i], str):  # ILT_X may be <NA>
            out[i] = home[i]
        else:
            out[i] = None
    return out


def group_positions(keys: np.ndarray) -> dict:
    """Positions of each distinct key (None and missing keys left out)."""
    codes, uniques = pd.factorize(pd.Series(keys, dtype=object), use_na_sentinel=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    return {uniques[k]: order[bounds[k]:bounds[k + 1]] for k in range(len(uniques))}


def name_candidates(queries: list[str], choices: list[str], choice_rows: np.ndarray,
                    workers: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MCA's name search among one commune's establishments: ``(query, row, name score)`` triples.

    ``choices[j]`` is a name of the establishment ``choice_rows[j]``; an establishment scores the
    best of its names (``fuzz.ratio`` × 10, 0–1000). Each query keeps its 5 best establishments;
    where the 5th best is a fair name or better (≥ 200), every establishment tied with it too, so
    that identical names are all scored on their address (ties below that are never validated);
    scoring the addresses of all pairs would be wasted work. Returns, for every kept pair, the
    query's position in ``queries``, the establishment's row and the name score.
    """
    establishments, name_owner = np.unique(np.asarray(choice_rows, dtype=np.int64), return_inverse=True)
    # Names and declared names repeat a lot (chains, trades, homonyms, "MAIRIE"): score each
    # distinct text once. A row of scores depends only on the query's text, so queries sharing a
    # text share their candidates.
    query_code, query_texts = pd.factorize(np.array(queries, dtype=object))
    choice_code, choice_texts = pd.factorize(np.array(choices, dtype=object))
    n_texts, n_est = len(choice_texts), len(establishments)
    # Each establishment's distinct names, as columns of the text score matrix: the first for
    # all, then the second, third... for those that have that many.
    pairs = np.unique(name_owner.astype(np.int64) * n_texts + choice_code)
    pair_est, pair_text = np.divmod(pairs, n_texts)
    first = np.searchsorted(pair_est, np.arange(n_est))
    n_names = np.diff(np.append(first, len(pairs)))
    more_names = []
    for s in range(1, int(n_names.max())):
        has = np.flatnonzero(n_names > s)
        more_names.append((has, pair_text[first[has] + s]))

    k = min(5, n_est)
    found_q, found_e, found_s = [], [], []
    # Chunks of queries bound the score matrices' memory, however large the town.
    chunk = max(1, CHUNK_CELLS // max(n_texts, n_est))
    for lo in range(0, len(query_texts), chunk):
        text_scores = process.cdist(query_texts[lo:lo + chunk], choice_texts, scorer=fuzz.ratio,
                                    dtype=np.int32, workers=workers)
        scores = text_scores[:, pair_text[first]]  # queries × establishments, in row order
        for has, column in more_names:
            scores[:, has] = np.maximum(scores[:, has], text_scores[:, column])
        del text_scores
        scores *= 10
        kth = np.partition(scores, n_est - k, axis=1)[:, n_est - k]  # the 5th best score
        wide = kth >= 200
        rows, cols = np.nonzero(scores >= np.where(wide, kth, np.iinfo(np.int32).max)[:, None])
        # Below a fair 5th best, exactly 5: whichever of the tied ones argpartition picks.
        narrow = np.flatnonzero(~wide)
        top = np.argpartition(-scores[narrow], k - 1, axis=1)[:, :k]
        rows = np.concatenate([rows, np.repeat(narrow, k)])
        cols = np.concatenate([cols, top.ravel()])
        found_q.append(lo + rows)
        found_e.append(cols)
        found_s.append(scores[rows, cols])
    cand_q, cand_e, cand_s = (np.concatenate(parts) for parts in (found_q, found_e, found_s))
    # Hand each distinct text's candidates to every query written that way.
    order = np.argsort(cand_q, kind="stable")
    cand_e, cand_s = cand_e[order], cand_s[order]
    per_text = np.bincount(cand_q, minlength=len(query_texts))
    text_start = np.cumsum(per_text) - per_text
    per_query = per_text[query_code]
    query = np.repeat(np.arange(len(queries)), per_query)
    query_start = np.cumsum(per_query) - per_query
    src = np.repeat(text_start[query_code] - query_start, per_query) + np.arange(len(query))
    return query, establishments[cand_e[src]], cand_s[src]


def run_mca(bulletins: pd.DataFrame, register: pd.DataFrame, communes: pd.DataFrame,
            workers: int = 1) -> pd.DataFrame:
    """MCA's output for ``bulletins``: ``CABBI, SIRETC, I_MCA_C, NOTE_MCA_NOM_C, NOTE_MCA_ADR_C``."""
    reg = register.reset_index(drop=True)
    n = len(bulletins)
    candidates: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def offer(b_idx, e_rows, name_scores, addr_scores):
        candidates.append((np.asarray(b_idx, dtype=np.int64), np.asarray(e_rows, dtype=np.int64),
                           np.asarray(name_scores, dtype=np.int16), np.asarray(addr_scores, dtype=np.int16)))

    reg_siret = reg["siret"].to_numpy(dtype=object)
    reg_commune = reg["codeCommuneEtablissement"].to_numpy(dtype=object)
    reg_postal = reg["codePostalEtablissement"].to_numpy(dtype=object)
    reg_street = each_distinct(simplify, reg["libelleVoieEtablissement"].to_numpy(dtype=object))
    reg_number = as_objects(reg["numeroVoieEtablissement"])
    name_rows, name_texts = _register_names(reg)

    b_names = each_distinct(mca_name, bulletins["RS_X"].to_numpy(dtype=object))
    b_street = each_distinct(simplify, bulletins["NOMVOI_X"].to_numpy(dtype=object))
    b_number = as_objects(bulletins["NUMVOI_X"])
    b_commune = resolve_communes(bulletins, communes)
    postal_of = dict(zip(communes["code_commune"], communes["code_postal"]))
    commune_words = {c: frozenset(commune_key(n).split()) for c, n in zip(communes["code_commune"], communes["nom_commune"])}

    # (a) Candidates in the declared commune: every name of every open establishment there.
    names_by_commune = group_positions(reg_commune[name_rows])
    for commune, b_all in group_positions(b_commune).items():
        if commune not in names_by_commune:
            continue
        b_all = b_all[b_names[b_all] != ""]
        if len(b_all) == 0:
            continue
        n_idx = names_by_commune[commune]
        # Inside a commune, its own name identifies nothing: "MAIRIE DE X" is "MAIRIE" there.
        town = commune_words.get(commune, frozenset())
        without_town = partial(without_words, words=town)
        queries = each_distinct(without_town, b_names[b_all])
        choices = each_distinct(without_town, name_texts[n_idx])
        q, ee, ns = name_candidates(queries, choices, name_rows[n_idx], workers=workers)
        bb = b_all[q]
        ad = _same_commune_address_scores(b_street[bb], b_number[bb], reg_street[ee], reg_number[ee])
        offer(bb, ee, ns, ad)

    # (b) Exact name anywhere in the département(s) present.
    exact: dict[str, list[int]] = {}
    for r, t in zip(name_rows, name_texts):
        exact.setdefault(t, []).append(int(r))
    bb, ee = [], []
    for i in range(n):
        rows = exact.get(b_names[i]) if b_names[i] else None
        if rows:
            for r in rows[:50]:
                if reg_commune[r] != b_commune[i]:
                    bb.append(i)
                    ee.append(r)
    if bb:
        bb_a = np.array(bb, dtype=np.int64)
        ee_a = np.array(ee, dtype=np.int64)
        declared = b_commune[bb_a]
        unknown = np.array([c is None for c in declared])
        same_postal = np.array([postal_of.get(c) for c in declared], dtype=object) == reg_postal[ee_a]
        ad = np.where(unknown, 34, np.where(same_postal, 32, 33))
        offer(bb_a, ee_a, np.full(len(bb_a), 1000, dtype=np.int16), ad.astype(np.int16))

    best_class, best_name, best_addr, best_row, tied = _best_candidates(n, candidates, reg_siret)
    found = best_row >= 0
    check = ActivityCheck()
    activity = bulletins["ACTET_X"].to_numpy(dtype=object)
    reg_naf = reg["activitePrincipaleEtablissement"].to_numpy(dtype=object)
    validated = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(found & ~tied):
        c = best_class[i]
        if c <= 2:
            validated[i] = True
        elif c <= 5:
            validated[i] = check.agrees(activity[i], reg_naf[best_row[i]])
    siretc = np.where(validated, reg_siret[np.maximum(best_row, 0)], None)
    return pd.DataFrame(
        {
            "CABBI": bulletins["CABBI"].to_numpy(),
            "SIRETC": pd.array(siretc, dtype="string"),
            "I_MCA_C": pd.array([int(c) if f else None for c, f in zip(best_class, found)], dtype="Int8"),
            "NOTE_MCA_NOM_C": pd.array([int(s) if f else None for s, f in zip(best_name, found)], dtype="Int16"),
            "NOTE_MCA_ADR_C": pd.array([int(s) if f else None for s, f in zip(best_addr, found)], dtype="Int8"),
        }
    )


def _best_candidates(n: int, candidates, sirets: np.ndarray):
    """Per bulletin, the best candidate (class, then name score, then address score) and whether
    another establishment ties with it exactly."""
    best_class = np.full(n, 0, dtype=np.int16)
    best_name = np.full(n, 0, dtype=np.int16)
    best_addr = np.full(n, 0, dtype=np.int16)
    best_row = np.full(n, -1, dtype=np.int64)
    tied = np.zeros(n, dtype=bool)
    if not candidates:
        return best_class, best_name, best_addr, best_row, tied
    bb, ee, ns, ad = (np.concatenate(parts) for parts in zip(*candidates))
    cls = CLASS_TABLE[name_level(ns), address_level(ad)].astype(np.int16)
    # One row per (bulletin, establishment), its best: an establishment found by several of its
    # names must not hide a tie with another establishment.
    order = np.lexsort((ad, -ns.astype(np.int32), cls, ee, bb))
    bb, ee, ns, ad, cls = bb[order], ee[order], ns[order], ad[order], cls[order]
    keep = np.ones(len(bb), dtype=bool)
    keep[1:] = (bb[1:] != bb[:-1]) | (ee[1:] != ee[:-1])
    bb, ee, ns, ad, cls = bb[keep], ee[keep], ns[keep], ad[keep], cls[keep]
    order = np.lexsort((ee, ad, -ns.astype(np.int32), cls, bb))
    bb, ee, ns, ad, cls = bb[order], ee[order], ns[order], ad[order], cls[order]
    first = np.ones(len(bb), dtype=bool)
    first[1:] = bb[1:] != bb[:-1]
    idx = np.flatnonzero(first)
    b = bb[idx]
    best_class[b], best_name[b], best_addr[b], best_row[b] = cls[idx], ns[idx], ad[idx], ee[idx]
    # A tie: the runner-up of the same bulletin has the same scores but another SIRET.
    nxt = idx + 1
    ok = nxt < len(bb)
    nxt, b2, i2 = nxt[ok], b[ok], idx[ok]
    same = (bb[nxt] == b2) & (cls[nxt] == cls[i2]) & (ns[nxt] == ns[i2]) & (ad[nxt] == ad[i2]) \
        & (sirets[ee[nxt]] != sirets[ee[i2]])
    tied[b2[same]] = True
    return best_class, best_name, best_addr, best_row, tied


def _same_commune_address_scores(b_street, b_number, e_street, e_number) -> np.ndarray:
    out = np.empty(len(b_street), dtype=np.int16)
    for i in range(len(b_street)):
        bs = b_street[i]
        if not bs:
            out[i] = 21
            continue
        sim = fuzz.ratio(bs, e_street[i]) if e_street[i] else 0
        if sim >= 90:
            same_number = isinstance(b_number[i], str) and b_number[i] == e_number[i]
            out[i] = 10 if same_number else 11
        elif sim >= 70:
            out[i] = 20
        else:
            out[i] = 31
    return out


def apply_mca(bulletins: pd.DataFrame, register: pd.DataFrame, communes: pd.DataFrame) -> pd.DataFrame:
    """``bulletins`` with MCA's columns filled in."""
    out = run_mca(bulletins, register, communes)
    b = bulletins.copy()
    for col in OUTPUT_COLUMNS[1:]:
        b[col] = out[col].to_numpy() if col == "SIRETC" else out[col].array
    b["SIRETC"] = b["SIRETC"].astype("string")
    return b


def run_mca_on_directory(data_dir, split: str = "test", out=None) -> pd.DataFrame:
    """Re-run MCA on a split of a data directory; write ``CABBI;siret`` to ``out`` when given."""
    from datathon.data import load_bulletins, load_frame, load_register

    bulletins = load_bulletins(data_dir, split)
    register = load_register(data_dir)
    communes = load_frame(data_dir, "communes.parquet")
    result = run_mca(bulletins, register, communes)
    sub = pd.DataFrame({"CABBI": result["CABBI"], "siret": result["SIRETC"]})
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        sub.to_csv(out, sep=";", index=False)
    return sub

"""Coding the declared activity to NAF: the third clue to the employer.

People describe what their establishment does in their own words (``ACTET_X``: "boulangerie",
"TRAVAUX D ETANCHEIFICATION", "administratif"). Coded to the NAF nomenclature, that description
can be compared with each candidate's activity (``activitePrincipaleEtablissement``): a bakery
is unlikely to employ someone who says "transport routier". At INSEE, SICORE codes activities
this way; here a scikit-learn text classifier learns it from the training bulletins, whose
employer's APE code is known, and from the NAF labels themselves.

* :class:`ActivityClassifier`: word TF-IDF (words and pairs of words) and a logistic regression,
  at the level of the NAF division (2 digits: 88 classes, enough to tell trades apart, few enough
  to learn from a few thousand bulletins);
* :class:`LabelSimilarity`: without any training, how close a declared activity is to the NAF
  label of a candidate's code;
* :func:`division`: ``"56.10A"`` → ``"56"``.

Typical use::

    from datathon.challenges.sirene.activity import ActivityClassifier
    classifier = ActivityClassifier().fit(train["ACTET_X"], employer_ape, naf=naf)
    classifier.predict(["boulangerie patisserie"])          # ['10']
    classifier.probability_of(texts, candidate_ape_codes)     # p(candidate's division | text)
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from datathon.text import simplify


def division(code) -> str:
    """The NAF division of a code: ``"56.10A"`` → ``"56"``; ``""`` when missing."""
    text = code if isinstance(code, str) else ""
    return text[:2] if len(text) >= 2 and text[:2].isdigit() else ""


def _texts(values) -> list[str]:
    return [simplify(v) for v in (values.tolist() if isinstance(values, pd.Series) else list(values))]


class ActivityClassifier:
    """A declared activity's NAF division, with a probability for every division.

    Words and pairs of words ("TRANSPORT ROUTIER") carry the trade; on the sample's held-out
    bulletins they predict the division as well as character n-grams do, several times faster.
    ``sublinear_tf`` keeps long descriptions from dominating. NAF labels (``naf``: a frame with
    ``code`` and ``libelle``) are added as training documents so that divisions the training
    bulletins never show still have a chance. Declared activities repeat ("COMMERCE",
    "ENSEIGNEMENT"): each distinct (text, division) is learnt once, weighted by how often it occurs.
    """

    def __init__(self, *, C: float = 5.0, max_iter: int = 100, ngram_range: tuple[int, int] = (1, 2)):
        self.C = C
        self.max_iter = max_iter
        # Words seen once cannot generalise, and each costs 88 weights to the optimiser.
        self.vectorizer = TfidfVectorizer(ngram_range=ngram_range, sublinear_tf=True, min_df=2, dtype=np.float32)
        self.model: LogisticRegression | None = None

    def fit(self, texts: Sequence, codes: Sequence, *, naf: pd.DataFrame | None = None) -> ActivityClassifier:
        """Learn from declared activities ``texts`` and their employers' NAF ``codes`` (any level:
        the division is taken). Pairs with an empty text or code are left out."""
        docs = _texts(texts)
        labels = [division(c) for c in (codes.tolist() if isinstance(codes, pd.Series) else list(codes))]
        if len(docs) != len(labels):
            raise ValueError(f"{len(docs)} activities for {len(labels)} codes")
        if naf is not None:
            docs += _texts(naf["libelle"])
            labels += [division(c) for c in naf["code"].astype(str)]
        keep = [bool(d) and bool(c) for d, c in zip(docs, labels)]
        docs = [d for d, k in zip(docs, keep) if k]
        labels = [c for c, k in zip(labels, keep) if k]
        if len(set(labels)) < 2:
            raise ValueError("an activity classifier needs examples of at least two NAF divisions")
        distinct = pd.DataFrame({"text": docs, "label": labels}).value_counts().reset_index()
        x = self.vectorizer.fit_transform(distinct["text"])
        # Newton-CG converges in a dozen steps here; L-BFGS needs a hundred, each slower.
        self.model = LogisticRegression(C=self.C, max_iter=self.max_iter, solver="newton-cg")
        self.model.fit(x, distinct["label"].to_numpy(), sample_weight=distinct["count"].to_numpy(dtype=np.float64))
        return self

    @property
    def classes_(self) -> np.ndarray:
        self._fitted()
        return self.model.classes_

    def _fitted(self) -> None:
        if self.model is None:
            raise RuntimeError("fit the activity classifier first")

    def predict_proba(self, texts: Sequence) -> np.ndarray:
        """Probabilities of every division (columns in :attr:`classes_` order) for each text; an
        empty text gets the divisions' overall frequencies (it says nothing)."""
        self._fitted()
        docs = _texts(texts)
        if not docs:
            return np.zeros((0, len(self.model.classes_)))
        proba = self.model.predict_proba(self.vectorizer.transform(docs))
        empty = np.array([not d for d in docs], dtype=bool)
        if empty.any():
            proba[empty] = self.prior_
        return proba

    @property
    def prior_(self) -> np.ndarray:
        """The model's probabilities for a text with no known n-gram."""
        self._fitted()
        return self.model.predict_proba(self.vectorizer.transform([""]))[0]

    def predict(self, texts: Sequence) -> np.ndarray:
        """The most probable division of each text."""
        return self.classes_[self.predict_proba(texts).argmax(axis=1)]

    def probability_of(self, texts: Sequence, codes: Sequence) -> np.ndarray:
        """For pairs (``texts[i]``, ``codes[i]``): the probability that the activity described is in
        the code's division (0 for a division never seen)."""
        docs = _texts(texts)
        divisions = [division(c) for c in (codes.tolist() if isinstance(codes, pd.Series) else list(codes))]
        if len(docs) != len(divisions):
            raise ValueError(f"{len(docs)} activities for {len(divisions)} codes")
        distinct, inverse = np.unique(np.array(docs, dtype=object), return_inverse=True)
        proba = self.predict_proba(list(distinct))
        column = {c: j for j, c in enumerate(self.classes_)}
        col = np.array([column.get(d, -1) for d in divisions], dtype=np.int64)
        out = np.zeros(len(docs))
        ok = col >= 0
        out[ok] = proba[inverse[ok], col[ok]]
        return out


class LabelSimilarity:
    """How close a declared activity is to the NAF label of a code (cosine of word TF-IDF, 0-1).

    Needs no labelled bulletin: it is MCA's activity check made gradual. ``naf`` is the
    nomenclature (``code``, ``libelle``).
    """

    def __init__(self, naf: pd.DataFrame):
        self.codes = naf["code"].astype(str).to_numpy()
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, dtype=np.float32)
        self.labels = self.vectorizer.fit_transform(_texts(naf["libelle"]))
        self._row = {c: i for i, c in enumerate(self.codes)}

    def similarity(self, texts: Sequence, codes: Sequence) -> np.ndarray:
        """Cosine similarity of each ``texts[i]`` with the label of ``codes[i]`` (0 when either is
        unknown)."""
        texts = texts.tolist() if isinstance(texts, pd.Series) else list(texts)
        codes = codes.tolist() if isinstance(codes, pd.Series) else list(codes)
        if len(texts) != len(codes):
            raise ValueError(f"{len(texts)} activities for {len(codes)} codes")
        if not texts:
            return np.zeros(0)
        # Millions of pairs, few distinct texts and codes: compute each distinct pair once.
        text_keys, text_values = pd.factorize(pd.Series(texts, dtype=object), use_na_sentinel=False)
        code_keys, code_values = pd.factorize(pd.Series(codes, dtype=object), use_na_sentinel=False)
        pair_keys, pairs = pd.factorize(text_keys.astype(np.int64) * len(code_values) + code_keys)
        text_of, code_of = np.divmod(pairs, len(code_values))
        label_row = np.array([self._row.get(c, -1) if isinstance(c, str) else -1 for c in code_values], dtype=np.int64)
        vectors = self.vectorizer.transform(_texts(text_values))
        rows = label_row[code_of]
        values = np.zeros(len(pairs))
        ok = rows >= 0
        if ok.any():
            values[ok] = np.asarray(vectors[text_of[ok]].multiply(self.labels[rows[ok]]).sum(axis=1)).ravel()
        return values[pair_keys]

"""The learning approach: every clue about the employer in one supervised matcher.

Names, places and activity each fail somewhere: a sign nobody registered defeats the name, a
missing address defeats the place, "SERVICES" defeats the activity. A matcher that sees them
all, and learns from the labelled bulletins how much each counts, fails only where they all fail.
The stages, each a function over frames:

1. :class:`Reference`: what is built once per register (name index, geocoder, nearby index,
   activity labels);
2. :func:`retrieve`: each bulletin's candidates, the union of the best names of its geographic
   block (and of its département when none is alike), the establishments nearest its geocoded
   address, the largest of its trade around, the temp agencies of its block, and MCA's candidate;
3. :func:`pair_features`: for each (bulletin, candidate) pair, every signal: name similarities,
   distance and street, activity, size, open or closed, public or private, MCA's verdict, whether
   the declared name is an answer at all (:class:`datathon.challenges.sirene.names.NonAnswers`), the clues of a temp
   worker who named the client company, and how the candidate compares with the bulletin's other
   candidates;
4. :class:`Matcher`: gradient-boosted trees over the pairs (scikit-learn's
   ``HistGradientBoostingClassifier``: missing values allowed, no scaling needed), giving each
   candidate a probability of being the employer;
5. :func:`decide`: each bulletin's most probable candidate is coded automatically when its
   probability passes a threshold chosen for a target precision on held-out training bulletins
   (:class:`CrossFitted`); the rest goes to manual review, with a ranked list of candidates.

Typical use::

    from datathon.challenges.sirene.matcher import Reference, Matcher, retrieve, pair_features, decide
    reference = Reference.from_dataset(ds)
    activity = reference.activity_model(ds.bulletins_train)
    train = pair_features(retrieve(ds.bulletins_train, reference), reference, activity)
    matcher = Matcher().fit(train, labels(train, ds.bulletins_train, reference))
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from datathon import schema
from datathon.challenges.sirene.activity import ActivityClassifier, LabelSimilarity, division
from datathon.challenges.sirene.blocking import Blocks, block_bulletins
from datathon.challenges.sirene.names import (FEATURES as STRING_FEATURES, NameIndex, NonAnswers, candidate_features,
                            candidate_table, normalise_names, place_words, size_prior, without_words)
from datathon.challenges.sirene.places import PLACE_FEATURES, Geocoder, NearbyIndex, PlaceScorer
from datathon.schema import departement_of

#: Where a candidate came from (columns of retrieve()'s output, 1 when it did).
SOURCES = ("from_names", "from_places", "from_mca", "from_siblings", "from_frequent", "from_activity",
           "from_temp_agency", "from_departement")

#: The NAF division of temporary-work agencies (78.20Z; 78.10Z placement, 78.30Z other provision of staff).
TEMP_AGENCY_DIVISION = "78"

#: Below this TF-IDF similarity, a pair found by address or activity gets string distances of 0.
MIN_SIMILARITY_FOR_DISTANCES = 0.2

#: The kinds of name, as numbers for the trees (the order of datathon.challenges.sirene.names.KINDS).
_KIND_CODES = {"legal": 0, "sign": 1, "usual": 2, "acronym": 3, "person": 4, "person_reversed": 5}

#: Every signal the matcher weighs, per candidate pair.
FEATURES = (
    # names
    "similarity", *STRING_FEATURES, "name_kind", "log_name_count", "name_words",
    # places
    *PLACE_FEATURES, "same_commune", "log_distance_rank",
    # activity
    "activity_probability", "activity_label_similarity", "activity_empty",
    # the establishment
    "log_size", "is_open", "is_public", "is_head_office",
    # the bulletin
    "employer_type", "public_mismatch", "paper", "name_uncodable", "name_frequency",
    # temp agencies: their workers name the client company
    "is_temp_agency", "temp_probability", "temp_agencies", "named_log_size", "named_division", "division",
    # MCA
    "is_mca", "mca_class", "mca_name_score",
    # the candidate among the bulletin's others
    "similarity_gap", "similarity_rank", "namesakes", "n_candidates", *SOURCES,
)


@dataclass
class Reference:
    """What is built once per register and reused for every bulletin: the register and its
    geography, the name index, the geocoder, the nearby index, the place scorer and the NAF labels."""

    register: pd.DataFrame
    communes: pd.DataFrame
    adjacences: pd.DataFrame
    adresses: pd.DataFrame
    naf: pd.DataFrame
    names: NameIndex
    geocoder: Geocoder
    nearby: NearbyIndex
    places: PlaceScorer
    labels: LabelSimilarity
    frequent: dict[str, np.ndarray] | None = None

    @classmethod
    def build(cls, register: pd.DataFrame, communes: pd.DataFrame, adjacences: pd.DataFrame,
              adresses: pd.DataFrame, naf: pd.DataFrame) -> Reference:
        register = register.reset_index(drop=True)
        return cls(register=register, communes=communes, adjacences=adjacences, adresses=adresses, naf=naf,
                   names=NameIndex(register), geocoder=Geocoder(adresses, communes, adjacences),
                   nearby=NearbyIndex(register), places=PlaceScorer(register), labels=LabelSimilarity(naf))

    @classmethod
    def from_dataset(cls, ds) -> Reference:
        """From a :class:`datathon.data.DataSet` (``load(data_dir)``)."""
        return cls.build(ds.etablissements, ds.communes, ds.adjacences, ds.adresses, ds.naf)

    def rows_of(self, sirets) -> np.ndarray:
        """Register positions of SIRETs (-1 where absent or missing)."""
        return register_rows(self.register, sirets)

    def learn_frequent_employers(self, train: pd.DataFrame, top: int = 12) -> Reference:
        """Remember each département's ``top`` most frequent employers among labelled bulletins.

        Some employers are declared under names that never match theirs: the DSDEN employs the
        teachers of every primary school, a temp agency the workers it places with its clients.
        They are few and employ many: offering them as candidates to every bulletin of their
        département lets the matcher learn when a declaration points at them.
        """
        rows = self.rows_of(train[schema.TRUTH_COLUMN])
        rows = rows[rows >= 0]
        communes = self.register["codeCommuneEtablissement"].astype("string").to_numpy(dtype=object, na_value="")
        counts = pd.DataFrame({"row": rows, "dep": [departement_of(c) if c else "" for c in communes[rows]]})
        counts = counts.value_counts().reset_index().sort_values(["dep", "count", "row"], ascending=[True, False, True])
        self.frequent = {dep: group["row"].to_numpy(dtype=np.int64)[:top] for dep, group in counts.groupby("dep")}
        return self

    def activity_model(self, train: pd.DataFrame, **options) -> ActivityClassifier:
        """An :class:`ActivityClassifier` learnt on labelled bulletins (their employer's APE code)
        and the NAF labels."""
        return activity_model(train, self.register, self.naf, **options)


def register_rows(register: pd.DataFrame, sirets) -> np.ndarray:
    """Positions in ``register`` of SIRETs (-1 where absent or missing; the first of duplicates)."""
    position = pd.Series(np.arange(len(register)), index=register["siret"].astype(str).to_numpy())
    position = position[~position.index.duplicated()]
    values = pd.Series(sirets, dtype="string").fillna("")
    return position.reindex(values.to_numpy()).fillna(-1).to_numpy(dtype=np.int64)


def activity_model(train: pd.DataFrame, register: pd.DataFrame, naf: pd.DataFrame | None,
                   **options) -> ActivityClassifier:
    """An :class:`ActivityClassifier` learnt on labelled bulletins (``ACTET_X`` → the APE code of
    their employer in ``register``) and the NAF labels, without building a whole :class:`Reference`."""
    rows = register_rows(register, train[schema.TRUTH_COLUMN])
    known = rows >= 0
    ape = register["activitePrincipaleEtablissement"].astype("string").to_numpy(dtype=object, na_value="")
    return ActivityClassifier(**options).fit(train["ACTET_X"].to_numpy(dtype=object)[known], ape[rows[known]],
                                             naf=naf)


@dataclass
class Candidates:
    """The candidate pairs of some bulletins, with what was learnt about the bulletins on the way:
    ``pairs`` (one row per (bulletin, register row), ``bulletin`` being the position in
    ``bulletins``), the bulletins themselves, their blocks and geocoded addresses."""

    pairs: pd.DataFrame
    bulletins: pd.DataFrame
    blocks: Blocks
    located: pd.DataFrame
    names: np.ndarray

    def __len__(self) -> int:
        return len(self.pairs)


def retrieve(bulletins: pd.DataFrame, reference: Reference, activity: ActivityClassifier | None = None, *,
             k_names: int = 20, k_places: int = 25, radius: float = 250.0, k_siblings: int = 5,
             k_activity: int = 10, k_temp: int = 8, k_departement: int = 5,
             departement_below: float = 0.75, departement_min: float = 0.5) -> Candidates:
    """Each bulletin's candidates, the union of:

    * its block's ``k_names`` best names (the declared name, and the name without its town);
    * the ``k_places`` establishments nearest its geocoded address, within ``radius`` metres
      (several establishments often share one address point);
    * the other establishments of the same legal unit, in the block, as its ``k_siblings`` best
      names (the sign is registered at one shop of a chain, the bulletin names another);
    * the frequent employers of its département (:meth:`Reference.learn_frequent_employers`);
    * with an ``activity`` classifier, the ``k_activity`` largest establishments of the declared
      commune in the bulletin's most probable NAF division (when neither the name nor the address
      helps, the trade and the town still narrow the search);
    * the ``k_temp`` largest temp agencies (NAF division 78) of its block: their workers name the
      client company they are placed with, which is never the employer;
    * when no name of its block is alike (a TF-IDF similarity below ``departement_below``), the
      ``k_departement`` most alike names of its whole département, from ``departement_min`` up
      (people who give their home commune, or a commune further than the adjacent ones);
    * MCA's candidate (``SIRETC``).

    A pair found several ways is kept once, with a flag per way (:data:`SOURCES`)."""
    bulletins = bulletins.reset_index(drop=True)
    register = reference.register
    blocks = block_bulletins(bulletins, register, reference.communes, reference.adjacences)
    names = normalise_names(bulletins["RS_X"]).to_numpy(dtype=object)
    commune = blocks.workplace["commune"].to_numpy(dtype=object, na_value=None)
    alternatives = without_words(names, place_words(commune, reference.communes)).to_numpy(dtype=object)
    by_name = candidate_table(reference.names, names, blocks, k=k_names, alternatives=alternatives)
    by_name = by_name.assign(from_names=1.0)
    wide = _departement_names(reference, names, blocks, by_name, k_departement, departement_below, departement_min)
    by_name = pd.concat([by_name, wide.assign(from_names=0.0)], ignore_index=True)

    located = reference.geocoder.geocode(bulletins, workplace=blocks.workplace).reset_index(drop=True)
    near = reference.nearby.query(located, k=k_places, radius=radius)[["bulletin", "row"]].assign(from_places=1.0)
    mca_rows = reference.rows_of(bulletins["SIRETC"]) if "SIRETC" in bulletins else np.full(len(bulletins), -1)
    has_mca = np.flatnonzero(mca_rows >= 0)
    mca = pd.DataFrame({"bulletin": has_mca, "row": mca_rows[has_mca], "from_mca": 1.0})

    siblings = _siblings(by_name[by_name["rank"] <= k_siblings], blocks, register).assign(from_siblings=1.0)
    frequent = _frequent(blocks, reference.frequent).assign(from_frequent=1.0)
    by_activity = _by_activity(bulletins, commune, activity, register, k_activity).assign(from_activity=1.0)
    temp = _temp_agencies(blocks, register, k_temp).assign(from_temp_agency=1.0)

    pairs = by_name[["bulletin", "row", "from_names"]].merge(wide[["bulletin", "row"]].assign(from_departement=1.0),
                                                             on=["bulletin", "row"], how="left")
    for other in (near, mca, siblings, frequent, by_activity, temp):
        pairs = pairs.merge(other, on=["bulletin", "row"], how="outer")
    pairs[list(SOURCES)] = pairs[list(SOURCES)].fillna(0.0)
    pairs = pairs.sort_values(["bulletin", "row"], kind="stable").reset_index(drop=True)
    # Name signals for every pair, whichever way it was found.
    found = pairs.merge(by_name.drop(columns=["from_names", "rank", "siret"]), on=["bulletin", "row"], how="left")
    missing = found["similarity"].isna().to_numpy()
    if missing.any():
        extra = pairs.loc[missing, ["bulletin", "row"]].reset_index(drop=True)
        similar = reference.names.pair_similarity(names, extra["bulletin"], extra["row"])
        extra = pd.concat([extra, similar], axis=1)
        # String distances only where the names have something in common: elsewhere they are
        # near 0 anyway, and they are the costliest signal to compute.
        alike = extra["similarity"].to_numpy() >= MIN_SIMILARITY_FOR_DISTANCES
        extra = extra.assign(**{f: 0.0 for f in STRING_FEATURES})
        if alike.any():
            scored = candidate_features(extra[alike].reset_index(drop=True), names, reference.names)
            for f in STRING_FEATURES:
                values = extra[f].to_numpy(dtype=np.float64).copy()
                values[alike] = scored[f].to_numpy(dtype=np.float64)
                extra[f] = values
        found = found.set_index(pd.RangeIndex(len(found)))
        for column in ["similarity", "kind", "variant", *STRING_FEATURES]:
            values = found[column].astype(object).to_numpy().copy()
            values[missing] = extra[column].to_numpy(dtype=object)
            found[column] = values
        counts = reference.names.name_count
        variant = np.array(found["variant"], dtype=np.float64)
        log_count = np.array(found["log_name_count"], dtype=np.float64)
        fill = missing & (variant >= 0)
        log_count[fill] = np.log(counts[variant[fill].astype(np.int64)])
        found["log_name_count"] = log_count
        found["same_commune"] = (reference.names.commune[found["row"].to_numpy(dtype=np.int64)]
                                 == np.asarray(commune, dtype=object)[found["bulletin"].to_numpy(dtype=np.int64)]
                                 ).astype(np.float64)
    for column in ["similarity", *STRING_FEATURES, "same_commune", "log_size", "log_name_count"]:
        found[column] = pd.to_numeric(found[column], errors="coerce").astype(np.float64)
    found["log_size"] = size_prior(register)[found["row"].to_numpy(dtype=np.int64)]
    return Candidates(pairs=found, bulletins=bulletins, blocks=blocks, located=located, names=names)


def _departement_names(reference: Reference, names: np.ndarray, blocks: Blocks, by_name: pd.DataFrame, k: int,
                       below: float, minimum: float) -> pd.DataFrame:
    """The ``k`` most alike names of the whole département (from ``minimum`` up) for the bulletins
    whose block has no name at ``below`` or more, except those already found in the block."""
    columns = list(by_name.columns.drop("from_names"))
    empty = pd.DataFrame({c: pd.Series(dtype=by_name[c].dtype) for c in columns})
    if k < 1 or len(names) == 0:
        return empty
    best = np.zeros(len(names))
    np.maximum.at(best, by_name["bulletin"].to_numpy(dtype=np.int64), by_name["similarity"].to_numpy(dtype=np.float64))
    deps = blocks.workplace["departement"].to_numpy(dtype=object, na_value=None)
    weak = np.flatnonzero((best < below) & (names != "") & np.array([d is not None for d in deps], dtype=bool))
    if len(weak) == 0:
        return empty
    register = reference.register
    commune = register["codeCommuneEtablissement"].astype("string").to_numpy(dtype=object, na_value="")
    is_open = (register["etatAdministratifEtablissement"].astype("string") != "F").fillna(True).to_numpy(dtype=bool)
    row_dep = np.array([departement_of(c) if c else "" for c in commune], dtype=object)
    keys = np.array(["D:" + d for d in deps[weak]], dtype=object)
    rows = {key: np.flatnonzero(is_open & (row_dep == key[2:])) for key in set(keys)}
    wide_blocks = Blocks(key=keys, rows=rows, workplace=blocks.workplace.iloc[weak])
    declared = blocks.workplace["commune"].to_numpy(dtype=object, na_value=None)[weak]
    wide = candidate_table(reference.names, list(names[weak]), wide_blocks, k=k, communes=declared)
    wide["bulletin"] = weak[wide["bulletin"].to_numpy(dtype=np.int64)]
    wide = wide[wide["similarity"].to_numpy() >= minimum]
    seen = pd.MultiIndex.from_frame(by_name[["bulletin", "row"]])
    wide = wide[~pd.MultiIndex.from_frame(wide[["bulletin", "row"]]).isin(seen)]
    return wide[columns].reset_index(drop=True)


def _siblings(top: pd.DataFrame, blocks: Blocks, register: pd.DataFrame) -> pd.DataFrame:
    """The other establishments of the legal units of ``top`` candidates, in each bulletin's block."""
    siren = register["siren"].astype("string").to_numpy(dtype=object, na_value="")
    codes, _ = pd.factorize(pd.Series(siren, dtype=object))
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(codes.max() + 2))
    bulletin = top["bulletin"].to_numpy(dtype=np.int64)
    rows = top["row"].to_numpy(dtype=np.int64)
    size = starts[codes[rows] + 1] - starts[codes[rows]]
    chain = size >= 2
    bulletin, rows, size = bulletin[chain], rows[chain], size[chain]
    # Every (bulletin, sibling) pair, then only those in the bulletin's block.
    pair_b = np.repeat(bulletin, size)
    offsets = np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size)
    pair_r = order[np.repeat(starts[codes[rows]], size) + offsets]
    keep = (pair_r != np.repeat(rows, size)) & blocks.contains_pairs(pair_b, pair_r)
    return pd.DataFrame({"bulletin": pair_b[keep], "row": pair_r[keep]}).drop_duplicates()


def _frequent(blocks: Blocks, frequent: dict[str, np.ndarray] | None) -> pd.DataFrame:
    """Each bulletin paired with its département's frequent employers."""
    if not frequent:
        return pd.DataFrame({"bulletin": np.empty(0, np.int64), "row": np.empty(0, np.int64)})
    deps = blocks.workplace["departement"].to_numpy(dtype=object, na_value=None)
    b_parts, r_parts = [], []
    for dep, rows in frequent.items():
        where = np.flatnonzero(deps == dep)
        b_parts.append(np.repeat(where, len(rows)))
        r_parts.append(np.tile(rows, len(where)))
    return pd.DataFrame({"bulletin": np.concatenate(b_parts).astype(np.int64),
                         "row": np.concatenate(r_parts).astype(np.int64)})


def _by_activity(bulletins: pd.DataFrame, commune: np.ndarray, activity: ActivityClassifier | None,
                 register: pd.DataFrame, k: int) -> pd.DataFrame:
    """The ``k`` largest open establishments of each bulletin's commune in its most probable division."""
    empty = pd.DataFrame({"bulletin": np.empty(0, np.int64), "row": np.empty(0, np.int64)})
    if activity is None or k < 1:
        return empty
    predicted = activity.predict(bulletins["ACTET_X"].to_numpy(dtype=object))
    is_open = (register["etatAdministratifEtablissement"].astype("string") != "F").fillna(True).to_numpy(dtype=bool)
    table = pd.DataFrame({
        "row": np.flatnonzero(is_open),
        "commune": register["codeCommuneEtablissement"].astype("string").to_numpy(dtype=object, na_value="")[is_open],
        "division": [division(c) for c in register["activitePrincipaleEtablissement"].astype("string")
                     .to_numpy(dtype=object, na_value="")[is_open]],
        "size": size_prior(register)[is_open],
    }).sort_values(["commune", "division", "size", "row"], ascending=[True, True, False, True])
    table = table[table.groupby(["commune", "division"]).cumcount() < k]
    wanted = pd.DataFrame({"bulletin": np.arange(len(bulletins)), "commune": commune, "division": predicted})
    wanted = wanted[wanted["commune"].notna()]
    return wanted.merge(table, on=["commune", "division"])[["bulletin", "row"]].astype(np.int64)


def is_temp_agency(register: pd.DataFrame) -> np.ndarray:
    """Whether each establishment is a temp agency (NAF division 78)."""
    ape = register["activitePrincipaleEtablissement"].astype("string").to_numpy(dtype=object, na_value="")
    return np.array([division(c) == TEMP_AGENCY_DIVISION for c in ape], dtype=bool)


def _temp_agencies(blocks: Blocks, register: pd.DataFrame, k: int) -> pd.DataFrame:
    """Each bulletin paired with the ``k`` largest open temp agencies of its block (none for a
    bulletin that names neither a commune nor a département)."""
    empty = pd.DataFrame({"bulletin": np.empty(0, np.int64), "row": np.empty(0, np.int64)})
    if k < 1 or len(blocks) == 0:
        return empty
    is_open = (register["etatAdministratifEtablissement"].astype("string") != "F").fillna(True).to_numpy(dtype=bool)
    agencies = np.flatnonzero(is_temp_agency(register) & is_open)  # sorted, as block rows are
    if len(agencies) == 0:
        return empty
    size = size_prior(register)
    b_parts, r_parts = [], []
    for key, where in blocks.groups().items():
        if not key.startswith(("C:", "D:")):  # no place at all: no agency is nearer than another
            continue
        rows = agencies[_in_sorted(blocks.rows[key], agencies)]
        if len(rows) == 0:
            continue
        rows = rows[np.lexsort((rows, -size[rows]))][:k]
        b_parts.append(np.repeat(where, len(rows)))
        r_parts.append(np.tile(rows, len(where)))
    if not b_parts:
        return empty
    return pd.DataFrame({"bulletin": np.concatenate(b_parts).astype(np.int64),
                         "row": np.concatenate(r_parts).astype(np.int64)})


def _in_sorted(sorted_rows: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Whether each of ``targets`` is in ``sorted_rows``."""
    if len(sorted_rows) == 0:
        return np.zeros(len(targets), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_rows, targets), len(sorted_rows) - 1)
    return sorted_rows[pos] == targets


def _within_bulletin(values: np.ndarray, bulletin: np.ndarray, how: str) -> np.ndarray:
    """Per pair, the maximum (``how="max"``) of ``values`` over its bulletin's pairs, or its rank
    among them (``how="rank"``, 1 = highest; ties share the lowest rank)."""
    frame = pd.DataFrame({"b": bulletin, "v": values})
    if how == "max":
        return frame.groupby("b")["v"].transform("max").to_numpy()
    return frame.groupby("b")["v"].rank(method="min", ascending=False).to_numpy()


def pair_features(candidates: Candidates, reference: Reference, activity: ActivityClassifier | None,
                  answers: NonAnswers | None = None) -> pd.DataFrame:
    """Every signal (:data:`FEATURES`) for each candidate pair, in a frame aligned with
    ``candidates.pairs`` (``bulletin`` and ``row`` kept first). ``activity`` is the activity
    classifier (None leaves ``activity_probability`` missing and ``temp_probability`` at 0),
    ``answers`` what was learnt about declared names (None leaves ``name_uncodable`` and
    ``name_frequency`` at 0: a constant the trees ignore, where an all-missing column would stop them)."""
    pairs = candidates.pairs
    bulletins = candidates.bulletins
    register = reference.register
    b = pairs["bulletin"].to_numpy(dtype=np.int64)
    rows = pairs["row"].to_numpy(dtype=np.int64)
    out = pd.DataFrame({"bulletin": b, "row": rows})
    for column in ["similarity", *STRING_FEATURES, "log_name_count", "same_commune", "log_size", *SOURCES]:
        out[column] = pairs[column].to_numpy(dtype=np.float64)
    out["name_kind"] = np.array([_KIND_CODES.get(k, np.nan) if isinstance(k, str) else np.nan
                                 for k in pairs["kind"].to_numpy(dtype=object)], dtype=np.float64)
    out["name_words"] = np.array([len(n.split()) for n in candidates.names], dtype=np.float64)[b]

    places = reference.places.features(pairs[["bulletin", "row"]], candidates.located, bulletins)
    for column in PLACE_FEATURES:
        out[column] = places[column].to_numpy(dtype=np.float64)
    distance = out["log_distance"].fillna(np.inf).to_numpy()
    out["log_distance_rank"] = np.log(_within_bulletin(-distance, b, "rank"))

    activity_text = bulletins["ACTET_X"].to_numpy(dtype=object)
    ape = register["activitePrincipaleEtablissement"].astype("string").to_numpy(dtype=object, na_value="")[rows]
    out["activity_probability"] = (activity.probability_of(activity_text[b], ape) if activity is not None
                                   else np.nan)
    out["activity_label_similarity"] = reference.labels.similarity(activity_text[b], ape)
    out["activity_empty"] = np.array([not isinstance(t, str) or not t.strip() for t in activity_text],
                                     dtype=np.float64)[b]

    state = register["etatAdministratifEtablissement"].astype("string").to_numpy(dtype=object, na_value="")
    category = register["categorieJuridiqueUniteLegale"].astype("string").to_numpy(dtype=object, na_value="")
    head = register["etablissementSiege"].astype("string").to_numpy(dtype=object, na_value="") \
        if "etablissementSiege" in register else np.full(len(register), "", dtype=object)
    out["is_open"] = (state[rows] != "F").astype(np.float64)
    public = np.array([c.startswith("7") for c in category], dtype=bool)  # catégories 7xxx: public law
    out["is_public"] = public[rows].astype(np.float64)
    out["is_head_office"] = (head[rows] == "true").astype(np.float64)

    employer = pd.to_numeric(bulletins["VARDOMPART_X"], errors="coerce").to_numpy(dtype=np.float64) \
        if "VARDOMPART_X" in bulletins else np.full(len(bulletins), np.nan)
    out["employer_type"] = employer[b]
    says_public = employer[b] == 2
    out["public_mismatch"] = np.where(np.isnan(employer[b]), np.nan, (says_public != public[rows]).astype(np.float64))
    typcol = pd.to_numeric(bulletins["TYPCOL"], errors="coerce").to_numpy(dtype=np.float64) \
        if "TYPCOL" in bulletins else np.full(len(bulletins), np.nan)
    out["paper"] = (typcol == 0).astype(np.float64)[b]
    if answers is not None:
        out["name_uncodable"] = answers.share(candidates.names)[b]
        out["name_frequency"] = np.log1p(answers.frequency(candidates.names))[b]
    else:
        out["name_uncodable"] = out["name_frequency"] = 0.0

    # Temp agencies: is the candidate one, does the declared trade use them, are there any around,
    # and how large is (and what does) the establishment the name points at: a temp worker names
    # the client company, a small business of a trade that hires temps is named by as many temps
    # as employees.
    divisions = _divisions(register)
    out["is_temp_agency"] = (divisions[rows] == float(TEMP_AGENCY_DIVISION)).astype(np.float64)
    out["temp_probability"] = (activity.probability_of(activity_text, np.full(len(bulletins), TEMP_AGENCY_DIVISION))[b]
                               if activity is not None else 0.0)
    out["temp_agencies"] = pd.Series(out["from_temp_agency"].to_numpy()).groupby(b).transform("sum").to_numpy(
        dtype=np.float64)
    best_named = _best_named(out["similarity"].to_numpy(), b, len(bulletins))
    named = best_named[b]  # a bulletin with pairs has a best-named one
    out["named_log_size"] = out["log_size"].to_numpy()[named]
    out["named_division"] = divisions[rows[named]]
    out["division"] = divisions[rows]

    out["is_mca"] = out["from_mca"]
    for column, source in (("mca_class", "I_MCA_C"), ("mca_name_score", "NOTE_MCA_NOM_C")):
        values = pd.to_numeric(bulletins[source], errors="coerce").to_numpy(dtype=np.float64) \
            if source in bulletins else np.full(len(bulletins), np.nan)
        out[column] = values[b]

    similarity = out["similarity"].to_numpy()
    out["similarity_gap"] = _within_bulletin(similarity, b, "max") - similarity
    out["similarity_rank"] = _within_bulletin(similarity, b, "rank")
    # How many of the bulletin's candidates match the name about as well: namesakes share the doubt.
    out["namesakes"] = pd.Series(similarity >= _within_bulletin(similarity, b, "max") - 0.02).groupby(b).transform(
        "sum").to_numpy(dtype=np.float64)
    out["n_candidates"] = np.bincount(b, minlength=len(bulletins))[b].astype(np.float64)
    return out[["bulletin", "row", *FEATURES]]


def _divisions(register: pd.DataFrame) -> np.ndarray:
    """Each establishment's NAF division as a number (``"56.10A"`` → 56; NaN when unknown)."""
    ape = register["activitePrincipaleEtablissement"].astype("string").str.slice(0, 2)
    return pd.to_numeric(ape, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _best_named(similarity: np.ndarray, bulletin: np.ndarray, n_bulletins: int) -> np.ndarray:
    """Per bulletin, the position of its pair of highest name similarity (first among equals; -1
    for a bulletin without pairs)."""
    out = np.full(n_bulletins, -1, dtype=np.int64)
    if len(similarity) == 0:
        return out
    order = np.lexsort((np.arange(len(similarity)), -np.nan_to_num(similarity, nan=-1.0), bulletin))
    first = np.ones(len(order), dtype=bool)
    first[1:] = bulletin[order][1:] != bulletin[order][:-1]
    out[bulletin[order][first]] = order[first]
    return out


def labels(features: pd.DataFrame, bulletins: pd.DataFrame, reference: Reference) -> np.ndarray:
    """For each pair, whether the candidate is the bulletin's true employer (``SIRET_DEC``)."""
    truth = reference.rows_of(bulletins.reset_index(drop=True)[schema.TRUTH_COLUMN])
    return features["row"].to_numpy(dtype=np.int64) == truth[features["bulletin"].to_numpy(dtype=np.int64)]


def _threads(threads: int | None):
    """A context in which OpenMP (the trees' threads) uses at most ``threads`` threads (None: no limit)."""
    return threadpool_limits(limits=threads, user_api="openmp")


class Matcher:
    """Gradient-boosted trees giving each candidate pair a probability of being the employer.

    Trees suit the mix of signals: they need no scaling, take missing values (no address, no
    activity) as information, and find interactions by themselves (a perfect name match counts
    for less when ten namesakes share it; a distance counts only when the address was geocoded).

    Most pairs are obviously wrong: only a share ``negatives`` of the wrong pairs (drawn at
    random) is learnt from, which divides the training time; the probabilities are corrected for
    the sampling (the odds of being right were multiplied by ``1 / negatives``).

    The trees use ``threads`` threads (None: as many as the numerical libraries are allowed). One
    by default: on a machine whose cores are busy with anything else, threads that wait for each
    other make the fit several times slower than one thread alone, while on an idle machine a
    second thread saves less than half the time.
    """

    def __init__(self, features: Sequence[str] = FEATURES, *, max_iter: int = 100, learning_rate: float = 0.1,
                 max_leaf_nodes: int = 31, negatives: float = 0.25, random_state: int = 0, threads: int | None = 1):
        if not 0 < negatives <= 1:
            raise ValueError("negatives is a share of the wrong pairs: between 0 (excluded) and 1")
        self.features = tuple(features)
        self.negatives = negatives
        self.random_state = random_state
        self.threads = threads
        self.model = HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=learning_rate,
                                                    max_leaf_nodes=max_leaf_nodes, l2_regularization=1.0,
                                                    early_stopping=False, random_state=random_state)

    def fit(self, features: pd.DataFrame, truth: np.ndarray) -> Matcher:
        truth = np.asarray(truth, dtype=bool)
        keep = truth | (np.random.default_rng(self.random_state).random(len(truth)) < self.negatives)
        x = features[list(self.features)].to_numpy(dtype=np.float64)[keep]
        # A signal the data never carry (no VARDOMPART_X code 3 in a real file: employer_type all
        # missing) is constant, not missing: scikit-learn's binning fails on a column with no value.
        self.absent_ = np.isnan(x).all(axis=0) if len(x) else np.zeros(x.shape[1], dtype=bool)
        x[:, self.absent_] = 0.0
        # No sample weights (they make scikit-learn's binning many times slower): the sampling is
        # undone on the odds in probabilities() instead.
        with _threads(self.threads):
            self.model.fit(x, truth[keep])
        return self

    def probabilities(self, features: pd.DataFrame) -> np.ndarray:
        """Each pair's probability of being the bulletin's employer."""
        if len(features) == 0:
            return np.empty(0)
        x = features[list(self.features)].to_numpy(dtype=np.float64)
        absent = getattr(self, "absent_", None)  # models saved before it existed had no such column
        if absent is not None:
            x[:, absent] = 0.0
        with _threads(getattr(self, "threads", None)):
            sampled = self.model.predict_proba(x)[:, 1]
        # Keeping a share r of the wrong pairs multiplied the odds of being right by 1/r.
        odds = self.negatives * sampled / np.maximum(1.0 - sampled, 1e-12)
        return odds / (1.0 + odds)


class CrossFitted:
    """Several matchers, each fitted without one fold of the labelled bulletins.

    Two uses for the price of one: :attr:`held_out_` holds, for every labelled pair, the
    probability given by the matcher that never saw its bulletin (what a threshold for a target
    precision must be chosen on: in-sample probabilities are too sure of themselves), and
    :meth:`probabilities` averages the matchers on new bulletins.
    """

    def __init__(self, folds: int = 3, seed: int = 0, **options):
        if folds < 2:
            raise ValueError("cross-fitting needs at least 2 folds")
        self.folds = folds
        self.seed = seed
        self.options = options
        self.matchers: list[Matcher] = []
        self.held_out_: np.ndarray | None = None

    def fit(self, features: pd.DataFrame, truth: np.ndarray, progress=None) -> CrossFitted:
        truth = np.asarray(truth, dtype=bool)
        fold = bulletin_folds(features["bulletin"].to_numpy(dtype=np.int64), self.folds, self.seed)
        self.held_out_ = np.zeros(len(features))
        self.matchers = []
        for f in range(self.folds):
            held = fold == f
            matcher = Matcher(**self.options).fit(features[~held], truth[~held])
            self.held_out_[held] = matcher.probabilities(features[held])
            self.matchers.append(matcher)
            if progress is not None:
                progress.update(1)
        return self

    def probabilities(self, features: pd.DataFrame) -> np.ndarray:
        if not self.matchers:
            raise RuntimeError("fit the matchers first")
        return np.mean([m.probabilities(features) for m in self.matchers], axis=0)


def bulletin_folds(bulletin: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """A fold number for each pair, the same for all pairs of one bulletin."""
    bulletin = np.asarray(bulletin, dtype=np.int64)
    if len(bulletin) == 0:
        return np.empty(0, dtype=np.int64)
    return np.random.default_rng(seed).integers(0, folds, bulletin.max() + 1)[bulletin]


def ranked(features: pd.DataFrame, probability: np.ndarray, k: int = 5) -> pd.DataFrame:
    """Each bulletin's ``k`` most probable candidates: ``bulletin``, ``row``, ``probability``,
    ``rank`` (1 first) and ``confidence`` (the rank-1 probability, divided by the bulletin's total
    when candidates share more than 1: the rank-1 coding's chance of being right)."""
    table = pd.DataFrame({"bulletin": features["bulletin"].to_numpy(), "row": features["row"].to_numpy(),
                          "probability": probability})
    table = table.sort_values(["bulletin", "probability", "row"], ascending=[True, False, True], kind="stable")
    table["rank"] = table.groupby("bulletin").cumcount() + 1
    total = table.groupby("bulletin")["probability"].transform("sum").to_numpy()
    table["confidence"] = table["probability"].to_numpy() / np.maximum(total, 1.0)
    return table[table["rank"] <= k].reset_index(drop=True)


def decide(top: pd.DataFrame, threshold: float, n_bulletins: int, k: int | None = None) -> pd.DataFrame:
    """Lines of a submission from :func:`ranked`'s table: every bulletin gets a rank-1 line, coded
    (a ``row``) when its confidence reaches ``threshold``, left for manual review otherwise; ranks
    2 and more list the other candidates, and for a bulletin left for review they start with its
    best one (the reviewer's first guess), so that its list keeps ``k - 1`` candidates (``k``: the
    ranks :func:`ranked` kept, by default the deepest in ``top``). Columns ``bulletin``, ``row``
    (-1: not coded), ``rank``, ``score``."""
    first = pd.DataFrame({"bulletin": np.arange(n_bulletins), "rank": 1})
    lines = first.merge(top, on=["bulletin", "rank"], how="left")
    score = lines["confidence"].fillna(0.0).to_numpy()
    row = np.array(lines["row"].fillna(-1), dtype=np.int64)
    row[score < threshold] = -1
    lines = pd.DataFrame({"bulletin": lines["bulletin"].to_numpy(), "row": row, "rank": 1, "score": score})
    if k is None:
        k = int(top["rank"].max()) if len(top) else 1
    for_review = np.zeros(n_bulletins, dtype=bool)
    for_review[lines["bulletin"].to_numpy()[row < 0]] = True
    shifted = for_review[top["bulletin"].to_numpy(dtype=np.int64)]
    others = top.assign(rank=top["rank"].to_numpy() + shifted)
    others = others[(others["rank"] > 1) & (others["rank"] <= k)]
    others = pd.DataFrame({"bulletin": others["bulletin"].to_numpy(), "row": others["row"].to_numpy(),
                           "rank": others["rank"].to_numpy(), "score": others["probability"].to_numpy()})
    return pd.concat([lines, others], ignore_index=True).sort_values(["bulletin", "rank"]).reset_index(drop=True)


def as_submission(lines: pd.DataFrame, bulletins: pd.DataFrame, register: pd.DataFrame) -> pd.DataFrame:
    """:func:`decide`'s lines as a submission frame (``CABBI``, ``siret``, ``rank``, ``score``), the
    ``row`` of each line being a position in ``register``."""
    siret = register["siret"].astype("string").to_numpy(dtype=object, na_value=None)
    row = lines["row"].to_numpy(dtype=np.int64)
    return pd.DataFrame({
        "CABBI": bulletins.reset_index(drop=True)["CABBI"].astype("string").to_numpy(dtype=object)[
            lines["bulletin"].to_numpy(dtype=np.int64)],
        "siret": np.where(row >= 0, siret[np.maximum(row, 0)], None),
        "rank": lines["rank"].to_numpy(dtype=np.int64),
        "score": lines["score"].round(6).to_numpy(),
    })


# ------------------------------------------------------------------------------------------------
# The decision: how sure is the best candidate, and the whole chain in one object
# ------------------------------------------------------------------------------------------------

#: What the confidence model looks at, per bulletin: the probabilities of its best candidates, and
#: every signal of the best one (what makes a probability trustworthy differs from what makes it high).
CONFIDENCE_FEATURES = ("p1", "p2", "p_total", "p_share", *FEATURES)


def bulletin_table(features: pd.DataFrame, probability: np.ndarray, n_bulletins: int) -> pd.DataFrame:
    """One row per bulletin (all ``n_bulletins``, in order): its best candidate's ``row`` (-1 if
    none), the probabilities of its two best candidates (``p1``, ``p2``), their total and the best
    one's share, and the best candidate's own signals (:data:`CONFIDENCE_FEATURES`)."""
    table = pd.DataFrame({"bulletin": features["bulletin"].to_numpy(), "position": np.arange(len(features)),
                          "p": probability})
    table = table.sort_values(["bulletin", "p", "position"], ascending=[True, False, True], kind="stable")
    order = table.groupby("bulletin").cumcount().to_numpy()
    first = table[order == 0].set_index("bulletin")
    second = table[order == 1].set_index("bulletin")["p"]
    total = table.groupby("bulletin")["p"].sum()
    out = pd.DataFrame(index=pd.RangeIndex(n_bulletins, name="bulletin"))
    out["row"] = pd.Series(features["row"].to_numpy()[first["position"].to_numpy()], index=first.index)\
        .reindex(out.index).fillna(-1).astype(np.int64)
    out["p1"] = first["p"].reindex(out.index).fillna(0.0)
    out["p2"] = second.reindex(out.index).fillna(0.0)
    out["p_total"] = total.reindex(out.index).fillna(0.0)
    out["p_share"] = out["p1"] / np.maximum(out["p_total"], 1.0)
    chosen = features.iloc[first["position"].to_numpy()].set_index(first.index)
    for column in CONFIDENCE_FEATURES[4:]:
        out[column] = chosen[column].reindex(out.index).to_numpy(dtype=np.float64)
    return out


class Confidence:
    """How likely each bulletin's best candidate is right: a second, small model over
    :func:`bulletin_table`, learnt on held-out probabilities.

    A pair's probability alone misses part of the picture: the best candidate at 0.6 with a
    runner-up at 0.5 is a coin toss, at 0.6 alone a good bet; a geocoded number and a matching
    name make a 0.6 more reliable than a lone name. Learning that from the held-out bulletins
    codes more of them at the same precision.

    One row per bulletin is little work for the trees: they run on one thread, where several
    would spend more time waiting for each other than working (and far more on a busy machine).
    """

    threads = 1

    def __init__(self, *, max_iter: int = 100, learning_rate: float = 0.05, random_state: int = 0):
        self.model = HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=learning_rate, max_leaf_nodes=15,
                                                    early_stopping=False, random_state=random_state)

    def _x(self, table: pd.DataFrame) -> np.ndarray:
        return table[list(CONFIDENCE_FEATURES)].to_numpy(dtype=np.float64)

    def fit(self, table: pd.DataFrame, correct: np.ndarray) -> Confidence:
        with _threads(self.threads):
            self.model.fit(self._x(table), np.asarray(correct, dtype=bool))
        return self

    def predict(self, table: pd.DataFrame) -> np.ndarray:
        """The chance each bulletin's best candidate is right (0 for bulletins without any)."""
        if len(table) == 0:
            return np.empty(0)
        with _threads(self.threads):
            p = self.model.predict_proba(self._x(table))[:, 1]
        return np.where(table["row"].to_numpy() >= 0, p, 0.0)

    @classmethod
    def held_out(cls, table: pd.DataFrame, correct: np.ndarray, *, folds: int = 5, seed: int = 0) -> np.ndarray:
        """Confidences of labelled bulletins, each from a model that did not see it."""
        correct = np.asarray(correct, dtype=bool)
        fold = np.random.default_rng(seed).integers(0, folds, len(table))
        out = np.zeros(len(table))
        for f in range(folds):
            held = fold == f
            out[held] = cls().fit(table[~held], correct[~held]).predict(table[held])
        return out


#: The threshold's safety margin, in standard errors of the held-out precision (see
#: :func:`datathon.challenges.sirene.names.threshold_for_precision`): new bulletins are a new draw, and the final
#: matchers are not the held-out ones.
SAFETY_MARGIN = 1.5


@dataclass
class Coder:
    """The whole chain, trained on labelled bulletins, ready to code new ones.

    :meth:`train` builds the activity classifier, the candidates and their features for the
    training bulletins, cross-fits the matchers, learns the confidence model on held-out
    probabilities and picks the confidence threshold that reaches ``precision`` on held-out
    bulletins, with a safety margin of ``margin`` standard errors (:data:`SAFETY_MARGIN`; 0 for
    none). It also learns which declared names are not answers (:class:`NonAnswers`), kept in
    ``answers``. :meth:`code` then turns any bulletins into a submission: rank 1 coded when its
    confidence reaches the threshold, ranks 2 to ``k`` listing the other candidates for review.
    """

    reference: Reference
    activity: ActivityClassifier
    matchers: CrossFitted
    confidence: Confidence
    threshold: float
    precision: float
    held_out: pd.DataFrame  # the training bulletins' table, with held-out ``confidence`` and ``correct``
    answers: NonAnswers | None = None  # what the training bulletins taught about declared names

    @classmethod
    def train(cls, reference: Reference, train: pd.DataFrame, *, precision: float = 0.95, folds: int = 3,
              negatives: float = 0.15, seed: int = 0, progress: bool = False, margin: float = SAFETY_MARGIN) -> Coder:
        from tqdm.auto import tqdm

        from datathon.challenges.sirene.names import threshold_for_precision

        if not 0 < precision < 1:
            raise ValueError("the target precision is a share between 0 and 1 (say 0.95)")
        train = train.reset_index(drop=True)
        steps = tqdm(total=3 + folds, desc="training", disable=not progress, unit="step")
        if reference.frequent is None:
            reference.learn_frequent_employers(train)
        activity = reference.activity_model(train)
        steps.update(1)
        candidates = retrieve(train, reference, activity)
        features = pair_features(candidates, reference, None)
        b = features["bulletin"].to_numpy(dtype=np.int64)
        held_out_activity = HeldOutActivity(reference, train, folds=folds, seed=seed)
        features["activity_probability"] = held_out_activity.probabilities(features, train, reference)
        features["temp_probability"] = held_out_activity.division_probability(train, TEMP_AGENCY_DIVISION)[b]
        codable = reference.rows_of(train[schema.TRUTH_COLUMN]) >= 0
        answers = NonAnswers().fit(candidates.names, codable)
        share, frequency = NonAnswers.cross_fit(candidates.names, codable, seed=seed)
        features["name_uncodable"], features["name_frequency"] = share[b], np.log1p(frequency)[b]
        steps.update(1)
        truth = labels(features, train, reference)
        matchers = CrossFitted(folds=folds, seed=seed, negatives=negatives).fit(features, truth, progress=steps)
        table = bulletin_table(features, matchers.held_out_, len(train))
        true_rows = reference.rows_of(train[schema.TRUTH_COLUMN])
        correct = (table["row"].to_numpy() >= 0) & (table["row"].to_numpy() == true_rows)
        table["confidence"] = Confidence.held_out(table, correct, seed=seed)
        table["correct"] = correct
        threshold = threshold_for_precision(table["confidence"], correct, precision, margin=margin)
        confidence = Confidence().fit(table, correct)
        steps.update(1)
        steps.close()
        return cls(reference=reference, activity=activity, matchers=matchers, confidence=confidence,
                   threshold=threshold, precision=precision, held_out=table, answers=answers)

    def predict(self, bulletins: pd.DataFrame, *, k: int = 5) -> Prediction:
        """Each bulletin's ``k`` best candidates, the best one with its confidence; turn them into a
        submission with :meth:`Prediction.submission`. The prediction keeps the candidates and the
        seconds each stage took (:data:`STAGES`), to show where the time goes."""
        bulletins = bulletins.reset_index(drop=True)
        clock = _StageClock()
        with clock("retrieve candidates"):
            candidates = retrieve(bulletins, self.reference, self.activity)
        with clock("pair features"):
            features = pair_features(candidates, self.reference, self.activity, self.answers)
        with clock("score"):
            probability = self.matchers.probabilities(features)
            confidence = self.confidence.predict(bulletin_table(features, probability, len(bulletins)))
        with clock("rank"):
            top = ranked(features, probability, k=k)
            first = top["rank"].to_numpy() == 1
            top.loc[first, "confidence"] = confidence[top.loc[first, "bulletin"].to_numpy()]
        return Prediction(top=top, bulletins=bulletins, reference=self.reference, threshold=self.threshold,
                          k=k, candidates=candidates, seconds=clock.seconds)

    def code(self, bulletins: pd.DataFrame, *, k: int = 5, threshold: float | None = None) -> pd.DataFrame:
        """A submission for ``bulletins`` (``CABBI``, ``siret``, ``rank``, ``score``): rank 1 is coded
        when its confidence reaches ``threshold`` (by default the one chosen in training), ranks 2
        to ``k`` list the next candidates with their probabilities."""
        return self.predict(bulletins, k=k).submission(threshold)


#: The stages of :meth:`Coder.predict`, in order, as named in :attr:`Prediction.seconds`.
STAGES = ("retrieve candidates", "pair features", "score", "rank")


class _StageClock:
    """Wall seconds per named stage: ``with clock("score"): ...``."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str):
        tick = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - tick


@dataclass
class Prediction:
    """:meth:`Coder.predict`'s result: ``top`` (each bulletin's best candidates, :func:`ranked`'s
    columns, ``confidence`` of rank 1 from the confidence model), the threshold chosen in training,
    the ``candidates`` retrieved and the ``seconds`` each stage took (:data:`STAGES`)."""

    top: pd.DataFrame
    bulletins: pd.DataFrame
    reference: Reference
    threshold: float
    k: int | None = None  # the ranks kept (None: the deepest in ``top``)
    candidates: Candidates | None = None
    seconds: dict = field(default_factory=dict)

    def submission(self, threshold: float | None = None) -> pd.DataFrame:
        """The submission at ``threshold`` (default: the trained one; 0 codes every bulletin that
        has a candidate, which is how to measure the ranked list's top-k accuracy)."""
        chosen = self.threshold if threshold is None else threshold
        return as_submission(decide(self.top, chosen, len(self.bulletins), k=self.k), self.bulletins,
                             self.reference.register)


class HeldOutActivity:
    """Activity classifiers for labelled bulletins, each learnt without one fold of them.

    A training bulletin's ``activity_probability`` must come from a classifier that did not see it:
    in-sample probabilities would be too good, and the matcher would trust them too much.
    ``fold[i]`` is training bulletin ``i``'s fold, ``models[f]`` the classifier learnt without fold ``f``.
    """

    def __init__(self, reference: Reference, train: pd.DataFrame, *, folds: int = 3, seed: int = 0):
        self.fold = np.random.default_rng(seed + 1).integers(0, folds, len(train))
        self.models = [reference.activity_model(train[self.fold != f]) for f in range(folds)]

    def probabilities(self, features: pd.DataFrame, train: pd.DataFrame, reference: Reference) -> np.ndarray:
        """``activity_probability`` of training pairs (``features``' ``bulletin`` are positions in ``train``)."""
        bulletin = features["bulletin"].to_numpy(dtype=np.int64)
        rows = features["row"].to_numpy(dtype=np.int64)
        ape = reference.register["activitePrincipaleEtablissement"].astype("string").to_numpy(dtype=object,
                                                                                               na_value="")
        text = train["ACTET_X"].to_numpy(dtype=object)
        out = np.zeros(len(features))
        for f, model in enumerate(self.models):
            held = self.fold[bulletin] == f
            out[held] = model.probability_of(text[bulletin[held]], ape[rows[held]])
        return out

    def division_probability(self, train: pd.DataFrame, code: str) -> np.ndarray:
        """For each training bulletin, the held-out probability that its declared activity is in
        ``code``'s division."""
        text = train["ACTET_X"].to_numpy(dtype=object)
        out = np.zeros(len(train))
        for f, model in enumerate(self.models):
            held = self.fold == f
            out[held] = model.probability_of(text[held], [code] * int(held.sum()))
        return out

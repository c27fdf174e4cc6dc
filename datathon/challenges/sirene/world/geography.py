"""Reference geography of one synthetic département: communes, their adjacency, streets, addresses.

Communes sit on a jittered hexagonal grid around the département's centre (Lambert 93 metres),
with heavy-tailed populations and the largest one, the chef-lieu, in the middle. Adjacency is the
Delaunay triangulation of their centroids (long edges dropped), as neighbouring communes share a
border. Every street gets numbered points along a segment: the BAN-like address reference.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import Delaunay

from datathon.schema import nullable_strings
from datathon.challenges.sirene.world import vocabulary as V
from datathon.challenges.sirene.world.draws import choice_cdf, draw

COMMUNE_SPACING_M = 4_500.0  # typical distance between neighbouring commune centres


@dataclass(frozen=True)
class Departement:
    """One département of the synthetic world: its code and its place on the map."""

    code: str
    index: int  # 0-based position in the world; seeds and identifier ranges derive from it
    x: float  # centre, Lambert 93
    y: float

    @property
    def postal_prefix(self) -> str:
        return "20" if self.code in ("2A", "2B") else self.code[:2]


def departement_codes(n: int) -> list[str]:
    """The first ``n`` metropolitan département codes, Ille-et-Vilaine (35) first."""
    codes = [f"{i:02d}" for i in range(1, 96) if i != 20] + ["2A", "2B"]
    codes.remove("35")
    return (["35"] + codes)[:n]


def make_departements(n: int) -> list[Departement]:
    """``n`` départements tiled on a grid over metropolitan France's Lambert 93 extent."""
    codes = departement_codes(n)
    side = int(np.ceil(np.sqrt(n)))
    out = []
    for i, code in enumerate(codes):
        if i == 0:
            x, y = 350_000.0, 6_790_000.0  # where Ille-et-Vilaine lies
        else:
            r, c = divmod(i, side)
            x, y = 150_000.0 + 95_000.0 * c, 6_150_000.0 + 95_000.0 * r
        out.append(Departement(code=code, index=i, x=x, y=y))
    return out


def _commune_root(rng: np.random.Generator) -> str:
    start = V.ROOT_START[rng.integers(len(V.ROOT_START))]
    mid = V.ROOT_MIDDLE[rng.integers(len(V.ROOT_MIDDLE))] if rng.random() < 0.4 else ""
    end = V.ROOT_END[rng.integers(len(V.ROOT_END))]
    word = (start + mid.upper() + end).replace("É", "E")
    return word.capitalize()


def _commune_name(rng: np.random.Generator) -> str:
    u = rng.random()
    if u < 0.18:
        saint = V.SAINTS[rng.integers(len(V.SAINTS))].capitalize()
        name = f"Saint-{saint}"
    elif u < 0.22:
        name = f"Sainte-{V.SAINTES[rng.integers(len(V.SAINTES))].title()}"
    elif u < 0.30:
        name = ("La " if rng.random() < 0.5 else "Le ") + _commune_root(rng)
    else:
        name = _commune_root(rng)
    if rng.random() < 0.22:
        name += "-" + "-".join(w.lower() if w in ("SUR", "DU", "DES", "DE", "LE", "LA", "EN") else w.capitalize()
                               for w in V.COMMUNE_SUFFIXES[rng.integers(len(V.COMMUNE_SUFFIXES))].split("-"))
    return name


def make_communes(rng: np.random.Generator, dep: Departement, n: int, population: int) -> pd.DataFrame:
    """``n`` communes of ``dep`` whose populations sum to about ``population``."""
    # Jittered hexagonal grid, keep the n points closest to the centre.
    side = int(np.ceil(np.sqrt(n * 1.6))) + 2
    ii, jj = np.meshgrid(np.arange(-side, side + 1), np.arange(-side, side + 1))
    gx = (ii + 0.5 * (jj % 2)).ravel() * COMMUNE_SPACING_M
    gy = jj.ravel() * COMMUNE_SPACING_M * np.sqrt(3) / 2
    order = np.argsort(gx**2 + gy**2, kind="stable")[:n]
    x = dep.x + gx[order] + rng.normal(0, COMMUNE_SPACING_M * 0.18, n)
    y = dep.y + gy[order] + rng.normal(0, COMMUNE_SPACING_M * 0.18, n)
    x[0], y[0] = dep.x + gx[order[0]], dep.y + gy[order[0]]

    # Rank-size (Zipf) populations with a mild jitter, as commune sizes follow: every seed gets a
    # comparable urban structure. The chef-lieu (closest to the centre) is the largest by far.
    ranks = np.arange(1, n + 1, dtype=float)
    sizes = ranks ** -1.05 * np.exp(rng.normal(0.0, 0.2, n))
    raw = np.empty(n)
    raw[0] = sizes[0] * 1.5
    raw[1:] = sizes[1:][rng.permutation(n - 1)]
    pop = np.maximum(60, np.round(raw / raw.sum() * population)).astype(np.int64)

    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        name = _commune_name(rng)
        if name not in seen:
            seen.add(name)
            names.append(name)

    # COG codes follow alphabetical order, as INSEE's do.
    alpha = np.argsort(np.array([_sort_key(s) for s in names]), kind="stable")
    step = max(1, min(3, 990 // n))
    codes = np.empty(n, dtype=object)
    for rank, idx in enumerate(alpha):
        codes[idx] = f"{dep.code}{1 + rank * step:03d}"

    # Postal codes: the chef-lieu has its own; others share that of their nearest post-office town.
    n_offices = max(1, n // 6)
    offices = np.argsort(-pop, kind="stable")[:n_offices]
    d2 = (x[:, None] - x[None, offices]) ** 2 + (y[:, None] - y[None, offices]) ** 2
    nearest = offices[np.argmin(d2, axis=1)]
    office_code = {o: f"{dep.postal_prefix}{(k * 10) % 1000:03d}" for k, o in enumerate(offices)}
    office_code[0] = f"{dep.postal_prefix}000"
    postal = [office_code[o] if o in office_code else f"{dep.postal_prefix}000" for o in nearest]
    postal[0] = f"{dep.postal_prefix}000"

    return pd.DataFrame(
        {
            "code_commune": codes.astype(str),
            "nom_commune": names,
            "code_postal": postal,
            "code_departement": dep.code,
            "x": np.round(x, 1),
            "y": np.round(y, 1),
            "population": pop,
        }
    )


def _sort_key(name: str) -> str:
    from datathon.text import simplify

    return simplify(name)


def make_adjacency(communes: pd.DataFrame) -> pd.DataFrame:
    """Adjacent communes (both directions): Delaunay edges shorter than 1.8 × the grid spacing."""
    pts = communes[["x", "y"]].to_numpy()
    codes = communes["code_commune"].to_numpy()
    if len(pts) < 3:
        pairs = [(0, 1)] if len(pts) == 2 else []
    else:
        tri = Delaunay(pts)
        edges = set()
        for a, b, c in tri.simplices:
            for u, v in ((a, b), (b, c), (a, c)):
                edges.add((min(u, v), max(u, v)))
        pairs = sorted(e for e in edges if np.hypot(*(pts[e[0]] - pts[e[1]])) < 1.8 * COMMUNE_SPACING_M)
    a = np.array([p[0] for p in pairs] + [p[1] for p in pairs], dtype=np.int64)
    b = np.array([p[1] for p in pairs] + [p[0] for p in pairs], dtype=np.int64)
    out = pd.DataFrame({"code_commune": codes[a], "code_commune_adjacente": codes[b]})
    return out.sort_values(["code_commune", "code_commune_adjacente"], kind="stable").reset_index(drop=True)


def _street_name(rng: np.random.Generator, type_code: str) -> str:
    if type_code == "LD":
        return V.LIEUX_DITS[rng.integers(len(V.LIEUX_DITS))]
    if type_code == "ZA":
        return V.ZONE_NAMES[rng.integers(len(V.ZONE_NAMES))]
    return V.STREET_NAMES[rng.integers(len(V.STREET_NAMES))]


def make_streets(rng: np.random.Generator, communes: pd.DataFrame) -> pd.DataFrame:
    """Streets of every commune: type, name (BAN and Sirene spellings), geometry, house numbers."""
    from datathon.text import upper_ascii

    type_codes = [t[0] for t in V.STREET_TYPES]
    type_words = {t[0]: t[1] for t in V.STREET_TYPES}
    type_p = np.array([t[2] for t in V.STREET_TYPES])
    type_cdf = choice_cdf(type_p / type_p.sum())
    rows = []
    for c in communes.itertuples(index=False):
        n_streets = int(np.clip(3 + c.population / 220, 3, 600))
        used: set[tuple[str, str]] = set()
        radius = 350 + 12 * np.sqrt(c.population)
        for _ in range(n_streets):
            t = type_codes[draw(rng, type_cdf)]  # as rng.choice(len(type_codes), p=type_p), one draw
            name = _street_name(rng, t)
            if (t, name) in used:
                continue
            used.add((t, name))
            if t == "LD":
                n_numbers = 0  # a lieu-dit has no house numbers
            else:
                n_numbers = int(np.clip(rng.geometric(1 / (8 + c.population / 2500)), 2, 180))
            angle = rng.uniform(0, np.pi)
            offset = rng.uniform(0, radius, 2) * rng.choice([-1, 1], 2)
            ban = f"{type_words[t]} {name}" if t not in ("LD",) else name
            if t == "ZA":
                ban = f"ZA {name}"
            rows.append(
                (c.code_commune, c.nom_commune, c.code_postal, t, upper_ascii(name).replace("'", " "), ban,
                 c.x + offset[0], c.y + offset[1], angle, n_numbers)
            )
    streets = pd.DataFrame(
        rows,
        columns=["code_commune", "nom_commune", "code_postal", "type_voie", "libelle_voie", "nom_voie",
                 "x0", "y0", "angle", "n_numbers"],
    )
    streets.insert(0, "street_id", np.arange(len(streets), dtype=np.int64))
    return streets


def make_addresses(rng: np.random.Generator, streets: pd.DataFrame) -> pd.DataFrame:
    """The BAN-like reference: one point per house number (and one per lieu-dit), with coordinates."""
    n = streets["n_numbers"].to_numpy()
    counts = np.maximum(n, 1)
    sid = np.repeat(streets["street_id"].to_numpy(), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    number = np.arange(counts.sum()) - starts + 1
    has_number = np.repeat(n > 0, counts)
    s = streets.set_index("street_id").loc[sid]
    # Odd numbers on one side, even on the other, 12 m apart.
    along = (number + 1) // 2 * 12.0
    side = np.where(number % 2 == 1, 8.0, -8.0)
    ang = s["angle"].to_numpy()
    x = s["x0"].to_numpy() + along * np.cos(ang) - side * np.sin(ang)
    y = s["y0"].to_numpy() + along * np.sin(ang) + side * np.cos(ang)
    u = rng.random(len(number))
    rep = np.where(u < 0.02, "bis", np.where(u < 0.025, "ter", ""))
    numero = np.where(has_number, number.astype(str), "")
    rep = np.where(has_number, rep, "")
    code_insee = s["code_commune"].to_numpy()
    ids = [f"{ci}_{sd:05d}_{nm or '99999'}{('_' + r) if r else ''}"
           for ci, sd, nm, r in zip(code_insee, sid, numero, rep)]
    return pd.DataFrame(
        {
            "id": ids,
            "numero": nullable_strings(numero),
            "rep": nullable_strings(rep),
            "nom_voie": s["nom_voie"].to_numpy(),
            "code_postal": s["code_postal"].to_numpy(),
            "code_insee": code_insee,
            "nom_commune": s["nom_commune"].to_numpy(),
            "x": np.round(x, 1),
            "y": np.round(y, 1),
            "street_id": sid,
        }
    )

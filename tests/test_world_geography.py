"""datathon/world/geography.py: communes, their adjacency, streets and the BAN-like addresses."""
from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd
import pytest

from datathon.text import simplify, upper_ascii
from datathon.world.geography import (COMMUNE_SPACING_M, Departement, departement_codes, make_addresses,
                                      make_adjacency, make_communes, make_departements, make_streets)

N = 40
POPULATION = 60_000


def world(seed: int, dep: Departement):
    communes = make_communes(np.random.default_rng([seed, 1]), dep, N, POPULATION)
    rng = np.random.default_rng([seed, 2])
    streets = make_streets(rng, communes)
    return communes, make_adjacency(communes), streets, make_addresses(rng, streets)


@pytest.fixture(scope="module", params=[("01", 11), ("2A", 12), ("35", 13)], ids=lambda p: f"dep{p[0]}-seed{p[1]}")
def geo(request):
    code, seed = request.param
    dep = Departement(code=code, index=3, x=700_000.0, y=6_500_000.0)
    return (dep, *world(seed, dep))


def test_departement_codes():
    """Are there 96 distinct metropolitan codes, Ille-et-Vilaine (35) first, Corsica as 2A/2B and no 20?"""
    codes = departement_codes(96)
    assert codes[0] == "35" and len(set(codes)) == 96
    assert "20" not in codes and {"2A", "2B"} <= set(codes)
    assert departement_codes(3) == ["35", "01", "02"]


def test_departements_have_distinct_places():
    """Does every département get its own index, in order, and its own centre?"""
    deps = make_departements(96)
    assert [d.index for d in deps] == list(range(96))
    assert len({(d.x, d.y) for d in deps}) == 96
    assert Departement("2B", 0, 0, 0).postal_prefix == "20" and Departement("35", 0, 0, 0).postal_prefix == "35"


def test_n_communes_with_unique_codes_of_the_departement(geo):
    """Are there n communes, with unique 5-character codes starting with the département's code?"""
    dep, communes, *_ = geo
    assert len(communes) == N
    assert communes["code_commune"].is_unique
    assert communes["code_commune"].str.len().eq(5).all()
    assert communes["code_commune"].str.startswith(dep.code).all()
    assert (communes["code_departement"] == dep.code).all()
    assert communes["nom_commune"].is_unique


def test_codes_follow_the_alphabetical_order_of_names(geo):
    """Do COG codes follow the alphabetical order of the communes' names, as INSEE's do?"""
    _, communes, *_ = geo
    by_code = communes.sort_values("code_commune")["nom_commune"].map(simplify).tolist()
    assert by_code == sorted(by_code)


def test_postal_codes_belong_to_the_departement(geo):
    """Are postal codes 5 digits with the département's postal prefix, the chef-lieu's ending in 000?"""
    dep, communes, *_ = geo
    assert communes["code_postal"].str.fullmatch(r"\d{5}").all()
    assert communes["code_postal"].str.startswith(dep.postal_prefix).all()
    chef_lieu = communes.loc[communes["population"].idxmax()]
    assert chef_lieu["code_postal"] == f"{dep.postal_prefix}000"
    assert communes["code_postal"].nunique() > 1  # small communes share a post office's code, not all one


@pytest.mark.parametrize("seed", [11, 12, 13, 14, 15])
def test_chef_lieu_is_the_largest_and_central(seed):
    """Is the largest commune, by far, the one at the centre of the département?"""
    dep = Departement(code="35", index=0, x=350_000.0, y=6_790_000.0)
    communes = make_communes(np.random.default_rng(seed), dep, N, POPULATION)
    pop = communes["population"].sort_values(ascending=False).to_numpy()
    distance = np.hypot(communes["x"] - dep.x, communes["y"] - dep.y)
    assert communes["population"].idxmax() == distance.idxmin()
    assert pop[0] > 1.5 * pop[1]
    assert abs(pop.sum() - POPULATION) < 0.05 * POPULATION
    assert (pop >= 60).all()


def test_adjacency_is_symmetric_without_loops(geo):
    """Is every pair listed both ways, never a commune with itself, only known codes?"""
    _, communes, adjacency, *_ = geo
    pairs = set(zip(adjacency["code_commune"], adjacency["code_commune_adjacente"]))
    assert len(pairs) == len(adjacency)
    assert all((b, a) in pairs for a, b in pairs)
    assert all(a != b for a, b in pairs)
    assert set(adjacency["code_commune"]) <= set(communes["code_commune"])


def test_adjacency_joins_near_communes_into_one_map(geo):
    """Does every commune have a neighbour, all close by, and can one walk from any commune to any other?"""
    _, communes, adjacency, *_ = geo
    neighbours = adjacency.groupby("code_commune")["code_commune_adjacente"].apply(list).to_dict()
    assert set(neighbours) == set(communes["code_commune"])
    xy = communes.set_index("code_commune")[["x", "y"]]
    a, b = xy.loc[adjacency["code_commune"]].to_numpy(), xy.loc[adjacency["code_commune_adjacente"]].to_numpy()
    assert (np.hypot(*(a - b).T) < 1.8 * COMMUNE_SPACING_M).all()
    assert np.mean([len(v) for v in neighbours.values()]) > 3
    start = communes["code_commune"].iloc[0]
    seen, todo = {start}, deque([start])
    while todo:
        for nb in neighbours[todo.popleft()]:
            if nb not in seen:
                seen.add(nb)
                todo.append(nb)
    assert seen == set(communes["code_commune"])


def test_every_commune_has_streets_with_upper_case_sirene_labels(geo):
    """Has every commune at least 3 streets, bigger ones more, Sirene labels in upper-case ASCII?"""
    _, communes, _, streets, _ = geo
    per_commune = streets.groupby("code_commune").size()
    assert set(per_commune.index) == set(communes["code_commune"])
    assert per_commune.min() >= 3
    pop = communes.set_index("code_commune")["population"]
    assert per_commune[pop.idxmax()] > per_commune.median()
    assert (streets["libelle_voie"] == streets["libelle_voie"].map(upper_ascii)).all()
    assert not streets["libelle_voie"].str.contains("'").any()


def test_address_ids_are_unique(geo):
    """Is every address point's id unique, as BAN ids are?"""
    *_, addresses = geo
    assert addresses["id"].is_unique
    assert addresses["id"].notna().all()


def test_addresses_carry_their_commune(geo):
    """Does each address point carry its commune's code, name and postal code?"""
    _, communes, _, _, addresses = geo
    c = communes.set_index("code_commune")
    assert set(addresses["code_insee"]) == set(communes["code_commune"])
    assert (addresses["nom_commune"].to_numpy() == c.loc[addresses["code_insee"], "nom_commune"].to_numpy()).all()
    assert (addresses["code_postal"].to_numpy() == c.loc[addresses["code_insee"], "code_postal"].to_numpy()).all()


def test_address_coordinates_are_near_their_commune(geo):
    """Is every address point within the commune's reach (less than 1.5 grid steps from its centre)?"""
    _, communes, _, _, addresses = geo
    c = communes.set_index("code_commune")
    dx = addresses["x"].to_numpy() - c.loc[addresses["code_insee"], "x"].to_numpy()
    dy = addresses["y"].to_numpy() - c.loc[addresses["code_insee"], "y"].to_numpy()
    distance = np.hypot(dx, dy)
    assert distance.max() < 1.5 * COMMUNE_SPACING_M
    assert np.median(distance) < 0.5 * COMMUNE_SPACING_M


def test_house_numbers_are_one_to_n_and_lieux_dits_have_none(geo):
    """Are a street's numbers 1..n without gaps, and lieux-dits single points without a number?"""
    _, _, _, streets, addresses = geo
    numbered = addresses[addresses["numero"].notna()]
    by_street = numbered.groupby("street_id")["numero"].apply(lambda s: sorted(map(int, s)))
    assert all(v == list(range(1, len(v) + 1)) for v in by_street)
    lieux_dits = streets.loc[streets["type_voie"] == "LD", "street_id"]
    points = addresses[addresses["street_id"].isin(lieux_dits)]
    assert len(points) == len(lieux_dits)
    assert points["numero"].isna().all() and points["rep"].isna().all()
    assert set(addresses["rep"].dropna()) <= {"bis", "ter"}


def test_same_seed_same_geography():
    """Does the same seed give the same communes, adjacency and addresses, another seed others?"""
    dep = Departement(code="35", index=0, x=350_000.0, y=6_790_000.0)
    first, again, other = world(11, dep), world(11, dep), world(12, dep)
    for a, b in zip(first, again):
        pd.testing.assert_frame_equal(a, b)
    assert not first[0]["nom_commune"].equals(other[0]["nom_commune"])


def test_sample_world_geography(world_frames):
    """Does the sample world hold 150 communes of département 35, each with a neighbour and addresses?"""
    communes = world_frames["communes"]
    adjacency = world_frames["communes_adjacentes"]
    addresses = world_frames["adresses"]
    assert len(communes) == 150 and communes["code_commune"].str.startswith("35").all()
    assert communes["code_commune"].is_unique
    assert list(adjacency.columns) == ["code_commune", "code_commune_adjacente"]
    assert set(adjacency["code_commune"]) == set(communes["code_commune"])
    assert set(adjacency["code_commune_adjacente"]) == set(communes["code_commune"])
    assert addresses["id"].is_unique
    assert set(addresses["code_insee"]) == set(communes["code_commune"])

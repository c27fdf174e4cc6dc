"""The synthetic Sirene register of one département, in the official stock's column names.

Establishments are built by kind, each kind a documented mechanism of real registers:

``independent``   one-establishment businesses: sole proprietors (named by nomUniteLegale /
                  prenom1UniteLegale) and companies, often trading under a sign
``regional``      companies with a few establishments in neighbouring communes
``chain``         national chains: the brand's own legal unit, one establishment per town
``franchise``     a local legal unit with an invented name trading under a national brand
``bank``          national banks and their agencies
``temp_agency``   temporary-work agencies; most of their staff work at client companies
``mairie``, ``municipal_service``  each commune's town hall and services (schools' staff,
                  nursery, technical services, library, pool)
``eple``          collèges and lycées, public legal units of their own
``dsden``         the Éducation nationale's departmental office, employer of primary teachers
``hospital``, ``ehpad``  public hospitals (the chef-lieu's CHU has several sites), care homes
``association``   associations

Two register-level noise mechanisms (rates in :mod:`datathon.challenges.sirene.world.noise`) add difficulty:
``homonym_nearby`` copies a business's name to another business of the same trade in an adjacent
commune, and ``closed_distractor`` adds closed establishments (moved or ceased businesses) with the
names of open ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from datathon.challenges.sirene.luhn import with_luhn_key
from datathon.challenges.sirene.naf import nomenclature
from datathon.schema import ETABLISSEMENTS, TRANCHES, nullable_strings
from datathon.text import of_place, upper_ascii
from datathon.challenges.sirene.world import vocabulary as V
from datathon.challenges.sirene.world.draws import draw
from datathon.challenges.sirene.world.geography import Departement

# Share of establishments by NAF division (the rest spread evenly over the other divisions).
DIVISION_WEIGHTS = {
    "01": 6.0, "10": 1.5, "16": 0.5, "22": 0.4, "25": 1.0, "28": 0.5, "31": 0.3, "33": 0.6,
    "41": 2.0, "42": 0.6, "43": 9.0, "45": 3.0, "46": 5.0, "47": 11.0, "49": 2.0, "52": 0.7,
    "55": 1.5, "56": 5.0, "62": 2.0, "64": 0.6, "66": 1.0, "68": 6.0, "69": 3.0, "70": 3.0,
    "71": 2.5, "73": 1.0, "74": 2.0, "77": 1.0, "81": 2.0, "82": 1.5, "85": 1.5, "86": 6.0,
    "88": 1.0, "90": 1.0, "93": 2.0, "94": 2.0, "95": 0.8, "96": 4.0,
}
OTHER_DIVISIONS_WEIGHT = 4.0

SIZE_PROFILES = {  # distribution of trancheEffectifsEtablissement by kind of activity
    "micro": {"NN": .30, "00": .28, "01": .18, "02": .11, "03": .07, "11": .04, "12": .015, "21": .004, "22": .001},
    "small": {"NN": .15, "00": .15, "01": .18, "02": .17, "03": .13, "11": .11, "12": .07, "21": .025,
              "22": .01, "31": .003, "32": .002},
    "industry": {"NN": .08, "00": .10, "01": .12, "02": .13, "03": .13, "11": .15, "12": .14, "21": .07,
                 "22": .05, "31": .01, "32": .015, "41": .005, "42": .002},
}


def size_profile(division: str) -> str:
    d = int(division)
    if 10 <= d <= 33 or d in (49, 52):
        return "industry"
    if 41 <= d <= 47 or d in (55, 56, 62, 86, 87, 88):
        return "small"
    return "micro"


@dataclass
class Brand:
    """A national brand: integrated chain (its own legal unit) or franchise network."""

    name: str
    naf: str
    tranches: tuple[str, ...]
    min_population: int
    probability: float
    franchise: bool
    legal_name: str
    siren: str
    categorie: str = "5710"


@dataclass
class NationalUnits:
    """Legal units present in every département (banks, chains, temp agencies, the ministry)."""

    brands: list[Brand] = field(default_factory=list)
    banks: list[Brand] = field(default_factory=list)
    temp_agencies: list[Brand] = field(default_factory=list)
    ministry_siren: str = ""


def national_siren(k: int) -> str:
    """SIREN of the k-th national legal unit (a range no département uses)."""
    return f"{int(with_luhn_key(np.array([97_000_000 + k]), 9)[0]):09d}"


def make_national_units(rng: np.random.Generator) -> NationalUnits:
    """Draw the national brands, banks and temp-agency networks of the world."""
    units = NationalUnits()
    starts = list(V.BRAND_START)
    rng.shuffle(starts)
    it = iter(starts)
    k = 0

    def nxt() -> str:
        return next(it)

    chain_specs = [  # (suffix, naf, tranches, min population, probability)
        ("MARKET", "47.11D", ("12", "21"), 2500, 0.55), ("PRIX", "47.11F", ("21", "22"), 8000, 0.7),
        ("BRICO", "47.52B", ("11", "12"), 6000, 0.6), ("MODE", "47.71Z", ("02", "03"), 9000, 0.5),
        ("BURGER", "56.10C", ("11", "12"), 9000, 0.6), ("AUTO", "45.20A", ("02", "03", "11"), 4000, 0.45),
        ("OPTIC", "47.78A", ("01", "02"), 5000, 0.5), ("HOTEL", "55.10Z", ("03", "11"), 12000, 0.5),
        ("SPORT", "47.64Z", ("11", "12"), 15000, 0.5), ("JARDIN", "47.76Z", ("03", "11"), 7000, 0.4),
        ("PAIN", "10.71C", ("02", "03"), 5000, 0.4), ("COIFF", "96.02A", ("01", "02"), 3000, 0.5),
    ]
    for suffix, naf, tranches, minpop, prob in chain_specs:
        brand = f"{nxt()} {suffix}" if rng.random() < 0.5 else f"{nxt()}{suffix}"
        franchise = bool(rng.random() < 0.45)
        legal = rng.choice([f"{brand} FRANCE", f"SOCIETE {brand} DISTRIBUTION", f"{brand} SERVICES",
                            f"GROUPE {brand.split()[0]}"])
        units.brands.append(Brand(brand, naf, tranches, minpop, prob, franchise, str(legal), national_siren(k)))
        k += 1
    for name, legal in [("CREDIT ARMORICAIN", "CAISSE REGIONALE DE CREDIT ARMORICAIN"),
                        ("BANQUE DE L OUEST", "BANQUE DE L OUEST ATLANTIQUE"),
                        ("SOCIETE BRETONNE", "SOCIETE BRETONNE DE BANQUE"),
                        ("EPARGNE VILAINE", "CAISSE D EPARGNE ARMOR VILAINE")]:
        units.banks.append(Brand(name, "64.19Z", ("02", "03", "11"), 1500, 0.55, False, legal,
                                 national_siren(k), "5560"))
        k += 1
    for name in ["INTERIM OUEST", "PROMOTRAVAIL", "TEMPORIS EMPLOI"]:
        units.temp_agencies.append(Brand(name, "78.20Z", ("21", "22"), 3000, 0.8, False, f"{name} SAS",
                                         national_siren(k)))
        k += 1
    units.ministry_siren = national_siren(k)
    return units


class RegisterBuilder:
    """Accumulates the establishments of one département, then returns the register frame."""

    def __init__(self, rng: np.random.Generator, dep: Departement, communes: pd.DataFrame,
                 streets: pd.DataFrame, addresses: pd.DataFrame, adjacency: pd.DataFrame, rates: dict,
                 capacity: int = 1_000_000):
        self.rng = rng
        self.dep = dep
        self.rates = rates
        self.communes = communes.reset_index(drop=True)
        self.commune_names = dict(zip(communes["code_commune"], communes["nom_commune"]))
        self.commune_postal = dict(zip(communes["code_commune"], communes["code_postal"]))
        self.pop = dict(zip(communes["code_commune"], communes["population"]))
        self.commune_upper = {c: upper_ascii(n) for c, n in self.commune_names.items()}
        # Per commune: its streets as lists, and cumulative weights for ordinary, business-zone and
        # town-centre addresses. Plain Python values: addresses are drawn one at a time, where
        # numpy's per-call cost would dominate.
        first_point = (addresses.groupby("street_id", sort=False).cumcount() == 0).to_numpy()
        first_row = pd.Series(np.flatnonzero(first_point), index=addresses["street_id"].to_numpy()[first_point])
        street_ids = streets["street_id"].to_numpy()
        street_types = streets["type_voie"].to_numpy()
        street_labels = streets["libelle_voie"].to_numpy()
        street_numbers = streets["n_numbers"].to_numpy()
        street_first_row = first_row.loc[street_ids].to_numpy()
        self.street_table = {}
        for code, at in streets.groupby("code_commune", sort=False).indices.items():
            types = street_types[at]
            w = np.ones(len(at))
            zone = w.copy()
            zone[types == "ZA"] *= 25
            zone[types == "RTE"] *= 4
            central = w.copy()
            central[np.isin(types, ["PL", "RUE", "AV", "BD"])] *= 4
            central[np.isin(types, ["LD", "ZA", "CHE"])] *= 0.1
            self.street_table[code] = (
                street_ids[at].tolist(), types.tolist(), street_labels[at].tolist(), street_numbers[at].tolist(),
                street_first_row[at].tolist(),
                {"": (np.cumsum(w) / w.sum()).tolist(), "zone": (np.cumsum(zone) / zone.sum()).tolist(),
                 "central": (np.cumsum(central) / central.sum()).tolist()},
            )
        # Sirene's coordinates are to the decimetre: rounded once per address point, not per use.
        self.ax = [round(x, 1) for x in addresses["x"].tolist()]
        self.ay = [round(y, 1) for y in addresses["y"].tolist()]
        self.arep = addresses["rep"].fillna("").tolist()
        self.neighbours = adjacency.groupby("code_commune")["code_commune_adjacente"].apply(list).to_dict()
        self.rows: list[dict] = []
        # Local SIRENs come from this département's own range, without repetition.
        # Each département draws SIRENs from blocks of its own: public bodies' start with 2 (as
        # communes', schools' and hospitals' do), companies' and sole proprietors' with 3 to 8.
        self._siren_pool = with_luhn_key(30_000_000 + dep.index * 600_000 + rng.permutation(600_000)[:capacity],
                                         9).tolist()
        self._siren_next = 0
        self._public_pool = with_luhn_key(20_000_000 + dep.index * 100_000 + rng.permutation(100_000)[:20_000],
                                          9).tolist()
        self._public_next = 0
        self._national_nic: dict[str, int] = {}
        self._tranche_cdf = {k: (list(p), (np.cumsum(list(p.values())) / sum(p.values())).tolist())
                             for k, p in SIZE_PROFILES.items()}
        nom = nomenclature()
        self.naf_by_division = nom.groupby("division")["code"].apply(list).to_dict()
        self.size_profiles = {d: size_profile(d) for d in self.naf_by_division}
        # A commune's name as it appears inside business names ("SAINT AUBIN DU CORMIER").
        self.town_words = {c: n.replace("-", " ").replace("'", " ") for c, n in self.commune_upper.items()}

    # -- identifiers --------------------------------------------------------------------------
    def new_siren(self, public: bool = False) -> str:
        if public:
            siren = self._public_pool[self._public_next]
            self._public_next += 1
        else:
            siren = self._siren_pool[self._siren_next]
            self._siren_next += 1
        return f"{siren:09d}"

    def national_nic(self, siren: str) -> int:
        """National units number their establishments by département: 100 NICs each."""
        k = self._national_nic.get(siren, 0) + 1
        self._national_nic[siren] = k
        return min(self.dep.index * 100 + k, 9999)

    # -- addresses ----------------------------------------------------------------------------
    def address(self, code_commune: str, zone: bool = False, central: bool = False) -> dict:
        sids, types, labels, n_numbers, first_rows, cdfs = self.street_table[code_commune]
        cdf = cdfs["zone" if zone else "central" if central else ""]
        i = draw(self.rng, cdf)
        n = n_numbers[i]
        row = first_rows[i]
        number = None
        if n > 0:
            k = int(self.rng.integers(n))
            number = str(k + 1)
            row += k
        return {
            "numeroVoieEtablissement": number,
            "indiceRepetitionEtablissement": _REP_CODES.get(self.arep[row]) if number else None,
            "typeVoieEtablissement": None if types[i] == "LD" else types[i],
            "libelleVoieEtablissement": labels[i],
            "codePostalEtablissement": self.commune_postal[code_commune],
            "libelleCommuneEtablissement": self.commune_upper[code_commune],
            "codeCommuneEtablissement": code_commune,
            "coordonneeLambertAbscisseEtablissement": self.ax[row],
            "coordonneeLambertOrdonneeEtablissement": self.ay[row],
            "_street_id": sids[i],
        }

    # -- establishments -----------------------------------------------------------------------
    def tranche(self, profile: str | tuple[str, ...]) -> str:
        if isinstance(profile, tuple):
            return str(profile[self.rng.integers(len(profile))])
        keys, cdf = self._tranche_cdf[profile]
        return keys[draw(self.rng, cdf)]

    def headcount(self, tranche: str) -> int:
        lo, hi = TRANCHES[tranche]
        return int(self.rng.integers(lo, hi + 1)) if hi > 0 else 0

    def add(self, *, siren: str, nic: int, commune: str, naf: str, kind: str, known_name: str,
            tranche: str, legal: dict, sign: str | None = None, usual: str | None = None,
            siege: bool = False, zone: bool = False, central: bool = False, headcount: int | None = None,
            teacher_share: float = 0.0, temp_share: float = 0.0, complement: str | None = None,
            address: dict | None = None, state: str = "A") -> dict:
        # A sign is not always recorded in the register: people know it, Sirene may not.
        recorded_sign = sign if sign and self.rng.random() >= self.rates["sign_not_in_register"] else None
        row = {
            "siren": siren,
            "nic": nic,
            "etatAdministratifEtablissement": state,
            "etablissementSiege": "true" if siege else "false",
            "trancheEffectifsEtablissement": tranche,
            "activitePrincipaleEtablissement": naf,
            "enseigne1Etablissement": recorded_sign,
            "denominationUsuelleEtablissement": usual,
            "complementAdresseEtablissement": complement,
            **(address or self.address(commune, zone=zone, central=central)),
            **legal,
            "_kind": kind,
            "_known_name": known_name,
            "_sign": sign,
            "_headcount": self.headcount(tranche) if headcount is None else headcount,
            "_teacher_share": teacher_share,
            "_temp_share": temp_share,
        }
        self.rows.append(row)
        return row

    @staticmethod
    def legal(denomination=None, sigle=None, nom=None, prenom=None, categorie="5499", naf=None) -> dict:
        return {
            "denominationUniteLegale": denomination,
            "sigleUniteLegale": sigle,
            "nomUniteLegale": nom,
            "prenom1UniteLegale": prenom,
            "categorieJuridiqueUniteLegale": categorie,
            "activitePrincipaleUniteLegale": naf,
        }

    def pick(self, items):
        return items[self.rng.integers(len(items))]

    def surname(self) -> str:
        return V.SURNAME_POOL[draw(self.rng, _SURNAME_CDF)]

    # -- the kinds ------------------------------------------------------------------------------
    def public_sector(self, national: NationalUnits) -> None:
        chef_lieu = self.communes.loc[self.communes["population"].idxmax(), "code_commune"]
        for c in self.communes.itertuples(index=False):
            name = upper_ascii(c.nom_commune).replace("-", " ").replace("'", " ")
            siren = self.new_siren(public=True)
            legal = self.legal(f"COMMUNE {of_place(name)}", categorie="7210", naf="84.11Z")
            staff = max(1, int(c.population * 0.02))
            self.add(siren=siren, nic=1, commune=c.code_commune, naf="84.11Z", kind="mairie",
                     known_name=f"MAIRIE {of_place(name)}", tranche=_band(staff), headcount=staff, legal=legal,
                     usual="MAIRIE", siege=True, central=True)
            services = []
            if c.population >= 1200:
                services += [("ECOLE PUBLIQUE " + self.pick(V.PERSONS), "85.20Z"), ("RESTAURANT SCOLAIRE", "56.29B")]
            if c.population >= 2500:
                services += [("SERVICES TECHNIQUES", "84.11Z")]
            if c.population >= 5000:
                services += [("CRECHE MUNICIPALE", "88.91A"), ("MEDIATHEQUE", "91.01Z")]
            if c.population >= 15000:
                services += [("PISCINE MUNICIPALE", "93.11Z"), ("CENTRE TECHNIQUE MUNICIPAL", "84.11Z"),
                             ("ECOLE MATERNELLE PUBLIQUE " + self.pick(V.PERSONS), "85.10Z")]
            for k, (usual, naf) in enumerate(services, start=2):
                staff = max(2, int(c.population * 0.006 * self.rng.uniform(0.5, 1.5)))
                self.add(siren=siren, nic=k, commune=c.code_commune, naf=naf, kind="municipal_service",
                         known_name=usual, tranche=_band(staff), headcount=staff, legal=legal, usual=usual)
            # Collèges and lycées: public legal units of their own (EPLE).
            n_colleges = int(c.population // 6000) + (1 if 2000 <= c.population < 6000 else 0)
            n_lycees = int(c.population // 12000) + (1 if 6000 <= c.population < 12000 else 0)
            for kind_name, naf, count, staff_range in [("COLLEGE", "85.31Z", n_colleges, (50, 110)),
                                                        ("LYCEE", "85.31Z", n_lycees, (100, 250)),
                                                        ("LYCEE PROFESSIONNEL", "85.32Z",
                                                         n_lycees // 2 + (1 if n_lycees and self.rng.random() < 0.5 else 0),
                                                         (70, 160))]:
                for _ in range(count):
                    school = f"{kind_name} {self.pick(V.PERSONS)}"
                    staff = int(self.rng.integers(*staff_range))
                    self.add(siren=self.new_siren(public=True), nic=1, commune=c.code_commune, naf=naf, kind="eple",
                             known_name=school, tranche=_band(staff), headcount=staff, teacher_share=0.75,
                             legal=self.legal(school, categorie="7331", naf=naf), siege=True)
            # Hospitals and care homes.
            if c.code_commune == chef_lieu:
                chu = f"CENTRE HOSPITALIER UNIVERSITAIRE {of_place(name)}"
                legal_chu = self.legal(chu, sigle="CHU", categorie="7364", naf="86.10Z")
                sites = [("CHU " + name, 0.5), ("HOPITAL " + self.pick(V.PERSONS), 0.3), ("HOPITAL SUD", 0.2)]
                total = int(self.communes["population"].sum() * 0.015)
                siren_chu = self.new_siren(public=True)
                for k, (site, share) in enumerate(sites, start=1):
                    staff = int(total * share)
                    self.add(siren=siren_chu, nic=k, commune=c.code_commune, naf="86.10Z", kind="hospital",
                             known_name=site, tranche=_band(staff), headcount=staff, legal=legal_chu,
                             usual=site, siege=k == 1)
                # The DSDEN: primary teachers' employer, in the chef-lieu.
                staff = int(self.communes["population"].sum() * 0.01)
                self.add(siren=national.ministry_siren, nic=self.national_nic(national.ministry_siren),
                         commune=c.code_commune, naf="84.12Z", kind="dsden",
                         known_name="DIRECTION DES SERVICES DEPARTEMENTAUX DE L EDUCATION NATIONALE",
                         tranche=_band(staff), headcount=staff, teacher_share=0.95,
                         usual="DIRECTION DES SERVICES DEPARTEMENTAUX DE L EDUCATION NATIONALE",
                         legal=self.legal("MINISTERE DE L EDUCATION NATIONALE", categorie="7120", naf="84.12Z"))
            elif c.population >= 12000:
                hosp = f"CENTRE HOSPITALIER {of_place(name)}"
                staff = int(c.population * 0.03)
                self.add(siren=self.new_siren(public=True), nic=1, commune=c.code_commune, naf="86.10Z", kind="hospital",
                         known_name=hosp, tranche=_band(staff), headcount=staff, siege=True,
                         legal=self.legal(hosp, sigle="CH", categorie="7364", naf="86.10Z"))
            if c.population >= 1500 and self.rng.random() < 0.5:
                ehpad = f"EHPAD {self.pick(V.PERSONS)}"
                staff = int(self.rng.integers(25, 90))
                public = self.rng.random() < 0.5
                self.add(siren=self.new_siren(public=public), nic=1, commune=c.code_commune, naf="87.10A", kind="ehpad",
                         known_name=ehpad, tranche=_band(staff), headcount=staff, siege=True,
                         legal=self.legal(ehpad if public else f"ASSOCIATION {ehpad}",
                                          categorie="7364" if public else "9220", naf="87.10A"))

    def national_networks(self, national: NationalUnits) -> None:
        for c in self.communes.itertuples(index=False):
            town = upper_ascii(c.nom_commune).replace("-", " ").replace("'", " ")
            for brand in national.brands:
                if c.population < brand.min_population or self.rng.random() > brand.probability:
                    continue
                sign = brand.name if self.rng.random() < 0.7 else f"{brand.name} {town}"
                tranche = self.tranche(brand.tranches)
                if brand.franchise:  # a local company with an invented name operates the brand
                    legal_name = f"{self.pick(V.BRAND_START)}{self.pick(['DIS', 'COM', 'MAG', 'SO', 'DEV'])}"
                    form, cat = self.legal_form()
                    self.add(siren=self.new_siren(), nic=1, commune=c.code_commune, naf=brand.naf, kind="franchise",
                             known_name=sign, sign=sign, tranche=tranche, siege=True, zone=self.rng.random() < 0.5,
                             legal=self.legal(legal_name, categorie=cat, naf=brand.naf))
                else:
                    self.add(siren=brand.siren, nic=self.national_nic(brand.siren), commune=c.code_commune,
                             naf=brand.naf, kind="chain", known_name=sign, sign=sign, tranche=tranche,
                             zone=self.rng.random() < 0.5,
                             legal=self.legal(brand.legal_name, categorie=brand.categorie, naf=brand.naf))
            for bank in national.banks:
                if c.population < bank.min_population or self.rng.random() > bank.probability:
                    continue
                self.add(siren=bank.siren, nic=self.national_nic(bank.siren), commune=c.code_commune, naf=bank.naf,
                         kind="bank", known_name=bank.name, tranche=self.tranche(bank.tranches), central=True,
                         sign=f"AGENCE {of_place(town)}" if self.rng.random() < 0.3 else None,
                         legal=self.legal(bank.legal_name, sigle=_initials(bank.legal_name),
                                          categorie=bank.categorie, naf=bank.naf))
            for agency in national.temp_agencies:
                if c.population < agency.min_population or self.rng.random() > agency.probability:
                    continue
                # Temp workers are about 3 % of employment: most of an agency's staff is placed.
                staff = int(self.rng.integers(150, 200 + c.population // 20))
                self.add(siren=agency.siren, nic=self.national_nic(agency.siren), commune=c.code_commune,
                         naf=agency.naf, kind="temp_agency", known_name=agency.name, tranche=_band(staff),
                         headcount=staff, temp_share=0.9, central=True,
                         legal=self.legal(agency.legal_name, categorie=agency.categorie, naf=agency.naf))

    def legal_form(self) -> tuple[str, str]:
        forms = V.LEGAL_FORMS
        f = forms[draw(self.rng, _LEGAL_FORM_CDF)]
        return f[0], f[1]

    def business_name(self, division: str, town: str) -> tuple[str, str | None]:
        """A company's legal name and, for some, the sign it trades under."""
        trade = V.TRADE_WORDS.get(division)
        surname = self.surname()
        u = self.rng.random()
        if trade and u < 0.45:
            legal = f"{self.pick(trade)} {surname}" if self.rng.random() < 0.6 else f"{surname} {self.pick(trade)}"
        elif u < 0.6:
            legal = self.pick([f"{surname} ET FILS", f"ETABLISSEMENTS {surname}", f"{surname}",
                               f"SOCIETE {surname}", f"{surname} {self.surname()}"])
        elif u < 0.8:
            legal = f"{self.pick(V.BRAND_START)}{self.pick(V.BRAND_END)}" if self.rng.random() < 0.5 \
                else f"{self.pick(V.BRAND_START)} {self.pick(V.BRAND_END)}"
        else:
            word = self.pick(trade) if trade else self.pick(V.BRAND_END)
            legal = f"{word} {of_place(town)}" if self.rng.random() < 0.5 else f"{word} {self.pick(V.BRAND_START)}"
        sign = None
        if division in ("47", "56", "55", "96", "10", "45") and self.rng.random() < 0.55:
            noun = self.pick(V.SHOP_NOUNS)
            sign = self.pick([f"LE {self.pick(V.SHOP_ADJECTIVES)} {noun}", f"AU {noun}",
                              f"{self.pick(trade) if trade else 'MAISON'} DU {noun}", f"LE {noun} {town}"])
        return legal, sign

    def independents(self, n_target: int) -> None:
        divisions = sorted(self.naf_by_division)
        w = np.array([DIVISION_WEIGHTS.get(d, OTHER_DIVISIONS_WEIGHT / 40) for d in divisions])
        w[np.isin(divisions, ["84", "85", "64", "78"])] *= 0.3  # public sector and networks are built apart
        w = w / w.sum()
        communes = self.communes["code_commune"].to_numpy()
        cw = self.communes["population"].to_numpy() ** 1.05
        cw = cw / cw.sum()
        n = max(0, n_target - len(self.rows))
        made = 0
        # Draw divisions and communes for all at once: weighted choices are slow one by one.
        draws = n + 16
        division_draws = self.rng.choice(len(divisions), size=draws, p=w)
        commune_draws = self.rng.choice(len(communes), size=draws, p=cw)
        while made < n:
            division = divisions[division_draws[made % draws]]
            naf = self.pick(self.naf_by_division[division])
            commune = communes[commune_draws[made % draws]]
            town = self.town_words[commune]
            profile = self.size_profiles[division]
            zone = profile == "industry"
            if division in ("94", "88", "93", "90") and self.rng.random() < 0.7:
                label = self.pick(["ASSOCIATION", "CLUB", "AMICALE", "COMITE", "ADMR"])
                name = f"{label} {self.pick([town, self.pick(V.PERSONS), self.pick(V.BRAND_START)])}"
                self.add(siren=self.new_siren(), nic=1, commune=commune, naf=naf, kind="association",
                         known_name=name, tranche=self.tranche("micro"), siege=True,
                         legal=self.legal(name, categorie="9220", naf=naf))
                made += 1
                continue
            if self.rng.random() < 0.4 and profile != "industry":  # a sole proprietor
                nom, prenom = self.surname(), self.pick(V.FIRST_NAMES)
                trade = V.TRADE_WORDS.get(division)
                sign = None
                if self.rng.random() < 0.5:
                    sign = f"{self.pick(trade)} {nom}" if trade else f"{nom} {self.pick(V.BRAND_END)}"
                self.add(siren=self.new_siren(), nic=1, commune=commune, naf=naf, kind="independent",
                         known_name=sign or f"{nom} {prenom}", sign=sign, tranche=self.tranche("micro"),
                         siege=True, legal=self.legal(nom=nom, prenom=prenom, categorie="1000", naf=naf))
                made += 1
                continue
            legal_name, sign = self.business_name(division, town)
            form, cat = self.legal_form()
            sigle = _initials(legal_name) if len(legal_name.split()) >= 3 and self.rng.random() < 0.3 else None
            siren = self.new_siren()
            legal = self.legal(legal_name, sigle=sigle, categorie=cat, naf=naf)
            self.add(siren=siren, nic=1, commune=commune, naf=naf, kind="independent", known_name=legal_name,
                     sign=sign, tranche=self.tranche(profile), siege=True, zone=zone, legal=legal)
            made += 1
            # Some companies have a few establishments in nearby communes.
            if self.rng.random() < 0.05:
                near = [commune] + self.neighbours.get(commune, [])
                for k in range(2, 2 + int(self.rng.integers(1, 5))):
                    self.add(siren=siren, nic=k, commune=self.pick(near), naf=naf, kind="regional",
                             known_name=legal_name, sign=sign, tranche=self.tranche(profile), zone=zone,
                             legal=legal)
                    made += 1

    def homonyms(self) -> None:
        """``homonym_nearby``: a business takes the name of one of the same trade next door."""
        # Only one-establishment units: a legal unit's name is the same on all its establishments.
        per_siren: dict[str, int] = {}
        for r in self.rows:
            per_siren[r["siren"]] = per_siren.get(r["siren"], 0) + 1
        by_key: dict[tuple[str, str], list[int]] = {}
        for i, r in enumerate(self.rows):
            if r["_kind"] == "independent":
                by_key.setdefault((r["codeCommuneEtablissement"], r["activitePrincipaleEtablissement"][:2]), []).append(i)
        originals = {i: {col: r[col] for col in HOMONYM_COLUMNS} for i, r in enumerate(self.rows)
                     if r["_kind"] == "independent"}
        # Names are copied, never SIRENs or places: each (commune, division)'s pool is fixed, build it once.
        pools: dict[tuple[str, str], list[int]] = {}

        def one_establishment_units(key: tuple[str, str]) -> list[int]:
            pool = pools.get(key)
            if pool is None:
                pool = pools[key] = [j for j in by_key.get(key, []) if per_siren[self.rows[j]["siren"]] == 1]
            return pool

        for i, r in enumerate(self.rows):
            if r["_kind"] != "independent" or per_siren[r["siren"]] > 1 \
                    or self.rng.random() >= self.rates["homonym_nearby"]:
                continue
            neighbours = list(self.neighbours.get(r["codeCommuneEtablissement"], []))
            self.rng.shuffle(neighbours)
            for nb in neighbours:
                pool = one_establishment_units((nb, r["activitePrincipaleEtablissement"][:2]))
                if pool:
                    # Copy a name as it was first drawn, never one already copied: no pile-ups.
                    r.update(originals[self.pick(pool)])
                    break

    def closed_distractors(self) -> None:
        """``closed_distractor``: moved establishments and ceased businesses stay in the register, closed."""
        open_rows = list(self.rows)
        nic_max: dict[str, int] = {}
        for r in open_rows:
            nic_max[r["siren"]] = max(nic_max.get(r["siren"], 0), r["nic"])
        for r in open_rows:
            if r["_kind"] in ("mairie", "dsden") or self.rng.random() >= self.rates["closed_distractor"]:
                continue
            near = [r["codeCommuneEtablissement"]] + self.neighbours.get(r["codeCommuneEtablissement"], [])
            commune = self.pick(near)
            closed = dict(r)
            closed.update(self.address(commune))
            closed["etatAdministratifEtablissement"] = "F"
            closed["etablissementSiege"] = "false"
            closed["_headcount"] = 0
            closed["trancheEffectifsEtablissement"] = "NN"
            public = (r["categorieJuridiqueUniteLegale"] or "").startswith("7")
            if public or self.rng.random() < 0.5:  # the same unit, moved (a public body never "ceases" here)
                if r["_kind"] in ("chain", "bank", "temp_agency"):
                    closed["nic"] = self.national_nic(r["siren"])
                else:
                    nic_max[r["siren"]] += 1
                    closed["nic"] = nic_max[r["siren"]]
                closed["_kind"] = "closed_moved"
            else:  # a ceased business of the same name
                closed["siren"] = self.new_siren()
                closed["nic"] = 1
                closed["etablissementSiege"] = "true"
                closed["_kind"] = "closed_ceased"
            self.rows.append(closed)

    def frame(self) -> pd.DataFrame:
        # Plain objects first: letting pandas infer every column's type (Arrow strings), only to
        # convert the schema's columns again, costs more than the conversion itself.
        df = pd.DataFrame(self.rows, dtype=object)
        sirens = df["siren"].astype(np.int64).to_numpy()
        nics = df["nic"].astype(np.int64).to_numpy()
        sirets = [f"{s:014d}" for s in with_luhn_key(sirens * 10_000 + nics, 14)]
        computed = {"siret": sirets, "nic": [s[9:] for s in sirets]}
        out = pd.DataFrame(index=df.index)
        for col, dtype in ETABLISSEMENTS.items():
            values = computed[col] if col in computed else df[col].to_numpy() if col in df else [None] * len(df)
            out[col] = nullable_strings(values) if dtype == "string" else np.asarray(values).astype(dtype)
        # The builder's own columns (kind, known name, headcount...), typed as pandas infers them.
        private = pd.DataFrame({col: df[col].tolist() for col in df.columns if col.startswith("_")})
        for col in private.columns:
            out[col] = private[col].to_numpy()
        return out


HOMONYM_COLUMNS = ("denominationUniteLegale", "nomUniteLegale", "prenom1UniteLegale", "categorieJuridiqueUniteLegale",
                   "sigleUniteLegale", "_known_name", "_sign", "enseigne1Etablissement")
_REP_CODES = {"bis": "B", "ter": "T", "quater": "Q"}  # BAN spelling → Sirene's index
# Cumulative distributions as lists of floats, for draw() one at a time.
_SURNAME_WEIGHTS = np.cumsum(1.0 / np.arange(1, len(V.SURNAME_POOL) + 1) ** 0.75)  # Zipf-like, frequent first
_SURNAME_CDF = (_SURNAME_WEIGHTS / _SURNAME_WEIGHTS[-1]).tolist()
_LEGAL_FORM_CDF = (np.cumsum([f[2] for f in V.LEGAL_FORMS]) / sum(f[2] for f in V.LEGAL_FORMS)).tolist()


def _band(staff: int) -> str:
    """The size band (trancheEffectifs) of a headcount."""
    if staff <= 0:
        return "00"
    for code, (lo, hi) in TRANCHES.items():
        if code not in ("NN", "00") and lo <= staff <= hi:
            return code
    return "53"


def _initials(name: str) -> str:
    stop = {"DE", "DU", "DES", "LA", "LE", "L", "D", "ET", "LES"}
    return "".join(w[0] for w in name.split() if w not in stop)


def build_register(rng: np.random.Generator, dep: Departement, communes: pd.DataFrame, streets: pd.DataFrame,
                   addresses: pd.DataFrame, adjacency: pd.DataFrame, national: NationalUnits,
                   n_establishments: int, rates: dict) -> pd.DataFrame:
    """The register of one département: about ``n_establishments`` rows, open and closed."""
    b = RegisterBuilder(rng, dep, communes, streets, addresses, adjacency, rates,
                        capacity=min(600_000, 2 * n_establishments + 10_000))
    b.public_sector(national)
    b.national_networks(national)
    n_open = int(round(n_establishments / (1 + rates["closed_distractor"])))
    b.independents(n_open)
    b.homonyms()
    b.closed_distractors()
    return b.frame()

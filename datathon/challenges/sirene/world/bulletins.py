"""Census bulletins of one département: workers drawn from the register, then their declarations.

A worker is drawn in proportion to the establishment's headcount; what they write on the bulletin
(name, address, commune, activity) goes through the named noise mechanisms of
:mod:`datathon.challenges.sirene.world.noise`, each applied with its own rate for the bulletin's collection mode.
The applied mechanisms are recorded in the ``NOISE`` column (synthetic data only).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from datathon.challenges.sirene.naf import nomenclature
from datathon.schema import BULLETINS, NOISE_COLUMN, TRUTH_COLUMN, as_objects, nullable_strings
from datathon.text import of_place, simplify, upper_ascii
from datathon.challenges.sirene.world import vocabulary as V
from datathon.challenges.sirene.world.draws import choice_cdf, draw
from datathon.challenges.sirene.world.geography import Departement
from datathon.challenges.sirene.world.noise import MECHANISMS_BY_NAME, resolve_rates
from datathon.challenges.sirene.world.register import _SURNAME_CDF

INTERNET_SHARE = 0.55  # share of bulletins collected on the internet (TYPCOL = 1)
CLIENT_DIVISIONS = {"10", "16", "22", "25", "28", "31", "33", "41", "42", "43", "46", "47", "49", "52"}
TEACHER_NAMES = ["EDUCATION NATIONALE", "EDUCATION NATIONALE", "EDUC NAT", "MINISTERE EDUCATION NATIONALE",
                 "EDUCATION NAT", "ENSEIGNEMENT PUBLIC"]
PRIMARY_TEACHER_ACTIVITIES = ["ENSEIGNEMENT", "ENSEIGNANT", "EDUCATION", "PROFESSEUR DES ECOLES", "INSTITUTEUR",
                              "ENSEIGNEMENT PRIMAIRE", "ECOLE"]
SECONDARY_TEACHER_ACTIVITIES = ["ENSEIGNEMENT", "ENSEIGNANT", "PROFESSEUR", "EDUCATION", "ENSEIGNEMENT SECONDAIRE",
                                "PROFESSEUR DE COLLEGE", "PROFESSEUR DE LYCEE"]
GENERIC_ACTIVITIES = ["", "", "SERVICES", "COMMERCE", "INDUSTRIE", "BUREAU", "PRODUCTION", "ADMINISTRATIF",
                      "EMPLOYE", "DIVERS"]
KEYBOARD = {c: n for c, n in zip("AZERTYUIOPQSDFGHJKLMWXCVBN",
                                 ["ZQ", "AES", "ZRD", "ETF", "RYG", "TUH", "YIJ", "UOK", "IPL", "OM", "AWS",
                                  "QZDX", "SEFC", "DRGV", "FTHB", "GYJN", "HUK", "JIL", "KOM", "LP", "QX",
                                  "WSC", "XDV", "CFB", "VGN", "BH"])}
ACTIVITY_STOP_WORDS = {"DE", "DU", "DES", "D", "ET", "LA", "LE", "L", "LES", "A", "AU", "AUX", "EN", "POUR"}
GENERIC_NAME_WORDS = ({w for ws in V.TRADE_WORDS.values() for t in ws for w in t.split()} | set(V.BRAND_END)
                      | {"SOCIETE", "ETABLISSEMENTS", "ET", "FILS", "DE", "DU", "DES", "LE", "LA", "L", "AU"})
SITE_WORDS = ["USINE DE", "SITE DE", "ENTREPOT", "PLATEFORME", "ATELIERS DE", "ZONE INDUSTRIELLE", "MAGASIN DE"]
DEPARTMENT_NAMES = ["SERVICE COMPTABILITE", "SERVICE TECHNIQUE", "ATELIER", "BUREAU D ETUDES", "SERVICE CLIENT",
                    "DIRECTION", "SIEGE SOCIAL", "LOGISTIQUE", "PRODUCTION", "MAINTENANCE"]
INFORMAL_WORDS = ["ENTREPRISE", "GROUPE", "MAGASIN", "USINE", "SITE", "AGENCE", "BUREAUX", "DEPOT", "SERVICE"]
LEGAL_FORM_WORDS = ["SARL", "SAS", "SA", "EURL", "STE", "SASU"]
# How precisely an activity is declared: the sous-classe's label, the classe's, the groupe's, the division's.
ACTIVITY_LEVELS = [0.5, 0.15, 0.15, 0.2]
ACTIVITY_LEVEL_CDF = choice_cdf(ACTIVITY_LEVELS)


class LazyRecords:
    """Rows of a frame as plain dicts (None for missing), made only for the rows asked for."""

    def __init__(self, frame: pd.DataFrame):
        self.columns = {c: as_objects(frame[c]) for c in frame.columns}
        self.cache: dict[int, dict] = {}

    def __getitem__(self, i) -> dict:
        i = int(i)
        row = self.cache.get(i)
        if row is None:
            row = self.cache[i] = {c: v[i] for c, v in self.columns.items()}
        return row


class Declarer:
    """Turns (worker, establishment) pairs into bulletin rows, one mechanism at a time."""

    def __init__(self, rng: np.random.Generator, dep: Departement, register: pd.DataFrame,
                 communes: pd.DataFrame, adjacency: pd.DataFrame, rates: dict | None = None):
        self.rng = rng
        self.rates = rates if rates is not None else resolve_rates()
        self.dep = dep
        self.reg = register
        # Plain dicts with None for missing values, built on demand: fast row access, no pandas NA.
        self.records = LazyRecords(register)
        self.names = dict(zip(communes["code_commune"], communes["nom_commune"]))
        self.codes = communes["code_commune"].to_numpy()
        pop = communes["population"].to_numpy().astype(float)
        self.pop_cdf = (np.cumsum(pop) / pop.sum()).tolist()
        self.neighbours = adjacency.groupby("code_commune")["code_commune_adjacente"].apply(list).to_dict()
        nom = nomenclature().set_index("code")
        self.naf_labels = {code: list(labels) for code, labels in
                           zip(nom.index, zip(nom["libelle"], nom["libelle_classe"], nom["libelle_groupe"],
                                              nom["libelle_division"]))}
        active = register[register["etatAdministratifEtablissement"] == "A"]
        # Temp workers are placed with client companies near their agency.
        clients = active[active["activitePrincipaleEtablissement"].str[:2].isin(CLIENT_DIVISIONS)
                         & active["_kind"].isin(["independent", "regional", "chain", "franchise"])]
        self.clients_by_commune = {c: g.index.to_numpy() for c, g in clients.groupby("codeCommuneEtablissement")}
        # Primary teachers work in the communes' schools.
        schools = active[active["denominationUsuelleEtablissement"].str.startswith("ECOLE", na=False)]
        self.school_by_commune = {c: g.index.to_numpy() for c, g in schools.groupby("codeCommuneEtablissement")}
        self._nearby: dict[tuple[str, str], list] = {}

    # -- small helpers --------------------------------------------------------------------------
    def happens(self, mechanism: str, paper: bool) -> bool:
        internet, on_paper = self.rates[mechanism]
        return self.rng.random() < (on_paper if paper else internet)

    def pick(self, items):
        return items[self.rng.integers(len(items))]

    def nearby(self, what: str, commune: str) -> list:
        """Rows of temp agencies' ``"clients"`` or of ``"schools"`` in a commune and its neighbours
        (the commune's own first). Asked for again and again: each list is built once."""
        pool = self._nearby.get((what, commune))
        if pool is None:
            by_commune = self.clients_by_commune if what == "clients" else self.school_by_commune
            near = [commune] + self.neighbours.get(commune, [])
            pool = self._nearby[what, commune] = [i for c in near for i in by_commune.get(c, [])]
        return pool

    def surname(self) -> str:
        return V.SURNAME_POOL[draw(self.rng, _SURNAME_CDF)]

    def random_commune(self) -> str:
        return self.codes[draw(self.rng, self.pop_cdf)]

    def home_of(self, workplace: str) -> str:
        u = self.rng.random()
        if u < 0.42:
            return workplace
        if u < 0.78 and self.neighbours.get(workplace):
            return self.pick(self.neighbours[workplace])
        return self.random_commune()

    # -- text noise ---------------------------------------------------------------------------
    def typo(self, text: str) -> str:
        if len(text) < 3:
            return text
        chars = list(text)
        for _ in range(1 + int(self.rng.random() < 0.3)):
            letters = [i for i, c in enumerate(chars) if c.isalpha()]
            if not letters:
                break
            i = self.pick(letters)
            op = self.rng.integers(4)
            c = chars[i].upper()
            if op == 0 and c in KEYBOARD:
                chars[i] = self.pick(KEYBOARD[c])
            elif op == 1 and len(chars) > 3:
                del chars[i]
            elif op == 2:
                chars.insert(i, chars[i])
            elif i + 1 < len(chars):
                chars[i], chars[i + 1] = chars[i + 1], chars[i]
        return "".join(chars)

    def written_commune(self, code: str, paper: bool, noise: list[str]) -> str:
        name = upper_ascii(self.names[code])
        u = self.rng.random()
        if u < 0.35:
            name = name.replace("-", " ")
        if name.startswith("SAINT") and self.rng.random() < 0.5:
            name = name.replace("SAINTE", "STE", 1) if name.startswith("SAINTE") else name.replace("SAINT", "ST", 1)
        if self.happens("typos", paper) and self.rng.random() < 0.25:  # the commune's name is misspelt too
            name = self.typo(name)
            if "typos" not in noise:
                noise.append("typos")
        return name

    def activity_text(self, naf: str) -> str:
        labels = self.naf_labels.get(naf)
        if not labels:
            return ""
        level = draw(self.rng, ACTIVITY_LEVEL_CDF)  # the same draw as rng.choice(4, p=ACTIVITY_LEVELS)
        text = upper_ascii(labels[level])
        text = text.split("(")[0].split(",")[0].split(";")[0]
        for prefix in ("COMMERCE DE DETAIL DE ", "COMMERCE DE GROS DE ", "ACTIVITES DE ", "ACTIVITES DES "):
            if text.startswith(prefix) and self.rng.random() < 0.5:
                text = text[len(prefix):]
        words = text.replace("'", " ").split()
        if len(words) > 3 and self.rng.random() < 0.6:
            words = words[: self.rng.integers(2, 5)]
            while len(words) > 1 and words[-1] in ACTIVITY_STOP_WORDS:
                words.pop()
        return " ".join(words)

    # -- one bulletin -------------------------------------------------------------------------
    def declare(self, e: dict | None, paper: bool, home: str) -> dict:
        """The bulletin of a worker of establishment ``e`` (None: a private household's employee)."""
        noise: list[str] = []
        truth = None
        vardompart = "1"
        if e is None:
            noise.append("household_employer")
            name = self.pick(V.HOUSEHOLD_NAMES).format(surname=self.surname(), first=self.pick(V.FIRST_NAMES))
            activity = self.pick(V.HOUSEHOLD_ACTIVITIES)
            vardompart = "3"
            workplace = home if self.rng.random() < 0.6 else self.home_of(home)
            address = self.street_of(workplace) if self.rng.random() < 0.5 else {}
        else:
            truth = e["siret"]
            kind = e["_kind"]
            if (e["categorieJuridiqueUniteLegale"] or "").startswith("7"):  # a public legal unit
                vardompart = "2"
            target = e
            name = None
            teacher = self.rng.random() < e["_teacher_share"]
            if kind == "temp_agency" and self.rng.random() < e["_temp_share"] and self.happens("temp_agency_client", paper):
                pool = self.nearby("clients", e["codeCommuneEtablissement"])
                if pool:
                    target = self.records[self.pick(pool)]
                    noise.append("temp_agency_client")
            if kind == "dsden" and teacher:  # a primary teacher: works in a school near home
                pool = self.nearby("schools", home)
                if pool:
                    target = self.records[self.pick(pool)]
            if teacher and self.happens("education_nationale", paper):
                name = self.pick(TEACHER_NAMES)
                noise.append("education_nationale")
            elif kind == "municipal_service" and self.happens("mairie", paper):
                town = upper_ascii(self.names[e["codeCommuneEtablissement"]]).replace("-", " ")
                name = self.pick(["MAIRIE", "MAIRIE", f"MAIRIE {of_place(town)}", f"VILLE {of_place(town)}",
                                  f"COMMUNE {of_place(town)}"])
                noise.append("mairie")
            elif kind == "dsden" and teacher and target is not e:
                name = target["denominationUsuelleEtablissement"]
            if name is None:
                name = self.base_name(target, paper, noise)
            if teacher:
                activity = self.pick(PRIMARY_TEACHER_ACTIVITIES if kind == "dsden" else SECONDARY_TEACHER_ACTIVITIES)
            else:
                activity = self.activity_text(target["activitePrincipaleEtablissement"])
            address = self.establishment_address(target)
            workplace = target["codeCommuneEtablissement"]
        if self.happens("blank_answer", paper) and e is not None:
            name = self.pick(V.UNUSABLE_ANSWERS)
            # A blank answer hides whatever happened to the name before.
            noise[:] = [m for m in noise if MECHANISMS_BY_NAME[m].level != "name"] + ["blank_answer"]
            truth = None
        if self.happens("vague_activity", paper):
            activity = self.pick(GENERIC_ACTIVITIES)
            noise.append("vague_activity")
        address = self.noisy_address(address, paper, noise)
        commune = workplace
        if self.happens("neighbouring_commune", paper) and self.neighbours.get(workplace):
            commune = self.pick(self.neighbours[workplace])
            noise.append("neighbouring_commune")
        elif commune != home and self.happens("home_commune", paper):
            commune = home
            noise.append("home_commune")
        in_home = commune == home
        clt = "" if in_home and self.rng.random() < 0.7 else self.written_commune(commune, paper, noise)
        row = {
            "RS_X": self.case(name, paper),
            "ACTET_X": self.case(activity, paper),
            "NUMVOI_X": address.get("number"),
            "BISTER_X": address.get("indice"),
            "TYPEVOI_X": address.get("type"),
            "NOMVOI_X": self.case(address.get("label") or "", paper),
            "CPLADR_X": address.get("complement"),
            "CLT_X": clt,
            "DLT_X": "" if in_home else (self.dep.code if self.rng.random() < 0.9 else ""),
            "PLT_X": "",
            "ILT_X": "1" if in_home else "2",
            "VARDOMPART_X": vardompart,
            "DEPCOM_CODE": home,
            "TYPCOL": 0 if paper else 1,
            TRUTH_COLUMN: truth,
            NOISE_COLUMN: "|".join(noise),
        }
        return row

    def case(self, text: str | None, paper: bool) -> str:
        if not text:
            return ""
        if paper:
            return upper_ascii(text)
        u = self.rng.random()
        return text if u < 0.6 else text.title() if u < 0.8 else text.lower()

    def base_name(self, e: dict, paper: bool, noise: list[str]) -> str:
        sign = e["_sign"]
        if sign and self.happens("sign_for_name", paper):
            name = sign
            if sign != e["denominationUniteLegale"]:
                noise.append("sign_for_name")
        elif e["_kind"] in ("independent", "regional", "franchise", "association") or e["_kind"].startswith("closed"):
            if e["denominationUniteLegale"]:
                name = e["denominationUniteLegale"]
            elif e["nomUniteLegale"]:  # a sole proprietor's name, either order
                parts = [p for p in (e["nomUniteLegale"], e["prenom1UniteLegale"]) if p]
                name = " ".join(parts if self.rng.random() < 0.6 else parts[::-1])
            else:  # a real register without its legal units: the name it shows
                name = e["_known_name"]
        else:
            name = e["_known_name"]
        if self.happens("other_name", paper):
            name = self.other_name(e)
            noise.append("other_name")
        elif self.happens("informal_name", paper):
            informal = self.informal(name, e)
            if informal != name:
                name = informal
                noise.append("informal_name")
        sigle = e["sigleUniteLegale"]
        if self.happens("acronym", paper):
            words = [w for w in name.split() if w not in ("DE", "DU", "DES", "LA", "LE", "L", "D", "ET")]
            if sigle:
                name = sigle
                noise.append("acronym")
            elif len(words) >= 3:
                name = "".join(w[0] for w in words)
                noise.append("acronym")
        if self.happens("abbreviation", paper):
            words = name.split()
            short = [V.ABBREVIATIONS.get(w, w) for w in words]
            if short != words:
                name = " ".join(short)
                noise.append("abbreviation")
        if (e["categorieJuridiqueUniteLegale"] or "").startswith("5") and self.happens("legal_form", paper):
            form = self.pick(LEGAL_FORM_WORDS)
            name = f"{form} {name}" if self.rng.random() < 0.5 else f"{name} {form}"
            noise.append("legal_form")
        if len(name) > 10 and self.happens("truncation", paper):
            name = name[: int(self.rng.integers(6, max(7, len(name) - 3)))].rstrip()
            noise.append("truncation")
        if self.happens("typos", paper):
            name = self.typo(name)
            noise.append("typos")
        return name

    def other_name(self, e: dict) -> str:
        """A name the register does not hold: a former name, a site or a department."""
        town = upper_ascii(self.names.get(e["codeCommuneEtablissement"], "")).replace("-", " ")
        u = self.rng.random()
        if u < 0.45:  # a former name, before a takeover or a change of legal unit
            trade = V.TRADE_WORDS.get((e["activitePrincipaleEtablissement"] or "00")[:2], ["ETS"])
            rare = V.SURNAME_POOL[len(V.SURNAME_POOL) // 2 + int(self.rng.integers(len(V.SURNAME_POOL) // 2))]
            return f"{self.pick(trade)} {rare}"
        if u < 0.75:
            return f"{self.pick(SITE_WORDS)} {town}".strip()
        return self.pick(DEPARTMENT_NAMES)

    def informal(self, name: str, e: dict) -> str:
        """How people commonly shorten or pad a name."""
        words = name.split()
        u = self.rng.random()
        if u < 0.2 and len(words) >= 2:
            # People drop the words that say what the business does, and keep what names it.
            town_words = set(simplify(self.names.get(e["codeCommuneEtablissement"], "")).split())
            distinctive = [w for w in words if w not in GENERIC_NAME_WORDS and w not in town_words]
            if distinctive and len(distinctive) < len(words):
                return " ".join(distinctive)
            keep = sorted(self.rng.choice(len(words), size=int(self.rng.integers(1, len(words))), replace=False))
            return " ".join(words[k] for k in keep)
        if u < 0.8:
            word = self.pick(INFORMAL_WORDS)
            return f"{word} {name}" if self.rng.random() < 0.6 else f"{name} {word}"
        town = upper_ascii(self.names.get(e["codeCommuneEtablissement"], "")).replace("-", " ")
        return name if town in name else f"{name} {town}".strip()

    def establishment_address(self, e: dict) -> dict:
        return {
            "number": e["numeroVoieEtablissement"],
            "indice": e["indiceRepetitionEtablissement"],
            "type": e["typeVoieEtablissement"],
            "label": e["libelleVoieEtablissement"],
            "complement": None,
        }

    def street_of(self, commune: str) -> dict:
        """Some address in a commune (a household employer's home)."""
        rows = self.clients_by_commune.get(commune)
        if rows is None or len(rows) == 0:
            return {}
        return self.establishment_address(self.records[self.pick(rows)])

    def noisy_address(self, address: dict, paper: bool, noise: list[str]) -> dict:
        if not address:
            return {}
        if self.happens("missing_address", paper):
            noise.append("missing_address")
            return {}
        address = dict(address)
        if self.happens("partial_address", paper):
            noise.append("partial_address")
            u = self.rng.random()
            if u < 0.4:
                address["number"] = None
                address["indice"] = None
            elif u < 0.7:
                address["type"] = None
            else:
                words = (address.get("label") or "").split()
                address["label"] = words[-1] if words else ""
        if address.get("type") and self.rng.random() < 0.4:
            address["type"] = V.STREET_TYPE_WORDS.get(address["type"], address["type"])
        if address.get("label") and self.happens("typos", paper) and self.rng.random() < 0.5:
            address["label"] = self.typo(address["label"])
            if "typos" not in noise:
                noise.append("typos")
        return address


def draw_bulletins(rng: np.random.Generator, dep: Departement, register: pd.DataFrame, communes: pd.DataFrame,
                   adjacency: pd.DataFrame, n: int, rates: dict | None = None) -> pd.DataFrame:
    """``n`` bulletins of one département, with their truth and their noise record (not yet MCA).

    ``rates`` maps each mechanism to its (internet, paper) rates (:func:`noise.resolve_rates`)."""
    declarer = Declarer(rng, dep, register, communes, adjacency, rates)
    active = register.index[register["etatAdministratifEtablissement"] == "A"].to_numpy()
    heads = register.loc[active, "_headcount"].to_numpy().astype(float)
    weights = np.where(heads > 0, heads, 0.3)  # owner-run businesses have someone at work too
    cdf = np.cumsum(weights) / weights.sum()
    paper = rng.random(n) >= INTERNET_SHARE
    internet_rate, paper_rate = declarer.rates["household_employer"]
    household_rate = np.where(paper, paper_rate, internet_rate)
    household = rng.random(n) < household_rate
    picks = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(cdf) - 1)
    rows = []
    for i in range(n):
        if household[i]:
            home = declarer.random_commune()
            rows.append(declarer.declare(None, bool(paper[i]), home))
        else:
            e = declarer.records[active[picks[i]]]
            home = declarer.home_of(e["codeCommuneEtablissement"])
            rows.append(declarer.declare(e, bool(paper[i]), home))
    df = pd.DataFrame(rows)
    # CABBI: unique, random-looking, prefixed by the département.
    ids = rng.choice(10**8, size=n, replace=False)
    df.insert(0, "CABBI", [f"{dep.code}{k:08d}" for k in ids])
    for col in df.columns:
        if col != "TYPCOL":
            df[col] = nullable_strings(df[col].to_numpy())
    df["TYPCOL"] = df["TYPCOL"].astype("Int8")
    for col in ("SIRETC", "I_MCA_C", "NOTE_MCA_NOM_C", "NOTE_MCA_ADR_C"):
        df[col] = pd.array([None] * n, dtype=BULLETINS[col])
    return df

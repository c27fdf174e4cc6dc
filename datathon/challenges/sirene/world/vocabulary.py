"""Word lists the synthetic world draws its names from.

Surnames and first names are frequent French (and Breton, the 2018 event was in Ille-et-Vilaine)
names; commune, street, brand and company names are built from these parts so that every name is
synthetic while reading as a real one.
"""

SURNAMES = """MARTIN BERNARD THOMAS PETIT ROBERT RICHARD DURAND DUBOIS MOREAU LAURENT SIMON MICHEL LEFEBVRE
LEROY ROUX DAVID BERTRAND MOREL FOURNIER GIRARD BONNET DUPONT LAMBERT FONTAINE ROUSSEAU VINCENT MULLER
LEFEVRE FAURE ANDRE MERCIER BLANC GUERIN BOYER GARNIER CHEVALIER FRANCOIS LEGRAND GAUTHIER GARCIA
PERRIN ROBIN CLEMENT MORIN NICOLAS HENRY ROUSSEL MATHIEU GAUTIER MASSON MARCHAND DUVAL DENIS DUMONT
MARIE LEMAIRE NOEL MEYER DUFOUR MEUNIER BRUN BLANCHARD GIRAUD JOLY RIVIERE LUCAS BRUNET GAILLARD
BARBIER ARNAUD MARTINEZ GERARD ROCHE RENARD SCHMITT ROY LEROUX COLIN VIDAL CARON PICARD ROGER FABRE
AUBERT LEMOINE RENAUD DUMAS LACROIX OLIVIER PHILIPPE BOURGEOIS PIERRE BENOIT REY LECLERC PAYET ROLLAND
LE GALL LE ROUX LE GOFF GUILLOU LE BIHAN LE CORRE LE MOAL LE BRETON TANGUY LE GUEN HAMON JEGOU
LE BRIS COLLET GUEGUEN PRIGENT LE FLOCH RIOU LE MEUR BOURHIS LE CAM KERBRAT GOURIOU PENNEC MORVAN
LE BORGNE LOUARN GUILLEMOT LE DREAN LE PAPE CADIOU LE GUILLOU DANIEL JAOUEN LE HIR HERVE LOZACH
CORNEC QUEMENER JAFFRE SALAUN HELIAS LE BERRE OLLIVIER PERON LEBRETON ROPERS BESNARD LEBRUN PASQUIER
DELAUNAY PELTIER GUILLET BOUVIER FLEURY HUET POIRIER CHARPENTIER MAILLARD TESSIER LEBLANC BAILLY
LEMAITRE CHAUVIN COLAS HUBERT BRETON GUILLAUME ROCHER BRIAND RAULT LEMARCHAND JOUAN GAUDIN HUGUET""".split(
    "\n"
)
SURNAMES = [w.replace("_", " ") for line in SURNAMES for w in line.replace("LE ", "LE_").split()]

FIRST_NAMES = """JEAN PIERRE MICHEL ANDRE PHILIPPE ALAIN BERNARD JACQUES CHRISTIAN DANIEL PATRICK NICOLAS
ERIC LAURENT FREDERIC STEPHANE DAVID OLIVIER YANNICK ERWAN GWENAEL LOIC YVES HERVE THIERRY PASCAL
MARIE NATHALIE ISABELLE SYLVIE CATHERINE FRANCOISE MARTINE CHRISTINE VALERIE SANDRINE NOLWENN
GWENAELLE MAIWENN SOPHIE CELINE AURELIE JULIE CAMILLE EMMA LEA MANON ANNE CLAIRE HELENE MONIQUE
THOMAS JULIEN MAXIME ANTOINE HUGO LUCAS LOUIS ARTHUR ELODIE KARINE VIRGINIE AUDREY MORGANE""".split()

# Saints, for communes ("Saint-Aubin-du-Cormier"), schools and streets.
SAINTS = """AUBIN MARTIN GERMAIN MALO BRIAC GILLES DIDIER ERBLON GREGOIRE JACQUES MEEN ONEN PERAN SULIAC
SAUVEUR LUNAIRE MEDARD OUEN SENOUX SYMPHORIEN THURIAL UNIAC BRICE CHRISTOPHE COULOMB DOMINEUC
ETIENNE GEORGES HILAIRE JEAN LEGER MARC PERE REMY SAMSON THEGONNEC VINCENT""".split()
SAINTES = """ANNE MARIE COLOMBE MARGUERITE ANNE-SUR-VILAINE""".split()

# Syllables for synthetic commune roots ("Kergalec", "Montbrien", "Plélaudan").
ROOT_START = """KER PLE PLOU LAN TRE GUER MON BOUR CHATEAU PONT VAL ROCHE BRE LOU MOR MAEN COR
LAN SEN VIL MES CHAN BAZ GAH BOIS FOUG JAN LIF BET PAC BRU CES NOY ROM MEL MIN BAIN LA TAL""".split()
ROOT_MIDDLE = """ ga len bri ve ro na de mé li to ri sa lo ni ba ar ou é""".split(" ")
ROOT_END = """LEC DEC VEN NEC BRIEN GNE RE LON ZAN HOU TIN GAN NAC NAY VILLE FORT BOURG LAIS
TOURS MOUTIER GUEN DAN HEL RIAC TEL NEUF BERT DON VRE ZEC ROUX SAC VIN""".split()
COMMUNE_SUFFIXES = [
    "SUR-VILAINE", "SUR-MER", "SUR-RANCE", "SUR-SEICHE", "DU-CORMIER", "DES-BOIS", "DE-BRETAGNE",
    "LE-GRAND", "LE-PETIT", "EN-COGLES", "LA-FORET", "DES-LANDES", "DU-DESERT", "SUR-COUESNON",
]

# Streets (Sirene type code, BAN word, share).
STREET_TYPES = [
    ("RUE", "Rue", 0.50), ("AV", "Avenue", 0.07), ("BD", "Boulevard", 0.03), ("PL", "Place", 0.05),
    ("CHE", "Chemin", 0.08), ("ALL", "Allée", 0.06), ("IMP", "Impasse", 0.06), ("RTE", "Route", 0.06),
    ("LD", "Lieu-dit", 0.04), ("ZA", "Zone d'activité", 0.03), ("QUAI", "Quai", 0.01), ("SQ", "Square", 0.01),
]
# Full words some people write instead of the type code.
STREET_TYPE_WORDS = {
    "RUE": "RUE", "AV": "AVENUE", "BD": "BOULEVARD", "PL": "PLACE", "CHE": "CHEMIN", "ALL": "ALLEE",
    "IMP": "IMPASSE", "RTE": "ROUTE", "LD": "LIEU DIT", "ZA": "ZONE ARTISANALE", "QUAI": "QUAI", "SQ": "SQUARE",
}
STREET_NAMES = """de la Gare|du Moulin|de l'Église|Jean Jaurès|Victor Hugo|du Général de Gaulle|des Écoles
|de la Mairie|des Tilleuls|des Chênes|du Stade|de la Libération|Pasteur|Nationale|de Bretagne|du Château
|de la Poste|du Commerce|de la Fontaine|du Bourg|des Lilas|des Acacias|de la Forêt|du Lavoir|des Peupliers
|Jean Moulin|Louis Pasteur|Anatole France|Jules Ferry|Émile Zola|Paul Bert|Gambetta|Charles de Gaulle
|de Verdun|du 8 Mai 1945|du 11 Novembre|de la République|de la Paix|des Sports|du Calvaire|des Rosiers
|de la Vallée|du Petit Bois|des Vergers|de la Prairie|des Jardins|du Four|de la Croix|des Camélias
|Saint-Michel|de la Chapelle|du Clos|des Genêts|de l'Étang|des Hortensias|du Presbytère|de la Lande
|Aristide Briand|Pierre Curie|Marie Curie|Jean Monnet|Simone Veil|Louis Guilloux|Anne de Bretagne
|du Maréchal Leclerc|de Normandie|de Paris|de Nantes|de Saint-Malo|de la Rance|de la Vilaine|du Port""".replace(
    "\n", ""
).split("|")
LIEUX_DITS = """La Ville Aubert|Le Haut Bois|La Touche|Le Plessis|La Basse Cour|Les Landes|La Métairie
|Le Pont Neuf|La Grande Maison|Le Tertre|La Fontaine Blanche|Les Rochers|La Motte|Le Chêne Vert""".replace(
    "\n", ""
).split("|")
ZONE_NAMES = """de la Touche|du Bois de Soeuvres|des Landelles|de la Janais|de Bellevue|du Hil|des Trois Marches
|de la Rigourdière|de Beaulieu|des Forges|du Moulin Neuf|de la Brétèche""".replace("\n", "").split("|")
PERSONS = """JEAN MOULIN|VICTOR HUGO|JULES FERRY|PAUL ELUARD|JACQUES PREVERT|CHARLES DE GAULLE|EMILE ZOLA
|ANNE DE BRETAGNE|CHATEAUBRIAND|RENE CASSIN|LOUIS GUILLOUX|JEAN MACE|SIMONE VEIL|MARIE CURIE
|PIERRE MENDES FRANCE|FRANCOIS MITTERRAND|ALBERT CAMUS|JULES VERNE|GEORGE SAND|MAURICE RAVEL
|LES GAYEULLES|DU LEGUE|DES CHALMELLES|BROCELIANDE|LA BINQUENAIS|JEAN GUEHENNO|VICTOR SEGALEN""".replace(
    "\n", ""
).split("|")

# Pieces of invented company names ("ARMORTEC", "VILAINE DISTRIBUTION").
BRAND_START = """ARMOR BREIZH OUEST VILAINE RANCE EMERAUDE ATLANT OCEA NOVA ALTI PRO TECH SOLI
INNO CELT IROISE ARGO HERMI MENHIR GRANIT LANDES BOCAGE ABER""".split()
BRAND_END = """TEC IS EA OR IA VIA LOG NET CONCEPT SERVICES DISTRIBUTION INDUSTRIE SYSTEMES
BATIMENT ENERGIE CONSEIL NEGOCE EQUIPEMENT""".split()

# Legal forms, with their categorieJuridiqueUniteLegale, in order of frequency.
LEGAL_FORMS = [("SARL", "5499", 0.35), ("SAS", "5710", 0.30), ("SASU", "5720", 0.12), ("EURL", "5498", 0.10),
               ("SA", "5599", 0.03), ("SCI", "6540", 0.05), ("SNC", "5202", 0.02), ("SCOP", "5458", 0.03)]

# Common abbreviations people use (and undo) when they write company names.
ABBREVIATIONS = {
    "SOCIETE": "STE", "ETABLISSEMENTS": "ETS", "SAINT": "ST", "SAINTE": "STE", "COMPAGNIE": "CIE",
    "TRANSPORTS": "TRANSP", "INTERNATIONAL": "INTL", "DISTRIBUTION": "DISTRIB", "SERVICES": "SCES",
    "ASSOCIATION": "ASSO", "CENTRE": "CTRE", "HOSPITALIER": "HOSP", "BOULANGERIE": "BOUL",
    "ENTREPRISE": "ENT", "GENERALE": "GLE", "COOPERATIVE": "COOP", "CONSTRUCTION": "CONSTR",
    "MAISON": "MSN", "DEPARTEMENTAL": "DEPT", "ELECTRICITE": "ELEC", "INFORMATIQUE": "INFO",
}

# Trade words that open a small business's name, by NAF division (the activity shows in the name).
TRADE_WORDS = {
    "01": ["EARL", "GAEC", "FERME", "EXPLOITATION"],
    "10": ["BOULANGERIE", "CHARCUTERIE", "SALAISONS", "BISCUITERIE", "CONSERVERIE", "LAITERIE"],
    "11": ["BRASSERIE", "CIDRERIE"],
    "16": ["MENUISERIE", "SCIERIE", "CHARPENTE"],
    "18": ["IMPRIMERIE"],
    "22": ["PLASTURGIE", "PLASTIQUES"],
    "25": ["METALLERIE", "CHAUDRONNERIE", "SERRURERIE", "MECANIQUE"],
    "28": ["MACHINES", "MECANIQUE"],
    "31": ["MEUBLES", "AGENCEMENT"],
    "33": ["MAINTENANCE", "REPARATION"],
    "41": ["CONSTRUCTIONS", "BATIMENT", "MAISONS"],
    "42": ["TRAVAUX PUBLICS", "TP", "TERRASSEMENT"],
    "43": ["ELECTRICITE", "PLOMBERIE", "MACONNERIE", "COUVERTURE", "PEINTURE", "CARRELAGE", "CHAUFFAGE"],
    "45": ["GARAGE", "AUTOMOBILES", "CARROSSERIE"],
    "46": ["NEGOCE", "DISTRIBUTION", "COMPTOIR"],
    "47": ["EPICERIE", "PHARMACIE", "FLEURS", "BOUTIQUE", "TABAC PRESSE", "OPTIQUE", "CHAUSSURES"],
    "49": ["TRANSPORTS", "TAXI", "AMBULANCES"],
    "52": ["LOGISTIQUE", "ENTREPOTS"],
    "55": ["HOTEL", "CAMPING", "GITE"],
    "56": ["RESTAURANT", "CREPERIE", "BAR", "PIZZERIA", "CAFE"],
    "62": ["INFORMATIQUE", "SOFTWARE", "DIGITAL"],
    "68": ["IMMOBILIER", "SCI", "AGENCE"],
    "69": ["CABINET", "FIDUCIAIRE", "EXPERTISE COMPTABLE", "AVOCATS"],
    "70": ["CONSEIL", "CONSULTING"],
    "71": ["ARCHITECTE", "BUREAU D ETUDES", "INGENIERIE", "GEOMETRE"],
    "73": ["COMMUNICATION", "PUBLICITE"],
    "74": ["STUDIO", "DESIGN", "PHOTO"],
    "77": ["LOCATION"],
    "81": ["NETTOYAGE", "PROPRETE", "PAYSAGES"],
    "82": ["SECRETARIAT", "CENTRE D APPELS"],
    "86": ["CABINET MEDICAL", "CABINET DENTAIRE", "KINESITHERAPIE", "LABORATOIRE", "CABINET INFIRMIER"],
    "88": ["AIDE A DOMICILE", "CRECHE"],
    "93": ["CLUB", "SALLE DE SPORT"],
    "95": ["REPARATION", "DEPANNAGE"],
    "96": ["COIFFURE", "INSTITUT", "PRESSING", "POMPES FUNEBRES"],
}
# Nouns for restaurant- and shop-like names ("LE GRAND CAFE", "AU PETIT MARCHE").
SHOP_NOUNS = """PORT MOULIN MARCHE CAFE RELAIS CHALET FOURNIL PRESSOIR JARDIN COMPTOIR PHARE
GRENIER LAVOIR CLOCHER MANOIR""".split()
SHOP_ADJECTIVES = ["GRAND", "PETIT", "VIEUX", "NOUVEAU", "BON", "BEAU"]

# Words of unusable answers, and of household employers (not codable).
UNUSABLE_ANSWERS = ["", "", "", "NEANT", "?", "XXX", "JE NE SAIS PAS", "VOIR AU DOS", "NSP", "INCONNU",
                    "DIVERS", "PLUSIEURS EMPLOYEURS", "SANS"]
HOUSEHOLD_NAMES = ["PARTICULIER", "PARTICULIERS", "CHEZ PARTICULIER", "EMPLOI A DOMICILE", "CESU",
                   "CHEZ M {surname}", "CHEZ MME {surname}", "{surname} {first}", "FAMILLE {surname}",
                   "PARTICULIER EMPLOYEUR"]
HOUSEHOLD_ACTIVITIES = ["AIDE A DOMICILE", "GARDE D ENFANTS", "MENAGE", "JARDINAGE", "ASSISTANTE MATERNELLE",
                        "AUXILIAIRE DE VIE", "SERVICES A LA PERSONNE", "EMPLOYE DE MAISON"]


def _surname_pool() -> list[str]:
    """About 2,500 surnames: the frequent ones first, then derived and Breton-style ones.

    The frequent names come first so that a Zipf-weighted draw reproduces the real mix: a few
    very common names (homonyms are a real difficulty) and a long tail of rare ones.
    """
    pool = list(SURNAMES)
    seen = set(pool)
    suffixes = ["ET", "EAU", "IER"]
    for base in SURNAMES:
        if " " in base or len(base) < 4:
            continue
        stem = base.rstrip("EAIOUY") or base
        for suf in suffixes:
            name = stem + suf
            if name not in seen:
                seen.add(name)
                pool.append(name)
    middles = [m.upper().replace("É", "E") for m in ROOT_MIDDLE if m]
    for start in ROOT_START:
        for end in ROOT_END:
            for name in [start + end] + [start + m + end for m in middles[::3]]:
                if name not in seen and len(name) <= 14:
                    seen.add(name)
                    pool.append(name)
    return pool


SURNAME_POOL = _surname_pool()

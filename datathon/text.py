"""Text normalisation shared by the generator, the MCA replica and the approaches."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_NON_ALNUM = re.compile(r"[^A-Z0-9]+")


def strip_accents(text: str) -> str:
    """``"Église"`` → ``"Eglise"`` (ligatures too: ``"Œuvre"`` → ``"OEuvre"``)."""
    if text.isascii():
        return text
    text = text.replace("Œ", "OE").replace("œ", "oe").replace("Æ", "AE").replace("æ", "ae")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@lru_cache(maxsize=1 << 18)
def upper_ascii(text: str) -> str:
    """Upper case without accents: how paper forms are captured (``"Rue de l'Église"`` → ``"RUE DE L'EGLISE"``)."""
    return strip_accents(text).upper()


def simplify(text: str | None) -> str:
    """Upper case, no accents, every run of non-alphanumerics folded to one space."""
    if not isinstance(text, str):
        if is_missing(text):
            return ""
        text = str(text)
    return _simplify(text)


@lru_cache(maxsize=1 << 18)
def _simplify(text: str) -> str:
    # Names repeat a lot (chains, trades, communes): the cache makes millions of calls cheap.
    return _NON_ALNUM.sub(" ", upper_ascii(text)).strip()


def is_missing(value) -> bool:
    """None, NaN or pandas' NA."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except TypeError:  # pandas.NA refuses to be a bool
        return True


def commune_key(name: str | None) -> str:
    """A commune name reduced so that the usual spellings agree.

    ``"St-Aubin-du-Cormier"``, ``"SAINT AUBIN DU CORMIER"`` and ``"Saint-Aubin-du-Cormier"`` give
    the same key.
    """
    words = simplify(name).split()
    words = ["SAINT" if w == "ST" else "SAINTE" if w == "STE" else w for w in words]
    return " ".join(words)


def of_place(name: str) -> str:
    """French "de" before an upper-case place name: ``DE RENNES``, ``DU PLESSIS``, ``DES LANDES``, ``D ARGENTRE``."""
    if name.startswith("LE "):
        return "DU " + name[3:]
    if name.startswith("LES "):
        return "DES " + name[4:]
    if name[:1] in "AEIOUY" and not name.startswith("LA "):
        return "D " + name
    return "DE " + name


@lru_cache(maxsize=1 << 18)
def without_words(name: str, words: frozenset) -> str:
    """A normalised name without some words (a town's, say), unless nothing would remain."""
    kept = [w for w in name.split() if w not in words]
    return " ".join(kept) if kept else name


def plural(n: int, singular: str, plural: str | None = None) -> str:
    """'1 SIRET', '3 SIRETs', '1,200 errors' (with an explicit plural for irregular words)."""
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"

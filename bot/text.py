"""Text normalisation shared by every matcher: people type without accents, in SMS spelling."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def _fold_all(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.replace("’", "'").replace("`", "'").replace("‘", "'")


_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE"})


def spell_out(text: str) -> str:
    """'sœur' -> 'soeur': phone keyboards write the ligature, people and lexicons the letters.
    (Not part of `fold`, which keeps one character per character.)"""
    return text.translate(_LIGATURES)


def fold(text: str) -> str:
    """Lower-case, strip accents, unify apostrophes: 'Élodie’s CAFÉ' -> "elodie's cafe".

    Always one character per character ("…" -> "."), so match offsets point into the original.
    """
    folded = _fold_all(text)
    if len(folded) == len(text):
        return folded
    return "".join(_fold_all(c)[:1] or c for c in text)


def words(text: str) -> list[str]:
    """Folded word tokens (digits kept, emoji and punctuation dropped)."""
    return _WORD.findall(fold(text))

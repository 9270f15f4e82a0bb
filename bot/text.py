"""Text normalisation shared by every matcher: people type without accents, in SMS spelling."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def fold(text: str) -> str:
    """Lower-case, strip accents, unify apostrophes: 'Élodie’s CAFÉ' -> "elodie's cafe".

    Keeps one character per character for Latin text, so match offsets point into the original.
    """
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.replace("’", "'").replace("`", "'").replace("‘", "'")


def words(text: str) -> list[str]:
    """Folded word tokens (digits kept, emoji and punctuation dropped)."""
    return _WORD.findall(fold(text))

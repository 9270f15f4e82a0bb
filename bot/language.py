"""Which language a message is written in, and whether it asks to switch language.

lingua is restricted to French, Dutch and English (English so that English speakers get told
what we speak instead of being answered in a language picked at random). Short or ambiguous
messages ("ok", "merci", "hallo") are reported as not reliable so they never flip a conversation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from bot.text import fold, words

SUPPORTED = ("fr", "nl")

# Words used in both languages in Brussels (or in English): they say nothing about the language.
_AMBIGUOUS = {
    "ok",
    "oke",
    "okay",
    "merci",
    "hallo",
    "hello",
    "hi",
    "hey",
    "allo",
    "super",
    "top",
    "sorry",
    "thanks",
    "yes",
    "no",
    "nee",
    "bye",
    "ciao",
    "cool",
    "euh",
    "hmm",
    "help",
    "info",
    "stop",
}
# One-word messages that are unambiguous in Brussels.
_ONE_WORD = {
    "bonjour": "fr",
    "bonsoir": "fr",
    "salut": "fr",
    "oui": "fr",
    "non": "fr",
    "francais": "fr",
    "goedendag": "nl",
    "goeiedag": "nl",
    "dag": "nl",
    "hoi": "nl",
    "goeiemorgen": "nl",
    "goedemorgen": "nl",
    "goedenavond": "nl",
    "ja": "nl",
    "dank": "nl",
    "bedankt": "nl",
    "nederlands": "nl",
}
# Explicit requests for a language; matched on folded text of short messages only.
_REQUEST_PATTERNS = {
    "fr": re.compile(
        r"^/fr$|\bfrancais\b|\ben frans\b|\bfrans\b|\bfranstalig|\bfrench\b|parlez[- ]vous francais"
    ),
    "nl": re.compile(
        r"^/nl$|\bnederlands\b|\bneerlandais\b|\bflamand\b|\bvlaams\b|\bdutch\b|\bnederlandstalig"
    ),
}
_MAX_REQUEST_WORDS = 8
_MIN_RELIABLE_WORDS = 3
_MIN_CONFIDENCE = 0.7


@dataclass(frozen=True)
class LanguageGuess:
    """code: best guess among fr/nl/en (None for text without meaningful words);
    reliable: confident enough to set or change a conversation's language;
    requested: fr/nl when the message explicitly asks for that language;
    supported: the more likely of fr/nl, for when an answer must be in one of them."""

    code: str | None
    confidence: float
    reliable: bool
    requested: str | None = None
    supported: str | None = None

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "confidence": round(self.confidence, 3),
            "reliable": self.reliable,
            "requested": self.requested,
            "supported": self.supported,
        }


@lru_cache(maxsize=1)
def _detector():
    from lingua import Language, LanguageDetectorBuilder

    return (
        LanguageDetectorBuilder.from_languages(Language.FRENCH, Language.DUTCH, Language.ENGLISH)
        .with_preloaded_language_models()
        .build()
    )


def requested_language(text: str) -> str | None:
    """'fr' or 'nl' when a short message asks for that language ("Nederlands aub", "/fr")."""
    folded = fold(text)
    if len(folded.split()) > _MAX_REQUEST_WORDS:
        return None
    hits = [code for code, pattern in _REQUEST_PATTERNS.items() if pattern.search(folded)]
    return hits[0] if len(hits) == 1 else None


def identify(text: str) -> LanguageGuess:
    """Guess the language of one message."""
    requested = requested_language(text)
    tokens = words(text)
    meaningful = [t for t in tokens if t not in _AMBIGUOUS and not t.isdigit()]
    if not meaningful:
        return LanguageGuess(None, 0.0, False, requested, requested)
    if len(meaningful) == 1 and meaningful[0] in _ONE_WORD:
        code = _ONE_WORD[meaningful[0]]
        return LanguageGuess(code, 1.0, True, requested, code)
    from lingua import Language

    codes = {Language.FRENCH: "fr", Language.DUTCH: "nl", Language.ENGLISH: "en"}
    ranked = _detector().compute_language_confidence_values(text)
    code, confidence = codes[ranked[0].language], ranked[0].value
    supported = next(codes[c.language] for c in ranked if codes[c.language] in SUPPORTED)
    reliable = len(meaningful) >= _MIN_RELIABLE_WORDS and confidence >= _MIN_CONFIDENCE
    return LanguageGuess(code, confidence, reliable, requested, supported)

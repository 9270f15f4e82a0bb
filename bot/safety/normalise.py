"""The text the distress patterns see: folded, SMS spelling expanded, idioms blanked out."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml

from bot.intake.lexicon import compile_patterns
from bot.text import fold, spell_out

_HERE = Path(__file__).parent


@cache
def load(name: str) -> dict:
    with open(_HERE / f"{name}.yml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@cache
def _sms(language: str) -> tuple[re.Pattern, dict[str, str]]:
    table = load("sms")[language]
    words = sorted(table, key=len, reverse=True)
    return re.compile(r"(?<![\w'])(" + "|".join(map(re.escape, words)) + r")(?![\w'])"), table


@cache
def idioms() -> re.Pattern:
    return compile_patterns(load("lexicon")["idioms"])


def expand_sms(text: str, language: str | None) -> str:
    """'chui a bout jpp' -> "je suis a bout je n'en peux plus" (French and Dutch tables)."""
    for code in (language,) if language in ("fr", "nl") else ("fr", "nl"):
        pattern, table = _sms(code)
        text = pattern.sub(lambda m, table=table: table[m.group(1)], text)
    return text


def normalise_both(text: str, language: str | None) -> tuple[str, str]:
    """(folded, accented): the same text, same length, SMS expanded and idioms blanked out.

    The patterns match the folded form; spaCy lemmatises the accented one (French lemmas are
    wrong without accents: "tué" is "tuer", "tue" is "taire").
    """
    accented = expand_sms(spell_out(text.lower()), language)
    folded = fold(accented)
    for m in idioms().finditer(folded):
        blank = " " * (m.end() - m.start())
        folded = folded[: m.start()] + blank + folded[m.end() :]
        accented = accented[: m.start()] + blank + accented[m.end() :]
    return folded, accented


def normalise(text: str, language: str | None) -> str:
    """The folded text the patterns and the classifier see."""
    return normalise_both(text, language)[0]

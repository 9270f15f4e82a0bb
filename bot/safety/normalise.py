"""The text the distress patterns see: folded, SMS spelling expanded, idioms blanked out."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml

from bot.intake.lexicon import compile_patterns
from bot.text import fold

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


def expand_sms(folded: str, language: str | None) -> str:
    """'chui a bout jpp' -> "je suis a bout je n'en peux plus" (French and Dutch tables)."""
    for code in (language,) if language in ("fr", "nl") else ("fr", "nl"):
        pattern, table = _sms(code)
        folded = pattern.sub(lambda m, table=table: table[m.group(1)], folded)
    return folded


def blank_idioms(text: str) -> str:
    """Replace idioms ("mort de rire", "ik lach me dood") by spaces of the same length."""
    return idioms().sub(lambda m: " " * len(m.group(0)), text)


def normalise(text: str, language: str | None) -> str:
    return blank_idioms(expand_sms(fold(text), language))

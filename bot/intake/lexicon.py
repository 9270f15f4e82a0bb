"""Turns the pattern lists of lexicon.yml into compiled regular expressions."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml

_HERE = Path(__file__).parent


def compile_patterns(patterns: list[str]) -> re.Pattern:
    """One regex for a family: 'resto*' is a word prefix, 're:...' a raw expression.

    The word-start check is written once in front of all plain patterns rather than in each:
    the same matches, several times faster on long alternations.
    """
    plain, raw = [], []
    for pattern in patterns:
        if pattern.startswith("re:"):
            raw.append(pattern[3:])
            continue
        prefix = pattern.endswith("*")
        body = re.escape(pattern.rstrip("*")).replace(r"\ ", r"\s+")
        plain.append(body + (r"[\w'-]*" if prefix else r"(?![\w])"))
    groups = [rf"(?<![\w'])(?:{'|'.join(plain)})"] if plain else []
    groups += [f"(?:{expression})" for expression in raw]
    return re.compile("|".join(groups))


@cache
def load(name: str) -> dict:
    """A YAML data file of this package, by stem."""
    with open(_HERE / f"{name}.yml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@cache
def families(section: str) -> dict[str, re.Pattern]:
    """label -> compiled pattern, in file order, for one section of lexicon.yml."""
    return {label: compile_patterns(items) for label, items in load("lexicon")[section].items()}

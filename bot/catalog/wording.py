"""The catalogue's bilingual words (texts.yml), by dotted key."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml


@cache
def _texts() -> dict:
    return yaml.safe_load((Path(__file__).parent / "texts.yml").read_text(encoding="utf-8"))


def text(key: str, language: str, **values: str) -> str:
    node = _texts()
    for part in key.split("."):
        node = node[part]
    return node[language].format(**values)


def all_texts() -> dict:
    """The whole file, for the test that every text exists in both languages."""
    return _texts()

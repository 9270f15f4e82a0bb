"""The catalogue's bilingual words (texts.yml), by dotted key."""

from __future__ import annotations

from pathlib import Path

from bot.wording import Wording

text = Wording(Path(__file__).parent / "texts.yml")


def all_texts() -> dict:
    """The whole file, for the test that every text exists in both languages."""
    return text.data

"""Find the catalogue entries a message names: "c'est quoi le prêt proxi ?", "wat doet het CED?"."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bot.catalog import catalog
from bot.intake.lexicon import compile_patterns
from bot.text import fold


@dataclass(frozen=True)
class Named:
    id: str
    start: int
    end: int


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[str, object]]:
    entries = [*catalog().measures.values(), *catalog().partners.values()]
    return [(e.id, compile_patterns(list(e.aliases))) for e in entries if e.aliases]


def find_named(text: str) -> list[Named]:
    """Every catalogue entry named in the text, longest name first where two overlap."""
    folded = fold(text)
    hits = [
        Named(entry_id, m.start(), m.end())
        for entry_id, pattern in _patterns()
        for m in pattern.finditer(folded)
    ]
    hits.sort(key=lambda h: (h.start, -(h.end - h.start)))
    kept: list[Named] = []
    for hit in hits:
        if not kept or hit.start >= kept[-1].end:
            kept.append(hit)
    return kept

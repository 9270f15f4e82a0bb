"""The support catalogue: partners and measures (YAML data), and the matcher that ranks them.

Plain Python shared by the actions (engine) and the gateway; load it with `catalog()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bot.catalog.model import CatalogError, Measure, Partner, build_measure, build_partner
from bot.intake.extract import place_by_id

DATA = Path(__file__).parent


@dataclass(frozen=True)
class Catalog:
    partners: dict[str, Partner]
    measures: dict[str, Measure]

    def provider(self, measure: Measure) -> Partner:
        return self.partners[measure.provider]

    def contact(self, measure: Measure):
        """The measure's own contact, else its provider's (following "via" once)."""
        return measure.contact or self.provider(measure).contact


def _entries(name: str) -> list:
    entries = yaml.safe_load((DATA / f"{name}.yml").read_text(encoding="utf-8"))
    if not isinstance(entries, list):
        raise CatalogError(f"{name}.yml must be a list of entries")
    return entries


def _by_id(items: list) -> dict:
    index = {}
    for item in items:
        if item.id in index:
            raise CatalogError(f"{item.id}: the id is used twice")
        index[item.id] = item
    return index


def check_references(partners: dict[str, Partner], measures: dict[str, Measure]) -> None:
    """Cross-entry rules: every provider, "via" partner and served commune exists."""
    for measure in measures.values():
        if measure.provider not in partners:
            raise CatalogError(f"{measure.id}: provider {measure.provider!r} is not a partner")
        if measure.id in partners:
            raise CatalogError(f"{measure.id}: a measure and a partner share this id")
    for entry in [*partners.values(), *measures.values()]:
        via = entry.contact.via if entry.contact else None
        if via and via not in partners:
            raise CatalogError(f"{entry.id}: contact via {via!r} is not a partner")
    for partner in partners.values():
        for commune in partner.communes:
            if place_by_id(commune) is None:
                raise CatalogError(f"{partner.id}: unknown commune {commune!r}")


def load() -> Catalog:
    """Read and check both files; raises CatalogError on the first broken rule."""
    partners = _by_id([build_partner(raw) for raw in _entries("partners")])
    measures = _by_id([build_measure(raw) for raw in _entries("measures")])
    check_references(partners, measures)
    return Catalog(partners, measures)


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    return load()

"""Extract profile facts from one message: sector, workers, commune, needs, urgency.

Two modes: free text (the person tells their story: be strict, a wrong guess is worse than a
question) and answer (the bot just asked for that one fact: accept a bare "3" or "Uccle").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from bot.intake.lexicon import compile_patterns, families, load
from bot.text import fold

NEEDS = (
    "finance",
    "rent",
    "insolvency",
    "digital",
    "coaching",
    "psychological",
    "creation",
    "social_economy",
)
SECTORS = ("retail", "horeca", "culture_events", "services", "crafts_construction", "other")
URGENCIES = ("high", "medium", "low")

_LEXICON = load("lexicon")
_EMPLOYEES = _LEXICON["employees"]
_NUMBER_WORDS: dict[str, int] = _EMPLOYEES["numbers"]
_NUMBER = (
    r"(?P<n>\d{1,3}|"
    + "|".join(sorted((re.escape(w) for w in _NUMBER_WORDS), key=len, reverse=True))
    + ")"
)


def _union(*names: str) -> str:
    return "|".join(compile_patterns(_EMPLOYEES[name]).pattern for name in names)


# "7 salariés", "une dizaine d'ouvriers", "3 vaste werknemers", "mes 2 vendeuses".
_STAFF_COUNT = re.compile(
    rf"(?<![\w€.,]){_NUMBER}\s+(?:d'|de\s+|van\s+)?(?:[\w'-]+\s+)?"
    rf"(?:(?P<staff>{_union('staff')})|(?P<role>{_union('roles')}))"
)
_MINE = compile_patterns(_EMPLOYEES["mine"])
_EMPLOYED = re.compile(rf"\s*(?:{_union('employed')})")
_GONE = re.compile(rf"\s*(?:{_union('gone')})")
_TEAM = re.compile(
    rf"(?:{_union('team')})\s+(?:a\s+|met\s+)?{_NUMBER}\b[^.?!]{{0,60}}?(?:{_union('with_me')})"
)
_ONLY_ONE = re.compile(
    rf"(?<![\w'])(?:{_union('only_one')})\s+(?:[a-z]+\s+)?(?:{_union('staff', 'roles')})"
)
_ALONE = compile_patterns(_EMPLOYEES["alone"])
_ZERO_ANSWER = compile_patterns(_EMPLOYEES["zero_answer"])
_BARE_NUMBER = re.compile(rf"(?<![\w€.,]){_NUMBER}(?![\w])")
_POSTCODE = re.compile(r"(?<![\d€.,])([1-9]\d{3})(?!\s*(?:€|eur|euro|k\b|%|[.,]\d))\b")
# "l'ONSS", "d'argent": the word after an elided article is matched on its own too.
_ELISION = re.compile(r"(?<![\w'])(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu)'(?=\w)")
_SOMEONE = {part: compile_patterns(p) for part, p in _LEXICON["someone_else"].items()}
_PRIVATE_HOME = compile_patterns(_LEXICON["private_home"])
# A sector named as a supplier or a neighbour ("chez le grossiste") is not the writer's own.
_ELSEWHERE = re.compile(r"(?:\bchez|\bbij|\bvan|\baupres)\s+(?:(?:le|la|les|l'|un|une|des|du|de|die|dat|het|een|mijn|mon|ma|mes)\s*)?$")
@dataclass(frozen=True)
class Place:
    """A commune of the Region (region='brussels') or a place elsewhere in Belgium."""

    id: str
    region: str  # brussels | wallonia | flanders
    fr: str
    nl: str

    def name(self, language: str) -> str:
        return self.nl if language == "nl" else self.fr


@dataclass(frozen=True)
class Found:
    """One extracted value and where it was said (offsets into the original text)."""

    entity: str
    value: object
    start: int
    end: int

    def as_entity(self) -> dict:
        return {"entity": self.entity, "value": self.value, "start": self.start, "end": self.end}


def _hits(section: str, folded: str) -> list[tuple[str, re.Match]]:
    return [(label, m) for label, p in families(section).items() if (m := p.search(folded))]


def _sector(folded: str) -> Found | None:
    hits = _hits("sectors", folded)
    if not hits:
        return None
    label, m = min(hits, key=lambda hit: hit[1].start())
    return Found("sector", label, m.start(), m.end())


def _needs(folded: str) -> list[Found]:
    return [Found("need", label, m.start(), m.end()) for label, m in _hits("needs", folded)]


def _urgency(folded: str) -> Found | None:
    for label in ("low", "high", "medium"):
        if m := families("urgency")[label].search(folded):
            return Found("urgency", label, m.start(), m.end())
    return None


def find_sector(text: str) -> str | None:
    """The sector named first in the message, or None."""
    found = _sector(fold(text))
    return found.value if found else None


def find_needs(text: str) -> list[str]:
    """Every need the message states, in the canonical order of NEEDS."""
    return [found.value for found in _needs(fold(text))]


def find_urgency(text: str) -> str | None:
    found = _urgency(fold(text))
    return found.value if found else None


def _number(token: str) -> int:
    return int(token) if token.isdigit() else _NUMBER_WORDS[token]


def _employees(folded: str, answer: bool) -> Found | None:
    if m := _STAFF_COUNT.search(folded):
        return Found("employees", _number(m.group("n")), m.start(), m.end())
    if m := _ALONE.search(folded):
        return Found("employees", 0, m.start(), m.end())
    if answer:
        if m := _BARE_NUMBER.search(folded):
            return Found("employees", _number(m.group("n")), m.start(), m.end())
        if m := _ZERO_ANSWER.search(folded):
            return Found("employees", 0, m.start(), m.end())
    return None


def find_employees(text: str, answer: bool = False) -> int | None:
    """Staff other than the owner. answer=True accepts a bare number ("3", "trois", "geen")."""
    found = _employees(fold(text), answer)
    return found.value if found else None


@lru_cache(maxsize=1)
def _places() -> tuple[list[tuple[re.Pattern, Place]], dict[int, Place]]:
    data = load("communes")
    named: list[tuple[re.Pattern, Place]] = []
    by_postcode: dict[int, Place] = {}
    for c in data["brussels"]:
        place = Place(c["id"], "brussels", c["fr"], c["nl"])
        named.append((compile_patterns(c["variants"]), place))
        by_postcode.update(dict.fromkeys(c["postcodes"], place))
    for region, names in data["outside"].items():
        for name in names:
            named.append(
                (compile_patterns([name]), Place(name, region, name.title(), name.title()))
            )
    # Longer variants first so "woluwe-saint-pierre" wins over a shorter overlapping name.
    named.sort(key=lambda item: -len(item[0].pattern))
    return named, by_postcode


def _region_of_postcode(code: int) -> str | None:
    for band in load("communes")["postcode_regions"]:
        if band["from"] <= code <= band["to"]:
            return band["region"]
    return None


_BRUSSELS_ALONE = compile_patterns(["bruxelles", "brussel", "bxl", "brussels"])


def _commune(folded: str, answer: bool) -> tuple[Place, int, int] | None:
    named, by_postcode = _places()
    hits = [(m, place) for pattern, place in named if (m := pattern.search(folded))]
    if hits:
        m, place = min(hits, key=lambda hit: hit[0].start())
        return place, m.start(), m.end()
    for m in _POSTCODE.finditer(folded):
        code = int(m.group(1))
        if code in by_postcode:
            return by_postcode[code], m.start(), m.end()
        region = _region_of_postcode(code)
        if answer and region and region != "brussels":
            return Place(str(code), region, str(code), str(code)), m.start(), m.end()
    if answer and (m := _BRUSSELS_ALONE.search(folded)):
        return next(place for _, place in named if place.id == "bruxelles"), m.start(), m.end()
    return None


def find_commune(text: str, answer: bool = False) -> Place | None:
    """A Brussels commune or an outside place named in the message.

    In free text only names and Brussels postcodes count (a year like 2021 is not a postcode);
    as an answer any Belgian postcode counts and plain "Bruxelles" means the City of Brussels.
    """
    found = _commune(fold(text), answer)
    return found[0] if found else None


def place_by_id(place_id: str) -> Place | None:
    """The place a commune slot holds (its id), or None for an unknown id."""
    named, _ = _places()
    return next((place for _, place in named if place.id == place_id), None)


def profile_entities(text: str) -> list[Found]:
    """Everything the free text states, as entities for the NLU parse result."""
    folded = fold(text)
    found: list[Found | None] = [
        _sector(folded),
        _employees(folded, answer=False),
        _urgency(folded),
    ]
    if commune := _commune(folded, answer=False):
        place, start, end = commune
        found.append(Found("commune", place.id, start, end))
    return [f for f in found if f] + _needs(folded)

"""Extract profile facts from one message: sector, workers, commune, needs, urgency, and
circumstances (bankrupt, forced closure, jobseeker, cooperative member).

Two modes: free text (the person tells their story: be strict, a wrong guess is worse than a
question) and answer (the bot just asked for that one fact: accept a bare "3" or "Uccle").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from bot.intake.lexicon import compile_patterns, families, load
from bot.text import fold, spell_out

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
CIRCUMSTANCES = ("bankrupt", "forced_closure", "jobseeker", "cooperative")
SECTORS = ("retail", "horeca", "culture_events", "services", "crafts_construction", "other")
URGENCIES = ("high", "medium", "low")

_LEXICON = load("lexicon")
_EMPLOYEES = _LEXICON["employees"]
_NUMBER_WORDS: dict[str, int] = _EMPLOYEES["numbers"]
_ANSWER_ONLY = set(_EMPLOYEES["answer_only"])


def _number_pattern(words: list[str]) -> str:
    alternatives = sorted((re.escape(w) for w in words), key=len, reverse=True)
    return r"(?P<n>\d{1,3}|" + "|".join(alternatives) + ")"


_NUMBER = _number_pattern([w for w in _NUMBER_WORDS if w not in _ANSWER_ONLY])


def _any(name: str, section: str = "employees") -> str:
    """A lexicon family as a regex alternative, to build a larger pattern from it."""
    return compile_patterns(_LEXICON[section][name]).pattern


def _union(*names: str) -> str:
    return "|".join(_any(name) for name in names)


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
_BARE_NUMBER = re.compile(rf"(?<![\w€.,]){_number_pattern(list(_NUMBER_WORDS))}(?![\w])")
_POSTCODE = re.compile(r"(?<![\d€.,])([1-9]\d{3})(?!\s*(?:€|eur|euro|k\b|%|[.,]\d))\b")
# "l'ONSS", "d'argent": the word after an elided article is matched on its own too.
_ELISION = re.compile(r"(?<![\w'])(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu)'(?=\w)")
_SOMEONE = {
    "person": re.compile(
        rf"(?:{_any('owner', 'someone_else')})\s+(?:\w+\s+)?(?:{_any('person', 'someone_else')})"
    ),
    "state": compile_patterns(_LEXICON["someone_else"]["state"]),
    "ask": compile_patterns(_LEXICON["someone_else"]["ask"]),
}
_THEIRS = compile_patterns(_LEXICON["someone_else"]["theirs"])
_PRIVATE_HOME = compile_patterns(_LEXICON["private_home"])
# A sector named as a supplier, a customer or a neighbour ("chez le grossiste", "mon fournisseur
# de vélos", "mon plus gros client, un hôtel") is not the writer's own; "les clients du resto" and
# "des clients, le resto est vide" are.
_ARTICLE = r"(?:(?:le|la|les|l'|un|une|des|du|de|die|dat|het|een)\s*)?"
_ELSEWHERE = re.compile(
    rf"\b(?:(?:chez|bij|aupres de)\s+{_ARTICLE}"
    rf"|(?:fournisseurs?|leveranciers?|grossistes?)"
    rf"(?:\s+(?:(?:de|du|des|d'|van)\s*)?{_ARTICLE}|,\s+(?:un|une|een)\s+)"
    r"|(?:mon|ma|notre|mijn|onze|m'n)\s+(?:\w+\s+){0,2}(?:clients?|klanten?|klant),?\s+"
    r"(?:un|une|een)\s+)$"
)


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


def _fold(text: str) -> str:
    """The text the lexicon sees: folded, ligatures spelled out ("sœur" -> "soeur")."""
    return fold(spell_out(text))


def _in_original(text: str, found: list[Found]) -> list[Found]:
    """Offsets into `_fold(text)` moved back into `text`, where a ligature is one character."""
    if spell_out(text) == text:
        return found
    at = [i for i, c in enumerate(text) for _ in spell_out(c)] + [len(text)]
    return [
        replace(f, start=at[f.start], end=at[f.end - 1] + 1 if f.end > f.start else at[f.end])
        for f in found
    ]


def _texts(folded: str) -> tuple[str, ...]:
    unelided = _ELISION.sub(lambda m: m[0][:-1] + " ", folded)
    return (folded, unelided) if unelided != folded else (folded,)


def _matches(pattern: re.Pattern, folded: str) -> list[re.Match]:
    return [m for text in _texts(folded) for m in pattern.finditer(text)]


def _first(pattern: re.Pattern, folded: str) -> re.Match | None:
    return min(_matches(pattern, folded), key=lambda m: m.start(), default=None)


def _hits(section: str, folded: str) -> dict[str, re.Match]:
    return {label: m for label, p in families(section).items() if (m := _first(p, folded))}


def _sector(folded: str) -> Found | None:
    """The first trade named, the longest name at a place; not a supplier's or a customer's
    (`_ELSEWHERE`). Words for any shop-front business ("mon commerce") count only when no trade
    is named."""
    hits = _sector_hits("sectors", folded) or _sector_hits("generic_sectors", folded)
    if not hits:
        return None
    label, m = min(hits, key=lambda hit: (hit[1].start(), -hit[1].end()))
    return Found("sector", label, m.start(), m.end())


def _sector_hits(section: str, folded: str) -> list[tuple[str, re.Match]]:
    return [
        (label, m)
        for label, pattern in families(section).items()
        for m in _matches(pattern, folded)
        if not _ELSEWHERE.search(folded[max(0, m.start() - 40) : m.start()])
    ]


def _someone_else(folded: str, sign: re.Pattern = _SOMEONE["state"]) -> re.Match | None:
    """Someone close, a `sign` that they are the one at risk (by default the lexicon's words for
    their state) and a "what do I do?": asking how to help them. Returns the question."""
    ask = _first(_SOMEONE["ask"], folded)
    return ask if ask and _first(_SOMEONE["person"], folded) and _first(sign, folded) else None


def helping_someone_else(text: str) -> Found | None:
    """For a message the distress check rates high or critical: someone close, what they said or
    did, and a "what do I do?" are asking how to help them (the psychological need), whatever
    words describe their state: the check's rules and classifier reach much further than the
    lexicon's list. Without their words reported ("m'a écrit", "zei dat hij") the distress may
    be the writer's own."""
    ask = _someone_else(_fold(text), sign=_THEIRS)
    if ask is None:
        return None
    [found] = _in_original(text, [Found("need", "psychological", ask.start(), ask.end())])
    return found


def _needs(folded: str) -> list[Found]:
    hits = _hits("needs", folded)
    if "psychological" not in hits and (m := _someone_else(folded)):
        hits["psychological"] = m
    if _first(_PRIVATE_HOME, folded) and not _sector(folded):
        hits = {label: m for label, m in hits.items() if label not in ("rent", "finance")}
    if not hits:  # advice words alone: the need is advice itself
        hits = _hits("advice", folded)
    return [
        Found("need", label, hits[label].start(), hits[label].end())
        for label in NEEDS
        if label in hits
    ]


def _circumstances(folded: str) -> list[Found]:
    hits = _hits("circumstances", folded)
    return [Found("circumstance", label, m.start(), m.end()) for label, m in hits.items()]


def find_circumstances(text: str) -> list[str]:
    return [found.value for found in _circumstances(_fold(text))]


def _urgency(folded: str) -> Found | None:
    for label in ("low", "high", "medium"):
        if m := families("urgency")[label].search(folded):
            return Found("urgency", label, m.start(), m.end())
    return None


def find_sector(text: str) -> str | None:
    """The sector named first in the message, or None."""
    found = _sector(_fold(text))
    return found.value if found else None


def find_needs(text: str) -> list[str]:
    """Every need the message states, in the canonical order of NEEDS."""
    return [found.value for found in _needs(_fold(text))]


def find_urgency(text: str) -> str | None:
    found = _urgency(_fold(text))
    return found.value if found else None


def _number(token: str) -> int:
    return int(token) if token.isdigit() else _NUMBER_WORDS[token]


def _staff_count(folded: str) -> Found | None:
    for m in _STAFF_COUNT.finditer(folded):
        mine = _MINE.search(folded[max(0, m.start() - 40) : m.start()])
        employed = _EMPLOYED.match(folded, m.end())
        vague = m["role"] or (not m["n"].isdigit() and _number(m["n"]) == 1)  # "d'un barman"
        if (vague and not (mine or employed)) or _GONE.match(folded, m.end()):
            continue
        return Found("employees", _number(m["n"]), m.start(), m.end())
    return None


def _employees(folded: str, answer: bool) -> Found | None:
    alone = _first(_ALONE, folded)
    folded = _texts(folded)[-1]  # "une dizaine d'ouvriers" read as "une dizaine d ouvriers"
    if m := _TEAM.search(folded):  # "on est 4, moi compris"
        return Found("employees", max(_number(m["n"]) - 1, 0), m.start(), m.end())
    if found := _staff_count(folded):
        return found
    if m := _ONLY_ONE.search(folded):
        return Found("employees", 1, m.start(), m.end())
    if alone:
        return Found("employees", 0, alone.start(), alone.end())
    if answer:
        if m := _BARE_NUMBER.search(folded):
            return Found("employees", _number(m.group("n")), m.start(), m.end())
        if m := _ZERO_ANSWER.search(folded):
            return Found("employees", 0, m.start(), m.end())
    return None


def find_employees(text: str, answer: bool = False) -> int | None:
    """Staff other than the owner. answer=True accepts a bare number ("3", "trois", "geen")."""
    found = _employees(_fold(text), answer)
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
    found = _commune(_fold(text), answer)
    return found[0] if found else None


def place_by_id(place_id: str) -> Place | None:
    """The place a commune slot holds (its id), or None for an unknown id."""
    named, _ = _places()
    return next((place for _, place in named if place.id == place_id), None)


def profile_entities(text: str) -> list[Found]:
    """Everything the free text states, as entities for the NLU parse result."""
    folded = _fold(text)
    found: list[Found | None] = [
        _sector(folded),
        _employees(folded, answer=False),
        _urgency(folded),
    ]
    if commune := _commune(folded, answer=False):
        place, start, end = commune
        found.append(Found("commune", place.id, start, end))
    return _in_original(text, [f for f in found if f] + _needs(folded) + _circumstances(folded))

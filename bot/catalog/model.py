"""The catalogue's entries as typed records, built from the YAML files with strict checks.

Plain Python (both environments load it). Every rule a data reviewer must respect is checked
here, so `python -m bot.catalog check` and the tests reject a bad entry with a clear message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from bot.intake.extract import CIRCUMSTANCES, NEEDS, SECTORS
from bot.language import SUPPORTED
from bot.text import fold

REGIONS = ("brussels", "wallonia", "flanders")
KINDS = ("loan", "grant", "coaching", "training", "psychological", "legal", "information")
STATUSES = ("active", "ended", "unknown")
# Situations a measure can require: the circumstances people state, and two the profile implies
# (a distress level of moderate or more; the insolvency need).
SITUATIONS = ("distress", "insolvency", *CIRCUMSTANCES)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class CatalogError(ValueError):
    """A catalogue entry breaks a rule; the message names the entry and the field."""


Text = dict[str, str]  # {"fr": ..., "nl": ...}


def _text(entry_id: str, name: str, value: object, required: bool = True) -> Text:
    if value is None and not required:
        return {}
    if not isinstance(value, dict) or set(value) != set(SUPPORTED):
        raise CatalogError(f"{entry_id}: {name} needs exactly {', '.join(SUPPORTED)}")
    for language, text in value.items():
        if not isinstance(text, str) or not text.strip():
            raise CatalogError(f"{entry_id}: {name}.{language} is empty")
    return {language: " ".join(text.split()) for language, text in value.items()}


def _choice(entry_id: str, name: str, value: object, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise CatalogError(f"{entry_id}: {name} {value!r} is not one of {', '.join(allowed)}")
    return value


def _choices(entry_id: str, name: str, value: object, allowed: tuple[str, ...]) -> tuple:
    values = value or []
    if not isinstance(values, list):
        raise CatalogError(f"{entry_id}: {name} must be a list")
    return tuple(_choice(entry_id, name, v, allowed) for v in values)


def _date(entry_id: str, name: str, value: object, required: bool = False) -> date | None:
    if value is None and not required:
        return None
    if isinstance(value, date):
        return value
    raise CatalogError(f"{entry_id}: {name} must be a date (YYYY-MM-DD), got {value!r}")


def _urls(entry_id: str, value: object) -> tuple[str, ...]:
    urls = value if isinstance(value, list) else [value]
    if not urls or not all(isinstance(u, str) and u.startswith("http") for u in urls):
        raise CatalogError(f"{entry_id}: sources must be one or more http(s) URLs")
    return tuple(urls)


@dataclass(frozen=True)
class Opening:
    """When a service answers: "24/7", or "mon-fri 08:30-17:00; sat 10:00-12:00"."""

    always: bool
    slots: tuple[tuple[int, time, time], ...]  # (weekday 0=Monday, from, to)

    @classmethod
    def parse(cls, spec: str) -> Opening:
        if spec.strip() == "24/7":
            return cls(True, ())
        slots = []
        for part in spec.split(";"):
            match = re.fullmatch(r"\s*([a-z,-]+)\s+([\d:,\s-]+)\s*", part)
            if not match:
                raise CatalogError(f"hours {spec!r}: cannot read {part!r}")
            days = _days(match.group(1))
            for span in match.group(2).split(","):
                start, end = (time.fromisoformat(t.strip()) for t in span.split("-"))
                if end <= start:
                    raise CatalogError(f"hours {spec!r}: {span} ends before it starts")
                slots.extend((day, start, end) for day in days)
        return cls(False, tuple(sorted(slots)))

    def is_open(self, moment: datetime) -> bool:
        if self.always:
            return True
        now = moment.time()
        return any(d == moment.weekday() and s <= now < e for d, s, e in self.slots)

    def next_opening(self, moment: datetime) -> datetime:
        """The moment the service is next open (now if it is open now)."""
        if self.is_open(moment):
            return moment
        for offset in range(8):
            day = (moment + timedelta(days=offset)).date()
            for weekday, start, _ in self.slots:
                candidate = datetime.combine(day, start, moment.tzinfo)
                if weekday == day.weekday() and candidate > moment:
                    return candidate
        raise CatalogError("hours: no opening in the next week")


def _days(spec: str) -> list[int]:
    days: list[int] = []
    for piece in spec.split(","):
        first, _, last = piece.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise CatalogError(f"hours: unknown day in {spec!r}")
        start, end = DAYS.index(first), DAYS.index(last or first)
        days.extend(range(start, end + 1))
    return days


@dataclass(frozen=True)
class Contact:
    phone: str | None = None
    email: str | None = None
    web: str | None = None
    hours: Opening | None = None  # None: hours unknown, the bot says to check
    hours_spec: str | None = None
    via: str | None = None  # another partner's id when this one is reached through it

    @classmethod
    def build(cls, entry_id: str, raw: dict | None) -> Contact:
        raw = dict(raw or {})
        unknown = set(raw) - {"phone", "email", "web", "hours", "via"}
        if unknown:
            raise CatalogError(f"{entry_id}: unknown contact fields {sorted(unknown)}")
        spec = raw.pop("hours", None)
        hours = Opening.parse(spec) if spec else None
        return cls(**{k: str(v) for k, v in raw.items()}, hours=hours, hours_spec=spec)


@dataclass(frozen=True)
class Partner:
    id: str
    name: Text
    description: Text
    region: str  # the region it serves; "belgium" for federal and national services
    contact: Contact
    status: str
    verified: bool
    unverified: tuple[str, ...]  # which facts could not be confirmed (free words)
    sources: tuple[str, ...]
    checked: date
    aliases: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()  # a local desk: the communes it serves
    languages: tuple[str, ...] = SUPPORTED


@dataclass(frozen=True)
class Workers:
    min: int | None = None
    max: int | None = None

    def admits(self, workers: int) -> bool:
        return (self.min is None or workers >= self.min) and (
            self.max is None or workers <= self.max
        )


@dataclass(frozen=True)
class Requirement:
    """A condition Relais cannot check itself: shown as "what is still missing"."""

    id: str
    text: Text
    met_by: tuple[str, ...] = ()  # situations that show the condition is met


@dataclass(frozen=True)
class Eligibility:
    regions: tuple[str, ...] = ("brussels",)
    sectors: tuple[str, ...] = ()  # empty: every sector
    workers: Workers = field(default_factory=Workers)
    needs: tuple[str, ...] = ()  # the needs it answers; empty: none in particular
    situations: tuple[str, ...] = ()  # at least one of these must apply; empty: any
    requires: tuple[Requirement, ...] = ()


@dataclass(frozen=True)
class Measure:
    id: str
    name: Text
    description: Text
    provider: str
    kind: str
    eligibility: Eligibility
    status: str
    verified: bool
    sources: tuple[str, ...]
    checked: date
    aliases: tuple[str, ...] = ()
    amount: Text = field(default_factory=dict)
    duration: Text = field(default_factory=dict)
    contact: Contact | None = None  # when it differs from the provider's
    started: date | None = None
    ended: date | None = None
    unverified: tuple[str, ...] = ()

    @property
    def recommendable(self) -> bool:
        """Ended measures stay as history; only active or unknown ones are ever proposed."""
        return self.status != "ended"


_PARTNER_FIELDS = {
    "id", "name", "description", "region", "contact", "status", "verified", "unverified",
    "sources", "checked", "communes", "languages", "aliases",
}  # fmt: skip
_MEASURE_FIELDS = {
    "id", "name", "description", "provider", "kind", "eligibility", "status", "verified",
    "sources", "checked", "amount", "duration", "contact", "started", "ended", "unverified",
    "aliases",
}  # fmt: skip


def _fields(raw: object, allowed: set[str], what: str) -> tuple[str, dict]:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise CatalogError(f"a {what} without an id: {raw!r:.80}")
    entry_id = raw["id"]
    if not re.fullmatch(r"[a-z0-9_]+", entry_id):
        raise CatalogError(f"{entry_id}: ids are lower case letters, digits and _")
    unknown = set(raw) - allowed
    if unknown:
        raise CatalogError(f"{entry_id}: unknown fields {sorted(unknown)}")
    return entry_id, raw


def _common(entry_id: str, raw: dict) -> dict:
    verified = raw.get("verified")
    if not isinstance(verified, bool):
        raise CatalogError(f"{entry_id}: verified must be true or false")
    unverified = tuple(raw.get("unverified") or ())
    if not verified and not unverified:
        raise CatalogError(f"{entry_id}: say what is unverified")
    return {
        "name": _text(entry_id, "name", raw.get("name")),
        "description": _text(entry_id, "description", raw.get("description")),
        "status": _choice(entry_id, "status", raw.get("status"), STATUSES),
        "verified": verified,
        "unverified": unverified,
        "sources": _urls(entry_id, raw.get("sources")),
        "checked": _date(entry_id, "checked", raw.get("checked"), required=True),
        "aliases": _aliases(entry_id, raw.get("aliases")),
    }


def _aliases(entry_id: str, value: object) -> tuple[str, ...]:
    """What people call it, folded (lower case, no accents): how questions about it are found."""
    aliases = value or []
    if not isinstance(aliases, list) or any(fold(a) != a for a in aliases):
        raise CatalogError(f"{entry_id}: aliases are a list of folded words (no capitals, accents)")
    return tuple(aliases)


def build_partner(raw: object) -> Partner:
    entry_id, raw = _fields(raw, _PARTNER_FIELDS, "partner")
    return Partner(
        id=entry_id,
        region=_choice(entry_id, "region", raw.get("region"), (*REGIONS, "belgium")),
        contact=Contact.build(entry_id, raw.get("contact")),
        communes=tuple(raw.get("communes") or ()),
        languages=_choices(
            entry_id, "languages", raw.get("languages", list(SUPPORTED)), (*SUPPORTED, "de")
        ),
        **_common(entry_id, raw),
    )


def _eligibility(entry_id: str, raw: object) -> Eligibility:
    raw = dict(raw or {})
    unknown = set(raw) - {"regions", "sectors", "workers", "needs", "situations", "requires"}
    if unknown:
        raise CatalogError(f"{entry_id}: unknown eligibility fields {sorted(unknown)}")
    workers = raw.get("workers") or {}
    if set(workers) - {"min", "max"}:
        raise CatalogError(f"{entry_id}: workers takes min and max")
    requires = []
    for item in raw.get("requires") or []:
        requires.append(
            Requirement(
                id=item["id"],
                text=_text(entry_id, f"requires {item['id']}", item.get("text")),
                met_by=_choices(entry_id, "met_by", item.get("met_by"), SITUATIONS),
            )
        )
    return Eligibility(
        regions=_choices(entry_id, "regions", raw.get("regions", ["brussels"]), REGIONS),
        sectors=_choices(entry_id, "sectors", raw.get("sectors"), SECTORS),
        workers=Workers(**workers),
        needs=_choices(entry_id, "needs", raw.get("needs"), NEEDS),
        situations=_choices(entry_id, "situations", raw.get("situations"), SITUATIONS),
        requires=tuple(requires),
    )


def build_measure(raw: object) -> Measure:
    entry_id, raw = _fields(raw, _MEASURE_FIELDS, "measure")
    common = _common(entry_id, raw)
    ended = _date(entry_id, "ended", raw.get("ended"))
    if common["status"] == "ended" and ended is None and common["verified"]:
        raise CatalogError(f"{entry_id}: an ended measure says when it ended (or is unverified)")
    return Measure(
        id=entry_id,
        provider=raw.get("provider"),
        kind=_choice(entry_id, "kind", raw.get("kind"), KINDS),
        eligibility=_eligibility(entry_id, raw.get("eligibility")),
        amount=_text(entry_id, "amount", raw.get("amount"), required=False),
        duration=_text(entry_id, "duration", raw.get("duration"), required=False),
        contact=Contact.build(entry_id, raw["contact"]) if raw.get("contact") else None,
        started=_date(entry_id, "started", raw.get("started")),
        ended=ended,
        **common,
    )

"""Rank the measures that fit a person's profile, and say why, or what is still missing.

Pure Python, deterministic. Hard rules first (never an ended measure, never another region's),
then a score: the needs the measure answers, how specifically it targets the person's sector,
size and situation, and whether its facts are verified. A measure that fails exactly one
criterion the person could still meet is an "almost": shown with the missing criterion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.catalog import Catalog, catalog
from bot.catalog.model import Measure, Partner
from bot.catalog.wording import text
from bot.intake.extract import place_by_id
from bot.intake.profile import label

DISTRESSED = ("moderate", "high", "critical")


@dataclass(frozen=True)
class Profile:
    """What the matcher knows; None or empty means "not said" and never excludes anything."""

    needs: tuple[str, ...] = ()
    sector: str | None = None
    workers: int | None = None
    commune: str | None = None  # a commune id of bot/intake/communes.yml, or an outside place
    region: str | None = None  # derived from the commune when not given
    situations: tuple[str, ...] = ()
    distress: str = "none"

    @property
    def place_region(self) -> str | None:
        place = place_by_id(self.commune) if self.commune else None
        return self.region or (place.region if place else None)

    @property
    def all_situations(self) -> set[str]:
        """Situations stated, plus those the needs and distress level imply."""
        implied = set(self.situations)
        if self.distress in DISTRESSED or "psychological" in self.needs:
            implied.add("distress")
        if "insolvency" in self.needs:
            implied.add("insolvency")
        return implied


@dataclass
class Match:
    measure: Measure
    score: float = 0.0
    first: bool = False  # ranked before every other measure, whatever the scores
    reasons: list[str] = field(default_factory=list)  # in the person's language
    missing: list[str] = field(default_factory=list)  # criteria not met (an "almost")
    conditions: list[str] = field(default_factory=list)  # still to do first

    def why(self, language: str) -> str:
        """One sentence: "Because you have at most 5 workers and a cash-flow problem." """
        return text("because", language, reasons=text("and", language).join(self.reasons))

    def as_dict(self, language: str, catalogue: Catalog) -> dict:
        provider = catalogue.provider(self.measure)
        contact = catalogue.contact(self.measure)
        return {
            "id": self.measure.id,
            "name": self.measure.name[language],
            "provider": provider.id,
            "provider_name": provider.name[language],
            "kind": self.measure.kind,
            "score": round(self.score, 2),
            "reasons": self.reasons,
            "why": self.why(language),
            "missing": self.missing,
            "conditions": self.conditions,
            "check_with_partner": not self.measure.verified or self.measure.status == "unknown",
            "contact": {k: v for k, v in vars(contact).items() if v and k != "hours"},
        }


@dataclass
class Result:
    recommended: list[Match]
    almost: list[Match]
    entry_points: list[Partner]  # who to contact first: the local desk, or the region's own

    def as_dict(self, language: str, catalogue: Catalog) -> dict:
        return {
            "recommended": [m.as_dict(language, catalogue) for m in self.recommended],
            "almost": [m.as_dict(language, catalogue) for m in self.almost],
            "entry_points": [{"id": p.id, "name": p.name[language]} for p in self.entry_points],
        }


def _sector_names(sectors: tuple[str, ...], language: str) -> str:
    return ", ".join(label("sectors", s, language) for s in sectors)


def _judge(measure: Measure, profile: Profile, language: str, catalogue: Catalog) -> Match | None:
    """Score one measure; None when it can never fit this person."""
    rules = measure.eligibility
    region = profile.place_region
    if not measure.recommendable or (region and region not in rules.regions):
        return None
    match = Match(measure)
    situations = profile.all_situations
    needs = [n for n in profile.needs if n in rules.needs]
    situation_hits = [s for s in rules.situations if s in situations]
    comfort = measure.kind == "psychological" and "distress" in situations
    if not needs and not situation_hits and not comfort:
        return None  # it answers nothing the person said
    for need in needs:
        match.reasons.append(text(f"need.{need}", language))
    match.score += 3 * len(needs) + (1 if profile.needs and needs[:1] == [profile.needs[0]] else 0)
    if situation_hits:
        match.score += 2
        match.reasons += [text(f"situation.{s}", language) for s in situation_hits]
    elif rules.situations:
        alternatives = text("or", language).join(
            text(f"situation.{s}", language) for s in rules.situations
        )
        match.missing.append(text("missing.situation", language, situation=alternatives))
    if rules.sectors:
        names = _sector_names(rules.sectors, language)
        if profile.sector in rules.sectors:
            match.score += 1
            match.reasons.append(text("reason.sector", language, sectors=names))
        elif profile.sector:
            match.missing.append(text("missing.sector", language, sectors=names))
    bounds = rules.workers
    if profile.workers is not None and (bounds.min is not None or bounds.max is not None):
        if bounds.admits(profile.workers):
            match.score += 1
            key, n = (
                ("workers_max", bounds.max)
                if bounds.max is not None
                else ("workers_min", bounds.min)
            )
            match.reasons.append(text(f"reason.{key}", language, n=str(n)))
        else:
            key, n = (
                ("workers_min", bounds.min)
                if bounds.min is not None and profile.workers < bounds.min
                else ("workers_max", bounds.max)
            )
            match.missing.append(text(f"missing.{key}", language, n=str(n)))
    for requirement in rules.requires:
        if not situations.intersection(requirement.met_by):
            match.conditions.append(requirement.text[language])
    provider_languages = catalogue.provider(measure).languages
    if language not in provider_languages:
        match.conditions.append(text(f"language_note.in_{provider_languages[0]}", language))
    if comfort:
        match.first = True  # people in distress get the psychological support first
        match.reasons.insert(0, text("reason.psychological_first", language))
    match.score += 0.5 if measure.verified else 0
    match.score -= 1 if measure.status == "unknown" else 0
    return match


def _entry_points(profile: Profile, catalogue: Catalog) -> list[Partner]:
    region = profile.place_region
    partners = [p for p in catalogue.partners.values() if p.status != "ended"]
    if region and region != "brussels":
        return [p for p in partners if p.region == region]
    local = [p for p in partners if profile.commune and profile.commune in p.communes]
    return [*local, catalogue.partners["info_1819"]]


def recommend(
    profile: Profile,
    language: str,
    limit: int = 3,
    catalogue: Catalog | None = None,
    exclude: frozenset[str] = frozenset(),
) -> Result:
    """The best `limit` measures that fit, the near misses, and the first people to contact.

    `exclude`: measures already shown, so "other options" pages through the rest.
    """
    catalogue = catalogue or catalog()
    candidates = [m for m in catalogue.measures.values() if m.id not in exclude]
    judged = [m for m in (_judge(x, profile, language, catalogue) for x in candidates) if m]
    # equal scores: the measure with fewer conditions still to meet comes first
    ranked = sorted(judged, key=lambda m: (not m.first, -m.score, len(m.conditions), m.measure.id))
    fits = [m for m in ranked if not m.missing]
    almost = [m for m in ranked if len(m.missing) == 1]
    return Result(fits[:limit], almost[:limit], _entry_points(profile, catalogue))

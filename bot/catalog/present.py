"""What the bot says about measures and partners: cards, details, contact, in either language.

Messages are plain dicts in the shape Rasa's REST channel returns ({"text", "buttons"}), so every
channel renders them the same way (channels without buttons fall back to text).
"""

from __future__ import annotations

import json

from bot.catalog import Catalog, catalog
from bot.catalog.matcher import Match, Result
from bot.catalog.model import DAYS, Contact, Measure, Opening, Partner
from bot.catalog.wording import text

Message = dict


def payload(intent: str, entry_id: str) -> str:
    return f"/{intent}" + json.dumps({"catalog_item": entry_id}, separators=(",", ":"))


def _button(key: str, language: str, target: str) -> dict:
    return {"title": text(f"card.{key}", language), "payload": target}


def describe_hours(hours: Opening | None, language: str) -> str:
    """ "du lundi au vendredi 08:30-17:30" from the machine-readable opening hours."""
    if hours is None:
        return text("card.hours_unknown", language)
    if hours.always:
        return text("card.always_open", language)
    by_times: dict[tuple, list[int]] = {}
    for day, start, end in hours.slots:
        by_times.setdefault((start, end), []).append(day)
    parts = []
    for (start, end), days in by_times.items():
        names = [text(f"days.{DAYS[d]}", language) for d in sorted(set(days))]
        contiguous = len(names) > 2 and sorted(set(days)) == list(range(min(days), max(days) + 1))
        when = (
            text("day_range", language, first=names[0], last=names[-1])
            if contiguous
            else ", ".join(names)
        )
        parts.append(f"{when} {start:%H:%M}-{end:%H:%M}")
    return "; ".join(parts)


def contact_lines(contact: Contact, language: str, catalogue: Catalog) -> list[str]:
    lines = [
        text(f"card.{field}", language, value=value)
        for field in ("phone", "email", "web")
        if (value := getattr(contact, field))
    ]
    if contact.phone:
        lines.append(text("card.hours", language, value=describe_hours(contact.hours, language)))
    if contact.via:
        lines.append(
            text("card.contact_via", language, via=catalogue.partners[contact.via].name[language])
        )
    return lines


def _title(measure: Measure, language: str, catalogue: Catalog) -> str:
    provider = catalogue.provider(measure).name[language]
    return f"{measure.name[language]} ({text('card.provider', language, provider=provider)})"


def _needs_check(entry: Measure | Partner) -> bool:
    return not entry.verified or entry.status == "unknown"


def card(match: Match, language: str, catalogue: Catalog) -> Message:
    measure = match.measure
    lines = [
        _title(measure, language, catalogue),
        measure.description[language],
        match.why(language),
    ]
    if match.conditions:
        lines.append(text("card.conditions", language, conditions="; ".join(match.conditions)))
    if _needs_check(measure):
        lines.append(text("card.check", language))
    return {
        "text": "\n".join(lines),
        "buttons": [
            _button("details_button", language, payload("more_details", measure.id)),
            _button("contact_button", language, payload("request_contact", measure.id)),
        ],
    }


def recommendation_messages(
    result: Result, language: str, first_page: bool, catalogue: Catalog | None = None
) -> list[Message]:
    """Intro, one card per measure, near misses, and the way on (other options, a person)."""
    catalogue = catalogue or catalog()
    if not result.recommended:
        key = "card.none" if first_page else "card.no_more"
        return [
            {
                "text": text(key, language),
                "buttons": [_button("human_button", language, "/request_human")],
            }
        ]
    messages = [{"text": text("card.intro" if first_page else "card.intro_more", language)}]
    messages += [card(match, language, catalogue) for match in result.recommended]
    closing = [
        text("card.almost", language, name=m.measure.name[language], missing=m.missing[0])
        for m in result.almost[:1]
    ]
    messages.append(
        {
            "text": "\n".join(closing) or text("card.contact_offer", language),
            "buttons": [
                _button("more_button", language, "/more_options"),
                _button("human_button", language, "/request_human"),
            ],
        }
    )
    return messages


def details(entry_id: str, language: str, catalogue: Catalog | None = None) -> Message:
    """Everything a person needs to know about one measure or partner."""
    catalogue = catalogue or catalog()
    if entry_id in catalogue.partners:
        partner = catalogue.partners[entry_id]
        lines = [partner.name[language], partner.description[language]]
        lines += contact_lines(partner.contact, language, catalogue)
        return _with_sources(lines, partner, language, [])
    measure = catalogue.measures[entry_id]
    lines = [
        _title(measure, language, catalogue),
        measure.description[language],
    ]
    if not measure.recommendable:
        when = (
            text("card.ended_when", language, date=f"{measure.ended:%d/%m/%Y}")
            if measure.ended
            else ""
        )
        lines.append(text("card.ended", language, when=when))
        return _with_sources(lines, measure, language, [])
    lines += [
        text(f"card.{key}", language, **{key: value[language]})
        for key, value in (("amount", measure.amount), ("duration", measure.duration))
        if value
    ]
    lines += contact_lines(catalogue.contact(measure), language, catalogue)
    buttons = [_button("contact_button", language, payload("request_contact", measure.id))]
    return _with_sources(lines, measure, language, buttons)


def _with_sources(lines: list[str], entry, language: str, buttons: list[dict]) -> Message:
    if _needs_check(entry):
        lines.append(text("card.check", language))
    lines.append(text("card.checked", language, date=f"{entry.checked:%d/%m/%Y}"))
    message: Message = {"text": "\n".join(lines)}
    if buttons:
        message["buttons"] = buttons
    return message


def contact(entry_id: str, language: str, catalogue: Catalog | None = None) -> Message:
    """How to reach the partner behind a measure (or the partner itself) directly."""
    catalogue = catalogue or catalog()
    if entry_id in catalogue.measures:
        measure = catalogue.measures[entry_id]
        partner, reach = catalogue.provider(measure), catalogue.contact(measure)
    else:
        partner = catalogue.partners[entry_id]
        reach = partner.contact
    direct = reach.phone or reach.email or reach.web
    if not direct and reach.via:  # reached through another partner: give that one's details
        through = catalogue.partners[reach.via]
        lines = [
            text(
                "card.contact_through",
                language,
                provider=partner.name[language],
                via=through.name[language],
            )
        ]
        lines += contact_lines(through.contact, language, catalogue)
    else:
        lines = [text("card.contact_intro", language, provider=partner.name[language])]
        lines += contact_lines(reach, language, catalogue)
    if _needs_check(partner):
        lines.append(text("card.check", language))
    return {"text": "\n".join(lines)}

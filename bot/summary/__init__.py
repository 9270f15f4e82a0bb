"""The handoff summary: structured fields and a short readable text in French and in Dutch.

Plain Python shared by the actions (which build it from the tracker's slots) and the gateway
(which stores and shows it). A counsellor must be able to act on it without the transcript.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.catalog import catalog
from bot.intake.extract import place_by_id
from bot.intake.profile import label
from bot.language import SUPPORTED
from bot.wording import Wording

REASONS = ("asked", "distress", "contact", "fallback")
STORY_MAX_CHARS = 300
SLOTS = ("morning", "afternoon", "any")


t = Wording(Path(__file__).parent / "texts.yml")


def _workers(workers: int | None, language: str) -> str:
    if workers is None:
        return t("workers.unknown", language)
    return t("workers.zero" if workers == 0 else "workers.many", language, n=workers)


def _reason(fields: dict[str, Any], language: str) -> str:
    item = catalog().measures.get(fields["contact_item"]) or catalog().partners.get(
        fields["contact_item"]
    )
    name = item.name[language] if item else t("unknown", language)
    return t(f"reason.{fields['reason']}", language, item=name)


def _contact(fields: dict[str, Any], language: str) -> str:
    contact = fields["contact"]
    if contact.get("phone"):
        slot = (
            t(f"slots.{contact['slot']}", language) if contact["slot"] in SLOTS else contact["slot"]
        )
        return t(
            "contact_phone", language, phone=contact["phone"], slot=slot or t("unknown", language)
        )
    return t("contact_chat", language, channel=t(f"channels.{fields['channel']}", language))


def _labels(fields: dict[str, Any], language: str) -> dict[str, str]:
    """Each field in words, for the counsellor's details list (codes stay in the fields)."""
    unknown = t("unknown", language)
    place = place_by_id(fields["commune"]) if fields["commune"] else None
    distress = t(f"levels.{fields['distress']['level']}", language)
    if fields["distress"]["cues"]:
        distress += t("cues", language, cues=", ".join(fields["distress"]["cues"]))
    return {
        "reason": _reason(fields, language),
        "sector": label("sectors", fields["sector"], language) if fields["sector"] else unknown,
        "workers": _workers(fields["workers"], language),
        "commune": place.name(language) if place else (fields["commune"] or unknown),
        "needs": ", ".join(label("needs", n, language) for n in fields["needs"]) or unknown,
        "circumstances": ", ".join(
            t(f"circumstance.{c}", language) for c in fields["circumstances"]
        ),
        "distress": distress,
        "urgency": label("urgency", fields["urgency"], language) if fields["urgency"] else unknown,
        "channel": t(f"channels.{fields['channel']}", language),
        "contact": _contact(fields, language),
    }


def _readable(fields: dict[str, Any], language: str) -> str:
    """A few lines in the counsellor's language, most important first."""
    unknown = t("unknown", language)
    place = place_by_id(fields["commune"]) if fields["commune"] else None
    partner = catalog().partners.get(fields["partner"])
    lines = [
        _reason(fields, language),
        t(
            "distress",
            language,
            level=t(f"levels.{fields['distress']['level']}", language),
            cues=t("cues", language, cues=", ".join(fields["distress"]["cues"]))
            if fields["distress"]["cues"]
            else "",
        ),
        t(
            "who",
            language,
            sector=label("sectors", fields["sector"], language) if fields["sector"] else unknown,
            workers=_workers(fields["workers"], language),
            commune=place.name(language) if place else (fields["commune"] or unknown),
        ),
        t(
            "needs",
            language,
            needs=", ".join(label("needs", n, language) for n in fields["needs"]) or unknown,
        ),
    ]
    if fields["circumstances"]:
        names = ", ".join(t(f"circumstance.{c}", language) for c in fields["circumstances"])
        lines.append(t("circumstances", language, circumstances=names))
    if fields["urgency"]:
        lines.append(t("urgency", language, urgency=label("urgency", fields["urgency"], language)))
    if fields["story"]:
        lines.append(t("story", language, story=fields["story"]))
    if fields["recommended"]:
        names = ", ".join(m["name"][language] for m in fields["recommended"])
        lines.append(t("recommended", language, measures=names))
    lines.append(_contact(fields, language))
    if fields["consent"] and partner:
        lines.append(t("consent", language, partner=partner.name[language]))
    return "\n".join(lines)


def build_summary(
    slots: dict[str, Any],
    *,
    channel: str,
    partner: str,
    reason: str,
    consent: bool,
    contact_item: str | None = None,
    phone: str | None = None,
    slot: str | None = None,
) -> dict[str, Any]:
    """The structured summary (JSON-ready) with its readable text in both languages."""
    if reason not in REASONS:
        raise ValueError(f"unknown handoff reason {reason!r}")
    employees = slots.get("employees")
    measures = catalog().measures
    story = (slots.get("situation") or "").strip()
    fields: dict[str, Any] = {
        "language": slots.get("language") or "fr",
        "channel": channel,
        "partner": partner,
        "reason": reason,
        "sector": slots.get("sector"),
        "workers": int(employees) if employees is not None else None,
        "commune": slots.get("commune"),
        "region": slots.get("region"),
        "needs": [n for n in slots.get("needs") or [] if n != "other"],
        "circumstances": list(slots.get("circumstances") or []),
        "distress": {
            "level": slots.get("distress_level") or "none",
            "cues": list(slots.get("distress_cues") or []),
        },
        "urgency": slots.get("urgency"),
        "story": story[:STORY_MAX_CHARS] + ("…" if len(story) > STORY_MAX_CHARS else ""),
        "recommended": [
            {"id": m, "name": measures[m].name}
            for m in slots.get("recommended") or []
            if m in measures
        ],
        "contact_item": contact_item,
        "consent": consent,
        "contact": {"preference": "phone" if phone else "chat", "phone": phone, "slot": slot},
    }
    fields["text"] = {language: _readable(fields, language) for language in SUPPORTED}
    fields["labels"] = {language: _labels(fields, language) for language in SUPPORTED}
    return fields

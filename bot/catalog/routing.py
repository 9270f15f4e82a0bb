"""Route a handoff to a partner's queue and give it a priority (rules in routing.yml)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from bot.catalog import catalog
from bot.catalog.matcher import Profile


@cache
def rules() -> dict:
    return yaml.safe_load((Path(__file__).parent / "routing.yml").read_text(encoding="utf-8"))


def _matches(rule: dict, profile: Profile) -> bool:
    when = rule["when"]
    hit = (
        profile.distress in when.get("distress", ())
        or bool(set(profile.needs) & set(when.get("needs", ())))
        or bool(profile.all_situations & set(when.get("situations", ())))
    )
    bounds = rule.get("workers", {})
    if hit and bounds and profile.workers is not None:
        return bounds.get("min", 0) <= profile.workers <= bounds.get("max", 10**6)
    return hit


def route(profile: Profile, contact_item: str | None = None) -> str:
    """The partner id whose counsellors take this conversation."""
    data = catalog()
    if contact_item in data.measures:
        return data.measures[contact_item].provider
    if contact_item in data.partners:
        return contact_item
    for rule in rules()["rules"]:
        if _matches(rule, profile):
            return rule["partner"]
    if rules()["local_first"] and profile.commune:
        local = [p.id for p in data.partners.values() if profile.commune in p.communes]
        if local:
            return local[0]
    return rules()["default"]


def priority(distress: str, urgency: str | None) -> int:
    levels = rules()["priority"]
    if distress in ("critical", "high"):
        return levels[distress]
    if urgency == "high" or distress == "moderate":
        return levels["urgent"]
    return levels["soon"] if urgency == "medium" else levels["normal"]

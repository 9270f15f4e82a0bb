"""The handoff summary: what a counsellor reads, in both languages, from any profile."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.intake.extract import CIRCUMSTANCES, NEEDS, SECTORS
from bot.summary import REASONS, build_summary

PROFILE = {
    "language": "nl", "sector": "horeca", "employees": 3.0, "commune": "ixelles",
    "region": "brussels", "needs": ["finance", "rent"], "circumstances": ["bankrupt"],
    "distress_level": "critical", "distress_cues": ["ik wil er niet meer zijn"],
    "urgency": "high", "situation": "Mijn café gaat failliet " * 40,
    "recommended": ["brusoc_loans", "no_such_measure"],
}  # fmt: skip


def test_a_counsellor_can_act_on_it_without_the_transcript():
    summary = build_summary(
        PROFILE, channel="telegram", partner="un_pass", reason="distress", consent=True,
        phone="0470 12 34 56", slot="afternoon",
    )  # fmt: skip
    fr = summary["text"]["fr"]
    assert fr.splitlines()[0] == "Transmis à cause de la détresse exprimée."
    assert "CRITIQUE" in fr and "ik wil er niet meer zijn" in fr
    assert "horeca, 3 travailleur(s), à Ixelles" in fr and "faillite prononcée" in fr
    assert "rappel au 0470 12 34 56, l'après-midi" in fr and "Prêts Brusoc" in fr
    assert "Un pass dans l'impasse" in fr
    nl = summary["text"]["nl"]
    assert "KRITIEK" in nl and "in Elsene" in nl and "terugbellen op 0470 12 34 56" in nl
    assert len(summary["story"]) <= 301, "the story is cut, the transcript holds the rest"
    assert [m["id"] for m in summary["recommended"]] == ["brusoc_loans"]
    assert summary["workers"] == 3 and summary["needs"] == ["finance", "rent"]
    json.dumps(summary)  # stored as JSON by the gateway


def test_an_unknown_reason_is_refused():
    with pytest.raises(ValueError, match="unknown handoff reason"):
        build_summary({}, channel="web", partner="ced", reason="boredom", consent=True)


profiles = st.fixed_dictionaries(
    {},
    optional={
        "language": st.sampled_from(["fr", "nl"]),
        "sector": st.sampled_from(SECTORS),
        "employees": st.none() | st.integers(0, 500).map(float),
        "commune": st.sampled_from(["ixelles", "jette", "liege", "gent", "9999"]),
        "needs": st.lists(st.sampled_from([*NEEDS, "other"]), unique=True),
        "circumstances": st.lists(st.sampled_from(CIRCUMSTANCES), unique=True),
        "distress_level": st.sampled_from(["none", "moderate", "high", "critical"]),
        "distress_cues": st.lists(st.text(max_size=40), max_size=5),
        "urgency": st.sampled_from(["high", "medium", "low"]),
        "situation": st.text(max_size=2000),
        "recommended": st.lists(st.text(max_size=30), max_size=4),
    },
)


@settings(max_examples=200, deadline=None)
@given(
    profile=profiles,
    reason=st.sampled_from(REASONS),
    channel=st.sampled_from(["web", "telegram", "whatsapp"]),
    item=st.none() | st.sampled_from(["pret_proxi", "ced", "nothing"]),
    phone=st.none() | st.just("+32 470 12 34 56"),
    slot=st.none() | st.sampled_from(["morning", "afternoon", "any"]) | st.text(max_size=64),
)
def test_any_profile_gives_a_complete_summary_in_both_languages(
    profile, reason, channel, item, phone, slot
):
    summary = build_summary(
        profile, channel=channel, partner="ced", reason=reason, consent=True,
        contact_item=item, phone=phone, slot=slot,
    )  # fmt: skip
    for language in ("fr", "nl"):
        assert summary["text"][language].strip()
        assert set(summary["labels"][language]) >= {"sector", "workers", "needs", "distress"}
    assert "other" not in summary["needs"]
    json.dumps(summary)

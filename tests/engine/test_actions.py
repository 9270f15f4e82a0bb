"""Custom actions with rasa_sdk trackers, as the action server runs them."""

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import HandleFallback
from actions.intake_form import IntakeDone, ValidateIntakeForm
from actions.profile_slots import ValidateSlotMappings, profile_updates

RELIABLE_NL = {"code": "nl", "confidence": 0.97, "reliable": True, "requested": None}


def tracker(text="", intent="inform", entities=(), parsed_language=None, metadata=None, **slots):
    message = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": list(entities),
        "language": parsed_language or {},
        "metadata": metadata or {},
    }
    return Tracker("web:test", slots, message, [], False, None, None, "action_listen")


def test_story_fills_profile_and_situation():
    entities = [
        {"entity": "sector", "value": "horeca"},
        {"entity": "commune", "value": "molenbeek"},
        {"entity": "need", "value": "finance"},
        {"entity": "need", "value": "rent"},
    ]
    updates = profile_updates(
        tracker("Mijn café ...", entities=entities, parsed_language=RELIABLE_NL)
    )
    assert updates["language"] == "nl" and updates["language_source"] == "detected"
    assert updates["sector"] == "horeca"
    assert (updates["commune"], updates["region"]) == ("molenbeek", "brussels")
    assert updates["needs"] == ["finance", "rent"]
    assert updates["situation"] == "Mijn café ..."


def test_needs_accumulate_and_situation_is_kept():
    t = tracker(
        "en ook de huur",
        entities=[{"entity": "need", "value": "rent"}],
        needs=["finance"],
        situation="first story",
        language="fr",
        language_source="detected",
    )
    updates = profile_updates(t)
    assert updates["needs"] == ["finance", "rent"]
    assert "situation" not in updates


def test_language_button_switches_a_detected_language():
    t = tracker(
        '/switch_language{"language_choice":"nl"}',
        intent="switch_language",
        entities=[{"entity": "language_choice", "value": "nl"}],
        language="fr",
        language_source="detected",
    )
    assert profile_updates(t)["language"] == "nl"


def test_channel_hint_seeds_the_language():
    t = tracker("ok", intent="affirm", metadata={"language_hint": "nl"})
    assert (profile_updates(t)["language"], profile_updates(t)["language_source"]) == ("nl", "hint")


def test_fallback_counter_counts_misunderstandings_in_a_row():
    assert (
        profile_updates(tracker("qsd", intent="nlu_fallback", fallback_count=1))["fallback_count"]
        == 2
    )
    assert profile_updates(tracker("oui", intent="affirm", fallback_count=1))["fallback_count"] == 0


async def test_action_only_sets_slots_that_change():
    t = tracker(
        "bonjour", intent="greet", language="fr", language_source="detected", fallback_count=0
    )
    assert await ValidateSlotMappings().run(CollectingDispatcher(), t, {}) == []


@pytest.mark.parametrize(
    ("slot", "text", "expected"),
    [
        ("employees", "trois", {"employees": 3}),
        ("employees", "geen", {"employees": 0}),
        ("commune", "1050", {"commune": "ixelles", "region": "brussels"}),
        ("commune", "Bruxelles", {"commune": "bruxelles", "region": "brussels"}),
        ("commune", "4000", {"commune": "4000", "region": "wallonia"}),
        ("sector", "je suis coiffeuse", {"sector": "services"}),
        ("needs", "je sais pas trop", {"needs": ["other"]}),
        ("urgency", "pas urgent", {"urgency": "low"}),
        ("situation", "tout va mal", {"situation": "tout va mal"}),
    ],
)
async def test_form_reads_short_answers_to_its_question(slot, text, expected):
    form = ValidateIntakeForm()
    t = tracker(text, requested_slot=slot)
    assert await getattr(form, f"extract_{slot}")(CollectingDispatcher(), t, {}) == expected


async def test_form_ignores_text_that_answers_another_question():
    t = tracker("trois", requested_slot="commune")
    assert await ValidateIntakeForm().extract_employees(CollectingDispatcher(), t, {}) == {}


async def test_unknown_commune_is_explained_and_asked_again():
    dispatcher = CollectingDispatcher()
    t = tracker("Atlantis", requested_slot="commune")
    assert await ValidateIntakeForm().extract_commune(dispatcher, t, {}) == {}
    assert dispatcher.messages[0]["response"] == "utter_not_a_commune"


async def test_form_has_no_more_questions_outside_brussels():
    t = tracker("Namur", region="wallonia")
    slots = ["situation", "sector", "employees", "commune", "needs", "urgency"]
    assert await ValidateIntakeForm().required_slots(slots, CollectingDispatcher(), t, {}) == []


async def test_intake_done_recaps_in_the_persons_language():
    dispatcher = CollectingDispatcher()
    t = tracker(
        language="nl",
        sector="horeca",
        employees=2.0,
        commune="ixelles",
        region="brussels",
        needs=["finance"],
        urgency="high",
    )
    await IntakeDone().run(dispatcher, t, {})
    recap, next_steps = dispatcher.messages
    assert recap["response"] == "utter_intake_recap"
    assert recap["commune_label"] == "Elsene"
    assert recap["employees_label"] == "2 mensen werken voor u"
    assert next_steps["response"] == "utter_next_steps"


async def test_intake_done_redirects_outside_brussels():
    dispatcher = CollectingDispatcher()
    await IntakeDone().run(dispatcher, tracker(language="fr", region="flanders"), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_outside_brussels_flanders"]


async def test_second_misunderstanding_offers_a_person():
    first, second = CollectingDispatcher(), CollectingDispatcher()
    assert await HandleFallback().run(first, tracker(fallback_count=1), {}) == []
    assert await HandleFallback().run(second, tracker(fallback_count=2), {}) == [
        SlotSet("fallback_count", 0)
    ]
    assert first.messages[0]["response"] == "utter_please_rephrase"
    assert second.messages[0]["response"] == "utter_fallback_offer_human"


async def test_a_question_inside_the_form_is_not_taken_as_an_answer():
    t = tracker("ben jij een robot?", intent="ask_capabilities", requested_slot="employees")
    assert await ValidateIntakeForm().extract_employees(CollectingDispatcher(), t, {}) == {}

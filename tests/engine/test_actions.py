"""Custom actions with rasa_sdk trackers, as the action server runs them."""

from pathlib import Path

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import HandleFallback
from actions.intake_form import INTAKE_SLOTS, IntakeDone, ValidateIntakeForm
from actions.profile_slots import ValidateSlotMappings, profile_updates

ROOT = Path(__file__).resolve().parents[2]
RELIABLE_NL = {"code": "nl", "confidence": 0.97, "reliable": True, "requested": None}


def tracker(
    text="", intent="inform", entities=(), parsed_language=None, metadata=None, history=(), **slots
):
    """A tracker whose latest message is `text`; `history` holds earlier parse results."""
    message = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": list(entities),
        "language": parsed_language or {},
        "metadata": metadata or {},
    }
    events = [{"event": "user", "parse_data": p} for p in (*history, message)]
    return Tracker("web:test", slots, message, events, False, None, None, "action_listen")


def settled(text: str, intent: str, **slots):
    """A French conversation whose latest message changes none of its slots."""
    known = {"language": "fr", "language_source": "detected", "distress_level": "none"}
    return tracker(text, intent, **known, distress_cues=[], crisis_open=False, **slots)


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


def test_distress_state_comes_from_the_whole_conversation():
    earlier = [{"distress": {"level": "critical", "cues": ["en finir"]}}]
    t = tracker("non, laissez tomber", intent="deny", history=earlier)
    updates = profile_updates(t)
    assert updates["distress_level"] == "critical"
    assert updates["crisis_open"] is True
    assert updates["distress_cues"] == ["en finir"]


async def test_action_only_sets_slots_that_change():
    t = settled("bonjour", "greet")
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
    events = await IntakeDone().run(dispatcher, t, {})
    recap, intro, *cards, closing = dispatcher.messages
    assert recap["response"] == "utter_intake_recap"
    assert recap["commune_label"] == "Elsene"
    assert recap["employees_label"] == "2 mensen werken voor u"
    assert intro["text"] == "Dit kan u helpen:"
    assert 1 <= len(cards) <= 3
    shown = [c["buttons"][0]["payload"] for c in cards]
    assert shown[0] == '/more_details{"catalog_item":"brusoc_loans"}'
    assert cards[0]["text"].startswith("Leningen van Brusoc")
    assert "Omdat u geldproblemen" in cards[0]["text"]
    assert [b["payload"] for b in closing["buttons"]] == ["/more_options", "/request_human"]
    assert events[0]["name"] == "recommended" and events[0]["value"][0] == "brusoc_loans"


async def test_intake_done_redirects_outside_brussels():
    dispatcher = CollectingDispatcher()
    await IntakeDone().run(dispatcher, tracker(language="fr", region="flanders"), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_outside_brussels_flanders"]


async def test_second_misunderstanding_in_a_row_offers_a_person():
    fallback = {"intent": {"name": "nlu_fallback"}}
    understood = {"intent": {"name": "inform"}}
    responses = []
    for history in ([understood], [understood, fallback], [fallback, understood]):
        dispatcher = CollectingDispatcher()
        await HandleFallback().run(dispatcher, tracker("xqz", "nlu_fallback", history=history), {})
        responses.append(dispatcher.messages[0]["response"])
    assert responses == [
        "utter_please_rephrase",
        "utter_fallback_offer_human",
        "utter_please_rephrase",
    ]


async def test_moderate_distress_is_acknowledged_in_the_language_being_set():
    t = tracker("ik ben doodmoe en gestrest", parsed_language=RELIABLE_NL)
    t.latest_message["distress"] = {"level": "moderate", "cues": ["doodmoe"]}
    t.events[-1]["parse_data"] = t.latest_message
    dispatcher = CollectingDispatcher()
    await ValidateSlotMappings().run(dispatcher, t, {})  # no domain: Rasa sends none to it
    assert dispatcher.messages[0]["text"].startswith("Ik begrijp het")


async def test_a_question_inside_the_form_is_not_taken_as_an_answer():
    t = tracker("ben jij een robot?", intent="ask_capabilities", requested_slot="employees")
    assert await ValidateIntakeForm().extract_employees(CollectingDispatcher(), t, {}) == {}


def test_inside_the_intake_a_message_that_is_not_an_answer_fills_no_form_slot():
    """Else Rasa would not let the safety rules answer: the form goes on when a slot is set."""
    entities = [{"entity": "need", "value": "rent"}, {"entity": "commune", "value": "jette"}]
    for intent in ("distress_critical", "distress_high", "request_human", "ask_about"):
        t = tracker("je veux mourir, le loyer à Jette", intent, entities, language="fr")
        t.active_loop = {"name": "intake_form"}
        updates = profile_updates(t)
        assert not set(updates) & {*INTAKE_SLOTS, "region"}, intent
    answer = tracker("à Jette", "inform", entities, language="fr")
    answer.active_loop = {"name": "intake_form"}
    assert profile_updates(answer)["commune"] == "jette"


def test_the_intake_slots_are_the_forms():
    import yaml

    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert tuple(domain["forms"]["intake_form"]["required_slots"]) == INTAKE_SLOTS


def test_the_action_server_reads_what_actions_need_before_it_listens():
    """The action server imports the package before it listens: the catalogue, its compiled names,
    the wordings and the domain's responses are read then, not on a person's first request, and
    what is loaded is frozen out of the full garbage collections (bot/action_server.py)."""
    import subprocess
    import sys

    probe = (
        "from bot.action_server import load_and_freeze_the_actions\n"
        "load_and_freeze_the_actions()\n"
        "from actions.profile_slots import domain_responses\n"
        "from bot.catalog import catalog, names, wording\n"
        "from bot.summary import t\n"
        "cached = (catalog, names._patterns, domain_responses)\n"
        "import gc\n"
        "print([f.cache_info().currsize for f in cached], 'data' in vars(wording.text),"
        " 'data' in vars(t), gc.get_freeze_count() > 10_000)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["[1,", "1,", "1]", "True", "True", "True"]

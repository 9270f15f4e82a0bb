"""The catalogue and handoff actions, as the action server runs them (gateway: a local stub)."""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from rasa_sdk.executor import CollectingDispatcher

from actions.catalog import DescribeItem, MoreOptions
from actions.handoff import AskHandoffConsent, HandoffSubmit, PrepareHandoff, ValidateHandoffForm
from actions.profile_slots import ValidateSlotMappings, profile_updates
from tests.engine.test_actions import settled, tracker

PROFILE = {
    "language": "fr", "sector": "horeca", "employees": 3.0, "commune": "ixelles",
    "region": "brussels", "needs": ["finance", "rent"], "urgency": "high",
}  # fmt: skip


async def test_a_named_measure_is_described_with_its_facts():
    dispatcher = CollectingDispatcher()
    entities = [{"entity": "catalog_item", "value": "pret_proxi"}]
    await DescribeItem().run(
        dispatcher, tracker("c'est quoi le prêt proxi", "ask_about", entities, language="fr"), {}
    )
    (message,) = dispatcher.messages
    assert message["text"].startswith("Prêt Proxi")
    assert "Informations vérifiées le" in message["text"]


async def test_an_ended_measure_is_explained_but_never_offered():
    dispatcher = CollectingDispatcher()
    entities = [{"entity": "catalog_item", "value": "pret_oxygen"}]
    await DescribeItem().run(
        dispatcher, tracker("et le prêt oxygen ?", "ask_about", entities, language="nl"), {}
    )
    (message,) = dispatcher.messages
    assert "bestaat niet meer" in message["text"]
    assert not message["buttons"]


async def test_without_a_name_the_bot_asks_which_one():
    dispatcher = CollectingDispatcher()
    await DescribeItem().run(
        dispatcher, tracker("plus de détails", "more_details", language="fr"), {}
    )
    assert dispatcher.messages[0]["text"].startswith("De quelle aide")


async def test_other_options_page_through_what_was_not_shown():
    dispatcher = CollectingDispatcher()
    first = ["brusoc_loans", "microstart_microcredit", "ced_guidance"]
    events = await MoreOptions().run(
        dispatcher, tracker("autres options", "more_options", recommended=first, **PROFILE), {}
    )
    shown = events[0]["value"]
    assert shown[:3] == first and len(shown) > 3 and not set(shown[3:]) & set(first)
    assert dispatcher.messages[0]["text"] == "Voici d'autres pistes :"


def test_stated_circumstances_accumulate():
    t = tracker(
        "je suis au chômage",
        entities=[{"entity": "circumstance", "value": "jobseeker"}],
        circumstances=["bankrupt"],
        language="fr",
        language_source="detected",
    )
    assert profile_updates(t)["circumstances"] == ["bankrupt", "jobseeker"]


@pytest.mark.parametrize(
    ("intent", "entities", "slots", "reason", "partner"),
    [
        ("request_human", [], {"distress_level": "critical"}, "distress", "un_pass"),
        (
            "request_human",
            [],
            {"needs": ["insolvency"], "circumstances": ["bankrupt"]},
            "asked",
            "ced",
        ),
        (
            "request_contact",
            [{"entity": "catalog_item", "value": "microstart_microcredit"}],
            {},
            "contact",
            "microstart",
        ),
        (
            "request_human",
            [],
            {"needs": ["coaching"], "commune": "schaerbeek"},
            "asked",
            "hub_brussels",
        ),
        ("request_human", [], {"commune": "schaerbeek"}, "asked", "gel_schaerbeek"),
        ("request_human", [], {}, "asked", "info_1819"),
    ],
)
async def test_handoff_is_routed_by_the_rules(intent, entities, slots, reason, partner):
    events = await PrepareHandoff().run(
        CollectingDispatcher(), tracker("...", intent, entities, language="fr", **slots), {}
    )
    values = {e["name"]: e["value"] for e in events}
    assert values["handoff_reason"] == reason and values["handoff_partner"] == partner
    assert values["handoff_consent"] is None, "consent is asked again every time"


async def test_consent_question_names_the_partner():
    dispatcher = CollectingDispatcher()
    await AskHandoffConsent().run(dispatcher, tracker(language="nl", handoff_partner="ced"), {})
    assert dispatcher.messages[0]["response"] == "utter_ask_handoff_consent"
    assert dispatcher.messages[0]["partner"].startswith("Centrum voor Ondernemingen")


async def test_callback_questions_only_when_nobody_can_answer_soon():
    form = ValidateHandoffForm()
    domain_slots = ["handoff_consent", "callback_wanted", "callback_phone", "callback_slot"]
    now = tracker(handoff_consent=True, handoff_availability="now")
    later = tracker(handoff_consent=True, handoff_availability="later", callback_wanted=True)
    refused = tracker(handoff_consent=False)
    assert await form.required_slots(domain_slots, None, now, {}) == ["handoff_consent"]
    assert await form.required_slots(domain_slots, None, later, {}) == domain_slots
    assert await form.required_slots(domain_slots, None, refused, {}) == ["handoff_consent"]


async def test_phone_numbers_are_read_or_asked_again():
    form, dispatcher = ValidateHandoffForm(), CollectingDispatcher()
    ok = tracker("mon gsm: 0470/12.34.56", requested_slot="callback_phone")
    assert await form.extract_callback_phone(dispatcher, ok, {}) == {
        "callback_phone": "0470 12 34 56"
    }
    bad = tracker("demain matin", requested_slot="callback_phone")
    assert await form.extract_callback_phone(dispatcher, bad, {}) == {}
    assert dispatcher.messages[0]["response"] == "utter_phone_invalid"
    crisis = tracker(
        "0470123456 je vais en finir", "distress_critical", requested_slot="callback_phone"
    )
    assert await form.extract_callback_phone(dispatcher, crisis, {}) == {}, (
        "the safety rule answers"
    )


@pytest.fixture
async def gateway(monkeypatch):
    """A stub of the gateway's internal API on loopback that checks the token."""
    received: list[dict] = []

    async def handoffs(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer test-token":
            return web.json_response({"detail": "token"}, status=401)
        body = await request.json()
        received.append(body)
        return web.json_response(
            {
                "reference": "BXL-2026-000042",
                "partner": body["partner"],
                "created": True,
                "next": {"status": "later", "answer_from": "2026-11-30T09:00"},
            },
            status=201,
        )

    app = web.Application()
    app.router.add_post("/api/handoffs", handoffs)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    monkeypatch.setenv("RELAIS_GATEWAY_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("RELAIS_API_TOKEN", "test-token")
    yield received
    await runner.cleanup()


async def test_submit_sends_the_summary_and_gives_the_reference(gateway):
    dispatcher = CollectingDispatcher()
    slots = dict(
        PROFILE,
        distress_level="high",
        distress_cues=["je n'en peux plus"],
        handoff_consent=True,
        handoff_partner="un_pass",
        handoff_reason="distress",
        callback_phone="0470 12 34 56",
        callback_slot="morning",
    )
    events = await HandoffSubmit().run(dispatcher, tracker("0470 12 34 56", **slots), {})
    (body,) = gateway
    assert body["conversation_id"] == "web:test" and body["sequence"] == 1
    assert body["priority"] == 1 and body["consent"] is True
    assert body["callback"] == {"phone": "0470 12 34 56", "slot": "morning"}
    assert body["summary"]["distress"] == {"level": "high", "cues": ["je n'en peux plus"]}
    assert "Détresse : élevée" in body["summary"]["text"]["fr"]
    responses = [m.get("response") for m in dispatcher.messages]
    assert responses == [
        "utter_handoff_reference",
        "utter_handoff_later",
        "utter_callback_confirmed",
        "utter_crisis_lines",
    ]
    assert dispatcher.messages[0]["reference"] == "BXL-2026-000042"
    assert dispatcher.messages[1]["when"] == "à partir du lundi 30/11 à 09:00"
    assert {e["name"]: e["value"] for e in events} == {
        "handoff_count": 1,
        "handoff_reference": "BXL-2026-000042",
    }
    json.dumps(body)  # what was sent is plain JSON


async def test_without_consent_nothing_is_sent_and_the_contact_is_given(gateway):
    dispatcher = CollectingDispatcher()
    await HandoffSubmit().run(
        dispatcher,
        tracker(
            "non",
            "deny",
            handoff_consent=False,
            handoff_partner="ced",
            crisis_open=True,
            language="fr",
        ),
        {},
    )
    assert gateway == []
    responses = [m.get("response") for m in dispatcher.messages]
    assert responses == ["utter_handoff_declined", None, "utter_crisis_lines"]
    assert "02 533 40 90" in dispatcher.messages[1]["text"]


async def test_gateway_down_is_said_honestly(monkeypatch):
    monkeypatch.setenv("RELAIS_GATEWAY_URL", "http://127.0.0.1:9")  # nothing listens there
    dispatcher = CollectingDispatcher()
    events = await HandoffSubmit().run(
        dispatcher,
        tracker(
            "oui",
            "affirm",
            handoff_consent=True,
            handoff_partner="ced",
            distress_level="critical",
            language="nl",
        ),
        {},
    )
    assert events == []
    responses = [m.get("response") for m in dispatcher.messages]
    assert responses == ["utter_handoff_failed", None, "utter_crisis_lines"]


async def test_the_profile_goes_to_the_gateway_with_every_turns_answers_as_categories():
    entities = [{"entity": "sector", "value": "horeca"}, {"entity": "need", "value": "rent"}]
    message = tracker(
        "mon café, le loyer",
        entities=entities,
        language="fr",
        language_source="detected",
        employees=2.0,
    )
    dispatcher = CollectingDispatcher()
    await ValidateSlotMappings().run(dispatcher, message, {})
    (sent,) = dispatcher.messages
    assert sent["custom"] == {
        "relais_profile": {
            "language": "fr", "sector": "horeca", "workers": 2, "commune": None, "region": None,
            "needs": ["rent"], "distress_level": "none", "urgency": None,
        }
    }  # fmt: skip
    unchanged = CollectingDispatcher()  # the same again: a turn sent again after a failure
    said = settled("merci", "thank", sector="horeca")
    assert await ValidateSlotMappings().run(unchanged, said, {}) == []
    (again,) = unchanged.messages
    assert again["custom"]["relais_profile"]["sector"] == "horeca"
    direct = CollectingDispatcher()  # Rasa's REST channel used directly: no channel, no profile
    said.sender_id = "bench:test"
    await ValidateSlotMappings().run(direct, said, {})
    assert direct.messages == []

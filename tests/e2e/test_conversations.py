"""Whole conversations through the gateway, with the real Rasa server and action server."""

from __future__ import annotations

import uuid

import pytest

from bot.gateway.store.models import Conversation

pytestmark = pytest.mark.e2e


def texts(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [m["text"] for m in response.json()["messages"]]


def new_sender() -> str:
    return uuid.uuid4().hex


def test_french_intake_asks_only_what_is_missing(chat, gateway_db):
    sender = new_sender()
    welcome = texts(chat(sender, "Bonjour"))
    assert "Relais" in welcome[0] and "Racontez-moi" in welcome[1]
    answer = texts(chat(sender, "Mon resto à Ixelles perd de l'argent, je ne paie plus la TVA"))
    assert answer == [
        "Combien de personnes travaillent pour vous, sans vous compter ? "
        "Répondez 0 si vous êtes seul·e."
    ]
    assert texts(chat(sender, "trois")) == ["C'est urgent pour vous ?"]
    recap, intro, *cards, _closing = texts(chat(sender, "oui c'est urgent"))
    assert "horeca, 3 personnes travaillent pour vous, à Ixelles" in recap
    assert "argent, dettes, factures" in recap and "aujourd'hui" in recap
    assert intro == "Voici ce qui peut vous aider :" and 1 <= len(cards) <= 3
    assert all("Parce que" in card for card in cards)
    with gateway_db() as session:  # what the coordinators' report counts, from the answers
        c = session.get(Conversation, f"web:{sender}")
        profile = (c.language, c.sector, c.workers, c.commune, c.region, c.urgency)
        assert profile == ("fr", "horeca", 3, "ixelles", "brussels", "high")
        assert c.needs == ["finance"] and c.distress_level is None  # no distress: never raised


def test_dutch_conversation_with_an_interruption_and_buttons(chat):
    sender = new_sender()
    texts(chat(sender, "Goedendag"))
    assert texts(chat(sender, "Mijn bakkerij in Schaarbeek heeft te weinig klanten")) == [
        "Hoeveel mensen werken er voor u, uzelf niet meegerekend? Antwoord 0 als u alleen werkt."
    ]
    capabilities, question_again = texts(chat(sender, "ben jij een robot?"))
    assert "automatische assistent" in capabilities
    assert question_again.startswith("Hoeveel mensen werken er voor u")
    needs = chat(sender, "ik werk alleen").json()["messages"][0]
    assert needs["text"].startswith("Wat weegt op dit moment het zwaarst?")
    assert len(needs["buttons"]) == 8
    urgency = chat(sender, '/inform{"need":"coaching"}').json()["messages"][0]
    assert urgency["text"] == "Is het dringend voor u?"
    recap, *_recommendations = texts(chat(sender, urgency["buttons"][2]["payload"]))
    assert "handel, u werkt alleen, in Schaarbeek" in recap
    assert "advies over de zaak" in recap and "het kan wachten" in recap


def test_language_switch_mid_intake_asks_the_question_again_in_dutch(chat):
    sender = new_sender()
    texts(chat(sender, "Ma boutique de vêtements à Jette a des dettes"))
    switched, question = texts(chat(sender, "en néerlandais svp"))
    assert switched == "Oké, ik ga verder in het Nederlands."
    assert question.startswith("Hoeveel mensen werken er voor u")
    # "ok" answers nothing: asked again, still in Dutch ("ok" never flips the language back)
    rephrase, again = texts(chat(sender, "ok"))
    assert rephrase == "Dat heb ik niet goed begrepen. Kunt u het anders zeggen?"
    assert again.startswith("Hoeveel mensen werken er voor u")


def test_outside_brussels_gets_its_own_region(chat):
    sender = new_sender()
    answer = texts(chat(sender, "Mijn frituur in Gent gaat failliet"))
    assert "VLAIO" in answer[0]
    assert not any("Elsene" in a or "1819" in a for a in answer), "no Brussels-only help"


def test_english_gets_an_answer_in_both_languages(chat):
    (answer,) = texts(chat(new_sender(), "Hello, do you speak English? I need help with my shop"))
    assert "French or Dutch" in answer and "néerlandais" in answer and "Nederlands" in answer


def test_two_misunderstandings_offer_a_person_and_1819(chat):
    sender = new_sender()
    texts(chat(sender, "Bonjour"))
    assert texts(chat(sender, "xqzt wvkp")) == [
        "Je n'ai pas bien compris. Pouvez-vous le dire autrement ?"
    ]
    (offer,) = chat(sender, "grmbl pfff zzz").json()["messages"]
    assert "1819" in offer["text"] and offer["buttons"][0]["payload"] == "/request_human"


@pytest.mark.parametrize("text", ["😞😞😞", "???", "🙏", "ok"])
def test_odd_messages_get_an_answer(chat, text):
    assert texts(chat(new_sender(), text))


def test_bad_input_is_refused_before_the_engine(chat):
    assert chat(new_sender(), "x" * 10_000).status_code == 413
    assert chat(new_sender(), "   ").status_code == 422

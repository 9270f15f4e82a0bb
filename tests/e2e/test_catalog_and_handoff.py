"""Recommendations, questions about measures and the handoff, through the gateway."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select

from bot.gateway.store.models import Handoff

pytestmark = pytest.mark.e2e


def messages(response) -> list[dict]:
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def test_recommendations_details_and_other_options_in_french(chat):
    sender = uuid.uuid4().hex
    story = "Mon café à Ixelles ne paie plus son loyer, j'ai 3 employés, c'est urgent"
    answer = messages(chat(sender, story))
    cards = [
        m
        for m in answer
        if any(b["payload"].startswith("/more_details") for b in m.get("buttons", []))
    ]
    assert 1 <= len(cards) <= 3
    first = cards[0]["buttons"]
    assert [b["title"] for b in first] == ["Plus de détails", "Être mis en contact"]
    (details,) = messages(chat(sender, first[0]["payload"]))
    assert "Informations vérifiées le" in details["text"]
    more = messages(chat(sender, "autres options"))
    assert more[0]["text"] == "Voici d'autres pistes :"
    shown = {c["text"].split("\n")[0] for c in cards}
    assert not shown & {m["text"].split("\n")[0] for m in more[1:-1]}, "nothing shown twice"


def test_a_question_about_a_measure_inside_the_intake_in_dutch(chat):
    sender = uuid.uuid4().hex
    question = messages(chat(sender, "Mijn kapsalon in Jette heeft schulden bij de RSZ"))
    assert question[0]["text"].startswith("Hoeveel mensen werken er voor u")
    about, again = messages(chat(sender, "wat doet het COM?"))
    assert about["text"].startswith("Centrum voor Ondernemingen in Moeilijkheden")
    assert "02 533 40 90" in about["text"]
    assert again["text"].startswith("Hoeveel mensen werken er voor u"), "the intake resumes"


def test_asking_for_a_person_consent_reference_and_the_stored_handoff(chat, stack, gateway_db):
    sender = uuid.uuid4().hex
    messages(chat(sender, "Mon magasin à Schaerbeek a une dette envers l'ONSS"))
    # inside the intake, and the words also say a need ("conseiller"): the handoff still starts
    (consent,) = messages(chat(sender, "je veux parler à un conseiller"))
    assert "Êtes-vous d'accord ?" in consent["text"]
    assert [b["payload"] for b in consent["buttons"]] == ["/affirm", "/deny"]
    answer = messages(chat(sender, "/affirm"))
    texts = [m["text"] for m in answer]
    if texts[0].startswith("Personne ne peut vous répondre"):  # nobody signed in: callback?
        answer = messages(chat(sender, "/deny"))
        texts = [m["text"] for m in answer]
    assert texts[0].startswith("C'est transmis à") and "Votre référence : BXL-" in texts[0]
    reference = texts[0].split("Votre référence : ")[1].split(".")[0]
    assert any("vous répondra ici" in t or "va vous répondre ici" in t for t in texts[1:])
    api = f"http://{stack.settings.host}:{stack.settings.gateway_port}"
    with gateway_db() as session:
        handoff = session.scalars(select(Handoff).filter_by(reference=reference)).one()
        assert handoff.conversation_id == f"web:{sender}" and handoff.consent
        assert handoff.summary["text"]["fr"].startswith("A demandé à parler à quelqu'un.")
        assert any("ONSS" in line["text"] for line in handoff.transcript)
    assert httpx.post(f"{api}/api/handoffs", json={}).status_code == 401


def test_refusing_consent_gives_the_partners_own_contact(chat):
    sender = uuid.uuid4().hex
    messages(chat(sender, "Kan ik een adviseur spreken?"))
    declined, contact = [m["text"] for m in messages(chat(sender, "/deny"))]
    assert declined.startswith("Oké, ik geef niets door")
    assert "Telefoon: 1819" in contact  # hub.brussels (coaching) is reached through 1819

"""Crisis handling through the gateway with the real services."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.e2e


def texts(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [m["text"] for m in response.json()["messages"]]


@pytest.mark.parametrize(
    ("story", "critical", "lines", "other_language_line"),
    [
        ("Ma boulangerie à Forest a des dettes", "je pense à en finir", "0800 32 123", "1813"),
        (
            "Mijn kapsalon in Jette heeft schulden",
            "ik wil er niet meer zijn",
            "1813",
            "0800 32 123",
        ),
        # The critical message also tells the story (a need, a commune): it must still stop the
        # form. It once did not: a form slot set by the message kept the form going.
        (
            "Mon magasin à Schaerbeek a une dette envers l'ONSS",
            "je veux mourir, je ne peux plus payer le loyer à Schaerbeek",
            "0800 32 123",
            "1813",
        ),
    ],
)
def test_critical_message_inside_the_intake_gets_the_lines_at_once(
    chat, story, critical, lines, other_language_line
):
    sender = uuid.uuid4().hex
    assert len(texts(chat(sender, story))) == 1  # the form asks its next question
    first, offer = texts(chat(sender, critical))
    assert lines in first and "112" in first and other_language_line not in first
    assert "?" in offer  # an offer of urgent contact follows
    # the form has stopped: the next message is not taken as an answer to its question
    assert lines in " ".join(texts(chat(sender, "non" if lines.startswith("0800") else "nee")))


def test_a_denial_keeps_the_lines_and_the_bot_checks_in_later(chat):
    sender = uuid.uuid4().hex
    texts(chat(sender, "des fois je veux juste disparaître pour toujours"))
    assert "0800 32 123" in texts(chat(sender, "non laissez tomber, vous avez mal compris"))[0]
    texts(chat(sender, "mon magasin est à Uccle"))
    later = texts(chat(sender, "merci"))
    assert any("Comment allez-vous maintenant" in t for t in later)


def test_high_distress_offers_a_person_and_a_24_7_line(chat):
    sender = uuid.uuid4().hex
    (answer,) = chat(sender, "ik zie het niet meer zitten").json()["messages"]
    assert "106" in answer["text"]
    assert [b["payload"] for b in answer["buttons"]] == ["/request_human", "/continue_intake"]


def test_moderate_distress_is_acknowledged_and_the_intake_goes_on(chat):
    sender = uuid.uuid4().hex
    answer = texts(chat(sender, "Je suis épuisée, mon épicerie à Evere perd de l'argent"))
    assert answer[0].startswith("Je comprends")
    assert "Combien de personnes" in answer[1]

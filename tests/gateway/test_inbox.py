"""The inbox pages and actions: who sees what, queue order, claim/reply/hand-back/close, the audit
log, languages and escaping."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.catalog import catalog
from bot.gateway import auth, inbox
from bot.gateway.relay import record
from bot.gateway.store.models import (
    AuditEntry,
    Conversation,
    Counsellor,
    Handoff,
    Message,
    OutboxItem,
)

from .conftest import add_counsellor, csrf_of, summary

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'


def references(page: str) -> list[str]:
    return re.findall(r"BXL-2026-\d{6}", page)


def shown(response) -> str:
    """The page's text as a reader sees it (entities decoded)."""
    return html.unescape(response.text)


def post(client, path: str, **data):
    return client.post(path, data={"csrf": csrf_of(client), **data}, follow_redirects=False)


def state(sessions, handoff_id: int) -> tuple[Handoff, Conversation, list[Message]]:
    with sessions() as session:
        handoff = session.get(Handoff, handoff_id)
        conversation = handoff.conversation
        return handoff, conversation, list(conversation.messages)


def audit_actions(sessions) -> list[tuple[int, str, int]]:
    with sessions() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(e.counsellor_id, e.action, e.handoff_id) for e in entries]


def test_counsellor_sees_only_its_partner_and_coordinator_sees_all(login_as, add_handoff):
    ced = add_handoff(partner="ced")
    brusoc = add_handoff(partner="brusoc")
    anna, cora = login_as("anna"), login_as("cora")
    assert references(anna.get("/inbox").text) == ["BXL-2026-000001"]
    assert anna.get(f"/inbox/handoffs/{brusoc}").status_code == 404
    assert anna.get(f"/inbox/handoffs/{brusoc}/transcript").status_code == 404
    assert anna.get(f"/inbox/handoffs/{ced}").status_code == 200
    assert post(anna, f"/inbox/handoffs/{brusoc}/claim").status_code == 404
    coordinator_queue = cora.get("/inbox").text
    assert set(references(coordinator_queue)) == {"BXL-2026-000001", "BXL-2026-000002"}
    assert "Brusoc" in coordinator_queue  # the partner column, with the catalogue's name
    assert cora.get(f"/inbox/handoffs/{brusoc}").status_code == 200


def test_queue_is_most_urgent_first_then_oldest_first(login_as, add_handoff):
    add_handoff(priority=4, age_minutes=500)  # 000001
    add_handoff(priority=0, age_minutes=1)  # 000002
    add_handoff(priority=2, age_minutes=30)  # 000003
    add_handoff(priority=2, age_minutes=90)  # 000004
    page = login_as("anna").get("/inbox").text
    assert references(page) == [
        "BXL-2026-000002",
        "BXL-2026-000004",
        "BXL-2026-000003",
        "BXL-2026-000001",
    ]
    assert "critique" in page and "1 h" in page and "8 h" in page


def test_closed_handoffs_only_behind_the_filter(sessions, login_as, add_handoff):
    add_handoff()
    closed_id = add_handoff()
    with sessions() as session:
        session.get(Handoff, closed_id).status = "closed"
        session.commit()
    anna = login_as("anna")
    assert references(anna.get("/inbox").text) == ["BXL-2026-000001"]
    assert references(anna.get("/inbox?closed=1").text) == ["BXL-2026-000002"]
    assert references(anna.get("/inbox/queue").text) == ["BXL-2026-000001"]


def test_claim_gives_the_conversation_to_the_counsellor_and_tells_the_person(
    sessions, accounts, login_as, add_handoff
):
    handoff_id = add_handoff(channel="telegram", language="nl")
    anna = login_as("anna")
    response = post(anna, f"/inbox/handoffs/{handoff_id}/claim")
    assert response.status_code == 303
    assert response.headers["location"] == f"/inbox/handoffs/{handoff_id}"
    handoff, conversation, messages = state(sessions, handoff_id)
    assert (handoff.status, handoff.claimed_by) == ("claimed", accounts["anna"])
    assert handoff.claimed_at is not None
    assert (conversation.mode, conversation.owner_id) == ("human", accounts["anna"])
    [message] = messages
    assert message.author == "system"
    assert "Anna" in message.text and "U praat nu met" in message.text  # the person's language
    assert catalog().partners["ced"].name["nl"] in message.text  # the partner's name, not its id
    with sessions() as session:  # not a web chat: delivered through the outbox
        [item] = session.scalars(select(OutboxItem)).all()
    assert item.target == conversation.id
    assert item.payload["messages"][0]["text"] == message.text


def test_claiming_what_someone_else_claimed_changes_nothing(
    sessions, accounts, login_as, add_handoff
):
    add_counsellor(sessions, "alex", "ced")
    handoff_id = add_handoff()
    anna, alex = login_as("anna"), login_as("alex")
    post(anna, f"/inbox/handoffs/{handoff_id}/claim")
    response = post(alex, f"/inbox/handoffs/{handoff_id}/claim")
    assert response.headers["location"] == f"/inbox/handoffs/{handoff_id}?error=claimed"
    page = shown(alex.get(response.headers["location"]))
    assert "Quelqu'un d'autre a déjà pris cette demande" in page
    handoff, conversation, messages = state(sessions, handoff_id)
    assert handoff.claimed_by == accounts["anna"] and conversation.owner_id == accounts["anna"]
    assert len(messages) == 1
    assert [a for _, a, _ in audit_actions(sessions) if a == "claim"] == ["claim"]


def signed_in(counsellor_id: int, username: str) -> auth.SignedIn:
    return auth.SignedIn(counsellor_id, username, username, "ced", "counsellor", "fr", "-", "-")


def test_of_two_simultaneous_claims_only_one_wins(sessions, accounts, add_handoff):
    """Both counsellors loaded the handoff while it was queued; the database decides."""
    anna = signed_in(accounts["anna"], "anna")
    alex = signed_in(add_counsellor(sessions, "alex", "ced"), "alex")
    handoff_id = add_handoff()
    first, second = sessions(), sessions()
    try:
        stale = second.get(Handoff, handoff_id)
        assert stale.status == "queued" and stale.conversation.mode == "bot"
        assert inbox.claim(first, anna, first.get(Handoff, handoff_id)) is None
        first.commit()
        assert inbox.claim(second, alex, stale) == "claimed"
        second.commit()
    finally:
        first.close()
        second.close()
    handoff, conversation, messages = state(sessions, handoff_id)
    assert handoff.claimed_by == accounts["anna"] and conversation.owner_id == accounts["anna"]
    assert len(messages) == 1


def test_reply_is_stored_as_the_counsellors_message(sessions, accounts, login_as, add_handoff):
    handoff_id = add_handoff()
    anna = login_as("anna")
    post(anna, f"/inbox/handoffs/{handoff_id}/claim")
    response = post(anna, f"/inbox/handoffs/{handoff_id}/reply", text="  Bonjour, je suis là.  ")
    assert response.headers["location"] == f"/inbox/handoffs/{handoff_id}"
    *_, messages = state(sessions, handoff_id)
    assert (messages[-1].author, messages[-1].text, messages[-1].counsellor_id) == (
        "counsellor",
        "Bonjour, je suis là.",
        accounts["anna"],
    )
    page = anna.get(f"/inbox/handoffs/{handoff_id}").text
    assert "Bonjour, je suis là." in page


@pytest.mark.parametrize("text", ["", "   ", "x" * 2001])
def test_empty_or_too_long_reply_is_refused(sessions, login_as, add_handoff, text):
    handoff_id = add_handoff()
    anna = login_as("anna")
    post(anna, f"/inbox/handoffs/{handoff_id}/claim")
    response = post(anna, f"/inbox/handoffs/{handoff_id}/reply", text=text)
    assert response.headers["location"].endswith("?error=reply_length")
    assert "entre 1 et 2000 caractères" in shown(anna.get(response.headers["location"]))
    *_, messages = state(sessions, handoff_id)
    assert [m.author for m in messages] == ["system"]


def test_only_the_claimer_or_a_coordinator_replies(sessions, accounts, login_as, add_handoff):
    add_counsellor(sessions, "alex", "ced")
    handoff_id = add_handoff()
    anna, alex, cora = login_as("anna"), login_as("alex"), login_as("cora")
    assert (
        post(alex, f"/inbox/handoffs/{handoff_id}/reply", text="hi")
        .headers["location"]
        .endswith("?error=not_yours")
    )  # nobody claimed it yet
    post(anna, f"/inbox/handoffs/{handoff_id}/claim")
    assert (
        post(alex, f"/inbox/handoffs/{handoff_id}/reply", text="hi")
        .headers["location"]
        .endswith("?error=not_yours")
    )
    post(cora, f"/inbox/handoffs/{handoff_id}/reply", text="Coordination ici")
    *_, messages = state(sessions, handoff_id)
    assert [(m.author, m.counsellor_id) for m in messages] == [
        ("system", None),
        ("counsellor", accounts["cora"]),
    ]


def test_hand_back_returns_the_conversation_to_the_bot(sessions, login_as, add_handoff):
    handoff_id = add_handoff()
    anna = login_as("anna")
    post(anna, f"/inbox/handoffs/{handoff_id}/claim")
    post(anna, f"/inbox/handoffs/{handoff_id}/hand-back")
    handoff, conversation, messages = state(sessions, handoff_id)
    assert handoff.status == "claimed"
    assert (conversation.mode, conversation.owner_id) == ("bot", None)
    assert messages[-1].author == "system" and "Relais" in messages[-1].text
    # no longer live: replying needs taking the conversation again
    refused = post(anna, f"/inbox/handoffs/{handoff_id}/reply", text="encore là ?")
    assert refused.headers["location"].endswith("?error=not_live")
    post(anna, f"/inbox/handoffs/{handoff_id}/claim")
    assert state(sessions, handoff_id)[1].mode == "human"


def test_close_records_the_outcome_and_returns_the_conversation_to_the_bot(
    sessions, login_as, add_handoff
):
    handoff_id = add_handoff()
    anna = login_as("anna")
    post(anna, f"/inbox/handoffs/{handoff_id}/claim")
    bad = post(anna, f"/inbox/handoffs/{handoff_id}/close", outcome="solved-it-all")
    assert bad.headers["location"].endswith("?error=outcome")
    assert state(sessions, handoff_id)[0].status == "claimed"
    post(anna, f"/inbox/handoffs/{handoff_id}/close", outcome="redirected")
    handoff, conversation, messages = state(sessions, handoff_id)
    assert (handoff.status, handoff.outcome) == ("closed", "redirected")
    assert handoff.closed_at is not None
    assert (conversation.mode, conversation.owner_id) == ("bot", None)
    assert messages[-1].author == "system" and "clôturée" in messages[-1].text
    again = post(anna, f"/inbox/handoffs/{handoff_id}/claim")
    assert again.headers["location"].endswith("?error=closed")


def test_reads_and_changes_are_audited(sessions, accounts, login_as, add_handoff):
    handoff_id = add_handoff()
    anna = login_as("anna")
    anna.get(f"/inbox/handoffs/{handoff_id}")
    post(anna, f"/inbox/handoffs/{handoff_id}/claim")
    post(anna, f"/inbox/handoffs/{handoff_id}/reply", text="Bonjour")
    post(anna, f"/inbox/handoffs/{handoff_id}/hand-back")
    post(anna, f"/inbox/handoffs/{handoff_id}/close", outcome="helped")
    changes = [(who, action, h) for who, action, h in audit_actions(sessions) if action != "read"]
    assert changes == [
        (accounts["anna"], action, handoff_id)
        for action in ("claim", "reply", "hand_back", "close")
    ]
    assert (accounts["anna"], "read", handoff_id) in audit_actions(sessions)


def test_refused_change_is_not_audited(sessions, login_as, add_handoff):
    handoff_id = add_handoff()
    post(login_as("anna"), f"/inbox/handoffs/{handoff_id}/close", outcome="helped")
    assert audit_actions(sessions) == []


def test_audit_page_is_for_coordinators_only(login_as, add_handoff):
    handoff_id = add_handoff()
    anna, cora = login_as("anna"), login_as("cora")
    anna.get(f"/inbox/handoffs/{handoff_id}")
    assert anna.get("/inbox/audit").status_code == 404
    page = cora.get("/inbox/audit")
    assert page.status_code == 200
    assert "Anna" in page.text and "BXL-2026-000001" in page.text and "lecture" in page.text


def test_summary_and_transcript_are_shown_in_the_counsellors_language(
    sessions, login_as, add_handoff
):
    handoff_id = add_handoff(
        summary_fields=summary(story="Mon café ferme", circumstances=["forced_closure"])
    )
    with sessions() as session:
        handoff = session.get(Handoff, handoff_id)
        # stored before the handoff, so already in its transcript: shown once
        [before] = record(
            session, handoff.conversation_id, "person", [{"text": "Bonjour, j'ai besoin d'aide"}]
        )
        message = session.get(Message, before["id"])
        message.created_at = handoff.created_at - timedelta(minutes=1)
        record(session, handoff.conversation_id, "person", [{"text": "Vous êtes là ?"}])
        session.commit()
    french = shown(login_as("anna").get(f"/inbox/handoffs/{handoff_id}"))
    assert "Résumé lisible." in french and "Leesbare samenvatting." not in french
    for field in ("horeca", "Prêt d'urgence", "high · je n'en peux plus", "Mon café ferme"):
        assert field in french
    assert french.count("Bonjour, j'ai besoin d'aide") == 1
    assert french.index("Bonjour, j'ai besoin d'aide") < french.index("Vous êtes là ?")
    dutch = login_as("bert")
    with sessions() as session:
        session.get(Handoff, handoff_id).partner_id = "brusoc"
        session.commit()
    page = dutch.get(f"/inbox/handoffs/{handoff_id}").text
    assert '<html lang="nl">' in page and "Leesbare samenvatting." in page and "Noodlening" in page


def test_lang_parameter_switches_and_is_remembered(login_as):
    anna = login_as("anna")
    assert '<html lang="fr">' in anna.get("/inbox").text
    assert '<html lang="nl">' in anna.get("/inbox?lang=nl").text
    assert '<html lang="nl">' in anna.get("/inbox").text
    assert '<html lang="fr">' in anna.get("/inbox?lang=fr").text


@pytest.mark.parametrize(
    "broken",
    [{}, {"text": "only a string"}, {"text": {"nl": "alleen Nederlands"}, "needs": "finance"}],
)
def test_page_survives_summaries_with_missing_or_odd_fields(login_as, add_handoff, broken):
    handoff_id = add_handoff(summary_fields=broken, transcript=[{"text": "sans auteur"}, "bruit"])
    page = login_as("anna").get(f"/inbox/handoffs/{handoff_id}")
    assert page.status_code == 200
    assert "sans auteur" in page.text


def test_user_text_is_escaped_everywhere(sessions, login_as, add_handoff):
    handoff_id = add_handoff(
        summary_fields=summary(
            text_fr=SCRIPT, story=ATTRIBUTE, sector=SCRIPT, distress={"cues": [ATTRIBUTE]}
        ),
        transcript=[{"author": "person", "text": SCRIPT, "at": ATTRIBUTE}],
    )
    with sessions() as session:
        conversation = session.get(Handoff, handoff_id).conversation
        record(session, conversation.id, "person", [{"text": ATTRIBUTE}])
        session.commit()
    anna = login_as("anna")
    for path in (f"/inbox/handoffs/{handoff_id}", f"/inbox/handoffs/{handoff_id}/transcript"):
        page = anna.get(path).text
        assert SCRIPT not in page and ATTRIBUTE not in page and "<img" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page


def test_display_name_is_escaped_in_the_page_and_plain_for_the_person(
    sessions, login_as, add_handoff
):
    add_counsellor(sessions, "mallory", "ced")
    with sessions() as session:
        mallory = session.scalar(select(Counsellor).where(Counsellor.username == "mallory"))
        mallory.display_name = SCRIPT
        session.commit()
    handoff_id = add_handoff()
    browser = login_as("mallory")
    post(browser, f"/inbox/handoffs/{handoff_id}/claim")
    page = browser.get(f"/inbox/handoffs/{handoff_id}").text
    assert SCRIPT not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    *_, messages = state(sessions, handoff_id)
    assert SCRIPT in messages[0].text  # plain text: each channel escapes it its own way


def test_pages_have_no_inline_script_or_style_and_are_not_cached(login_as, add_handoff):
    handoff_id = add_handoff()
    anna = login_as("anna")
    for path in ("/inbox", f"/inbox/handoffs/{handoff_id}"):
        response = anna.get(path)
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-frame-options"] == "DENY"
        page = response.text
        assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/inbox.js" defer>']
        assert "<style" not in page and not re.search(r"\s(style|on[a-z]+)=", page)

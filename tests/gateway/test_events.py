"""The live updates: a server-sent event stream that polls the database."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import delete, select

from bot.gateway import auth, inbox
from bot.gateway.relay import record
from bot.gateway.store.models import Counsellor, Handoff, LoginSession

INTERVAL = 0.02


async def connected() -> bool:
    return False


@pytest.fixture
def token_for(sessions, settings, accounts):
    """A login session opened for an account; returns the cookie's token."""

    def open_for(username: str) -> str:
        with sessions() as session:
            counsellor = session.scalar(select(Counsellor).where(Counsellor.username == username))
            token = auth.open_session(session, counsellor, settings)
            session.commit()
        return token

    return open_for


async def next_event(stream, timeout: float = 2.0):
    return await asyncio.wait_for(anext(stream), timeout)


async def stays_quiet(pending: asyncio.Task, seconds: float = 0.2) -> bool:
    """True when nothing came within the time (the pending read is left running)."""
    done, _ = await asyncio.wait({pending}, timeout=seconds)
    return not done


async def test_new_visible_handoff_raises_a_queue_event(sessions, token_for, add_handoff):
    stream = inbox.inbox_events(sessions, token_for("anna"), connected, INTERVAL)
    hello = await next_event(stream)
    assert hello.retry == inbox.RETRY_MS and hello.event is None
    pending = asyncio.ensure_future(anext(stream))
    add_handoff(partner="brusoc")  # another partner's queue: anna is not told
    assert await stays_quiet(pending)
    visible_id = add_handoff(partner="ced")
    event = await asyncio.wait_for(pending, 2)
    assert (event.event, event.data) == ("queue", {"newest": visible_id})
    await stream.aclose()


async def test_claim_by_someone_else_also_refreshes_the_queue(sessions, token_for, add_handoff):
    handoff_id = add_handoff()
    stream = inbox.inbox_events(sessions, token_for("anna"), connected, INTERVAL)
    await next_event(stream)
    with sessions() as session:
        session.get(Handoff, handoff_id).status = "claimed"
        session.commit()
    assert (await next_event(stream)).event == "queue"
    await stream.aclose()


async def test_person_writing_to_its_counsellor_raises_a_conversation_event(
    sessions, accounts, token_for, add_handoff
):
    handoff_id = add_handoff()
    with sessions() as session:
        handoff = session.get(Handoff, handoff_id)
        handoff.status, handoff.claimed_by = "claimed", accounts["anna"]
        handoff.conversation.mode, handoff.conversation.owner_id = "human", accounts["anna"]
        session.commit()
    stream = inbox.inbox_events(sessions, token_for("anna"), connected, INTERVAL)
    await next_event(stream)
    pending = asyncio.ensure_future(anext(stream))
    with sessions() as session:  # the bot or the counsellor writing does not count
        record(session, session.get(Handoff, handoff_id).conversation_id, "bot", [{"text": "…"}])
        session.commit()
    assert await stays_quiet(pending)
    with sessions() as session:
        record(
            session,
            session.get(Handoff, handoff_id).conversation_id,
            "person",
            [{"text": "Allô ?"}],
        )
        session.commit()
    event = await asyncio.wait_for(pending, 2)
    assert (event.event, event.data) == ("conversation", {"handoffs": [handoff_id]})
    await stream.aclose()


async def test_stream_ends_with_the_login_session(sessions, token_for):
    stream = inbox.inbox_events(sessions, token_for("anna"), connected, INTERVAL)
    await next_event(stream)
    with sessions() as session:
        session.execute(delete(LoginSession))
        session.commit()
    with pytest.raises(StopAsyncIteration):
        await next_event(stream)


async def test_stream_ends_when_the_browser_leaves(sessions, token_for):
    async def gone() -> bool:
        return True

    stream = inbox.inbox_events(sessions, token_for("anna"), gone, INTERVAL)
    await next_event(stream)
    with pytest.raises(StopAsyncIteration):
        await next_event(stream)


async def test_no_stream_without_a_session(sessions):
    stream = inbox.inbox_events(sessions, "not-a-token", connected, INTERVAL)
    with pytest.raises(StopAsyncIteration):
        await next_event(stream)


def test_endpoint_streams_events_to_a_signed_in_browser(monkeypatch, login_as, add_handoff):
    monkeypatch.setattr(inbox, "POLL_SECONDS", INTERVAL)
    anna = login_as("anna")
    with anna.stream("GET", "/inbox/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines) == ": connected"
        assert next(lines) == f"retry: {inbox.RETRY_MS}"
        handoff_id = add_handoff()
        received = [next(lines) for _ in range(3)]
    assert received == ["", "event: queue", f'data: {{"newest": {handoff_id}}}']

"""Telegram and WhatsApp in the gateway: webhooks in, replies out through the outbox.

Each channel is on only when its secrets are configured. A webhook is stored (deduplicated on
the channel's event id) and acknowledged at once; the answer is computed in the background and
leaves through the outbox, which retries with backoff and honours the channel's Retry-After.
A message a channel refuses for good (WhatsApp's 24-hour window without an approved template,
a person who blocked the bot) is reported in the conversation for the counsellor, never dropped
silently.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session, sessionmaker

from bot.gateway import relay
from bot.gateway.inbound import Conversations
from bot.gateway.outbox import DeliveryError
from bot.gateway.store.models import Conversation, OutboxItem
from bot.gateway.texts import both
from bot.settings import Settings
from connectors.base import Forged, Inbound, Malformed, SendFailed
from connectors.telegram import TelegramChannel
from connectors.whatsapp import WhatsAppChannel, WindowClosed

logger = logging.getLogger("relais.channels")
logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines show URLs with tokens


class ChannelHub:
    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], conversations: Conversations
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.conversations = conversations
        self.channels: dict[str, Any] = {}
        if TelegramChannel.configured(settings):
            self.channels["telegram"] = TelegramChannel(settings)
        if WhatsAppChannel.configured(settings):
            self.channels["whatsapp"] = WhatsAppChannel(settings)
        self._tasks: set[asyncio.Task] = set()

    def _background(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def receive(self, channel: Any, inbounds: list[Inbound]) -> int:
        """Store each delivery once and answer it in the background; returns how many were new."""
        new = 0
        for inbound in inbounds:
            if "delivery_failed" in inbound.metadata:
                if self.conversations.accept(inbound, answer=False) is not None:
                    self._report_undeliverable(inbound.conversation_id)
                continue
            delivery = self.conversations.accept(inbound)
            if delivery is not None:
                new += 1
                self._background(self.conversations.answer(delivery))
            if hasattr(channel, "acknowledge"):
                self._background(channel.acknowledge(inbound))
        return new

    async def deliver(self, item: OutboxItem) -> None:
        """The outbox's sender for kind "channel": the messages, on the person's channel."""
        name, user_id = item.target.split(":", 1)
        channel = self.channels.get(name)
        if channel is None:
            raise DeliveryError(f"{name} is not configured", permanent=True)
        language = item.payload.get("language") or "fr"
        try:
            await channel.send(user_id, item.payload["messages"], language)
        except WindowClosed:
            try:
                await channel.send_template(user_id, language)
            except SendFailed as failure:
                self._report_undeliverable(item.target)
                raise DeliveryError(str(failure), permanent=True) from failure
        except SendFailed as failure:
            if failure.permanent:
                self._report_undeliverable(item.target)
            raise DeliveryError(str(failure), failure.retry_after, failure.permanent) from failure

    def _report_undeliverable(self, conversation_id: str) -> None:
        """A note in the transcript the counsellor reads (not sent: the channel refused)."""
        with self.sessions() as session:
            conversation = session.get(Conversation, conversation_id)
            if conversation is not None:
                note = both("inbox_undeliverable")
                text = f"{note['fr']} / {note['nl']}"
                relay.record(session, conversation_id, "system", [{"text": text}])
                session.commit()

    def start(self) -> None:
        """Telegram without a webhook secret (no public URL, local runs): long polling."""
        telegram = self.channels.get("telegram")
        if telegram and not self.settings.telegram_secret:
            self._background(telegram.poll(lambda inbounds: self.receive(telegram, inbounds)))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for channel in self.channels.values():
            await channel.close()

    def router(self) -> APIRouter:
        router = APIRouter()

        def channel_or_404(name: str):
            if name not in self.channels:
                raise HTTPException(status_code=404, detail=f"{name} is not configured")
            return self.channels[name]

        async def webhook(name: str, request: Request) -> dict[str, Any]:
            channel = channel_or_404(name)
            try:
                inbounds = channel.parse(await request.body(), request.headers)
            except Forged as error:
                raise HTTPException(status_code=403, detail="forged request") from error
            except Malformed as error:
                raise HTTPException(status_code=400, detail="malformed request") from error
            return {"ok": True, "new": await self.receive(channel, inbounds)}

        @router.post("/webhooks/telegram")
        async def telegram_webhook(request: Request) -> dict[str, Any]:
            return await webhook("telegram", request)

        @router.post("/webhooks/whatsapp")
        async def whatsapp_webhook(request: Request) -> dict[str, Any]:
            return await webhook("whatsapp", request)

        @router.get("/webhooks/whatsapp", response_class=PlainTextResponse)
        async def whatsapp_handshake(request: Request) -> str:
            try:
                return channel_or_404("whatsapp").verify_subscription(request.query_params)
            except Forged as error:
                raise HTTPException(status_code=403, detail="wrong verify token") from error

        return router

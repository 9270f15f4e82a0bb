"""Outbound pacing under a channel's rate limits: per chat, and for the whole bot.

Each chat is a bucket of `burst` messages refilled one every `interval_s`; the bot as a whole
sends at most `per_s` messages a second. `wait(chat)` books the chat's next free slot at once
(concurrent senders queue fairly), sleeps until it comes, then does the same for the bot's.
Per process: several gateways share the channel's limits only loosely, and the outbox still
honours the channel's Retry-After.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Pacer:
    def __init__(
        self,
        interval_s: float,
        per_s: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_s = max(interval_s, 0.0)
        self.spacing_s = 1 / per_s if per_s > 0 else 0.0
        self.burst = max(burst, 1)
        self.clock = clock
        self.chats: dict[str, float] = {}  # chat -> when its bucket is empty again (GCRA)
        self.bot = 0.0  # when the next message of the whole bot may leave

    def reserve(self, chat: str) -> float:
        """Book the next slot for one message to `chat`; seconds to wait for it."""
        at = self.clock()
        if len(self.chats) > 10_000:  # forget chats whose bucket is full again
            self.chats = {c: t for c, t in self.chats.items() if t > at}
        empty_at = self.chats.get(chat, at)
        start = max(at, empty_at - (self.burst - 1) * self.interval_s)
        self.chats[chat] = max(empty_at, start) + self.interval_s
        return start - at

    def reserve_bot(self) -> float:
        """Book the bot's next slot, once the chat's has come; seconds to wait for it."""
        at = self.clock()
        start = max(at, self.bot)
        self.bot = start + self.spacing_s
        return start - at

    async def wait(self, chat: str) -> None:
        for reserve in (lambda: self.reserve(chat), self.reserve_bot):
            delay = reserve()
            if delay > 0:
                await asyncio.sleep(delay)

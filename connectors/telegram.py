"""Telegram: webhook updates (or long polling in development) in, Bot API calls out.

The real python-telegram-bot client does the talking; its base_url is the Bot API's, or a local
stub in tests. Only private chats are served: in a group, other members would read the triage.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import warnings
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from bot.settings import Settings
from connectors.base import (
    Forged,
    Inbound,
    Malformed,
    Message,
    SendFailed,
    button_ref,
    split_text,
)
from connectors.pacing import Pacer

logger = logging.getLogger("relais.telegram")

SECRET_HEADER = "x-telegram-bot-api-secret-token"
TEXT_LIMIT = 4000  # under Telegram's 4096-character limit: some emoji count double
POLL_TIMEOUT_S = 25
POLL_RETRY_S = 5
# What the person sends that the bot cannot read, named for the "not supported" answer.
UNSUPPORTED = (
    "voice", "video_note", "audio", "photo", "sticker", "animation", "video", "document",
    "venue", "location", "contact", "poll", "dice",
)  # fmt: skip
# Bot commands the engine knows under another name; others (/oublier, /vergeten) pass as typed.
COMMANDS = {
    "start": "/greet",
    "fr": '/switch_language{"language_choice":"fr"}',
    "nl": '/switch_language{"language_choice":"nl"}',
}
# Only these reach the bot: edits, channel posts and membership changes are not conversation.
ALLOWED_UPDATES = ["message", "callback_query"]

Handler = Callable[[list[Inbound]], Awaitable[None]]


def _language(user: object) -> str | None:
    code = getattr(user, "language_code", None)
    prefix = code[:2].lower() if isinstance(code, str) else ""
    return prefix if prefix in ("fr", "nl") else None


def _command(text: str) -> str:
    """/start, /start@RelaisBot and /start <deep-link payload> are all the same command."""
    word = text.split(maxsplit=1)[0] if text.startswith("/") else ""
    return COMMANDS.get(word[1:].split("@")[0].lower(), text)


def _keyboard(message: Message) -> InlineKeyboardMarkup | None:
    """One button per row (titles stay readable); each carries a button_ref, never a payload."""
    buttons = message.get("buttons") or []
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b["title"], callback_data=button_ref(message["id"], i))]
            for i, b in enumerate(buttons, start=1)
        ]
    )


def _retry_seconds(error: RetryAfter) -> float:
    """RetryAfter.retry_after is an int today and a timedelta tomorrow (PTB warns meanwhile)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramChannel:
    name = "telegram"

    def __init__(self, settings: Settings) -> None:
        self.secret = settings.telegram_secret
        self.bot = Bot(settings.telegram_token, base_url=settings.telegram_api_url)
        # Telegram: about one message a second in a chat, 30 a second for the bot.
        self.pacer = Pacer(settings.telegram_chat_interval_s, settings.telegram_per_s)

    @staticmethod
    def configured(settings: Settings) -> bool:
        """The channel is on when a bot token is set (the webhook also needs the secret)."""
        return bool(settings.telegram_token)

    def parse(self, body: bytes, headers: Mapping[str, str]) -> list[Inbound]:
        """A webhook delivery: only Telegram knows the secret given to setWebhook."""
        given = next((v for k, v in headers.items() if k.lower() == SECRET_HEADER), "")
        if not self.secret or not hmac.compare_digest(given.encode(), self.secret.encode()):
            raise Forged("missing or wrong Telegram secret token")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as error:  # RecursionError: absurdly deep nesting
            raise Malformed("the body is not JSON") from error
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            raise Malformed("not a Telegram update")
        try:
            update = Update.de_json(data, self.bot)
        except Exception as error:  # whatever the library cannot build is not a real update
            raise Malformed("not a Telegram update") from error
        return self.inbounds_from_update(update)

    def inbounds_from_update(self, update: Update) -> list[Inbound]:
        """What the person said in one update, from the webhook or from polling."""
        event_id = str(update.update_id)
        if message := update.message:
            if message.chat.type != "private":
                return []
            user_id, hint = str(message.chat.id), _language(message.from_user)
            if isinstance(message.text, str):
                text = _command(message.text)
                return [Inbound(self.name, user_id, event_id, text, language_hint=hint)]
            kind = next((kind for kind in UNSUPPORTED if getattr(message, kind, None)), None)
            if kind is None:  # service messages (pinned, chat photo changed...)
                return []
            return [Inbound(self.name, user_id, event_id, None, hint, unsupported=kind)]
        query = update.callback_query
        if query and query.message and query.message.chat.type == "private":
            if not isinstance(query.data, str):
                return []
            return [
                Inbound(
                    self.name,
                    str(query.message.chat.id),
                    event_id,
                    query.data,
                    language_hint=_language(query.from_user),
                    metadata={"callback_query_id": query.id},
                )
            ]
        return []

    async def acknowledge(self, inbound: Inbound) -> None:
        """Stop the tapped button's spinner. Cosmetic: a failure is logged, never raised."""
        query_id = inbound.metadata.get("callback_query_id")
        if not query_id:
            return
        try:
            await self.bot.initialize()
            await self.bot.answer_callback_query(query_id)
        except TelegramError as error:
            logger.warning("answerCallbackQuery failed: %s", type(error).__name__)

    async def send(self, user_id: str, messages: list[Message], language: str) -> None:
        """One sendMessage per piece of text, as plain text: nothing is read as markup."""
        try:
            await self.bot.initialize()
            for message in messages:
                buttons = message.get("buttons") or []
                pieces = split_text(message.get("text") or "", TEXT_LIMIT)
                if not pieces and not buttons:
                    continue
                *before, last = pieces or [""]
                for piece in before:
                    await self.pacer.wait(user_id)
                    await self.bot.send_message(user_id, piece)
                await self.pacer.wait(user_id)
                await self.bot.send_message(user_id, last, reply_markup=_keyboard(message))
        except RetryAfter as error:
            raise SendFailed("Telegram flood control", retry_after=_retry_seconds(error)) from error
        except Forbidden as error:
            raise SendFailed("the person blocked the bot", permanent=True) from error
        except BadRequest as error:  # chat not found, invalid text...: the same call fails again
            raise SendFailed(f"Telegram refused: {error.message}", permanent=True) from error
        except TelegramError as error:
            raise SendFailed(f"Telegram unavailable: {type(error).__name__}") from error

    async def poll(self, handle: Handler) -> None:
        """Local development without a public URL: long-poll getUpdates until cancelled.

        A webhook and polling exclude each other, so the webhook is removed first. An update
        whose handling fails is logged (by id) and skipped, not fetched again forever.
        """
        await self.bot.initialize()
        await self.bot.delete_webhook()
        offset: int | None = None
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=POLL_TIMEOUT_S, allowed_updates=ALLOWED_UPDATES
                )
            except InvalidToken:
                raise
            except RetryAfter as error:
                await asyncio.sleep(_retry_seconds(error))
                continue
            except TelegramError as error:
                logger.warning("getUpdates failed (%s); retrying", type(error).__name__)
                await asyncio.sleep(POLL_RETRY_S)
                continue
            for update in updates:
                offset = update.update_id + 1
                inbounds = self.inbounds_from_update(update)
                if not inbounds:
                    continue
                try:
                    await handle(inbounds)
                except Exception as error:  # one bad update must not stop the bot
                    logger.error(
                        "update %s not handled: %s", update.update_id, type(error).__name__
                    )

    async def close(self) -> None:
        await self.bot.shutdown()

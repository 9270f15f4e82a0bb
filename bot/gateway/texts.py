"""The gateway's own bilingual texts (texts.yml) and the choice of language for a request."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from bot.language import SUPPORTED as LANGUAGES

_FILE = Path(__file__).with_name("texts.yml")


@lru_cache(maxsize=1)
def all_texts() -> dict[str, dict[str, str]]:
    with open(_FILE, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def text(key: str, language: str, **values: object) -> str:
    template = all_texts()[key][language if language in LANGUAGES else "fr"]
    return template.format(**values) if values else template


def both(key: str, **values: object) -> dict[str, str]:
    """A text in both languages, for answers given before the language is known."""
    return {language: text(key, language, **values) for language in LANGUAGES}


def language_from_header(accept_language: str | None) -> str:
    """fr or nl from an Accept-Language header, by the browser's order of preference."""
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "fr"


class ApiError(BaseModel):
    """The body of every refusal of the gateway's JSON API: a stable key, and words for the
    person in their language (or in both when it is not known yet)."""

    error: str
    message: str | dict[str, str]


# Declared on JSON routes so that the OpenAPI schema says what a refusal looks like.
ERROR_RESPONSES: dict[int | str, dict] = {422: {"model": ApiError}}


class Refused(Exception):
    """Raised by a route to refuse a request with one of texts.yml's messages; the app turns
    it into an ApiError. It never repeats what was sent."""

    def __init__(self, status: int, key: str) -> None:
        super().__init__(key)
        self.status, self.key = status, key


def error_response(
    status: int,
    key: str,
    language: str | None = None,
    headers: dict[str, str] | None = None,
    **values: object,
) -> JSONResponse:
    message = text(key, language, **values) if language in LANGUAGES else both(key, **values)
    body = ApiError(error=key, message=message).model_dump()
    return JSONResponse(body, status_code=status, headers=headers)

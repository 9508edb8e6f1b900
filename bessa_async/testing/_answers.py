"""Answers in Django REST Framework's shape: compact JSON, and ``{"detail": ...}`` for errors."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from http import HTTPStatus

from aiohttp import web

__all__ = ["detail", "json_answer", "not_found", "reason", "stamp"]


def json_answer(
    payload: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """``payload`` as compact JSON (DRF's renderer: no spaces, non-ASCII kept)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return web.Response(text=body, status=status, content_type="application/json", headers=headers)


def detail(status: int, text: str, headers: Mapping[str, str] | None = None) -> web.Response:
    """DRF's error body: ``{"detail": text}``."""
    return json_answer({"detail": text}, status, headers)


def not_found(text: str = "Not found.") -> web.Response:
    """A 404 with DRF's detail."""
    return detail(404, text)


def reason(code: int) -> str:
    """The standard phrase of an HTTP status, or ``"Error"`` for a code without one."""
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Error"


def stamp(answer: web.StreamResponse, date: str) -> web.StreamResponse:
    """Give an answer its ``X-Request-ID`` and ``Date`` (the server's clock), as every answer
    of the API carries them."""
    answer.headers["X-Request-ID"] = uuid.uuid4().hex
    answer.headers["Date"] = date
    return answer

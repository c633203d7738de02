"""What the provider emulator's three hosts share: the record of every request and the answer envelope."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from emulators.provider.variants import VARIANTS


@dataclass(slots=True)
class RecordedRequest:
    """Every request the emulator received, in arrival order."""

    method: str
    path: str
    query: dict[str, str]
    host: str  # api | upload | media | other
    headers: dict[str, str]
    arrived: float  # time.monotonic()
    json: Any = None
    form: dict[str, str] | None = None
    code: int | None = None  # the envelope code answered (None for media)
    http_status: int | None = None
    ignored_fields: tuple[str, ...] = ()
    task_id: str | None = None
    # A scripted fault that shaped the answer: "lost:reset" (http_status 0: no answer at all),
    # "lost:timeout", "lost:500", or "download:<status>" for a media fetch failed on purpose.
    fault: str | None = None

    def __repr__(self) -> str:
        headers = dict(self.headers)
        if "Authorization" in headers:
            headers["Authorization"] = "Bearer ***"
        return (
            f"RecordedRequest({self.method} {self.path} host={self.host} code={self.code} "
            f"http={self.http_status} fault={self.fault} json={self.json!r} form={self.form!r} "
            f"headers={headers!r})"
        )


RECORD = web.RequestKey("recorded", RecordedRequest)


def envelope(
    request: web.Request, code: int, msg: str, data: Any = None, *, http_status: int = 200
) -> web.Response:
    record = request[RECORD]
    record.code = code
    body: dict[str, Any] = {"code": code, "msg": msg, "data": data}
    if record.host == "upload":
        body = {"success": code == 200, **body}
    variants = request.app.get(VARIANTS)
    if variants is not None:
        body = variants.answer(body)
    return web.json_response(body, status=http_status)


async def json_object(request: web.Request) -> dict[str, Any] | web.Response:
    """The JSON body, or the response to send: HTTP 400 for malformed JSON, code 400 otherwise."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return envelope(request, 400, "Malformed JSON body", http_status=400)
    request[RECORD].json = body
    if not isinstance(body, dict):
        return envelope(request, 400, "The request body must be a JSON object")
    return body

"""POST /api/v1/style/generate (provider-tools.md §12): synchronous, the boosted style in the answer.

The Oct-2025 schema's answer: `data.result` with a string `successFlag` ("1" done, "2" failed) and a
variable `creditsConsumed`. No callback and no record-info. Strict: `content` is required and must be
text; `callBackUrl` is tolerated (clients send their usual one) and ignored. ``StudioHost.fail_next``
makes the next boost answer a failure (successFlag "2").
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from aiohttp import web

from emulators.provider.http import RECORD, envelope, json_object
from emulators.provider.rules import RuleError, _string
from emulators.provider.studio.files import StudioHost, text_time

ENDPOINT = "style/generate"
FIELDS = frozenset({"content", "callBackUrl"})
CONTENT_LIMIT = 1000
COST = 1  # whole credits here; the answer reports a fractional, varying figure as the docs do


def check(body: dict[str, Any]) -> str:
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise RuleError(400, f"unknown fields: {', '.join(unknown)}")
    content = _string(body, "content", required=True)
    if not str(content).strip():
        raise RuleError(400, "content is required")
    if len(str(content)) > CONTENT_LIMIT:
        raise RuleError(413, f"content is longer than {CONTENT_LIMIT} characters")
    return str(content)


def boosted(content: str) -> str:
    return f"{content}, lush layered production, warm analog synths, wide stereo image, polished mix"


def add_routes(app: web.Application, prefix: str, host: StudioHost) -> None:
    async def boost(request: web.Request) -> web.Response:
        body = await json_object(request)
        if isinstance(body, web.Response):
            return body
        try:
            content = check(body)
        except RuleError as error:
            return envelope(request, error.code, error.msg)
        if host.emulator.credits < COST:
            return envelope(request, 429, "Insufficient credits")
        host.emulator.credits -= COST
        task_id = secrets.token_hex(16)
        request[RECORD].task_id = task_id
        failure = host.take_failure()
        data: dict[str, Any] = {
            "taskId": task_id,
            "param": content,
            "result": boosted(content) if failure is None else None,
            "creditsConsumed": round(0.2 + len(content) / 400, 2),
            "creditsRemaining": host.emulator.credits,
            "successFlag": "1" if failure is None else "2",
            "errorCode": None if failure is None else failure[0],
            "errorMessage": None if failure is None else failure[1],
            "createTime": text_time(time.time()),
        }
        return envelope(request, 200, "success", data)

    app.router.add_post(prefix + ENDPOINT, boost)

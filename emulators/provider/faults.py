"""Scripted faults of the provider emulator that concern the answer, not the task.

``TaskScript`` (in ``provider_tasks``) changes what a task does; these change what the client hears:
a task-creating request whose task is really created but whose answer is lost on the way back, and
media downloads that fail at the CDN. ``ProviderEmulator`` keeps queues of them and consumes one per
matching request, in the order they were scripted.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Literal, TypeVar

from aiohttp import web

__all__ = ["DownloadFailure", "LostAnswer", "LostAnswerMode", "MediaKind", "take", "unavailable_page"]

LostAnswerMode = Literal["reset", "timeout", "500"]
MediaKind = Literal["audio", "image", "any"]


@dataclass(slots=True)
class LostAnswer:
    mode: LostAnswerMode
    endpoint: str | None  # path after /api/v1/ ("generate/extend"); None for any task-creating one
    delay: float  # "timeout": seconds before the (too late) answer
    remaining: int

    def matches(self, endpoint: str) -> bool:
        return self.remaining > 0 and self.endpoint in (None, endpoint)


@dataclass(slots=True)
class DownloadFailure:
    status: int
    media: MediaKind
    remaining: int

    def matches(self, media: str) -> bool:
        return self.remaining > 0 and self.media in ("any", media)


Fault = TypeVar("Fault", LostAnswer, DownloadFailure)


def take(queue: list[Fault], key: str) -> Fault | None:
    """Consume one use of the first scripted fault matching ``key``; spent ones leave the queue."""
    for fault in queue:
        if fault.matches(key):
            fault.remaining -= 1
            if fault.remaining == 0:
                queue.remove(fault)
            return fault
    return None


def unavailable_page(status: int) -> web.Response:
    """What a CDN in front of object storage sends for a failed fetch: a short HTML page, not JSON."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    title = f"{status} {phrase}"
    body = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>\n"
    return web.Response(status=status, text=body, content_type="text/html")

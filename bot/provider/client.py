"""The only code that speaks HTTP to the provider."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from bot.provider.budget import SlidingWindowBudget
from bot.provider.errors import (
    CODE_NO_ANSWER,
    CODE_UNREADABLE,
    ProviderError,
    ProviderUnavailable,
    envelope_code,
)
from bot.provider.models import ProviderRequest, ProviderSnapshot, first_text, task_id_of, upload_url_of

log = logging.getLogger(__name__)

CREDITS_PATH = "/api/v1/generate/credit"
RECORD_INFO_PATH = "/api/v1/generate/record-info"
STREAM_UPLOAD_PATH = "/api/file-stream-upload"


class ProviderDownloadError(Exception):
    """Generated media that could not be fetched (bot/provider/media.py); `refused`: by the MediaGuard;
    `gone`: the host says the file is not there (404/410: an expired link, which recovery renews)."""

    def __init__(
        self, message: str, *, too_big: bool = False, refused: bool = False, gone: bool = False
    ) -> None:
        super().__init__(message)
        self.too_big = too_big
        self.refused = refused
        self.gone = gone


class ProviderClient:
    """sunoapi.org over aiohttp: bearer auth, one shared request budget, typed errors, bounded retries."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        upload_url: str,
        api_key: str,
        budget: SlidingWindowBudget,
        retries: int = 3,
        backoff: float = 2.0,
        timeout: float = 30.0,
        metrics: Any = None,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._upload_url = upload_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self.budget = budget
        self._retries = retries
        self._backoff = backoff
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._metrics = metrics

    async def submit(
        self,
        request: ProviderRequest,
        *,
        callback_url: str,
        ticket: object = None,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> str:
        """Create a task; returns the provider's taskId. `ticket` names the waiter in the budget's queue.

        Sent once, never retried here: an attempt whose answer is lost may have created (and charged) a
        task, so the caller decides what happens next. `before_send` runs once the budget lets the
        request go, just before it leaves (the caller records that the outcome is now uncertain).
        """
        try:
            envelope = await self._request(
                "POST",
                self._base_url + request.endpoint,
                json=request.body(callback_url),
                ticket=ticket,
                creates_task=True,
                before_send=before_send,
            )
        except ProviderError as error:
            raise _in_house_terms(request, error) from None
        task_id = task_id_of(envelope)
        if task_id is None:
            # Accepted, so probably made and charged: a 500 leaves the outcome unknown, never retried.
            raise ProviderError(500, "the provider accepted the task but sent no taskId")
        return task_id

    async def call(
        self,
        request: ProviderRequest,
        *,
        ticket: object = None,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> dict[str, Any]:
        """A synchronous tool (bot/studio/): its result is the answer's `data`. Sent once, like submit:
        the provider may have made (and charged) it even when the answer is lost."""
        envelope = await self._request(
            "POST",
            self._base_url + request.endpoint,
            json=request.body(""),
            ticket=ticket,
            creates_task=True,
            before_send=before_send,
        )
        data = envelope.get("data")
        if not isinstance(data, dict):
            raise ProviderError(500, "the provider answered with no data")
        return data

    async def record(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        """A studio tool's record-info (each has its own path and query name): the answer's `data`."""
        envelope = await self._request("GET", self._base_url + path, params=query)
        data = envelope.get("data")
        if not isinstance(data, dict):
            raise ProviderError(500, "record-info returned no data")
        return data

    async def record_envelope(
        self, path: str, query: dict[str, str], *, answers: frozenset[int]
    ) -> dict[str, Any]:
        """A record-info whose envelope code is the task's state (recovery: 201 running, 500 all failed):
        the whole envelope for these `answers`, a ProviderError for any other code."""
        return await self._request("GET", self._base_url + path, params=query, answers=answers | {200})

    async def record_info(self, task_id: str) -> ProviderSnapshot:
        envelope = await self._request("GET", self._base_url + RECORD_INFO_PATH, params={"taskId": task_id})
        data = envelope.get("data")
        if not isinstance(data, dict):
            raise ProviderError(500, "record-info returned no data")
        if not first_text(data, ("taskId", "task_id")):
            data["taskId"] = task_id
        return ProviderSnapshot.from_record_info(data)

    async def credits(self) -> int:
        data = (await self._request("GET", self._base_url + CREDITS_PATH)).get("data")
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise ProviderError(500, "credit returned no number")
        return int(data)

    async def upload_file(self, path: Path, *, file_name: str, upload_path: str, mime_type: str) -> str:
        """Stream a file to the provider's upload host; returns its URL (downloadUrl) to use as uploadUrl."""

        def form() -> aiohttp.FormData:
            data = aiohttp.FormData()
            data.add_field("uploadPath", upload_path)
            data.add_field("fileName", file_name)
            # An open file is streamed by aiohttp in chunks, never read whole into memory.
            data.add_field("file", path.open("rb"), filename=file_name, content_type=mime_type)
            return data

        # Uploads are free and make no task: one that is repeated after a lost answer costs nothing.
        envelope = await self._request(
            "POST", self._upload_url + STREAM_UPLOAD_PATH, form=form, budgeted=False
        )
        url = upload_url_of(envelope)
        if url is None:
            raise ProviderError(CODE_UNREADABLE, "the upload host returned no downloadUrl")
        return url

    async def _request(
        self,
        method: str,
        url: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        form: Any = None,
        budgeted: bool = True,
        ticket: object = None,
        creates_task: bool = False,
        before_send: Callable[[], Awaitable[None]] | None = None,
        answers: frozenset[int] = frozenset({200}),
    ) -> dict[str, Any]:
        """The answer's envelope (code 200, or one of `answers`); a ProviderError otherwise.

        A request that creates a task is sent once: whether an unclear answer means it was made is for
        the caller to decide (bot/tasks/submitter.py). Others are retried while the error is worth it.
        """
        attempt = 0
        retries = 0 if creates_task else self._retries
        while True:
            attempt += 1
            try:
                return await self._once(
                    method,
                    url,
                    json=json,
                    params=params,
                    form=form,
                    budgeted=budgeted,
                    ticket=ticket,
                    before_send=before_send,
                    answers=answers,
                )
            except ProviderError as error:
                if not error.retryable or attempt > retries:
                    raise
                delay = self._backoff * 2 ** (attempt - 1)
                log.warning(
                    "provider %s %s: %s; retry %d in %.1fs", method, _path(url), error, attempt, delay
                )
                await asyncio.sleep(delay)

    async def _once(
        self,
        method: str,
        url: str,
        *,
        json: dict[str, Any] | None,
        params: dict[str, str] | None,
        form: Any,
        budgeted: bool,
        ticket: object = None,
        before_send: Callable[[], Awaitable[None]] | None = None,
        answers: frozenset[int] = frozenset({200}),
    ) -> dict[str, Any]:
        if budgeted:
            await self.budget.acquire(ticket)
        try:
            if before_send is not None:
                await before_send()
            body = form() if form is not None else None
            async with self._session.request(
                method, url, json=json, params=params, data=body, headers=self._headers, timeout=self._timeout
            ) as response:
                try:
                    envelope = await response.json(content_type=None)
                except ValueError:
                    envelope = None
                status = response.status
        except aiohttp.ClientConnectorError as error:
            # Nothing reached the provider, so retrying cannot create a task twice.
            self._count_error("unreachable")
            raise ProviderUnavailable(f"cannot reach {_path(url)}: {error.strerror or error}") from None
        except (TimeoutError, aiohttp.ClientError) as error:
            # The request may have been received: a task-creating POST is not retried blindly.
            self._count_error("transport")
            raise ProviderError(
                CODE_NO_ANSWER, f"no answer from the provider ({type(error).__name__})"
            ) from None
        finally:
            if budgeted:
                self.budget.release()
        if not isinstance(envelope, dict):
            self._count_error(str(status))
            raise ProviderError(_unreadable_code(status), f"unreadable answer (HTTP {status})")
        # The envelope's code is the truth even under HTTP 200 (provider-api.md §1).
        code = envelope.get("code", status)
        if isinstance(code, bool) or not isinstance(code, int):
            code = status
        if code not in answers:
            self._count_error(str(code))
            message = first_text(envelope, ("msg", "message", "errorMessage", "errorMsg")) or "error"
            raise ProviderError(envelope_code(code), message, task_id=task_id_of(envelope))
        return envelope

    def _count_error(self, code: str) -> None:
        if self._metrics is not None:
            self._metrics.provider_errors.labels(code=code).inc()


def _in_house_terms(request: ProviderRequest, error: ProviderError) -> ProviderError:
    """An endpoint with its own code list (cover art's 402 and 429, provider-tools.md §7) read as the
    codes bot/provider/errors.py classifies, so what a code proves is still decided in one place."""
    code = request.codes.get(error.code)
    if code is None or isinstance(error, ProviderUnavailable):
        return error
    return ProviderError(code, error.message, task_id=error.task_id)


def _unreadable_code(status: int) -> int:
    """An answer that is no envelope comes from whatever stands in front of the provider, not from it.

    A proxy's 429 is its rate limit, not the provider's "insufficient credits"; a 5xx (or a 200 with no
    envelope) says nothing about whether a task was made.
    """
    if status == 429:
        return 430
    if 400 <= status < 500:
        return status
    return CODE_UNREADABLE


def _path(url: str) -> str:
    """Log the path only: hosts and query strings stay out of logs."""
    return url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]

"""The only code that speaks HTTP to the provider."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from bot.provider.budget import SlidingWindowBudget
from bot.provider.errors import ProviderError, ProviderUnavailable
from bot.provider.models import ProviderRequest, ProviderSnapshot

log = logging.getLogger(__name__)

CREDITS_PATH = "/api/v1/generate/credit"
RECORD_INFO_PATH = "/api/v1/generate/record-info"
STREAM_UPLOAD_PATH = "/api/file-stream-upload"


class ProviderDownloadError(Exception):
    """Generated media that could not be fetched (bot/provider/media.py); `refused`: by the MediaGuard."""

    def __init__(self, message: str, *, too_big: bool = False, refused: bool = False) -> None:
        super().__init__(message)
        self.too_big = too_big
        self.refused = refused


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
        data = await self._request(
            "POST",
            self._base_url + request.endpoint,
            json=request.body(callback_url),
            ticket=ticket,
            retries=0,
            before_send=before_send,
        )
        task_id = data.get("taskId") if isinstance(data, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise ProviderError(500, "the provider accepted the task but sent no taskId")
        return task_id

    async def record_info(self, task_id: str) -> ProviderSnapshot:
        data = await self._request("GET", self._base_url + RECORD_INFO_PATH, params={"taskId": task_id})
        if not isinstance(data, dict):
            raise ProviderError(500, "record-info returned no data")
        data.setdefault("taskId", task_id)
        return ProviderSnapshot.from_record_info(data)

    async def credits(self) -> int:
        data = await self._request("GET", self._base_url + CREDITS_PATH)
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise ProviderError(500, "credit returned no number")
        return int(data)

    async def upload_file(self, path: Path, *, file_name: str, upload_path: str, mime_type: str) -> str:
        """Stream a file to the provider's upload host; returns the downloadUrl to use as uploadUrl."""

        def form() -> aiohttp.FormData:
            data = aiohttp.FormData()
            data.add_field("uploadPath", upload_path)
            data.add_field("fileName", file_name)
            # An open file is streamed by aiohttp in chunks, never read whole into memory.
            data.add_field("file", path.open("rb"), filename=file_name, content_type=mime_type)
            return data

        data = await self._request("POST", self._upload_url + STREAM_UPLOAD_PATH, form=form, budgeted=False)
        url = data.get("downloadUrl") if isinstance(data, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ProviderError(500, "the upload host returned no downloadUrl")
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
        retries: int | None = None,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> Any:
        attempt = 0
        retries = self._retries if retries is None else retries
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
    ) -> Any:
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
            raise ProviderError(599, f"no answer from the provider ({type(error).__name__})") from None
        finally:
            if budgeted:
                self.budget.release()
        if not isinstance(envelope, dict):
            self._count_error(str(status))
            raise ProviderError(status if status >= 400 else 500, f"unreadable answer (HTTP {status})")
        # The envelope's code is the truth even under HTTP 200 (provider-api.md §1).
        code = envelope.get("code", status)
        if not isinstance(code, int):
            code = status
        if code != 200:
            self._count_error(str(code))
            raise ProviderError(code, str(envelope.get("msg") or "error"))
        return envelope.get("data")

    def _count_error(self, code: str) -> None:
        if self._metrics is not None:
            self._metrics.provider_errors.labels(code=code).inc()


def _path(url: str) -> str:
    """Log the path only: hosts and query strings stay out of logs."""
    return url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]

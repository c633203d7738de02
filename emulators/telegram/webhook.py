"""Webhook delivery: pushing queued updates to the bot's webhook, the way Telegram does.

``WebhookSender`` is mixed into ``TelegramEmulator``, whose ``start()`` runs ``_deliver_webhooks`` as a
background task. It posts the head of the update queue while a webhook is set, one update at a time and
in order, and records every attempt in ``webhook_deliveries`` and failures in the webhook's last error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import aiohttp

from emulators.telegram.state import WebhookDelivery

log = logging.getLogger(__name__)


class WebhookSender:
    """The webhook half of ``TelegramEmulator``; see the module docstring."""

    async def _deliver_webhooks(self) -> None:
        """Posts pending updates one at a time, in order, retrying failures with a doubling backoff."""
        attempts = 0
        while not self._closing:
            self._delivery_wake.clear()
            url = self._webhook_url
            if not url or not self._pending:
                await self._delivery_wake.wait()
                continue
            update = self._pending[0]
            status, error = await self._post_update(url, update)
            self.webhook_deliveries.append(
                WebhookDelivery(update["update_id"], url, status, error, time.monotonic())
            )
            still_first = bool(self._pending) and self._pending[0] is update
            if error is None:
                attempts = 0
                self._delivered += 1
                if still_first:
                    self._pending.pop(0)
                self._changed()
                continue
            attempts += 1
            self._last_error_date = int(time.time())
            self._last_error_message = error
            if attempts >= self.webhook_max_attempts:
                log.warning(
                    "webhook gave up on update %s after %d attempts: %s", update["update_id"], attempts, error
                )
                if still_first:
                    self._pending.pop(0)
                attempts = 0
            self._changed()
            if attempts:
                await asyncio.sleep(min(0.2 * 2 ** (attempts - 1), 5.0))

    async def _post_update(self, url: str, update: dict[str, Any]) -> tuple[int | None, str | None]:
        assert self._client is not None
        headers = {aiohttp.hdrs.CONTENT_TYPE: "application/json"}
        if self._webhook_secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self._webhook_secret
        try:
            async with self._client.post(
                url,
                data=json.dumps(update).encode(),
                headers=headers,
                allow_redirects=False,  # Telegram does not follow webhook redirects
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return response.status, None
                return (
                    response.status,
                    f"Wrong response from the webhook: {response.status} {response.reason}",
                )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return None, f"Connection failed: {type(exc).__name__}: {exc}"

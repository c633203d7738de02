"""The shared web server's routes (design §5)."""

from __future__ import annotations

import hmac
import logging
import time
from pathlib import Path

from aiohttp import web
from telegram import Update

from bot.chat.upload_files import chunks, stored_in_database
from bot.tasks.service import CallbackRejected
from bot.web.keys import SERVICES, TELEGRAM
from storage.db import is_busy

log = logging.getLogger(__name__)

MAX_CALLBACK_BYTES = 512 * 1024  # two tracks of metadata are a few kB; anything near this is not a callback
MAX_UPDATE_BYTES = 1024 * 1024
_OK = b'{"ok": true}'


async def telegram_update(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not hmac.compare_digest(given.encode(), services.telegram_secret.encode()):
        raise web.HTTPForbidden(text="wrong secret token")
    if (request.content_length or 0) > MAX_UPDATE_BYTES:
        raise web.HTTPRequestEntityTooLarge(
            max_size=MAX_UPDATE_BYTES, actual_size=request.content_length or 0
        )
    try:
        data = await request.json()
        application = request.app[TELEGRAM]
        update = Update.de_json(data, application.bot)
    except (ValueError, TypeError, KeyError):
        raise web.HTTPBadRequest(text="not a Telegram update") from None
    if update is None:
        raise web.HTTPBadRequest(text="not a Telegram update")
    await application.update_queue.put(update)
    return web.Response(text="ok")


async def read_bounded(request: web.Request, limit: int) -> bytes:
    """The whole body, or 413 as soon as it passes `limit` (a chunked body has no Content-Length to check)."""
    if request.content_length is not None and request.content_length <= limit:
        return await request.read()  # its length is known and small: read in one go
    body = bytearray()
    async for chunk in request.content.iter_any():
        body += chunk
        if len(body) > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(body))
    return bytes(body)


async def provider_callback(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    task_id = services.signer.verify_callback(request.match_info["token"])
    if task_id is None:
        services.metrics.callbacks.labels(result="forged").inc()
        raise web.HTTPForbidden(text="bad token")
    if (request.content_length or 0) > MAX_CALLBACK_BYTES:
        raise web.HTTPRequestEntityTooLarge(
            max_size=MAX_CALLBACK_BYTES, actual_size=request.content_length or 0
        )
    body = await read_bounded(request, MAX_CALLBACK_BYTES)
    try:
        await services.tasks.accept_callback(task_id, body)
    except CallbackRejected as rejected:
        log.warning("callback for task %s rejected: %s", task_id, rejected)
        return web.json_response({"ok": False, "error": str(rejected)}, status=rejected.status)
    except Exception as error:
        if not is_busy(error):
            raise
        # Not stored, so not acknowledged: the provider retries, and polling covers what it gives up on.
        log.warning("callback for task %s not stored yet (database busy); the provider will retry", task_id)
        return web.json_response({"ok": False, "error": "busy, retry later"}, status=503)
    return web.Response(body=_OK, content_type="application/json")


async def uploaded_file(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    upload_id = services.signer.verify_file(request.match_info["token"])
    if upload_id is None:
        raise web.HTTPForbidden(text="bad or expired link")
    upload = await services.storage.uploads.get(upload_id)
    if upload is None or upload.deleted_at is not None:
        raise web.HTTPNotFound(text="file is gone")
    headers = {
        "Content-Type": upload.mime_type,
        "Content-Disposition": f'attachment; filename="upload-{upload.id}"',
    }
    if stored_in_database(upload):
        # Any replica serves it: the bytes come from the shared database a piece at a time.
        response = web.StreamResponse(headers=headers)
        response.content_length = upload.size
        await response.prepare(request)
        async for chunk in chunks(services.storage, upload):
            await response.write(chunk)
        await response.write_eof()
        return response
    # The path comes from our own storage row, never from the request.
    return web.FileResponse(Path(upload.path), headers=headers)


async def healthz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    storage_ok = await services.storage.db.ping()
    last_event = await services.storage.events.last_received_at() if storage_ok else None
    body = {
        "status": "ok" if storage_ok else "degraded",
        "storage": "ok" if storage_ok else "unavailable",
        "mode": "webhook" if services.settings.webhook_mode else "polling",
        "last_provider_event": (
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last_event)) if last_event is not None else None
        ),
    }
    return web.json_response(body, status=200 if storage_ok else 503)


async def metrics(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    services.metrics.queue_length.set(services.provider.budget.waiting)
    if services.settings.payments_on:
        ledger = services.storage.ledger
        services.metrics.ledger.update(await ledger.takings(), await ledger.held())
    return web.Response(
        body=services.metrics.render(), headers={"Content-Type": services.metrics.content_type}
    )


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/telegram", telegram_update)
    app.router.add_post("/callbacks/{token}", provider_callback)
    app.router.add_get("/files/{token}", uploaded_file)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)


@web.middleware
async def errors_middleware(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    """Anything unexpected becomes a clean 500: no traceback reaches the caller."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, _where(request))
        return web.json_response({"ok": False, "error": "internal error"}, status=500)


def _where(request: web.Request) -> str:
    """The route, never the path: paths carry signed tokens. The id a token names is shown instead."""
    info = request.match_info
    route = info.route.resource.canonical if info.route.resource is not None else "(no route)"
    token = info.get("token")
    if token is None:
        return route
    ref = token.partition(".")[0]
    ref = ref if ref.isascii() and ref.isdigit() and len(ref) <= 18 else "?"
    return f"{route} ({'upload' if route.startswith('/files/') else 'task'} {ref})"

"""Decoding a Bot API call the way the real server does, and checking it against the spec.

A call arrives as a query string, an urlencoded or JSON body, or a multipart body whose file parts are
streamed to disk through a hash; its fields are then typed by the method's spec, ``attach://`` references
resolved, and unknown or missing fields refused. ``ApiCall`` carries one call through the emulator.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import BodyPartReader, web

from emulators.telegram.state import (
    ApiError,
    ChatInfo,
    MethodSpec,
    RecordedRequest,
    bad_request,
    coerce_value,
    missing_field_error,
)

_CHUNK = 256 * 1024
_KEEP_IN_MEMORY = 256 * 1024  # enough for any valid thumbnail, so its JPEG header can be inspected
MAX_SMALL_BODY = 2 * 1024 * 1024  # urlencoded and JSON bodies; uploads are streamed instead


@dataclass
class Upload:
    """One multipart file part, spooled to disk (or only hashed) while it was read."""

    part_name: str
    filename: str | None
    content_type: str | None
    size: int
    sha256: str
    head: bytes
    data: bytes | None  # the whole content when it is small
    temp_path: Path | None  # None once adopted as a stored file, or when no files_dir was given

    def descriptor(self) -> dict[str, Any]:
        return {
            "upload": self.part_name,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
        }


@dataclass
class ApiCall:
    spec: MethodSpec
    record: RecordedRequest
    arrival: float
    params: dict[str, Any] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    chat: ChatInfo | None = None
    admitted: bool = False
    ok_description: str | None = None

    @property
    def method(self) -> str:
        return self.spec.name


async def decode_request(
    request: web.Request, call: ApiCall, *, files_dir: Path | None, max_upload_bytes: int
) -> dict[str, Any]:
    """The call's raw fields, from the query string and the body; file parts go to ``call.uploads``."""
    raw: dict[str, Any] = dict(request.query)
    if request.method != "POST" or not request.body_exists:
        return raw
    content_type = request.content_type
    if content_type == "multipart/form-data":
        raw.update(await _read_multipart(request, call, files_dir, max_upload_bytes))
        return raw
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "Request Entity Too Large") from None
    text = body.decode(request.charset or "utf-8", errors="replace")
    if content_type == "application/json":
        try:
            parsed = json.loads(text) if text.strip() else {}
        except ValueError:
            raise bad_request("can't parse JSON object") from None
        if not isinstance(parsed, dict):
            raise bad_request("JSON body must be an object")
        raw.update(parsed)
    elif content_type in ("application/x-www-form-urlencoded", "application/octet-stream", ""):
        raw.update(parse_qsl(text, keep_blank_values=True))
    else:
        raise bad_request(f"unsupported Content-Type {content_type!r}")
    return raw


async def _read_multipart(
    request: web.Request, call: ApiCall, files_dir: Path | None, max_upload_bytes: int
) -> dict[str, str]:
    fields: dict[str, str] = {}
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise bad_request("nested multipart bodies are not supported")
            name = part.name or ""
            if part.filename is None:
                fields[name] = await _read_text_part(part)
            else:
                call.uploads[name] = await _spool_part(part, name, files_dir, max_upload_bytes)
    except ApiError as err:
        if err.error_code == 413:
            # Read the rest so the client sees the 413 instead of a connection reset mid-upload.
            while await request.content.read(_CHUNK):
                pass
        raise
    except ValueError as err:  # malformed multipart framing
        raise bad_request(f"can't parse multipart body: {err}") from None
    return fields


async def _spool_part(
    part: BodyPartReader, name: str, files_dir: Path | None, max_upload_bytes: int
) -> Upload:
    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await part.read_chunk(_CHUNK):
            yield chunk

    return await spool(
        chunks(),
        part_name=name,
        filename=part.filename,
        content_type=part.headers.get(aiohttp.hdrs.CONTENT_TYPE),
        files_dir=files_dir,
        max_bytes=max_upload_bytes,
        too_big=lambda: ApiError(413, "Request Entity Too Large"),
    )


async def spool(
    chunks: AsyncIterator[bytes],
    *,
    part_name: str,
    filename: str | None,
    content_type: str | None,
    files_dir: Path | None,
    max_bytes: int,
    too_big: Callable[[], ApiError],
) -> Upload:
    """Read a file to disk (or only through the hash) in chunks: a multipart part or a URL's body."""
    digest = hashlib.sha256()
    size = 0
    kept: bytearray | None = bytearray()
    head = b""
    temp_path = None
    handle = None
    if files_dir is not None:
        temp_path = files_dir / f".upload-{secrets.token_hex(8)}"
        handle = await asyncio.to_thread(open, temp_path, "wb")
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise too_big()
            digest.update(chunk)
            if kept is not None:
                kept += chunk
                if len(kept) > _KEEP_IN_MEMORY:
                    head, kept = bytes(kept[:4096]), None
            if handle is not None:
                # Off the loop: the bot under test often shares it, and a 20 MB write would stall it.
                await asyncio.to_thread(handle.write, chunk)
    except BaseException:
        if handle is not None:
            await asyncio.to_thread(handle.close)
            handle = None
            await _unlink(temp_path)
        raise
    finally:
        if handle is not None:
            await asyncio.to_thread(handle.close)
    data = bytes(kept) if kept is not None else None
    return Upload(
        part_name=part_name,
        filename=filename,
        content_type=content_type,
        size=size,
        sha256=digest.hexdigest(),
        head=data[:4096] if data is not None else head,
        data=data,
        temp_path=temp_path,
    )


def coerce_params(
    spec: MethodSpec,
    raw: dict[str, Any],
    uploads: dict[str, Upload],
    *,
    reject_unknown_fields: bool,
    api_version: str,
) -> dict[str, Any]:
    """The raw fields typed by the spec, with ``attach://`` references and file parts resolved."""
    params: dict[str, Any] = {}
    referenced: set[str] = set()
    for name, value in raw.items():
        field_spec = spec.fields.get(name)
        if field_spec is None:
            if reject_unknown_fields:
                raise bad_request(
                    f'unexpected parameter "{name}" for {spec.name}: it is not in Bot API '
                    f"{api_version} (the real server would silently ignore it)"
                )
            continue
        # The real server reads an empty value as an absent one, except where "" means "remove".
        if value is None or (value == "" and (spec.name, name) != ("setWebhook", "url")):
            continue
        if field_spec.accepts_file and isinstance(value, str) and value.startswith("attach://"):
            part_name = value[len("attach://") :]
            if part_name not in uploads:
                raise bad_request(f"{name}: file {value} was not found in the request")
            referenced.add(part_name)
            params[name] = uploads[part_name]
            continue
        params[name] = coerce_value(field_spec, value)
        if any(t.startswith("Array of InputMedia") for t in field_spec.types):
            params[name] = [_attached(item, uploads, referenced) for item in params[name]]
    for part_name, upload in uploads.items():
        if part_name in referenced or part_name in params:
            continue
        field_spec = spec.fields.get(part_name)
        if field_spec is None:
            if reject_unknown_fields:
                raise bad_request(f'unexpected file part "{part_name}" for {spec.name}: nothing refers to it')
            continue
        if not field_spec.accepts_file:
            raise bad_request(f'parameter "{part_name}" does not accept a file upload')
        params[part_name] = upload
    return params


def _attached(item: Any, uploads: dict[str, Upload], referenced: set[str]) -> Any:
    """An album item (InputMedia) with its `attach://` files replaced by the parts they name."""
    if not isinstance(item, dict):
        return item  # the method refuses it with its own words
    resolved = dict(item)
    for key in ("media", "thumbnail", "cover"):
        value = item.get(key)
        if isinstance(value, str) and value.startswith("attach://"):
            part_name = value[len("attach://") :]
            if part_name not in uploads:
                raise bad_request(f"{key}: file {value} was not found in the request")
            referenced.add(part_name)
            resolved[key] = uploads[part_name]
    return resolved


def recorded(value: Any) -> Any:
    """A decoded parameter as a test sees it: uploads (also inside album items) as their descriptors."""
    if isinstance(value, Upload):
        return value.descriptor()
    if isinstance(value, list):
        return [recorded(v) for v in value]
    if isinstance(value, dict):
        return {k: recorded(v) for k, v in value.items()}
    return value


def check_required(call: ApiCall) -> None:
    for field_spec in call.spec.fields.values():
        if field_spec.required and field_spec.name not in call.params:
            if (call.method, field_spec.name) == ("setWebhook", "url"):
                continue  # an absent url removes the webhook, like ""
            raise missing_field_error(call.method, field_spec.name)


async def _read_text_part(part: BodyPartReader) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(_CHUNK):
        data += chunk
        if len(data) > MAX_SMALL_BODY:
            raise ApiError(413, "Request Entity Too Large")
    return data.decode(part.get_charset("utf-8"), errors="replace")


async def _unlink(path: Path | None) -> None:
    if path is not None:
        await asyncio.to_thread(path.unlink, missing_ok=True)


async def discard_uploads(uploads: Any) -> None:
    for upload in uploads:
        if upload.temp_path is not None:
            await _unlink(upload.temp_path)
            upload.temp_path = None

"""The provider's file-upload host: stream, base64 and URL uploads, and serving the files back.

``UploadHost`` is mixed into ``ProviderEmulator``, which routes ``/api/file-*-upload`` and
``/media/uploads/...`` to it and supplies ``url``, ``http``, ``uploads``, ``downloads`` and
``_workdir_path()``. Every received file lands in ``uploads`` as an ``UploadedFile``.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import aiohttp
from aiohttp import web

from emulators.provider.http import RECORD, envelope, json_object
from emulators.provider.tasks import download_to, open_sink
from emulators.provider.variants import PayloadVariants

UPLOAD_PATHS = ("/api/file-stream-upload", "/api/file-base64-upload", "/api/file-url-upload")
URL_UPLOAD_TIMEOUT = 30.0  # the upload host's documented fetch timeout
_CHUNK = 64 * 1024


@dataclass(slots=True)
class UploadedFile:
    id: str
    file_name: str
    upload_path: str
    file_path: str
    download_url: str
    size: int
    sha256: str
    mime_type: str
    uploaded_at: str
    method: str  # stream | base64 | url
    disk_path: Path = field(repr=False)


class UploadHost:
    """The upload-host half of ``ProviderEmulator``; see the module docstring."""

    variants: PayloadVariants

    async def _handle_stream_upload(self, request: web.Request) -> web.Response:
        """Multipart: the file part goes straight to disk through a hash, never whole in memory."""
        if not request.content_type.startswith("multipart/"):
            return envelope(request, 400, "Expected multipart/form-data")
        upload_id = secrets.token_hex(8)
        staging = self._workdir_path("staging", upload_id)
        fields: dict[str, str] = {}
        sink = None
        part_name = ""
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, aiohttp.BodyPartReader):
                continue
            if part.name == "file" and sink is None:
                part_name = part.filename or ""
                sink = open_sink(staging)
                try:
                    while chunk := await part.read_chunk(_CHUNK):
                        sink.write(chunk)
                finally:
                    sink.close()
            else:
                fields[str(part.name)] = await part.text()
        request[RECORD].form = {**fields, **({"file": part_name} if sink else {})}
        if sink is None or not sink.size:
            return envelope(request, 400, "file is required")
        return self._store_upload(
            request, upload_id, staging, fields, part_name, sink.digest.hexdigest(), sink.size, "stream"
        )

    async def _handle_base64_upload(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        if isinstance(body, web.Response):
            return body
        request[RECORD].json = {**body, "base64Data": f"<{len(str(body.get('base64Data', '')))} chars>"}
        data = body.get("base64Data")
        if not isinstance(data, str) or not data:
            return envelope(request, 400, "base64Data is required")
        if data.startswith("data:"):
            data = data.partition(",")[2]
        try:
            content = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            return envelope(request, 400, "base64Data is not valid base64")
        if not content:
            return envelope(request, 400, "base64Data is empty")
        upload_id = secrets.token_hex(8)
        staging = self._workdir_path("staging", upload_id)
        sink = open_sink(staging)
        sink.write(content)
        sink.close()
        fields = {k: v for k, v in body.items() if k != "base64Data" and isinstance(v, str)}
        return self._store_upload(
            request, upload_id, staging, fields, "", sink.digest.hexdigest(), sink.size, "base64"
        )

    async def _handle_url_upload(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        if isinstance(body, web.Response):
            return body
        file_url = body.get("fileUrl")
        parts = urlsplit(file_url) if isinstance(file_url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            return envelope(request, 400, "fileUrl must be a valid http(s) URL")
        fields = {k: v for k, v in body.items() if isinstance(v, str)}
        problem = self._upload_path_error(fields.get("uploadPath"))
        if problem:  # checked before fetching, so a bad request costs no download
            return envelope(request, 400, problem)
        upload_id = secrets.token_hex(8)
        staging = self._workdir_path("staging", upload_id)
        record = await download_to(
            self.http, str(file_url), staging, max_seconds=URL_UPLOAD_TIMEOUT, purpose="url-upload"
        )
        self.downloads.append(record)
        if record.status != 200 or not record.size or record.sha256 is None:
            return envelope(request, 400, f"Could not download fileUrl: {record.error or 'empty file'}")
        default_name = Path(parts.path).name
        return self._store_upload(
            request, upload_id, staging, fields, default_name, record.sha256, record.size, "url"
        )

    @staticmethod
    def _upload_path_error(upload_path: str | None) -> str | None:
        if not upload_path or not upload_path.strip():
            return "uploadPath is required"
        if upload_path.startswith("/") or upload_path.endswith("/"):
            return "uploadPath must not start or end with a slash"
        return None

    def _store_upload(
        self,
        request: web.Request,
        upload_id: str,
        staging: Path,
        fields: dict[str, str],
        default_name: str,
        sha256: str,
        size: int,
        method: str,
    ) -> web.Response:
        problem = self._upload_path_error(fields.get("uploadPath"))
        if problem:
            staging.unlink(missing_ok=True)
            return envelope(request, 400, problem)
        upload_path = fields["uploadPath"]
        file_name = Path(fields.get("fileName") or default_name or f"{upload_id}.bin").name
        final = self._workdir_path("uploads", upload_id, file_name)
        staging.replace(final)
        uploaded = UploadedFile(
            id=upload_id,
            file_name=file_name,
            upload_path=upload_path,
            file_path=f"{upload_path}/{file_name}",
            download_url=f"{self.url}/media/uploads/{upload_id}/{quote(file_name)}",
            size=size,
            sha256=sha256,
            mime_type=_sniff_mime(final, file_name),
            uploaded_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            method=method,
            disk_path=final,
        )
        self.uploads[upload_id] = uploaded
        data = {
            "fileName": uploaded.file_name,
            "filePath": uploaded.file_path,
            "downloadUrl": uploaded.download_url,
            "fileSize": uploaded.size,
            "mimeType": uploaded.mime_type,
            "uploadedAt": uploaded.uploaded_at,
        }
        return envelope(request, 200, "File uploaded successfully", self.variants.upload(data))

    async def _handle_uploaded_file(self, request: web.Request) -> web.StreamResponse:
        uploaded = self.uploads.get(request.match_info["upload_id"])
        if uploaded is None or uploaded.file_name != request.match_info["name"]:
            raise web.HTTPNotFound()
        return web.FileResponse(uploaded.disk_path, headers={"Content-Type": uploaded.mime_type})


_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"ID3", 0, "audio/mpeg"),
    (b"OggS", 0, "audio/ogg"),
    (b"fLaC", 0, "audio/flac"),
    (b"WAVE", 8, "audio/wav"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"ftyp", 4, "audio/mp4"),
)


def _sniff_mime(path: Path, file_name: str) -> str:
    """The upload host auto-detects the type; content first, then the name."""
    with path.open("rb") as handle:
        head = handle.read(16)
    for magic, offset, mime in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return mime
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "audio/mpeg"
    return mimetypes.guess_type(file_name)[0] or "application/octet-stream"

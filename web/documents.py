"""Documents (PDF) and images for the board: uploaded over HTTP, checked, stored by content.

Uploads are authenticated by the uploader's Socket.IO session: the header
``X-Openroom-Session: <sid>`` names a connection that has joined the room in the URL as someone
allowed to push panels (``board_push``; only moderators when the room says so). The body is the
raw file, never multipart; its Content-Type names its type.

``POST /api/rooms/<room>/documents?name=<file name>``, ``Content-Type: application/pdf``
    The PDF's id is the SHA-256 (hex) of its bytes. The request waits for the quick check (opens,
    page count, page sizes), then answers ``202 {documentId, status: "rendering", pageCount}``
    while the pages are rendered in a separate process, or at once ``202 {documentId,
    status: "ready", pageCount}`` when the same PDF was rendered before. The uploading
    connection receives Socket.IO ``document-progress`` ``{documentId, rendered, pageCount,
    status: "rendering"|"ready"|"failed", error?: {code, message}}`` after each page and once at
    the end. Pages are written to ``<data_dir>/documents/.tmp-*`` and renamed to
    ``<data_dir>/documents/<id>/`` only when all are done: a failed, killed or timed-out render
    leaves nothing but a ``failed`` metadata entry.
``GET /documents/<id>/pages/<n>.png``: a rendered page (n from 1); 404 until all are ready.
``GET /api/documents/<id>``: ``{documentId, status, pageCount, name, bytes, createdAt,
    error?}``.
``POST /api/rooms/<room>/images?name=<file name>``, ``Content-Type: image/png`` or
    ``image/jpeg``: ``201 {imageId, contentType, width, height, bytes}``; stored at
    ``<data_dir>/images/<sha256>.png|jpg``.
``GET /images/<id>``: the image, with its type and ``X-Content-Type-Options: nosniff``.

Errors are ``{"error": {"code", "message"}}``: 401 ``session_required``, ``invalid_session``;
403 ``not_in_room``, ``forbidden``; 413 ``too_large``; 415 ``unsupported_media_type``,
``not_a_pdf``, ``not_an_image``; 422 ``invalid_pdf``, ``pdf_encrypted``, ``empty_pdf``,
``too_many_pages``, ``page_too_large``, ``render_timeout``, ``render_failed``, ``invalid_image``,
``image_too_large``; 503 ``renderer_busy``; 404 ``not_found``. Page images and images are
content-addressed, so they are served ``immutable`` to anyone who knows the id.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
import struct
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from conference import Permission, is_valid_room_id
from config import Settings
from signaling import ConferenceService
from signaling.context import SessionState
from signaling.store import StoreError
from web.api import api_error

logger = logging.getLogger(__name__)

SESSION_HEADER = "X-Openroom-Session"
ID_ROUTE = "{id:[A-Za-z0-9_-]{1,64}}"
MAX_NAME = 120
MAX_RENDERS = 4  # PDFs rendered at once on this node; more uploads get 503 renderer_busy
MAX_IMAGE_SIDE = 8000
STALE_TEMP_SECONDS = 3600 * 6  # left by a server that died mid-render
IMMUTABLE = "public, max-age=31536000, immutable"
CHUNK = 64 * 1024
PROJECT_ROOT = Path(__file__).resolve().parent.parent

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg"}
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic): they carry the size
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


class UploadError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class _Render:
    document_id: str
    deadline: float
    watchers: set[str] = field(default_factory=set)
    temp_dir: Path | None = None
    process: asyncio.subprocess.Process | None = None
    page_count: int = 0
    rendered: int = 0
    task: asyncio.Task[None] | None = None
    checked: asyncio.Event = field(default_factory=asyncio.Event)  # the quick check is over
    refused: UploadError | None = None  # why the quick check failed


# --------------------------------------------------------------------------- image headers


def image_size(data: bytes) -> tuple[str, int, int]:
    """``(extension, width, height)`` read from a PNG's IHDR or a JPEG's start of frame."""
    if data.startswith(PNG_SIGNATURE):
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise UploadError(422, "invalid_image", "the PNG has no IHDR header")
        extension, (width, height) = "png", struct.unpack(">II", data[16:24])
    elif data.startswith(b"\xff\xd8\xff"):
        extension, (width, height) = "jpg", _jpeg_size(data)
    else:
        raise UploadError(415, "not_an_image", "the file is not a PNG or JPEG image")
    if width == 0 or height == 0:
        raise UploadError(422, "invalid_image", "the image declares no size")
    return extension, width, height


def _jpeg_size(data: bytes) -> tuple[int, int]:
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            break
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # no length
            position += 2
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if length < 2:
            break
        if marker in _JPEG_SOF:
            if position + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header before
            break
        position += 2 + length
    raise UploadError(422, "invalid_image", "the JPEG has no readable frame header")


# --------------------------------------------------------------------------- the API


class DocumentApi:
    def __init__(self, settings: Settings, service: ConferenceService) -> None:
        self.settings = settings
        self.limits = settings.documents
        self.service = service
        data_dir = Path(settings.server.data_dir)
        self.documents_dir = data_dir / "documents"
        self.images_dir = data_dir / "images"
        self._renders: dict[str, _Render] = {}

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/rooms/{room}/documents", self.upload_document),
            web.get(f"/api/documents/{ID_ROUTE}", self.document_status),
            web.get(f"/documents/{ID_ROUTE}/pages/{{n:[0-9]{{1,5}}}}.png", self.page),
            web.post("/api/rooms/{room}/images", self.upload_image),
            web.get(f"/images/{ID_ROUTE}", self.image),
        ]

    async def context(self, app: web.Application) -> AsyncIterator[None]:
        """The app's cleanup context: old temporary folders go at start, renders at stop."""
        await asyncio.to_thread(self._remove_stale_temporaries)
        yield
        for render in list(self._renders.values()):
            if render.task is not None:
                render.task.cancel()
        tasks = [r.task for r in self._renders.values() if r.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)

    def _remove_stale_temporaries(self) -> None:
        for folder in (self.documents_dir, self.images_dir):
            if not folder.is_dir():
                continue
            for entry in folder.glob(".tmp-*"):
                with contextlib.suppress(OSError):
                    if time.time() - entry.stat().st_mtime > STALE_TEMP_SECONDS:
                        _remove(entry)

    # -- shared checks ------------------------------------------------------------------

    def _uploader(self, request: web.Request) -> str:
        """The sid of a connection joined to this room as someone who may push panels."""
        sid = request.headers.get(SESSION_HEADER, "").strip()
        if not sid:
            raise UploadError(
                401, "session_required", f"send the {SESSION_HEADER} header of your connection"
            )
        session = self.service.sessions.get(sid)
        if session is None:
            raise UploadError(401, "invalid_session", "no such connection: join the room first")
        room = request.match_info["room"]
        context = session.room
        if (
            not is_valid_room_id(room)
            or session.state != SessionState.JOINED
            or str(context.room.id) != room
        ):
            raise UploadError(403, "not_in_room", "your connection has not joined this room")
        actor = context.room.get(session.participant_id)
        if not actor.can(Permission.BOARD_PUSH) and not actor.can(Permission.MODERATE):
            raise UploadError(403, "forbidden", f"your role ({actor.role.value}) may not upload")
        if context.room.policy.board_moderators_only and not actor.can(Permission.MODERATE):
            raise UploadError(403, "forbidden", "in this room only moderators show documents")
        return sid

    async def _body(self, request: web.Request, types: tuple[str, ...], limit: int) -> bytes:
        if request.content_type not in types:
            raise UploadError(
                415, "unsupported_media_type", f"send the file as the body, as {' or '.join(types)}"
            )
        too_large = UploadError(413, "too_large", f"the file is larger than {limit} bytes")
        if request.content_length is not None and request.content_length > limit:
            raise too_large
        chunks: list[bytes] = []
        total = 0
        async for chunk in request.content.iter_chunked(CHUNK):
            total += len(chunk)
            if total > limit:
                raise too_large
            chunks.append(chunk)
        if total == 0:
            raise UploadError(400, "empty_body", "the body is empty: send the file")
        return b"".join(chunks)

    @staticmethod
    def _name(request: web.Request) -> str:
        name = request.query.get("name", "")[:MAX_NAME]
        return "".join(ch for ch in name if ch.isprintable())

    # -- documents ----------------------------------------------------------------------

    async def upload_document(self, request: web.Request) -> web.Response:
        try:
            sid = self._uploader(request)
            data = await self._body(request, ("application/pdf",), self.limits.max_upload_bytes)
            if not data.startswith(b"%PDF-"):
                raise UploadError(415, "not_a_pdf", "the file is not a PDF (no %PDF- header)")
            document_id = hashlib.sha256(data).hexdigest()
            reply = await self._cached(document_id)
            if reply is None:
                reply = await self._start(document_id, data, self._name(request), sid)
        except UploadError as exc:
            return api_error(exc.status, exc.code, exc.message)
        except StoreError as exc:
            return api_error(503, exc.code, exc.message)
        return web.json_response(reply, status=202)

    async def _cached(self, document_id: str) -> dict[str, Any] | None:
        """A PDF rendered before: its folder exists only once every page is in it."""
        final = self.documents_dir / document_id
        if not await asyncio.to_thread(final.is_dir):
            return None
        meta = await self.service.board.store.get_document(document_id) or {}
        if meta.get("status") == "ready" and isinstance(meta.get("pageCount"), int):
            count = int(meta["pageCount"])
        else:  # its metadata was lost (an in-memory store restarted) or never written
            count = len(list(final.glob("*.png")))
            name, size = str(meta.get("name", "")), int(meta.get("bytes", 0))
            await self._put(document_id, "ready", count, name, size)
        return {"documentId": document_id, "status": "ready", "pageCount": count}

    async def _start(self, document_id: str, data: bytes, name: str, sid: str) -> dict[str, Any]:
        running = self._renders.get(document_id)
        if running is not None:  # the same PDF, uploaded again while it renders
            running.watchers.add(sid)
            await running.checked.wait()
            if running.refused is not None:
                raise running.refused
            return {
                "documentId": document_id,
                "status": "rendering",
                "pageCount": running.page_count,
            }
        if len(self._renders) >= MAX_RENDERS:
            raise UploadError(503, "renderer_busy", "other documents are rendering: try again")
        deadline = time.monotonic() + self.limits.render_timeout_seconds
        render = _Render(document_id, deadline, watchers={sid})
        self._renders[document_id] = render  # before any await: one render per PDF
        try:
            await self._spawn(render, data)
            render.page_count = await self._checked(render)
            await self._put(document_id, "rendering", render.page_count, name, len(data))
        except BaseException as exc:
            self._renders.pop(document_id, None)
            render.refused = (
                exc
                if isinstance(exc, UploadError)
                else UploadError(503, "render_failed", "the first upload of this PDF failed")
            )
            render.checked.set()
            await _stop(render)
            raise
        render.checked.set()
        render.task = asyncio.create_task(self._finish(render, name, len(data)))
        return {"documentId": document_id, "status": "rendering", "pageCount": render.page_count}

    async def _spawn(self, render: _Render, data: bytes) -> None:
        def prepare() -> Path:
            self.documents_dir.mkdir(parents=True, exist_ok=True)
            temp_dir = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.documents_dir))
            render.temp_dir = temp_dir  # from here on, _stop deletes it
            (temp_dir / "source.pdf").write_bytes(data)
            return temp_dir

        temp_dir = await asyncio.to_thread(prepare)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(PROJECT_ROOT), *filter(None, [env.get("PYTHONPATH")])]
        )
        try:
            render.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "web.pdf_render",
                str(temp_dir / "source.pdf"),
                str(temp_dir),
                str(self.limits.max_pages),
                str(self.limits.max_page_points),
                str(self.limits.page_width_px),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                env=env,
            )
        except OSError as exc:
            raise UploadError(503, "render_failed", f"the renderer cannot start: {exc}") from exc

    async def _next(self, render: _Render) -> dict[str, Any]:
        """The renderer's next report; an UploadError when it fails, stops or runs too long."""
        assert render.process is not None and render.process.stdout is not None
        remaining = render.deadline - time.monotonic()
        try:
            line = await asyncio.wait_for(render.process.stdout.readline(), max(remaining, 0))
        except TimeoutError:
            raise UploadError(
                422,
                "render_timeout",
                f"rendering took longer than {self.limits.render_timeout_seconds} s",
            ) from None
        if not line:
            code = await render.process.wait()
            raise UploadError(422, "render_failed", f"the renderer stopped (exit code {code})")
        try:
            report = json.loads(line)
        except ValueError:
            raise UploadError(422, "render_failed", "the renderer answered nonsense") from None
        if not isinstance(report, dict):
            raise UploadError(422, "render_failed", "the renderer answered nonsense")
        if report.get("event") == "error":
            raise UploadError(
                422, str(report.get("code", "render_failed")), str(report.get("message", ""))
            )
        return report

    async def _checked(self, render: _Render) -> int:
        report = await self._next(render)
        if report.get("event") != "checked" or not isinstance(report.get("pageCount"), int):
            raise UploadError(422, "render_failed", "the renderer did not check the PDF")
        return int(report["pageCount"])

    async def _finish(self, render: _Render, name: str, size: int) -> None:
        """Render every page, then move the folder into place; or stop and keep nothing."""
        document_id = render.document_id
        try:
            await self._progress(render, "rendering")
            while True:
                report = await self._next(render)
                if report.get("event") == "done":
                    break
                if report.get("event") == "page":
                    render.rendered = int(report.get("rendered", render.rendered + 1))
                    await self._progress(render, "rendering")
            assert render.process is not None
            await render.process.wait()
            await asyncio.to_thread(self._publish, render)
        except Exception as exc:
            await _stop(render)
            self._renders.pop(document_id, None)
            if isinstance(exc, UploadError):
                error = {"code": exc.code, "message": exc.message}
            else:
                logger.exception("document %s could not be stored", document_id)
                error = {"code": "render_failed", "message": "the pages could not be stored"}
            logger.info("document %s failed: %s", document_id, error["message"])
            await self._put(document_id, "failed", render.page_count, name, size, error)
            await self._progress(render, "failed", error)
            return
        except BaseException:
            await _stop(render)
            self._renders.pop(document_id, None)
            raise
        self._renders.pop(document_id, None)
        try:
            await self._put(document_id, "ready", render.page_count, name, size)
        except StoreError:  # the pages are in place: the next upload marks them ready
            logger.warning("document %s is rendered but its metadata not stored", document_id)
        await self._progress(render, "ready")

    def _publish(self, render: _Render) -> None:
        assert render.temp_dir is not None
        pages = {f"{n}.png" for n in range(1, render.page_count + 1)}
        present = {entry.name for entry in render.temp_dir.glob("*.png")}
        if present != pages:
            raise UploadError(422, "render_failed", "the renderer did not write every page")
        (render.temp_dir / "source.pdf").unlink()
        final = self.documents_dir / render.document_id
        try:
            render.temp_dir.rename(final)
        except OSError:
            if not final.is_dir():
                raise
            _remove(render.temp_dir)  # another node sharing the folder finished first

    async def _put(
        self,
        document_id: str,
        status: str,
        page_count: int,
        name: str,
        size: int,
        error: dict[str, str] | None = None,
    ) -> None:
        meta: dict[str, Any] = {
            "kind": "document",
            "status": status,
            "pageCount": page_count,
            "name": name,
            "bytes": size,
            "createdAt": time.time(),
        }
        if error is not None:
            meta["error"] = error
        try:
            await self.service.board.store.put_document(document_id, meta)
        except StoreError:
            if status != "failed":
                raise
            logger.warning("document %s: the failure could not be stored", document_id)

    async def _progress(
        self, render: _Render, status: str, error: dict[str, str] | None = None
    ) -> None:
        message: dict[str, Any] = {
            "documentId": render.document_id,
            "rendered": render.rendered,
            "pageCount": render.page_count,
            "status": status,
        }
        if error is not None:
            message["error"] = error
        for sid in list(render.watchers):
            await self.service.emitter.emit("document-progress", message, to=sid)

    async def document_status(self, request: web.Request) -> web.Response:
        document_id = request.match_info["id"]
        try:
            meta = await self.service.board.store.get_document(document_id)
        except StoreError as exc:
            return api_error(503, exc.code, exc.message)
        if meta is None or meta.get("kind") != "document":
            return api_error(404, "not_found", "no such document")
        running = self._renders.get(document_id)
        reply = {"documentId": document_id, **meta}
        if running is not None:
            reply["rendered"] = running.rendered
        reply.pop("kind", None)
        return web.json_response(reply)

    async def page(self, request: web.Request) -> web.StreamResponse:
        path = self.documents_dir / request.match_info["id"] / f"{int(request.match_info['n'])}.png"
        if not path.is_file():
            return api_error(404, "not_found", "no such page (yet)")
        return web.FileResponse(
            path, headers={"Content-Type": "image/png", "Cache-Control": IMMUTABLE}
        )

    # -- images -------------------------------------------------------------------------

    async def upload_image(self, request: web.Request) -> web.Response:
        try:
            self._uploader(request)
            data = await self._body(
                request, tuple(IMAGE_TYPES.values()), self.limits.max_image_bytes
            )
            extension, width, height = image_size(data)
            if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE):
                raise UploadError(
                    422,
                    "image_too_large",
                    f"the image is {width} x {height} pixels; "
                    f"at most {MAX_IMAGE_SIDE} a side are accepted",
                )
            image_id = hashlib.sha256(data).hexdigest()
            await asyncio.to_thread(self._store_image, image_id, extension, data)
            meta = {
                "kind": "image",
                "status": "ready",
                "contentType": IMAGE_TYPES[extension],
                "width": width,
                "height": height,
                "bytes": len(data),
                "name": self._name(request),
                "createdAt": time.time(),
            }
            await self.service.board.store.put_document(image_id, meta)
        except UploadError as exc:
            return api_error(exc.status, exc.code, exc.message)
        except StoreError as exc:
            return api_error(503, exc.code, exc.message)
        reply = {
            "imageId": image_id,
            "contentType": IMAGE_TYPES[extension],
            "width": width,
            "height": height,
            "bytes": len(data),
        }
        return web.json_response(reply, status=201)

    def _store_image(self, image_id: str, extension: str, data: bytes) -> None:
        self.images_dir.mkdir(parents=True, exist_ok=True)
        final = self.images_dir / f"{image_id}.{extension}"
        if final.is_file():
            return
        fd, temporary = tempfile.mkstemp(prefix=".tmp-", dir=self.images_dir)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temporary, final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    async def image(self, request: web.Request) -> web.StreamResponse:
        image_id = request.match_info["id"]
        for extension, content_type in IMAGE_TYPES.items():
            path = self.images_dir / f"{image_id}.{extension}"
            if path.is_file():
                return web.FileResponse(
                    path,
                    headers={
                        "Content-Type": content_type,
                        "Cache-Control": IMMUTABLE,
                        "X-Content-Type-Options": "nosniff",
                    },
                )
        return api_error(404, "not_found", "no such image")


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


async def _stop(render: _Render) -> None:
    """Kill the renderer (if still running) and delete everything it wrote."""
    process = render.process
    if process is not None and process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
    if render.temp_dir is not None:
        await asyncio.to_thread(_remove, render.temp_dir)

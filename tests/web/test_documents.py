"""Documents and images for the board over HTTP: PDFs rendered page by page in a separate
process with progress to the uploader, cached by content; bombs, fakes, oversized uploads and
runaway renders refused with a code and nothing half-stored; PNG and JPEG images checked by
their headers. Every PDF here is written by the test itself."""

from __future__ import annotations

import asyncio
import contextlib
import random
import struct
import time
import zlib
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from conference import Org, Role, mint_token
from signaling import PROTOCOL_VERSION
from tests.conftest import TEST_SECRET, RunningServer, running_server
from web.documents import SESSION_HEADER, UploadError, image_size

ROOM = "briefing"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# --------------------------------------------------------------------------- files made here


def make_pdf(pages: Iterable[tuple[float, float, bytes]], *, padding: int = 0) -> bytes:
    """A minimal, valid PDF: catalog, page tree, one page object and content stream per
    ``(width, height, content)``, a Helvetica font, the cross-reference table and trailer."""
    pages = list(pages)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, once the pages are numbered
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    kids = []
    for width, height, content in pages:
        packed = zlib.compress(content)
        objects.append(
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed)
            + packed
            + b"\nendstream"
        )
        content_number = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>" % (width, height, content_number)
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    if padding:
        out += b"%" + b"x" * padding + b"\n"  # a comment: makes the file as large as asked
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def page_content(number: int) -> bytes:
    return (
        b"0.2 0.4 0.8 rg 72 600 300 100 re f "
        b"BT /F1 36 Tf 72 700 Td (Page %d) Tj ET "
        b"1 0 0 RG 4 w 72 72 m 540 300 l S" % number
    )


def letter_pdf(count: int) -> bytes:
    return make_pdf((612, 792, page_content(n)) for n in range(1, count + 1))


def heavy_pdf(pages: int = 20, rects: int = 3000) -> bytes:
    """Pages full of overlapping half-transparent shapes: slow to render at a large width."""
    ops = []
    for i in range(rects):
        x, y = (i * 37) % 580, (i * 53) % 760
        ops.append(
            b"%.3f %.3f %.3f rg %d %d %d %d re f"
            % ((i % 7) / 7, (i % 11) / 11, (i % 13) / 13, x, y, 20 + i % 90, 15 + i % 70)
        )
    content = b"\n".join(ops)
    return make_pdf((612, 792, content) for _ in range(pages))


def png(width: int, height: int, *, noisy: bool = False) -> bytes:
    """A real 8-bit RGB PNG: a gradient, or noise (which does not compress)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    noise = random.Random(5)
    rows = b"".join(
        b"\x00"
        + b"".join(
            noise.randbytes(3) if noisy else bytes((x * 5 % 256, y * 5 % 256, 128))
            for x in range(width)
        )
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header declares a size its (tiny) data does not have: a decompression bomb
    for whoever would decode it."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    ihdr = b"IHDR" + header
    return PNG_SIGNATURE + struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr))


def jpeg_header(width: int, height: int) -> bytes:
    """The start of a baseline JPEG: SOI, a JFIF APP0, fill bytes, SOF0 with the size."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + b"\xff\xff" + sof0 + b"\xff\xd9"


# --------------------------------------------------------------------------- server, clients


@contextlib.asynccontextmanager
async def running(tmp_path: Path, **overrides: object) -> AsyncIterator[RunningServer]:
    async with running_server(tmp_path, **overrides) as server:
        yield server


class Member:
    """A joined Socket.IO connection that keeps its ``document-progress`` events."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sio = socketio.AsyncClient(reconnection=False)
        self.progress: list[dict[str, Any]] = []
        self.sio.on("document-progress", self.progress.append)

    @property
    def sid(self) -> str:
        return str(self.sio.get_sid())

    async def join(self, room: str = ROOM, role: Role | None = None) -> Member:
        await self.sio.connect(self.url, transports=["websocket"])
        payload: dict[str, Any] = {"protocol": PROTOCOL_VERSION, "room": room}
        if role is None:
            payload["name"] = "도봉구청 안전과"
        else:
            payload["token"] = mint_token(
                TEST_SECRET,
                room=room,
                name=f"도봉구 {role.value}",
                org=Org.parse("district:도봉구"),
                role=role,
                now=time.time(),
                ttl_seconds=600,
            )
        reply = await self.sio.call("join", payload, timeout=10)
        assert reply["ok"] is True, reply
        return self

    async def board_op(self, payload: dict[str, Any]) -> dict[str, Any]:
        reply: dict[str, Any] = await self.sio.call("board-op", payload, timeout=10)
        return reply

    async def final_progress(self, document_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.progress:
                if event["documentId"] == document_id and event["status"] != "rendering":
                    return event
            await asyncio.sleep(0.02)
        raise TimeoutError(f"no final document-progress; got {self.progress}")

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()


@contextlib.asynccontextmanager
async def member(server: RunningServer, role: Role | None = None) -> AsyncIterator[Member]:
    joined = Member(server.url)
    try:
        yield await joined.join(role=role)
    finally:
        await joined.close()


async def upload(
    server: RunningServer,
    body: bytes | Any,
    *,
    sid: str | None,
    kind: str = "documents",
    content_type: str = "application/pdf",
    room: str = ROOM,
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": content_type}
    if sid is not None:
        headers[SESSION_HEADER] = sid
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{server.url}/api/rooms/{room}/{kind}?name=plan.pdf", data=body, headers=headers
        ) as response,
    ):
        return response.status, await response.json()


def error_code(status: int, reply: dict[str, Any]) -> str:
    assert status >= 400, reply
    assert reply["error"]["message"], reply
    return str(reply["error"]["code"])


def stored_files(server: RunningServer) -> list[str]:
    root = Path(server.settings.server.data_dir)
    return sorted(
        str(path.relative_to(root))
        for folder in ("documents", "images")
        if (root / folder).is_dir()
        for path in (root / folder).rglob("*")
    )


def document_panel(document_id: str, page_count: int) -> dict[str, Any]:
    return {
        "type": "push",
        "panel": {
            "kind": "document",
            "title": "재난 대응 계획",
            "data": {"documentId": document_id, "page": 1, "pageCount": page_count},
        },
    }


# --------------------------------------------------------------------------- documents


async def test_a_pdf_is_rendered_with_progress_served_cached_and_then_pushable(
    tmp_path: Path,
) -> None:
    pdf = letter_pdf(3)
    async with running(tmp_path) as server, member(server) as uploader:
        status, reply = await upload(server, pdf, sid=uploader.sid)
        assert status == 202, reply
        document_id = reply["documentId"]
        assert len(document_id) == 64 and reply["status"] == "rendering"
        assert reply["pageCount"] == 3

        final = await uploader.final_progress(document_id)
        assert final == {
            "documentId": document_id,
            "rendered": 3,
            "pageCount": 3,
            "status": "ready",
        }
        counts = [e["rendered"] for e in uploader.progress if e["status"] == "rendering"]
        assert counts == [0, 1, 2, 3]

        assert stored_files(server) == [
            f"documents/{document_id}",
            *(f"documents/{document_id}/{n}.png" for n in (1, 2, 3)),
        ]
        async with aiohttp.ClientSession() as http:
            for n in (1, 2, 3):
                async with http.get(f"{server.url}/documents/{document_id}/pages/{n}.png") as r:
                    assert r.status == 200
                    assert r.headers["Content-Type"] == "image/png"
                    assert "immutable" in r.headers["Cache-Control"]
                    body = await r.read()
                    assert body.startswith(PNG_SIGNATURE)
                    assert struct.unpack(">I", body[16:20])[0] == 1600  # page_width_px
            async with http.get(f"{server.url}/documents/{document_id}/pages/4.png") as r:
                assert r.status == 404
            async with http.get(f"{server.url}/api/documents/{document_id}") as r:
                meta = await r.json()
                assert meta["status"] == "ready" and meta["pageCount"] == 3
                assert meta["name"] == "plan.pdf" and meta["bytes"] == len(pdf)

        started = time.monotonic()
        status, again = await upload(server, pdf, sid=uploader.sid)
        assert time.monotonic() - started < 1
        assert (status, again) == (
            202,
            {"documentId": document_id, "status": "ready", "pageCount": 3},
        )

        pushed = await uploader.board_op(document_panel(document_id, 3))
        assert pushed["ok"] is True, pushed
        panel_id = pushed["op"]["payload"]["panel"]["id"]
        turned = await uploader.board_op({"type": "page", "panelId": panel_id, "page": 2})
        assert turned["ok"] is True, turned
        unknown = await uploader.board_op(document_panel("0" * 64, 3))
        assert unknown["ok"] is False and unknown["error"]["code"] == "document_not_ready"
        wrong_count = await uploader.board_op(document_panel(document_id, 9))
        assert wrong_count["ok"] is False and wrong_count["error"]["code"] == "invalid_panel"


async def test_the_same_pdf_uploaded_twice_at_once_is_rendered_once_for_both(
    tmp_path: Path,
) -> None:
    pdf, bomb = letter_pdf(5), letter_pdf(201)
    async with running(tmp_path) as server, member(server) as first, member(server) as second:
        replies = await asyncio.gather(
            upload(server, pdf, sid=first.sid), upload(server, pdf, sid=second.sid)
        )
        assert [status for status, _ in replies] == [202, 202]
        assert {reply["pageCount"] for _, reply in replies} == {5}
        document_id = replies[0][1]["documentId"]
        for uploader in (first, second):
            assert (await uploader.final_progress(document_id))["status"] == "ready"
        assert len(stored_files(server)) == 1 + 5

        refused = await asyncio.gather(
            upload(server, bomb, sid=first.sid), upload(server, bomb, sid=second.sid)
        )
        assert [(s, error_code(s, r)) for s, r in refused] == [(422, "too_many_pages")] * 2
        assert len(stored_files(server)) == 1 + 5


async def test_a_page_of_a_document_still_rendering_is_not_served_nor_pushable(
    tmp_path: Path,
) -> None:
    async with (
        running(tmp_path, documents__page_width_px=2000) as server,
        member(server) as uploader,
    ):
        status, reply = await upload(server, heavy_pdf(pages=4, rects=2000), sid=uploader.sid)
        assert status == 202 and reply["status"] == "rendering", reply
        document_id = reply["documentId"]
        pushed = await uploader.board_op(document_panel(document_id, 4))
        assert pushed["ok"] is False and pushed["error"]["code"] == "document_not_ready"
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{server.url}/documents/{document_id}/pages/1.png") as r,
        ):
            assert r.status == 404
        assert (await uploader.final_progress(document_id))["status"] == "ready"


@pytest.mark.parametrize(
    ("pdf", "code"),
    [
        (letter_pdf(201), "too_many_pages"),  # the default max_pages is 200
        (make_pdf([(612, 792, b""), (1_000_000, 1_000_000, b"")]), "page_too_large"),
        (make_pdf([(612, 20_000, b"")]), "page_too_large"),
        (make_pdf([]), "invalid_pdf"),  # PDFium refuses a PDF without pages
        (b"%PDF-1.7\n" + b"\x00 not really a PDF " * 50, "invalid_pdf"),
    ],
    ids=["201-pages", "huge-mediabox", "tall-page", "no-pages", "broken"],
)
async def test_a_pdf_bomb_or_broken_pdf_is_refused_before_rendering(
    tmp_path: Path, pdf: bytes, code: str
) -> None:
    async with running(tmp_path) as server, member(server) as uploader:
        status, reply = await upload(server, pdf, sid=uploader.sid)
        assert (status, error_code(status, reply)) == (422, code)
        assert stored_files(server) == []
        await asyncio.sleep(0.1)
        assert uploader.progress == []


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (png(4, 4), "application/pdf", 415, "not_a_pdf"),
        ("회의 자료입니다, 정말로.\n".encode(), "application/pdf", 415, "not_a_pdf"),
        (letter_pdf(1), "text/plain", 415, "unsupported_media_type"),
        (b"", "application/pdf", 400, "empty_body"),
    ],
    ids=["png-named-pdf", "text-named-pdf", "wrong-content-type", "empty"],
)
async def test_a_file_that_is_not_a_pdf_is_refused(
    tmp_path: Path, body: bytes, content_type: str, status: int, code: str
) -> None:
    async with running(tmp_path) as server, member(server) as uploader:
        got, reply = await upload(server, body, sid=uploader.sid, content_type=content_type)
        assert (got, error_code(got, reply)) == (status, code)
        assert stored_files(server) == []


async def test_an_oversized_upload_is_refused_whether_announced_or_streamed(
    tmp_path: Path,
) -> None:
    pdf = make_pdf([(612, 792, page_content(1))], padding=5000)

    async def streamed() -> AsyncIterator[bytes]:  # chunked: no Content-Length to trust
        for start in range(0, len(pdf), 1000):
            yield pdf[start : start + 1000]

    async with (
        running(tmp_path, documents__max_upload_bytes=2048) as server,
        member(server) as uploader,
    ):
        for body in (pdf, streamed()):
            status, reply = await upload(server, body, sid=uploader.sid)
            assert (status, error_code(status, reply)) == (413, "too_large")
        assert stored_files(server) == []
        status, reply = await upload(server, letter_pdf(1), sid=uploader.sid)
        assert status == 202, reply  # under the limit: fine


async def test_a_render_that_runs_too_long_is_killed_and_leaves_nothing(tmp_path: Path) -> None:
    async with (
        running(
            tmp_path, documents__render_timeout_seconds=1, documents__page_width_px=6000
        ) as server,
        member(server) as uploader,
    ):
        started = time.monotonic()
        status, reply = await upload(server, heavy_pdf(), sid=uploader.sid)
        if status == 202:  # the quick check passed in time: the render fails later
            final = await uploader.final_progress(reply["documentId"], timeout=10)
            assert final["status"] == "failed"
            code = final["error"]["code"]
            meta = await server.service.board.store.get_document(reply["documentId"])
            assert meta is not None and meta["status"] == "failed"
            assert meta["error"]["code"] == "render_timeout"
        else:  # a slow machine: even the check ran out of time
            code = error_code(status, reply)
        assert code == "render_timeout"
        assert time.monotonic() - started < 5
        assert stored_files(server) == []


async def test_only_a_joined_participant_who_may_push_panels_uploads(tmp_path: Path) -> None:
    pdf = letter_pdf(1)
    async with (
        running(tmp_path) as server,
        member(server, Role.VIEWER) as viewer,
    ):
        elsewhere = Member(server.url)
        try:
            await elsewhere.join(room="another-room")
            cases = [
                (None, ROOM, 401, "session_required"),
                ("not-a-session", ROOM, 401, "invalid_session"),
                (viewer.sid, ROOM, 403, "forbidden"),
                (elsewhere.sid, ROOM, 403, "not_in_room"),
            ]
            for sid, room, expected, code in cases:
                for kind in ("documents", "images"):
                    status, reply = await upload(server, pdf, sid=sid, room=room, kind=kind)
                    assert (status, error_code(status, reply)) == (expected, code), (kind, sid)
        finally:
            await elsewhere.close()
        assert stored_files(server) == []


async def test_pages_and_images_are_served_only_by_valid_ids(tmp_path: Path) -> None:
    async with running(tmp_path) as server, aiohttp.ClientSession() as http:
        for path in (
            "/documents/..%2F..%2Ftoken-secret/pages/1.png",
            "/documents/abc/pages/1.png",
            "/documents/.tmp-x/pages/1.png",
            "/images/..%2Ftoken-secret",
            "/images/abc",
            "/api/documents/abc",
        ):
            async with http.get(server.url + path) as response:
                assert response.status == 404, path


# --------------------------------------------------------------------------- images


async def test_a_png_image_is_stored_by_content_served_and_pushable(tmp_path: Path) -> None:
    image = png(40, 30)
    async with running(tmp_path) as server, member(server) as uploader:
        status, reply = await upload(
            server, image, sid=uploader.sid, kind="images", content_type="image/png"
        )
        assert status == 201, reply
        image_id = reply["imageId"]
        assert reply == {
            "imageId": image_id,
            "contentType": "image/png",
            "width": 40,
            "height": 30,
            "bytes": len(image),
        }
        assert stored_files(server) == [f"images/{image_id}.png"]
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{server.url}/images/{image_id}") as response,
        ):
            assert response.status == 200
            assert response.headers["Content-Type"] == "image/png"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert await response.read() == image
        panel = {"kind": "image", "title": "현장 사진", "data": {"imageId": image_id}}
        pushed = await uploader.board_op({"type": "push", "panel": panel})
        assert pushed["ok"] is True, pushed
        panel["data"] = {"imageId": "f" * 64}
        refused = await uploader.board_op({"type": "push", "panel": panel})
        assert refused["ok"] is False and refused["error"]["code"] == "document_not_ready"


async def test_a_jpeg_is_accepted_by_its_frame_header(tmp_path: Path) -> None:
    async with running(tmp_path) as server, member(server) as uploader:
        status, reply = await upload(
            server,
            jpeg_header(640, 480),
            sid=uploader.sid,
            kind="images",
            content_type="image/jpeg",
        )
        assert status == 201, reply
        assert (reply["contentType"], reply["width"], reply["height"]) == ("image/jpeg", 640, 480)
        assert stored_files(server) == [f"images/{reply['imageId']}.jpg"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (png_claiming(100_000, 100_000), "image/png", 422, "image_too_large"),
        (jpeg_header(9000, 10), "image/jpeg", 422, "image_too_large"),
        (png_claiming(0, 10), "image/png", 422, "invalid_image"),
        (b"just some text, honestly", "image/png", 415, "not_an_image"),
        (letter_pdf(1), "image/png", 415, "not_an_image"),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'/>",
            "image/svg+xml",
            415,
            "unsupported_media_type",
        ),
        (b"\xff\xd8\xff\xe0\x00\x02\xff\xda", "image/jpeg", 422, "invalid_image"),
        (png(64, 64, noisy=True), "image/png", 413, "too_large"),  # max_image_bytes is 1024 here
    ],
    ids=["png-bomb", "wide-jpeg", "zero-png", "text", "pdf", "svg", "jpeg-no-frame", "big"],
)
async def test_an_image_that_is_not_a_small_png_or_jpeg_is_refused(
    tmp_path: Path, body: bytes, content_type: str, status: int, code: str
) -> None:
    async with (
        running(tmp_path, documents__max_image_bytes=1024) as server,
        member(server) as uploader,
    ):
        got, reply = await upload(
            server, body, sid=uploader.sid, kind="images", content_type=content_type
        )
        assert (got, error_code(got, reply)) == (status, code)
        assert stored_files(server) == []


def test_image_headers_are_read_without_decoding() -> None:
    assert image_size(png(3, 2)) == ("png", 3, 2)
    assert image_size(png_claiming(100_000, 7)) == ("png", 100_000, 7)
    assert image_size(jpeg_header(1920, 1080)) == ("jpg", 1920, 1080)
    with pytest.raises(UploadError):
        image_size(PNG_SIGNATURE + b"\x00\x00")
    with pytest.raises(UploadError):
        image_size(b"\xff\xd8\xff")

"""Render one PDF's pages to PNG images, in a process of its own (``python -m web.pdf_render``)
so that a runaway render can be killed and a crash in PDFium never reaches the server.

    python -m web.pdf_render SOURCE OUT_DIR MAX_PAGES MAX_PAGE_POINTS PAGE_WIDTH_PX

First the quick check: the file opens, has 1 to MAX_PAGES pages, and no page side is larger than
MAX_PAGE_POINTS. Then every page is rendered to ``OUT_DIR/<n>.png`` (n from 1), PAGE_WIDTH_PX
wide (a page taller than four times its width: four times PAGE_WIDTH_PX tall, narrower).

It reports on stdout, one JSON object a line:

    {"event": "checked", "pageCount": n}
    {"event": "page", "rendered": k}          after each page, k = 1..n
    {"event": "done"}
    {"event": "error", "code": ..., "message": ...}   and exits 1

This module imports neither aiohttp nor anything of the server: the server talks to it only
through the command line and these lines.
"""

from __future__ import annotations

import json
import resource
import struct
import sys
import zlib
from pathlib import Path
from typing import Any

MEMORY_LIMIT_BYTES = 3 * 1024**3  # a decompression bomb inside the PDF dies here, not the host
FILE_LIMIT_BYTES = 512 * 1024**2  # the largest page image written
MAX_ASPECT = 4  # a page is rendered at most this many times taller than the set width


class RenderError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _say(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def png_bytes(width: int, height: int, rgb: memoryview, stride: int) -> bytes:
    """An 8-bit RGB PNG of rows ``stride`` bytes apart in ``rgb`` (no Pillow needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = width * 3
    compressor = zlib.compressobj(6)
    parts = []
    for y in range(height):
        start = y * stride
        parts.append(compressor.compress(b"\x00"))  # filter: none
        parts.append(compressor.compress(rgb[start : start + row]))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", b"".join(parts))
        + chunk(b"IEND", b"")
    )


def _limit_resources() -> None:
    for limit, value in (
        (resource.RLIMIT_AS, MEMORY_LIMIT_BYTES),
        (resource.RLIMIT_FSIZE, FILE_LIMIT_BYTES),
    ):
        soft, hard = resource.getrlimit(limit)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        if soft == resource.RLIM_INFINITY or soft > value:
            resource.setrlimit(limit, (value, hard))


def render(source: Path, out_dir: Path, max_pages: int, max_points: int, width_px: int) -> None:
    # imported here: the server process never loads PDFium (pypdfium2 ships no type hints)
    import pypdfium2 as pdfium  # type: ignore[import-untyped]
    import pypdfium2.raw as pdfium_c  # type: ignore[import-untyped]

    try:
        pdf = pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise RenderError("pdf_encrypted", "the PDF is protected by a password") from None
        raise RenderError("invalid_pdf", f"the file is not a readable PDF ({exc})") from None
    count = len(pdf)
    if count == 0:
        raise RenderError("empty_pdf", "the PDF has no pages")
    if count > max_pages:
        raise RenderError(
            "too_many_pages", f"the PDF has {count} pages; at most {max_pages} are accepted"
        )
    for index in range(count):
        try:
            width, height = pdf.get_page_size(index)
        except pdfium.PdfiumError:
            raise RenderError("invalid_pdf", f"page {index + 1} cannot be read") from None
        if not (width > 0 and height > 0):
            raise RenderError("invalid_pdf", f"page {index + 1} has no size")
        if width > max_points or height > max_points:
            raise RenderError(
                "page_too_large",
                f"page {index + 1} is {width:.0f} x {height:.0f} points; "
                f"at most {max_points} points a side are accepted",
            )
    _say("checked", pageCount=count)

    for index in range(count):
        page = pdf[index]
        width, height = page.get_size()
        scale = min(width_px / width, MAX_ASPECT * width_px / height)
        bitmap = page.render(
            scale=scale, rev_byteorder=True, force_bitmap_format=pdfium_c.FPDFBitmap_BGR
        )
        data = png_bytes(bitmap.width, bitmap.height, memoryview(bitmap.buffer), bitmap.stride)
        bitmap.close()
        page.close()
        (out_dir / f"{index + 1}.png").write_bytes(data)
        _say("page", rendered=index + 1)
    pdf.close()
    _say("done")


def main(argv: list[str]) -> int:
    if len(argv) != 5:
        _say("error", code="render_failed", message="usage: SOURCE OUT_DIR MAX_PAGES POINTS WIDTH")
        return 2
    source, out_dir = Path(argv[0]), Path(argv[1])
    max_pages, max_points, width_px = (int(value) for value in argv[2:])
    _limit_resources()
    try:
        render(source, out_dir, max_pages, max_points, width_px)
    except RenderError as exc:
        _say("error", code=exc.code, message=exc.message)
        return 1
    except MemoryError:
        _say("error", code="render_failed", message="rendering the PDF needs too much memory")
        return 1
    except Exception as exc:  # anything PDFium or the disk throws: reported, never a traceback
        _say("error", code="render_failed", message=f"the PDF could not be rendered ({exc})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

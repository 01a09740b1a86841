"""Real Chromium for UI tests: Debian's chromium driven by Playwright (never a downloaded
browser), with a fake camera and microphone."""

from __future__ import annotations

import os
import shutil

CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    path = os.environ.get("OPENROOM_CHROMIUM") or shutil.which("chromium")
    if not path:
        raise RuntimeError("Debian's chromium is not installed: run `make test-deps`")
    return path

"""Shared fixtures: a real server on a free port, settings in a temporary folder, and a
counter of every encode and decode aiortc performs in this process."""

from __future__ import annotations

import contextlib
import inspect
import shutil
import socket
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiortc.codecs
import pytest
import redis
from aiohttp import web

from config import Settings, load_settings
from signaling import ConferenceService
from web.app import SERVICE_KEY, create_app

TEST_SECRET = "test-secret-that-is-long-enough-0123456789"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "server.data_dir": str(tmp_path / "var"),
        "server.host": "127.0.0.1",
        "security.token_secret": TEST_SECRET,
        "security.feed_key": "feed-key-for-browser-tests",
        # the wall shows the meeting whatever the time of day the tests run at
        "wall.operating_hours": "",
    }
    values.update({key.replace("__", "."): value for key, value in overrides.items()})
    return load_settings(env={}, overrides=values)


@dataclass
class RunningServer:
    url: str
    port: int
    settings: Settings
    service: ConferenceService


@contextlib.asynccontextmanager
async def running_server(tmp_path: Path, **overrides: object) -> AsyncIterator[RunningServer]:
    """A real server in this process on a free port; settings overridden as ``section__key``."""
    port = free_port()
    settings = make_settings(tmp_path, server__port=port, **overrides)
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield RunningServer(f"http://localhost:{port}", port, settings, app[SERVICE_KEY])
    finally:
        await runner.cleanup()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with running_server(tmp_path) as running:
        yield running


@dataclass
class CodecActivity:
    encoded: int = 0
    decoded: int = 0


@pytest.fixture
def codec_activity(monkeypatch: pytest.MonkeyPatch) -> Iterator[CodecActivity]:
    """Counts calls to every aiortc encoder's ``encode`` and decoder's ``decode``: where
    transcoding would happen. (Packing pre-encoded data with ``pack`` is not encoding.)"""
    activity = CodecActivity()
    modules = [aiortc.codecs.vpx, aiortc.codecs.h264, aiortc.codecs.opus, aiortc.codecs.g711]
    patched = 0
    for module in modules:
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            for method, counter in (("encode", "encoded"), ("decode", "decoded")):
                original = cls.__dict__.get(method)
                if original is None:
                    continue

                def counting(self, *args, _original=original, _counter=counter, **kwargs):  # type: ignore[no-untyped-def]
                    setattr(activity, _counter, getattr(activity, _counter) + 1)
                    return _original(self, *args, **kwargs)

                monkeypatch.setattr(cls, method, counting)
                patched += 1
    assert patched >= 6, "aiortc's codec classes moved: the transcoding counter sees nothing"
    yield activity


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free port for the session, nothing persisted; yields its URL.
    Ready once it logs so (no polling), then confirmed by a PING."""
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.fail("redis-server is not installed (make test-deps installs it)")
    port = free_port()
    data_dir = str(tmp_path_factory.mktemp("redis"))
    process = subprocess.Popen(
        [
            *(executable, "--port", str(port), "--bind", "127.0.0.1", "--dir", data_dir),
            *("--save", "", "--appendonly", "no", "--daemonize", "no"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output: list[str] = []
    for line in process.stdout:
        output.append(line)
        if "Ready to accept connections" in line:
            break
    else:
        process.wait()
        pytest.fail("redis-server did not start:\n" + "".join(output))
    # Keep reading its log so a full pipe never blocks the server.
    drain = threading.Thread(target=process.stdout.read, daemon=True)
    drain.start()
    try:
        with redis.Redis(host="127.0.0.1", port=port) as client:
            assert client.ping()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
        drain.join(timeout=10)

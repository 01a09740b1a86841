"""The ``openroom`` command as a new user meets it: serve prints the URL and answers, token
prints a token alone on its last line, a bad setting stops the start naming the setting."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import aiohttp

from conference import Role, verify_token
from tests.conftest import TEST_SECRET, free_port

OPENROOM = [sys.executable, "-m", "web.cli"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENROOM_")}
    env.update({"OPENROOM_SERVER_DATA_DIR": str(tmp_path / "var"), **extra})
    return env


async def test_serve_prints_the_room_url_and_answers_health_and_room_pages(tmp_path: Path) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *OPENROOM,
        "serve",
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        env=_env(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        assert process.stdout is not None
        printed = ""
        while f"http://localhost:{port}/r/" not in printed:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=20)
            assert line, f"serve exited early: {printed}"
            printed += line.decode()
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
                assert (await response.json())["status"] == "ok"
            async with session.get(f"http://127.0.0.1:{port}/r/demo") as response:
                assert response.status == 200
                assert "Content-Security-Policy" in response.headers
                assert "demo" in await response.text()
            async with session.get(f"http://127.0.0.1:{port}/r/..%2Fetc") as response:
                assert response.status == 404
    finally:
        process.terminate()
        await process.wait()


async def test_token_prints_a_verifiable_token_alone_on_its_last_line(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        *OPENROOM,
        "token",
        "--room",
        "emergency",
        "--name",
        "도봉소방서 상황실",
        "--org",
        "agency:도봉소방서",
        "--role",
        "moderator",
        env=_env(tmp_path, OPENROOM_SECURITY_TOKEN_SECRET=TEST_SECRET),
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0
    token = output.decode().strip().splitlines()[-1]
    claims = verify_token(TEST_SECRET, token, now=time.time())
    assert claims.room == "emergency"
    assert claims.role == Role.MODERATOR
    assert claims.org.name == "도봉소방서"


async def test_a_bad_setting_stops_the_start_with_a_message_naming_it(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        *OPENROOM,
        "serve",
        env=_env(tmp_path, OPENROOM_SERVER_PORT="eighty"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, errors = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 2
    assert "OPENROOM_SERVER_PORT" in errors.decode()

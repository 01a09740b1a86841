"""One process of `openroom bench board` clients: K Socket.IO clients (websocket transport) join a
room as guests without media and note when each `board-op` and `feed` value arrives.

Run by the benchmark as ``python -m web.bench_board_clients --url ... --clients K --out FILE``.
It prints ``joined K`` on stdout once every client is in the room, then waits for ``stop`` on
stdin, writes what it received to FILE as JSON and prints ``done``.

Times are ``time.monotonic()``: CLOCK_MONOTONIC on Linux, one clock for every process on the
machine, so a receipt time here and a send time in the benchmark process compare directly."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import socketio

from signaling.service import PROTOCOL_VERSION

JOIN_CONCURRENCY = 20


class Receipts:
    def __init__(self) -> None:
        self.ops: list[tuple[int, int, float]] = []  # (client, seq, received at)
        self.feeds: list[tuple[int, int, float]] = []  # (client, value n, delay s)
        self.errors: list[str] = []


def _client(index: int, receipts: Receipts) -> socketio.AsyncClient:
    sio = socketio.AsyncClient(reconnection=False)

    async def on_board_op(data: dict[str, Any]) -> None:
        receipts.ops.append((index, int(data["seq"]), time.monotonic()))

    async def on_feed(data: dict[str, Any]) -> None:
        now = time.monotonic()
        for value in data.get("values", []):
            if "sentAt" in value:
                receipts.feeds.append((index, int(value["n"]), now - float(value["sentAt"])))

    async def on_disconnect(*_: Any) -> None:
        receipts.errors.append(f"client {index} disconnected")

    sio.on("board-op", on_board_op)
    sio.on("feed", on_feed)
    sio.on("disconnect", on_disconnect)
    return sio


async def _join(sio: socketio.AsyncClient, url: str, room: str, name: str) -> None:
    await sio.connect(url, transports=["websocket"], wait_timeout=30)
    payload = {"protocol": PROTOCOL_VERSION, "room": room, "name": name, "autoSubscribe": False}
    reply = await sio.call("join", payload, timeout=60)
    if not reply.get("ok"):
        raise RuntimeError(f"{name} could not join: {reply.get('error')}")


async def run(url: str, room: str, clients: int, first: int, out: Path) -> int:
    receipts = Receipts()
    sockets = [_client(first + index, receipts) for index in range(clients)]
    gate = asyncio.Semaphore(JOIN_CONCURRENCY)

    async def join(index: int, sio: socketio.AsyncClient) -> None:
        async with gate:
            await _join(sio, url, room, f"bench-{first + index}")

    await asyncio.gather(*(join(index, sio) for index, sio in enumerate(sockets)))
    print(f"joined {clients}", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or line.strip() == "stop":
            break
    out.write_text(
        json.dumps({"ops": receipts.ops, "feeds": receipts.feeds, "errors": receipts.errors})
    )
    print("done", flush=True)
    for sio in sockets:
        sio.handlers["/"].pop("disconnect", None)  # leaving on purpose is no error
    await asyncio.gather(*(sio.disconnect() for sio in sockets), return_exceptions=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--room", required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--first", type=int, default=0, help="number of this process's first")
    parser.add_argument("--out", required=True, help="JSON file for the receipts")
    args = parser.parse_args()
    return asyncio.run(run(args.url, args.room, args.clients, args.first, Path(args.out)))


if __name__ == "__main__":
    sys.exit(main())

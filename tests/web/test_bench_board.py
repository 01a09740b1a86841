"""`openroom bench board` end to end at a tiny size: a real server process, a client process,
a short feed phase. Only the shape of the result and full delivery are checked, never a timing."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

OPENROOM = [sys.executable, "-m", "web.cli"]


async def test_bench_board_delivers_every_operation_and_feed_value(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENROOM_")}
    process = await asyncio.create_subprocess_exec(
        *OPENROOM,
        *("bench", "board", "--clients", "5", "--quick", "--json", "--out", str(tmp_path)),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    output, errors = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode == 0, errors.decode()

    document = json.loads(output)
    assert document["clients"] == 5
    push, feed = document["phases"]
    assert (push["phase"], feed["phase"]) == ("push", "feed")
    for phase in (push, feed):
        assert {"p50_ms", "p95_ms", "p99_ms", "max_ms", "server_cpu_pct", "rss_mb"} <= set(phase)
        assert phase["delivery_pct"] == 100.0
        assert phase["clients_with_every_item_pct"] == 100.0
        assert sum(bucket["count"] for bucket in phase["histogram"]) == phase["receipts"]
    assert push["sent"] == 10
    assert feed["sent"] == 60
    assert document["feed_slices"] and document["feed_p95_first_slice_ms"] is not None
    assert document["problems"] == []
    assert sorted(path.suffix for path in tmp_path.iterdir()) == [".json", ".png"]
    assert json.loads(next(tmp_path.glob("*.json")).read_text()) == document

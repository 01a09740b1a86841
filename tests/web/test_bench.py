"""`openroom bench sfu` end to end at the smallest size: a real server process, real bot
processes, the baseline too. Only the shape of the result is checked, never a timing."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

OPENROOM = [sys.executable, "-m", "web.cli"]


async def test_bench_sfu_measures_one_size_and_the_baseline(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENROOM_")}
    process = await asyncio.create_subprocess_exec(
        *OPENROOM,
        "bench",
        "sfu",
        *("--publishers", "1", "--subscribers", "1", "--baseline-sizes", "1x1"),
        *("--quick", "--window", "3", "--warmup", "1", "--json", "--out", str(tmp_path)),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    output, errors = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, errors.decode()

    document = json.loads(output)
    [row] = document["rows"]
    assert {"publishers", "subscribers", "us_per_packet", "delivery_pct", "latency_ms_p95"} <= set(
        row
    )
    assert (row["publishers"], row["subscribers"]) == (1, 1)
    assert row["us_per_packet"] > 0
    assert row["delivery_pct"] > 0
    assert row["rss_mb"] > 0
    [baseline] = document["baseline"]
    assert baseline["us_per_packet"] > 0
    assert document["baseline_us_per_packet"] > 0
    assert sorted(path.suffix for path in tmp_path.iterdir()) == [".json", ".png"]
    assert json.loads(next(tmp_path.glob("*.json")).read_text()) == document

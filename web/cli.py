"""The ``openroom`` command: serve, token, bot, bench."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from conference import ConferenceError, Org, Role, mint_token
from config import Settings, SettingsError, load_settings, token_secret
from signaling.fleet import FleetPlan, run_fleet
from web import bench_board
from web import demo_feed as demo_feed_module
from web.app import create_app
from web.bench import (
    DEFAULT_BASELINE_SIZES,
    DEFAULT_SIZES,
    MIN_WINDOW,
    BenchOptions,
    Size,
    run_bench,
)
from web.bench_output import ProgressDisplay, plot, table, to_json
from web.bench_processes import BenchProcessError


def _base_url(settings: Settings) -> str:
    return settings.server.public_url or f"http://localhost:{settings.server.port}"


def _load(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if getattr(args, "port", None) is not None:
        overrides["server.port"] = args.port
    if getattr(args, "host", None) is not None:
        overrides["server.host"] = args.host
    path = Path(args.config) if args.config else None
    return load_settings(path=path, overrides=overrides)


def serve(args: argparse.Namespace) -> int:
    settings = _load(args)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    app = create_app(settings, demo=args.demo)
    base = _base_url(settings)
    mode = f"Redis at {settings.redis.url}" if settings.redis.url else "embedded, in-memory"

    def announce(_: str) -> None:
        print(f"openroom is running ({mode}).", flush=True)
        print(f"  Start page:  {base}/", flush=True)
        print(f"  A room:      {base}/r/demo", flush=True)
        if args.demo:
            print("  The demo room's board shows live demo data (--demo).", flush=True)

    web.run_app(app, host=settings.server.host, port=settings.server.port, print=announce)
    return 0


def demo_feed(args: argparse.Namespace) -> int:
    """Post plausible, changing data to a server's feed channels, like a real system would."""
    settings = _load(args)
    key = args.key or settings.security.feed_key
    if not key:
        print(
            "openroom: give --key or set security.feed_key (the server's feed key)", file=sys.stderr
        )
        return 2
    url = args.url or _base_url(settings)

    async def run() -> int:
        async with aiohttp.ClientSession() as session:
            publish = demo_feed_module.http_publisher(session, url, key)
            print(f"demo feed -> {url}/api/feeds/... every {args.interval} s", flush=True)
            return await demo_feed_module.run(publish, args.interval, args.duration)

    try:
        rounds = asyncio.run(run())
    except KeyboardInterrupt:
        return 0
    print(f"sent {rounds} rounds", flush=True)
    return 0


def token(args: argparse.Namespace) -> int:
    settings = _load(args)
    ttl = args.ttl or settings.security.token_ttl_seconds
    join_token = mint_token(
        token_secret(settings),
        room=args.room,
        name=args.name,
        org=Org.parse(args.org),
        role=Role(args.role),
        now=time.time(),
        ttl_seconds=ttl,
        identity=args.identity,
    )
    print(f"Join link: {_base_url(settings)}/r/{args.room}?{urlencode({'token': join_token})}")
    print(join_token)
    return 0


def bot(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = None if args.url and args.codec else _load(args)
    plan = FleetPlan(
        url=args.url or (_base_url(settings) if settings else ""),
        room=args.room,
        publishers=args.publishers,
        subscribers=args.subscribers,
        expected_publishers=args.expect_publishers,
        codec=(args.codec or (settings.media.video_codec if settings else "VP8")).upper(),
        name_prefix=args.name_prefix,
    )
    if plan.publishers + plan.subscribers == 0:
        print("openroom: nothing to run: give --publishers and/or --subscribers", file=sys.stderr)
        return 2

    def show(line: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {line}", file=sys.stderr, flush=True)

    show(
        f"{plan.publishers} publishers, {plan.subscribers} subscribers -> {plan.url}/r/{plan.room}"
    )
    counters = asyncio.run(
        run_fleet(
            plan,
            duration=args.duration,
            report_path=Path(args.report) if args.report else None,
            status_interval=args.status_interval,
            show_status=show,
        )
    )
    sent, received = counters.rtp_packets_sent, counters.rtp_packets_received
    show(f"stopped: {sent} RTP packets sent, {received} received")
    return 0


def _missing_bench_extras() -> list[str]:
    return [name for name in ("psutil", "matplotlib") if importlib.util.find_spec(name) is None]


def bench_sfu(args: argparse.Namespace) -> int:
    if missing := _missing_bench_extras():
        print(
            f"openroom bench needs {' and '.join(missing)}: pip install 'openroom[bench]'",
            file=sys.stderr,
        )
        return 2
    try:
        if (args.publishers is None) != (args.subscribers is None):
            raise ValueError("give --publishers and --subscribers together")
        sizes = (
            (Size(args.publishers, args.subscribers),)
            if args.publishers is not None
            else Size.parse_list(args.sizes)
        )
        baseline = () if args.no_baseline else Size.parse_list(args.baseline_sizes)
        if args.window < MIN_WINDOW and not args.quick:
            raise ValueError(f"--window must be at least {MIN_WINDOW:.0f} s (or add --quick)")
        if min(args.publishers or 1, args.subscribers or 1) < 1:
            raise ValueError("--publishers and --subscribers must be at least 1")
    except ValueError as exc:
        print(f"openroom bench: {exc}", file=sys.stderr)
        return 2
    options = BenchOptions(
        sizes=sizes,
        baseline_sizes=baseline,
        window=args.window,
        warmup=args.warmup,
        codec=args.codec.upper(),
        subscriber_processes=args.subscriber_processes,
        bot_niceness=args.bot_niceness,
    )
    progress = ProgressDisplay()
    try:
        result = asyncio.run(run_bench(options, progress))
    except BenchProcessError as exc:
        print(f"openroom bench: {exc}", file=sys.stderr)
        return 1
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"sfu-{datetime.now():%Y%m%d-%H%M%S}"
    document = to_json(result)
    stem.with_suffix(".json").write_text(json.dumps(document, indent=2) + "\n")
    plot(result, stem.with_suffix(".png"))
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        print(table(result))
    progress.line(f"written: {stem}.json, {stem}.png")
    return 0


def bench_board_command(args: argparse.Namespace) -> int:
    if missing := _missing_bench_extras():
        print(
            f"openroom bench needs {' and '.join(missing)}: pip install 'openroom[bench]'",
            file=sys.stderr,
        )
        return 2
    if args.clients < 1 or args.client_processes < 1:
        print(
            "openroom bench: --clients and --client-processes must be at least 1", file=sys.stderr
        )
        return 2
    options = bench_board.BoardOptions(
        clients=args.clients,
        client_processes=min(args.client_processes, args.clients),
        ops=10 if args.quick else args.ops,
        op_interval=0.1 if args.quick else 0.15,
        feed_duration=3.0 if args.quick else args.feed_duration,
    )
    progress = ProgressDisplay()
    try:
        result = asyncio.run(bench_board.run_board_bench(options, progress))
    except BenchProcessError as exc:
        print(f"openroom bench: {exc}", file=sys.stderr)
        return 1
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"board-{datetime.now():%Y%m%d-%H%M%S}"
    document = bench_board.to_json(result)
    stem.with_suffix(".json").write_text(json.dumps(document, indent=2) + "\n")
    bench_board.plot(result, stem.with_suffix(".png"))
    print(json.dumps(document, indent=2) if args.json else bench_board.table(result))
    progress.line(f"written: {stem}.json, {stem}.png")
    return 0


def _add_bot_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bot_parser = commands.add_parser(
        "bot", help="headless participants: publish synthetic media, count what they receive"
    )
    bot_parser.add_argument("--url", help="server URL (default: from the settings)")
    bot_parser.add_argument("--room", default="demo")
    bot_parser.add_argument("--publishers", type=int, default=0, help="bots that publish")
    bot_parser.add_argument("--subscribers", type=int, default=0, help="bots that only receive")
    bot_parser.add_argument(
        "--expect-publishers",
        type=int,
        help="publishers a subscriber waits for before it counts as receiving all "
        "(default: --publishers)",
    )
    bot_parser.add_argument("--codec", help="VP8 or H264 (default: media.video_codec)")
    bot_parser.add_argument("--duration", type=float, help="seconds to run (default: until Ctrl-C)")
    bot_parser.add_argument(
        "--report", help="write JSON counters to this file every second (and on SIGUSR1)"
    )
    bot_parser.add_argument("--name-prefix", default="bot", help="display names start with it")
    bot_parser.add_argument("--status-interval", type=float, default=5.0, help="seconds")
    bot_parser.set_defaults(handler=bot)


def _add_bench_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench_parser = commands.add_parser("bench", help="benchmarks")
    benchmarks = bench_parser.add_subparsers(dest="benchmark", required=True)
    sfu_parser = benchmarks.add_parser(
        "sfu",
        help="server CPU per forwarded packet, delivery, latency and memory, against "
        "a transcoding baseline",
    )
    sfu_parser.add_argument("--publishers", type=int, help="one size: P publishers ...")
    sfu_parser.add_argument("--subscribers", type=int, help="... and S subscribers")
    sfu_parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"PxS list ({DEFAULT_SIZES})")
    sfu_parser.add_argument(
        "--baseline-sizes", default=DEFAULT_BASELINE_SIZES, help=f"({DEFAULT_BASELINE_SIZES})"
    )
    sfu_parser.add_argument("--no-baseline", action="store_true", help="skip the baseline")
    sfu_parser.add_argument("--window", type=float, default=MIN_WINDOW, help="seconds measured")
    sfu_parser.add_argument("--warmup", type=float, default=5.0, help="seconds before the window")
    sfu_parser.add_argument(
        "--quick", action="store_true", help="allow a window under 20 s (smoke tests)"
    )
    sfu_parser.add_argument("--codec", default="VP8", choices=["VP8", "H264", "vp8", "h264"])
    sfu_parser.add_argument(
        "--subscriber-processes", type=int, default=2, help="processes the subscribers share"
    )
    sfu_parser.add_argument(
        "--bot-niceness", type=int, default=0, help="run the bots niced (0..19; default 0)"
    )
    sfu_parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sfu_parser.add_argument(
        "--out", default="bench-results", help="folder for the JSON and PNG (bench-results/)"
    )
    sfu_parser.set_defaults(handler=bench_sfu)
    board_parser = benchmarks.add_parser(
        "board", help="board operations and feed values fanned out to N clients in one room"
    )
    board_parser.add_argument("--clients", type=int, default=200, help="clients in the room")
    board_parser.add_argument(
        "--client-processes", type=int, default=2, help="processes the clients share"
    )
    board_parser.add_argument("--ops", type=int, default=100, help="board operations pushed")
    board_parser.add_argument(
        "--feed-duration", type=float, default=20.0, help="seconds of feed values at 20/s"
    )
    board_parser.add_argument(
        "--quick", action="store_true", help="10 operations and 3 s of feed (smoke tests)"
    )
    board_parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    board_parser.add_argument("--out", default="bench-results", help="folder for JSON and PNG")
    board_parser.set_defaults(handler=bench_board_command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="openroom", description=__doc__)
    parser.add_argument("--config", help="settings file (default: config/openroom.toml)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve_parser = commands.add_parser("serve", help="run the server (embedded default)")
    serve_parser.add_argument("--port", type=int, help="TCP port (default 8080)")
    serve_parser.add_argument("--host", help="address to listen on (default 0.0.0.0)")
    serve_parser.add_argument("--verbose", action="store_true", help="debug logging")
    serve_parser.add_argument(
        "--demo",
        action="store_true",
        help="the room 'demo' opens with dashboards kept moving by demo data",
    )
    serve_parser.set_defaults(handler=serve)

    feed_parser = commands.add_parser(
        "demo-feed", help="push plausible, changing data into the dashboards' feed channels"
    )
    feed_parser.add_argument("--url", help="the server (default: this machine's)")
    feed_parser.add_argument("--key", help="the server's feed key (security.feed_key)")
    feed_parser.add_argument("--interval", type=float, default=1.0, help="seconds between rounds")
    feed_parser.add_argument("--duration", type=float, help="stop after this many seconds")
    feed_parser.set_defaults(handler=demo_feed)

    token_parser = commands.add_parser("token", help="mint a signed join token")
    token_parser.add_argument("--room", required=True)
    token_parser.add_argument("--name", required=True, help="display name")
    token_parser.add_argument("--org", default="guest:", help="kind:name, e.g. district:도봉구")
    token_parser.add_argument(
        "--role", default="participant", choices=[role.value for role in Role]
    )
    token_parser.add_argument("--identity", help="stable identity (default: random)")
    token_parser.add_argument("--ttl", type=int, help="seconds until it expires")
    token_parser.set_defaults(handler=token)
    _add_bot_parser(commands)
    _add_bench_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.handler(args)
    except SettingsError as exc:
        print(f"openroom: bad setting: {exc}", file=sys.stderr)
        return 2
    except ConferenceError as exc:
        print(f"openroom: {exc.message}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())

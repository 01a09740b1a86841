"""The ``openroom`` command: serve, token."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlencode

from aiohttp import web

from conference import ConferenceError, Org, Role, mint_token
from config import Settings, SettingsError, load_settings, token_secret
from web.app import create_app


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
    app = create_app(settings)
    base = _base_url(settings)
    mode = f"Redis at {settings.redis.url}" if settings.redis.url else "embedded, in-memory"

    def announce(_: str) -> None:
        print(f"openroom is running ({mode}).", flush=True)
        print(f"  Start page:  {base}/", flush=True)
        print(f"  A room:      {base}/r/demo", flush=True)

    web.run_app(app, host=settings.server.host, port=settings.server.port, print=announce)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="openroom", description=__doc__)
    parser.add_argument("--config", help="settings file (default: config/openroom.toml)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve_parser = commands.add_parser("serve", help="run the server (embedded default)")
    serve_parser.add_argument("--port", type=int, help="TCP port (default 8080)")
    serve_parser.add_argument("--host", help="address to listen on (default 0.0.0.0)")
    serve_parser.add_argument("--verbose", action="store_true", help="debug logging")
    serve_parser.set_defaults(handler=serve)

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

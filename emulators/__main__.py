"""`python -m emulators`: the Telegram and provider emulators as a process of their own.

    python -m emulators serve [--host 0.0.0.0] [--advertise emulators] [--relay 443=caddy:443]
    python -m emulators play --user 42 --say "/generate a song about rain" --audios 2

`serve` listens on fixed ports (Telegram 8081, provider 8082, control 8083 on loopback); point the bot
at them with TELEGRAM_API_URL, SUNO_API_URL and SUNO_UPLOAD_URL and the emulators' token and key
(emulators/harness.py). `play` acts as a person through the control API of a running `serve`, waits for
the audios, prints what the chat received as JSON and exits 0 only when every track the provider made
arrived. See emulators/process.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from emulators.process import Ports, Relay, serve


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m emulators", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    defaults = Ports()

    run = commands.add_parser("serve", help="serve both emulators until SIGTERM or Ctrl-C")
    run.add_argument("--host", default="127.0.0.1", help="address the two emulators listen on")
    run.add_argument("--telegram-port", type=int, default=defaults.telegram)
    run.add_argument("--provider-port", type=int, default=defaults.provider)
    run.add_argument("--control-port", type=int, default=defaults.control, help="on 127.0.0.1 only")
    run.add_argument("--advertise", help="host name the bot reaches the emulators by (default: --host)")
    run.add_argument(
        "--relay",
        action="append",
        default=[],
        type=Relay.parse,
        metavar="PORT=HOST:PORT",
        help="forward 127.0.0.1:PORT to HOST:PORT (repeatable)",
    )
    run.add_argument(
        "--stage-delays", default="0.5,1.0,1.5", help="seconds to the text, first, complete stages"
    )
    run.add_argument("--track-seconds", type=float, default=3.0)

    play = commands.add_parser("play", help="act as a person and report what the chat received")
    play.add_argument("--control", default=f"http://127.0.0.1:{defaults.control}")
    play.add_argument("--user", type=int, default=4242)
    play.add_argument("--say", action="append", required=True, help="a message to send (repeatable)")
    play.add_argument("--audios", type=int, default=2, help="audios to wait for")
    play.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for them")
    return parser


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    delays = tuple(float(d) for d in args.stage_delays.split(","))
    if len(delays) != 3:
        raise SystemExit("--stage-delays: expected three comma-separated numbers")
    with tempfile.TemporaryDirectory(prefix="emulators-") as scratch:
        await serve(
            host=args.host,
            ports=Ports(args.telegram_port, args.provider_port, args.control_port),
            advertise=args.advertise,
            relays=args.relay,
            files_dir=Path(scratch),
            stage_delays=delays,  # type: ignore[arg-type]
            track_seconds=args.track_seconds,
            stop=stop,
        )


def _call(url: str, body: dict[str, Any] | None = None, *, timeout: float) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def _play(args: argparse.Namespace) -> int:
    person = f"{args.control}/people/{args.user}"
    for text in args.say:
        _call(f"{person}/say", {"text": text}, timeout=10)
    report = _call(f"{person}/chat?audios={args.audios}&timeout={args.timeout}", timeout=args.timeout + 10)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    received = {audio["sha256"] for audio in report["audios"]}
    missing = [sha for sha in report["tracks_made"] if sha not in received]
    if len(report["audios"]) < args.audios or not report["tracks_made"] or missing:
        print(
            f"play: {len(report['audios'])} of {args.audios} audios arrived within {args.timeout:g} s; "
            f"{len(report['tracks_made'])} tracks made, {len(missing)} of them not delivered",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "play":
        return _play(args)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())

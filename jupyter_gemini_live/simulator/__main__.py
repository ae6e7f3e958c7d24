"""`python -m jupyter_gemini_live.simulator` (console script: jupyter-gemini-live-simulator)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from .faults import Faults
from .server import Simulator
from .tls import server_context, write_self_signed


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="jupyter-gemini-live-simulator",
        description="A local TLS server speaking the Gemini Live API wire protocol.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    tls = parser.add_argument_group("TLS (the SDK only speaks wss://)")
    tls.add_argument("--certfile", help="PEM certificate chain of the server")
    tls.add_argument("--keyfile", help="PEM private key of the server")
    tls.add_argument("--self-signed", metavar="DIR", help="write ca.pem, cert.pem, key.pem here")
    parser.add_argument("--api-key", help="the only key accepted (default: any key)")
    parser.add_argument(
        "--bearer-token", help="the only bearer token of the Vertex AI path (default: any)"
    )
    parser.add_argument("--reply-lead", type=float, default=1.0, help="seconds of reply sent ahead")
    parser.add_argument("--playback-speed", type=float, default=1.0)
    faults = parser.add_argument_group("faults")
    faults.add_argument("--go-away-after", type=float, metavar="S")
    faults.add_argument("--go-away-time-left", type=float, default=5.0, metavar="S")
    faults.add_argument("--close-after", type=float, metavar="S")
    faults.add_argument("--close-code", type=int, default=1011)
    faults.add_argument("--close-reason", default="Internal error encountered.")
    faults.add_argument("--message-delay", type=float, default=0.0, metavar="S")
    faults.add_argument("--refuse-model", action="append", default=[], metavar="NAME")
    faults.add_argument("--bad-key", action="store_true", help="refuse every API key")
    faults.add_argument(
        "--repeat-faults", action="store_true", help="timed faults hit every connection"
    )
    faults.add_argument(
        "--refuse-resumption",
        action="store_true",
        help="refuse every resumption handle (close 1007, as for an expired handle)",
    )
    faults.add_argument(
        "--handle-lifetime", type=float, metavar="S", help="handles expire after S seconds"
    )
    faults.add_argument(
        "--read-delay", type=float, default=0.0, metavar="S", help="wait S before each read"
    )
    args = parser.parse_args(argv)
    if not args.self_signed and not (args.certfile and args.keyfile):
        parser.error("give --self-signed DIR, or both --certfile and --keyfile")
    return args


def faults_from(args: argparse.Namespace) -> Faults:
    return Faults(
        go_away_after=args.go_away_after,
        go_away_time_left=args.go_away_time_left,
        close_after=args.close_after,
        close_code=args.close_code,
        close_reason=args.close_reason,
        message_delay=args.message_delay,
        refuse_models=set(args.refuse_model),
        bad_key=args.bad_key,
        repeat=args.repeat_faults,
        refuse_resumption=args.refuse_resumption,
        handle_lifetime=args.handle_lifetime,
        read_delay=args.read_delay,
    )


async def serve(args: argparse.Namespace) -> None:
    ca_path = None
    if args.self_signed:
        files = write_self_signed(args.self_signed)
        certfile, keyfile, ca_path = files.cert, files.key, files.ca
    else:
        certfile, keyfile = args.certfile, args.keyfile
    simulator = Simulator(
        server_context(certfile, keyfile),
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        bearer_token=args.bearer_token,
        faults=faults_from(args),
        reply_lead_s=args.reply_lead,
        playback_speed=args.playback_speed,
    )
    async with simulator:
        announce(simulator, ca_path, args.api_key)
        await until_stopped()


def announce(simulator: Simulator, ca_path: object, api_key: str | None) -> None:
    print(f"Gemini Live simulator listening on {simulator.url}")
    if ca_path is not None:
        print(f"CA certificate: {ca_path}")
    print("Try it with:")
    print(
        f"  jupyter lab --GeminiLive.base_url={simulator.url}"
        + (f" --GeminiLive.ca_file={ca_path}" if ca_path else "")
        + f" --GeminiLive.api_key={api_key or 'simulated'}"
    )
    sys.stdout.flush()


async def until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows has no signal handlers
            loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()

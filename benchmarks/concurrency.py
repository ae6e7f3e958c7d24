"""N concurrent echo sessions on one real `jupyter server`, each a device talking in real time.

Every session streams 20 ms frames on a real-time clock: `--speech-s` of speech-like audio,
then quiet long enough for the echo to play the utterance back, over and over for
`--seconds`; each also pings every `--ping-ms`. Starts are staggered over one cycle.
Per level: pong round trip and reply overhead percentiles under that load, audio out/in
per session (model audio received ÷ speech sent: ≈1, plus the VAD's prefix padding),
`dropped_in_ms` / `dropped_out_ms` from the session stats, and the server's CPU.

    python benchmarks/concurrency.py [--sessions 1,2,4,8] [--seconds 12] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from conversation import Conversation, converse, pinger
from report import add_json_option, percentiles, table, write_json
from server_process import JupyterServer, RestClient, StreamClient, usage

OUTPUT_RATE = 24000
SILENCE_MS = 600


async def one_device(
    server: JupyterServer, rest: RestClient, args: argparse.Namespace, delay_s: float
) -> dict[str, Any]:
    sid = await rest.create_session(vad={"silence_ms": SILENCE_MS})
    client = await StreamClient.open(server, sid)
    pause_s = SILENCE_MS / 1000 + args.speech_s + 0.1 + 0.5  # silence + echo + margin
    cycle = args.speech_s + pause_s
    stop = asyncio.Event()
    pings = asyncio.create_task(pinger(client, args.ping_ms / 1000, stop))
    talk: Conversation = await converse(
        client,
        utterances=max(1, int((args.seconds - delay_s) // cycle)),
        speech_s=args.speech_s,
        silence_ms=SILENCE_MS,
        pause_s=pause_s,
        start_delay_s=delay_s,
    )
    stop.set()
    rtts = await pings
    stats = await rest.stats(sid)
    heard_ms = client.audio_bytes / 2 / OUTPUT_RATE * 1000
    await client.close()
    await rest.delete(sid)
    return {"talk": talk, "rtts": rtts, "stats": stats, "heard_ms": heard_ms}


async def level(server: JupyterServer, args: argparse.Namespace, sessions: int) -> dict[str, Any]:
    rest = RestClient(server)
    cycle = 2 * args.speech_s + SILENCE_MS / 1000 + 0.6
    before = usage(server.pid)
    devices = await asyncio.gather(
        *(one_device(server, rest, args, i * cycle / sessions) for i in range(sessions))
    )
    after = usage(server.pid)
    rtts = [r for d in devices for r in d["rtts"]]
    overheads = [o for d in devices for o in d["talk"].reply_overheads]
    lags = [lag for d in devices for lag in d["talk"].send_lag]
    ratios = [d["heard_ms"] / max(1.0, d["talk"].spoken_ms) for d in devices]
    stat_ratios = [d["stats"]["audio_out_ms"] / max(1.0, d["talk"].spoken_ms) for d in devices]
    return {
        "sessions": sessions,
        "pong_rtt_ms": percentiles(rtts),
        "reply_overhead_ms": percentiles(overheads),
        "client_send_lag_ms": percentiles(lags),
        "out_in_ratio": [round(r, 3) for r in ratios],
        "stats_out_in_ratio": [round(r, 3) for r in stat_ratios],
        "turns": sum(d["talk"].turns for d in devices),
        "missing_replies": sum(d["talk"].missing_replies for d in devices),
        "interruptions": sum(d["stats"]["interruptions"] for d in devices),
        "dropped_in_ms": sum(d["stats"]["dropped_in_ms"] for d in devices),
        "dropped_out_ms": sum(d["stats"]["dropped_out_ms"] for d in devices),
        "server_cpu_pct": round(100 * (after.cpu_s - before.cpu_s) / (after.at - before.at), 1),
        "wall_s": round(after.at - before.at, 1),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    levels = [int(n) for n in args.sessions.split(",")]
    results = []
    async with JupyterServer(max_sessions=max(levels)) as server:
        for sessions in levels:
            results.append(await level(server, args, sessions))
    return {
        "seconds": args.seconds,
        "speech_s": args.speech_s,
        "levels": results,
    }


def show(results: dict[str, Any]) -> None:
    rows = []
    for r in results["levels"]:
        pong, reply = r["pong_rtt_ms"], r["reply_overhead_ms"]
        rows.append(
            {
                "sessions": r["sessions"],
                "pong p50": pong.get("p50"),
                "p90": pong.get("p90"),
                "p99": pong.get("p99"),
                "reply p50": reply.get("p50"),
                "p90 ": reply.get("p90"),
                "p99 ": reply.get("p99"),
                "out/in min": min(r["out_in_ratio"]),
                "out/in max": max(r["out_in_ratio"]),
                "turns": r["turns"],
                "missing": r["missing_replies"],
                "drop in ms": r["dropped_in_ms"],
                "drop out ms": r["dropped_out_ms"],
                "server CPU %": r["server_cpu_pct"],
                "lag p99": r["client_send_lag_ms"].get("p99"),
            }
        )
    title = "concurrent echo sessions (ms; reply = overhead beyond the 600 ms silence)"
    print(table(title, rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", default="1,2,4,8", help="comma-separated levels")
    parser.add_argument("--seconds", type=float, default=12.0, help="talking time per level")
    parser.add_argument("--speech-s", type=float, default=1.0, help="length of each utterance")
    parser.add_argument("--ping-ms", type=float, default=100.0, help="ping interval per session")
    add_json_option(parser)
    args = parser.parse_args()
    results = asyncio.run(run(args))
    show(results)
    write_json(args.json, "concurrency", results)


if __name__ == "__main__":
    main()

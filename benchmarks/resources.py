"""CPU and memory of the `jupyter server` process per echo session, idle and streaming.

Phases, for each of `--sessions` (default 1 and 4): the sessions are created and their
devices connected, then left idle for `--idle-seconds` (connected, nothing sent), then
they talk in real time for `--seconds` (speech, then quiet while the echo answers, as in
concurrency.py). The server's CPU seconds (user + system) and RSS are read before and
after each phase with psutil, or /proc/PID/stat and /proc/PID/status without it.
CPU % is of one core; "per session" divides by the number of sessions.

    python benchmarks/resources.py [--sessions 1,4] [--seconds 20] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from conversation import converse
from report import add_json_option, table, write_json
from server_process import JupyterServer, RestClient, StreamClient, Usage, usage

MIB = 1024 * 1024
SILENCE_MS = 600
SPEECH_S = 1.0


def cpu_pct(before: Usage, after: Usage) -> float:
    return 100 * (after.cpu_s - before.cpu_s) / (after.at - before.at)


async def phase(server: JupyterServer, args: argparse.Namespace, sessions: int) -> dict[str, Any]:
    rest = RestClient(server)
    start = usage(server.pid)
    ids = [await rest.create_session(vad={"silence_ms": SILENCE_MS}) for _ in range(sessions)]
    clients = [await StreamClient.open(server, sid) for sid in ids]
    idle_from = usage(server.pid)
    await asyncio.sleep(args.idle_seconds)
    idle_to = usage(server.pid)

    pause_s = SILENCE_MS / 1000 + SPEECH_S + 0.6
    cycle = SPEECH_S + pause_s
    client_cpu = time.process_time()
    await asyncio.gather(
        *(
            converse(
                client,
                utterances=max(1, int(args.seconds // cycle)),
                speech_s=SPEECH_S,
                silence_ms=SILENCE_MS,
                pause_s=pause_s,
                start_delay_s=i * cycle / sessions,
            )
            for i, client in enumerate(clients)
        )
    )
    stream_to = usage(server.pid)
    client_cpu = time.process_time() - client_cpu
    stats = [await rest.stats(sid) for sid in ids]
    for client in clients:
        await client.close()
    for sid in ids:
        await rest.delete(sid)
    await asyncio.sleep(1.0)
    end = usage(server.pid)
    streamed = stream_to.at - idle_to.at
    stream_pct = cpu_pct(idle_to, stream_to)
    return {
        "sessions": sessions,
        "idle_s": round(idle_to.at - idle_from.at, 1),
        "idle_cpu_pct": round(cpu_pct(idle_from, idle_to), 2),
        "stream_s": round(streamed, 1),
        "stream_cpu_pct": round(stream_pct, 2),
        "stream_cpu_pct_per_session": round(stream_pct / sessions, 2),
        "stream_cpu_s": round(stream_to.cpu_s - idle_to.cpu_s, 3),
        "client_cpu_pct": round(100 * client_cpu / streamed, 2),
        "rss_before_mib": round(start.rss_bytes / MIB, 1),
        "rss_idle_mib": round(idle_to.rss_bytes / MIB, 1),
        "rss_streaming_mib": round(stream_to.rss_bytes / MIB, 1),
        "rss_after_delete_mib": round(end.rss_bytes / MIB, 1),
        "mib_per_session_idle": round((idle_to.rss_bytes - start.rss_bytes) / MIB / sessions, 2),
        "mib_per_session_streaming": round(
            (stream_to.rss_bytes - start.rss_bytes) / MIB / sessions, 2
        ),
        "audio_in_s": round(sum(s["audio_in_ms"] for s in stats) / 1000, 1),
        "audio_out_s": round(sum(s["audio_out_ms"] for s in stats) / 1000, 1),
        "dropped_in_ms": sum(s["dropped_in_ms"] for s in stats),
        "dropped_out_ms": sum(s["dropped_out_ms"] for s in stats),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    levels = [int(n) for n in args.sessions.split(",")]
    try:
        import psutil  # noqa: F401

        source = "psutil"
    except ImportError:
        source = "/proc"
    async with JupyterServer(max_sessions=max(levels)) as server:
        first = usage(server.pid)
        await asyncio.sleep(args.idle_seconds / 2)
        baseline = usage(server.pid)
        phases = [await phase(server, args, n) for n in levels]
    return {
        "source": source,
        "server_no_sessions": {
            "cpu_pct": round(cpu_pct(first, baseline), 2),
            "rss_mib": round(baseline.rss_bytes / MIB, 1),
        },
        "phases": phases,
    }


def show(results: dict[str, Any]) -> None:
    base = results["server_no_sessions"]
    print(
        f"server with no session: {base['cpu_pct']} % CPU, {base['rss_mib']} MiB RSS "
        f"(read with {results['source']})\n"
    )
    rows = [
        {
            "sessions": p["sessions"],
            "idle CPU %": p["idle_cpu_pct"],
            "stream CPU %": p["stream_cpu_pct"],
            "per session %": p["stream_cpu_pct_per_session"],
            "client CPU %": p["client_cpu_pct"],
            "RSS before": p["rss_before_mib"],
            "idle": p["rss_idle_mib"],
            "streaming": p["rss_streaming_mib"],
            "after delete": p["rss_after_delete_mib"],
            "MiB/session idle": p["mib_per_session_idle"],
            "streaming ": p["mib_per_session_streaming"],
            "drop in/out ms": f"{p['dropped_in_ms']}/{p['dropped_out_ms']}",
        }
        for p in results["phases"]
    ]
    print(table("server process per phase (CPU % of one core, RSS in MiB)", rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", default="1,4", help="comma-separated session counts")
    parser.add_argument("--seconds", type=float, default=20.0, help="streaming time per phase")
    parser.add_argument("--idle-seconds", type=float, default=8.0, help="idle time per phase")
    add_json_option(parser)
    args = parser.parse_args()
    results = asyncio.run(run(args))
    show(results)
    write_json(args.json, "resources", results)


if __name__ == "__main__":
    main()

"""Latency through the proxy, against the echo backend of a real `jupyter server`.

1. ping → pong round trip through the stream websocket (sequential pings, idle session);
2. per-frame cost: 20 ms frames sent back to back in batches, each batch closed by a
   ping; the server takes frames in order, so (pong time - one idle round trip) / batch
   is what a frame costs the server, next to what `send` costs the client;
3. typed turn: a `text` message sent → first model audio back (no audio streams meanwhile);
4. reply overhead: speech, then quiet in real time; the echo VAD ends the turn after
   `--silence-ms` of quiet; overhead = first model audio byte at the client - (last
   speech frame written + silence). It is what the proxy + backend add to the silence.

    python -m benchmarks.latency [--pings 2000] [--utterances 12] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from benchmarks.conversation import FRAME_MS, converse, frames, quiet
from benchmarks.report import add_json_option, percentiles, table, write_json
from benchmarks.server_process import JupyterServer, RestClient, StreamClient


async def ping_round_trips(client: StreamClient, count: int) -> list[float]:
    for _ in range(20):  # warm up
        await client.ping()
    return [await client.ping() for _ in range(count)]


async def frame_costs(
    client: StreamClient, batches: int, batch: int, idle_rtt: float
) -> tuple[list[float], list[float]]:
    """Per frame, seconds: (server cost from batch + ping, client time inside send)."""
    silent = frames(quiet(batch * FRAME_MS / 1000, seed=1))
    server: list[float] = []
    client_send: list[float] = []
    for _ in range(batches):
        start = time.perf_counter()
        for frame in silent:
            before = time.perf_counter()
            await client.send_audio(frame)
            client_send.append(time.perf_counter() - before)
        rtt_end = await client.ping()
        total = time.perf_counter() - start
        server.append(max(0.0, total - min(rtt_end, idle_rtt)) / len(silent))
        await asyncio.sleep(0.05)
    return server, client_send


async def burst(rest: RestClient, client: StreamClient, sid: str, seconds: float) -> dict[str, Any]:
    """`seconds` of audio written at once: does the server's 5 s inbox drop any of it?"""
    before = await rest.stats(sid)
    start = time.perf_counter()
    for frame in frames(quiet(seconds, seed=2)):
        await client.send_audio(frame)
    await client.ping(timeout=30)
    elapsed = time.perf_counter() - start
    after = await rest.stats(sid)
    return {
        "burst_audio_s": seconds,
        "taken_in_s": round(elapsed, 3),
        "x_real_time": round(seconds / elapsed, 1),
        "audio_in_ms": round(after["audio_in_ms"] - before["audio_in_ms"], 1),
        "dropped_in_ms": round(after["dropped_in_ms"] - before["dropped_in_ms"], 1),
    }


async def text_turns(client: StreamClient, count: int) -> list[float]:
    """A typed turn: `text` sent → first model audio (the echo answers with a tone), s."""
    delays = []
    for turn in range(1, count + 1):
        done = client.expect("turn_complete", turn=turn)
        audio = client.expect_audio()
        sent = time.perf_counter()
        await client.send_json({"type": "text", "text": f"turn {turn}"})
        delays.append(await asyncio.wait_for(audio, 10) - sent)
        await asyncio.wait_for(done, 10)
        await asyncio.sleep(0.1)
    return delays


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with JupyterServer(max_sessions=3) as server:
        rest = RestClient(server)

        sid = await rest.create_session()
        client = await StreamClient.open(server, sid)
        rtts = await ping_round_trips(client, args.pings)
        idle_rtt = sorted(rtts)[len(rtts) // 2]
        server_cost, send_cost = await frame_costs(client, args.batches, args.batch, idle_rtt)
        bursts = [await burst(rest, client, sid, s) for s in (2.0, 8.0)]
        await client.close()
        await rest.delete(sid)

        sid = await rest.create_session()
        client = await StreamClient.open(server, sid)
        typed = await text_turns(client, args.text_turns)
        await client.close()
        await rest.delete(sid)

        sid = await rest.create_session(vad={"silence_ms": args.silence_ms})
        client = await StreamClient.open(server, sid)
        talk = await converse(
            client,
            utterances=args.utterances,
            speech_s=args.speech_s,
            silence_ms=args.silence_ms,
            pause_s=args.silence_ms / 1000 + args.speech_s + 0.6,
        )
        stats = await rest.stats(sid)
        await client.close()
        await rest.delete(sid)

    return {
        "ping_rtt_ms": percentiles(rtts),
        "frame_server_cost_ms": percentiles(server_cost),
        "frame_client_send_ms": percentiles(send_cost),
        "bursts": bursts,
        "text_turn_first_audio_ms": percentiles(typed),
        "reply": {
            "silence_ms": args.silence_ms,
            "speech_s": args.speech_s,
            "overhead_ms": percentiles(talk.reply_overheads),
            "after_deciding_frame_ms": percentiles(talk.after_trigger),
            "client_send_lag_ms": percentiles(talk.send_lag),
            "overheads_ms": [round(x * 1000, 2) for x in talk.reply_overheads],
            "missing_replies": talk.missing_replies,
            "turns": talk.turns,
            "session_stats": stats,
        },
    }


def show(results: dict[str, Any]) -> None:
    reply = results["reply"]
    rows = [
        {"measure": "ping → pong round trip", **results["ping_rtt_ms"]},
        {"measure": "server cost per 20 ms frame", **results["frame_server_cost_ms"]},
        {"measure": "client send() per frame", **results["frame_client_send_ms"]},
        {"measure": "reply overhead (beyond silence)", **reply["overhead_ms"]},
        {"measure": "reply after deciding frame", **reply["after_deciding_frame_ms"]},
        {"measure": "client frame lateness", **reply["client_send_lag_ms"]},
        {"measure": "typed text → first audio", **results["text_turn_first_audio_ms"]},
    ]
    print(table("latency (ms)", rows))
    print()
    print(table("bursts of audio written at once", results["bursts"]))
    stats = reply["session_stats"]
    print(
        f"\nreplies: silence {reply['silence_ms']} ms, {reply['turns']} turns, "
        f"{reply['missing_replies']} missing; audio out/in "
        f"{stats['audio_out_ms'] / max(1.0, stats['audio_in_ms']):.3f} "
        f"(in includes the quiet), dropped in {stats['dropped_in_ms']} ms, "
        f"out {stats['dropped_out_ms']} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pings", type=int, default=2000, help="sequential pings (idle)")
    parser.add_argument("--batches", type=int, default=40, help="batches for the frame cost")
    parser.add_argument("--batch", type=int, default=50, help="frames per batch")
    parser.add_argument("--utterances", type=int, default=12, help="spoken turns to time")
    parser.add_argument("--text-turns", type=int, default=10, help="typed turns to time")
    parser.add_argument("--speech-s", type=float, default=0.6, help="length of each utterance")
    parser.add_argument("--silence-ms", type=int, default=600, help="end-of-speech silence")
    add_json_option(parser)
    args = parser.parse_args()
    results = asyncio.run(run(args))
    show(results)
    write_json(args.json, "latency", results)


if __name__ == "__main__":
    main()

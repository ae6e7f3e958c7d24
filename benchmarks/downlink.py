"""CPU cost of the gemini backend's downlink per service message, SDK vs `map_json`.

    python -m benchmarks.downlink [--messages 400] [--reps 3]

No network: the JSON text of three messages as the simulator (and the service) sends
them — 240 ms of 24 kHz reply audio, an output transcription, a turn's end — turned into
events the way `AsyncSession._receive` + `map_message` do it (`sdk`: json, the SDK's
converters, pydantic validation, its dict walks) and the way the backend does it now
(`json`: `map_json` on the parsed JSON). CPU time of this process, interleaved, median.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from jupyter_gemini_live.backends import gemini

REPLY_PCM = bytes(range(256)) * 45  # 11,520 bytes: 240 ms at 24 kHz


def messages() -> dict[str, str]:
    audio = {"mimeType": "audio/pcm;rate=24000", "data": base64.b64encode(REPLY_PCM).decode()}
    return {
        "audio 240 ms": json.dumps(
            {"serverContent": {"modelTurn": {"role": "model", "parts": [{"inlineData": audio}]}}}
        ),
        "transcription": json.dumps({"serverContent": {"outputTranscription": {"text": "Hi"}}}),
        "turn complete": json.dumps({"serverContent": {"turnComplete": True}}),
    }


def sdk(raw: str) -> gemini.Mapped:
    from google.genai import _live_converters, types

    converted = _live_converters._LiveServerMessage_from_mldev(json.loads(raw))
    message = types.LiveServerMessage._from_response(
        response=converted, kwargs=types.LiveServerMessage().model_dump()
    )
    return gemini.map_message(message)


def fast(raw: str) -> gemini.Mapped:
    mapped = gemini.map_json(json.loads(raw))
    assert mapped is not None
    return mapped


def cpu_us(parse: Callable[[str], gemini.Mapped], raw: str, n: int) -> float:
    start = time.thread_time()
    for _ in range(n):
        parse(raw)
    return (time.thread_time() - start) / n * 1e6


def main(n: int, reps: int) -> dict[str, Any]:
    gemini.load_sdk(gemini.SessionOptions(backend="gemini", model="m", voice="Puck"))
    out: dict[str, Any] = {}
    for name, raw in messages().items():
        assert sdk(raw) == fast(raw), name
        runs: dict[str, list[float]] = {"sdk": [], "json": []}
        for rep in range(reps):
            order = (("sdk", sdk), ("json", fast))
            for mode, parse in order if rep % 2 == 0 else tuple(reversed(order)):
                runs[mode].append(cpu_us(parse, raw, n))
        out[name] = {mode: round(statistics.median(v), 1) for mode, v in runs.items()}
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    for name, figures in main(args.messages, args.reps).items():
        print(
            f"{name:14s} µs CPU per message: sdk {figures['sdk']:7.1f}  json {figures['json']:7.1f}"
        )

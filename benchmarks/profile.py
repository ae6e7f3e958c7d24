"""Summaries of a `py-spy record --format raw` profile (collapsed stacks)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

#: (category, pattern on a frame); a sample goes to the innermost frame that matches one
CATEGORIES = [
    ("per-message deflate (upstream websocket)", r"permessage_deflate|zlib"),
    ("TLS (ssl read/write)", r"[/ ]ssl\.py|sslproto\.py"),
    ("pydantic (SDK types)", r"pydantic"),
    ("base64", r"base64"),
    ("json", r"[/ ]json/"),
    ("google-genai SDK", r"google/genai"),
    ("websockets (upstream client)", r"websockets/"),
    ("tornado websocket / HTTP (browser hop, REST)", r"tornado/"),
    ("jupyter_gemini_live", r"jupyter_gemini_live/"),
    ("numpy / soxr", r"numpy|soxr"),
    ("asyncio event loop", r"asyncio/"),
]
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if match is None:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "lib/python3", "/work/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    path = re.sub(r"^\d+(\.\d+)?/", "", path)
    return f"{match['func']} ({path})"


def summarize(path: Path, *, rate: int, seconds: float, top: int = 15) -> dict[str, Any]:
    samples = 0
    by_self: Counter[str] = Counter()
    by_inclusive: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        frames = [f for f in frames if not f.startswith("thread ")]
        samples += count
        if not frames:
            continue
        by_self[_short(frames[-1])] += count
        for name in {_short(f) for f in frames}:
            by_inclusive[name] += count
        category = "other"
        for frame in reversed(frames):
            found = next((c for c, p in CATEGORIES if re.search(p, frame)), None)
            if found is not None:
                category = found
                break
        by_category[category] += count

    def shares(counter: Counter[str]) -> list[dict[str, Any]]:
        return [
            {"name": name, "samples": n, "share_pct": round(100 * n / max(1, samples), 1)}
            for name, n in counter.most_common(top)
        ]

    return {
        "samples": samples,
        "busy_pct_of_a_core": round(100 * samples / max(1.0, rate * seconds), 1),
        "categories": shares(by_category),
        "self": shares(by_self),
        "inclusive": shares(by_inclusive),
    }

"""`--tool-log FILE`: one JSON line per tool response the simulator received.

    {"id", "name", "response", "scheduling", "images": [{"mime_type", "size", "via"}]}

`via` is `parts` for an image inside the function response, `video` for a realtime video
frame that arrived within `VIDEO_WINDOW_S` after the response (how backends send a tool's
images to models that take none in function responses). So a response's line is written
once that window has passed (or the next response, or the connection's end, came first).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import protocol as wire

#: realtime video this soon after a response belongs to it
VIDEO_WINDOW_S = 1.0


def images_in_parts(response: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The inline images of a function response's `parts` (as the SDK sends them)."""
    images = []
    for part in wire.field(response, "parts", []) or []:
        blob = wire.field(part, "inline_data")
        if blob is None:
            continue
        data = wire.decode_bytes(wire.field(blob, "data", ""))
        mime = str(wire.field(blob, "mime_type", ""))
        images.append({"mime_type": mime, "size": len(data), "via": "parts"})
    return images


class ToolLog:
    """The records of tool responses, in memory (`entries`, the newest `limit`) and, with
    a `path`, as JSON lines appended to that file."""

    def __init__(self, path: str | Path | None = None, limit: int = 10_000) -> None:
        self.path = Path(path) if path is not None else None
        self.entries: deque[dict[str, Any]] = deque(maxlen=limit)

    def write(self, entry: dict[str, Any]) -> None:
        self.entries.append(entry)
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(entry, sort_keys=True) + "\n")


class ResponseRecorder:
    """One connection's view of the log: it holds the latest response open for the
    video frames that may follow it."""

    def __init__(self, log: ToolLog) -> None:
        self.log = log
        self._open: dict[str, Any] | None = None
        self._until = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def response(self, response: Mapping[str, Any]) -> None:
        self.flush()
        scheduling = wire.field(response, "scheduling")
        self._open = {
            "id": wire.field(response, "id"),
            "name": wire.field(response, "name"),
            "response": wire.field(response, "response", {}),
            "scheduling": scheduling,
            "images": images_in_parts(response),
        }
        loop = asyncio.get_running_loop()
        self._until = loop.time() + VIDEO_WINDOW_S
        self._timer = loop.call_later(VIDEO_WINDOW_S, self.flush)

    def video(self, mime_type: str, size: int) -> None:
        """A realtime video frame: the open response's, when it came soon enough."""
        if self._open is not None and asyncio.get_running_loop().time() <= self._until:
            self._open["images"].append({"mime_type": mime_type, "size": size, "via": "video"})

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._open is not None:
            self.log.write(self._open)
            self._open = None

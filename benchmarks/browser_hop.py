"""Bytes per second on the browser hop: this extension's stream websocket vs the Colab
guide ("Gemini Live - Multimodal live API: Streaming in Colab", Gemini cookbook).

The guide's page sends microphone audio (16 kHz s16le) in ~50 ms chunks, base64 in JSON
(`{"data": {"audio_in": B64}}`), and gets model audio back the same way
(`{"data": {"audio_out": B64}}`), through `google.colab.output.eval_js` polled every
100 ms: per poll one kernel → page Jupyter message carrying the JavaScript call
`window._js_session_on_poll(<JSON list>)` and one page → kernel reply carrying the JSON
list the call returns. Those envelopes are built here with `jupyter_client.session`
(header, parent header of the running cell, metadata, content) and serialized the way
Jupyter's websocket JSON protocol sends them; the JavaScript inside a JSON string has its
quotes escaped. Computed, not measured: Colab's exact envelope may differ by some tens
of bytes per message; the base64 and the 10 polls a second dominate either way.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from jupyter_client.session import Session

from jupyter_gemini_live.protocol import FRAME_MS

INPUT_RATE = 16000
OUTPUT_RATE = 24000
POLL_S = 0.1
CHUNK_S = 0.05
#: model audio message size assumed for the guide: the simulator's bursts (~240 ms)
MODEL_CHUNK_S = 0.24


def _ws(payload: int, *, masked: bool) -> int:
    header = 2 if payload < 126 else 4 if payload < 65536 else 10
    return payload + header + (4 if masked else 0)


def _envelope(msg_type: str, content: dict[str, Any], session: Session) -> int:
    parent = session.msg("execute_request", content={})["header"]
    message = session.msg(msg_type, content=content, parent=None)
    message["parent_header"] = parent
    message["metadata"] = {"colab_request_type": "eval_js"} if msg_type == "colab_request" else {}
    message["channel"] = "iopub" if msg_type == "colab_request" else "stdin"
    message["buffers"] = []
    return len(json.dumps(message, default=str).encode())


def colab_guide() -> dict[str, Any]:
    """Bytes per second each way while the mic streams and while the model speaks."""
    session = Session(username="user")
    b64_in = base64.b64encode(bytes(int(INPUT_RATE * 2 * CHUNK_S))).decode()
    b64_out = base64.b64encode(bytes(int(OUTPUT_RATE * 2 * MODEL_CHUNK_S))).decode()
    chunks_per_poll = round(POLL_S / CHUNK_S)
    # page → kernel: the list returned by the poll, inside the input_reply content
    up_list = json.dumps([{"data": {"audio_in": b64_in}}] * chunks_per_poll)
    up_empty = _envelope("input_reply", {"value": {"type": "colab_reply", "data": []}}, session)
    up_poll = _envelope("input_reply", {"value": {"type": "colab_reply", "data": None}}, session)
    up_poll += len(up_list)
    # kernel → page: the JavaScript call, with the model audio queued since the last poll
    per_poll_out = OUTPUT_RATE * 2 * POLL_S / (OUTPUT_RATE * 2 * MODEL_CHUNK_S)
    js_empty = "window._js_session_on_poll([])"
    down_empty = _envelope("colab_request", {"request": {"js": js_empty}}, session)
    one = json.dumps({"data": {"audio_out": b64_out}})
    escaped = len(json.dumps(one)) - 2  # inside the JSON string of the message
    down_poll = down_empty + per_poll_out * (escaped + 2)
    polls = 1 / POLL_S
    return {
        "model": "eval_js poll every 100 ms, 50 ms base64 JSON mic chunks",
        "up_bytes_per_s_streaming": round(polls * _ws(up_poll, masked=True)),
        "down_bytes_per_s_model_speaking": round(polls * _ws(round(down_poll), masked=False)),
        "up_bytes_per_s_idle": round(polls * _ws(up_empty, masked=True)),
        "down_bytes_per_s_idle": round(polls * _ws(down_empty, masked=False)),
        "envelope_bytes": {"page_to_kernel": up_empty, "kernel_to_page": down_empty},
    }


def extension_ideal(frame_ms: int = FRAME_MS) -> dict[str, Any]:
    """This extension by design: binary microphone frames of `frame_ms`, model audio as it
    comes, nothing when idle."""
    per_s = 1000 // frame_ms
    up = _ws(INPUT_RATE * 2 // per_s, masked=True) * per_s
    return {
        "up_bytes_per_s_streaming": up,
        "down_bytes_per_s_model_speaking_min": OUTPUT_RATE * 2,
    }

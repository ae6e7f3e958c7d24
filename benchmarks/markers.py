"""In-band markers: a frame's sender writes (tag, sequence) into its first 16 samples.

The simulator wrapper (timed_simulator.py) reads the markers of the audio it receives and
writes them into the reply audio it sends, so one-way latencies are measured per frame
without touching the product or the simulator: uplink = the client's send → the
simulator's receive, downlink = the simulator's send → the client's receive. Every
process reads the same clock (`now()`, CLOCK_MONOTONIC, system wide on Linux).

The marker is faint (|sample| ≤ 31, about -60 dBFS over 1 ms): a 4-sample magic then 12
samples of 4 bits each (a 16-bit tag, a 32-bit sequence number), each stored as
2 * nibble - 15 (odd numbers from -15 to 15). Neither VAD notices it.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator

MAGIC = (23, -17, 29, -31)
MAGIC_BYTES = struct.pack("<4h", *MAGIC)
SAMPLES = len(MAGIC) + 12
SIZE = SAMPLES * 2
_NIBBLES = struct.Struct("<12h")  # most significant nibble first


def now() -> float:
    """Seconds on the system-wide monotonic clock (comparable between processes)."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def encode(tag: int, seq: int) -> bytes:
    value = (tag & 0xFFFF) << 32 | (seq & 0xFFFFFFFF)
    nibbles = [(value >> shift) & 0xF for shift in range(44, -4, -4)]
    return MAGIC_BYTES + _NIBBLES.pack(*(2 * n - 15 for n in nibbles))


def stamp(pcm: bytes, tag: int, seq: int) -> bytes:
    """`pcm` with its first 16 samples replaced by the marker (pcm must be longer)."""
    return encode(tag, seq) + pcm[SIZE:]


def find(pcm: bytes) -> Iterator[tuple[int, int]]:
    """Every (tag, sequence) marked in `pcm`, in order."""
    start = pcm.find(MAGIC_BYTES)
    while start >= 0:
        end = start + SIZE
        if start % 2 == 0 and end <= len(pcm):
            decoded = _decode(pcm[start + len(MAGIC_BYTES) : end])
            if decoded is not None:
                yield decoded
                start = pcm.find(MAGIC_BYTES, end)
                continue
        start = pcm.find(MAGIC_BYTES, start + 1)


def _decode(body: bytes) -> tuple[int, int] | None:
    value = 0
    for sample in _NIBBLES.unpack(body):
        if sample % 2 == 0 or not -15 <= sample <= 15:
            return None
        value = value << 4 | (sample + 15) >> 1
    return value >> 32, value & 0xFFFFFFFF

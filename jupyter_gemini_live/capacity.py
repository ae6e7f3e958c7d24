"""Capacity: how loaded the server's one event loop is, and when a new session is refused.

Every session's audio, pings and REST requests share one event loop. Two signs say it
cannot take another session:
- it runs late: a sleep wakes up later than asked (the median of ~1 s of probes), which
  is what every open session feels at once;
- it is busy nearly all the time (the CPU its thread used over the last 2 s). A
  saturated loop can still wake its timers on time, because each of its turns is short:
  the backlog builds up in the sockets instead, where no lag probe sees it. At 100
  benchmark sessions the loop was 98 % busy with a median turn of 1 ms, while microphone
  audio arrived seconds late.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import deque
from dataclasses import dataclass

from .backends.base import BackendError

#: the loop is probed this often (each probe is a wake-up: every 50 ms, they cost an
#: otherwise idle server 0.8 % of a core)
PROBE_S = 0.2
#: its lag is judged over this many probes (~1 s): sustained, not one slow callback
LAG_PROBES = 5
#: its busy share is judged over this many probes (2 s): long enough that a few sessions
#: starting together (TLS handshakes) do not count as a full loop, short enough that
#: sessions arriving meanwhile do not take it far past the limit
BUSY_PROBES = 10
BUSY_WINDOW_S = BUSY_PROBES * PROBE_S


class OverCapacity(BackendError):
    """The server is past what it can carry: a new session is refused (503) with the reason."""

    status = 503


class LoopMonitor:
    """The event loop's lag and busy share, from a probe that sleeps `PROBE_S` at a time."""

    def __init__(self) -> None:
        self._lags: deque[float] = deque(maxlen=LAG_PROBES)
        #: (loop time, CPU time of the loop's thread) at each probe
        self._cpu: deque[tuple[float, float]] = deque(maxlen=BUSY_PROBES)
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Probe from now on; what an earlier run saw is forgotten (it is out of date)."""
        if not self.running:
            self._lags.clear()
            self._cpu.clear()
            self._task = asyncio.create_task(self._probe_forever(), name="gemini-live-loop")

    def pause(self) -> None:
        """No more probes (the task ends at its next wake-up): an idle server should not
        wake up for it."""
        if self._task is not None:
            self._task.cancel()

    async def stop(self) -> None:
        """Pause, and wait until the probe has ended (the server is shutting down)."""
        self.pause()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def record(self, lag_s: float) -> None:
        self._lags.append(max(0.0, lag_s))

    def record_cpu(self, at: float, cpu_s: float) -> None:
        self._cpu.append((at, cpu_s))

    def lag_ms(self) -> float:
        return statistics.median(self._lags) * 1000 if self._lags else 0.0

    def busy(self) -> float:
        """Share of the last 2 s the loop's thread spent on a CPU (0 until 1 s is seen)."""
        if len(self._cpu) < 2:
            return 0.0
        (t0, cpu0), (t1, cpu1) = self._cpu[0], self._cpu[-1]
        return (cpu1 - cpu0) / (t1 - t0) if t1 - t0 >= 1.0 else 0.0

    async def _probe_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(PROBE_S)
            now = loop.time()
            self.record(now - start - PROBE_S)
            # this coroutine runs on the loop's thread: its CPU time is the loop's work
            self.record_cpu(now, time.thread_time())


@dataclass(frozen=True)
class SheddingLimits:
    """When new sessions are refused; 0 turns a rule off."""

    #: median lag of the loop over ~1 s, ms
    loop_lag_ms: float = 0.0
    #: share of the last 2 s the loop's thread was on a CPU, 0 to 1
    loop_busy: float = 0.0

    def refusal(self, monitor: LoopMonitor, open_sessions: int) -> OverCapacity | None:
        """Why another session would make every open one later, or None."""
        lag, busy = monitor.lag_ms(), monitor.busy()
        if self.loop_lag_ms > 0 and lag > self.loop_lag_ms:
            why = (
                f"its event loop runs {lag:.0f} ms late "
                f"(limit c.GeminiLive.shed_loop_lag_ms = {self.loop_lag_ms:g} ms)"
            )
        elif self.loop_busy > 0 and busy > self.loop_busy:
            why = (
                f"its event loop was busy {busy:.0%} of the last {BUSY_WINDOW_S:g} s "
                f"(limit c.GeminiLive.shed_loop_busy = {self.loop_busy:g})"
            )
        else:
            return None
        sessions = f"{open_sessions} session{'' if open_sessions == 1 else 's'}"
        return OverCapacity(
            "over_capacity",
            f"the server is over capacity: {why} with {sessions} open; try again later",
        )

"""Conversations count as server activity.

jupyter-server computes when it was last active (`web_app.last_activity()`) from its
start, kernel activity, the `*_last_activity` settings and every value of
`settings["last_activity_times"]`. Under JupyterHub the single-user server reports that
time to the hub every `$JUPYTERHUB_ACTIVITY_INTERVAL` seconds, and idle cullers
(jupyterhub-idle-culler, `ServerApp.shutdown_no_activity_timeout`) read it. Audio and
events on the stream websocket are not API requests, so without this a server could be
culled in the middle of a call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping
from datetime import datetime, timezone
from typing import Any

#: the key of this extension in `settings["last_activity_times"]`
ACTIVITY_KEY = "gemini_live"
#: at most one stamp per this many seconds (the session is touched on every 20 ms frame)
MIN_INTERVAL_S = 1.0


class ActivityStamp:
    """A callable that stamps the server's activity time, at most once per `min_interval`
    seconds: call it on every bit of traffic of a conversation."""

    def __init__(
        self,
        settings: MutableMapping[str, Any],
        min_interval: float = MIN_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._min_interval = min_interval
        self._clock = clock
        self._last: float | None = None

    def __call__(self) -> None:
        now = self._clock()
        if self._last is not None and now - self._last < self._min_interval:
            return
        self._last = now
        times = self._settings.setdefault("last_activity_times", {})
        times[ACTIVITY_KEY] = datetime.now(timezone.utc)

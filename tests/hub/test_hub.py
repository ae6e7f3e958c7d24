"""The extension under a real JupyterHub, everything through configurable-http-proxy: alice
talks on her server's stream websocket, bob is refused there, and a call keeps alice's
server active in the hub's eyes (so an idle culler does not stop it mid-call)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from speech import frames, rms, seconds_of, silence, speech
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from .conftest import ACTIVITY_INTERVAL, Hub

API = "user/alice/gemini-live/api"
SPOKEN_S = 1.0


def stream_url(hub: Hub, session_id: str, user: str = "alice") -> str:
    base = hub.url.replace("http://", "ws://", 1)
    return f"{base}user/{user}/gemini-live/api/sessions/{session_id}/stream"


def new_session(hub: Hub, token: str) -> str:
    answer = hub.request("POST", f"{API}/sessions", {"backend": "echo"}, token=token)
    assert answer.status == 201, (answer.status, answer.body)
    return str(answer.json()["id"])


class Call:
    """A device on the stream websocket; a thread gathers the model's audio and events."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.audio = bytearray()
        self.events: list[dict[str, Any]] = []
        self.reader = threading.Thread(target=self._read, name="hub-call-reader", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        try:
            for message in self.ws:
                if isinstance(message, bytes):
                    self.audio += message
                else:
                    self.events.append(json.loads(message))
        except ConnectionClosed:
            pass

    def talk(self, pcm: bytes) -> None:
        """20 ms frames at real-time pace."""
        for frame in frames(pcm):
            self.ws.send(frame)
            time.sleep(0.02)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in list(self.events) if event["type"] == kind]

    def wait(self, what: str, check: Callable[[], Any], timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            if not self.reader.is_alive():
                raise AssertionError(f"socket closed before {what}; events: {self.events}")
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; events: {self.events}")


@contextlib.contextmanager
def calling(hub: Hub, session_id: str, token: str) -> Iterator[Call]:
    """alice's device connection to a session, closed (and its reader ended) on the way out."""
    headers = {"Authorization": f"token {token}"}
    url = stream_url(hub, session_id)
    with connect(url, additional_headers=headers, open_timeout=15, close_timeout=5) as ws:
        call = Call(ws)
        try:
            yield call
        finally:
            ws.close()
            call.reader.join(10)


def test_echo_round_trip_through_the_proxy(hub: Hub, alice: str) -> None:
    session_id = new_session(hub, alice)
    with calling(hub, session_id, alice) as call:
        ready = call.wait("ready", lambda: call.of("ready"))[0]
        assert ready["session"]["id"] == session_id
        call.talk(speech(SPOKEN_S) + silence(0.8))
        call.wait("the turn to complete", lambda: call.of("turn_complete"))
        returned = seconds_of(call.audio, 24000)
        assert abs(returned - SPOKEN_S) < 0.25, f"sent {SPOKEN_S} s, got {returned:.2f} s back"
        assert rms(call.audio) > 0.05
        model = [e for e in call.of("transcript") if e["role"] == "model"]
        assert model[-1]["text"].startswith("Echo of")
    assert hub.request("DELETE", f"{API}/sessions/{session_id}", token=alice).status == 204


def refused_on_rest(answer: Any) -> bool:
    """403, or a redirect to a login (the hub's or its OAuth), never the resource."""
    if answer.status == 403:
        return True
    location = answer.headers.get("Location", "") if answer.status in (301, 302, 303) else ""
    return "/hub/" in location or "login" in location or "oauth" in location


def test_another_user_is_refused_on_alices_server(hub: Hub, alice: str) -> None:
    session_id = new_session(hub, alice)
    bob = hub.user_token("bob")
    routes = [
        ("GET", "status", None),
        ("GET", "sessions", None),
        ("POST", "sessions", {"backend": "echo"}),
        ("GET", f"sessions/{session_id}", None),
        ("POST", f"sessions/{session_id}/text", {"text": "hello"}),
        ("GET", f"sessions/{session_id}/transcript", None),
        ("DELETE", f"sessions/{session_id}", None),
    ]
    browser = hub.login("bob")
    for method, path, body in routes:
        with_token = hub.request(method, f"{API}/{path}", body, token=bob)
        assert with_token.status == 403, (method, path, with_token.status, with_token.body)
        with_cookies = hub.request(method, f"{API}/{path}", body, opener=browser.opener)
        assert refused_on_rest(with_cookies), (method, path, with_cookies.status)

    url = stream_url(hub, session_id)
    for headers in ({"Authorization": f"token {bob}"}, {"Cookie": browser.cookie_header()}):
        with (
            pytest.raises(InvalidStatus) as refused,
            connect(url, additional_headers=headers, open_timeout=15),
        ):
            pass
        assert refused.value.response.status_code == 403, headers.keys()

    # alice's session is untouched, and hers to use
    mine = hub.request("GET", f"{API}/sessions/{session_id}", token=alice)
    assert mine.status == 200
    assert mine.json()["state"] == "live"
    assert mine.json()["stats"]["turns"] == 0
    assert hub.request("GET", f"{API}/sessions", token=alice).json()[-1]["id"] == session_id
    assert hub.request("DELETE", f"{API}/sessions/{session_id}", token=alice).status == 204


def test_a_call_keeps_the_servers_activity_fresh(hub: Hub, alice: str) -> None:
    """Only stream traffic reaches alice's server while the hub's last_activity is read: it
    must advance past the last REST request, again and again, while the call goes on."""
    session_id = new_session(hub, alice)
    with calling(hub, session_id, alice) as call:
        call.wait("ready", lambda: call.of("ready"))
        since = datetime.now(timezone.utc)  # after the last REST request to alice's server
        seen: set[datetime] = set()
        turns = 0
        # a turn every 1.2 s, for at most 40 turns (single-user servers report every 1 s)
        while len(seen) < 3 and turns < 40:
            call.talk(speech(0.5) + silence(0.7))
            turns += 1
            stamp = hub.last_activity("alice")
            if stamp > since:
                seen.add(stamp)
        assert len(seen) >= 3, (
            f"the hub's last_activity for alice's server did not follow the call "
            f"(reported every {ACTIVITY_INTERVAL} s): since {since}, saw {sorted(seen)}"
        )
        call.wait("model audio", lambda: call.of("turn_complete"))
        assert seconds_of(call.audio, 24000) > 0.3
    assert hub.request("DELETE", f"{API}/sessions/{session_id}", token=alice).status == 204

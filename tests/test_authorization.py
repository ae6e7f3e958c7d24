"""Authorization, not only authentication: a logged-in user whose authorizer denies an
action on `gemini_live` is refused (403) wherever that action is needed.

jupyter-server maps GET to `read`, POST and DELETE to `write` and a websocket to `execute`
(as for kernels). The authorizer here is configured as a deployment would configure one
(`ServerApp.authorizer_class`) and denies only the `gemini_live` actions a test names, so
every route is checked against every denial: refused when it needs the denied action, and
answered as usual when it does not (the denial is not a blanket refusal).
"""

from __future__ import annotations

from typing import Any

import pytest
from jupyter_server.auth.authorizer import Authorizer
from tornado.httpclient import HTTPClientError
from traitlets import Set, Unicode

RESOURCE = "gemini_live"
ACTIONS = ("read", "write", "execute")


class GeminiLiveGate(Authorizer):
    """Allows everything but the `gemini_live` actions in `denied`."""

    denied = Set(Unicode(), config=True, help="Actions on gemini_live to refuse.")

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return not (resource == RESOURCE and action in self.denied)


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    server = {**jp_server_config["ServerApp"], "authorizer_class": GeminiLiveGate}
    return {**jp_server_config, "ServerApp": server}


@pytest.fixture
def deny(jp_serverapp: Any) -> Any:
    """`deny("read")`: from now on the authorizer refuses that action on gemini_live."""
    gate = jp_serverapp.authorizer
    assert isinstance(gate, GeminiLiveGate)

    def set_denied(*actions: str) -> None:
        gate.denied = set(actions)

    return set_denied


async def new_session(api: Any) -> str:
    """A recorded echo session (so recording.wav has something to answer), made while
    everything is allowed."""
    code, session = await api("POST", "sessions", body={"backend": "echo", "record": True})
    assert code == 201, session
    return str(session["id"])


def rest_routes(session_id: str) -> list[tuple[str, str, tuple[str, ...], Any]]:
    """(action, method, path, body) of every REST route; DELETE last, it ends the session."""
    return [
        ("read", "GET", ("status",), None),
        ("read", "GET", ("sessions",), None),
        ("read", "GET", ("sessions", session_id), None),
        ("read", "GET", ("sessions", session_id, "transcript"), None),
        ("read", "GET", ("sessions", session_id, "recording.wav"), None),
        ("write", "POST", ("sessions",), {"backend": "echo"}),
        ("write", "POST", ("sessions", session_id, "text"), {"text": "hello"}),
        ("write", "DELETE", ("sessions", session_id), None),
    ]


def test_the_gate_is_the_servers_authorizer(jp_serverapp: Any) -> None:
    assert isinstance(jp_serverapp.authorizer, GeminiLiveGate)


@pytest.mark.parametrize("denied", ACTIONS)
async def test_each_rest_route_needs_its_action(api: Any, deny: Any, denied: str) -> None:
    session_id = await new_session(api)
    deny(denied)
    answers = {}
    for action, method, path, body in rest_routes(session_id):
        code, _ = await api(method, *path, body=body)
        answers[(method, "/".join(path))] = (action, code)
    refused = {route for route, (_, code) in answers.items() if code == 403}
    needing = {route for route, (action, _) in answers.items() if action == denied}
    assert refused == needing, answers
    for action, code in answers.values():
        if action != denied:
            assert code < 400, answers

    deny()
    code, session = await api("GET", "sessions", session_id)
    if denied == "write":  # refused: the text was not taken and the session not deleted
        assert session["state"] == "live"
        _, transcript = await api("GET", "sessions", session_id, "transcript")
        assert transcript == []
    else:
        assert code == 404  # deleted


async def test_a_refusal_says_what_was_refused(api: Any, deny: Any) -> None:
    session_id = await new_session(api)
    deny("read")
    code, error = await api("GET", "sessions", session_id, "transcript")
    assert code == 403
    assert "read" in error["message"]
    assert RESOURCE in error["message"]


@pytest.mark.parametrize("mode", ["device", "observe"])
async def test_the_stream_needs_execute(
    api: Any, deny: Any, open_stream: Any, jp_ws_fetch: Any, mode: str
) -> None:
    session_id = await new_session(api)
    deny("execute")
    with pytest.raises(HTTPClientError) as refused:
        await open_stream(session_id, mode=mode)
    assert refused.value.code == 403
    _, session = await api("GET", "sessions", session_id)
    assert session["clients"] == 0

    deny("read", "write")  # the stream needs execute only
    stream = await open_stream(session_id, mode=mode)
    ready = await stream.until("ready")
    assert ready["mode"] == mode
    stream.ws.close()


async def test_the_stream_of_an_unknown_session_is_refused_before_it_is_looked_up(
    deny: Any, open_stream: Any
) -> None:
    """A user without `execute` learns nothing about which sessions exist."""
    deny("execute")
    with pytest.raises(HTTPClientError) as refused:
        await open_stream("no-such-session")
    assert refused.value.code == 403

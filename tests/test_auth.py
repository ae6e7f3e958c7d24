"""Authentication and authorization: every endpoint guarded, origin checks kept."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from jupyter_gemini_live.app import route_table


def test_every_handler_method_is_authenticated(jp_serverapp: Any) -> None:
    """What jupyter-server warns about at start-up (JupyterServerAuthWarning) finds nothing."""
    missing = []
    for pattern, handler in route_table():
        missing += jp_serverapp.web_app._check_handler_auth(pattern, handler)
    assert missing == []


async def login_cookie(jp_fetch: Any, token: str) -> str:
    """Log in through the login form, as a person in a browser does; returns the cookies."""
    page = await jp_fetch("login", headers={"Authorization": ""})
    cookies = dict(c.split(";", 1)[0].split("=", 1) for c in page.headers.get_list("Set-Cookie"))
    form = urlencode({"password": token, "_xsrf": cookies["_xsrf"]})
    response = await jp_fetch(
        "login",
        method="POST",
        body=form,
        headers={"Authorization": "", "Cookie": f"_xsrf={cookies['_xsrf']}"},
        follow_redirects=False,
        raise_error=False,
    )
    assert response.code == 302, response.code
    for cookie in response.headers.get_list("Set-Cookie"):
        name, value = cookie.split(";", 1)[0].split("=", 1)
        cookies[name] = value
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


@pytest.mark.parametrize(("origin", "allowed"), [("same", True), ("https://evil.example", False)])
async def test_cookie_websocket_is_checked_for_origin(
    api: Any, jp_fetch: Any, jp_serverapp: Any, jp_http_port: int, jp_base_url: str,
    origin: str, allowed: bool,
) -> None:  # fmt: skip
    """A browser page on another site holding the user's cookie must not open the mic stream."""
    _, session = await api("POST", "sessions")
    cookie = await login_cookie(jp_fetch, jp_serverapp.identity_provider.token)
    assert cookie, "no login cookie was set"
    host = f"127.0.0.1:{jp_http_port}"  # the host the login cookie is named after
    url = f"ws://{host}{jp_base_url}gemini-live/api/sessions/{session['id']}/stream"
    headers = {"Cookie": cookie, "Origin": f"http://{host}" if origin == "same" else origin}
    request = HTTPRequest(url, headers=headers)
    if allowed:
        ws = await websocket_connect(request)
        assert '"ready"' in await ws.read_message()
        ws.close()
    else:
        with pytest.raises(HTTPClientError) as err:
            await websocket_connect(request)
        assert err.value.code == 403


@pytest.mark.parametrize("gemini_live_config", [{"api_key": "sk-do-not-leak"}])
async def test_the_key_reaches_no_client(
    api: Any, open_stream: Any, gemini_live_config: Any
) -> None:
    code, session = await api("POST", "sessions", body={"backend": "echo"})
    assert code == 201
    stream = await open_stream(session["id"])
    ready = await stream.until("ready")
    await stream.send_json({"type": "text", "text": "hello"})
    await stream.until("turn_complete")
    seen = (
        repr(stream.events) + repr(await api("GET", "sessions")) + repr(await api("GET", "status"))
    )
    assert "sk-do-not-leak" not in seen
    assert ready["session"]["backend"] == "echo"

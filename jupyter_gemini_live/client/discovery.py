"""Finding the Jupyter server that runs this kernel: its URL (with base_url) and token.

A kernel started by a Jupyter server gets `JPY_PARENT_PID`, the server's pid; the server's
info file (`list_running_servers`) says where it listens. Explicit arguments and the
`JUPYTER_GEMINI_LIVE_URL` / `JUPYTER_GEMINI_LIVE_TOKEN` variables come first, for kernels
started some other way (a remote kernel, a plain `python`). The Gemini key is no part of
this: the server holds it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

URL_ENV = "JUPYTER_GEMINI_LIVE_URL"
TOKEN_ENV = "JUPYTER_GEMINI_LIVE_TOKEN"
PARENT_ENV = "JPY_PARENT_PID"


class ServerNotFound(RuntimeError):
    """No Jupyter server to talk to; the message says what to pass."""


@dataclass(frozen=True)
class ServerAddress:
    url: str  # ends with "/", includes the base_url (JupyterHub: /user/NAME/)
    token: str

    def __repr__(self) -> str:  # the token stays out of logs and tracebacks
        return f"ServerAddress(url={self.url!r}, token={'***' if self.token else ''!r})"


def find_server(url: str | None = None, token: str | None = None) -> ServerAddress:
    """The server to use: `url`/`token`, else the environment, else this kernel's parent."""
    url = url or os.environ.get(URL_ENV)
    token = token if token is not None else os.environ.get(TOKEN_ENV)
    if url:
        return ServerAddress(_with_slash(url), token or "")
    info = _parent_server(_running_servers())
    if info is None:
        raise ServerNotFound(_not_found_message())
    return ServerAddress(_server_url(info), token if token is not None else info.get("token", ""))


def _running_servers() -> Iterable[Mapping[str, Any]]:
    from jupyter_server.serverapp import list_running_servers

    return list(list_running_servers())


def _parent_server(servers: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    parent = os.environ.get(PARENT_ENV, "")
    if not parent.isdigit():
        return None
    for info in servers:
        if str(info.get("pid")) == parent:
            return info
    return None


def _server_url(info: Mapping[str, Any]) -> str:
    url = str(info.get("url") or "")
    if not url.startswith(("http://", "https://")):
        raise ServerNotFound(
            f"the Jupyter server listens on {url or info.get('sock') or 'an unknown address'}, "
            f"which this client cannot reach; start it on a TCP port or pass connect(url=...)"
        )
    parts = urlsplit(url)
    # A server bound to every interface is reached on this machine through the loopback.
    host = parts.hostname or "localhost"
    if host in ("0.0.0.0", "::", ""):
        netloc = f"127.0.0.1:{parts.port}" if parts.port else "127.0.0.1"
        parts = parts._replace(netloc=netloc)
    base_url = str(info.get("base_url") or "/")
    path = parts.path if parts.path.rstrip("/") else base_url
    return _with_slash(urlunsplit((parts.scheme, parts.netloc, path, "", "")))


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _not_found_message() -> str:
    parent = os.environ.get(PARENT_ENV)
    where = (
        f"no running Jupyter server has the pid {parent} ({PARENT_ENV})"
        if parent
        else f"this Python was not started by a Jupyter server ({PARENT_ENV} is not set)"
    )
    return (
        f"Cannot find the Jupyter server with the gemini-live extension: {where}. "
        f"Pass connect(url='http://HOST:PORT/BASE_URL/', token='...') or set {URL_ENV} "
        f"and {TOKEN_ENV}."
    )

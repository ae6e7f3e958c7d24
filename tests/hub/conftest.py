"""A real JupyterHub in a process of its own: configurable-http-proxy (npm) in front, two
users (alice and bob) with a shared password, and single-user servers that load the
extension (SimpleLocalProcessSpawner: every server runs as this OS user, here root).

The hub is started once for the package and stopped, with its proxy and every single-user
server it spawned, when the tests of tests/hub are done, even when they fail.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from jupyter_process import free_port, quiet_settings

REPO = Path(__file__).resolve().parents[2]
PROXY = "configurable-http-proxy"
USERS = ("alice", "bob")
PASSWORD = "gemini-live-hub-test"
START_TIMEOUT = 90.0
#: how often single-user servers tell the hub their last activity (seconds)
ACTIVITY_INTERVAL = 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent.name == "hub":
            item.add_marker(pytest.mark.hub)
            item.add_marker(pytest.mark.xdist_group("realtime"))  # see tests/browser/conftest


def find_proxy() -> str | None:
    """configurable-http-proxy on the PATH, or where scripts/test.sh installs it."""
    found = shutil.which(PROXY)
    if found:
        return found
    local = REPO / ".cache" / "chp" / "node_modules" / ".bin" / PROXY
    return str(local) if local.exists() else None


CONFIG = """\
import sys

c = get_config()  # noqa: F821
c.JupyterHub.bind_url = {public!r}
c.JupyterHub.hub_bind_url = {hub!r}
c.JupyterHub.db_url = {db!r}
c.JupyterHub.cookie_secret_file = {cookie_secret!r}
# the proxy also reports route activity to the hub: kept out of the way of the tests, so
# the hub's last_activity comes from the single-user servers only
c.JupyterHub.last_activity_interval = 3600
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.ConfigurableHTTPProxy.api_url = {proxy_api!r}
c.ConfigurableHTTPProxy.pid_file = {proxy_pid!r}

c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = {password!r}
c.Authenticator.allowed_users = {users!r}

c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {home!r}
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.Spawner.args = {args!r}
c.Spawner.default_url = "/lab"
c.Spawner.environment = {environment!r}
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60

c.JupyterHub.services = [{{"name": "tester", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [{{"name": "admin", "services": ["tester"]}}]
"""


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Response:
    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Browser:
    """A logged-in user's cookies, as a browser holds them after the hub's login form."""

    opener: urllib.request.OpenerDirector
    cookies: http.cookiejar.CookieJar

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.cookies)


@dataclass
class Hub:
    url: str  # the proxy's public URL, ending with /
    token: str  # the `tester` service's token: admin
    process: subprocess.Popen[bytes]
    log: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def log_tail(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        opener: urllib.request.OpenerDirector | None = None,
        timeout: float = 15.0,
    ) -> Response:
        """Any request through the proxy; never raises on 4xx/5xx and follows no redirect
        unless the opener does."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"token {token}"
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        request = urllib.request.Request(
            urllib.parse.urljoin(self.url, path), method=method, data=data, headers=sent
        )
        opener = opener or urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(request, timeout=timeout) as answer:
                return Response(answer.status, answer.headers, answer.read())
        except urllib.error.HTTPError as err:
            return Response(err.code, err.headers, err.read())

    def hub_api(self, method: str, path: str, body: Any = None) -> Any:
        answer = self.request(method, f"hub/api/{path}", body, token=self.token)
        if answer.status >= 400:
            raise AssertionError(f"hub API {method} {path}: {answer.status} {answer.body!r}")
        return answer.json()

    def user_token(self, name: str) -> str:
        """An API token of the user (the hub's default: the user's own permissions)."""
        if name not in self.tokens:
            made = self.hub_api("POST", f"users/{name}/tokens", {"note": "tests/hub"})
            self.tokens[name] = made["token"]
        return self.tokens[name]

    def server(self, name: str) -> dict[str, Any] | None:
        """The hub's model of the user's default server (None when not running)."""
        servers: dict[str, Any] = self.hub_api("GET", f"users/{name}")["servers"]
        return servers.get("")

    def ensure_server(self, name: str) -> dict[str, Any]:
        running = self.server(name)
        if running is not None and running["ready"]:
            return running
        if running is None:
            self.hub_api("POST", f"users/{name}/server")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            running = self.server(name)
            if running is not None and running["ready"]:
                return running
            if self.process.poll() is not None:
                raise AssertionError(f"the hub exited:\n{self.log_tail()}")
            time.sleep(0.3)
        raise AssertionError(
            f"{name}'s server did not start in {START_TIMEOUT} s:\n{self.log_tail()}"
        )

    def last_activity(self, name: str) -> datetime:
        running = self.server(name)
        assert running is not None, f"{name}'s server is not running"
        return parse_time(running["last_activity"])

    def login(self, name: str) -> Browser:
        """Log in through the hub's login form, as a browser does."""
        cookies = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(cookies), NoRedirect
        )
        page = self.request("GET", "hub/login", opener=opener)
        assert page.status == 200, page
        xsrf = next(c.value for c in cookies if c.name == "_xsrf")
        form = urllib.parse.urlencode({"username": name, "password": PASSWORD, "_xsrf": xsrf})
        answer = self.request(
            "POST",
            "hub/login",
            form.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            opener=opener,
        )
        assert answer.status == 302, (answer.status, answer.body[:500])
        assert any(c.name == "jupyterhub-session-id" for c in cookies)
        return Browser(opener, cookies)


def parse_time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (the proxy and the single-user servers run in sessions of
    their own, so a process group does not catch them)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stop(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM the hub (it stops its servers and its proxy), then end whatever is left."""
    below = descendants(process.pid)
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    left = [pid for pid in below if alive(pid)]
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in left):
        time.sleep(0.1)
    for pid in left:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="package")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    proxy = find_proxy()
    if proxy is None:
        pytest.skip(
            f"{PROXY} not found on the PATH nor in .cache/chp: "
            "`npm install --prefix .cache/chp configurable-http-proxy` (scripts/test.sh does)"
        )
    folder = tmp_path_factory.mktemp("hub")
    port, hub_port, api_port = free_port(), free_port(), free_port()
    token = secrets.token_hex(32)
    lab_args = [
        "--allow-root",
        "--LabApp.expose_app_in_browser=True",
        f"--LabServerApp.user_settings_dir={quiet_settings(folder / 'settings')}",
        f"--LabServerApp.workspaces_dir={folder / 'workspaces'}",
        "--GeminiLive.idle_timeout=0",
    ]
    config = CONFIG.format(
        public=f"http://127.0.0.1:{port}",
        hub=f"http://127.0.0.1:{hub_port}",
        db=f"sqlite:///{folder / 'jupyterhub.sqlite'}",
        cookie_secret=str(folder / "cookie_secret"),
        proxy=proxy,
        proxy_api=f"http://127.0.0.1:{api_port}",
        proxy_pid=str(folder / "proxy.pid"),
        password=PASSWORD,
        users=set(USERS),
        home=str(folder / "home" / "{username}"),
        args=lab_args,
        environment={"JUPYTERHUB_ACTIVITY_INTERVAL": str(ACTIVITY_INTERVAL)},
        token=token,
    )
    (folder / "jupyterhub_config.py").write_text(config)
    env = {k: v for k, v in os.environ.items() if k not in ("GOOGLE_API_KEY", "GEMINI_API_KEY")}
    # the single-user servers import the package of this checkout (env_keep passes it on)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    log = folder / "hub.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(folder / "jupyterhub_config.py")],
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    running = Hub(f"http://127.0.0.1:{port}/", token, process, log)
    try:
        wait_until_up(running)
        yield running
    finally:
        stop(process)


def wait_until_up(hub: Hub, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hub.process.poll() is not None:
            raise AssertionError(f"jupyterhub exited:\n{hub.log_tail()}")
        try:
            if hub.request("GET", "hub/api/", timeout=2).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"jupyterhub did not start in {timeout} s:\n{hub.log_tail()}")


@pytest.fixture(scope="package")
def alice(hub: Hub) -> str:
    """alice's server is running; her API token."""
    hub.ensure_server("alice")
    return hub.user_token("alice")


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> None:
    """Hub tests are synchronous (and Playwright runs its own loop): pytest-jupyter's
    per-test loop stays out of the way."""


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> None:
    """No in-process server here."""

"""The extension app: configuration with env fallbacks, and a cheap start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jupyter_gemini_live.app import GeminiLive


def test_starting_the_server_does_not_import_the_sdk() -> None:
    """google-genai costs about a second to import; only a gemini session pays it."""
    script = (
        "import sys\n"
        "from jupyter_gemini_live.app import GeminiLive\n"
        "app = GeminiLive()\n"
        "app.make_backends()\n"
        "print('google.genai' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize(("setting", "frozen"), [("True", True), ("False", False)])
def test_the_started_server_keeps_its_objects_out_of_full_collections(
    setting: str, frozen: bool
) -> None:
    """Regression (issue 11): full garbage collections of the server's quarter of a million
    long-lived objects stalled every conversation for 150-360 ms; once started, they sit in
    the permanent generation, which collections skip (unless `freeze_heap` is off)."""
    script = (
        "import asyncio, gc\n"
        "from jupyter_gemini_live.app import GeminiLive\n"
        f"app = GeminiLive(freeze_heap={setting})\n"
        "asyncio.run(app._start_jupyter_server_extension(None))\n"
        "print(gc.get_freeze_count() > 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(frozen)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"GOOGLE_API_KEY": "g", "GEMINI_API_KEY": "m"}, "g"),
        ({"GEMINI_API_KEY": "m"}, "m"),
        ({}, ""),
    ],
)
def test_api_key_falls_back_to_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = GeminiLive()
    assert app.api_key == expected
    assert app.resolved_default_backend() == ("gemini" if expected else "echo")


def test_an_unknown_voice_is_refused_at_start() -> None:
    with pytest.raises(Exception, match="unknown voice 'Robot'"):
        GeminiLive(voice="Robot")


def test_a_missing_ca_file_turns_the_gemini_backend_off_naming_it(tmp_path: Path) -> None:
    """Regression: a missing ca_file gave a 502 at session start naming neither."""
    missing = tmp_path / "missing-ca.pem"
    app = GeminiLive(api_key="k" * 39, ca_file=str(missing))
    reason = app.make_backends()["gemini"].unavailable_reason()
    assert reason is not None
    assert "c.GeminiLive.ca_file" in reason
    assert str(missing) in reason

    not_pem = tmp_path / "not-a-ca.pem"
    not_pem.write_text("hello")
    reason = GeminiLive(api_key="k", ca_file=str(not_pem)).make_backends()["gemini"]
    assert str(not_pem) in (reason.unavailable_reason() or "")


def test_a_good_ca_file_is_used(tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    ca_file = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca_file))
    backend = GeminiLive(api_key="k", ca_file=str(ca_file)).make_backends()["gemini"]
    assert backend.unavailable_reason() is None


@pytest.fixture
def gemini_live_config(tmp_path: Path) -> dict[str, Any]:
    return {"api_key": "k" * 39, "ca_file": str(tmp_path / "gone.pem")}


async def test_status_and_post_say_why_gemini_is_off(api: Any, tmp_path: Path) -> None:
    code, status = await api("GET", "status")
    assert code == 200
    gemini = status["backends"]["gemini"]
    assert not gemini["available"]
    assert "c.GeminiLive.ca_file" in gemini["reason"]
    assert str(tmp_path / "gone.pem") in gemini["reason"]
    code, body = await api("POST", "sessions", body={"backend": "gemini"})
    assert code == 503
    assert "c.GeminiLive.ca_file" in body["message"]


def test_the_new_settings_have_safe_defaults() -> None:
    app = GeminiLive()
    assert app.expose_key_to_kernels is False
    assert app.keep_recordings is False
    assert app.recording_max_mb > 0


async def test_status_offers_the_models_and_their_capabilities(api: Any) -> None:
    from jupyter_gemini_live import models

    code, status = await api("GET", "status")
    assert code == 200
    assert status["api"] == "developer"
    assert status["default_model"] == "gemini-3.8-live"
    assert status["models"] == models.offered()
    assert set(status["capabilities"]) == set(status["models"])
    live = status["capabilities"]["gemini-3.8-live"]
    assert live == models.capabilities("gemini-3.8-live").to_json()
    assert live["proactive_audio"] == "always_on"
    unknown = status["unknown_model_capabilities"]
    assert unknown["known"] is False
    assert unknown["behaviors"] == []
    code, body = await api("POST", "sessions", body={"backend": "echo", "thinking_level": "low"})
    assert code == 400
    assert "thinking_level" in body["message"]


def test_vertex_ai_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-env")
    monkeypatch.delenv("GOOGLE_CLOUD_LOCATION", raising=False)
    app = GeminiLive(vertexai=True)
    assert (app.project, app.location, app.api) == ("from-env", "us-central1", "vertex")
    assert app.models[-1] == "gemini-live-2.5-flash-native-audio"
    assert app.model == "gemini-3.8-live"
    assert app.resolved_default_backend() == "gemini"
    backend = app.make_backends()["gemini"]
    assert backend.unavailable_reason() is None  # credentials are loaded at connect
    assert (backend.vertexai, backend.project, backend.location) == (  # type: ignore[attr-defined]
        True,
        "from-env",
        "us-central1",
    )
    assert "gemini-live-2.5-flash-native-audio" not in GeminiLive().models


def test_prices_and_budget_settings() -> None:
    app = GeminiLive(prices={"*": {"output_audio": 10}}, budget_tokens=1000)
    policy = app.usage_policy()
    assert policy.prices_for("any").output_audio == 10.0
    assert policy.budget.max_tokens == 1000
    assert policy.budget.max_usd is None
    with pytest.raises(Exception, match="unknown field"):
        GeminiLive(prices={"*": {"output_sound": 1}})

"""The extension app: configuration with env fallbacks, and a cheap start."""

from __future__ import annotations

import subprocess
import sys

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

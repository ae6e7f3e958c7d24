"""`%gemini_live` and `%%gemini_live`: the client as magics (`%load_ext jupyter_gemini_live`).

    %gemini_live start [--backend B] [--model M] [--voice V] [--tools f,g] [--system TEXT]
    %gemini_live attach [ID] [--tools f,g]   # the session the browser panel talks in
    %gemini_live say TEXT                    # or a %%gemini_live cell: the cell is the text
    %gemini_live transcript | status | sessions | stop

One session at a time per kernel. Mistakes and the server's refusals come back as short
usage errors (no traceback); the server's own message is kept.
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.display import display

from .discovery import ServerNotFound
from .rest import LiveError
from .session import KernelSession, LiveServer, connect
from .tools import ToolError

HELP = __doc__.split("\n\n")[1] if __doc__ else ""


class _Parser(argparse.ArgumentParser):
    """argparse that reports with UsageError instead of exiting the kernel."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"%gemini_live {self.prog}: {message}\n{HELP}")


def _parser(name: str) -> _Parser:
    parser = _Parser(prog=name, add_help=False)
    parser.add_argument("--tools", default="", help="functions of this notebook, a,b")
    parser.add_argument("--timeout", type=float, default=60.0)
    if name == "start":
        for option in ("backend", "model", "voice", "language"):
            parser.add_argument(f"--{option}")
        parser.add_argument("--system", dest="system_instruction")
        parser.add_argument("--record", action="store_true")
        parser.add_argument("--manual", action="store_true", help="push-to-talk")
    elif name == "attach":
        parser.add_argument("session_id", nargs="?")
    return parser


@magics_class
class GeminiLiveMagics(Magics):
    def __init__(self, shell: Any) -> None:
        super().__init__(shell)  # type: ignore[no-untyped-call]  # IPython is unannotated
        self.server: LiveServer | None = None
        self.session: KernelSession | None = None
        self._owned = False  # started here (stop ends it) or attached (stop only leaves)
        self._timeout = 60.0

    @line_cell_magic  # type: ignore[untyped-decorator]
    def gemini_live(self, line: str, cell: str | None = None) -> None:
        """Talk to a Gemini Live session from this kernel; `%gemini_live help`."""
        try:
            if cell is not None:
                self._say(" ".join(filter(None, (line.strip(), cell.strip()))))
                return
            command, _, rest = line.strip().partition(" ")
            handler = self._commands().get(command or "help")
            if handler is None:
                raise UsageError(f"%gemini_live: unknown command {command!r}\n{HELP}")
            handler(rest.strip())
        except (LiveError, ServerNotFound, ToolError, TimeoutError) as err:
            raise UsageError(f"%gemini_live: {err}") from None

    def _commands(self) -> dict[str, Callable[[str], None]]:
        return {
            "start": self._start,
            "attach": self._attach,
            "say": self._say,
            "transcript": lambda _: _show(Table.transcript(self._current().transcript())),
            "status": lambda _: _show(Table.status(self._server().status())),
            "sessions": lambda _: _show(Table.sessions(self._server().sessions())),
            "stop": self._stop,
            "help": lambda _: print(HELP),
        }

    # ---- commands ------------------------------------------------------------------

    def _start(self, args: str) -> None:
        options = vars(_parser("start").parse_args(shlex.split(args)))
        tools = self._tools(options.pop("tools"))
        self._timeout = options.pop("timeout")
        manual = options.pop("manual")
        self._leave()
        session = self._server().start(
            tools=tools, activity_detection="manual" if manual else "auto", **options
        )
        self.session, self._owned = session, True
        _show_card(session.info())
        print(
            "Type to it with %gemini_live say TEXT or a %%gemini_live cell; "
            "%gemini_live transcript shows the conversation.\n"
            "To talk to it by voice, press Talk on its card, or open the Gemini Live panel "
            "(microphone icon), choose this session under Session options > Session, "
            "and press Start."
        )

    def _attach(self, args: str) -> None:
        options = _parser("attach").parse_args(shlex.split(args))
        tools = self._tools(options.tools)
        self._timeout = options.timeout
        self._leave()
        self.session = self._server().attach(options.session_id, tools=tools)
        self._owned = False
        _show_card(self.session.info())
        print(
            f"Attached to session {self.session.id}: what is said there shows in its "
            "transcript, and this kernel answers its tool calls."
        )

    def _say(self, text: str) -> None:
        if not text:
            raise UsageError("%gemini_live say: what should be said? %gemini_live say TEXT")
        reply = self._current().say(text, timeout=self._timeout)
        print(reply if reply else "(the model answered without words)")

    def _stop(self, _: str) -> None:
        session = self._current()
        owned = self._owned
        self._leave()
        print(f"Session {session.id} " + ("stopped." if owned else "left (still running)."))

    # ---- helpers -------------------------------------------------------------------

    def _server(self) -> LiveServer:
        if self.server is None:
            self.server = connect()
        return self.server

    def _current(self) -> KernelSession:
        if self.session is None:
            raise UsageError("%gemini_live: no session; run %gemini_live start (or attach)")
        return self.session

    def _tools(self, names: str) -> list[Callable[..., Any]]:
        found: list[Callable[..., Any]] = []
        for name in filter(None, (n.strip() for n in names.split(","))):
            value = self.shell.user_ns.get(name) if self.shell is not None else None
            if not callable(value):
                raise UsageError(f"%gemini_live --tools: {name} is not a function of this notebook")
            found.append(value)
        return found

    def _leave(self) -> None:
        """Stop the session this kernel started, or let go of the one it attached to."""
        session, self.session = self.session, None
        if session is None:
            return
        if self._owned:
            session.stop()
        else:
            session.close()


class Table:
    """A small table: Markdown in a notebook, aligned text in a terminal."""

    def __init__(self, header: Sequence[str], rows: Sequence[Sequence[Any]], note: str = ""):
        self.header = list(header)
        self.rows = [[_cell(v) for v in row] for row in rows]
        self.note = note

    @classmethod
    def transcript(cls, entries: list[dict[str, Any]]) -> Table:
        rows = [
            [e["turn"], e["role"], e["text"] + (" *(interrupted)*" if e["interrupted"] else "")]
            for e in entries
        ]
        return cls(["turn", "who", "text"], rows, "" if rows else "Nothing said yet.")

    @classmethod
    def status(cls, status: dict[str, Any]) -> Table:
        rows = [
            [name, "yes" if b["available"] else "no", b.get("reason") or ""]
            for name, b in status["backends"].items()
        ]
        note = (
            f"default backend {status['default_backend']}, model {status['default_model']}, "
            f"voice {status['default_voice']}"
        )
        return cls(["backend", "available", "why not"], rows, note)

    @classmethod
    def sessions(cls, sessions: list[dict[str, Any]]) -> Table:
        rows = [
            [
                s["id"],
                s["backend"],
                s["state"],
                "yes" if s["device_connected"] else "no",
                s["stats"]["turns"],
            ]
            for s in sessions
        ]
        return cls(
            ["id", "backend", "state", "device", "turns"], rows, "" if rows else "No sessions."
        )

    def _repr_markdown_(self) -> str:
        lines = [
            "| " + " | ".join(self.header) + " |",
            "|" + "---|" * len(self.header),
            *("| " + " | ".join(_markdown(c) for c in row) + " |" for row in self.rows),
        ]
        return "\n".join(lines if self.rows else []) + (f"\n\n{self.note}" if self.note else "")

    def __repr__(self) -> str:
        widths = [
            max(len(str(c)) for c in column) for column in zip(self.header, *self.rows, strict=True)
        ]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in [self.header, *self.rows]
        ]
        return "\n".join(lines if self.rows else []) + (f"\n{self.note}" if self.note else "")


def _show(table: Table) -> None:
    display(table)  # type: ignore[no-untyped-call]


SESSION_MIME_TYPE = "application/vnd.jupyter.gemini-live.session+json"


def session_bundle(info: dict[str, Any]) -> dict[str, Any]:
    """The session as the lab extension's card shows it, with a line for other frontends.

    Only what does not change goes in: the output stays in the notebook after the
    session ends, so the card asks the server for the state.
    """
    card = {
        "session_id": info["id"],
        "backend": info["backend"],
        "model": info["model"],
        "voice": info["voice"],
    }
    text = (
        f"Gemini Live session {info['id']} is {info['state']} "
        f"({info['backend']}, {info['model']}, voice {info['voice']}): "
        "open JupyterLab to talk to it"
    )
    return {SESSION_MIME_TYPE: card, "text/plain": text}


def _show_card(info: dict[str, Any]) -> None:
    display(session_bundle(info), raw=True)  # type: ignore[no-untyped-call]


def _cell(value: Any) -> str:
    return " ".join(str(value).split())  # one line per row


def _markdown(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


#: `%gemini_live ARGS?`: a line magic with arguments that ends in `?` (not `%gemini_live?`)
_QUESTION_LINE = re.compile(r"^(?P<indent>[ \t]*)%gemini_live[ \t]+(?P<args>\S.*\?)[ \t]*$")


def keep_questions(lines: list[str]) -> list[str]:
    """An IPython cleanup transform: `%gemini_live say Will it rain?` is a question to the
    model, not a help request. IPython's `HelpEnd` token transform reads any line ending
    in `?` as `obj?`; cleanup transforms run before the token transforms, so the magic
    line becomes the call IPython would have made for it, which no longer ends in `?`.
    `%gemini_live?` and `%gemini_live??` (no arguments) stay help requests, and
    `%%gemini_live` cells are already one `run_cell_magic` call by then."""
    if lines and lines[0].startswith("%%"):
        return lines
    out = []
    for line in lines:
        body = line.rstrip("\r\n")
        match = _QUESTION_LINE.match(body)
        if match is None:
            out.append(line)
            continue
        call = f"get_ipython().run_line_magic('gemini_live', {match['args']!r})"
        out.append(match["indent"] + call + line[len(body) :])
    return out


def _cleanup_transforms(ipython: Any) -> list[Any] | None:
    transforms = getattr(ipython, "input_transformers_cleanup", None)
    return transforms if isinstance(transforms, list) else None


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(GeminiLiveMagics)
    transforms = _cleanup_transforms(ipython)
    if transforms is not None and keep_questions not in transforms:
        transforms.append(keep_questions)


def unload_ipython_extension(ipython: Any) -> None:
    transforms = _cleanup_transforms(ipython)
    if transforms is not None and keep_questions in transforms:
        transforms.remove(keep_questions)
    magics = ipython.magics_manager.registry.get("GeminiLiveMagics")
    if isinstance(magics, GeminiLiveMagics):
        magics._leave()

"""The transcript of a session: one entry per role and turn, its text growing.

Gemini's input transcription can arrive after the model has started answering, so an
entry that was settled (made final) still takes text that comes late for its turn.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from .protocol import GroundingSource, Role, TranscriptEntry, UsageTotals

#: turns back from the newest whose entries still take late text
LATE_TURNS = 2
#: the longest text of one entry (one role in one turn); later text is dropped
MAX_ENTRY_CHARS = 64 * 1024
#: what a cut entry ends with
CUT_MARKER = " [...]"
#: characters of text the transcript keeps; the oldest entries are forgotten beyond
MAX_TOTAL_CHARS = 4 * 1024 * 1024

#: how each role is named in Markdown (the panel's "Save transcript" uses the same names)
SPEAKERS: dict[Role, str] = {"user": "You", "model": "Gemini"}


@dataclass
class Entry:
    role: Role
    text: str
    turn: int
    start: float
    end: float
    final: bool = False
    interrupted: bool = False
    usage: UsageTotals | None = None
    reason: str | None = None
    sources: list[GroundingSource] = field(default_factory=list)
    #: text beyond MAX_ENTRY_CHARS came and was dropped (the text ends with CUT_MARKER)
    truncated: bool = False

    def as_json(self) -> TranscriptEntry:
        return {
            "role": self.role,
            "text": self.text,
            "turn": self.turn,
            "start": self.start,
            "end": self.end,
            "final": self.final,
            "interrupted": self.interrupted,
            "usage": self.usage,
            "reason": self.reason,
            "sources": list(self.sources),
        }


class Transcript:
    """Entries in the order they started. Times are seconds since the session began."""

    def __init__(
        self,
        max_entries: int = 10_000,
        max_entry_chars: int = MAX_ENTRY_CHARS,
        max_total_chars: int = MAX_TOTAL_CHARS,
    ) -> None:
        self.max_entries = max_entries
        self.max_entry_chars = max_entry_chars
        self.max_total_chars = max_total_chars
        self._entries: deque[Entry] = deque()
        self._recent: dict[tuple[int, Role], Entry] = {}
        self._chars = 0
        #: the entry the last `append` cut at max_entry_chars (None when it cut nothing)
        self.cut: Entry | None = None

    @property
    def chars(self) -> int:
        """Characters of text held, every entry together."""
        return self._chars

    def append(self, role: Role, delta: str, turn: int, now: float, final: bool) -> Entry | None:
        """Add text to the entry of (turn, role); returns it, or None when nothing changed."""
        self.cut = None
        entry = self._recent.get((turn, role))
        if entry is None:
            if not delta:
                return None
            entry = Entry(role, "", turn, now, now)
            self._entries.append(entry)
            self._recent[(turn, role)] = entry
            self._forget_before(turn - LATE_TURNS)
        if entry.truncated:
            delta = ""  # full: later text of this entry is dropped
        room = self.max_entry_chars - len(entry.text)
        if len(delta) > room:
            delta = delta[: max(0, room - len(CUT_MARKER))] + CUT_MARKER
            entry.truncated = True
            self.cut = entry
        if not delta and (entry.final or not final):
            return None
        entry.text += delta
        self._chars += len(delta)
        entry.end = now if delta else entry.end
        entry.final = entry.final or final
        self._trim()
        return entry

    def _trim(self) -> None:
        """Forget the oldest entries beyond max_entries or max_total_chars."""
        while len(self._entries) > 1 and (
            len(self._entries) > self.max_entries or self._chars > self.max_total_chars
        ):
            oldest = self._entries.popleft()
            self._chars -= len(oldest.text)
            if self._recent.get((oldest.turn, oldest.role)) is oldest:
                del self._recent[(oldest.turn, oldest.role)]

    def settle(self, turn: int, role: Role | None = None) -> list[Entry]:
        """Make the entries of `turn` final (of one role, or all); returns those that changed."""
        settled = []
        for (entry_turn, entry_role), entry in self._recent.items():
            if entry_turn == turn and role in (None, entry_role) and not entry.final:
                entry.final = True
                settled.append(entry)
        return settled

    def has(self, turn: int, role: Role) -> bool:
        return (turn, role) in self._recent

    def mark_interrupted(self, turn: int) -> Entry | None:
        entry = self._recent.get((turn, "model"))
        if entry is not None:
            entry.interrupted = True
        return entry

    def last_of(self, turn: int) -> Entry | None:
        """The entry that closes `turn` (the model's, else the user's): what a turn's
        usage, sources and end reason are stored on."""
        return self._recent.get((turn, "model")) or self._recent.get((turn, "user"))

    def closing(self, turn: int, now: float) -> Entry:
        """The entry that closes `turn`, made (an empty final model entry) when the
        turn has none: a turn that ended without a word still says why."""
        entry = self.last_of(turn)
        if entry is None:
            entry = Entry("model", "", turn, now, now, final=True)
            self._entries.append(entry)
            self._recent[(turn, "model")] = entry
        return entry

    def entries(self) -> list[TranscriptEntry]:
        return [entry.as_json() for entry in self._entries]

    def _forget_before(self, turn: int) -> None:
        for key in [key for key in self._recent if key[0] < turn]:
            del self._recent[key]


def to_markdown(entries: Iterable[TranscriptEntry], title: str) -> str:
    """The conversation as Markdown: a title, then per turn a `## Turn N` heading and one
    `**You:**` / `**Gemini:**` paragraph per role, `_(interrupted)_` after a model turn
    that was cut off, why a turn ended early, the Google Search sources as links under the
    model's words, and the turn's usage. The panel's "Save transcript" and "Insert into
    notebook" write the same structure (labextension/src/transcript.ts)."""
    lines = [f"# {title}", ""]
    turn: int | None = None
    for entry in entries:
        paragraphs = _entry_markdown(entry)
        if not paragraphs:
            continue
        if entry["turn"] != turn:
            turn = entry["turn"]
            lines += [f"## Turn {turn}", ""]
        for paragraph in paragraphs:
            lines += [paragraph, ""]
    return "\n".join(lines)


def _entry_markdown(entry: TranscriptEntry) -> list[str]:
    paragraphs = []
    text = entry["text"].strip()
    if text:
        note = " _(interrupted)_" if entry["interrupted"] else ""
        paragraphs.append(f"**{SPEAKERS[entry['role']]}:** {text}{note}")
    if entry["reason"]:
        paragraphs.append(f"_The turn ended early: {entry['reason']}._")
    if entry["sources"]:
        links = [f"- [{_md_text(s['title'] or s['uri'])}](<{s['uri']}>)" for s in entry["sources"]]
        paragraphs.append("Sources:\n\n" + "\n".join(links))
    usage = entry["usage"]
    if usage is not None:
        tokens, cost = usage["tokens"]["total"], usage["cost_usd"]
        paragraphs.append(f"_Turn {entry['turn']}: {tokens:,} tokens, about ${cost:.4f}._")
    return paragraphs


def _md_text(text: str) -> str:
    """Link text that cannot break out of its brackets."""
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")

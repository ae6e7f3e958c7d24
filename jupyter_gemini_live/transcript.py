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

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: deque[Entry] = deque(maxlen=max_entries)
        self._recent: dict[tuple[int, Role], Entry] = {}

    def append(self, role: Role, delta: str, turn: int, now: float, final: bool) -> Entry | None:
        """Add text to the entry of (turn, role); returns it, or None when nothing changed."""
        entry = self._recent.get((turn, role))
        if entry is None:
            if not delta:
                return None
            entry = Entry(role, "", turn, now, now)
            self._entries.append(entry)
            self._recent[(turn, role)] = entry
            self._forget_before(turn - LATE_TURNS)
        if not delta and (entry.final or not final):
            return None
        entry.text += delta
        entry.end = now if delta else entry.end
        entry.final = entry.final or final
        return entry

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

    def markdown(self, title: str = "Conversation") -> str:
        """The transcript as Markdown: each turn's words, why it ended abnormally, its
        sources as links under the model's turn, and its usage."""
        names = {"user": "You", "model": "Gemini"}
        lines = [f"# {title}", ""]
        for entry in self._entries:
            if entry.text:
                mark = " *(interrupted)*" if entry.interrupted else ""
                lines += [f"**{names[entry.role]}:** {entry.text}{mark}", ""]
            if entry.reason:
                lines += [f"*The turn ended early: {entry.reason}.*", ""]
            if entry.sources:
                lines += ["Sources:", ""]
                lines += [
                    f"- [{_md_text(s['title'] or s['uri'])}](<{s['uri']}>)" for s in entry.sources
                ]
                lines.append("")
            if entry.usage is not None:
                tokens, cost = entry.usage["tokens"]["total"], entry.usage["cost_usd"]
                lines += [
                    f"*Turn {entry.turn}: {tokens:,} tokens, about ${cost:.4f}.*",
                    "",
                ]
        return "\n".join(lines)

    def entries(self) -> list[TranscriptEntry]:
        return [entry.as_json() for entry in self._entries]

    def _forget_before(self, turn: int) -> None:
        for key in [key for key in self._recent if key[0] < turn]:
            del self._recent[key]


def to_markdown(entries: Iterable[TranscriptEntry], title: str) -> str:
    """The conversation as Markdown: a title, then per turn a `## Turn N` heading and one
    `**You:**` / `**Gemini:**` paragraph per role, `_(interrupted)_` after a model turn
    that was cut off. The panel's "Save transcript" and "Insert into notebook" write this
    same structure (labextension/src/transcript.ts)."""
    lines = [f"# {title}", ""]
    turn: int | None = None
    for entry in entries:
        text = entry["text"].strip()
        if not text:
            continue
        if entry["turn"] != turn:
            turn = entry["turn"]
            lines += [f"## Turn {turn}", ""]
        note = " _(interrupted)_" if entry["interrupted"] else ""
        lines += [f"**{SPEAKERS[entry['role']]}:** {text}{note}", ""]
    return "\n".join(lines)


def _md_text(text: str) -> str:
    """Link text that cannot break out of its brackets."""
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")

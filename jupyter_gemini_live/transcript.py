"""The transcript of a session: one entry per role and turn, text growing until final."""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass

from .backends.base import Role


@dataclass
class Entry:
    role: Role
    text: str
    turn: int
    start: float
    end: float
    final: bool = False
    interrupted: bool = False

    def as_json(self) -> dict[str, object]:
        return asdict(self)


class Transcript:
    """Entries in the order they started. Times are seconds since the session began."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: deque[Entry] = deque(maxlen=max_entries)
        self._open: dict[tuple[int, Role], Entry] = {}

    def append(self, role: Role, delta: str, turn: int, now: float, final: bool) -> Entry:
        entry = self._open.get((turn, role))
        if entry is None:
            entry = Entry(role, "", turn, now, now)
            self._entries.append(entry)
            self._open[(turn, role)] = entry
        entry.text += delta
        entry.end = now
        if final:
            self._settle(entry)
        return entry

    def settle(self, turn: int, role: Role | None = None, interrupted: bool = False) -> list[Entry]:
        """Make the open entries of `turn` final (of one role, or all); returns them."""
        settled = []
        for (entry_turn, entry_role), entry in list(self._open.items()):
            if entry_turn == turn and role in (None, entry_role):
                entry.interrupted = entry.interrupted or (interrupted and entry_role == "model")
                self._settle(entry)
                settled.append(entry)
        return settled

    def mark_interrupted(self, turn: int) -> None:
        for entry in self._entries:
            if entry.turn == turn and entry.role == "model":
                entry.interrupted = True

    def entries_of(self, turn: int, role: str) -> list[Entry]:
        """The entries of one turn and role, newest last (looked up from the end)."""
        found = []
        for entry in reversed(self._entries):
            if entry.turn < turn:
                break
            if entry.turn == turn and entry.role == role:
                found.append(entry)
        return found[::-1]

    def entries(self) -> list[dict[str, object]]:
        return [entry.as_json() for entry in self._entries]

    def _settle(self, entry: Entry) -> None:
        entry.final = True
        self._open.pop((entry.turn, entry.role), None)

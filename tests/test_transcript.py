"""One entry per role and turn; partial text settles; late text still lands in its turn."""

from __future__ import annotations

from jupyter_gemini_live.transcript import CUT_MARKER, Transcript


def test_deltas_grow_one_entry_until_final() -> None:
    transcript = Transcript()
    transcript.append("model", "Hel", 1, 0.1, False)
    transcript.append("model", "lo", 1, 0.2, False)
    transcript.append("model", "", 1, 0.3, True)
    (entry,) = transcript.entries()
    assert (entry["text"], entry["final"], entry["start"], entry["end"]) == (
        "Hello",
        True,
        0.1,
        0.2,
    )


def test_late_input_transcription_joins_its_turn() -> None:
    transcript = Transcript()
    transcript.append("user", "what is", 1, 0.1, False)
    assert [e.role for e in transcript.settle(1, "user")] == ["user"]  # the model spoke
    late = transcript.append("user", " the time", 1, 0.5, False)
    assert late is not None
    assert late.text == "what is the time"
    assert len(transcript.entries()) == 1


def test_nothing_new_is_not_an_update() -> None:
    transcript = Transcript()
    assert transcript.append("user", "", 1, 0.0, True) is None  # no entry to finish
    transcript.append("user", "hi", 1, 0.0, True)
    assert transcript.append("user", "", 1, 0.1, True) is None  # already final
    assert transcript.settle(1) == []


def test_interrupted_reply_is_marked_and_turns_keep_order() -> None:
    transcript = Transcript()
    transcript.append("user", "tell me a story", 1, 0.0, True)
    transcript.append("model", "Once upon", 1, 0.5, False)
    transcript.mark_interrupted(1)
    transcript.settle(1)
    transcript.append("user", "stop", 2, 1.0, True)
    assert [(e["role"], e["turn"], e["interrupted"], e["final"]) for e in transcript.entries()] == [
        ("user", 1, False, True),
        ("model", 1, True, True),
        ("user", 2, False, True),
    ]


def test_an_entry_is_cut_at_its_cap_once() -> None:
    transcript = Transcript(max_entry_chars=100)
    transcript.append("user", "a" * 60, 1, 0.0, True)
    assert transcript.cut is None
    entry = transcript.append("user", "b" * 60, 1, 0.1, True)
    assert entry is not None
    assert transcript.cut is entry
    assert entry.truncated
    assert len(entry.text) <= 100
    assert entry.text.endswith(CUT_MARKER)
    assert transcript.append("user", "c" * 60, 1, 0.2, True) is None  # dropped, said once
    assert transcript.cut is None
    assert transcript.chars == len(entry.text)


def test_the_whole_transcript_is_capped_by_characters() -> None:
    transcript = Transcript(max_entry_chars=1000, max_total_chars=2500)
    for turn in range(1, 11):
        transcript.append("user", "x" * 1000, turn, float(turn), True)
    assert transcript.chars <= 2500
    assert [e["turn"] for e in transcript.entries()] == [9, 10]
    assert sum(len(e["text"]) for e in transcript.entries()) == transcript.chars


def test_markdown_groups_turns_and_marks_interruptions() -> None:
    from jupyter_gemini_live.transcript import to_markdown

    t = Transcript()
    t.append("user", "hello", 1, 0.0, True)
    t.append("model", "You said: hello", 1, 1.0, True)
    t.append("user", "  ", 2, 2.0, True)  # nothing said: no paragraph
    t.append("user", "stop", 3, 3.0, True)
    t.append("model", "You sa", 3, 4.0, False)
    t.mark_interrupted(3)
    assert to_markdown(t.entries(), "T") == (
        "# T\n\n## Turn 1\n\n**You:** hello\n\n**Gemini:** You said: hello\n\n"
        "## Turn 3\n\n**You:** stop\n\n**Gemini:** You sa _(interrupted)_\n"
    )

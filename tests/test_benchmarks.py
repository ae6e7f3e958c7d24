"""The benchmark's quick mode end to end: every figure lands in results.json.

No figure is judged here (the machine is shared, wall-clock thresholds would be flaky);
this only proves that `python -m benchmarks --quick` still runs against the current
server, simulator and SDK, and reports everything RESULTS.md promises.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("psutil")
pytest.importorskip("matplotlib")

REPO = Path(__file__).resolve().parent.parent

LEVEL_FIGURES = [
    "up_added_p50_ms",
    "up_added_p99_ms",
    "down_added_p50_ms",
    "down_added_p99_ms",
    "up_ratio_p50",
    "up_ratio_p99",
    "down_ratio_p50",
    "down_ratio_p99",
    "ping_p50_ms",
    "ping_p99_ms",
    "rest_p50_ms",
    "rest_p99_ms",
    "rest_max_ms",
    "server_cpu_pct_per_session",
    "baseline_cpu_pct_per_session",
    "server_rss_mib_per_session",
    "baseline_rss_mib_per_session",
    "browser_up_bytes_per_s",
    "browser_down_bytes_per_s_of_model_audio",
]
COUNTS = [
    f"{side}_{what}"
    for side in ("proxy", "baseline")
    for what in (
        "up_frames_lost",
        "up_frames_late",
        "down_bursts_lost",
        "down_bursts_late",
        "interrupted",
        "replies",
    )
]


@pytest.mark.benchmark
def test_quick_benchmark_reports_every_figure(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "benchmarks", "--quick", "--seconds", "2", "--tail", "1"]
    # its own process group: on a timeout its servers and load generators go with it
    process = subprocess.Popen(
        [*command, "--out", str(tmp_path)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=300)  # a hang guard, not a speed check
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, output
    results = json.loads((tmp_path / "results.json").read_text())

    assert [level["sessions"] for level in results["levels"]] == [1, 10]
    for level in results["levels"]:
        missing = [k for k in LEVEL_FIGURES if k not in level]
        assert not missing, (level["sessions"], missing)
        assert all(isinstance(level[k], int) for k in COUNTS), level
    # One session gets its replies even on a busy machine; at 10, a starved server may not
    # deliver any within the quick window (then those figures are null, and say so).
    single = results["levels"][0]
    assert [k for k in LEVEL_FIGURES if single[k] is None] == [], single
    for side in ("proxy", "baseline"):
        for direction in ("up", "down"):
            assert single[side][direction]["n"] > 0, (side, direction, single)
    for share in ("server_uplink_ms", "server_downlink_ms"):  # the session's own stats
        assert single[share]["p99_worst"] is not None, (share, single[share])
    for level in results["levels"]:
        loop = level["server_loop"]  # the server's loop, turn by turn (loop_probe.py)
        assert loop["turns"] > 0, loop
        assert 0 < loop["busy_pct"] <= 100, loop
        assert loop["turn_p50_ms"] <= loop["turn_p99_ms"] <= loop["turn_max_ms"], loop
        waits = level["waited_ms_per_s"]
        assert all(v is not None for side in waits.values() for v in side.values()), waits
        harness = level["harness_cpu_pct"]  # the simulator and clients beside the server
        assert all(v > 0 for side in harness.values() for v in side.values()), harness
        stolen = level["steal_ms_per_s"]  # by the hypervisor, per CPU of the machine
        for side in ("proxy", "baseline"):
            assert len(stolen[side]) == results["machine"]["cpus"], stolen
            assert all(v >= 0 for v in stolen[side]), stolen
    assert {r["mode"] for r in results["reps"]} == {"proxy", "sdk"}
    assert all(r["other_processes_cpu_pct"] >= 0 for r in results["reps"]), results["reps"]
    for figure in ("start_s", "rss_mib"):
        assert results["startup"]["with"][figure] > 0
        assert results["startup"]["without"][figure] > 0
    assert results["colab_guide"]["up_bytes_per_s_streaming"] > 0
    assert results["machine"]["cpus"]
    assert results["command"]
    for plot in ("latency.png", "added_latency.png", "cpu.png", "ping.png", "browser_hop.png"):
        assert (tmp_path / plot).stat().st_size > 0
    # Past the (quick mode's low) limit, arrivals are refused with the reason, the others
    # talk on: a server that never shed, or shed everyone, fails here.
    shed = results["shedding"]
    assert shed["accepted"] >= 1, shed
    assert shed["refused"] >= 1, shed
    assert shed["accepted"] + shed["refused"] == shed["requested"] == 8, shed
    # The reason names the rule that refused and its setting: the quick mode's low busy
    # limit, or (a test machine busy with other tests can stall the loop) the default lag.
    rules = ("c.GeminiLive.shed_loop_busy = 0.02", "c.GeminiLive.shed_loop_lag_ms = 100 ms")
    for answer in shed["refusals"]:
        assert answer.startswith("503: the server is over capacity"), answer
        assert any(rule in answer for rule in rules), answer
    assert shed["ping_ms"]["n"] > 0, shed
    markdown = (tmp_path / "RESULTS.md").read_text()
    assert "## Past capacity: new sessions refused" in markdown
    assert "## Targets" in markdown
    assert "per realtime session at 100 sessions (server; issue 11, item 2)" in markdown
    assert "REST does not stall at 100 sessions" in markdown
    assert "## The server's event loop" in markdown
    assert "the hypervisor stole up to" in markdown
    assert "<!-- notes -->" in markdown


@pytest.mark.benchmark
def test_the_floor_measures_each_bare_server() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "benchmarks.floor", "--sessions", "2"]
    command += ["--frame-ms", "40", "--seconds", "1"]
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split("|")[1:-1] for line in done.stdout.splitlines()[2:]]
    assert [row[0].strip() for row in rows] == ["asyncio", "websockets", "tornado"]
    for row in rows:
        assert [cell.strip() for cell in row[1:3]] == ["2", "40"]
        assert float(row[3]) >= 0.0  # a CPU share was read (no figure is judged)


@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs two CPUs to split",
)
def test_the_process_under_test_gets_a_cpu_of_its_own() -> None:
    from benchmarks.placement import on, placement

    where = placement(True)
    assert where.tested is not None
    assert where.rest is not None
    assert len(where.tested) == 1
    assert not where.tested & where.rest
    assert where.tested | where.rest == os.sched_getaffinity(0)
    show = [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"]
    for cpus in (where.tested, where.rest):
        child = subprocess.run(show, preexec_fn=on(cpus), capture_output=True, text=True)
        assert child.stdout.strip() == str(sorted(cpus))
    assert placement(False).tested is None
    assert on(None) is None


def test_the_targets_table_says_which_figure_misses() -> None:
    """RESULTS.md's readers judge by this table: each target missed says so, and the per
    session CPU holds at every level, the SDK's own figure beside it."""
    from benchmarks.results_md import targets
    from benchmarks.run import TARGETS

    def level(sessions: int, cpu: float, ping: float, up: float, rest: float) -> dict[str, Any]:
        sides = {d: {"p99": 1.0} for d in ("up", "down")}
        return {
            "sessions": sessions,
            "server_cpu_pct_per_session": cpu,
            "baseline_cpu_pct_per_session": 2.0,
            "ping_p99_ms": ping,
            "up_added_p99_ms": up,
            "down_added_p99_ms": 1.0,
            "rest_max_ms": rest,
            "proxy": sides,
            "baseline": sides,
        }

    def verdicts(*levels: dict[str, Any]) -> dict[str, str]:
        rows = targets({"targets": TARGETS, "levels": list(levels)})[2:]
        return {row.split(" | ")[0].strip("| "): row.split(" | ")[-1].strip(" |") for row in rows}

    good = verdicts(level(50, 0.4, 2.0, 1.0, 10.0), level(100, 0.3, 3.0, 1.0, 20.0))
    assert set(good.values()) == {"yes"}, good
    assert len(good) == 8, good
    # one session over 1 %, the uplink over 5 ms at 50 and 100, and everything else at 100
    bad = verdicts(
        level(1, 1.5, 1.0, 0.0, 5.0), level(50, 0.4, 2.0, 6.0, 10.0), level(100, 0.6, 11, 7, 150)
    )
    missed = sorted(k for k, v in bad.items() if v == "**no**")
    assert missed == sorted(
        [
            "≤ 5 ms p99 added, uplink, at 50 sessions",
            "≤ 1 % of a core per realtime session (server)",
            "ping p99 ≤ 10 ms at 100 sessions",
            "≤ 0.5 % of a core per realtime session at 100 sessions (server; issue 11, item 2)",
            "≤ 5 ms p99 added, uplink, at 100 sessions",
            "REST does not stall at 100 sessions: `GET sessions` answered within 100 ms",
        ]
    ), bad
    assert "1.50 at 1 (SDK alone 2.00)" in "".join(
        targets({"targets": TARGETS, "levels": [level(1, 1.5, 1.0, 0.0, 5.0)]})
    )

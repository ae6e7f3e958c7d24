"""RESULTS.md from a run's results: figures beside the targets, then the detail.

Text between `<!-- notes -->` and `<!-- /notes -->` in an existing file is kept: the place
for a human reading of the figures (findings, the profile's meaning, fixes)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

DASH = "\N{EN DASH}"
NOTES = re.compile(r"<!-- notes -->.*?<!-- /notes -->", re.S)


def _f(value: Any, digits: int = 2) -> str:
    if value is None:
        return DASH
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _level(results: dict[str, Any], sessions: int) -> dict[str, Any] | None:
    """The level with `sessions`, else the largest one below it."""
    below = [lv for lv in results["levels"] if lv["sessions"] <= sessions]
    return max(below, key=lambda lv: lv["sessions"]) if below else None


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _within(value: float | None, limit: float) -> str:
    """Whether a figure meets an upper limit (a missing figure does not)."""
    return _met(value is not None and value <= limit)


def targets(results: dict[str, Any]) -> list[str]:
    """Issue 11's targets beside the figures: item 3's (at 50 sessions, per session at every
    level, ping at 100), then item 2's for 100 sessions."""
    rows = ["| target | measured | met |", "|---|---|---|"]
    at50, at100 = _level(results, 50), _level(results, 100)
    if at50 is not None:
        rows += _added_rows(results["targets"]["added_p99_ms_at_50"], at50, 50)
    rows.append(_cpu_row(results))
    if at100 is not None:
        rows += _at_100_rows(results["targets"], at100)
    return rows


def _added_rows(limit: float, lv: dict[str, Any], target_level: int) -> list[str]:
    rows = []
    for direction in ("up", "down"):
        added = lv.get(f"{direction}_added_p99_ms")
        rows.append(
            f"| ≤ {limit:g} ms p99 added, {direction}link, at {target_level} sessions "
            f"| {_f(added)} ms at {lv['sessions']} (proxy {_f(lv['proxy'][direction]['p99'])}, "
            f"baseline {_f(lv['baseline'][direction]['p99'])}) "
            f"| {_within(added, limit)} |"
        )
    return rows


def _cpu_row(results: dict[str, Any]) -> str:
    """Met only if every level is: at 1 session the cost of waking an idle process for each
    frame dominates, so the SDK's own figure stands beside each."""
    limit = results["targets"]["cpu_pct_per_session"]
    figures = [lv["server_cpu_pct_per_session"] for lv in results["levels"]]
    per_level = ", ".join(
        f"{_f(lv['server_cpu_pct_per_session'])} at {lv['sessions']} "
        f"(SDK alone {_f(lv['baseline_cpu_pct_per_session'])})"
        for lv in results["levels"]
    )
    ok = all(cpu is not None and cpu <= limit for cpu in figures)
    return f"| ≤ {limit:g} % of a core per realtime session (server) | {per_level} | {_met(ok)} |"


def _at_100_rows(t: dict[str, Any], lv: dict[str, Any]) -> list[str]:
    n = lv["sessions"]
    ping, cpu, rest = lv["ping_p99_ms"], lv["server_cpu_pct_per_session"], lv["rest_max_ms"]
    return [
        f"| ping p99 ≤ {t['ping_p99_ms_at_100']:g} ms at 100 sessions "
        f"| {_f(ping)} ms at {n} | {_within(ping, t['ping_p99_ms_at_100'])} |",
        f"| ≤ {t['cpu_pct_per_session_at_100']:g} % of a core per realtime session at 100 "
        f"sessions (server; issue 11, item 2) | {_f(cpu)} at {n} "
        f"| {_within(cpu, t['cpu_pct_per_session_at_100'])} |",
        *_added_rows(t["added_p99_ms_at_100"], lv, 100),
        f"| REST does not stall at 100 sessions: `GET sessions` answered within "
        f"{t['rest_max_ms_at_100']:g} ms | longest {_f(rest)} ms at {n} "
        f"| {_within(rest, t['rest_max_ms_at_100'])} |",
    ]


def _table(head: list[str], rows: Iterable[list[str]]) -> list[str]:
    """A Markdown table: the header, its separator, a line per row of cells."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(cells) + " |" for cells in rows]


def levels_table(results: dict[str, Any]) -> list[str]:
    head = [
        "sessions",
        "uplink p50 proxy / baseline / added / ratio",
        "uplink p99 proxy / baseline / added / ratio",
        "downlink p50 …",
        "downlink p99 …",
        "ping p50 / p99",
        "REST `GET sessions` p50 / p99 / max",
    ]

    def row(lv: dict[str, Any]) -> list[str]:
        cells = [str(lv["sessions"])]
        for direction in ("up", "down"):
            for q in ("p50", "p99"):
                cells.append(
                    f"{_f(lv['proxy'][direction][q])} / {_f(lv['baseline'][direction][q])} / "
                    f"{_f(lv.get(f'{direction}_added_{q}_ms'))} / "
                    f"{_f(lv.get(f'{direction}_ratio_{q}'))}x"
                )
        rest = " / ".join(_f(lv.get(f"rest_{q}_ms")) for q in ("p50", "p99", "max"))
        return [*cells, f"{_f(lv['ping_p50_ms'])} / {_f(lv['ping_p99_ms'])}", rest]

    return _table(head, map(row, results["levels"]))


def cost_table(results: dict[str, Any]) -> list[str]:
    head = [
        "sessions",
        "CPU %/session: server",
        "baseline (SDK process)",
        "proxy's clients",
        "RSS MiB/session: server",
        "baseline",
        "lost up / down (proxy)",
        "late up / down (proxy)",
        "lost up / down (baseline)",
        "late up / down (baseline)",
        "interrupted proxy / baseline",
        "replies proxy / baseline",
    ]

    def row(lv: dict[str, Any]) -> list[str]:
        pairs = [
            (lv[f"{side}_up_frames_{what}"], lv[f"{side}_down_bursts_{what}"])
            for side in ("proxy", "baseline")
            for what in ("lost", "late")
        ]
        pairs += [(lv[f"proxy_{k}"], lv[f"baseline_{k}"]) for k in ("interrupted", "replies")]
        return [
            str(lv["sessions"]),
            *(
                _f(lv[k], 3)
                for k in (
                    "server_cpu_pct_per_session",
                    "baseline_cpu_pct_per_session",
                    "proxy_client_cpu_pct_per_session",
                    "server_rss_mib_per_session",
                    "baseline_rss_mib_per_session",
                )
            ),
            *(f"{a} / {b}" for a, b in pairs),
        ]

    return _table(head, map(row, results["levels"]))


def waits_table(results: dict[str, Any]) -> list[str]:
    intro = (
        "Milliseconds per second that each process was ready to run but waited for a CPU "
        "(Linux schedstat, all its threads, during the measured windows). A wait on the "
        "simulator or the clients delays the timestamps of both sides; the proxy's clients "
        "share the simulator's CPU(s), the baseline has no separate clients. Beside the "
        "waits, the CPU (% of a core) that the simulator and the clients used, and what the "
        "hypervisor stole from each CPU (ms per second: time this machine's CPU had work "
        "but the host ran something else; a process seems to run through it, so a long "
        "turn of the server's loop may be the host's)."
    )
    head = [
        "sessions",
        "proxy: server",
        "proxy: simulator",
        "proxy: clients",
        "baseline: SDK process",
        "baseline: simulator",
        "CPU %: proxy's simulator / clients; baseline's simulator",
        "stolen ms/s, CPU 0 / 1 …: proxy; baseline",
    ]

    def row(lv: dict[str, Any]) -> list[str]:
        w = lv.get("waited_ms_per_s") or {}
        p, b = w.get("proxy") or {}, w.get("baseline") or {}
        waits = [p.get("server"), p.get("sim"), p.get("load"), b.get("sdk"), b.get("sim")]
        cpu = lv.get("harness_cpu_pct") or {}
        pc, bc = cpu.get("proxy") or {}, cpu.get("baseline") or {}
        used = (
            " / ".join(_f(v, 1) for v in (pc.get("sim"), pc.get("load")))
            + "; "
            + _f(bc.get("sim"), 1)
        )
        steal = lv.get("steal_ms_per_s") or {}
        stolen = "; ".join(
            " / ".join(_f(v, 1) for v in steal.get(side) or []) or DASH
            for side in ("proxy", "baseline")
        )
        return [str(lv["sessions"]), *(_f(v, 1) for v in waits), used, stolen]

    return [intro, "", *_table(head, map(row, results["levels"]))]


def shedding_section(results: dict[str, Any]) -> list[str]:
    sh = results.get("shedding")
    if not sh:
        return ["Not run (`--shed-sessions 0`)."]
    intro = (
        f"{sh['requested']} sessions arrive one every {sh['ramp_ms']:g} ms while the earlier "
        "ones talk, at a server that sheds (`c.GeminiLive.shed_loop_busy = "
        f"{sh['shed_loop_busy']:g}`, the default is 0.8; `shed_loop_lag_ms = 100`). The "
        "latencies are end to end as above, of the sessions let in, once the last one had "
        "arrived; beside them, what the median session's own stats say of its audio's time "
        "in the server."
    )
    head = [
        "requested",
        "let in",
        "refused (503)",
        "first refused",
        "server CPU %",
        "uplink p50 / p99",
        "downlink p50 / p99",
        "ping p50 / p99",
        "late up / down",
        "in the server, p99: `uplink_ms` / `downlink_ms`",
    ]
    late = sh["lost_or_late"]
    share = [(sh.get(f"server_{k}_ms") or {}).get("p99_median") for k in ("uplink", "downlink")]
    row = [
        str(sh["requested"]),
        str(sh["accepted"]),
        str(sh["refused"]),
        _f(sh["first_refused"]),
        _f(sh["server_cpu_pct"], 1),
        *(f"{_f(sh[k]['p50'])} / {_f(sh[k]['p99'])}" for k in ("up_ms", "down_ms", "ping_ms")),
        f"{late['up_frames_late']} / {late['down_bursts_late']}",
        f"{_f(share[0])} / {_f(share[1])}",
    ]
    answers = [f"- The server's answer: `{answer}`" for answer in sh["refusals"]]
    return [intro, "", *_table(head, [row]), "", *answers]


def loop_table(results: dict[str, Any]) -> list[str]:
    intro = (
        "Each turn of the server's event loop, from one `select` returning to the next "
        "(benchmarks/loop_probe.py), during the proxy loads: a frame that comes in during a "
        "turn waits for the rest of it, then for its own, so the turns bound what the loop "
        "adds to a frame's latency. Beside them, what the sessions' own stats say of the "
        "audio's time in the server (`stats.uplink_ms`: a frame from its arrival on the "
        "websocket to its write upstream; `stats.downlink_ms`: a chunk of model audio from "
        "the upstream having it to its write to the device): the median session's p50 and "
        "p99, and the worst session's p99."
    )
    head = [
        "sessions",
        "loop busy %",
        "turns",
        "turn p50 / p99 / p99.9 / max, ms",
        "`uplink_ms` p50 / p99 / worst p99",
        "`downlink_ms` p50 / p99 / worst p99",
    ]

    def row(lv: dict[str, Any]) -> list[str]:
        loop = lv.get("server_loop") or {}
        turns = [loop.get(f"turn_{k}_ms") for k in ("p50", "p99", "p999", "max")]
        shares = [lv.get(k) or {} for k in ("server_uplink_ms", "server_downlink_ms")]
        return [
            str(lv["sessions"]),
            _f(loop.get("busy_pct"), 1),
            str(loop.get("turns", DASH)),
            " / ".join(map(_f, turns)),
            *(
                " / ".join(_f(s.get(k)) for k in ("p50_median", "p99_median", "p99_worst"))
                for s in shares
            ),
        ]

    return [intro, "", *_table(head, map(row, results["levels"]))]


def reps_table(results: dict[str, Any]) -> list[str]:
    head = [
        "sessions",
        "rep",
        "mode",
        "up p50 / p99",
        "down p50 / p99",
        "ping p50 / p99",
        "server CPU %",
        "load-generator CPU %",
        "simulator CPU %",
        "other processes CPU %",
        "client lag p99",
        "session stats (drops, reconnects)",
    ]

    def row(r: dict[str, Any]) -> list[str]:
        ping = r.get("ping_ms", {})
        stats = ", ".join(f"{k} {v}" for k, v in r.get("session_stats", {}).items()) or DASH
        return [
            str(r["sessions"]),
            str(r["rep"]),
            r["mode"],
            f"{_f(r['up_ms']['p50'])} / {_f(r['up_ms']['p99'])}",
            f"{_f(r['down_ms']['p50'])} / {_f(r['down_ms']['p99'])}",
            f"{_f(ping.get('p50'))} / {_f(ping.get('p99'))}",
            *(_f(r.get(k), 1) for k in ("server_cpu_pct", "load_cpu_pct", "sim_cpu_pct")),
            _f(r["other_processes_cpu_pct"], 1),
            _f(r["client_lag_p99_ms"]),
            stats,
        ]

    return _table(head, map(row, results["reps"]))


def hop_table(results: dict[str, Any]) -> list[str]:
    colab, ideal = results["colab_guide"], results["extension_ideal"]
    ups = [lv["browser_up_bytes_per_s"] for lv in results["levels"]]
    downs = [lv["browser_down_bytes_per_s_of_model_audio"] for lv in results["levels"]]
    ups = [u for u in ups if u] or [0.0]
    downs = [d for d in downs if d] or [0.0]
    up = sum(ups) / len(ups)
    down = sum(downs) / len(downs)
    return [
        "| per session | this extension, measured | by design | Colab guide, computed | ratio |",
        "|---|---|---|---|---|",
        f"| mic → server while streaming, B/s | {up:,.0f} (pings included) "
        f"| {ideal['up_bytes_per_s_streaming']:,} "
        f"| {colab['up_bytes_per_s_streaming']:,} "
        f"| {up / colab['up_bytes_per_s_streaming']:.2f} |",
        f"| server → speaker per second of model audio, B/s | {down:,.0f} (events included) "
        f"| ≥ {ideal['down_bytes_per_s_model_speaking_min']:,} "
        f"| {colab['down_bytes_per_s_model_speaking']:,} "
        f"| {down / colab['down_bytes_per_s_model_speaking']:.2f} |",
        f"| idle (connected, nothing said), B/s | 0 (plus pings) | 0 "
        f"| {colab['up_bytes_per_s_idle']:,} up + {colab['down_bytes_per_s_idle']:,} down "
        "| " + DASH + " |",
    ]


def startup_table(results: dict[str, Any]) -> list[str]:
    s = results.get("startup")
    if not s:
        return ["Not measured in this run (`--startup-reps 0`)."]
    return [
        f"Medians of {len(s['with']['runs'])} starts with the extension (the gemini servers of "
        f"the levels included) and {len(s['without']['runs'])} without it; same command "
        "otherwise (jupyter-server and the other installed server extensions load either way).",
        "",
        "| server | start → first `api/status` answer, s (median) | RSS after start, MiB |",
        "|---|---|---|",
        f"| with the extension | {_f(s['with']['start_s'], 3)} | {_f(s['with']['rss_mib'], 1)} |",
        f"| without | {_f(s['without']['start_s'], 3)} | {_f(s['without']['rss_mib'], 1)} |",
        f"| cost of the extension | {_f(s['added_start_s'], 3)} | {_f(s['added_rss_mib'], 1)} |",
    ]


def profile_section(results: dict[str, Any]) -> list[str]:
    p = results.get("profile")
    if not p:
        return ["No profile in this run (`--profile-sessions 0` or not a run level)."]
    lines = [
        f"`py-spy record --rate {p['rate_hz']} --nonblocking --format raw` on the server during "
        f"one extra proxy load of {p['sessions']} sessions (not part of the figures above): "
        f"{p['samples']} samples, the server's threads busy "
        f"{p['busy_pct_of_a_core']} % of a core (psutil: "
        f"{_f(p['server_cpu_pct_while_profiled'], 1)} %). Raw stacks: `{p['file']}`.",
        "",
        "Where the time goes (each sample charged to the innermost frame of a category):",
        "",
        "| category | share of server samples |",
        "|---|---|",
    ]
    lines += [f"| {c['name']} | {c['share_pct']} % |" for c in p["categories"]]
    lines += ["", "Top functions, inclusive (a function and what it calls):", ""]
    lines += ["| function | share |", "|---|---|"]
    lines += [f"| `{c['name']}` | {c['share_pct']} % |" for c in p["inclusive"]]
    lines += ["", "Top functions, self:", "", "| function | share |", "|---|---|"]
    lines += [f"| `{c['name']}` | {c['share_pct']} % |" for c in p["self"]]
    return lines


def write(results: dict[str, Any], plots: list[str], path: Path) -> None:
    m = results["machine"]
    rel = os.path.relpath(Path(results["settings"]["out"]), path.parent)
    s = results["settings"]
    others = [r["other_processes_cpu_pct"] for r in results["reps"]]
    stolen = max((v for r in results["reps"] for v in r.get("steal_ms_per_s", [])), default=0.0)
    lines = [
        "# Benchmark results: the proxy vs the SDK straight to the simulator",
        "",
        f"- Date: {m['date']}; commit `{m['commit']}`; wall time {results['wall_s']} s.",
        f"- Command: `{results['command']}`",
        f"- Machine: {m['cpus']} CPUs ({m['cpu']}), {m['platform']}, Python {m['python']}; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + ".",
        f"- Load: load average {results['loadavg_before']} before, "
        f"{results['loadavg_after']} after; other processes used "
        f"{min(others):.0f} to {max(others):.0f} % of a core during the measured windows "
        "(the machine is shared with other engineers' test runs), and the hypervisor "
        f"stole up to {stolen:.0f} ms per second from one of its CPUs."
        + (f" {results['note']}" if results.get("note") else ""),
        f"- Settings: levels {s['sessions']}, {s['reps']} repetitions per level and side "
        f"(alternating which goes first), {s['seconds']} s of realtime audio per load, "
        f"microphone frames of {s.get('frame_ms', 20)} ms "
        + ("sent by every device at once" if s.get("aligned") else "on each device's own phase")
        + f", pings every {s['ping_ms']:g} ms per "
        f"device, late = one way > {s['late_ms']:g} ms.",
        f"- CPUs: {results.get('placement', 'not pinned')} (benchmarks/placement.py).",
        "",
        "## Targets",
        "",
        *targets(results),
        "",
        "## Latency (ms; proxy = client → jupyter server → SDK → simulator; "
        "baseline = SDK → simulator)",
        "",
        "REST: during each proxy load the benchmark lists the sessions (`GET "
        "gemini-live/api/sessions`, what an open panel polls) every 0.5 s and times the answer.",
        "",
        *levels_table(results),
        "",
        "## Cost, late and lost audio",
        "",
        *cost_table(results),
        "",
        "## The server's event loop",
        "",
        *loop_table(results),
        "",
        "## Waiting for a CPU",
        "",
        *waits_table(results),
        "",
        "## Past capacity: new sessions refused",
        "",
        *shedding_section(results),
        "",
        "## Browser hop",
        "",
        *hop_table(results),
        "",
        "## Extension start-up cost",
        "",
        *startup_table(results),
        "",
        "## Profile of the server (gemini path)",
        "",
        *profile_section(results),
        "",
        "## Plots",
        "",
        *[f"![{name}]({rel}/{name})" for name in plots],
        "",
        "## Every load",
        "",
        *reps_table(results),
        "",
        *[
            f"- FAILED: {f['mode']} at {f['sessions']} sessions, rep {f['rep']}: {f['error']}"
            for f in results.get("failed", [])
        ],
        "",
        "## Notes",
        "",
    ]
    notes = "<!-- notes -->\n<!-- /notes -->"
    if path.exists():
        found = NOTES.search(path.read_text())
        if found:
            notes = found.group(0)
    path.write_text("\n".join(lines) + notes + "\n")


def main() -> None:
    """`python -m benchmarks.results_md [RESULTS.json [RESULTS.md]]`: draw and write again."""
    import json
    import sys

    from benchmarks import plots

    source = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/results.json")
    target = Path(sys.argv[2] if len(sys.argv) > 2 else "benchmarks/RESULTS.md")
    results = json.loads(source.read_text())
    write(results, plots.draw(results, source.parent), target)


if __name__ == "__main__":
    main()

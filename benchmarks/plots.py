"""PNG plots of a run (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def draw(results: dict[str, Any], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = results["levels"]
    n = [lv["sessions"] for lv in levels]
    names: list[str] = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        names.append(name)

    def by_sessions(ax: Any, ylabel: str, title: str, yscale: str | None = None) -> None:
        """The axes every per-level figure shares: sessions on a log scale."""
        ax.set_xscale("log")
        if yscale == "symlog":
            ax.set_yscale("symlog", linthresh=1)
        elif yscale is not None:
            ax.set_yscale(yscale)
        ax.set_xticks(n, [str(x) for x in n])
        ax.set_xlabel("concurrent realtime sessions")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(fontsize=8)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, direction, title in (
        (axes[0], "up", "uplink: client send → simulator"),
        (axes[1], "down", "downlink: simulator send → client"),
    ):
        for who, style in (("proxy", "-"), ("baseline", "--")):
            for q, marker in (("p50", "o"), ("p99", "s")):
                ys = [lv[who][direction][q] for lv in levels]
                ax.plot(n, ys, style, marker=marker, label=f"{who} {q}")
        ax.axhline(5, color="grey", lw=0.8, ls=":")
        by_sessions(ax, "one-way latency, ms", title, "log")
    save(fig, "latency.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    for direction in ("up", "down"):
        for q, marker in (("p50", "o"), ("p99", "s")):
            ys = [lv.get(f"{direction}_added_{q}_ms") for lv in levels]
            ax.plot(n, ys, marker=marker, label=f"{direction}link added {q}")
    ax.axhline(results["targets"]["added_p99_ms_at_50"], color="red", lw=0.8, ls=":",
               label="target p99 at 50")  # fmt: skip
    by_sessions(ax, "proxy - baseline, ms", "latency added by the proxy", "symlog")
    save(fig, "added_latency.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(n, [lv["server_cpu_pct_per_session"] for lv in levels], "o-", label="server (proxy)")
    ax.plot(n, [lv["baseline_cpu_pct_per_session"] for lv in levels], "s--",
            label="baseline process (SDK)")  # fmt: skip
    ax.plot(n, [lv["proxy_client_cpu_pct_per_session"] for lv in levels], "^:",
            label="proxy's load generator")  # fmt: skip
    ax.axhline(results["targets"]["cpu_pct_per_session"], color="red", lw=0.8, ls=":",
               label="target")  # fmt: skip
    by_sessions(ax, "% of one core per session", "CPU per realtime session")
    save(fig, "cpu.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(n, [lv["ping_p50_ms"] for lv in levels], "o-", label="p50")
    ax.plot(n, [lv["ping_p99_ms"] for lv in levels], "s-", label="p99")
    ax.axhline(results["targets"]["ping_p99_ms_at_100"], color="red", lw=0.8, ls=":",
               label="target p99 at 100")  # fmt: skip
    by_sessions(ax, "ping → pong, ms", "stream websocket round trip under load", "log")
    save(fig, "ping.png")

    colab = results["colab_guide"]
    measured_up = [lv["browser_up_bytes_per_s"] for lv in levels if lv["browser_up_bytes_per_s"]]
    measured_down = [
        lv["browser_down_bytes_per_s_of_model_audio"]
        for lv in levels
        if lv["browser_down_bytes_per_s_of_model_audio"]
    ]
    fig, ax = plt.subplots(figsize=(6, 4))
    labels = ["mic → server\n(streaming)", "server → speaker\n(model speaking)"]
    ours = [
        sum(measured_up) / max(1, len(measured_up)) / 1000,
        sum(measured_down) / max(1, len(measured_down)) / 1000,
    ]
    guide = [
        colab["up_bytes_per_s_streaming"] / 1000,
        colab["down_bytes_per_s_model_speaking"] / 1000,
    ]
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], ours, 0.4, label="this extension (measured)")
    ax.bar([x + 0.2 for x in xs], guide, 0.4, label="Colab guide (computed)")
    ax.set_xticks(list(xs), labels)
    ax.set_ylabel("kB/s per session")
    ax.set_title("browser hop")
    ax.legend(fontsize=8)
    save(fig, "browser_hop.png")
    return names

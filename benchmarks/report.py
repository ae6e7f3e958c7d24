"""Reporting benchmark figures: percentiles, a plain-text table, and the `--json` file."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def percentiles(values: Sequence[float], scale: float = 1000.0) -> dict[str, float | int]:
    """p50/p90/p99/max/mean of `values` times `scale` (seconds → ms by default)."""
    if not values:
        return {"n": 0}
    data = np.asarray(values, dtype=np.float64) * scale
    p50, p90, p99 = np.percentile(data, [50, 90, 99])
    return {
        "n": int(data.size),
        "p50": round(float(p50), 3),
        "p90": round(float(p90), 3),
        "p99": round(float(p99), 3),
        "max": round(float(data.max()), 3),
        "mean": round(float(data.mean()), 3),
    }


def table(title: str, rows: Sequence[dict[str, Any]]) -> str:
    """Rows of dicts as an aligned text table; columns in first-seen order."""
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    cells = [[_cell(row.get(c, "")) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = [title, "  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) >= 1000 or abs(value) < 0.01 else f"{value:.2f}"
    return str(value)


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")


def machine() -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
    }


def write_json(path: Path | None, benchmark: str, results: dict[str, Any]) -> None:
    if path is None:
        return
    path.write_text(json.dumps({"benchmark": benchmark, **machine(), **results}, indent=2))
    print(f"\nwrote {path}")

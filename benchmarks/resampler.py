"""Quality and speed of the Python-side resampling (soxr) against naive linear interpolation.

The echo backend resamples each utterance 16 → 24 kHz with `soxr.resample` on int16
samples; the recorder resamples the microphone 16 → 24 kHz with `soxr.ResampleStream`
in 20 ms chunks. Measured, next to `numpy.interp` (linear interpolation, no filter):

- SNR of a 1 kHz tone resampled 16k → 24k and 24k → 16k against the ideal tone at the
  output rate (50 ms trimmed at each end; the best alignment within ± half a period
  is used, so a filter's delay is not counted as noise);
- attenuation of an out-of-band 10 kHz tone at 24k → 16k (above the new 8 kHz Nyquist:
  a proper resampler removes it, linear interpolation folds it down to 6 kHz);
- throughput as x real time (audio seconds per second, best of `--repeat`; one thread).

No server is started.

    python -m benchmarks.resampler [--seconds 60] [--repeat 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import soxr

from benchmarks.report import add_json_option, table, write_json

Resampler = Callable[[np.ndarray, int, int], np.ndarray]
TRIM_S = 0.05
CHUNK_MS = 20


def tone(hz: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * hz * np.arange(int(rate * seconds)) / rate)


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.round(x * 32767).astype(np.int16)


def soxr_float(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    out: np.ndarray = soxr.resample(x, rate_in, rate_out)
    return out


def soxr_int16(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """The echo backend's call: int16 in, int16 out, one shot."""
    out = soxr.resample(to_int16(x), rate_in, rate_out)
    return np.asarray(out, dtype=np.float64) / 32767


def soxr_stream_int16(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """The recorder's way: a ResampleStream fed 20 ms int16 chunks."""
    stream = soxr.ResampleStream(rate_in, rate_out, 1, dtype="int16")
    samples = to_int16(x)
    step = rate_in * CHUNK_MS // 1000
    parts = [
        stream.resample_chunk(samples[i : i + step], last=i + step >= len(samples))
        for i in range(0, len(samples), step)
    ]
    return np.concatenate(parts).astype(np.float64) / 32767


def linear(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """The baseline: numpy.interp, no anti-aliasing filter."""
    n_out = len(x) * rate_out // rate_in
    out: np.ndarray = np.interp(np.arange(n_out) * rate_in / rate_out, np.arange(len(x)), x)
    return out


METHODS: dict[str, Resampler] = {
    "soxr float64 (one shot)": soxr_float,
    "soxr int16 (echo backend)": soxr_int16,
    "soxr stream int16, 20 ms chunks (recorder)": soxr_stream_int16,
    "numpy.interp linear (baseline)": linear,
}


def snr_db(out: np.ndarray, ideal: np.ndarray, rate: int, hz: float = 1000.0) -> float:
    """SNR in dB of `out` against `ideal` (same rate) at the best whole-sample lag."""
    max_lag = int(rate / hz / 2)
    trim = int(TRIM_S * rate)
    reference = ideal[trim + max_lag : len(ideal) - trim - max_lag]
    best = -np.inf
    for lag in range(-max_lag, max_lag + 1):
        start = trim + max_lag + lag
        piece = out[start : start + len(reference)]
        if len(piece) < len(reference):
            continue
        noise = float(np.sum((piece - reference) ** 2))
        snr = 10 * np.log10(float(np.sum(reference**2)) / max(noise, 1e-30))
        best = max(best, float(snr))
    return best


def level_db(out: np.ndarray, x: np.ndarray, rate_in: int, rate_out: int) -> float:
    """Output RMS relative to input RMS, ends trimmed."""
    a = out[int(TRIM_S * rate_out) : len(out) - int(TRIM_S * rate_out)]
    b = x[int(TRIM_S * rate_in) : len(x) - int(TRIM_S * rate_in)]
    rms_a = np.sqrt(np.mean(a**2))
    rms_b = np.sqrt(np.mean(b**2))
    return float(20 * np.log10(max(float(rms_a), 1e-12) / float(rms_b)))


def speed(method: Resampler, rate_in: int, rate_out: int, seconds: float, repeat: int) -> float:
    x = tone(1000.0, rate_in, seconds)
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        method(x, rate_in, rate_out)
        best = min(best, time.perf_counter() - start)
    return seconds / max(best, 1e-9)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for name, method in METHODS.items():
        up_in = tone(1000.0, 16000, 2.0)
        up_snr = snr_db(method(up_in, 16000, 24000), tone(1000.0, 24000, 2.0), 24000)
        down_in = tone(1000.0, 24000, 2.0)
        down_out = method(down_in, 24000, 16000)
        down_snr = snr_db(down_out, tone(1000.0, 16000, 2.0), 16000)
        alias_in = tone(10000.0, 24000, 2.0)
        alias = level_db(method(alias_in, 24000, 16000), alias_in, 24000, 16000)
        rows.append(
            {
                "method": name,
                "snr_1k_16to24_db": round(up_snr, 1),
                "snr_1k_24to16_db": round(down_snr, 1),
                "tone_10k_24to16_db": round(alias, 1),
                "x_realtime_16to24": round(speed(method, 16000, 24000, args.seconds, args.repeat)),
                "x_realtime_24to16": round(speed(method, 24000, 16000, args.seconds, args.repeat)),
            }
        )
    base = rows[-1]
    for row in rows:
        row["snr_gain_vs_linear_db"] = round(row["snr_1k_16to24_db"] - base["snr_1k_16to24_db"], 1)
        row["speed_vs_linear"] = round(row["x_realtime_16to24"] / base["x_realtime_16to24"], 2)
    return {"seconds": args.seconds, "repeat": args.repeat, "methods": rows}


def show(results: dict[str, Any]) -> None:
    rows = [
        {
            "method": r["method"],
            "SNR 16→24 dB": r["snr_1k_16to24_db"],
            "SNR 24→16 dB": r["snr_1k_24to16_db"],
            "10 kHz 24→16 dB": r["tone_10k_24to16_db"],
            "xRT 16→24": r["x_realtime_16to24"],
            "xRT 24→16": r["x_realtime_24to16"],
            "SNR vs linear": r["snr_gain_vs_linear_db"],
            "speed vs linear": r["speed_vs_linear"],
        }
        for r in results["methods"]
    ]
    print(table("resampling a 1 kHz tone (SNR) and a 10 kHz tone (level after 24→16)", rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="audio per speed run")
    parser.add_argument("--repeat", type=int, default=5, help="speed runs (best is kept)")
    add_json_option(parser)
    args = parser.parse_args()
    results = measure(args)
    show(results)
    write_json(args.json, "resampler", results)


if __name__ == "__main__":
    main()

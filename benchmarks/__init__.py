"""Benchmarks of jupyter_gemini_live: `python -m benchmarks` (see README.md)."""

"""Waiting on a condition in async tests, for state that has no event of its own."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable


async def until_true(
    check: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = 10.0
) -> None:
    """Wait until `check()` holds (it is polled: for state that has no event to wait on)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.02)

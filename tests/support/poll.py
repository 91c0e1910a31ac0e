"""Waiting for a condition with a deadline: the only way tests synchronise."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(fn: Callable[[], T], deadline: float = 30.0, interval: float = 0.05) -> T:
    """`fn()` until it is truthy or `deadline` seconds pass; returns the last value
    (falsy on timeout), for callers that assert on it with their own message."""
    end = time.monotonic() + deadline
    while True:
        value = fn()
        if value or time.monotonic() > end:
            return value
        time.sleep(interval)


def wait_until(
    fn: Callable[[], T], timeout: float = 30.0, what: str = "condition", interval: float = 0.02
) -> T:
    """`fn()` until it is truthy; returns that value, or fails the test after `timeout`."""
    end = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)

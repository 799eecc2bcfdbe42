"""A latest-wins slot: the one message passing style between live threads.

A writer replaces the value; a reader takes the newest one and knows whether it is new
by its version. Nothing is queued, so a slow reader sees fresh data, never a backlog.
"""

from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class Latest(Generic[T]):
    def __init__(self, initial: T | None = None) -> None:
        self._cond = threading.Condition()
        self._value: T | None = initial
        self._version = 0
        self.dropped = 0  # values replaced before anyone read them
        self._read_version = 0

    def put(self, value: T) -> int:
        with self._cond:
            if self._version > self._read_version:
                self.dropped += 1
            self._value = value
            self._version += 1
            self._cond.notify_all()
            return self._version

    def put_merged(self, value: T, merge: Callable[[T, T], T]) -> int:
        """Like ``put``, but an unread value is folded into the new one with ``merge(old, new)``,
        so events (onsets, beats) in a value nobody read are not lost."""
        with self._cond:
            if self._version > self._read_version and self._value is not None:
                self.dropped += 1
                value = merge(self._value, value)
            self._value = value
            self._version += 1
            self._cond.notify_all()
            return self._version

    def get(self) -> tuple[T | None, int]:
        with self._cond:
            self._read_version = max(self._read_version, self._version)
            return self._value, self._version

    def peek(self) -> tuple[T | None, int]:
        """The newest value, without marking it read: for a second reader (the display reads
        the features for its uniforms; only the inference thread's takes count, so an unread
        frame's events are still merged into the next one for it)."""
        with self._cond:
            return self._value, self._version

    def wait_newer(self, version: int, timeout: float) -> tuple[T | None, int]:
        """Wait until the version passes ``version`` (or the timeout); return the newest."""
        with self._cond:
            self._cond.wait_for(lambda: self._version > version, timeout)
            self._read_version = max(self._read_version, self._version)
            return self._value, self._version

    @property
    def version(self) -> int:
        return self._version

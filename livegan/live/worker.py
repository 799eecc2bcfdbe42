"""A background thread with a stop flag: the shape every live worker shares."""

from __future__ import annotations

import threading


class Worker:
    """Subclasses implement ``_run`` and poll ``self._stop``; ``stop`` joins."""

    join_timeout_s = 5.0

    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.join_timeout_s)

    def _run(self) -> None:
        raise NotImplementedError

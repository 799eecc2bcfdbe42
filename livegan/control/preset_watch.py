"""Hot reload: re-apply the current preset when its file changes.

A VJ edits the TOML in a text editor while the show runs. Saving applies it within
``interval`` seconds; saving a broken file keeps the look on screen and reports the
problem as one line with file:line (``PresetError``), until the file is fixed.

The file's bytes are compared, not its mtime, so two saves within one timestamp tick
are still seen; presets are small, so reading them twice a second costs nothing.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from ..conductor.preset import Preset, apply_preset, find_preset, parse_preset
from ..errors import LiveganError
from ..params.registry import ParamRegistry

log = logging.getLogger("livegan.presets")


class PresetWatcher:
    def __init__(self, registry: ParamRegistry, preset: str | Path, interval: float = 0.5,
                 on_error: Callable[[str], None] | None = None,
                 on_apply: Callable[[Preset], None] | None = None, apply_first: bool = False,
                 apply: Callable[[Preset], None] | None = None) -> None:
        """``apply_first``: apply the file on the first check; otherwise only changes made after now.
        ``apply``: how a preset goes live (the show's session; default: straight into the registry)."""
        self.registry = registry
        self.apply = apply or (lambda preset: apply_preset(registry, preset, source="preset-reload"))
        self.interval = interval
        self.on_error = on_error or (lambda msg: log.warning("preset not reloaded: %s", msg))
        self.on_apply = on_apply
        self.current: Preset | None = None
        self.last_error = ""
        self.reloads = 0
        self._lock = threading.Lock()
        self._path = find_preset(str(preset))
        self._seen: bytes | None = None if apply_first else self._read(self._path)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def path(self) -> Path:
        return self._path

    def watch(self, preset: str | Path, apply_now: bool = False) -> None:
        """Follow another preset (after a load from OSC or the keyboard)."""
        path = find_preset(str(preset))
        with self._lock:
            self._path = path
            self._seen = None if apply_now else self._read(path)

    @staticmethod
    def _read(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except OSError:
            return None

    def check(self) -> bool:
        """Apply the file if it changed since the last check; returns whether it was applied."""
        with self._lock:
            path = self._path
            data = self._read(path)
            if data is None or data == self._seen:
                return False  # a file being replaced may vanish for a moment: wait for it
            self._seen = data
            try:
                preset = parse_preset(data.decode("utf-8"), path, self.registry)
                self.apply(preset)
            except UnicodeDecodeError:
                self._report(f"{path}: not UTF-8 text")
                return False
            except LiveganError as exc:  # PresetError (file:line) or a value the registry refuses
                self._report(str(exc))
                return False
            self.current = preset
            self.last_error = ""
            self.reloads += 1
        if self.on_apply:
            self.on_apply(preset)
        return True

    def _report(self, message: str) -> None:
        self.last_error = message
        self.on_error(message)

    def start(self) -> "PresetWatcher":
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="livegan-preset-watch", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # the watcher must outlive any surprise in a file
                log.exception("preset watcher")

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2.0)
            self._thread = None

"""The output interface: what every video output is, and the picture it is handed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OutFrame:
    """One displayed picture, as read back from the GL thread (rows bottom-up, as GL keeps them)."""

    data: bytes  # RGB, ``size[0] * size[1] * 3`` bytes, the bottom row first
    size: tuple[int, int]  # width, height
    time: float  # audio time of the picture (s): what the audience heard when it was shown
    index: int  # displayed frame number
    shown_at: float  # time.monotonic() of the draw

    def rgb(self) -> np.ndarray:
        """[H, W, 3] uint8, the top row first (a view: read-only)."""
        w, h = self.size
        return np.frombuffer(self.data, np.uint8).reshape(h, w, 3)[::-1]


class VideoOutput:
    """A place the picture goes. ``send`` runs on the output's own worker thread only.

    A subclass checks what it needs in ``__init__`` (the module, the device, the URL), so a
    missing part fails before the show starts with one line; ``open`` starts sending at the
    show's picture size and display rate; ``send`` may raise (the worker counts the error,
    shows it and goes on); ``close`` ends it.
    """

    kind = "output"

    def __init__(self, target: str) -> None:
        self.target = target

    def open(self, size: tuple[int, int], fps: float) -> None:
        raise NotImplementedError

    def send(self, frame: OutFrame) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to release by default."""

    def detail(self) -> str:
        """What the HUD adds after the output's name and frame count (e.g. connections)."""
        return ""


def even_size(size: tuple[int, int]) -> tuple[int, int]:
    """The largest even width and height within ``size`` (4:2:0 video needs even sides)."""
    return max(2, size[0] - size[0] % 2), max(2, size[1] - size[1] % 2)

"""The live app hides its start-up heap from the cyclic collector, and only while it runs."""

from __future__ import annotations

import gc

from live_helpers import PatternRenderer, click_track

from livegan.live.app import LiveApp, LiveConfig
from livegan.live.gc_pause import GcPauses, freeze_startup_objects


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_freeze_hides_the_heap_but_new_cycles_are_still_collected():
    try:
        frozen = freeze_startup_objects()
        assert frozen > 10_000 and gc.get_freeze_count() == frozen  # pytest, numpy, torch...
        pauses = GcPauses().install()
        try:
            _Cycle()  # garbage made after the freeze: a cycle only the collector can free
            assert gc.collect() >= 1
        finally:
            pauses.remove()
        stats = pauses.to_dict()
        assert stats["collections"][2] == 1 and stats["max_ms"][2] > 0.0
        assert pauses._callback not in gc.callbacks
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0


def test_live_app_freezes_while_running_and_unfreezes_after(tmp_path):
    song = click_track(tmp_path / "song.wav", [0.5], 3.0)
    seen: list[int] = []

    def on_frame(app: LiveApp, n: int) -> None:
        seen.append(gc.get_freeze_count())
        if n == 5:
            app.on_key("escape")

    cfg = LiveConfig(file=str(song), play=False, headless=True, window=(48, 32), preset="drift", duration=20.0)
    LiveApp(cfg, renderer=PatternRenderer(), on_frame=on_frame).run()
    assert len(seen) == 5 and min(seen) > 10_000  # the show ran frozen
    assert gc.get_freeze_count() == 0  # and gave the process back as it found it

"""Ableton Link: ``livegan live --link`` joins the session on the local network.

Tempo and beat/bar phase (quantum 4) come from the session; a tempo set in livegan (a
change of ``tempo/bpm`` from OSC, MIDI, the web remote or a preset, or taps) is proposed
to it; start/stop sync is on, and once the session has been seen playing, a stop holds
the beat count until the next start. With no peers left, Link's own timeline runs on at
the last tempo, so the show never jumps.

Ableton Link is GPL-2.0-or-later and its Python binding ``aalink`` GPL-3.0-or-later: both
stay in the optional extra ``livegan[link]``, imported only here, only with ``--link``.
aalink wants an asyncio loop; one runs in a thread of its own, and the conductor reads
Link's session state (thread-safe in Link) from the inference thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from ..audio.beat import TapTempo
from ..errors import LiveganError
from ..extras import require
from ..params.registry import Snapshot
from .external import BEATS_PER_BAR, ExternalTempo
from .tempo_map import check_bpm

log = logging.getLogger("livegan.link")
INSTALL_HINT = "pip install 'livegan[link]' (aalink; Ableton Link is GPL-2.0+)"


class LinkClock:
    """A tempo source that leads while Link is enabled; also the HUD's word on the session."""

    source = "link"

    def __init__(self, initial_bpm: float = 120.0, start_stop: bool = True) -> None:
        aalink = require("aalink", "--link", INSTALL_HINT)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="livegan-link", daemon=True)
        self._thread.start()

        async def join() -> Any:
            link = aalink.Link(float(initial_bpm))
            link.quantum = BEATS_PER_BAR
            link.start_stop_sync_enabled = start_stop
            link.enabled = True
            return link

        try:
            self.link = asyncio.run_coroutine_threadsafe(join(), self._loop).result(timeout=10)
        except Exception as exc:
            self._stop_loop()
            raise LiveganError(f"--link: cannot join a Link session ({exc})") from None
        self._taps = TapTempo()
        self._last_bpm_setting: float | None = None  # tempo/bpm at the previous step
        self._seen_playing = False
        self.proposed = 0  # tempi proposed to the session

    # ---- the conductor's side (inference thread) ---------------------------------------
    def __call__(self, t: float, snap: Snapshot) -> ExternalTempo:
        self._propose(t, snap)
        link = self.link
        host = link.time.total_seconds()
        beats, bpm, playing = float(link.beat), float(link.tempo), bool(link.playing)
        self._seen_playing = self._seen_playing or playing
        # Peers without start/stop sync never start the transport: then the count just runs.
        return ExternalTempo(bpm, beats, playing or not self._seen_playing, self.source, host)

    def _propose(self, t: float, snap: Snapshot) -> None:
        """A tempo set in livegan goes to the session: a new ``tempo/bpm``, or taps."""
        setting = float(snap.get("tempo/bpm", 0.0))
        if self._last_bpm_setting is not None and setting != self._last_bpm_setting and setting > 0:
            self.propose(setting)
        self._last_bpm_setting = setting
        taps = [trig.audio_time for trig in snap.triggers if trig.name == "tempo/tap"]
        for at in taps:  # when each tap arrived (its audio time), finer than the tick that saw it
            self._taps.tap(at)
        if taps and self._taps.bpm:
            self.propose(self._taps.bpm)

    def propose(self, bpm: float) -> None:
        """Set the session's tempo (every peer follows); one outside Link's range is refused, logged."""
        try:
            self.link.tempo = check_bpm(bpm, "Link tempo")
        except LiveganError as exc:
            log.warning("%s: not proposed", exc)
            return
        self.proposed += 1
        log.info("proposed %.2f BPM to the Link session", bpm)

    # ---- the HUD, the summary ------------------------------------------------------------
    @property
    def peers(self) -> int:
        return int(self.link.num_peers)

    def status(self) -> str:
        """The HUD's word on the session (the tempo is on the CLOCK line)."""
        peers = self.peers
        state = "" if self.link.playing or not self._seen_playing else " STOPPED"
        return f"LINK {peers} PEER{'' if peers == 1 else 'S'}{state}"

    def close(self) -> None:
        try:
            self.link.enabled = False
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=2)

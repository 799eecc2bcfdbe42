"""The performance: the model-free half of the conductor.

Features + a parameter snapshot + audio time -> a ``Groove``: where the latent walk is,
how hard the kicks hit, the smoothed controls, the mapping levels, the beat clock. It
holds every piece of time state (envelopes, smoothing, triggers, the beat clock, freeze)
and knows nothing about the generator, so a model swap replaces only the latent rig
(``rig.py``) and the groove and the clock carry on by construction.

It is a pure function of its inputs and its own history, advanced on the audio clock:
the same seed, audio and parameter changes give the same grooves at 24, 30 or 60 fps,
live or offline.

Motion model (after Lucid Sonic Dreams' "motion" and "pulse", maua's chroma keyframes):
a loop of latent keyframes walked at ``latent/speed`` scaled by loudness (or locked to
the bars), a smooth random walk, an onset pulse that kicks and decays, band energies for
the coarse / middle / fine layers, chroma for the harmony latents, truncation from
loudness, the preset's mappings and the GANSpace directions. Kicks punch through fast
envelopes on the coarse layers while the texture follows slower ones, so the picture
holds together between hits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import numpy as np

from ..audio.beat import BeatClock
from ..audio.features import Clock, FeatureFrame, merge_frames, without_events
from ..clock.external import ExternalTempo, TempoSource
from ..params.registry import Snapshot
from ..smoothing import approach, approach_array, attack_release, decay
from .mappings import MappingEnvelopes, MappingLevels, event_value, parse_mappings_json

GANSPACE_COMPONENTS = 8


@dataclass(frozen=True)
class Groove:
    """One frame of the performance: everything the latent rig needs, and nothing model-specific."""

    time: float = 0.0  # audio time of the frame (s)
    sample_pos: int = 0  # newest audio sample the features had heard
    frame_index: int = 0
    seed: int = 0  # keyframe seed (``latent/seed``)
    keyframes: int = 8
    position: float = 0.0  # along the keyframe loop, in keyframes
    motion_phase: float = 0.0  # random-walk phase
    motion: float = 0.0  # random-walk amount
    chroma: tuple[float, ...] = (0.0,) * 12  # smoothed pitch classes
    chroma_amount: float = 0.0
    pulse: float = 0.0  # onset pulse envelope 0..1+
    pulse_amount: float = 0.0
    layer_push: tuple[float, float, float] = (0.0, 0.0, 0.0)  # coarse, middle, fine (amount x band)
    ganspace: tuple[float, ...] = (0.0,) * GANSPACE_COMPONENTS
    mappings: MappingLevels = field(default_factory=MappingLevels)
    psi: float = 1.0  # before the mappings' truncation
    noise_mode: str = "const"
    noise_strength: float = 1.0  # before the mappings' noise gain
    noise_steps: int = 0  # random noise re-rolls so far
    rotate: float = 0.0  # degrees, before the mappings' transform
    translate: tuple[float, float] = (0.0, 0.0)
    zoom: float = 0.0  # middle-layer scale bend on the pulse
    bend_rotate: float = 0.0  # coarse-layer rotation bend (degrees)
    flash: float = 0.0
    blackout: bool = False
    master: float = 1.0
    frozen: bool = False
    world: str = "auto"  # look/world
    clock: Clock = field(default_factory=Clock)


@dataclass
class _State:
    t: float | None = None
    pos: float = 0.0  # free position along the keyframe loop
    motion_phase: float = 0.0
    spin: float = 0.0
    energy: float = 0.0
    pulse: float = 0.0
    bands: np.ndarray = field(default_factory=lambda: np.zeros(4))
    chroma: np.ndarray = field(default_factory=lambda: np.zeros(12))
    level: float = 0.0  # slow loudness: gates LFOs, scales motion
    noise_phase: float = 0.0
    loop_pos: float = 0.0  # keyframe position of the bar-locked loop
    loop_beats: float = 0.0  # beat clock at the previous frame
    heard_pos: int = -1  # newest audio sample whose events were taken
    key_offset: int = 0  # keyframes skipped by jumps in bar-locked loops
    position: float = 0.0  # where the walk is: the free position, or the bar-locked loop's
    smoothed: dict[str, float] = field(default_factory=dict)
    frame_index: int = 0
    flash: float = 0.0
    last: Groove | None = None


class Performance:
    """Maps the music and the controls onto a groove; one per show (survives model swaps).

    ``taus`` are the registry's smoothing time constants by parameter name
    (``ParamSpec.smoothing``); the Session passes them, live and offline alike.
    """

    def __init__(self, taus: Mapping[str, float], sample_rate: int = 48000) -> None:
        self.taus = dict(taus)
        self.sample_rate = sample_rate
        self.state = _State()
        self.clock = BeatClock()
        # An external clock that leads the beat clock (``livegan.clock``: Link, MIDI clock, a tempo
        # map, a replayed set); ``external`` is what it said at the last step (a set records it).
        self.tempo: TempoSource | None = None
        self.external: ExternalTempo | None = None
        self._mapping_text: str | None = None
        self.envelopes = MappingEnvelopes(())

    # ---- helpers -------------------------------------------------------------------
    def _param(self, snap: Snapshot, name: str, dt: float) -> float:
        """A float parameter, smoothed with its declared time constant (frame-rate independent)."""
        target = float(snap.get(name, 0.0))
        cur = self.state.smoothed.get(name, target)
        v = approach(cur, target, dt, self.taus.get(name, 0.0))
        self.state.smoothed[name] = v
        return v

    def _mappings(self, snap: Snapshot) -> MappingEnvelopes:
        text = str(snap.get("preset/mappings", ""))
        if text != self._mapping_text:  # a new preset: its mappings start from rest
            self._mapping_text = text
            self.envelopes = MappingEnvelopes(parse_mappings_json(text))
        return self.envelopes

    # ---- one frame -----------------------------------------------------------------
    def step(self, features: FeatureFrame | Sequence[FeatureFrame], snap: Snapshot, t: float) -> Groove:
        """The groove for the frame shown at audio time ``t``.

        ``features`` is the newest FeatureFrame, or every frame since the previous step
        (then onsets, beats and drops that fell between two video frames still count).
        """
        features = self._heard(features, t)
        st = self.state
        dt = 0.0 if st.t is None else max(0.0, t - st.t)
        st.t = t
        jump = self._triggers(snap, t)  # every trigger counts, frozen or not
        ext = self.external = self.tempo(t, snap) if self.tempo is not None else None
        if ext is not None:  # Link, MIDI clock or a tempo map leads (livegan.clock)
            beat, bar = self.clock.follow(t, ext.bpm, ext.beats, ext.playing)
        else:  # bar lines follow the analyzer's downbeat once its tempo has locked
            beat, bar = self.clock.update(t, features.tempo_bpm, features.beat_phase,
                                          str(snap.get("tempo/source", "auto")), float(snap.get("tempo/bpm", 0.0)),
                                          bar_phase=features.bar_phase if features.tempo_locked else None)
        # Published beats count from a bar line, so LFOs and quantized presets sit on the bars.
        clock = Clock(self.clock.bpm, self.clock.bar_beats, beat, bar, time=t,
                      source=ext.source if ext is not None else self.clock.source, running=self.clock.running)
        st.frame_index += 1
        blackout = bool(snap.get("show/blackout", False))
        if snap.get("show/freeze", False) and st.last is not None:
            held = replace(st.last, time=t, sample_pos=features.sample_pos, frame_index=st.frame_index,
                           blackout=blackout, frozen=True, clock=clock)
            st.last = held
            return held
        self._envelopes(features, snap, dt, clock)
        levels = self._walk(features, snap, dt, clock, jump)
        st.last = self._groove(features, snap, dt, clock, levels, blackout)
        return st.last

    def _heard(self, features: FeatureFrame | Sequence[FeatureFrame], t: float) -> FeatureFrame:
        """One frame for the step, its events dropped when they were taken before."""
        if not isinstance(features, FeatureFrame):
            features = merge_frames(list(features)) if len(features) else FeatureFrame.rest(int(t * self.sample_rate),
                                                                                         self.sample_rate)
        st = self.state
        if features.sample_pos <= st.heard_pos:
            features = without_events(features)  # seen already: its events must not fire twice
        st.heard_pos = max(st.heard_pos, features.sample_pos)
        return features

    def _triggers(self, snap: Snapshot, t: float) -> bool:
        """Taps, flashes and keyframe jumps in this snapshot; True when a jump was asked for."""
        jump = False
        for trig in snap.triggers:
            if trig.name == "latent/next":
                jump = True
            elif trig.name == "fx/flash":
                self.state.flash = 1.0
            elif trig.name == "tempo/tap":
                self.clock.tap(t)
        return jump

    def _envelopes(self, features: FeatureFrame, snap: Snapshot, dt: float, clock: Clock) -> None:
        """Band levels move the layers smoothly (they also carry off-beat bass and hats); the
        punch comes from kick events (pulse, snaps, zooms) so it lands once per hit."""
        st = self.state
        attack = float(snap.get("envelope/attack", 0.01))
        release = float(snap.get("envelope/release", 0.25))
        bands = np.asarray(features.bands, dtype=np.float64)
        for i, (att, rel) in enumerate(((0.05, 0.35), (0.05, 0.35), (0.08, 0.4), (0.1, 0.5))):
            st.bands[i] = attack_release(st.bands[i], bands[i], dt, max(attack, att), max(release, rel))
        st.energy = attack_release(st.energy, float(features.rms), dt, max(attack, 0.05), max(release, 0.5))
        st.level = attack_release(st.level, float(features.rms), dt, 0.05, 0.6)
        st.chroma = approach_array(st.chroma, features.chroma, dt, 0.5)
        # The pulse rides the kicks (onsets with sub-band weight), not every hat.
        st.pulse = max(decay(st.pulse, dt, max(release, 0.2)), event_value("kick", features, clock))
        st.flash = decay(st.flash, dt, 0.12)

    def _walk(self, features: FeatureFrame, snap: Snapshot, dt: float, clock: Clock, jump: bool) -> MappingLevels:
        """Advance the latent walk (free, or locked to the bars) and the preset's mappings."""
        st = self.state
        speed = self._param(snap, "latent/speed", dt)
        # A slow drift floor keeps quiet music alive; it fades with the level, so silence rests.
        activity = 0.03 * min(1.0, 5.0 * st.level) + st.energy
        st.pos += dt * speed * activity
        st.motion_phase += dt * activity
        st.spin += dt * self._param(snap, "transform/spin", dt) * min(1.0, st.level)
        st.noise_phase += dt * 30.0 * min(1.0, 2.0 * st.level)  # random noise re-rolls with the music
        levels = self._mappings(snap).step(features, clock, st.level, dt, self._param(snap, "mapping/amount", dt))
        if jump or levels.jump:
            st.pos = math.floor(st.pos) + 1.0
            st.key_offset += 1
        # Locked, the loop advances with the beats while the music plays (one loop per N bars)
        # and rests when it stops, like the free motion.
        k = int(snap.get("latent/keyframes", 8))
        loop_bars = int(snap.get("tempo/loop_bars", 0))
        beats = self.clock.beats  # the raw count: moving the bar lines must not step the loop
        st.loop_pos += max(0.0, beats - st.loop_beats) * k / (4.0 * max(loop_bars, 1)) * min(1.0, 5.0 * st.level)
        st.loop_beats = beats
        st.position = st.loop_pos + st.key_offset if loop_bars > 0 and clock.bpm > 0 else st.pos
        return levels

    def _groove(self, features: FeatureFrame, snap: Snapshot, dt: float, clock: Clock, levels: MappingLevels,
                blackout: bool) -> Groove:
        st = self.state
        bass = st.bands[0] * 0.5 + st.bands[1] * 0.5
        layer_push = (self._param(snap, "layers/bass_coarse", dt) * float(bass),
                      self._param(snap, "layers/mid_middle", dt) * float(st.bands[2]),
                      self._param(snap, "layers/high_fine", dt) * float(st.bands[3]))
        ganspace = tuple(self._param(snap, f"ganspace/{i}", dt) if f"ganspace/{i}" in snap.values else 0.0
                         for i in range(GANSPACE_COMPONENTS))
        psi = self._param(snap, "truncation/psi", dt) + self._param(snap, "truncation/energy", dt) * st.energy
        mode = str(snap.get("noise/mode", "const"))
        noise = self._param(snap, "noise/strength", dt) * (1.0 + self._param(snap, "noise/highs", dt) * st.bands[3])
        if mode == "random":
            noise *= min(1.0, 5.0 * st.level)  # fresh maps shimmer by nature: they fade out with the music
        steps = int(levels.noise_steps) if self.envelopes.has_noise_motion else int(st.noise_phase)
        return Groove(
            time=st.t or 0.0, sample_pos=features.sample_pos, frame_index=st.frame_index,
            seed=int(snap.get("latent/seed", 0)), keyframes=int(snap.get("latent/keyframes", 8)),
            position=st.position, motion_phase=st.motion_phase, motion=self._param(snap, "latent/motion", dt),
            chroma=tuple(float(c) for c in st.chroma), chroma_amount=self._param(snap, "latent/chroma", dt),
            pulse=st.pulse, pulse_amount=self._param(snap, "latent/pulse", dt),
            layer_push=layer_push, ganspace=ganspace, mappings=levels, psi=psi,
            noise_mode=mode, noise_strength=float(noise), noise_steps=steps,
            rotate=float(snap.get("transform/rotate", 0.0)) + st.spin,
            translate=(float(snap.get("transform/translate_x", 0.0)), float(snap.get("transform/translate_y", 0.0))),
            zoom=self._param(snap, "bend/zoom", dt), bend_rotate=self._param(snap, "bend/rotate", dt),
            flash=min(1.0, st.flash), blackout=blackout, master=self._param(snap, "show/master", dt),
            world=str(snap.get("look/world", "auto")), clock=clock,
        )

"""The conductor: features + parameter snapshot + audio time -> generator inputs.

It is a pure function of its inputs and its own history, advanced on the audio clock:
the same seed, audio and parameter changes give the same ``GeneratorInputs`` whether
frames are asked for at 24, 30 or 60 fps, live or offline.

Motion model (after Lucid Sonic Dreams' "motion" and "pulse", maua's chroma keyframes):
* a loop of latent keyframes, walked at ``latent/speed`` scaled by loudness;
* a smooth random walk ("motion"), a deterministic function of an accumulated phase;
* an onset "pulse" that kicks the latent along a fixed direction and decays;
* band energies push the coarse / middle / fine ``ws`` along their own directions;
* chroma blends in 12 harmony latents, one per pitch class;
* truncation per frame from loudness;
* a beat clock (analysis, tap or manual tempo) that can lock the keyframe loop to bars;
* the preset's declarative mappings (``set_mappings``, see ``mappings.py``) and the
  GANSpace directions (``ganspace/<k>``) on top.

Coherence: kicks punch through fast-attack envelopes on the coarse layers, while the
texture (fine layers, noise) follows slower envelopes, so the picture holds together
between hits instead of flickering with every hat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from typing import Any, Mapping, Sequence

from ..audio.beat import BeatClock
from ..audio.features import FeatureFrame
from ..models.base import Bend, Generator, NoiseSpec, make_transform
from ..params.registry import Snapshot
from .mappings import (Clock, MappingRunner, MappingSpec, event_value, merge_frames, parse_mappings,
                       without_events)


@dataclass(frozen=True)
class GeneratorInputs:
    """Everything the engine needs for one frame (one sample of a batch)."""

    ws: torch.Tensor  # [num_ws, w_dim] float32, on the CPU
    noise: NoiseSpec
    bends: tuple[Bend, ...] = ()
    transform: torch.Tensor | None = None  # forward [3, 3]
    time: float = 0.0  # audio time of the frame (s)
    sample_pos: int = 0  # newest audio sample the features had heard
    frame_index: int = 0
    flash: float = 0.0  # 0..1 white flash amount for the display / encoder
    blackout: bool = False
    master: float = 1.0
    world: str = "auto"  # the builtin model's world (``look/world``); other models ignore it


def _one_pole(current: float, target: float, dt: float, tau: float) -> float:
    """Frame-rate independent smoothing toward ``target`` with time constant ``tau``."""
    if tau <= 0.0 or dt <= 0.0:
        return target if tau <= 0.0 else current
    return target + (current - target) * math.exp(-dt / tau)


def _attack_release(current: float, target: float, dt: float, attack: float, release: float) -> float:
    return _one_pole(current, target, dt, attack if target > current else release)


@dataclass
class _State:
    t: float | None = None
    pos: float = 0.0  # position along the keyframe loop, in keyframes
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
    key_offset: int = 0  # keyframes skipped by jumps (latent/next, drops) in bar-locked loops
    smoothed: dict[str, float] = field(default_factory=dict)
    frame_index: int = 0
    flash: float = 0.0
    last: GeneratorInputs | None = None


class Conductor:
    """Maps the music and the controls onto one generator's inputs."""

    MOTION_TERMS = 3  # sinusoids per latent dimension in the random walk

    def __init__(self, generator: Generator, seed: int = 0, sample_rate: int = 48000) -> None:
        self.generator = generator
        self.sample_rate = sample_rate
        self.num_ws = generator.num_ws
        self.w_dim = generator.w_dim
        self.groups = generator.layer_groups()
        layers = list(generator.layers)
        self._coarse_layer = layers[min(1, len(layers) - 1)].name
        self._middle_layer = layers[len(layers) // 2].name
        self._noise_layers = [layer.name for layer in layers if layer.has_noise]
        self.state = _State()
        self.taus: dict[str, float] = {}  # smoothing time constants (ParamSpec.smoothing) by name
        self.clock = BeatClock()
        self.last_clock = Clock()  # published each step (one reference swap) for the display thread
        self.mapping_specs: tuple[MappingSpec, ...] = ()
        self.mappings: MappingRunner | None = None
        self._seed: int | None = None
        self._base_seed = int(seed)
        self._reseeds = 0
        self._build(int(seed))

    def set_mappings(self, tables: Sequence[Mapping[str, Any]] | Sequence[MappingSpec], where: str = "preset") -> None:
        """Use these mappings (a preset's ``[[mappings]]`` tables, or checked specs) from now on.

        Raises ``MappingError`` (one line naming ``where``) before changing anything.
        """
        specs = tuple(t if isinstance(t, MappingSpec) else None for t in tables)
        if any(s is None for s in specs):
            specs = parse_mappings(tables, where)  # type: ignore[arg-type]
        self.mapping_specs = specs  # type: ignore[assignment]
        self.mappings = None  # built lazily for the current seed

    def _runner(self) -> MappingRunner | None:
        specs = self.mapping_specs  # one read: set_mappings may swap it from another thread
        if not specs:
            return None
        runner = self.mappings
        if runner is None or runner.specs is not specs:
            runner = MappingRunner(specs, self.generator, self._latent, self.spread_norm, int(self._seed or 0))
            self.mappings = runner
        return runner

    def _latent(self, seed: int) -> torch.Tensor:
        """The w of a seed's z (for snap and mix targets)."""
        g = self.generator
        z = torch.from_numpy(np.random.RandomState(seed % 2**32).randn(1, g.z_dim).astype(np.float32))
        c = None
        if g.c_dim:
            c = torch.zeros(1, g.c_dim)
            c[:, 0] = 1.0
        dev = g.w_avg.device
        with torch.inference_mode():
            return g.mapping(z.to(dev), None if c is None else c.to(dev))[0, 0].float().cpu()

    # ---- latent material -----------------------------------------------------------
    def _build(self, seed: int) -> None:
        """Keyframes, harmony latents and push directions, all from ``seed``."""
        if seed == self._seed:
            return
        self._seed = seed
        g = self.generator
        rng = np.random.RandomState(seed)
        n_key = 64  # enough for the largest latent/keyframes; a loop uses the first K
        z = rng.randn(n_key + 12, g.z_dim).astype(np.float32)
        c = None
        if g.c_dim:
            c = torch.zeros(len(z), g.c_dim)
            c[:, 0] = 1.0
        dev = g.w_avg.device
        with torch.inference_mode():
            w = g.mapping(torch.from_numpy(z).to(dev), None if c is None else c.to(dev))[:, 0].float().cpu()
        self.w_avg = g.w_avg.detach().float().cpu()
        self.keyframes = w[:n_key]
        self.harmony = w[n_key:]
        spread = (w - self.w_avg).std(dim=0)  # per-dimension scale of the w distribution
        self.spread_norm = float(spread.norm())
        self.mappings = None  # kick / snare targets follow the seed
        dirs = torch.from_numpy(rng.randn(5, g.w_dim).astype(np.float32))
        dirs = dirs / dirs.norm(dim=1, keepdim=True) * spread.norm()
        self.dir_pulse, self.dir_coarse, self.dir_middle, self.dir_fine, self.dir_motion = dirs
        self.motion_freq = torch.from_numpy(rng.uniform(0.2, 1.0, (self.MOTION_TERMS, g.w_dim)).astype(np.float32))
        self.motion_phase0 = torch.from_numpy(rng.uniform(0, 2 * np.pi, (self.MOTION_TERMS, g.w_dim)).astype(np.float32))
        self.motion_scale = spread * 0.6 / math.sqrt(self.MOTION_TERMS)

    # ---- one frame -----------------------------------------------------------------
    def _param(self, snap: Snapshot, name: str, dt: float) -> float:
        """A float parameter, smoothed with its declared time constant (frame-rate independent)."""
        target = float(snap.get(name, 0.0))
        cur = self.state.smoothed.get(name, target)
        v = _one_pole(cur, target, dt, self.taus.get(name, 0.0))
        self.state.smoothed[name] = v
        return v

    def step(self, features: FeatureFrame | Sequence[FeatureFrame], snap: Snapshot, t: float) -> GeneratorInputs:
        """The inputs for the frame shown at audio time ``t``.

        ``features`` is the newest FeatureFrame, or every frame since the previous step
        (then onsets, beats and drops that fell between two video frames still count).
        """
        if not isinstance(features, FeatureFrame):
            features = merge_frames(list(features)) if len(features) else FeatureFrame.rest(int(t * self.sample_rate),
                                                                                         self.sample_rate)
        st = self.state
        if features.sample_pos <= st.heard_pos:
            features = without_events(features)  # seen already: its events must not fire twice
        st.heard_pos = max(st.heard_pos, features.sample_pos)
        dt = 0.0 if st.t is None else max(0.0, t - st.t)
        st.t = t

        base = int(snap.get("latent/seed", self._base_seed))
        if base != self._base_seed:
            self._base_seed, self._reseeds = base, 0
        jump = False
        for trig in snap.triggers:
            if trig.name == "latent/reseed":
                self._reseeds += 1
            elif trig.name == "latent/next":
                jump = True
            elif trig.name == "fx/flash":
                st.flash = 1.0
            elif trig.name == "tempo/tap":
                self.clock.tap(t)
        self._build(self._base_seed + self._reseeds)

        beat, bar = self.clock.update(t, features.tempo_bpm, features.beat_phase,
                                      str(snap.get("tempo/source", "auto")), float(snap.get("tempo/bpm", 0.0)))
        clock = Clock(self.clock.bpm, self.clock.beats, beat, bar, time=t)
        self.last_clock = clock  # one reference swap: other threads read a consistent clock

        if snap.get("show/freeze", False) and st.last is not None:
            st.frame_index += 1
            return replace(st.last, time=t, sample_pos=features.sample_pos, frame_index=st.frame_index,
                            blackout=bool(snap.get("show/blackout", False)))

        attack = float(snap.get("envelope/attack", 0.01))
        release = float(snap.get("envelope/release", 0.25))
        bands = np.asarray(features.bands, dtype=np.float64)
        # Band levels move the layers smoothly (they also carry off-beat bass and hats);
        # the punch comes from kick events (pulse, snaps, zooms) so it lands once per hit.
        for i, (att, rel) in enumerate(((max(attack, 0.05), max(release, 0.35)), (max(attack, 0.05), max(release, 0.35)),
                                        (max(attack, 0.08), max(release, 0.4)), (max(attack, 0.1), max(release, 0.5)))):
            st.bands[i] = _attack_release(st.bands[i], bands[i], dt, att, rel)
        st.energy = _attack_release(st.energy, float(features.rms), dt, max(attack, 0.05), max(release, 0.5))
        st.level = _attack_release(st.level, float(features.rms), dt, 0.05, 0.6)
        st.chroma += (np.asarray(features.chroma, dtype=np.float64) - st.chroma) * (1 - math.exp(-dt / 0.5) if dt else 0)
        # The pulse rides the kicks (onsets with sub-band weight), not every hat.
        kick = event_value("kick", features, clock)
        st.pulse *= math.exp(-dt / max(release, 0.2)) if dt else 1.0  # glide back, not snap back
        st.pulse = max(st.pulse, kick)
        st.flash *= math.exp(-dt / 0.12)

        speed = self._param(snap, "latent/speed", dt)
        motion = self._param(snap, "latent/motion", dt)
        # A slow drift floor keeps quiet music alive; it fades with the level, so silence rests.
        activity = 0.03 * min(1.0, 5.0 * st.level) + st.energy
        st.pos += dt * speed * activity
        st.motion_phase += dt * activity
        st.spin += dt * self._param(snap, "transform/spin", dt) * min(1.0, st.level)
        st.noise_phase += dt * 30.0 * min(1.0, 2.0 * st.level)  # random noise re-rolls with the music, rests in silence

        runner = self._runner()
        scale = self._param(snap, "mapping/amount", dt)

        # Keyframe loop (cosine-eased so motion breathes through each keyframe), free or
        # locked to the bars of the beat clock.
        k = int(snap.get("latent/keyframes", 8))
        loop_bars = int(snap.get("tempo/loop_bars", 0))
        # Locked, it advances with the beats while the music plays (one loop per N bars)
        # and rests when it stops, like the free motion.
        gate = min(1.0, 5.0 * st.level)
        st.loop_pos += max(0.0, clock.beats - st.loop_beats) * k / (4.0 * max(loop_bars, 1)) * gate
        st.loop_beats = clock.beats
        pos = st.loop_pos + st.key_offset if loop_bars > 0 and clock.bpm > 0 else st.pos
        i0 = int(math.floor(pos)) % k
        frac = pos - math.floor(pos)
        ease = 0.5 - 0.5 * math.cos(math.pi * frac)
        w = self.keyframes[i0] * (1 - ease) + self.keyframes[(i0 + 1) % k] * ease

        # Harmony: chroma-weighted blend of 12 pitch-class latents.
        chroma_amt = self._param(snap, "latent/chroma", dt)
        csum = float(st.chroma.sum())
        if chroma_amt > 0 and csum > 1e-6:
            wc = torch.from_numpy((st.chroma / csum).astype(np.float32)) @ self.harmony
            w = w + chroma_amt * min(1.0, csum) * (wc - w)

        # Random walk: a sum of slow sinusoids, so it is smooth and frame-rate independent.
        walk = (torch.sin(self.motion_freq * st.motion_phase + self.motion_phase0).sum(0)) * self.motion_scale
        w = w + motion * walk

        ws = w.unsqueeze(0).repeat(self.num_ws, 1)
        # The kick pulse moves the structure (coarse and middle), leaving colour and texture.
        pulse_idx = self.groups.get("coarse", []) + self.groups.get("middle", [])
        ws[pulse_idx or list(range(self.num_ws))] += self._param(snap, "latent/pulse", dt) * st.pulse * self.dir_pulse
        for group, amount, band, direction in (
            ("coarse", "layers/bass_coarse", st.bands[0] * 0.5 + st.bands[1] * 0.5, self.dir_coarse),
            ("middle", "layers/mid_middle", st.bands[2], self.dir_middle),
            ("fine", "layers/high_fine", st.bands[3], self.dir_fine),
        ):
            idx = self.groups.get(group, [])
            if idx:
                ws[idx] += self._param(snap, amount, dt) * float(band) * direction
        self._ganspace(ws, snap, dt)

        extra = runner.step(ws, features, clock, st.level, dt, scale) if runner else None
        if extra is not None and extra.jump:
            jump = True
        if jump:
            st.pos = math.floor(st.pos) + 1.0
            st.key_offset += 1

        psi = (self._param(snap, "truncation/psi", dt) + self._param(snap, "truncation/energy", dt) * st.energy
               + (extra.psi if extra else 0.0))
        ws = self.w_avg + psi * (ws - self.w_avg)

        noise_strength = self._param(snap, "noise/strength", dt) * (1.0 + self._param(snap, "noise/highs", dt) * st.bands[3])
        noise_strength *= extra.noise_gain if extra else 1.0
        mode = str(snap.get("noise/mode", "const"))
        noise_seed = None
        if mode == "random":
            # Noise motion: a fresh map per frame, or per step of the mappings' noise motion.
            steps = int(extra.noise_steps) if extra and any(m.kind == "noise" and m.options.get("motion")
                                                            for m in self.mapping_specs) else int(st.noise_phase)
            noise_seed = (self._seed * 1_000_003 + steps) % (2**31)
            # Fresh maps shimmer by nature: they fade out with the music so silence rests.
            noise_strength *= min(1.0, 5.0 * st.level)
        noise = NoiseSpec(mode=mode, strength=float(noise_strength), seed=noise_seed)

        rot = float(snap.get("transform/rotate", 0.0)) + st.spin + (extra.rotate if extra else 0.0)
        tx = float(snap.get("transform/translate_x", 0.0)) + (extra.translate[0] if extra else 0.0)
        ty = float(snap.get("transform/translate_y", 0.0)) + (extra.translate[1] if extra else 0.0)
        transform = make_transform((tx, ty), rot) if (rot or tx or ty) else None

        bends: list[Bend] = []
        zoom = self._param(snap, "bend/zoom", dt)
        if zoom > 0 and st.pulse > 1e-3:
            bends.append(Bend(self._middle_layer, "scale", 1.0 + zoom * st.pulse))
        brot = self._param(snap, "bend/rotate", dt)
        if abs(brot) > 1e-6:
            bends.append(Bend(self._coarse_layer, "rotate", brot))
        if extra is not None:
            bends.extend(extra.bends)
            st.flash = max(st.flash, extra.flash)

        st.frame_index += 1
        out = GeneratorInputs(
            ws=ws.contiguous(),
            noise=noise,
            bends=tuple(bends),
            transform=transform,
            time=t,
            sample_pos=features.sample_pos,
            frame_index=st.frame_index,
            flash=min(1.0, st.flash),
            blackout=bool(snap.get("show/blackout", False)),
            master=self._param(snap, "show/master", dt),
            world=str(snap.get("look/world", "auto")),
        )
        st.last = out
        return out

    def _ganspace(self, ws: torch.Tensor, snap: Snapshot, dt: float) -> None:
        """``ganspace/<k>`` moves every ws along the model's k-th principal direction (in sds)."""
        amounts = [(k, self._param(snap, f"ganspace/{k}", dt)) for k in range(8) if f"ganspace/{k}" in snap.values]
        if not any(abs(a) > 1e-6 for _, a in amounts):
            return
        from .ganspace import directions

        dirs = directions(self.generator)
        for k, a in amounts:
            if abs(a) > 1e-6 and k < len(dirs.stds):
                ws += a * float(dirs.stds[k]) * dirs.components[k]


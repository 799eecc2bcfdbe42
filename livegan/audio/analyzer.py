"""The causal, hop-based audio analyzer: audio blocks in, one FeatureFrame per hop out.

Live input and offline files go through the same ``Analyzer.process`` code, and every
value depends only on the samples and the hop count, never on how the input was cut
into blocks, so block-wise analysis equals whole-file analysis bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from livegan.audio.beat import BeatTracker, beat_accent
from livegan.audio.features import FeatureFrame
from livegan.audio.followers import EnvelopeFollower
from livegan.audio.normalize import RunningNormalizer
from livegan.audio.onsets import OnsetPicker
from livegan.audio.structure import StructureDetector

BAND_EDGES_HZ = (20.0, 60.0, 250.0, 2000.0, 16000.0)  # sub | low | mid | high
CHROMA_RANGE_HZ = (150.0, 5000.0)
_EPS = 1e-30


def default_hop(sample_rate: int) -> int:
    """A power of two near 11.6 ms (512 at 44.1 and 48 kHz)."""
    return 2 ** round(math.log2(sample_rate / 86.0))


@dataclass(frozen=True)
class AnalyzerConfig:
    """Tuning of the analyzer; the defaults suit music for visuals."""

    hop: int | None = None  # samples per frame; None -> default_hop(sample_rate)
    window_hops: int = 4  # FFT window length in hops
    attack_s: float = 0.005  # band follower rise time constant
    release_s: float = 0.15  # band follower fall time constant
    norm_window_s: float = 10.0  # how much history the running normalisation looks at
    norm_percentile: float = 95.0
    level_floor: float = 1e-4  # RMS (-80 dBFS) below which levels count as silence
    flux_floor: float = 0.05  # mean log-magnitude rise per bin below which flux counts as none
    flux_ref: float = 1e-3  # log compression knee, relative to the running RMS level
    onset_history_s: float = 0.75
    onset_k: float = 3.0  # threshold = median + k * MAD ...
    onset_min_rise: float = 0.25  # ... + this fraction of the running flux scale
    onset_min_gap_s: float = 0.06


class Analyzer:
    """Stateful causal analyzer. Feed ``process`` blocks of any size, mono ``[n]`` or ``[n, ch]``."""

    def __init__(self, sample_rate: int, hop: int | None = None, config: AnalyzerConfig | None = None) -> None:
        cfg = config or AnalyzerConfig()
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        self.config = cfg
        self.sample_rate = int(sample_rate)
        self.hop = int(hop or cfg.hop or default_hop(self.sample_rate))
        if self.hop < 16:
            raise ValueError(f"hop must be at least 16 samples, got {self.hop}")
        if cfg.window_hops < 1:
            raise ValueError(f"window_hops must be at least 1, got {cfg.window_hops}")
        self.window = self.hop * cfg.window_hops
        step_s = self.hop / self.sample_rate

        n = np.arange(self.window)
        self._hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / self.window)  # periodic Hann
        self._hann_energy = float(np.sum(self._hann**2))
        # rfft of a sine of amplitude A peaks at A * sum(w) / 2: scale magnitudes to amplitude units.
        self._mag_scale = 2.0 / float(np.sum(self._hann))

        freqs = np.fft.rfftfreq(self.window, 1.0 / self.sample_rate)
        lo = int(np.searchsorted(freqs, BAND_EDGES_HZ[0]))
        hi = int(np.searchsorted(freqs, BAND_EDGES_HZ[-1]))
        self._bins = slice(lo, max(hi, lo + 1))
        f = freqs[self._bins]
        self._band_matrix = np.stack(
            [(f >= a) & (f < b) for a, b in zip(BAND_EDGES_HZ[:-1], BAND_EDGES_HZ[1:])]
        ).astype(np.float64)
        self._band_bins = np.maximum(self._band_matrix.sum(axis=1), 1.0)
        # Overall flux mixes the per-bin band means weighted by sqrt(bins): a band of few
        # bins (sub has 2) is noisy (beating, nulls) and must not outvote the rest, yet
        # the high band's hundreds of bins must not drown the kick either.
        self._flux_weights = np.sqrt(self._band_bins) / np.sqrt(self._band_bins).sum()
        # Sum of scaled band power -> mean square of the windowed band signal (Parseval,
        # one-sided spectrum; undo the amplitude scaling of the magnitudes).
        self._band_ms = 2.0 / (self.window * self._hann_energy * self._mag_scale**2)
        self._log2f = np.log2(f)
        self._centroid_lo = math.log2(BAND_EDGES_HZ[0])
        self._centroid_span = math.log2(BAND_EDGES_HZ[-1]) - self._centroid_lo
        self._chroma_matrix = _chroma_matrix(f)

        self._bands = EnvelopeFollower(4, cfg.attack_s, cfg.release_s, step_s)
        norm_hops = max(1, round(cfg.norm_window_s / step_s))
        floors = np.array([cfg.level_floor] * 5 + [cfg.flux_floor] * 5)
        self._norm = RunningNormalizer(floors, norm_hops, cfg.norm_percentile)
        self._onsets = OnsetPicker(
            history=max(1, round(cfg.onset_history_s / step_s)),
            k=cfg.onset_k,
            min_gap=max(1, math.ceil(cfg.onset_min_gap_s / step_s)),
            min_rise=cfg.onset_min_rise,
        )
        self._beat = BeatTracker(self.frame_rate)
        self._structure = StructureDetector(self.frame_rate)
        self._ring = np.zeros(self.window, dtype=np.float64)
        self._pending = np.zeros(self.hop, dtype=np.float64)
        self._npending = 0
        self._prev_mag = np.zeros(f.size, dtype=np.float64)
        self.samples_consumed = 0

    @property
    def frame_rate(self) -> float:
        """Frames per second."""
        return self.sample_rate / self.hop

    def reset(self) -> None:
        """Forget all history, as if freshly constructed."""
        self._bands.reset()
        self._norm.reset()
        self._onsets.reset()
        self._beat.reset()
        self._structure.reset()
        self._ring[:] = 0.0
        self._npending = 0
        self._prev_mag[:] = 0.0
        self.samples_consumed = 0

    def process(self, block: np.ndarray) -> list[FeatureFrame]:
        """Consume a block; return one frame for every hop it completed (possibly none)."""
        x = _to_mono(block)
        frames: list[FeatureFrame] = []
        pos, n = 0, x.size
        while pos < n:
            take = min(self.hop - self._npending, n - pos)
            self._pending[self._npending : self._npending + take] = x[pos : pos + take]
            self._npending += take
            pos += take
            if self._npending == self.hop:
                self._npending = 0
                frames.append(self._analyze_hop())
        return frames

    def _analyze_hop(self) -> FeatureFrame:
        hop = self.hop
        self._ring[:-hop] = self._ring[hop:]
        self._ring[-hop:] = self._pending
        self.samples_consumed += hop

        xw = self._ring * self._hann
        rms = math.sqrt(float(np.dot(xw, xw)) / self._hann_energy)
        mag = np.abs(np.fft.rfft(xw)[self._bins]) * self._mag_scale
        power = mag * mag
        band_rms = np.sqrt(self._band_matrix @ power * self._band_ms)

        # Log-magnitude flux; the knee follows the running level so flux ignores loudness.
        ref = self.config.flux_ref * max(float(self._norm.scale[0]), self.config.level_floor)
        rise = np.log1p(mag / ref) - np.log1p(self._prev_mag / ref)
        self._prev_mag = mag
        np.maximum(rise, 0.0, out=rise)
        band_flux = (self._band_matrix @ rise) / self._band_bins
        flux = float(np.dot(band_flux, self._flux_weights))

        followed = self._bands(band_rms)
        raw = np.concatenate(([rms], followed, [flux], band_flux))
        normed = self._norm(raw)
        onset, strength = self._onsets(flux, float(self._norm.scale[5]))

        centroid, chroma = self._shape(mag, power, rms)
        band_onsets = (float(normed[6]), float(normed[7]), float(normed[8]), float(normed[9]))
        bands = (float(normed[1]), float(normed[2]), float(normed[3]), float(normed[4]))
        clock = self._beat(flux / float(self._norm.scale[5]), beat_accent(band_onsets))
        form = self._structure(float(normed[0]), bands, centroid, levels=(rms, *map(float, followed)), onset=onset)
        pos = self.samples_consumed
        return FeatureFrame(
            sample_pos=pos,
            time=pos / self.sample_rate,
            rms=float(normed[0]),
            bands=bands,
            band_onsets=band_onsets,
            flux=float(normed[5]),
            onset=onset,
            onset_strength=strength,
            centroid=centroid,
            chroma=chroma,
            tempo_bpm=clock.tempo_bpm,
            beat_phase=clock.phase,
            beat=clock.beat,
            beat_count=clock.beat_count,
            build=form.build,
            drop=form.drop,
            section=form.section,
            tempo_confidence=clock.confidence,
            tempo_locked=clock.locked,
            bar_phase=clock.bar_phase,
            downbeat=clock.downbeat,
            section_confidence=form.section_confidence,
            breakdown=form.breakdown,
        )

    def _shape(self, mag: np.ndarray, power: np.ndarray, rms: float) -> tuple[float, tuple[float, ...]]:
        """Log-frequency centroid and chroma; both fade out with the level so silence reads as rest."""
        floor = self.config.level_floor
        presence = rms * rms / (rms * rms + floor * floor)
        total = float(mag.sum())
        if total <= _EPS:
            return 0.0, (0.0,) * 12
        centroid = (float(np.dot(mag, self._log2f)) / total - self._centroid_lo) / self._centroid_span
        centroid = min(max(centroid, 0.0), 1.0) * presence
        # Power rather than magnitude: peaks (notes) stand out from broadband noise (hats).
        chroma = self._chroma_matrix @ power
        csum = float(chroma.sum())
        if csum <= _EPS:
            return centroid, (0.0,) * 12
        return centroid, tuple(float(c) for c in chroma * (presence / csum))


def analyze(samples: np.ndarray, sample_rate: int, hop: int | None = None, config: AnalyzerConfig | None = None) -> list[FeatureFrame]:
    """Analyse a whole clip with a fresh Analyzer (the same code as live)."""
    return Analyzer(sample_rate, hop=hop, config=config).process(samples)


def _to_mono(block: np.ndarray) -> np.ndarray:
    """float64 mono; channels are summed column by column so each sample mixes the same way in any block.

    Integer PCM is scaled to -1..1; NaN and inf become 0 so one bad block cannot poison
    the followers and histories for the rest of the set.
    """
    x = np.asarray(block)
    if x.ndim not in (1, 2):
        raise ValueError(f"audio block must be [n] or [n, channels], got shape {x.shape}")
    scale = 1.0 / -float(np.iinfo(x.dtype).min) if np.issubdtype(x.dtype, np.integer) else 1.0
    if x.ndim == 1:
        mono = x.astype(np.float64)
    else:
        mono = x[:, 0].astype(np.float64)
        for ch in range(1, x.shape[1]):
            mono += x[:, ch]
        scale /= max(x.shape[1], 1)
    if scale != 1.0:
        mono *= scale
    if not np.isfinite(mono).all():
        np.nan_to_num(mono, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return mono


def _chroma_matrix(freqs: np.ndarray) -> np.ndarray:
    """[12, bins] weights folding FFT bins to pitch classes (C first), Gaussian in semitones.

    Soft weights because bins are over a semitone wide at low frequencies; bins outside
    CHROMA_RANGE_HZ get no weight (below, bins are too coarse; above, mostly noise).
    """
    lo, hi = CHROMA_RANGE_HZ
    safe = np.maximum(freqs, 1.0)
    midi = 69.0 + 12.0 * np.log2(safe / 440.0)
    pc = np.arange(12)[:, None]
    dist = (midi[None, :] - pc + 6.0) % 12.0 - 6.0  # signed semitone distance to each class
    weights = np.exp(-0.5 * (dist / 0.5) ** 2)
    weights *= ((freqs >= lo) & (freqs <= hi))[None, :]
    return weights

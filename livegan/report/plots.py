"""PNG plots of a reactivity measurement (matplotlib, headless Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .reactivity import Reactivity


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _events(ax, r: Reactivity, beats: bool = True) -> None:
    n = r.numbers
    for a, b in r.silences:
        ax.axvspan(a, b, color="0.85", zorder=0)
    if beats:
        for t in n.get("beats", []):
            ax.axvline(t, color="tab:green", lw=0.4, alpha=0.5, zorder=1)
        for t in n.get("bars", []):
            ax.axvline(t, color="tab:green", lw=1.2, alpha=0.8, zorder=1)
    for a, b in n.get("breakdowns", []):
        ax.axvspan(a, b, color="tab:olive", alpha=0.08, zorder=0)
    for t in n.get("sections", []):
        ax.axvline(t, color="tab:purple", lw=1.2, ls="--", zorder=2)
    for t in n.get("drops", []):
        ax.axvline(t, color="tab:red", lw=2.0, zorder=3)


def plot_overview(r: Reactivity, path: Path, title: str = "") -> Path:
    """Features, beat grid and tempo, build-up and drops, and visual change, on one time axis."""
    plt = _pyplot()
    f = r.frames
    t = np.array([x.time for x in f])
    bands = np.array([x.bands for x in f])
    fig, axes = plt.subplots(5, 1, figsize=(12, 11), sharex=True)
    ax = axes[0]
    for i, name in enumerate(("sub", "low", "mid", "high")):
        ax.plot(t, bands[:, i], lw=0.7, label=name)
    ax.plot(t, [x.rms for x in f], color="k", lw=0.8, label="rms")
    ax.set_ylabel("levels")
    ax.legend(loc="upper right", ncol=5, fontsize=8)
    _events(ax, r, beats=False)

    ax = axes[1]
    ax.imshow(np.array([x.chroma for x in f]).T, aspect="auto", origin="lower", cmap="magma",
              extent=(t[0], t[-1], -0.5, 11.5), interpolation="nearest")
    ax.set_yticks(range(12), ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"], fontsize=6)
    ax.set_ylabel("chroma")

    ax = axes[2]
    ax.plot(t, [x.flux for x in f], color="0.4", lw=0.6, label="flux")
    on = [x.time for x in f if x.onset]
    ax.plot(on, np.ones(len(on)) * 1.05, "|", color="tab:orange", ms=8, label="onsets")
    _events(ax, r)
    tw = ax.twinx()
    tempo = np.array([x.tempo_bpm for x in f])
    conf = np.array([x.tempo_confidence for x in f])
    tw.plot(t, tempo, color="tab:blue", lw=1.2, label="tempo")
    # Where the clock is sure, a thick line: the tempo it would lock a quantised change to.
    tw.plot(t, np.where(conf >= 0.5, tempo, np.nan), color="tab:blue", lw=3.0, alpha=0.5)
    tw.set_ylabel("tempo (BPM; thick: confident)", color="tab:blue")
    ax.set_ylabel("onsets, beats")
    ax.legend(loc="upper left", fontsize=8)

    ax = axes[3]
    ax.plot(t, [x.build for x in f], color="tab:olive", label="build-up")
    ax.plot(t, conf, color="tab:blue", lw=0.8, alpha=0.7, label="tempo confidence")
    ax.plot(t, [x.bar_phase for x in f], color="tab:green", lw=0.5, alpha=0.5, label="bar phase")
    _events(ax, r, beats=False)
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("build, confidence")
    ax.legend(loc="upper left", fontsize=8)

    ax = axes[4]
    ax.plot(r.times, r.visual_change, color="tab:cyan", lw=0.9, label="visual change")
    scale = max(float(r.visual_change.max()), 1e-6) / max(float(r.onset_env.max()), 1e-6)
    ax.plot(r.times, r.onset_env * scale, color="tab:orange", lw=0.5, alpha=0.6, label="onset envelope (scaled)")
    _events(ax, r, beats=False)
    ax.set_ylabel("mean |frame diff|")
    ax.set_xlabel("time (s)")
    ax.legend(loc="upper left", fontsize=8)
    n = r.numbers
    fig.suptitle(f"{title}  tempo {n['tempo_bpm']} BPM, onset/visual r = {n['onset_visual_correlation']}, "
                 f"silence change {n['silence_visual_change']}, music change {n['music_visual_change']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_zoom(r: Reactivity, path: Path, start: float, length: float = 4.0, title: str = "") -> Path:
    """A few seconds close up: onsets and beats against the per-frame visual change."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(12, 3.2))
    sel = (r.times >= start) & (r.times < start + length)
    ax.bar(r.times[sel], r.visual_change[sel], width=0.8 / r.fps, color="tab:cyan", label="visual change")
    scale = max(float(r.visual_change[sel].max(initial=0)), 1e-6) / max(float(r.onset_env[sel].max(initial=0)), 1e-6)
    ax.plot(r.times[sel], r.onset_env[sel] * scale, color="tab:orange", lw=1.0, label="onset envelope (scaled)")
    for tb in r.numbers.get("beats", []):
        if start <= tb < start + length:
            ax.axvline(tb, color="tab:green", lw=0.8)
    for tb in r.numbers.get("bars", []):
        if start <= tb < start + length:
            ax.axvline(tb, color="tab:green", lw=2.5)
    ax.set_xlim(start, start + length)
    ax.set_xlabel("time (s)")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(f"{title} close-up (green: beat clock, thick: bar lines)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path

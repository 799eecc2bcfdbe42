"""Benchmark: the beat clock on real, free-licensed recordings, beside aubio's causal tracker.

The recordings come from Debian packages (game soundtracks; licences in each package's
``/usr/share/doc/<pkg>/copyright``). The script downloads the packages with
``apt-get download`` into a cache folder, unpacks them with ``dpkg-deb -x`` (nothing is
installed, no audio lands in the repository), cuts an excerpt of each track and scores:

* our clock (``livegan.audio.analyzer.analyze``, the live code): MIREX Acc1 / Acc2 of the
  settled tempo, time to lock, fraction of time within 2 % after the lock, beat F-measure
  (mir_eval, +-70 ms), onset F-measure against librosa's offline onsets;
* aubio's causal tempo tracker and onset detector, fed the same audio hop by hop.

References: a MIDI score of the same piece (Frets on Fire charts, Planet Blupi's MIDI
versions) gives an exact tempo; otherwise a consensus of offline methods (librosa's beat
tracker, a tempogram, the bar-length autocorrelation peak), never aubio. Reference beats
for the F-measure are librosa's dynamic-programming tracker run at the reference tempo.

Usage: python tools/bench_beat.py [--cache DIR] [--only NAME ...] [--no-write]
Needs the ``bench`` extra (mir_eval, aubio) and ``mido`` (``midi`` extra).
Writes bench/results/beat-real-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from livegan.audio.analyzer import analyze  # noqa: E402
from livegan.audio.io import load_audio  # noqa: E402
from livegan.benchinfo import write_result  # noqa: E402
from livegan.report.beat_eval import score_tempo  # noqa: E402

FOF = "usr/share/games/fretsonfire/data/songs"
NEXUIZ_PK3 = "usr/share/games/nexuiz/data/music.pk3"
BLUPI = "usr/share/planetblupi/music"
XMOTO = "usr/share/games/xmoto/Textures/Musics"
ETR = "usr/share/games/etr/music"
LINCITY = "usr/share/games/lincity-ng/music/default"


@dataclass(frozen=True)
class Track:
    name: str
    genre: str
    package: str
    file: str  # path inside the package (``pk3!member`` for a file inside a zip)
    licence: str
    start: float = 0.0
    duration: float = 120.0
    midi: tuple[str, str] | None = None  # (package, path) of a MIDI score of the same piece
    note: str = ""


TRACKS = (
    Track("chaos_god", "metal", "fretsonfire-songs-muldjord", f"{FOF}/muldjord/chaos_god/song.ogg", "CC-BY-SA-3.0",
          midi=("fretsonfire-songs-muldjord", f"{FOF}/muldjord/chaos_god/notes.mid"),
          note="fast metal; double-time drums (tempo ambiguity)"),
    Track("mutilated_mime", "metal", "fretsonfire-songs-muldjord", f"{FOF}/muldjord/mutilated_mime/song.ogg",
          "CC-BY-SA-3.0", midi=("fretsonfire-songs-muldjord", f"{FOF}/muldjord/mutilated_mime/notes.mid")),
    Track("escape_from_chaosland", "rock", "fretsonfire-songs-sectoid",
          f"{FOF}/sectoid/Escape from chaosland/song.ogg", "GPL",
          midi=("fretsonfire-songs-sectoid", f"{FOF}/sectoid/Escape from chaosland/notes.mid")),
    Track("feelings", "rock ballad", "fretsonfire-songs-sectoid", f"{FOF}/sectoid/Feelings/song.ogg", "GPL",
          midi=("fretsonfire-songs-sectoid", f"{FOF}/sectoid/Feelings/notes.mid"), note="slow, long intro"),
    Track("war_of_freedom", "rock", "fretsonfire-songs-sectoid", f"{FOF}/sectoid/War of freedom/song.ogg", "GPL",
          midi=("fretsonfire-songs-sectoid", f"{FOF}/sectoid/War of freedom/notes.mid")),
    Track("blupi_004", "game (light pop)", "planetblupi-music-ogg", f"{BLUPI}/music004.ogg", "GPL-3+",
          midi=("planetblupi-music-midi", f"{BLUPI}/music004.mid")),
    Track("blupi_007", "game (uptempo)", "planetblupi-music-ogg", f"{BLUPI}/music007.ogg", "GPL-3+",
          midi=("planetblupi-music-midi", f"{BLUPI}/music007.mid")),
    Track("blupi_008", "game (mid-tempo)", "planetblupi-music-ogg", f"{BLUPI}/music008.ogg", "GPL-3+",
          midi=("planetblupi-music-midi", f"{BLUPI}/music008.mid")),
    Track("brainsukker", "techno", "nexuiz-music", f"{NEXUIZ_PK3}!sound/cdtracks/brainsukker.ogg", "GPL-2+",
          note="dance: breakdowns and drops"),
    Track("neuronal_diving", "trance / techno", "nexuiz-music", f"{NEXUIZ_PK3}!sound/cdtracks/neuronal-diving.ogg",
          "GPL-2+", note="long intro"),
    Track("subcities", "electronic", "nexuiz-music", f"{NEXUIZ_PK3}!sound/cdtracks/subcities.ogg", "GPL-2+"),
    Track("ninesix", "breakbeat", "nexuiz-music", f"{NEXUIZ_PK3}!sound/cdtracks/ninesix.ogg", "GPL-2+",
          note="slow breakbeat; tempo ambiguity (half / double)"),
    Track("infight", "techno", "nexuiz-music", f"{NEXUIZ_PK3}!sound/cdtracks/infight.ogg", "GPL-2+",
          note="dance: breakdown and drop"),
    Track("northern_lights", "electronic", "nexuiz-music", f"{NEXUIZ_PK3}!sound/cdtracks/northern-lights.ogg",
          "GPL-2+"),
    Track("chaos_fog", "industrial", "nexuiz-music", f"{NEXUIZ_PK3}!sound/cdtracks/chaos-fog.ogg", "GPL-2+"),
    Track("speeditup", "rock / electronic", "xmoto-data", f"{XMOTO}/speeditup.ogg", "GPL-2+"),
    Track("city_blues", "blues", "lincity-ng-data", f"{LINCITY}/02 - Robert van Herk - City Blues.ogg",
          "GPL-2+"),
    Track("caribbean", "caribbean", "hyperrogue-music", "usr/share/hyperrogue/music/hr-savino-caribbean.ogg",
          "CC-BY-SA-3.0"),
    Track("spunkyrace", "game (fast)", "extremetuxracer-data", f"{ETR}/spunkyrace-ks.ogg", "GPL-2+"),
)


# ---- fetching ---------------------------------------------------------------------------
def unpack(package: str, cache: Path) -> Path:
    """The package's files under ``cache/<package>`` (downloaded and unpacked once)."""
    root = cache / package
    if (root / ".unpacked").exists():
        return root
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    if not list(debs.glob(f"{package}_*.deb")):
        subprocess.run(["apt-get", "download", package], cwd=debs, check=True, stdout=subprocess.DEVNULL)
    deb = sorted(debs.glob(f"{package}_*.deb"))[-1]
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    (root / ".unpacked").write_text(deb.name)
    return root


def package_file(package: str, file: str, cache: Path) -> Path:
    root = unpack(package, cache)
    if "!" not in file:
        return root / file
    archive, member = file.split("!", 1)
    out = cache / "members" / package / member
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(root / archive) as z:
            out.write_bytes(z.read(member))
    return out


def package_version(package: str, cache: Path) -> str:
    return (cache / package / ".unpacked").read_text().strip()


# ---- references -------------------------------------------------------------------------
def midi_tempo(path: Path) -> float:
    """The tempo of a MIDI file whose tempo never changes (else the time-weighted median)."""
    import mido

    mid = mido.MidiFile(str(path))
    changes, t = [], 0.0
    for msg in mido.merge_tracks(mid.tracks):
        t += msg.time
        if msg.type == "set_tempo":
            changes.append((t, mido.tempo2bpm(msg.tempo)))
    if not changes:
        return 120.0
    bpms = {round(b, 3) for _, b in changes}
    if len(bpms) == 1:
        return float(changes[0][1])
    ends = [c[0] for c in changes[1:]] + [float(max(t, changes[-1][0] + 1))]
    w = np.array([e - s for (s, _), e in zip(changes, ends)])
    vals = np.array([b for _, b in changes])
    order = np.argsort(vals)
    cum = np.cumsum(w[order])
    return float(vals[order][np.searchsorted(cum, cum[-1] / 2)])


def _folds(a: float, b: float, tol: float = 0.04) -> bool:
    """``a`` is ``b`` at some metrical level (x 1, 2, 3, 1/2, 1/3)."""
    return a > 0 and b > 0 and any(abs(a - k * b) <= tol * k * b for k in (1, 2, 3, 0.5, 1 / 3))


def _acf_peak(x: np.ndarray, lo: float, hi: float) -> float:
    """The lag (in frames, refined between frames) of the autocorrelation maximum in [lo, hi]."""
    lags = np.arange(max(1, int(lo)), int(hi) + 2)
    ac = np.array([np.dot(x[:-lg], x[lg:]) / (x.size - lg) for lg in lags])
    i = int(np.argmax(ac))
    shift = 0.0
    if 0 < i < ac.size - 1:
        a, b, c = ac[i - 1], ac[i], ac[i + 1]
        if a - 2 * b + c < 0:
            shift = 0.5 * (a - c) / (a - 2 * b + c)
    return float(lags[i] + shift)


def consensus_tempo(y: np.ndarray, sr: int) -> tuple[float, dict]:
    """Tempo where offline methods agree: librosa's beat tracker, its tempogram, the loop length.

    The loop length is the autocorrelation peak between 1.2 and 4.5 s (a bar or two); it
    agrees with a tempo when it spans 2, 3, 4, 6 or 8 of its beats. The reference takes the
    beat tracker's metrical level when another method agrees with it, else the tempogram's
    when the loop agrees with that, and is refined on the autocorrelation at four beats.
    """
    import librosa

    hop = 128
    env = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop)
    fps = sr / hop
    _, beats = librosa.beat.beat_track(onset_envelope=env, sr=sr, hop_length=hop)
    bt = beats / fps
    # Beat tracker: the slope of beat time over beat index (finer than the median interval).
    tracker = 60.0 / float(np.polyfit(np.arange(bt.size), bt, 1)[0]) if bt.size > 8 else 0.0
    tempogram = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=env, sr=sr, hop_length=hop))[0])
    x = env - env.mean()
    loop_s = _acf_peak(x, 1.2 * fps, 4.5 * fps) / fps

    def loop_agrees(t: float) -> bool:
        return any(abs(n * 60.0 / t - loop_s) <= 0.04 * loop_s for n in (2, 3, 4, 6, 8))

    agree = {"tracker~tempogram": _folds(tracker, tempogram), "tracker~loop": loop_agrees(tracker),
             "tempogram~loop": loop_agrees(tempogram)}
    if agree["tracker~tempogram"] or agree["tracker~loop"]:
        level, basis = tracker, "beat tracker, confirmed"
    elif agree["tempogram~loop"]:
        level, basis = tempogram, "tempogram and loop length"
    else:
        level, basis = tracker, "beat tracker alone (methods disagree)"
    four = 4 * 60.0 / level * fps  # refine on the autocorrelation at four beats
    ref = 4 * 60.0 * fps / _acf_peak(x, 0.97 * four, 1.03 * four)
    if abs(ref / level - 1.0) > 0.02:
        ref = level
    return ref, {"methods": {"librosa_beat_track": round(tracker, 2), "librosa_tempogram": round(tempogram, 2),
                             "loop_length_s": round(loop_s, 3)},
                 "agreement": agree, "basis": basis, "all_agree": all(agree.values())}


def beat_entry(y: np.ndarray, sr: int, bpm: float, window_s: float = 4.0) -> float:
    """When a steady pulse at the reference tempo starts (s): before it no clock can lock.

    The pulse clarity of a ``window_s`` window is the onset autocorrelation at one or two
    beats; the entry is the first window reaching half the excerpt's median clarity.
    """
    import librosa

    hop = 256
    env = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop)
    fps = sr / hop
    period, width = 60.0 / bpm * fps, int(window_s * fps)
    starts = np.arange(0, max(env.size - width, 1), max(1, int(0.5 * fps)))
    clarity = []
    for s0 in starts:
        x = env[s0:s0 + width] - env[s0:s0 + width].mean()
        energy = float(np.dot(x, x)) + 1e-9
        vals = []
        for lag in (period, 2 * period):
            lo = int(lag)
            f = lag - lo
            if lo + 1 >= x.size:
                continue
            vals.append((np.dot(x[:-lo], x[lo:]) * (1 - f) + np.dot(x[:-lo - 1], x[lo + 1:]) * f) / energy)
        clarity.append(max(vals) if vals else 0.0)
    clarity = np.array(clarity)
    ok = clarity >= 0.5 * max(float(np.median(clarity)), 0.05)
    return float(starts[int(np.argmax(ok))] / fps) if ok.any() else 0.0


def reference_beats(y: np.ndarray, sr: int, bpm: float) -> np.ndarray:
    import librosa

    hop = 128
    env = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop)
    _, beats = librosa.beat.beat_track(onset_envelope=env, sr=sr, hop_length=hop, bpm=bpm, tightness=400)
    return beats * hop / sr


def reference_onsets(y: np.ndarray, sr: int) -> np.ndarray:
    import librosa

    return librosa.onset.onset_detect(y=y, sr=sr, units="time")


# ---- the peer ---------------------------------------------------------------------------
def run_aubio(mono: np.ndarray, sr: int, hop: int = 512) -> dict:
    """aubio's causal tempo tracker and onset detector, one hop at a time."""
    import aubio

    tempo = aubio.tempo("default", 2 * hop, hop, sr)
    onset = aubio.onset("default", 2 * hop, hop, sr)
    x = mono.astype(np.float32)
    n = x.size // hop
    times, bpm, beats, onsets = np.zeros(n), np.zeros(n), [], []
    for i in range(n):
        block = x[i * hop:(i + 1) * hop]
        if tempo(block)[0]:
            beats.append(tempo.get_last_s())
        if onset(block)[0]:
            onsets.append(onset.get_last_s())
        times[i] = (i + 1) * hop / sr
        bpm[i] = tempo.get_bpm()
    return {"times": times, "tempo": bpm, "beats": np.array(beats), "onsets": np.array(onsets)}


# ---- one track --------------------------------------------------------------------------
def evaluate(track: Track, cache: Path) -> dict:
    import librosa
    import mir_eval

    path = package_file(track.package, track.file, cache)
    clip = load_audio(path)
    sr = clip.sample_rate
    a, b = int(track.start * sr), int((track.start + track.duration) * sr)
    samples = np.ascontiguousarray(clip.samples[a:b])
    mono = samples.mean(axis=1)
    y22 = librosa.resample(mono.astype(np.float32), orig_sr=sr, target_sr=22050)
    if track.midi:
        ref = midi_tempo(package_file(track.midi[0], track.midi[1], cache))
        ref_info = {"source": "midi", "midi": f"{track.midi[0]}:{track.midi[1]}"}
    else:
        ref, detail = consensus_tempo(y22, 22050)
        ref_info = {"source": "consensus", **detail}
    ref_beats = reference_beats(y22, 22050, ref)
    entry = beat_entry(y22, 22050, ref)
    ref_onsets = reference_onsets(y22, 22050)

    t0 = time.perf_counter()
    frames = analyze(samples, sr)
    ours_s = time.perf_counter() - t0
    times = np.array([f.time for f in frames])
    tempo = np.array([f.tempo_bpm for f in frames])
    beats = np.array([f.time for f in frames if f.beat])
    onsets = np.array([f.time for f in frames if f.onset])
    peer = run_aubio(mono, sr)

    def beat_f(est: np.ndarray) -> float:
        return float(mir_eval.beat.f_measure(mir_eval.beat.trim_beats(ref_beats), mir_eval.beat.trim_beats(est)))

    def onset_f(est: np.ndarray) -> float:
        return float(mir_eval.onset.f_measure(ref_onsets, est, window=0.05)[0])

    def after_entry(score: dict) -> dict:
        lock = score["lock_s"]
        return {**score, "lock_after_entry_s": None if lock is None else round(max(0.0, lock - entry), 2)}

    ours = after_entry(score_tempo(times, tempo, ref).as_dict())
    ours.update(beat_f=round(beat_f(beats), 4), onset_f=round(onset_f(onsets), 4),
                analysis_s=round(ours_s, 2))
    conf = np.array([getattr(f, "tempo_confidence", 0.0) for f in frames])
    ours["mean_confidence"] = round(float(conf.mean()), 3) if conf.size else 0.0
    theirs = after_entry(score_tempo(peer["times"], peer["tempo"], ref).as_dict())
    theirs.update(beat_f=round(beat_f(peer["beats"]), 4), onset_f=round(onset_f(peer["onsets"]), 4))
    return {"track": track.name, "genre": track.genre, "package": track.package,
            "package_file": package_version(track.package, cache), "file": track.file, "licence": track.licence,
            "copyright": f"/usr/share/doc/{track.package}/copyright",
            "excerpt_s": [track.start, track.start + round(len(mono) / sr, 2)], "note": track.note,
            "reference_bpm": round(ref, 3), "reference": ref_info, "beat_entry_s": round(entry, 2), "ours": ours, "aubio": theirs}


def summarise(rows: list[dict]) -> dict:
    n = len(rows)

    def share(pred) -> float:
        return round(sum(1 for r in rows if pred(r)) / max(n, 1), 4)

    locks = [r["ours"]["lock_after_entry_s"] for r in rows if r["ours"]["lock_s"] is not None]
    raw_locks = [r["ours"]["lock_s"] for r in rows if r["ours"]["lock_s"] is not None]
    fracs = [r["ours"]["locked_fraction"] for r in rows if r["ours"]["lock_s"] is not None]
    alocks = [r["aubio"]["lock_after_entry_s"] for r in rows if r["aubio"]["lock_s"] is not None]
    return {
        "tracks": n,
        "ours": {"acc1": share(lambda r: r["ours"]["acc1"]), "acc2": share(lambda r: r["ours"]["acc2"]),
                 "median_lock_after_entry_s": round(float(np.median(locks)), 2) if locks else None,
                 "median_lock_from_start_s": round(float(np.median(raw_locks)), 2) if raw_locks else None,
                 "tracks_locked_90pct": share(lambda r: r["ours"]["locked_fraction"] >= 0.9),
                 "mean_locked_fraction": round(float(np.mean(fracs)), 4) if fracs else 0.0,
                 "median_beat_f": round(float(np.median([r["ours"]["beat_f"] for r in rows])), 4),
                 "median_onset_f": round(float(np.median([r["ours"]["onset_f"] for r in rows])), 4)},
        "aubio": {"acc1": share(lambda r: r["aubio"]["acc1"]), "acc2": share(lambda r: r["aubio"]["acc2"]),
                  "median_lock_after_entry_s": round(float(np.median(alocks)), 2) if alocks else None,
                  "median_beat_f": round(float(np.median([r["aubio"]["beat_f"] for r in rows])), 4),
                  "median_onset_f": round(float(np.median([r["aubio"]["onset_f"] for r in rows])), 4)},
        "beat_f_at_least_aubio": share(lambda r: r["ours"]["beat_f"] >= r["aubio"]["beat_f"]),
        "goals": {"acc2": ">= 0.95", "acc1": ">= 0.80", "median_lock_after_entry_s": "<= 4", "locked_fraction": ">= 0.9",
                  "beat_f_at_least_aubio": ">= 0.80"},
    }


def table(rows: list[dict]) -> str:
    head = (f"{'track':22} {'genre':18} {'ref':>7} {'src':5} {'est':>7} A1 A2 {'lock':>5} {'%lock':>6} {'beatF':>5}"
            f" | {'aubio':>7} A1 A2 {'beatF':>5} | {'onF':>4} {'aubOnF':>6}")
    lines = [head]
    for r in rows:
        o, p = r["ours"], r["aubio"]
        lock = "-" if o["lock_s"] is None else f"{o['lock_after_entry_s']:.1f}"
        lines.append(
            f"{r['track'][:22]:22} {r['genre'][:18]:18} {r['reference_bpm']:7.2f} {r['reference']['source'][:5]:5} "
            f"{o['estimate_bpm']:7.2f} {'y' if o['acc1'] else 'n':2} {'y' if o['acc2'] else 'n':2} {lock:>5} "
            f"{100 * o['locked_fraction']:5.1f}% {o['beat_f']:.3f} | {p['estimate_bpm']:7.2f} "
            f"{'y' if p['acc1'] else 'n':2} {'y' if p['acc2'] else 'n':2} {p['beat_f']:.3f} | "
            f"{o['onset_f']:.2f} {p['onset_f']:6.2f}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "livegan" / "beat-real"
    parser.add_argument("--cache", type=Path, default=default_cache, help="where packages are downloaded and unpacked")
    parser.add_argument("--only", nargs="*", default=None, help="track names to run (default: all)")
    parser.add_argument("--no-write", action="store_true", help="print the table, write no result file")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    tracks = [t for t in TRACKS if not args.only or t.name in args.only]
    rows = []
    for t in tracks:
        rows.append(evaluate(t, args.cache))
        print(table(rows[-1:]).splitlines()[1], flush=True)
    print(table(rows))
    summary = summarise(rows)
    print(json.dumps(summary, indent=1))
    if not args.no_write:
        path = write_result("beat", {
            "benchmark": "beat clock on real recordings vs aubio (causal); references from MIDI or offline consensus",
            "metrics": {"acc1": "settled tempo (median over the second half) within 4 % of the reference",
                        "acc2": "within 4 % of the reference x 1, 2, 3, 1/2 or 1/3",
                        "lock_s": "first time from which the tempo stays within 2 % of the settled level for 5 s",
                        "lock_after_entry_s": "lock_s less beat_entry_s (when a steady pulse at the reference "
                                              "tempo starts, from the reference's onset autocorrelation)",
                        "locked_fraction": "after the lock, share of hops within 2 % of that level",
                        "beat_f": "mir_eval beat F-measure (70 ms) against librosa's tracker at the reference tempo",
                        "onset_f": "mir_eval onset F-measure (50 ms) against librosa's offline onsets"},
            "summary": summary, "tracks": rows}, tag="real")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

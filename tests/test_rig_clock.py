"""External clocks leading the beat clock: the follow rule, precedence, MIDI clock parsing, tempo maps, replays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from livegan.audio.features import FeatureFrame
from livegan.clock.external import ExternalTempo, Precedence, lead_position
from livegan.clock.midi_clock import CLOCK, CONTINUE, SONG_POSITION, START, STOP, MidiClockFollower
from livegan.clock.recorded import RecordedTempo
from livegan.clock.tempo_map import TempoMap, load_tempo_map
from livegan.conductor.performance import Performance
from livegan.errors import LiveganError
from livegan.params.definitions import make_registry
from livegan.record.setfile import CLOCK_DTYPE


def test_lead_position_glides_snaps_and_starts_on_the_bar():
    # Far from the leader's bar phase: a glide, never backwards.
    assert lead_position(10.0, 10.05, 15.0, 0.033, 0.15, False) == pytest.approx(10.05 + (11.0 - 10.05) *
                                                                                   (1 - math.exp(-0.033 / 0.15)))
    assert lead_position(10.0, 10.05, 13.0, 0.033, 0.15, False) == 10.0  # the nearest, 9.0, is behind: it holds
    # Close to it: exactly the leader's position in the count's own bar numbering.
    assert lead_position(21.0, 21.01, 1.02, 0.033, 0.15, False) == 21.02
    # A transport start lands on the next position with the leader's phase (a bar line here).
    assert lead_position(13.7, 13.7, 0.0, 0.033, 0.15, True) == 16.0
    assert lead_position(16.0, 16.0, 0.0, 0.033, 0.15, True) == 16.0


class Leader:
    """A tempo source at ``bpm`` with beat 0 at time ``t0`` and a transport switch."""

    def __init__(self, bpm: float, t0: float = 0.0) -> None:
        self.bpm, self.t0, self.playing, self.calls = bpm, t0, True, 0

    def __call__(self, t, snap):
        self.calls += 1
        return ExternalTempo(self.bpm, (t - self.t0) * self.bpm / 60.0, self.playing, "link", t)


def steps(perf: Performance, reg, times, tempo_bpm: float = 0.0):
    out = []
    for t in times:
        f = FeatureFrame(sample_pos=int(t * 48000), time=t, tempo_bpm=tempo_bpm, beat_phase=(t * tempo_bpm / 60) % 1)
        out.append(perf.step(f, reg.snapshot(), t).clock)
    return out


def test_performance_follows_a_leader_without_a_jump_and_holds_when_stopped():
    reg = make_registry()
    perf = Performance({})
    fps = 30.0
    # The detector leads first (100 BPM), then Link arrives at 128 BPM with another phase.
    before = steps(perf, reg, np.arange(1, 61) / fps, tempo_bpm=100.0)
    assert before[-1].source == "analysis" and before[-1].bpm == pytest.approx(100.0)
    leader = Leader(128.0, t0=0.3)
    perf.tempo = leader
    led = steps(perf, reg, np.arange(61, 241) / fps, tempo_bpm=100.0)
    beats = np.array([c.beats for c in before + led])
    assert np.all(np.diff(beats) >= 0) and np.diff(beats).max() < 0.5  # never back, never a leap
    assert all(c.source == "link" and c.bpm == 128.0 for c in led)
    # Locked: the leader's bar phase exactly, bar events on its bar lines.
    t_end = 240 / fps
    assert (led[-1].beats - (t_end - 0.3) * 128 / 60) % 4 == pytest.approx(0.0, abs=1e-9)
    bars = [c for c in led[60:] if c.bar]
    assert bars and all(math.floor(c.beats) % 4 == 0 for c in bars)
    assert perf.external is not None and perf.external.source == "link"
    # The transport stops: the count holds and says so; it starts again on the next bar line.
    leader.playing = False
    held = steps(perf, reg, np.arange(241, 271) / fps)
    assert all(c.beats == held[0].beats and not c.running and not c.beat for c in held)
    assert held[0].at(100.0).beats == held[0].beats  # carried forward, a stopped clock stays put
    leader.playing, leader.t0 = True, 271 / fps  # a peer started: beat 0 now
    restart = steps(perf, reg, [271 / fps])[0]
    assert restart.bar and restart.beats % 4 == 0.0 and restart.beats > held[-1].beats
    # The leader goes away: the beat clock's own sources run on from where the count is.
    perf.tempo = None
    after = steps(perf, reg, np.arange(272, 280) / fps, tempo_bpm=100.0)
    assert after[0].beats >= restart.beats and after[0].beats - restart.beats < 0.2 and after[0].running


def test_precedence_first_that_leads():
    midi = Leader(110.0)
    none = lambda t, s: None  # noqa: E731 - a source that does not lead now
    assert Precedence([none, midi])(1.0, None).bpm == 110.0
    assert Precedence([none, none])(1.0, None) is None

    def broken(t, s):
        raise OSError("network is down")

    guarded = Precedence([broken, midi])
    assert guarded(1.0, None).bpm == 110.0 and guarded(2.0, None).bpm == 110.0 and guarded.errors == 2


def feed_pulses(f: MidiClockFollower, bpm: float, n: int, t0: float, burst: float = 1024 / 48000, start=True):
    """Pulses at ``bpm`` delivered in bursts every ``burst`` seconds (a JACK period), as JACK MIDI does."""
    if start:
        f.feed([START], t0)
    period = 60.0 / (bpm * 24)
    for k in range(n):
        sent = t0 + k * period
        f.feed([CLOCK], math.ceil(sent / burst) * burst)
    return t0 + n * period


def test_midi_clock_follower_tempo_position_and_transport():
    f = MidiClockFollower()
    assert f.reading(0.0) is None
    end = feed_pulses(f, 126.0, 24 * 8, 10.0)
    r = f.reading(end)
    assert r.bpm == pytest.approx(126.0, abs=0.5) and r.playing and r.source == "midi"
    assert r.beats == pytest.approx(8.0, abs=0.1)  # eight beats since the Start
    f.feed([STOP], end + 0.001)
    stopped = f.reading(end + 0.2)
    assert not stopped.playing and stopped.beats == pytest.approx(8.0)
    f.feed([SONG_POSITION, 0, 1], end + 0.3)  # 128 sixteenths = beat 32
    f.feed([CONTINUE], end + 0.31)
    end2 = feed_pulses(f, 126.0, 24, end + 0.31, start=False)
    assert f.reading(end2).beats == pytest.approx(33.0, abs=0.1)
    assert f.reading(end2 + 1.5) is None  # no pulse for over a second: MIDI clock no longer leads
    free = MidiClockFollower()
    e = feed_pulses(free, 90.0, 48, 0.0, start=False)
    assert free.reading(e).beats is None and free.reading(e).bpm == pytest.approx(90.0, abs=0.5)


def test_tempo_map_file_and_errors(tmp_path):
    p = tmp_path / "map.txt"
    p.write_text("# seconds bpm\n0.5 120\n10.5, 60  # slower\n")
    m = load_tempo_map(p)
    assert m(0.5).beats == 0.0 and m(10.5).beats == pytest.approx(20.0) and m(12.5).beats == pytest.approx(22.0)
    assert m(0.0).beats == pytest.approx(-1.0) and m(11.0).bpm == 60.0
    assert TempoMap.constant(128.0, offset=15.0)(0.0).beats == pytest.approx(32.0)
    for text, msg in (("1 120\n1 130\n", "not after"), ("x y\n", "expected 'SECONDS BPM'"), ("0 5\n", "outside"),
                      ("# nothing\n", "no tempo rows"), ("-1 120\n", ">= 0")):
        p.write_text(text)
        with pytest.raises(LiveganError, match=msg):
            load_tempo_map(p)
    with pytest.raises(LiveganError, match="cannot read"):
        load_tempo_map(tmp_path / "missing.txt")


def test_recorded_tempo_gives_each_tick_its_own_reading():
    rows = np.zeros(3, CLOCK_DTYPE)
    rows["lead"] = [1, 0, 1]
    rows["bpm"], rows["beats"], rows["playing"], rows["source"] = 120.0, [1.25, 0.0, np.nan], 1, b"midi"
    src = RecordedTempo(np.array([0.1, 0.2, 0.3]), rows)
    assert src(0.1).beats == 1.25 and src(0.1).source == "midi"  # exactly the live reading
    assert src(0.15).beats == pytest.approx(1.35)  # between ticks: carried forward
    assert src(0.2) is None and src(0.05) is None
    assert src(0.3).beats is None and src(0.3).bpm == 120.0


def test_render_follows_a_known_tempo(tmp_path, capsys):
    """`livegan render --link-tempo / --tempo-map`: the conductor's clock is the given tempo, not the detector's."""
    from live_helpers import click_track

    from livegan.audio.analyzer import analyze
    from livegan.audio.io import load_audio
    from livegan.cli import main
    from livegan.render.offline import conduct
    from livegan.session import Session, SessionSpec

    song = click_track(tmp_path / "song.wav", [0.25 + 0.5 * i for i in range(8)], 4.0)
    session = Session(SessionSpec(preset="tunnel", model_size=32))
    session.performance.tempo = TempoMap(((0.5, 90.0), (2.5, 150.0)))
    clip = load_audio(song)
    features = analyze(clip.samples.mean(axis=1), clip.sample_rate)
    jobs = list(conduct(session, features, clip.sample_rate, 90, 30))
    assert len(jobs) == 90
    ext = session.performance.external
    assert ext.source == "map" and ext.bpm == 150.0 and ext.beats == pytest.approx(3.0 + (89 / 30 - 2.5) * 2.5)
    out = tmp_path / "a.mp4"
    assert main(["render", str(song), "-o", str(out), "--size", "64x64", "--fps", "15", "--model-size", "32",
                 "--duration", "2", "--link-tempo", "128", "--quiet"]) == 0 and out.stat().st_size > 0
    bad = tmp_path / "bad.txt"
    bad.write_text("0 120\nzero 130\n")
    capsys.readouterr()
    assert main(["render", str(song), "-o", str(out), "--tempo-map", str(bad), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{bad}:2" in err[0]


def test_midi_clock_follower_follows_a_tempo_change_within_a_beat():
    f = MidiClockFollower()
    t = feed_pulses(f, 126.0, 24 * 8, 0.0)
    t = feed_pulses(f, 140.0, 24, t, start=False)  # one beat at the new tempo
    assert f.reading(t).bpm == pytest.approx(140.0, abs=1.5)

"""Build-up / drop and section detection on generated tracks with a known drop."""

from __future__ import annotations

import numpy as np
import pytest

from livegan.audio.structure import StructureDetector
from livegan.report.tracks import analyzed_track


@pytest.mark.parametrize("name", ["demo", "builddrop", "halftime"])
def test_exactly_one_drop_within_a_second(name):
    track, frames = analyzed_track(name)
    drops = [f.time for f in frames if f.drop]
    # Measured: +0.53 s (demo), +0.31 s (builddrop), +0.10 s (halftime); the issue allows 1 s.
    # (The low end is followed over ~1 s so a groove, not its first kick, marks the drop.)
    assert len(drops) == 1, drops
    assert 0.0 <= drops[0] - track.drop_time < 1.0


def test_build_rises_through_the_build_up_only():
    track, frames = analyzed_track("builddrop")
    t = np.array([f.time for f in frames])
    build = np.array([f.build for f in frames])
    bar = 240.0 / track.bpm
    groove = (t > 2.0) & (t < 4 * bar)
    late_build = (t > 6 * bar) & (t < 8 * bar)
    after = (t > track.drop_time + 1.0) & (t < 14 * bar)
    # Measured peaks: ~0.65 in the build, < 0.05 in the grooves.
    assert build[late_build].max() > 0.4
    assert build[groove].max() < 0.15 and build[after].max() < 0.15


def test_the_drop_starts_a_section_and_grooves_do_not():
    track, frames = analyzed_track("demo")
    sections = [f.time for f in frames if f.section]
    assert any(abs(s - track.drop_time) < 1.0 for s in sections)
    assert not [s for s in sections if 8.0 < s < track.silence[0]]  # steady groove: no change


def test_first_kick_is_not_a_drop():
    det = StructureDetector(86.0)
    quiet = [det(0.0, (0.0, 0.0, 0.0, 0.0), 0.0) for _ in range(400)]
    loud = [det(0.9, (0.9, 0.9, 0.5, 0.3), 0.5) for _ in range(200)]
    assert not any(s.drop for s in quiet + loud)
    # After loud music, a 3 s lull and the bass back: a drop, once.
    lull = [det(0.1, (0.0, 0.0, 0.3, 0.3), 0.6) for _ in range(260)]
    back = [det(0.9, (0.9, 0.9, 0.5, 0.3), 0.5) for _ in range(200)]
    assert not any(s.drop for s in lull) and sum(s.drop for s in back) == 1


def test_short_gaps_between_kicks_are_not_drops():
    det = StructureDetector(86.0)
    for _ in range(20):  # loud bar, then a one-second gap, repeated
        for _ in range(86):
            assert not det(0.9, (0.9, 0.9, 0.5, 0.3), 0.5).drop
        for _ in range(86):
            assert not det(0.2, (0.0, 0.0, 0.3, 0.2), 0.6).drop


WITHIN_S = 1.5  # issue 16: structural events within 1.5 s of where a listener hears them


def test_drop_is_at_the_full_groove_not_the_first_sound():
    # silence -> sparse groove (hats, snare, a faint kick) -> the full groove
    track, frames = analyzed_track("sparsefull")
    drops = [f.time for f in frames if f.drop]
    # Measured: one drop, +0.06 s after the full groove; none when the sparse groove starts.
    assert len(drops) == 1, drops
    assert abs(drops[0] - track.drop_time) < WITHIN_S
    assert not [f for f in frames if f.section and f.time < track.drop_time - WITHIN_S]


def test_bass_entry_after_a_quiet_intro_is_a_section():
    track, frames = analyzed_track("bassentry")
    sections = [(f.time, f.section_confidence) for f in frames if f.section]
    # Measured: one section, +0.04 s after the entry, confidence 1 (it also counts as the drop:
    # the full groove arrives after half a minute of music without it).
    hits = [(t, c) for t, c in sections if abs(t - track.section_time) < WITHIN_S]
    assert len(hits) == 1 and hits[0][1] >= 0.5, sections
    assert not [t for t, _ in sections if t < track.section_time - WITHIN_S]  # the intro itself is one section


def test_a_steady_track_has_no_drop_and_no_section():
    _, frames = analyzed_track("steady")
    assert not any(f.drop for f in frames)
    assert not any(f.section for f in frames)
    assert not any(f.breakdown for f in frames)


def test_breakdown_and_build_are_reported_through_the_build_up():
    track, frames = analyzed_track("builddrop")
    bar = 240.0 / track.bpm
    t = np.array([f.time for f in frames])
    breakdown = np.array([f.breakdown for f in frames])
    # The kick and bass leave at bar 4 (7.5 s); after lull_s (2 s) it is a breakdown until the drop.
    assert breakdown[(t > 4 * bar + 2.5) & (t < track.drop_time - 0.2)].all()
    assert not breakdown[(t > 2.0) & (t < 4 * bar)].any()
    assert not breakdown[(t > track.drop_time + 1.0) & (t < 14 * bar)].any()


def test_section_confidence_only_with_a_section():
    for name in ("demo", "builddrop", "halftime"):
        _, frames = analyzed_track(name)
        for f in frames:
            assert 0.0 <= f.section_confidence <= 1.0
            assert (f.section_confidence > 0.0) == f.section


def test_absolute_levels_see_a_bass_entry_that_normalisation_hides():
    """Normalised levels alike (the running normaliser scales each part to full range), only
    the absolute levels change: the bass comes in 40 dB louder. That is a section."""
    det = StructureDetector(86.0)
    norm = (0.8, (0.8, 0.8, 0.6, 0.5), 0.5)
    quiet = [det(*norm, levels=(0.01, 0.0005, 0.0005, 0.005, 0.003)) for _ in range(86 * 20)]
    loud = [det(*norm, levels=(0.3, 0.25, 0.25, 0.05, 0.03)) for _ in range(86 * 5)]
    assert not any(s.section for s in quiet)
    assert sum(s.section for s in loud) == 1 and next(s for s in loud if s.section).section_confidence > 0.5

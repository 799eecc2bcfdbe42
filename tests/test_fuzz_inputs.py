"""Fuzzing the four doors into livegan: OSC datagrams, preset files, model files, audio files.

Each input is a mutation of a real seed (or raw bytes); the only allowed outcomes are
acceptance and the intended one-line refusal (see livegan/testing/fuzz_targets.py).
Bounded for CI: a fixed number of examples per door, derandomized so a failure
reproduces, with a per-example deadline that also catches near-hangs. Longer runs:
``tools/fuzz.py --minutes 5``.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livegan.testing.fuzz_targets import AudioTarget, ModelFileTarget, OscTarget, PresetTarget, mutate

FUZZ = settings(derandomize=True, deadline=3000, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def mutations(seeds: list[bytes]):
    edits = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=8)
    inserts = st.lists(st.tuples(st.integers(0, 1 << 20), st.binary(min_size=1, max_size=8)), max_size=2)
    cut = st.none() | st.integers(0, 1 << 20)
    mutated = st.builds(mutate, st.sampled_from(seeds), edits, cut, inserts)
    return st.one_of(mutated, mutated, st.binary(max_size=300))


TOML_LIKE = st.text(alphabet=st.sampled_from(list('[]="#.\n abc/_-0123456789truefalsnm{},\\\'')), max_size=200)

# door -> (examples, whether a clean acceptance must also be seen)
CASES = {"osc": (1000, True), "preset": (250, True), "model_file": (300, False), "audio": (400, True)}


@pytest.fixture(scope="module")
def targets(tmp_path_factory):
    made = {"osc": OscTarget(), "preset": PresetTarget(),
            "model_file": ModelFileTarget(tmp_path_factory.mktemp("fuzz-model")),
            "audio": AudioTarget(tmp_path_factory.mktemp("fuzz-audio"))}
    yield made
    made["osc"].close()


@pytest.mark.parametrize("door", sorted(CASES))
def test_fuzzed_input_is_accepted_or_refused_clearly(targets, door):
    target = targets[door]
    seeds = target.seeds()
    if not seeds:
        pytest.skip("StyleGAN fixtures not found (they seed the model-file fuzzer)")
    examples, must_accept = CASES[door]
    strategy = mutations(seeds)
    if door == "preset":
        strategy = st.one_of(strategy, TOML_LIKE.map(str.encode))
    outcomes: list[str] = []

    @settings(FUZZ, max_examples=examples)
    @given(strategy)
    def run(data: bytes) -> None:
        outcomes.append(target(data))

    run()
    assert "refused" in outcomes  # the fuzzer reached the refusals ...
    assert not must_accept or "accepted" in outcomes  # ... and, past the parsers, the accepting side

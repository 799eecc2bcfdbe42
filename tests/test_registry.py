import threading

import pytest

from livegan.params.definitions import make_registry
from livegan.params.registry import ParamError, ParamRegistry, ParamSpec


def test_defaults_and_set_are_checked():
    reg = make_registry()
    assert reg.get("latent/speed") == reg.spec("latent/speed").default
    reg.set("latent/speed", 1.5)
    assert reg.get("latent/speed") == 1.5
    with pytest.raises(ParamError, match=r"latent/speed.*99"):
        reg.set("latent/speed", 99)
    assert reg.get("latent/speed") == 1.5  # a refused value changes nothing
    with pytest.raises(ParamError, match="unknown parameter 'nope/x'"):
        reg.set("nope/x", 1)
    with pytest.raises(ParamError, match="noise/mode"):
        reg.set("noise/mode", "loud")
    with pytest.raises(ParamError):
        reg.set("latent/keyframes", 2.5)
    with pytest.raises(ParamError):
        reg.set("latent/speed", float("nan"))
    with pytest.raises(ParamError):
        reg.set("show/freeze", "maybe")


def test_normalised_nudge_and_enum_index():
    reg = make_registry()
    spec = reg.spec("truncation/psi")
    reg.set_normalised("truncation/psi", 1.0)
    assert reg.get("truncation/psi") == spec.max
    reg.set_normalised("truncation/psi", 0.0)
    assert reg.get("truncation/psi") == spec.min
    reg.nudge("truncation/psi", -10)  # clamped, not refused
    assert reg.get("truncation/psi") == spec.min
    reg.set("noise/mode", 2)
    assert reg.get("noise/mode") == "none"
    assert spec.normalise(spec.denormalise(0.25)) == pytest.approx(0.25)


def test_update_is_all_or_nothing():
    reg = make_registry()
    before = dict(reg.peek().values)
    with pytest.raises(ParamError):
        reg.update({"latent/speed": 1.0, "truncation/psi": "x"})
    assert dict(reg.peek().values) == before


def test_snapshot_is_immutable_and_consumes_triggers():
    t = [3.5]
    reg = make_registry(clock=lambda: t[0])
    reg.set("latent/reseed", None)
    snap = reg.snapshot()
    assert [c.name for c in snap.triggers] == ["latent/reseed"]
    assert snap.triggers[0].audio_time == 3.5
    assert reg.snapshot().triggers == ()
    with pytest.raises(TypeError):
        snap.values["latent/speed"] = 3  # type: ignore[index]
    reg.set("latent/speed", 2.0)
    assert snap["latent/speed"] != 2.0


def test_changes_are_stamped_with_audio_time_and_listened_to():
    t = [0.0]
    reg = make_registry(clock=lambda: t[0])
    seen = []
    unsub = reg.subscribe(seen.append)
    t[0] = 12.25
    reg.set("latent/speed", 0.5, source="osc")
    unsub()
    reg.set("latent/speed", 0.6)
    assert len(seen) == 1 and seen[0].audio_time == 12.25 and seen[0].source == "osc" and seen[0].value == 0.5


def test_thread_safety_under_concurrent_writers():
    reg = ParamRegistry([ParamSpec("a/x", "float", 0.0, 0.0, 1e9)])

    def writer():
        for _ in range(2000):
            reg.nudge("a/x", 1.0)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert reg.get("a/x") == 8000.0


def test_addresses_are_under_one_namespace():
    reg = make_registry()
    addresses = [s.address for s in reg.specs()]
    assert all(a.startswith("/livegan/") for a in addresses)
    assert len(set(addresses)) == len(addresses)

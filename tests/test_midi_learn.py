"""MIDI learn: learning, soft takeover, relative encoders, TOML mappings, and JACK MIDI ports."""

from __future__ import annotations

import time

import pytest

from livegan.control.midi_learn import MidiBinding, MidiLearn, load_bindings, relative_steps
from livegan.control.presets import default_actions
from livegan.errors import LiveganError
from livegan.params.definitions import make_registry


def cc(num: int, value: int, ch: int = 0) -> tuple[int, int, int]:
    return (0xB0 | ch, num, value)


def note(num: int, vel: int = 100, ch: int = 0) -> tuple[int, int, int]:
    return (0x90 | ch, num, vel)


def test_learn_then_follow_with_soft_takeover() -> None:
    reg = make_registry()
    m = MidiLearn(reg)
    m.arm("latent/speed")  # range 0..4, at 0.15 (0.0375 normalised)
    assert m.handle(cc(21, 90)) == "latent/speed"  # the learning move does not set the value
    assert m.bindings == [MidiBinding("cc", 0, 21, "latent/speed")] and reg.get("latent/speed") == 0.15
    assert m.handle(cc(21, 60)) is None  # far from the value: not picked up yet
    assert m.handle(cc(21, 3)) == "latent/speed"  # crossed 0.0375: caught
    assert reg.get("latent/speed") == pytest.approx(4 * 3 / 127)
    m.handle(cc(21, 127))
    assert reg.get("latent/speed") == 4.0
    reg.set("latent/speed", 1.0, source="osc")  # someone else moved it: soft takeover again
    assert m.handle(cc(21, 120)) is None and reg.get("latent/speed") == 1.0
    assert m.handle(cc(21, 32)) == "latent/speed"  # 32/127 is within the pickup window of 0.25
    assert m.handle(cc(21, 5, ch=1)) is None  # another channel is another control
    # Jump mode follows at once.
    m.bind(MidiBinding("cc", 0, 22, "truncation/psi", takeover="jump"))
    m.handle(cc(22, 127))
    assert reg.get("truncation/psi") == 2.0


def test_relative_encoders_triggers_and_actions(tmp_path, monkeypatch) -> None:
    assert [relative_steps("relative", v) for v in (1, 3, 127, 125)] == [1, 3, -1, -3]
    assert [relative_steps("relative_offset", v) for v in (65, 63, 64)] == [1, -1, 0]
    assert [relative_steps("relative_sign", v) for v in (1, 65, 66)] == [1, -1, -2]
    reg = make_registry()
    (tmp_path / "p1.toml").write_text('[params]\n"latent/speed" = 3.0\n')
    monkeypatch.setenv("LIVEGAN_PRESETS", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    m = MidiLearn(reg, default_actions(reg))
    m.arm("noise/strength", mode="relative", step=0.1)  # 0..10, so one step = 1.0
    m.handle(cc(10, 1))
    m.handle(cc(10, 2))
    m.handle(cc(10, 127))
    assert reg.get("noise/strength") == pytest.approx(2.0)
    m.arm("fx/flash")
    m.handle(note(36))  # learnt on the press
    reg.snapshot()
    m.handle(note(36))
    m.handle(note(36, 0))  # the release does not fire
    m.handle(note(36))
    assert [t.name for t in reg.snapshot().triggers] == ["fx/flash", "fx/flash"]
    m.arm("show/blackout")
    m.handle(note(37))
    m.handle(note(37))
    assert reg.get("show/blackout") is True
    m.bind(MidiBinding("note", 0, 40, "preset/load", arg="p1"))
    m.handle(note(40))
    assert reg.get("latent/speed") == 3.0
    m.bind(MidiBinding("note", 0, 41, "preset/load", arg="missing"))
    m.handle(note(41))
    assert m.errors == 1
    with pytest.raises(LiveganError, match="unknown parameter"):
        m.arm("no/such")
    m.close()


def test_mappings_round_trip_and_errors(tmp_path) -> None:
    reg = make_registry()
    m = MidiLearn(reg)
    m.bind(MidiBinding("cc", 2, 7, "show/master"))
    m.bind(MidiBinding("cc", 0, 16, "transform/rotate", mode="relative_offset", step=0.02))
    m.bind(MidiBinding("note", 9, 36, "preset/load", arg=3))
    path = m.save(tmp_path / "map.toml")
    m2 = MidiLearn(reg)
    m2.load(path)
    assert m2.bindings == m.bindings
    (tmp_path / "bad.toml").write_text('[[binding]]\nkind = "cc"\nchannel = = 1\n')
    with pytest.raises(LiveganError, match=r"bad.toml:3: invalid TOML"):
        load_bindings(tmp_path / "bad.toml")
    (tmp_path / "bad2.toml").write_text('[[binding]]\nkind = "cc"\nchannel = 16\nnumber = 1\nparam = "show/master"\n')
    with pytest.raises(LiveganError, match=r"bad2.toml: binding 1: channel 16 must be 0..15"):
        m2.load(tmp_path / "bad2.toml")
    assert m2.bindings == m.bindings  # a bad file changes nothing


# ---- over JACK MIDI (the session's JACK dummy server, tests/conftest.py) -----------------

@pytest.fixture()
def jack_midi(jack_server):
    """rtmidi (for the controller side) and livegan's MidiInput, with a fresh registry and MidiLearn."""
    rtmidi = pytest.importorskip("rtmidi")
    pytest.importorskip("mido")
    from livegan.control.midi_learn import MidiInput

    reg = make_registry()
    return rtmidi, MidiInput, reg, MidiLearn(reg)


@pytest.mark.jack
def test_learn_over_jack_virtual_ports(jack_midi) -> None:
    rtmidi, MidiInput, reg, m = jack_midi
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="padctl")
    out.open_virtual_port("out")
    inp = MidiInput(m, "padctl", api="UNIX_JACK")
    try:
        assert "padctl" in inp.name
        m.arm("latent/motion")  # 0..2 at 0.5
        time.sleep(0.2)  # JACK connects ports on its process cycle
        deadline = time.monotonic() + 5
        while not m.bindings and time.monotonic() < deadline:
            out.send_message([0xB1, 74, 30])
            time.sleep(0.05)
        assert m.bindings == [MidiBinding("cc", 1, 74, "latent/motion")]
        out.send_message([0xB1, 74, 32])  # 0.252 normalised: within the pickup window of 0.25
        out.send_message([0xB1, 74, 127])
        deadline = time.monotonic() + 5
        while reg.get("latent/motion") != 2.0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert reg.get("latent/motion") == 2.0
        with pytest.raises(LiveganError, match="not found"):
            MidiInput(m, "nothing-like-this", api="UNIX_JACK")
    finally:
        inp.close()
        out.close_port()
        del out


@pytest.mark.jack
def test_virtual_input_port_over_jack(jack_midi) -> None:
    rtmidi, MidiInput, reg, m = jack_midi
    m.bind(MidiBinding("note", 0, 60, "fx/flash"))
    inp = MidiInput(m, "livegan-test-in", api="UNIX_JACK", virtual=True)
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="pads")
    try:
        ports = out.get_ports()
        out.open_port(next(i for i, p in enumerate(ports) if "livegan-test-in" in p))
        reg.snapshot()
        deadline = time.monotonic() + 5
        fired = []
        while not fired and time.monotonic() < deadline:
            out.send_message([0x90, 60, 100])
            time.sleep(0.05)
            fired = reg.snapshot().fired("fx/flash")
        assert fired and fired[0].source == "midi"
    finally:
        out.close_port()
        del out
        inp.close()

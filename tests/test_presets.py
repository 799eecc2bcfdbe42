import pytest

from livegan.conductor.preset import PresetError, apply_preset, list_presets, load_preset, parse_preset
from livegan.params.definitions import make_registry
from livegan.session import session_registry


def test_bundled_presets_load_and_differ():
    names = list_presets()
    assert {"drift", "pulse", "storm"} <= set(names)
    reg = make_registry()
    loaded = [load_preset(n, reg) for n in names]
    assert all(p.description for p in loaded)
    # Each preset sets a different combination of values.
    assert len({tuple(sorted(p.params.items())) for p in loaded}) == len(loaded)


def test_apply_preset_resets_and_keeps_show_controls():
    reg = session_registry()  # with the shaders' parameters, which presets switch on
    reg.set("latent/motion", 1.9)
    reg.set("show/blackout", True)
    apply_preset(reg, load_preset("pulse", reg))
    assert reg.get("latent/pulse") == 1.4
    assert reg.get("latent/motion") == 0.3
    assert reg.get("show/blackout") is True
    assert reg.get("preset/name") == "pulse" and "strobe" in reg.get("fx/order").split(",")
    assert reg.get("fx/strobe/enabled") is True
    reg.set("latent/seed", 9)
    apply_preset(reg, load_preset("still", reg))
    assert reg.get("bend/zoom") == reg.spec("bend/zoom").default
    assert reg.get("latent/seed") == 9  # the seed stays unless the preset sets one
    assert reg.get("preset/name") == "still"


def test_a_preset_naming_a_missing_shader_is_refused_whole(tmp_path):
    reg = session_registry()
    before = reg.peek().values
    p = tmp_path / "x.toml"
    p.write_text('name = "x"\n[params]\n"latent/speed" = 2.0\n[[effects]]\nname = "nosuch"\n')
    with pytest.raises(PresetError, match=r"x\.toml: effect 'nosuch': there is no shader nosuch\.glsl"):
        apply_preset(reg, load_preset(str(p), reg))
    assert reg.peek().values == before


def test_invalid_toml_names_file_and_line(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('name = "bad"\n[params]\n"latent/speed" = = 3\n')
    with pytest.raises(PresetError, match=r"bad\.toml:3: invalid TOML"):
        load_preset(str(p))


def test_bad_value_and_unknown_parameter_name_the_line(tmp_path):
    reg = make_registry()
    p = tmp_path / "v.toml"
    p.write_text('name = "v"\n[params]\n"latent/speed" = 0.2\n"truncation/psi" = 9.0\n')
    with pytest.raises(PresetError, match=r"v\.toml:4: parameter truncation/psi"):
        load_preset(str(p), reg)
    p.write_text('name = "v"\n[params]\n"latent/sped" = 0.2\n')
    with pytest.raises(PresetError, match=r"v\.toml:3: unknown parameter 'latent/sped'"):
        load_preset(str(p), reg)


def test_unknown_preset_lists_known_ones():
    with pytest.raises(PresetError, match="unknown preset 'nope'.*drift"):
        load_preset("nope")


def test_nested_tables_flatten_to_parameter_names():
    reg = make_registry()
    p = parse_preset('[params.latent]\nspeed = 0.3\n[params.truncation]\npsi = 0.5\n', "x.toml", reg)
    assert p.params == {"latent/speed": 0.3, "truncation/psi": 0.5}

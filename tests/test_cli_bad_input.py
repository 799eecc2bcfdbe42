"""Bad input at the command line, as a user types it: one exact line, exit code 2, nothing written.

Each case runs ``livegan ...`` in its own process (what the user sees on stderr is all
there is), in an empty working folder that must still be empty afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from livegan.audio.demo import demo_track
from livegan.audio.io import load_audio
from livegan.session import Session, SessionSpec
from livegan.render.chunks import work_dir
from livegan.render.offline import render

REPO = Path(__file__).resolve().parents[1]


def livegan(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """Run the CLI; (exit code, stderr lines)."""
    full = dict(os.environ if env is None else env)
    full["PYTHONPATH"] = os.pathsep.join([str(REPO), full.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-m", "livegan", *args], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=180)
    return proc.returncode, proc.stderr.splitlines()


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("song") / "song.wav"
    clip = demo_track(6.0, sample_rate=22050)
    sf.write(path, clip.samples, clip.sample_rate)
    return path


@pytest.mark.parametrize("args, line", [
    (["--osc-port", "70000"], "livegan live: error: argument --osc-port: '70000' is not a port number (1 to 65535) "
                              "(see `livegan live --help`)"),
    (["--osc-port", "0"], "livegan live: error: argument --osc-port: '0' is not a port number (1 to 65535) "
                          "(see `livegan live --help`)"),
    (["--osc-port", "9000", "--osc-host", "nosuch.invalid"],
     "livegan live: error: argument --osc-host: 'nosuch.invalid' is not an IP address or a host name this machine "
     "knows (see `livegan live --help`)"),
    (["--threads", "0"], "livegan live: error: argument --threads: --threads '0': expected a whole number of threads "
                         "from 1 to 256 (see `livegan live --help`)"),
], ids=["port_too_big", "port_zero", "unknown_host", "zero_threads"])
def test_live_arguments_are_checked_while_parsing(tmp_path, song, args, line):
    code, err = livegan(tmp_path, "live", "--headless", "--file", str(song), "--stats-json", "s.json", *args)
    assert (code, err) == (2, [line])
    assert files(tmp_path) == []


def test_bad_livegan_threads_in_the_environment(tmp_path, song):
    env = dict(os.environ, LIVEGAN_THREADS="many")
    code, err = livegan(tmp_path, "render", str(song), "-o", "x.mp4", env=env)
    assert (code, err) == (2, ["livegan: error: LIVEGAN_THREADS 'many': expected a whole number of threads "
                               "from 1 to 256"])
    assert files(tmp_path) == []


@pytest.mark.jack
def test_unknown_audio_device_at_start_lists_the_inputs(tmp_path, jack_server):
    listing = json.loads(subprocess.run([sys.executable, "-m", "livegan", "devices", "--json"], capture_output=True,
                                        text=True, timeout=60).stdout)["audio"]
    inputs = ", ".join(f"{d['index']} {d['name']!r} ({d['inputs']} ch)" for d in listing if d["inputs"] > 0)
    assert inputs, listing  # the JACK dummy server has capture ports
    code, err = livegan(tmp_path, "live", "--headless", "--audio-device", "nosuch", "--duration", "2",
                        "--stats-json", "s.json")
    assert (code, err) == (2, [f"livegan: error: --audio-device 'nosuch': no such input device; inputs: {inputs} "
                               "(see `livegan devices`)"])
    assert files(tmp_path) == []


def test_missing_display_is_one_line(tmp_path, song):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    code, err = livegan(tmp_path, "live", "--file", str(song), "--no-playback", "--duration", "2",
                        "--stats-json", "s.json", env=env)
    assert (code, err) == (2, ["livegan: error: cannot open a window: DISPLAY is not set (start an X server, "
                               "or use --headless)"])
    assert files(tmp_path) == []


PRESETS = {
    "out_of_range": ('name = "x"\n[params]\n"latent/motion" = 0.5\n"latent/speed" = 99\n',
                     "{p}:4: parameter latent/speed: 99 is out of range [0.0, 4.0]"),
    "unknown_table": ('name = "x"\n[params]\n"latent/speed" = 1.0\n\n[parms]\nspeed = 1\n',
                      "{p}:5: unknown key 'parms' (expected description, effects, mappings, model, name, params, seed)"),
    "syntax": ('name = "x"\n[params]\n"latent/speed" = = 3\n', "{p}:3: invalid TOML: Invalid value"),
    "effect_without_name": ('name = "x"\n[[effects]]\nname = "colour"\n[[effects]]\nenabled = true\n',
                            "{p}:4: effects[1] must be a table with a name"),
    "params_not_table": ('name = "x"\nparams = 3\n', "{p}:2: 'params' must be a table"),
}


@pytest.mark.parametrize("kind", sorted(PRESETS))
def test_preset_errors_name_file_and_line(tmp_path, song, kind):
    text, line = PRESETS[kind]
    preset = tmp_path / "look.toml"
    preset.write_text(text)
    code, err = livegan(tmp_path, "render", str(song), "-o", "out.mp4", "--preset", str(preset))
    assert (code, err) == (2, ["livegan: error: " + line.format(p=preset)])
    assert files(tmp_path) == ["look.toml"]


def test_render_into_a_missing_folder_is_refused(tmp_path, song):
    code, err = livegan(tmp_path, "render", str(song), "-o", "nonexistent/dir/x.mp4")
    assert (code, err) == (2, ["livegan: error: -o nonexistent/dir/x.mp4: folder nonexistent/dir does not exist "
                               "(create it first)"])
    assert files(tmp_path) == []


def _interrupted_render(song: Path, out: Path) -> Path:
    """A render stopped by Ctrl-C once its first chunk is written (the real render path)."""
    chunks = work_dir(out)

    def interrupt_after_first_chunk(t: float) -> None:
        if (chunks / "chunk-00001.mp4").exists():
            raise KeyboardInterrupt

    clip = load_audio(song)
    session = Session(SessionSpec(model_size=32, seed=3, device="cpu", sample_rate=clip.sample_rate))
    with pytest.raises(KeyboardInterrupt):
        render(clip, out, session, size=(32, 32), fps=10, batch=2, progress=False,
               on_time=interrupt_after_first_chunk, chunk_seconds=1.0)
    assert list(chunks.glob("chunk-*.mp4")) and not out.exists()
    return chunks


def test_after_an_interrupted_render_the_new_inputs_are_checked_first(tmp_path, song):
    out = tmp_path / "out.mp4"
    chunks = _interrupted_render(song, out)
    before = files(tmp_path)
    broken = tmp_path / "new.toml"
    broken.write_text('name = "new"\n[params]\n"latent/speed" = = 3\n')
    code, err = livegan(tmp_path, "render", str(song), "-o", "out.mp4", "--preset", str(broken), "--seed", "4")
    assert (code, err) == (2, [f"livegan: error: {broken}:3: invalid TOML: Invalid value"])
    # Valid new settings: the folder is named for what it is, a stale partial of another render.
    code, err = livegan(tmp_path, "render", str(song), "-o", "out.mp4", "--seed", "4", "--size", "32x32",
                        "--fps", "10")
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"livegan: error: out.mp4: {chunks.relative_to(tmp_path)} holds a stale partial render "
                             "made with other settings ("), err
    assert err[0].endswith("); delete that folder to render with these settings"), err
    assert "seed" in err[0]
    assert files(tmp_path) == sorted(before + ["new.toml"])  # the chunks are kept, nothing else written

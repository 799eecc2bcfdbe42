"""What the HUD says: the show's state as coloured lines and meters (drawn by ``hud.py``)."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ..audio.features import FeatureFrame
from .hud import AMBER, RED, WHITE, HudState


def hud_state(*, stats: Mapping[str, float], feat: FeatureFrame, values: Mapping[str, Any], onset: float,
              preset: str, waiting: Any, notice: str, model: str, osc: Any, audio: Any,
              shader_errors: Iterable[str], model_error: str | None, watchdog: str, recording: bool,
              rig: Iterable[str] = ()) -> HudState:
    """``osc`` is the control surface's status (``ControlStatus``), or an OSC server's activity
    alone, "?" when it could not be read, None without control; ``audio`` the input's status;
    ``waiting`` a preset held for its beat or bar; ``rig`` the sync clocks' and video outputs'
    lines (which clock leads, peers, frames sent)."""
    r = stats
    lines: list[tuple[str, tuple]] = [
        (f"FPS {r['fps']:5.1f}  FRAME {r['frame_p50']:.1f}/{r['frame_p99']:.1f} MS  "
         f"INFER {r['inference']:.0f} MS  LATENCY {r['latency_p50']:.0f}/{r['latency_p99']:.0f} MS", WHITE),
    ]
    control = control_lines(osc)
    activity = getattr(osc, "osc", osc)  # a ControlStatus carries the OSC server's activity
    osc_text = "" if activity is None else "  OSC ?" if activity == "?" else \
        f"  OSC {activity.received} ({activity.messages_per_s:.0f}/S) ERR {activity.error_total}"
    quant = values.get("show/quantize", "off")
    shown = preset + (f" > {waiting.name} ON {quant.upper()}" if waiting is not None else
                      f" (Q {quant.upper()})" if quant != "off" else "")
    lines.append((f"PRESET {shown}  MODEL {model}{osc_text}", WHITE))
    xruns = f"  XRUNS {audio.xruns}" if audio.xruns else ""
    lines.append((f"AUDIO {audio.state}: {audio.message}"[:96] + xruns,
                  AMBER if audio.state == "lost" or xruns else WHITE))
    flags = [n for n, on in (("FROZEN", values.get("show/freeze")), ("BLACKOUT", values.get("show/blackout")),
                             ("REC", recording)) if on]
    if flags:
        lines.append(("  ".join(flags), AMBER))
    lines += control
    lines += [(line[:110], WHITE) for line in rig]
    if notice:
        lines.append((notice[:110], WHITE))
    for err in shader_errors:
        lines.append((f"SHADER {err}"[:110], RED))
    if model_error:
        lines.append((f"MODEL {model_error}"[:110], RED))
    if watchdog:
        lines.append((watchdog[:110], RED))
    return HudState(lines, level=min(1.0, feat.rms * 1.5), bands=tuple(feat.bands), flux=min(1.0, feat.flux),
                    onset=onset, beat_phase=feat.beat_phase)


def control_lines(status: Any) -> list[tuple[str, tuple]]:
    """The control surface's parts, each under the HUD word its option has (``live_options``),
    then what could not start (amber)."""
    if status is None or isinstance(status, str) or not hasattr(status, "parts"):
        return []
    from ..commands.live_options import hud_label  # noqa: PLC0415 - the table of options names them

    text = "  ".join(f"{hud_label(dest) or dest.upper()} {what}" for dest, what in status.parts)
    lines: list[tuple[str, tuple]] = [(text[:120], WHITE)] if text else []
    lines += [(note[:110], AMBER) for note in status.notes]
    return lines

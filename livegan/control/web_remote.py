"""The web remote: one HTML page generated from the registry, served at ``/`` on the OSCQuery port.

Sliders (each parameter's 0..1 form), toggles, menus, preset buttons, tap and reseed, the
music's meters, the beat clock's tempo and a small preview of the picture. The page speaks
OSCQuery's WebSocket protocol with the server that sent it: it LISTENs to every address it
shows and sends binary OSC packets, so a phone and a fader box drive the same registry
the same way. No framework and no file beside this one.
"""

from __future__ import annotations

import html
import json

from ..params.registry import ParamRegistry, ParamSpec
from .feature_out import OUT_PREFIX
from .osc_namespace import has_norm, namespace_specs, norm_address
from .triggers import ACTION_NAMES

# Show-wide buttons first; the rest of the triggers sit in their groups.
TOP_TRIGGERS = ("tempo/tap", "latent/reseed", "latent/next", "fx/flash")
HIDDEN = ("preset/mappings", "fx/order")  # long JSON: edited in preset files, not on a phone


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _native(spec: ParamSpec, value: object) -> str:
    if spec.type == "float":
        return f"{float(value):.3g}"  # type: ignore[arg-type]
    return _e(value)


def _control(spec: ParamSpec, value: object) -> str:
    name, label = spec.name, _e(spec.name.split("/", 1)[-1])
    title = _e(spec.description + (f" ({spec.unit})" if spec.unit else ""))
    if spec.readonly or spec.type == "string":
        return (f'<div class="row"><label title="{title}">{label}</label>'
                f'<span class="readout" data-param="{_e(name)}" data-listen="{_e(spec.address)}">{_e(value)}</span></div>')
    if spec.type == "bool":
        checked = " checked" if value else ""
        return (f'<div class="row"><label title="{title}">{label}</label><input type="checkbox" class="toggle" '
                f'data-param="{_e(name)}" data-address="{_e(spec.address)}"{checked}></div>')
    if spec.type == "enum":
        opts = "".join(f'<option{" selected" if c == value else ""}>{_e(c)}</option>' for c in spec.choices)
        return (f'<div class="row"><label title="{title}">{label}</label><select class="choice" '
                f'data-param="{_e(name)}" data-address="{_e(spec.address)}">{opts}</select></div>')
    if spec.type in ("float", "int") and has_norm(spec):
        x = spec.normalise(value)
        return (f'<div class="row"><label title="{title}">{label}</label><input type="range" class="slider" '
                f'min="0" max="1" step="0.001" value="{x:.4f}" data-param="{_e(name)}" '
                f'data-address="{_e(norm_address(spec))}" data-value-address="{_e(spec.address)}">'
                f'<output data-param="{_e(name)}">{_native(spec, value)}</output></div>')
    return ""


def _button(spec: ParamSpec) -> str:
    return (f'<button class="trigger" data-param="{_e(spec.name)}" data-address="{_e(spec.address)}" '
            f'title="{_e(spec.description)}">{_e(spec.name.split("/", 1)[-1])}</button>')


def render_page(registry: ParamRegistry, presets: list[str], token: str | None) -> str:
    """The whole page, with the values of now (the WebSocket keeps it current)."""
    values = registry.peek().values
    specs = [s for s in namespace_specs(registry) if s.name not in HIDDEN]
    by_name = {s.name: s for s in specs}
    top = "".join(_button(by_name[n]) for n in TOP_TRIGGERS if n in by_name)
    preset_buttons = "".join(f'<button class="preset" data-preset="{_e(p)}">{_e(p)}</button>' for p in presets)
    groups: dict[str, list[str]] = {}
    for s in specs:
        if s.name in TOP_TRIGGERS or s.name in ACTION_NAMES:
            continue
        html_ = _button(s) if s.type == "trigger" else _control(s, values.get(s.name))
        if html_:
            groups.setdefault(s.group, []).append(html_)
    sections = "".join(f'<section><h2>{_e(g)}</h2>{"".join(rows)}</section>' for g, rows in groups.items())
    config = json.dumps({"token": token, "out": OUT_PREFIX})
    return PAGE.format(top=top, presets=preset_buttons, sections=sections, config=config)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>livegan remote</title>
<style>
body {{ font: 14px system-ui, sans-serif; background: #111; color: #ddd; margin: 0; padding: 8px; }}
header {{ display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }}
#preview {{ width: 160px; height: auto; background: #000; border: 1px solid #333; }}
#meters {{ display: flex; gap: 3px; align-items: flex-end; height: 48px; }}
#meters div {{ width: 14px; background: #4c8; height: 0; }}
#bpm {{ font-size: 22px; min-width: 7em; }}
#bpm.beat {{ color: #fff; }}
#status {{ color: #888; }} #status.error {{ color: #f66; }}
section {{ border-top: 1px solid #333; margin-top: 8px; }}
h2 {{ font-size: 13px; text-transform: uppercase; color: #999; margin: 6px 0; }}
.row {{ display: grid; grid-template-columns: 9em 1fr 4em; gap: 8px; align-items: center; margin: 4px 0; }}
input[type=range] {{ width: 100%; }}
button {{ background: #333; color: #eee; border: 1px solid #555; border-radius: 4px; padding: 8px 12px; margin: 2px; }}
button:active, button.fired {{ background: #686; }}
</style></head>
<body>
<header>
<img id="preview" alt="the picture" src="">
<div id="meters"><div></div><div></div><div></div><div></div><div id="rms"></div></div>
<div><div id="bpm">-- BPM</div><div id="source"></div></div>
<div>{top}</div>
<div id="status">connecting</div>
</header>
<section><h2>presets</h2>{presets}</section>
{sections}
<script>
const CONFIG = {config};
const enc = new TextEncoder(), dec = new TextDecoder();
function ostr(s) {{ const b = enc.encode(s); const out = new Uint8Array((b.length + 4) & ~3); out.set(b); return out; }}
function osc(address, args) {{
  const parts = [ostr(address)]; let tags = ",";
  for (const a of args) {{
    if (a === true || a === false) {{ tags += a ? "T" : "F"; continue; }}
    if (typeof a === "string") {{ tags += "s"; parts.push(ostr(a)); continue; }}
    const b = new DataView(new ArrayBuffer(4)); tags += "f"; b.setFloat32(0, a); parts.push(new Uint8Array(b.buffer));
  }}
  parts.splice(1, 0, ostr(tags));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let i = 0;
  for (const p of parts) {{ out.set(p, i); i += p.length; }}
  return out;
}}
function readStr(v, pos) {{ let end = pos; while (v.getUint8(end)) end++;
  return [dec.decode(new Uint8Array(v.buffer, v.byteOffset + pos, end - pos)), (end + 4) & ~3]; }}
function parse(v, out) {{
  let [address, pos] = readStr(v, 0);
  if (address === "#bundle") {{
    for (pos = 16; pos < v.byteLength; ) {{
      const size = v.getInt32(pos); parse(new DataView(v.buffer, v.byteOffset + pos + 4, size), out); pos += 4 + size;
    }}
    return out;
  }}
  let tags; [tags, pos] = readStr(v, pos);
  const args = [];
  for (const t of tags.slice(1)) {{
    if (t === "f") {{ args.push(v.getFloat32(pos)); pos += 4; }}
    else if (t === "i") {{ args.push(v.getInt32(pos)); pos += 4; }}
    else if (t === "s") {{ let s; [s, pos] = readStr(v, pos); args.push(s); }}
    else if (t === "T") args.push(true); else if (t === "F") args.push(false); else args.push(null);
  }}
  out.push([address, args]);
  return out;
}}
const handlers = {{}};
function on(address, fn) {{ (handlers[address] = handlers[address] || []).push(fn); }}
let ws = null;
function send(address, args) {{ if (ws && ws.readyState === 1) ws.send(osc(address, args)); }}
const status = document.getElementById("status");
document.querySelectorAll("input.slider").forEach(el => {{
  el.addEventListener("input", () => send(el.dataset.address, [parseFloat(el.value)]));
  on(el.dataset.address, a => {{ if (!el.matches(":active")) el.value = a[0]; }});
  const out = document.querySelector('output[data-param="' + el.dataset.param + '"]');
  on(el.dataset.valueAddress, a => {{ out.textContent = typeof a[0] === "number" ? +a[0].toPrecision(3) : a[0]; }});
}});
document.querySelectorAll("input.toggle").forEach(el => {{
  el.addEventListener("change", () => send(el.dataset.address, [el.checked]));
  on(el.dataset.address, a => {{ el.checked = !!a[0]; }});
}});
document.querySelectorAll("select.choice").forEach(el => {{
  el.addEventListener("change", () => send(el.dataset.address, [el.value]));
  on(el.dataset.address, a => {{ el.value = a[0]; }});
}});
document.querySelectorAll(".readout").forEach(el => on(el.dataset.listen, a => {{ el.textContent = a[0]; }}));
document.querySelectorAll("button.trigger").forEach(el => {{
  el.addEventListener("click", () => send(el.dataset.address, []));
  on(el.dataset.address, () => {{ el.classList.add("fired"); setTimeout(() => el.classList.remove("fired"), 120); }});
}});
document.querySelectorAll("button.preset").forEach(el =>
  el.addEventListener("click", () => send("/livegan/preset/load", [el.dataset.preset])));
const bars = document.querySelectorAll("#meters div");
on(CONFIG.out + "/bands", a => a.forEach((x, i) => {{ bars[i].style.height = Math.min(48, 48 * x) + "px"; }}));
on(CONFIG.out + "/rms", a => {{ bars[4].style.height = Math.min(48, 48 * a[0]) + "px"; }});
const bpm = document.getElementById("bpm"), source = document.getElementById("source");
on(CONFIG.out + "/tempo/bpm", a => {{ bpm.textContent = a[0] > 0 ? a[0].toFixed(1) + " BPM" : "-- BPM"; }});
on(CONFIG.out + "/tempo/source", a => {{ source.textContent = a[0]; }});
on(CONFIG.out + "/beat", () => {{ bpm.classList.add("beat"); setTimeout(() => bpm.classList.remove("beat"), 100); }});
on("/livegan/error", a => {{ status.textContent = a[0] + ": " + a[2]; status.className = "error"; }});
function connect() {{
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/" +
                     (CONFIG.token ? "?token=" + encodeURIComponent(CONFIG.token) : ""));
  ws.binaryType = "arraybuffer";
  ws.onopen = () => {{
    status.textContent = "connected"; status.className = "";
    for (const address of Object.keys(handlers)) ws.send(JSON.stringify({{COMMAND: "LISTEN", DATA: address}}));
  }};
  ws.onmessage = ev => {{
    if (typeof ev.data === "string") {{ if (JSON.parse(ev.data).COMMAND === "PATH_CHANGED") location.reload(); return; }}
    for (const [address, args] of parse(new DataView(ev.data), []))
      (handlers[address] || []).forEach(fn => fn(args));
  }};
  ws.onclose = () => {{ status.textContent = "reconnecting"; setTimeout(connect, 1000); }};
}}
connect();
const preview = document.getElementById("preview");
let loading = false;
setInterval(() => {{ if (loading) return; loading = true; const img = new Image();
  img.onload = () => {{ preview.src = img.src; loading = false; }}; img.onerror = () => {{ loading = false; }};
  img.src = "/preview.jpg?t=" + Date.now(); }}, 500);
</script>
</body></html>
"""

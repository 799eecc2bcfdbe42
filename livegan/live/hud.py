"""The HUD overlay, drawn in GL over the output: text, bars, meters and onset blips.

Text uses a 5x7 bitmap font defined below (ASCII 32..95; lower case is shown as upper
case) packed into a small texture at start-up, so the HUD needs no font files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# 7 rows of 5 bits per glyph (bit 4 = leftmost column), two hex digits a row, ASCII 32..95.
_GLYPH_ROWS = [
    "00000000000000", "04040404040004", "0A0A0000000000", "0A0A1F0A1F0A0A", "040F140E051E04", "18190204081303",
    "0C12140815120D", "04040000000000", "02040808080402", "08040202020408", "0004150E150400", "0004041F040400",
    "000000000C0408", "0000001F000000", "00000000000C0C", "00010204081000", "0E11131519110E", "040C040404040E",
    "0E11010204081F", "1F02040201110E", "02060A121F0202", "1F101E0101110E", "0608101E11110E", "1F010204080808",
    "0E11110E11110E", "0E11110F01020C", "000C0C000C0C00", "000C0C000C0408", "02040810080402", "00001F001F0000",
    "08040201020408", "0E110102040004", "0E11010D15150E", "0E11111F111111", "1E11111E11111E", "0E11101010110E",
    "1C12111111121C", "1F10101E10101F", "1F10101E101010", "0E11101711110F", "1111111F111111", "0E04040404040E",
    "0702020202120C", "11121418141211", "1010101010101F", "111B1515111111", "11111915131111", "0E11111111110E",
    "1E11111E101010", "0E11111115120D", "1E11111E141211", "0F10100E01011E", "1F040404040404", "1111111111110E",
    "11111111110A04", "1111111515150A", "11110A040A1111", "1111110A040404", "1F01020408101F", "0E08080808080E",
    "00100804020100", "0E02020202020E", "040A1100000000", "0000000000001F",
]
FIRST, COUNT = 32, 64
CELL_W, CELL_H = 6, 8
ATLAS_COLS = 16


def glyph_bitmap(ch: str) -> np.ndarray:
    """A glyph as a [7, 5] bool array (unknown characters show as '?')."""
    code = ord(ch.upper()) if ch else ord("?")
    if not FIRST <= code < FIRST + COUNT:
        code = ord("?")
    rows = _GLYPH_ROWS[code - FIRST]
    bits = [int(rows[i:i + 2], 16) for i in range(0, 14, 2)]
    return np.array([[(b >> (4 - x)) & 1 for x in range(5)] for b in bits], dtype=bool)


def font_atlas() -> np.ndarray:
    """All glyphs in a [rows*8, 16*6] uint8 image (255 = ink), top row first."""
    rows = COUNT // ATLAS_COLS
    atlas = np.zeros((rows * CELL_H, ATLAS_COLS * CELL_W), np.uint8)
    for i in range(COUNT):
        r, c = divmod(i, ATLAS_COLS)
        atlas[r * CELL_H:r * CELL_H + 7, c * CELL_W:c * CELL_W + 5] = glyph_bitmap(chr(FIRST + i)) * 255
    return atlas


_VS = """#version 330 core
in vec2 in_pos; in vec2 in_uv; in vec4 in_color;
uniform vec2 u_size;
out vec2 v_uv; out vec4 v_color;
void main() {
    v_uv = in_uv; v_color = in_color;
    gl_Position = vec4(in_pos.x / u_size.x * 2.0 - 1.0, 1.0 - in_pos.y / u_size.y * 2.0, 0.0, 1.0);
}
"""
_FS = """#version 330 core
in vec2 v_uv; in vec4 v_color; out vec4 f_color;
uniform sampler2D u_font;
void main() {
    float ink = v_uv.x < 0.0 ? 1.0 : texture(u_font, v_uv).r;  // negative u = solid quad
    f_color = vec4(v_color.rgb, v_color.a * ink);
}
"""

WHITE = (1.0, 1.0, 1.0, 1.0)
DIM = (0.0, 0.0, 0.0, 0.55)
RED = (1.0, 0.3, 0.3, 1.0)
AMBER = (1.0, 0.75, 0.2, 1.0)
GREEN = (0.3, 1.0, 0.45, 1.0)


@dataclass
class HudState:
    """Everything the HUD shows, gathered by the app once per frame."""

    lines: list[tuple[str, tuple]] = field(default_factory=list)  # (text, colour)
    level: float = 0.0  # 0..1
    bands: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)
    flux: float = 0.0
    onset: float = 0.0  # onset envelope 0..1 (blip brightness)
    beat_phase: float = 0.0


class Hud:
    """Builds a vertex list of quads each frame and draws it in one call."""

    def __init__(self, ctx, scale: int = 2) -> None:
        import moderngl  # noqa: PLC0415

        self.ctx = ctx
        self.scale = scale
        self.visible = True
        atlas = font_atlas()
        self._atlas_size = (atlas.shape[1], atlas.shape[0])
        self.font = ctx.texture(self._atlas_size, 1, atlas.tobytes(), alignment=1)
        self.font.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self.prog = ctx.program(vertex_shader=_VS, fragment_shader=_FS)
        self._vbo = ctx.buffer(reserve=4096 * 6 * 8 * 4, dynamic=True)
        self.vao = ctx.vertex_array(self.prog, [(self._vbo, "2f 2f 4f", "in_pos", "in_uv", "in_color")])
        self._quads: list[np.ndarray] = []

    # ---- building -------------------------------------------------------------------
    def _quad(self, x0, y0, x1, y1, u0, v0, u1, v1, color) -> None:
        c = tuple(color)
        self._quads.append(np.array([
            (x0, y0, u0, v0, *c), (x1, y0, u1, v0, *c), (x1, y1, u1, v1, *c),
            (x0, y0, u0, v0, *c), (x1, y1, u1, v1, *c), (x0, y1, u0, v1, *c)], np.float32))

    def rect(self, x, y, w, h, color) -> None:
        self._quad(x, y, x + w, y + h, -1, -1, -1, -1, color)

    def text(self, x: float, y: float, s: str, color=WHITE) -> float:
        """Draw ``s`` with its top-left at (x, y) pixels; returns the width drawn."""
        aw, ah = self._atlas_size
        k = self.scale
        for i, ch in enumerate(s):
            code = ord(ch.upper())
            if code == 32:
                continue
            if not FIRST <= code < FIRST + COUNT:
                code = ord("?")
            r, c = divmod(code - FIRST, ATLAS_COLS)
            u0, v0 = c * CELL_W / aw, r * CELL_H / ah
            u1, v1 = (c * CELL_W + 5) / aw, (r * CELL_H + 7) / ah
            gx = x + i * CELL_W * k
            self._quad(gx, y, gx + 5 * k, y + 7 * k, u0, v0, u1, v1, color)
        return len(s) * CELL_W * k

    def bar(self, x, y, w, h, value: float, color) -> None:
        self.rect(x, y, w, h, (0.15, 0.15, 0.15, 0.8))
        v = min(max(float(value), 0.0), 1.0)
        self.rect(x, y + h * (1.0 - v), w, h * v, color)

    def layout(self, state: HudState, size: tuple[int, int]) -> None:
        """Place text lines top-left and meters bottom-left."""
        self._quads = []
        k = self.scale
        line_h = CELL_H * k + 2
        width = max((len(t) for t, _ in state.lines), default=0) * CELL_W * k
        self.rect(4, 4, width + 8, len(state.lines) * line_h + 6, DIM)
        for i, (txt, color) in enumerate(state.lines):
            self.text(8, 8 + i * line_h, txt, color)
        h = 60 * k // 2
        y = size[1] - h - 8
        self.rect(4, y - 4, 8 * 14 * k // 2 + 28, h + 8, DIM)
        x = 8
        self.bar(x, y, 10, h, state.level, GREEN)
        x += 16
        for b in state.bands:
            self.bar(x, y, 10, h, b, AMBER)
            x += 14
        self.bar(x, y, 10, h, state.flux, (0.5, 0.7, 1.0, 1.0))
        x += 16
        blip = min(max(state.onset, 0.0), 1.0)
        self.rect(x, y, 16, 16, (1.0, 1.0, 1.0, 0.15 + 0.85 * blip))
        self.rect(x, y + 22, 16 * max(0.05, 1.0 - state.beat_phase), 6, (0.8, 0.5, 1.0, 1.0))

    # ---- drawing --------------------------------------------------------------------
    def draw(self, target, size: tuple[int, int], state: HudState) -> None:
        if not self.visible:
            return
        import moderngl  # noqa: PLC0415

        self.layout(state, size)
        if not self._quads:
            return
        data = np.concatenate(self._quads).tobytes()
        if len(data) > self._vbo.size:
            self._vbo.orphan(len(data))
        else:
            self._vbo.orphan()
        self._vbo.write(data)
        target.use()
        target.viewport = (0, 0, *size)
        self.ctx.enable(moderngl.BLEND)
        self.ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
        self.font.use(0)
        self.prog["u_font"].value = 0
        self.prog["u_size"].value = tuple(map(float, size))
        self.vao.render(vertices=len(data) // (8 * 4))
        self.ctx.disable(moderngl.BLEND)

    def release(self) -> None:
        for obj in (self.vao, self._vbo, self.prog, self.font):
            obj.release()

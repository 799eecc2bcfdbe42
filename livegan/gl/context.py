"""Where the picture goes: a glfw window (stage) or an offscreen EGL context (headless).

Both give a moderngl context and a target framebuffer of a known size, so the same
effect chain and HUD draw the same pixels either way.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Callable

import numpy as np

from ..errors import LiveganError

log = logging.getLogger("livegan.live.gl")

KeyHandler = Callable[[str], None]

_KEY_NAMES = {
    "F": "f", "H": "h", "R": "r", "B": "b", "Q": "q", "SPACE": "space", "RIGHT": "right", "LEFT": "left",
    "ESCAPE": "escape", "PAGE_UP": "left", "PAGE_DOWN": "right",
}


class Surface:
    """A GL context plus its output framebuffer."""

    headless = True
    refresh_hz = 60.0

    def __init__(self) -> None:
        self.ctx = None
        self.fbo = None
        self.texture = None  # the colour texture behind ``fbo`` (offscreen only; a window's is the driver's)
        self.key_handler: KeyHandler | None = None

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.fbo.size)  # type: ignore[return-value]

    def poll(self) -> None:
        """Handle window events (no-op offscreen)."""

    def should_close(self) -> bool:
        return False

    def swap(self) -> None:
        raise NotImplementedError

    def toggle_fullscreen(self) -> None:
        """Only windows can."""

    def read(self) -> np.ndarray:
        """The target's pixels, [H, W, 3] uint8, top row first."""
        raw = self.fbo.read(components=3, alignment=1)
        w, h = self.size
        return np.frombuffer(raw, np.uint8).reshape(h, w, 3)[::-1].copy()

    def close(self) -> None:
        if self.ctx is not None:
            self.ctx.release()
            self.ctx = None


def _load_gl_finish() -> Callable[[], None] | None:
    """glFinish through ctypes, which lets go of the GIL while the driver works.

    moderngl's own ``finish()`` holds the GIL for the whole wait, which on a CPU driver
    (llvmpipe) stalls the inference thread for the entire draw.
    """
    import ctypes  # noqa: PLC0415

    for name in ("libOpenGL.so.0", "libGL.so.1"):
        try:
            fn = ctypes.CDLL(name).glFinish
        except (OSError, AttributeError):
            continue
        fn.restype = None
        fn.argtypes = []
        return fn
    return None


def gl_finish(ctx) -> None:
    """Wait for the GPU (or llvmpipe) to finish, with the GIL released where possible."""
    global _GL_FINISH
    if _GL_FINISH is False:
        _GL_FINISH = _load_gl_finish()
    if _GL_FINISH is not None:
        _GL_FINISH()
    else:
        ctx.finish()


_GL_FINISH: Callable[[], None] | None | bool = False


def is_software(ctx) -> bool:
    """True on a CPU rasteriser (Mesa llvmpipe / softpipe)."""
    renderer = str(ctx.info.get("GL_RENDERER", "")).lower()
    return "llvmpipe" in renderer or "softpipe" in renderer


def pass_sync(ctx) -> Callable[[], None] | None:
    """What to call after each render pass, or None.

    On llvmpipe a draw that samples the previous pass's texture waits for that pass inside
    moderngl, holding the GIL, which stalls the inference thread; waiting in glFinish
    (GIL released) first makes the next draw return at once. A real GPU needs no such help.
    """
    return (lambda: gl_finish(ctx)) if is_software(ctx) else None


def create_headless_context():
    """A standalone EGL context (Mesa llvmpipe here, the NVIDIA driver on a GPU box)."""
    import moderngl  # noqa: PLC0415

    os.environ.setdefault("EGL_PLATFORM", "surfaceless")
    try:
        return moderngl.create_context(standalone=True, backend="egl", require=330)
    except Exception as exc:
        raise LiveganError(f"cannot create an offscreen EGL context ({exc}); is Mesa's libEGL installed?") from None


class HeadlessSurface(Surface):
    headless = True

    def __init__(self, size: tuple[int, int], refresh_hz: float = 60.0) -> None:
        super().__init__()
        self.ctx = create_headless_context()
        self.refresh_hz = refresh_hz
        import moderngl  # noqa: PLC0415

        self.texture = self.ctx.texture(size, 4)
        self.texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.texture.repeat_x = self.texture.repeat_y = False  # as the compositor's own output texture
        self.fbo = self.ctx.framebuffer(color_attachments=[self.texture])
        self._next = time.perf_counter()

    def swap(self) -> None:
        # Offscreen there is no vblank: finish the frame and pace to a virtual refresh.
        gl_finish(self.ctx)
        period = 1.0 / self.refresh_hz
        self._next += period
        wait = self._next - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        elif wait < -period:
            self._next = time.perf_counter()  # fell behind: drop the debt, never catch up in a burst


def _glfw():
    import glfw  # noqa: PLC0415

    return glfw


def init_glfw(glfw) -> None:  # noqa: ANN001 - the glfw module
    """``glfw.init()`` with its errors as one LiveganError line, never a raw GLFWError warning."""
    display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if not display:
        raise LiveganError("cannot open a window: DISPLAY is not set (start an X server, or use --headless)")
    errors: list[str] = []

    def on_error(code: int, text: bytes | str) -> None:
        msg = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        errors.append(msg)
        if ready:  # after start-up: a line in the log (glfw's default is a Python warning)
            log.warning("glfw: %s", " ".join(msg.split()))

    ready = False
    glfw.set_error_callback(on_error)
    if not glfw.init():
        why = " ".join(errors[-1].split()) if errors else "glfw could not start"
        raise LiveganError(f"cannot open a window on display {display!r}: {why} (or use --headless)")
    ready = True


def list_monitors() -> list[dict]:
    """Connected monitors (needs a display); empty when there is none."""
    glfw = _glfw()
    try:
        init_glfw(glfw)
    except LiveganError:
        return []
    out = []
    for i, m in enumerate(glfw.get_monitors() or []):
        mode = glfw.get_video_mode(m)
        out.append({"index": i, "name": glfw.get_monitor_name(m).decode("utf-8", "replace")
                    if isinstance(glfw.get_monitor_name(m), bytes) else str(glfw.get_monitor_name(m)),
                    "width": mode.size.width, "height": mode.size.height, "refresh_hz": mode.refresh_rate})
    return out


class WindowSurface(Surface):
    headless = False

    def __init__(self, size: tuple[int, int], monitor: int = 0, fullscreen: bool = False,
                 title: str = "livegan", vsync: bool = True) -> None:
        super().__init__()
        self.window = None
        glfw = self.glfw = _glfw()
        init_glfw(glfw)
        monitors = glfw.get_monitors() or []
        if monitors and not 0 <= monitor < len(monitors):
            raise LiveganError(f"--monitor {monitor}: there are {len(monitors)} monitors (0..{len(monitors) - 1})")
        self._monitor = monitors[monitor] if monitors else None
        glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
        glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
        glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
        glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
        self._windowed_size = size
        self._windowed_pos = (40, 40)
        mon = self._monitor if fullscreen else None
        w, h = size
        if mon is not None:
            mode = glfw.get_video_mode(mon)
            w, h = mode.size.width, mode.size.height
        self.window = glfw.create_window(w, h, title, mon, None)
        if not self.window:
            glfw.terminate()
            raise LiveganError("cannot create an OpenGL 3.3 window on this display")
        if mon is None and self._monitor is not None:  # centred on the chosen monitor
            mx, my = glfw.get_monitor_pos(self._monitor)
            mode = glfw.get_video_mode(self._monitor)
            glfw.set_window_pos(self.window, mx + max(0, (mode.size.width - w) // 2),
                                my + max(0, (mode.size.height - h) // 2))
        glfw.make_context_current(self.window)
        glfw.swap_interval(1 if vsync else 0)  # pace to the monitor's refresh
        import moderngl  # noqa: PLC0415

        self.ctx = moderngl.create_context()
        self.fbo = self.ctx.detect_framebuffer()
        if self._monitor is not None:
            self.refresh_hz = float(glfw.get_video_mode(self._monitor).refresh_rate or 60)
        glfw.set_key_callback(self.window, self._on_key)

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.glfw.get_framebuffer_size(self.window))  # type: ignore[return-value]

    def read(self) -> np.ndarray:
        self.fbo.viewport = (0, 0, *self.size)
        return super().read()

    def _on_key(self, window, key, scancode, action, mods) -> None:
        if action != self.glfw.PRESS or self.key_handler is None:
            return
        for name, value in _KEY_NAMES.items():
            if key == getattr(self.glfw, "KEY_" + name):
                self.key_handler(value)
                return

    def poll(self) -> None:
        self.glfw.poll_events()

    def should_close(self) -> bool:
        return bool(self.glfw.window_should_close(self.window))

    def swap(self) -> None:
        self.glfw.swap_buffers(self.window)

    def toggle_fullscreen(self) -> None:
        glfw = self.glfw
        if self._monitor is None:
            return
        if glfw.get_window_monitor(self.window):
            w, h = self._windowed_size
            glfw.set_window_monitor(self.window, None, *self._windowed_pos, w, h, 0)
        else:
            self._windowed_pos = glfw.get_window_pos(self.window)
            self._windowed_size = glfw.get_window_size(self.window)
            mode = glfw.get_video_mode(self._monitor)
            glfw.set_window_monitor(self.window, self._monitor, 0, 0, mode.size.width, mode.size.height,
                                    mode.refresh_rate)

    def close(self) -> None:
        super().close()
        if self.window:
            self.glfw.destroy_window(self.window)
            self.window = None
        self.glfw.terminate()


def open_surface(headless: bool, size: tuple[int, int], monitor: int = 0, fullscreen: bool = False,
                 refresh_hz: float = 60.0, vsync: bool = True) -> Surface:
    if headless:
        return HeadlessSurface(size, refresh_hz)
    return WindowSurface(size, monitor, fullscreen, vsync=vsync)

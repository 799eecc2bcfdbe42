#version 330 core
// @effect enabled=true order=last desc="output scaling to the window: fit, fill or stretch, with a sharp resampling filter (antialiased when shrinking)"
// The CPU twin of this filter is livegan/render/resample.py (offline renders without effects):
// keep the two the same (tests/test_upscale.py compares them).
in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_input;
uniform vec2 u_resolution;      // output size in pixels
uniform vec2 u_src_resolution;  // picture size in pixels
uniform int u_mode;   // @param choices="fit,fill,stretch" default=fill desc="fit shows all (bars), fill covers (crops), stretch distorts"
uniform int u_filter; // @param choices="bicubic,linear,nearest,lanczos" default=bicubic desc="resampling filter: Catmull-Rom bicubic, linear, nearest (blocks), Lanczos-3"
uniform float u_sharpen; // @param min=0 max=1 default=0 desc="unsharp mask folded into the filter (0 = none)"

const float PI = 3.14159265359;
const int MAX_TAPS = 24;  // per axis: enough to shrink 4x with Lanczos and sharpening

float kern(float x) {
    x = abs(x);
    if (u_filter == 1) return max(0.0, 1.0 - x);
    if (u_filter == 3) {
        if (x < 1e-5) return 1.0;
        if (x >= 3.0) return 0.0;
        float px = PI * x;
        return 3.0 * sin(px) * sin(px / 3.0) / (px * px);
    }
    if (x < 1.0) return (1.5 * x - 2.5) * x * x + 1.0;  // Catmull-Rom: sharp without ringing much
    if (x < 2.0) return ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0;
    return 0.0;
}

float weight(float x) {
    float k = kern(x);
    if (u_sharpen > 0.0) k = (1.0 + 0.5 * u_sharpen) * k - 0.25 * u_sharpen * (kern(x - 1.0) + kern(x + 1.0));
    return k;
}

vec3 resample(vec2 c, float stretch) {
    // c: source coordinate (texel centres at whole numbers); stretch > 1 when shrinking.
    float support = (u_filter == 3) ? 3.0 : ((u_filter == 1) ? 1.0 : 2.0);
    float radius = (support + (u_sharpen > 0.0 ? 1.0 : 0.0)) * stretch;
    ivec2 first = ivec2(floor(c - radius)) + 1;
    int taps = min(int(floor(2.0 * radius)) + 1, MAX_TAPS);
    ivec2 hi = ivec2(u_src_resolution) - 1;
    vec3 sum = vec3(0.0);
    float wsum = 0.0;
    for (int j = 0; j < taps; j++) {
        float wy = weight((float(first.y + j) - c.y) / stretch);
        for (int i = 0; i < taps; i++) {
            float w = weight((float(first.x + i) - c.x) / stretch) * wy;
            sum += w * texelFetch(u_input, clamp(first + ivec2(i, j), ivec2(0), hi), 0).rgb;
            wsum += w;
        }
    }
    return sum / wsum;
}

void main() {
    vec2 src = u_src_resolution, dst = u_resolution;
    vec2 uv = v_uv;
    vec2 s = dst / src;
    if (u_mode != 2) {
        float k = (u_mode == 0) ? min(s.x, s.y) : max(s.x, s.y);
        s = vec2(k);
        vec2 shown = src * k;
        uv = (v_uv * dst - 0.5 * (dst - shown)) / shown;
    }
    if (any(lessThan(uv, vec2(0.0))) || any(greaterThan(uv, vec2(1.0)))) {
        f_color = vec4(0.0, 0.0, 0.0, 1.0);
        return;
    }
    vec2 c = uv * src - 0.5;
    vec3 col;
    if (u_filter == 2) {
        col = texelFetch(u_input, clamp(ivec2(floor(c + 0.5)), ivec2(0), ivec2(src) - 1), 0).rgb;
    } else {
        // One stretch for both axes (fit and fill keep the aspect); stretch mode uses the larger shrink.
        col = resample(c, max(1.0, max(1.0 / s.x, 1.0 / s.y)));
    }
    f_color = vec4(clamp(col, 0.0, 1.0), 1.0);
}

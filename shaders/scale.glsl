#version 330 core
// @effect enabled=true order=last desc="output scaling to the window: fit, fill or stretch, with a sharp upscaling filter"
in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_input;
uniform vec2 u_resolution;      // output size in pixels
uniform vec2 u_src_resolution;  // picture size in pixels
uniform int u_mode;   // @param choices="fit,fill,stretch" default=fill desc="fit shows all (bars), fill covers (crops), stretch distorts"
uniform int u_filter; // @param choices="bicubic,linear,nearest" default=bicubic desc="upscaling filter"

float cr(float x) {  // Catmull-Rom weight: sharp without ringing much
    x = abs(x);
    if (x < 1.0) return 1.5 * x * x * x - 2.5 * x * x + 1.0;
    if (x < 2.0) return -0.5 * x * x * x + 2.5 * x * x - 4.0 * x + 2.0;
    return 0.0;
}

vec3 bicubic(vec2 uv) {
    vec2 px = uv * u_src_resolution - 0.5;
    vec2 base = floor(px);
    vec2 f = px - base;
    ivec2 hi = ivec2(u_src_resolution) - 1;
    vec3 sum = vec3(0.0);
    float wsum = 0.0;
    for (int j = -1; j <= 2; j++) {
        float wy = cr(float(j) - f.y);
        for (int i = -1; i <= 2; i++) {
            float w = cr(float(i) - f.x) * wy;
            ivec2 q = clamp(ivec2(base) + ivec2(i, j), ivec2(0), hi);
            sum += w * texelFetch(u_input, q, 0).rgb;
            wsum += w;
        }
    }
    return sum / wsum;
}

void main() {
    vec2 src = u_src_resolution, dst = u_resolution;
    vec2 uv = v_uv;
    if (u_mode != 2) {
        float s = (u_mode == 0) ? min(dst.x / src.x, dst.y / src.y) : max(dst.x / src.x, dst.y / src.y);
        vec2 shown = src * s;
        uv = (v_uv * dst - 0.5 * (dst - shown)) / shown;
    }
    if (any(lessThan(uv, vec2(0.0))) || any(greaterThan(uv, vec2(1.0)))) {
        f_color = vec4(0.0, 0.0, 0.0, 1.0);
        return;
    }
    vec3 c;
    if (u_filter == 0 && (dst.x > src.x || dst.y > src.y)) {
        c = bicubic(uv);
    } else if (u_filter == 2) {
        c = texelFetch(u_input, clamp(ivec2(uv * src), ivec2(0), ivec2(src) - 1), 0).rgb;
    } else {
        c = texture(u_input, uv).rgb;
    }
    f_color = vec4(clamp(c, 0.0, 1.0), 1.0);
}

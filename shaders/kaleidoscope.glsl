#version 330 core
// @effect desc="kaleidoscope: mirrored wedges around the centre"
in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_input;
uniform float u_time;
uniform int u_segments; // @param min=2 max=24 default=6 desc="number of wedges"
uniform float u_spin;   // @param min=-1 max=1 default=0 unit=turns/s desc="rotation speed"
uniform float u_zoom;   // @param min=0.25 max=4 default=1 desc="zoom into the source"

void main() {
    vec2 p = v_uv - 0.5;
    float r = length(p) / u_zoom;
    float wedge = 6.28318530718 / float(max(u_segments, 2));
    float a = mod(atan(p.y, p.x) + u_time * u_spin * 6.28318530718, wedge);
    a = min(a, wedge - a);  // reflect inside each wedge so neighbours meet seamlessly
    vec2 uv = vec2(cos(a), sin(a)) * r + 0.5;
    f_color = vec4(texture(u_input, clamp(uv, 0.0, 1.0)).rgb, 1.0);
}

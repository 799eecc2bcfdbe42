#version 330 core
// @effect desc="trails: the previous output, slightly zoomed and turned, under the new picture"
in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_input;
uniform sampler2D u_prev_output;
uniform float u_onset;
uniform float u_amount; // @param min=0 max=0.98 default=0.5 desc="how much of the previous output stays"
uniform float u_zoom;   // @param min=0.9 max=1.1 default=1.01 desc="zoom of the trail per frame"
uniform float u_rotate; // @param min=-0.05 max=0.05 default=0.002 unit=turns desc="turn of the trail per frame"
uniform float u_onset_cut; // @param min=0 max=1 default=0.5 desc="onsets shorten the trails by this much"

void main() {
    vec2 p = v_uv - 0.5;
    float a = u_rotate * 6.28318530718;
    p = mat2(cos(a), sin(a), -sin(a), cos(a)) * p / u_zoom;
    vec3 trail = texture(u_prev_output, p + 0.5).rgb;
    vec3 cur = texture(u_input, v_uv).rgb;
    float keep = u_amount * (1.0 - u_onset_cut * clamp(u_onset, 0.0, 1.0));
    // Keep the brighter of the two so trails glow rather than wash out.
    f_color = vec4(max(cur, trail * keep), 1.0);
}

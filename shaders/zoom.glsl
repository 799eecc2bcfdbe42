#version 330 core
// @effect desc="zoom and rotate, with an onset kick"
in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_input;
uniform float u_time;
uniform float u_onset;
uniform float u_zoom;   // @param min=0.25 max=4 default=1 desc="zoom factor (above 1 zooms in)"
uniform float u_rotate; // @param min=-0.5 max=0.5 default=0 unit=turns desc="rotation"
uniform float u_spin;   // @param min=-1 max=1 default=0 unit=turns/s desc="continuous rotation"
uniform float u_kick;   // @param min=0 max=1 default=0.1 desc="extra zoom on each onset"

void main() {
    float z = u_zoom * (1.0 + u_kick * clamp(u_onset, 0.0, 1.0));
    float a = (u_rotate + u_spin * u_time) * 6.28318530718;
    vec2 p = mat2(cos(a), sin(a), -sin(a), cos(a)) * (v_uv - 0.5) / z + 0.5;
    // Mirror-repeat outside the picture instead of smearing its edge.
    p = 1.0 - abs(1.0 - mod(p, 2.0));
    f_color = vec4(texture(u_input, p).rgb, 1.0);
}

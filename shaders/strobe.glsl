#version 330 core
// @effect desc="white flash on onsets"
in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_input;
uniform float u_onset;
uniform float u_amount;    // @param min=0 max=1 default=0.5 desc="flash brightness at a full onset"
uniform float u_threshold; // @param min=0 max=1 default=0.2 desc="onset envelope below this does not flash"

void main() {
    vec3 c = texture(u_input, v_uv).rgb;
    float e = clamp((u_onset - u_threshold) / max(1.0 - u_threshold, 1e-3), 0.0, 1.0);
    f_color = vec4(mix(c, vec3(1.0), u_amount * e), 1.0);
}

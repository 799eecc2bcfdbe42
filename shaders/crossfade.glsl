#version 330 core
// @effect enabled=true order=first desc="blend from the previous model frame to the newest while the model is slower than the display"
in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_input;
uniform sampler2D u_frame_prev;
uniform float u_frame_mix;
uniform float u_amount; // @param min=0 max=1 default=1 desc="0 repeats each model frame, 1 blends fully from one to the next"

void main() {
    vec3 prev = texture(u_frame_prev, v_uv).rgb;
    vec3 cur = texture(u_input, v_uv).rgb;
    float t = mix(1.0, smoothstep(0.0, 1.0, clamp(u_frame_mix, 0.0, 1.0)), u_amount);
    f_color = vec4(mix(prev, cur, t), 1.0);
}

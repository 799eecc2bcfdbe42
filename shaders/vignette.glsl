#version 330 core
// @effect desc="darkened edges"
in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_input;
uniform float u_amount;   // @param min=0 max=1 default=0.4 desc="how dark the corners get"
uniform float u_softness; // @param min=0.05 max=1.5 default=0.6 desc="width of the falloff"

void main() {
    vec3 c = texture(u_input, v_uv).rgb;
    float d = length(v_uv - 0.5) * 1.41421356;  // 0 centre, 1 corner
    float v = 1.0 - u_amount * smoothstep(1.0 - u_softness, 1.0, d);
    f_color = vec4(c * v, 1.0);
}

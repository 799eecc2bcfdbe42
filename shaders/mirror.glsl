#version 330 core
// @effect desc="mirror halves or quarters of the picture"
in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_input;
uniform int u_mode; // @param choices="horizontal,vertical,quad" default=horizontal desc="which halves mirror"

void main() {
    vec2 uv = v_uv;
    if (u_mode != 1) uv.x = 0.5 - abs(uv.x - 0.5);
    if (u_mode != 0) uv.y = 0.5 - abs(uv.y - 0.5);
    f_color = vec4(texture(u_input, uv).rgb, 1.0);
}

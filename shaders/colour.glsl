#version 330 core
// @effect desc="hue, saturation, contrast, gamma and brightness"
in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_input;
uniform float u_hue;        // @param min=-0.5 max=0.5 default=0 unit=turns desc="hue rotation"
uniform float u_saturation; // @param min=0 max=3 default=1 desc="saturation (0 = grey)"
uniform float u_contrast;   // @param min=0 max=3 default=1 desc="contrast around mid grey"
uniform float u_gamma;      // @param min=0.2 max=5 default=1 desc="gamma (above 1 darkens the mids)"
uniform float u_brightness; // @param min=-1 max=1 default=0 desc="brightness offset"

// Hue rotation in YIQ: a rotation of the chroma plane keeps luma.
vec3 rotate_hue(vec3 c, float turns) {
    const mat3 to_yiq = mat3(0.299, 0.596, 0.211, 0.587, -0.274, -0.523, 0.114, -0.322, 0.312);
    const mat3 to_rgb = mat3(1.0, 1.0, 1.0, 0.956, -0.272, -1.106, 0.621, -0.647, 1.703);
    vec3 yiq = to_yiq * c;
    float a = turns * 6.28318530718;
    float ca = cos(a), sa = sin(a);
    yiq.yz = vec2(ca * yiq.y - sa * yiq.z, sa * yiq.y + ca * yiq.z);
    return to_rgb * yiq;
}

void main() {
    vec3 c = texture(u_input, v_uv).rgb;
    c = rotate_hue(c, u_hue);
    float luma = dot(c, vec3(0.2126, 0.7152, 0.0722));
    c = mix(vec3(luma), c, u_saturation);
    c = (c - 0.5) * u_contrast + 0.5 + u_brightness;
    c = pow(clamp(c, 0.0, 1.0), vec3(u_gamma));
    f_color = vec4(c, 1.0);
}

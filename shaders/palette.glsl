#version 330 core
// @effect desc="palette: the picture's light mapped onto a colour gradient (curated, or your own stops), with black point, contrast and saturation"
// Works on any model's picture. Every curated gradient starts at pure black, so the black
// point gives a real black. The custom gradient's four stops (c1..c4, after black) are
// ordinary parameters: OSC sets them, presets store them, morphs glide between them.
in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_input;
uniform float u_time;
uniform int u_palette;      // @param choices="mono,duotone,natural,neon,pastel,noir,ember,ice,acid,custom" default=natural desc="the gradient"
uniform float u_amount;     // @param min=0 max=1 default=1 desc="0 keeps the picture's own colours, 1 is the gradient only"
uniform float u_black;      // @param min=0 max=0.6 default=0.05 desc="black point: light below this is black"
uniform float u_white;      // @param min=0.4 max=1 default=1 desc="white point: light above this is the gradient's end"
uniform float u_contrast;   // @param min=0 max=3 default=1 desc="contrast of the light before mapping (an S-curve above 1)"
uniform float u_saturation; // @param min=0 max=2 default=1 desc="saturation of the result (0 = grey)"
uniform float u_shift;      // @param min=-1 max=1 default=0 desc="slide the light along the gradient"
uniform float u_cycle;      // @param min=-1 max=1 default=0 unit=cycles/s desc="keep sliding: the gradient wraps around (mirrored) at this speed"
uniform float u_c1_r; // @param min=0 max=1 default=0.05 desc="custom stop 1 red"
uniform float u_c1_g; // @param min=0 max=1 default=0.10 desc="custom stop 1 green"
uniform float u_c1_b; // @param min=0 max=1 default=0.35 desc="custom stop 1 blue"
uniform float u_c2_r; // @param min=0 max=1 default=0.55 desc="custom stop 2 red"
uniform float u_c2_g; // @param min=0 max=1 default=0.15 desc="custom stop 2 green"
uniform float u_c2_b; // @param min=0 max=1 default=0.55 desc="custom stop 2 blue"
uniform float u_c3_r; // @param min=0 max=1 default=1.0 desc="custom stop 3 red"
uniform float u_c3_g; // @param min=0 max=1 default=0.55 desc="custom stop 3 green"
uniform float u_c3_b; // @param min=0 max=1 default=0.25 desc="custom stop 3 blue"
uniform float u_c4_r; // @param min=0 max=1 default=1.0 desc="custom stop 4 red"
uniform float u_c4_g; // @param min=0 max=1 default=0.95 desc="custom stop 4 green"
uniform float u_c4_b; // @param min=0 max=1 default=0.85 desc="custom stop 4 blue"

// Five stops per gradient, dark to light, at 0, 1/4, 1/2, 3/4, 1 (sRGB).
const vec3 STOPS[45] = vec3[](
    vec3(0.000), vec3(0.220), vec3(0.470), vec3(0.740), vec3(1.000),                            // mono
    vec3(0.0), vec3(0.05, 0.08, 0.30), vec3(0.28, 0.22, 0.55), vec3(1.00, 0.45, 0.38), vec3(1.00, 0.93, 0.86),  // duotone: indigo, coral
    vec3(0.0), vec3(0.12, 0.16, 0.10), vec3(0.36, 0.42, 0.23), vec3(0.79, 0.65, 0.42), vec3(0.96, 0.93, 0.85),  // natural: moss, olive, sand, bone
    vec3(0.0), vec3(0.24, 0.00, 0.45), vec3(1.00, 0.00, 0.66), vec3(0.00, 0.94, 1.00), vec3(0.97, 1.00, 0.42),  // neon
    vec3(0.0), vec3(0.42, 0.38, 0.55), vec3(0.72, 0.66, 0.86), vec3(0.97, 0.76, 0.80), vec3(0.99, 0.97, 0.90),  // pastel
    vec3(0.0), vec3(0.0), vec3(0.50), vec3(1.0), vec3(1.0),                                       // noir: hard black and white
    vec3(0.0), vec3(0.23, 0.04, 0.00), vec3(0.66, 0.16, 0.00), vec3(1.00, 0.55, 0.10), vec3(1.00, 0.95, 0.70),  // ember
    vec3(0.0), vec3(0.00, 0.10, 0.20), vec3(0.04, 0.37, 0.66), vec3(0.50, 0.83, 1.00), vec3(0.95, 0.99, 1.00),  // ice
    vec3(0.0), vec3(0.06, 0.23, 0.00), vec3(0.30, 1.00, 0.00), vec3(0.94, 1.00, 0.00), vec3(1.00, 1.00, 1.00)   // acid
);

vec3 stop(int k) {
    if (u_palette == 9) {
        if (k == 0) return vec3(0.0);
        if (k == 1) return vec3(u_c1_r, u_c1_g, u_c1_b);
        if (k == 2) return vec3(u_c2_r, u_c2_g, u_c2_b);
        if (k == 3) return vec3(u_c3_r, u_c3_g, u_c3_b);
        return vec3(u_c4_r, u_c4_g, u_c4_b);
    }
    return STOPS[clamp(u_palette, 0, 8) * 5 + k];
}

vec3 gradient(float t) {
    float x = clamp(t, 0.0, 1.0) * 4.0;
    int k = min(int(floor(x)), 3);
    return mix(stop(k), stop(k + 1), x - float(k));
}

void main() {
    vec3 c = texture(u_input, v_uv).rgb;
    float l = dot(c, vec3(0.2126, 0.7152, 0.0722));
    l = clamp((l - u_black) / max(u_white - u_black, 1e-3), 0.0, 1.0);
    // Contrast about the middle: linear below 1, a smooth S-curve that keeps 0 and 1 above it.
    float s = l * l * (3.0 - 2.0 * l);
    l = u_contrast <= 1.0 ? mix(0.5, l, u_contrast) : mix(l, s, min(u_contrast - 1.0, 1.0));
    if (u_contrast > 2.0) l = mix(l, step(0.5, l), u_contrast - 2.0);
    if (l > 0.0) {  // black stays black whatever the shift
        float t = l + u_shift + u_cycle * u_time;
        t = (u_cycle != 0.0) ? 1.0 - abs(1.0 - mod(t, 2.0)) : t;
        l = max(t, 1e-3);
    }
    vec3 g = gradient(l);
    float gl = dot(g, vec3(0.2126, 0.7152, 0.0722));
    g = max(mix(vec3(gl), g, u_saturation), 0.0);
    f_color = vec4(clamp(mix(c, g, u_amount), 0.0, 1.0), 1.0);
}

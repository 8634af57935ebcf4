"""Stand-in for an image model: a deterministic PNG painted from the request's options (color:
palette, style: motif, model: composition), seeded by a hash of all its fields, so the same
request always gives the same bytes. Pure: no I/O, no clock, no global random."""

from __future__ import annotations

import hashlib
import io
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise

from PIL import Image, ImageDraw, ImageOps

type RGB = tuple[int, int, int]
type RGBA = tuple[int, int, int, int]
type Point = tuple[float, float]
type Palette = tuple[RGB, ...]

BLACK: RGB = (0, 0, 0)
WHITE: RGB = (255, 255, 255)


def _palette(colours: str) -> Palette:
    """Six `rrggbb` colours, dark to light (motifs pick roles by position)."""
    return tuple((int(c[:2], 16), int(c[2:4], 16), int(c[4:], 16)) for c in colours.split())


PALETTES: dict[str, Palette] = {
    "vibrant": _palette("2d1982 d7193c 149650 00aae1 ff7800 ffd214"),
    "monochrome": _palette("141414 3e3e3e 696969 969696 c3c3c3 eeeeee"),
    "pastel": _palette("96a5d2 f0a5b9 c8b9eb afdcc8 fad7aa fff5cd"),
    "neon": _palette("1e0532 8c00ff ff1496 0096ff 00ffc8 d2ff00"),
    "vintage": _palette("3c281e 7d4632 788269 b48c5a d4b68c f0e2c4"),
}
FALLBACK_PALETTE = _palette("1e323c 3c6e78 c35f4b 78aaa0 e6be78 f5f0e6")  # muted teal, terracotta

SYMMETRIC_MODEL = "Model B"  # every other model composes like Model A


@dataclass(frozen=True)
class ImageSpec:
    request_id: str
    model: str
    style: str
    color: str
    prompt: str
    width: int
    height: int


@dataclass
class Canvas:
    """What a motif paints on: an RGB image, drawn on with alpha blending (`draw`, for
    translucent RGBA fills) or without (`solid`, faster, for opaque RGB fills)."""

    image: Image.Image
    rng: random.Random
    palette: Palette
    draw: ImageDraw.ImageDraw = field(init=False)
    solid: ImageDraw.ImageDraw = field(init=False)

    def __post_init__(self) -> None:
        self.draw = ImageDraw.Draw(self.image, "RGBA")
        self.solid = ImageDraw.Draw(self.image)

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height

    @property
    def scale(self) -> float:
        """1.0 when the short side is 512px: lengths in motifs are written for that size
        (floored, so that a tiny canvas does not get thousands of specks)."""
        return max(min(self.width, self.height), 64) / 512


@dataclass(frozen=True)
class Motif:
    """A style: the two ground colours the model's background runs between, and a painter."""

    ground: Callable[[Palette], tuple[RGB, RGB]]  # (base, glow)
    paint: Callable[[Canvas], None]


def render_png(spec: ImageSpec) -> bytes:
    """The PNG (RGB, spec.width x spec.height) the simulated model produces for `spec`."""
    rng = random.Random(seed_of(spec))
    palette = PALETTES.get(spec.color, FALLBACK_PALETTE)
    motif = MOTIFS.get(spec.style, FALLBACK_MOTIF)
    base, glow = motif.ground(palette)
    size = (spec.width, spec.height)
    symmetric = spec.model == SYMMETRIC_MODEL
    image = (
        radial_background(size, base, glow) if symmetric else linear_background(size, base, glow)
    )
    canvas = Canvas(image, rng, palette)
    motif.paint(canvas)
    if symmetric:
        mirror_left_half(image)
        paint_frame(canvas)
    return encode_png(image)


def seed_of(spec: ImageSpec) -> int:
    fields = (spec.request_id, spec.model, spec.style, spec.color, spec.prompt)
    text = "\x1f".join((*fields, str(spec.width), str(spec.height)))
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest(), "big")


def encode_png(image: Image.Image) -> bytes:
    """`image` as PNG at deflate level 1, the fastest: flat shapes and gradients compress well."""
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


# --- colour helpers -------------------------------------------------------------------------


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """`a` moved a fraction `t` of the way to `b`."""
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def with_alpha(colour: RGB, alpha: int) -> RGBA:
    return (colour[0], colour[1], colour[2], alpha)


def shade(rng: random.Random, colour: RGB, amount: float) -> RGB:
    """`colour` randomly lightened or darkened; greys stay grey (only black/white are mixed in)."""
    t = rng.uniform(-amount, amount)
    return mix(colour, WHITE, t) if t > 0 else mix(colour, BLACK, -t)


# --- model backgrounds ----------------------------------------------------------------------


def linear_background(size: tuple[int, int], base: RGB, glow: RGB) -> Image.Image:
    """Model A: `base` at the top fading to `glow` at the bottom."""
    ramp = Image.linear_gradient("L").crop((0, 0, 1, 256))  # black at the top, white below
    column = ImageOps.colorize(ramp, base, glow).resize((1, size[1]), Image.Resampling.BILINEAR)
    return column.resize(size, Image.Resampling.NEAREST)


def radial_background(size: tuple[int, int], base: RGB, glow: RGB) -> Image.Image:
    """Model B: `glow` at the centre fading to `base` towards the edges. Smoothed at a
    quarter of the size, then blown up: steps of one shade per block are invisible."""
    disc = Image.radial_gradient("L")  # 256x256, black at the centre
    quarter = (max(1, size[0] // 4), max(1, size[1] // 4))
    smooth = ImageOps.colorize(disc, glow, base).resize(quarter, Image.Resampling.BILINEAR)
    return smooth.resize(size, Image.Resampling.NEAREST)


def mirror_left_half(image: Image.Image) -> None:
    """Model B: the right half becomes the mirror image of the left half."""
    half = image.width // 2
    left = image.crop((0, 0, half, image.height))
    image.paste(left.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (image.width - half, 0))


def paint_frame(canvas: Canvas) -> None:
    """Model B: a dark mat with a light inner rule."""
    w, h, s, palette = canvas.width, canvas.height, canvas.scale, canvas.palette
    border = round(18 * s)
    rule = max(1, round(3 * s))
    canvas.solid.rectangle((0, 0, w - 1, h - 1), outline=mix(palette[0], BLACK, 0.4), width=border)
    inset = border + rule
    light = mix(palette[-1], WHITE, 0.3)
    canvas.solid.rectangle((inset, inset, w - 1 - inset, h - 1 - inset), outline=light, width=rule)


# --- shapes ---------------------------------------------------------------------------------


def circle(centre: Point, radius: float) -> tuple[float, float, float, float]:
    x, y = centre
    return (x - radius, y - radius, x + radius, y + radius)


def ridge(rng: random.Random, width: int, base: float, amplitude: float) -> list[Point]:
    """A mountain skyline by midpoint displacement, peaks up to `amplitude` above `base`."""
    heights = [rng.random(), rng.random()]
    spread = 0.9
    for _ in range(6):
        refined: list[float] = []
        for a, b in pairwise(heights):
            refined += [a, (a + b) / 2 + rng.uniform(-spread, spread)]
        heights = [*refined, heights[-1]]
        spread *= 0.55
    low, high = min(heights), max(heights)
    span = (high - low) or 1.0
    last = len(heights) - 1
    return [(width * i / last, base - amplitude * (v - low) / span) for i, v in enumerate(heights)]


def blob(rng: random.Random, centre: Point, radius: float, points: int = 24) -> list[Point]:
    """An irregular closed outline: a circle wobbled by three random harmonics."""
    harmonics = [(k, rng.uniform(0.04, 0.16), rng.uniform(0, math.tau)) for k in (2, 3, 5)]
    outline: list[Point] = []
    for i in range(points):
        angle = math.tau * i / points
        r = radius * (1 + sum(a * math.sin(k * angle + phase) for k, a, phase in harmonics))
        outline.append((centre[0] + r * math.cos(angle), centre[1] + r * math.sin(angle)))
    return outline


def glow_disc(canvas: Canvas, centre: Point, radius: float, colour: RGB, rings: int = 6) -> None:
    """A solid disc inside a soft halo of translucent rings."""
    for k in range(rings, 0, -1):
        canvas.draw.ellipse(circle(centre, radius * (1 + 0.3 * k)), fill=with_alpha(colour, 22))
    canvas.solid.ellipse(circle(centre, radius), fill=colour)


# --- motifs ---------------------------------------------------------------------------------


def paint_realistic(canvas: Canvas) -> None:
    """A sun in a sky gradient over layered mountain silhouettes, hazier with distance."""
    rng, w, h, s, palette = canvas.rng, canvas.width, canvas.height, canvas.scale, canvas.palette
    horizon = h * rng.uniform(0.5, 0.65)
    sun = (w * rng.uniform(0.15, 0.85), horizon - h * rng.uniform(0.12, 0.3))
    glow_disc(canvas, sun, rng.uniform(30, 55) * s, mix(palette[-1], WHITE, 0.55))
    for _ in range(rng.randint(2, 5)):
        cloud = (w * rng.random(), horizon * rng.uniform(0.1, 0.6))
        for _ in range(5):
            centre = (cloud[0] + rng.uniform(-60, 60) * s, cloud[1] + rng.uniform(-12, 12) * s)
            radius = rng.uniform(18, 38) * s
            canvas.draw.ellipse(circle(centre, radius), fill=with_alpha(WHITE, 45))
    haze = mix(palette[-1], WHITE, 0.3)
    layers = 4
    for i in range(layers):
        near = i / (layers - 1)
        base = horizon + (h - horizon) * 0.22 * i
        outline = ridge(rng, w, base, h * (0.28 - 0.05 * i))
        colour = mix(mix(palette[2 - min(i, 2)], haze, 0.55 * (1 - near)), BLACK, 0.5 * near)
        canvas.solid.polygon([*outline, (w, h), (0, h)], fill=colour)


def paint_anime(canvas: Canvas) -> None:
    """A big rimmed sun, speed lines bursting from it and soft bokeh circles."""
    rng, w, h, s, palette = canvas.rng, canvas.width, canvas.height, canvas.scale, canvas.palette
    focus = (w * rng.uniform(0.25, 0.75), h * rng.uniform(0.25, 0.6))
    reach = math.hypot(w, h)
    lines = rng.randint(40, 70)
    for i in range(lines):
        angle = math.tau * (i + rng.random() * 0.6) / lines
        spread = rng.uniform(0.004, 0.018)
        start = rng.uniform(0.12, 0.3) * reach
        tip = (focus[0] + start * math.cos(angle), focus[1] + start * math.sin(angle))
        left, right = angle - spread, angle + spread
        fan = [
            tip,
            (focus[0] + reach * math.cos(left), focus[1] + reach * math.sin(left)),
            (focus[0] + reach * math.cos(right), focus[1] + reach * math.sin(right)),
        ]
        canvas.draw.polygon(fan, fill=with_alpha(WHITE, rng.randint(50, 110)))
    sun = rng.uniform(80, 130) * s
    canvas.draw.ellipse(circle(focus, sun * 1.12), fill=with_alpha(WHITE, 90))
    canvas.solid.ellipse(circle(focus, sun), fill=palette[rng.randint(3, 5)])
    canvas.draw.ellipse(
        circle(focus, sun * 0.8), outline=with_alpha(WHITE, 140), width=round(4 * s)
    )
    for _ in range(rng.randint(28, 44)):
        centre = (w * rng.random(), h * rng.random())
        radius = rng.uniform(10, 70) * s
        colour = rng.choice(palette[1:])
        canvas.draw.ellipse(
            circle(centre, radius),
            fill=with_alpha(colour, rng.randint(45, 110)),
            outline=with_alpha(mix(colour, WHITE, 0.6), 150),
            width=max(1, round(2 * s)),
        )


def paint_oil(canvas: Canvas) -> None:
    """Short thick brush strokes on a jittered grid, following a swirling flow field; each
    stroke takes the colour of the nearest of a few colour centres, lightly shaded."""
    rng, w, h, s, palette = canvas.rng, canvas.width, canvas.height, canvas.scale, canvas.palette
    centres = [((w * rng.random(), h * rng.random()), rng.choice(palette)) for _ in range(5)]
    fx, fy = rng.uniform(2, 5) * math.tau / w, rng.uniform(2, 5) * math.tau / h
    px, py, tilt = rng.uniform(0, math.tau), rng.uniform(0, math.tau), rng.uniform(0, math.pi)
    step = 19 * s
    cells = [(x, y) for y in range(math.ceil(h / step)) for x in range(math.ceil(w / step))]
    rng.shuffle(cells)
    for x, y in cells:
        cx, cy = (x + rng.random()) * step, (y + rng.random()) * step
        angle = tilt + 1.3 * (math.sin(cx * fx + px) + math.cos(cy * fy + py))
        nearest = min(centres, key=lambda c: abs(c[0][0] - cx) + abs(c[0][1] - cy))[1]
        colour = rng.choice(palette) if rng.random() < 0.12 else nearest
        dab = brush_dab((cx, cy), angle, rng.uniform(13, 24) * s, rng.uniform(4, 7) * s)
        canvas.solid.polygon(dab, fill=shade(rng, colour, 0.18))


def brush_dab(centre: Point, angle: float, length: float, thickness: float) -> list[Point]:
    """A stroke outline: pointed at both ends, full `thickness` (half-width) in the middle."""
    ax, ay = math.cos(angle), math.sin(angle)
    nx, ny = -ay * thickness, ax * thickness
    x, y = centre
    near, far = 0.6 * length, length
    return [
        (x - ax * far, y - ay * far),
        (x - ax * near + nx, y - ay * near + ny),
        (x + ax * near + nx, y + ay * near + ny),
        (x + ax * far, y + ay * far),
        (x + ax * near - nx, y + ay * near - ny),
        (x - ax * near - nx, y - ay * near - ny),
    ]


def paint_sketch(canvas: Canvas) -> None:
    """Pencil on paper: loose construction lines, then hatched and outlined round shapes."""
    rng, w, h, s, palette = canvas.rng, canvas.width, canvas.height, canvas.scale, canvas.palette
    ink = mix(palette[0], BLACK, 0.55)
    thin = max(1, round(s))
    for _ in range(rng.randint(4, 8)):
        y0, y1 = h * rng.random(), h * rng.random()
        canvas.draw.line([(0, y0), (w, y1)], fill=with_alpha(ink, 45), width=thin)
    for _ in range(rng.randint(5, 9)):
        centre = (w * rng.uniform(0.1, 0.9), h * rng.uniform(0.1, 0.9))
        radius = rng.uniform(35, 120) * s
        angles = [rng.uniform(0, math.pi)]
        if rng.random() < 0.6:
            angles.append(angles[0] + rng.uniform(0.6, 1.2))  # cross-hatching
        for angle in angles:
            hatch(canvas, centre, radius, angle, with_alpha(ink, rng.randint(110, 190)))
        for _ in range(rng.randint(2, 3)):
            outline = blob(rng, centre, radius * rng.uniform(0.98, 1.06), points=28)
            canvas.draw.line([*outline, outline[0]], fill=with_alpha(ink, 200), width=thin)


def hatch(canvas: Canvas, centre: Point, radius: float, angle: float, ink: RGBA) -> None:
    """Parallel strokes at `angle` filling a circle, each slightly off its chord."""
    rng, s = canvas.rng, canvas.scale
    along, across = (math.cos(angle), math.sin(angle)), (-math.sin(angle), math.cos(angle))
    spacing = 6 * s
    offset = -radius + spacing / 2
    while offset < radius:
        half = math.sqrt(radius * radius - offset * offset) * rng.uniform(0.8, 1.0)
        mx, my = centre[0] + across[0] * offset, centre[1] + across[1] * offset
        wobble = rng.uniform(-2, 2) * s
        start = (mx - along[0] * half, my - along[1] * half)
        end = (mx + along[0] * half + across[0] * wobble, my + along[1] * half + across[1] * wobble)
        canvas.draw.line([start, end], fill=ink, width=max(1, round(s)))
        offset += spacing * rng.uniform(0.8, 1.2)


def paint_cyberpunk(canvas: Canvas) -> None:
    """A night skyline of lit towers over a glowing perspective grid."""
    rng, w, h, s, palette = canvas.rng, canvas.width, canvas.height, canvas.scale, canvas.palette
    horizon = h * rng.uniform(0.58, 0.68)
    neon = palette[2:]
    glow_disc(canvas, (w * rng.uniform(0.2, 0.8), horizon - h * 0.22), 60 * s, rng.choice(neon))
    for layer, darkness in enumerate((0.75, 0.9)):
        x = -rng.uniform(0, 40) * s
        while x < w:
            width = rng.uniform(40, 95) * s
            top = horizon - h * rng.uniform(0.12, 0.45) * (1 - 0.3 * layer)
            tower(canvas, (x, top, x + width, horizon), darkness, rng.choice(neon))
            x += width + rng.uniform(-10, 25) * s
    canvas.solid.rectangle((0, horizon, w, h), fill=mix(palette[0], BLACK, 0.85))
    grid = rng.choice(neon)
    vanish = (w / 2, horizon)
    for i in range(-12, 13):
        foot = (w / 2 + i * w / 6, h)
        neon_line(canvas, [vanish, foot], grid)
    rows = 10
    for k in range(1, rows + 1):
        y = horizon + (h - horizon) * (k / rows) ** 2
        neon_line(canvas, [(0, y), (w, y)], grid)
    neon_line(canvas, [(0, horizon), (w, horizon)], mix(grid, WHITE, 0.4))


def tower(
    canvas: Canvas, box: tuple[float, float, float, float], darkness: float, neon: RGB
) -> None:
    """A dark building with a neon edge and a scatter of lit windows."""
    rng, s = canvas.rng, canvas.scale
    body = mix(canvas.palette[1], BLACK, darkness)
    canvas.solid.rectangle(box, fill=body, outline=mix(neon, body, 0.2), width=max(1, round(2 * s)))
    left, top, right, bottom = box
    pane, gap = 5 * s, 11 * s
    lit = rng.uniform(0.15, 0.4)
    y = top + gap
    while y + pane < bottom:
        x = left + gap * 0.7
        while x + pane < right - gap * 0.5:
            if rng.random() < lit:
                colour = rng.choice(canvas.palette[3:])
                canvas.solid.rectangle((x, y, x + pane, y + pane * 1.4), fill=colour)
            x += gap
        y += gap * 1.3


def neon_line(canvas: Canvas, points: list[Point], colour: RGB) -> None:
    """A thin bright line inside a wide translucent glow."""
    s = canvas.scale
    canvas.draw.line(points, fill=with_alpha(colour, 60), width=max(3, round(7 * s)))
    canvas.draw.line(points, fill=mix(colour, WHITE, 0.35), width=max(1, round(1.5 * s)))


def paint_watercolor(canvas: Canvas) -> None:
    """Translucent pigment blobs laid in a few thin washes, darker at their edges, with
    a few splatter drops."""
    rng, w, h, s, palette = canvas.rng, canvas.width, canvas.height, canvas.scale, canvas.palette
    for _ in range(rng.randint(11, 16)):
        centre = (w * rng.uniform(-0.05, 1.05), h * rng.uniform(-0.05, 1.05))
        radius = rng.uniform(45, 130) * s
        colour = rng.choice(palette[:-1])
        for wash in range(4):
            shifted = (centre[0] + rng.uniform(-8, 8) * s, centre[1] + rng.uniform(-8, 8) * s)
            outline = blob(rng, shifted, radius * (1 - 0.15 * wash))
            edge = with_alpha(mix(colour, BLACK, 0.15), 60) if wash == 0 else None
            canvas.draw.polygon(outline, fill=with_alpha(colour, 40), outline=edge)
    for _ in range(rng.randint(20, 40)):
        drop = (w * rng.random(), h * rng.random())
        splash = with_alpha(rng.choice(palette[:-1]), rng.randint(60, 130))
        canvas.draw.ellipse(circle(drop, rng.uniform(1.5, 6) * s), fill=splash)


def paint_fallback(canvas: Canvas) -> None:
    """Unknown style: overlapping translucent triangles and bars."""
    rng, w, h, s, palette = canvas.rng, canvas.width, canvas.height, canvas.scale, canvas.palette
    for _ in range(rng.randint(14, 22)):
        colour = with_alpha(rng.choice(palette), rng.randint(70, 150))
        if rng.random() < 0.5:
            corners = [(w * rng.random(), h * rng.random()) for _ in range(3)]
            canvas.draw.polygon(corners, fill=colour)
        else:
            x, y = w * rng.random(), h * rng.random()
            bar = (x, y, x + rng.uniform(40, 200) * s, y + rng.uniform(10, 40) * s)
            canvas.draw.rectangle(bar, fill=colour)


MOTIFS: dict[str, Motif] = {
    "realistic": Motif(lambda p: (p[3], mix(p[5], WHITE, 0.4)), paint_realistic),
    "anime": Motif(lambda p: (p[4], mix(p[5], WHITE, 0.5)), paint_anime),
    "oil_painting": Motif(lambda p: (p[1], p[4]), paint_oil),
    "sketch": Motif(lambda p: (mix(p[5], WHITE, 0.7), mix(p[5], WHITE, 0.9)), paint_sketch),
    "cyberpunk": Motif(lambda p: (mix(p[0], BLACK, 0.85), mix(p[1], BLACK, 0.65)), paint_cyberpunk),
    "watercolor": Motif(
        lambda p: (mix(p[5], WHITE, 0.75), mix(p[5], WHITE, 0.92)), paint_watercolor
    ),
}
FALLBACK_MOTIF = Motif(lambda p: (p[0], p[4]), paint_fallback)

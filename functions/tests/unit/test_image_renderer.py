"""The procedural image model: real PNGs of the requested size, deterministic per request, with
the style, the palette and the model each visible in the picture."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from io import BytesIO
from itertools import combinations

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps, ImageStat

from services.image_renderer import (
    FALLBACK_MOTIF,
    FALLBACK_PALETTE,
    MOTIFS,
    PALETTES,
    Canvas,
    ImageSpec,
    encode_png,
    linear_background,
    radial_background,
    render_png,
)

STYLES = ("realistic", "anime", "oil_painting", "sketch", "cyberpunk", "watercolor")
COLORS = ("vibrant", "monochrome", "pastel", "neon", "vintage")
MODELS = ("Model A", "Model B")
BASE = ImageSpec(
    request_id="req-1",
    model="Model A",
    style="realistic",
    color="vibrant",
    prompt="a lighthouse at dusk",
    width=512,
    height=512,
)


def render(**changes: str | int) -> Image.Image:
    image = Image.open(BytesIO(render_png(replace(BASE, **changes))))
    image.load()
    return image


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel (0-255) of the two pictures seen at 32x32."""
    small = [image.convert("RGB").resize((32, 32), Image.Resampling.BOX) for image in (a, b)]
    return sum(ImageStat.Stat(ImageChops.difference(*small)).mean) / 3


def share(image: Image.Image, low: int, high: int) -> float:
    """Fraction of pixels whose luminance lies in [low, high]."""
    histogram = image.convert("L").histogram()
    return sum(histogram[low : high + 1]) / (image.width * image.height)


def edge_energy(image: Image.Image) -> float:
    return ImageStat.Stat(image.convert("L").filter(ImageFilter.FIND_EDGES)).mean[0]


def luminance(colour: tuple[int, int, int]) -> float:
    r, g, b = colour
    return 0.299 * r + 0.587 * g + 0.114 * b


# --- the file -------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(512, 512), (1024, 1024), (1024, 1792)])
def test_png_of_the_requested_size(width, height):
    data = render_png(replace(BASE, width=width, height=height))
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    Image.open(BytesIO(data)).verify()  # chunk layout and checksums
    image = Image.open(BytesIO(data))
    assert image.format == "PNG"
    assert image.size == (width, height)
    assert image.mode == "RGB"


def test_encoded_pixels_decode_exactly():
    ramp = Image.linear_gradient("L").resize((37, 23))
    image = Image.merge("RGB", (ramp, Image.radial_gradient("L").resize((37, 23)), ramp.rotate(90)))
    ImageDraw.Draw(image).ellipse((3, 2, 20, 19), fill=(250, 10, 128))
    decoded = Image.open(BytesIO(encode_png(image)))
    assert (decoded.mode, decoded.size) == ("RGB", (37, 23))
    assert decoded.tobytes() == image.tobytes()


# --- determinism ----------------------------------------------------------------------------


def test_same_request_gives_identical_bytes():
    random.seed(1)
    first = render_png(BASE)
    random.seed(2)  # the global generator plays no part
    again = render_png(replace(BASE))
    assert first == again


@pytest.mark.parametrize("style", STYLES)
def test_the_prompt_changes_the_composition(style):
    one = render(style=style, prompt="a lighthouse at dusk")
    other = render(style=style, prompt="a fox in the snow")
    assert one.tobytes() != other.tobytes()
    assert difference(one, other) > 5


def test_the_request_id_seeds_the_picture_too():
    assert render_png(BASE) != render_png(replace(BASE, request_id="req-2"))


# --- style ----------------------------------------------------------------------------------


def test_each_style_paints_its_own_motif():
    """Same canvas, palette and random numbers: any difference comes from the motif."""
    pictures = {}
    for name, motif in [*MOTIFS.items(), ("unknown", FALLBACK_MOTIF)]:
        image = Image.new("RGB", (256, 256), (128, 128, 128))
        motif.paint(Canvas(image, random.Random(7), PALETTES["vibrant"]))
        pictures[name] = image
    assert set(MOTIFS) == set(STYLES)
    for a, b in combinations(pictures, 2):
        assert difference(pictures[a], pictures[b]) > 15, (a, b)


@pytest.mark.parametrize("model", MODELS)
def test_styles_look_different(model):
    pictures = {style: render(model=model, style=style) for style in (*STYLES, "unknown")}
    for a, b in combinations(pictures, 2):
        assert difference(pictures[a], pictures[b]) > 15, (a, b)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("color", COLORS)
def test_styles_have_their_character_in_every_palette(model, color):
    def picture(style: str) -> Image.Image:
        return render(model=model, color=color, style=style)

    landscape = picture("realistic").convert("L")
    sky = ImageStat.Stat(landscape.crop((0, 0, 512, 128))).mean[0]
    ground = ImageStat.Stat(landscape.crop((0, 384, 512, 512))).mean[0]
    assert sky - ground > 60  # dark mountains under a light sky

    sketch = picture("sketch")
    assert share(sketch, 200, 255) > 0.5  # mostly paper...
    assert edge_energy(sketch) > 25  # ...covered in thin lines

    watercolor = picture("watercolor")
    assert share(watercolor, 200, 255) > 0.3  # paper shows through...
    assert edge_energy(watercolor) < 15  # ...soft washes, no hard lines

    night = picture("cyberpunk")
    assert share(night, 0, 59) > 0.4
    assert share(night, 200, 255) < 0.2


# --- palette --------------------------------------------------------------------------------


def test_palettes_are_six_distinct_colours_dark_to_light():
    assert set(PALETTES) == set(COLORS)
    for name, palette in [*PALETTES.items(), ("fallback", FALLBACK_PALETTE)]:
        assert len(palette) == 6, name
        assert len(set(palette)) == 6, name
        assert [luminance(c) for c in palette] == sorted(luminance(c) for c in palette), name
    assert all(r == g == b for r, g, b in PALETTES["monochrome"])
    tables = [*PALETTES.values(), FALLBACK_PALETTE]
    assert len({frozenset(palette) for palette in tables}) == len(tables)


def nearest_palette(image: Image.Image) -> str:
    """The palette whose colours lie closest, on average, to the picture's pixels."""
    sample = image.convert("RGB").resize((48, 48), Image.Resampling.NEAREST)
    pixels = [sample.getpixel((x, y)) for x in range(48) for y in range(48)]
    candidates = {**PALETTES, "fallback": FALLBACK_PALETTE}

    def distance(palette: tuple[tuple[int, int, int], ...]) -> float:
        return sum(min(math.dist(p, c) for c in palette) for p in pixels)

    return min(candidates, key=lambda name: distance(candidates[name]))


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("color", [*COLORS, "unknown"])
def test_the_strokes_are_painted_from_the_requested_palette(model, color):
    picture = render(model=model, style="oil_painting", color=color)
    assert nearest_palette(picture) == (color if color in PALETTES else "fallback")


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("style", [*STYLES, "unknown"])
def test_monochrome_is_grey(model, style):
    saturation = render(model=model, style=style, color="monochrome").convert("HSV").getchannel("S")
    assert saturation.getextrema()[1] <= 8
    colourful = render(model=model, style=style, color="vibrant").convert("HSV").getchannel("S")
    assert ImageStat.Stat(colourful).mean[0] > 40


# --- model ----------------------------------------------------------------------------------


@pytest.mark.parametrize("style", [*STYLES, "unknown"])
def test_model_b_is_mirror_symmetric_and_model_a_is_not(style):
    b = render(model="Model B", style=style)
    assert ImageChops.difference(b, ImageOps.mirror(b)).getbbox() is None
    a = render(model="Model A", style=style)
    assert difference(a, ImageOps.mirror(a)) > 5
    assert difference(a, b) > 10


def border_colours(image: Image.Image, band: int = 4) -> set[tuple[int, int, int]]:
    w, h = image.size
    boxes = [(0, 0, w, band), (0, h - band, w, h), (0, 0, band, h), (w - band, 0, w, h)]
    colours: set[tuple[int, int, int]] = set()
    for box in boxes:
        colours |= {colour for _, colour in image.crop(box).getcolors(maxcolors=w * h) or []}
    return colours


@pytest.mark.parametrize("style", STYLES)
def test_model_b_is_framed_and_model_a_bleeds_to_the_edge(style):
    assert len(border_colours(render(model="Model B", style=style))) == 1
    assert len(border_colours(render(model="Model A", style=style))) > 1


def test_any_other_model_composes_like_model_a():
    other = render(model="Model Z")
    assert difference(other, ImageOps.mirror(other)) > 5
    assert len(border_colours(other)) > 1
    assert render_png(replace(BASE, model="Model Z")) == render_png(replace(BASE, model="Model Z"))


def test_model_a_background_is_a_vertical_gradient():
    base, glow = (10, 20, 30), (250, 200, 150)
    image = linear_background((64, 100), base, glow)
    assert image.size == (64, 100)
    column = [image.getpixel((0, y)) for y in range(100)]
    assert all(image.getpixel((x, y)) == column[y] for x in (17, 63) for y in range(100))
    assert column[0] == base
    assert math.dist(column[-1], glow) < 6
    assert [c[0] for c in column] == sorted(c[0] for c in column)


def test_model_b_background_glows_from_the_centre():
    base, glow = (10, 20, 30), (250, 200, 150)
    image = radial_background((128, 200), base, glow)
    assert image.size == (128, 200)
    assert math.dist(image.getpixel((64, 100)), glow) < 12
    assert math.dist(image.getpixel((0, 0)), base) < 12
    halfway = image.getpixel((32, 100))
    assert math.dist(glow, image.getpixel((64, 100))) < math.dist(glow, halfway)
    assert math.dist(glow, halfway) < math.dist(glow, image.getpixel((0, 100)))


# --- unknown options ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("style", "color"), [("claymation", "vibrant"), ("anime", "infrared"), ("?", "?")]
)
def test_unknown_style_or_colour_still_renders(style, color):
    spec = replace(BASE, style=style, color=color, width=512, height=1024)
    data = render_png(spec)
    assert data == render_png(spec)
    image = Image.open(BytesIO(data))
    assert (image.format, image.mode, image.size) == ("PNG", "RGB", (512, 1024))

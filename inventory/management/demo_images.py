"""Product photos for the demo catalogue, drawn with Pillow (nothing is downloaded).

Each picture is a studio-style shot: a soft backdrop, a floor shadow and the product (a
coffee bag, a tea tin, a mug, a kettle, a grinder or a boxed item) with its label.
"""

import hashlib
from io import BytesIO

from PIL import Image, ImageDraw, ImageFilter, ImageFont

SIZE = 800


def _font(size: int):
    return ImageFont.load_default(size=size)


def _palette(seed: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    digest = hashlib.sha256(seed.encode()).digest()
    hue = digest[0] / 255
    accent = tuple(int(60 + 160 * ((hue + offset) % 1)) for offset in (0.0, 0.33, 0.66))
    backdrop = tuple(235 - (digest[i] % 20) for i in (1, 2, 3))
    return accent, backdrop


def _backdrop(color) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), color)
    draw = ImageDraw.Draw(image)
    for y in range(SIZE // 2, SIZE):  # the table top, a little darker towards the front
        shade = int((y - SIZE / 2) / (SIZE / 2) * 28)
        draw.line([(0, y), (SIZE, y)], fill=tuple(max(c - shade, 0) for c in color))
    return image


def _shadow(image: Image.Image, box) -> None:
    layer = Image.new("L", image.size, 0)
    ImageDraw.Draw(layer).ellipse(box, fill=120)
    layer = layer.filter(ImageFilter.GaussianBlur(18))
    image.paste((60, 50, 40), (0, 0), layer)


def _label(draw, box, lines, *, fill=(250, 248, 242), ink=(40, 36, 32)):
    draw.rounded_rectangle(box, radius=14, fill=fill, outline=(200, 196, 188), width=2)
    x0, y0, x1, _ = box
    y = y0 + 24
    for i, text in enumerate(lines):
        font = _font(44 if i == 0 else 28)
        width = draw.textlength(text, font=font)
        while width > (x1 - x0 - 30) and font.size > 16:
            font = _font(font.size - 2)
            width = draw.textlength(text, font=font)
        draw.text(((x0 + x1 - width) / 2, y), text, font=font, fill=ink)
        y += font.size + 14


def _coffee_bag(image, accent, lines):
    draw = ImageDraw.Draw(image)
    _shadow(image, (210, 640, 590, 700))
    kraft = (176, 132, 88)
    draw.polygon([(230, 200), (570, 200), (600, 670), (200, 670)], fill=kraft)
    draw.polygon([(230, 200), (260, 200), (230, 670), (200, 670)], fill=(150, 110, 72))
    for x in range(230, 571, 20):  # crimped top
        draw.polygon([(x, 170), (x + 10, 200), (x + 20, 170)], fill=(160, 120, 80))
    draw.rectangle((230, 150, 570, 172), fill=(140, 102, 66))
    _label(draw, (270, 300, 530, 540), lines)
    for cx, cy in ((320, 590), (400, 600), (480, 590)):  # beans printed on the bag
        draw.ellipse((cx - 22, cy - 14, cx + 22, cy + 14), fill=(92, 56, 30))
        draw.arc((cx - 18, cy - 10, cx + 18, cy + 10), 200, 340, fill=(60, 36, 20), width=3)
    draw.rectangle((270, 250, 530, 270), fill=accent)


def _tea_tin(image, accent, lines):
    draw = ImageDraw.Draw(image)
    _shadow(image, (220, 640, 580, 700))
    body = tuple(int(c * 0.8) for c in accent)
    draw.rectangle((240, 220, 560, 660), fill=body)
    draw.ellipse((240, 630, 560, 690), fill=body)
    draw.rectangle((240, 180, 560, 240), fill=(200, 200, 205))
    draw.ellipse((240, 150, 560, 210), fill=(225, 225, 230))
    draw.rectangle((250, 220, 280, 650), fill=tuple(min(c + 40, 255) for c in body))
    _label(draw, (280, 330, 520, 540), lines)


def _mug(image, accent, lines):
    draw = ImageDraw.Draw(image)
    _shadow(image, (200, 620, 600, 690))
    draw.rounded_rectangle((220, 260, 520, 650), radius=40, fill=accent)
    draw.ellipse((220, 230, 520, 290), fill=tuple(int(c * 0.7) for c in accent))
    draw.ellipse((236, 240, 504, 282), fill=(70, 45, 30))
    draw.arc((470, 340, 620, 520), 270, 90, fill=accent, width=34)
    _label(draw, (250, 400, 490, 560), lines[:2])


def _kettle(image, accent, lines):
    draw = ImageDraw.Draw(image)
    _shadow(image, (190, 620, 610, 700))
    steel = (190, 194, 200)
    draw.ellipse((230, 300, 570, 660), fill=steel)
    draw.rectangle((230, 480, 570, 650), fill=steel)
    draw.line([(560, 520), (640, 380), (700, 340)], fill=steel, width=18)
    draw.arc((300, 190, 500, 400), 180, 360, fill=(40, 40, 40), width=22)
    draw.ellipse((380, 270, 420, 300), fill=(40, 40, 40))
    _label(draw, (290, 470, 510, 610), lines[:2])
    draw.rectangle((230, 640, 570, 660), fill=accent)


def _grinder(image, accent, lines):
    draw = ImageDraw.Draw(image)
    _shadow(image, (250, 630, 550, 700))
    draw.rounded_rectangle((300, 300, 500, 660), radius=24, fill=(70, 70, 74))
    draw.rectangle((320, 250, 480, 310), fill=(150, 150, 156))
    draw.line([(400, 250), (400, 170), (560, 170)], fill=(40, 40, 40), width=14)
    draw.ellipse((540, 150, 590, 200), fill=accent)
    _label(draw, (315, 400, 485, 560), lines[:2])


def _box(image, accent, lines):
    draw = ImageDraw.Draw(image)
    _shadow(image, (170, 620, 630, 700))
    light = tuple(min(c + 40, 255) for c in accent)
    dark = tuple(int(c * 0.7) for c in accent)
    draw.polygon([(180, 300), (520, 300), (620, 240), (280, 240)], fill=light)
    draw.polygon([(520, 300), (620, 240), (620, 600), (520, 660)], fill=dark)
    draw.rectangle((180, 300, 520, 660), fill=accent)
    _label(draw, (210, 380, 490, 580), lines)


def _shape_for(name: str, category: str):
    lowered = name.lower()
    if category.startswith("coffee"):
        return _coffee_bag
    if category.startswith("tea"):
        return _tea_tin
    if "mug" in lowered or "infuser" in lowered:
        return _mug
    if "kettle" in lowered or "moka" in lowered:
        return _kettle
    if "grinder" in lowered:
        return _grinder
    return _box


def demo_product_image(*, sku: str, name: str, category: str) -> bytes:
    """Return a JPEG photo-like picture of the product (800 x 800)."""
    accent, backdrop = _palette(sku)
    image = _backdrop(backdrop)
    words = name.split()
    lines = [words[0], " ".join(words[1:])] if len(words) > 1 else [name]
    _shape_for(name, category)(image, accent, lines)
    out = BytesIO()
    image.save(out, format="JPEG", quality=82, optimize=True, progressive=True)
    return out.getvalue()

#!/usr/bin/python3
"""Writes the golden tests of package imageprep: test images, and for each
case the RGB pixels a Qwen-VL processor of Hugging Face transformers gives
the vision encoder, as computed by Pillow.

Run with Debian's Pillow (apt-get install python3-pil; Pillow 9.4.0 when these
goldens were made, decoding JPEG with libjpeg62-turbo 2.1.5):

    /usr/bin/python3 llm/imageprep/testdata/make_goldens.py

transformers itself is not installable on the machines that made these files
(no PyPI), so this script reimplements, line for line, the two functions of
transformers it needs: smart_resize (models/qwen2_vl/image_processing_qwen2_vl.py)
and convert_to_rgb (image_transforms.py). The image work itself (decode,
ImageOps.exif_transpose, convert, alpha_composite, resize) is Pillow's.
transformers' load_image path is PIL.Image.open -> exif_transpose; its
processor then calls convert_to_rgb and resizes with Pillow to smart_resize's
size (the slow image processor; the fast one resizes with torchvision).
"""
import io
import json
import math
import os
import struct
import zlib

import PIL
from PIL import Image, ImageDraw, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "goldens")


def smart_resize(height, width, factor=28, min_pixels=56 * 56, max_pixels=14 * 14 * 4 * 1280):
    # transformers' smart_resize, as in Qwen2VLImageProcessor.
    if max(height, width) / min(height, width) > 200:
        raise ValueError(
            f"absolute aspect ratio must be smaller than 200, got {max(height, width) / min(height, width)}"
        )
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def convert_to_rgb(image):
    # transformers.image_transforms.convert_to_rgb
    if image.mode == "RGB":
        return image
    image_rgba = image.convert("RGBA")
    background = Image.new("RGBA", image_rgba.size, (255, 255, 255))
    alpha_composite = Image.alpha_composite(background, image_rgba)
    alpha_composite = alpha_composite.convert("RGB")
    return alpha_composite


RESAMPLE = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR, "nearest": Image.NEAREST}


def encoder_pixels(path, factor, min_pixels, max_pixels, resample, orientation):
    im = Image.open(path)
    if orientation == "exif":
        im = ImageOps.exif_transpose(im)
    im = convert_to_rgb(im)
    h, w = smart_resize(im.height, im.width, factor, min_pixels, max_pixels)
    return im.resize((w, h), resample=RESAMPLE[resample])


def photo(w, h, seed=1):
    """A small synthetic photo: gradients, sharp coloured edges, noise."""
    r = Image.linear_gradient("L").resize((w, h))
    g = Image.radial_gradient("L").resize((w, h))
    b = Image.effect_noise((w, h), 30).convert("L")
    im = Image.merge("RGB", (r, g, b))
    d = ImageDraw.Draw(im)
    for i in range(6):
        x0, y0 = (i * 37 + seed * 11) % w, (i * 23 + seed * 7) % h
        d.rectangle([x0, y0, x0 + w // 4, y0 + h // 5], fill=((i * 90) % 256, (255 - i * 40) % 256, (i * 150) % 256))
        d.line([0, (i * 13) % h, w, (i * 29 + 5) % h], fill=(255, 0, (i * 70) % 256), width=1)
    return im


def png_raw(path, w, h, ctype, depth, rows, trns=None):
    """Writes a PNG by hand (16-bit colour, which Pillow does not write)."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + row for row in rows)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0))
    if trns is not None:
        data += chunk(b"tRNS", trns)
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    inputs = {}

    def save(name, im, **kw):
        inputs[name] = True
        im.save(os.path.join(OUT, name), **kw)

    base = photo(75, 50)
    save("p420.jpg", base, quality=90, subsampling=2)
    save("p444.jpg", base, quality=90, subsampling=0)
    save("prog.jpg", photo(83, 61, 2), quality=85, progressive=True)
    save("gray.jpg", photo(41, 33, 3).convert("L"), quality=90)
    save("cmyk.jpg", photo(47, 35, 4).convert("CMYK"), quality=90)
    for o in range(1, 9):
        ex = Image.Exif()
        ex[0x0112] = o
        save(f"orient{o}.jpg", photo(45, 30, o), quality=90, exif=ex.tobytes())
    ex = Image.Exif()
    ex[0x0112] = 6
    save("orient6.png", photo(30, 20, 9), exif=ex.tobytes())

    # All 256 alphas (x) over varied colours (y): 280x56 is 10x2 tiles of 28.
    rgba = Image.new("RGBA", (280, 56))
    rgba.putdata([((y * 37 + x * 11) % 256, (y * 91 + x * 3) % 256, (x * 7 + y) % 256, x % 256)
                  for y in range(56) for x in range(280)])
    save("rgba.png", rgba)
    la = Image.new("LA", (51, 37))
    la.putdata([((x * 5 + y * 3) % 256, (x * 17 + y * 29) % 256) for y in range(37) for x in range(51)])
    save("la.png", la)
    save("l.png", photo(53, 29, 5).convert("L"))
    save("l_trns.png", photo(53, 29, 6).convert("L"), transparency=128)
    save("rgb_trns.png", photo(40, 30, 7), transparency=(255, 0, 0))
    pal = photo(44, 31, 8).quantize(colors=16)
    save("p_trns.png", pal, transparency=bytes((i * 17) % 256 for i in range(16)))
    save("p_index.png", photo(44, 31, 10).quantize(colors=8), transparency=3)
    w, h = 37, 23
    png_raw(os.path.join(OUT, "rgb16.png"), w, h, 2, 16,
            [b"".join(struct.pack(">HHH", (x * 1777 + y * 911) % 65536, (x * 313 + y * 4001) % 65536, (x * y * 97) % 65536)
                      for x in range(w)) for y in range(h)])
    png_raw(os.path.join(OUT, "rgba16.png"), w, h, 6, 16,
            [b"".join(struct.pack(">HHHH", (x * 1777 + y * 911) % 65536, (x * 313) % 65536, (y * 4001) % 65536, (x * 2999 + y * 5003) % 65536)
                      for x in range(w)) for y in range(h)])
    png_raw(os.path.join(OUT, "gray16.png"), w, h, 0, 16,
            [b"".join(struct.pack(">H", (x * 7 + y * 13) if (x + y) % 3 else (x * 1777 + y * 911) % 65536)
                      for x in range(w)) for y in range(h)])
    for n in ["rgb16.png", "rgba16.png", "gray16.png"]:
        inputs[n] = True
    # Sizes whose smart_resize rounds a half: 70/28 = 2.5 -> 2, 126/28 = 4.5 -> 4,
    # 42/28 = 1.5 -> 2; 80/32 = 2.5 -> 2, 112/32 = 3.5 -> 4.
    save("half28.png", photo(126, 70, 11))
    save("half28b.png", photo(42, 98, 12))
    save("half32.png", photo(112, 80, 13))
    save("tiny.png", photo(20, 15, 14))
    save("large.jpg", photo(400, 300, 15), quality=92, subsampling=2)
    save("wide.png", photo(600, 4, 16))
    save("tall.png", photo(5, 900, 17))
    save("toowide.png", photo(402, 2, 18))

    T28, T32 = 28 * 28, 32 * 32
    q2 = (28, 4 * T28, 1024 * T28)  # Qwen2-VL, vlmcmp's default budget
    q3 = (32, 64 * T32, 784 * T32)  # Qwen3-VL
    cases = []

    def case(name, inp, fam, resample="bicubic", orientation="exif"):
        cases.append(dict(name=name, input=inp, factor=fam[0], min_pixels=fam[1], max_pixels=fam[2],
                          resample=resample, orientation=orientation))

    for inp in ["p420.jpg", "p444.jpg", "prog.jpg", "gray.jpg", "cmyk.jpg", "rgba.png", "la.png", "l.png",
                "l_trns.png", "rgb_trns.png", "p_trns.png", "p_index.png", "rgb16.png", "rgba16.png", "gray16.png",
                "orient6.png", "half28.png", "half28b.png", "half32.png", "tiny.png", "wide.png", "tall.png"]:
        case(inp.replace(".", "_") + "_q2", inp, q2)
    for o in range(1, 9):
        case(f"orient{o}_q2", f"orient{o}.jpg", q2)
    case("orient6_ignore", "orient6.jpg", q2, orientation="ignore")
    for inp in ["p420.jpg", "half32.png", "half28.png", "tiny.png", "rgba.png", "wide.png", "orient8.jpg"]:
        case(inp.replace(".", "_") + "_q3", inp, q3)
    case("large_max64_q2", "large.jpg", (28, 4 * T28, 64 * T28))
    case("large_max48_q3", "large.jpg", (32, 4 * T32, 48 * T32))
    case("tiny_min160_q2", "tiny.png", (28, 160 * T28, 1024 * T28))
    case("tiny_min100_q3", "tiny.png", (32, 100 * T32, 784 * T32))
    case("large_bilinear", "large.jpg", (28, 4 * T28, 100 * T28), resample="bilinear")
    case("large_nearest", "large.jpg", (28, 4 * T28, 100 * T28), resample="nearest")
    case("tiny_bilinear", "tiny.png", (28, 64 * T28, 1024 * T28), resample="bilinear")
    case("tiny_nearest", "tiny.png", (32, 64 * T32, 784 * T32), resample="nearest")
    case("half28_nearest", "half28.png", q2, resample="nearest")
    case("toowide_q2", "toowide.png", q2)

    for c in cases:
        path = os.path.join(OUT, c["input"])
        try:
            im = encoder_pixels(path, c["factor"], c["min_pixels"], c["max_pixels"], c["resample"], c["orientation"])
        except ValueError as e:
            c["error"] = str(e)
            continue
        c["want"] = c["name"] + ".want.png"
        c["width"], c["height"] = im.size
        # Pixels only: no transparency colour carried over from the input.
        Image.frombytes("RGB", im.size, im.tobytes()).save(os.path.join(OUT, c["want"]), optimize=True)

    # smart_resize alone, over sizes, factors and bounds.
    sizes = []
    for factor, lo, hi in [(28, 4, 1024), (28, 4, 16384), (32, 64, 784), (32, 16, 16384), (28, 256, 1280), (28, 1, 64)]:
        mn, mx = lo * factor * factor, hi * factor * factor
        for h in [1, 2, 13, 14, 15, 27, 28, 29, 41, 42, 43, 56, 70, 80, 98, 112, 126, 480, 644, 1080, 1920, 3000, 4000, 6000]:
            for w in [1, 3, 14, 28, 42, 70, 100, 126, 640, 1176, 1920, 4032]:
                try:
                    hh, ww = smart_resize(h, w, factor, mn, mx)
                except ValueError:
                    hh, ww = -1, -1
                sizes.append([h, w, factor, mn, mx, hh, ww])
    # One case, and one smart_resize row [h, w, factor, min, max, h_bar, w_bar], a line.
    with open(os.path.join(OUT, "goldens.json"), "w") as f:
        f.write('{"pillow": %s,\n"cases": [\n' % json.dumps(PIL.__version__))
        f.write(",\n".join(json.dumps(c) for c in cases))
        f.write('],\n"smart_resize": [\n')
        f.write(",\n".join(json.dumps(r) for r in sizes))
        f.write("]}\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reference CLIP preprocessing with PIL, to check the engine's sharp-based pipeline.

Decodes each image with PIL the way main/media/images/decode.ts does it semantically,
then applies Hugging Face CLIPImageProcessor's steps with PIL's bicubic filter (what HF
uses), and writes pixel_values as raw little-endian float32, CHW [3, crop_h, crop_w].

Run with Debian's interpreter (PIL 9.4 + numpy): /usr/bin/python3.

    /usr/bin/python3 clip_preprocess_pil.py --out OUT_DIR [--config cfg.json]
        [--shortest-edge 336] [--crop-size 336 | --crop-height H --crop-width W]
        [--rescale-factor F] [--mean a,b,c] [--std a,b,c] [--dump-decoded] IMAGE...

Writes OUT_DIR/NNNN.f32 per image (NNNN = its index in the argument list),
OUT_DIR/NNNN.rgb with the decoded uint8 HWC pixels when --dump-decoded, and
OUT_DIR/index.json: [{"input", "file", "shape", "decoded": {...}, "resized": [w, h]}].
An image that cannot be decoded gets {"input", "error"} and the exit status is 1.

Defaults are the real openai/clip-vit-large-patch14-336 preprocessor_config.json
(CLIPImageProcessor): shortest_edge 336, crop 336×336, resample 3 (bicubic),
rescale 1/255, image_mean/std = OpenAI CLIP's.
"""
import argparse
import io
import json
import math
import os
import sys

try:
    import numpy as np
    from PIL import Image, ImageCms, ImageOps
except ImportError as e:  # the first python3 on PATH may lack them
    sys.stderr.write(f"clip_preprocess_pil.py: needs PIL and numpy ({e}); use /usr/bin/python3 or install python3-pil python3-numpy\n")
    sys.exit(2)

# openai/clip-vit-large-patch14-336 preprocessor_config.json
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
CLIP_SIZE = 336

# Same rule as the engine: animations end on the finished picture, document pages start at 1.
ANIMATED_FORMATS = {"GIF", "WEBP"}
SIXTEEN_BIT_GREY = {"I;16", "I;16B", "I;16L", "I;16N", "I"}
ALPHA_MODES = {"RGBA", "LA", "PA", "La", "RGBa"}
# Pillow ≥ 9.1 has the enum; the module constant is deprecated (removed in Pillow 10).
_PERCEPTUAL = getattr(getattr(ImageCms, "Intent", None), "PERCEPTUAL", 0)


def _to_srgb_rgb(rgb, icc):
    """Apply an embedded RGB ICC profile → sRGB, perceptual intent (sharp does the same)."""
    if not icc:
        return rgb
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if src.profile.xcolor_space.strip() != "RGB":
            return rgb
        dst = ImageCms.createProfile("sRGB")
        return ImageCms.profileToProfile(rgb, src, dst, renderingIntent=_PERCEPTUAL, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return rgb  # sharp also ignores an invalid profile (with a warning)


def decode(path):
    """Return (uint8 HWC RGB array, info dict), normalised like decode.ts."""
    im = Image.open(path)
    fmt = im.format
    frames = getattr(im, "n_frames", 1)
    frame = frames - 1 if frames > 1 and fmt in ANIMATED_FORMATS else 0
    if frame:
        im.seek(frame)
    im.load()
    mode_in = im.mode
    icc = im.info.get("icc_profile")
    orientation = im.getexif().get(0x0112, 1)
    im = ImageOps.exif_transpose(im)

    alpha = None
    if im.mode == "CMYK":
        # PIL's plain CMYK→RGB formula; the engine uses a CMYK ICC profile, so colours
        # differ in tone but must agree in hue and brightness (not inverted).
        rgb = im.convert("RGB")
    elif im.mode in SIXTEEN_BIT_GREY:
        a = np.asarray(im, dtype=np.uint32)
        # libvips reduces 16-bit to 8-bit by dropping the low byte (>> 8).
        rgb = Image.fromarray(np.clip(a >> 8, 0, 255).astype(np.uint8), "L").convert("RGB")
    elif im.mode in ALPHA_MODES or (im.mode in ("P", "L", "RGB") and "transparency" in im.info):
        rgba = im.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"))
        rgb = rgba.convert("RGB")
    else:
        rgb = im.convert("RGB")
    if mode_in not in ("CMYK",):
        rgb = _to_srgb_rgb(rgb, icc)

    arr = np.asarray(rgb, dtype=np.uint8)
    if alpha is not None:
        # Composite on white, (c·a + 255·(255 − a)) / 255 in integers, truncated: libvips'
        # flatten rounds this way (rounding to nearest would differ by 1 on ~half the pixels).
        a = alpha.astype(np.int64)[..., None]
        arr = ((arr.astype(np.int64) * a + 255 * (255 - a)) // 255).astype(np.uint8)
    info = {
        "format": fmt,
        "mode": mode_in,
        "frames": frames,
        "frame": frame,
        "orientation": int(orientation),
        "width": int(arr.shape[1]),
        "height": int(arr.shape[0]),
        "mean_rgb": [float(v) for v in arr.reshape(-1, 3).mean(axis=0)],
    }
    return np.ascontiguousarray(arr), info


def resize_output_size(width, height, shortest_edge):
    """HF get_resize_output_image_size(default_to_square=False): (new_w, new_h)."""
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = shortest_edge, int(shortest_edge * long / short)
    return (new_short, new_long) if width <= height else (new_long, new_short)


def center_crop(arr, crop_h, crop_w):
    """HF image_transforms.center_crop on HWC uint8, zero padding when too small."""
    h, w = arr.shape[:2]
    top = (h - crop_h) // 2
    left = (w - crop_w) // 2
    if top >= 0 and left >= 0 and top + crop_h <= h and left + crop_w <= w:
        return arr[top : top + crop_h, left : left + crop_w]
    new_h, new_w = max(crop_h, h), max(crop_w, w)
    out = np.zeros((new_h, new_w, arr.shape[2]), dtype=arr.dtype)
    top_pad = math.ceil((new_h - h) / 2)
    left_pad = math.ceil((new_w - w) / 2)
    out[top_pad : top_pad + h, left_pad : left_pad + w] = arr
    top += top_pad
    left += left_pad
    return out[max(0, top) : min(new_h, top + crop_h), max(0, left) : min(new_w, left + crop_w)]


def preprocess(arr, cfg):
    """CLIPImageProcessor: resize (PIL bicubic), center crop, rescale, normalize → float32 CHW."""
    h, w = arr.shape[:2]
    new_w, new_h = resize_output_size(w, h, cfg["shortest_edge"])
    # Image.resize returns a copy when the size is unchanged, as HF relies on.
    resized = np.asarray(Image.fromarray(arr, "RGB").resize((new_w, new_h), resample=Image.BICUBIC), dtype=np.uint8)
    crop = center_crop(resized, cfg["crop_size"]["height"], cfg["crop_size"]["width"])
    # HF rescale(): float64 multiply, then float32; normalize() in float32.
    x = (crop.astype(np.float64) * cfg["rescale_factor"]).astype(np.float32)
    mean = np.array(cfg["image_mean"], dtype=np.float32)
    std = np.array(cfg["image_std"], dtype=np.float32)
    x = (x - mean) / std
    return np.ascontiguousarray(x.transpose(2, 0, 1).astype("<f4")), (new_w, new_h)


def _floats(s):
    v = [float(x) for x in s.split(",")]
    if len(v) != 3:
        raise argparse.ArgumentTypeError("expected three comma-separated numbers")
    return v


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("images", nargs="+")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--config", help="JSON with shortest_edge, crop_size {height,width}, rescale_factor, image_mean, image_std")
    p.add_argument("--shortest-edge", type=int)
    p.add_argument("--crop-size", type=int)
    p.add_argument("--crop-height", type=int)
    p.add_argument("--crop-width", type=int)
    p.add_argument("--rescale-factor", type=float)
    p.add_argument("--mean", type=_floats)
    p.add_argument("--std", type=_floats)
    p.add_argument("--dump-decoded", action="store_true", help="also write NNNN.rgb (decoded uint8 HWC)")
    a = p.parse_args(argv)

    cfg = {
        "shortest_edge": CLIP_SIZE,
        "crop_size": {"height": CLIP_SIZE, "width": CLIP_SIZE},
        "rescale_factor": 1 / 255,
        "image_mean": CLIP_MEAN,
        "image_std": CLIP_STD,
    }
    if a.config:
        with open(a.config, encoding="utf-8") as f:
            cfg.update({k: v for k, v in json.load(f).items() if k in cfg})
    if a.shortest_edge:
        cfg["shortest_edge"] = a.shortest_edge
    if a.crop_size:
        cfg["crop_size"] = {"height": a.crop_size, "width": a.crop_size}
    if a.crop_height:
        cfg["crop_size"]["height"] = a.crop_height
    if a.crop_width:
        cfg["crop_size"]["width"] = a.crop_width
    if a.rescale_factor:
        cfg["rescale_factor"] = a.rescale_factor
    if a.mean:
        cfg["image_mean"] = a.mean
    if a.std:
        cfg["image_std"] = a.std

    os.makedirs(a.out, exist_ok=True)
    index, failed = [], False
    for i, path in enumerate(a.images):
        stem = f"{i:04d}"
        try:
            arr, info = decode(path)
        except Exception as e:  # report and continue: one bad file must not hide the others
            index.append({"input": path, "error": f"{type(e).__name__}: {e}"})
            failed = True
            continue
        x, resized = preprocess(arr, cfg)
        x.tofile(os.path.join(a.out, stem + ".f32"))
        entry = {"input": path, "file": stem + ".f32", "shape": list(x.shape), "decoded": info, "resized": list(resized)}
        if a.dump_decoded:
            arr.tofile(os.path.join(a.out, stem + ".rgb"))
            entry["decoded_file"] = stem + ".rgb"
        index.append(entry)
    with open(os.path.join(a.out, "index.json"), "w", encoding="utf-8") as f:
        json.dump({"config": cfg, "images": index}, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""LLaVA processor in plain Python (PIL + numpy) for the PyTorch reference.

* `preprocess_image`: SiglipImageProcessor (size {height, width}: a plain resize, BICUBIC for
  llava-interleave) or CLIPImageProcessor (shortest_edge + center crop, llava-1.5), then rescale
  (float64 product cast to float32) and normalize in float32, channels first.
* `render_interleave_chat`: the llava-interleave chat template (`INTERLEAVE_CHAT_TEMPLATE`) written
  out by hand: per message `<|im_start|>{role}\\n`, `<image>\\n` per image, the texts, `<|im_end|>\\n`;
  then `<|im_start|>assistant\\n`.
* `expand_image_tokens`: LlavaProcessor: every `<image>` becomes `<image>` × num_image_tokens.
The byte-level BPE reader and trainer are ../idefics3/processing.py's.
"""

from __future__ import annotations

import math
from typing import List

import numpy as np
from PIL import Image

RESAMPLE = {1: Image.LANCZOS, 2: Image.BILINEAR, 3: Image.BICUBIC}

# Chat template of llava-hf/llava-interleave-qwen-0.5b-hf (chat_template.json), as far as it could be
# checked here (see README): images first ("<image>\n" each), then the text, ChatML turns.
INTERLEAVE_CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n'}}"
    "{# Render all images first #}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}{% endfor %}"
    "{# Render all text next #}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] }}{% endfor %}{{'<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def preprocess_image(arr: np.ndarray, cfg: dict) -> np.ndarray:
    """RGB uint8 HWC -> float32 CHW."""
    resample = RESAMPLE[cfg.get("resample", 3)]
    img = Image.fromarray(arr, mode="RGB")
    size = cfg.get("size", {})
    if cfg.get("do_resize", True):
        if "height" in size and "width" in size:
            img = img.resize((size["width"], size["height"]), resample=resample)
        elif "shortest_edge" in size:
            s = size["shortest_edge"]
            w, h = img.size
            short, long = (w, h) if w <= h else (h, w)
            new_long = int(s * long / short)
            img = img.resize((s, new_long) if w <= h else (new_long, s), resample=resample)
        else:
            raise ValueError(f"unsupported size {size}")
    a = np.array(img)
    if cfg.get("do_center_crop", False):
        c = cfg["crop_size"]
        ch, cw = (c["height"], c["width"]) if isinstance(c, dict) else (c, c)
        h, w = a.shape[:2]
        top, left = (h - ch) // 2, (w - cw) // 2
        if top < 0 or left < 0:
            raise ValueError("padding center crops are not supported here")
        a = a[top:top + ch, left:left + cw]
    x = a.astype(np.float64) * float(cfg.get("rescale_factor", 1 / 255)) if cfg.get("do_rescale", True) else a
    x = x.astype(np.float32)
    if cfg.get("do_normalize", True):
        x = (x - np.array(cfg.get("image_mean", [0.5] * 3), dtype=np.float32)) / np.array(cfg.get("image_std", [0.5] * 3), dtype=np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def render_interleave_chat(messages: List[dict], add_generation_prompt: bool = True) -> str:
    out = ""
    for m in messages:
        out += "<|im_start|>" + m["role"] + "\n"
        out += "".join("<image>\n" for c in m["content"] if c["type"] == "image")
        out += "".join(c["text"] for c in m["content"] if c["type"] == "text")
        out += "<|im_end|>\n"
    if add_generation_prompt:
        out += "<|im_start|>assistant\n"
    return out


def expand_image_tokens(text: str, num_image_tokens: int, image_token: str = "<image>") -> str:
    return text.replace(image_token, image_token * num_image_tokens)

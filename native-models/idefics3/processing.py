"""Idefics3 processor in plain Python (PIL + numpy), for the PyTorch reference.

* `preprocess_images`: Hugging Face `Idefics3ImageProcessor.preprocess` (the slow PIL processor) for
  RGB images: resize so the longest edge is size.longest_edge (LANCZOS, the other edge
  int(longest / aspect) rounded up to even), resize up to multiples of max_image_size.longest_edge
  (LANCZOS), split into max_image_size² tiles row-major plus the stage-2 image resized to
  max_image_size² (LANCZOS), rescale (float64 product cast to float32), normalize in float32, pad.
* `render_smolvlm_chat`: the SmolVLM chat template (tokenizer_config.json `chat_template`) written
  out by hand (no jinja2 here); `SMOLVLM_CHAT_TEMPLATE` is the template string it implements.
* `expand_image_tokens`: Idefics3Processor's prompt expansion.
* `ByteLevelBPE`: a minimal tokenizer.json reader for the tiny model's byte-level BPE (added tokens,
  Digits(individual) + ByteLevel(GPT-2 regex) pre-tokenizer, BPE merges by rank), ASCII text only,
  so the reference does not share the engine's tokenizer library.
"""

from __future__ import annotations

import json
import math
import re
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image

LANCZOS = Image.Resampling.LANCZOS if hasattr(Image, "Resampling") else Image.LANCZOS

# The chat template of HuggingFaceTB/SmolVLM-256M-Instruct / -500M-Instruct (tokenizer_config.json and
# chat_template.json), as in transformers' SmolVLM processor and tests.
SMOLVLM_CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n"
    "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)


# ---------------------------------------------------------------------------
# images
# ---------------------------------------------------------------------------


def stage1_size(height: int, width: int, longest: int) -> Tuple[int, int]:
    """_resize_output_size_rescale_to_max_len (min_len 1) then _resize_output_size_scale_below_upper_bound
    (4096, a no-op for longest <= 4096)."""
    aspect = width / height
    if width >= height:
        width = longest
        height = int(width / aspect)
        if height % 2 != 0:
            height += 1
    else:
        height = longest
        width = int(height * aspect)
        if width % 2 != 0:
            width += 1
    height, width = max(height, 1), max(width, 1)
    upper = 4096
    aspect = width / height
    if width >= height and width > upper:
        width = upper
        height = int(width / aspect)
    elif height > width and height > upper:
        height = upper
        width = int(height * aspect)
    return max(height, 1), max(width, 1)


def stage2_size(height: int, width: int, tile: int) -> Tuple[int, int]:
    """resize_for_vision_encoder: both edges up to multiples of `tile`, aspect kept before rounding."""
    aspect = width / height
    if width >= height:
        width = math.ceil(width / tile) * tile
        height = int(width / aspect)
        height = math.ceil(height / tile) * tile
    else:
        height = math.ceil(height / tile) * tile
        width = int(height * aspect)
        width = math.ceil(width / tile) * tile
    return height, width


def _resize(arr: np.ndarray, height: int, width: int) -> np.ndarray:
    img = Image.fromarray(arr, mode="RGB")
    return np.array(img.resize((width, height), resample=LANCZOS))


def _normalize(tile: np.ndarray, rescale: float, mean, std) -> np.ndarray:
    x = (tile.astype(np.float64) * rescale).astype(np.float32)
    m = np.array(mean, dtype=np.float32)
    s = np.array(std, dtype=np.float32)
    x = (x - m) / s
    return np.ascontiguousarray(x.transpose(2, 0, 1))  # CHW


def preprocess_images(images: Sequence[np.ndarray], cfg: dict):
    """RGB uint8 HWC arrays (one sample) -> pixel_values float32 [1,N,3,H,W], pixel_attention_mask
    bool [1,N,H,W], rows, cols (per image; 0/0 = not split)."""
    longest = int(cfg.get("size", {}).get("longest_edge", 4 * 364))
    tile = int(cfg.get("max_image_size", {}).get("longest_edge", 364))
    split = bool(cfg.get("do_image_splitting", True))
    resample = cfg.get("resample", 1)
    if resample != 1:
        raise ValueError(f"resample {resample} is not supported here (LANCZOS = 1 only)")
    rescale = float(cfg.get("rescale_factor", 1 / 255)) if cfg.get("do_rescale", True) else 1.0
    mean = cfg.get("image_mean", [0.5, 0.5, 0.5])
    std = cfg.get("image_std", [0.5, 0.5, 0.5])
    do_norm = cfg.get("do_normalize", True)
    frames: List[np.ndarray] = []
    rows: List[int] = []
    cols: List[int] = []
    for arr in images:
        assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3
        if cfg.get("do_resize", True):
            h, w = stage1_size(arr.shape[0], arr.shape[1], longest)
            arr = _resize(arr, h, w)
        if split:
            h, w = stage2_size(arr.shape[0], arr.shape[1], tile)
            arr = _resize(arr, h, w)
            h, w = arr.shape[:2]
            if h > tile or w > tile:
                nh, nw = math.ceil(h / tile), math.ceil(w / tile)
                oh, ow = math.ceil(h / nh), math.ceil(w / nw)
                for r in range(nh):
                    for c in range(nw):
                        y0, x0 = r * oh, c * ow
                        frames.append(arr[y0:min(y0 + oh, h), x0:min(x0 + ow, w)])
                if (h, w) != (tile, tile):
                    arr = _resize(arr, tile, tile)
                rows.append(nh)
                cols.append(nw)
            else:
                rows.append(0)
                cols.append(0)
            frames.append(arr)
        else:
            rows.append(0)
            cols.append(0)
            frames.append(arr)
    normed = [(_normalize(f, rescale, mean, std) if do_norm else
               (f.astype(np.float64) * rescale).astype(np.float32).transpose(2, 0, 1)) for f in frames]
    H = max(f.shape[1] for f in normed)
    W = max(f.shape[2] for f in normed)
    pv = np.zeros((1, len(normed), 3, H, W), dtype=np.float32)
    mask = np.zeros((1, len(normed), H, W), dtype=bool)
    for i, f in enumerate(normed):
        pv[0, i, :, :f.shape[1], :f.shape[2]] = f
        mask[0, i, :f.shape[1], :f.shape[2]] = True
    return pv, mask, rows, cols


# ---------------------------------------------------------------------------
# prompt
# ---------------------------------------------------------------------------


def render_smolvlm_chat(messages: List[dict], add_generation_prompt: bool = True) -> str:
    """SMOLVLM_CHAT_TEMPLATE rendered by hand: <|im_start|>, then per message Role + (':' if its first
    item is an image else ': ') + items (text, or '<image>') + '<end_of_utterance>\\n'; 'Assistant:'."""
    out = "<|im_start|>"
    for m in messages:
        out += m["role"][:1].upper() + m["role"][1:].lower()
        out += ":" if m["content"][0]["type"] == "image" else ": "
        for item in m["content"]:
            if item["type"] == "text":
                out += item["text"]
            elif item["type"] == "image":
                out += "<image>"
        out += "<end_of_utterance>\n"
    if add_generation_prompt:
        out += "Assistant:"
    return out


def expand_image_tokens(text: str, rows: List[int], cols: List[int], image_seq_len: int,
                        fake="<fake_token_around_image>", image="<image>", global_img="<global-img>") -> str:
    """Idefics3Processor: each '<image>' of the text becomes its image's tile blocks."""
    parts = text.split(image)
    if len(parts) - 1 != len(rows):
        raise ValueError(f"{len(parts) - 1} <image> in the text for {len(rows)} images")
    out = parts[0]
    for i, (r, c) in enumerate(zip(rows, cols)):
        if r == 0 and c == 0:
            block = fake + global_img + image * image_seq_len + fake
        else:
            block = ""
            for nh in range(r):
                for nw in range(c):
                    block += fake + f"<row_{nh + 1}_col_{nw + 1}>" + image * image_seq_len
                block += "\n"
            block += "\n" + fake + global_img + image * image_seq_len + fake
        out += block + parts[i + 1]
    return out


# ---------------------------------------------------------------------------
# tokenizer (byte-level BPE, ASCII text)
# ---------------------------------------------------------------------------


def bytes_to_unicode() -> Dict[int, str]:
    """GPT-2's reversible byte -> printable character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


# GPT-2's pre-tokenizer regex with \p{L} = [A-Za-z] and \p{N} = [0-9] (ASCII input only).
GPT2_ASCII = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")


def pretokenize(text: str) -> List[str]:
    """Digits(individual_digits=True) then ByteLevel(use_regex=True, add_prefix_space=False)."""
    if not text.isascii():
        raise ValueError("the reference tokenizer handles ASCII text only")
    pieces: List[str] = []
    for part in re.split(r"([0-9])", text):
        if not part:
            continue
        if len(part) == 1 and part.isdigit():
            pieces.append(part)
        else:
            pieces.extend(GPT2_ASCII.findall(part))
    return pieces


class ByteLevelBPE:
    def __init__(self, tokenizer_json: dict):
        model = tokenizer_json["model"]
        if model.get("type") != "BPE":
            raise ValueError("only BPE tokenizers are supported")
        self.vocab: Dict[str, int] = model["vocab"]
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.added = {t["content"]: t["id"] for t in tokenizer_json.get("added_tokens", [])}
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        self.id_to_token.update({i: t for t, i in self.added.items()})
        self.byte_map = bytes_to_unicode()
        alts = sorted(self.added, key=len, reverse=True)
        self.split_re = re.compile("(" + "|".join(re.escape(a) for a in alts) + ")") if alts else None

    def _bpe(self, word: str) -> List[str]:
        parts = list(word)
        while len(parts) > 1:
            best = None
            for i in range(len(parts) - 1):
                r = self.ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best is None or r < best[0]):
                    best = (r, i)
            if best is None:
                break
            a, b = parts[best[1]], parts[best[1] + 1]
            merged: List[str] = []
            i = 0
            while i < len(parts):
                if i < len(parts) - 1 and parts[i] == a and parts[i + 1] == b:
                    merged.append(a + b)
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        return parts

    def encode(self, text: str) -> List[int]:
        ids: List[int] = []
        chunks = self.split_re.split(text) if self.split_re else [text]
        for chunk in chunks:
            if not chunk:
                continue
            if chunk in self.added:
                ids.append(self.added[chunk])
                continue
            for piece in pretokenize(chunk):
                word = "".join(self.byte_map[b] for b in piece.encode("utf-8"))
                ids.extend(self.vocab[t] for t in self._bpe(word))
        return ids

    def decode(self, ids: List[int]) -> str:
        inv = {c: b for b, c in self.byte_map.items()}
        out = bytearray()
        for i in ids:
            t = self.id_to_token[i]
            if t in self.added:
                out += t.encode()
            else:
                out += bytes(inv[ch] for ch in t)
        return out.decode("utf-8", errors="replace")


def train_byte_level_bpe(corpus: str, num_merges: int) -> List[Tuple[str, str]]:
    """Deterministic BPE training on the pre-tokenized corpus: most frequent pair first, ties broken
    by the pair's text order."""
    bm = bytes_to_unicode()
    counts: Dict[Tuple[str, ...], int] = {}
    for piece in pretokenize(corpus):
        w = tuple(bm[b] for b in piece.encode("utf-8"))
        counts[w] = counts.get(w, 0) + 1
    merges: List[Tuple[str, str]] = []
    words = dict(counts)
    for _ in range(num_merges):
        pairs: Dict[Tuple[str, str], int] = {}
        for w, n in words.items():
            for i in range(len(w) - 1):
                pairs[(w[i], w[i + 1])] = pairs.get((w[i], w[i + 1]), 0) + n
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(best)
        new_words: Dict[Tuple[str, ...], int] = {}
        for w, n in words.items():
            out: List[str] = []
            i = 0
            while i < len(w):
                if i < len(w) - 1 and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            t = tuple(out)
            new_words[t] = new_words.get(t, 0) + n
        words = new_words
    return merges


def load_json(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)

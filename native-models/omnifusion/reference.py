#!/usr/bin/python3
"""PyTorch reference outputs for OmniFusion model-package parity tests.

    /usr/bin/python3 reference.py --checkpoint CK --cases cases.json --out reference.json

CK is a checkpoint folder in the OmniFusion 1.1 layout (as written by `export.py --tiny
--checkpoint-out CK`), loaded with the same loaders as the real one; the adapter is the
ORIGINAL pickled nn.TransformerEncoderLayer module in eval mode (not the ONNX rebuild), and
the decoder runs full-sequence forwards without a KV cache, so the reference is independent
of the export rewrites.

cases.json (paths relative to its folder; .f32 = raw little-endian float32):
  {"cases": [{"name", "pixel_values_file", "pixel_values_shape", "prompt_ids",
              "turns": [{"question_ids", "answer_ids"?}, ...],
              "generation": {"max_new_tokens", "eos_token_id", "repetition_penalty",
                             "no_repeat_ngram_size", "bad_words_ids"},
              "save_tensors": bool}]}
Each output case repeats the input fields and adds expected_token_ids, min_margin,
inputs_embeds_length and (save_tensors) image_features_file/_shape, first_step_logits_file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Dict, List, Sequence

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import arch  # noqa: E402


def fail(msg: str) -> None:
    raise SystemExit(f"reference.py: error: {msg}")


# ---------------------------------------------------------------------------
# HF-semantics logits processors (generated ids only: with inputs_embeds there are no prompt ids)
# ---------------------------------------------------------------------------


def apply_repetition_penalty(scores: torch.Tensor, generated: Sequence[int], penalty: float) -> None:
    """HF RepetitionPenaltyLogitsProcessor: divide positive / multiply negative logits of seen ids."""
    if penalty == 1.0 or not generated:
        return
    ids = torch.tensor(sorted(set(generated)), dtype=torch.int64)
    s = scores[ids]
    scores[ids] = torch.where(s < 0, s * penalty, s / penalty)


def no_repeat_ngram_banned(generated: Sequence[int], n: int) -> List[int]:
    """HF NoRepeatNGramLogitsProcessor: tokens that would complete an n-gram already generated."""
    if n <= 0 or len(generated) + 1 < n:
        return []
    seen: Dict[tuple, List[int]] = {}
    for i in range(len(generated) - n + 1):
        ng = tuple(generated[i:i + n])
        seen.setdefault(ng[:-1], []).append(ng[-1])
    prefix = tuple(generated[len(generated) - n + 1:]) if n > 1 else ()
    return seen.get(prefix, [])


def bad_words_banned(generated: Sequence[int], bad_words_ids: Sequence[Sequence[int]], eos: int) -> List[int]:
    """HF NoBadWordsLogitsProcessor: a sequence bans its last token when the tokens before it
    equal the end of the generated ids (single tokens always). `[eos]` is dropped, as HF does."""
    out = []
    for seq in bad_words_ids:
        seq = list(seq)
        if not seq or seq == [eos]:
            continue
        prefix = seq[:-1]
        if len(prefix) == 0 or (len(prefix) <= len(generated) and list(generated[len(generated) - len(prefix):]) == prefix):
            out.append(seq[-1])
    return out


def process(logits: torch.Tensor, generated: List[int], gen: dict) -> torch.Tensor:
    """Apply the processors in HF order to a copy of logits [vocab] (float32)."""
    s = logits.clone()
    apply_repetition_penalty(s, generated, float(gen.get("repetition_penalty", 1.0)))
    banned = no_repeat_ngram_banned(generated, int(gen.get("no_repeat_ngram_size", 0) or 0))
    banned += bad_words_banned(generated, gen.get("bad_words_ids") or [], int(gen.get("eos_token_id", -1)))
    if banned:
        s[torch.tensor(sorted(set(banned)), dtype=torch.int64)] = float("-inf")
    return s


# ---------------------------------------------------------------------------


def read_f32(path: str, shape: Sequence[int]) -> torch.Tensor:
    if not os.path.isfile(path):
        fail(f"missing tensor file {path}")
    a = np.fromfile(path, dtype="<f4")
    if a.size != int(np.prod(shape)):
        fail(f"{path}: {a.size} floats, shape {list(shape)} needs {int(np.prod(shape))}")
    return torch.from_numpy(a.astype(np.float32)).reshape(list(shape))


def build_embeds(case: dict, base: str, clip, adapter, lm, special: torch.Tensor):
    """inputs_embeds [L, hidden] in OmniFusion order and the image features [N, T, hidden] (or None)."""
    def embed(ids):
        ids = torch.tensor(list(ids), dtype=torch.int64)
        return lm.embed(ids[None])[0] if ids.numel() else torch.zeros(0, special.shape[1])

    soi, eoi, user, bot = special[0:1], special[1:2], special[2:3], special[3:4]
    parts = [embed(case.get("prompt_ids") or [])]
    feats = None
    if case.get("pixel_values_file"):
        pv = read_f32(os.path.join(base, case["pixel_values_file"]), case["pixel_values_shape"])
        feats = adapter(clip(pv))  # [N, T, hidden]
        for img in feats:
            parts += [soi, img, eoi]
    turns = case.get("turns") or []
    for i, turn in enumerate(turns):
        parts += [user, embed(turn.get("question_ids") or []), bot]
        if i < len(turns) - 1:
            parts.append(embed(turn.get("answer_ids") or []))
    return torch.cat(parts, dim=0), feats


def greedy(lm, embeds: torch.Tensor, gen: dict):
    """Greedy decoding with full recomputation; returns (ids, min_margin, first-step logits [vocab])."""
    eos = int(gen.get("eos_token_id", 2))
    max_new = int(gen.get("max_new_tokens", 16))
    ids: List[int] = []
    min_margin = float("inf")
    first = None
    x = embeds
    for _ in range(max_new):
        logits = lm(x[None])[0, -1].float()
        if first is None:
            first = logits.clone()
        s = process(logits, ids, gen)
        top = torch.topk(s, 2).values
        min_margin = min(min_margin, float(top[0] - top[1]))
        nxt = int(torch.argmax(s))  # first index on ties, like torch/HF
        ids.append(nxt)
        if nxt == eos:
            break
        x = torch.cat([x, lm.embed(torch.tensor([[nxt]]))[0]], dim=0)
    return ids, min_margin, first


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="PyTorch reference greedy outputs for OmniFusion parity tests")
    ap.add_argument("--checkpoint", required=True, help="checkpoint folder (tiny one from export.py --checkpoint-out)")
    ap.add_argument("--clip", help="CLIP folder (default CHECKPOINT/clip)")
    ap.add_argument("--cases", required=True, help="cases.json")
    ap.add_argument("--out", required=True, help="reference.json to write (tensor files go beside it)")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    if not os.path.isfile(args.cases):
        fail(f"cases file {args.cases} does not exist")
    try:
        ck = arch.open_checkpoint(args.checkpoint, args.clip)
    except (FileNotFoundError, ValueError, KeyError) as e:
        fail(str(e).strip("'\""))
    clip, adapter, lm = arch.build_reference_models(ck)
    special = ck.special.float()
    with open(args.cases, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    base = os.path.dirname(os.path.abspath(args.cases))
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    results = []
    with torch.no_grad():
        for case in cases:
            name = case["name"]
            embeds, feats = build_embeds(case, base, clip, adapter, lm, special)
            ids, margin, first = greedy(lm, embeds, case.get("generation") or {})
            r = dict(case)
            r["inputs_embeds_length"] = int(embeds.shape[0])
            r["expected_token_ids"] = ids
            r["min_margin"] = margin if np.isfinite(margin) else None  # JSON has no Infinity
            if case.get("save_tensors"):
                if feats is not None:
                    fn = f"{name}.image_features.f32"
                    feats.float().numpy().astype("<f4").tofile(os.path.join(out_dir, fn))
                    r["image_features_file"] = fn
                    r["image_features_shape"] = list(feats.shape)
                fn = f"{name}.first_step_logits.f32"
                first.numpy().astype("<f4").tofile(os.path.join(out_dir, fn))
                r["first_step_logits_file"] = fn
            results.append(r)
            print(f"{name}: L={r['inputs_embeds_length']} tokens={ids} min_margin={margin:.4f}")
    cfg = ck.raw_text_config
    model = {"family": "omnifusion", "checkpoint": os.path.basename(os.path.abspath(args.checkpoint)),
             "tiny_seed": cfg.get("omnifusion_tiny_seed"), "dtype": "float32", "torch": torch.__version__,
             "decoding": "greedy, full-sequence recompute, HF processor order"}
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"model": model, "cases": results}, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

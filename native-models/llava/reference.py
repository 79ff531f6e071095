#!/usr/bin/python3
"""PyTorch reference outputs for the LLaVA parity tests.

    /usr/bin/python3 reference.py --checkpoint CK --cases cases.json --decoded DIR --out reference.json

As ../idefics3/reference.py: the images are read as the engine decoded them (DIR/<case>.<i>.rgb),
everything after is computed here: SiglipImageProcessor with PIL (pixel_values sha256 recorded),
the llava-interleave chat template written out by hand (the folder's template must be that one),
`<image>` × image_seq_len, the tiny byte-level BPE reader, the SigLIP tower + projector, the
image-token rows replaced in order, the Qwen2 decoder without a KV cache, greedy with HF's processors
over prompt + generated ids. Output fields as ../idefics3/reference.py (no rows/cols).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llava_modeling as lm_mod  # noqa: E402
import llava_processing  # noqa: E402
import processing as i3_processing  # noqa: E402  ../idefics3/processing.py

_spec = importlib.util.spec_from_file_location("idefics3_reference", os.path.join(HERE, "..", "idefics3", "reference.py"))
i3_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(i3_reference)


def fail(msg: str) -> None:
    raise SystemExit(f"reference.py: error: {msg}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="PyTorch reference greedy outputs for the LLaVA parity tests")
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--cases", required=True)
    ap.add_argument("--decoded", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    try:
        ck = lm_mod.open_checkpoint(args.checkpoint)
    except (FileNotFoundError, ValueError, KeyError) as e:
        fail(str(e).strip("'\""))
    load = i3_processing.load_json
    pre_cfg = load(os.path.join(args.checkpoint, "preprocessor_config.json"))
    tok_cfg = load(os.path.join(args.checkpoint, "tokenizer_config.json"))
    if tok_cfg.get("chat_template") != llava_processing.INTERLEAVE_CHAT_TEMPLATE:
        fail("tokenizer_config.json chat_template is not llava-interleave's; this reference renders only that one")
    tokenizer = i3_processing.ByteLevelBPE(load(os.path.join(args.checkpoint, "tokenizer.json")))
    vision, lm = lm_mod.build_reference_models(ck)
    n_tokens = ck.cfg.image_seq_len
    with open(args.cases, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    results = []
    with torch.no_grad():
        for case in cases:
            name = case["name"]
            arrays = []
            for i, d in enumerate(case["decoded"]):
                raw = open(os.path.join(args.decoded, f"{name}.{i}.rgb"), "rb").read()
                if hashlib.sha256(raw).hexdigest() != d["sha256"] or len(raw) != d["width"] * d["height"] * 3:
                    fail(f"{name}: decoded image {i} does not match cases.json")
                arrays.append(np.frombuffer(raw, dtype=np.uint8).reshape(d["height"], d["width"], 3))
            pv = np.stack([llava_processing.preprocess_image(a, pre_cfg) for a in arrays]) if arrays else np.zeros((0,))
            messages = i3_reference.chat_messages(case, len(arrays))
            prompt_text = llava_processing.render_interleave_chat(messages)
            expanded = llava_processing.expand_image_tokens(prompt_text, n_tokens)
            input_ids = tokenizer.encode(expanded)
            if tokenizer.decode(input_ids) != expanded:
                fail(f"{name}: the tokenizer does not round-trip the prompt")
            ids_t = torch.tensor(input_ids, dtype=torch.int64)
            embeds = lm.embed(ids_t[None])[0].clone()
            feats = vision(torch.from_numpy(pv)) if arrays else None
            where = ids_t == ck.cfg.image_token_index
            if feats is not None:
                flat = feats.reshape(-1, feats.shape[-1])
                if int(where.sum()) != flat.shape[0]:
                    fail(f"{name}: {int(where.sum())} image tokens for {flat.shape[0]} image feature rows")
                embeds[where] = flat
            ids, margin, first = i3_reference.greedy(lm, embeds, input_ids, case["generation"])
            r = dict(case)
            r.update({"prompt_text": prompt_text, "pixel_values_shape": list(pv.shape),
                      "pixel_values_sha256": hashlib.sha256(pv.astype("<f4").tobytes()).hexdigest(),
                      "input_ids": input_ids, "inputs_embeds_length": len(input_ids),
                      "expected_token_ids": ids, "min_margin": margin if np.isfinite(margin) else None})
            if case.get("save_tensors") and feats is not None:
                fn = f"{name}.image_features.f32"
                feats.float().numpy().astype("<f4").tofile(os.path.join(out_dir, fn))
                r["image_features_file"], r["image_features_shape"] = fn, list(feats.shape)
                fn = f"{name}.first_step_logits.f32"
                first.numpy().astype("<f4").tofile(os.path.join(out_dir, fn))
                r["first_step_logits_file"] = fn
            results.append(r)
            print(f"{name}: images={len(arrays)} L={len(input_ids)} tokens={ids} min_margin={margin:.4f}")
    model = {"family": "llava", "checkpoint": os.path.basename(os.path.abspath(args.checkpoint)),
             "tiny_seed": ck.cfg.raw.get("llava_tiny_seed"), "dtype": "float32", "torch": torch.__version__,
             "decoding": "greedy, full-sequence recompute, HF processors over prompt + generated ids"}
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(i3_reference.compact_json({"model": model, "cases": results}))
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""PyTorch reference outputs for the Idefics3 parity tests.

    /usr/bin/python3 reference.py --checkpoint CK --cases cases.json --decoded DIR --out reference.json

CK is a Hugging Face Idefics3 folder (as written by `export.py --tiny --checkpoint-out CK`). Each
case's images are read as the engine decoded them (DIR/<case>.<i>.rgb, raw RGB uint8 HWC, sizes in
cases.json), so image decoding (EXIF, alpha, ICC; shared with every model family and tested on its
own) is the one step taken from the engine. Everything after it is computed here independently:

1. Idefics3ImageProcessor with PIL (processing.preprocess_images): resizes, tiles, global image,
   rescale/normalize -> pixel_values [1,N,3,512,512] (its sha256 is recorded), rows/cols;
2. the chat prompt: SmolVLM's template written out by hand (the tokenizer_config.json template must
   be that one), each `<image>` expanded into its tile blocks, tokenized with a small byte-level
   BPE reader of tokenizer.json (processing.ByteLevelBPE);
3. the model: HF's vision code path (loops, bucketize), the connector, `<image>` rows of the token
   embeddings replaced in order by the image features, and the Llama decoder without a KV cache,
   greedy, with HF's processors (repetition penalty, no-repeat n-gram, bad words) over prompt ids +
   generated ids (HF semantics when generate() gets input_ids); argmax first index on ties.

cases.json: {"cases": [{"name", "images": [path under testdata/real], "decoded": [{"width","height",
"sha256"}], "question", "history": [{"question","answer"}], "generation": {"max_new_tokens",
"eos_token_id", "repetition_penalty", "no_repeat_ngram_size"}, "save_tensors"}]}
Each output case repeats these and adds prompt_text, rows, cols, pixel_values_shape,
pixel_values_sha256, input_ids, inputs_embeds_length, expected_token_ids, min_margin, and with
save_tensors image_features_file/_shape and first_step_logits_file (raw float32 beside reference.json).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import modeling  # noqa: E402
import processing  # noqa: E402

_spec = importlib.util.spec_from_file_location("omnifusion_reference", os.path.join(HERE, "..", "omnifusion", "reference.py"))
of_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(of_reference)


def fail(msg: str) -> None:
    raise SystemExit(f"reference.py: error: {msg}")


def chat_messages(case: dict, num_images: int) -> list:
    """The conversation: earlier turns, then the question; the images lead the first user turn."""
    turns = list(case.get("history") or []) + [{"question": case["question"]}]
    msgs = []
    for i, t in enumerate(turns):
        content = [{"type": "image"} for _ in range(num_images if i == 0 else 0)]
        content.append({"type": "text", "text": t["question"]})
        msgs.append({"role": "user", "content": content})
        if "answer" in t:
            msgs.append({"role": "assistant", "content": [{"type": "text", "text": t["answer"]}]})
    return msgs


def greedy(lm, embeds: torch.Tensor, prompt_ids, gen: dict):
    eos = gen.get("eos_token_id")
    eos_ids = set(eos if isinstance(eos, list) else [eos])
    max_new = int(gen.get("max_new_tokens", 16))
    ids, min_margin, first = [], float("inf"), None
    x = embeds
    for _ in range(max_new):
        logits = lm(x[None], last_only=True)[0, -1].float()
        if first is None:
            first = logits.clone()
        s = of_reference.process(logits, list(prompt_ids) + ids, gen)
        top = torch.topk(s, 2).values
        min_margin = min(min_margin, float(top[0] - top[1]))
        nxt = int(torch.argmax(s))
        ids.append(nxt)
        if nxt in eos_ids:
            break
        x = torch.cat([x, lm.embed(torch.tensor([[nxt]]))[0]], dim=0)
    return ids, min_margin, first


def compact_json(obj) -> str:
    """Indented JSON with lists of numbers kept on one line."""
    text = json.dumps(obj, indent=1, ensure_ascii=False)
    return re.sub(r"\[\s*(-?[0-9][0-9eE.+-]*(?:,\s*-?[0-9][0-9eE.+-]*)*)\s*\]",
                  lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="PyTorch reference greedy outputs for the Idefics3 parity tests")
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--cases", required=True)
    ap.add_argument("--decoded", required=True, help="folder with <case>.<i>.rgb decoded images")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    try:
        ck = modeling.open_checkpoint(args.checkpoint)
    except (FileNotFoundError, ValueError, KeyError) as e:
        fail(str(e).strip("'\""))
    pre_cfg = processing.load_json(os.path.join(args.checkpoint, "preprocessor_config.json"))
    proc_cfg_path = os.path.join(args.checkpoint, "processor_config.json")
    image_seq_len = processing.load_json(proc_cfg_path).get("image_seq_len") if os.path.isfile(proc_cfg_path) else None
    image_seq_len = image_seq_len or ck.cfg.image_seq_len
    tok_cfg = processing.load_json(os.path.join(args.checkpoint, "tokenizer_config.json"))
    if tok_cfg.get("chat_template") != processing.SMOLVLM_CHAT_TEMPLATE:
        fail("tokenizer_config.json chat_template is not SmolVLM's; this reference renders only that one")
    tokenizer = processing.ByteLevelBPE(processing.load_json(os.path.join(args.checkpoint, "tokenizer.json")))
    vision, lm = modeling.build_reference_models(ck)
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
            pv, mask, rows, cols = processing.preprocess_images(arrays, pre_cfg)
            prompt_text = processing.render_smolvlm_chat(chat_messages(case, len(arrays)), add_generation_prompt=True)
            expanded = processing.expand_image_tokens(prompt_text, rows, cols, image_seq_len)
            input_ids = tokenizer.encode(expanded)
            if tokenizer.decode(input_ids) != expanded:
                fail(f"{name}: the tokenizer does not round-trip the prompt")
            ids_t = torch.tensor(input_ids, dtype=torch.int64)
            embeds = lm.embed(ids_t[None])[0].clone()
            feats = vision.reference_forward(torch.from_numpy(pv), torch.from_numpy(mask))
            flat = feats.reshape(-1, feats.shape[-1])
            where = ids_t == ck.cfg.image_token_id
            if int(where.sum()) != flat.shape[0]:
                fail(f"{name}: {int(where.sum())} image tokens for {flat.shape[0]} image feature rows")
            embeds[where] = flat
            gen = case["generation"]
            ids, margin, first = greedy(lm, embeds, input_ids, gen)
            r = dict(case)
            r.update({"prompt_text": prompt_text, "rows": rows, "cols": cols, "pixel_values_shape": list(pv.shape),
                      "pixel_values_sha256": hashlib.sha256(pv.astype("<f4").tobytes()).hexdigest(),
                      "input_ids": input_ids, "inputs_embeds_length": len(input_ids),
                      "expected_token_ids": ids, "min_margin": margin if np.isfinite(margin) else None})
            if case.get("save_tensors"):
                fn = f"{name}.image_features.f32"
                feats.float().numpy().astype("<f4").tofile(os.path.join(out_dir, fn))
                r["image_features_file"], r["image_features_shape"] = fn, list(feats.shape)
                fn = f"{name}.first_step_logits.f32"
                first.numpy().astype("<f4").tofile(os.path.join(out_dir, fn))
                r["first_step_logits_file"] = fn
            results.append(r)
            print(f"{name}: tiles={pv.shape[1]} rows={rows} cols={cols} L={len(input_ids)} tokens={ids} "
                  f"min_margin={margin:.4f}")
    model = {"family": "idefics3", "checkpoint": os.path.basename(os.path.abspath(args.checkpoint)),
             "tiny_seed": ck.cfg.raw.get("idefics3_tiny_seed"), "dtype": "float32", "torch": torch.__version__,
             "decoding": "greedy, full-sequence recompute, HF processors over prompt + generated ids"}
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(compact_json({"model": model, "cases": results}))
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

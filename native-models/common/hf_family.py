"""What ../idefics3 and ../llava share: families exported from a Hugging Face checkpoint to the
onnx-community / transformers.js layout, and their PyTorch references for the parity tests.

Imported by name from those scripts (`sys.path.insert(0, HERE/../common)`; `import hf_family`).

* export: `export_package` (the family's vision graph, then embed_tokens and decoder_model_merged
  through ../omnifusion/export.py's graph machinery, then the config files copied from the
  checkpoint), the tiny random checkpoint's helpers (`tiny_init`, `train_tiny_bpe`,
  `tokenizer_json`, `added_token`, `dump_json`) and the CLI (`export_arg_parser`, `run_export`);
* reference: `reference_main` (decoded images in, prompt ids, pixel_values sha256, greedy tokens,
  optional tensors out), with `chat_messages`, `greedy` and `compact_json`.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (os.path.join(HERE, "..", "omnifusion"), os.path.join(HERE, "..", "idefics3")):
    _p = os.path.normpath(_p)
    if _p not in sys.path:
        sys.path.insert(0, _p)
import processing  # noqa: E402  ../idefics3/processing.py (byte-level BPE trainer and reader, load_json)


def _load(name: str, rel: str):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, "..", rel))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


of_export = _load("omnifusion_export", "omnifusion/export.py")  # export_graph, DecoderGraph, TRACE_WIDTH
of_reference = _load("omnifusion_reference", "omnifusion/reference.py")  # HF logits processors, read_cases


class ExportError(SystemExit):
    """One-line fatal error of export.py (argparse-style)."""

    def __init__(self, msg: str):
        super().__init__(f"export.py: error: {msg}")


def fail(msg: str) -> None:
    """One-line fatal error of reference.py."""
    raise SystemExit(f"reference.py: error: {msg}")


# ---------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------

CONFIG_FILES = ["config.json", "generation_config.json", "preprocessor_config.json", "processor_config.json",
                "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.json",
                "chat_template.jinja", "added_tokens.json", "vocab.json", "merges.txt"]


def export_package(ck_dir: str, out_dir: str, t, text_get, export_vision, build_decoder, decoder_kind: str,
                   log=print) -> None:
    """Write `out_dir`/onnx/{vision_encoder,embed_tokens,decoder_model_merged}.onnx (fp32) and copy the
    checkpoint's config files beside them.

    t: the decoder's arch.TextConfig; text_get(module param name) -> its checkpoint tensor;
    export_vision(onnx_dir) writes vision_encoder.onnx (and logs "[1/3] ...");
    build_decoder(tcfg, device) -> the DecoderGraph module; decoder_kind names it in the log.
    """
    onnx_dir = os.path.join(out_dir, "onnx")
    os.makedirs(onnx_dir, exist_ok=True)
    export_vision(onnx_dir)
    log("[2/3] embed_tokens")
    of_export.export_embed_tokens(t, text_get, onnx_dir, "fp32",
                                  io_shapes={"inputs_embeds": ["batch_size", "sequence_length", t.hidden_size]})
    log(f"[3/3] decoder_model_merged: {t.num_hidden_layers} layers ({decoder_kind})")
    of_export.export_decoder(t, build_decoder, text_get, onnx_dir, "fp32")
    copied = []
    for f in CONFIG_FILES:
        src = os.path.join(ck_dir, f)
        if os.path.isfile(src):
            shutil.copyfile(src, os.path.join(out_dir, f))
            copied.append(f)
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(out_dir) for f in fs)
    log(f"package {out_dir}: onnx/ (3 graphs, fp32) + {', '.join(copied)}; {total / 1e6:.1f} MB")


def tiny_init(family: str, seed: int, name: str, shape) -> torch.Tensor:
    """Deterministic per-(family, seed, name) f32 init with a spread that gives non-flat logits."""
    h = hashlib.sha256(f"{family}-tiny:{seed}:{name}".encode()).digest()
    g = torch.Generator().manual_seed(int.from_bytes(h[:8], "little") & ((1 << 63) - 1))
    x = torch.randn(*shape, generator=g, dtype=torch.float32)
    leaf = name.rsplit(".", 1)[-1]
    if len(shape) == 1 and "norm" in name and leaf == "weight":
        return 1.0 + 0.1 * x
    if leaf == "bias":
        return 0.1 * x
    if name.endswith("embed_tokens.weight"):
        return x
    if name.endswith("position_embedding.weight"):
        return 0.5 * x
    if name.endswith("lm_head.weight"):
        return x * (3.0 / shape[1] ** 0.5)  # logits std ~3 after the unit-RMS final norm
    fan_in = 1
    for s in shape[1:]:
        fan_in *= s
    return x / fan_in ** 0.5


def train_tiny_bpe(corpus: str, n_merges: int, vocab: dict) -> list:
    """Learn `n_merges` byte-level BPE merges from `corpus`; append the 256 byte tokens and then the
    merge results to `vocab` (token -> id, ids in order); returns the merges [(a, b)]."""
    merges = processing.train_byte_level_bpe(corpus, n_merges)
    if len(merges) != n_merges:
        raise ExportError(f"the corpus gives only {len(merges)} merges, {n_merges} needed")
    first = len(vocab)
    bm = processing.bytes_to_unicode()
    for b in range(256):
        vocab[bm[b]] = len(vocab)
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    if len(vocab) != first + 256 + n_merges:
        raise ExportError("duplicate merge results in the tiny vocabulary")
    return merges


def tokenizer_json(specials: list, vocab: dict, merges: list, byte_level: dict) -> dict:
    """tokenizer.json of a byte-level BPE with the Digits(individual) + ByteLevel pre-tokenizer.

    specials: [(id, content)] of the added special tokens; byte_level: the ByteLevel post_processor's
    and decoder's settings ({"post_processor": {add_prefix_space, trim_offsets, use_regex}, "decoder": ...}).
    """
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": True} for i, t in specials]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]},
        "post_processor": {"type": "ByteLevel", **byte_level["post_processor"]},
        "decoder": {"type": "ByteLevel", **byte_level["decoder"]},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }


def added_token(content: str) -> dict:
    """A special token as tokenizer_config.json and special_tokens_map.json write it."""
    return {"content": content, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
            "special": True}


def dump_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def export_arg_parser(description: str, checkpoint_help: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--checkpoint", help=checkpoint_help)
    ap.add_argument("--out", required=True, help="package folder to write")
    ap.add_argument("--tiny", action="store_true", help="build a tiny random-weight model (tests)")
    ap.add_argument("--seed", type=int, default=0, help="tiny: random seed")
    ap.add_argument("--checkpoint-out", help="tiny: where to write the tiny checkpoint (default: a temporary folder)")
    return ap


def run_export(ap: argparse.ArgumentParser, args, family: str, write_tiny, export, tiny_kind: str = "tiny") -> int:
    """The export CLI: with --tiny, write_tiny(ck_dir) writes a random checkpoint (into --checkpoint-out
    or a temporary folder that is removed afterwards) and export(ck_dir) exports it; otherwise
    export(--checkpoint)."""
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    tmp = None
    try:
        if args.tiny:
            if args.checkpoint:
                ap.error("--tiny writes its own checkpoint; use --checkpoint-out, not --checkpoint")
            ck_dir = args.checkpoint_out or (tmp := tempfile.mkdtemp(prefix=f"{family}-tiny-"))
            write_tiny(ck_dir)
            print(f"{tiny_kind} checkpoint written to {ck_dir}")
        else:
            if not args.checkpoint:
                ap.error("--checkpoint DIR is required (or --tiny)")
            ck_dir = args.checkpoint
        export(ck_dir)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


# ---------------------------------------------------------------------------
# PyTorch reference
# ---------------------------------------------------------------------------


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
    """Greedy decoding without a KV cache from embeds f32 [L,hidden]; HF's processors see prompt ids +
    generated ids. Returns (token ids, smallest top-1/top-2 margin, first-step logits f32 [vocab])."""
    eos = gen.get("eos_token_id")
    eos_ids = set(eos if isinstance(eos, list) else [eos])
    max_new = int(gen.get("max_new_tokens", 16))
    ids, min_margin, first = [], float("inf"), None
    x = embeds
    for _ in range(max_new):
        logits = lm(x[None], last_only=True)[0, -1].float()
        if first is None:
            first = logits.clone()
        s = of_reference.process(logits, list(prompt_ids) + ids, gen, len(prompt_ids))
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


def read_decoded(case: dict, decoded_dir: str) -> list:
    """The case's images as the engine decoded them: DECODED/<case>.<i>.rgb -> uint8 [H,W,3] each."""
    arrays = []
    for i, d in enumerate(case["decoded"]):
        raw = open(os.path.join(decoded_dir, f"{case['name']}.{i}.rgb"), "rb").read()
        if hashlib.sha256(raw).hexdigest() != d["sha256"] or len(raw) != d["width"] * d["height"] * 3:
            fail(f"{case['name']}: decoded image {i} does not match cases.json")
        arrays.append(np.frombuffer(raw, dtype=np.uint8).reshape(d["height"], d["width"], 3))
    return arrays


def reference_main(argv, family: str, title: str, open_checkpoint, chat_template: str, template_owner: str,
                   setup) -> int:
    """reference.py's CLI for one family.

    open_checkpoint(dir) -> ck (ck.cfg.raw holds config.json); the folder's chat template must be
    `chat_template` (`template_owner`'s: the reference renders only that one);
    setup(ck, dir) -> (lm, image_token_id, prepare), prepare(case, arrays) -> (prompt fields (prompt_text,
    ...), expanded prompt text, pixel_values f32 ndarray, image_features f32 [images,tokens,hidden] or None,
    summary for the log line).
    """
    ap = argparse.ArgumentParser(description=f"PyTorch reference greedy outputs for the {title} parity tests")
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--cases", required=True)
    ap.add_argument("--decoded", required=True, help="folder with <case>.<i>.rgb decoded images")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    try:
        ck = open_checkpoint(args.checkpoint)
    except (FileNotFoundError, ValueError, KeyError) as e:
        fail(str(e).strip("'\""))
    tok_cfg = processing.load_json(os.path.join(args.checkpoint, "tokenizer_config.json"))
    if tok_cfg.get("chat_template") != chat_template:
        fail(f"tokenizer_config.json chat_template is not {template_owner}'s; this reference renders only that one")
    tokenizer = processing.ByteLevelBPE(processing.load_json(os.path.join(args.checkpoint, "tokenizer.json")))
    lm, image_token_id, prepare = setup(ck, args.checkpoint)
    cases, out_dir = of_reference.read_cases(args.cases, args.out)
    results = []
    with torch.no_grad():
        for case in cases:
            name = case["name"]
            arrays = read_decoded(case, args.decoded)
            prompt_fields, expanded, pv, feats, summary = prepare(case, arrays)
            input_ids = tokenizer.encode(expanded)
            if tokenizer.decode(input_ids) != expanded:
                fail(f"{name}: the tokenizer does not round-trip the prompt")
            ids_t = torch.tensor(input_ids, dtype=torch.int64)
            embeds = lm.embed(ids_t[None])[0].clone()
            if feats is not None:  # image-token rows replaced in order by the image features
                flat = feats.reshape(-1, feats.shape[-1])
                where = ids_t == image_token_id
                if int(where.sum()) != flat.shape[0]:
                    fail(f"{name}: {int(where.sum())} image tokens for {flat.shape[0]} image feature rows")
                embeds[where] = flat
            ids, margin, first = greedy(lm, embeds, input_ids, case["generation"])
            r = dict(case)
            r.update(prompt_fields)
            r.update({"pixel_values_shape": list(pv.shape),
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
            print(f"{name}: {summary} L={len(input_ids)} tokens={ids} min_margin={margin:.4f}")
    model = {"family": family, "checkpoint": os.path.basename(os.path.abspath(args.checkpoint)),
             "tiny_seed": ck.cfg.raw.get(f"{family}_tiny_seed"), "dtype": "float32", "torch": torch.__version__,
             "decoding": "greedy, full-sequence recompute, HF processors over prompt + generated ids"}
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(compact_json({"model": model, "cases": results}))
        f.write("\n")
    return 0

#!/usr/bin/python3
"""Export an Idefics3 checkpoint (SmolVLM, granite-docling) to the onnx-community / transformers.js layout.

Real checkpoint (a Hugging Face folder: config.json, model.safetensors, tokenizer and processor files):
    /usr/bin/python3 export.py --checkpoint SmolVLM-256M-Instruct --out PKG
Tiny random model (tests): writes a tiny checkpoint in the same public layout, then exports it
through the same code path:
    /usr/bin/python3 export.py --tiny --seed 0 --out PKG [--checkpoint-out CK]
Random model with SmolVLM-256M-Instruct's shapes (npm run bench:engine; ~1 GB, ~3-4 min on 2 cores):
    /usr/bin/python3 export.py --tiny --size bench --seed 1 --out PKG

Output, as the onnx-community repositories publish it (no manifest of ours):
    PKG/onnx/vision_encoder.onnx        pixel_values f32 [batch_size,num_images,3,height,width],
                                        pixel_attention_mask bool [batch_size,num_images,height,width]
                                        -> image_features f32 [num_tiles,image_seq_len,hidden]
    PKG/onnx/embed_tokens.onnx          input_ids i64 [batch_size,sequence_length] -> inputs_embeds f32
    PKG/onnx/decoder_model_merged.onnx  inputs_embeds, attention_mask, position_ids,
                                        past_key_values.N.key/value -> logits, present.N.key/value
    PKG/{config,generation_config,preprocessor_config,processor_config,tokenizer,tokenizer_config,
         special_tokens_map,chat_template}.json  copied from the checkpoint
fp32 only (the published repositories also ship _fp16/_q4/... variants; not produced here).
The graph machinery (tracing with uninitialised weights, weights attached by name, opset 17) is
../omnifusion/export.py's `export_graph`; the decoder is its Mistral graph without a sliding window.
What this shares with ../llava/export.py (text graphs, config files, tiny-checkpoint helpers, CLI) is
in ../common/hf_family.py.
"""

from __future__ import annotations

import dataclasses
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import modeling  # noqa: E402  (also puts ../omnifusion on sys.path and imports its arch as `arch`)
import processing  # noqa: E402
import arch  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "..", "common"))
import hf_family  # noqa: E402  ../common/hf_family.py
from hf_family import ExportError, dump_json, of_export  # noqa: E402
REQUIRED_FILES = ["config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json"]


# ---------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------


def export_package(ck_dir: str, out_dir: str, log=print, narrow_vision_trace: bool = False) -> None:
    """Export the checkpoint folder `ck_dir` to `out_dir`.

    narrow_vision_trace: trace the vision graph with a 16-wide MLP (`--size bench`). The graph is the
    same (the MLP's widths come from its weights; for the bench model the package came out
    byte-identical to a full-width trace), and the export takes ~3 instead of ~8 minutes on 2 cores:
    Debian's torch (generic BLAS) runs the traced forward of SigLIP-base at ~1 GFLOP/s.
    """
    try:
        ck = modeling.open_checkpoint(ck_dir)
    except (FileNotFoundError, ValueError, KeyError) as e:
        raise ExportError(str(e).strip("'\""))
    for f in REQUIRED_FILES:
        if not os.path.isfile(os.path.join(ck_dir, f)):
            raise ExportError(f"{ck_dir} lacks {f}")
    cfg = ck.cfg
    t, v = cfg.text, cfg.vision

    def export_vision(onnx_dir):
        log(f"[1/3] vision_encoder: {v.num_hidden_layers} layers, {v.image_size}px tiles, patch {v.patch_size}, "
            f"scale_factor {cfg.scale_factor} -> {cfg.image_seq_len} tokens x {t.hidden_size}")
        B, N, S = 2, 2, v.image_size
        dummy = (torch.rand(B, N, 3, S, S, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1,
                 torch.ones(B, N, S, S, dtype=torch.bool))
        of_export.export_graph(
            "vision_encoder", lambda d: modeling.VisionStack(cfg, d), dummy,
            ["pixel_values", "pixel_attention_mask"], ["image_features"],
            {"pixel_values": {0: "batch_size", 1: "num_images", 3: "height", 4: "width"},
             "pixel_attention_mask": {0: "batch_size", 1: "num_images", 2: "height", 3: "width"},
             "image_features": {0: "num_tiles", 1: "image_seq_len"}},
            ck.get, onnx_dir, "fp32",
            io_shapes={"pixel_values": ["batch_size", "num_images", 3, "height", "width"],
                       "pixel_attention_mask": ["batch_size", "num_images", "height", "width"],
                       "image_features": ["num_tiles", "image_seq_len", t.hidden_size]},
            trace_factory=(lambda d: modeling.VisionStack(
                dataclasses.replace(cfg, vision=dataclasses.replace(v, intermediate_size=of_export.TRACE_WIDTH)), d))
            if narrow_vision_trace else None)

    hf_family.export_package(ck_dir, out_dir, t, lambda n: ck.get(modeling.text_name(n)), export_vision,
                             of_export.DecoderGraph, "Llama", log)


# ---------------------------------------------------------------------------
# tiny random checkpoint in the public (Hugging Face) layout
# ---------------------------------------------------------------------------

TINY_VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, num_channels=3,
                   image_size=512, patch_size=16, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6)
TINY_TEXT = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-5, rope_theta=100000.0,
                 max_position_embeddings=8192, bos_token_id=1, eos_token_id=2, pad_token_id=2,
                 hidden_act="silu", tie_word_embeddings=False)
TINY_SCALE_FACTOR = 4
TINY_VOCAB = 704  # 3 specials + 256 bytes + merges + 40 image/chat tokens, a multiple of 64 as 49280 is
TINY_LONGEST_EDGE = 2048

# `--size bench` (npm run bench:engine): SmolVLM-256M-Instruct's shapes with random weights, so that
# the graphs cost what the published model's fp32 graphs cost: SigLIP-base vision tower (12 x 768,
# 12 heads, MLP 3072, 512 px tiles, patch 16), scale_factor 4 -> 64 tokens per tile, Llama text model
# 30 x 576 (9 heads / 3 KV heads, head_dim 64, MLP 1536), vocabulary 49280. The tokenizer is the
# tiny one (same merges) padded to 49280 with filler tokens nothing encodes to (each decodes to
# " w<n>"), so every id the random model picks has text. size.longest_edge is 1024 instead of
# 2048: a page becomes 2 x 2 tiles + the global image (5 tiles, 320 image tokens) rather than
# 4 x 4 + 1 (17): the vision encoder, most of the time to first token, then takes ~7 s instead of
# ~25 s on a 2-core CPU, so that a benchmark can repeat it.
BENCH_VISION = dict(TINY_VISION, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12)
BENCH_TEXT = dict(TINY_TEXT, hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                  num_key_value_heads=3, head_dim=64, rope_theta=100000.0)
SIZES = {
    "tiny": dict(vision=TINY_VISION, text=TINY_TEXT, vocab=TINY_VOCAB, longest_edge=TINY_LONGEST_EDGE),
    "bench": dict(vision=BENCH_VISION, text=BENCH_TEXT, vocab=49280, longest_edge=1024),
}

BASE_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
IMAGE_TOKENS = (["<global-img>"] + [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]
                + ["<fake_token_around_image>", "<image>", "<end_of_utterance>"])

# Text the tiny tokenizer's merges are learnt from (deterministic; any English would do).
CORPUS = """
User: What is the total? Assistant: The total is 24.50 dollars, tax included.
User: Convert this formula to LaTeX. Assistant: \\frac{a}{b} + \\sqrt{x^2 + y^2} = \\int_0^1 f(x) dx
User: Describe this chest X-ray. Assistant: The lungs are clear. The heart size is normal. There is no effusion.
User: Which bar is the highest? Assistant: D, at 91. User: And the lowest? Assistant: A, at 28.
User: What do these two images show? Assistant: The first image shows a printed formula and the second one a landscape photo.
Can you describe this image? This document is a receipt from a small shop. The items are listed with their prices,
the subtotal, the tax and the total at the bottom of the page. The handwriting on the page is a formula with fractions,
sums and integrals. Read the text in the image and answer the question about the document, the chart or the photo.
The chart shows the values of the categories A, B, C, D and E. The table has three columns and four rows.
Please write the equation in LaTeX. The answer is short and precise. What is written on the page? What is the date?
The patient image shows the chest, the lungs and the heart. The skin lesion is small, round and dark.
A screenshot of an application window with a toolbar, a menu and a text field. The title of the paper is shown at the top.
Question: what is the name of the store? Answer: the name of the store is printed at the top of the receipt.
There are numbers, letters and symbols in the formula: x, y, z, alpha, beta, the sum from i equals 1 to n.
Invoice number 20431, issued on March 3rd; quantity, unit price, discount and amount due. Thank you for shopping!
The matrix has determinant zero; its eigenvalues are lambda one and lambda two. Solve for theta given sin and cos.
Radiology findings: mild cardiomegaly, no pneumothorax, costophrenic angles sharp, trachea midline, bones intact.
Handwritten notes often contain crossed-out words, arrows, underlines, subscripts and superscripts in equations.
""" * 2


def tiny_tokenizer(vocab_size: int = TINY_VOCAB) -> dict:
    """Byte-level BPE like SmolLM2's (Digits + ByteLevel pre-tokenizer, ByteLevel decoder), tiny vocab.

    A `vocab_size` above TINY_VOCAB keeps the same merges and adds filler tokens `Ġw<n>` after them
    (before the image/chat tokens): digits never merge with letters under the Digits pre-tokenizer,
    so nothing encodes to them, but each decodes to " w<n>".
    """
    n_merges = TINY_VOCAB - len(BASE_SPECIALS) - 256 - len(IMAGE_TOKENS)
    vocab = {t: i for i, t in enumerate(BASE_SPECIALS)}
    merges = hf_family.train_tiny_bpe(CORPUS, n_merges, vocab)
    for n in range(vocab_size - TINY_VOCAB):
        vocab[f"\u0120w{n}"] = len(vocab)
    if len(vocab) + len(IMAGE_TOKENS) != vocab_size:
        raise ExportError(f"filler tokens collide with merges ({len(vocab) + len(IMAGE_TOKENS)} != {vocab_size})")
    specials = list(enumerate(BASE_SPECIALS)) + [(len(vocab) + i, t) for i, t in enumerate(IMAGE_TOKENS)]
    return hf_family.tokenizer_json(specials, vocab, merges, {
        "post_processor": {"add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"add_prefix_space": True, "trim_offsets": True, "use_regex": True}})


def write_tiny_checkpoint(folder: str, seed: int, size: str = "tiny") -> None:
    """A random Idefics3ForConditionalGeneration checkpoint laid out like SmolVLM-256M-Instruct,
    tiny (tests) or with SmolVLM-256M's sizes (`size` "bench", see SIZES)."""
    os.makedirs(folder, exist_ok=True)
    preset = SIZES[size]
    tok = tiny_tokenizer(preset["vocab"])
    ids = {t["content"]: t["id"] for t in tok["added_tokens"]}
    vocab_size = len(tok["model"]["vocab"]) + len(IMAGE_TOKENS)
    assert vocab_size == preset["vocab"]
    longest_edge = preset["longest_edge"]
    text = dict(preset["text"], vocab_size=vocab_size, model_type="llama", architectures=["LlamaForCausalLM"])
    vision = dict(preset["vision"], model_type="idefics3_vision", max_image_size={"longest_edge": 512},
                  size={"longest_edge": longest_edge})
    config = {
        "architectures": ["Idefics3ForConditionalGeneration"],
        "image_token_id": ids["<image>"],
        "model_type": "idefics3",
        "scale_factor": TINY_SCALE_FACTOR,
        "text_config": text,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "transformers.js_config": {"kv_cache_dtype": {"q4f16": "float16", "fp16": "float16"}},
        "transformers_version": "4.46.0",
        "use_cache": True,
        "vision_config": vision,
        "vocab_size": vocab_size,
        "idefics3_tiny_seed": seed,
    }
    if size != "tiny":
        config["idefics3_random_size"] = size
    cfg = modeling.Idefics3Config.from_hf(config)
    vis = modeling.VisionStack(cfg, device="meta")
    lm = arch.MistralForCausalLM(cfg.text, device="meta")
    sd = {n: hf_family.tiny_init("idefics3", seed, n, p.shape) for n, p in vis.named_parameters()}
    sd.update({modeling.text_name(n): hf_family.tiny_init("idefics3", seed, modeling.text_name(n), p.shape)
               for n, p in lm.named_parameters()})
    arch.write_safetensors(os.path.join(folder, "model.safetensors"), sd, {"format": "pt"})
    dump_json(os.path.join(folder, "config.json"), config)
    eou = ids["<end_of_utterance>"]
    # SmolVLM's generation_config.json: bos 0 (sic, the template starts with <|im_start|> = 1), eos <end_of_utterance>
    dump_json(os.path.join(folder, "generation_config.json"),
              {"_from_model_config": True, "bos_token_id": 0, "eos_token_id": eou, "pad_token_id": 2,
               "transformers_version": "4.46.0"})
    dump_json(os.path.join(folder, "preprocessor_config.json"), {
        "do_convert_rgb": True, "do_image_splitting": True, "do_normalize": True, "do_pad": True,
        "do_rescale": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5],
        "image_processor_type": "Idefics3ImageProcessor", "image_std": [0.5, 0.5, 0.5],
        "max_image_size": {"longest_edge": 512}, "processor_class": "Idefics3Processor", "resample": 1,
        "rescale_factor": 0.00392156862745098, "size": {"longest_edge": longest_edge}})
    dump_json(os.path.join(folder, "processor_config.json"),
              {"image_seq_len": cfg.image_seq_len, "processor_class": "Idefics3Processor"})
    dump_json(os.path.join(folder, "tokenizer.json"), tok)

    added = hf_family.added_token
    extra = ["<fake_token_around_image>", "<image>", "<end_of_utterance>"]
    dump_json(os.path.join(folder, "tokenizer_config.json"), {
        "add_prefix_space": False,
        "added_tokens_decoder": {str(t["id"]): added(t["content"]) for t in tok["added_tokens"]},
        "additional_special_tokens": extra,
        "bos_token": "<|im_start|>",
        "chat_template": processing.SMOLVLM_CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<end_of_utterance>",
        "legacy": False,
        "model_max_length": 8192,
        "pad_token": "<|im_end|>",
        "processor_class": "Idefics3Processor",
        "tokenizer_class": "GPT2Tokenizer",
        "unk_token": "<|endoftext|>",
        "vocab_size": len(tok["model"]["vocab"]),
    })
    dump_json(os.path.join(folder, "special_tokens_map.json"), {
        "additional_special_tokens": [added(t) for t in extra], "bos_token": added("<|im_start|>"),
        "eos_token": added("<end_of_utterance>"), "pad_token": added("<|im_end|>"), "unk_token": added("<|endoftext|>")})
    dump_json(os.path.join(folder, "chat_template.json"), {"chat_template": processing.SMOLVLM_CHAT_TEMPLATE})


def main(argv=None) -> int:
    ap = hf_family.export_arg_parser("Export Idefics3 (or a tiny random one) to the onnx-community layout.",
                                     "Hugging Face Idefics3 folder (config.json, model.safetensors, tokenizer, processor files)")
    ap.add_argument("--size", choices=sorted(SIZES), default="tiny",
                    help="with --tiny: tiny (tests, 1.3 MB) or bench (SmolVLM-256M's shapes, random weights, ~1 GB; npm run bench:engine)")
    args = ap.parse_args(argv)
    if not args.tiny and args.size != "tiny":
        ap.error("--size is for --tiny's random checkpoints")
    return hf_family.run_export(ap, args, "idefics3", lambda ck_dir: write_tiny_checkpoint(ck_dir, args.seed, args.size),
                                lambda ck_dir: export_package(ck_dir, args.out, narrow_vision_trace=args.size != "tiny"),
                                tiny_kind=f"{args.size} random")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Export a LLaVA checkpoint (llava-interleave-qwen-0.5b layout) to the onnx-community / transformers.js layout.

    /usr/bin/python3 export.py --checkpoint llava-interleave-qwen-0.5b-hf --out PKG
    /usr/bin/python3 export.py --tiny --seed 0 --out PKG [--checkpoint-out CK]

Output (no manifest of ours; the engine reads the folder as published):
    PKG/onnx/vision_encoder.onnx        pixel_values f32 [batch_size,3,height,width]
                                        -> image_features f32 [batch_size,image_seq_len,hidden]
    PKG/onnx/embed_tokens.onnx          input_ids i64 -> inputs_embeds f32
    PKG/onnx/decoder_model_merged.onnx  inputs_embeds, attention_mask, position_ids, past_key_values.N.key/value
                                        -> logits, present.N.key/value
    PKG/{config,generation_config,preprocessor_config,processor_config,tokenizer,tokenizer_config,
         special_tokens_map,chat_template}.json  copied from the checkpoint
fp32 only. Graph machinery: ../omnifusion/export.py's export_graph; the decoder is its Mistral graph
(Qwen2: with q/k/v biases, no sliding window). What this shares with ../idefics3/export.py (text graphs,
config files, tiny-checkpoint helpers, CLI) is in ../common/hf_family.py.
"""

from __future__ import annotations

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llava_modeling as lm_mod  # noqa: E402  (puts ../idefics3 and ../omnifusion on sys.path)
import llava_processing  # noqa: E402
import arch  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "..", "common"))
import hf_family  # noqa: E402  ../common/hf_family.py
from hf_family import ExportError, dump_json, of_export  # noqa: E402


def export_package(ck_dir: str, out_dir: str, log=print) -> None:
    try:
        ck = lm_mod.open_checkpoint(ck_dir)
    except (FileNotFoundError, ValueError, KeyError) as e:
        raise ExportError(str(e).strip("'\""))
    cfg = ck.cfg
    t, v = cfg.text, cfg.vision

    def export_vision(onnx_dir):
        log(f"[1/3] vision_encoder: SigLIP {cfg.layers_used}/{v.num_hidden_layers} layers, {v.image_size}px, patch "
            f"{v.patch_size} -> {cfg.image_seq_len} tokens x {t.hidden_size}")
        S = v.image_size
        dummy = (torch.rand(2, 3, S, S, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1,)
        of_export.export_graph(
            "vision_encoder", lambda d: lm_mod.VisionStack(cfg, full=False, device=d), dummy,
            ["pixel_values"], ["image_features"],
            {"pixel_values": {0: "batch_size"}, "image_features": {0: "batch_size"}},
            ck.get, onnx_dir, "fp32",
            io_shapes={"pixel_values": ["batch_size", 3, S, S],
                       "image_features": ["batch_size", cfg.image_seq_len, t.hidden_size]})

    hf_family.export_package(ck_dir, out_dir, t, lambda n: ck.get(lm_mod.text_name(n)), export_vision,
                             lambda tcfg, d: lm_mod.build_lm(cfg, d, of_export.DecoderGraph, tcfg),
                             "Qwen2" if lm_mod.is_qwen2(cfg) else "Llama", log)


# ---------------------------------------------------------------------------
# tiny random checkpoint (llava-hf layout)
# ---------------------------------------------------------------------------

TINY_VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, num_channels=3,
                   image_size=384, patch_size=14, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6)
TINY_TEXT = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=4, rms_norm_eps=1e-6, rope_theta=1000000.0, max_position_embeddings=32768,
                 hidden_act="silu", tie_word_embeddings=False, use_sliding_window=False, sliding_window=32768,
                 max_window_layers=21)
TINY_VOCAB = 640  # 256 bytes + merges + <|endoftext|>, <|im_start|>, <|im_end|>, <image> (Qwen: specials after the vocab)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>"]
CORPUS = """
<|im_start|>user What is the total?<|im_end|> <|im_start|>assistant The total is 24.50 dollars.
Describe this chest X-ray. The lungs are clear and the heart size is normal. Convert this formula to LaTeX.
What is written on this receipt? A list of items with their prices, the tax and the total at the bottom.
The handwritten formula has a fraction, a square root and an integral from zero to one of f of x dx.
Which bar is the highest? The highest bar is D, at 91; the lowest is A, at 28. The chart shows five categories.
Please answer the question about the image in one short sentence. The photo shows a landscape with a house.
The document is a page of a paper with a title, the authors, an abstract and two columns of text.
Invoice number 20431, issued on March 3rd; quantity, unit price, discount and amount due. Thank you!
Radiology findings: mild cardiomegaly, no pneumothorax, costophrenic angles sharp, trachea midline, bones intact.
Handwritten notes often contain crossed-out words, arrows, underlines, subscripts and superscripts in equations.
The matrix has determinant zero; its eigenvalues are lambda one and lambda two. Solve for theta given sin and cos.
A screenshot of an application window with a toolbar, a menu and a text field. The skin lesion is small and dark.
Question: what is the name of the store? Answer: the name of the store is printed at the top of the receipt.
""" * 2


def tiny_tokenizer() -> dict:
    n_merges = TINY_VOCAB - 256 - len(SPECIALS)
    vocab = {}
    merges = hf_family.train_tiny_bpe(CORPUS, n_merges, vocab)
    return hf_family.tokenizer_json([(len(vocab) + i, t) for i, t in enumerate(SPECIALS)], vocab, merges, {
        "post_processor": {"add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "decoder": {"add_prefix_space": False, "trim_offsets": False, "use_regex": False}})


def write_tiny_checkpoint(folder: str, seed: int) -> None:
    os.makedirs(folder, exist_ok=True)
    tok = tiny_tokenizer()
    ids = {t["content"]: t["id"] for t in tok["added_tokens"]}
    vocab_size = len(tok["model"]["vocab"]) + len(SPECIALS)
    assert vocab_size == TINY_VOCAB
    text = dict(TINY_TEXT, vocab_size=vocab_size, model_type="qwen2", architectures=["Qwen2ForCausalLM"],
                bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], torch_dtype="float32")
    vision = dict(TINY_VISION, model_type="siglip_vision_model", vision_use_head=False)
    n_tokens = (TINY_VISION["image_size"] // TINY_VISION["patch_size"]) ** 2
    config = {
        "architectures": ["LlavaForConditionalGeneration"],
        "ignore_index": -100,
        "image_seq_length": n_tokens,
        "image_token_index": ids["<image>"],
        "model_type": "llava",
        "projector_hidden_act": "gelu",
        "text_config": text,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "transformers.js_config": {"kv_cache_dtype": {"q4f16": "float16", "fp16": "float16"}},
        "transformers_version": "4.46.0",
        "vision_config": vision,
        "vision_feature_layer": -1,
        "vision_feature_select_strategy": "full",
        "llava_tiny_seed": seed,
    }
    cfg = lm_mod.LlavaConfig.from_hf(config)
    vis = lm_mod.VisionStack(cfg, full=True, device="meta")
    lm = lm_mod.build_lm(cfg, device="meta")
    sd = {n: hf_family.tiny_init("llava", seed, n, p.shape) for n, p in vis.named_parameters()}
    for n, p in lm.named_parameters():
        # (Qwen1.5-0.5B ties lm_head to embed_tokens and stores no lm_head; the loaders accept that.
        # The tiny model keeps them apart: tied random weights make a model that repeats its input.)
        sd[lm_mod.text_name(n)] = hf_family.tiny_init("llava", seed, lm_mod.text_name(n), p.shape)
    arch.write_safetensors(os.path.join(folder, "model.safetensors"), sd, {"format": "pt"})
    dump_json(os.path.join(folder, "config.json"), config)
    dump_json(os.path.join(folder, "generation_config.json"),
              {"_from_model_config": True, "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
               "transformers_version": "4.46.0"})
    dump_json(os.path.join(folder, "preprocessor_config.json"), {
        "do_convert_rgb": None, "do_normalize": True, "do_rescale": True, "do_resize": True,
        "image_mean": [0.5, 0.5, 0.5], "image_processor_type": "SiglipImageProcessor", "image_std": [0.5, 0.5, 0.5],
        "processor_class": "LlavaProcessor", "resample": 3, "rescale_factor": 0.00392156862745098,
        "size": {"height": 384, "width": 384}})
    dump_json(os.path.join(folder, "processor_config.json"), {
        "image_token": "<image>", "num_additional_image_tokens": 0, "patch_size": TINY_VISION["patch_size"],
        "processor_class": "LlavaProcessor", "vision_feature_select_strategy": "full"})
    dump_json(os.path.join(folder, "tokenizer.json"), tok)

    added = hf_family.added_token
    dump_json(os.path.join(folder, "tokenizer_config.json"), {
        "add_prefix_space": False,
        "added_tokens_decoder": {str(t["id"]): added(t["content"]) for t in tok["added_tokens"]},
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": None,
        "chat_template": llava_processing.INTERLEAVE_CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": 32768,
        "pad_token": "<|endoftext|>",
        "processor_class": "LlavaProcessor",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    })
    dump_json(os.path.join(folder, "special_tokens_map.json"), {
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"], "eos_token": added("<|im_end|>"),
        "pad_token": added("<|endoftext|>"), "image_token": "<image>"})
    dump_json(os.path.join(folder, "chat_template.json"), {"chat_template": llava_processing.INTERLEAVE_CHAT_TEMPLATE})


def main(argv=None) -> int:
    ap = hf_family.export_arg_parser("Export LLaVA (or a tiny random one) to the onnx-community layout.",
                                     "llava-hf folder (config.json, model.safetensors, tokenizer, processor files)")
    args = ap.parse_args(argv)
    return hf_family.run_export(ap, args, "llava", lambda ck_dir: write_tiny_checkpoint(ck_dir, args.seed),
                                lambda ck_dir: export_package(ck_dir, args.out))


if __name__ == "__main__":
    sys.exit(main())

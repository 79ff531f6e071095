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
The Idefics3 steps (pixel_values, prompt text, vision tower) are here (`setup`); the case loop,
tokenization, embedding replacement, greedy decoding and the output are ../common/hf_family.py's
`reference_main`, shared with ../llava.
"""

from __future__ import annotations

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import modeling  # noqa: E402
import processing  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "..", "common"))
import hf_family  # noqa: E402  ../common/hf_family.py: the case loop, greedy decoding, output


def setup(ck: modeling.Checkpoint, ck_dir: str):
    """The Idefics3 steps of ../common/hf_family.py's `reference_main`."""
    pre_cfg = processing.load_json(os.path.join(ck_dir, "preprocessor_config.json"))
    proc_cfg_path = os.path.join(ck_dir, "processor_config.json")
    image_seq_len = processing.load_json(proc_cfg_path).get("image_seq_len") if os.path.isfile(proc_cfg_path) else None
    image_seq_len = image_seq_len or ck.cfg.image_seq_len
    vision, lm = modeling.build_reference_models(ck)

    def prepare(case: dict, arrays: list):
        pv, mask, rows, cols = processing.preprocess_images(arrays, pre_cfg)
        messages = hf_family.chat_messages(case, len(arrays))
        prompt_text = processing.render_smolvlm_chat(messages, add_generation_prompt=True)
        expanded = processing.expand_image_tokens(prompt_text, rows, cols, image_seq_len)
        feats = vision.reference_forward(torch.from_numpy(pv), torch.from_numpy(mask))
        summary = f"tiles={pv.shape[1]} rows={rows} cols={cols}"
        return {"prompt_text": prompt_text, "rows": rows, "cols": cols}, expanded, pv, feats, summary

    return lm, ck.cfg.image_token_id, prepare


def main(argv=None) -> int:
    return hf_family.reference_main(argv, "idefics3", "Idefics3", modeling.open_checkpoint,
                                    processing.SMOLVLM_CHAT_TEMPLATE, "SmolVLM", setup)


if __name__ == "__main__":
    sys.exit(main())

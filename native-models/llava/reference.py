#!/usr/bin/python3
"""PyTorch reference outputs for the LLaVA parity tests.

    /usr/bin/python3 reference.py --checkpoint CK --cases cases.json --decoded DIR --out reference.json

As ../idefics3/reference.py: the images are read as the engine decoded them (DIR/<case>.<i>.rgb),
everything after is computed here: SiglipImageProcessor with PIL (pixel_values sha256 recorded),
the llava-interleave chat template written out by hand (the folder's template must be that one),
`<image>` × image_seq_len, the tiny byte-level BPE reader, the SigLIP tower + projector, the
image-token rows replaced in order, the Qwen2 decoder without a KV cache, greedy with HF's processors
over prompt + generated ids. Output fields as ../idefics3/reference.py (no rows/cols). The case loop,
greedy decoding and output are ../common/hf_family.py's `reference_main`.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llava_modeling as lm_mod  # noqa: E402
import llava_processing  # noqa: E402
import processing as i3_processing  # noqa: E402  ../idefics3/processing.py
sys.path.insert(0, os.path.join(HERE, "..", "common"))
import hf_family  # noqa: E402  ../common/hf_family.py


def setup(ck: lm_mod.Checkpoint, ck_dir: str):
    """The LLaVA steps of ../common/hf_family.py's `reference_main`."""
    pre_cfg = i3_processing.load_json(os.path.join(ck_dir, "preprocessor_config.json"))
    vision, lm = lm_mod.build_reference_models(ck)
    n_tokens = ck.cfg.image_seq_len

    def prepare(case: dict, arrays: list):
        pv = np.stack([llava_processing.preprocess_image(a, pre_cfg) for a in arrays]) if arrays else np.zeros((0,))
        prompt_text = llava_processing.render_interleave_chat(hf_family.chat_messages(case, len(arrays)))
        expanded = llava_processing.expand_image_tokens(prompt_text, n_tokens)
        feats = vision(torch.from_numpy(pv)) if arrays else None
        return {"prompt_text": prompt_text}, expanded, pv, feats, f"images={len(arrays)}"

    return lm, ck.cfg.image_token_index, prepare


def main(argv=None) -> int:
    return hf_family.reference_main(argv, "llava", "LLaVA", lm_mod.open_checkpoint,
                                    llava_processing.INTERLEAVE_CHAT_TEMPLATE, "llava-interleave", setup)


if __name__ == "__main__":
    sys.exit(main())

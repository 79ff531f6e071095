#!/usr/bin/python3
"""Export OmniFusion 1.1 to an ONNX model package for OmniFusion Desktop.

Real checkpoint:
    /usr/bin/python3 export.py --checkpoint OmniMistral-v1_1 --clip clip-vit-large-patch14-336 --out PKG
Tiny random model (tests): writes a tiny checkpoint in the public layout, then exports it
through the same code path:
    /usr/bin/python3 export.py --tiny --seed 0 --tokenizer tokenizer.json --out PKG [--checkpoint-out CK]

Graphs (opset 17, transformers.js / onnx-community names): vision_encoder.onnx (CLIP + adapter),
embed_tokens.onnx, decoder_model_merged.onnx (KV cache); plus special_embeddings.bin,
tokenizer.json, tokenizer_config.json and manifest.json (checksums of every file).

How graphs are traced: the module is built with uninitialised weights (meta -> to_empty, so a
7B model costs no RAM) and exported with export_params=False; the weights are then streamed
from the checkpoint into initializers (external data for big graphs).  For fp16 the trace runs
with float32 parameters and float64 "high precision" parts (torch 1.13 has no CPU fp16
kernels) and the graph types are rewritten float32->float16, float64->float32.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import arch  # noqa: E402

OPSET = 17
EXTERNAL_DATA_THRESHOLD = 1_500_000_000  # bytes of weights; protobuf's hard limit is 2 GiB
EXTERNAL_ALIGN = 65536  # lets onnxruntime mmap tensors (Windows allocation granularity)

SYSTEM_PROMPT = "This is a dialog with AI assistant.\n"  # OmniFusion README gen_answer
# OCR tokens in the prompt, as the paper's TextVQA scores "with OCR tokens" (arXiv 2404.06212,
# Table 9, zero-shot with lmms-eval): lmms-eval's textvqa_doc_to_text with ocr=True appends
# "\nReference OCR token: " + ", ".join(ocr_tokens) to the question, i.e. inside the user turn,
# after the question, encoded with it: USER text(q + ocr) BOT. max_tokens keeps one image (576
# tokens) + OCR text + a short answer within the 2048-token context OmniFusion was fine-tuned at.
OCR_TEXT = {"position": "after_question", "template": "\nReference OCR token: {text}",
            "word_separator": ", ", "max_tokens": 1024}
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]  # openai CLIP preprocessor_config.json
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
PIL_RESAMPLE = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}

# Tiny model sizes (see README): small but structurally identical to OmniFusion 1.1.
TINY_TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=32000, rms_norm_eps=1e-5, rope_theta=10000.0,
                 sliding_window=4096, bos_token_id=1, eos_token_id=2, max_position_embeddings=32768,
                 torch_dtype="float32")
TINY_VISION = dict(image_size=112, patch_size=14, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                   num_attention_heads=4, num_channels=3, hidden_act="quick_gelu", layer_norm_eps=1e-5)
TINY_ADAPTER_HEADS = 4


class ExportError(SystemExit):
    """One-line fatal error (argparse-style)."""

    def __init__(self, msg: str):
        super().__init__(f"export.py: error: {msg}")


# ---------------------------------------------------------------------------
# graph modules (parameter names = checkpoint names)
# ---------------------------------------------------------------------------


class VisionEncoderGraph(nn.Module):
    """pixel_values [N,3,H,W] -> image_features [N, num_patches, text_hidden] (CLIP + adapter)."""
    hp_dtype = torch.float32

    def __init__(self, vcfg: arch.VisionConfig, acfg: arch.AdapterConfig, device=None):
        super().__init__()
        # only the layers OmniFusion uses (hidden_states[select_layer]); no post_layernorm
        self.vision_model = arch.CLIPVisionTransformer(vcfg, num_layers=vcfg.layers_used, post_layernorm=False,
                                                       device=device)
        self.adapter = arch.AdapterPlain(acfg, device=device)

    def forward(self, pixel_values):
        return self.adapter(self.vision_model(pixel_values)).to(self.hp_dtype)


class EmbedTokensGraph(nn.Module):
    """input_ids int64 [B,S] -> inputs_embeds [B,S,hidden]."""
    hp_dtype = torch.float32

    def __init__(self, tcfg: arch.TextConfig, device=None):
        super().__init__()
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(tcfg.vocab_size, tcfg.hidden_size, device=device)

    def forward(self, input_ids):
        return F.embedding(input_ids, self.model.embed_tokens.weight).to(self.hp_dtype)


class DecoderGraph(arch.MistralForCausalLM):
    """decoder_model_merged: (inputs_embeds, attention_mask, position_ids, *past) -> (logits, *present)."""

    def __init__(self, tcfg: arch.TextConfig, device=None):
        super().__init__(tcfg, with_embeddings=False, device=device)

    def forward(self, inputs_embeds, attention_mask, position_ids, *past):
        logits, presents = self.forward_with_cache(inputs_embeds, attention_mask, position_ids, past)
        return (logits, *presents)


# ---------------------------------------------------------------------------
# ONNX post-processing
# ---------------------------------------------------------------------------


def _rewrite_float_types(model) -> None:
    """fp16 export: float32 -> float16 and float64 -> float32 everywhere in the graph."""
    import onnx
    from onnx import numpy_helper, TensorProto as TP
    remap = {TP.FLOAT: TP.FLOAT16, TP.DOUBLE: TP.FLOAT}
    np_remap = {np.dtype(np.float32): np.float16, np.dtype(np.float64): np.float32}

    def fix_tensor(t):
        if t.data_type not in remap:
            return
        a = numpy_helper.to_array(t)
        b = a.astype(np_remap[a.dtype])
        if not np.array_equal(np.isfinite(a), np.isfinite(b)):
            raise RuntimeError(f"constant {t.name or '<attr>'} overflows when narrowed: {a.ravel()[:4]}")
        nt = numpy_helper.from_array(b, t.name)
        t.CopyFrom(nt)

    g = model.graph
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        tt = vi.type.tensor_type
        if tt.elem_type in remap:
            tt.elem_type = remap[tt.elem_type]
    for t in g.initializer:
        fix_tensor(t)
    for node in g.node:
        for a in node.attribute:
            if node.op_type == "Cast" and a.name == "to":
                a.i = remap.get(a.i, a.i)
            elif a.type == onnx.AttributeProto.TENSOR:
                fix_tensor(a.t)
            elif a.type == onnx.AttributeProto.GRAPH:
                raise RuntimeError("subgraphs are not expected in these graphs")
            elif a.name in ("dtype", "to"):
                raise RuntimeError(f"unhandled dtype attribute on {node.op_type}")
    # nothing float64 may remain
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        assert vi.type.tensor_type.elem_type != TP.DOUBLE, vi.name


def _attach_weights(model, user_inputs, getter, np_dtype, data_path, external: bool, param_shapes):
    """Turn parameter graph inputs into initializers read from `getter(name)`.

    Transpose(weight) nodes (from nn.Linear) are folded so the file stores W^T once.
    With `external`, tensor bytes stream into `data_path` and never sit in the protobuf.
    Returns the number of weight bytes written.
    """
    import onnx
    from onnx import TensorProto as TP
    np_to_onnx = {np.dtype(np.float32): TP.FLOAT, np.dtype(np.float16): TP.FLOAT16}
    g = model.graph
    user = set(user_inputs)
    params = [i for i in g.input if i.name not in user]
    consumers = collections.defaultdict(list)
    for node in g.node:
        for name in node.input:
            consumers[name].append(node)
    data_f = open(data_path, "wb") if external else None
    location = os.path.basename(data_path)
    total = 0
    inits = []
    drop = set()
    renames = {}

    def add(name, arr):
        nonlocal total
        arr = np.ascontiguousarray(arr)
        t = onnx.TensorProto()
        t.name = name
        t.data_type = np_to_onnx[arr.dtype]
        t.dims.extend(arr.shape)
        raw = arr.tobytes()
        total += len(raw)
        if data_f is not None and len(raw) >= 1024:
            pos = data_f.tell()
            pad = (-pos) % EXTERNAL_ALIGN
            data_f.write(b"\0" * pad)
            off = pos + pad
            data_f.write(raw)
            t.data_location = TP.EXTERNAL
            for k, v in (("location", location), ("offset", str(off)), ("length", str(len(raw)))):
                e = t.external_data.add()
                e.key, e.value = k, v
        else:
            t.raw_data = raw
        inits.append(t)

    try:
        for inp in params:
            w = getter(inp.name)
            want = param_shapes[inp.name]
            if list(w.shape) != want:
                raise ExportError(f"weight {inp.name}: checkpoint shape {list(w.shape)} != graph shape {want}")
            arr = w.detach().to(torch.float32).numpy().astype(np_dtype)
            del w
            cons = consumers[inp.name]
            for n in cons:
                if n.op_type == "Transpose":
                    perm = next((list(a.ints) for a in n.attribute if a.name == "perm"), None)
                    tname = inp.name + ".T" if inp.name + ".T" not in renames.values() else n.output[0]
                    renames[n.output[0]] = tname
                    add(tname, arr.transpose(perm) if perm else arr.T)
                    drop.add(id(n))
            if any(n.op_type != "Transpose" for n in cons):
                add(inp.name, arr)
            del arr
    finally:
        if data_f is not None:
            data_f.close()
    keep = [n for n in g.node if id(n) not in drop]
    for n in keep:  # readable names for folded W^T: "<param>.T"
        for i, x in enumerate(n.input):
            if x in renames:
                n.input[i] = renames[x]
    del g.node[:]
    g.node.extend(keep)
    keep_inputs = [i for i in g.input if i.name in user]
    del g.input[:]
    g.input.extend(keep_inputs)
    g.initializer.extend(inits)
    if external and os.path.getsize(data_path) == 0:
        os.remove(data_path)
    return total


def export_graph(name, factory, dummy, input_names, output_names, dynamic_axes, getter, out_dir, dtype,
                 external_mode="auto", io_shapes=None, trace_factory=None):
    """Trace a module with uninitialised weights, then write `<out_dir>/<name>.onnx` with the
    checkpoint weights from `getter(param_name)`. dtype: 'fp32' | 'fp16'. Returns file names written.

    factory(device) builds the real-size module (only its parameter names/shapes are used);
    trace_factory(device), if given, builds a narrower module with the same graph (see
    `_narrow_text_config`) because torch 1.13's tracer clones every parameter.
    io_shapes restates graph input/output dims ({name: [dim or dim_param]}).
    """
    import onnx
    fp16 = dtype == "fp16"
    hp = torch.float64 if fp16 else torch.float32
    real = factory("meta")
    param_shapes = {n: list(p.shape) for n, p in real.named_parameters()}
    n_weight_bytes = sum(p.numel() for p in real.parameters()) * (2 if fp16 else 4)
    del real
    external = external_mode == "always" or (external_mode == "auto" and n_weight_bytes > EXTERNAL_DATA_THRESHOLD)
    module = (trace_factory or factory)("meta").to_empty(device="cpu")
    with torch.no_grad():
        # The exporter merges parameters with equal values (deduplicate_initializers), and
        # uninitialised ones may be equal; a distinct first element keeps every weight its own.
        for i, p in enumerate(module.parameters()):
            p.view(-1)[0] = float(i + 1)
    arch.set_hp_dtype(module, hp).eval()
    dummy = tuple(d.to(hp) if d.is_floating_point() and d.dtype == torch.float64 else d for d in dummy)
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, dummy, buf, export_params=False, opset_version=OPSET, input_names=input_names,
                          output_names=output_names, dynamic_axes=dynamic_axes,
                          do_constant_folding=False)  # folding would bake the uninitialised weights
    del module
    model = onnx.load_from_string(buf.getvalue())
    got = [i.name for i in model.graph.input if i.name not in set(input_names)]
    if sorted(got) != sorted(param_shapes):  # every weight must stay a named graph input
        raise RuntimeError(f"{name}: traced weight inputs differ from the module parameters: "
                           f"missing {sorted(set(param_shapes) - set(got))[:5]}, extra {sorted(set(got) - set(param_shapes))[:5]}")
    if trace_factory is not None:
        del model.graph.value_info[:]  # intermediate shapes are those of the narrow trace
    if fp16:
        _rewrite_float_types(model)
    path = os.path.join(out_dir, f"{name}.onnx")
    data_path = path + "_data"
    _attach_weights(model, input_names, getter, np.float16 if fp16 else np.float32, data_path, external, param_shapes)
    for o in list(model.graph.input) + list(model.graph.output):
        if io_shapes and o.name in io_shapes:
            dims = o.type.tensor_type.shape.dim
            assert len(dims) == len(io_shapes[o.name]), o.name
            for d, want in zip(dims, io_shapes[o.name]):
                if isinstance(want, str):
                    d.dim_param = want
                else:
                    d.dim_value = want
    model.producer_name = "omnifusion-desktop export.py"
    onnx.save(model, path)
    onnx.checker.check_model(path)
    files = [os.path.basename(path)]
    if os.path.exists(data_path):
        files.append(os.path.basename(data_path))
    return files


TRACE_WIDTH = 16


def _narrow_text_config(t: arch.TextConfig) -> arch.TextConfig:
    """Same decoder graph with tiny hidden/intermediate/vocab sizes, for tracing.

    torch 1.13's tracer clones every parameter (28 GB for Mistral-7B in fp32), so the decoder is
    traced at width 16. The graph never bakes these three sizes (only heads, KV heads and
    head_dim, which are kept); the real weights are attached afterwards by name.
    """
    return dataclasses.replace(t, hidden_size=TRACE_WIDTH, intermediate_size=TRACE_WIDTH, vocab_size=TRACE_WIDTH)


def export_embed_tokens(t: arch.TextConfig, getter, out_dir: str, dtype: str, external_mode="auto", io_shapes=None):
    """embed_tokens.onnx: input_ids i64 [batch_size,sequence_length] -> inputs_embeds f32 [..., hidden].
    Returns the file names written."""
    return export_graph(
        "embed_tokens", lambda d: EmbedTokensGraph(t, d), (torch.tensor([[1, 2, 3], [4, 5, 6]], dtype=torch.int64),),
        ["input_ids"], ["inputs_embeds"],
        {"input_ids": {0: "batch_size", 1: "sequence_length"}, "inputs_embeds": {0: "batch_size", 1: "sequence_length"}},
        getter, out_dir, dtype, external_mode, io_shapes=io_shapes)


def export_decoder(t: arch.TextConfig, build, getter, out_dir: str, dtype: str, external_mode="auto"):
    """decoder_model_merged.onnx for text config `t`; build(tcfg, device) makes the DecoderGraph
    (traced at `_narrow_text_config(t)`).

    inputs_embeds f32 [batch_size,sequence_length,hidden], attention_mask i64 [batch_size,total_sequence_length],
    position_ids i64 [batch_size,sequence_length], past_key_values.N.key/value f32
    [batch_size,kv_heads,past_sequence_length,head_dim] -> logits f32 [batch_size,sequence_length,vocab],
    present.N.key/value [batch_size,kv_heads,total_sequence_length,head_dim].
    Returns (file names written, past input names, present output names).
    """
    B, S, P = 2, 3, 4  # distinct sizes so nothing is specialised by accident
    past_names, present_names, past = [], [], []
    for i in range(t.num_hidden_layers):
        for kind in ("key", "value"):
            past_names.append(f"past_key_values.{i}.{kind}")
            present_names.append(f"present.{i}.{kind}")
            past.append(torch.zeros(B, t.num_key_value_heads, P, t.head_dim, dtype=torch.float32))
    dyn = {"inputs_embeds": {0: "batch_size", 1: "sequence_length"},
           "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
           "position_ids": {0: "batch_size", 1: "sequence_length"},
           "logits": {0: "batch_size", 1: "sequence_length"}}
    for n in past_names:
        dyn[n] = {0: "batch_size", 2: "past_sequence_length"}
    for n in present_names:
        dyn[n] = {0: "batch_size", 2: "total_sequence_length"}
    dummy = (torch.zeros(B, S, TRACE_WIDTH, dtype=torch.float64), torch.ones(B, P + S, dtype=torch.int64),
             torch.arange(P, P + S, dtype=torch.int64)[None].expand(B, S).contiguous(), *past)
    tn = _narrow_text_config(t)
    files = export_graph("decoder_model_merged", lambda d: build(t, d), dummy,
                         ["inputs_embeds", "attention_mask", "position_ids", *past_names],
                         ["logits", *present_names], dyn, getter, out_dir, dtype, external_mode,
                         io_shapes={"inputs_embeds": ["batch_size", "sequence_length", t.hidden_size],
                                    "logits": ["batch_size", "sequence_length", t.vocab_size]},
                         trace_factory=lambda d: build(tn, d))
    return files, past_names, present_names


# ---------------------------------------------------------------------------
# tokenizer: copy tokenizer.json, or convert SentencePiece tokenizer.model (HF LlamaConverter)
# ---------------------------------------------------------------------------


def sentencepiece_to_tokenizer_json(model_path: str, tokenizer_config: dict | None = None) -> dict:
    """Convert a Llama/Mistral SentencePiece BPE model to a HF tokenizer.json dict, as HF's
    LlamaConverter (legacy) does: BPE with byte_fallback, Prepend+Replace normalizer, merges from
    SentencePieceExtractor (all splits of each piece into two vocab pieces, sorted by score)."""
    try:
        import sentencepiece as spm
        from sentencepiece import sentencepiece_model_pb2 as sp_pb2
    except ImportError:
        raise ExportError("tokenizer.model needs python3-sentencepiece (apt-get install python3-sentencepiece)")
    proto = sp_pb2.ModelProto()
    with open(model_path, "rb") as f:
        proto.ParseFromString(f.read())
    if proto.trainer_spec.model_type != 2:
        raise ExportError(f"{model_path}: only SentencePiece BPE models are supported")
    sp = spm.SentencePieceProcessor(model_file=model_path)
    vocab_scores = [("<unk>", 0.0), ("<s>", 0.0), ("</s>", 0.0)]
    vocab_scores += [(p.piece, p.score) for p in proto.pieces[3:]]
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    merges = []
    for piece, score in vocab_scores:  # HF SentencePieceExtractor.extract(vocab_scores)
        local = []
        for i in range(1, len(piece)):
            l, r = piece[:i], piece[i:]
            if l in vocab and r in vocab:
                local.append((l, r, score))
        local.sort(key=lambda x: (vocab[x[0]], vocab[x[1]]))
        merges.extend(local)
    merges.sort(key=lambda x: x[2], reverse=True)  # stable, like Python's sorted in HF
    bpe_vocab = {w: i for i, (w, _) in enumerate(vocab_scores)}
    unk = proto.trainer_spec.unk_piece or "<unk>"
    added = []
    for i, content in enumerate(["<unk>", "<s>", "</s>"]):
        added.append({"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
                      "normalized": False, "special": True})
    # extra added tokens declared by tokenizer_config.json (ids beyond the three above)
    for sid, tok in sorted(((tokenizer_config or {}).get("added_tokens_decoder") or {}).items(), key=lambda kv: int(kv[0])):
        if int(sid) > 2:
            added.append({"id": int(sid), "content": tok["content"], "single_word": tok.get("single_word", False),
                          "lstrip": tok.get("lstrip", False), "rstrip": tok.get("rstrip", False),
                          "normalized": tok.get("normalized", False), "special": tok.get("special", True)})
    add_bos = (tokenizer_config or {}).get("add_bos_token", True)
    single = ([{"SpecialToken": {"id": "<s>", "type_id": 0}}] if add_bos else []) + [{"Sequence": {"id": "A", "type_id": 0}}]
    pair = single + ([{"SpecialToken": {"id": "<s>", "type_id": 1}}] if add_bos else []) + [{"Sequence": {"id": "B", "type_id": 1}}]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing", "single": single, "pair": pair,
                           "special_tokens": ({"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}} if add_bos else {})},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": unk, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True,
                  "vocab": bpe_vocab, "merges": [f"{l} {r}" for l, r, _ in merges]},
    }


DEFAULT_TOKENIZER_CONFIG = {
    "add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
    "pad_token": None, "clean_up_tokenization_spaces": False, "legacy": True, "model_max_length": 32768,
    "tokenizer_class": "LlamaTokenizer",
}


def write_tokenizer(tok_dir: str, out_dir: str) -> str:
    """Copy or convert the tokenizer into out_dir; returns 'copied' or 'converted'."""
    cfg_path = os.path.join(tok_dir, "tokenizer_config.json")
    cfg = arch.read_json(cfg_path) if os.path.isfile(cfg_path) else None
    tj = os.path.join(tok_dir, "tokenizer.json")
    sp_model = os.path.join(tok_dir, "tokenizer.model")
    if os.path.isfile(tj):
        shutil.copyfile(tj, os.path.join(out_dir, "tokenizer.json"))
        how = "copied"
    elif os.path.isfile(sp_model):
        data = sentencepiece_to_tokenizer_json(sp_model, cfg)
        with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=2)
        how = "converted"
    else:
        raise ExportError(f"{tok_dir} has neither tokenizer.json nor tokenizer.model")
    if cfg is not None:
        shutil.copyfile(cfg_path, os.path.join(out_dir, "tokenizer_config.json"))
    else:
        with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
            json.dump(DEFAULT_TOKENIZER_CONFIG, f, indent=2)
    return how


# ---------------------------------------------------------------------------
# package export (the one path for real and tiny checkpoints)
# ---------------------------------------------------------------------------


def _preprocessing(ck: arch.OmniFusionCheckpoint) -> dict:
    size = ck.vision_cfg.image_size
    p = ck.preprocessor or {}
    s = p.get("size", size)
    shortest = s.get("shortest_edge", size) if isinstance(s, dict) else int(s)
    c = p.get("crop_size", size)
    crop = {"height": int(c["height"]), "width": int(c["width"])} if isinstance(c, dict) else {"height": int(c), "width": int(c)}
    if crop != {"height": size, "width": size}:
        raise ExportError(f"preprocessor crop {crop} does not match CLIP image_size {size}")
    return {"kind": "clip", "shortest_edge": shortest, "crop_size": crop,
            "resample": PIL_RESAMPLE.get(p.get("resample", 3), "bicubic"),
            "rescale_factor": p.get("rescale_factor", 1 / 255),
            "image_mean": p.get("image_mean", CLIP_MEAN), "image_std": p.get("image_std", CLIP_STD)}


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_package(ck: arch.OmniFusionCheckpoint, out_dir: str, dtype: str, name: str, description: str,
                   source: dict, external_mode: str = "auto", log=print) -> dict:
    """Write the full model package for checkpoint `ck` into out_dir; returns the manifest."""
    os.makedirs(out_dir, exist_ok=True)
    for stale in ("vision_encoder.onnx_data", "embed_tokens.onnx_data", "decoder_model_merged.onnx_data"):
        if os.path.exists(os.path.join(out_dir, stale)):
            os.remove(os.path.join(out_dir, stale))
    t, v, a = ck.text_cfg, ck.vision_cfg, ck.adapter_cfg
    kv_dtype = "float16" if dtype == "fp16" else "float32"
    adapter_sd = {k: v_.detach() for k, v_ in ck.adapter.state_dict().items()}

    def vision_get(n):
        if n.startswith("adapter."):
            return adapter_sd[n[len("adapter."):]]
        return ck.clip_store.get(n)

    files = []
    log(f"[1/3] vision_encoder: CLIP {v.layers_used}/{v.num_hidden_layers} layers + adapter -> [N,{a.num_tokens},{a.text_dim}]")
    files += export_graph(
        "vision_encoder", lambda d: VisionEncoderGraph(v, a, d),
        (torch.zeros(2, v.num_channels, v.image_size, v.image_size, dtype=torch.float64),),
        ["pixel_values"], ["image_features"],
        {"pixel_values": {0: "num_images"}, "image_features": {0: "num_images"}},
        vision_get, out_dir, dtype, external_mode,
        io_shapes={"image_features": ["num_images", a.num_tokens, a.text_dim]})
    log("[2/3] embed_tokens")
    files += export_embed_tokens(t, ck.text_store.get, out_dir, dtype, external_mode)
    log(f"[3/3] decoder_model_merged: {t.num_hidden_layers} layers, {dtype}")
    dec_files, past_names, present_names = export_decoder(t, DecoderGraph, ck.text_store.get, out_dir, dtype,
                                                          external_mode)
    files += dec_files

    ck.special.to(torch.float32).numpy().astype("<f4").tofile(os.path.join(out_dir, "special_embeddings.bin"))
    files.append("special_embeddings.bin")
    tok_how = write_tokenizer(ck.tokenizer_dir, out_dir)
    files += ["tokenizer.json", "tokenizer_config.json"]

    kv_shape_in = ["batch_size", t.num_key_value_heads, "past_sequence_length", t.head_dim]
    kv_shape_out = ["batch_size", t.num_key_value_heads, "total_sequence_length", t.head_dim]
    dec_in = {"inputs_embeds": {"dtype": "float32", "shape": ["batch_size", "sequence_length", t.hidden_size]},
              "attention_mask": {"dtype": "int64", "shape": ["batch_size", "total_sequence_length"]},
              "position_ids": {"dtype": "int64", "shape": ["batch_size", "sequence_length"]}}
    for n in past_names:
        dec_in[n] = {"dtype": kv_dtype, "shape": kv_shape_in}
    dec_out = {"logits": {"dtype": "float32", "shape": ["batch_size", "sequence_length", t.vocab_size]}}
    for n in present_names:
        dec_out[n] = {"dtype": kv_dtype, "shape": kv_shape_out}

    def graph_entry(fname, inputs, outputs):
        e = {"file": fname, "inputs": inputs, "outputs": outputs}
        if os.path.exists(os.path.join(out_dir, fname + "_data")):
            e["external_data"] = fname + "_data"
        return e

    manifest = {
        "format": "omnifusion-model-package", "format_version": 1,
        "family": "omnifusion", "name": name, "description": description,
        "source": source,
        "graphs": {
            "vision_encoder": graph_entry(
                "vision_encoder.onnx",
                {"pixel_values": {"dtype": "float32", "shape": ["num_images", v.num_channels, v.image_size, v.image_size]}},
                {"image_features": {"dtype": "float32", "shape": ["num_images", a.num_tokens, t.hidden_size]}}),
            "embed_tokens": graph_entry(
                "embed_tokens.onnx",
                {"input_ids": {"dtype": "int64", "shape": ["batch_size", "sequence_length"]}},
                {"inputs_embeds": {"dtype": "float32", "shape": ["batch_size", "sequence_length", t.hidden_size]}}),
            "decoder_model_merged": graph_entry("decoder_model_merged.onnx", dec_in, dec_out),
        },
        "text_config": {"hidden_size": t.hidden_size, "num_hidden_layers": t.num_hidden_layers,
                        "num_attention_heads": t.num_attention_heads, "num_key_value_heads": t.num_key_value_heads,
                        "head_dim": t.head_dim, "intermediate_size": t.intermediate_size, "vocab_size": t.vocab_size,
                        "rope_theta": float(t.rope_theta), "rms_norm_eps": t.rms_norm_eps,
                        "max_position_embeddings": t.max_position_embeddings,
                        "bos_token_id": t.bos_token_id, "eos_token_id": t.eos_token_id, "kv_cache_dtype": kv_dtype},
        "vision_config": {"image_size": v.image_size, "patch_size": v.patch_size, "hidden_size": v.hidden_size,
                          "num_hidden_layers": v.num_hidden_layers, "select_layer": v.select_layer,
                          "num_image_tokens": a.num_tokens},
        "preprocessing": _preprocessing(ck),
        "prompt": {"system": SYSTEM_PROMPT, "add_bos_token": False, "image": ["SOI", "<image>", "EOI"],
                   "turn": ["USER", "<question>", "BOT"], "answer_follows_bot": True, "ocr_text": OCR_TEXT},
        "special_embeddings": {"file": "special_embeddings.bin", "dtype": "float32",
                               "shape": [4, t.hidden_size], "names": list(arch.SPECIAL_NAMES)},
        "tokenizer": {"file": "tokenizer.json", "config_file": "tokenizer_config.json"},
        # OmniFusion README generation settings (bad words "\n", "</s>", ":" plus id 13 = <0x0A>;
        # eos = pad = forced_eos = 2 in its gen_answer)
        "generation": {"max_new_tokens": 50, "num_beams": 3, "early_stopping": True, "length_penalty": 1.0,
                       "do_sample": False, "no_repeat_ngram_size": 4,
                       "repetition_penalty": 1.0, "eos_token_id": t.eos_token_id,
                       "forced_eos_token_id": t.eos_token_id,
                       "bad_words": ["\n", "</s>", ":"], "bad_words_ids": [[13]]},
        "files": {f: {"bytes": os.path.getsize(os.path.join(out_dir, f)), "sha256": _sha256(os.path.join(out_dir, f))}
                  for f in sorted(files)},
    }
    with open(os.path.join(out_dir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=False)
        f.write("\n")
    total = sum(e["bytes"] for e in manifest["files"].values())
    log(f"package {out_dir}: {name}, {dtype}, tokenizer {tok_how}, {len(files)} files, {total / 1e6:.1f} MB")
    return manifest


# ---------------------------------------------------------------------------
# tiny random checkpoint in the public layout
# ---------------------------------------------------------------------------


def _tiny_init(seed: int, name: str, shape) -> torch.Tensor:
    """Deterministic per-(seed, name) init with a spread that gives non-flat logits."""
    h = hashlib.sha256(f"omnifusion-tiny:{seed}:{name}".encode()).digest()
    g = torch.Generator().manual_seed(int.from_bytes(h[:8], "little") & ((1 << 63) - 1))
    x = torch.randn(*shape, generator=g, dtype=torch.float32)
    leaf = name.rsplit(".", 1)[-1]
    is_norm = any(s in name for s in ("norm", "layrnorm", "layer_norm"))
    if len(shape) == 1 and is_norm and leaf == "weight":
        return 1.0 + 0.1 * x
    if leaf.endswith("bias"):
        return 0.1 * x
    if name.endswith("embed_tokens.weight") or name.endswith("class_embedding") or name in arch.SPECIAL_NAMES:
        return x
    if name.endswith("position_embedding.weight"):
        return 0.5 * x
    if name == "lm_head.weight":
        return x * (2.0 / shape[1] ** 0.5)  # logits std ~2 after the unit-RMS final norm
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
    return x / fan_in ** 0.5


def write_tiny_checkpoint(folder: str, seed: int, tokenizer_json: str, text_sizes: dict | None = None) -> None:
    """Write a random tiny OmniFusion checkpoint laid out like OmniMistral-v1_1 (+ clip/).

    text_sizes overrides TINY_TEXT fields (the benchmark uses a larger decoder).
    """
    if not os.path.isfile(tokenizer_json):
        raise ExportError(f"tokenizer file {tokenizer_json} does not exist")
    unknown = set(text_sizes or {}) - set(TINY_TEXT)
    if unknown:
        raise ExportError(f"--tiny-text: unknown field(s) {', '.join(sorted(unknown))}")
    tcfg = arch.TextConfig(**{**TINY_TEXT, **(text_sizes or {})})
    vcfg = arch.VisionConfig(**TINY_VISION)
    tuned = os.path.join(folder, "tuned-model")
    clip_dir = os.path.join(folder, "clip")
    tok_dir = os.path.join(folder, "tokenizer")
    for d in (tuned, clip_dir, tok_dir):
        os.makedirs(d, exist_ok=True)

    lm = arch.MistralForCausalLM(tcfg, device="meta")
    lm_sd = {n: _tiny_init(seed, n, p.shape) for n, p in lm.named_parameters()}
    shard1 = {n: w for n, w in lm_sd.items() if n.startswith("model.embed_tokens.") or n.startswith("model.layers.0.")}
    shard2 = {n: w for n, w in lm_sd.items() if n not in shard1}
    weight_map = {}
    for i, part in enumerate((shard1, shard2), 1):
        fname = f"model-{i:05d}-of-00002.safetensors"
        arch.write_safetensors(os.path.join(tuned, fname), part, {"format": "pt"})
        weight_map.update({n: fname for n in part})
    total = sum(w.numel() * w.element_size() for w in lm_sd.values())
    with open(os.path.join(tuned, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
    cfg = tcfg.to_hf()
    cfg["omnifusion_tiny_seed"] = seed
    with open(os.path.join(tuned, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)

    clip = arch.CLIPVisionModel(vcfg, device="meta")
    clip_sd = {n: _tiny_init(seed, n, p.shape) for n, p in clip.named_parameters()}
    arch.write_safetensors(os.path.join(clip_dir, "model.safetensors"), clip_sd, {"format": "pt"})
    with open(os.path.join(clip_dir, "config.json"), "w") as f:
        json.dump({"architectures": ["CLIPModel"], "model_type": "clip", "vision_config": vcfg.to_hf()}, f, indent=2)
    with open(os.path.join(clip_dir, "preprocessor_config.json"), "w") as f:  # old-style, like openai's file
        json.dump({"crop_size": vcfg.image_size, "do_center_crop": True, "do_normalize": True, "do_resize": True,
                   "feature_extractor_type": "CLIPFeatureExtractor", "image_mean": CLIP_MEAN, "image_std": CLIP_STD,
                   "resample": 3, "size": vcfg.image_size}, f, indent=2)

    adapter = arch.VisualToGPTMapping(vcfg.hidden_size, tcfg.hidden_size, vcfg.num_patches, TINY_ADAPTER_HEADS)
    with torch.no_grad():
        for n, p in adapter.named_parameters():
            p.copy_(_tiny_init(seed, "adapter." + n, p.shape))
    adapter.train()  # the public projection.pt was pickled in train mode too
    arch.save_projection(adapter, os.path.join(folder, "projection.pt"))
    special = {n: _tiny_init(seed, n, (tcfg.hidden_size,)) for n in arch.SPECIAL_NAMES}
    torch.save(special, os.path.join(folder, "special_embeddings.pt"))

    shutil.copyfile(tokenizer_json, os.path.join(tok_dir, "tokenizer.json"))
    tcfg_path = os.path.join(os.path.dirname(os.path.abspath(tokenizer_json)), "tokenizer_config.json")
    if os.path.isfile(tcfg_path):
        shutil.copyfile(tcfg_path, os.path.join(tok_dir, "tokenizer_config.json"))
    else:
        with open(os.path.join(tok_dir, "tokenizer_config.json"), "w") as f:
            json.dump(DEFAULT_TOKENIZER_CONFIG, f, indent=2)


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Export OmniFusion 1.1 (or a tiny random model) to an ONNX package.")
    ap.add_argument("--checkpoint", help="OmniMistral-v1_1 folder (tuned-model/, projection.pt, special_embeddings.pt, tokenizer/)")
    ap.add_argument("--clip", help="openai/clip-vit-large-patch14-336 folder (config.json + model.safetensors); "
                                   "default: CHECKPOINT/clip")
    ap.add_argument("--out", required=True, help="package folder to write")
    ap.add_argument("--dtype", choices=["fp16", "fp32"], help="weights / KV cache dtype (default fp16, tiny: fp32)")
    ap.add_argument("--name", help="package name (default omnifusion-1.1 / omnifusion-tiny)")
    ap.add_argument("--revision", help="source revision (HF commit) recorded in the manifest")
    ap.add_argument("--external-data", choices=["auto", "always"], default="auto",
                    help="store weights in <graph>.onnx_data: auto = when a graph's weights exceed 1.5 GB")
    ap.add_argument("--tiny", action="store_true", help="build a tiny random-weight model (tests)")
    ap.add_argument("--seed", type=int, default=0, help="tiny: random seed")
    ap.add_argument("--tokenizer", help="tiny: path to a Llama-style tokenizer.json (tokenizer_config.json beside it is copied)")
    ap.add_argument("--checkpoint-out", help="tiny: where to write the tiny checkpoint (default: a temporary folder)")
    ap.add_argument("--tiny-text", type=json.loads, default=None,
                    help='tiny: JSON overrides of the decoder sizes, e.g. {"hidden_size": 512, "num_hidden_layers": 8}')
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))

    tmp = None
    try:
        if args.tiny:
            if args.checkpoint:
                ap.error("--tiny writes its own checkpoint; use --checkpoint-out, not --checkpoint")
            if not args.tokenizer:
                ap.error("--tiny needs --tokenizer PATH/tokenizer.json")
            ck_dir = args.checkpoint_out or (tmp := tempfile.mkdtemp(prefix="omnifusion-tiny-"))
            write_tiny_checkpoint(ck_dir, args.seed, args.tokenizer, args.tiny_text)
            clip_dir = os.path.join(ck_dir, "clip")
            dtype = args.dtype or "fp32"
            name = args.name or "omnifusion-tiny"
            description = (f"Tiny random-weight OmniFusion (seed {args.seed}) for tests: same architecture and "
                           f"package layout as OmniFusion 1.1, meaningless outputs.")
            source = {"checkpoint": "tiny-random (export.py --tiny)", "revision": None, "tiny_seed": args.seed}
            print(f"tiny checkpoint written to {ck_dir}")
        else:
            if not args.checkpoint:
                ap.error("--checkpoint DIR is required (or --tiny)")
            ck_dir, clip_dir = args.checkpoint, args.clip
            dtype = args.dtype or "fp16"
            name = args.name or "omnifusion-1.1"
            description = ("OmniFusion 1.1 (AIRI): Mistral-7B decoder, CLIP ViT-L/14-336 (layer -2, 576 tokens), "
                           "one-layer 4-head transformer adapter. arXiv 2404.06212.")
            source = {"checkpoint": "AIRI-Institute/OmniFusion/OmniMistral-v1_1 + openai/clip-vit-large-patch14-336",
                      "revision": args.revision, "tiny_seed": None}
        try:
            ck = arch.open_checkpoint(ck_dir, clip_dir)
        except (FileNotFoundError, ValueError, KeyError) as e:
            raise ExportError(str(e).strip("'\""))
        export_package(ck, args.out, dtype, name, description, source, args.external_data)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

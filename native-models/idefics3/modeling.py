"""Idefics3 (SmolVLM, granite-docling) in plain PyTorch, with Hugging Face parameter names.

Checkpoint layout (`Idefics3ForConditionalGeneration`, e.g. HuggingFaceTB/SmolVLM-256M-Instruct):
`model.vision_model.*` (SigLIP-style tower with NaViT position buckets), `model.connector.
modality_projection.proj.weight` (pixel shuffle + Linear, no bias), `model.text_model.*` (Llama),
`lm_head.weight`; config.json with `vision_config`, `text_config`, `scale_factor`, `image_token_id`.

Two forwards of the vision tower:
* `reference_forward`: Hugging Face's code path (transformers 4.46 `Idefics3Model.forward` image
  branch), with its Python loop over images for the position buckets and the padding-image drop;
* `VisionEncoderGraph.forward`: the same maths vectorised so that it traces into one ONNX graph with
  dynamic batch / image counts (`pixel_values` [B,N,3,H,W] + `pixel_attention_mask` [B,N,H,W] ->
  `image_features` [M,T,D] with M the real (non-padding) images).

The text decoder is Llama, which is OmniFusion's Mistral code without a sliding window, so
../omnifusion/arch.py's `MistralForCausalLM` (no-cache forward for the reference, KV-cache forward
for the export) is reused with the names mapped (`model.layers.*` <-> `model.text_model.layers.*`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

_OMNIFUSION = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "omnifusion")
if _OMNIFUSION not in sys.path:
    sys.path.insert(0, _OMNIFUSION)
import arch  # noqa: E402  (../omnifusion/arch.py: safetensors, TextConfig, MistralForCausalLM)

F32_MIN = float(torch.finfo(torch.float32).min)


@dataclasses.dataclass
class VisionConfig:
    """Idefics3VisionConfig (SigLIP sizes); defaults are SmolVLM-256M's."""
    hidden_size: int = 768
    intermediate_size: int = 3072
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    num_channels: int = 3
    image_size: int = 512
    patch_size: int = 16
    hidden_act: str = "gelu_pytorch_tanh"
    layer_norm_eps: float = 1e-6

    @property
    def num_patches_per_side(self) -> int:
        return self.image_size // self.patch_size

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_hf(cls, v: dict) -> "VisionConfig":
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v[k] for k in fields if k in v})


@dataclasses.dataclass
class Idefics3Config:
    vision: VisionConfig
    text: arch.TextConfig
    scale_factor: int
    image_token_id: int
    raw: dict

    @property
    def image_seq_len(self) -> int:
        """Image tokens per 512² tile: (image_size / patch)² / scale_factor² (64 for SmolVLM)."""
        return (self.vision.num_patches_per_side ** 2) // (self.scale_factor ** 2)

    @classmethod
    def from_hf(cls, cfg: dict) -> "Idefics3Config":
        if cfg.get("model_type") not in ("idefics3", "smolvlm"):
            raise ValueError(f"config.json model_type is {cfg.get('model_type')!r}, expected idefics3 or smolvlm")
        t = dict(cfg.get("text_config") or {})
        if t.get("model_type", "llama") != "llama":
            raise ValueError(f"text_config.model_type {t.get('model_type')!r} is not supported (llama only)")
        if t.get("rope_scaling"):
            raise ValueError("text_config.rope_scaling is not supported")
        fields = {f.name for f in dataclasses.fields(arch.TextConfig)}
        tk = {k: t[k] for k in fields if k in t}
        tk["sliding_window"] = None  # Llama: full causal attention
        tk.setdefault("vocab_size", cfg.get("vocab_size", 32000))
        text = arch.TextConfig(**tk)
        vision = VisionConfig.from_hf(cfg.get("vision_config") or {})
        scale = int(cfg.get("scale_factor", 2))
        nps = vision.num_patches_per_side
        if nps % scale:
            raise ValueError(f"scale_factor {scale} does not divide the {nps}-patch grid")
        return cls(vision, text, scale, int(cfg["image_token_id"]), cfg)


# ---------------------------------------------------------------------------
# vision tower (HF Idefics3VisionTransformer names)
# ---------------------------------------------------------------------------


def _act(name: str, x: torch.Tensor) -> torch.Tensor:
    if name in ("gelu_pytorch_tanh", "gelu_new", "gelu_fast"):
        return F.gelu(x, approximate="tanh")
    if name == "gelu":
        return F.gelu(x)
    raise ValueError(f"unsupported vision hidden_act {name}")


class VisionEmbeddings(nn.Module):
    def __init__(self, c: VisionConfig, device=None):
        super().__init__()
        self.c = c
        self.patch_embedding = nn.Conv2d(c.num_channels, c.hidden_size, c.patch_size, c.patch_size, device=device)
        self.position_embedding = nn.Embedding(c.num_patches_per_side ** 2, c.hidden_size, device=device)


class VisionAttention(nn.Module):
    def __init__(self, c: VisionConfig, device=None):
        super().__init__()
        self.c = c
        d = c.hidden_size
        self.k_proj = nn.Linear(d, d, device=device)
        self.v_proj = nn.Linear(d, d, device=device)
        self.q_proj = nn.Linear(d, d, device=device)
        self.out_proj = nn.Linear(d, d, device=device)

    def forward(self, x: torch.Tensor, key_valid: Optional[torch.Tensor]) -> torch.Tensor:
        """x [M,P,D]; key_valid bool [M,P] or None (all valid)."""
        c = self.c
        m, p, d = x.shape
        h, hd = c.num_attention_heads, c.head_dim
        q = self.q_proj(x).reshape(m, p, h, hd).transpose(1, 2)
        k = self.k_proj(x).reshape(m, p, h, hd).transpose(1, 2)
        v = self.v_proj(x).reshape(m, p, h, hd).transpose(1, 2)
        w = torch.matmul(q, k.transpose(2, 3)) * (hd ** -0.5)
        if key_valid is not None:
            w = torch.where(key_valid[:, None, None, :], w, torch.tensor(F32_MIN, dtype=w.dtype))
        w = torch.softmax(w.float(), dim=-1).to(x.dtype)
        o = torch.matmul(w, v).transpose(1, 2).reshape(m, p, d)
        return self.out_proj(o)


class VisionMLP(nn.Module):
    def __init__(self, c: VisionConfig, device=None):
        super().__init__()
        self.act = c.hidden_act
        self.fc1 = nn.Linear(c.hidden_size, c.intermediate_size, device=device)
        self.fc2 = nn.Linear(c.intermediate_size, c.hidden_size, device=device)

    def forward(self, x):
        return self.fc2(_act(self.act, self.fc1(x)))


class VisionEncoderLayer(nn.Module):
    def __init__(self, c: VisionConfig, device=None):
        super().__init__()
        self.self_attn = VisionAttention(c, device)
        self.layer_norm1 = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps, device=device)
        self.mlp = VisionMLP(c, device)
        self.layer_norm2 = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps, device=device)

    def forward(self, x, key_valid):
        x = x + self.self_attn(self.layer_norm1(x), key_valid)
        return x + self.mlp(self.layer_norm2(x))


class VisionEncoder(nn.Module):
    def __init__(self, c: VisionConfig, device=None):
        super().__init__()
        self.layers = nn.ModuleList([VisionEncoderLayer(c, device) for _ in range(c.num_hidden_layers)])


class VisionTransformer(nn.Module):
    def __init__(self, c: VisionConfig, device=None):
        super().__init__()
        self.c = c
        self.embeddings = VisionEmbeddings(c, device)
        self.encoder = VisionEncoder(c, device)
        self.post_layernorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps, device=device)

    def run(self, embeddings: torch.Tensor, key_valid: Optional[torch.Tensor]) -> torch.Tensor:
        x = embeddings
        for layer in self.encoder.layers:
            x = layer(x, key_valid)
        return self.post_layernorm(x)


class ModalityProjection(nn.Module):
    def __init__(self, d_in: int, d_out: int, device=None):
        super().__init__()
        self.proj = nn.Linear(d_in, d_out, bias=False, device=device)


class Connector(nn.Module):
    """Idefics3Connector: pixel shuffle (space-to-depth by scale_factor) + Linear."""

    def __init__(self, vc: VisionConfig, text_hidden: int, scale_factor: int, device=None):
        super().__init__()
        self.scale_factor = scale_factor
        self.modality_projection = ModalityProjection(vc.hidden_size * scale_factor ** 2, text_hidden, device)

    @staticmethod
    def pixel_shuffle(x: torch.Tensor, height: int, width: int, s: int) -> torch.Tensor:
        """HF pixel_shuffle on a height×width patch grid ([M, h*w, D] -> [M, h*w/s², D*s²])."""
        bsz, _, d = x.shape
        x = x.reshape(bsz, height, width, d)
        x = x.reshape(bsz, height, width // s, d * s)
        x = x.permute(0, 2, 1, 3)
        x = x.reshape(bsz, width // s, height // s, d * s * s)
        x = x.permute(0, 2, 1, 3)
        return x.reshape(bsz, (height // s) * (width // s), d * s * s)

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        return self.modality_projection.proj(self.pixel_shuffle(x, height, width, self.scale_factor))


class VisionStack(nn.Module):
    """`model.vision_model` + `model.connector` under a `model.` prefix (checkpoint names)."""

    def __init__(self, cfg: Idefics3Config, device=None):
        super().__init__()
        self.cfg = cfg
        self.model = nn.Module()
        self.model.vision_model = VisionTransformer(cfg.vision, device)
        self.model.connector = Connector(cfg.vision, cfg.text.hidden_size, cfg.scale_factor, device)

    # -- Hugging Face's code path (reference) --------------------------------

    def reference_forward(self, pixel_values: torch.Tensor, pixel_attention_mask: Optional[torch.Tensor]) -> torch.Tensor:
        """transformers 4.46 Idefics3Model.forward, image branch: [B,N,3,H,W] (+ mask [B,N,H,W]) ->
        image_hidden_states [M, image_seq_len, text_hidden] for the M non-padding images."""
        vc = self.cfg.vision
        vm = self.model.vision_model
        b, n, ch, hgt, wid = pixel_values.shape
        pv = pixel_values.reshape(b * n, ch, hgt, wid)
        nb_values = ch * hgt * wid
        real = (pv == 0.0).sum(dim=(-1, -2, -3)) != nb_values
        if not real.any():
            real[0] = True
        pv = pv[real].contiguous()
        if pixel_attention_mask is None:
            pam = torch.ones(pv.shape[0], hgt, wid, dtype=torch.bool)
        else:
            pam = pixel_attention_mask.reshape(b * n, hgt, wid)[real].contiguous()
        p = vc.patch_size
        sub = pam.unfold(dimension=1, size=p, step=p).unfold(dimension=2, size=p, step=p)
        patch_mask = sub.sum(dim=(-1, -2)) > 0  # [M, hp, wp]
        # Idefics3VisionEmbeddings.forward
        emb = vm.embeddings
        x = emb.patch_embedding(pv).flatten(2).transpose(1, 2)
        m, hp, wp = patch_mask.shape
        nps = vc.num_patches_per_side
        boundaries = torch.arange(1 / nps, 1.0, 1 / nps)
        position_ids = torch.full((m, hp * wp), 0, dtype=torch.int64)
        for i, pm in enumerate(patch_mask):
            nb_h = pm[:, 0].sum()
            nb_w = pm[0].sum()
            fh = torch.arange(0, 1 - 1e-6, 1 / nb_h)
            fw = torch.arange(0, 1 - 1e-6, 1 / nb_w)
            bh = torch.bucketize(fh, boundaries, right=True)
            bw = torch.bucketize(fw, boundaries, right=True)
            ids = (bh[:, None] * nps + bw).flatten()
            position_ids[i][pm.view(-1)] = ids
        x = x + emb.position_embedding(position_ids)
        flat_mask = patch_mask.reshape(m, -1)
        key_valid = None if bool(flat_mask.all()) else flat_mask
        x = vm.run(x, key_valid)
        return self.model.connector(x, hp, wp)

    # -- the export graph ------------------------------------------------------

    def forward(self, pixel_values: torch.Tensor, pixel_attention_mask: torch.Tensor) -> torch.Tensor:
        """Vectorised reference_forward for tracing; same results for every input (see module doc)."""
        vc = self.cfg.vision
        vm = self.model.vision_model
        b, n, ch, hgt, wid = pixel_values.shape
        pv = pixel_values.reshape(b * n, ch, hgt, wid)
        pam = pixel_attention_mask.reshape(b * n, hgt, wid)
        zeros = (pv == 0.0).to(torch.int64).sum(dim=(1, 2, 3))
        real = zeros != ch * hgt * wid
        first = torch.arange(real.shape[0]) == 0
        real = real | (first & ~real.any())  # keep image 0 when every image is padding (as HF)
        keep = torch.nonzero(real).reshape(-1)
        pv = torch.index_select(pv, 0, keep)
        pam = torch.index_select(pam, 0, keep)
        p = vc.patch_size
        m = pv.shape[0]
        hp = hgt // p
        wp = wid // p
        patch_mask = pam.to(torch.int64).reshape(m, hp, p, wp, p).sum(dim=(2, 4)) > 0  # [M,hp,wp]
        emb = vm.embeddings
        x = emb.patch_embedding(pv).flatten(2).transpose(1, 2)
        nps = vc.num_patches_per_side
        boundaries = torch.arange(1, nps, dtype=torch.float32) / nps  # arange(1/nps, 1, 1/nps), exact
        nb_h = patch_mask[:, :, 0].to(torch.int64).sum(dim=1).to(torch.float32)  # [M]
        nb_w = patch_mask[:, 0, :].to(torch.int64).sum(dim=1).to(torch.float32)
        fh = torch.arange(hp, dtype=torch.float32)[None, :] * (1.0 / nb_h[:, None])  # [M,hp] = arange(0,1,1/nb)
        fw = torch.arange(wp, dtype=torch.float32)[None, :] * (1.0 / nb_w[:, None])
        bh = (fh[:, :, None] >= boundaries).to(torch.int64).sum(dim=-1)  # bucketize(right=True)
        bw = (fw[:, :, None] >= boundaries).to(torch.int64).sum(dim=-1)
        pos = bh[:, :, None] * nps + bw[:, None, :]  # [M,hp,wp]
        pos = torch.where(patch_mask, pos, torch.zeros_like(pos)).reshape(m, hp * wp)
        x = x + emb.position_embedding(pos)
        x = vm.run(x, patch_mask.reshape(m, hp * wp))
        return self.model.connector(x, hp, wp)


# ---------------------------------------------------------------------------
# text decoder: Llama = ../omnifusion/arch.py Mistral without sliding window
# ---------------------------------------------------------------------------


def text_name(name: str) -> str:
    """Decoder module parameter name -> Idefics3 checkpoint name."""
    if name.startswith("model."):
        return "model.text_model." + name[len("model."):]
    return name  # lm_head.weight


# ---------------------------------------------------------------------------
# checkpoint
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class Checkpoint:
    root: str
    cfg: Idefics3Config
    store: arch.TensorStore

    def get(self, name: str) -> torch.Tensor:
        if name == "lm_head.weight" and name not in self.store and self.cfg.text.tie_word_embeddings:
            return self.store.get("model.text_model.embed_tokens.weight")
        return self.store.get(name)


def open_checkpoint(root: str) -> Checkpoint:
    """A Hugging Face Idefics3 folder: config.json + model.safetensors (or sharded)."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"checkpoint folder {root} does not exist")
    cfg = Idefics3Config.from_hf(arch.read_json(os.path.join(root, "config.json")))
    return Checkpoint(root, cfg, arch.TensorStore.from_dir(root))


def build_reference_models(ck: Checkpoint):
    """fp32 eager modules: (VisionStack, MistralForCausalLM with Llama weights)."""
    vision = VisionStack(ck.cfg, device="meta").to_empty(device="cpu")
    arch.load_params(vision, ck.get)
    lm = arch.MistralForCausalLM(ck.cfg.text, device="meta").to_empty(device="cpu")
    arch.load_params(lm, lambda n: ck.get(text_name(n)))
    return vision.eval(), lm.eval()

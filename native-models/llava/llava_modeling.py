"""LLaVA (llava-interleave-qwen-0.5b layout) in plain PyTorch, with Hugging Face parameter names.

Checkpoint (`LlavaForConditionalGeneration`, llava-hf naming as stored in the safetensors):
`vision_tower.vision_model.*` (SigLIP: Conv2d patch embedding with bias, learned positions,
pre-LN encoder layers, post_layernorm), `multi_modal_projector.linear_1/linear_2` (Linear, GELU,
Linear), `language_model.model.*` (Qwen2: Llama with q/k/v biases) and `language_model.lm_head.weight`
(absent when tie_word_embeddings). config.json: model_type llava, vision_config (siglip_vision_model),
text_config (qwen2), image_token_index, vision_feature_layer, vision_feature_select_strategy,
projector_hidden_act.

Image features: hidden_states[vision_feature_layer] of the tower (the embeddings output is
hidden_states[0], so -1 is the last encoder layer, before post_layernorm); 'default' drops the
first position (a CLS token), 'full' keeps all; then the projector -> [N, (H/p)·(W/p), text_hidden].
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (os.path.join(HERE, "..", "idefics3"), os.path.join(HERE, "..", "omnifusion")):
    if _p not in sys.path:
        sys.path.insert(0, _p)
import arch  # noqa: E402  ../omnifusion/arch.py
import modeling as i3  # noqa: E402  ../idefics3/modeling.py (SigLIP encoder layers)


@dataclasses.dataclass
class LlavaConfig:
    vision: i3.VisionConfig
    text: arch.TextConfig
    image_token_index: int
    vision_feature_layer: int
    select_strategy: str
    projector_act: str
    raw: dict

    @property
    def patches(self) -> int:
        return (self.vision.image_size // self.vision.patch_size) ** 2

    @property
    def image_seq_len(self) -> int:
        return self.patches - (1 if self.select_strategy == "default" else 0)

    @property
    def layers_used(self) -> int:
        n = self.vision.num_hidden_layers
        k = self.vision_feature_layer
        used = n + 1 + k if k < 0 else k
        if not 0 <= used <= n:
            raise ValueError(f"vision_feature_layer {k} out of range for {n} layers")
        return used

    @classmethod
    def from_hf(cls, cfg: dict) -> "LlavaConfig":
        if cfg.get("model_type") != "llava":
            raise ValueError(f"config.json model_type is {cfg.get('model_type')!r}, expected llava")
        t = dict(cfg.get("text_config") or {})
        if t.get("model_type") not in ("qwen2", "llama"):
            raise ValueError(f"text_config.model_type {t.get('model_type')!r} is not supported (qwen2, llama)")
        if t.get("rope_scaling"):
            raise ValueError("text_config.rope_scaling is not supported")
        fields = {f.name for f in dataclasses.fields(arch.TextConfig)}
        tk = {k: t[k] for k in fields if k in t}
        tk["sliding_window"] = None  # use_sliding_window false
        tk["tie_word_embeddings"] = bool(t.get("tie_word_embeddings", cfg.get("tie_word_embeddings", False)))
        text = arch.TextConfig(**tk)
        vision = i3.VisionConfig.from_hf(cfg.get("vision_config") or {})
        layer = cfg.get("vision_feature_layer", -2)
        if not isinstance(layer, int):
            raise ValueError("only a single vision_feature_layer is supported")
        strategy = cfg.get("vision_feature_select_strategy", "default")
        if strategy not in ("default", "full"):
            raise ValueError(f"vision_feature_select_strategy {strategy!r} is not supported")
        c = cls(vision, text, int(cfg.get("image_token_index", cfg.get("image_token_id", 32000))), layer, strategy,
                cfg.get("projector_hidden_act", "gelu"), cfg)
        c.layers_used  # range check
        return c


class SiglipEmbeddings(nn.Module):
    def __init__(self, c: i3.VisionConfig, device=None):
        super().__init__()
        self.patch_embedding = nn.Conv2d(c.num_channels, c.hidden_size, c.patch_size, c.patch_size, device=device)
        self.position_embedding = nn.Embedding((c.image_size // c.patch_size) ** 2, c.hidden_size, device=device)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = self.patch_embedding(pixel_values).flatten(2).transpose(1, 2)
        return x + self.position_embedding.weight[None]


class SiglipVisionTransformer(nn.Module):
    def __init__(self, c: i3.VisionConfig, num_layers: int, post_layernorm: bool, device=None):
        super().__init__()
        self.embeddings = SiglipEmbeddings(c, device)
        self.encoder = i3.VisionEncoder(dataclasses.replace(c, num_hidden_layers=num_layers), device)
        if post_layernorm:
            self.post_layernorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps, device=device)

    def hidden_states(self, pixel_values: torch.Tensor) -> List[torch.Tensor]:
        """HF output_hidden_states: [embeddings output, after layer 1, …]."""
        x = self.embeddings(pixel_values)
        out = [x]
        for layer in self.encoder.layers:
            x = layer(x, None)
            out.append(x)
        return out


class Projector(nn.Module):
    def __init__(self, d_in: int, d_out: int, act: str, device=None):
        super().__init__()
        self.act = act
        self.linear_1 = nn.Linear(d_in, d_out, device=device)
        self.linear_2 = nn.Linear(d_out, d_out, device=device)

    def forward(self, x):
        h = self.linear_1(x)
        if self.act == "gelu":
            h = F.gelu(h)
        elif self.act in ("gelu_pytorch_tanh", "gelu_new"):
            h = F.gelu(h, approximate="tanh")
        else:
            raise ValueError(f"unsupported projector_hidden_act {self.act}")
        return self.linear_2(h)


class VisionStack(nn.Module):
    """`vision_tower.vision_model` + `multi_modal_projector` (checkpoint names).

    full=True builds every layer and post_layernorm (the checkpoint, for the reference);
    full=False only the layers the features come from (the export graph: unused weights would
    not be graph inputs).
    """

    def __init__(self, cfg: LlavaConfig, full: bool, device=None):
        super().__init__()
        self.cfg = cfg
        n = cfg.vision.num_hidden_layers if full else cfg.layers_used
        self.vision_tower = nn.Module()
        self.vision_tower.vision_model = SiglipVisionTransformer(cfg.vision, n, full, device)
        self.multi_modal_projector = Projector(cfg.vision.hidden_size, cfg.text.hidden_size, cfg.projector_act, device)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """pixel_values [N,3,H,W] -> image_features [N, image_seq_len, text_hidden]."""
        hs = self.vision_tower.vision_model.hidden_states(pixel_values)
        sel = hs[self.cfg.layers_used]
        if self.cfg.select_strategy == "default":
            sel = sel[:, 1:]
        return self.multi_modal_projector(sel)


def qwen2_attention_biases(lm: arch.MistralForCausalLM, device=None) -> arch.MistralForCausalLM:
    """Qwen2 = Llama with biases on q/k/v (not o): swap those Linear modules for biased ones."""
    t = lm.cfg
    for layer in lm.model.layers:
        a = layer.self_attn
        a.q_proj = nn.Linear(t.hidden_size, t.num_attention_heads * t.head_dim, bias=True, device=device)
        a.k_proj = nn.Linear(t.hidden_size, t.num_key_value_heads * t.head_dim, bias=True, device=device)
        a.v_proj = nn.Linear(t.hidden_size, t.num_key_value_heads * t.head_dim, bias=True, device=device)
    return lm


def is_qwen2(cfg: LlavaConfig) -> bool:
    return (cfg.raw.get("text_config") or {}).get("model_type") == "qwen2"


def text_name(name: str) -> str:
    """Decoder module parameter name -> llava-hf checkpoint name."""
    return "language_model." + name


@dataclasses.dataclass
class Checkpoint:
    root: str
    cfg: LlavaConfig
    store: arch.TensorStore

    def get(self, name: str) -> torch.Tensor:
        if name == "language_model.lm_head.weight" and name not in self.store and self.cfg.text.tie_word_embeddings:
            return self.store.get("language_model.model.embed_tokens.weight")
        return self.store.get(name)


def open_checkpoint(root: str) -> Checkpoint:
    if not os.path.isdir(root):
        raise FileNotFoundError(f"checkpoint folder {root} does not exist")
    cfg = LlavaConfig.from_hf(arch.read_json(os.path.join(root, "config.json")))
    return Checkpoint(root, cfg, arch.TensorStore.from_dir(root))


def build_lm(cfg: LlavaConfig, device=None, cls=arch.MistralForCausalLM, tcfg: Optional[arch.TextConfig] = None):
    lm = cls(tcfg or cfg.text, device=device)
    return qwen2_attention_biases(lm, device) if is_qwen2(cfg) else lm


def build_reference_models(ck: Checkpoint):
    vision = VisionStack(ck.cfg, full=True, device="meta").to_empty(device="cpu")
    arch.load_params(vision, ck.get)
    lm = build_lm(ck.cfg, device="meta").to_empty(device="cpu")
    arch.load_params(lm, lambda n: ck.get(text_name(n)))
    return vision.eval(), lm.eval()

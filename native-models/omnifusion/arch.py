"""OmniFusion 1.1 inference architecture in plain PyTorch (arXiv 2404.06212).

Parameter names follow Hugging Face (`CLIPVisionModel`, `MistralForCausalLM`) so that
the public checkpoints load by state_dict; the adapter is the pickled
`models.VisualToGPTMapping` module of the OmniFusion repository.

Precision: every module computes in the dtype of its parameters ("lo") and does the
numerically sensitive parts (softmax, RMSNorm statistics, RoPE angles, masks, graph
inputs/outputs) in `hp_dtype` ("hi", float32).  The ONNX exporter traces fp16 graphs
with lo=float32 / hi=float64 and then rewrites the types (float32->float16,
float64->float32), because torch 1.13 has no fp16 kernels on CPU; see `set_hp_dtype`.

Also here: a minimal safetensors reader/writer (the Python package is not available),
config readers and the checkpoint loaders shared by export.py and reference.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import os
import pickle
import struct
import sys
import types
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

F32_MIN = float(torch.finfo(torch.float32).min)

# ---------------------------------------------------------------------------
# safetensors (format: u64 LE header length, JSON header, raw little-endian bytes)
# ---------------------------------------------------------------------------

_ST_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}
_ST_NAMES = {v: k for k, v in _ST_DTYPES.items()}

if sys.byteorder != "little":  # raw buffers below are reinterpreted in host order
    raise RuntimeError("safetensors helpers assume a little-endian host")


class SafetensorsFile:
    """Lazy reader of one .safetensors file: the header is parsed, tensors are read on `get`."""

    def __init__(self, path: str):
        self.path = path
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) != 8:
                raise ValueError(f"{path}: not a safetensors file (too short)")
            (n,) = struct.unpack("<Q", raw)
            if n > 100_000_000:
                raise ValueError(f"{path}: implausible safetensors header length {n}")
            header = json.loads(f.read(n).decode("utf-8"))
        self.data_start = 8 + n
        self.metadata = header.pop("__metadata__", None) or {}
        self.entries = header
        for name, e in header.items():
            if e["dtype"] not in _ST_DTYPES:
                raise ValueError(f"{path}: tensor {name} has unsupported dtype {e['dtype']}")

    def keys(self) -> List[str]:
        return list(self.entries.keys())

    def shape(self, name: str) -> List[int]:
        return list(self.entries[name]["shape"])

    def get(self, name: str) -> torch.Tensor:
        """Read tensor `name` (dtype as stored, shape as in the header)."""
        e = self.entries[name]
        dtype = _ST_DTYPES[e["dtype"]]
        begin, end = e["data_offsets"]
        shape = list(e["shape"])
        if end == begin:
            return torch.empty(shape, dtype=dtype)
        with open(self.path, "rb") as f:
            f.seek(self.data_start + begin)
            buf = bytearray(f.read(end - begin))
        if len(buf) != end - begin:
            raise ValueError(f"{self.path}: truncated data for {name}")
        return torch.frombuffer(buf, dtype=dtype).reshape(shape)


def read_safetensors(path: str) -> Dict[str, torch.Tensor]:
    """Read every tensor of a .safetensors file into a dict (stored dtypes)."""
    st = SafetensorsFile(path)
    return {k: st.get(k) for k in st.keys()}


def write_safetensors(path: str, tensors: Dict[str, torch.Tensor], metadata: Optional[Dict[str, str]] = None) -> None:
    """Write tensors (F32/F16/BF16/ints) to `path`; names sorted so the bytes are deterministic."""
    header: Dict[str, object] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        if t.dtype not in _ST_NAMES:
            raise ValueError(f"unsupported dtype {t.dtype} for {name}")
        data = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": _ST_NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)  # the reference writer pads the header to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


class TensorStore:
    """Name -> tensor source over one or several safetensors files (lazy)."""

    def __init__(self, files: Dict[str, SafetensorsFile], where: Dict[str, str]):
        self.files = files
        self.where = where

    @classmethod
    def from_dir(cls, folder: str, single_names: Sequence[str] = ("model.safetensors",)) -> "TensorStore":
        """Open a HF weights folder: `model.safetensors.index.json` (sharded) or one safetensors file."""
        index = os.path.join(folder, "model.safetensors.index.json")
        if os.path.isfile(index):
            with open(index) as f:
                weight_map = json.load(f)["weight_map"]
            files = {}
            for shard in sorted(set(weight_map.values())):
                p = os.path.join(folder, shard)
                if not os.path.isfile(p):
                    raise FileNotFoundError(f"missing shard {p} (listed in {index})")
                files[shard] = SafetensorsFile(p)
            where = {}
            for name, shard in weight_map.items():
                if name not in files[shard].entries:
                    raise ValueError(f"{shard} lacks tensor {name} listed in the index")
                where[name] = shard
            return cls(files, where)
        for s in single_names:
            p = os.path.join(folder, s)
            if os.path.isfile(p):
                st = SafetensorsFile(p)
                return cls({s: st}, {k: s for k in st.keys()})
        p = os.path.join(folder, "pytorch_model.bin")
        if os.path.isfile(p):  # older HF repos (e.g. some CLIP revisions) ship only the pickle
            return cls.from_state_dict(torch.load(p, map_location="cpu"))
        raise FileNotFoundError(f"no model.safetensors.index.json, {'/'.join(single_names)} or pytorch_model.bin in {folder}")

    @classmethod
    def from_state_dict(cls, sd: Dict[str, torch.Tensor]) -> "TensorStore":
        obj = cls({}, {})
        obj._sd = dict(sd)
        obj.where = {k: "<memory>" for k in sd}
        return obj

    def keys(self) -> List[str]:
        return list(self.where.keys())

    def __contains__(self, name: str) -> bool:
        return name in self.where

    def shape(self, name: str) -> List[int]:
        if hasattr(self, "_sd"):
            return list(self._sd[name].shape)
        return self.files[self.where[name]].shape(name)

    def get(self, name: str) -> torch.Tensor:
        if name not in self.where:
            raise KeyError(f"tensor {name} not found in checkpoint")
        if hasattr(self, "_sd"):
            return self._sd[name]
        return self.files[self.where[name]].get(name)


# ---------------------------------------------------------------------------
# configs
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class VisionConfig:
    """CLIP vision tower sizes (HF CLIPVisionConfig names)."""
    image_size: int = 224
    patch_size: int = 32
    hidden_size: int = 768
    intermediate_size: int = 3072
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    num_channels: int = 3
    hidden_act: str = "quick_gelu"
    layer_norm_eps: float = 1e-5
    select_layer: int = -2  # OmniFusion / LLaVA: hidden_states[-2], CLS dropped

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def layers_used(self) -> int:
        # hidden_states has L+1 entries (embeddings output first); index s<0 -> L+1+s layers run
        n = self.num_hidden_layers + 1 + self.select_layer
        if not 0 <= n <= self.num_hidden_layers:
            raise ValueError(f"select_layer {self.select_layer} out of range")
        return n

    @classmethod
    def from_hf(cls, cfg: dict) -> "VisionConfig":
        """Accept a CLIPConfig (with `vision_config`) or a CLIPVisionConfig dict."""
        v = cfg.get("vision_config", cfg) or {}
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v[k] for k in fields if k in v})

    def to_hf(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("select_layer")
        d["model_type"] = "clip_vision_model"
        return d


@dataclasses.dataclass
class TextConfig:
    """Mistral decoder sizes (HF MistralConfig names)."""
    hidden_size: int = 4096
    intermediate_size: int = 14336
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    num_key_value_heads: int = 8
    head_dim: Optional[int] = None
    vocab_size: int = 32000
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    sliding_window: Optional[int] = 4096
    bos_token_id: int = 1
    eos_token_id: int = 2
    hidden_act: str = "silu"
    tie_word_embeddings: bool = False
    max_position_embeddings: int = 32768
    torch_dtype: str = "bfloat16"

    def __post_init__(self):
        if self.head_dim is None:
            self.head_dim = self.hidden_size // self.num_attention_heads
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")

    @classmethod
    def from_hf(cls, cfg: dict) -> "TextConfig":
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: cfg[k] for k in fields if k in cfg})

    def to_hf(self) -> dict:
        d = dataclasses.asdict(self)
        d.update({"architectures": ["MistralForCausalLM"], "model_type": "mistral"})
        return d


def read_json(path: str) -> dict:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"missing file {path}")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# ---------------------------------------------------------------------------
# precision helper
# ---------------------------------------------------------------------------


def set_hp_dtype(module: nn.Module, dtype: torch.dtype) -> nn.Module:
    """Set the high-precision dtype (softmax, norms statistics, RoPE, I/O) on every submodule."""
    for m in module.modules():
        m.hp_dtype = dtype
    return module


def _lo(module: nn.Module) -> torch.dtype:
    return next(module.parameters()).dtype


# ---------------------------------------------------------------------------
# CLIP vision tower (HF CLIPVisionModel names)
# ---------------------------------------------------------------------------


class CLIPAttention(nn.Module):
    hp_dtype = torch.float32

    def __init__(self, cfg: VisionConfig, device=None):
        super().__init__()
        d = cfg.hidden_size
        self.num_heads = cfg.num_attention_heads
        self.head_dim = cfg.head_dim
        self.scale = self.head_dim ** -0.5
        self.q_proj = nn.Linear(d, d, device=device)
        self.k_proj = nn.Linear(d, d, device=device)
        self.v_proj = nn.Linear(d, d, device=device)
        self.out_proj = nn.Linear(d, d, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, s, d = x.shape
        q = (self.q_proj(x) * self.scale).reshape(n, s, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).reshape(n, s, self.num_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).reshape(n, s, self.num_heads, self.head_dim).transpose(1, 2)
        w = torch.softmax(torch.matmul(q, k.transpose(-1, -2)).to(self.hp_dtype), dim=-1).to(x.dtype)
        o = torch.matmul(w, v).transpose(1, 2).reshape(n, s, d)
        return self.out_proj(o)


class CLIPMLP(nn.Module):
    def __init__(self, cfg: VisionConfig, device=None):
        super().__init__()
        self.act = cfg.hidden_act
        self.fc1 = nn.Linear(cfg.hidden_size, cfg.intermediate_size, device=device)
        self.fc2 = nn.Linear(cfg.intermediate_size, cfg.hidden_size, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc1(x)
        if self.act == "quick_gelu":
            h = h * torch.sigmoid(1.702 * h)
        elif self.act == "gelu":
            h = F.gelu(h)
        else:
            raise ValueError(f"unsupported CLIP hidden_act {self.act}")
        return self.fc2(h)


class CLIPEncoderLayer(nn.Module):
    def __init__(self, cfg: VisionConfig, device=None):
        super().__init__()
        self.self_attn = CLIPAttention(cfg, device)
        self.layer_norm1 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps, device=device)
        self.mlp = CLIPMLP(cfg, device)
        self.layer_norm2 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class CLIPVisionEmbeddings(nn.Module):
    def __init__(self, cfg: VisionConfig, device=None):
        super().__init__()
        self.class_embedding = nn.Parameter(torch.empty(cfg.hidden_size, device=device))
        self.patch_embedding = nn.Conv2d(cfg.num_channels, cfg.hidden_size, cfg.patch_size, cfg.patch_size,
                                         bias=False, device=device)
        self.position_embedding = nn.Embedding(cfg.num_patches + 1, cfg.hidden_size, device=device)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        p = self.patch_embedding(pixel_values).flatten(2).transpose(1, 2)  # [N, P, D]
        cls = self.class_embedding.reshape(1, 1, -1).expand(p.shape[0], 1, p.shape[2])
        return torch.cat([cls, p], dim=1) + self.position_embedding.weight.unsqueeze(0)


class CLIPEncoder(nn.Module):
    def __init__(self, cfg: VisionConfig, num_layers: int, device=None):
        super().__init__()
        self.layers = nn.ModuleList([CLIPEncoderLayer(cfg, device) for _ in range(num_layers)])


class CLIPVisionTransformer(nn.Module):
    hp_dtype = torch.float32

    def __init__(self, cfg: VisionConfig, num_layers: Optional[int] = None, post_layernorm: bool = True, device=None):
        super().__init__()
        self.cfg = cfg
        self.embeddings = CLIPVisionEmbeddings(cfg, device)
        self.pre_layrnorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps, device=device)  # sic (HF name)
        self.encoder = CLIPEncoder(cfg, cfg.num_hidden_layers if num_layers is None else num_layers, device)
        if post_layernorm:  # in the checkpoint, unused by OmniFusion
            self.post_layernorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps, device=device)

    def hidden_states(self, pixel_values: torch.Tensor) -> List[torch.Tensor]:
        """All hidden states like HF `output_hidden_states=True`: [pre_layrnorm out, layer1, ...]."""
        x = self.pre_layrnorm(self.embeddings(pixel_values.to(_lo(self))))
        out = [x]
        for layer in self.encoder.layers:
            x = layer(x)
            out.append(x)
        return out

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """pixel_values [N,3,H,W] -> selected-layer patch features [N, num_patches, D] (CLS dropped)."""
        hs = self.hidden_states(pixel_values)
        if len(hs) == self.cfg.num_hidden_layers + 1:
            sel = hs[self.cfg.select_layer]
        elif len(hs) == self.cfg.layers_used + 1:  # truncated tower built for export
            sel = hs[-1]
        else:
            raise ValueError("tower depth does not match select_layer")
        return sel[:, 1:]


class CLIPVisionModel(nn.Module):
    """HF CLIPVisionModel: parameters under `vision_model.`."""

    def __init__(self, cfg: VisionConfig, num_layers: Optional[int] = None, post_layernorm: bool = True, device=None):
        super().__init__()
        self.vision_model = CLIPVisionTransformer(cfg, num_layers, post_layernorm, device)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.vision_model(pixel_values)


# ---------------------------------------------------------------------------
# adapter: the OmniFusion class (pickled as models.VisualToGPTMapping)
# ---------------------------------------------------------------------------


class VisualToGPTMapping(nn.Module):
    """OmniFusion adapter: one post-norm TransformerEncoderLayer + Linear.

    visual_embs [N, num_gpt_embs, visual_emb_dim] -> [N, num_gpt_embs, gpt_emb_dim].
    Same code as OmniFusion's models.py so that its pickle (projection.pt) loads.
    """

    def __init__(self, visual_emb_dim, gpt_emb_dim, num_gpt_embs, num_heads):
        super(VisualToGPTMapping, self).__init__()
        self.transformer_layer = nn.TransformerEncoderLayer(d_model=visual_emb_dim, nhead=num_heads,
                                                            batch_first=True, norm_first=False)
        self.linear = nn.Linear(visual_emb_dim, gpt_emb_dim)
        self.n_embeddings = num_gpt_embs
        self.embedding_dim = gpt_emb_dim

    def forward(self, visual_embs):
        out = self.transformer_layer(visual_embs)
        out = self.linear(out).view(-1, self.n_embeddings, self.embedding_dim)
        return out


# The pickle names the class `models.VisualToGPTMapping`; this module object stands in for
# OmniFusion's models.py while pickling or unpickling.
_models_module = types.ModuleType("models")
_models_module.VisualToGPTMapping = VisualToGPTMapping
_models_module.nn = nn
_models_module.torch = torch


@contextlib.contextmanager
def omnifusion_models_alias():
    """Temporarily make `models.VisualToGPTMapping` resolve to our class (pickle needs it)."""
    saved = sys.modules.get("models")
    orig_module = VisualToGPTMapping.__module__
    sys.modules["models"] = _models_module
    VisualToGPTMapping.__module__ = "models"
    try:
        yield
    finally:
        VisualToGPTMapping.__module__ = orig_module
        if saved is None:
            sys.modules.pop("models", None)
        else:
            sys.modules["models"] = saved


def save_projection(module: VisualToGPTMapping, path: str) -> None:
    """Pickle the adapter module as OmniFusion does (`torch.save(self.projection)`)."""
    with omnifusion_models_alias():
        torch.save(module, path)


def load_projection(path: str) -> nn.Module:
    """Unpickle OmniFusion's projection.pt (a whole nn.Module) and switch it to eval mode.

    It was saved in train mode: without eval() dropout (p=0.1) stays active.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"missing adapter file {path}")
    with omnifusion_models_alias():
        obj = torch.load(path, map_location="cpu")
    if isinstance(obj, dict):
        raise ValueError(f"{path} holds a dict, expected a pickled VisualToGPTMapping module")
    return obj.float().eval()


@dataclasses.dataclass
class AdapterConfig:
    visual_dim: int
    text_dim: int
    num_tokens: int
    num_heads: int
    ffn_dim: int
    layer_norm_eps: float
    activation: str
    norm_first: bool

    @classmethod
    def from_module(cls, m: nn.Module) -> "AdapterConfig":
        layer = m.transformer_layer
        act = getattr(layer, "activation", F.relu)
        if act is F.relu or isinstance(act, nn.ReLU) or act == "relu":
            act_name = "relu"
        elif act is F.gelu or isinstance(act, nn.GELU) or act == "gelu":
            act_name = "gelu"
        else:
            raise ValueError(f"unsupported adapter activation {act!r}")
        return cls(visual_dim=m.linear.in_features, text_dim=m.linear.out_features,
                   num_tokens=int(m.n_embeddings), num_heads=int(layer.self_attn.num_heads),
                   ffn_dim=layer.linear1.out_features, layer_norm_eps=float(layer.norm1.eps),
                   activation=act_name, norm_first=bool(getattr(layer, "norm_first", False)))


class _PlainMHA(nn.Module):
    def __init__(self, d, device=None):
        super().__init__()
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d, d, device=device))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * d, device=device))
        self.out_proj = nn.Linear(d, d, device=device)


class _PlainEncoderLayer(nn.Module):
    def __init__(self, c: AdapterConfig, device=None):
        super().__init__()
        self.self_attn = _PlainMHA(c.visual_dim, device)
        self.linear1 = nn.Linear(c.visual_dim, c.ffn_dim, device=device)
        self.linear2 = nn.Linear(c.ffn_dim, c.visual_dim, device=device)
        self.norm1 = nn.LayerNorm(c.visual_dim, eps=c.layer_norm_eps, device=device)
        self.norm2 = nn.LayerNorm(c.visual_dim, eps=c.layer_norm_eps, device=device)


class AdapterPlain(nn.Module):
    """VisualToGPTMapping rebuilt with plain ops for ONNX export (no fused fast path).

    Parameter names equal the pickled module's state_dict. [N, T, Dv] -> [N, T, Dt].
    """
    hp_dtype = torch.float32

    def __init__(self, c: AdapterConfig, device=None):
        super().__init__()
        self.c = c
        self.transformer_layer = _PlainEncoderLayer(c, device)
        self.linear = nn.Linear(c.visual_dim, c.text_dim, device=device)

    def _sa(self, x):
        a = self.transformer_layer.self_attn
        n, s, d = x.shape
        h = self.c.num_heads
        hd = d // h
        qkv = F.linear(x, a.in_proj_weight, a.in_proj_bias)
        q, k, v = qkv.split(d, dim=-1)
        q = q.reshape(n, s, h, hd).transpose(1, 2) / math.sqrt(hd)  # as torch's MHA: q / sqrt(E)
        k = k.reshape(n, s, h, hd).transpose(1, 2)
        v = v.reshape(n, s, h, hd).transpose(1, 2)
        w = torch.softmax(torch.matmul(q, k.transpose(-1, -2)).to(self.hp_dtype), dim=-1).to(x.dtype)
        o = torch.matmul(w, v).transpose(1, 2).reshape(n, s, d)
        return a.out_proj(o)

    def _ff(self, x):
        l = self.transformer_layer
        h = l.linear1(x)
        h = F.relu(h) if self.c.activation == "relu" else F.gelu(h)
        return l.linear2(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        l = self.transformer_layer
        if self.c.norm_first:
            x = x + self._sa(l.norm1(x))
            x = x + self._ff(l.norm2(x))
        else:
            x = l.norm1(x + self._sa(x))
            x = l.norm2(x + self._ff(x))
        return self.linear(x).reshape(-1, self.c.num_tokens, self.c.text_dim)


# ---------------------------------------------------------------------------
# Mistral decoder (HF MistralForCausalLM names)
# ---------------------------------------------------------------------------


class MistralRMSNorm(nn.Module):
    hp_dtype = torch.float32

    def __init__(self, d: int, eps: float, device=None):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(d, device=device))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.to(self.hp_dtype)  # statistics in fp32 as HF does
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class MistralAttention(nn.Module):
    hp_dtype = torch.float32

    def __init__(self, cfg: TextConfig, device=None):
        super().__init__()
        self.cfg = cfg
        H, D, KV = cfg.num_attention_heads, cfg.head_dim, cfg.num_key_value_heads
        self.q_proj = nn.Linear(cfg.hidden_size, H * D, bias=False, device=device)
        self.k_proj = nn.Linear(cfg.hidden_size, KV * D, bias=False, device=device)
        self.v_proj = nn.Linear(cfg.hidden_size, KV * D, bias=False, device=device)
        self.o_proj = nn.Linear(H * D, cfg.hidden_size, bias=False, device=device)

    def forward(self, x, cos, sin, allowed, past_k=None, past_v=None):
        """x [B,S,hidden]; cos/sin [B,1,S,D]; allowed bool [B|1,1,S,T]; past [B,KV,P,D].

        Returns (out [B,S,hidden], k [B,KV,T,D], v [B,KV,T,D]) with T = P + S.
        """
        c = self.cfg
        B, S = x.shape[0], x.shape[1]
        q = self.q_proj(x).reshape(B, S, c.num_attention_heads, c.head_dim).transpose(1, 2)
        k = self.k_proj(x).reshape(B, S, c.num_key_value_heads, c.head_dim).transpose(1, 2)
        v = self.v_proj(x).reshape(B, S, c.num_key_value_heads, c.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past_k is not None:
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
        kr, vr = self._repeat_kv(k), self._repeat_kv(v)
        scores = torch.matmul(q, kr.transpose(2, 3)) / math.sqrt(c.head_dim)
        scores = torch.where(allowed, scores.to(self.hp_dtype), torch.tensor(F32_MIN, dtype=self.hp_dtype))
        w = torch.softmax(scores, dim=-1).to(x.dtype)
        o = torch.matmul(w, vr).transpose(1, 2).reshape(B, S, c.num_attention_heads * c.head_dim)
        return self.o_proj(o), k, v

    def _repeat_kv(self, t: torch.Tensor) -> torch.Tensor:
        # expand+reshape, not repeat_interleave: the latter exports with a frozen shape (torch 1.13)
        n_rep = self.cfg.num_attention_heads // self.cfg.num_key_value_heads
        if n_rep == 1:
            return t
        b, kv, T, d = t.shape
        return t[:, :, None, :, :].expand(b, kv, n_rep, T, d).reshape(b, kv * n_rep, T, d)


class MistralMLP(nn.Module):
    def __init__(self, cfg: TextConfig, device=None):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False, device=device)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False, device=device)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False, device=device)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class MistralDecoderLayer(nn.Module):
    def __init__(self, cfg: TextConfig, device=None):
        super().__init__()
        self.self_attn = MistralAttention(cfg, device)
        self.mlp = MistralMLP(cfg, device)
        self.input_layernorm = MistralRMSNorm(cfg.hidden_size, cfg.rms_norm_eps, device)
        self.post_attention_layernorm = MistralRMSNorm(cfg.hidden_size, cfg.rms_norm_eps, device)

    def forward(self, x, cos, sin, allowed, past_k=None, past_v=None):
        a, k, v = self.self_attn(self.input_layernorm(x), cos, sin, allowed, past_k, past_v)
        x = x + a
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x, k, v


class MistralModel(nn.Module):
    def __init__(self, cfg: TextConfig, with_embeddings: bool = True, device=None):
        super().__init__()
        if with_embeddings:
            self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size, device=device)
        self.layers = nn.ModuleList([MistralDecoderLayer(cfg, device) for _ in range(cfg.num_hidden_layers)])
        self.norm = MistralRMSNorm(cfg.hidden_size, cfg.rms_norm_eps, device)


class MistralForCausalLM(nn.Module):
    """Mistral decoder. `forward`: full sequence, no cache; `forward_with_cache`: the export graph."""
    hp_dtype = torch.float32

    def __init__(self, cfg: TextConfig, with_embeddings: bool = True, device=None):
        super().__init__()
        self.cfg = cfg
        self.model = MistralModel(cfg, with_embeddings, device)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False, device=device)

    def embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        """input_ids int64 [B,S] -> embeddings [B,S,hidden] (parameter dtype)."""
        return F.embedding(input_ids, self.model.embed_tokens.weight)

    def _rope(self, position_ids: torch.Tensor, dtype: torch.dtype):
        # inv_freq computed in float32 exactly as HF does, then widened if hp is float64 (trace only)
        d = self.cfg.head_dim
        inv_freq = 1.0 / (self.cfg.rope_theta ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
        ang = position_ids.to(self.hp_dtype)[:, :, None] * inv_freq.to(self.hp_dtype)[None, None, :]
        emb = torch.cat([ang, ang], dim=-1)  # [B,S,D]
        return emb.cos().to(dtype)[:, None], emb.sin().to(dtype)[:, None]

    def _run(self, x, position_ids, allowed, past, last_only=False):
        cos, sin = self._rope(position_ids, x.dtype)
        presents = []
        for i, layer in enumerate(self.model.layers):
            pk, pv = (past[2 * i], past[2 * i + 1]) if past is not None else (None, None)
            x, k, v = layer(x, cos, sin, allowed, pk, pv)
            presents += [k, v]
        if last_only:
            x = x[:, -1:]
        logits = self.lm_head(self.model.norm(x)).to(self.hp_dtype)
        return logits, presents

    def forward(self, inputs_embeds: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
                position_ids: Optional[torch.Tensor] = None, last_only: bool = False) -> torch.Tensor:
        """Plain forward, no cache. inputs_embeds [B,L,hidden] -> logits fp32 [B,L,vocab]
        ([B,1,vocab] with last_only).

        attention_mask int [B,L] (1 keep, 0 pad), default all ones; position_ids default 0..L-1.
        """
        B, L = inputs_embeds.shape[:2]
        x = inputs_embeds.to(_lo(self))
        if position_ids is None:
            position_ids = torch.arange(L, dtype=torch.int64)[None].expand(B, L)
        i = torch.arange(L)
        allowed = i[None, :] <= i[:, None]
        if self.cfg.sliding_window:
            allowed = allowed & (i[:, None] - i[None, :] < self.cfg.sliding_window)
        allowed = allowed[None, None]
        if attention_mask is not None:
            allowed = allowed & attention_mask[:, None, None, :].bool()
        return self._run(x, position_ids, allowed, None, last_only)[0]

    def forward_with_cache(self, inputs_embeds, attention_mask, position_ids, past: Sequence[torch.Tensor]):
        """Export forward.

        inputs_embeds hp [B,S,hidden]; attention_mask int64 [B,P+S]; position_ids int64 [B,S];
        past: 2*layers tensors [B,KV,P,D] (key, value per layer; P may be 0).
        Returns logits hp [B,S,vocab] and presents [B,KV,P+S,D]. The causal + padding mask is
        built inside from the dynamic shapes.
        """
        x = inputs_embeds.to(_lo(self))
        S = x.shape[1]
        T = attention_mask.shape[1]
        kpos = torch.arange(T, dtype=torch.int64)
        qpos = torch.arange(S, dtype=torch.int64) + (T - S)
        allowed = kpos[None, :] <= qpos[:, None]
        if self.cfg.sliding_window:
            allowed = allowed & (qpos[:, None] - kpos[None, :] < self.cfg.sliding_window)
        allowed = allowed[None, None] & (attention_mask[:, None, None, :] > 0)
        return self._run(x, position_ids, allowed, list(past))


# ---------------------------------------------------------------------------
# checkpoint loading (real OmniFusion 1.1 layout; the tiny one is written in the same layout)
# ---------------------------------------------------------------------------

SPECIAL_NAMES = ("SOI", "EOI", "USER", "BOT")


def load_special_embeddings(path: str, hidden: int) -> torch.Tensor:
    """special_embeddings.pt (dict SOI/EOI/USER/BOT) -> float32 [4, hidden] in that order."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"missing special embeddings file {path}")
    obj = torch.load(path, map_location="cpu")
    if hasattr(obj, "items"):
        obj = dict(obj.items())
    else:
        raise ValueError(f"{path}: expected a dict of special embeddings")
    rows = []
    for n in SPECIAL_NAMES:
        if n not in obj:
            raise ValueError(f"{path}: missing key {n} (has {sorted(obj)})")
        t = obj[n].detach().float().reshape(-1)
        if t.numel() != hidden:
            raise ValueError(f"{path}: {n} has {t.numel()} values, expected {hidden}")
        rows.append(t)
    return torch.stack(rows)


@dataclasses.dataclass
class OmniFusionCheckpoint:
    """Paths and configs of an OmniFusion 1.1 checkpoint folder plus its CLIP folder."""
    root: str
    clip_dir: str
    text_cfg: TextConfig
    vision_cfg: VisionConfig
    text_store: TensorStore
    clip_store: TensorStore
    adapter: nn.Module            # the unpickled VisualToGPTMapping, eval mode, fp32
    adapter_cfg: AdapterConfig
    special: torch.Tensor         # float32 [4, hidden]
    tokenizer_dir: str
    preprocessor: Optional[dict]  # CLIP preprocessor_config.json, if present
    raw_text_config: dict


def open_checkpoint(root: str, clip_dir: Optional[str] = None) -> OmniFusionCheckpoint:
    """Open `OmniMistral-v1_1`-style folder (tuned-model/, projection.pt, special_embeddings.pt,
    tokenizer/) and a HF CLIP folder (config.json + model.safetensors); default clip: root/clip."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"checkpoint folder {root} does not exist")
    tuned = os.path.join(root, "tuned-model")
    if not os.path.isdir(tuned):
        raise FileNotFoundError(f"missing {tuned} (the Mistral weights folder)")
    clip_dir = clip_dir or os.path.join(root, "clip")
    if not os.path.isdir(clip_dir):
        raise FileNotFoundError(f"CLIP folder {clip_dir} does not exist (pass --clip)")
    raw_text = read_json(os.path.join(tuned, "config.json"))
    text_cfg = TextConfig.from_hf(raw_text)
    vision_cfg = VisionConfig.from_hf(read_json(os.path.join(clip_dir, "config.json")))
    text_store = TensorStore.from_dir(tuned)
    clip_store = TensorStore.from_dir(clip_dir)
    adapter = load_projection(os.path.join(root, "projection.pt"))
    acfg = AdapterConfig.from_module(adapter)
    if acfg.visual_dim != vision_cfg.hidden_size or acfg.text_dim != text_cfg.hidden_size:
        raise ValueError(f"adapter {acfg.visual_dim}->{acfg.text_dim} does not fit CLIP {vision_cfg.hidden_size} "
                         f"/ LLM {text_cfg.hidden_size}")
    if acfg.num_tokens != vision_cfg.num_patches:
        raise ValueError(f"adapter makes {acfg.num_tokens} tokens, CLIP gives {vision_cfg.num_patches} patches")
    special = load_special_embeddings(os.path.join(root, "special_embeddings.pt"), text_cfg.hidden_size)
    tok = os.path.join(root, "tokenizer")
    if not os.path.isdir(tok):
        raise FileNotFoundError(f"missing tokenizer folder {tok}")
    pre = os.path.join(clip_dir, "preprocessor_config.json")
    pre_cfg = read_json(pre) if os.path.isfile(pre) else None
    return OmniFusionCheckpoint(root, clip_dir, text_cfg, vision_cfg, text_store, clip_store, adapter, acfg,
                                special, tok, pre_cfg, raw_text)


def load_params(module: nn.Module, get, dtype: torch.dtype = torch.float32) -> nn.Module:
    """Fill every parameter of `module` from get(name) -> tensor (cast to dtype); strict."""
    for name, p in module.named_parameters():
        t = get(name)
        if list(t.shape) != list(p.shape):
            raise ValueError(f"{name}: checkpoint shape {list(t.shape)} != model shape {list(p.shape)}")
        with torch.no_grad():
            p.data = t.to(dtype).clone()
    return module


def clip_tensor_getter(store: TensorStore):
    """CLIP weights: accept CLIPVisionModel or full CLIPModel checkpoints (`vision_model.*`)."""
    return store.get


def build_reference_models(ck: OmniFusionCheckpoint):
    """fp32 eager models for the PyTorch reference: (clip CLIPVisionModel, adapter (pickled), lm)."""
    clip = CLIPVisionModel(ck.vision_cfg, device="meta").to_empty(device="cpu")
    load_params(clip, clip_tensor_getter(ck.clip_store))
    lm = MistralForCausalLM(ck.text_cfg, device="meta").to_empty(device="cpu")
    load_params(lm, ck.text_store.get)
    return clip.eval(), ck.adapter.eval(), lm.eval()

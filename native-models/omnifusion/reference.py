#!/usr/bin/python3
"""PyTorch reference outputs for OmniFusion model-package parity tests.

    /usr/bin/python3 reference.py --checkpoint CK --cases cases.json --out reference.json

CK is a checkpoint folder in the OmniFusion 1.1 layout (as written by `export.py --tiny
--checkpoint-out CK`), loaded with the same loaders as the real one; the adapter is the
ORIGINAL pickled nn.TransformerEncoderLayer module in eval mode (not the ONNX rebuild), and
the decoder runs full-sequence forwards without a KV cache, so the reference is independent
of the export rewrites.

cases.json (paths relative to its folder; .f32 = raw little-endian float32):
  {"cases": [{"name", "pixel_values_file", "pixel_values_shape", "prompt_ids",
              "turns": [{"question_ids", "answer_ids"?}, ...],
              "generation": {"max_new_tokens", "eos_token_id", "repetition_penalty",
                             "no_repeat_ngram_size", "bad_words_ids",
                             "num_beams"? (default 1 = greedy), "length_penalty"? (1.0),
                             "early_stopping"? (false, HF's default; true or "never")},
              "save_tensors": bool}]}
Each output case repeats the input fields and adds expected_token_ids, min_margin,
inputs_embeds_length and (save_tensors) image_features_file/_shape, first_step_logits_file.
Beam cases (num_beams > 1) also get expected_beam_score, beam_margins, beam_steps,
beam_early_stopped and beam_hypotheses; see `beam_search` for the semantics and min_margin.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Dict, List, Sequence

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import arch  # noqa: E402


def fail(msg: str) -> None:
    raise SystemExit(f"reference.py: error: {msg}")


# ---------------------------------------------------------------------------
# HF-semantics logits processors (generated ids only: with inputs_embeds there are no prompt ids)
# ---------------------------------------------------------------------------


def apply_repetition_penalty(scores: torch.Tensor, generated: Sequence[int], penalty: float) -> None:
    """HF RepetitionPenaltyLogitsProcessor: divide positive / multiply negative logits of seen ids."""
    if penalty == 1.0 or not generated:
        return
    ids = torch.tensor(sorted(set(generated)), dtype=torch.int64)
    s = scores[ids]
    scores[ids] = torch.where(s < 0, s * penalty, s / penalty)


def no_repeat_ngram_banned(generated: Sequence[int], n: int) -> List[int]:
    """HF NoRepeatNGramLogitsProcessor: tokens that would complete an n-gram already generated."""
    if n <= 0 or len(generated) + 1 < n:
        return []
    seen: Dict[tuple, List[int]] = {}
    for i in range(len(generated) - n + 1):
        ng = tuple(generated[i:i + n])
        seen.setdefault(ng[:-1], []).append(ng[-1])
    prefix = tuple(generated[len(generated) - n + 1:]) if n > 1 else ()
    return seen.get(prefix, [])


def bad_words_banned(generated: Sequence[int], bad_words_ids: Sequence[Sequence[int]], eos: int) -> List[int]:
    """HF NoBadWordsLogitsProcessor: a sequence bans its last token when the tokens before it
    equal the end of the generated ids (single tokens always). `[eos]` is dropped, as HF does."""
    out = []
    for seq in bad_words_ids:
        seq = list(seq)
        if not seq or seq == [eos]:
            continue
        prefix = seq[:-1]
        if len(prefix) == 0 or (len(prefix) <= len(generated) and list(generated[len(generated) - len(prefix):]) == prefix):
            out.append(seq[-1])
    return out


def process(logits: torch.Tensor, generated: List[int], gen: dict, prompt_len: int = 0) -> torch.Tensor:
    """Apply the processors in HF order to a copy of logits [vocab] (float32). `generated` holds
    `prompt_len` prompt ids (HF's input_ids) before the generated ones."""
    s = logits.clone()
    apply_repetition_penalty(s, generated, float(gen.get("repetition_penalty", 1.0)))
    banned = no_repeat_ngram_banned(generated, int(gen.get("no_repeat_ngram_size", 0) or 0))
    banned += bad_words_banned(generated, gen.get("bad_words_ids") or [], int(gen.get("eos_token_id", -1)))
    if banned:
        s[torch.tensor(sorted(set(banned)), dtype=torch.int64)] = float("-inf")
    # HF ForcedEOSTokenLogitsProcessor: at cur_len == max_length - 1 only the forced EOS remains
    # (max_length = input_ids length + max_new_tokens; with inputs_embeds input_ids start empty).
    forced = gen.get("forced_eos_token_id")
    if forced is not None and len(generated) - prompt_len == int(gen["max_new_tokens"]) - 1:
        s[:] = float("-inf")
        s[int(forced)] = 0.0
    return s


# ---------------------------------------------------------------------------


def read_f32(path: str, shape: Sequence[int]) -> torch.Tensor:
    if not os.path.isfile(path):
        fail(f"missing tensor file {path}")
    a = np.fromfile(path, dtype="<f4")
    if a.size != int(np.prod(shape)):
        fail(f"{path}: {a.size} floats, shape {list(shape)} needs {int(np.prod(shape))}")
    return torch.from_numpy(a.astype(np.float32)).reshape(list(shape))


def build_embeds(case: dict, base: str, clip, adapter, lm, special: torch.Tensor):
    """inputs_embeds [L, hidden] in OmniFusion order and the image features [N, T, hidden] (or None)."""
    def embed(ids):
        ids = torch.tensor(list(ids), dtype=torch.int64)
        return lm.embed(ids[None])[0] if ids.numel() else torch.zeros(0, special.shape[1])

    soi, eoi, user, bot = special[0:1], special[1:2], special[2:3], special[3:4]
    parts = [embed(case.get("prompt_ids") or [])]
    feats = None
    if case.get("pixel_values_file"):
        pv = read_f32(os.path.join(base, case["pixel_values_file"]), case["pixel_values_shape"])
        feats = adapter(clip(pv))  # [N, T, hidden]
        for img in feats:
            parts += [soi, img, eoi]
    turns = case.get("turns") or []
    for i, turn in enumerate(turns):
        parts += [user, embed(turn.get("question_ids") or []), bot]
        if i < len(turns) - 1:
            parts.append(embed(turn.get("answer_ids") or []))
    return torch.cat(parts, dim=0), feats


def greedy(lm, embeds: torch.Tensor, gen: dict):
    """Greedy decoding with full recomputation; returns (ids, min_margin, first-step logits [vocab])."""
    eos = int(gen.get("eos_token_id", 2))
    max_new = int(gen.get("max_new_tokens", 16))
    ids: List[int] = []
    min_margin = float("inf")
    first = None
    x = embeds
    for _ in range(max_new):
        logits = lm(x[None], last_only=True)[0, -1].float()
        if first is None:
            first = logits.clone()
        s = process(logits, ids, gen)
        top = torch.topk(s, 2).values
        min_margin = min(min_margin, float(top[0] - top[1]))
        nxt = int(torch.argmax(s))  # first index on ties, like torch/HF
        ids.append(nxt)
        if nxt == eos:
            break
        x = torch.cat([x, lm.embed(torch.tensor([[nxt]]))[0]], dim=0)
    return ids, min_margin, first


# ---------------------------------------------------------------------------
# Beam search: Hugging Face `_beam_search` + `BeamSearchScorer` + `BeamHypotheses` as in
# transformers 4.38-4.45 (batch size 1, num_beam_groups 1, num_return_sequences 1), for
# `generate(inputs_embeds=..., num_beams=N, ...)` on a decoder-only model. With inputs_embeds
# HF's input_ids start EMPTY, so decoder_prompt_len = 0, max_length = max_new_tokens, and the
# logits processors and the length penalty see generated tokens only.
# ---------------------------------------------------------------------------


class BeamHypotheses:
    """HF BeamHypotheses: the num_beams best finished hypotheses as (score, ids) in insertion
    order (with HF's eviction), score = sum_logprobs / generated_len ** length_penalty."""

    def __init__(self, num_beams: int, length_penalty: float, early_stopping, max_length: int):
        self.num_beams = num_beams
        self.length_penalty = length_penalty
        self.early_stopping = early_stopping
        self.max_length = max_length
        self.beams: List[tuple] = []
        self.worst_score = 1e9

    def __len__(self) -> int:
        return len(self.beams)

    def add(self, hyp: List[int], sum_logprobs: float, generated_len: int) -> None:
        score = sum_logprobs / (generated_len ** self.length_penalty)
        if len(self) < self.num_beams or score > self.worst_score:
            self.beams.append((score, list(hyp)))
            if len(self) > self.num_beams:
                # (score, index) tuples: equal scores evict the earliest-added one, as HF does
                sorted_next_scores = sorted([(s, idx) for idx, (s, _) in enumerate(self.beams)])
                del self.beams[sorted_next_scores[0][1]]
                self.worst_score = sorted_next_scores[1][0]
            else:
                self.worst_score = min(score, self.worst_score)

    def is_done(self, best_sum_logprobs: float, cur_len: int, decoder_prompt_len: int = 0) -> bool:
        if len(self) < self.num_beams:
            return False
        if self.early_stopping is True:  # stop as soon as num_beams hypotheses are finished
            return True
        if self.early_stopping is False:  # heuristic: best possible score at the current length
            highest = best_sum_logprobs / (cur_len - decoder_prompt_len) ** self.length_penalty
            return self.worst_score >= highest
        # "never"
        if self.length_penalty > 0.0:
            highest = best_sum_logprobs / (self.max_length - decoder_prompt_len) ** self.length_penalty
        else:
            highest = best_sum_logprobs / (cur_len - decoder_prompt_len) ** self.length_penalty
        return self.worst_score >= highest


def lm_next_logits(lm, embeds: torch.Tensor):
    """rows (equal-length lists of generated ids) -> raw last-position logits [rows, vocab] fp32,
    each row a full forward of the prompt embeddings + its ids (no cache)."""
    def fn(rows: List[List[int]]) -> torch.Tensor:
        x = embeds[None].expand(len(rows), -1, -1)
        if rows[0]:
            x = torch.cat([x, lm.embed(torch.tensor(rows, dtype=torch.int64)).to(x.dtype)], dim=1)
        return lm(x, last_only=True)[:, -1].float()
    return fn


def beam_search(next_logits, gen: dict, num_beams: int) -> dict:
    """HF beam search (see the section comment). `next_logits(rows)` -> raw logits [len(rows), vocab].

    Per step: scores = log_softmax(logits) per row (fp32); processors on each row's own generated
    ids; + running beam score; flatten [num_beams*vocab]; torch.topk of max(2, 1+n_eos)*num_beams
    (sorted). Walk the candidates in rank order: an EOS candidate is skipped if its rank >=
    num_beams, else the row's ids (without EOS) go to the pool with
    score = total / (cur_len - decoder_prompt_len) ** length_penalty, where cur_len =
    len(row ids) + 1, i.e. the generated length COUNTING the EOS (HF >= 4.36 `generated_len`);
    any other candidate becomes the next beam, until num_beams beams. Then is_done (early_stopping
    True: the pool holds num_beams hypotheses). Stop when done or after max_new_tokens tokens;
    if not done, finalize adds every open beam with score = beam_score / max_new_tokens **
    length_penalty. The answer is the highest score (ties: the later one in the pool list,
    `sorted(...).pop()`), EOS appended when its length < max_length (i.e. it ended with EOS).

    min_margin (how far the outcome is from a flip, the minimum of):
      beams: per step, the num_beams-th minus the (num_beams+1)-th best NON-EOS candidate
             total score (the set of surviving beams);
      eos:   per step, for each EOS candidate among the top ranks, its distance to the rank
             num_beams boundary (whether it enters the pool);
      final: best minus second-best hypothesis score in the final pool (length-normalised).
    """
    eos = gen.get("eos_token_id", 2)
    eos_ids = [int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos])]
    max_new = int(gen.get("max_new_tokens", 16))
    if max_new < 1:
        fail("max_new_tokens must be >= 1")
    lp = float(gen.get("length_penalty", 1.0))
    early = gen.get("early_stopping", False)
    if early not in (True, False, "never"):
        fail(f"early_stopping must be true, false or \"never\", got {early!r}")
    k = num_beams
    hyps = BeamHypotheses(k, lp, early, max_new)
    rows: List[List[int]] = [[] for _ in range(k)]
    beam_scores = torch.zeros(k, dtype=torch.float32)
    beam_scores[1:] = -1e9
    n_keep = max(2, 1 + len(eos_ids)) * k
    decoder_prompt_len = 0
    done = False
    first = None
    margins = {"beams": float("inf"), "eos": float("inf"), "final": float("inf")}
    steps = 0
    while True:
        logits = next_logits(rows).float()
        if first is None:
            first = logits[0].clone()
        logp = torch.log_softmax(logits, dim=-1)
        processed = torch.stack([process(logp[i], rows[i], gen) for i in range(k)])
        total = processed + beam_scores[:, None]
        vocab = total.shape[-1]
        flat = total.reshape(-1)
        top_s, top_i = torch.topk(flat, n_keep, largest=True, sorted=True)
        top_b = torch.div(top_i, vocab, rounding_mode="floor")
        top_t = top_i % vocab

        # margins, from a longer sorted list (values only; HF's own top list decides)
        m = min(flat.numel(), max(n_keep, k + 1 + k * len(eos_ids)) + 1)
        ext_s, ext_i = torch.topk(flat, m, largest=True, sorted=True)
        ext_s, ext_t = ext_s.tolist(), (ext_i % vocab).tolist()
        non_eos = [s for s, t in zip(ext_s, ext_t) if t not in eos_ids]
        if len(non_eos) > k:
            margins["beams"] = min(margins["beams"], _gap(non_eos[k - 1], non_eos[k]))
        if m > k:
            for r, (s, t) in enumerate(zip(ext_s, ext_t)):
                if t in eos_ids:
                    g = _gap(s, ext_s[k]) if r < k else _gap(ext_s[k - 1], s)
                    margins["eos"] = min(margins["eos"], g)

        # BeamSearchScorer.process
        cur_len = len(rows[0]) + 1
        nxt_scores, nxt_tokens, nxt_rows = [], [], []
        for rank in range(n_keep):
            tok, b, sc = int(top_t[rank]), int(top_b[rank]), top_s[rank]
            if tok in eos_ids:
                if rank >= k:
                    continue
                hyps.add(rows[b], sc.item(), generated_len=cur_len - decoder_prompt_len)
            else:
                nxt_scores.append(sc)
                nxt_tokens.append(tok)
                nxt_rows.append(b)
            if len(nxt_tokens) == k:
                break
        if len(nxt_tokens) < k:
            fail(f"beam search: fewer than {k} non-EOS candidates among the top {n_keep}")
        done = done or hyps.is_done(top_s.max().item(), cur_len, decoder_prompt_len)
        beam_scores = torch.stack(nxt_scores)
        rows = [rows[b] + [t] for b, t in zip(nxt_rows, nxt_tokens)]
        steps += 1
        if done or len(rows[0]) >= max_new:
            break

    # BeamSearchScorer.finalize
    if not done:
        for b in range(k):
            hyps.add(rows[b], beam_scores[b].item(), generated_len=len(rows[b]) - decoder_prompt_len)
    ranked = sorted(hyps.beams, key=lambda x: x[0])
    best_score, best = ranked.pop()
    if ranked:
        margins["final"] = _gap(best_score, ranked[-1][0])
    with_eos = lambda ids: list(ids) + ([eos_ids[0]] if len(ids) < max_new else [])  # noqa: E731
    return {
        "token_ids": with_eos(best),
        "score": best_score,
        "min_margin": min(margins.values()),
        "margins": margins,
        "steps": steps,
        "done": bool(done),
        "hypotheses": [{"token_ids": with_eos(h), "score": s}
                       for s, h in sorted(hyps.beams, key=lambda x: x[0], reverse=True)],
        "first_step_logits": first,
    }


def _gap(a: float, b: float) -> float:
    """a - b for a >= b; inf when b is -inf (a masked token cannot overtake)."""
    if b == float("-inf"):
        return float("inf")
    return float(a - b)


def read_cases(cases_path: str, out_path: str):
    """cases.json's cases, and the folder of reference.json `out_path` (created), where tensor files go."""
    with open(cases_path, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    out_dir = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(out_dir, exist_ok=True)
    return cases, out_dir


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="PyTorch reference greedy/beam outputs for OmniFusion parity tests")
    ap.add_argument("--checkpoint", required=True, help="checkpoint folder (tiny one from export.py --checkpoint-out)")
    ap.add_argument("--clip", help="CLIP folder (default CHECKPOINT/clip)")
    ap.add_argument("--cases", required=True, help="cases.json")
    ap.add_argument("--out", required=True, help="reference.json to write (tensor files go beside it)")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    if not os.path.isfile(args.cases):
        fail(f"cases file {args.cases} does not exist")
    try:
        ck = arch.open_checkpoint(args.checkpoint, args.clip)
    except (FileNotFoundError, ValueError, KeyError) as e:
        fail(str(e).strip("'\""))
    clip, adapter, lm = arch.build_reference_models(ck)
    special = ck.special.float()
    cases, out_dir = read_cases(args.cases, args.out)
    base = os.path.dirname(os.path.abspath(args.cases))
    results = []
    with torch.no_grad():
        for case in cases:
            name = case["name"]
            embeds, feats = build_embeds(case, base, clip, adapter, lm, special)
            gen = case.get("generation") or {}
            num_beams = int(gen.get("num_beams", 1) or 1)
            r = dict(case)
            r["inputs_embeds_length"] = int(embeds.shape[0])
            if num_beams > 1:
                res = beam_search(lm_next_logits(lm, embeds), gen, num_beams)
                ids, margin, first = res["token_ids"], res["min_margin"], res["first_step_logits"]
                r["expected_token_ids"] = ids
                r["expected_beam_score"] = res["score"]
                r["min_margin"] = margin if np.isfinite(margin) else None
                r["beam_margins"] = {k: (v if np.isfinite(v) else None) for k, v in res["margins"].items()}
                r["beam_steps"] = res["steps"]
                r["beam_early_stopped"] = res["done"]
                r["beam_hypotheses"] = res["hypotheses"]
            else:
                ids, margin, first = greedy(lm, embeds, gen)
                r["expected_token_ids"] = ids
                r["min_margin"] = margin if np.isfinite(margin) else None  # JSON has no Infinity
            if case.get("save_tensors"):
                if feats is not None:
                    fn = f"{name}.image_features.f32"
                    feats.float().numpy().astype("<f4").tofile(os.path.join(out_dir, fn))
                    r["image_features_file"] = fn
                    r["image_features_shape"] = list(feats.shape)
                fn = f"{name}.first_step_logits.f32"
                first.numpy().astype("<f4").tofile(os.path.join(out_dir, fn))
                r["first_step_logits_file"] = fn
            results.append(r)
            extra = f" beams={num_beams} score={r['expected_beam_score']:.6f}" if num_beams > 1 else ""
            print(f"{name}: L={r['inputs_embeds_length']} tokens={ids} min_margin={margin:.4f}{extra}")
    cfg = ck.raw_text_config
    model = {"family": "omnifusion", "checkpoint": os.path.basename(os.path.abspath(args.checkpoint)),
             "tiny_seed": cfg.get("omnifusion_tiny_seed"), "dtype": "float32", "torch": torch.__version__,
             "decoding": "greedy, or HF beam search (transformers 4.38-4.45 semantics) when num_beams > 1; "
                         "full-sequence recompute, HF processor order"}
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"model": model, "cases": results}, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Attention: `F.scaled_dot_product_attention` and the `MultiheadAttention` layer."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import OpError, Tensor, get_default_dtype

from . import init
from .functional import dropout, linear
from .linear import Linear
from .module import Module, Parameter

__all__ = ["MultiheadAttention", "scaled_dot_product_attention"]


def _is_bool(mask: Any) -> bool:
    return np.asarray(mask.data if isinstance(mask, Tensor) else mask).dtype == np.bool_


def _float_mask(mask: Any, like: Tensor) -> Tensor | np.ndarray:
    """An additive mask in the scores' dtype (a Tensor one stays differentiable)."""
    if isinstance(mask, Tensor):
        return mask if mask.dtype == like.dtype else mask.astype(like.dtype)
    return np.asarray(mask, dtype=like.dtype)


def _attend(q: Tensor, k: Tensor, v: Tensor, mask: Any, scale: float, dropout_p: float,
            safe: bool) -> tuple[Tensor, Tensor]:
    """softmax(q kᵀ·scale + mask) v and the attention weights.  A boolean ``mask`` keeps
    the positions where it is True; a float one is added.  With ``safe``, a query row whose
    every score is −inf gets all-zero weights (PyTorch's SDPA) instead of NaN: its scores
    are replaced by zeros before the softmax so no NaN reaches the gradient either."""
    scores = ag.matmul(q, k.swapaxes(-1, -2)) * scale
    if mask is not None:
        if _is_bool(mask):
            scores = ag.where(mask.data if isinstance(mask, Tensor) else mask, scores,
                              -math.inf)
        else:
            scores = scores + _float_mask(mask, scores)
    dead = np.all(scores.data == -np.inf, axis=-1, keepdims=True) if safe else None
    if dead is not None and dead.any():
        scores = ag.where(dead, 0.0, scores)
    weights = ag.softmax(scores, -1)
    if dead is not None and dead.any():
        weights = ag.where(dead, 0.0, weights)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p)
    return ag.matmul(weights, v), weights


def _check_qkv(q: Tensor, k: Tensor, v: Tensor, enable_gqa: bool, who: str
               ) -> tuple[Tensor, Tensor]:
    """Shape checks (RuntimeError, as PyTorch) and GQA's repetition of key/value heads."""
    for name, t in (("query", q), ("key", k), ("value", v)):
        if t.ndim < 2:
            raise OpError(f"{who}: {name} must have shape (..., L, E), got {t.shape}")
    if not q.dtype == k.dtype == v.dtype:
        raise OpError(f"{who}: query, key and value must have the same dtype, got "
                      f"{q.dtype}, {k.dtype} and {v.dtype}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise OpError(f"{who}: expected query (..., L, E), key (..., S, E) and value "
                      f"(..., S, Ev), got {q.shape}, {k.shape} and {v.shape}")
    if enable_gqa and q.ndim >= 3 and k.ndim >= 3 and v.ndim >= 3:
        heads = q.shape[-3]
        if heads % k.shape[-3] or heads % v.shape[-3]:
            raise OpError(f"{who}: the number of key and value heads must divide the "
                          f"number of query heads (enable_gqa), got query {q.shape}, "
                          f"key {k.shape} and value {v.shape}")
        k = ag.repeat_interleave(k, heads // k.shape[-3], dim=-3)
        v = ag.repeat_interleave(v, heads // v.shape[-3], dim=-3)
    try:
        np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise OpError(f"{who}: the batch dimensions of query {q.shape}, key {k.shape} "
                      f"and value {v.shape} do not broadcast (enable_gqa=True repeats "
                      f"key and value heads)") from None
    return k, v


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Any = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(Q Kᵀ·scale + mask) V for query (..., L, E), key (..., S, E), value
    (..., S, Ev), as PyTorch: ``scale`` defaults to 1/√E; a boolean ``attn_mask`` keeps the
    positions where it is True, a float one is added to the scores (both broadcast to
    (..., L, S)); ``is_causal`` keeps the lower triangle (top-left aligned when L ≠ S);
    a fully masked query row gives zeros; ``dropout_p`` drops attention weights always
    (pass 0 in evaluation); ``enable_gqa`` repeats each key/value head for its group of
    query heads (axis −3).

    >>> q = ag.ones(1, 2, 3, 4)
    >>> scaled_dot_product_attention(q, q, q, is_causal=True).shape
    (1, 2, 3, 4)
    """
    who = "scaled_dot_product_attention"
    k, v = _check_qkv(query, key, value, enable_gqa, who)
    if is_causal:
        if attn_mask is not None:
            raise OpError(f"{who}: pass either attn_mask or is_causal=True, not both")
        attn_mask = np.tril(np.ones((query.shape[-2], k.shape[-2]), dtype=bool))
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{who}: dropout_p must be a probability in [0, 1], got {dropout_p}")
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    return _attend(query, k, v, attn_mask, scale, dropout_p, safe=True)[0]


def _additive(mask: Any, like: Tensor, who: str, name: str) -> Tensor | np.ndarray | None:
    """MultiheadAttention's masks as additive float masks: True (or a float −inf) means
    *not allowed*, the opposite of SDPA's boolean convention."""
    if mask is None:
        return None
    if _is_bool(mask):
        data = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
        return np.where(data, -np.inf, 0.0).astype(like.dtype)
    dtype = np.asarray(mask.data if isinstance(mask, Tensor) else mask).dtype
    if dtype.kind != "f":
        raise TypeError(f"{who}: {name} must be boolean or floating point, got dtype {dtype}")
    return _float_mask(mask, like)


def _pad_last(mask: Any) -> Any:
    """One more key column, allowed (0), for add_bias_kv / add_zero_attn."""
    if mask is None:
        return None
    if isinstance(mask, Tensor):
        return ag.pad(mask, [(0, 0)] * (mask.ndim - 1) + [(0, 1)])
    return np.pad(mask, [(0, 0)] * (mask.ndim - 1) + [(0, 1)])


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al., 2017, §3.2.2) with PyTorch's parameters,
    shapes and masks: ``in_proj_weight`` (3E, E) and ``in_proj_bias`` (3E,) (or
    ``q/k/v_proj_weight`` when ``kdim``/``vdim`` differ from E), ``out_proj`` a Linear(E, E).
    Inputs are (L, N, E), or (N, L, E) with ``batch_first``, or unbatched (L, E).  In
    ``key_padding_mask`` (N, S) and ``attn_mask`` (L, S) or (N·H, L, S), True means *ignore*;
    float masks are added.  ``forward`` returns (output, weights); weights are (N, L, S)
    averaged over heads, (N, H, L, S) otherwise, and None without ``need_weights``.  As in
    PyTorch, a fully masked query row gives NaN when weights are returned, zeros when not.

    >>> mha = MultiheadAttention(8, 2, batch_first=True)
    >>> out, w = mha(ag.ones(3, 5, 8), ag.ones(3, 6, 8), ag.ones(3, 6, 8))
    >>> out.shape, w.shape, mha.in_proj_weight.shape
    ((3, 5, 8), (3, 5, 6), (24, 8))
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0,
                 bias: bool = True, add_bias_kv: bool = False, add_zero_attn: bool = False,
                 kdim: int | None = None, vdim: int | None = None, batch_first: bool = False,
                 *, dtype: Any = None) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible "
                             f"by num_heads ({num_heads}), both positive")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout}")
        self.embed_dim = embed_dim
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        self.add_zero_attn = add_zero_attn
        dtype = get_default_dtype() if dtype is None else dtype

        def empty(*shape: int) -> Parameter:
            return Parameter(np.empty(shape, dtype=dtype))

        if self._qkv_same_embed_dim:
            self.in_proj_weight = empty(3 * embed_dim, embed_dim)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = empty(embed_dim, embed_dim)
            self.k_proj_weight = empty(embed_dim, self.kdim)
            self.v_proj_weight = empty(embed_dim, self.vdim)
            self.register_parameter("in_proj_weight", None)
        self.register_parameter("in_proj_bias", empty(3 * embed_dim) if bias else None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        self.register_parameter("bias_k", empty(1, 1, embed_dim) if add_bias_kv else None)
        self.register_parameter("bias_v", empty(1, 1, embed_dim) if add_bias_kv else None)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's: Xavier-uniform projections, zero biases, Xavier-normal bias_k/v;
        ``out_proj.weight`` keeps Linear's default."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def _projections(self) -> tuple[Tensor, Tensor, Tensor]:
        if self._qkv_same_embed_dim:
            e = self.embed_dim
            w = self.in_proj_weight
            return w[:e], w[e:2 * e], w[2 * e:]
        return self.q_proj_weight, self.k_proj_weight, self.v_proj_weight

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Any = None, need_weights: bool = True,
                attn_mask: Any = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        who = "MultiheadAttention"
        if is_causal and attn_mask is None:
            raise OpError(f"{who}: is_causal is a hint that attn_mask is the causal "
                          f"mask; pass attn_mask too")
        batched = query.ndim == 3
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise OpError(f"{who}: query, key and value must all be 3-D (batched) or "
                          f"2-D (unbatched), got {query.shape}, {key.shape} and "
                          f"{value.shape}")
        if not batched:
            query, key, value = query[:, None], key[:, None], value[:, None]
            if key_padding_mask is not None:
                if not isinstance(key_padding_mask, Tensor):
                    key_padding_mask = np.asarray(key_padding_mask)
                key_padding_mask = key_padding_mask[None]
        elif self.batch_first:
            query, key, value = (t.swapaxes(0, 1) for t in (query, key, value))
        tgt_len, bsz, e = query.shape
        if e != self.embed_dim or key.shape[:2] != value.shape[:2] or key.shape[1] != bsz:
            raise OpError(f"{who}: expected query (L, N, {self.embed_dim}) and key, value "
                          f"(S, N, ·) with matching S and N, got {query.shape}, "
                          f"{key.shape} and {value.shape} (sequence-first layout)")
        src_len = key.shape[0]
        w_q, w_k, w_v = self._projections()
        b = self.in_proj_bias
        b_q, b_k, b_v = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        q, k, v = linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)

        mask = _additive(attn_mask, q, who, "attn_mask")
        if mask is not None:
            heads = bsz * self.num_heads
            if mask.ndim == 2 and mask.shape != (tgt_len, src_len):
                raise OpError(f"{who}: the 2-D attn_mask must have shape "
                              f"{(tgt_len, src_len)}, got {mask.shape}")
            if mask.ndim == 3 and mask.shape != (heads, tgt_len, src_len):
                raise OpError(f"{who}: the 3-D attn_mask must have shape "
                              f"{(heads, tgt_len, src_len)}, got {mask.shape}")
            if mask.ndim not in (2, 3):
                raise OpError(f"{who}: attn_mask must be 2-D or 3-D, got {mask.shape}")
        pad = _additive(key_padding_mask, q, who, "key_padding_mask")
        if pad is not None and pad.shape != (bsz, src_len):
            raise OpError(f"{who}: key_padding_mask must have shape {(bsz, src_len)}, "
                          f"got {pad.shape}")
        if self.bias_k is not None and self.bias_v is not None:
            k = ag.cat([k, self.bias_k.expand(1, bsz, e)], dim=0)
            v = ag.cat([v, self.bias_v.expand(1, bsz, e)], dim=0)
            mask, pad = _pad_last(mask), _pad_last(pad)

        # (L, N, E) -> (N·H, L, head_dim): head h of batch n is row n·H + h, as PyTorch.
        def heads_first(t: Tensor) -> Tensor:
            return t.reshape(t.shape[0], bsz * self.num_heads, self.head_dim).swapaxes(0, 1)

        q, k, v = heads_first(q), heads_first(k), heads_first(v)
        if self.add_zero_attn:
            zeros = np.zeros((k.shape[0], 1, self.head_dim), dtype=k.dtype)
            k, v = ag.cat([k, zeros], dim=1), ag.cat([v, zeros], dim=1)
            mask, pad = _pad_last(mask), _pad_last(pad)
        if pad is not None:
            pad = _heads_repeat(pad, self.num_heads)
            mask = pad if mask is None else mask + pad
        out, weights = _attend(q, k, v, mask, 1.0 / math.sqrt(self.head_dim),
                               self.dropout if self.training else 0.0, safe=not need_weights)
        out = out.swapaxes(0, 1).reshape(tgt_len, bsz, e)
        out = self.out_proj(out)
        if self.batch_first and batched:
            out = out.swapaxes(0, 1)
        if not batched:
            out = out[:, 0]
        if not need_weights:
            return out, None
        weights = weights.reshape(bsz, self.num_heads, tgt_len, weights.shape[-1])
        if average_attn_weights:
            weights = weights.mean(axis=1)
        return out, weights if batched else weights[0]

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")


def _heads_repeat(pad: Any, num_heads: int) -> Any:
    """A (N, S) key-padding mask as (N·H, 1, S), repeated for each head (row n·H + h)."""
    if isinstance(pad, Tensor):
        return ag.repeat_interleave(pad, num_heads, dim=0)[:, None]
    return np.repeat(pad, num_heads, axis=0)[:, None]

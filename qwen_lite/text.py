"""The language model: a Qwen2 decoder with M-RoPE and grouped-query attention.

Each layer is pre-norm::

    h = h + o_proj(Attention(RMSNorm(h)))        # causal, GQA, M-RoPE on q and k
    h = h + down(silu(gate(RMSNorm(h))) * up(RMSNorm(h)))

followed by a final RMSNorm. The decoder never sees pixels: the multimodal model hands it embeddings
(text embeddings with vision vectors written in) and 3-D ``position_ids``. Parameter names are the
checkpoint keys under ``model.`` (``layers.N.self_attn.q_proj.weight``, ...).

A :class:`KVCache` keeps each layer's keys and values *after* the rotation, with the few key/value
heads not repeated, so a decode step only computes the new token's q, k, v.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from qwen_lite.config import TextConfig
from qwen_lite.deepstack import add_deepstack
from qwen_lite.layers import MLP, RMSNorm, apply_rotary
from qwen_lite.rope import MRoPE
from qwen_lite.shapes import check_shape
from qwen_lite.trace import record


class KVCache:
    """Keys and values of every layer seen so far: ``keys[i]``, ``values[i]`` of shape (b kv_heads s d).

    Grown by concatenation along ``s``; like ``transformers.DynamicCache`` it reports its length with
    :meth:`get_seq_length`. Padding slots of a left-padded prompt are cached too (the attention mask
    hides them), so the cache length counts every column of ``input_ids``.
    """

    def __init__(self):
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []

    def update(self, layer_idx: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append this step's (b kv_heads l d) keys/values for one layer; return all of them."""
        if layer_idx == len(self.keys):
            self.keys.append(k)
            self.values.append(v)
        else:
            self.keys[layer_idx] = torch.cat([self.keys[layer_idx], k], dim=-2)
            self.values[layer_idx] = torch.cat([self.values[layer_idx], v], dim=-2)
        return self.keys[layer_idx], self.values[layer_idx]

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """Number of cached positions (0 for an empty cache)."""
        return self.keys[layer_idx].shape[-2] if layer_idx < len(self.keys) else 0

    def __len__(self) -> int:
        return len(self.keys)


class Attention(nn.Module):
    """Causal grouped-query self-attention: ``num_attention_heads`` queries share ``num_key_value_heads`` k/v.

    ``rotary_in_float32`` (class attribute, default ``False``; set it on an instance to change one
    layer): rotate q and k in float32 instead of in the activation dtype. transformers rotates the text
    q/k in the activation dtype (``apply_multimodal_rotary_pos_emb`` after the rotary embedding casts
    cos/sin to it), so the default keeps bf16 logits bit-identical to the reference; float32 rotation is
    slightly more accurate in bf16 but changes greedy ids after a few tokens at real size. In float32
    the two are the same computation.
    """

    rotary_in_float32: bool = False

    def __init__(self, config: TextConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.head_dim = config.head_dim
        # Switches (qwen_lite.config): Qwen2.5-VL has q/k/v biases and no o bias; Qwen3 none (attention_bias).
        self.q_proj = nn.Linear(
            config.hidden_size, config.num_attention_heads * self.head_dim, bias=config.qkv_bias
        )
        self.k_proj = nn.Linear(
            config.hidden_size, config.num_key_value_heads * self.head_dim, bias=config.qkv_bias
        )
        self.v_proj = nn.Linear(
            config.hidden_size, config.num_key_value_heads * self.head_dim, bias=config.qkv_bias
        )
        self.o_proj = nn.Linear(
            config.num_attention_heads * self.head_dim, config.hidden_size, bias=config.o_bias
        )
        if config.qk_norm:  # Qwen3: an RMSNorm over each head of q and k, before the rotation
            self.q_norm = RMSNorm(self.head_dim, eps=config.rms_norm_eps)
            self.k_norm = RMSNorm(self.head_dim, eps=config.rms_norm_eps)
        self.qk_norm = config.qk_norm

    def forward(self, x, cos, sin, mask, cache: KVCache | None):
        """x (b l dim), cos/sin (b l head_dim), mask: bool (b 1 l s), True = may attend, or None = causal."""
        q = rearrange(self.q_proj(x), "b l (h d) -> b h l d", d=self.head_dim)
        k = rearrange(self.k_proj(x), "b l (h d) -> b h l d", d=self.head_dim)
        v = rearrange(self.v_proj(x), "b l (h d) -> b h l d", d=self.head_dim)
        if self.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        cos, sin = cos[:, None].to(x.dtype), sin[:, None].to(x.dtype)  # one table for every head
        upcast = self.rotary_in_float32
        q, k = apply_rotary(q, cos, sin, upcast=upcast), apply_rotary(k, cos, sin, upcast=upcast)
        if cache is not None:
            k, v = cache.update(self.layer_idx, k, v)
        # enable_gqa lets each group of query heads read its shared k/v head without copying it.
        causal = mask is None and q.shape[-2] > 1
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal, enable_gqa=True)
        return self.o_proj(rearrange(out, "b h l d -> b l (h d)"))


class DecoderLayer(nn.Module):
    """One pre-norm block: attention then SwiGLU MLP, each added back to the residual stream."""

    def __init__(self, config: TextConfig, layer_idx: int):
        super().__init__()
        self.self_attn = Attention(config, layer_idx)
        self.mlp = MLP(config.hidden_size, config.intermediate_size, bias=False)
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(self, x, cos, sin, mask=None, cache: KVCache | None = None):
        """x (b l dim) -> (b l dim); cos/sin (b l head_dim); see :class:`Attention` for mask and cache."""
        size = check_shape(x, "b l d", "x", d=self.post_attention_layernorm.weight.shape[0])
        check_shape(cos, "b l hd", "cos", b=size["b"], l=size["l"], hd=self.self_attn.head_dim)
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


@dataclass
class TextModelOutput:
    last_hidden_state: torch.Tensor  # (b l dim), after the final norm
    past_key_values: KVCache | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None  # input of each layer, then the final normed output


class TextModel(nn.Module):
    """The decoder stack: ``embed_tokens``, ``layers``, ``norm`` (the checkpoint's ``model.*``)."""

    def __init__(self, config: TextConfig):
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.rotary = MRoPE(
            config.head_dim, config.rope_theta, config.mrope_section, config.mrope_interleaved
        )

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        past_key_values: KVCache | None = None,
        use_cache: bool = False,
        output_hidden_states: bool = False,
        deepstack: tuple[torch.Tensor, list[torch.Tensor]] | None = None,
    ) -> TextModelOutput:
        """Run the decoder on ``input_ids`` (b l) or ``inputs_embeds`` (b l dim) -- exactly one of them.

        position_ids: (3 b l) M-RoPE positions (or (b l) for text); default ``past + arange(l)`` on all axes.
        attention_mask: (b s) 1 = real token, 0 = padding, over cached *and* new tokens (s = past + l).
        past_key_values: a :class:`KVCache` to extend (created when ``use_cache`` and none is given).
        deepstack: Qwen3-VL's ``(visual_mask (b l) bool, [features (n_visual dim)])``
            (:func:`qwen_lite.deepstack.join_deepstack`): feature ``i`` is added at the visual positions after
            layer ``i`` (:func:`qwen_lite.deepstack.add_deepstack`). None (Qwen2.5-VL, decode steps): nothing added.
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("TextModel: pass exactly one of input_ids or inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        batch, length, _ = check_shape(
            inputs_embeds, "b l d", "inputs_embeds", d=self.config.hidden_size
        ).values()
        if use_cache and past_key_values is None:
            past_key_values = KVCache()
        past = past_key_values.get_seq_length() if past_key_values is not None else 0
        position_ids = self._position_ids(position_ids, batch, length, past, inputs_embeds.device)
        mask = attention_mask_4d(attention_mask, batch, length, past, inputs_embeds.device)

        cos, sin = self.rotary(position_ids)  # shared by every layer
        hidden, all_hidden = inputs_embeds, []
        for i, layer in enumerate(self.layers):
            if output_hidden_states:  # otherwise keep no reference, so each layer's input can be freed
                all_hidden.append(hidden)
            layer_in = hidden
            hidden = layer(hidden, cos, sin, mask, past_key_values)
            if deepstack is not None and i < len(deepstack[1]):
                hidden = add_deepstack(hidden, deepstack[0], deepstack[1][i])
            record(f"decoder layer {i}", layer_in, hidden)
        normed = self.norm(hidden)
        record("norm", hidden, normed)
        return TextModelOutput(
            last_hidden_state=normed,
            past_key_values=past_key_values,
            hidden_states=(*all_hidden, normed) if output_hidden_states else None,
        )

    @staticmethod
    def _position_ids(position_ids, batch, length, past, device):
        if position_ids is None:
            steps = torch.arange(past, past + length, device=device)
            return steps.expand(3, batch, length)
        if position_ids.dim() == 2:  # text-only positions: the same on all three axes
            check_shape(position_ids, "b l", "position_ids", b=batch, l=length)
            return position_ids.expand(3, batch, length)
        check_shape(position_ids, "three b l", "position_ids", three=3, b=batch, l=length)
        return position_ids


def attention_mask_4d(attention_mask, batch: int, length: int, past: int, device) -> torch.Tensor | None:
    """Boolean (b 1 l past+l) mask, True where query i may attend to key j: causal and not padding.

    Returns None when plain causal attention suffices (no padding mask, and either no cache or a
    single new token), so SDPA can take its ``is_causal`` fast path.
    """
    total = past + length
    if attention_mask is not None:
        check_shape(attention_mask, "b s", "attention_mask", b=batch, s=total)
        if bool(attention_mask.all()):
            attention_mask = None  # no padding: the mask adds nothing to the causal rule
    if attention_mask is None and (past == 0 or length == 1):
        return None
    query_pos = torch.arange(past, total, device=device)[:, None]
    key_pos = torch.arange(total, device=device)[None, :]
    mask = (key_pos <= query_pos)[None, None]  # (1 1 l s)
    if attention_mask is not None:
        check_shape(attention_mask, "b s", "attention_mask", b=batch, s=total)
        mask = mask & attention_mask.bool()[:, None, None, :]
    return mask.expand(batch, 1, length, total)

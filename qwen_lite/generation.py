"""Autoregressive generation: one prefill with the pixels, then one token per step from the KV cache.

    prefill: model(prompt, pixels, grids)  -> logits of the last position, KVCache, rope_deltas
    step:    model(new token, cache, rope_deltas) -> logits of that token
             (the token's position = cache length + rope_delta, the same on all three axes)

Greedy decoding reproduces ``transformers``' ``generate(do_sample=False)`` token for token; sampling
applies temperature, then top-k, then top-p, like transformers' default warpers. Rows that emit an
end token are finished: their later tokens are ``pad_token_id``, and the loop stops once every row is.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from qwen_lite.shapes import check_shape
from qwen_lite.text import KVCache


@torch.no_grad()
def generate(
    model,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    pixel_values: torch.Tensor | None = None,
    image_grid_thw: torch.Tensor | None = None,
    pixel_values_videos: torch.Tensor | None = None,
    video_grid_thw: torch.Tensor | None = None,
    second_per_grid_ts: torch.Tensor | None = None,
    *,
    max_new_tokens: int = 16,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    eos_token_id: int | list[int] | None = None,
    pad_token_id: int | None = None,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
    callback: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
) -> torch.Tensor:
    """Continue each prompt by up to ``max_new_tokens`` tokens. Returns (b l+new) token ids.

    input_ids: (b l), left-padded where ``attention_mask`` (b l) is 0. The pixel arguments are those of
    the model's forward and are used on the prefill only (with ``use_cache=False`` every step recomputes
    the whole sequence, pixels included -- slow, for checking the cache).
    eos_token_id: an id or a list; pad_token_id defaults to the first end id.
    generator: a seeded ``torch.Generator`` makes sampling reproducible.
    callback: called after each step as ``callback(step, new_tokens (b), logits (b vocab))``.
    """
    batch, length = check_shape(input_ids, "b l", "input_ids").values()
    limit = model.config.text.max_position_embeddings
    if length + max_new_tokens > limit:
        raise ValueError(
            f"prompt of {length} tokens + max_new_tokens={max_new_tokens} = {length + max_new_tokens} "
            f"exceeds max_position_embeddings ({limit}); shorten the prompt or ask for fewer tokens"
        )
    eos = [eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id or [])
    pad_token_id = eos[0] if pad_token_id is None and eos else pad_token_id
    eos = torch.tensor(eos, dtype=torch.long, device=input_ids.device)
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    check_shape(attention_mask, "b l", "attention_mask", b=batch, l=length)
    pixels = dict(pixel_values=pixel_values, image_grid_thw=image_grid_thw, pixel_values_videos=pixel_values_videos,
                  video_grid_thw=video_grid_thw, second_per_grid_ts=second_per_grid_ts)  # fmt: skip

    cache = KVCache() if use_cache else None
    out = model(input_ids, attention_mask=attention_mask, past_key_values=cache, logits_to_keep=1, **pixels)
    rope_deltas = out.rope_deltas
    tokens, unfinished = input_ids, torch.ones(batch, dtype=torch.bool, device=input_ids.device)
    for step in range(max_new_tokens):
        logits = out.logits[:, -1].float()
        new = next_token(logits, do_sample, temperature, top_k, top_p, generator)
        if len(eos):
            new = torch.where(unfinished, new, pad_token_id)
            unfinished &= ~torch.isin(new, eos)
        tokens = torch.cat([tokens, new[:, None]], dim=1)
        attention_mask = torch.cat([attention_mask, attention_mask.new_ones(batch, 1)], dim=1)
        if callback is not None:
            callback(step, new, logits)
        if not unfinished.any() or step == max_new_tokens - 1:
            break
        if use_cache:  # feed only the new token; its position comes from the prefill's deltas
            out = model(
                new[:, None], attention_mask=attention_mask, past_key_values=cache, rope_deltas=rope_deltas
            )
        else:
            out = model(tokens, attention_mask=attention_mask, logits_to_keep=1, **pixels)
    return tokens


def next_token(
    logits, do_sample: bool, temperature=1.0, top_k=None, top_p=None, generator=None
) -> torch.Tensor:
    """(b vocab) float logits -> (b) token ids: argmax, or a sample from the filtered distribution."""
    if not do_sample:
        return logits.argmax(dim=-1)
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 when sampling, got {temperature} (use do_sample=False)")
    logits = filter_logits(logits / temperature, top_k, top_p)
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)


def filter_logits(logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """Set to -inf every logit outside the ``top_k`` largest and outside the smallest top-``top_p`` mass.

    (b vocab) -> (b vocab). top-p keeps the most likely tokens until their probability reaches
    ``top_p`` (always at least one), as transformers' ``TopPLogitsWarper``.
    """
    if top_k is not None and top_k > 0:
        kth_largest = torch.topk(logits, min(top_k, logits.shape[-1])).values[..., -1:]
        logits = logits.masked_fill(logits < kth_largest, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        mass_before = probs.cumsum(dim=-1) - probs  # probability of the tokens ranked above this one
        drop_sorted = mass_before >= top_p  # the first token always stays (its mass_before is 0)
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits

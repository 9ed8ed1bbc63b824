"""Training: the next-token loss, which tokens count in a chat, and what a training step holds in memory.

    logits (b l vocab), labels (b l) --shift by one--> predict labels[:, 1:] from logits[:, :-1]
        --cross-entropy, label -100 ignored--> mean over the counted tokens (or sum / num_items_in_batch)

:func:`causal_lm_loss` is transformers' ``ForCausalLMLoss`` (``transformers/loss/loss_utils.py``, the same
in 4.57.6 and 5.x): logits upcast to float32, labels padded on the right with -100 and shifted left by
one, ``cross_entropy(ignore_index=-100)`` with ``reduction="mean"`` or, when ``num_items_in_batch`` is
given (gradient accumulation over several micro-batches), ``"sum"`` divided by it.
``Qwen25VLForConditionalGeneration.forward(..., labels=...)`` calls it, after :func:`check_labels`.

:func:`build_labels` turns the ``input_ids`` of rendered conversations into labels where only the
assistant's answers count (see its docstring for the exact rule, ``<|im_end|>`` included).

:func:`training_bytes` is a byte model of one training step (weights, gradients, AdamW's two moments and
the activations autograd keeps, with and without activation checkpointing); :func:`retained_bytes`
measures the activations a forward pass leaves alive, for comparing the two.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from qwen_lite.accounting import retained_bytes  # noqa: F401  (re-exported: measured in chapter 16)
from qwen_lite.config import Qwen25VLConfig
from qwen_lite.shapes import check_shape

#: The label of a token that does not count (``torch.nn.CrossEntropyLoss``'s default, transformers' too).
IGNORE_INDEX = -100

# Released Qwen2.5 tokenizer ids (qwen_lite.tokenizer / the fact sheet, section 2).
IM_START_ID = 151644  # <|im_start|>
IM_END_ID = 151645  # <|im_end|>
ASSISTANT_ID = 77091  # "assistant"
NEWLINE_ID = 198  # "\n"
IMAGE_TOKEN_ID = 151655  # <|image_pad|>
VIDEO_TOKEN_ID = 151656  # <|video_pad|>


# --- the loss ------------------------------------------------------------------------------------


def causal_lm_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    num_items_in_batch: int | torch.Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
) -> torch.Tensor:
    """Mean next-token cross-entropy over the counted tokens: transformers' ``ForCausalLMLoss``.

    logits: (b l vocab), any float dtype (upcast to float32 first, as transformers does);
    labels: (b l) int, the *unshifted* target ids (normally ``input_ids`` with ignored places set to
    ``ignore_index``): position ``i``'s logits are scored against ``labels[:, i + 1]``, the last
    position against nothing. Returns a 0-d float32 tensor.

    num_items_in_batch: None for the mean over counted tokens; else the sum over counted tokens divided
    by it -- pass the number of counted tokens over *all* micro-batches of a gradient-accumulation step,
    so that the accumulated gradient equals the one of the whole batch (transformers' ``Trainer`` does
    this since 4.46).

    No counted position (every shifted label is ``ignore_index``, e.g. :func:`build_labels` on a chat
    without an assistant turn): the value stays transformers' -- NaN for the mean (0 / 0), 0.0 with
    ``num_items_in_batch`` (an empty sum; a micro-batch without answers rightly adds nothing to an
    accumulated step, so this case is silent). The NaN case also emits a ``UserWarning`` saying why,
    since transformers is silent and a NaN loss poisons every weight at the next optimizer step.

    Source: ``transformers/loss/loss_utils.py`` (``ForCausalLMLoss``, ``fixed_cross_entropy``).
    Shape errors name the argument (:func:`qwen_lite.shapes.check_shape`).
    """
    sizes = check_shape(logits, "b l vocab", "logits")
    check_shape(labels, "b l", "labels", b=sizes["b"], l=sizes["l"])
    logits = logits.float()
    shifted = F.pad(labels, (0, 1), value=ignore_index)[..., 1:]  # (b l): the token each position predicts
    reduction = "mean" if num_items_in_batch is None else "sum"
    loss = F.cross_entropy(
        logits.reshape(-1, sizes["vocab"]),
        shifted.reshape(-1).to(logits.device),
        ignore_index=ignore_index,
        reduction=reduction,
    )
    if num_items_in_batch is not None:
        if torch.is_tensor(num_items_in_batch):
            num_items_in_batch = num_items_in_batch.to(loss.device)
        loss = loss / num_items_in_batch
    elif not shifted.is_meta and not bool((shifted != ignore_index).any()):
        warnings.warn(
            f"labels: no position is counted (all labels are {ignore_index}, or all but the first, which is "
            f"never a target), so the loss is a mean over zero tokens, 0 / 0 = NaN (transformers gives NaN "
            f"too). Likely cause: the conversation passed to build_labels has no assistant turn (a prompt "
            f"only, or a generation prompt), or truncation cut every answer off.",
            UserWarning,
            stacklevel=2,
        )
    return loss


def check_labels(labels, batch: int, length: int, vocab_size: int, num_items_in_batch=None) -> None:
    """Refuse labels the loss cannot mean, naming the argument (``TypeError`` / ``ValueError``).

    labels: a (b l) integer tensor shaped like ``input_ids``, each value a token id in
    ``[0, vocab_size)`` or -100 (ignored). ``num_items_in_batch``: None, a positive int, or a positive
    0-d tensor. transformers checks none of this: a float tensor fails inside ``cross_entropy``, a label
    of -5 raises "Target -5 is out of bounds", a (b l-1) tensor gives a view error -- and a label of
    ``vocab_size`` can crash the process on a GPU.
    """
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels: expected a torch.Tensor (b l) of token ids, got {type(labels).__name__}")
    check_shape(labels, "b l", "labels", b=batch, l=length)
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(
            f"labels: expected an integer tensor (token ids, {IGNORE_INDEX} = ignored), got {labels.dtype}"
        )
    if not labels.is_meta and labels.numel():
        bad = (labels != IGNORE_INDEX) & ((labels < 0) | (labels >= vocab_size))
        if bool(bad.any()):
            where = tuple(bad.nonzero()[0].tolist())
            raise ValueError(
                f"labels{list(where)} = {int(labels[where])}: expected a token id in 0..{vocab_size - 1} "
                f"or {IGNORE_INDEX} (ignored)"
            )
    if num_items_in_batch is None:
        return
    value = num_items_in_batch
    if torch.is_tensor(value):
        if value.dim() != 0 or value.is_complex() or value.dtype == torch.bool:
            raise TypeError(
                f"num_items_in_batch: expected a positive int or a 0-d tensor, got a tensor of shape "
                f"{tuple(value.shape)} and dtype {value.dtype}"
            )
        value = value.item()
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"num_items_in_batch: expected a positive int or a 0-d tensor, got {value!r}")
    if not value > 0:
        raise ValueError(
            f"num_items_in_batch: expected the number of counted tokens (> 0), got {num_items_in_batch!r}"
        )


# --- which tokens count ----------------------------------------------------------------------------


def build_labels(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *,
    include_end: bool = True,
    include_newline: bool = True,
    im_start_id: int = IM_START_ID,
    im_end_id: int = IM_END_ID,
    assistant_ids: Sequence[int] = (ASSISTANT_ID,),
    newline_id: int = NEWLINE_ID,
    image_token_id: int = IMAGE_TOKEN_ID,
    video_token_id: int = VIDEO_TOKEN_ID,
) -> torch.Tensor:
    """Labels (b l) for supervised fine-tuning on chats: the assistant's tokens count, nothing else.

    input_ids: (b l) ids of conversations rendered with the chat template
    (:func:`qwen_lite.tokenizer.apply_chat_template` with ``add_generation_prompt=False``) and expanded
    by the processor, left-padded; attention_mask: (b l) 0/1, 0 = padding (default: no padding).
    Returns a (b l) int64 tensor: ``input_ids`` where a token counts, -100 elsewhere. Pass it as
    ``labels`` to the model, which shifts it (:func:`causal_lm_loss`).

    The rule, per row. An assistant turn is ``<|im_start|>assistant\\n {answer} <|im_end|> \\n``:

    * the header ``<|im_start|>assistant\\n`` never counts (the generation prompt supplies it);
    * the answer counts, except ``<|image_pad|>`` / ``<|video_pad|>`` tokens (their embeddings are
      overwritten by vision features, so there is nothing to predict);
    * ``<|im_end|>`` counts when ``include_end`` (default): the model must learn to stop, it is the
      end id of generation;
    * the ``\\n`` after it counts when ``include_newline`` (default) and ``include_end``;
    * system and user turns, images, videos and padding never count.

    The defaults follow LLaMA-Factory's ``qwen2_vl`` template (``format_assistant`` =
    ``"{{content}}<|im_end|>\\n"``, all of it in the labels: ``data/template.py``,
    ``data/processor/supervised.py``) and ms-swift's ChatML templates (``<|im_end|>\\n`` as chat
    separator and suffix, both labelled: ``swift/llm/template/template/utils.py``, ``_add_dynamic_eos``).
    Training on the ``\\n`` is a convention: generation stops at ``<|im_end|>``, so the model never emits it.

    Tokenisation detail: if an answer starts with a newline, BPE merges it with the header's ``\\n`` into
    one token (``"\\n\\n"``); that token then counts (it is the answer's first token). A turn cut off
    before its ``<|im_end|>`` (truncation) counts up to the end of the row.

    Errors: ``TypeError`` / ``ValueError`` naming ``input_ids`` or ``attention_mask`` for a wrong shape,
    dtype or mask value.
    """
    sizes = check_shape(input_ids, "b l", "input_ids")
    if input_ids.is_floating_point() or input_ids.is_complex() or input_ids.dtype == torch.bool:
        raise TypeError(f"input_ids: expected an integer tensor of token ids, got {input_ids.dtype}")
    if attention_mask is not None:
        check_shape(attention_mask, "b l", "attention_mask", **sizes)
        if not bool(((attention_mask == 0) | (attention_mask == 1)).all()):
            raise ValueError("attention_mask: expected only 0 (padding) and 1 (token) values")
    for name, flag in (("include_end", include_end), ("include_newline", include_newline)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name}: expected True or False, got {flag!r}")
    header = [im_start_id, *assistant_ids]
    counts = torch.zeros(sizes["b"], sizes["l"], dtype=torch.bool)
    for row, ids in enumerate(input_ids.tolist()):
        i = 0
        while i < len(ids):
            if ids[i : i + len(header)] != header:
                i += 1
                continue
            start = i + len(header)
            if start < len(ids) and ids[start] == newline_id:
                start += 1  # the header's own newline
            end = start
            while end < len(ids) and ids[end] != im_end_id:
                end += 1
            counts[row, start:end] = True  # the answer
            if end < len(ids) and include_end:
                counts[row, end] = True  # <|im_end|>
                if include_newline and end + 1 < len(ids) and ids[end + 1] == newline_id:
                    counts[row, end + 1] = True
            i = end + 1
    counts &= (input_ids != image_token_id) & (input_ids != video_token_id)
    if attention_mask is not None:
        counts &= attention_mask.bool()
    return torch.where(counts, input_ids.long(), torch.full_like(input_ids, IGNORE_INDEX, dtype=torch.long))


# --- memory ------------------------------------------------------------------------------------------


def activation_floats(
    config: Qwen25VLConfig,
    tokens: int,
    patches: int = 0,
    *,
    checkpointing: bool = False,
    train_vision: bool = True,
) -> dict[str, int]:
    """Values (floats) that autograd keeps from one forward pass with a loss, for the backward pass.

    tokens: b * l positions through the decoder (the whole padded batch); patches: vision rows (sum of
    t*h*w over the images and videos). A byte model read off qwen_lite's code in float32 (CPU SDPA saves
    q, k, v, its output and a log-sum-exp per head, never the l x l weights), checked against
    :func:`retained_bytes` within 5% in ``tests/test_training.py``. Per row:

    * decoder layer: ``6d + 2`` (each RMSNorm keeps its input, ``1/rms``, the normed value and the weighted
      one), ``2q + 2kv`` (rotated q and k, v, the attention output; q = heads * head_dim, kv =
      kv_heads * head_dim), ``heads`` (log-sum-exp), ``4 ff`` (gate, up, silu(gate), their product);
    * vision block: ``12 d + 2 + heads + 4 ff`` (norms as above; qkv, rotated q and k, the attention
      output, the residual sum);
    * with ``checkpointing``: only each block's input, ``d`` per row, is kept (the rest is recomputed);
    * outside the blocks, per token ``2 vocab`` (the logits and the log-softmax the cross-entropy keeps)
      ``+ 3d + 1`` (final norm) ``+ 2 head_dim`` (the rotary cos/sin shared by all layers); per patch
      ``5 d + 1`` (merger norm and MLP) ``+ 2 head_dim`` (vision rotary).

    ``train_vision=False`` (tower frozen, pixels need no gradient): the tower keeps nothing.
    Returns {"decoder layers", "vision blocks", "outside blocks"} in floats.
    """
    t, v = config.text, config.vision
    d, q, kv = t.hidden_size, t.num_attention_heads * t.head_dim, t.num_key_value_heads * t.head_dim
    layer = (
        d if checkpointing else 6 * d + 2 + 2 * q + 2 * kv + t.num_attention_heads + 4 * t.intermediate_size
    )
    dv = v.hidden_size
    block = dv if checkpointing else 12 * dv + 2 + v.num_heads + 4 * v.intermediate_size
    outside = tokens * (2 * t.vocab_size + 3 * d + 1 + 2 * t.head_dim)
    vision_blocks = 0
    if train_vision:
        vision_blocks = v.depth * patches * block
        outside += patches * (5 * dv + 1 + 2 * v.head_dim)
    return {
        "decoder layers": t.num_hidden_layers * tokens * layer,
        "vision blocks": vision_blocks,
        "outside blocks": outside,
    }


def training_bytes(
    config: Qwen25VLConfig,
    tokens: int,
    patches: int = 0,
    *,
    checkpointing: bool = False,
    train_vision: bool = True,
    bytes_per_value: int = 4,
) -> dict[str, int]:
    """Bytes one AdamW training step holds, by kind: {"weights", "gradients", "AdamW state", "activations"}.

    weights: every parameter (a tied embedding once); gradients: one value per *trainable* parameter
    (all, or all but ``visual.*`` when ``train_vision`` is False); AdamW state: two per trainable
    parameter (``exp_avg``, ``exp_avg_sq``; Loshchilov & Hutter 2019, ``torch.optim.AdamW``); activations:
    :func:`activation_floats`. ``bytes_per_value`` 4 = float32 everywhere, as measured here (mixed
    precision keeps bf16 weights and activations but usually float32 optimizer state: not modelled).
    """
    from qwen_lite.accounting import parameter_counts

    counts = parameter_counts(config)
    total = sum(counts.values())
    vision = sum(
        n for name, n in counts.items() if name in ("patch_embed", "merger") or name.startswith("vision")
    )
    trainable = total if train_vision else total - vision
    activations = sum(
        activation_floats(
            config, tokens, patches, checkpointing=checkpointing, train_vision=train_vision
        ).values()
    )
    return {
        "weights": bytes_per_value * total,
        "gradients": bytes_per_value * trainable,
        "AdamW state": 2 * bytes_per_value * trainable,
        "activations": bytes_per_value * activations,
    }

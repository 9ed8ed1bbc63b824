"""Qwen2.5-VL: the vision tower and the text decoder joined at the placeholder tokens.

    input_ids (b l) --embed_tokens--> (b l dim)
    pixel_values (n 1176) --visual--> (n/4 dim) --written over the <|image_pad|> embeddings, in order-->
    pixel_values_videos   --visual--> (...)     --written over the <|video_pad|> embeddings, in order-->
    get_rope_index(input_ids, grids)  --> position_ids (3 b l), rope_deltas (b 1)
    decoder(embeddings, position_ids) --> (b l dim) --lm_head--> logits (b l vocab)

The prompt already holds one ``<|image_pad|>`` per merged vision token (the processor expanded them),
so the fusion is a masked write, not an insertion: the sequence length never changes. Parameter names
are the released checkpoint keys (``visual.*``, ``model.*``, ``lm_head.weight``).

Nothing about a request is stored on the module: ``rope_deltas`` are returned by the prefill and
passed back in by the caller for decode steps, so a batch of 4 can never leak its deltas into a later
batch of 2 (a bug transformers had, PR #44873).
"""

from __future__ import annotations

import types
import warnings
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from qwen_lite.config import MultimodalConfig, Qwen3VLConfig, Qwen25VLConfig
from qwen_lite.deepstack import join_deepstack
from qwen_lite.generation import GenerationConfig, generate
from qwen_lite.rope import (
    check_attention_mask,
    check_grid_thw,
    check_second_per_grid_ts,
    decode_position_ids,
    get_rope_index,
)
from qwen_lite.shapes import check_shape
from qwen_lite.text import KVCache, TextModel
from qwen_lite.trace import record
from qwen_lite.training import causal_lm_loss, check_labels
from qwen_lite.vision import VisionTransformer


@dataclass
class Qwen25VLOutput:
    """What :meth:`Qwen25VLForConditionalGeneration.forward` returns; field names are transformers'
    (``Qwen2_5_VLCausalLMOutputWithPast``: ``.loss``, ``.logits``, ``.past_key_values``, ``.rope_deltas``,
    ``.hidden_states``). ``loss`` comes last here so that positional construction keeps working."""

    logits: torch.Tensor  # (b l vocab), or (b logits_to_keep vocab)
    past_key_values: KVCache | None = None
    rope_deltas: torch.Tensor | None = None  # (b 1): decode position = cache length + delta
    hidden_states: tuple[torch.Tensor, ...] | None = None  # input of each decoder layer, then the final norm
    loss: torch.Tensor | None = None  # () float32, only when labels were given


class Qwen25VLForConditionalGeneration(nn.Module):
    """The whole model: ``visual`` (vision tower), ``model`` (text decoder) and ``lm_head``.

    With ``config.text.tie_word_embeddings`` (the 3B model) ``lm_head.weight`` *is*
    ``model.embed_tokens.weight``: one Parameter under two names. As in transformers, ``state_dict()``
    lists both keys, so ``load_state_dict(model.state_dict())`` round-trips; the released 3B files hold
    only the embedding, and :mod:`qwen_lite.weights` drops/restores the duplicate when saving/loading.

    ``generation_config`` holds :meth:`generate`'s defaults (:class:`qwen_lite.generation.GenerationConfig`):
    for a model built here, the released Instruct models' end ids ``[151645, 151643]`` (``<|im_end|>``,
    ``<|endoftext|>``, i.e. ``[config.eos_token_id, config.bos_token_id]``) and pad id 151643, greedy, no
    repetition penalty; :func:`qwen_lite.weights.from_pretrained` replaces it with the folder's
    ``generation_config.json``.
    """

    #: The config class this model is built from (a Qwen3-VL config builds :class:`Qwen3VLForConditionalGeneration`).
    config_class: type[MultimodalConfig] = Qwen25VLConfig

    def __init__(self, config: Qwen25VLConfig):
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(
                f"{type(self).__name__} takes a {self.config_class.__name__}, got {type(config).__name__}"
                f" (qwen_lite.from_pretrained chooses the model class from config.json's model_type)"
            )
        self.config = config
        self.generation_config = GenerationConfig.released(config)
        self.visual = VisionTransformer(config.vision)
        self.model = TextModel(config.text)
        self.lm_head = nn.Linear(config.text.hidden_size, config.text.vocab_size, bias=False)
        if config.text.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        self._checkpointing = False

    # --- activation (gradient) checkpointing --------------------------------------------------------

    @property
    def gradient_checkpointing(self) -> bool:
        """Whether decoder layers and vision blocks recompute their activations in the backward pass.

        Set it (``model.gradient_checkpointing = True``) or call :meth:`gradient_checkpointing_enable`.
        When on, in training mode (``model.train()``) with gradients enabled, each decoder layer and each
        vision block runs under ``torch.utils.checkpoint.checkpoint(..., use_reentrant=False)``: the
        forward pass keeps only the block's inputs, the backward pass runs the block again to get the
        rest (Chen et al. 2016; transformers' ``gradient_checkpointing_enable`` does the same per layer).
        Loss and gradients are unchanged (``tests/test_training.py``); memory drops, time rises by about
        one extra forward pass. In eval mode, under ``torch.no_grad()``, or for a call that passes a KV
        cache, blocks run as usual; ``use_cache=True`` in training mode is turned off with a warning,
        as transformers does. Parameter names and ``state_dict()`` do not change.
        """
        return self._checkpointing

    @gradient_checkpointing.setter
    def gradient_checkpointing(self, on: bool) -> None:
        if not isinstance(on, bool):
            raise TypeError(f"gradient_checkpointing: expected True or False, got {on!r}")
        for block in (*self.model.layers, *self.visual.blocks):
            if on:  # a bound method on the instance: deepcopy re-binds it to the copy
                block.forward = types.MethodType(_checkpointed_forward, block)
            else:
                block.__dict__.pop("forward", None)
        self._checkpointing = on

    def gradient_checkpointing_enable(self) -> None:
        """Turn activation checkpointing on (see :attr:`gradient_checkpointing`); transformers' method name."""
        self.gradient_checkpointing = True

    def gradient_checkpointing_disable(self) -> None:
        """Turn activation checkpointing off (see :attr:`gradient_checkpointing`)."""
        self.gradient_checkpointing = False

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        image_grid_thw: torch.Tensor | None = None,
        pixel_values_videos: torch.Tensor | None = None,
        video_grid_thw: torch.Tensor | None = None,
        second_per_grid_ts: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: KVCache | None = None,
        use_cache: bool = False,
        logits_to_keep: int = 0,
        output_hidden_states: bool = False,
        rope_deltas: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        num_items_in_batch: int | torch.Tensor | None = None,
    ) -> Qwen25VLOutput:
        """Next-token logits for a batch of (multimodal) prompts.

        input_ids: (b l); attention_mask: (b s) over cached + new tokens, 0 = left padding.
        pixel_values: (n 1176) all images' patches, image_grid_thw: (n_images 3); same for videos,
        with second_per_grid_ts: (n_videos) seconds per temporal grid step (default 1.0).
        past_key_values: a :class:`KVCache` (one is created when ``use_cache``). For a decode step
        (non-empty cache) pass the prefill's ``rope_deltas`` (b 1), or explicit ``position_ids`` (3 b l).
        logits_to_keep: if > 0, compute logits only for the last that many positions.
        labels: (b l) int, like ``input_ids``, -100 where a token does not count (e.g. from
        :func:`qwen_lite.training.build_labels`); then ``.loss`` is transformers' next-token loss
        (:func:`qwen_lite.training.causal_lm_loss`: shift by one, float32, mean over counted tokens, or the
        sum divided by ``num_items_in_batch`` when that is given). Without labels ``.loss`` is None and
        nothing else changes.

        Raises ``TypeError`` / ``ValueError`` naming the argument for inputs the model cannot mean:
        non-integer ``input_ids`` or grids, ids outside the vocabulary, a mask of the wrong shape or with
        values other than 0/1, integer ``pixel_values``, pixels without a grid or a grid without pixels,
        ``second_per_grid_ts`` with one entry per video missing or negative, placeholders that do not
        match the grids (:func:`check_placeholders`); labels that are not (b l) integer ids in the
        vocabulary or -100 (:func:`qwen_lite.training.check_labels`), labels with ``logits_to_keep``
        (the loss needs every position), ``num_items_in_batch`` without labels or not > 0.
        """
        if past_key_values is not None and not isinstance(past_key_values, KVCache):
            raise TypeError(
                f"past_key_values: expected a qwen_lite KVCache or None, got {type(past_key_values).__name__}"
            )
        for name, flag in (("use_cache", use_cache), ("output_hidden_states", output_hidden_states)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name}: expected True or False, got {flag!r}")
        past = past_key_values.get_seq_length() if past_key_values is not None else 0
        self.check_inputs(
            input_ids, attention_mask, past, pixel_values, image_grid_thw, pixel_values_videos, video_grid_thw,
            second_per_grid_ts, logits_to_keep,
        )  # fmt: skip
        batch, length = input_ids.shape
        if labels is not None:
            check_labels(labels, batch, length, self.config.text.vocab_size, num_items_in_batch)
            if logits_to_keep:
                raise ValueError(
                    f"labels with logits_to_keep={logits_to_keep}: the loss needs the logits of every "
                    "position (pass logits_to_keep=0)"
                )
        elif num_items_in_batch is not None:
            raise ValueError("num_items_in_batch was given without labels: it divides the loss, pass labels")
        if use_cache and self.gradient_checkpointing and self.training:
            warnings.warn(
                "use_cache=True with gradient checkpointing in training mode: the recomputed layers would "
                "write the cache twice; running with use_cache=False (as transformers does)",
                stacklevel=2,
            )
            use_cache = False
        if position_ids is not None:
            check_positions(position_ids, batch, length)
        if rope_deltas is not None:
            check_shape(rope_deltas, "b one", "rope_deltas", b=batch, one=1)
            if rope_deltas.is_floating_point() or rope_deltas.is_complex() or rope_deltas.dtype == torch.bool:
                raise TypeError(
                    f"rope_deltas: expected an integer tensor (the prefill's), got {rope_deltas.dtype}"
                )
        embeds = self.model.embed_tokens(input_ids)
        record("embed_tokens", input_ids, embeds)
        stacks = {}  # DeepStack features of images and videos (Qwen3-VL; empty lists for Qwen2.5-VL)
        if pixel_values is not None:
            embeds, stacks["image"] = self.fuse_with_deepstack(
                embeds, input_ids, pixel_values, image_grid_thw, "image"
            )
        if pixel_values_videos is not None:
            embeds, stacks["video"] = self.fuse_with_deepstack(
                embeds, input_ids, pixel_values_videos, video_grid_thw, "video"
            )
        deepstack = join_deepstack(
            input_ids == self.config.image_token_id, stacks.get("image"),
            input_ids == self.config.video_token_id, stacks.get("video"),
        )  # fmt: skip

        if use_cache and past_key_values is None:
            past_key_values = KVCache()
        if position_ids is None:
            position_ids, rope_deltas = self.positions(
                input_ids, attention_mask, past_key_values, rope_deltas,
                image_grid_thw, video_grid_thw, second_per_grid_ts,
            )  # fmt: skip

        out = self.model(
            inputs_embeds=embeds,
            position_ids=position_ids,
            attention_mask=attention_mask,
            past_key_values=past_key_values,
            output_hidden_states=output_hidden_states,
            deepstack=deepstack,
        )
        hidden = out.last_hidden_state
        if logits_to_keep > 0:
            hidden = hidden[:, -logits_to_keep:]
        logits = self.lm_head(hidden)
        record("lm_head", hidden, logits)
        loss = None
        if labels is not None:
            loss = causal_lm_loss(logits, labels, num_items_in_batch)
            record("loss", [logits, labels], loss)
        return Qwen25VLOutput(logits, past_key_values, rope_deltas, out.hidden_states, loss)

    def check_inputs(self, input_ids, attention_mask, past: int, pixel_values, image_grid_thw,
                     pixel_values_videos, video_grid_thw, second_per_grid_ts, logits_to_keep) -> None:  # fmt: skip
        """The checks of :meth:`forward`; ``past`` is the number of cached positions."""
        batch, length = check_token_ids(input_ids, self.config.text.vocab_size).values()
        if attention_mask is not None:
            check_attention_mask(attention_mask, batch, past + length, axis="s")
        for kind, values, grid in (("image", pixel_values, image_grid_thw),
                                   ("video", pixel_values_videos, video_grid_thw)):  # fmt: skip
            name = "pixel_values" if kind == "image" else "pixel_values_videos"
            if values is not None:
                check_shape(values, "n patch_dim", name, patch_dim=self.config.vision.patch_dim)
                if not values.is_floating_point():
                    raise TypeError(
                        f"{name}: expected a floating-point tensor of normalised patches (the processor's "
                        f"output), got {values.dtype}"
                    )
                if grid is None:
                    raise ValueError(f"{name} were given without {kind}_grid_thw")
            if grid is not None:
                check_grid_thw(grid, f"{kind}_grid_thw", self.config.vision.spatial_merge_size)
                if values is None and past == 0:
                    raise ValueError(
                        f"{kind}_grid_thw was given without {name}: the prompt's <|{kind}_pad|> tokens need "
                        f"the {kind} patches (pass {name}, or drop {kind}_grid_thw)"
                    )
        if second_per_grid_ts is not None:
            videos = 0 if video_grid_thw is None else len(video_grid_thw)
            check_second_per_grid_ts(second_per_grid_ts, videos)
        if isinstance(logits_to_keep, bool) or not isinstance(logits_to_keep, int) or logits_to_keep < 0:
            raise ValueError(
                f"logits_to_keep: expected an int >= 0 (0 = all positions), got {logits_to_keep!r}"
            )

    def fuse(self, embeds, input_ids, pixel_values, grid_thw, kind: str) -> torch.Tensor:
        """Run the tower on all images (or all videos) and write the vectors over their placeholders.

        embeds: (b l dim) token embeddings; returns a new (b l dim) tensor. Placeholders are filled in
        reading order (row by row), which is the order of ``grid_thw``. (Qwen3-VL's DeepStack features
        too: :meth:`fuse_with_deepstack`.)
        """
        return self.fuse_with_deepstack(embeds, input_ids, pixel_values, grid_thw, kind)[0]

    def fuse_with_deepstack(
        self, embeds, input_ids, pixel_values, grid_thw, kind: str
    ) -> tuple[torch.Tensor, list]:
        """:meth:`fuse`, and the tower's DeepStack features: one (n_tokens dim) tensor per tapped block
        (:mod:`qwen_lite.deepstack`; an empty list for Qwen2.5-VL)."""
        if grid_thw is None:
            raise ValueError(f"{kind} pixel values were given without {kind}_grid_thw")
        token_id = self.config.image_token_id if kind == "image" else self.config.video_token_id
        check_placeholders(input_ids, token_id, grid_thw, kind, self.config.vision.spatial_merge_size)
        dtype = next(self.visual.parameters()).dtype
        features, deepstack = self.visual.features(pixel_values.to(dtype), grid_thw)
        record(f"vision ({kind}s)", [pixel_values, grid_thw], features)
        is_placeholder = (input_ids == token_id).unsqueeze(-1)  # (b l 1)
        fused = embeds.masked_scatter(is_placeholder, features.to(embeds.dtype))
        record(f"fuse {kind}s", [embeds, features], fused)
        return fused, deepstack

    def positions(self, input_ids, attention_mask, cache, rope_deltas, image_grid_thw, video_grid_thw,
                  second_per_grid_ts):  # fmt: skip
        """(position_ids (3 b l), rope_deltas (b 1)): the 3-D index on prefill, a 1-D continuation after."""
        past = cache.get_seq_length() if cache is not None else 0
        if past == 0:
            position_ids, rope_deltas = self.get_rope_index(
                input_ids, image_grid_thw, video_grid_thw, second_per_grid_ts, attention_mask
            )
            record("rope index", input_ids, [position_ids, rope_deltas])
            return position_ids, rope_deltas
        if rope_deltas is None:
            raise ValueError(
                "decode step (non-empty past_key_values) without rope_deltas: pass the prefill output's "
                "rope_deltas (or explicit position_ids) -- images shift the positions of later tokens"
            )
        return decode_position_ids(rope_deltas, past, input_ids.shape[1]), rope_deltas

    def get_rope_index(
        self,
        input_ids: torch.Tensor,
        image_grid_thw: torch.Tensor | None = None,
        video_grid_thw: torch.Tensor | None = None,
        second_per_grid_ts: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:func:`qwen_lite.rope.get_rope_index` with this model's token ids and vision settings."""
        return get_rope_index(
            input_ids,
            image_grid_thw,
            video_grid_thw,
            second_per_grid_ts,
            attention_mask,
            spatial_merge_size=self.config.vision.spatial_merge_size,
            tokens_per_second=self.config.vision.tokens_per_second,
            image_token_id=self.config.image_token_id,
            video_token_id=self.config.video_token_id,
            vision_start_token_id=self.config.vision_start_token_id,
        )

    def generate(self, input_ids: torch.Tensor, **kwargs) -> torch.Tensor:
        """:func:`qwen_lite.generation.generate` on this model (same arguments; defaults from
        ``self.generation_config``)."""
        return generate(self, input_ids, **kwargs)


def _checkpointed_forward(block: nn.Module, *args, **kwargs):
    """``block``'s own forward, under ``torch.utils.checkpoint`` when that can save memory and is safe."""
    plain = type(block).forward
    uses_cache = any(isinstance(a, KVCache) for a in (*args, *kwargs.values()))
    if block.training and torch.is_grad_enabled() and not uses_cache:
        return checkpoint(plain, block, *args, use_reentrant=False, **kwargs)
    return plain(block, *args, **kwargs)


def check_token_ids(input_ids, vocab_size: int) -> dict[str, int]:
    """``input_ids`` must be a (b l) integer tensor, l >= 1, every id in ``[0, vocab_size)``. Returns {b, l}."""
    sizes = check_shape(input_ids, "b l", "input_ids")
    if input_ids.is_floating_point() or input_ids.is_complex() or input_ids.dtype == torch.bool:
        raise TypeError(f"input_ids: expected an integer tensor of token ids, got {input_ids.dtype}")
    if sizes["l"] == 0:
        raise ValueError(
            f"input_ids: expected at least one token per row, got shape {tuple(input_ids.shape)}"
        )
    if not input_ids.is_meta and input_ids.numel():
        low, high = int(input_ids.min()), int(input_ids.max())
        if low < 0 or high >= vocab_size:
            bad = low if low < 0 else high
            raise ValueError(
                f"input_ids: token id {bad} is outside the vocabulary (ids 0..{vocab_size - 1}, "
                f"vocab_size {vocab_size})"
            )
    return sizes


def check_positions(position_ids, batch: int, length: int) -> None:
    """Explicit ``position_ids``: an integer tensor (3 b l), or (b l) for text (the same on all three axes)."""
    if not isinstance(position_ids, torch.Tensor):
        raise TypeError(
            f"position_ids: expected a torch.Tensor (3 b l) or (b l), got {type(position_ids).__name__}"
        )
    if position_ids.dim() == 2:
        check_shape(position_ids, "b l", "position_ids", b=batch, l=length)
    else:
        check_shape(position_ids, "three b l", "position_ids", three=3, b=batch, l=length)
    if position_ids.is_floating_point() or position_ids.is_complex() or position_ids.dtype == torch.bool:
        raise TypeError(f"position_ids: expected an integer tensor, got {position_ids.dtype}")


def check_placeholders(input_ids, token_id: int, grid_thw, kind: str, merge_size: int) -> None:
    """Every image (video) needs exactly ``t*h*w / merge^2`` placeholder tokens; say which one doesn't."""
    check_shape(grid_thw, "n three", f"{kind}_grid_thw", three=3)
    expected = (grid_thw.prod(-1) // merge_size**2).tolist()
    is_placeholder = input_ids == token_id
    found = int(is_placeholder.sum())
    if found == sum(expected):
        return
    runs = placeholder_runs(is_placeholder)
    for i in range(max(len(runs), len(expected))):
        got = runs[i] if i < len(runs) else 0
        want = expected[i] if i < len(expected) else 0
        if got != want:
            break
    grid = grid_thw[i].tolist() if i < len(expected) else "none"
    raise ValueError(
        f"{kind} {i}: {got} <|{kind}_pad|> tokens in input_ids but {want} {kind} features "
        f"({kind}_grid_thw[{i}] = {grid}, {merge_size}x{merge_size} patches per token); "
        f"in total {found} placeholders for {sum(expected)} features from {len(expected)} {kind}s"
    )


def placeholder_runs(is_placeholder: torch.Tensor) -> list[int]:
    """Lengths of the runs of True in a (b l) mask, row by row (a run never continues into the next row)."""
    padded = torch.nn.functional.pad(is_placeholder.int(), (1, 1))  # False on both sides of every row
    edges = padded.flatten().diff()
    starts, ends = (edges == 1).nonzero().flatten(), (edges == -1).nonzero().flatten()
    return (ends - starts).tolist()


class Qwen3VLForConditionalGeneration(Qwen25VLForConditionalGeneration):
    """Qwen3-VL (dense): the same model as :class:`Qwen25VLForConditionalGeneration`, built from a
    :class:`~qwen_lite.config.Qwen3VLConfig`, whose switches give the Qwen3-VL tower (LayerNorm, GELU MLP,
    no windows, a learned position table, DeepStack mergers), the Qwen3 decoder (q/k norm, no biases) and
    interleaved M-RoPE. What differs here is the position rule for video (:meth:`get_rope_index`).

    Parameter names are the released layout (``visual.*``, ``model.*``, ``lm_head.weight``), as for
    Qwen2.5-VL; the Qwen3-VL files' ``model.visual.*`` / ``model.language_model.*`` are renamed on load.
    Source: transformers 4.57.6 / 5.24.0 ``Qwen3VLForConditionalGeneration``.
    """

    config_class = Qwen3VLConfig

    def check_inputs(self, input_ids, attention_mask, past, pixel_values, image_grid_thw, pixel_values_videos,
                     video_grid_thw, second_per_grid_ts, logits_to_keep) -> None:  # fmt: skip
        """As Qwen2.5-VL's, and ``second_per_grid_ts`` must be None (Qwen3-VL writes time as text)."""
        if second_per_grid_ts is not None:
            raise ValueError(
                "second_per_grid_ts: Qwen3-VL does not use it (video time is written in the prompt as "
                "'<t seconds>' timestamps by Qwen3VLProcessor, and temporal position ids do not encode seconds); "
                "pass None"
            )
        super().check_inputs(input_ids, attention_mask, past, pixel_values, image_grid_thw, pixel_values_videos,
                             video_grid_thw, None, logits_to_keep)  # fmt: skip

    def get_rope_index(self, input_ids, image_grid_thw=None, video_grid_thw=None, second_per_grid_ts=None,
                       attention_mask=None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """:func:`qwen_lite.rope.get_rope_index` with ``video_frames_as_blocks=True``: each temporal patch of a
        video is its own block (the processor puts a timestamp and a vision start/end pair around each),
        so its temporal ids are all the block's start. ``second_per_grid_ts`` must be None.

        Source: transformers 4.57.6 / 5.24.0 ``Qwen3VLModel.get_rope_index`` (``repeat_interleave`` of
        ``video_grid_thw`` by its ``t``, then ``t = 1``).
        """
        if second_per_grid_ts is not None:
            raise ValueError(
                "second_per_grid_ts: Qwen3-VL does not use it (time is in the prompt); pass None"
            )
        return get_rope_index(
            input_ids,
            image_grid_thw,
            video_grid_thw,
            None,
            attention_mask,
            spatial_merge_size=self.config.vision.spatial_merge_size,
            image_token_id=self.config.image_token_id,
            video_token_id=self.config.video_token_id,
            vision_start_token_id=self.config.vision_start_token_id,
            video_frames_as_blocks=True,
        )


#: ``config.json``'s ``model_type`` -> the model class (:func:`model_class_for`).
MODEL_CLASSES = {"qwen2_5_vl": Qwen25VLForConditionalGeneration, "qwen3_vl": Qwen3VLForConditionalGeneration}


def model_class_for(config: MultimodalConfig) -> type[Qwen25VLForConditionalGeneration]:
    """The model class a config builds: by its ``model_type`` (:data:`MODEL_CLASSES`)."""
    if config.model_type not in MODEL_CLASSES:
        raise TypeError(f"config: expected a Qwen25VLConfig or Qwen3VLConfig, got {type(config).__name__}")
    return MODEL_CLASSES[config.model_type]

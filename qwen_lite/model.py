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

from dataclasses import dataclass

import torch
from torch import nn

from qwen_lite.config import Qwen25VLConfig
from qwen_lite.generation import generate
from qwen_lite.rope import decode_position_ids, get_rope_index
from qwen_lite.shapes import check_shape
from qwen_lite.text import KVCache, TextModel
from qwen_lite.trace import record
from qwen_lite.vision import VisionTransformer


@dataclass
class Qwen25VLOutput:
    logits: torch.Tensor  # (b l vocab), or (b logits_to_keep vocab)
    past_key_values: KVCache | None = None
    rope_deltas: torch.Tensor | None = None  # (b 1): decode position = cache length + delta
    hidden_states: tuple[torch.Tensor, ...] | None = None  # input of each decoder layer, then the final norm


class Qwen25VLForConditionalGeneration(nn.Module):
    """The whole model: ``visual`` (vision tower), ``model`` (text decoder) and ``lm_head``.

    With ``config.text.tie_word_embeddings`` (the 3B model) ``lm_head.weight`` *is*
    ``model.embed_tokens.weight``: one Parameter under two names. As in transformers, ``state_dict()``
    lists both keys, so ``load_state_dict(model.state_dict())`` round-trips; the released 3B files hold
    only the embedding, and :mod:`qwen_lite.weights` drops/restores the duplicate when saving/loading.
    """

    def __init__(self, config: Qwen25VLConfig):
        super().__init__()
        self.config = config
        self.visual = VisionTransformer(config.vision)
        self.model = TextModel(config.text)
        self.lm_head = nn.Linear(config.text.hidden_size, config.text.vocab_size, bias=False)
        if config.text.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

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
    ) -> Qwen25VLOutput:
        """Next-token logits for a batch of (multimodal) prompts.

        input_ids: (b l); attention_mask: (b s) over cached + new tokens, 0 = left padding.
        pixel_values: (n 1176) all images' patches, image_grid_thw: (n_images 3); same for videos,
        with second_per_grid_ts: (n_videos) seconds per temporal grid step (default 1.0).
        past_key_values: a :class:`KVCache` (one is created when ``use_cache``). For a decode step
        (non-empty cache) pass the prefill's ``rope_deltas`` (b 1), or explicit ``position_ids`` (3 b l).
        logits_to_keep: if > 0, compute logits only for the last that many positions.
        """
        check_shape(input_ids, "b l", "input_ids")
        embeds = self.model.embed_tokens(input_ids)
        record("embed_tokens", input_ids, embeds)
        if pixel_values is not None:
            embeds = self.fuse(embeds, input_ids, pixel_values, image_grid_thw, "image")
        if pixel_values_videos is not None:
            embeds = self.fuse(embeds, input_ids, pixel_values_videos, video_grid_thw, "video")

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
        )
        hidden = out.last_hidden_state
        if logits_to_keep > 0:
            hidden = hidden[:, -logits_to_keep:]
        logits = self.lm_head(hidden)
        record("lm_head", hidden, logits)
        return Qwen25VLOutput(logits, past_key_values, rope_deltas, out.hidden_states)

    def fuse(self, embeds, input_ids, pixel_values, grid_thw, kind: str) -> torch.Tensor:
        """Run the tower on all images (or all videos) and write the vectors over their placeholders.

        embeds: (b l dim) token embeddings; returns a new (b l dim) tensor. Placeholders are filled in
        reading order (row by row), which is the order of ``grid_thw``.
        """
        if grid_thw is None:
            raise ValueError(f"{kind} pixel values were given without {kind}_grid_thw")
        token_id = self.config.image_token_id if kind == "image" else self.config.video_token_id
        check_placeholders(input_ids, token_id, grid_thw, kind, self.config.vision.spatial_merge_size)
        dtype = next(self.visual.parameters()).dtype
        features = self.visual(pixel_values.to(dtype), grid_thw)
        record(f"vision ({kind}s)", [pixel_values, grid_thw], features)
        is_placeholder = (input_ids == token_id).unsqueeze(-1)  # (b l 1)
        fused = embeds.masked_scatter(is_placeholder, features.to(embeds.dtype))
        record(f"fuse {kind}s", [embeds, features], fused)
        return fused

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
        """:func:`qwen_lite.generation.generate` on this model (same arguments)."""
        return generate(self, input_ids, **kwargs)


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

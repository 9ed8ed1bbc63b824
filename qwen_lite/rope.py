"""M-RoPE: three-axis rotary positions for text, images and video in one sequence.

Qwen2.5-VL gives every token three position ids (temporal, height, width) instead of one.
Text tokens get the same id on all three axes, so for text M-RoPE *is* ordinary 1-D RoPE. The
merged tokens of an image or video get their grid coordinates, shifted to start where the text
before them ended. Two pieces live here:

* :func:`get_rope_index` turns ``input_ids`` plus the visual grids into ``position_ids`` of shape
  ``(3, batch, seq)`` and the per-row ``rope_deltas`` that continue the positions while decoding.
* :class:`MRoPE` / :func:`multimodal_rotary` turn ``position_ids`` into the ``cos``/``sin`` tables of the
  decoder: each of the ``head_dim/2`` frequency slots reads its angle from one axis, chosen by
  ``mrope_section`` (``[16, 24, 24]``: 16 temporal slots, 24 height, 24 width).

The rule is the one the released model was trained with (transformers 4.49-4.57): text after a visual
block starts at the block's largest position + 1, on all three axes. One deliberate difference from
transformers 4.57: the video time ``frame * second_per_grid_t * tokens_per_second`` is computed in
float and only the product is truncated (as 4.49 and 5.x do); 4.51-4.57 cast ``second_per_grid_t`` to
an integer first, so 0.5 s per grid collapses every frame onto temporal id 0 (see tests/test_rope.py).

transformers 5.x differs from 4.57 in a few places (text after a long video, pads' value, the
deltas' convention, a one-token padded row); book/data/version_differences.json lists each with both
values and the one followed here, and tests/test_reference_versions.py keeps that list true.
"""

from __future__ import annotations

import einops
import torch
from torch import nn

from qwen_lite.shapes import check_shape

# --- position ids ------------------------------------------------------------------------------


def get_rope_index(
    input_ids: torch.Tensor,
    image_grid_thw: torch.Tensor | None = None,
    video_grid_thw: torch.Tensor | None = None,
    second_per_grid_ts: torch.Tensor | list[float] | None = None,
    attention_mask: torch.Tensor | None = None,
    *,
    spatial_merge_size: int = 2,
    tokens_per_second: int = 2,
    image_token_id: int = 151655,
    video_token_id: int = 151656,
    vision_start_token_id: int = 151652,
    deltas_count_pads: bool = True,
    video_frames_as_blocks: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """3-D rotary positions for a batch of prompts.

    input_ids: (b l) integer token ids; a visual block is the run of ``<|image_pad|>`` / ``<|video_pad|>``
        tokens right after a ``<|vision_start|>``; blocks take grids from ``image_grid_thw`` /
        ``video_grid_thw`` (each (n 3) integers >= 1, patch units, h and w multiples of
        ``spatial_merge_size``) in order of appearance across the batch.
    second_per_grid_ts: (n_videos) finite seconds >= 0 covered by one temporal grid step (1.0 when omitted).
    attention_mask: (b l) 1 for real tokens, 0 for (left) padding.
    deltas_count_pads: only for a text-only batch (no grids). ``True`` (default, transformers 4.57.6's
        text-only branch): padding slots hold position 1 and count toward a row's largest position, so a
        left-padded row with one real token (or none) gets ``rope_deltas = 2 - l`` and its first generated
        token position 2. ``False``: only real tokens count (``n_real - l``, first generated token at
        ``n_real``), which is where transformers 5.x's ``generate`` continues. Rows with two or more real
        tokens, unpadded rows and batches with images or videos are the same under both rules.
    video_frames_as_blocks: Qwen3-VL (``True``): each temporal patch of a video is its own visual block
        (the prompt has a ``<t seconds>`` timestamp and a vision start/end pair around each), so a video of
        grid (t, h, w) is read as t blocks of (1, h, w): temporal ids never advance inside a block, and time
        is the timestamp text's job. ``second_per_grid_ts`` must then be None. Source: transformers 4.57.6 /
        5.24.0 ``Qwen3VLModel.get_rope_index`` (``repeat_interleave`` of ``video_grid_thw`` by ``t``, then ``t = 1``).

    Returns ``position_ids`` (3 b l) and ``rope_deltas`` (b 1). Positions are computed on each row's
    unpadded tokens; padding slots get position 1 (as transformers 4.57; 5.x writes 0; they are masked out
    as keys, so the value never changes a logit). ``rope_deltas = max position + 1 - l`` with ``l`` the
    *padded* length (4.57's convention; 5.x subtracts the unpadded length and adds it back while decoding),
    so that decode step positions are simply ``cache length + rope_deltas`` (:func:`decode_position_ids`).

    Raises ``TypeError`` / ``ValueError`` naming the argument: non-integer ``input_ids`` or grids, a mask
    of the wrong shape or with values other than 0/1, grid sizes < 1 or not divisible by the merge size,
    ``second_per_grid_ts`` that are not one finite number >= 0 per video, placeholder counts that do not
    match the grids. Source: transformers 4.57.6 ``Qwen2_5_VLModel.get_rope_index`` (see the module doc
    for the one deliberate difference, fractional seconds per grid).
    """
    batch, length = check_shape(input_ids, "b l", "input_ids").values()
    _check_integer_tensor(input_ids, "input_ids", "token ids")
    for name, value in (("spatial_merge_size", spatial_merge_size), ("tokens_per_second", tokens_per_second),
                        ("image_token_id", image_token_id), ("video_token_id", video_token_id),
                        ("vision_start_token_id", vision_start_token_id)):  # fmt: skip
        _check_int(value, name, minimum=1 if name in ("spatial_merge_size", "tokens_per_second") else 0)
    if not isinstance(deltas_count_pads, bool):
        raise TypeError(f"deltas_count_pads: expected True or False, got {deltas_count_pads!r}")
    if not isinstance(video_frames_as_blocks, bool):
        raise TypeError(f"video_frames_as_blocks: expected True or False, got {video_frames_as_blocks!r}")
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    check_attention_mask(attention_mask, batch, length)
    keep = attention_mask.bool()
    n_videos = (
        0
        if video_grid_thw is None
        else len(check_grid_thw(video_grid_thw, "video_grid_thw", spatial_merge_size))
    )
    if image_grid_thw is not None:
        check_grid_thw(image_grid_thw, "image_grid_thw", spatial_merge_size)
    if second_per_grid_ts is not None:
        if video_frames_as_blocks:
            raise ValueError(
                "second_per_grid_ts: not used with video_frames_as_blocks (time is in the prompt's timestamps); pass None"
            )
        second_per_grid_ts = check_second_per_grid_ts(second_per_grid_ts, n_videos)
    if video_frames_as_blocks and video_grid_thw is not None:
        video_grid_thw = video_frames(video_grid_thw)

    if image_grid_thw is None and video_grid_thw is None:
        return _text_only_positions(keep, deltas_count_pads)

    blocks = _VisualBlocks(
        image_grid_thw,
        video_grid_thw,
        second_per_grid_ts,
        spatial_merge_size=spatial_merge_size,
        tokens_per_second=tokens_per_second,
        token_ids={"image": image_token_id, "video": video_token_id},
    )
    position_ids = torch.ones(3, batch, length, dtype=torch.long, device=input_ids.device)
    rope_deltas = torch.zeros(batch, 1, dtype=torch.long, device=input_ids.device)
    for row in range(batch):
        ids = input_ids[row][keep[row]]
        positions = _row_positions(ids, row, blocks, vision_start_token_id)
        position_ids[:, row, keep[row]] = positions
        next_position = positions.max() + 1 if positions.numel() else 0
        rope_deltas[row] = next_position - length
    blocks.check_all_used()
    return position_ids, rope_deltas


def video_frames(video_grid_thw: torch.Tensor) -> torch.Tensor:
    """(n 3) video grids -> (sum of t, 3): each video's t temporal patches as t grids of (1, h, w), in order."""
    frames = torch.repeat_interleave(video_grid_thw, video_grid_thw[:, 0], dim=0)
    frames[:, 0] = 1
    return frames


def decode_position_ids(rope_deltas: torch.Tensor, past_length: int, seq_len: int = 1) -> torch.Tensor:
    """Positions of ``seq_len`` new tokens appended after ``past_length`` cached ones (cached pads included).

    rope_deltas: (b 1) from :func:`get_rope_index`. Returns (3 b seq_len): after the prompt every
    token is text again, so all three axes carry the same 1-D continuation ``index + rope_delta``.
    """
    check_shape(rope_deltas, "b one", "rope_deltas", one=1)
    steps = torch.arange(past_length, past_length + seq_len, device=rope_deltas.device)
    positions = steps[None, :] + rope_deltas  # (b seq_len)
    return einops.repeat(positions, "b l -> three b l", three=3)


def _text_only_positions(keep: torch.Tensor, deltas_count_pads: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Text only: 0, 1, 2, ... over each row's real tokens, pads at 1.

    delta = (largest position + 1) - length. With ``deltas_count_pads`` the pads' 1 takes part in the
    largest position, as in transformers 4.57.6 (``position_ids.masked_fill_(mask == 0, 1)`` then ``max``):
    a padded row with one real token has largest position 1, not 0. Without, delta = real count - length.
    """
    positions = keep.long().cumsum(-1) - 1
    positions = positions.masked_fill(~keep, 1)
    if deltas_count_pads:
        largest = positions.max(-1, keepdim=True).values if keep.shape[-1] else keep.sum(-1, keepdim=True) - 1
        rope_deltas = largest + 1 - keep.shape[-1]
    else:
        rope_deltas = keep.sum(-1, keepdim=True) - keep.shape[-1]
    return einops.repeat(positions, "b l -> three b l", three=3).contiguous(), rope_deltas


def _check_int(value, name: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")


def _check_integer_tensor(x: torch.Tensor, name: str, what: str) -> None:
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise TypeError(f"{name}: expected an integer tensor of {what}, got {x.dtype}")


def check_attention_mask(attention_mask, batch: int, length: int, axis: str = "l") -> None:
    """``attention_mask`` of shape (b ``axis``) with ``axis`` = ``length``: bool, integer or float, every
    value 0 or 1. The model's forward names the axis "s" (cached + new tokens: the mask covers the cache)."""
    check_shape(attention_mask, f"b {axis}", "attention_mask", b=batch, **{axis: length})
    if attention_mask.is_complex():
        raise TypeError(
            f"attention_mask: expected a bool, integer or float tensor, got {attention_mask.dtype}"
        )
    if attention_mask.dtype != torch.bool and not attention_mask.is_meta:
        odd = attention_mask[(attention_mask != 0) & (attention_mask != 1)]
        if odd.numel():
            raise ValueError(
                f"attention_mask: expected only 0 (padding) and 1 (token), found {odd[0].item()}"
            )


def check_grid_thw(grid_thw, name: str, merge: int) -> torch.Tensor:
    """A (n 3) integer tensor of (t, h, w) patch counts, each >= 1, h and w multiples of ``merge``."""
    check_shape(grid_thw, "n three", name, three=3)
    _check_integer_tensor(grid_thw, name, "(t, h, w) patch counts")
    if grid_thw.is_meta or not grid_thw.numel():
        return grid_thw
    small = (grid_thw < 1).any(-1)
    if small.any():
        row = int(small.nonzero()[0])
        raise ValueError(f"{name}[{row}] = {grid_thw[row].tolist()}: t, h and w must all be >= 1")
    odd = (grid_thw[:, 1:] % merge != 0).any(-1)
    if odd.any():
        row = int(odd.nonzero()[0])
        raise ValueError(
            f"{name}[{row}] = {grid_thw[row].tolist()}: h and w must be multiples of the spatial merge size {merge}"
        )
    return grid_thw


def check_second_per_grid_ts(second_per_grid_ts, videos: int) -> torch.Tensor:
    """One finite, non-negative number of seconds per temporal grid step for each of ``videos`` videos."""
    try:
        seconds = torch.as_tensor(second_per_grid_ts)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(
            f"second_per_grid_ts: expected a tensor or list of numbers, got {second_per_grid_ts!r}"
        ) from None
    if seconds.dtype == torch.bool or seconds.is_complex():
        raise TypeError(f"second_per_grid_ts: expected numbers of seconds, got {seconds.dtype}")
    if seconds.dim() > 1 or seconds.numel() != videos:
        raise ValueError(
            f"second_per_grid_ts: expected one value per video ({videos}), got shape {tuple(seconds.shape)}"
        )
    if seconds.numel() and not bool((torch.isfinite(seconds.double()) & (seconds >= 0)).all()):
        raise ValueError(f"second_per_grid_ts: expected finite seconds >= 0, got {seconds.tolist()}")
    return seconds


class _VisualBlocks:
    """Hands out the grids of images and videos in order of appearance, checking counts as it goes."""

    def __init__(self, image_grid_thw, video_grid_thw, second_per_grid_ts, *, spatial_merge_size,
                 tokens_per_second, token_ids):  # fmt: skip
        self.grids = {"image": _as_grid(image_grid_thw, "image_grid_thw"),
                      "video": _as_grid(video_grid_thw, "video_grid_thw")}  # fmt: skip
        n_videos = len(self.grids["video"])
        if second_per_grid_ts is None:
            second_per_grid_ts = [1.0] * n_videos
        # float32, as the processor hands it over and the original release multiplied it.
        self.seconds = torch.as_tensor(second_per_grid_ts, dtype=torch.float32).flatten().cpu()
        self.merge = spatial_merge_size
        self.tokens_per_second = tokens_per_second
        self.token_ids = token_ids
        self.used = {"image": 0, "video": 0}

    def next(self, kind: str, row: int) -> tuple[int, int, int, torch.Tensor | None]:
        """The next ``kind`` block as (t, h, w, seconds per grid or None for images), merged units."""
        index = self.used[kind]
        if index >= len(self.grids[kind]):
            raise ValueError(
                f"input_ids row {row} has more <|vision_start|> {kind} blocks than the "
                f"{len(self.grids[kind])} rows of {kind}_grid_thw"
            )
        self.used[kind] += 1
        t, h, w = self.grids[kind][index]
        seconds = None if kind == "image" else self.seconds[index]
        return t, h // self.merge, w // self.merge, seconds

    def check_all_used(self) -> None:
        for kind, grids in self.grids.items():
            if self.used[kind] != len(grids):
                raise ValueError(
                    f"{kind}_grid_thw has {len(grids)} rows but input_ids contain {self.used[kind]} "
                    f"<|vision_start|> {kind} blocks"
                )


def _as_grid(grid_thw, name: str) -> list[tuple[int, int, int]]:
    if grid_thw is None:
        return []
    check_shape(grid_thw, "n three", name, three=3)
    return [tuple(int(v) for v in row) for row in grid_thw.tolist()]


def _row_positions(
    ids: torch.Tensor, row: int, blocks: _VisualBlocks, vision_start_token_id: int
) -> torch.Tensor:
    """(3 n) positions of one unpadded row: text runs count up, visual blocks lay out their grid."""
    kind_of = {token: kind for kind, token in blocks.token_ids.items()}
    after_start = (ids[:-1] == vision_start_token_id).nonzero().flatten() + 1
    starts = [int(i) for i in after_start if int(ids[i]) in kind_of]

    pieces, next_position, cursor = [], 0, 0
    for start in starts:
        kind = kind_of[int(ids[start])]
        t, h, w, seconds = blocks.next(kind, row)
        _check_block_length(ids, start, t * h * w, kind, blocks.used[kind] - 1, row)
        pieces.append(_text_positions(start - cursor, next_position, ids.device))
        next_position += start - cursor
        grid = _grid_positions(t, h, w, seconds, blocks.tokens_per_second, ids.device) + next_position
        pieces.append(grid)
        next_position = int(grid.max()) + 1  # text resumes after the largest id on any axis
        cursor = start + t * h * w
    pieces.append(_text_positions(len(ids) - cursor, next_position, ids.device))
    return torch.cat(pieces, dim=1)


def _text_positions(count: int, first: int, device) -> torch.Tensor:
    """(3 count): the same running position on all three axes."""
    return torch.arange(first, first + count, device=device).expand(3, -1)


def _grid_positions(t: int, h: int, w: int, seconds_per_grid, tokens_per_second: int, device) -> torch.Tensor:
    """(3 t*h*w) ids (temporal, row, column) of a block's tokens in raster order, starting at 0.

    Images: temporal id = grid index (t = 1, so 0). Videos: ``floor(i * seconds_per_grid * tokens_per_second)``
    for grid ``i``: at 2 ticks per second, 1 s per grid advances 2 per grid, 0.5 s advances 1, 1.5 s
    advances 3. Computed as the original release did: a float32 product in that order, then truncated
    (ids are >= 0, so truncation is floor). transformers 4.51-4.57 truncate ``seconds_per_grid`` first.
    """
    temporal = torch.arange(t, device=device)
    if seconds_per_grid is not None:  # a video: grid index -> rope ticks
        temporal = (temporal * seconds_per_grid.to(device) * tokens_per_second).long()
    return torch.stack(
        [
            einops.repeat(temporal, "t -> (t h w)", h=h, w=w),
            einops.repeat(torch.arange(h, device=device), "h -> (t h w)", t=t, w=w),
            einops.repeat(torch.arange(w, device=device), "w -> (t h w)", t=t, h=h),
        ]
    )


def _check_block_length(
    ids: torch.Tensor, start: int, expected: int, kind: str, index: int, row: int
) -> None:
    token = int(ids[start])
    others = (ids[start:] != token).nonzero()
    found = int(others[0]) if len(others) else len(ids) - start
    if found != expected:
        raise ValueError(
            f"{kind} {index} (input_ids row {row}): {found} <|{kind}_pad|> tokens after <|vision_start|> "
            f"but its {kind}_grid_thw gives {expected} merged tokens"
        )


# --- rotary tables -----------------------------------------------------------------------------


def inverse_frequencies(head_dim: int, theta: float) -> torch.Tensor:
    """(head_dim/2) rotation speeds ``theta^(-2i/head_dim)``, computed exactly as transformers does."""
    return 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))


def slot_axes(mrope_section, interleaved: bool = False) -> torch.Tensor:
    """(head_dim/2) which axis (0 temporal, 1 height, 2 width) each frequency slot reads.

    Chunked (Qwen2.5-VL): chunk k -> axis k mod 3, so ``[16, 24, 24]`` gives slots 0-15 to t, 16-39 to h,
    40-63 to w: time turns only with the fastest frequencies, width only with the slowest.
    ``interleaved`` (Qwen3-VL): t, h, w, t, h, w, ... -- slot i reads h if ``i % 3 == 1`` and
    ``i < 3 * mrope_section[1]``, w if ``i % 3 == 2`` and ``i < 3 * mrope_section[2]``, else t; ``[24, 20, 20]``
    interleaves slots 0-59 and gives the last 4 to t. Every axis then spans the whole frequency range.
    Source: transformers Qwen3-VL ``apply_interleaved_mrope`` (4.57.6), ``recomposition_frequencies`` (5.24.0).
    """
    if not interleaved:
        axes = [k % 3 for k, size in enumerate(mrope_section) for _ in range(size)]
        return torch.tensor(axes, dtype=torch.long)
    _, height, width = mrope_section
    axes = [1 if i % 3 == 1 and i < 3 * height else 2 if i % 3 == 2 and i < 3 * width else 0
            for i in range(sum(mrope_section))]  # fmt: skip
    return torch.tensor(axes, dtype=torch.long)


def _mrope_cos_sin(position_ids: torch.Tensor, inv_freq: torch.Tensor, axes: torch.Tensor):
    _, batch, length = check_shape(position_ids, "three b l", "position_ids", three=3).values()
    inv_freq = inv_freq.to(position_ids.device).float()
    angles = position_ids[..., None].float() * inv_freq  # (3 b l half): every axis, every slot
    # Slot i keeps the angle of its own axis: gather along the axis dimension.
    index = axes.to(angles.device).expand(1, batch, length, -1)
    angles = angles.gather(0, index)[0]  # (b l half)
    angles = torch.cat([angles, angles], dim=-1)  # rotate-half layout: the two halves share angles
    return angles.cos(), angles.sin()


def _check_section(mrope_section, head_dim: int) -> None:
    if 2 * sum(mrope_section) != head_dim:
        raise ValueError(f"mrope_section {tuple(mrope_section)} must sum to head_dim/2 = {head_dim // 2}")


def multimodal_rotary(position_ids: torch.Tensor, head_dim: int, theta: float, mrope_section,
                      interleaved: bool = False):  # fmt: skip
    """cos, sin of shape (b l head_dim), float32, for ``position_ids`` (3 b l).

    Slots ``0..15`` rotate with the temporal id, ``16..39`` with the row id, ``40..63`` with the
    column id (for ``mrope_section = [16, 24, 24]``); ``interleaved`` (Qwen3-VL) deals them out in turn
    (:func:`slot_axes`). If the three ids agree (text), this is 1-D RoPE either way.
    """
    _check_section(mrope_section, head_dim)
    axes = slot_axes(mrope_section, interleaved)
    return _mrope_cos_sin(position_ids, inverse_frequencies(head_dim, theta), axes)


class MRoPE(nn.Module):
    """:func:`multimodal_rotary` bound to one decoder's sizes.

    The frequency table is rebuilt on each call (64 numbers) rather than kept as a buffer, so
    ``model.to(torch.bfloat16)`` can never round it: the angles are always computed in float32.
    """

    def __init__(self, head_dim: int, theta: float, mrope_section, interleaved: bool = False):
        super().__init__()
        _check_section(mrope_section, head_dim)
        self.head_dim, self.theta, self.mrope_section = head_dim, theta, tuple(mrope_section)
        self.interleaved = interleaved

    def forward(self, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """position_ids (3 b l) -> cos, sin (b l head_dim), float32."""
        return multimodal_rotary(
            position_ids, self.head_dim, self.theta, self.mrope_section, self.interleaved
        )

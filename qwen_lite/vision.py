"""The Qwen2.5-VL vision tower: pixels -> patches -> ViT blocks -> 2x2 merge -> one token per 28x28 px.

    pixel_values (n, 1176) --PatchEmbed--> (n, 1280) --window order--> 32 x VisionBlock --> (n, 1280)
      --PatchMerger--> (n/4, out_hidden) --processor order--> (n/4, out_hidden)

Rows. The processor cuts each image (or each pair of video frames) into 14x14 patches and writes
them as a raster of 2x2 blocks: the four patches of one *merged unit* are consecutive rows, so the
merger can join them with a reshape. Several images and videos arrive concatenated; ``grid_thw``
(one row ``(t, h, w)`` per item, in patches) says where each one ends.

Attention. Most blocks attend only inside windows of 4x4 merged units (112x112 px = 64 patches);
the blocks in ``fullatt_block_indexes`` (7, 15, 23, 31 in the released model) attend over a whole
frame. Neither ever crosses from one image, or one 2-frame slice of a video, to another. To make the
windows contiguous, the rows are permuted into *window order* once, before the first block, and
back after the merger. Attention runs per segment of rows with no N x N mask: segments of equal
length (most windows have 64 patches) are stacked into one batched SDPA call.

Position. No learned position table: each patch gets a 2-D rotary embedding from its (row, col).

Qwen3-VL uses this same tower with other switches (class attributes of its config, ``qwen_lite.config``):
LayerNorm and a Linear-GELU(tanh)-Linear MLP in each block, a Conv3d with bias, full attention in every
block (no window order), a learned position table added to the patch embeddings
(:mod:`qwen_lite.vision_positions`), and DeepStack mergers on a few blocks (:mod:`qwen_lite.deepstack`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from qwen_lite.config import VisionConfig
from qwen_lite.deepstack import VisionMerger
from qwen_lite.layers import MLP, GeluMLP, RMSNorm, apply_rotary, norm_layer
from qwen_lite.shapes import ShapeError, check_shape
from qwen_lite.trace import record
from qwen_lite.vision_positions import LearnedPositions

# --- the grid: positions, windows and frame segments (index bookkeeping, no parameters) ----------


def _grid_list(grid_thw, merge_size: int) -> list[tuple[int, int, int]]:
    """Validate ``grid_thw`` ``(items 3)`` (a tensor or nested list) and return it as Python ints."""
    if not isinstance(grid_thw, torch.Tensor):
        grid_thw = torch.as_tensor(grid_thw)
    check_shape(grid_thw, "items three", "grid_thw", three=3)
    if grid_thw.is_floating_point() or grid_thw.dtype == torch.bool:
        raise TypeError(
            f"grid_thw: expected an integer tensor of (t, h, w) patch counts, got {grid_thw.dtype}"
        )
    grid = [tuple(row) for row in grid_thw.tolist()]
    for i, (t, h, w) in enumerate(grid):
        if min(t, h, w) < 1:
            raise ValueError(f"grid_thw[{i}] = {[t, h, w]}: t, h and w must all be >= 1")
        if h % merge_size or w % merge_size:
            raise ValueError(
                f"grid_thw[{i}] = {[t, h, w]}: h and w must be multiples of the spatial merge size "
                f"{merge_size} (the processor resizes images to multiples of {merge_size} patches)"
            )
    return grid


def vision_position_ids(grid_thw, merge_size: int = 2) -> torch.Tensor:
    """The (row, col) of every patch, in row order. ``grid_thw (items 3) -> (n 2)``, int64.

    Rows come as a raster of ``merge_size x merge_size`` blocks, so the ids follow the same order;
    every temporal slice of a video repeats the ids of its first slice (time is not rotary-encoded
    inside the tower).
    """
    ids = []
    for t, h, w in _grid_list(grid_thw, merge_size):
        rows, cols = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        row_col = rearrange(
            torch.stack([rows, cols], dim=-1),
            "(bh mh) (bw mw) two -> (bh bw mh mw) two",
            mh=merge_size,
            mw=merge_size,
        )
        ids.append(row_col.repeat(t, 1))
    return torch.cat(ids)


def get_window_index(grid_thw, window_size: int = 112, patch_size: int = 14, merge_size: int = 2):
    """Which merged units form each attention window, and where the windows end.

    Returns ``window_index`` ``(n/4,)``: the permutation of merged units into window order (windows
    row-major over each frame, units row-major inside each window), and ``cu_window_seqlens``
    ``(windows+1,)`` int32: window boundaries in *patch* rows of the reordered sequence, from 0.
    Frames whose size is not a multiple of the window get smaller windows at the right and bottom
    edges. Equal to the reference ``get_window_index`` followed by ``unique_consecutive``.
    """
    side = window_size // patch_size // merge_size  # window side in merged units: 112 px -> 4
    window_index, window_lengths, offset = [], [], 0
    for t, h, w in _grid_list(grid_thw, merge_size):
        units_h, units_w = h // merge_size, w // merge_size
        units = torch.arange(t * units_h * units_w).view(t, units_h, units_w)
        # Pad to whole windows with -1 ("no unit"). The reference always adds `side - size % side`,
        # which appends an empty window when the size divides; empty windows vanish in the end either way.
        padded = F.pad(units, (0, -units_w % side, 0, -units_h % side), value=-1)
        windows = rearrange(padded, "t (wh sh) (ww sw) -> (t wh ww) (sh sw)", sh=side, sw=side)
        real = windows >= 0
        window_index.append(windows[real] + offset)
        window_lengths.append(real.sum(dim=1) * merge_size**2)
        offset += t * units_h * units_w
    cu_window_seqlens = F.pad(torch.cat(window_lengths).cumsum(0), (1, 0))
    return torch.cat(window_index), torch.unique_consecutive(cu_window_seqlens).to(torch.int32)


def get_cu_seqlens(grid_thw, merge_size: int = 2) -> torch.Tensor:
    """Segment boundaries for the full-attention blocks: one segment per frame slice, ``(slices+1,)`` int32.

    Each item contributes ``h*w`` patches ``t`` times: full attention never crosses images, nor the
    2-frame slices of a video (those mix only in the patch embedding's temporal kernel).
    """
    lengths = [h * w for t, h, w in _grid_list(grid_thw, merge_size) for _ in range(t)]
    return F.pad(torch.tensor(lengths).cumsum(0), (1, 0)).to(torch.int32)


def attention_groups(
    grid_thw, window: bool = True, window_size: int = 112, patch_size: int = 14, merge_size: int = 2
) -> torch.Tensor:
    """The attention segment of every patch, in processor row order: ``(n,)`` int64.

    Two patches can attend to each other in a block iff they have the same group id. ``window=True``
    for window-attention blocks, ``False`` for the blocks in ``fullatt_block_indexes``.
    """
    window_index, cu_window_seqlens = get_window_index(grid_thw, window_size, patch_size, merge_size)
    cu_seqlens = cu_window_seqlens if window else get_cu_seqlens(grid_thw, merge_size)
    lengths = cu_seqlens.diff().long()
    group_in_window_order = torch.repeat_interleave(torch.arange(len(lengths)), lengths)
    rows_in_window_order = units_to_rows(window_index, merge_size**2)
    groups = torch.empty_like(group_in_window_order)
    groups[rows_in_window_order] = group_in_window_order
    return groups


def units_to_rows(unit_index: torch.Tensor, unit: int) -> torch.Tensor:
    """A permutation of merged units -> the same permutation of patch rows (each unit is ``unit`` rows)."""
    return (unit_index[:, None] * unit + torch.arange(unit)).flatten()


def group_segments(cu_seqlens: torch.Tensor) -> list[torch.Tensor]:
    """Group the segments ``[cu[i], cu[i+1])`` by length: one ``(segments length)`` row-index tensor each.

    A 448x448 image has 16 windows of 64 patches; an odd size adds a few shorter edge
    windows. Stacking equal lengths lets one batched SDPA call handle a whole group.
    """
    cu_seqlens = cu_seqlens.long()
    lengths, starts = cu_seqlens.diff(), cu_seqlens[:-1]
    groups = []
    for length in lengths.unique().tolist():  # a handful of distinct lengths, not one per window
        if length > 0:
            groups.append(starts[lengths == length][:, None] + torch.arange(length, device=starts.device))
    return groups


def segment_attention(q, k, v, groups: list[torch.Tensor]) -> torch.Tensor:
    """Bidirectional attention inside each segment. ``q, k, v: (n heads head_dim) -> (n heads head_dim)``."""
    sizes = check_shape(q, "n heads head_dim", "q")
    check_shape(k, "n heads head_dim", "k", **sizes)
    check_shape(v, "n heads head_dim", "v", **sizes)
    if len(groups) == 1 and groups[0].numel() == q.shape[0]:
        # All segments have one length, so they tile the rows in order: a reshape, no gather.
        shape = groups[0].shape
        return _batched_sdpa(*(x.unflatten(0, shape) for x in (q, k, v))).flatten(0, 1)
    out = torch.empty_like(q)
    for index in groups:
        out[index] = _batched_sdpa(q[index], k[index], v[index])
    return out


def _batched_sdpa(q, k, v) -> torch.Tensor:
    """``(segments length heads head_dim)`` each -> same; scale 1/sqrt(head_dim), no mask."""
    q, k, v = (x.transpose(1, 2) for x in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v, scale=q.shape[-1] ** -0.5)
    return out.transpose(1, 2)


# --- modules ------------------------------------------------------------------------------------


class PatchEmbed(nn.Module):
    """Project each flattened patch to the tower width. ``(n patch_dim) -> (n hidden)``.

    The checkpoint stores a Conv3d (``proj.weight`` of shape ``(hidden, 3, 2, 14, 14)``) whose
    kernel = stride = the whole ``(3, 2, 14, 14)`` patch, so it slides nowhere: each output channel is
    one dot product of its kernel with the patch. That is a Linear on the 1176-vector with weight
    ``proj.weight.flatten(1)`` (flattened in the (c, t, y, x) order the processor uses)::

        embed(x) == x @ embed.proj.weight.flatten(1).T   # up to float rounding; see tests/test_vision.py

    We run the convolution anyway: it sums in the same order as the reference, so the tower's output
    matches it bit for bit instead of to ~1e-6.
    """

    def __init__(self, config: VisionConfig):
        super().__init__()
        self.patch_shape = (
            config.in_channels,
            config.temporal_patch_size,
            config.patch_size,
            config.patch_size,
        )
        self.proj = nn.Conv3d(  # bias: Qwen3-VL's switch (config.patch_bias)
            config.in_channels,
            config.hidden_size,
            self.patch_shape[1:],
            self.patch_shape[1:],
            bias=config.patch_bias,
        )

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        check_shape(pixel_values, "n patch_dim", "pixel_values", patch_dim=self.proj.weight[0].numel())
        patches = pixel_values.reshape(-1, *self.patch_shape).to(self.proj.weight.dtype)
        return self.proj(patches).flatten(1)  # (n, hidden, 1, 1, 1) -> (n, hidden)


class VisionRotaryEmbedding(nn.Module):
    """2-D rotary angles: a patch at (row, col) gets ``[row * inv_freq, col * inv_freq]`` twice over.

    ``inv_freq = 1 / theta^(2i / (head_dim/2))`` has ``head_dim/4`` entries (20 for head_dim 80): the
    first quarter of each head rotates with the row, the second with the column, and the second half
    repeats the first (rotate-half pairs ``i`` with ``i + head_dim/2``). No parameters or buffers, so
    the tower builds on the meta device. ``position_ids (n 2) -> cos, sin (n head_dim)``, float32.
    """

    def __init__(self, head_dim: int, theta: float = 10000.0):
        super().__init__()
        self.head_dim, self.theta = head_dim, theta

    def forward(self, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_shape(position_ids, "n two", "position_ids", two=2)
        dim = self.head_dim // 2  # the reference's "dim": half of each head per axis
        inv_freq = 1.0 / (self.theta ** (torch.arange(0, dim, 2, dtype=torch.float) / dim))
        angles = position_ids.float()[:, :, None] * inv_freq.to(position_ids.device)  # (n, 2, head_dim/4)
        angles = angles.flatten(1)
        angles = torch.cat([angles, angles], dim=-1)
        return angles.cos(), angles.sin()


class VisionAttention(nn.Module):
    """Multi-head self-attention inside segments, with 2-D rotary on q and k. ``(n hidden) -> (n hidden)``."""

    def __init__(self, config: VisionConfig):
        super().__init__()
        self.num_heads = config.num_heads
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size, bias=True)
        self.proj = nn.Linear(config.hidden_size, config.hidden_size, bias=True)

    def forward(self, x, cos, sin, groups: list[torch.Tensor]) -> torch.Tensor:
        qkv = rearrange(self.qkv(x), "n (three h d) -> three n h d", three=3, h=self.num_heads)
        q, k = apply_rotary(qkv[:2], cos[:, None], sin[:, None])  # q and k in one go; broadcast over heads
        return self.proj(segment_attention(q, k, qkv[2], groups).flatten(1))


class VisionBlock(nn.Module):
    """Pre-norm transformer block: ``x += attn(norm1(x)); x += mlp(norm2(x))``. ``(n hidden) -> (n hidden)``."""

    def __init__(self, config: VisionConfig):
        super().__init__()
        # Switches: RMSNorm + SwiGLU (Qwen2.5-VL) or LayerNorm + GELU(tanh) MLP (Qwen3-VL).
        self.norm1 = norm_layer(config.norm, config.hidden_size, config.norm_eps)
        self.norm2 = norm_layer(config.norm, config.hidden_size, config.norm_eps)
        self.attn = VisionAttention(config)
        if config.mlp == "swiglu":
            self.mlp = MLP(config.hidden_size, config.intermediate_size, bias=True)
        else:
            self.mlp = GeluMLP(config.hidden_size, config.intermediate_size)

    def forward(self, x, cos, sin, groups: list[torch.Tensor]) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), cos, sin, groups)
        return x + self.mlp(self.norm2(x))


class PatchMerger(nn.Module):
    """Join each 2x2 unit of patches into one LLM token. ``(n hidden) -> (n/4 out_hidden)``.

    RMSNorm each patch, concatenate the four consecutive rows of a unit (4 x 1280 = 5120), then
    Linear -> GELU (exact, erf) -> Linear to the language model's width.
    """

    def __init__(self, config: VisionConfig):
        super().__init__()
        self.unit = config.spatial_merge_size**2
        width = config.hidden_size * self.unit
        self.ln_q = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, config.out_hidden_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(rearrange(self.ln_q(x), "(m unit) d -> m (unit d)", unit=self.unit))


class VisionTransformer(nn.Module):
    """The vision tower (checkpoint prefix ``visual.``). ``pixel_values (n patch_dim), grid_thw (items 3)
    -> (n/4 out_hidden)``, merged tokens in the processor's order, item after item."""

    def __init__(self, config: VisionConfig):
        super().__init__()
        if (config.mlp, config.hidden_act) not in (("swiglu", "silu"), ("gelu", "gelu_pytorch_tanh")):
            raise ValueError(
                f"vision hidden_act: {config.hidden_act!r} is not implemented for the {config.mlp} MLP "
                "('silu' for SwiGLU, 'gelu_pytorch_tanh' for the GELU MLP)"
            )
        self.config = config
        self.patch_embed = PatchEmbed(config)
        if config.position_table:  # Qwen3-VL: learned absolute positions (key visual.pos_embed.weight)
            self.pos_embed = LearnedPositions(
                config.num_position_embeddings, config.hidden_size, config.spatial_merge_size
            )
        self.rotary = VisionRotaryEmbedding(config.head_dim)
        self.blocks = nn.ModuleList(VisionBlock(config) for _ in range(config.depth))
        if config.norm == "rms":
            self.merger = PatchMerger(config)
        else:  # Qwen3-VL's merger: LayerNorm per patch, other parameter names (qwen_lite.deepstack)
            self.merger = VisionMerger(config.hidden_size, config.out_hidden_size, config.spatial_merge_size,
                                       postshuffle_norm=False, eps=config.norm_eps)  # fmt: skip
        if config.deepstack_visual_indexes:  # Qwen3-VL: one merger per tapped block, norm after the shuffle
            self.deepstack_merger_list = nn.ModuleList(
                VisionMerger(
                    config.hidden_size,
                    config.out_hidden_size,
                    config.spatial_merge_size,
                    postshuffle_norm=True,
                    eps=config.norm_eps,
                )  # fmt: skip
                for _ in config.deepstack_visual_indexes
            )

    def uses_window_attention(self, block_index: int) -> bool:
        """Block ``block_index`` attends within windows (else over whole frames)."""
        return self.config.window_attention and block_index not in self.config.fullatt_block_indexes

    def features(self, pixel_values: torch.Tensor, grid_thw: torch.Tensor) -> tuple[torch.Tensor, list]:
        """``(merged (n/4 out_hidden), [DeepStack features (n/4 out_hidden) per tapped block])``, both in the
        processor's order; the list is empty without DeepStack (Qwen2.5-VL). Goes through ``__call__``, so
        hooks on the tower see it (as transformers' Qwen3-VL tower, which returns the same pair)."""
        return self(pixel_values, grid_thw, return_deepstack=True)

    def forward(self, pixel_values: torch.Tensor, grid_thw: torch.Tensor, return_deepstack: bool = False):
        """The merged tokens (n/4 out_hidden); with ``return_deepstack=True`` the pair :meth:`features` gives."""
        cfg = self.config
        self._check_inputs(pixel_values, grid_thw)
        x = self.patch_embed(pixel_values)
        record("patch_embed", pixel_values, x)
        if cfg.position_table:
            positions = self.pos_embed(grid_thw)
            x_in, x = x, x + positions.to(x.dtype)
            record("+ learned positions", x_in, x)

        # Index bookkeeping, once per forward (not per block): window order, rotary table, segments.
        if cfg.window_attention:
            window_index, cu_window_seqlens = get_window_index(
                grid_thw, cfg.window_size, cfg.patch_size, cfg.spatial_merge_size
            )
        else:  # no windows (Qwen3-VL): the processor's order throughout, frames are the only segments
            window_index = torch.arange(x.shape[0] // cfg.spatial_merge_size**2)
            cu_window_seqlens = get_cu_seqlens(grid_thw, cfg.spatial_merge_size)
        rows = units_to_rows(window_index, cfg.spatial_merge_size**2).to(x.device)
        cos, sin = self.rotary(vision_position_ids(grid_thw, cfg.spatial_merge_size).to(x.device))
        x_in, x, cos, sin = x, x[rows], cos[rows], sin[rows]
        record("window reorder", x_in, x)

        # Segment bookkeeping runs on the CPU (it is tiny, and `unique` has no meta-device kernel,
        # which would stop the tower from tracing shapes on `meta`); only the indices move.
        window_groups = [g.to(x.device) for g in group_segments(cu_window_seqlens.cpu())]
        frame_groups = [
            g.to(x.device) for g in group_segments(get_cu_seqlens(grid_thw, cfg.spatial_merge_size))
        ]
        deepstack = []  # Qwen3-VL: merged outputs of the blocks in deepstack_visual_indexes
        for i, block in enumerate(self.blocks):
            window = self.uses_window_attention(i)
            # One name per tensor: `x_in, x = x, block(x)` would keep the *previous* block's input alive
            # while this block runs (an extra (n, hidden) tensor at the memory peak).
            x_in = x
            x = block(x, cos, sin, window_groups if window else frame_groups)
            record(f"block {i} ({'window' if window else 'full'} attention)", x_in, x)
            if i in cfg.deepstack_visual_indexes:
                merger = self.deepstack_merger_list[cfg.deepstack_visual_indexes.index(i)]
                deepstack.append(merger(x))
                record(f"deepstack merger after block {i}", x, deepstack[-1])

        merged = self.merger(x)
        record("merger", x, merged)
        restore = torch.argsort(window_index).to(merged.device)
        out = merged[restore]
        record("restore order", merged, out)
        if not return_deepstack:
            return out
        return out, [features[restore] for features in deepstack]

    def _check_inputs(self, pixel_values: torch.Tensor, grid_thw: torch.Tensor) -> None:
        cfg = self.config
        n = check_shape(pixel_values, "n patch_dim", "pixel_values", patch_dim=cfg.patch_dim)["n"]
        if not pixel_values.is_floating_point():
            raise TypeError(f"pixel_values: expected a floating-point tensor, got {pixel_values.dtype}")
        grid = _grid_list(grid_thw, cfg.spatial_merge_size)
        patches = sum(t * h * w for t, h, w in grid)
        if patches != n:
            raise ShapeError(
                f"grid_thw: the grids describe {patches} patches (sum of t*h*w over {grid}), "
                f"but pixel_values has {n} rows"
            )

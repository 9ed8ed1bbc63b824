"""Where the parameters and the compute go: counts and forward FLOPs per component.

>>> rows = accounting_table(qwen25vl_7b(), image_grid_thw=[(1, 36, 52)], text_length=20)
>>> print(format_table(rows))

Parameter counts come from closed formulas of the config; :func:`measured_parameter_counts` checks
them against a model built on the ``meta`` device (shapes without storage, so even 72B costs no
memory). The vision tower of the released models comes to 668.7M (3B), 676.6M (7B) and 700.1M (72B)
parameters -- the towers are identical except for the merger's last projection, whose output width
is the LLM's. The seed's "about 675M" is the 7B figure, rounded.

FLOPs count multiply-adds of the matrix products as 2 FLOPs each, for one forward pass. Norms,
activations, rotary embeddings and the softmax are left out (well under 1% here). Attention scores
are counted for every query-key pair a segment holds (QK^T and AV: ``4 * hidden * s^2``) -- the
decoder's causal mask could let a kernel skip about half of its pairs.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections import Counter
from collections.abc import Callable

import torch

from qwen_lite.config import Qwen25VLConfig, TextConfig, VisionConfig

VISION_COMPONENTS = (
    "patch_embed",
    "vision blocks (window attention)",
    "vision blocks (full attention)",
    "merger",
)
TEXT_COMPONENTS = ("embed_tokens", "decoder attention", "decoder MLP", "final norm", "lm_head")
COMPONENTS = VISION_COMPONENTS + TEXT_COMPONENTS


# --- parameters ---------------------------------------------------------------------------------


def vision_block_parameters(v: VisionConfig) -> int:
    """One vision block: two RMSNorms, qkv + proj (with biases), SwiGLU MLP (with biases)."""
    d, i = v.hidden_size, v.intermediate_size
    norms = 2 * d
    attention = (d * 3 * d + 3 * d) + (d * d + d)
    mlp = 2 * (d * i + i) + (i * d + d)
    return norms + attention + mlp


def merger_parameters(v: VisionConfig) -> int:
    """RMSNorm per patch, then Linear(4d -> 4d) and Linear(4d -> out_hidden), both with bias."""
    width = v.hidden_size * v.spatial_merge_size**2
    return v.hidden_size + (width * width + width) + (width * v.out_hidden_size + v.out_hidden_size)


def decoder_attention_parameters(t: TextConfig) -> int:
    """input_layernorm + q/k/v (with bias; k and v only ``kv_heads * head_dim`` wide) + o (no bias)."""
    h, kv = t.hidden_size, t.num_key_value_heads * t.head_dim
    return h + (h * h + h) + 2 * (h * kv + kv) + h * h


def decoder_mlp_parameters(t: TextConfig) -> int:
    """post_attention_layernorm + gate/up/down without bias."""
    return t.hidden_size + 3 * t.hidden_size * t.intermediate_size


def parameter_counts(config: Qwen25VLConfig) -> dict[str, int]:
    """Parameters per component, from the config alone. A tied ``lm_head`` counts 0 (it is the embedding)."""
    v, t = config.vision, config.text
    full_blocks = len([i for i in v.fullatt_block_indexes if 0 <= i < v.depth])
    layers = t.num_hidden_layers
    return {
        "patch_embed": v.patch_dim * v.hidden_size,  # Conv3d without bias
        "vision blocks (window attention)": (v.depth - full_blocks) * vision_block_parameters(v),
        "vision blocks (full attention)": full_blocks * vision_block_parameters(v),
        "merger": merger_parameters(v),
        "embed_tokens": t.vocab_size * t.hidden_size,
        "decoder attention": layers * decoder_attention_parameters(t),
        "decoder MLP": layers * decoder_mlp_parameters(t),
        "final norm": t.hidden_size,
        "lm_head": 0 if t.tie_word_embeddings else t.vocab_size * t.hidden_size,
    }


def component_of(name: str, fullatt_block_indexes) -> str:
    """The component a checkpoint key belongs to (``visual.blocks.7.attn.qkv.weight`` -> full-attention blocks)."""
    parts = name.split(".")
    if name.startswith("visual.blocks."):
        full = int(parts[2]) in fullatt_block_indexes
        return "vision blocks (full attention)" if full else "vision blocks (window attention)"
    if name.startswith("visual."):
        return parts[1]  # patch_embed, merger
    if name.startswith("model.layers."):
        return "decoder MLP" if parts[3] in ("mlp", "post_attention_layernorm") else "decoder attention"
    return {"model.embed_tokens": "embed_tokens", "model.norm": "final norm", "lm_head": "lm_head"}[
        ".".join(parts[:2]) if name.startswith("model.") else parts[0]
    ]


def measured_parameter_counts(config: Qwen25VLConfig) -> dict[str, int]:
    """Parameters per component of a model built on the meta device (tied weights counted once)."""
    from qwen_lite.model import Qwen25VLForConditionalGeneration  # model code only when measuring

    with torch.device("meta"):
        model = Qwen25VLForConditionalGeneration(config)
    counts = Counter(dict.fromkeys(COMPONENTS, 0))
    for name, p in model.named_parameters():  # yields a shared Parameter once
        counts[component_of(name, config.vision.fullatt_block_indexes)] += p.numel()
    return dict(counts)


# --- FLOPs --------------------------------------------------------------------------------------


def window_sizes_squared(grid_thw, v: VisionConfig) -> int:
    """Sum over attention windows of (patches in window)^2, for the grids ``[(t, h, w), ...]``.

    A frame of ``h/2 x w/2`` merged units is cut into windows of ``side x side`` units (4 x 4 for
    112 px), smaller at the right and bottom edges. A window of ``r x c`` units holds ``4 r c``
    patches, so the sum factorises into (sum over row bands of r^2) x (sum over column bands of c^2).
    """
    side = v.window_size // v.patch_size // v.spatial_merge_size
    unit = v.spatial_merge_size**2

    def bands_squared(n: int) -> int:
        return (n // side) * side**2 + (n % side) ** 2

    m = v.spatial_merge_size
    return sum(t * unit**2 * bands_squared(h // m) * bands_squared(w // m) for t, h, w in grid_thw)


def forward_flops(
    config: Qwen25VLConfig, num_patches: int = 0, text_length: int = 0, image_grid_thw=None
) -> dict[str, int]:
    """Forward FLOPs per component for ``num_patches`` image patches and ``text_length`` text tokens.

    ``image_grid_thw`` (``[(t, h, w), ...]`` in patches) makes the attention terms exact and sets
    ``num_patches``; without it the patches are taken as one image whose windows are all full (64
    patches for 112 px windows), which is exact for sides that are multiples of 112 px. The decoder
    sees ``text_length + num_patches / 4`` tokens; ``lm_head`` is counted at every position (a
    generation step needs only the last one).
    """
    v, t = config.vision, config.text
    if image_grid_thw is not None:
        grids = [tuple(int(x) for x in g) for g in image_grid_thw]
        num_patches = sum(a * b * c for a, b, c in grids)
        window_sq = window_sizes_squared(grids, v)
        full_sq = sum(a * (b * c) ** 2 for a, b, c in grids)
    else:
        window_patches = (v.window_size // v.patch_size) ** 2
        window_sq = num_patches * min(num_patches, window_patches)
        full_sq = num_patches**2
    n, d = num_patches, v.hidden_size
    full_blocks = len([i for i in v.fullatt_block_indexes if 0 <= i < v.depth])
    block_linear = 2 * n * (4 * d * d + 3 * d * v.intermediate_size)
    width = d * v.spatial_merge_size**2
    tokens = n // v.spatial_merge_size**2
    length = text_length + tokens
    h, kv = t.hidden_size, t.num_key_value_heads * t.head_dim
    return {
        "patch_embed": 2 * n * v.patch_dim * d,
        "vision blocks (window attention)": (v.depth - full_blocks) * (block_linear + 4 * d * window_sq),
        "vision blocks (full attention)": full_blocks * (block_linear + 4 * d * full_sq),
        "merger": 2 * tokens * (width * width + width * v.out_hidden_size),
        "embed_tokens": 0,  # a table lookup
        "decoder attention": t.num_hidden_layers * (2 * length * 2 * (h * h + h * kv) + 4 * h * length**2),
        "decoder MLP": t.num_hidden_layers * 2 * length * 3 * h * t.intermediate_size,
        "final norm": 0,
        "lm_head": 2 * length * h * t.vocab_size,
    }


# --- table --------------------------------------------------------------------------------------


def accounting_table(
    config: Qwen25VLConfig, num_patches: int = 0, text_length: int = 0, image_grid_thw=None
) -> list[dict]:
    """One dict per component: ``component``, ``blocks`` (how many), ``params``, ``flops``, ``flops_share``.

    Ends with a ``total`` row. Feed it to ``pandas.DataFrame`` or :func:`format_table`.
    """
    params = parameter_counts(config)
    flops = forward_flops(config, num_patches, text_length, image_grid_thw)
    v, t = config.vision, config.text
    full = len([i for i in v.fullatt_block_indexes if 0 <= i < v.depth])
    blocks = {
        "vision blocks (window attention)": v.depth - full,
        "vision blocks (full attention)": full,
        "decoder attention": t.num_hidden_layers,
        "decoder MLP": t.num_hidden_layers,
    }
    total_flops = sum(flops.values())
    rows = [
        {
            "component": name,
            "blocks": blocks.get(name, 1),
            "params": params[name],
            "flops": flops[name],
            "flops_share": flops[name] / total_flops if total_flops else 0.0,
        }
        for name in COMPONENTS
    ]
    total = {"component": "total", "blocks": "", "params": sum(params.values()), "flops": total_flops}
    rows.append({**total, "flops_share": 1.0})
    return rows


def format_table(rows: list[dict]) -> str:
    """Fixed-width text: parameters in millions, FLOPs in GFLOPs."""
    lines = [f"{'component':34} {'blocks':>6} {'params (M)':>12} {'GFLOPs':>12} {'share':>7}"]
    for r in rows:
        lines.append(
            f"{r['component']:34} {r['blocks']!s:>6} {r['params'] / 1e6:12.1f} {r['flops'] / 1e9:12.2f} "
            f"{r['flops_share']:7.1%}"
        )
    return "\n".join(lines)


# Memory measured from the profiler's allocation events: deterministic for a given PyTorch build,
# unlike the process's RSS (chapters 14 and 16, qwen_lite.training's byte model).


@contextlib.contextmanager
def quiet_stderr():
    """Silence file descriptor 2: the profiler's C++ side logs start/stop lines (with time stamps) there."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def allocation_events(fn: Callable[[], object]) -> tuple[list, object]:
    """(the CPU allocation and free events of one call of ``fn``, in time order, ``fn()``'s result).

    Each event's ``self_cpu_memory_usage`` is a signed size in bytes (positive: allocated, negative: freed).
    """
    from torch.profiler import ProfilerActivity, profile

    with quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = fn()
    events = sorted((e for e in prof.events() if e.self_cpu_memory_usage), key=lambda e: e.time_range.start)
    return events, result


def peak_allocated_bytes(fn: Callable[[], object]) -> int:
    """Peak of the bytes PyTorch holds *inside* one call of ``fn`` (CPU tensors), from profiler events.

    Walking the signed allocation sizes in time order and keeping the running maximum gives the
    high-water mark of memory the call itself allocated (its result included), independent of what
    was allocated before.
    """
    current = peak = 0
    for event in allocation_events(fn)[0]:
        current += event.self_cpu_memory_usage
        peak = max(peak, current)
    return peak


def retained_bytes(fn: Callable[[], object]) -> tuple[int, object]:
    """(bytes that ``fn`` allocated and that are still alive when it returns, ``fn()``'s result).

    For a forward pass with gradients on, that is the activation memory autograd keeps for the
    backward pass (plus the outputs): the signed allocation sizes summed.
    """
    events, result = allocation_events(fn)
    return sum(e.self_cpu_memory_usage for e in events), result

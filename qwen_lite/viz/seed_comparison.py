"""The introduction's table: what the seed description says, what the released model does, and where the
book shows it.

Every number in the "released model" column is computed from the presets of :mod:`qwen_lite.config`
(the released ``config.json`` files) and from the 3B model built on the ``meta`` device
(:func:`qwen_lite.accounting.measured_parameter_counts`); the "seed says" column quotes the seed README,
whose defaults are those of :func:`qwen_lite.seed_api.seed_config`.
"""

from __future__ import annotations

import inspect

from qwen_lite.accounting import measured_parameter_counts
from qwen_lite.config import qwen25vl_3b, qwen25vl_7b, qwen25vl_72b
from qwen_lite.processing import MAX_PIXELS

__all__ = ["seed_comparison_rows", "seed_comparison_table", "seed_defaults", "vision_parameters"]


def seed_defaults() -> dict:
    """The seed README's keyword defaults (``embed_dim``, ``vision_depth``..., and ``img_size`` of its
    ``preprocess_image``), read from the signatures in :mod:`qwen_lite.seed_api`."""
    from qwen_lite.seed_api import preprocess_image, seed_config

    defaults = {}
    for fn in (seed_config, preprocess_image):
        for name, p in inspect.signature(fn).parameters.items():
            if p.default is not inspect.Parameter.empty:
                defaults[name] = p.default
    return defaults


def vision_parameters(config=None) -> int:
    """Parameters of the vision side (patch embedding, blocks, merger), counted on the ``meta`` device."""
    counts = measured_parameter_counts(config or qwen25vl_3b())
    return sum(n for name, n in counts.items() if name.startswith(("patch_embed", "vision", "merger")))


def seed_comparison_rows() -> list[tuple[str, str, str, str]]:
    """``(seed says, released model, verdict, chapter label)`` for each difference the introduction lists."""
    real, r7, r72 = qwen25vl_3b(), qwen25vl_7b(), qwen25vl_72b()
    v = real.vision
    seed = seed_defaults()
    img_size = seed["img_size"]
    heads = ", ".join(
        f"{t.num_attention_heads}/{t.num_key_value_heads}" for t in (real.text, r7.text, r72.text)
    )
    full = ", ".join(map(str, v.fullatt_block_indexes))
    factor = v.patch_size * v.spatial_merge_size
    window_patches = v.window_size // v.patch_size
    window_units = v.window_size // factor
    merge = v.spatial_merge_size
    return [
        (
            "ViT of about 675M parameters",
            f"{vision_parameters(real) / 1e6:.0f}M (measured, 3B/7B/72B share the tower)",
            "agrees",
            "vision-tower",
        ),
        (
            "first layers full attention, later layers window attention",
            f"{v.depth} blocks, window attention except blocks {full}",
            "**differs**",
            "window-attention",
        ),
        (f"vision `embed_dim` {seed['embed_dim']}", f"{v.hidden_size}", "**differs**", "patch-embedding"),
        (f"`vision_depth` {seed['vision_depth']}", f"{v.depth}", "**differs**", "vision-tower"),
        (
            f"{seed['vision_num_heads']} vision heads",
            f"{v.num_heads} heads of {v.head_dim}",
            "agrees",
            "rotary-2d",
        ),
        (
            f"`img_size` {img_size}",
            f"any size, sides rounded to multiples of {factor} px, up to {MAX_PIXELS:,} px by default; "
            "2-D RoPE, no position table",
            "**differs**",
            "pixels-to-patches",
        ),
        (
            f"`window_size` {seed['window_size']}",
            f"{v.window_size} px = {window_patches} x {window_patches} patches = "
            f"{window_units} x {window_units} merged tokens",
            "agrees if read as patches",
            "window-attention",
        ),
        (
            "encoder adds `<\\|vision_start\\|>` / `<\\|vision_end\\|>`",
            "they are text tokens written by the chat template",
            "**differs**",
            "tokens-and-template",
        ),
        (
            "LLM uses multi-head attention",
            f"grouped-query attention, {heads} heads (3B, 7B, 72B), q/k/v with bias",
            "**differs**",
            "decoder",
        ),
        (
            "video temporal id grows with each frame",
            f"grows with seconds: {v.tokens_per_second} ids per second, one step per "
            f"{v.temporal_patch_size}-frame grid",
            "**differs**",
            "mrope",
        ),
        (
            "images are two identical frames",
            f"duplicated into the {v.temporal_patch_size}-frame temporal patch (grid t = 1)",
            "agrees",
            "pixels-to-patches",
        ),
        (
            "3-D conv, temporal depth 2",
            f"Conv3d kernel = stride = ({v.temporal_patch_size}, {v.patch_size}, {v.patch_size}), no bias",
            "agrees",
            "patch-embedding",
        ),
        (
            "2 x 2 tokens merged by an MLP",
            f"RMSNorm, concat {merge * merge} -> Linear-GELU-Linear",
            "agrees (plus an RMSNorm)",
            "patch-merger",
        ),
        ("sizes 3B, 7B, 72B", "3B, 7B, 72B (a 32B followed)", "agrees", "real-model"),
    ]


def seed_comparison_table() -> str:
    """The rows of :func:`seed_comparison_rows` as a MyST Markdown table (chapters linked with ``{ref}``)."""
    table = "| seed says | released model | verdict | chapter |\n| --- | --- | --- | --- |\n"
    return table + "".join(f"| {a} | {b} | {c} | {{ref}}`{d}` |\n" for a, b, c, d in seed_comparison_rows())

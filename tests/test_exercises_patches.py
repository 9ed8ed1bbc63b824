"""The patch-embedding checker accepts the package's embedding and rejects plausible mistakes."""

import torch

from qwen_lite.config import VisionConfig
from qwen_lite.exercises.patches import check_patch_embed, patch_embed_cases
from qwen_lite.vision import PatchEmbed


def package_embed(pixel_values, weight):
    embed = PatchEmbed(VisionConfig(hidden_size=weight.shape[0], num_heads=1))
    with torch.no_grad():
        embed.proj.weight.copy_(weight)
        return embed(pixel_values)


def run(fn):
    messages = []
    return check_patch_embed(fn, report=messages.append), messages


def test_accepts_the_package_embedding_and_the_matrix_product():
    assert run(package_embed) == (True, [f"patch_embed: all {len(patch_embed_cases())} hidden cases pass."])
    assert run(lambda x, w: x @ w.flatten(1).T)[0]


def test_rejects_a_kernel_flattened_in_frame_channel_order():
    ok, messages = run(lambda x, w: x @ w.transpose(1, 2).flatten(1).T)
    assert not ok and "values differ" in messages[0]


def test_rejects_a_kernel_with_rows_and_columns_swapped():
    ok, messages = run(lambda x, w: x @ w.transpose(3, 4).flatten(1).T)
    assert not ok and "values differ" in messages[0]


def test_rejects_embedding_the_first_frame_with_the_summed_kernel():
    """Right for a still image (two identical frames), wrong as soon as a video's frames differ."""

    def first_frame_only(x, w):
        frame0 = x.view(len(x), 3, 2, 196)[:, :, 0].flatten(1)
        return frame0 @ (w[:, :, 0] + w[:, :, 1]).flatten(1).T

    ok, messages = run(first_frame_only)
    assert not ok and "2-frame video" in messages[0]


def test_reports_a_missing_transpose_and_a_starter_body():
    ok, messages = run(lambda x, w: x @ w.flatten(1))
    assert not ok and "raised RuntimeError" in messages[0]
    assert run(lambda x, w: None) == (
        False,
        ["patch_embed returned None: not attempted yet (replace the starter body)."],
    )

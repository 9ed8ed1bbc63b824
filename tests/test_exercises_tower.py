"""The tower chapter's checkers accept the package's functions and reject plausible mistakes."""

import torch

from qwen_lite.accounting import vision_block_parameters
from qwen_lite.config import VisionConfig
from qwen_lite.exercises.tower import (
    block_parameter_cases,
    check_block_parameters,
    check_rms_norm,
    rms_norm_cases,
)
from qwen_lite.layers import RMSNorm


def package_norm(x, weight, eps=1e-6):
    norm = RMSNorm(x.shape[-1], eps=eps)
    with torch.no_grad():
        norm.weight.copy_(weight)
        return norm(x)


def run(check, fn):
    messages = []
    return check(fn, report=messages.append), messages


def test_rms_norm_accepts_the_package_norm_and_the_formula():
    assert run(check_rms_norm, package_norm) == (
        True,
        [f"rms_norm: all {len(rms_norm_cases())} hidden cases pass."],
    )
    assert run(check_rms_norm, lambda x, w, eps: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w)[
        0
    ]


def test_rms_norm_rejects_a_layer_norm():
    def layer_norm(x, w, eps):
        centred = x - x.mean(-1, keepdim=True)
        return centred / torch.sqrt(centred.pow(2).mean(-1, keepdim=True) + eps) * w

    ok, messages = run(check_rms_norm, layer_norm)
    assert not ok and "mean near 2" in messages[0]


def test_rms_norm_rejects_eps_outside_the_root_and_a_sum_instead_of_a_mean():
    ok, messages = run(
        check_rms_norm, lambda x, w, eps: x / (x.pow(2).mean(-1, keepdim=True).sqrt() + eps) * w
    )
    assert not ok and "eps = 1e-2" in messages[0]
    ok, messages = run(
        check_rms_norm, lambda x, w, eps: x * torch.rsqrt(x.pow(2).sum(-1, keepdim=True) + eps) * w
    )
    assert not ok and "values differ" in messages[0]


def test_rms_norm_rejects_a_norm_of_the_wrong_axis_and_a_starter_body():
    ok, messages = run(
        check_rms_norm, lambda x, w, eps: x * torch.rsqrt(x.pow(2).mean(0, keepdim=True) + eps) * w
    )
    assert not ok
    assert run(check_rms_norm, lambda x, w, eps: None)[1] == [
        "rms_norm returned None: not attempted yet (replace the starter body)."
    ]


def test_block_parameters_accepts_the_package_formula():
    def formula(d, m):
        return vision_block_parameters(VisionConfig(hidden_size=d, intermediate_size=m, num_heads=1))

    assert run(check_block_parameters, formula) == (
        True,
        [f"block_parameters: all {len(block_parameter_cases())} hidden cases pass."],
    )


def test_block_parameters_rejects_forgotten_biases_norms_and_a_gelu_mlp():
    no_bias = lambda d, m: 4 * d * d + 3 * d * m + 2 * d  # noqa: E731
    no_norms = lambda d, m: (4 * d * d + 4 * d) + (3 * d * m + 2 * m + d)  # noqa: E731
    gelu_mlp = lambda d, m: 2 * d + (4 * d * d + 4 * d) + (2 * d * m + m + d)  # noqa: E731
    for wrong in (no_bias, no_norms, gelu_mlp):
        ok, messages = run(check_block_parameters, wrong)
        assert not ok and "the released block" in messages[0]

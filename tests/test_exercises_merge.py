"""The patch-merger checker accepts the package's merger and rejects plausible mistakes."""

import torch
import torch.nn.functional as F

from qwen_lite.config import VisionConfig
from qwen_lite.exercises.merge import check_patch_merger, patch_merger_cases
from qwen_lite.vision import PatchMerger


def package(x, weights, eps=1e-6):
    hidden, out = weights["ln_q.weight"].shape[0], weights["mlp.2.weight"].shape[0]
    merger = PatchMerger(VisionConfig(hidden_size=hidden, num_heads=1, out_hidden_size=out, rms_norm_eps=eps))
    merger.load_state_dict(weights)
    with torch.no_grad():
        return merger(x)


def run(fn):
    messages = []
    return check_patch_merger(fn, report=messages.append), messages


def written(x, weights, eps=1e-6, norm_after_join=False, gelu="none", join=None):
    """A learner's version; the keyword arguments let the tests swap in plausible mistakes."""
    d = x.shape[1]

    def norm(v, w):
        return v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + eps) * w

    if norm_after_join:
        joined = norm(x.reshape(-1, 4 * d), weights["ln_q.weight"].repeat(4))
    else:
        normed = norm(x, weights["ln_q.weight"])
        joined = join(normed) if join else normed.reshape(-1, 4 * d)
    hidden = F.gelu(joined @ weights["mlp.0.weight"].T + weights["mlp.0.bias"], approximate=gelu)
    return hidden @ weights["mlp.2.weight"].T + weights["mlp.2.bias"]


def test_accepts_the_package_merger_and_a_written_one():
    expected = [f"patch_merger: all {len(patch_merger_cases())} hidden cases pass."]
    assert run(package) == (True, expected)
    assert run(written)[0]


def test_rejects_the_norm_after_the_join():
    ok, messages = run(lambda x, w, eps=1e-6: written(x, w, eps, norm_after_join=True))
    assert not ok and "values differ" in messages[0]


def test_rejects_the_tanh_gelu():
    ok, messages = run(lambda x, w, eps=1e-6: written(x, w, eps, gelu="tanh"))
    assert not ok and "values differ" in messages[0]


def test_rejects_joining_rows_a_quarter_of_the_sequence_apart():
    def strided(normed):
        return normed.reshape(4, -1, normed.shape[1]).transpose(0, 1).reshape(-1, 4 * normed.shape[1])

    ok, messages = run(lambda x, w, eps=1e-6: written(x, w, eps, join=strided))
    assert not ok and "12 units" in messages[0]
    assert run(lambda x, w, eps=1e-6: None) == (
        False,
        ["patch_merger returned None: not attempted yet (replace the starter body)."],
    )

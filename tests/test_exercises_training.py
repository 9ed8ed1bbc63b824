"""The chapter 16 exercise checker accepts the package's loss and rejects plausible wrong ones."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from qwen_lite.exercises.training import check_shifted_loss, shifted_loss_cases
from qwen_lite.training import causal_lm_loss


def run(fn):
    messages = []
    return check_shifted_loss(fn, report=messages.append), messages


def test_accepts_the_package_loss_and_a_hand_written_one():
    assert run(causal_lm_loss)[0]

    def by_hand(logits, labels):
        logits, targets = logits[:, :-1].float(), labels[:, 1:]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)

    ok, messages = run(by_hand)
    assert ok and messages == ["shifted_loss: all 5 hidden cases pass."]


def test_rejects_plausible_mistakes():
    def no_shift(logits, labels):
        return F.cross_entropy(logits.float().flatten(0, 1), labels.flatten())

    def mean_of_row_means(logits, labels):
        rows = [causal_lm_loss(logits[i : i + 1], labels[i : i + 1]) for i in range(len(labels))]
        return torch.stack([r for r in rows if not r.isnan()]).mean()

    def shifted_the_wrong_way(logits, labels):
        logits, targets = logits[:, 1:].float(), labels[:, :-1]
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten())

    def per_token(logits, labels):
        return F.cross_entropy(
            logits[:, :-1].float().flatten(0, 1), labels[:, 1:].flatten(), reduction="none"
        )

    for wrong, where in [(no_shift, "one row"), (mean_of_row_means, "three rows"),
                         (shifted_the_wrong_way, "one row"), (per_token, "one row")]:  # fmt: skip
        ok, messages = run(wrong)
        assert not ok and where in messages[0], (wrong.__name__, messages)


def test_not_attempted_and_errors_are_reported():
    assert run(lambda logits, labels: None) == (
        False,
        ["shifted_loss returned None: not attempted yet (replace the starter body)."],
    )
    ok, messages = run(lambda logits, labels: logits.nonexistent)
    assert not ok and "raised AttributeError" in messages[0]


def test_expected_values_come_from_the_package():
    for case in shifted_loss_cases():
        assert torch.equal(case.expected, causal_lm_loss(*case.args))

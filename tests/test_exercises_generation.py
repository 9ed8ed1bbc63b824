"""The repetition-penalty checker accepts the package's logits processing and rejects plausible mistakes."""

import torch

from qwen_lite.exercises.generation import check_repetition_penalty, repetition_penalty_cases
from qwen_lite.generation import repetition_penalty


def run(fn):
    messages = []
    return check_repetition_penalty(fn, report=messages.append), messages


def always_divide(input_ids, logits, penalty):
    seen = logits.gather(1, input_ids)
    return logits.scatter(1, input_ids, seen / penalty)


def per_occurrence(input_ids, logits, penalty):
    out = logits.clone()
    for row, ids in enumerate(input_ids.tolist()):
        for i in ids:
            out[row, i] = out[row, i] / penalty if out[row, i] > 0 else out[row, i] * penalty
    return out


def in_place(input_ids, logits, penalty):
    seen = logits.gather(1, input_ids)
    return logits.scatter_(1, input_ids, torch.where(seen < 0, seen * penalty, seen / penalty))


def test_accepts_the_package_function():
    expected = [f"repetition_penalty: all {len(repetition_penalty_cases())} hidden cases pass."]
    assert run(repetition_penalty) == (True, expected)


def test_rejects_dividing_negative_logits_too():
    ok, messages = run(always_divide)
    assert not ok and "values differ" in messages[0]


def test_rejects_a_penalty_per_occurrence():
    ok, messages = run(per_occurrence)
    assert not ok and "seen three times" in messages[0]


def test_rejects_changing_the_logits_in_place_and_reports_a_starter_body():
    ok, messages = run(in_place)
    assert not ok and "return a new tensor" in messages[0]
    assert run(lambda ids, z, p: None) == (
        False,
        ["repetition_penalty returned None: not attempted yet (replace the starter body)."],
    )

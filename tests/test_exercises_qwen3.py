"""The interleaved-slot checker accepts the package's slot_axes and rejects plausible mistakes."""

import torch

from qwen_lite.exercises.qwen3 import check_interleaved_slot_axes, interleaved_slot_axes_cases
from qwen_lite.rope import slot_axes


def run(fn):
    messages = []
    return check_interleaved_slot_axes(fn, report=messages.append), messages


def written(section):
    _, s_h, s_w = section
    return torch.tensor([1 if i % 3 == 1 and i < 3 * s_h else 2 if i % 3 == 2 and i < 3 * s_w else 0
                         for i in range(sum(section))])  # fmt: skip


def test_accepts_the_package_function_and_a_written_one():
    expected = [f"interleaved_slot_axes: all {len(interleaved_slot_axes_cases())} hidden cases pass."]
    assert run(lambda s: slot_axes(s, interleaved=True)) == (True, expected)
    assert run(written)[0]


def test_rejects_the_chunked_layout():
    ok, messages = run(lambda s: slot_axes(s))
    assert not ok and "values differ" in messages[0]


def test_rejects_cycling_t_h_w_to_the_end():
    ok, messages = run(lambda s: torch.arange(sum(s)) % 3)
    assert not ok and "values differ" in messages[0]


def test_rejects_dealing_out_exactly_the_section_counts():
    def by_counts(section):
        left, axes = list(section), []
        for i in range(sum(section)):
            a = i % 3
            while left[a] == 0:
                a = (a + 1) % 3
            left[a] -= 1
            axes.append(a)
        return torch.tensor(axes)

    ok, messages = run(by_counts)
    assert not ok and "values differ" in messages[0]


def test_rejects_a_bound_on_the_count_instead_of_three_times_it():
    def bound_on_count(section):
        _, s_h, s_w = section
        return torch.tensor([1 if i % 3 == 1 and i < s_h else 2 if i % 3 == 2 and i < s_w else 0
                             for i in range(sum(section))])  # fmt: skip

    ok, messages = run(bound_on_count)
    assert not ok and "values differ" in messages[0]


def test_reports_a_starter_body():
    assert run(lambda s: None) == (
        False,
        ["interleaved_slot_axes returned None: not attempted yet (replace the starter body)."],
    )

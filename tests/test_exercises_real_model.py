"""Chapter 13's load_memory checker accepts the package's estimate and rejects plausible mistakes."""

import torch

from qwen_lite.exercises.real_model import CASES, check_load_memory, load_memory_cases, measured


def by_hand(shards, dtype, largest_file=False, summed=False, in_load_dtype=False, stored_weights=False):
    """The reader's route, with a switch for each mistake a reader could make."""
    if stored_weights:  # the weights as stored, as if nothing were converted
        weights = sum(n * d.itemsize for shard in shards for d, n in shard)
    else:
        weights = sum(n for shard in shards for _, n in shard) * dtype.itemsize
    per_file = []
    for shard in shards:
        if largest_file:  # the whole file, converted tensors or not
            per_file.append(sum(n * d.itemsize for d, n in shard))
        else:
            size = dtype.itemsize if in_load_dtype else None
            per_file.append(sum(n * (size or d.itemsize) for d, n in shard if d != dtype))
    conversion = sum(per_file) if summed else max(per_file)
    return weights, conversion


def run(fn):
    messages = []
    return check_load_memory(fn, report=messages.append), messages


def test_the_cases_come_from_memory_needed():
    cases = load_memory_cases()
    assert [c.expected for c in cases] == [measured(shards, dtype) for _, shards, dtype in CASES]
    # the released dtype loads as views: nothing converted; float32 doubles the bfloat16 bytes
    assert cases[0].expected == (7000, 0)
    assert cases[1].expected == (7500 * 4, 5000 * 2)


def test_accepts_the_package_and_a_written_out_solution():
    assert run(measured) == (True, [f"load_memory: all {len(CASES)} hidden cases pass."])
    assert run(by_hand)[0]
    assert run(lambda s, d: list(by_hand(s, d)))[0]  # a list is as good as a tuple


def test_rejects_the_largest_file_as_the_conversion():
    ok, messages = run(lambda s, d: by_hand(s, d, largest_file=True))
    assert not ok and "nothing converted" in messages[0] and "item 1" in messages[0]


def test_rejects_summing_the_files():
    ok, messages = run(lambda s, d: by_hand(s, d, summed=True))
    assert not ok and "two bfloat16 shards" in messages[0]


def test_rejects_the_conversion_counted_in_the_load_dtype():
    ok, messages = run(lambda s, d: by_hand(s, d, in_load_dtype=True))
    assert not ok and "two bfloat16 shards" in messages[0]


def test_rejects_the_stored_bytes_as_the_weights():
    ok, messages = run(lambda s, d: by_hand(s, d, stored_weights=True))
    assert not ok and "two bfloat16 shards" in messages[0] and "item 0" in messages[0]


def test_rejects_a_largest_file_rule_even_when_only_some_tensors_convert():
    # only the converted tensors, but of the file with the most elements, not the most converted bytes
    def biggest_file(shards, dtype):
        weights = sum(n for shard in shards for _, n in shard) * dtype.itemsize
        big = max(shards, key=lambda shard: sum(n for _, n in shard))
        return weights, sum(n * d.itemsize for d, n in big if d != dtype)

    ok, messages = run(biggest_file)
    assert not ok and "a float32 norm weight" in messages[0]


def test_reports_a_starter_body_as_not_attempted():
    ok, messages = run(lambda s, d: None)
    assert not ok and "not attempted yet" in messages[0]
    assert torch.bfloat16.itemsize == 2  # the attribute the solution uses exists in this torch

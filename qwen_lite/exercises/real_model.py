"""Checker for chapter 13's *write code* exercise: the memory a CPU load of a checkpoint needs.

``load_memory(shards, dtype)``: ``shards`` describes a checkpoint's safetensors files, one list per file,
holding ``(stored dtype, number of elements)`` for each tensor in it; ``dtype`` is the torch dtype the
weights are loaded in. Returns ``(weights, conversion)`` in bytes:

* ``weights``: every tensor in ``dtype`` (a tensor stored in ``dtype`` stays a view of its memory-mapped
  file, any other one becomes a converted copy: both cost their elements times ``dtype``'s size);
* ``conversion``: what exists only while converting, the *stored* bytes of the tensors whose stored dtype
  differs from ``dtype``, in the file that has the most of them (files are converted one at a time and
  a file's pages stay mapped meanwhile); 0 when nothing is converted.

Expected values come from the package: each case is written as real safetensors files (small tensors of
the given dtypes and sizes) in a temporary folder and measured with
:func:`qwen_lite.weights.memory_needed`, the estimate ``from_pretrained`` checks before it loads anything.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import save_file

from qwen_lite.exercises import Case, check_cases
from qwen_lite.weights import memory_needed

__all__ = ["check_load_memory", "load_memory_cases"]

BF16, F32 = torch.bfloat16, torch.float32

# (what the case shows, shards: per file a list of (stored dtype, elements), the dtype to load in)
CASES = [
    ("one bfloat16 file loaded in bfloat16 (the released dtype: views, nothing converted)",
     [[(BF16, 3000), (BF16, 500)]], BF16),
    ("two bfloat16 shards loaded in float32 (every tensor converted)",
     [[(BF16, 4000), (BF16, 1000)], [(BF16, 2500)]], F32),
    ("a float32 norm weight among bfloat16 tensors, loaded in bfloat16",
     [[(BF16, 2000), (F32, 64)], [(BF16, 3000)]], BF16),
    ("the largest file is not the one with the most to convert, loaded in bfloat16",
     [[(BF16, 6000)], [(F32, 1000), (BF16, 100)]], BF16),
    ("a float32 checkpoint in three shards loaded in bfloat16",
     [[(F32, 1500)], [(F32, 1500), (F32, 10)], [(F32, 700)]], BF16),
]  # fmt: skip


def measured(shards: list[list[tuple[torch.dtype, int]]], dtype: torch.dtype) -> tuple[int, int]:
    """``(weights, conversion)`` of :func:`qwen_lite.weights.memory_needed` for these shards written to disk."""
    with tempfile.TemporaryDirectory(prefix="qwen_lite_exercise_") as folder:
        files = []
        for i, shard in enumerate(shards, start=1):
            path = Path(folder) / f"model-{i:05d}-of-{len(shards):05d}.safetensors"
            save_file({f"tensor_{j}": torch.zeros(n, dtype=d) for j, (d, n) in enumerate(shard)}, path)
            files.append(path)
        need = memory_needed(files, dtype)
    return need.weights, need.conversion


def load_memory_cases() -> list[Case]:
    """Hidden cases: nothing to convert, everything converted across shards, one float32 tensor in a bfloat16
    file, a small file with more to convert than a large one, and a float32 checkpoint loaded in bfloat16."""
    cases = []
    for what, shards, dtype in CASES:
        files = "; ".join(
            "[" + ", ".join(f"{str(d).removeprefix('torch.')} x {n}" for d, n in shard) + "]"
            for shard in shards
        )
        label = f"{what}: files {files}, dtype={dtype}"
        cases.append(Case(label, (shards, dtype), measured(shards, dtype)))
    return cases


def check_load_memory(fn: Callable, report: Callable[[str], None] = print) -> bool:
    """Run ``fn(shards, dtype)`` on the hidden cases; ``True`` when every ``(weights, conversion)`` pair is
    right (exact bytes). Raises ``TypeError`` when ``fn`` is not callable; a wrong answer is reported, never
    raised."""
    return check_cases(fn, load_memory_cases(), "load_memory", report=report)

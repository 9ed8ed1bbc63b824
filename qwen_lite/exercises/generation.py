"""Checker for the generation chapter's *write code* exercise: the repetition penalty.

The reader writes ``repetition_penalty(input_ids, logits, penalty)``: ``input_ids`` (b, l) is
everything the model has read so far, ``logits`` (b, vocab) float the next-token logits. Every id that
occurs in a row (once or more) has its logit divided by ``penalty`` if positive and multiplied by it if
negative, once; the other logits are unchanged; the input is not modified. The expected values come
from :func:`qwen_lite.generation.process_logits` with a greedy ``GenerationConfig`` whose only setting
is ``repetition_penalty`` (transformers' ``RepetitionPenaltyLogitsProcessor`` in
``generation/logits_process.py``). The cases include negative logits, an id that occurs several times,
two rows that saw different ids, and a penalty below 1 (which rewards repeats).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from qwen_lite.exercises import Case, check_cases
from qwen_lite.generation import GenerationConfig, process_logits

__all__ = ["check_repetition_penalty", "repetition_penalty_cases"]


def _case(label: str, input_ids: list[list[int]], vocab: int, penalty: float, seed: int) -> Case:
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(len(input_ids), vocab, generator=generator) * 3
    ids = torch.tensor(input_ids)
    expected = process_logits(ids, logits.clone(), GenerationConfig(repetition_penalty=penalty))
    return Case(label, (ids, logits, penalty), expected)


def repetition_penalty_cases() -> list[Case]:
    """Hidden cases; logits are seeded random numbers of both signs."""
    return [
        _case("one row, ids [3, 7, 1], penalty 1.05 (the released value)", [[3, 7, 1]], 12, 1.05, 0),
        _case("an id seen three times ([2, 2, 5, 2]) is penalised once", [[2, 2, 5, 2]], 10, 1.5, 1),
        _case("two rows that saw different ids", [[0, 4, 9], [9, 9, 1]], 10, 2.0, 2),
        _case("a penalty below 1 (0.5): repeats become more likely", [[1, 6, 8, 3]], 10, 0.5, 3),
    ]


def check_repetition_penalty(fn: Callable, report: Callable[[str], None] = print) -> bool:
    """Run ``fn(input_ids, logits, penalty)`` on the hidden cases; ``True`` when every result is right.

    Expected: a float tensor (b, vocab), compared with an absolute tolerance of 1e-6. A function that
    changes ``logits`` in place is reported. Raises ``TypeError`` when ``fn`` is not callable.
    """
    cases = repetition_penalty_cases()

    def guarded(input_ids, logits, penalty):
        before = logits.clone()
        got = fn(input_ids, logits, penalty)
        if not torch.equal(logits, before):
            raise ValueError("the checker found the logits passed in changed: return a new tensor instead")
        return got

    return check_cases(guarded, cases, "repetition_penalty", atol=1e-6, report=report)

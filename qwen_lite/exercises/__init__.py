"""Checkers for the book's coding exercises.

Each chapter's *write code* exercise gives the reader a function to implement and a checker from a
submodule here (``qwen_lite.exercises.<topic>``, named after the concept, e.g. ``window``). A checker
runs the reader's function on hidden cases, compares with the package's own implementation, and
says what is wrong in words a learner can act on: which case, which argument, what was expected and
what arrived. It never raises for a wrong answer, so the notebook keeps running; it returns ``True``
only when every case passes, so a solution cell can ``assert`` it (CI proves the solutions).

A function that returns ``None`` counts as "not attempted yet" (the starter code returns ``None``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["Case", "check_cases", "describe"]


@dataclass
class Case:
    """One hidden case: positional ``args``, keyword ``kwargs``, and the ``expected`` result.

    ``label`` names the case for the reader ("an edge window", "a 3-frame video"); ``expected`` is
    computed by the package, never typed in.
    """

    label: str
    args: Sequence[Any]
    expected: Any
    kwargs: dict[str, Any] = field(default_factory=dict)


def describe(value: Any, limit: int = 12) -> str:
    """A short, readable rendering of a value for feedback: tensors show dtype, shape and leading values."""
    if isinstance(value, torch.Tensor):
        flat = value.detach().flatten().tolist()
        shown = ", ".join(str(v) for v in flat[:limit]) + (", ..." if len(flat) > limit else "")
        return f"tensor(dtype={value.dtype}, shape={tuple(value.shape)}, values=[{shown}])"
    if isinstance(value, (list, tuple)) and len(value) > limit:
        return f"{type(value).__name__} of {len(value)}: {list(value[:limit])} ..."
    return repr(value)


def _equal(got: Any, expected: Any, atol: float) -> tuple[bool, str]:
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return False, f"expected a torch.Tensor, got {type(got).__name__}"
        if tuple(got.shape) != tuple(expected.shape):
            return False, f"shape: expected {tuple(expected.shape)}, got {tuple(got.shape)}"
        if expected.is_floating_point():
            close = torch.allclose(got.to(expected.dtype), expected, atol=atol, rtol=0)
        else:
            close = torch.equal(got.to(expected.dtype), expected)
        if not close:
            bad = (got.to(expected.dtype) != expected).nonzero()
            where = tuple(bad[0].tolist()) if len(bad) else "?"
            return (
                False,
                f"values differ, first at index {where}: expected {describe(expected)}, got {describe(got)}",
            )
        return True, ""
    if isinstance(expected, (list, tuple)) and isinstance(got, (list, tuple)) and len(got) == len(expected):
        for i, (g, e) in enumerate(zip(got, expected)):
            ok, why = _equal(g, e, atol)
            if not ok:
                return False, f"item {i}: {why}"
        return True, ""
    if isinstance(expected, float) and isinstance(got, (int, float)):
        return (abs(got - expected) <= atol, f"expected {expected!r}, got {got!r}")
    if got != expected:
        return False, f"expected {describe(expected)}, got {describe(got)}"
    return True, ""


def check_cases(
    fn: Callable, cases: Iterable[Case], name: str, atol: float = 0.0, report: Callable[[str], None] = print
) -> bool:
    """Run ``fn`` on every case and report the first failure; return ``True`` when all pass.

    ``name`` is the function the reader is writing (used in messages). Exceptions raised by ``fn``
    are reported with the case, not re-raised. ``atol`` applies to floating-point tensors and floats.
    Raises ``TypeError`` when ``fn`` is not callable (a checker misuse, not a wrong answer).
    """
    if not callable(fn):
        raise TypeError(f"fn: expected the function you wrote (a callable), got {type(fn).__name__}")
    cases = list(cases)
    for case in cases:
        try:
            got = fn(*case.args, **case.kwargs)
        except Exception as error:  # the reader's code failed: say where, keep the notebook running
            report(f"{name} raised {type(error).__name__} on {case.label}: {error}")
            return False
        if got is None:
            report(f"{name} returned None: not attempted yet (replace the starter body).")
            return False
        ok, why = _equal(got, case.expected, atol)
        if not ok:
            report(f"{name} is wrong on {case.label}: {why}")
            return False
    report(f"{name}: all {len(cases)} hidden cases pass.")
    return True

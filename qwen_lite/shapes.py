"""Shape checks that read like the shapes in the docstrings.

Every public tensor function in ``qwen_lite`` states its shapes with einops patterns, e.g.
``"n patch_dim"``, and checks them with :func:`check_shape`. The error says which argument was
wrong, what was expected and what arrived, so a reader who passes the wrong tensor learns why.
"""

from __future__ import annotations

import einops
import torch


class ShapeError(ValueError):
    """A tensor argument has the wrong rank or size."""


def check_shape(x, pattern: str, name: str, **expected: int) -> dict[str, int]:
    """Check ``x`` against an einops ``pattern`` and return the named sizes.

    >>> check_shape(torch.zeros(4, 1176), "n patch_dim", "pixel_values", patch_dim=1176)
    {'n': 4, 'patch_dim': 1176}

    ``expected`` pins some of the names to known sizes. Use ``_`` for a dimension that is not
    named. Raises :class:`ShapeError` (a ``ValueError``) naming ``name``, the pattern, the
    expected sizes and the shape that arrived; ``TypeError`` if ``x`` is not a tensor.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of shape ({pattern}), got {type(x).__name__}")
    want_rank = len([p for p in pattern.split() if p != "..."])
    try:
        sizes = einops.parse_shape(x, pattern)
    except (einops.EinopsError, RuntimeError):
        raise ShapeError(
            f"{name}: expected a {want_rank}-D tensor ({pattern}), got shape {tuple(x.shape)}"
        ) from None
    wrong = {k: v for k, v in expected.items() if sizes.get(k) != v}
    if wrong:
        want = ", ".join(f"{k}={v}" for k, v in expected.items())
        got = ", ".join(f"{k}={sizes.get(k)}" for k in wrong)
        raise ShapeError(
            f"{name}: expected shape ({pattern}) with {want}; got shape {tuple(x.shape)} ({got})"
        )
    return sizes

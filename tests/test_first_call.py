"""The first forward of a fresh process costs what the second does, plus nothing hidden.

``torch.broadcast_shapes`` imports sympy on its first call (torch 2.13: ~0.4 s warm, more from a cold disk).
``apply_rotary`` once called it, so every process paid that in its first vision tower call: the real-size
benchmark read the 3B tower's first ("cold") call as 1.5-1.7x transformers' while later calls were at parity.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from qwen_lite.layers import _broadcast_shape

FIRST_CALLS = """
import sys
import numpy as np
import torch
from PIL import Image
from qwen_lite.config import tiny
from qwen_lite.model import Qwen25VLForConditionalGeneration
from qwen_lite.processor import Qwen25VLProcessor

torch.manual_seed(0)
model = Qwen25VLForConditionalGeneration(tiny()).eval()
image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8))
content = [{"type": "image", "image": image}, {"type": "text", "text": "Describe."}]
inputs = Qwen25VLProcessor()(messages=[{"role": "user", "content": content}])
with torch.inference_mode():
    model.generate(**inputs, max_new_tokens=2, do_sample=False)
print(sorted(m for m in ("sympy", "torch.fx.experimental.symbolic_shapes") if m in sys.modules))
"""


def test_generate_with_an_image_imports_no_sympy():
    out = subprocess.run([sys.executable, "-c", FIRST_CALLS], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


@pytest.mark.parametrize(
    "a, b",
    [((1024, 16, 80), (1024, 1, 80)), ((2, 5, 3, 8), (5, 1, 8)), ((4, 8), (8,)), ((0, 3, 8), (1, 1, 8)),
     ((2, 1, 8), (1, 6, 8))],
)  # fmt: skip
def test_broadcast_shape_is_torchs(a, b):
    assert _broadcast_shape(torch.Size(a), torch.Size(b)) == tuple(torch.broadcast_shapes(a, b))


def test_broadcast_shape_refuses_what_torch_refuses():
    with pytest.raises(RuntimeError):
        torch.broadcast_shapes((4, 8), (3, 8))
    with pytest.raises(ValueError, match="do not broadcast"):
        _broadcast_shape(torch.Size((4, 8)), torch.Size((3, 8)))

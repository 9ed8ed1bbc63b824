"""The first forward of a fresh process costs what the second does, plus nothing hidden.

``torch.broadcast_shapes`` imports sympy on its first call (torch 2.13: ~0.4 s).
``apply_rotary`` once called it, so every process paid that in its first vision tower call: the real-size
benchmark read the 3B tower's first ("cold") call as 1.5-1.7x transformers' while later calls were at parity.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from qwen_lite.layers import _broadcast_shape

FIRST_CALLS = """
import json
import sys
import numpy as np
import torch

def refuse(*args, **kwargs):
    raise AssertionError("torch.broadcast_shapes was called: its first call imports sympy")

torch.broadcast_shapes = refuse
import einops
einops.rearrange(torch.zeros(1, 2), "a b -> b a")
einops_imports_sympy = "sympy" in sys.modules  # einops 0.7's torch backend imports torch._dynamo

from PIL import Image
from qwen_lite import config as C
from qwen_lite.model import Qwen3VLForConditionalGeneration, Qwen25VLForConditionalGeneration
from qwen_lite.processor import Qwen3VLProcessor, Qwen25VLProcessor

torch.manual_seed(0)
image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8))
content = [{"type": "image", "image": image}, {"type": "text", "text": "Describe."}]
if FAMILY == "qwen2_5_vl":
    model = Qwen25VLForConditionalGeneration(C.tiny()).eval()
    inputs = Qwen25VLProcessor()(messages=[{"role": "user", "content": content}])
else:  # every Qwen3-VL part: position table, DeepStack taps, q/k norm, interleaved slots
    vision = C.Qwen3VLVisionConfig(depth=2, hidden_size=64, num_heads=4, intermediate_size=96,
                                   out_hidden_size=64, num_position_embeddings=36, deepstack_visual_indexes=(0, 1))
    text = C.Qwen3VLTextConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                               num_key_value_heads=2, head_dim=32, mrope_section=(6, 5, 5))
    model = Qwen3VLForConditionalGeneration(C.Qwen3VLConfig(vision=vision, text=text)).eval()
    inputs = Qwen3VLProcessor()(messages=[{"role": "user", "content": content}])
with torch.inference_mode():
    model.generate(**inputs, max_new_tokens=2, do_sample=False)
imported = sorted(m for m in ("sympy", "torch.fx.experimental.symbolic_shapes") if m in sys.modules)
print(json.dumps({"einops_imports_sympy": einops_imports_sympy, "imported": imported}))
"""


@pytest.mark.parametrize("family", ["qwen2_5_vl", "qwen3_vl"])
def test_generate_with_an_image_imports_no_sympy(family):
    """qwen_lite never calls torch.broadcast_shapes (the snippet makes it raise), and with einops >= 0.8 the
    whole first generate leaves sympy unimported. einops 0.7 (the declared floor) imports it by itself on its
    first torch call, which no code of ours can avoid: there only the first check applies."""
    snippet = f"FAMILY = {family!r}\n{FIRST_CALLS}"
    run = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    if not out["einops_imports_sympy"]:
        assert out["imported"] == []


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

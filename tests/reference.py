"""The numerical reference: a Hugging Face ``transformers`` Qwen2.5-VL built from a qwen_lite config.

Parity tests build both models from one config, copy qwen_lite's random weights into the reference
(the parameter names are the checkpoint names, so this is a plain ``load_state_dict``), and compare.
"""

from __future__ import annotations

import torch

from qwen_lite.config import Qwen25VLConfig, to_hf_dict
from qwen_lite.weights import transformers_key as hf_key  # the one mapping, in the package


def hf_config(config: Qwen25VLConfig):
    """A ``transformers.Qwen2_5_VLConfig`` equal to ``config`` (fp32, SDPA attention)."""
    from transformers import Qwen2_5_VLConfig

    hf = Qwen2_5_VLConfig(**to_hf_dict(config))
    hf._attn_implementation = "sdpa"
    hf.vision_config._attn_implementation = "sdpa"
    hf.text_config._attn_implementation = "sdpa"
    return hf


def hf_model(config: Qwen25VLConfig, seed: int = 0):
    """A randomly initialised reference model in eval mode (float32)."""
    from transformers import Qwen2_5_VLForConditionalGeneration

    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(hf_config(config)).eval()
    return model.float()


def copy_weights_to_reference(qwen_lite_model: torch.nn.Module, reference: torch.nn.Module) -> None:
    """Load every qwen_lite parameter into ``reference``; any missing or extra key is an error."""
    state = {hf_key(k): v for k, v in qwen_lite_model.state_dict().items()}
    reference.load_state_dict(state, strict=True)

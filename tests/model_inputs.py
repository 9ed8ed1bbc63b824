"""Small inputs and model pairs shared by the model and processor tests."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from PIL import Image

from qwen_lite.config import tiny
from qwen_lite.model import Qwen25VLForConditionalGeneration


def compact(config):
    """``config`` with a 4096-token vocabulary and the special tokens moved inside it.

    Same logic, a 37x smaller embedding and lm_head: the tests spend their time on the model, not
    on 151936-wide logits. One test below keeps the real vocabulary and token ids.
    """
    ids = dict(image_token_id=4000, video_token_id=4001, vision_start_token_id=4002, vision_end_token_id=4003)
    text = dataclasses.replace(config.text, vocab_size=4096)
    return config.replace(text=text, **ids, bos_token_id=4004, eos_token_id=4005)


CFG = compact(tiny())
VS, VE = CFG.vision_start_token_id, CFG.vision_end_token_id
IMG, VID = CFG.image_token_id, CFG.video_token_id


def our_model(config=CFG, seed: int = 0) -> Qwen25VLForConditionalGeneration:
    """A qwen_lite model in eval mode with random weights (norm weights randomised too): ``model_pair``'s."""
    torch.manual_seed(seed)
    ours = Qwen25VLForConditionalGeneration(config).eval()
    with torch.no_grad():
        for name, p in ours.named_parameters():
            if name.endswith("norm.weight") or "ln_q" in name or "norm1" in name or "norm2" in name:
                p.uniform_(0.5, 1.5)
    return ours


def model_pair(config=CFG, seed: int = 0):
    """(ours, reference) in eval mode with identical random weights: ``our_model(config, seed)`` and its copy.

    Needs transformers (imported here, not at module level: the inputs above serve tests without it too).
    """
    from tests.reference import copy_weights_to_reference, hf_model, no_init_weights

    ours = our_model(config, seed)
    with no_init_weights():  # every reference weight is overwritten below: skip its (slow) init
        reference = hf_model(config)
    copy_weights_to_reference(ours, reference)
    return ours, reference


def block(token: int, grid_thw) -> list[int]:
    """<|vision_start|>, one placeholder per merged token, <|vision_end|>."""
    t, h, w = grid_thw
    return [VS] + [token] * (t * h * w // 4) + [VE]


def pixels(*grids) -> tuple[torch.Tensor, torch.Tensor]:
    """Random patches (sum t*h*w, 1176) for the given (t, h, w) grids, and the grid tensor."""
    grid_thw = torch.tensor(grids)
    return torch.randn(int(grid_thw.prod(-1).sum()), CFG.vision.patch_dim), grid_thw


def text(n: int) -> list[int]:
    """``n`` random ordinary token ids (below every special id)."""
    return torch.randint(0, 3000, (n,)).tolist()


def left_pad(rows: list[list[int]], pad: int = CFG.bos_token_id) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask) with every row left-padded to the longest."""
    length = max(map(len, rows))
    ids = torch.tensor([[pad] * (length - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (length - len(r)) + [1] * len(r) for r in rows])
    return ids, mask


def random_image(height: int, width: int, seed: int = 0) -> Image.Image:
    """An RGB image of uniform random pixels, ``height`` x ``width``."""
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


def random_video(frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """``(frames height width 3)`` uint8 frames of uniform random pixels."""
    return np.random.default_rng(seed).integers(0, 256, (frames, height, width, 3), dtype=np.uint8)


def user_prompt(*items: str) -> str:
    """One user turn (no system turn) and the assistant's opening, as the chat template writes them."""
    return f"<|im_start|>user\n{''.join(items)}<|im_end|>\n<|im_start|>assistant\n"

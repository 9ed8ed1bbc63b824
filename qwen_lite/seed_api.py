"""The API of the seed README (``Qwen25VLModel(img_size=224, embed_dim=1024, ...)``), on the real model.

The seed describes a fixed-size, ViT-L-like model; the released Qwen2.5-VL differs in several places
(facts §7). This module keeps the seed's call signatures so its usage example runs as written, and
maps every keyword onto the real architecture (:func:`seed_config`), where it is built by
:class:`qwen_lite.model.Qwen25VLForConditionalGeneration`. The seed's defaults do *not* describe a
released model; :func:`seed_config` with the keywords in the docstring's last table does.

    model = Qwen25VLModel(llm_dim=2048, ...)                     # random weights, seed sizes
    model = Qwen25VLModel.from_pretrained("Qwen2.5-VL-3B-Instruct", img_size=448)   # real weights
    image_tensor = preprocess_image(image)                        # (1, 3, 224, 224) in [0, 1]
    input_ids = tokenizer.encode("描述这张图片", return_tensors="pt")
    outputs = model(input_ids=input_ids, vision_input=image_tensor)
    generated_ids = model.generate(input_ids=input_ids, vision_input=image_tensor, max_length=100)
    print(tokenizer.decode(generated_ids[0]))
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from qwen_lite.config import Qwen25VLConfig, TextConfig, VisionConfig
from qwen_lite.model import Qwen25VLForConditionalGeneration, Qwen25VLOutput
from qwen_lite.processing import IMAGE_MEAN, IMAGE_STD, load_image, patchify, smart_resize
from qwen_lite.shapes import check_shape
from qwen_lite.tokenizer import get_tokenizer


def seed_config(
    patch_size: int = 14,
    in_chans: int = 3,
    embed_dim: int = 1024,
    vision_depth: int = 24,
    vision_num_heads: int = 16,
    vision_mlp_ratio: float = 4.0,
    window_size: int = 8,
    llm_dim: int = 2048,
    llm_depth: int = 32,
    llm_num_heads: int = 32,
    llm_mlp_ratio: float = 4.0,
    max_position_embeddings: int = 4096,
    vocab_size: int = 151936,
    *,
    llm_num_kv_heads: int | None = None,
    fullatt_block_indexes: tuple[int, ...] | None = None,
    mrope_section: tuple[int, int, int] | None = None,
    tie_word_embeddings: bool = False,
    rope_theta: float = 1_000_000.0,
    spatial_merge_size: int = 2,
    temporal_patch_size: int = 2,
    tokens_per_second: int = 2,
) -> Qwen25VLConfig:
    """The real-architecture config that the seed's keywords describe.

    | seed keyword (default)        | real field                                  | real value, note          |
    | ----------------------------- | ------------------------------------------- | ------------------------- |
    | img_size (224)                | none: :class:`Qwen25VLModel` resizes inputs | any size, multiples of 28 |
    | patch_size (14)               | vision.patch_size                           | 14                        |
    | in_chans (3)                  | vision.in_channels                          | 3 (in_chans in the json)  |
    | embed_dim (1024)              | vision.hidden_size                          | 1280                      |
    | vision_depth (24)             | vision.depth                                | 32                        |
    | vision_num_heads (16)         | vision.num_heads                            | 16 (head_dim 80)          |
    | vision_mlp_ratio (4.0)        | vision.intermediate_size = embed_dim * r    | 3420 = 1280 * 2.671875    |
    | window_size (8, in patches)   | vision.window_size = window_size * patch px | 112 px                    |
    | "first layers full attention" | vision.fullatt_block_indexes = 7, 15, 23... | every 8th block from 0    |
    | llm_dim (2048)                | text.hidden_size = vision.out_hidden_size   | 2048 / 3584 / 8192        |
    | llm_depth (32)                | text.num_hidden_layers                      | 36 / 28 / 80              |
    | llm_num_heads (32)            | text.num_attention_heads                    | 16 / 28 / 64              |
    | llm_num_kv_heads (none)       | text.num_key_value_heads                    | 2 / 4 / 8: default is the |
    |                               |                                             | divisor nearest heads / 8 |
    | llm_mlp_ratio (4.0)           | text.intermediate_size = llm_dim * r        | 11008 = 2048 * 5.375 (3B) |
    | max_position_embeddings (4096)| text.max_position_embeddings                | 128000; a limit, no table |
    | vocab_size (151936)           | text.vocab_size (must cover special ids)    | 151936 / 152064 / 152064  |

    (Real values: 3B / 7B / 72B.) ``tie_word_embeddings`` (real: 3B only) defaults to False.

    ``mrope_section`` defaults to the real split scaled to the head: a quarter of the ``head_dim/2``
    frequency slots for time, the rest halved between rows and columns ((16, 24, 24) for 128).
    The released 3B is ``seed_config(embed_dim=1280, vision_depth=32, vision_mlp_ratio=2.671875,
    llm_depth=36, llm_num_heads=16, llm_mlp_ratio=5.375, max_position_embeddings=128000,
    tie_word_embeddings=True)``.
    """
    special_ids = Qwen25VLConfig()
    highest = max(special_ids.image_token_id, special_ids.video_token_id, special_ids.eos_token_id)
    if vocab_size <= highest:
        raise ValueError(f"vocab_size ({vocab_size}) must exceed the highest special token id ({highest})")
    vision = VisionConfig(
        depth=vision_depth,
        hidden_size=embed_dim,
        num_heads=vision_num_heads,
        intermediate_size=round(embed_dim * vision_mlp_ratio),
        in_channels=in_chans,
        patch_size=patch_size,
        temporal_patch_size=temporal_patch_size,
        spatial_merge_size=spatial_merge_size,
        window_size=window_size * patch_size,
        fullatt_block_indexes=fullatt_block_indexes or tuple(range(7, vision_depth, 8)),
        out_hidden_size=llm_dim,
        tokens_per_second=tokens_per_second,
    )
    head_dim = llm_dim // llm_num_heads
    text = TextConfig(
        vocab_size=vocab_size,
        hidden_size=llm_dim,
        intermediate_size=round(llm_dim * llm_mlp_ratio),
        num_hidden_layers=llm_depth,
        num_attention_heads=llm_num_heads,
        num_key_value_heads=llm_num_kv_heads or default_kv_heads(llm_num_heads),
        rope_theta=rope_theta,
        mrope_section=mrope_section or default_mrope_section(head_dim),
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=tie_word_embeddings,
    )
    return Qwen25VLConfig(vision=vision, text=text)


def default_kv_heads(num_heads: int) -> int:
    """The divisor of ``num_heads`` nearest ``num_heads / 8`` (ties: the larger): 16 -> 2, 28 -> 4, 64 -> 8."""
    divisors = [d for d in range(1, num_heads + 1) if num_heads % d == 0]
    return min(divisors, key=lambda d: (abs(d - num_heads / 8), -d))


def default_mrope_section(head_dim: int) -> tuple[int, int, int]:
    """(time, rows, columns) frequency slots: 128 -> (16, 24, 24), 64 -> (8, 12, 12)."""
    half = head_dim // 2
    time = half // 4
    rows = (half - time) // 2
    return time, rows, half - time - rows


# --- inputs -------------------------------------------------------------------------------------


def preprocess_image(image, img_size: int | None = 224) -> torch.Tensor:
    """One image -> ``(1, 3, img_size, img_size)`` float32 RGB in [0, 1] (not normalised).

    ``image``: a PIL image, a uint8 array (h, w, 3) or a float tensor (3, h, w) in [0, 1]. Resized with
    PIL bicubic, as the real processor does. ``img_size=None`` keeps the image's own size rounded to
    multiples of 28 (:func:`qwen_lite.processing.smart_resize`): the real model's native resolution.
    """
    image = load_image(image)
    height, width = (img_size, img_size) if img_size else smart_resize(image.height, image.width)
    if image.size != (width, height):
        image = image.resize((width, height), resample=3)  # 3 = PIL bicubic
    pixels = torch.from_numpy(np.array(image, dtype=np.uint8))  # (h, w, 3)
    # Same rounding as the processor (x / 255 in float64, then float32), so normalising later matches it.
    return rearrange((pixels.double() * (1 / 255)).float(), "h w c -> 1 c h w")


class SeedTokenizer:
    """The Qwen2 tokenizer with the seed's ``encode(text, return_tensors="pt")`` -> (1 l) int64."""

    def __init__(self, tokenizer=None):
        self.tokenizer = tokenizer or get_tokenizer()

    def encode(self, text: str, return_tensors: str | None = None):
        ids = self.tokenizer.encode(text)
        if return_tensors is None:
            return ids
        if return_tensors != "pt":
            raise ValueError(f"return_tensors: only 'pt' is supported, got {return_tensors!r}")
        return torch.tensor([ids], dtype=torch.int64)

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens)

    def __getattr__(self, name):  # everything else: the real tokenizer's attribute
        return getattr(self.tokenizer, name)


def __getattr__(name: str):
    """``from qwen_lite.seed_api import tokenizer`` builds the shared tokenizer on first use."""
    if name == "tokenizer":
        return SeedTokenizer()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- the model ----------------------------------------------------------------------------------


class Qwen25VLModel(nn.Module):
    """The seed's model class: :func:`seed_config` + a real ``Qwen25VLForConditionalGeneration``.

    The seed's prompt has no vision tokens, so this wrapper writes them: each row becomes
    ``<|vision_start|>`` + one ``<|image_pad|>`` (or ``<|video_pad|>``) per merged token +
    ``<|vision_end|>`` + the row's ``input_ids``. (In the real model these are ordinary text tokens
    of the chat template, not something the vision encoder adds.) ``vision_input`` holds RGB values
    in [0, 1]; the CLIP normalisation and the cutting into patches happen here. With ``img_size`` set,
    inputs of another size are resized to ``img_size x img_size``; with ``img_size=None`` they are used
    as given (sides must be multiples of 28).
    """

    def __init__(self, img_size: int | None = 224, **seed_keywords):
        super().__init__()
        self.model = Qwen25VLForConditionalGeneration(seed_config(**seed_keywords))
        self.img_size = img_size
        self._check_img_size()

    @classmethod
    def from_model(
        cls, model: Qwen25VLForConditionalGeneration, img_size: int | None = None
    ) -> Qwen25VLModel:
        """Wrap an existing (e.g. loaded) real model; no new weights are created."""
        self = cls.__new__(cls)
        nn.Module.__init__(self)
        self.model, self.img_size = model, img_size
        self._check_img_size()
        return self

    @classmethod
    def from_pretrained(cls, folder, img_size: int | None = None, **load_kwargs) -> Qwen25VLModel:
        """Released weights behind the seed API (see :func:`qwen_lite.weights.from_pretrained`)."""
        from qwen_lite.weights import from_pretrained

        return cls.from_model(from_pretrained(folder, **load_kwargs), img_size)

    @property
    def config(self) -> Qwen25VLConfig:
        return self.model.config

    @property
    def generation_config(self):
        """The wrapped model's :class:`~qwen_lite.generation.GenerationConfig` (``generate``'s defaults)."""
        return self.model.generation_config

    def _check_img_size(self) -> None:
        block = self.config.vision.patch_size * self.config.vision.spatial_merge_size
        if self.img_size is not None and self.img_size % block:
            raise ValueError(f"img_size must be a multiple of patch_size * 2 = {block}, got {self.img_size}")

    def prepare_inputs(
        self, input_ids, vision_input=None, is_video: bool = False, video_fps: float = 2.0
    ) -> dict:
        """The real model's inputs: ``input_ids`` (b, 2 + tokens + l) with the vision block in front, and
        ``pixel_values`` / ``image_grid_thw`` (or the ``*_videos`` pair and ``second_per_grid_ts``).

        ``vision_input``: images (b 3 h w), or videos (b frames 3 h w) with ``is_video`` (frames sampled
        at ``video_fps``; an odd count is padded with the last frame).
        """
        check_shape(input_ids, "b l", "input_ids")
        if vision_input is None:
            return {"input_ids": input_ids}
        pattern = "b frames c h w" if is_video else "b c h w"
        batch = check_shape(vision_input, pattern, "vision_input", b=input_ids.shape[0], c=3)["b"]
        clips = vision_input if is_video else vision_input[:, None]
        rows, grids = zip(*(patchify(self._normalise(clip)) for clip in clips))
        grid_thw = torch.tensor(grids, dtype=torch.int64)
        tokens = int(grid_thw[0].prod()) // self.config.vision.spatial_merge_size**2
        pad = self.config.video_token_id if is_video else self.config.image_token_id
        block = [self.config.vision_start_token_id, *[pad] * tokens, self.config.vision_end_token_id]
        prefix = torch.tensor(block, dtype=input_ids.dtype, device=input_ids.device).expand(batch, -1)
        inputs = {"input_ids": torch.cat([prefix, input_ids], dim=1)}
        pixels = torch.cat(rows).to(input_ids.device)
        if is_video:
            seconds = self.config.vision.temporal_patch_size / video_fps
            inputs.update(
                pixel_values_videos=pixels, video_grid_thw=grid_thw, second_per_grid_ts=[seconds] * batch
            )
        else:
            inputs.update(pixel_values=pixels, image_grid_thw=grid_thw)
        return inputs

    def _normalise(self, frames: torch.Tensor) -> torch.Tensor:
        """(frames 3 h w) in [0, 1] -> resized to img_size if set -> CLIP-normalised, float32."""
        frames = frames.float()
        if frames.min() < 0 or frames.max() > 1:
            raise ValueError("vision_input: expected RGB values in [0, 1] (see preprocess_image); "
                             f"got [{frames.min().item():.3g}, {frames.max().item():.3g}]")  # fmt: skip
        if self.img_size is not None and frames.shape[-2:] != (self.img_size, self.img_size):
            size = (self.img_size, self.img_size)
            frames = F.interpolate(frames, size=size, mode="bicubic", antialias=True).clamp(0, 1)
        mean = torch.tensor(IMAGE_MEAN, device=frames.device)[:, None, None]
        std = torch.tensor(IMAGE_STD, device=frames.device)[:, None, None]
        return (frames - mean) / std

    def forward(self, input_ids, vision_input=None, is_video: bool = False, **kwargs) -> Qwen25VLOutput:
        """Logits for the vision block + ``input_ids``: ``.logits`` (b, 2 + tokens + l, vocab)."""
        return self.model(**self.prepare_inputs(input_ids, vision_input, is_video), **kwargs)

    def generate(self, input_ids, vision_input=None, is_video: bool = False, max_length: int = 100, **kwargs):
        """Continuation -> (b, at most ``max_length``) ids: ``input_ids`` then the new tokens.

        ``max_length`` counts the caller's tokens (prompt + answer), not the vision block, which is
        dropped from the result. Everything else is :func:`qwen_lite.generation.generate`'s: the defaults
        come from ``self.generation_config`` (for a model built here: greedy, stopping at ``<|im_end|>`` or
        ``<|endoftext|>``; for :meth:`from_pretrained`: the folder's ``generation_config.json``), keywords
        (``eos_token_id``, ``do_sample``, ``top_k``, ``repetition_penalty``...) override them, and the same
        checks apply. ``max_new_tokens`` is refused (``max_length`` says it).
        """
        if "max_new_tokens" in kwargs:
            raise TypeError("generate(): pass max_length (prompt + answer tokens), not max_new_tokens")
        if isinstance(max_length, bool) or not isinstance(max_length, int):
            raise TypeError(f"max_length: expected an int, got {max_length!r}")
        check_shape(input_ids, "b l", "input_ids")
        new_tokens = max_length - input_ids.shape[1]
        if new_tokens < 1:
            raise ValueError(
                f"max_length ({max_length}) must exceed the prompt length ({input_ids.shape[1]})"
            )
        inputs = self.prepare_inputs(input_ids, vision_input, is_video)
        out = self.model.generate(**inputs, max_new_tokens=new_tokens, **kwargs)
        return out[:, inputs["input_ids"].shape[1] - input_ids.shape[1] :]

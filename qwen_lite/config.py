"""Configurations: the released Qwen2.5-VL sizes, and small ones for tests and chapters.

The field names follow the Hugging Face ``config.json`` (``vision_config`` and the text fields) so a
reader can hold the two side by side. The class defaults here are the *released* values, which is
not true of ``transformers``' own config classes (their vision ``hidden_size`` default is 3584; the
real tower is 1280 wide).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass
class VisionConfig:
    """The vision tower (identical in the released 3B, 7B and 72B models)."""

    depth: int = 32
    hidden_size: int = 1280
    num_heads: int = 16
    intermediate_size: int = 3420
    hidden_act: str = "silu"
    in_channels: int = 3
    patch_size: int = 14
    temporal_patch_size: int = 2
    spatial_merge_size: int = 2
    window_size: int = 112  # in pixels: 112 px = 8x8 patches = 4x4 merged tokens
    fullatt_block_indexes: tuple[int, ...] = (7, 15, 23, 31)
    out_hidden_size: int = 2048  # = the text model's hidden_size
    tokens_per_second: int = 2  # temporal position ids per second of video (M-RoPE)
    rms_norm_eps: float = 1e-6  # hard-coded in the reference

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def patch_dim(self) -> int:
        """Length of one flattened patch: channels x temporal_patch_size x patch_size^2 (1176)."""
        return self.in_channels * self.temporal_patch_size * self.patch_size**2

    def __post_init__(self):
        self.fullatt_block_indexes = tuple(self.fullatt_block_indexes)
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"vision hidden_size ({self.hidden_size}) must be divisible by num_heads ({self.num_heads})"
            )
        if self.head_dim % 4:
            raise ValueError(f"vision head_dim must be a multiple of 4 for 2-D rotary, got {self.head_dim}")


@dataclass
class TextConfig:
    """The Qwen2 decoder (the language model)."""

    vocab_size: int = 151936
    hidden_size: int = 2048
    intermediate_size: int = 11008
    num_hidden_layers: int = 36
    num_attention_heads: int = 16
    num_key_value_heads: int = 2
    rms_norm_eps: float = 1e-6  # released value; the transformers class default is 1e-5
    rope_theta: float = 1_000_000.0
    mrope_section: tuple[int, int, int] = (16, 24, 24)  # temporal, height, width frequency slots
    max_position_embeddings: int = 128000
    tie_word_embeddings: bool = True
    hidden_act: str = "silu"

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def __post_init__(self):
        self.mrope_section = tuple(self.mrope_section)
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"text hidden_size ({self.hidden_size}) must be divisible by "
                f"num_attention_heads ({self.num_attention_heads})"
            )
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"num_attention_heads ({self.num_attention_heads}) must be a multiple of "
                f"num_key_value_heads ({self.num_key_value_heads})"
            )
        if sum(self.mrope_section) * 2 != self.head_dim:
            raise ValueError(
                f"mrope_section {self.mrope_section} must sum to head_dim/2 = {self.head_dim // 2}, "
                f"got {sum(self.mrope_section)}"
            )


@dataclass
class Qwen25VLConfig:
    """The whole model: a vision tower, a text decoder and the special token ids that join them."""

    vision: VisionConfig = field(default_factory=VisionConfig)
    text: TextConfig = field(default_factory=TextConfig)
    image_token_id: int = 151655  # <|image_pad|>
    video_token_id: int = 151656  # <|video_pad|>
    vision_start_token_id: int = 151652  # <|vision_start|>
    vision_end_token_id: int = 151653  # <|vision_end|>
    bos_token_id: int = 151643  # <|endoftext|>, also the padding token
    eos_token_id: int = 151645  # <|im_end|>

    def __post_init__(self):
        if self.vision.out_hidden_size != self.text.hidden_size:
            raise ValueError(
                f"vision.out_hidden_size ({self.vision.out_hidden_size}) must equal "
                f"text.hidden_size ({self.text.hidden_size}): merged visual tokens replace text embeddings"
            )

    def replace(self, **changes) -> Qwen25VLConfig:
        """A copy with some top-level fields changed (``vision=`` / ``text=`` take whole configs)."""
        return dataclasses.replace(self, **changes)


def _released(text: TextConfig) -> Qwen25VLConfig:
    return Qwen25VLConfig(vision=VisionConfig(out_hidden_size=text.hidden_size), text=text)


def qwen25vl_3b() -> Qwen25VLConfig:
    """Qwen/Qwen2.5-VL-3B-Instruct (tied input/output embeddings)."""
    return _released(TextConfig())


def qwen25vl_7b() -> Qwen25VLConfig:
    """Qwen/Qwen2.5-VL-7B-Instruct."""
    return _released(
        TextConfig(
            vocab_size=152064,
            hidden_size=3584,
            intermediate_size=18944,
            num_hidden_layers=28,
            num_attention_heads=28,
            num_key_value_heads=4,
            tie_word_embeddings=False,
        )
    )


def qwen25vl_72b() -> Qwen25VLConfig:
    """Qwen/Qwen2.5-VL-72B-Instruct."""
    return _released(
        TextConfig(
            vocab_size=152064,
            hidden_size=8192,
            intermediate_size=29568,
            num_hidden_layers=80,
            num_attention_heads=64,
            num_key_value_heads=8,
            tie_word_embeddings=False,
        )
    )


def tiny() -> Qwen25VLConfig:
    """A few-block model with the real vocabulary: runs in milliseconds, for tests and chapters."""
    return Qwen25VLConfig(
        vision=VisionConfig(
            depth=4,
            hidden_size=64,
            num_heads=4,
            intermediate_size=96,
            fullatt_block_indexes=(1, 3),
            out_hidden_size=64,
        ),
        text=TextConfig(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            mrope_section=(2, 3, 3),
            tie_word_embeddings=False,
        ),
    )


def small() -> Qwen25VLConfig:
    """Real head sizes (vision head_dim 80, text head_dim 128, mrope 16/24/24), few and narrow layers."""
    return Qwen25VLConfig(
        vision=VisionConfig(
            depth=4,
            hidden_size=160,
            num_heads=2,
            intermediate_size=256,
            fullatt_block_indexes=(3,),
            out_hidden_size=256,
        ),
        text=TextConfig(
            hidden_size=256,
            intermediate_size=512,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            tie_word_embeddings=False,
        ),
    )


PRESETS = {"3B": qwen25vl_3b, "7B": qwen25vl_7b, "72B": qwen25vl_72b, "tiny": tiny, "small": small}


# --- Hugging Face config.json <-> Qwen25VLConfig -------------------------------------------------

_VISION_KEYS = [f.name for f in dataclasses.fields(VisionConfig) if f.name != "rms_norm_eps"]
_TEXT_KEYS = [f.name for f in dataclasses.fields(TextConfig) if f.name != "mrope_section"]
_TOKEN_KEYS = [f.name for f in dataclasses.fields(Qwen25VLConfig) if f.name.endswith("_id")]


def _mrope_section(d: dict) -> tuple[int, int, int] | None:
    """Read ``mrope_section`` from either spelling of ``rope_scaling`` (or ``rope_parameters``)."""
    for key in ("rope_scaling", "rope_parameters"):
        rope = d.get(key) or {}
        if "mrope_section" in rope:
            return tuple(rope["mrope_section"])
    return None


def from_hf_dict(d: dict) -> Qwen25VLConfig:
    """Build a config from a Hugging Face Qwen2.5-VL ``config.json`` dictionary.

    Accepts the released flat layout (text fields at the top level) and the nested ``text_config``
    layout of newer ``transformers``; ``in_chans`` (released files) and ``in_channels``; and both
    ``rope_scaling`` spellings (``{"type": "mrope", ...}`` and ``{"rope_type": "default", ...}``).
    Missing fields take the *released* values, not the library class defaults.
    """
    model_type = d.get("model_type", "qwen2_5_vl")
    if model_type not in ("qwen2_5_vl", "qwen2_5_vl_text"):
        raise ValueError(f"config.json: expected model_type 'qwen2_5_vl', got {model_type!r}")
    text_d = {**d, **(d.get("text_config") or {})}
    vision_d = dict(d.get("vision_config") or {})
    if "in_chans" in vision_d and "in_channels" not in vision_d:
        vision_d["in_channels"] = vision_d.pop("in_chans")
    if "spatial_patch_size" in vision_d and "patch_size" not in vision_d:
        vision_d["patch_size"] = vision_d.pop("spatial_patch_size")
    text_kwargs = {k: text_d[k] for k in _TEXT_KEYS if k in text_d}
    section = _mrope_section(text_d)
    if section is not None:
        text_kwargs["mrope_section"] = section
    if "rope_theta" not in text_kwargs:
        theta = (text_d.get("rope_parameters") or {}).get("rope_theta")
        if theta is not None:
            text_kwargs["rope_theta"] = theta
    text = TextConfig(**text_kwargs)
    vision_kwargs = {k: vision_d[k] for k in _VISION_KEYS if k in vision_d}
    vision_kwargs.setdefault("out_hidden_size", text.hidden_size)
    vision = VisionConfig(**vision_kwargs)
    tokens = {k: d[k] for k in _TOKEN_KEYS if k in d and isinstance(d[k], int)}
    return Qwen25VLConfig(vision=vision, text=text, **tokens)


def to_hf_dict(config: Qwen25VLConfig) -> dict:
    """The ``config.json`` dictionary in the released layout (loads in ``transformers`` 4.49+)."""
    vision = {k: getattr(config.vision, k) for k in _VISION_KEYS}
    vision["fullatt_block_indexes"] = list(config.vision.fullatt_block_indexes)
    text = {k: getattr(config.text, k) for k in _TEXT_KEYS}
    tokens = {k: getattr(config, k) for k in _TOKEN_KEYS}
    return {
        "architectures": ["Qwen2_5_VLForConditionalGeneration"],
        "model_type": "qwen2_5_vl",
        **text,
        **tokens,
        "rope_scaling": {"type": "mrope", "mrope_section": list(config.text.mrope_section)},
        "attention_dropout": 0.0,
        "use_sliding_window": False,
        "vision_config": vision,
        "torch_dtype": "float32",
    }

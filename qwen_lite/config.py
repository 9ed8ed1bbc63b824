"""Configurations: the released Qwen2.5-VL sizes, and small ones for tests and chapters.

The field names follow the Hugging Face ``config.json`` (``vision_config`` and the text fields) so a
reader can hold the two side by side. The class defaults here are the *released* values, which is
not true of ``transformers``' own config classes (their vision ``hidden_size`` default is 3584; the
real tower is 1280 wide).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field


def check_fields(obj, where: str) -> None:
    """Check (and normalise) every field of a config dataclass against its annotation.

    ``int`` fields take ints >= 1 (token ids >= 0), never bools or floats (``4000.0``) or strings
    (``"4000"``); ``float`` fields take finite numbers > 0 (ints are exact); ``bool`` fields take bools;
    ``tuple[int, ...]`` fields take a list or tuple of ints (``mrope_section``: exactly 3). transformers'
    config classes store such values unchanged and fail later, deep inside (or not at all), so qwen_lite
    refuses them here: ``TypeError`` for a wrong type, ``ValueError`` for a wrong value, naming
    ``where`` + the field (e.g. ``text.hidden_size``).
    """
    for f in dataclasses.fields(obj):
        name, value, kind = f"{where}{f.name}", getattr(obj, f.name), str(f.type)
        if kind == "int":
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                raise TypeError(f"{name}: expected an int, got {value!r} ({type(value).__name__})")
            low = 0 if f.name.endswith("_token_id") else 1
            if value < low:
                raise ValueError(f"{name}: expected an int >= {low}, got {value}")
            setattr(obj, f.name, int(value))
        elif kind == "float":
            if not isinstance(value, numbers.Real) or isinstance(value, bool):
                raise TypeError(f"{name}: expected a number, got {value!r} ({type(value).__name__})")
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name}: expected a finite number > 0, got {value}")
            setattr(obj, f.name, float(value))
        elif kind == "bool":
            if not isinstance(value, bool):
                raise TypeError(f"{name}: expected true or false, got {value!r} ({type(value).__name__})")
        elif kind == "str":
            if not isinstance(value, str):
                raise TypeError(f"{name}: expected a string, got {value!r} ({type(value).__name__})")
        elif kind.startswith("tuple[int"):
            if not isinstance(value, (list, tuple)) or not all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value
            ):
                raise TypeError(f"{name}: expected a list of ints, got {value!r}")
            if kind == "tuple[int, int, int]" and len(value) != 3:
                raise ValueError(f"{name}: expected 3 entries (temporal, height, width), got {list(value)}")
            setattr(obj, f.name, tuple(int(v) for v in value))


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
        check_fields(self, "vision.")
        bad = [i for i in self.fullatt_block_indexes if not 0 <= i < self.depth]
        if bad:
            raise ValueError(
                f"vision.fullatt_block_indexes: {bad} are not blocks of a depth-{self.depth} tower (0..{self.depth - 1})"
            )
        if self.hidden_act != "silu":
            raise ValueError(
                f"vision.hidden_act: only 'silu' (SwiGLU) is implemented, got {self.hidden_act!r}"
            )
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
        check_fields(self, "text.")
        if self.hidden_act != "silu":
            raise ValueError(f"text.hidden_act: only 'silu' (SwiGLU) is implemented, got {self.hidden_act!r}")
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
        if not isinstance(self.vision, VisionConfig) or not isinstance(self.text, TextConfig):
            raise TypeError(
                f"Qwen25VLConfig: vision= takes a VisionConfig and text= a TextConfig, got "
                f"{type(self.vision).__name__} and {type(self.text).__name__}"
            )
        check_fields(self, "")
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


def _mrope_section(d: dict):
    """Read ``mrope_section`` from either spelling of ``rope_scaling`` (or ``rope_parameters``).

    Refuses a rope type qwen_lite does not implement (``yarn``, ``linear``... with a ``factor``): the
    released models use plain M-RoPE (``"type": "mrope"``, which transformers rewrites to ``"default"``).
    """
    for key in ("rope_scaling", "rope_parameters"):
        rope = d.get(key)
        if rope is None:
            continue
        if not isinstance(rope, dict):
            raise TypeError(f"{key}: expected an object, got {rope!r}")
        kind = rope.get("rope_type", rope.get("type", "default"))
        if kind not in ("default", "mrope"):
            raise ValueError(f"{key}: rope type {kind!r} is not implemented (only 'mrope' / 'default')")
        if "mrope_section" in rope:
            return rope["mrope_section"]
    return None


def _object(d: dict, key: str) -> dict:
    """``d[key]`` when it is a JSON object (missing or null: empty); anything else is refused."""
    value = d.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"{key}: expected an object, got {value!r} ({type(value).__name__})")
    return value


def _build(cls, kwargs: dict, rename: dict[str, str]):
    """``cls(**kwargs)``, with an error message that names the config.json key (``rename``: field -> key)."""
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:
        message = str(error)
        for ours, theirs in rename.items():
            if message.startswith(ours):
                message = theirs + message[len(ours) :]
                break
        raise type(error)(message) from None


def from_hf_dict(d: dict) -> Qwen25VLConfig:
    """Build a config from a Hugging Face Qwen2.5-VL ``config.json`` dictionary.

    Accepts the released flat layout (text fields at the top level) and the nested ``text_config``
    layout of newer ``transformers``; ``in_chans`` (released files) and ``in_channels``; and both
    ``rope_scaling`` spellings (``{"type": "mrope", ...}`` and ``{"rope_type": "default", ...}``).
    Missing fields take the *released* values, not the library class defaults.

    Every value that is present is used or refused, never replaced by a default: a value of the wrong
    JSON type (a token id ``4000.0`` or ``"4000"``, a string ``hidden_size``, ``true`` for an int), a
    2-entry ``mrope_section``, an unknown ``model_type``, ``use_sliding_window: true`` or a rope scaling
    type other than M-RoPE raise ``TypeError`` / ``ValueError`` naming the key. (transformers 4.57's
    ``Qwen2_5_VLConfig(**d)`` stores every one of these unchanged and fails later, or computes with it;
    there is no conversion to copy.) :func:`qwen_lite.weights.read_config` adds the file's path.
    """
    if not isinstance(d, dict):
        raise TypeError(f"expected a JSON object, got {type(d).__name__}")
    model_type = d.get("model_type", "qwen2_5_vl")
    if model_type not in ("qwen2_5_vl", "qwen2_5_vl_text"):
        raise ValueError(f"model_type: expected 'qwen2_5_vl', got {model_type!r}")
    text_d = {**d, **_object(d, "text_config")}
    vision_d = dict(_object(d, "vision_config"))
    if text_d.get("use_sliding_window", False) is not False:
        raise ValueError(
            f"use_sliding_window: {text_d['use_sliding_window']!r} is not implemented "
            "(the released models use false: full causal attention in every layer)"
        )
    renamed = {}
    for old, new in (("in_chans", "in_channels"), ("spatial_patch_size", "patch_size")):
        if old in vision_d and new not in vision_d:
            vision_d[new] = vision_d.pop(old)
            renamed[new] = old
    text_kwargs = {k: text_d[k] for k in _TEXT_KEYS if k in text_d}
    section = _mrope_section(text_d)
    if section is not None:
        text_kwargs["mrope_section"] = section
    if "rope_theta" not in text_kwargs:
        theta = _object(text_d, "rope_parameters").get("rope_theta")
        if theta is not None:
            text_kwargs["rope_theta"] = theta
    text = _build(TextConfig, text_kwargs, {"text.mrope_section": "rope_scaling.mrope_section", "text.": ""})
    vision_kwargs = {k: vision_d[k] for k in _VISION_KEYS if k in vision_d}
    vision_kwargs.setdefault("out_hidden_size", text.hidden_size)
    names = {f"vision.{new}": f"vision_config.{old}" for new, old in renamed.items()}
    vision = _build(VisionConfig, vision_kwargs, {**names, "vision.": "vision_config."})
    # transformers 5.x writes bos/eos ids inside text_config: read them there too (text_d holds both levels).
    tokens = {k: text_d[k] for k in _TOKEN_KEYS if k in text_d}
    return _build(Qwen25VLConfig, dict(vision=vision, text=text, **tokens), {})


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

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
from typing import ClassVar


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


class _VisionSizes:
    """Sizes derived from the fields, shared by :class:`VisionConfig` and :class:`Qwen3VLVisionConfig`."""

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def patch_dim(self) -> int:
        """Length of one flattened patch: channels x temporal_patch_size x patch_size^2 (1176; 1536 for Qwen3-VL)."""
        return self.in_channels * self.temporal_patch_size * self.patch_size**2

    def _check_sizes(self, where: str) -> None:
        check_fields(self, where)
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"vision hidden_size ({self.hidden_size}) must be divisible by num_heads ({self.num_heads})"
            )
        if self.head_dim % 4:
            raise ValueError(f"vision head_dim must be a multiple of 4 for 2-D rotary, got {self.head_dim}")


@dataclass
class VisionConfig(_VisionSizes):
    """The vision tower (identical in the released 3B, 7B and 72B models).

    The class attributes below are the *switches* of the shared tower (:mod:`qwen_lite.vision`): what
    Qwen2.5-VL does where :class:`Qwen3VLVisionConfig` does something else. They are fixed by the
    architecture, not read from ``config.json``.
    """

    norm: ClassVar[str] = "rms"  # block and merger norm: RMSNorm ("rms") or LayerNorm ("layer")
    mlp: ClassVar[str] = "swiglu"  # block MLP: SwiGLU ("swiglu") or Linear-GELU(tanh)-Linear ("gelu")
    patch_bias: ClassVar[bool] = False  # the patch embedding's Conv3d has no bias
    window_attention: ClassVar[bool] = True  # blocks outside fullatt_block_indexes attend within windows
    position_table: ClassVar[bool] = False  # no learned absolute position table (only the 2-D rotary)
    deepstack_visual_indexes: ClassVar[tuple[int, ...]] = ()  # no DeepStack features

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
    def norm_eps(self) -> float:
        """The epsilon of the tower's norms (the blocks' and the merger's)."""
        return self.rms_norm_eps

    def __post_init__(self):
        self._check_sizes("vision.")
        bad = [i for i in self.fullatt_block_indexes if not 0 <= i < self.depth]
        if bad:
            raise ValueError(
                f"vision.fullatt_block_indexes: {bad} are not blocks of a depth-{self.depth} tower (0..{self.depth - 1})"
            )
        if self.hidden_act != "silu":
            raise ValueError(
                f"vision.hidden_act: only 'silu' (SwiGLU) is implemented, got {self.hidden_act!r}"
            )


def _check_text_sizes(config, where: str = "text.") -> None:
    """The checks :class:`TextConfig` and :class:`Qwen3VLTextConfig` share (after :func:`check_fields`)."""
    check_fields(config, where)
    if config.hidden_act != "silu":
        raise ValueError(f"text.hidden_act: only 'silu' (SwiGLU) is implemented, got {config.hidden_act!r}")
    if config.num_attention_heads % config.num_key_value_heads:
        raise ValueError(
            f"num_attention_heads ({config.num_attention_heads}) must be a multiple of "
            f"num_key_value_heads ({config.num_key_value_heads})"
        )
    if sum(config.mrope_section) * 2 != config.head_dim:
        raise ValueError(
            f"mrope_section {config.mrope_section} must sum to head_dim/2 = {config.head_dim // 2}, "
            f"got {sum(config.mrope_section)}"
        )


@dataclass
class TextConfig:
    """The Qwen2 decoder (the language model).

    Class attributes: the switches of the shared decoder (:mod:`qwen_lite.text`, :mod:`qwen_lite.rope`)
    where :class:`Qwen3VLTextConfig` differs. Not read from ``config.json``.
    """

    qkv_bias: ClassVar[bool] = True  # q_proj, k_proj, v_proj have biases
    o_bias: ClassVar[bool] = False  # o_proj has none
    qk_norm: ClassVar[bool] = False  # no RMSNorm on each head of q and k
    mrope_interleaved: ClassVar[bool] = False  # M-RoPE slots in three chunks (t..., h..., w...)

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
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"text hidden_size ({self.hidden_size}) must be divisible by "
                f"num_attention_heads ({self.num_attention_heads})"
            )
        _check_text_sizes(self)


@dataclass
class MultimodalConfig:
    """What :class:`Qwen25VLConfig` and :class:`Qwen3VLConfig` share: a vision config, a text config and the
    special token ids that join them. ``model_type`` (a class attribute) is ``config.json``'s."""

    model_type: ClassVar[str] = ""
    vision: VisionConfig = field(default_factory=VisionConfig)
    text: TextConfig = field(default_factory=TextConfig)
    image_token_id: int = 151655  # <|image_pad|>
    video_token_id: int = 151656  # <|video_pad|>
    vision_start_token_id: int = 151652  # <|vision_start|>
    vision_end_token_id: int = 151653  # <|vision_end|>
    bos_token_id: int = 151643  # <|endoftext|>, also the padding token
    eos_token_id: int = 151645  # <|im_end|>

    def __post_init__(self):
        kinds = {f.name: f.default_factory for f in dataclasses.fields(self) if f.name in ("vision", "text")}
        if not isinstance(self.vision, kinds["vision"]) or not isinstance(self.text, kinds["text"]):
            raise TypeError(
                f"{type(self).__name__}: vision= takes a {kinds['vision'].__name__} and text= a "
                f"{kinds['text'].__name__}, got {type(self.vision).__name__} and {type(self.text).__name__}"
            )
        check_fields(self, "")
        if self.vision.out_hidden_size != self.text.hidden_size:
            raise ValueError(
                f"vision.out_hidden_size ({self.vision.out_hidden_size}) must equal "
                f"text.hidden_size ({self.text.hidden_size}): merged visual tokens replace text embeddings"
            )

    def replace(self, **changes):
        """A copy with some top-level fields changed (``vision=`` / ``text=`` take whole configs)."""
        return dataclasses.replace(self, **changes)


@dataclass
class Qwen25VLConfig(MultimodalConfig):
    """The whole Qwen2.5-VL model: a vision tower, a text decoder and the special token ids that join them."""

    model_type: ClassVar[str] = "qwen2_5_vl"


# --- Qwen3-VL (dense) ---------------------------------------------------------------------------


_Q3_8B_TAPS = (8, 16, 24)  # transformers' default deepstack_visual_indexes, the released 8B's


@dataclass
class Qwen3VLVisionConfig(_VisionSizes):
    """The Qwen3-VL vision tower: the same tower as Qwen2.5-VL's, with other switches and two new parts.

    Defaults: transformers' ``Qwen3VLVisionConfig`` class defaults (4.57.6 and 5.24.0 agree). Switches
    (class attributes, see :class:`VisionConfig`): LayerNorm and a GELU(tanh) MLP in every block, a
    patch embedding with bias, full attention in every block (no windows), a learned position table of
    ``num_position_embeddings`` entries (a square grid, :mod:`qwen_lite.vision_positions`) and DeepStack
    features from the blocks in ``deepstack_visual_indexes`` (:mod:`qwen_lite.deepstack`). Source:
    transformers ``models/qwen3_vl/modeling_qwen3_vl.py`` and ``configuration_qwen3_vl.py``.
    """

    norm: ClassVar[str] = "layer"
    mlp: ClassVar[str] = "gelu"
    patch_bias: ClassVar[bool] = True
    window_attention: ClassVar[bool] = False
    position_table: ClassVar[bool] = True

    depth: int = 27
    hidden_size: int = 1152
    num_heads: int = 16
    intermediate_size: int = 4304
    hidden_act: str = "gelu_pytorch_tanh"
    in_channels: int = 3
    patch_size: int = 16
    temporal_patch_size: int = 2
    spatial_merge_size: int = 2
    out_hidden_size: int = 3584  # = the text model's hidden_size
    num_position_embeddings: int = 2304  # a 48 x 48 table
    deepstack_visual_indexes: tuple[int, ...] = _Q3_8B_TAPS
    layer_norm_eps: float = 1e-6  # hard-coded in the reference (blocks and mergers)

    @property
    def norm_eps(self) -> float:
        """The epsilon of the tower's LayerNorms (blocks and mergers)."""
        return self.layer_norm_eps

    @property
    def position_grid_side(self) -> int:
        """Side of the square position table (48 for 2304 entries)."""
        return math.isqrt(self.num_position_embeddings)

    def __post_init__(self):
        self._check_sizes("vision.")
        if self.hidden_act != "gelu_pytorch_tanh":
            raise ValueError(
                f"vision.hidden_act: only 'gelu_pytorch_tanh' is implemented for Qwen3-VL, got {self.hidden_act!r}"
            )
        if self.position_grid_side**2 != self.num_position_embeddings:
            raise ValueError(
                f"vision.num_position_embeddings: expected a square number (the table is a square grid), "
                f"got {self.num_position_embeddings}"
            )
        indexes = self.deepstack_visual_indexes
        bad = [i for i in indexes if not 0 <= i < self.depth]
        if bad or len(set(indexes)) != len(indexes):
            given = " (the default, the 8B's: give the taps of this tower)" if indexes == _Q3_8B_TAPS else ""
            raise ValueError(
                f"vision.deepstack_visual_indexes: {list(indexes)}{given} must be distinct blocks of a "
                f"depth-{self.depth} tower (0..{self.depth - 1})"
            )


@dataclass
class Qwen3VLTextConfig:
    """The Qwen3 decoder of Qwen3-VL (dense).

    Defaults: transformers' ``Qwen3VLTextConfig`` class defaults, except ``rope_theta`` (4.57.6: 5e6;
    5.24.0: 5e5; the released configs write 5e6) and ``mrope_section`` ([24, 20, 20], the value both
    versions fall back to). Differences from :class:`TextConfig` (switches read by :mod:`qwen_lite.text`
    and :mod:`qwen_lite.rope`): ``head_dim`` is a field (not hidden_size / heads), q and k get an RMSNorm per
    head, ``attention_bias`` (false in the released models) covers all four projections, and the M-RoPE
    slots are interleaved t, h, w, t, h, w, ...
    """

    qk_norm: ClassVar[bool] = True
    mrope_interleaved: ClassVar[bool] = True

    vocab_size: int = 151936
    hidden_size: int = 4096
    intermediate_size: int = 22016
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    num_key_value_heads: int = 32
    head_dim: int = 128
    rms_norm_eps: float = 1e-6
    rope_theta: float = 5_000_000.0
    mrope_section: tuple[int, int, int] = (24, 20, 20)
    max_position_embeddings: int = 128000
    tie_word_embeddings: bool = False
    hidden_act: str = "silu"
    attention_bias: bool = False

    @property
    def qkv_bias(self) -> bool:
        return self.attention_bias

    @property
    def o_bias(self) -> bool:
        return self.attention_bias

    def __post_init__(self):
        _check_text_sizes(self)


@dataclass
class Qwen3VLConfig(MultimodalConfig):
    """The whole Qwen3-VL (dense) model: ``config.json``'s ``model_type: qwen3_vl``.

    Token ids: transformers' ``Qwen3VLConfig`` defaults, the same as Qwen2.5-VL's (the ``bos``/``eos`` ids
    come from ``text_config`` when a file has them).
    """

    model_type: ClassVar[str] = "qwen3_vl"
    vision: Qwen3VLVisionConfig = field(default_factory=Qwen3VLVisionConfig)
    text: Qwen3VLTextConfig = field(default_factory=Qwen3VLTextConfig)


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


def _released3(text: Qwen3VLTextConfig, **vision) -> Qwen3VLConfig:
    return Qwen3VLConfig(vision=Qwen3VLVisionConfig(out_hidden_size=text.hidden_size, **vision), text=text)


#: The released Qwen3-VL towers: the 2B and 4B share the smaller, the 8B (and transformers' defaults) the larger.
_Q3_SMALL_TOWER = dict(
    depth=24, hidden_size=1024, intermediate_size=4096, deepstack_visual_indexes=(5, 11, 17)
)
_Q3_RELEASED_TEXT = dict(num_key_value_heads=8, max_position_embeddings=262144)


def qwen3vl_2b() -> Qwen3VLConfig:
    """Qwen/Qwen3-VL-2B-Instruct (tied input/output embeddings).

    Sizes as in the released ``config.json`` (frozen in ``tests/fixtures/configs/qwen3vl_2b_instruct.json``;
    a test reads that file and compares).
    """
    return _released3(
        Qwen3VLTextConfig(
            hidden_size=2048,
            intermediate_size=6144,
            num_hidden_layers=28,
            num_attention_heads=16,
            tie_word_embeddings=True,
            **_Q3_RELEASED_TEXT,
        ),
        **_Q3_SMALL_TOWER,
    )


def qwen3vl_4b() -> Qwen3VLConfig:
    """Qwen/Qwen3-VL-4B-Instruct (tied input/output embeddings; ``tests/fixtures/configs/qwen3vl_4b_instruct.json``)."""
    return _released3(
        Qwen3VLTextConfig(
            hidden_size=2560,
            intermediate_size=9728,
            num_hidden_layers=36,
            num_attention_heads=32,
            tie_word_embeddings=True,
            **_Q3_RELEASED_TEXT,
        ),
        **_Q3_SMALL_TOWER,
    )


def qwen3vl_8b() -> Qwen3VLConfig:
    """Qwen/Qwen3-VL-8B-Instruct (``tests/fixtures/configs/qwen3vl_8b_instruct.json``): the tower is
    transformers' default one (27 blocks of width 1152, DeepStack taps 8, 16, 24)."""
    return _released3(
        Qwen3VLTextConfig(
            hidden_size=4096,
            intermediate_size=12288,
            num_hidden_layers=36,
            num_attention_heads=32,
            **_Q3_RELEASED_TEXT,
        ),
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
#: The released Qwen3-VL dense sizes whose ``config.json`` is frozen in ``tests/fixtures/configs`` (the 32B is
#: not: no copy of its file could be checked).
QWEN3_VL_PRESETS = {"2B": qwen3vl_2b, "4B": qwen3vl_4b, "8B": qwen3vl_8b}


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


# --- Hugging Face config.json <-> Qwen3VLConfig --------------------------------------------------

_Q3_VISION_KEYS = [f.name for f in dataclasses.fields(Qwen3VLVisionConfig) if f.name != "layer_norm_eps"]
_Q3_TEXT_KEYS = [
    f.name
    for f in dataclasses.fields(Qwen3VLTextConfig)
    if f.name not in ("mrope_section", "tie_word_embeddings")
]
_Q3_ROPE_THETA_VISION = 10000.0  # the tower's 2-D rotary base (hard-coded in 4.57.6, a 5.24 config value)


def qwen3_vl_from_hf_dict(d: dict) -> Qwen3VLConfig:
    """Build a :class:`Qwen3VLConfig` from a transformers Qwen3-VL ``config.json`` dictionary.

    Reads the nested layout both pinned versions write: ``text_config`` (with ``rope_scaling`` in 4.57.6,
    ``rope_parameters`` holding ``rope_theta`` too in 5.24.0) and ``vision_config`` (5.24 adds its
    ``rope_parameters``, ``{"rope_type": "axial", "rope_theta": 10000.0}``). Top-level text fields are ignored,
    as transformers' ``Qwen3VLConfig`` ignores them; token ids are read at the top level, ``bos``/``eos`` in
    ``text_config`` too. Missing fields take the :class:`Qwen3VLTextConfig` / :class:`Qwen3VLVisionConfig`
    defaults (``vision_config.out_hidden_size``: the text ``hidden_size``).

    Refused with ``TypeError`` / ``ValueError`` naming the key: every wrong type or value the dataclasses
    refuse; ``mrope_interleaved: false`` (both versions interleave regardless: a file saying otherwise
    cannot be honoured); a rope type other than default/M-RoPE; a vision rope other than axial with
    theta 10000; and ``tie_word_embeddings`` given at the top level and in ``text_config`` with different
    values (4.57.6 ties by ``text_config``'s, 5.24.0 by the top level's: the two would build different models).
    """
    if not isinstance(d, dict):
        raise TypeError(f"expected a JSON object, got {type(d).__name__}")
    model_type = d.get("model_type")
    if model_type != "qwen3_vl":
        raise ValueError(f"model_type: expected 'qwen3_vl', got {model_type!r}")
    text_d = _object(d, "text_config")
    vision_d = _object(d, "vision_config")
    text_kwargs = {k: text_d[k] for k in _Q3_TEXT_KEYS if k in text_d}
    section = _mrope_section(text_d)
    if section is not None:
        text_kwargs["mrope_section"] = section
    rope = {**_object(text_d, "rope_scaling"), **_object(text_d, "rope_parameters")}
    if rope.get("mrope_interleaved", True) is not True:
        raise ValueError(
            f"text_config.rope_scaling.mrope_interleaved: {rope['mrope_interleaved']!r} is not implemented "
            "(transformers' Qwen3-VL interleaves the M-RoPE slots whatever this flag says)"
        )
    if "rope_theta" not in text_kwargs and rope.get("rope_theta") is not None:
        text_kwargs["rope_theta"] = rope["rope_theta"]
    ties = {where: value for where, value in (("tie_word_embeddings", d.get("tie_word_embeddings")),
            ("text_config.tie_word_embeddings", text_d.get("tie_word_embeddings"))) if value is not None}  # fmt: skip
    if len(set(ties.values())) > 1:
        raise ValueError(
            f"tie_word_embeddings: {ties} disagree (transformers 4.57.6 ties by text_config's, 5.24.0 by the "
            "top level's); make them equal"
        )
    if ties:
        text_kwargs["tie_word_embeddings"] = next(iter(ties.values()))
    text = _build(Qwen3VLTextConfig, text_kwargs, {"text.": "text_config."})
    vision_rope = _object(vision_d, "rope_parameters")
    if vision_rope.get("rope_type", "axial") != "axial" or vision_rope.get("rope_theta", 1e4) != 1e4:
        raise ValueError(
            f"vision_config.rope_parameters: {vision_rope} is not implemented (only axial rotary, theta 10000)"
        )
    vision_kwargs = {k: vision_d[k] for k in _Q3_VISION_KEYS if k in vision_d}
    vision_kwargs.setdefault("out_hidden_size", text.hidden_size)
    vision = _build(Qwen3VLVisionConfig, vision_kwargs, {"vision.": "vision_config."})
    tokens = {k: {**text_d, **d}[k] for k in _TOKEN_KEYS if k in {**text_d, **d}}
    return _build(Qwen3VLConfig, dict(vision=vision, text=text, **tokens), {})


def qwen3_vl_to_hf_dict(config: Qwen3VLConfig) -> dict:
    """The ``config.json`` dictionary of a :class:`Qwen3VLConfig`, in the layout transformers 4.57.6 writes
    (loads in 4.57.6 and 5.24.0); ``tie_word_embeddings`` at both levels, bos/eos in ``text_config``."""
    vision = {k: getattr(config.vision, k) for k in _Q3_VISION_KEYS}
    vision["deepstack_visual_indexes"] = list(config.vision.deepstack_visual_indexes)
    text = {k: getattr(config.text, k) for k in _Q3_TEXT_KEYS}
    tie = config.text.tie_word_embeddings
    text_tokens = ("bos_token_id", "eos_token_id")
    return {
        "architectures": ["Qwen3VLForConditionalGeneration"],
        "model_type": "qwen3_vl",
        **{k: getattr(config, k) for k in _TOKEN_KEYS if k not in text_tokens},
        "tie_word_embeddings": tie,
        "text_config": {
            "model_type": "qwen3_vl_text",
            **text,
            **{k: getattr(config, k) for k in text_tokens},
            "rope_scaling": {
                "rope_type": "default",
                "mrope_section": list(config.text.mrope_section),
                "mrope_interleaved": True,
            },
            "tie_word_embeddings": tie,
            "attention_dropout": 0.0,
        },
        "vision_config": {"model_type": "qwen3_vl", **vision},
        "torch_dtype": "float32",
    }


#: ``config.json``'s ``model_type`` -> the function reading that file (a file without one is Qwen2.5-VL).
CONFIG_READERS = {
    "qwen2_5_vl": from_hf_dict,
    "qwen2_5_vl_text": from_hf_dict,
    "qwen3_vl": qwen3_vl_from_hf_dict,
}


#: vision_config keys only a Qwen3-VL file has: a file without ``model_type`` that has one is not Qwen2.5-VL.
_QWEN3_ONLY_VISION_KEYS = {"deepstack_visual_indexes", "num_position_embeddings"}


def config_from_hf_dict(d: dict) -> MultimodalConfig:
    """Any supported ``config.json`` dictionary -> its config: :class:`Qwen25VLConfig` or :class:`Qwen3VLConfig`,
    chosen by ``model_type`` (a file without one is read as Qwen2.5-VL, as before).

    Raises ``ValueError`` naming ``model_type`` and the supported types for any other type; for a file
    without ``model_type`` whose ``vision_config`` has Qwen3-VL-only keys (it would otherwise fail deep in the
    Qwen2.5-VL reader, naming fields the file never had); and whatever the chosen reader raises
    (:func:`from_hf_dict`, :func:`qwen3_vl_from_hf_dict`).
    """
    if not isinstance(d, dict):
        raise TypeError(f"expected a JSON object, got {type(d).__name__}")
    if "model_type" not in d:
        vision = d.get("vision_config")
        qwen3 = sorted(set(vision) & _QWEN3_ONLY_VISION_KEYS) if isinstance(vision, dict) else []
        if qwen3:
            raise ValueError(
                f"model_type: missing, so the file would be read as Qwen2.5-VL, but its vision_config has "
                f'{", ".join(qwen3)} (Qwen3-VL only): add "model_type": "qwen3_vl"'
            )
    model_type = d.get("model_type", "qwen2_5_vl")
    if not isinstance(model_type, str) or model_type not in CONFIG_READERS:
        raise ValueError(
            f"model_type: expected one of 'qwen2_5_vl', 'qwen3_vl' (the models qwen_lite implements), "
            f"got {model_type!r}"
        )
    return CONFIG_READERS[model_type](d)


def config_to_hf_dict(config: MultimodalConfig) -> dict:
    """:func:`to_hf_dict` or :func:`qwen3_vl_to_hf_dict`, by the config's type."""
    return qwen3_vl_to_hf_dict(config) if isinstance(config, Qwen3VLConfig) else to_hf_dict(config)

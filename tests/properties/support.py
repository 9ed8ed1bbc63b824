"""Hypothesis profiles and the strategies (random input generators) shared by the property tests.

Profiles: ``ci`` (default) and ``long`` (``HYPOTHESIS_PROFILE=long``), see ``tests/properties/__init__.py``.
Each property states its CI example count with :func:`examples`; the long profile multiplies it by
``HYPOTHESIS_LONG_FACTOR`` (default 100).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, Phase, note, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.control import currently_in_test_context
from PIL import Image

from qwen_lite.tokenizer import SPECIAL_TOKENS

# --- profiles --------------------------------------------------------------------------------------

# Hypothesis also caches Unicode tables and constants it finds in the code (not examples): outside the repository.
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "hypothesis-qwen-lite"))

_COMMON = dict(
    deadline=None,  # shared CI machines: timing is no property of the code
    database=None,  # never write .hypothesis/ into the repository
    print_blob=True,  # a failure prints @reproduce_failure(...) to replay it exactly
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # No "explain" phase: it lists lines of torch internals and costs seconds per failure.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
settings.register_profile("ci", max_examples=50, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=5000, derandomize=False, **_COMMON)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)
LONG_FACTOR = int(os.environ.get("HYPOTHESIS_LONG_FACTOR", "100"))


def examples(ci: int) -> settings:
    """``@settings`` for a property: ``ci`` examples in CI, ``LONG_FACTOR`` times as many in the long run."""
    return settings(max_examples=ci * LONG_FACTOR if PROFILE == "long" else ci)


def say(message: str) -> None:
    """``hypothesis.note`` inside a property (printed with a failing example); nothing in a plain test."""
    if currently_in_test_context():
        note(message)


class Quiet:
    """A reference object with a short ``repr``: Hypothesis prints fixtures with each failing example."""

    def __init__(self, obj, name: str):
        self._obj, self._name = obj, name

    def __getattr__(self, attr):
        return getattr(self._obj, attr)

    def __call__(self, *args, **kwargs):
        return self._obj(*args, **kwargs)

    def __repr__(self) -> str:
        return self._name


# --- text ------------------------------------------------------------------------------------------

SPECIAL_TEXTS = sorted(SPECIAL_TOKENS)
# Fragments that look like special tokens but are not: they must tokenize as ordinary text.
LOOKALIKES = [
    "<|",
    "|>",
    "<|im_start",
    "im_end|>",
    "<tool_call",
    "</tool_call",
    "<|image_pad|",
    "<||>",
    "<",
    ">",
]
COMBINING = "\u0300\u0301\u0308\u0327\u0338\u0345\u05b0\u0651\u08ce\u1abf\u1dc0\u20d7\u302a\u3099"
EMOJI = "😀😂🤖👍🏽👩‍💻🇩🇪❤️\u200d\ufe0f\U0001f3fb🧑🏿‍🦱🫠"

_pieces = st.one_of(
    st.text(max_size=12),  # any code point but surrogates
    st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), max_size=8),  # CJK ideographs
    st.text(st.characters(min_codepoint=0x3040, max_codepoint=0x30FF), max_size=6),  # kana
    st.text(st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), max_size=4),  # Hangul syllables
    st.text(st.characters(min_codepoint=0x1100, max_codepoint=0x11FF), max_size=4),  # Hangul jamo
    st.text(st.sampled_from(EMOJI), max_size=6),
    st.text(st.characters(categories=["Mn", "Mc", "Me"]), max_size=4),  # combining marks
    st.text(st.sampled_from("aeoAEO>=<" + COMBINING), max_size=6),  # bases + marks: NFC reorders, composes
    st.text(st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp"]), max_size=4),  # control, format, spaces
    st.text(st.sampled_from(" \t\n\r'sdtmlrevSDTMLRE0123456789.,!?-"), max_size=10),  # regex corners
    st.sampled_from(SPECIAL_TEXTS + LOOKALIKES),
)
#: Random text: pieces of the families above, concatenated.
TEXTS = st.lists(_pieces, max_size=8).map("".join)

#: Token id lists: regular ids, special ids, and embedding-padding rows (151665..152063, no tokens).
TOKEN_IDS = st.lists(
    st.one_of(
        st.integers(0, 151642),
        st.integers(0, 300),  # the byte tokens: partial UTF-8 sequences
        st.sampled_from(sorted(SPECIAL_TOKENS.values())),
        st.integers(151665, 152063),
    ),
    max_size=24,
)


# --- images ----------------------------------------------------------------------------------------

OPAQUE_MODES = ["1", "L", "P", "RGB", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "I", "I;16", "F"]
TRANSPARENT_MODES = ["LA", "La", "PA", "RGBA", "RGBa", "P+transparency", "L+transparency", "RGB+transparency"]


@dataclass(frozen=True)
class ImageSpec:
    """A random image, drawn as parameters (cheap to shrink) and rendered with numpy."""

    mode: str
    height: int
    width: int
    seed: int
    content: str  # "noise" or "flat"
    alpha: str  # "random", "binary" (0/255), "zero" or "opaque"

    def render(self) -> Image.Image:
        rng = np.random.default_rng(self.seed)
        shape = (self.height, self.width)
        if self.content == "flat":
            rgb = np.broadcast_to(rng.integers(0, 256, 3, dtype=np.uint8), (*shape, 3)).copy()
        else:
            rgb = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        alpha = {
            "random": lambda: rng.integers(0, 256, shape, dtype=np.uint8),
            "binary": lambda: (rng.integers(0, 2, shape) * 255).astype(np.uint8),
            "zero": lambda: np.zeros(shape, np.uint8),
            "opaque": lambda: np.full(shape, 255, np.uint8),
        }[self.alpha]()
        mode = self.mode
        if mode == "I;16":
            return Image.fromarray(rng.integers(0, 65536, shape, dtype=np.uint16))
        if mode == "I":
            return Image.fromarray(rng.integers(-1000, 70000, shape, dtype=np.int32))
        if mode == "F":
            return Image.fromarray(rng.uniform(-50.0, 400.0, shape).astype(np.float32))
        if mode == "P+transparency":  # a palette image with one transparent palette entry
            image = Image.fromarray(rgb).quantize(colors=int(rng.integers(2, 64)))
            image.info["transparency"] = int(rng.integers(0, 2))
            return image
        if mode in ("L+transparency", "RGB+transparency"):  # one colour value marked transparent
            image = Image.fromarray(rgb // 64 * 64).convert(mode.split("+")[0])  # few values: some match
            image.info["transparency"] = image.getpixel((0, 0))
            return image
        if mode in ("LA", "La"):
            la = np.stack([np.asarray(Image.fromarray(rgb).convert("L")), alpha], axis=-1)
            return Image.fromarray(la, "LA").convert(mode)
        if mode in ("RGBA", "RGBa", "PA"):
            return Image.fromarray(np.dstack([rgb, alpha]), "RGBA").convert(mode)
        return Image.fromarray(rgb).convert(mode)


@st.composite
def image_specs(draw, modes=OPAQUE_MODES, max_side: int = 400, max_ratio: int = 200) -> ImageSpec:
    """Sizes 1..max_side px on each side with an aspect ratio up to ``max_ratio``:1."""
    height = draw(st.integers(1, max_side))
    width = draw(st.integers(max(1, -(-height // max_ratio)), min(max_side, height * max_ratio)))
    if draw(st.booleans()):
        height, width = width, height
    return ImageSpec(
        mode=draw(st.sampled_from(modes)),
        height=height,
        width=width,
        seed=draw(st.integers(0, 2**32 - 1)),
        content=draw(st.sampled_from(["noise", "flat"])),
        alpha=draw(st.sampled_from(["random", "binary", "zero", "opaque"])),
    )


def white_composite(image: Image.Image) -> Image.Image:
    """An image alpha-composited over white: transformers 5.x ``convert_to_rgb`` (qwen-vl-utils pastes
    over white with the alpha mask, which gives the same bytes). An RGB image without a transparency entry
    is returned as it is; premultiplied La goes through LA (PIL has no La -> RGBA conversion)."""
    if image.mode == "RGB" and "transparency" not in image.info:
        return image
    rgba = (image.convert("LA") if image.mode == "La" else image).convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


# --- prompts with images and videos (M-RoPE, whole model) -------------------------------------------


@dataclass(frozen=True)
class Block:
    """One segment of a prompt: ``text`` tokens, or an ``image``/``video`` of grid (t, h, w) in patches."""

    kind: str  # "text", "image" or "video"
    length: int = 0  # text tokens
    grid: tuple[int, int, int] = (1, 2, 2)
    seconds: float = 1.0  # videos: second_per_grid_t


def text_block(max_length: int = 6):
    return st.builds(Block, kind=st.just("text"), length=st.integers(1, max_length))


def image_block(max_merged: int = 4):
    side = st.integers(1, max_merged).map(lambda n: 2 * n)  # patches: multiples of the 2x2 merge
    return st.builds(lambda h, w: Block("image", grid=(1, h, w)), side, side)


#: second_per_grid_t values: those the processor produces (2 frames / fps) and random floats.
SECONDS = st.one_of(
    st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0, 2 / 3, 0.4, 0.25, 2 / 30, 2 / 24]),
    st.floats(0.05, 4.0),  # float32 in the prompt tensors, as the processor hands them over
)
INTEGRAL_TICKS = st.sampled_from([0.5, 1.0, 1.5, 2.0, 2.5, 3.0])  # seconds x 2 ticks/s is an integer


def video_block(seconds=SECONDS, max_t: int = 4, max_merged: int = 4):
    side = st.integers(1, max_merged).map(lambda n: 2 * n)
    return st.builds(
        lambda t, h, w, s: Block("video", grid=(t, h, w), seconds=float(s)),
        st.integers(1, max_t),
        side,
        side,
        seconds,
    )


def rows(blocks, max_rows: int = 4, max_blocks: int = 5):
    """A batch: 1..max_rows prompts, each 1..max_blocks segments (adjacent text segments allowed)."""
    return st.lists(st.lists(blocks, min_size=1, max_size=max_blocks), min_size=1, max_size=max_rows)


@dataclass
class TokenIds:
    """The token ids a prompt is written with (the model config's)."""

    image: int
    video: int
    vision_start: int
    vision_end: int
    pad: int

    @classmethod
    def of(cls, config) -> TokenIds:
        """The ids of a :class:`qwen_lite.config.Qwen25VLConfig` (its padding id is its bos id)."""
        return cls(config.image_token_id, config.video_token_id, config.vision_start_token_id,
                   config.vision_end_token_id, config.bos_token_id)  # fmt: skip


def build_batch(batch, ids: TokenIds, seed: int, vocab: int = 3000):
    """Blocks -> left-padded ``input_ids``, ``attention_mask``, grids and ``second_per_grid_ts``.

    Text tokens are random ordinary ids below ``vocab`` (seeded), pads are ``ids.pad``. A visual block is
    ``<|vision_start|>``, t*h*w/4 placeholders, ``<|vision_end|>``. Returns a dict of model inputs (grids
    only when present) and the per-row (start, block) offsets of the unpadded prompts.
    """
    import torch

    rng = np.random.default_rng(seed)
    sequences, images, videos, seconds = [], [], [], []
    for row in batch:
        tokens = []
        for block in row:
            if block.kind == "text":
                tokens += rng.integers(0, vocab, block.length).tolist()
                continue
            t, h, w = block.grid
            token = ids.image if block.kind == "image" else ids.video
            tokens += [ids.vision_start] + [token] * (t * h * w // 4) + [ids.vision_end]
            (images if block.kind == "image" else videos).append(block.grid)
            if block.kind == "video":
                seconds.append(block.seconds)
        sequences.append(tokens)
    length = max(map(len, sequences))
    input_ids = torch.tensor([[ids.pad] * (length - len(s)) + s for s in sequences])
    mask = torch.tensor([[0] * (length - len(s)) + [1] * len(s) for s in sequences])
    inputs = {"input_ids": input_ids, "attention_mask": mask}
    if images:
        inputs["image_grid_thw"] = torch.tensor(images)
    if videos:
        inputs["video_grid_thw"] = torch.tensor(videos)
        inputs["second_per_grid_ts"] = torch.tensor(seconds, dtype=torch.float32)
    return inputs

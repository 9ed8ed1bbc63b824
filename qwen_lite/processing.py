"""Images -> ``pixel_values``: the rows of 14x14 patches that the vision tower reads.

The pipeline, top-down (each step is a function below)::

    preprocess_images(images)
      flat_list_of_images   one image, a list, or one list per prompt ([[a, b], [c], []]) -> a flat list
      for each image:  load_image      path / PIL / array / tensor -> PIL RGB: EXIF orientation applied,
                                       transparency composited over white (to_rgb)
                       smart_resize    pick (h, w): multiples of 28, area within [min_pixels, max_pixels]
                       PIL bicubic resize to (h, w)
                       normalize       x/255, then mean/std (CLIP by default)  -> (3, h, w) float32
                       patchify        duplicate into the 2-frame temporal patch, cut 14x14 patches,
                                       order rows so the 4 patches of each LLM token are consecutive
      concatenate the rows of all images -> pixel_values (n, 1176), image_grid_thw (images, 3)

For opaque images everything matches the "slow" (PIL) ``Qwen2VLImageProcessor`` of transformers 4.57
bit for bit. Documented differences, each on inputs the pinned reference mishandles:

* transparency (RGBA, LA, PA, RGBa, La, and P/L/RGB/I images with a ``transparency`` entry) is
  composited over white, as qwen-vl-utils' ``to_rgb`` (the model card's pipeline), transformers 5.x
  ``convert_to_rgb`` and vLLM do; transformers 4.57 calls ``image.convert("RGB")``, so a fully transparent
  pixel reaches the model as whatever colour it stores (often black);
* the EXIF orientation is applied (``PIL.ImageOps.exif_transpose``), so an image reaches the model the
  way an image viewer shows it. transformers' ``load_image`` does this for paths and URLs; neither
  transformers' image processor (for PIL objects) nor qwen-vl-utils (for anything) does;
* channel layout is never guessed: a PIL image or an (h, w, 3) array is always channels-last. transformers
  guesses from the shape and reads a 1x1 image (shape (1, 1, 3)) or a 3-pixel-high image (3, w, 3) as
  channels-first (the 1x1 image then crashes, the 3xW one is transposed);
* float images in [0, 1] are quantised with ``round(x * 255)``, so ``uint8 / 255`` maps back exactly;
  transformers truncates, and takes a float image whose values are all integers (e.g. all zeros and ones)
  to be in 0..255 already;
* bad arguments (budgets of 0, NaN or a bool, ``min_pixels > max_pixels``, an int16 array) raise a
  ``ValueError``/``TypeError`` naming the argument; transformers accepts some of them and returns
  0-pixel sides or garbage.

Videos use the same patchify; frame sampling lives in :mod:`qwen_lite.video`.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import numbers
import os
from pathlib import Path

import numpy as np
import torch
from einops import rearrange
from PIL import Image, ImageOps, UnidentifiedImageError

from qwen_lite.shapes import check_shape

PATCH_SIZE = 14  # pixels per patch side
TEMPORAL_PATCH_SIZE = 2  # frames per patch (an image is duplicated into 2 frames)
MERGE_SIZE = 2  # 2x2 patches become one LLM token
FACTOR = PATCH_SIZE * MERGE_SIZE  # 28: resized sides are multiples of this
PATCH_DIM = 3 * TEMPORAL_PATCH_SIZE * PATCH_SIZE * PATCH_SIZE  # 1176 values per row of pixel_values
MAX_ASPECT_RATIO = 200

# CLIP normalisation (transformers' OPENAI_CLIP_MEAN / OPENAI_CLIP_STD): the defaults of every function
# that takes ``image_mean`` / ``image_std``; a checkpoint's preprocessor_config.json may set others.
IMAGE_MEAN = (0.48145466, 0.4578275, 0.40821073)
IMAGE_STD = (0.26862954, 0.26130258, 0.27577711)

# Pixel budgets. The transformers image-processor class defaults are ours; the released
# preprocessor_config.json of Qwen2.5-VL raises the ceiling to 16384 tokens (also qwen-vl-utils' defaults).
MIN_PIXELS = 56 * 56  # 3136 = 4 tokens
MAX_PIXELS = 28 * 28 * 1280  # 1,003,520 = 1280 tokens
RELEASED_MIN_PIXELS = 3136
RELEASED_MAX_PIXELS = 12_845_056  # 28 * 28 * 16384
VIDEO_MIN_PIXELS = 128 * 28 * 28  # per frame, transformers' video-processor defaults
VIDEO_MAX_PIXELS = 768 * 28 * 28

WHITE = (255, 255, 255)  # transparency is composited over this
EXIF_ORIENTATION = 0x0112  # the EXIF tag PIL.ImageOps.exif_transpose reads


# ---------------------------------------------------------------- argument checks


def describe(value) -> str:
    """``value`` for an error message: its type and a short repr, e.g. ``float nan`` or ``bool True``."""
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def check_positive(value, name: str, *, integer: bool = False):
    """``value`` if it is a positive finite number (an int with ``integer=True``); else a clear error.

    Returns a plain Python ``int`` or ``float`` (numpy scalars are converted, so later arithmetic never
    wraps around in a small integer type). ``bool`` is refused although Python counts it as an int
    (``True`` is not a pixel budget). Raises
    ``TypeError`` for a wrong type (None, str, bool, float where an int is needed) and ``ValueError`` for
    0, negatives, NaN and infinities; both name ``name`` and say what arrived.
    """
    kind = "a positive int" if integer else "a positive number"
    wanted = numbers.Integral if integer else numbers.Real
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, wanted):
        raise TypeError(f"{name}: expected {kind}, got {describe(value)}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected {kind}, got {value!r}")
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def check_pixel_budget(
    min_pixels, max_pixels, min_name: str = "min_pixels", max_name: str = "max_pixels"
) -> tuple:
    """Validate a pixel budget: both positive finite numbers and ``min_pixels <= max_pixels``.

    Returns ``(min_pixels, max_pixels)``. The names go into the error messages (e.g.
    ``messages[0]['content'][1]['max_pixels']``).
    """
    min_pixels = check_positive(min_pixels, min_name)
    max_pixels = check_positive(max_pixels, max_name)
    if min_pixels > max_pixels:
        raise ValueError(
            f"{min_name}, {max_name}: the minimum ({min_pixels!r}) must not exceed the maximum ({max_pixels!r})"
        )
    return min_pixels, max_pixels


def check_mean_std(image_mean, image_std) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Normalisation constants -> two 3-tuples of floats (``std`` > 0). A single number is used for
    all three channels, as transformers does."""
    out = []
    for values, name in ((image_mean, "image_mean"), (image_std, "image_std")):
        if isinstance(values, numbers.Real) and not isinstance(values, bool):
            values = (values,) * 3
        if not isinstance(values, (list, tuple)) or len(values) != 3:
            raise ValueError(f"{name}: expected 3 numbers (one per RGB channel), got {describe(values)}")
        for k, v in enumerate(values):
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
                raise TypeError(f"{name}[{k}]: expected a finite number, got {describe(v)}")
            if name == "image_std" and v <= 0:
                raise ValueError(f"{name}[{k}]: a standard deviation must be positive, got {v!r}")
        out.append(tuple(float(v) for v in values))
    return out[0], out[1]


def check_patch_sizes(patch_size, temporal_patch_size, merge_size) -> tuple[int, int, int]:
    """The three patch sizes are positive ints (errors name the argument) -> them as Python ints."""
    return (
        check_positive(patch_size, "patch_size", integer=True),
        check_positive(temporal_patch_size, "temporal_patch_size", integer=True),
        check_positive(merge_size, "merge_size", integer=True),
    )


# ---------------------------------------------------------------- resizing


def smart_resize(
    height: int, width: int, factor: int = FACTOR, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS
) -> tuple[int, int]:
    """The (height, width) an image is resized to: multiples of ``factor``, area in [min, max] pixels.

    Same arithmetic as transformers 4.57 (``qwen2_vl/image_processing_qwen2_vl.py``) and qwen-vl-utils:

    1. aspect ratio above 200 -> ``ValueError``;
    2. round each side to the nearest multiple of 28 with Python's half-to-even ``round``
       (70 px -> 2.5 patches of 28 -> 2 -> 56 px, not 84);
    3. too many pixels: scale both sides by 1/beta, floor to multiples of 28, but never below 28;
    4. too few pixels: scale both sides by beta, ceil to multiples of 28.

    Sides below 28 px are fine: step 2 may round them to 0, the area is then 0 < min_pixels and step 4
    scales the image up (1x1 -> 56x56, 27x300 -> 28x308). Some older copies raised "height must be larger
    than factor" instead (see facts §8.3).

    Errors: ``height``/``width`` must be positive numbers, ``factor`` a positive int, the budget positive
    finite numbers with ``min_pixels <= max_pixels`` (``max_pixels`` may be a float, as
    :func:`qwen_lite.video.video_max_pixels` returns). transformers accepts ``min_pixels=0`` and then
    returns a 0-pixel side for images under 14 px; qwen_lite refuses it (``ValueError`` naming it).
    """
    for value, name in ((height, "height"), (width, "width")):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"smart_resize: {name} must be a positive number, got {describe(value)}")
    if not (math.isfinite(height) and math.isfinite(width) and height > 0 and width > 0):
        raise ValueError(
            f"smart_resize: height and width must be positive, got height={height}, width={width}"
        )
    factor = check_positive(factor, "factor", integer=True)
    min_pixels, max_pixels = check_pixel_budget(min_pixels, max_pixels)
    height, width = (int(v) if isinstance(v, numbers.Integral) else float(v) for v in (height, width))
    if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        raise ValueError(
            f"absolute aspect ratio must be smaller than {MAX_ASPECT_RATIO}, "
            f"got {max(height, width) / min(height, width)} (height={height}, width={width})"
        )
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return max(factor, h_bar), max(factor, w_bar)


# ---------------------------------------------------------------- loading


ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")  # PIL modes with an alpha band (RGBa, La: premultiplied)


def has_transparency(image: Image.Image) -> bool:
    """Whether a PIL image carries alpha (a mode of :data:`ALPHA_MODES`) or a ``transparency`` entry (a
    PNG ``tRNS`` chunk: a palette alpha table, or one transparent grey / RGB value).

    The test is on the mode, not on a band named ``A``: LAB's ``A`` band is a colour axis, not alpha.
    """
    return image.mode in ALPHA_MODES or image.info.get("transparency") is not None


def to_rgb(image: Image.Image, name: str = "image") -> Image.Image:
    """Any PIL mode -> RGB, with transparency composited over white.

    * Alpha modes (RGBA, LA, PA, RGBa, La) and palette images with transparency: converted to RGBA (PIL
      un-premultiplies RGBa/La and applies a palette's alpha table), then pasted on a white RGB canvas
      with the alpha band as the mask: exactly qwen-vl-utils' ``to_rgb`` (the model card's pipeline) and
      vLLM; transformers 5.x's ``alpha_composite`` on white gives the same bytes (tested).
    * L, RGB, I, I;16 and 1 with a ``transparency`` entry (one transparent value): pixels equal to that
      value become white, the others keep ``image.convert("RGB")``'s colour.
    * Everything else: ``image.convert("RGB")``, as transformers 4.57's ``convert_to_rgb``; 16/32-bit
      modes (I;16, I, F) follow PIL's own conversion (values are clipped to 0..255, not rescaled).

    An opaque image (alpha 255 everywhere) gives exactly ``image.convert("RGB")``, so opaque inputs stay
    bit-identical to transformers 4.57. That version drops alpha instead of compositing (a fully
    transparent pixel keeps its stored colour): a documented difference, see the module docstring.
    ``name`` labels errors (a ``transparency`` entry that does not fit the mode).
    """
    if not has_transparency(image):
        return image if image.mode == "RGB" else image.convert("RGB")
    if image.mode == "P" or image.mode in ALPHA_MODES:
        rgba = (image.convert("LA") if image.mode == "La" else image).convert("RGBA")
        canvas = Image.new("RGB", image.size, WHITE)
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    transparent_value = image.info["transparency"]
    values = np.asarray(image)
    try:
        key = np.asarray(transparent_value, dtype=values.dtype if values.dtype != bool else np.uint8)
        if values.dtype == bool:  # mode "1": PIL stores the transparent value as 0 or 255
            key = key.astype(bool)
        transparent = values == key if values.ndim == 2 else (values == key).all(axis=-1)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(
            f"{name}: the image's transparency entry {transparent_value!r} does not fit its mode {image.mode}"
        ) from None
    if transparent.shape != values.shape[:2]:
        raise ValueError(
            f"{name}: the image's transparency entry {transparent_value!r} does not fit its mode {image.mode}"
        )
    rgb = np.array(image.convert("RGB"))
    rgb[transparent] = WHITE
    return Image.fromarray(rgb)


def apply_exif_orientation(image: Image.Image) -> Image.Image:
    """Rotate/flip ``image`` as its EXIF orientation tag says (``PIL.ImageOps.exif_transpose``), so it
    reaches the model the way an image viewer shows it; images without the tag (or with orientation 1,
    and every image made in memory) are returned unchanged, as the same object.

    transformers' ``load_image`` (paths and URLs, 4.57 and 5.x) applies it too; transformers' image
    processor given a PIL object, and qwen-vl-utils' ``fetch_image``, do not (a documented difference).
    """
    try:
        orientation = image.getexif().get(EXIF_ORIENTATION, 1)
    except Exception:  # unreadable EXIF: PIL itself then shows the stored pixels
        return image
    if orientation in (2, 3, 4, 5, 6, 7, 8):
        return ImageOps.exif_transpose(image)
    return image


def open_image(source, name: str = "image") -> Image.Image:
    """A path, ``file://`` path or ``data:image/...;base64,`` URL -> the PIL image it holds (pixels loaded).

    The sources qwen-vl-utils' ``fetch_image`` accepts, except web addresses: ``http://``/``https://``
    raise a ``ValueError`` (qwen_lite never uses the network: download the file and pass its path).
    Errors (``ValueError``) name ``name`` and the source: a missing file, bad base64, bytes that are no image.
    """
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if isinstance(source, bytes) or not isinstance(source, str):
        raise TypeError(f"{name}: expected a path or data URL string, got {describe(source)}")
    shown = source if len(source) <= 80 else source[:77] + "..."
    if source.startswith(("http://", "https://")):
        raise ValueError(
            f"{name}: {shown!r} is a web address; qwen_lite never uses the network. "
            "Download the image and pass its path (or a PIL image)"
        )
    if source.startswith("data:"):
        if not source.startswith("data:image") or "base64," not in source:
            raise ValueError(f"{name}: a data URL must look like 'data:image/png;base64,...', got {shown!r}")
        try:
            data = base64.b64decode(source.split("base64,", 1)[1], validate=True)
        except (binascii.Error, ValueError) as error:
            raise ValueError(f"{name}: the data URL's base64 payload is invalid ({error})") from None
        return _decode(io.BytesIO(data), name, "the data URL")
    path = Path(source[len("file://") :] if source.startswith("file://") else source)
    if not path.is_file():
        raise ValueError(f"{name}: no image file at {str(path)!r}")
    with open(path, "rb") as handle:
        return _decode(handle, name, repr(str(path)))


def _decode(handle, name: str, what: str) -> Image.Image:
    try:
        with Image.open(handle) as image:
            image.load()
            return image
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"{name}: {what} is not an image PIL can read ({error})") from None


def load_image(image, name: str = "image") -> Image.Image:
    """One image in any accepted form -> a PIL RGB image, the way an image viewer shows it.

    Accepted:

    * a PIL image, any mode: EXIF orientation applied (:func:`apply_exif_orientation`), transparency
      composited over white (:func:`to_rgb`);
    * a path (``str`` or ``os.PathLike``), a ``file://`` path or a ``data:image/...;base64,`` URL
      (:func:`open_image`), then as a PIL image;
    * a numpy array (h, w, 3) or (h, w, 4) (RGBA, composited over white), channels-last, of dtype
      ``uint8`` (0..255) or floating point in [0, 1] (quantised with ``round(x * 255)``);
    * a floating torch tensor (3, h, w) with values in [0, 1].

    Errors name ``name`` (e.g. ``images[2]``): ``TypeError`` for an unsupported type or dtype (int16,
    bool...), ``ValueError`` for a wrong shape, a zero-size image, NaN or values outside [0, 1].
    """
    if isinstance(image, (str, os.PathLike)):
        image = open_image(image, name)
    if isinstance(image, Image.Image):
        _check_size(image.height, image.width, name)
        return to_rgb(apply_exif_orientation(image), name)
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] not in (3, 4):
            raise ValueError(
                f"{name}: numpy images must have shape (h, w, 3) or (h, w, 4) (RGBA), got shape {image.shape}"
            )
        _check_size(image.shape[0], image.shape[1], name)
        if np.issubdtype(image.dtype, np.floating):
            image = _quantise(torch.from_numpy(np.ascontiguousarray(image)), name).numpy()
        elif image.dtype != np.uint8:
            raise TypeError(
                f"{name}: numpy images must be uint8 (0..255) or floating point in [0, 1], got dtype {image.dtype}"
            )
        mode = "RGBA" if image.shape[2] == 4 else "RGB"
        return to_rgb(Image.fromarray(np.ascontiguousarray(image), mode), name)
    if isinstance(image, torch.Tensor):
        if not image.is_floating_point():
            raise TypeError(
                f"{name}: torch images must be floating point (3, h, w) in [0, 1], got dtype {image.dtype}"
            )
        check_shape(image, "c h w", name, c=3)
        _check_size(image.shape[1], image.shape[2], name)
        as_uint8 = _quantise(image.detach().cpu(), name)
        return Image.fromarray(rearrange(as_uint8, "c h w -> h w c").numpy())
    raise TypeError(
        f"{name}: expected a PIL image, a path, a uint8 or [0, 1] float numpy array (h, w, 3) or a float "
        f"tensor (3, h, w), got {type(image).__name__}"
    )


def _quantise(values: torch.Tensor, name: str) -> torch.Tensor:
    """Float values in [0, 1] -> uint8 ``round(x * 255)``; NaN or values outside [0, 1] are errors."""
    if torch.isnan(values).any():
        raise ValueError(f"{name}: image contains NaN values")
    if values.min() < 0 or values.max() > 1:
        raise ValueError(
            f"{name}: float images must lie in [0, 1], got [{values.min().item()}, {values.max().item()}]"
        )
    return (values.double() * 255).round().to(torch.uint8)


def _check_size(height: int, width: int, name: str) -> None:
    if height == 0 or width == 0:
        raise ValueError(f"{name}: image has zero size (height={height}, width={width})")


def flat_list_of_images(images, name: str = "images") -> tuple[list[tuple[str, object]], list[int] | None]:
    """The ``images`` argument -> ``([(label, image), ...], per_prompt_counts)``.

    Accepted, as transformers' ``make_flat_list_of_images`` accepts them:

    * one image (anything :func:`load_image` takes) -> one entry;
    * a flat list of images -> one entry each; a 4-D array or tensor (a batch) gives one entry per image;
    * one list per prompt, ``[[a, b], [c], []]`` -> the same entries as ``[a, b, c]``;
      ``per_prompt_counts`` is then ``[2, 1, 0]`` (``None`` for the other forms), so the processor can
      check each list against its prompt's placeholders.

    Labels name each image for errors: ``images[2]``, ``images[1][0]``. Refused with a ``ValueError``:
    a list mixing per-prompt lists with single images (``[[a], b]``, which transformers also refuses)
    and lists nested deeper than one level per prompt.
    """
    if not isinstance(images, (list, tuple)):
        return _unbatch(images, name), None
    if images and all(isinstance(entry, (list, tuple)) for entry in images):
        pairs, counts = [], []
        for i, sample in enumerate(images):
            before = len(pairs)
            for j, image in enumerate(sample):
                if isinstance(image, (list, tuple)):
                    raise ValueError(
                        f"{name}[{i}][{j}]: expected an image, got a {type(image).__name__}: images nest at "
                        "most one level (one list per prompt, e.g. images=[[a, b], [c], []])"
                    )
                pairs += _unbatch(image, f"{name}[{i}][{j}]")
            counts.append(len(pairs) - before)
        return pairs, counts
    nested = [i for i, entry in enumerate(images) if isinstance(entry, (list, tuple))]
    if nested:
        single = next(i for i, entry in enumerate(images) if not isinstance(entry, (list, tuple)))
        raise ValueError(
            f"{name}: {name}[{nested[0]}] is a list but {name}[{single}] is a single image; pass either a "
            "flat list of images or one list per prompt (e.g. images=[[a, b], [c], []])"
        )
    pairs = []
    for i, image in enumerate(images):
        pairs += _unbatch(image, f"{name}[{i}]")
    return pairs, None


def _unbatch(image, name: str) -> list[tuple[str, object]]:
    if isinstance(image, (np.ndarray, torch.Tensor)) and image.ndim == 4:
        return [(f"{name}[{k}]", one) for k, one in enumerate(image)]
    return [(name, image)]


# ---------------------------------------------------------------- pixels to patches


def normalize(image: Image.Image, image_mean=IMAGE_MEAN, image_std=IMAGE_STD) -> torch.Tensor:
    """PIL RGB image -> (3, h, w) float32: ``(x / 255 - mean) / std`` (CLIP mean and std by default).

    Rounding follows transformers: rescale in float64, cast to float32, normalise in float32.
    """
    x = torch.from_numpy(np.array(image, dtype=np.uint8))  # (h, w, 3)
    x = (x.double() * (1 / 255)).float()
    x = (x - torch.tensor(image_mean, dtype=torch.float32)) / torch.tensor(image_std, dtype=torch.float32)
    return rearrange(x, "h w c -> c h w")


def resize_and_normalize(
    image: Image.Image, height: int, width: int, image_mean=IMAGE_MEAN, image_std=IMAGE_STD
) -> torch.Tensor:
    """Bicubic PIL resize to (height, width), then :func:`normalize` -> (3, height, width) float32."""
    if image.size != (width, height):
        image = image.resize((width, height), resample=Image.Resampling.BICUBIC)
    return normalize(image, image_mean, image_std)


def patchify(
    frames: torch.Tensor,
    patch_size: int = PATCH_SIZE,
    temporal_patch_size: int = TEMPORAL_PATCH_SIZE,
    merge_size: int = MERGE_SIZE,
) -> tuple[torch.Tensor, tuple[int, int, int]]:
    """Frames (frames, 3, h, w) -> rows of ``pixel_values`` (t*gh*gw, 3*2*14*14) and the grid (t, gh, gw).

    The frame count is padded to a multiple of ``temporal_patch_size`` by repeating the last frame (an
    image, one frame, becomes two identical frames). Rows are ordered (t, block_row, block_col,
    row_in_block, col_in_block) with ``merge_size`` x ``merge_size`` blocks, so the four patches of one
    future LLM token are consecutive; columns are ordered (channel, frame_in_patch, y, x).
    """
    patch_size, temporal_patch_size, merge_size = check_patch_sizes(
        patch_size, temporal_patch_size, merge_size
    )
    sizes = check_shape(frames, "frames c h w", "frames", c=3)
    block = patch_size * merge_size
    if sizes["h"] % block or sizes["w"] % block:
        raise ValueError(f"frames: height and width must be multiples of {block}, got {tuple(frames.shape)}")
    missing = -sizes["frames"] % temporal_patch_size
    if missing:
        frames = torch.cat([frames, frames[-1:].expand(missing, -1, -1, -1)])
    rows = rearrange(
        frames,
        "(t tp) c (bh mh py) (bw mw px) -> (t bh bw mh mw) (c tp py px)",
        tp=temporal_patch_size,
        mh=merge_size,
        mw=merge_size,
        py=patch_size,
        px=patch_size,
    )
    grid = (frames.shape[0] // temporal_patch_size, sizes["h"] // patch_size, sizes["w"] // patch_size)
    return rows.contiguous(), grid


def image_to_patches(
    image: Image.Image,
    height: int,
    width: int,
    *,
    patch_size: int = PATCH_SIZE,
    temporal_patch_size: int = TEMPORAL_PATCH_SIZE,
    merge_size: int = MERGE_SIZE,
    image_mean=IMAGE_MEAN,
    image_std=IMAGE_STD,
) -> tuple[torch.Tensor, tuple[int, int, int]]:
    """One loaded RGB image, resized to exactly (height, width) -> its rows (t*gh*gw, 1176) and grid.

    The step :func:`preprocess_images` runs per image once :func:`smart_resize` has chosen the size; the
    processor's ``messages=`` path calls it with each item's own size (``resized_height`` etc.).
    """
    frame = resize_and_normalize(image, height, width, image_mean, image_std)
    return patchify(frame[None], patch_size, temporal_patch_size, merge_size)


def preprocess_images(
    images,
    min_pixels: int = MIN_PIXELS,
    max_pixels: int = MAX_PIXELS,
    patch_size: int = PATCH_SIZE,
    temporal_patch_size: int = TEMPORAL_PATCH_SIZE,
    merge_size: int = MERGE_SIZE,
    image_mean=IMAGE_MEAN,
    image_std=IMAGE_STD,
) -> dict[str, torch.Tensor]:
    """Images -> ``pixel_values`` (n, 1176) float32 and ``image_grid_thw`` (images, 3) int64.

    ``images``: one image, a list of them, or one list per prompt (``[[a, b], [c], []]``, the same result
    as ``[a, b, c]``; see :func:`flat_list_of_images`); each image may be anything :func:`load_image`
    accepts (PIL image, path, uint8 or [0, 1] float array (h, w, 3|4), float tensor (3, h, w)). Each image
    gives t*h*w rows with t = 1; the rows of all images are concatenated in order.
    ``image_grid_thw[i]`` is (1, h/14, w/14). ``min_pixels``/``max_pixels``: the pixel budget of
    :func:`smart_resize`; ``image_mean``/``image_std``: the normalisation (CLIP by default).

    Errors name the argument or the image (``images[2]``): a wrong budget, patch size, mean/std, an
    empty list, an unreadable image, an aspect ratio above 200.
    """
    min_pixels, max_pixels = check_pixel_budget(min_pixels, max_pixels)
    patch_size, temporal_patch_size, merge_size = check_patch_sizes(
        patch_size, temporal_patch_size, merge_size
    )
    image_mean, image_std = check_mean_std(image_mean, image_std)
    pairs, _ = flat_list_of_images(images)
    if not pairs:
        raise ValueError("images: expected at least one image, got an empty list")
    rows, grids = [], []
    for name, image in pairs:
        image = load_image(image, name)
        try:
            height, width = smart_resize(
                image.height, image.width, patch_size * merge_size, min_pixels, max_pixels
            )
        except ValueError as error:
            raise ValueError(f"{name}: {error}") from None
        image_rows, grid = image_to_patches(
            image,
            height,
            width,
            patch_size=patch_size,
            temporal_patch_size=temporal_patch_size,
            merge_size=merge_size,
            image_mean=image_mean,
            image_std=image_std,
        )
        rows.append(image_rows)
        grids.append(grid)
    return {"pixel_values": torch.cat(rows), "image_grid_thw": torch.tensor(grids, dtype=torch.int64)}


def unpatchify(
    pixel_values: torch.Tensor,
    grid_thw: torch.Tensor,
    patch_size: int = PATCH_SIZE,
    temporal_patch_size: int = TEMPORAL_PATCH_SIZE,
    merge_size: int = MERGE_SIZE,
) -> list[torch.Tensor]:
    """Inverse of :func:`patchify`: ``pixel_values`` (n, 1176) -> one (frames, 3, h, w) tensor per item.

    ``grid_thw`` is ``image_grid_thw`` or ``video_grid_thw`` (items, 3). Images come back as 2 identical
    frames. Values stay normalised; :func:`denormalize` maps them back to [0, 1] for display.
    """
    check_shape(grid_thw, "items three", "grid_thw", three=3)
    patch_dim = 3 * temporal_patch_size * patch_size * patch_size
    check_shape(
        pixel_values, "n patch_dim", "pixel_values", n=int(grid_thw.prod(-1).sum()), patch_dim=patch_dim
    )
    counts = grid_thw.prod(-1).tolist()
    return [
        rearrange(
            rows,
            "(t bh bw mh mw) (c tp py px) -> (t tp) c (bh mh py) (bw mw px)",
            t=int(t),
            bh=int(h) // merge_size,
            bw=int(w) // merge_size,
            mh=merge_size,
            mw=merge_size,
            tp=temporal_patch_size,
            py=patch_size,
            px=patch_size,
        )
        for rows, (t, h, w) in zip(pixel_values.split(counts), grid_thw.tolist())
    ]


def denormalize(x: torch.Tensor, image_mean=IMAGE_MEAN, image_std=IMAGE_STD) -> torch.Tensor:
    """Undo the normalisation of (..., 3, h, w) values -> [0, 1] (clamped), for display.

    Pass the ``image_mean``/``image_std`` the values were normalised with (CLIP by default).
    """
    mean = torch.tensor(image_mean, dtype=x.dtype).view(3, 1, 1)
    std = torch.tensor(image_std, dtype=x.dtype).view(3, 1, 1)
    return (x * std + mean).clamp(0, 1)


def patch_coordinates(grid_thw: torch.Tensor, merge_size: int = MERGE_SIZE) -> torch.Tensor:
    """For every row of ``pixel_values``: (item, t, row, col) of its patch -> (n, 4) int64.

    ``row``/``col`` count patches (multiply by 14 for pixels) in the resized image of item ``item``;
    rows follow the (t, block_row, block_col, row_in_block, col_in_block) order of :func:`patchify`.
    The vision tower's 2-D rotary embedding uses exactly these (row, col) ids.
    """
    check_shape(grid_thw, "items three", "grid_thw", three=3)
    per_item = []
    for item, (t, h, w) in enumerate(grid_thw.tolist()):
        tt, rr, cc = torch.meshgrid(torch.arange(t), torch.arange(h), torch.arange(w), indexing="ij")
        coords = torch.stack([torch.full_like(tt, item), tt, rr, cc], dim=-1)  # (t, h, w, 4)
        per_item.append(
            rearrange(coords, "t (bh mh) (bw mw) k -> (t bh bw mh mw) k", mh=merge_size, mw=merge_size)
        )
    return torch.cat(per_item)

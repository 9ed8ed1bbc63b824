"""Images -> ``pixel_values``: the rows of 14x14 patches that the vision tower reads.

The pipeline, top-down (each step is a function below)::

    preprocess_images(images)
      for each image:  load_image      PIL / uint8 array / float tensor -> PIL RGB
                       smart_resize    pick (h, w): multiples of 28, area within [min_pixels, max_pixels]
                       PIL bicubic resize to (h, w)
                       normalize       x/255, then CLIP mean/std  -> (3, h, w) float32
                       patchify        duplicate into the 2-frame temporal patch, cut 14x14 patches,
                                       order rows so the 4 patches of each LLM token are consecutive
      concatenate the rows of all images -> pixel_values (n, 1176), image_grid_thw (images, 3)

Everything matches the "slow" (PIL) ``Qwen2VLImageProcessor`` of transformers 4.57, with two documented
differences, both on inputs the reference mishandles:

* channel layout is never guessed: a PIL image or an (h, w, 3) array is always channels-last. transformers
  guesses from the shape and reads a 1x1 image (shape (1, 1, 3)) or a 3-pixel-high image (3, w, 3) as
  channels-first (the 1x1 image then crashes, the 3xW one is transposed).
* float tensors in [0, 1] are quantised with ``round(x * 255)``, so ``uint8 / 255`` maps back exactly;
  transformers truncates, and takes a float image whose values are all integers (e.g. all zeros and ones)
  to be in 0..255 already.

Videos use the same patchify; frame sampling lives in :mod:`qwen_lite.video`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from einops import rearrange
from PIL import Image

from qwen_lite.shapes import check_shape

PATCH_SIZE = 14  # pixels per patch side
TEMPORAL_PATCH_SIZE = 2  # frames per patch (an image is duplicated into 2 frames)
MERGE_SIZE = 2  # 2x2 patches become one LLM token
FACTOR = PATCH_SIZE * MERGE_SIZE  # 28: resized sides are multiples of this
PATCH_DIM = 3 * TEMPORAL_PATCH_SIZE * PATCH_SIZE * PATCH_SIZE  # 1176 values per row of pixel_values
MAX_ASPECT_RATIO = 200

# CLIP normalisation (transformers' OPENAI_CLIP_MEAN / OPENAI_CLIP_STD).
IMAGE_MEAN = (0.48145466, 0.4578275, 0.40821073)
IMAGE_STD = (0.26862954, 0.26130258, 0.27577711)

# Pixel budgets. The transformers image-processor class defaults are ours; the released
# preprocessor_config.json of Qwen2.5-VL raises the ceiling to 16384 tokens.
MIN_PIXELS = 56 * 56  # 3136 = 4 tokens
MAX_PIXELS = 28 * 28 * 1280  # 1,003,520 = 1280 tokens
RELEASED_MIN_PIXELS = 3136
RELEASED_MAX_PIXELS = 12_845_056  # 28 * 28 * 16384
VIDEO_MIN_PIXELS = 128 * 28 * 28  # per frame, transformers' video-processor defaults
VIDEO_MAX_PIXELS = 768 * 28 * 28


def smart_resize(
    height: int, width: int, factor: int = FACTOR, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS
) -> tuple[int, int]:
    """The (height, width) an image is resized to: multiples of ``factor``, area in [min, max] pixels.

    Same arithmetic as transformers 4.57 (``qwen2_vl/image_processing_qwen2_vl.py``):

    1. aspect ratio above 200 -> ``ValueError``;
    2. round each side to the nearest multiple of 28 with Python's half-to-even ``round``
       (70 px -> 2.5 patches of 28 -> 2 -> 56 px, not 84);
    3. too many pixels: scale both sides by 1/beta, floor to multiples of 28, but never below 28;
    4. too few pixels: scale both sides by beta, ceil to multiples of 28.

    Sides below 28 px are fine: step 2 may round them to 0, the area is then 0 < min_pixels and step 4
    scales the image up (1x1 -> 56x56, 27x300 -> 28x308). Some older copies raised "height must be larger
    than factor" instead (see facts §8.3). The only case where transformers returns a 0 side is
    ``min_pixels <= 0`` with a side under 14 px; qwen_lite clamps that to ``factor`` too.
    """
    if height <= 0 or width <= 0:
        raise ValueError(
            f"smart_resize: height and width must be positive, got height={height}, width={width}"
        )
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


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB, exactly as transformers' ``convert_to_rgb`` does: ``image.convert("RGB")``.

    Note what that means: alpha (RGBA, LA, PA, P with transparency) is *dropped*, not composited on a
    background, so fully transparent pixels show whatever colour they store; 16/32-bit modes (I;16, I, F)
    follow PIL's own conversion (values are clipped to 0..255, not rescaled).
    """
    return image if image.mode == "RGB" else image.convert("RGB")


def load_image(image, name: str = "image") -> Image.Image:
    """One image in any accepted form -> a PIL RGB image.

    Accepted: a PIL image (any mode, see :func:`to_rgb`); a ``uint8`` numpy array (h, w, 3);
    a floating torch tensor (3, h, w) with values in [0, 1]. Errors name ``name`` (e.g. ``images[2]``).
    """
    if isinstance(image, Image.Image):
        _check_size(image.height, image.width, name)
        return to_rgb(image)
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise TypeError(
                f"{name}: numpy images must be uint8 with shape (h, w, 3), got dtype {image.dtype}"
            )
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"{name}: numpy images must have shape (h, w, 3), got shape {image.shape}")
        _check_size(image.shape[0], image.shape[1], name)
        return Image.fromarray(np.ascontiguousarray(image))
    if isinstance(image, torch.Tensor):
        if not image.is_floating_point():
            raise TypeError(
                f"{name}: torch images must be floating point (3, h, w) in [0, 1], got dtype {image.dtype}"
            )
        check_shape(image, "c h w", name, c=3)
        _check_size(image.shape[1], image.shape[2], name)
        if torch.isnan(image).any():
            raise ValueError(f"{name}: image contains NaN values")
        if image.min() < 0 or image.max() > 1:
            raise ValueError(
                f"{name}: float images must lie in [0, 1], got [{image.min().item()}, {image.max().item()}]"
            )
        as_uint8 = (image.detach().cpu().double() * 255).round().to(torch.uint8)
        return Image.fromarray(rearrange(as_uint8, "c h w -> h w c").numpy())
    raise TypeError(
        f"{name}: expected a PIL image, a uint8 numpy array (h, w, 3) or a float tensor (3, h, w), "
        f"got {type(image).__name__}"
    )


def _check_size(height: int, width: int, name: str) -> None:
    if height == 0 or width == 0:
        raise ValueError(f"{name}: image has zero size (height={height}, width={width})")


def normalize(image: Image.Image) -> torch.Tensor:
    """PIL RGB image -> (3, h, w) float32: ``(x / 255 - mean) / std`` with the CLIP mean and std.

    Rounding follows transformers: rescale in float64, cast to float32, normalise in float32.
    """
    x = torch.from_numpy(np.array(image, dtype=np.uint8))  # (h, w, 3)
    x = (x.double() * (1 / 255)).float()
    x = (x - torch.tensor(IMAGE_MEAN)) / torch.tensor(IMAGE_STD)
    return rearrange(x, "h w c -> c h w")


def resize_and_normalize(image: Image.Image, height: int, width: int) -> torch.Tensor:
    """Bicubic PIL resize to (height, width), then :func:`normalize` -> (3, height, width) float32."""
    if image.size != (width, height):
        image = image.resize((width, height), resample=Image.Resampling.BICUBIC)
    return normalize(image)


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


def preprocess_images(
    images,
    min_pixels: int = MIN_PIXELS,
    max_pixels: int = MAX_PIXELS,
    patch_size: int = PATCH_SIZE,
    temporal_patch_size: int = TEMPORAL_PATCH_SIZE,
    merge_size: int = MERGE_SIZE,
) -> dict[str, torch.Tensor]:
    """Images -> ``pixel_values`` (n, 1176) float32 and ``image_grid_thw`` (images, 3) int64.

    ``images`` is one image or a list of them; each may be a PIL image, a uint8 numpy array (h, w, 3)
    or a float tensor (3, h, w) in [0, 1] (see :func:`load_image`). Each image gives t*h*w rows with
    t = 1; the rows of all images are concatenated in order. ``image_grid_thw[i]`` is (1, h/14, w/14).
    """
    images = _as_list(images, "images")
    rows, grids = [], []
    for index, image in enumerate(images):
        image = load_image(image, f"images[{index}]")
        height, width = smart_resize(
            image.height, image.width, patch_size * merge_size, min_pixels=min_pixels, max_pixels=max_pixels
        )
        frame = resize_and_normalize(image, height, width)
        image_rows, grid = patchify(frame[None], patch_size, temporal_patch_size, merge_size)
        rows.append(image_rows)
        grids.append(grid)
    return {"pixel_values": torch.cat(rows), "image_grid_thw": torch.tensor(grids, dtype=torch.int64)}


def _as_list(items, name: str) -> list:
    if isinstance(items, (list, tuple)):
        if len(items) == 0:
            raise ValueError(f"{name}: expected at least one item, got an empty list")
        return list(items)
    return [items]


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


def denormalize(x: torch.Tensor) -> torch.Tensor:
    """Undo the CLIP normalisation of (..., 3, h, w) values -> [0, 1] (clamped), for display."""
    mean = torch.tensor(IMAGE_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGE_STD).view(3, 1, 1)
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

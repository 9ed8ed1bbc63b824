"""Prompt + images + videos -> the model's inputs, like transformers' ``Qwen2_5_VLProcessor``.

    processor(text=prompt, images=[img])   or   processor(messages=conversation)
      images -> load, smart_resize, patchify -> pixel_values, image_grid_thw
      videos -> preprocess_video              -> pixel_values_videos, video_grid_thw, second_per_grid_ts
      text   -> token ids; every <|image_pad|> is one placeholder per image, in order
      expand each placeholder to t*h*w/4 copies (one per merged 2x2 patch = one vision embedding)
      left-pad the batch with <|endoftext|> -> input_ids, attention_mask

transformers expands placeholders in the *string* and then tokenizes; since ``<|image_pad|>`` is a
special token that always splits the text, expanding in id space gives the same ids (tested).

``messages=`` stands for the model card's pipeline: qwen-vl-utils' ``process_vision_info`` reads each
content item (its image or frames and its per-item keys ``min_pixels``, ``max_pixels``, ``total_pixels``,
``resized_height``/``resized_width``, ``nframes``, ``video_start``/``video_end``), then the processor.
``Qwen25VLProcessor.from_pretrained(folder)`` reads a checkpoint's ``preprocessor_config.json`` and
``video_preprocessor_config.json`` as transformers does; ``save_pretrained`` writes them back.
"""

from __future__ import annotations

import inspect
import json
import math
import numbers
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from qwen_lite.files import CheckpointError, read_json
from qwen_lite.processing import (
    IMAGE_MEAN,
    IMAGE_STD,
    MAX_PIXELS,
    MERGE_SIZE,
    MIN_PIXELS,
    PATCH_SIZE,
    RELEASED_MAX_PIXELS,
    RELEASED_MIN_PIXELS,
    TEMPORAL_PATCH_SIZE,
    VIDEO_MAX_PIXELS,
    VIDEO_MIN_PIXELS,
    check_mean_std,
    check_patch_sizes,
    check_pixel_budget,
    check_positive,
    describe,
    flat_list_of_images,
    image_to_patches,
    load_image,
    smart_resize,
)
from qwen_lite.timestamps import frame_group_times, timed_video_text
from qwen_lite.tokenizer import Qwen2Tokenizer, get_tokenizer
from qwen_lite.video import (
    BUDGETS,
    MAX_FRAMES,
    MIN_FRAMES,
    _check_rate,
    _frame_list,
    check_same_size,
    frame_max_pixels,
    preprocess_video,
    select_frames,
)

PREPROCESSOR_CONFIG = "preprocessor_config.json"
VIDEO_PREPROCESSOR_CONFIG = "video_preprocessor_config.json"
IMAGE_KEYS = ("min_pixels", "max_pixels", "resized_height", "resized_width")
VIDEO_KEYS = IMAGE_KEYS + ("total_pixels", "fps", "sample_fps", "nframes", "video_start", "video_end")


class PreprocessorConfigError(CheckpointError):
    """A ``preprocessor_config.json`` / ``video_preprocessor_config.json`` is unreadable or has a value
    qwen_lite cannot use; the message names the file and the key (a ``ValueError``)."""


class Qwen25VLProcessor:
    """Tokenizer + image/video preprocessing; ``__call__`` mirrors ``Qwen2_5_VLProcessor.__call__``.

    Pixel budgets default to the transformers class defaults (images 3136..1,003,520 px; video frames
    128..768 tokens); pass ``max_pixels=RELEASED_MAX_PIXELS`` for the released preprocessor config, or
    build the processor with :meth:`from_pretrained` from a checkpoint folder.

    Arguments (all checked, errors name the argument): ``min_pixels``/``max_pixels`` the image budget,
    ``video_min_pixels``/``video_max_pixels`` the per-frame video budget, ``video_total_pixels`` an
    optional whole-video budget (qwen-vl-utils' ``total_pixels``; off by default, as in transformers),
    ``patch_size``/``temporal_patch_size``/``merge_size`` the patch layout, ``image_mean``/``image_std``
    the normalisation (3 numbers each; CLIP by default). Every path (``images=``, ``videos=``,
    ``messages=``) uses them.
    """

    image_token = "<|image_pad|>"
    video_token = "<|video_pad|>"
    vision_start_token = "<|vision_start|>"
    vision_end_token = "<|vision_end|>"
    model_type = "qwen2_5_vl"  # the tokenizer and chat template used when none is given

    def __init__(
        self,
        tokenizer: Qwen2Tokenizer | None = None,
        *,
        min_pixels: int = MIN_PIXELS,
        max_pixels: int = MAX_PIXELS,
        video_min_pixels: int = VIDEO_MIN_PIXELS,
        video_max_pixels: int = VIDEO_MAX_PIXELS,
        video_total_pixels: float | None = None,
        patch_size: int = PATCH_SIZE,
        temporal_patch_size: int = TEMPORAL_PATCH_SIZE,
        merge_size: int = MERGE_SIZE,
        image_mean=IMAGE_MEAN,
        image_std=IMAGE_STD,
        video_budget: str = "frame",
        video_timestamps: bool = False,
    ):
        min_pixels, max_pixels = check_pixel_budget(min_pixels, max_pixels)
        if video_budget not in BUDGETS:
            raise ValueError(f"video_budget: expected one of {BUDGETS}, got {describe(video_budget)}")
        if not isinstance(video_timestamps, bool):
            raise TypeError(f"video_timestamps: expected True or False, got {describe(video_timestamps)}")
        if video_total_pixels is not None and video_budget == "clip":
            raise ValueError(
                "video_total_pixels, video_budget: a whole-video budget (qwen_vl_utils' total_pixels) needs "
                "video_budget='frame'; with 'clip' video_min_pixels/video_max_pixels already bound the whole clip"
            )
        video_min_pixels, video_max_pixels = check_pixel_budget(
            video_min_pixels, video_max_pixels, "video_min_pixels", "video_max_pixels"
        )
        if video_total_pixels is not None:
            video_total_pixels = check_positive(video_total_pixels, "video_total_pixels")
        patch_size, temporal_patch_size, merge_size = check_patch_sizes(
            patch_size, temporal_patch_size, merge_size
        )
        image_mean, image_std = check_mean_std(image_mean, image_std)
        needed = ("encode", "image_token_id", "video_token_id", "pad_token_id")
        if tokenizer is not None and not all(hasattr(tokenizer, name) for name in needed):
            raise TypeError(f"tokenizer: expected a Qwen2Tokenizer (or None), got {type(tokenizer).__name__}")
        self.tokenizer = tokenizer if tokenizer is not None else get_tokenizer(self.model_type)
        self.video_budget, self.video_timestamps = video_budget, video_timestamps
        self.image_token_id = self.tokenizer.image_token_id
        self.video_token_id = self.tokenizer.video_token_id
        self.pad_token_id = self.tokenizer.pad_token_id
        self.min_pixels, self.max_pixels = min_pixels, max_pixels
        self.video_min_pixels, self.video_max_pixels = video_min_pixels, video_max_pixels
        self.video_total_pixels = video_total_pixels
        self.patch_size, self.temporal_patch_size, self.merge_size = (
            patch_size,
            temporal_patch_size,
            merge_size,
        )
        self.image_mean, self.image_std = image_mean, image_std
        self.image_kwargs = dict(min_pixels=min_pixels, max_pixels=max_pixels)
        self.video_kwargs = dict(min_pixels=video_min_pixels, max_pixels=video_max_pixels)
        self.patch_kwargs = dict(
            patch_size=patch_size, temporal_patch_size=temporal_patch_size, merge_size=merge_size
        )
        self.norm_kwargs = dict(image_mean=image_mean, image_std=image_std)

    # ------------------------------------------------------------------------------------------ call

    def __call__(
        self,
        text: str | list[str] | None = None,
        images=None,
        videos=None,
        *,
        messages: list | None = None,
        fps: float | list[float] = 2.0,
        sample_fps: float | None = None,
        min_pixels: float | None = None,
        max_pixels: float | None = None,
        padding: bool = True,
        return_tensors: str = "pt",
        return_mm_token_type_ids: bool = False,
    ) -> dict:
        """Model inputs for one prompt or a batch of prompts.

        ``text``: prompt string(s), already templated, each image/video marked by one ``<|image_pad|>``
        / ``<|video_pad|>``; or ``messages``: one conversation (list of message dicts) or a list of them,
        rendered with the chat template, images/videos taken from the content items (see
        :meth:`_from_messages` for the per-item keys) unless ``images``/``videos`` are given.

        ``images``: one image, a flat list, or one list per prompt (``[[a, b], [c], []]``, the same result
        as ``[a, b, c]``; each list must match its prompt's placeholders), each image anything
        :func:`qwen_lite.processing.load_image` accepts (PIL image, path, array, tensor).
        ``videos``: one video, a list of videos, or one list per prompt; a video is a list of frames or an
        array (frames, h, w, 3) (a list of frames alone is one video, as in transformers), already sampled
        at ``fps`` (one number or one per video), as transformers assumes; with ``sample_fps`` they are
        first sampled down from ``fps`` (see :func:`qwen_lite.video.preprocess_video`).
        ``min_pixels``/``max_pixels``: override the processor's budget for this call, for images *and*
        video frames, as transformers routes these keyword arguments to both.

        Returns a dict: ``input_ids`` (batch, seq) int64, left-padded with ``<|endoftext|>``;
        ``attention_mask`` (batch, seq) int64; with images ``pixel_values`` (patches, 1176) float32 and
        ``image_grid_thw`` (images, 3) int64; with videos ``pixel_values_videos``, ``video_grid_thw`` and
        ``second_per_grid_ts`` (a list of floats, one per video); optionally ``mm_token_type_ids``
        (batch, seq): 0 text, 1 image pad, 2 video pad.

        Errors (``ValueError``/``TypeError``) name the argument, the item (``images[1][0]``,
        ``messages[0]['content'][2]['max_pixels']``; in a batch of conversations the conversation too,
        ``messages[1][0]['content'][2]``) and say what was expected and what arrived.
        """
        if not (isinstance(return_tensors, str) and return_tensors == "pt"):
            raise ValueError(f"return_tensors: only 'pt' is supported, got {describe(return_tensors)}")
        if isinstance(padding, str) and padding == "longest":
            padding = True
        if not isinstance(padding, bool):
            raise ValueError(f"padding: expected True, False or 'longest', got {describe(padding)}")
        if not isinstance(return_mm_token_type_ids, bool):
            raise TypeError(
                f"return_mm_token_type_ids: expected a bool, got {describe(return_mm_token_type_ids)}"
            )
        if sample_fps is not None:
            sample_fps = _check_rate(sample_fps, "sample_fps")
        budgets = self._budgets(min_pixels, max_pixels)
        image_counts = video_counts = None
        if messages is not None:
            if text is not None:
                raise ValueError("text, messages: pass one of them, not both")
            texts, image_parts, video_parts, image_counts, video_counts = self._from_messages(
                messages, images, videos, fps, sample_fps, budgets
            )
        else:
            if text is None:
                raise ValueError("text: a prompt (or messages=...) is required")
            texts = check_text(text)
            image_parts, image_counts = self._images(images, budgets)
            video_parts, video_counts = self._videos(videos, fps, sample_fps, budgets)

        ids = [torch.tensor(self.tokenizer.encode(t), dtype=torch.int64) for t in texts]
        outputs = {}
        if image_parts:
            outputs["pixel_values"] = torch.cat([rows for rows, _ in image_parts])
            outputs["image_grid_thw"] = torch.tensor([grid for _, grid in image_parts], dtype=torch.int64)
        if video_parts:
            outputs["pixel_values_videos"] = torch.cat([v["pixel_values_videos"] for v in video_parts])
            outputs["video_grid_thw"] = torch.cat([v["video_grid_thw"] for v in video_parts])
            if not self.video_timestamps:  # Qwen3-VL writes time as text instead (transformers returns none)
                outputs["second_per_grid_ts"] = [v["second_per_grid_ts"][0] for v in video_parts]
        check_per_prompt(image_counts, ids, self.image_token_id, "image")
        check_per_prompt(video_counts, ids, self.video_token_id, "video")
        if self.video_timestamps and video_parts:
            # The labels are ordinary text whose BPE pieces may merge with the text before them, so the
            # videos are expanded in the string and the prompts tokenized again (as transformers does).
            self._expand(ids, self.video_token_id, outputs["video_grid_thw"], "video")  # checks the counts
            ids = [
                torch.tensor(self.tokenizer.encode(t), dtype=torch.int64)
                for t in self._timed(texts, video_parts)
            ]
        else:
            ids = self._expand(ids, self.video_token_id, outputs.get("video_grid_thw"), "video")
        ids = self._expand(ids, self.image_token_id, outputs.get("image_grid_thw"), "image")
        input_ids, attention_mask = left_pad(ids, self.pad_token_id, padding)
        outputs = {"input_ids": input_ids, "attention_mask": attention_mask, **outputs}
        if return_mm_token_type_ids:
            is_image = (input_ids == self.image_token_id).long()
            is_video = (input_ids == self.video_token_id).long()
            outputs["mm_token_type_ids"] = (is_image + 2 * is_video) * attention_mask
        return outputs

    def _timed(self, texts: list[str], video_parts: list[dict]) -> list[str]:
        """Qwen3-VL: each video's placeholder -> a ``<t seconds>`` label and its tokens per temporal patch.

        The placeholders are taken in order; one wrapped as ``<|vision_start|><|video_pad|><|vision_end|>``
        (what the chat template writes) is replaced whole, a bare ``<|video_pad|>`` alone (transformers
        4.57.6's rule; 5.24.0 keeps the outer ``<|vision_start|>``/``<|vision_end|>`` pair around the
        labelled groups, see tests/test_qwen3_vl_processor.py). Timestamps:
        :func:`qwen_lite.timestamps.frame_group_times` of the kept frames' indices and the frames' ``fps``.
        """
        parts = iter(video_parts)
        out = []
        for text in texts:
            pieces, start = [], 0
            while (found := text.find(self.video_token, start)) >= 0:
                part = next(parts)
                t, h, w = part["video_grid_thw"][0].tolist()
                times = frame_group_times(part["frame_indices"], part["fps"], self.temporal_patch_size)
                if len(times) != t:
                    raise ValueError(
                        f"videos: {len(times)} timestamps for a grid of {t} temporal patches (frame_indices "
                        f"{part['frame_indices']!r})"
                    )
                begin, end = found, found + len(self.video_token)
                if text[:found].endswith(self.vision_start_token) and text[end:].startswith(
                    self.vision_end_token
                ):
                    begin, end = found - len(self.vision_start_token), end + len(self.vision_end_token)
                pieces += [
                    text[start:begin],
                    timed_video_text(
                        times,
                        h * w // self.merge_size**2,
                        vision_start=self.vision_start_token,
                        video_token=self.video_token,
                        vision_end=self.vision_end_token,
                    ),
                ]
                start = end
            out.append("".join(pieces) + text[start:])
        return out

    def _budgets(self, min_pixels, max_pixels) -> dict:
        """The image and video budgets of one call: the processor's, or the call's overrides (both kinds)."""
        if min_pixels is not None:
            min_pixels = check_positive(min_pixels, "min_pixels")
        if max_pixels is not None:
            max_pixels = check_positive(max_pixels, "max_pixels")
        image = (
            (min_pixels, "min_pixels") if min_pixels is not None else (self.min_pixels, "min_pixels"),
            (max_pixels, "max_pixels") if max_pixels is not None else (self.max_pixels, "max_pixels"),
        )
        video = (
            (min_pixels, "min_pixels")
            if min_pixels is not None
            else (self.video_min_pixels, "video_min_pixels"),
            (max_pixels, "max_pixels")
            if max_pixels is not None
            else (self.video_max_pixels, "video_max_pixels"),
        )
        return {"image": image, "video": video}

    @staticmethod
    def _checked(budget) -> tuple:
        (low, low_name), (high, high_name) = budget
        return check_pixel_budget(low, high, low_name, high_name)

    def _image_part(self, image, name: str, min_pixels, max_pixels, resized=None):
        """One image (loaded or not) -> (rows, grid) at its smart_resize size (or ``resized``)."""
        image = load_image(image, name)
        try:
            if resized is not None:
                height, width = resized
            else:
                height, width = smart_resize(image.height, image.width, self.factor, min_pixels, max_pixels)
        except ValueError as error:
            raise ValueError(f"{name}: {error}") from None
        return image_to_patches(image, height, width, **self.patch_kwargs, **self.norm_kwargs)

    @property
    def factor(self) -> int:
        """Resized sides are multiples of this: ``patch_size * merge_size`` (28)."""
        return self.patch_size * self.merge_size

    def _images(self, images, budgets):
        """The ``images`` argument -> (list of (rows, grid), per-prompt counts or None)."""
        if images is None:
            return None, None
        pairs, counts = flat_list_of_images(images)
        if not pairs and counts is None:
            raise ValueError(
                "images: expected at least one image, got an empty list (pass images=None for none)"
            )
        if not pairs:
            return None, counts
        low, high = self._checked(budgets["image"])
        return [self._image_part(image, name, low, high) for name, image in pairs], counts

    def _videos(self, videos, fps, sample_fps, budgets):
        """The ``videos`` argument -> (list of preprocess_video outputs, per-prompt counts or None)."""
        if videos is None:
            return None, None
        pairs, counts = batched_videos(videos)
        if not pairs and counts is None:
            raise ValueError(
                "videos: expected a non-empty list of videos (each a list of frames or an array), got an empty list"
            )
        if not pairs:
            return None, counts
        rates = frame_rates(fps, len(pairs))
        low, high = self._checked(budgets["video"])
        parts = []
        for (name, frames), rate in zip(pairs, rates):
            with _prefix_errors(name):
                parts.append(
                    preprocess_video(
                        frames,
                        rate,
                        sample_fps=sample_fps,
                        min_pixels=low,
                        max_pixels=high,
                        total_pixels=self.video_total_pixels,
                        budget=self.video_budget,
                        **self.patch_kwargs,
                        **self.norm_kwargs,
                    )
                )
                parts[-1]["fps"] = rate
        return parts, counts

    def _expand(self, ids: list[torch.Tensor], token_id: int, grid_thw, kind: str) -> list[torch.Tensor]:
        """Check the placeholders of ``kind`` against the items given, then expand each to t*h*w/4."""
        per_text = [int((seq == token_id).sum()) for seq in ids]
        tokens_per_item = [] if grid_thw is None else (grid_thw.prod(-1) // self.merge_size**2).tolist()
        check_placeholder_count(per_text, len(tokens_per_item), kind, ids, token_id)
        expanded, start = [], 0
        for seq, count in zip(ids, per_text):
            repeats = torch.ones_like(seq)
            repeats[seq == token_id] = torch.tensor(tokens_per_item[start : start + count], dtype=torch.int64)
            expanded.append(seq.repeat_interleave(repeats))
            start += count
        return expanded

    # -------------------------------------------------------------------------------------- messages

    def _from_messages(self, messages, images, videos, fps, sample_fps, budgets):
        """Conversation(s) -> (prompts, image parts, video parts, per-prompt counts) in template order.

        Content items follow qwen-vl-utils' ``process_vision_info``: an item is an image if its ``type``
        is ``"image"`` or it has an ``"image"`` / ``"image_url"`` key (a PIL image, array, tensor, path,
        ``file://`` path or ``data:image/...;base64,`` URL; ``{"url": ...}`` too), a video if its ``type``
        is ``"video"`` or it has a ``"video"`` key (a list of frames, each anything an image may be, or
        an array (frames, h, w, 3); video files are not decoded). Per-item keys:

        * images: ``min_pixels``/``max_pixels`` replace the processor's budget for that image (a missing
          one comes from the processor); ``resized_height`` and ``resized_width`` (both, or an error; a
          lone one is ignored by qwen-vl-utils, which would be a silent misreading) fix the size, rounded
          by ``smart_resize(h, w, 28)`` with qwen-vl-utils' range 3136..12,845,056 px (200x300 -> 196x308).
        * videos: ``fps`` the frame rate of the given frames (qwen_lite's meaning, as the ``fps``
          argument; ``sample_fps`` is accepted as qwen-vl-utils' name for it; qwen-vl-utils ignores
          ``fps`` for a frame list and assumes 2 fps); ``video_start``/``video_end`` cut by time,
          ``nframes`` keeps that many frames, ``min_frames``/``max_frames`` bound the count when the call
          samples with ``sample_fps`` (:func:`qwen_lite.video.select_frames`); ``min_pixels``,
          ``max_pixels``, ``total_pixels`` give the per-frame budget as qwen-vl-utils' ``fetch_video``
          computes it (:func:`qwen_lite.video.frame_max_pixels`, the processor's video budget supplying
          the missing values); ``resized_height``/``resized_width`` as for images.

        Other keys are ignored, as qwen-vl-utils ignores them. A known key with a wrong type or value is
        an error naming it: ``messages[0]['content'][1]['max_pixels']``. Items without keys use the
        processor's budget, so ``messages=`` and ``text=`` + ``images=`` give the same inputs.
        The model card's pipeline resizes twice (qwen-vl-utils, then the processor's own budget); that
        gives the same grid whenever the first size lies in the processor's budget (for images always
        with the released 3136..12,845,056 config). qwen_lite resizes once, from the original pixels.
        """
        conversations, prefixes = _conversations(messages)
        image_items, video_items = [], []
        for conversation, prefix in zip(conversations, prefixes):
            image_items.append([])
            video_items.append([])
            for i, message in enumerate(conversation):
                if not isinstance(message, dict):
                    raise TypeError(
                        f"{prefix}[{i}]: expected a dict {{'role': ..., 'content': ...}}, got {describe(message)}"
                    )
                content = message.get("content")
                if not isinstance(content, (list, tuple)):
                    continue  # a string, or an error the chat template reports
                for j, item in enumerate(content):
                    where = f"{prefix}[{i}]['content'][{j}]"
                    if not isinstance(item, dict):
                        raise TypeError(
                            f"{where}: expected a dict such as {{'type': 'text', 'text': ...}}, got {describe(item)}"
                        )
                    kind = item.get("type")
                    if kind == "image" or "image" in item or "image_url" in item:
                        image_items[-1].append((where, item))
                    elif kind == "video" or "video" in item:
                        video_items[-1].append((where, item))
        texts = [
            _templated(self.tokenizer.apply_chat_template, conversation, prefix)
            for conversation, prefix in zip(conversations, prefixes)
        ]

        flat_images = [pair for items in image_items for pair in items]
        with_image = [(w, it) for w, it in flat_images if _image_value(it)[1] is not None]
        _check_item_data(with_image, flat_images, images, "image")
        if images is not None or not with_image:
            image_parts, image_counts = self._images(images, budgets)
        else:
            image_parts = [self._item_image(where, item, budgets["image"]) for where, item in with_image]
            image_counts = None

        flat_videos = [pair for items in video_items for pair in items]
        with_video = [(w, it) for w, it in flat_videos if it.get("video") is not None]
        _check_item_data(with_video, flat_videos, videos, "video")
        if videos is not None or not with_video:
            video_parts, video_counts = self._videos(videos, fps, sample_fps, budgets)
        else:
            rates = frame_rates(fps, len(with_video))
            video_parts = [
                self._item_video(where, item, rate, sample_fps, budgets["video"])
                for (where, item), rate in zip(with_video, rates)
            ]
            video_counts = None
        return texts, image_parts, video_parts, image_counts, video_counts

    def _item_image(self, where: str, item: dict, budget):
        """One image content item -> (rows, grid), with its own keys (see :meth:`_from_messages`)."""
        key, value = _image_value(item)
        resized = self._item_resized(where, item)
        (low, low_name), (high, high_name) = budget
        own_low, own_high = _item_number(item, "min_pixels", where), _item_number(item, "max_pixels", where)
        if own_low is not None:
            low, low_name = own_low, f"{where}['min_pixels']"
        if own_high is not None:
            high, high_name = own_high, f"{where}['max_pixels']"
        check_pixel_budget(low, high, low_name, high_name)
        return self._image_part(value, f"{where}['{key}']", low, high, resized)

    def _item_resized(self, where: str, item: dict):
        """``resized_height``/``resized_width`` -> smart_resize(h, w, 28) with qwen-vl-utils' range, or None."""
        height = _item_number(item, "resized_height", where)
        width = _item_number(item, "resized_width", where)
        if height is None and width is None:
            return None
        if height is None or width is None:
            given, missing = (
                ("resized_height", "resized_width") if width is None else ("resized_width", "resized_height")
            )
            raise ValueError(
                f"{where}: '{given}' needs '{missing}' too (qwen-vl-utils ignores one alone, which would "
                "silently drop the size you asked for)"
            )
        try:
            return smart_resize(height, width, self.factor, RELEASED_MIN_PIXELS, RELEASED_MAX_PIXELS)
        except ValueError as error:
            raise ValueError(f"{where}['resized_height'], {where}['resized_width']: {error}") from None

    def _item_video(self, where: str, item: dict, rate, sample_fps, budget):
        """One video content item -> preprocess_video's output, with its own keys (see :meth:`_from_messages`)."""
        name = f"{where}['video']"
        frames = _frame_list(item["video"], name)
        own_rate = None
        for key in ("fps", "sample_fps"):
            if item.get(key) is not None:
                value = _check_rate(item[key], f"{where}['{key}']")
                if own_rate is not None and value != own_rate:
                    raise ValueError(
                        f"{where}: 'fps' ({item['fps']!r}) and 'sample_fps' ({item['sample_fps']!r}) both give the "
                        "frame rate of the frames and disagree"
                    )
                own_rate = value
        rate = own_rate if own_rate is not None else rate
        nframes = _item_number(item, "nframes", where, integer=True)
        min_frames = _item_number(item, "min_frames", where, integer=True) or MIN_FRAMES
        max_frames = _item_number(item, "max_frames", where, integer=True) or MAX_FRAMES
        times = {}
        for key in ("video_start", "video_end"):
            value = item.get(key)
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, numbers.Real)
                or not math.isfinite(value)
                or value < 0
            ):
                raise ValueError(
                    f"{where}['{key}']: expected a time in seconds (a number >= 0), got {describe(value)}"
                )
            times[key] = value
        clip_fps = rate  # the frames' own rate: Qwen3-VL's timestamps are index / clip_fps
        with _prefix_errors(where):
            indices, rate = select_frames(
                len(frames),
                rate,
                sample_fps=None if nframes is not None else sample_fps,
                nframes=nframes,
                min_frames=min_frames,
                max_frames=max_frames,
                temporal_patch_size=self.temporal_patch_size,
                **times,
            )
        names = [f"{name}[{k}]" for k in indices]
        loaded = [load_image(frames[k], label) for k, label in zip(indices, names)]
        with _prefix_errors(name):
            check_same_size(loaded, names)

        size = self._item_resized(where, item)
        own = {key: _item_number(item, key, where) for key in ("min_pixels", "max_pixels", "total_pixels")}
        (low, low_name), (high, high_name) = budget
        if size is None and any(value is not None for value in own.values()):
            if own["min_pixels"] is not None:
                low, low_name = own["min_pixels"], f"{where}['min_pixels']"
            padded = math.ceil(len(loaded) / self.temporal_patch_size) * self.temporal_patch_size
            total = own["total_pixels"] if own["total_pixels"] is not None else self.video_total_pixels
            high = frame_max_pixels(
                padded,
                min_pixels=low,
                max_pixels=own["max_pixels"],
                total_pixels=total,
                frame_cap=high,
                temporal_patch_size=self.temporal_patch_size,
            )
            if own["max_pixels"] is not None and high == own["max_pixels"]:
                high_name = f"{where}['max_pixels']"
            check_pixel_budget(low, high, low_name, high_name)
            try:
                size = smart_resize(loaded[0].height, loaded[0].width, self.factor, low, high)
            except ValueError as error:
                raise ValueError(f"{name}: {error}") from None
        if size is None:
            low, high = self._checked(budget)
        else:  # the item fixed the frame size; preprocess_video then uses no budget
            low = high = size[0] * size[1]
        with _prefix_errors(name):
            part = preprocess_video(
                loaded,
                rate,
                sample_fps=None,
                min_pixels=low,
                max_pixels=high,
                total_pixels=self.video_total_pixels,
                frame_size=size,
                budget=self.video_budget,
                **self.patch_kwargs,
                **self.norm_kwargs,
            )
        return {**part, "frame_indices": list(indices), "fps": clip_fps}

    # ------------------------------------------------------------------------------ checkpoint files

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike, *, tokenizer: Qwen2Tokenizer | None = None):
        """A processor configured by a checkpoint folder, as transformers' ``Qwen2_5_VLProcessor.from_pretrained``.

        Reads ``folder/preprocessor_config.json`` (see :func:`read_preprocessor_config`): the image budget
        (``min_pixels``/``max_pixels``, or the newer ``size: {"shortest_edge", "longest_edge"}``), the patch
        layout and ``image_mean``/``image_std``; and ``video_preprocessor_config.json`` where present (the
        video budget). Without ``preprocessor_config.json``: the class defaults, with a warning naming the
        missing file. The tokenizer is qwen_lite's (the released vocabulary), unless ``tokenizer`` is given.
        Errors: :class:`PreprocessorConfigError` (a ``ValueError``) naming the file and the key.
        """
        return cls(tokenizer, **read_preprocessor_config(folder))

    def save_pretrained(self, folder: str | os.PathLike) -> list[Path]:
        """Write ``preprocessor_config.json`` and ``video_preprocessor_config.json`` into ``folder``.

        The files hold both budget forms (``min_pixels``/``max_pixels`` and ``size``), so transformers 4.57
        (which reads only the first, see :func:`read_preprocessor_config`), transformers 5.x and
        :meth:`from_pretrained` all read back the same values. Returns the two paths.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        common = {
            "patch_size": self.patch_size,
            "temporal_patch_size": self.temporal_patch_size,
            "merge_size": self.merge_size,
            "image_mean": list(self.image_mean),
            "image_std": list(self.image_std),
            "do_resize": True,
            "resample": 3,  # PIL bicubic
            "do_rescale": True,
            "rescale_factor": 1 / 255,
            "do_normalize": True,
            "do_convert_rgb": True,
            "processor_class": "Qwen2_5_VLProcessor",
        }
        image = {
            "min_pixels": self.min_pixels,
            "max_pixels": self.max_pixels,
            "size": {"shortest_edge": self.min_pixels, "longest_edge": self.max_pixels},
            **common,
            "image_processor_type": "Qwen2VLImageProcessor",
        }
        video = {
            "min_pixels": self.video_min_pixels,
            "max_pixels": self.video_max_pixels,
            "size": {"shortest_edge": self.video_min_pixels, "longest_edge": self.video_max_pixels},
            **common,
            "do_sample_frames": False,
            "video_processor_type": "Qwen2VLVideoProcessor",
        }
        if self.video_total_pixels is not None:
            video["total_pixels"] = self.video_total_pixels
        paths = [folder / PREPROCESSOR_CONFIG, folder / VIDEO_PREPROCESSOR_CONFIG]
        for path, content in zip(paths, (image, video)):
            path.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
        return paths

    # ----------------------------------------------------------------------------------------- text

    def apply_chat_template(self, messages, add_generation_prompt: bool = True, add_vision_id: bool = False):
        """The tokenizer's chat template: :func:`qwen_lite.tokenizer.apply_chat_template` (Qwen2.5-VL) or
        :func:`qwen_lite.tokenizer.apply_qwen3_vl_chat_template` (Qwen3-VL)."""
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt, add_vision_id)

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        """Token ids (list or 1-D tensor) -> text, see :meth:`Qwen2Tokenizer.decode`."""
        return self.tokenizer.decode(ids, skip_special_tokens)

    def batch_decode(self, sequences, skip_special_tokens: bool = False) -> list[str]:
        """(batch, seq) ids -> one string per row."""
        return self.tokenizer.batch_decode(sequences, skip_special_tokens)


QWEN3_VL_PATCH_SIZE = 16  # Qwen3-VL's vision patches: 16 px, so resized sides are multiples of 32
QWEN3_VL_IMAGE_MEAN = (0.5, 0.5, 0.5)  # transformers' IMAGENET_STANDARD_MEAN / _STD, Qwen3-VL's normalisation
QWEN3_VL_IMAGE_STD = (0.5, 0.5, 0.5)
# Qwen3VLVideoProcessor's class defaults: size = {shortest_edge: 128 * 32 * 32, longest_edge: 768 * 32 * 32},
# a budget for all frames of a clip together (qwen_lite.video.clip_smart_resize).
QWEN3_VL_VIDEO_MIN_PIXELS = 128 * 32 * 32
QWEN3_VL_VIDEO_MAX_PIXELS = 768 * 32 * 32


class Qwen3VLProcessor(Qwen25VLProcessor):
    """:class:`Qwen25VLProcessor` with Qwen3-VL's settings, like transformers' ``Qwen3VLProcessor``.

    Four settings differ, everything else is shared:

    * ``patch_size`` 16 (resize factor 32, 1536 values per row of ``pixel_values``) and ``image_mean`` /
      ``image_std`` 0.5 (transformers builds Qwen3-VL's image processor as ``Qwen2VLImageProcessor`` with
      these values from its ``preprocessor_config.json``);
    * ``video_budget="clip"``: ``video_min_pixels``/``video_max_pixels`` bound all frames of a video together
      (``Qwen3VLVideoProcessor``; defaults 131,072 .. 786,432 px, its class defaults);
    * ``video_timestamps=True``: each temporal patch of a video is labelled ``<t seconds>`` in the prompt
      (:mod:`qwen_lite.timestamps`), and ``second_per_grid_ts`` is not returned;
    * the tokenizer and chat template are Qwen3-VL's (``get_tokenizer("qwen3_vl")``: Qwen3's four extra
      added tokens; :func:`qwen_lite.tokenizer.apply_qwen3_vl_chat_template`: no default system turn).

    The image budget keeps the image processor's class defaults (3136 .. 1,003,520 px); a checkpoint's
    ``preprocessor_config.json`` sets its own (:meth:`from_pretrained`).
    """

    model_type = "qwen3_vl"

    def __init__(
        self,
        tokenizer: Qwen2Tokenizer | None = None,
        *,
        min_pixels: int = MIN_PIXELS,
        max_pixels: int = MAX_PIXELS,
        video_min_pixels: int = QWEN3_VL_VIDEO_MIN_PIXELS,
        video_max_pixels: int = QWEN3_VL_VIDEO_MAX_PIXELS,
        patch_size: int = QWEN3_VL_PATCH_SIZE,
        temporal_patch_size: int = TEMPORAL_PATCH_SIZE,
        merge_size: int = MERGE_SIZE,
        image_mean=QWEN3_VL_IMAGE_MEAN,
        image_std=QWEN3_VL_IMAGE_STD,
        video_timestamps: bool = True,
    ):
        super().__init__(
            tokenizer,
            min_pixels=min_pixels,
            max_pixels=max_pixels,
            video_min_pixels=video_min_pixels,
            video_max_pixels=video_max_pixels,
            patch_size=patch_size,
            temporal_patch_size=temporal_patch_size,
            merge_size=merge_size,
            image_mean=image_mean,
            image_std=image_std,
            video_budget="clip",
            video_timestamps=video_timestamps,
        )

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike, *, tokenizer: Qwen2Tokenizer | None = None):
        """A processor configured by a Qwen3-VL checkpoint folder (``preprocessor_config.json`` and
        ``video_preprocessor_config.json``, as transformers' ``Qwen3VLProcessor.from_pretrained`` reads them;
        see :func:`read_preprocessor_config`, here with this class's defaults for missing values)."""
        return cls(tokenizer, **read_preprocessor_config(folder, defaults=cls))


# ---------------------------------------------------------------------------------------- helpers


def check_text(text) -> list[str]:
    """``text=`` -> a non-empty list of prompts; ``TypeError``/``ValueError`` naming ``text`` otherwise
    (bytes, numbers, a list holding a non-str, an empty list)."""
    if isinstance(text, str):
        return [text]
    if isinstance(text, (list, tuple)):
        if not text:
            raise ValueError("text: expected a str or a non-empty list of str, got an empty list")
        for index, prompt in enumerate(text):
            if not isinstance(prompt, str):
                raise TypeError(
                    f"text: expected a str or a non-empty list of str; text[{index}] is {describe(prompt)}"
                )
        return list(text)
    raise TypeError(f"text: expected a str or a non-empty list of str, got {describe(text)}")


def frame_rates(fps, count: int) -> list[float]:
    """``fps`` (one number, or one per video) -> ``count`` checked frame rates."""
    if isinstance(fps, (list, tuple)):
        if len(fps) != count:
            raise ValueError(f"fps: got {len(fps)} frame rates for {count} videos")
        return [_check_rate(rate, f"fps[{index}]") for index, rate in enumerate(fps)]
    return [_check_rate(fps, "fps")] * count


def _is_frame(x) -> bool:
    return isinstance(x, Image.Image) or (isinstance(x, (np.ndarray, torch.Tensor)) and x.ndim == 3)


def _is_video(x) -> bool:
    if isinstance(x, (np.ndarray, torch.Tensor)):
        return x.ndim == 4
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(_is_frame(frame) for frame in x)


def batched_videos(videos, name: str = "videos") -> tuple[list[tuple[str, object]], list[int] | None]:
    """The ``videos`` argument -> ``([(label, video), ...], per_prompt_counts)``, as transformers'
    ``make_batched_videos`` reads it, but strict.

    A video is a 4-D array/tensor or a non-empty list of frames (PIL images, 3-D arrays/tensors).
    Accepted: one video; one frame (a one-frame video); a list of videos; one list of videos per prompt
    (``[[v1, v2], [v3], []]``, the same videos as ``[v1, v2, v3]``, ``per_prompt_counts`` ``[2, 1, 0]``).
    A list of frames is *one* video (transformers' rule), so per-prompt lists hold videos, never frames.
    Refused with a clear error (transformers silently drops or misreads some of these): strings (video
    files: not decoded here), a list mixing videos with per-prompt lists or single frames, and lists
    nested deeper than one level per prompt.
    """
    if isinstance(videos, (str, os.PathLike)) or _is_video(videos) or _is_frame(videos):
        return [(name, _single_video(videos, name))], None
    if not isinstance(videos, (list, tuple)):
        raise TypeError(
            f"{name}: expected a video (a list of frames or an array (frames, h, w, 3)) or a list of videos, "
            f"got {type(videos).__name__}"
        )
    if not videos:
        return [], None
    per_prompt = [
        i for i, entry in enumerate(videos) if isinstance(entry, (list, tuple)) and not _is_video(entry)
    ]
    if not per_prompt:
        return [(f"{name}[{i}]", _video_entry(entry, f"{name}[{i}]")) for i, entry in enumerate(videos)], None
    if len(per_prompt) != len(videos):
        other = next(i for i in range(len(videos)) if i not in per_prompt)
        raise ValueError(
            f"{name}: {name}[{per_prompt[0]}] is a per-prompt list of videos but {name}[{other}] is not a list of "
            "videos; pass either a flat list of videos or one list of videos per prompt "
            "(e.g. videos=[[v1, v2], [v3], []], each video a list of frames or an array)"
        )
    pairs, counts = [], []
    for i, sample in enumerate(videos):
        for j, entry in enumerate(sample):
            label = f"{name}[{i}][{j}]"
            if isinstance(entry, (list, tuple)) and not _is_video(entry):
                raise ValueError(
                    f"{label}: expected a video (a list of frames or an array (frames, h, w, 3)), got a list of "
                    f"{', '.join(sorted({type(x).__name__ for x in entry})) or 'nothing'}: videos nest at most "
                    "one level (one list of videos per prompt)"
                )
            pairs.append((label, _video_entry(entry, label)))
        counts.append(len(sample))
    return pairs, counts


def _single_video(video, name: str):
    if isinstance(video, (str, os.PathLike)):
        _frame_list(os.fspath(video), name)  # raises: video files are not decoded
    return [video] if _is_frame(video) else video


def _video_entry(entry, name: str):
    if _is_video(entry):
        return entry
    if isinstance(entry, (str, os.PathLike)):
        _frame_list(os.fspath(entry), name)  # raises: video files are not decoded
    if _is_frame(entry):
        raise ValueError(
            f"{name}: a single frame ({type(entry).__name__}) among videos; a video is a list of frames or an "
            "array (frames, h, w, 3): pass [frame] for a one-frame video"
        )
    if isinstance(entry, (list, tuple)) and not entry:
        raise ValueError(f"{name}: an empty list; a video needs at least one frame")
    raise TypeError(
        f"{name}: expected a video (a list of frames or an array (frames, h, w, 3)), got {describe(entry)}"
    )


def check_per_prompt(counts: list[int] | None, ids: list[torch.Tensor], token_id: int, kind: str) -> None:
    """Per-prompt lists (``images=[[a, b], [c], []]``) must match each prompt's placeholders."""
    if counts is None:
        return
    if len(counts) != len(ids):
        raise ValueError(
            f"{kind}s: {len(counts)} per-prompt lists for {len(ids)} prompts; with nested lists give one list "
            f"per prompt (an empty list for a prompt without {kind}s)"
        )
    for index, (count, seq) in enumerate(zip(counts, ids)):
        placeholders = int((seq == token_id).sum())
        if count != placeholders:
            raise ValueError(
                f"{kind}s[{index}]: {count} {kind}s for prompt {index}, whose text has {placeholders} "
                f"<|{kind}_pad|> placeholders"
            )


def _templated(template, conversation, label: str) -> str:
    """``apply_chat_template(conversation)``, its errors naming the place within the batch.

    The template names a place relative to the one conversation it renders (``messages[0]['content'][2]``);
    ``label`` is the conversation's own name (``messages`` alone, ``messages[1]`` in a batch), which replaces
    that leading ``messages``: ``messages[1][0]['content'][2]``. Same exception type and text otherwise.
    """
    try:
        return template(conversation)
    except (TypeError, ValueError) as error:
        text = str(error)
        if (
            label == "messages"
            or not text.startswith("messages")
            or type(error) not in (TypeError, ValueError)
        ):
            raise
        raise type(error)(label + text.removeprefix("messages")) from None


def _conversations(messages) -> tuple[list, list[str]]:
    """``messages`` -> (conversations, the label of each for errors)."""
    if not isinstance(messages, (list, tuple)) or not messages:
        raise ValueError(
            "messages: expected a conversation (a non-empty list of {'role': ..., 'content': ...} dicts) or a "
            f"list of conversations, got {describe(messages)}"
        )
    if isinstance(messages[0], dict):
        return [messages], ["messages"]
    for index, conversation in enumerate(messages):
        if not isinstance(conversation, (list, tuple)):
            raise TypeError(
                f"messages[{index}]: expected a message dict or a conversation (a list of message dicts), "
                f"got {describe(conversation)}"
            )
        if not conversation:
            raise ValueError(f"messages[{index}]: an empty conversation")
    return list(messages), [f"messages[{index}]" for index in range(len(messages))]


def _image_value(item: dict):
    key = "image" if item.get("image") is not None else "image_url"
    value = item.get(key)
    if isinstance(value, dict) and "url" in value:  # OpenAI style {"image_url": {"url": ...}}
        value = value["url"]
    return key, value


def _check_item_data(with_data: list, items: list, given, kind: str) -> None:
    if with_data and given is not None:
        raise ValueError(
            f"{kind}s: the messages already carry {kind}s ({with_data[0][0]}['{kind}']); pass {kind}s= only "
            f"when the {kind} items hold no {kind}"
        )
    if with_data and len(with_data) != len(items):
        carried = {where for where, _ in with_data}
        bare = next(where for where, _ in items if where not in carried)
        raise ValueError(
            f"{bare}: a {kind} item without its {kind} while other items carry theirs; give every {kind} "
            f"item its '{kind}', or none of them and pass {kind}s="
        )


def _item_number(item: dict, key: str, where: str, integer: bool = False):
    """A per-item key's value (None if absent or None), checked to be a positive number."""
    value = item.get(key)
    if value is None:
        return None
    return check_positive(value, f"{where}['{key}']", integer=integer)


class _prefix_errors:
    """Prefix a ``ValueError``/``TypeError`` raised inside with ``name`` (e.g. ``videos[1]: frames[2]: ...``)."""

    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is None or not isinstance(error, (ValueError, TypeError)):
            return False
        if str(error).startswith(self.name):
            return False
        try:
            renamed = type(error)(f"{self.name}: {error}")
        except Exception:
            return False
        raise renamed from None


def read_preprocessor_config(folder: str | os.PathLike, defaults: type | None = None) -> dict:
    """A checkpoint folder's preprocessing files -> keyword arguments of ``defaults`` (a processor class,
    :class:`Qwen25VLProcessor` when None; its constructor's defaults fill the missing values).

    Qwen3-VL (``defaults=Qwen3VLProcessor``): the same files, where ``video_preprocessor_config.json`` is
    ``Qwen3VLVideoProcessor``'s: its ``size`` bounds a whole clip (``video_budget="clip"``); its
    ``do_sample_frames: true`` (that class's default) is accepted with a warning, because qwen_lite samples
    only when asked (``sample_fps=``, qwen-vl-utils' rule) and otherwise takes the frames as sampled; and a
    ``total_pixels`` or ``cap_pixels_per_frame: true`` is refused (not Qwen3VLProcessor settings here).

    ``preprocessor_config.json`` (transformers' ``Qwen2VLImageProcessor``): ``min_pixels``/``max_pixels``,
    or ``size: {"shortest_edge", "longest_edge"}`` (the newer form; ``min_pixels``/``max_pixels`` win
    where both are given, as in transformers 4.57 and 5.x, with a warning if they disagree; note that
    4.57 ignores a lone ``size``, a bug 5.x fixed, and qwen_lite follows 5.x), ``patch_size``,
    ``temporal_patch_size``, ``merge_size``, ``image_mean``, ``image_std``.
    ``video_preprocessor_config.json`` (``Qwen2VLVideoProcessor``) where present: the per-frame video
    budget in the same two forms (and qwen-vl-utils' ``total_pixels``); its patch layout and mean/std
    must agree with the image file's. Without it transformers' video processor reads
    ``preprocessor_config.json`` instead, so its budget becomes the video budget too (the released
    Qwen2.5-VL folder: 3136..12,845,056 px per frame), and so does qwen_lite's.

    Keys transformers uses for steps qwen_lite always runs (``do_resize``, ``do_rescale``,
    ``rescale_factor``, ``do_normalize``, ``do_convert_rgb``, ``resample``) must have the value qwen_lite
    implements (true, 1/255, bicubic = 3), and ``do_sample_frames`` must be false; other values are
    refused. Bookkeeping keys (``image_processor_type``, ``processor_class``...) are skipped; any other key
    is named in a warning. A folder without ``preprocessor_config.json``: the class defaults and a warning
    naming the missing file. Errors: :class:`PreprocessorConfigError` naming the file and the key.
    """
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder: expected a path (str or os.PathLike), got {describe(folder)}")
    folder = Path(folder)
    if not folder.is_dir():
        raise PreprocessorConfigError(f"folder: {str(folder)!r} is not a directory")
    image_path, video_path = folder / PREPROCESSOR_CONFIG, folder / VIDEO_PREPROCESSOR_CONFIG
    defaults = Qwen25VLProcessor if defaults is None else defaults
    signature = inspect.signature(defaults.__init__).parameters
    default = {name: parameter.default for name, parameter in signature.items()}
    qwen3 = defaults.model_type == "qwen3_vl"
    kwargs: dict = {}
    image_budget: dict = {}
    if image_path.is_file():
        image_budget, shared = _parse_config(
            read_json(image_path, error=PreprocessorConfigError), image_path, video=False
        )
        kwargs.update(shared)
        kwargs.update({k: v for k, v in image_budget.items() if k in ("min_pixels", "max_pixels")})
    else:
        warnings.warn(
            f"{image_path}: not found; using {defaults.__name__}'s class defaults (images "
            f"{default['min_pixels']:,}..{default['max_pixels']:,} px, videos {default['video_min_pixels']:,}.."
            f"{default['video_max_pixels']:,} px, mean {default['image_mean']}, std {default['image_std']}); "
            f"to store preprocessing with the weights, run {defaults.__name__}(...).save_pretrained(folder) "
            "(a model's save_pretrained, ours and transformers', writes no preprocessor_config.json)",
            UserWarning,
            stacklevel=3,
        )
    if video_path.is_file():
        video_budget, shared = _parse_config(
            read_json(video_path, error=PreprocessorConfigError), video_path, video=True, qwen3=qwen3
        )
        for key, value in shared.items():
            if key in kwargs and kwargs[key] != value:
                raise PreprocessorConfigError(
                    f"{video_path}: '{key}' is {value!r} but {image_path.name} gives {kwargs[key]!r}; qwen_lite "
                    "uses one patch layout and one normalisation for images and videos"
                )
            kwargs[key] = value
    else:
        video_budget = image_budget  # transformers' video processor falls back to preprocessor_config.json
    for key in ("min_pixels", "max_pixels", "total_pixels"):
        if key in video_budget:
            kwargs[f"video_{key}"] = video_budget[key]
    if "video_total_pixels" in kwargs and "video_total_pixels" not in signature:
        raise PreprocessorConfigError(
            f"{video_path}: 'total_pixels' (qwen_vl_utils' per-frame rule) is not a {defaults.__name__} setting: "
            "its video budget already bounds the whole clip"
        )
    for low, high, path in (
        ("min_pixels", "max_pixels", image_path),
        ("video_min_pixels", "video_max_pixels", video_path if video_path.is_file() else image_path),
    ):
        lo = kwargs.get(low, default[low])
        hi = kwargs.get(high, default[high])
        if lo > hi:
            raise PreprocessorConfigError(
                f"{path}: the minimum pixel count ({lo!r}, {low}) exceeds the maximum ({hi!r}, {high}) "
                "(a missing value is the class default)"
            )
    return kwargs


_FIXED = {"do_resize": True, "do_rescale": True, "do_normalize": True, "do_convert_rgb": True}
_SKIPPED = {
    "image_processor_type",
    "video_processor_type",
    "processor_class",
    "_processor_class",
    "auto_map",
    "feature_extractor_type",
    # settings of transformers' processors that do not change the result here
    "return_metadata",
    "data_format",
    "default_to_square",
    "max_video_tokens",  # 5.x, used only with cap_pixels_per_frame (refused when true)
    # video sampling settings, unused while do_sample_frames is false (also by transformers)
    "fps",
    "num_frames",
    "min_frames",
    "max_frames",
}


def _parse_config(config, path: Path, video: bool, qwen3: bool = False) -> tuple[dict, dict]:
    """One JSON object (from :func:`qwen_lite.files.read_json`) -> (budget: min_pixels/max_pixels/total_pixels,
    shared: patch layout and mean/std)."""

    def positive(key: str, value, integer: bool = False):
        try:
            return check_positive(value, f"{path}: '{key}'", integer=integer)
        except (TypeError, ValueError) as error:
            raise PreprocessorConfigError(str(error)) from None

    budget: dict = {}
    size = config.get("size")
    if size is not None:
        if not isinstance(size, dict) or "shortest_edge" not in size or "longest_edge" not in size:
            raise PreprocessorConfigError(
                f"{path}: 'size' must be an object with 'shortest_edge' and 'longest_edge' (pixel counts), "
                f"got {describe(size)}"
            )
        budget["min_pixels"] = positive("size.shortest_edge", size["shortest_edge"])
        budget["max_pixels"] = positive("size.longest_edge", size["longest_edge"])
    for key, edge in (("min_pixels", "shortest_edge"), ("max_pixels", "longest_edge")):
        if config.get(key) is not None:
            value = positive(key, config[key])
            if key in budget and budget[key] != value:
                warnings.warn(
                    f"{path}: '{key}' ({value!r}) and 'size.{edge}' ({budget[key]!r}) disagree; using '{key}', "
                    "as transformers does",
                    UserWarning,
                    stacklevel=4,
                )
            budget[key] = value
    if video and config.get("total_pixels") is not None:
        budget["total_pixels"] = positive("total_pixels", config["total_pixels"])

    shared: dict = {}
    for key in ("patch_size", "temporal_patch_size", "merge_size"):
        if config.get(key) is not None:
            shared[key] = positive(key, config[key], integer=True)
    if config.get("image_mean") is not None or config.get("image_std") is not None:
        try:
            mean, std = check_mean_std(
                config.get("image_mean", IMAGE_MEAN), config.get("image_std", IMAGE_STD)
            )
        except (TypeError, ValueError) as error:
            raise PreprocessorConfigError(f"{path}: {error}") from None
        shared.update(image_mean=mean, image_std=std)

    for key, wanted in _FIXED.items():
        value = config.get(key)
        if value is not None and value is not wanted:
            raise PreprocessorConfigError(
                f"{path}: '{key}' is {value!r}; qwen_lite always runs this step, so only {wanted!r} is supported"
            )
    if config.get("rescale_factor") is not None:
        value = config["rescale_factor"]
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isclose(value, 1 / 255):
            raise PreprocessorConfigError(
                f"{path}: 'rescale_factor' is {value!r}; qwen_lite rescales by 1/255 only"
            )
    if config.get("resample") is not None and (
        isinstance(config["resample"], bool) or config["resample"] != 3
    ):
        raise PreprocessorConfigError(
            f"{path}: 'resample' is {config['resample']!r}; qwen_lite resizes with PIL bicubic (3) only"
        )
    if config.get("cap_pixels_per_frame") not in (None, False):
        raise PreprocessorConfigError(
            f"{path}: 'cap_pixels_per_frame' is {config['cap_pixels_per_frame']!r}; qwen_lite implements the "
            "uncapped clip budget only (transformers 5.x's default)"
        )
    if qwen3 and config.get("do_sample_frames") is True:
        warnings.warn(
            f"{path}: 'do_sample_frames' is true; qwen_lite's Qwen3VLProcessor does not sample inside the call "
            "unless sample_fps= is given (qwen-vl-utils' rule): pass frames already sampled with their fps",
            UserWarning,
            stacklevel=4,
        )
    elif config.get("do_sample_frames") not in (None, False):
        raise PreprocessorConfigError(
            f"{path}: 'do_sample_frames' is {config['do_sample_frames']!r}; qwen_lite does not sample frames "
            "inside the processor the way transformers does: pass frames already sampled, or sample_fps= "
            "(qwen-vl-utils' rule)"
        )
    known = (
        set(_FIXED)
        | _SKIPPED
        | {
            "size",
            "min_pixels",
            "max_pixels",
            "total_pixels",
            "patch_size",
            "temporal_patch_size",
            "merge_size",
            "image_mean",
            "image_std",
            "rescale_factor",
            "resample",
            "do_sample_frames",
            "cap_pixels_per_frame",
        }
    )
    unknown = sorted(key for key, value in config.items() if key not in known and value not in (None, False))
    if unknown:
        warnings.warn(
            f"{path}: ignoring keys qwen_lite does not use: {', '.join(unknown)}", UserWarning, stacklevel=4
        )
    return budget, shared


def check_placeholder_count(per_text: list[int], num_items: int, kind: str, ids, token_id: int) -> None:
    """Raise a ``ValueError`` naming the first image/video whose placeholder or pixels are missing."""
    total = sum(per_text)
    if total == num_items:
        return
    token = f"<|{kind}_pad|>"
    hint = ""
    if any(bool(((seq[1:] == token_id) & (seq[:-1] == token_id)).any()) for seq in ids):
        hint = f" (the text has consecutive {token} tokens: pass one placeholder per {kind}, not an expanded text)"
    if total > num_items:
        text_index = next(i for i, n in enumerate(per_text) if sum(per_text[: i + 1]) > num_items)
        raise ValueError(
            f"{kind}s: the text has {total} {token} placeholders but {num_items} {kind}s were given; "
            f"{kind} index {num_items} (placeholder in text[{text_index}]) has no {kind}{hint}"
        )
    raise ValueError(
        f"{kind}s: {num_items} {kind}s were given but the text has only {total} {token} placeholders; "
        f"{kind}s[{total}] and later have no placeholder{hint}"
    )


def left_pad(sequences: list[torch.Tensor], pad_id: int, padding: bool = True):
    """1-D id tensors -> ``input_ids`` (batch, seq) left-padded with ``pad_id``, ``attention_mask``."""
    longest = max(len(seq) for seq in sequences)
    if not padding and any(len(seq) != longest for seq in sequences):
        raise ValueError(
            f"padding: the prompts have different lengths {[len(s) for s in sequences]}; use padding=True"
        )
    input_ids = torch.full((len(sequences), longest), pad_id, dtype=torch.int64)
    attention_mask = torch.zeros((len(sequences), longest), dtype=torch.int64)
    for row, seq in enumerate(sequences):
        input_ids[row, longest - len(seq) :] = seq
        attention_mask[row, longest - len(seq) :] = 1
    return input_ids, attention_mask

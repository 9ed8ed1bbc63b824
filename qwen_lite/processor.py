"""Prompt + images + videos -> the model's inputs, like transformers' ``Qwen2_5_VLProcessor``.

    processor(text=prompt, images=[img])   or   processor(messages=conversation)
      images -> preprocess_images -> pixel_values, image_grid_thw
      videos -> preprocess_video  -> pixel_values_videos, video_grid_thw, second_per_grid_ts
      text   -> token ids; every <|image_pad|> is one placeholder per image, in order
      expand each placeholder to t*h*w/4 copies (one per merged 2x2 patch = one vision embedding)
      left-pad the batch with <|endoftext|> -> input_ids, attention_mask

transformers expands placeholders in the *string* and then tokenizes; since ``<|image_pad|>`` is a
special token that always splits the text, expanding in id space gives the same ids (tested).
"""

from __future__ import annotations

import torch

from qwen_lite.processing import (
    MAX_PIXELS,
    MERGE_SIZE,
    MIN_PIXELS,
    PATCH_SIZE,
    TEMPORAL_PATCH_SIZE,
    VIDEO_MAX_PIXELS,
    VIDEO_MIN_PIXELS,
    preprocess_images,
)
from qwen_lite.tokenizer import Qwen2Tokenizer, apply_chat_template, get_tokenizer
from qwen_lite.video import preprocess_video


class Qwen25VLProcessor:
    """Tokenizer + image/video preprocessing; ``__call__`` mirrors ``Qwen2_5_VLProcessor.__call__``.

    Pixel budgets default to the transformers class defaults (images 3136..1,003,520 px; video frames
    128..768 tokens); pass ``max_pixels=RELEASED_MAX_PIXELS`` for the released preprocessor config.
    """

    image_token = "<|image_pad|>"
    video_token = "<|video_pad|>"

    def __init__(
        self,
        tokenizer: Qwen2Tokenizer | None = None,
        *,
        min_pixels: int = MIN_PIXELS,
        max_pixels: int = MAX_PIXELS,
        video_min_pixels: int = VIDEO_MIN_PIXELS,
        video_max_pixels: int = VIDEO_MAX_PIXELS,
        patch_size: int = PATCH_SIZE,
        temporal_patch_size: int = TEMPORAL_PATCH_SIZE,
        merge_size: int = MERGE_SIZE,
    ):
        self.tokenizer = tokenizer if tokenizer is not None else get_tokenizer()
        self.image_token_id = self.tokenizer.image_token_id
        self.video_token_id = self.tokenizer.video_token_id
        self.pad_token_id = self.tokenizer.pad_token_id
        self.image_kwargs = dict(min_pixels=min_pixels, max_pixels=max_pixels)
        self.video_kwargs = dict(min_pixels=video_min_pixels, max_pixels=video_max_pixels)
        self.patch_kwargs = dict(
            patch_size=patch_size, temporal_patch_size=temporal_patch_size, merge_size=merge_size
        )
        self.merge_size = merge_size

    def __call__(
        self,
        text: str | list[str] | None = None,
        images=None,
        videos=None,
        *,
        messages: list | None = None,
        fps: float | list[float] = 2.0,
        sample_fps: float | None = None,
        padding: bool = True,
        return_tensors: str = "pt",
        return_mm_token_type_ids: bool = False,
    ) -> dict:
        """Model inputs for one prompt or a batch of prompts.

        ``text``: prompt string(s), already templated, each image/video marked by one ``<|image_pad|>``
        / ``<|video_pad|>``; or ``messages``: one conversation (list of message dicts) or a list of them,
        rendered with the chat template; images/videos are then taken from the items' ``"image"`` /
        ``"video"`` values (and ``"fps"``) unless ``images``/``videos`` are given.
        ``videos``: list of videos, each a list of frames or a uint8 array (frames, h, w, 3), already
        sampled at ``fps`` (one number or one per video), as transformers assumes; with ``sample_fps``
        they are first sampled down from ``fps`` (see :func:`qwen_lite.video.preprocess_video`).

        Returns a dict: ``input_ids`` (batch, seq) int64, left-padded with ``<|endoftext|>``;
        ``attention_mask`` (batch, seq) int64; with images ``pixel_values`` (patches, 1176) float32 and
        ``image_grid_thw`` (images, 3) int64; with videos ``pixel_values_videos``, ``video_grid_thw`` and
        ``second_per_grid_ts`` (a list of floats, one per video); optionally ``mm_token_type_ids``
        (batch, seq): 0 text, 1 image pad, 2 video pad.
        """
        if return_tensors != "pt":
            raise ValueError(f"return_tensors: only 'pt' is supported, got {return_tensors!r}")
        if messages is not None:
            if text is not None:
                raise ValueError("text, messages: pass one of them, not both")
            text, found_images, found_videos, found_fps = self._from_messages(messages)
            images = images if images is not None else (found_images or None)
            if videos is None and found_videos:
                videos = found_videos
                fps = [f if f is not None else fps for f in found_fps]
        if text is None:
            raise ValueError("text: a prompt (or messages=...) is required")
        texts = [text] if isinstance(text, str) else list(text)
        if not texts or not all(isinstance(t, str) for t in texts):
            raise TypeError("text: expected a str or a non-empty list of str")

        outputs = {}
        if images is not None:
            outputs.update(preprocess_images(images, **self.image_kwargs, **self.patch_kwargs))
        if videos is not None:
            outputs.update(self._preprocess_videos(videos, fps, sample_fps))

        ids = [torch.tensor(self.tokenizer.encode(t), dtype=torch.int64) for t in texts]
        ids = self._expand(ids, self.image_token_id, outputs.get("image_grid_thw"), "image")
        ids = self._expand(ids, self.video_token_id, outputs.get("video_grid_thw"), "video")
        input_ids, attention_mask = left_pad(ids, self.pad_token_id, padding)
        outputs = {"input_ids": input_ids, "attention_mask": attention_mask, **outputs}
        if return_mm_token_type_ids:
            is_image = (input_ids == self.image_token_id).long()
            is_video = (input_ids == self.video_token_id).long()
            outputs["mm_token_type_ids"] = (is_image + 2 * is_video) * attention_mask
        return outputs

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

    def _preprocess_videos(self, videos, fps, sample_fps) -> dict:
        if not isinstance(videos, (list, tuple)) or not videos:
            raise ValueError(
                "videos: expected a non-empty list of videos (each a list of frames or an array)"
            )
        rates = list(fps) if isinstance(fps, (list, tuple)) else [fps] * len(videos)
        if len(rates) != len(videos):
            raise ValueError(f"fps: got {len(rates)} frame rates for {len(videos)} videos")
        results = [
            preprocess_video(frames, rate, sample_fps=sample_fps, **self.video_kwargs, **self.patch_kwargs)
            for frames, rate in zip(videos, rates)
        ]
        return {
            "pixel_values_videos": torch.cat([r["pixel_values_videos"] for r in results]),
            "video_grid_thw": torch.cat([r["video_grid_thw"] for r in results]),
            "second_per_grid_ts": [r["second_per_grid_ts"][0] for r in results],
        }

    def _from_messages(self, messages):
        """Conversation(s) -> (prompts, images, videos, video fps) in the order the template emits them."""
        conversations = [messages] if messages and isinstance(messages[0], dict) else list(messages)
        texts, images, videos, rates = [], [], [], []
        for conversation in conversations:
            texts.append(apply_chat_template(conversation))
            for message in conversation:
                if isinstance(message.get("content"), str):
                    continue
                for item in message["content"]:
                    if item.get("image") is not None:
                        images.append(item["image"])
                    elif item.get("type") != "image" and item.get("video") is not None:
                        videos.append(item["video"])
                        rates.append(item.get("fps"))
        return texts, images, videos, rates

    def apply_chat_template(self, messages, add_generation_prompt: bool = True, add_vision_id: bool = False):
        """See :func:`qwen_lite.tokenizer.apply_chat_template`."""
        return apply_chat_template(messages, add_generation_prompt, add_vision_id)

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        """Token ids (list or 1-D tensor) -> text, see :meth:`Qwen2Tokenizer.decode`."""
        return self.tokenizer.decode(ids, skip_special_tokens)

    def batch_decode(self, sequences, skip_special_tokens: bool = False) -> list[str]:
        """(batch, seq) ids -> one string per row."""
        return self.tokenizer.batch_decode(sequences, skip_special_tokens)


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

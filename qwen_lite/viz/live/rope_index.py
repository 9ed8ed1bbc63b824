"""Golden cases for ``rope_index.js`` (M-RoPE position ids), from :func:`qwen_lite.rope.get_rope_index`.

A prompt is described by segments, as the chapter 8 widget edits it: ``{"kind": "text", "n": n}``,
``{"kind": "image", "w": w, "h": h}`` (merged tokens, 28 px each) and ``{"kind": "video", "t": t, "w": w,
"h": h, "fps": fps}`` (``t`` temporal grids of two frames sampled at ``fps``). :func:`prompt_inputs` turns
segments into the ``input_ids`` and grids the processor would produce (each visual block between
``<|vision_start|>`` and ``<|vision_end|>``; ``second_per_grid_ts`` = temporal_patch_size / fps, as
:func:`qwen_lite.video.preprocess_video` reports it) and :func:`rope_layout` reads what the widget shows
off the package's ``get_rope_index``.
"""

from __future__ import annotations

import random

import torch

from ...config import qwen25vl_3b
from ...processing import MERGE_SIZE, TEMPORAL_PATCH_SIZE
from ...rope import get_rope_index

_CONFIG = qwen25vl_3b()
IMAGE_ID, VIDEO_ID = _CONFIG.image_token_id, _CONFIG.video_token_id
START_ID, END_ID = _CONFIG.vision_start_token_id, _CONFIG.vision_end_token_id
TOKENS_PER_SECOND = _CONFIG.vision.tokens_per_second
TEXT_ID = 40  # rope_index.js's ROPE_DEFAULTS.textTokenId


def prompt_inputs(segments: list[dict], text_ids=None) -> dict:
    """Segments -> ``input_ids`` (1 l), ``image_grid_thw``/``video_grid_thw`` (n 3) or None, seconds per grid.

    ``text_ids(n)``: the ids of a text run (default: ``n`` copies of :data:`TEXT_ID`).
    """
    ids, images, videos, seconds = [], [], [], []
    for s in segments:
        if s["kind"] == "text":
            ids += list(text_ids(s["n"])) if text_ids else [TEXT_ID] * s["n"]
            continue
        t = s["t"] if s["kind"] == "video" else 1
        pad = VIDEO_ID if s["kind"] == "video" else IMAGE_ID
        ids += [START_ID] + [pad] * (t * s["h"] * s["w"]) + [END_ID]
        (videos if s["kind"] == "video" else images).append([t, s["h"] * MERGE_SIZE, s["w"] * MERGE_SIZE])
        if s["kind"] == "video":
            seconds.append(TEMPORAL_PATCH_SIZE / s["fps"])
    return {
        "input_ids": torch.tensor([ids], dtype=torch.long),
        "image_grid_thw": torch.tensor(images) if images else None,
        "video_grid_thw": torch.tensor(videos) if videos else None,
        "second_per_grid_ts": seconds if videos else None,
    }


def rope_layout(segments: list[dict]) -> dict:
    """What the widget shows for ``segments``, read off :func:`~qwen_lite.rope.get_rope_index`'s output.

    Keys as ``ropeLayout`` in rope_index.js: ``length``, ``largest``, ``ropeDeltas``, ``positionIds`` (3 lists),
    ``kinds`` and per segment its token range and, for a visual block, ``start`` (its first row id),
    ``resume`` (the position of the ``<|vision_end|>`` after it), ``grid`` (t, h, w merged) and
    ``temporalIds`` (one per grid); videos also ``secondPerGrid`` and ``seconds`` (grid start times).
    """
    inputs = prompt_inputs(segments)
    position_ids, deltas = get_rope_index(
        inputs["input_ids"],
        image_grid_thw=inputs["image_grid_thw"],
        video_grid_thw=inputs["video_grid_thw"],
        second_per_grid_ts=inputs["second_per_grid_ts"],
    )
    pos = position_ids[:, 0].tolist()
    ids = inputs["input_ids"][0].tolist()
    kinds = [
        {IMAGE_ID: "image", VIDEO_ID: "video", START_ID: "marker", END_ID: "marker"}.get(i, "text")
        for i in ids
    ]
    parts, index, video = [], 0, 0
    for s in segments:
        if s["kind"] == "text":
            parts.append({"kind": "text", "first": index, "last": index + s["n"] - 1})
            index += s["n"]
            continue
        t = s["t"] if s["kind"] == "video" else 1
        count = t * s["h"] * s["w"]
        pad = index + 1
        part = {
            "kind": s["kind"],
            "first": index,
            "last": index + count + 1,
            "padFirst": pad,
            "padLast": pad + count - 1,
            "start": pos[1][pad],
            "resume": pos[0][pad + count],
            "grid": [t, s["h"], s["w"]],
            "temporalIds": [pos[0][pad + k * s["h"] * s["w"]] for k in range(t)],
        }
        if s["kind"] == "video":
            spg = inputs["second_per_grid_ts"][video]
            video += 1
            part["secondPerGrid"] = spg
            part["seconds"] = [k * spg for k in range(t)]
        parts.append(part)
        index += count + 2
    return {
        "length": len(ids),
        "largest": int(position_ids.max()) if ids else -1,
        "ropeDeltas": int(deltas[0, 0]),
        "positionIds": pos,
        "kinds": kinds,
        "segments": parts,
    }


FPS_CHOICES = [0.5, 1, 1.5, 2, 2.5, 3, 4, 6, 8, 2 / 3, 0.75, 1.7, 3.3, 0.3, 12]


def random_segments(rng: random.Random, n_segments: int | None = None) -> list[dict]:
    """A random prompt: 1-6 segments of text runs (0-9 tokens), images and videos with odd grids."""
    segments = []
    for _ in range(n_segments or rng.randint(1, 6)):
        kind = rng.choice(["text", "text", "image", "video"])
        if kind == "text":
            segments.append({"kind": "text", "n": rng.randint(0, 9)})
        elif kind == "image":
            segments.append({"kind": "image", "w": rng.randint(1, 5), "h": rng.randint(1, 5)})
        else:
            fps = rng.choice(FPS_CHOICES) if rng.random() < 0.7 else round(rng.uniform(0.2, 10), 2)
            segments.append(
                {
                    "kind": "video",
                    "t": rng.randint(1, 6),
                    "w": rng.randint(1, 4),
                    "h": rng.randint(1, 4),
                    "fps": fps,
                }
            )
    return segments


EDGE_CASES = [
    [{"kind": "text", "n": 7}],  # text only: the 1-D branch, delta 0
    [{"kind": "image", "w": 3, "h": 2}],  # a block alone, no text
    [{"kind": "video", "t": 4, "w": 1, "h": 1, "fps": 4}],  # 0.5 s per grid: ids 0, 1, 2, 3
    [
        {"kind": "video", "t": 5, "w": 2, "h": 2, "fps": 8},
        {"kind": "text", "n": 2},
    ],  # 0.25 s: grids share ids
    [
        {"kind": "video", "t": 4, "w": 1, "h": 3, "fps": 0.5},
        {"kind": "text", "n": 3},
    ],  # 4 s: time outgrows h, w
    [{"kind": "image", "w": 1, "h": 1}, {"kind": "image", "w": 6, "h": 1}, {"kind": "text", "n": 1}],
    [{"kind": "text", "n": 2}, {"kind": "video", "t": 3, "w": 2, "h": 1, "fps": 3}, {"kind": "text", "n": 2}],
    [
        {"kind": "video", "t": 2, "w": 1, "h": 1, "fps": 1},
        {"kind": "video", "t": 6, "w": 1, "h": 1, "fps": 1.5},
    ],
]


def golden_cases(rng: random.Random, n: int) -> list[dict]:
    """``ropeLayout`` on the edge cases and ``n`` random prompts; ``getRopeIndex`` on ``n`` random token rows."""
    cases = []
    prompts = [*EDGE_CASES, *(random_segments(rng) for _ in range(n))]
    for segments in prompts:
        cases.append(
            {
                "label": f"ropeLayout {segments}",
                "fn": "ropeLayout",
                "args": [segments],
                "expected": rope_layout(segments),
            }
        )
    for _ in range(n):  # real-looking token ids (any text id), several blocks, straight into getRopeIndex
        segments = random_segments(rng, rng.randint(2, 7))
        inputs = prompt_inputs(segments, text_ids=lambda k: [rng.randrange(0, 151643) for _ in range(k)])
        position_ids, deltas = get_rope_index(
            inputs["input_ids"],
            image_grid_thw=inputs["image_grid_thw"],
            video_grid_thw=inputs["video_grid_thw"],
            second_per_grid_ts=inputs["second_per_grid_ts"],
        )
        grid = {
            k: None if inputs[k] is None else inputs[k].tolist() for k in ("image_grid_thw", "video_grid_thw")
        }
        cases.append(
            {
                "label": f"getRopeIndex on {segments}",
                "fn": "getRopeIndex",
                "args": [
                    inputs["input_ids"][0].tolist(),
                    grid["image_grid_thw"],
                    grid["video_grid_thw"],
                    inputs["second_per_grid_ts"],
                    {},
                ],
                "expected": {"positionIds": position_ids[:, 0].tolist(), "ropeDeltas": int(deltas[0, 0])},
            }
        )
    return cases

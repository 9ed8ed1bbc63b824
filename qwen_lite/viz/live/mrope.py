"""Chapter 8's live widget (``mrope.js``): edit a prompt's segments, see its M-RoPE ids computed in the page.

The page computes the ids with ``rope_index.js``, which CI checks against
:func:`qwen_lite.rope.get_rope_index` (golden cases in :mod:`qwen_lite.viz.live.rope_index`).
"""

from __future__ import annotations

import math

import torch
import traitlets

from ...processing import MERGE_SIZE, TEMPORAL_PATCH_SIZE
from .base import LiveWidget
from .rope_index import END_ID, IMAGE_ID, START_ID, TOKENS_PER_SECOND, VIDEO_ID

# Field ranges the page's editor allows (mrope.js FIELDS): sizes in merged tokens (28 x 28 px each).
LIMITS = {"n": (0, 40), "w": (1, 8), "h": (1, 8), "t": (1, 8), "fps": (0.1, 30.0)}
VIDEO_LIMITS = {"w": (1, 6), "h": (1, 6)}
KEYS = {"text": ("n",), "image": ("w", "h"), "video": ("t", "w", "h", "fps")}


def check_segments(segments) -> list[dict]:
    """Segments as the widget edits them; ``ValueError``/``TypeError`` naming the segment and field otherwise.

    ``{"kind": "text", "n": n}``, ``{"kind": "image", "w": w, "h": h}`` (merged tokens),
    ``{"kind": "video", "t": t, "w": w, "h": h, "fps": fps}`` (t temporal grids of two frames sampled at
    ``fps`` frames per second). Between 1 and 8 segments, fields within the editor's ranges.
    """
    if not isinstance(segments, (list, tuple)) or not 1 <= len(segments) <= 8:
        raise ValueError(f"segments: expected a list of 1 to 8 segments, got {segments!r}")
    out = []
    for i, s in enumerate(segments):
        if not isinstance(s, dict) or s.get("kind") not in KEYS:
            raise ValueError(
                f"segments[{i}]: expected a dict with kind 'text', 'image' or 'video', got {s!r}"
            )
        keys = KEYS[s["kind"]]
        if set(s) != {"kind", *keys}:
            raise ValueError(f"segments[{i}]: a {s['kind']} segment has the fields {keys}, got {sorted(s)}")
        for key in keys:
            value = s[key]
            lo, hi = (VIDEO_LIMITS if s["kind"] == "video" else {}).get(key, LIMITS[key])
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not numeric or (key != "fps" and not float(value).is_integer()):
                raise TypeError(
                    f"segments[{i}]['{key}']: expected {'a number' if key == 'fps' else 'an int'}, got {value!r}"
                )
            if not (math.isfinite(value) and lo <= value <= hi):
                raise ValueError(f"segments[{i}]['{key}']: expected a value in [{lo}, {hi}], got {value!r}")
        out.append({"kind": s["kind"], **{k: (float(s[k]) if k == "fps" else int(s[k])) for k in keys}})
    return out


def segments_from_prompt(
    input_ids, image_grid_thw=None, video_grid_thw=None, second_per_grid_ts=None
) -> list[dict]:
    """The segments of a real one-row prompt: text runs (vision markers excluded), images, videos.

    ``input_ids`` (1 l) with each block as ``<|vision_start|>`` pads ``<|vision_end|>``; grids in patch
    units (the processor's); a video's ``fps`` is recovered from its seconds per grid (2 frames / fps).
    """
    ids = torch.as_tensor(input_ids).reshape(-1).tolist()
    images = [] if image_grid_thw is None else torch.as_tensor(image_grid_thw).tolist()
    videos = [] if video_grid_thw is None else torch.as_tensor(video_grid_thw).tolist()
    seconds = [1.0] * len(videos) if second_per_grid_ts is None else [float(s) for s in second_per_grid_ts]
    segments, text, i = [], 0, 0
    while i < len(ids):
        if ids[i] == START_ID and i + 1 < len(ids) and ids[i + 1] in (IMAGE_ID, VIDEO_ID):
            if text:
                segments.append({"kind": "text", "n": text})
            text = 0
            video = ids[i + 1] == VIDEO_ID
            t, gh, gw = (videos if video else images).pop(0)
            count = t * (gh // MERGE_SIZE) * (gw // MERGE_SIZE)
            if video:
                fps = TEMPORAL_PATCH_SIZE / seconds.pop(0)
                segments.append(
                    {"kind": "video", "t": t, "w": gw // MERGE_SIZE, "h": gh // MERGE_SIZE, "fps": fps}
                )
            else:
                segments.append({"kind": "image", "w": gw // MERGE_SIZE, "h": gh // MERGE_SIZE})
            i += 1 + count + (1 if i + 1 + count < len(ids) and ids[i + 1 + count] == END_ID else 0)
            continue
        text += 1
        i += 1
    if text:
        segments.append({"kind": "text", "n": text})
    return segments


class MRopeWidget(LiveWidget):
    """The prompt as ``segments`` (see :func:`check_segments`) and the selected ``token`` (an index).

    The page draws the three ids of every token, the selected block's grids and each video's temporal
    ids against seconds, and shows ``rope_deltas`` and where the text resumes after each block.
    """

    module = "mrope"
    segments = traitlets.List(traitlets.Dict()).tag(sync=True, live=True)
    token = traitlets.Int(0).tag(sync=True, live=True)
    tokens_per_second = traitlets.Int(TOKENS_PER_SECOND).tag(sync=True, live=True)
    merge_size = traitlets.Int(MERGE_SIZE).tag(sync=True, live=True)

    @traitlets.validate("segments")
    def _valid_segments(self, proposal):
        try:
            return check_segments(proposal["value"])
        except (TypeError, ValueError) as error:
            raise traitlets.TraitError(str(error)) from None


def mrope_widget(segments, token: int = 0) -> MRopeWidget:
    """The widget for ``segments`` (a list of dicts, see :func:`check_segments`), ``token`` selected."""
    return MRopeWidget(segments=check_segments(segments), token=token)

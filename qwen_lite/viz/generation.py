"""Static figures for the chapters on generation, video and the real model.

They sit beside the live widgets (:mod:`qwen_lite.viz.live.kvcache`, :mod:`qwen_lite.viz.live.fps`), for
print and for readers without JavaScript. Figures are small (dpi 70) to keep the notebooks light. Colours
are Okabe & Ito's colour-blind-safe palette, as the widgets'.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

COMPUTED = "#E69F00"  # orange: computed at this step
CACHED = "#0072B2"  # blue: read from the KV cache
IDLE = "#e6e6e6"  # grey: masked (future) or not needed

# --- generation: what one step computes, with and without a KV cache ------------------------------


def step_work(prompt_len: int, step: int, use_cache: bool) -> tuple[range, range]:
    """(query positions computed, key/value positions computed) at ``step``.

    Step 0 is the prefill (the whole prompt). Step s >= 1 feeds the token chosen at step s - 1, which
    sits at position ``prompt_len + s - 1``. With a cache only that token is computed; without one,
    the whole sequence so far is recomputed.
    """
    length = prompt_len + step  # tokens in the sequence fed at this step
    if step == 0 or not use_cache:
        return range(length), range(length)
    return range(length - 1, length), range(length - 1, length)


def cache_step_figure(prompt_len: int, step: int, use_cache: bool, dpi: int = 70):
    """The attention pattern of one step: which query rows and key/value columns are computed now."""
    length = prompt_len + step
    queries, kv_new = step_work(prompt_len, step, use_cache)
    fig, (ax_kv, ax) = plt.subplots(
        2, 1, figsize=(4.6, 5.0), dpi=dpi, gridspec_kw={"height_ratios": [1, 9]}, sharex=True
    )
    for k in range(length):
        color = COMPUTED if k in kv_new else CACHED
        ax_kv.add_patch(Rectangle((k, 0), 1, 1, facecolor=color, edgecolor="white", linewidth=0.5))
    ax_kv.set_xlim(0, length)
    ax_kv.set_ylim(0, 1)
    ax_kv.set_yticks([])
    ax_kv.set_ylabel("K, V", rotation=0, labelpad=18, va="center")
    grid = np.zeros((length, length, 3))
    grid[:] = _rgb(IDLE)
    for q in range(length):
        for k in range(q + 1):
            grid[q, k] = _rgb(COMPUTED if q in queries else "#ffffff")
    ax.imshow(grid, extent=(0, length, length, 0), interpolation="nearest")
    ax.axvline(prompt_len, color="black", linewidth=0.8, linestyle=":")
    ax.set_xlabel("key position")
    ax.set_ylabel("query position")
    mode = "with KV cache" if use_cache else "no cache"
    what = "prefill" if step == 0 else f"decode step {step}"
    ax_kv.set_title(
        f"{what}, {mode}: {len(queries)} token(s) computed,\n{length - len(kv_new)} K/V read from the cache",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def tokens_per_step_figure(prompt_len: int, steps: int, dpi: int = 70):
    """Bars: tokens pushed through the decoder at each step, with and without the cache."""
    xs = np.arange(steps + 1)
    cached = [len(step_work(prompt_len, s, True)[0]) for s in xs]
    uncached = [len(step_work(prompt_len, s, False)[0]) for s in xs]
    fig, ax = plt.subplots(figsize=(5.5, 2.8), dpi=dpi)
    ax.bar(xs - 0.2, uncached, width=0.4, color="#999999", label="no cache")
    ax.bar(xs + 0.2, cached, width=0.4, color=COMPUTED, label="with KV cache")
    ax.set_xticks(xs, ["prefill"] + [str(s) for s in xs[1:]], fontsize=8)
    ax.set_xlabel("step")
    ax.set_ylabel("tokens computed")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def step_times_figure(times_cached: Sequence[float], times_uncached: Sequence[float], dpi: int = 70):
    """Measured milliseconds per decode step, with and without the cache."""
    fig, ax = plt.subplots(figsize=(5.5, 2.8), dpi=dpi)
    ax.plot(np.arange(1, len(times_uncached) + 1), np.asarray(times_uncached) * 1e3, "o-", color="#999999",
            label="no cache")  # fmt: skip
    ax.plot(np.arange(1, len(times_cached) + 1), np.asarray(times_cached) * 1e3, "o-", color=COMPUTED,
            label="with KV cache")  # fmt: skip
    ax.set_xlabel("decode step")
    ax.set_ylabel("ms")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _rgb(color: str) -> np.ndarray:
    from matplotlib.colors import to_rgb

    return np.array(to_rgb(color))


# --- video: which frames are kept, and where they land in time ---------------------------------------


def frame_strip_figure(thumbnails: Sequence[np.ndarray], kept: Sequence[int], title: str, dpi: int = 70):
    """All frames of a clip as one mosaic; kept frames framed in orange, their temporal patch numbered.

    One ``imshow`` of a mosaic rather than one subplot per frame: a 48-frame strip then draws in a
    fraction of the time, which keeps the precomputed widget views cheap.
    """
    thumbs = [
        np.asarray(t, dtype=float) / (255.0 if np.asarray(t).dtype == np.uint8 else 1.0) for t in thumbnails
    ]
    n, (h, w) = len(thumbs), thumbs[0].shape[:2]
    cols = min(n, 12)
    rows = int(np.ceil(n / cols))
    gap, row_gap = max(2, w // 10), max(6, h // 3)  # room above each row for the t= labels
    mosaic = np.ones((rows * (h + row_gap), cols * (w + gap), 3))
    position = {frame: i for i, frame in enumerate(kept)}
    for index, thumb in enumerate(thumbs):
        r, c = divmod(index, cols)
        faded = thumb if index in position else 0.25 * thumb + 0.75  # dim the frames that are dropped
        top = r * (h + row_gap) + row_gap
        mosaic[top : top + h, c * (w + gap) : c * (w + gap) + w] = faded[..., :3]
    fig, ax = plt.subplots(figsize=(cols * 0.62, rows * 0.75 + 0.5), dpi=dpi)
    ax.imshow(mosaic)
    ax.set_axis_off()
    for frame, i in position.items():
        r, c = divmod(frame, cols)
        x, y = c * (w + gap), r * (h + row_gap) + row_gap
        ax.add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False, edgecolor=COMPUTED, linewidth=2.0))
        ax.text(x + w / 2, y - 1, f"t={i // 2}", fontsize=6, ha="center", va="bottom")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(pad=0.3)
    return fig


def temporal_ids_figure(rows: Sequence[tuple[str, Sequence[float], Sequence[int]]], dpi: int = 70):
    """For each (label, grid start times in seconds, temporal position ids): ids against time."""
    fig, ax = plt.subplots(figsize=(5.5, 3.0), dpi=dpi)
    for label, seconds, ids in rows:
        ax.plot(seconds, ids, "o-", label=label, markersize=4)
    ax.set_xlabel("time of the temporal patch (s)")
    ax.set_ylabel("temporal position id")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig

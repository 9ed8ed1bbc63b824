"""Checker for the video chapter's *write code* exercise: how many frames are sampled.

The reader writes ``nframes(total_frames, video_fps, fps=2.0, min_frames=4, max_frames=768)``:
the duration times the sampling rate, clamped to ``[min_frames rounded up to even,
min(max_frames, total_frames) rounded down to even]``, then floored to an even count (frames enter
the tower in pairs). The expected counts come from :func:`qwen_lite.video.smart_nframes`
(qwen-vl-utils' ``smart_nframes`` in ``vision_process.py``). The cases cover an ordinary clip, an odd
product that must be floored, a short clip that hits the minimum, a very long one that hits the
maximum, a non-integer recording rate and a clip shorter than the minimum (the total wins).
"""

from __future__ import annotations

from collections.abc import Callable

from qwen_lite.exercises import Case, check_cases
from qwen_lite.video import smart_nframes

__all__ = ["check_nframes", "nframes_cases"]


def _case(label: str, total_frames: int, video_fps: float, fps: float = 2.0, **kwargs) -> Case:
    expected = smart_nframes(total_frames, video_fps, fps, **kwargs)
    return Case(label, (total_frames, video_fps, fps), expected, kwargs)


def nframes_cases() -> list[Case]:
    """Hidden cases: (total_frames, video_fps, fps) and optional min_frames / max_frames."""
    return [
        _case("10 s at 30 fps, sampled at 2 fps", 300, 30),
        _case("7 s at 30 fps, sampled at 1 fps (7 frames is odd)", 210, 30, 1.0),
        _case("1 s at 24 fps, sampled at 2 fps (below the minimum)", 24, 24),
        _case("one hour at 30 fps (above the maximum)", 108_000, 30),
        _case("20 s at 29.97 fps, sampled at 0.5 fps", 600, 29.97, 0.5),
        _case("a 3-frame clip at 8 fps (fewer frames than the minimum)", 3, 8),
        _case(
            "9 s at 10 fps at 4 fps, min_frames=5, max_frames=31", 90, 10, 4.0, min_frames=5, max_frames=31
        ),
    ]


def check_nframes(fn: Callable, report: Callable[[str], None] = print) -> bool:
    """Run ``fn(total_frames, video_fps, fps, min_frames=..., max_frames=...)`` on the hidden cases.

    Expected: an int frame count. Returns ``True`` when every count is right. Raises ``TypeError`` when
    ``fn`` is not callable.
    """
    return check_cases(fn, nframes_cases(), "nframes", report=report)

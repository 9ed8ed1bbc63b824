"""The efficiency chapter's window-FLOP checker accepts the package's count and rejects plausible mistakes."""

from qwen_lite.accounting import window_sizes_squared
from qwen_lite.config import qwen25vl_3b
from qwen_lite.exercises.efficiency import check_window_attention_flops, window_flops_cases

VISION = qwen25vl_3b().vision


def package_flops(grid_thw, hidden_size):
    return 4 * hidden_size * window_sizes_squared([grid_thw], VISION)


def by_bands(grid_thw, hidden_size, side=8, cap_edges=True, per_frame=True, products=2):
    """Sum of s^2 over windows of side x side patches, cut per frame (the reader's route)."""
    t, h, w = grid_thw

    def bands(n):
        full, rest = divmod(n, side)
        return [side] * full + ([rest] if rest and cap_edges else [side] if rest else [])

    total = sum((r * c) ** 2 for r in bands(h) for c in bands(w))
    return (t if per_frame else 1) * products * 2 * total * hidden_size


def run(fn):
    messages = []
    return check_window_attention_flops(fn, report=messages.append), messages


def test_accepts_the_package_count_and_a_written_out_solution():
    expected = f"window_attention_flops: all {len(window_flops_cases())} hidden cases pass."
    assert run(package_flops) == (True, [expected])
    assert run(by_bands)[0]


def test_rejects_edge_windows_counted_as_whole_windows():
    ok, messages = run(lambda g, d: by_bands(g, d, cap_edges=False))
    assert not ok and "edge windows" in messages[0]


def test_rejects_forgetting_the_frames_of_a_video():
    ok, messages = run(lambda g, d: by_bands(g, d, per_frame=False))
    assert not ok and "video" in messages[0]


def test_rejects_counting_only_the_score_product():
    ok, messages = run(lambda g, d: by_bands(g, d, products=1))
    assert not ok and "448 x 448" in messages[0]


def test_rejects_the_all_full_windows_shortcut():
    ok, messages = run(lambda g, d: 4 * d * g[0] * g[1] * g[2] * 64)
    assert not ok and "edge windows" in messages[0]


def test_reports_a_starter_body_as_not_attempted():
    assert not run(lambda g, d: None)[0]

"""Chapter 4's window-attention widget (Python side): the size it picks and the errors for a bad query."""

from __future__ import annotations

import re

import pytest
from PIL import Image

from qwen_lite.viz.live.window_attention import window_attention_widget


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.new("RGB", (280, 196), "gray")  # 280 × 196 px: a 20 × 14 (w × h) patch grid


def test_default_query_is_the_centre_patch(photo):
    widget = window_attention_widget(photo, 280, 196)
    assert (widget.query_row, widget.query_col) == (7, 10)
    widget = window_attention_widget(photo, 280, 196, query=(13, 19))  # the last patch: row < 14, col < 20
    assert (widget.query_row, widget.query_col) == (13, 19)


@pytest.mark.parametrize("query", [(14, 0), (0, 20), (-1, 3), (19, 13)])
def test_query_outside_the_grid_names_rows_and_columns_in_one_order(photo, query):
    message = (
        f"query (row, col) = ({query[0]}, {query[1]}): expected 0 <= row < 14 and 0 <= col < 20 "
        "(a 20 × 14 (w × h) patch grid)"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        window_attention_widget(photo, 280, 196, query=query)


@pytest.mark.parametrize("query", [5, (1, 2, 3), (1.0, 2), (True, 2), "ab"])
def test_query_that_is_not_a_pair_of_ints(photo, query):
    with pytest.raises(
        TypeError, match=r"^query: expected a \(row, col\) pair of ints in a 20 × 14 \(w × h\)"
    ):
        window_attention_widget(photo, 280, 196, query=query)


def test_static_twin_refuses_a_query_outside_the_grid_in_words():
    from PIL import Image

    from qwen_lite.viz.vision import window_query_figure

    with pytest.raises(ValueError, match=r"expected 0 <= row < 14 and 0 <= col < 20 \(a 20 × 14 \(w × h\)"):
        window_query_figure(Image.new("RGB", (280, 196)), (14, 0))

"""qwen_lite.grounding: reading boxes and points from answers, and the coordinate maps (chapter 15).

The maps are checked against the processor: the resized size a box refers to must be the size whose
patches the model saw, ``image_grid_thw * 14`` (qwen_lite's processor here; transformers' image
processor in the tests marked ``reference``, which also run against 5.x in .venv-tf5).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from qwen_lite.grounding import (
    NORMALISED_RANGE,
    Box,
    GroundingAnswer,
    GroundingParseError,
    Point,
    format_answer,
    from_qwen2vl,
    parse_grounding,
    resized_size_for,
    to_original,
    to_qwen2vl,
    to_resized,
)
from qwen_lite.processing import MAX_PIXELS, RELEASED_MAX_PIXELS, preprocess_images, smart_resize
from tests.reference import reference_image_processor
from tests.test_layering import imported_by

FACE = Box(160, 140, 365, 330, label="face")
BADGE = Point(262, 62, label="cap badge")
OBJECTS = [FACE, BADGE, Box(322, 488, 455, 525, label="ribbons")]

# ---------------------------------------------------------------- parsing: the accepted forms


def test_fenced_json_with_prose_around():
    text = (
        "Sure, here are the objects:\n```json\n[\n"
        '\t{"bbox_2d": [160, 140, 365, 330], "label": "face"},\n'
        '\t{"point_2d": [262, 62], "label": "cap badge"}\n]\n```\nAnything else?'
    )
    answer = parse_grounding(text)
    assert isinstance(answer, GroundingAnswer) and isinstance(answer, list)
    assert answer == [FACE, BADGE]
    assert answer.form == "json" and answer.dropped == "" and not answer.truncated


def test_bare_json_list_and_single_object():
    assert parse_grounding('[{"bbox_2d": [160, 140, 365, 330], "label": "face"}]') == [FACE]
    assert parse_grounding('  {"point_2d": [262, 62], "label": "cap badge"}\n') == [BADGE]
    assert parse_grounding('The badge is at {"point_2d": [262, 62], "label": "cap badge"}.') == [BADGE]


def test_fence_without_language_and_several_fences():
    text = '```\n[{"point_2d": [1, 2]}]\n```\nand\n```json\n{"bbox_2d": [1, 2, 3, 4], "label": "b"}\n```'
    assert parse_grounding(text) == [Point(1, 2), Box(1, 2, 3, 4, label="b")]


def test_lists_of_points_and_bare_coordinates():
    answer = parse_grounding('[{"point_2d": [[10, 20], [30, 40.5]], "label": "eye"}, [1, 2, 3, 4], [7, 8]]')
    assert answer == [Point(10, 20, "eye"), Point(30, 40.5, "eye"), Box(1, 2, 3, 4), Point(7, 8)]
    assert answer[1].y == 40.5 and isinstance(answer[1].y, float) and isinstance(answer[0].x, int)


def test_extra_keys_are_kept_and_labels_may_be_missing():
    (box,) = parse_grounding('[{"bbox_2d": [0, 0, 5, 5], "text_content": "COMDR HOPPER"}]')
    assert box.label is None and box.extra == {"text_content": "COMDR HOPPER"}
    assert format_answer([box]).count("text_content") == 1


def test_slightly_malformed_json_is_read_like_the_cookbooks_literal_eval():
    assert parse_grounding("[{'bbox_2d': [160, 140, 365, 330], 'label': 'face',},]") == [FACE]
    # the answer stops after the last object: no closing bracket, no closing fence
    assert parse_grounding('```json\n[{"bbox_2d": [160, 140, 365, 330], "label": "face"}') == [FACE]
    assert parse_grounding('```json\n[{"point_2d": [262, 62], "label": "cap badge"}]') == [BADGE]


def test_strings_with_brackets_commas_and_quotes_do_not_split_objects():
    text = '[{"bbox_2d": [1, 2, 3, 4], "label": "a [b], {c}"}, {"point_2d": [5, 6], "label": "Hopper\'s \\"cap\\""}]'
    answer = parse_grounding(text)
    assert [o.label for o in answer] == ["a [b], {c}", 'Hopper\'s "cap"']


def test_qwen2vl_token_form():
    text = (
        "<|object_ref_start|>the face<|object_ref_end|><|box_start|>(312,233),(713,550)<|box_end|> and "
        "<|object_ref_start|>two stars<|object_ref_end|><|box_start|>(10, 20),(30,40)<|box_end|>"
        "<|box_start|>(50,60),(70,80),(90,91),(95,99)<|box_end|><|box_start|>(1,2),(3,4)<|box_end|>"
    )
    answer = parse_grounding(text)
    assert answer.form == "qwen2vl"
    assert answer == [
        Box(312, 233, 713, 550, "the face"),
        Box(10, 20, 30, 40, "two stars"),
        Box(50, 60, 70, 80, "two stars"),
        Box(90, 91, 95, 99, "two stars"),
        Box(1, 2, 3, 4, "two stars"),  # a box takes the latest reference before it
    ]
    assert parse_grounding("<|box_start|>(1,2),(3,4)<|box_end|>") == [Box(1, 2, 3, 4)]
    text = "<|object_ref_start|>a<|object_ref_end|><|box_start|>(1,2),(3,4)<|box_end|> and <|box_start|>(5,6),(7,8)<|box_end|>"
    assert [box.label for box in parse_grounding(text)] == ["a", None]  # text between: no reference


def test_format_answer_round_trips_both_forms():
    objects = [Box(10.4, 20.5, 30.6, 41.5, label="x"), Point(3.5, 4.49, label="p")]
    # written as the model writes them: integers, Python's round (half to even: 20.5 -> 20, 41.5 -> 42)
    assert parse_grounding(format_answer(objects)) == [Box(10, 20, 31, 42, "x"), Point(4, 4, "p")]
    boxes = [Box(5, 6, 7, 8), Box(1, 2, 3, 4, label="a")]
    assert parse_grounding(format_answer(boxes, form="qwen2vl")) == boxes
    with pytest.raises(ValueError, match="Qwen2-VL form has boxes only"):
        format_answer([BADGE], form="qwen2vl")
    with pytest.raises(ValueError, match="form must be 'json' or 'qwen2vl', got 'xml'"):
        format_answer(objects, form="xml")


# ---------------------------------------------------------------- parsing: truncated answers


def test_truncated_list_keeps_the_complete_objects_and_says_what_was_dropped():
    text = '```json\n[\n\t{"bbox_2d": [160, 140, 365, 330], "label": "face"},\n\t{"bbox_2d": [322, 488, 45'
    answer = parse_grounding(text)
    assert answer == [FACE]
    assert answer.truncated and answer.dropped == '{"bbox_2d": [322, 488, 45'
    assert "dropped=" in repr(answer)
    with pytest.raises(GroundingParseError, match=r"cut off at .*\[322, 488, 45.* after 1 complete object"):
        parse_grounding(text, strict=True)


def test_every_cut_of_an_answer_gives_a_prefix_of_its_objects_or_a_clear_error():
    """A generation stopped after any number of characters never yields a wrong or partial object."""
    objects = [*OBJECTS, Point(1, 2), Box(0, 0, 10, 10, label="tag, with 'quotes' and [brackets]")]
    for form in ("json", "qwen2vl"):
        items = objects if form == "json" else [o for o in objects if isinstance(o, Box)]
        text = format_answer(items, form=form)
        recovered = 0
        for cut in range(len(text) + 1):
            try:
                answer = parse_grounding(text[:cut])
            except GroundingParseError:
                assert recovered == 0, f"{form}: cut {cut} raised after {recovered} objects were readable"
                continue
            assert answer == items[: len(answer)], f"{form}: cut at {cut}: {answer!r}"
            assert len(answer) >= recovered, f"{form}: cut at {cut} lost objects"
            recovered = len(answer)
        assert recovered == len(items)
        assert parse_grounding(text).dropped == ""


def test_truncated_qwen2vl_spans():
    text = (
        "<|object_ref_start|>face<|object_ref_end|><|box_start|>(1,2),(3,4)<|box_end|><|box_start|>(5,6),(7"
    )
    answer = parse_grounding(text)
    assert answer == [Box(1, 2, 3, 4, "face")] and answer.dropped == "<|box_start|>(5,6),(7"
    with pytest.raises(GroundingParseError, match="cut off"):
        parse_grounding(text, strict=True)
    with pytest.raises(GroundingParseError, match=r"after 0 complete box"):
        parse_grounding("<|object_ref_start|>the fa")


def test_nothing_complete_is_an_error():
    with pytest.raises(GroundingParseError, match=r"at least one complete box or point, got only.*bbox_2d"):
        parse_grounding('```json\n[{"bbox_2d": [160, 14')
    with pytest.raises(GroundingParseError, match="at least one complete"):
        parse_grounding('{"point_2d": [262, 62], "label": "cap')


# ---------------------------------------------------------------- parsing: errors


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("I cannot see a dog in this image.", r"expected a ```json fenced answer.*got no JSON"),
        ("the face(312,233),(713,550)", r"skip_special_tokens=False"),
        ('[{"bbox_2d": [365, 140, 160, 330], "label": "face"}]', r"object 0\['bbox_2d'\]: .*x1 <= x2"),
        ('[{"bbox_2d": [1, 2, 3, 4]}, {"bbox_2d": [1, 9, 3, 4]}]', r"object 1\['bbox_2d'\].*y1 <= y2"),
        ('[{"bbox_2d": [1, 2, 3], "label": "a"}]', r"expected 4 numbers \[x1, y1, x2, y2\], got 3 values"),
        ('[{"point_2d": [1, 2, 3]}]', r"expected 2 numbers \[x, y\], got 3 values"),
        ('[{"bbox_2d": "1, 2, 3, 4"}]', r"expected 4 numbers.*got str"),
        (
            '[{"bbox_2d": ["1", 2, 3, 4]}]',
            r"object 0\['bbox_2d'\]\[0\]: expected a finite number.*got str '1'",
        ),
        ('[{"bbox_2d": [1, true, 3, 4]}]', r"\[1\]: expected a finite number.*got bool True"),
        ('[{"bbox_2d": [1, NaN, 3, 4]}]', r"\[1\]: expected a finite number.*got float nan"),
        (
            '[{"bbox_2d": [1, 2, 3, 4], "point_2d": [1, 2]}]',
            r"exactly one of 'bbox_2d' or 'point_2d', got both",
        ),
        ('[{"label": "face"}]', r"exactly one of 'bbox_2d' or 'point_2d', got neither \(keys \['label'\]\)"),
        ('[{"bbox_2d": [1, 2, 3, 4], "label": 7}]', r"expected 'label' to be a string, got int 7"),
        ('["face"]', r"object 0: expected an object like"),
        ('[{"bbox_2d": [1, 2, 3, 4] "label": "a"}, {"point_2d": [1, 2]}]', r"object 0: expected JSON, got"),
        ('[{"bbox_2d": [1, 2, 3, 4]]', r"unbalanced '\]'"),
        ("<|box_start|>(1,2)<|box_end|>", r"Qwen2-VL box 0: expected <\|box_start\|>\(x1,y1\),\(x2,y2\)"),
        ("<|box_start|>[1,2,3,4]<|box_end|>", r"Qwen2-VL box 0: expected"),
        ("<|box_start|>(9,2),(3,4)<|box_end|>", r"Qwen2-VL box 0: .*x1 <= x2"),
    ],
)
def test_parse_errors_say_what_was_expected_and_what_arrived(text, message):
    with pytest.raises(GroundingParseError, match=message):
        parse_grounding(text)


def test_parse_error_is_a_value_error_and_text_must_be_a_string():
    assert issubclass(GroundingParseError, ValueError)
    with pytest.raises(TypeError, match=r"text must be the decoded answer \(a str\), got list"):
        parse_grounding(["[1, 2, 3, 4]"])
    with pytest.raises(TypeError, match="strict must be a bool"):
        parse_grounding("[1, 2]", strict=1)


def test_box_and_point_check_their_values():
    with pytest.raises(ValueError, match=r"x1 <= x2 and y1 <= y2.*got \[3, 0, 1, 4\]"):
        Box(3, 0, 1, 4)
    with pytest.raises(TypeError, match="Box.y1: expected a number, got str"):
        Box(0, "1", 2, 3)
    with pytest.raises(TypeError, match="Point.x: expected a number, got bool"):
        Point(True, 1)
    with pytest.raises(ValueError, match="Point.y: expected a finite number, got inf"):
        Point(1, math.inf)
    with pytest.raises(TypeError, match="Box.label: expected a string"):
        Box(0, 0, 1, 1, label=3)
    box = Box(np.int64(1), np.float32(2.5), 3, 4)
    assert type(box.x1) is int and type(box.y1) is float  # numpy scalars become Python numbers
    assert (box.width, box.height, box.center) == (2, 1.5, (2.0, 3.25))
    assert Box(5, 5, 5, 5).width == 0  # a zero-size box is allowed


# ---------------------------------------------------------------- coordinate maps


def test_resized_size_for_is_smart_resize_in_width_height_order():
    for width, height in [(512, 600), (600, 512), (1001, 333), (70, 98), (3000, 41)]:
        for budget in (
            {},
            {"max_pixels": 28 * 28 * 64},
            {"min_pixels": 28 * 28 * 300, "max_pixels": RELEASED_MAX_PIXELS},
        ):
            h, w = smart_resize(height, width, **budget)
            assert resized_size_for((width, height), **budget) == (w, h)


# Sizes at the .5 rounding boundaries of smart_resize (70 = 2.5 x 28 rounds down to 56, 98 = 3.5 x 28 up
# to 112: Python's half-to-even), odd sizes, extreme aspect ratios, and an upscaled tiny image.
MAP_SIZES = [
    (512, 600),
    (70, 98),
    (98, 70),
    (42, 126),
    (1001, 333),
    (333, 1001),
    (3001, 17),
    (31, 23),
    (5, 5),
]
BUDGETS = [
    {},
    {"max_pixels": 28 * 28 * 64},
    {"max_pixels": RELEASED_MAX_PIXELS},
    {"min_pixels": 28 * 28 * 200},
]


def _budget_id(budget):
    return ",".join(f"{k}={v}" for k, v in budget.items()) or "class default"


@pytest.mark.parametrize("budget", BUDGETS, ids=_budget_id)
def test_resized_size_is_what_the_processor_gives_the_model(budget):
    """``image_grid_thw * 14`` (what the model saw) equals resized_size_for with the same budget."""
    images = [Image.new("RGB", size) for size in MAP_SIZES]
    grid = preprocess_images(images, **budget)["image_grid_thw"]
    for size, (_, gh, gw) in zip(MAP_SIZES, grid.tolist()):
        assert resized_size_for(size, **budget) == (gw * 14, gh * 14), size


@pytest.mark.reference
@pytest.mark.parametrize("budget", BUDGETS, ids=_budget_id)
def test_resized_size_is_what_transformers_gives_the_model(budget):
    """transformers' image processor (4.57.6 and 5.x) resizes to the same size for the same budget."""
    images = [Image.new("RGB", size) for size in MAP_SIZES]
    processor = reference_image_processor(**{"min_pixels": 56 * 56, "max_pixels": MAX_PIXELS, **budget})
    grid = processor(images=images, return_tensors="pt")["image_grid_thw"]
    for size, (_, gh, gw) in zip(MAP_SIZES, grid.tolist()):
        assert resized_size_for(size, **budget) == (gw * 14, gh * 14), size


@pytest.mark.parametrize("size", MAP_SIZES, ids=str)
@pytest.mark.parametrize("budget", BUDGETS, ids=_budget_id)
def test_maps_round_trip(size, budget):
    resized = resized_size_for(size, **budget)
    width, height = size
    objects = [
        Box(0, 0, width, height, label="all"),
        Box(1.5, 0.5, width / 2, height - 0.5),
        Point(width / 3, 1),
    ]
    there = to_resized(objects, original_size=size, resized_size=resized)
    assert there[0].as_list() == [0, 0, resized[0], resized[1]]  # the image's edges map to edges
    back = to_original(there, resized_size=resized, original_size=size)
    for a, b in zip(back, objects):
        assert a.label == b.label and a.as_list() == pytest.approx(b.as_list(), rel=1e-12, abs=1e-9)
    grid = to_qwen2vl(objects, image_size=size)
    assert grid[0].as_list() == [0, 0, NORMALISED_RANGE, NORMALISED_RANGE]
    for a, b in zip(from_qwen2vl(grid, image_size=size), objects):
        assert a.as_list() == pytest.approx(b.as_list(), rel=1e-12, abs=1e-9)


def test_axes_scale_separately():
    # 70 x 98 -> 56 x 112: x shrinks by 0.8, y grows by 8/7; a transposed map would be visibly wrong
    assert resized_size_for((70, 98)) == (56, 112)
    box = to_original(Box(28, 56, 56, 112), resized_size=(56, 112), original_size=(70, 98))
    assert box.as_list() == pytest.approx([35, 49, 70, 98])


def test_the_budget_the_model_saw_matters():
    """The chapter's pitfall: the same answer read with another budget's resized size lands elsewhere."""
    photo_size = (512, 600)
    seen, other = resized_size_for(photo_size, max_pixels=28 * 28 * 256), resized_size_for(photo_size)
    assert seen != other
    answer = to_resized(FACE, original_size=photo_size, resized_size=seen)
    right = to_original(answer, resized_size=seen, original_size=photo_size)
    wrong = to_original(answer, resized_size=other, original_size=photo_size)
    assert right.as_list() == pytest.approx(FACE.as_list())
    assert abs(wrong.x2 - FACE.x2) > 50 and abs(wrong.y2 - FACE.y2) > 50


def test_single_objects_and_labels_survive_the_maps():
    point = to_original(BADGE, resized_size=(100, 100), original_size=(200, 50))
    assert point == Point(524, 31, label="cap badge")
    answer = parse_grounding('[{"bbox_2d": [1, 2, 3, 4], "label": "a", "score": 0.9}]')
    (box,) = to_original(answer, resized_size=(10, 10), original_size=(20, 20))
    assert box.label == "a" and box.extra == {"score": 0.9} and box.as_list() == [2, 4, 6, 8]


def test_from_qwen2vl():
    assert from_qwen2vl(Box(0, 0, 500, 1000), image_size=(512, 600)).as_list() == [0, 0, 256, 600]
    with pytest.raises(
        ValueError, match=r"objects\[1\]: expected coordinates in \[0, 1000\].*use to_original"
    ):
        from_qwen2vl([Box(0, 0, 1, 1), Box(0, 0, 1200, 10)], image_size=(512, 600))


@pytest.mark.parametrize(
    ("size", "error", "message"),
    [
        ((512,), ValueError, r"original_size: expected \(width, height\), two numbers, got 1 values"),
        ((512, 600, 3), ValueError, r"got 3 values"),
        ((0, 600), ValueError, "the width must be positive"),
        ((512, float("nan")), ValueError, "the height must be positive and finite, got nan"),
        ((True, 600), TypeError, "the width must be a number, got bool"),
        (("512", 600), TypeError, "the width must be a number, got str"),
        ("512x600", TypeError, r"original_size: expected \(width, height\), got str"),
        (None, TypeError, r"original_size: expected \(width, height\), got NoneType"),
    ],
)
def test_size_errors_name_the_argument(size, error, message):
    with pytest.raises(error, match=message):
        to_original(FACE, resized_size=(392, 476), original_size=size)
    with pytest.raises(error, match=message):
        resized_size_for(size)


def test_map_argument_errors():
    with pytest.raises(TypeError, match=r"resized_size: expected \(width, height\)"):
        to_original(FACE, resized_size=392, original_size=(512, 600))
    with pytest.raises(TypeError, match=r"objects\[0\]: expected a Box or a Point, got str.*parse_grounding"):
        to_original(["[1, 2, 3, 4]"], resized_size=(392, 476), original_size=(512, 600))
    with pytest.raises(TypeError, match=r"objects: expected a Box, a Point or a list of them, got str"):
        to_resized("[1, 2, 3, 4]", original_size=(512, 600), resized_size=(392, 476))
    with pytest.raises(TypeError):
        to_original(FACE, (392, 476), (512, 600))  # sizes are keyword-only: no silent (w, h) mix-up


def test_grounding_is_preprocessing_side():
    assert not imported_by("grounding") & {"model", "vision", "text", "weights", "generation", "viz"}


# ---------------------------------------------------------------- drawing


def test_draw_grounding_draws_in_palette_colours_on_a_copy():
    from qwen_lite.viz.grounding import OKABE_ITO, draw_grounding

    image = Image.new("RGB", (64, 48), "white")
    drawn = draw_grounding(image, [Box(10, 10, 40, 30, label="a"), Point(50, 20), Box(2, 2, 8, 8, label="a")])
    assert image.getpixel((10, 20)) == (255, 255, 255)  # the input is untouched
    assert drawn.size == image.size
    orange = Image.new("RGB", (1, 1), OKABE_ITO[0]).getpixel((0, 0))
    sky = Image.new("RGB", (1, 1), OKABE_ITO[1]).getpixel((0, 0))
    assert drawn.getpixel((10, 20)) == orange and drawn.getpixel((40, 20)) == orange  # left and right edges
    assert drawn.getpixel((2, 5)) == orange  # same label, same colour
    assert drawn.getpixel((50, 20)) == sky  # the point's centre dot
    assert drawn.getpixel((25, 20)) == (255, 255, 255)  # boxes are outlines
    with pytest.raises(TypeError, match=r"objects\[0\]: expected a Box or a Point, got dict"):
        draw_grounding(image, [{"bbox_2d": [1, 2, 3, 4]}])

"""The processor against transformers' Qwen2_5_VLProcessor run with a real HF fast tokenizer, and on its own.

No tokenizer files can be downloaded here, so the reference tokenizer is tests/test_tokenizer.py's: converted
the way transformers converts tiktoken vocabularies (``TikTokenConverter``) from the same ``qwen.tiktoken``
ranks, with the Qwen2 pre-tokenizer regex, NFC and the released added-token table (14 special tokens, 8 not:
``<tool_call>``, the FIM and repository tokens), loaded by ``AutoTokenizer``. The comparisons (marked
``reference``) run against 4.57.6 and 5.x (scripts/test_reference.sh); the video ones against 4.57.6 only
(see the ``reference`` fixture).
"""

from __future__ import annotations

import pytest
import torch

from qwen_lite.processor import Qwen25VLProcessor, left_pad
from tests.model_inputs import random_image, random_video
from tests.test_tokenizer import RELEASED_SPECIAL_FLAGS, mixed_ids, released_tokenizer

VIDEO_PIXELS = dict(min_pixels=128 * 28 * 28, max_pixels=768 * 28 * 28)


@pytest.fixture(scope="module")
def processor() -> Qwen25VLProcessor:
    return Qwen25VLProcessor()


def reference_processor(tokenizer):
    """transformers' Qwen2_5_VLProcessor with ``tokenizer`` (tests/test_tokenizer.released_tokenizer: built offline
    from the same ranks, with the released added-token table and special flags) and the reference image processor.

    Videos: the reference video processor needs torchvision (absent), so under 4.57 they go through the slow
    image processor's PIL video path (same defaults), which the processor then expands exactly as it would
    with the real one. 5.x has no such path: the video comparisons run under 4.57 only (``video_reference``).
    """
    from transformers import Qwen2_5_VLProcessor

    from tests.reference import TF5, reference_image_processor

    tokenizer.padding_side = "left"
    image_processor = reference_image_processor()

    class PILVideoProcessor:
        """Stands in for Qwen2VLVideoProcessor (torchvision): same defaults, PIL resize (4.57 only)."""

        temporal_patch_size = 2
        merge_size = 2

        def __call__(self, videos, **kwargs):
            if TF5:
                raise NotImplementedError("transformers 5.x has no PIL video path (see reference_processor)")
            return dict(image_processor(images=None, videos=videos, return_tensors="pt", **VIDEO_PIXELS))

    class Reference(Qwen2_5_VLProcessor):
        def check_argument_for_proper_class(self, name, argument):
            if name != "video_processor":  # accept the stand-in above
                return super().check_argument_for_proper_class(name, argument)

    return Reference(
        image_processor=image_processor, tokenizer=tokenizer, video_processor=PILVideoProcessor()
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return reference_processor(released_tokenizer(tmp_path_factory.mktemp("qwen25vl_tokenizer")))


@pytest.fixture
def video_reference(reference):
    """``reference`` for prompts with videos: skipped under 5.x (no video processor without torchvision)."""
    from tests.reference import TF5

    if TF5:
        pytest.skip("transformers 5.x's video processor needs torchvision, and 5.x has no PIL video path")
    return reference


def prompt(*items: str) -> str:
    content = "".join(items)
    return f"<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n{content}<|im_end|>\n<|im_start|>assistant\n"


IMG = "<|vision_start|><|image_pad|><|vision_end|>"
VID = "<|vision_start|><|video_pad|><|vision_end|>"


# Both sides are asked for mm_token_type_ids (and compared on them): 5.x's processor returns them by default,
# 4.57's and qwen_lite's only when asked (catalogue entry processor_mm_token_type_ids; qwen_lite follows 4.57.6).
# 4.57 types a video pad 0, 5.x and qwen_lite 2 (entry video_pad_token_type; qwen_lite follows 5.x): under
# 4.57, assert_same expects 2 there.
MM = dict(return_mm_token_type_ids=True)


def assert_same(ours: dict, theirs) -> None:
    from tests.reference import TF5

    for key in ("input_ids", "attention_mask", "mm_token_type_ids", "image_grid_thw", "video_grid_thw"):
        if key in theirs:
            want = theirs[key].long()
            if key == "mm_token_type_ids" and not TF5:  # 4.57 types video pads 0 (video_pad_token_type)
                want = torch.where(theirs["input_ids"] == 151656, 2, want)
            torch.testing.assert_close(ours[key], want, atol=0, rtol=0, msg=key)
    for key in ("pixel_values", "pixel_values_videos"):
        if key in theirs:
            torch.testing.assert_close(ours[key], theirs[key].float(), atol=1e-6, rtol=0, msg=key)
    if "second_per_grid_ts" in theirs:
        assert ours["second_per_grid_ts"] == theirs["second_per_grid_ts"].tolist()
    assert set(ours) == set(theirs)


@pytest.mark.reference
def test_image_prompt_matches_reference(processor, reference):
    image = random_image(200, 300)
    text = prompt(IMG, "Describe this image.")
    ours = processor(text=text, images=[image], **MM)
    assert_same(ours, reference(text=text, images=[image], padding=True, return_tensors="pt", **MM))
    # 200 x 300 -> 196 x 308 -> grid 14 x 22 -> 77 image tokens between vision start and end.
    ids = ours["input_ids"][0]
    assert int((ids == 151655).sum()) == 14 * 22 // 4
    start = int((ids == 151652).nonzero())
    assert ids[start + 1 : start + 78].eq(151655).all() and ids[start + 78] == 151653


@pytest.mark.reference
def test_multi_image_batch_matches_reference(processor, reference):
    images = [random_image(200, 300, 1), random_image(60, 60, 2), random_image(500, 90, 3)]
    texts = [prompt(IMG, "First ", IMG, " second."), prompt("Only one: ", IMG)]
    ours = processor(text=texts, images=images, **MM)
    assert_same(ours, reference(text=texts, images=images, padding=True, return_tensors="pt", **MM))
    assert ours["attention_mask"][1, 0] == 0 and ours["input_ids"][1, 0] == 151643  # left padding


@pytest.mark.reference
def test_video_prompt_matches_reference(processor, video_reference):
    reference = video_reference
    video = random_video(5, 60, 80)  # odd count -> padded to 6 frames -> grid_t 3
    text = prompt(VID, "What happens?")
    ours = processor(text=text, videos=[video], fps=1.0, **MM)
    theirs = reference(text=text, videos=[list(video)], fps=1.0, padding=True, return_tensors="pt", **MM)
    assert_same(ours, theirs)
    assert ours["video_grid_thw"][0, 0] == 3 and ours["second_per_grid_ts"] == [2.0]


@pytest.mark.reference
def test_mixed_batch_matches_reference(processor, video_reference):
    reference = video_reference
    images = [random_image(90, 120, 4), random_image(33, 40, 5)]
    videos = [random_video(4, 56, 56, 6), random_video(2, 40, 70, 7)]
    texts = [prompt(IMG, VID, "Compare."), prompt(VID, "and", IMG, "?"), "plain text, no vision"]
    ours = processor(text=texts, images=images, videos=videos, fps=[2.0, 4.0], **MM)
    theirs = reference(
        text=texts,
        images=images,
        videos=[list(v) for v in videos],
        fps=[2.0, 4.0],
        padding=True,
        return_tensors="pt",
        **MM,
    )
    assert_same(ours, theirs)
    assert ours["second_per_grid_ts"] == [1.0, 0.5]


def test_messages_equal_templated_text(processor):
    image, video = random_image(80, 80, 8), random_video(4, 56, 56, 9)
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "image", "image": image},
                {"type": "video", "video": video, "fps": 4.0},
                {"type": "text", "text": "Describe."},
            ],
        }
    ]
    from_messages = processor(messages=messages)
    from_text = processor(text=prompt(IMG, VID, "Describe."), images=[image], videos=[video], fps=4.0)
    for key in from_text:
        if key == "second_per_grid_ts":
            assert from_messages[key] == from_text[key] == [0.5]
        else:
            torch.testing.assert_close(from_messages[key], from_text[key], atol=0, rtol=0)
    batch = processor(messages=[messages, [{"role": "user", "content": "hi"}]])
    assert batch["input_ids"].shape[0] == 2 and batch["image_grid_thw"].shape == (1, 3)


def test_mm_token_type_ids(processor):
    out = processor(
        text=["x", prompt(IMG, VID)],
        images=[random_image(56, 56)],
        videos=[random_video(2, 56, 56)],
        return_mm_token_type_ids=True,
    )
    types, ids = out["mm_token_type_ids"], out["input_ids"]
    assert torch.equal(types == 1, ids == 151655) and torch.equal(types == 2, ids == 151656)
    assert (
        int((types == 1).sum()) == 4 and int((types == 2).sum()) == 144
    )  # 56x56 -> 4; frames upscaled to 336x336 -> 144
    assert types[0].eq(0).all()


def test_left_pad():
    ids, mask = left_pad([torch.tensor([5, 6, 7]), torch.tensor([8])], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]] and mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    assert ids.dtype == mask.dtype == torch.int64


def test_text_only(processor):
    out = processor(text="Hello")
    assert out["input_ids"].tolist() == [[9707]] and set(out) == {"input_ids", "attention_mask"}


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "texts, num_images, message",
    [
        (
            [IMG + IMG],
            1,
            r"2 <\|image_pad\|> placeholders but 1 images were given; image index 1 .*text\[0\]",
        ),
        (["a", IMG, IMG], 1, r"image index 1 \(placeholder in text\[2\]\) has no image"),
        (
            [IMG],
            3,
            r"3 images were given but the text has only 1 .*images\[1\] and later have no placeholder",
        ),
        (["no placeholder"], 1, r"images\[0\] and later have no placeholder"),
        ([IMG], 0, r"image index 0 \(placeholder in text\[0\]\) has no image"),
        (["<|image_pad|><|image_pad|>"], 1, "consecutive <\\|image_pad\\|> tokens"),
    ],
)
def test_placeholder_mismatch_names_the_image(processor, texts, num_images, message):
    images = [random_image(28, 28, i) for i in range(num_images)] or None
    with pytest.raises(ValueError, match=message):
        processor(text=texts, images=images)


def test_video_placeholder_mismatch(processor):
    with pytest.raises(ValueError, match=r"videos: 2 videos were given.*only 1 <\|video_pad\|>"):
        processor(text=VID, videos=[random_video(2, 28, 28), random_video(2, 28, 28)])
    with pytest.raises(ValueError, match="video index 0"):
        processor(text=VID)


def test_other_bad_arguments(processor):
    with pytest.raises(ValueError, match="fps: got 1 frame rates for 2 videos"):
        processor(text=VID + VID, videos=[random_video(2, 28, 28)] * 2, fps=[2.0])
    with pytest.raises(ValueError, match="padding: the prompts have different lengths"):
        processor(text=["a", "a b c"], padding=False)
    with pytest.raises(ValueError, match="return_tensors: only 'pt'"):
        processor(text="a", return_tensors="np")
    with pytest.raises(ValueError, match="text, messages: pass one of them"):
        processor(text="a", messages=[{"role": "user", "content": "b"}])
    with pytest.raises(ValueError, match="text: a prompt"):
        processor(images=[random_image(28, 28)])
    with pytest.raises(TypeError, match="text: expected a str"):
        processor(text=[1, 2])
    with pytest.raises(ValueError, match="videos: expected a non-empty list"):
        processor(text=VID, videos=[])


@pytest.mark.parametrize(
    "text, error, message",
    [
        (b"bytes", TypeError, r"text: expected a str or a non-empty list of str, got bytes b'bytes'"),
        (7, TypeError, r"text: expected a str or a non-empty list of str, got int 7"),
        ([], ValueError, r"text: expected a str or a non-empty list of str, got an empty list"),
        (
            ["ok", None],
            TypeError,
            r"text: expected a str or a non-empty list of str; text\[1\] is NoneType None",
        ),
        (("ok", b"x"), TypeError, r"text\[1\] is bytes"),
    ],
)
def test_text_of_the_wrong_type(processor, text, error, message):
    with pytest.raises(error, match=message):
        processor(text=text)


BAD_BUDGETS = [
    (0, ValueError, "expected a positive number, got 0"),
    (-5, ValueError, "expected a positive number, got -5"),
    (float("nan"), ValueError, "expected a positive number, got nan"),
    (float("inf"), ValueError, "expected a positive number, got inf"),
    (True, TypeError, "expected a positive number, got bool True"),
    ("3136", TypeError, "expected a positive number, got str '3136'"),
]


@pytest.mark.parametrize(
    "value, error, message",
    BAD_BUDGETS + [(None, TypeError, "expected a positive number, got NoneType None")],
)
@pytest.mark.parametrize("name", ["min_pixels", "max_pixels", "video_min_pixels", "video_max_pixels"])
def test_constructor_budgets_are_checked(name, value, error, message):
    with pytest.raises(error, match=f"^{name}: {message}"):
        Qwen25VLProcessor(**{name: value})


def test_constructor_min_above_max_and_other_arguments():
    with pytest.raises(
        ValueError, match=r"min_pixels, max_pixels: the minimum \(5000\) must not exceed the maximum \(4000\)"
    ):
        Qwen25VLProcessor(min_pixels=5000, max_pixels=4000)
    with pytest.raises(ValueError, match=r"video_min_pixels, video_max_pixels: the minimum"):
        Qwen25VLProcessor(video_min_pixels=10**6)
    with pytest.raises(ValueError, match="video_total_pixels: expected a positive number, got 0"):
        Qwen25VLProcessor(video_total_pixels=0)
    with pytest.raises(TypeError, match="patch_size: expected a positive int, got float 14.0"):
        Qwen25VLProcessor(patch_size=14.0)
    with pytest.raises(ValueError, match="merge_size: expected a positive int, got 0"):
        Qwen25VLProcessor(merge_size=0)
    with pytest.raises(ValueError, match="image_mean: expected 3 numbers"):
        Qwen25VLProcessor(image_mean=(0.5, 0.5))
    with pytest.raises(TypeError, match=r"tokenizer: expected a Qwen2Tokenizer \(or None\), got str"):
        Qwen25VLProcessor("qwen")


@pytest.mark.parametrize("value, error, message", BAD_BUDGETS)
@pytest.mark.parametrize("name", ["min_pixels", "max_pixels"])
def test_call_budgets_are_checked(processor, name, value, error, message):
    with pytest.raises(error, match=f"^{name}: {message}"):
        processor(text=IMG, images=[random_image(28, 28)], **{name: value})


def test_call_budget_applies_to_images_and_videos(processor):
    # transformers routes a processor call's min_pixels/max_pixels to the image and the video processor
    image, video = random_image(200, 300, 11), random_video(2, 200, 300, 12)
    budget = dict(min_pixels=56 * 56, max_pixels=56 * 56)
    ours = processor(text=prompt(IMG, VID), images=[image], videos=[video], **budget)
    # 200 x 300 in at most 3,136 px: beta = sqrt(60,000 / 3,136) = 4.37 -> 28 x 56 -> patches 2 x 4
    assert ours["image_grid_thw"].tolist() == [[1, 2, 4]] and ours["video_grid_thw"].tolist() == [[1, 2, 4]]
    with pytest.raises(ValueError, match=r"min_pixels, max_pixels: the minimum \(5000\) must not exceed"):
        processor(text=IMG, images=[image], min_pixels=5000, max_pixels=4000)
    with pytest.raises(ValueError, match=r"video_min_pixels, max_pixels: the minimum \(100352\)"):
        processor(text=VID, videos=[video], max_pixels=56 * 56 - 1)  # below the video floor


@pytest.mark.reference
def test_call_budget_like_reference(processor, reference):
    image = random_image(200, 300, 11)
    budget = dict(min_pixels=56 * 56, max_pixels=56 * 56)
    ours = processor(text=prompt(IMG), images=[image], **budget)
    theirs = reference(text=prompt(IMG), images=[image], padding=True, return_tensors="pt", **budget)
    assert theirs["image_grid_thw"].tolist() == ours["image_grid_thw"].tolist() == [[1, 2, 4]]
    torch.testing.assert_close(ours["pixel_values"], theirs["pixel_values"], atol=1e-6, rtol=0)


@pytest.mark.reference
@pytest.mark.parametrize("skip", [False, True])
def test_batch_decode_matches_reference(processor, reference, skip):
    # The released flags matter here: <tool_call>, the FIM and repository tokens are not special, so
    # skip_special_tokens keeps them (handed case pipeline_fidelity/01).
    assert sum(not special for _, special in RELEASED_SPECIAL_FLAGS.values()) == 8
    ids = mixed_ids(processor.tokenizer)
    rows = [ids, ids[5:40]]
    want = reference.batch_decode(rows, skip_special_tokens=skip)
    assert processor.batch_decode(rows, skip_special_tokens=skip) == want
    assert processor.decode(ids, skip_special_tokens=skip) == reference.decode(ids, skip_special_tokens=skip)
    assert ("<tool_call>" in want[0]) and (("<|im_end|>" in want[0]) != skip)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"fps": 0}, ValueError, "fps: frame rate must be a positive number, got 0"),
        ({"fps": float("nan")}, ValueError, "fps: frame rate must be a positive number, got nan"),
        ({"fps": [2.0, -1.0]}, ValueError, r"fps\[1\]: frame rate must be a positive number, got -1.0"),
        ({"fps": True}, ValueError, "fps: frame rate must be a positive number, got True"),
        ({"sample_fps": 0}, ValueError, "sample_fps: frame rate must be a positive number, got 0"),
        ({"padding": "max_length"}, ValueError, "padding: expected True, False or 'longest'"),
    ],
)
def test_call_rates_and_flags_are_checked(processor, kwargs, error, message):
    videos = [random_video(2, 28, 28), random_video(2, 28, 28)]
    with pytest.raises(error, match=message):
        processor(text=VID + VID, videos=videos, **kwargs)

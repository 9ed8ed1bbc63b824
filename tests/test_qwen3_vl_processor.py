"""Qwen3-VL's input side against transformers' ``Qwen3VLProcessor`` (4.57.6 and 5.24.0), and on its own.

The reference tokenizer is tests/test_tokenizer.py's ``released_tokenizer`` (built offline from the same ranks)
with Qwen3's four extra added tokens. Images go through the reference image processor with Qwen3-VL's settings
(patch 16, mean/std 0.5). No torchvision here, so transformers' ``Qwen3VLVideoProcessor`` cannot run; the video
stand-in below uses transformers' own Qwen3-VL ``smart_resize`` for the size, PIL bicubic for the resize (as
qwen_lite) and 4.57.6's slow image processor for normalisation and patch order. 5.24.0 has no such PIL video path,
so its pixel comparisons skip; its text expansion is still checked (it differs, see the last test).
"""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from qwen_lite.processor import Qwen3VLProcessor, Qwen25VLProcessor
from qwen_lite.timestamps import frame_group_times, timestamp_text
from qwen_lite.tokenizer import apply_qwen3_vl_chat_template, get_tokenizer
from qwen_lite.video import clip_smart_resize
from tests.model_inputs import random_image, random_video
from tests.model_inputs import user_prompt as prompt

VS, VE = "<|vision_start|>", "<|vision_end|>"
IMG, VID = f"{VS}<|image_pad|>{VE}", f"{VS}<|video_pad|>{VE}"


@pytest.fixture(scope="module")
def processor() -> Qwen3VLProcessor:
    return Qwen3VLProcessor()


# ----------------------------------------------------------------------------------------------- reference


def reference_processor(folder):
    """transformers' Qwen3VLProcessor: released-style tokenizer + Qwen3's added tokens, Qwen3-VL image settings,
    and the PIL video stand-in (4.57.6 only for pixels; under 5.x it raises when asked for pixels)."""
    from tokenizers import AddedToken
    from transformers.models.qwen3_vl.processing_qwen3_vl import Qwen3VLProcessor as Reference
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import smart_resize as clip_resize

    from tests.reference import TF5, reference_image_processor
    from tests.test_tokenizer import released_tokenizer

    tokenizer = released_tokenizer(folder)
    extra = ["<tool_response>", "</tool_response>", "<think>", "</think>"]
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in extra])
    assert tokenizer.convert_tokens_to_ids(extra) == [151665, 151666, 151667, 151668]
    tokenizer.padding_side = "left"
    settings = dict(patch_size=16, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    image_processor = reference_image_processor(**settings)

    class PILVideoProcessor:
        """Stands in for Qwen3VLVideoProcessor (torchvision): its clip budget, PIL bicubic resize."""

        temporal_patch_size = 2
        merge_size = 2

        def __call__(self, videos, video_metadata=None, **kwargs):
            from transformers.feature_extraction_utils import BatchFeature
            from transformers.video_utils import VideoMetadata

            if TF5:
                raise NotImplementedError("transformers 5.x has no PIL video path")
            rows, grids = [], []
            for video in videos:
                n, height, width = video.shape[:3]
                size = clip_resize(n, height, width, 2, 32, 128 * 32 * 32, 768 * 32 * 32)
                frames = [Image.fromarray(f).resize(size[::-1], Image.Resampling.BICUBIC) for f in video]
                out = image_processor(images=None, videos=[frames], do_resize=False, return_tensors="pt")
                rows.append(out["pixel_values_videos"])
                grids.append(out["video_grid_thw"])
            metadata = [VideoMetadata(**m) for m in video_metadata]
            return BatchFeature(
                {
                    "pixel_values_videos": torch.cat(rows),
                    "video_grid_thw": torch.cat(grids),
                    "video_metadata": metadata,
                }
            )

    class Ref(Reference):
        def check_argument_for_proper_class(self, name, argument):
            if name != "video_processor":
                return super().check_argument_for_proper_class(name, argument)

    return Ref(image_processor=image_processor, tokenizer=tokenizer, video_processor=PILVideoProcessor())


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return reference_processor(tmp_path_factory.mktemp("qwen3vl_tokenizer"))


@pytest.fixture
def video_reference(reference):
    from tests.reference import TF5

    if TF5:
        pytest.skip("transformers 5.x's video processor needs torchvision, and 5.x has no PIL video path")
    return reference


def metadata(indices, fps, total):
    return {"fps": fps, "total_num_frames": total, "frames_indices": list(indices)}


def assert_same(ours: dict, theirs) -> None:
    for key in ("input_ids", "attention_mask", "image_grid_thw", "video_grid_thw"):
        if key in theirs:
            torch.testing.assert_close(
                ours[key], torch.as_tensor(theirs[key]).long(), atol=0, rtol=0, msg=key
            )
    for key in ("pixel_values", "pixel_values_videos"):
        if key in theirs:
            torch.testing.assert_close(ours[key], theirs[key].float(), atol=1e-6, rtol=0, msg=key)
    assert set(ours) == set(theirs) - {"mm_token_type_ids"}


# ------------------------------------------------------------------------------------------------ parity


@pytest.mark.reference
def test_text_only_matches_reference(processor, reference):
    text = prompt("Hello <think> 1.5 seconds</think>")
    assert_same(processor(text=text), reference(text=[text], return_tensors="pt"))


@pytest.mark.reference
@pytest.mark.parametrize("sizes", [[(201, 299)], [(57, 83), (333, 150)]], ids=["one image", "two images"])
def test_images_match_reference(processor, reference, sizes):
    images = [random_image(h, w, seed) for seed, (h, w) in enumerate(sizes)]
    text = prompt(*[IMG] * len(images), "What is it?")
    ours = processor(text=text, images=images)
    assert_same(ours, reference(text=[text], images=images, return_tensors="pt"))
    assert ours["pixel_values"].shape[1] == 3 * 2 * 16 * 16
    assert all(side % 2 == 0 for side in ours["image_grid_thw"][:, 1:].flatten().tolist())


@pytest.mark.reference
def test_video_matches_reference(processor, video_reference):
    clip = random_video(7, 90, 130)  # odd count: the last frame is repeated, its group's time too
    text = prompt(VID, "What happens?")
    ours = processor(text=text, videos=[clip], fps=3.0)
    theirs = video_reference(
        text=[text], videos=[clip], video_metadata=[metadata(range(7), 3.0, 7)], return_tensors="pt"
    )
    assert_same(ours, theirs)
    decoded = processor.decode(ours["input_ids"][0])
    assert [timestamp_text(t) for t in frame_group_times(range(7), 3.0)] == [
        "<0.2 seconds>", "<0.8 seconds>", "<1.5 seconds>", "<2.0 seconds>"
    ]  # fmt: skip
    assert all(label in decoded for label in ("<0.2 seconds>", "<1.5 seconds>", "<2.0 seconds>"))


@pytest.mark.reference
def test_sampled_video_timestamps_match_reference(processor, video_reference):
    """Frames sampled from a 30 fps clip (qwen-vl-utils' rule): labels use the original indices and fps."""
    clip = random_video(60, 64, 96, seed=3)
    text = prompt("Watch: ", VID)
    ours = processor(text=text, videos=[clip], fps=30.0, sample_fps=2.0)
    from qwen_lite.video import select_frames

    indices, _ = select_frames(60, 30.0, sample_fps=2.0)
    theirs = video_reference(
        text=[text], videos=[clip[indices]], video_metadata=[metadata(indices, 30.0, 60)], return_tensors="pt"
    )
    assert_same(ours, theirs)
    # 4 of 60 frames: indices 0, 20, 39, 59 -> (0 + 20/30) / 2 s; " <" after "Watch:" is one BPE piece
    assert "Watch: <0.3 seconds>" in processor.decode(ours["input_ids"][0])
    assert indices == [0, 20, 39, 59]


@pytest.mark.reference
def test_mixed_batch_left_padded_matches_reference(processor, video_reference):
    texts = [prompt(IMG, "Describe."), prompt("Two: ", IMG, VID), prompt("just text")]
    images = [random_image(77, 201, 1), random_image(130, 61, 2)]
    clip = random_video(4, 70, 50, seed=4)
    ours = processor(text=texts, images=images, videos=[clip], fps=2.0)
    theirs = video_reference(
        text=texts,
        images=images,
        videos=[clip],
        video_metadata=[metadata(range(4), 2.0, 4)],
        padding=True,
        return_tensors="pt",
    )
    assert_same(ours, theirs)
    assert (ours["attention_mask"][:, 0] == 0).any()  # left padding happened


@pytest.mark.reference
def test_timestamps_match_transformers_rule():
    from transformers.models.qwen3_vl.processing_qwen3_vl import Qwen3VLProcessor as Reference

    for indices, fps in (([0, 15, 30, 45], 30.0), (list(range(5)), 2.0), ([3, 9, 14], 24.0), ([0, 1], 0.7)):
        want = Reference._calculate_timestamps(None, list(indices), fps, 2)
        assert frame_group_times(indices, fps, 2) == want
        assert [timestamp_text(t) for t in want] == [f"<{t:.1f} seconds>" for t in want]


@pytest.mark.reference
@pytest.mark.parametrize("shape", [(4, 50, 70), (8, 1000, 600), (2, 20, 300), (9, 33, 31), (6, 31, 40)])
def test_clip_smart_resize_matches_reference(shape):
    """Both references agree except on sides below 32 px: 4.57.6 raises, 5.x scales up (qwen_lite follows 5.x)."""
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import smart_resize

    from tests.reference import TF5

    args = dict(temporal_factor=2, factor=32, min_pixels=128 * 32 * 32, max_pixels=768 * 32 * 32)
    if min(shape[1:]) < 32 and not TF5:
        with pytest.raises(ValueError, match="must be larger than factor"):
            smart_resize(*shape, **args)
        assert min(clip_smart_resize(*shape, 32, 2, 131072, 786432)) >= 32
        return
    assert clip_smart_resize(*shape, 32, 2, 131072, 786432) == smart_resize(*shape, **args)


@pytest.mark.reference
def test_tf5_keeps_the_outer_vision_pair_qwen_lite_follows_4_57(processor, reference):
    """5.24.0 replaces only ``<|video_pad|>``, so the labelled groups stay inside the template's outer
    ``<|vision_start|>...<|vision_end|>``: ``<|vision_start|><0.2 seconds><|vision_start|>...<|vision_end|><|vision_end|>``.
    4.57.6 replaces the whole ``<|vision_start|><|video_pad|><|vision_end|>``; qwen_lite follows 4.57.6, the
    format Qwen3-VL's own pipeline (qwen-vl-utils + 4.57) trained and serves with, each group in one pair."""
    from transformers.feature_extraction_utils import BatchFeature
    from transformers.video_utils import VideoMetadata

    from tests.reference import TF5

    clip = random_video(4, 64, 64)
    text = prompt(VID)
    ours = processor(text=text, videos=[clip], fps=2.0)

    class Fixed:  # the video processor's output, taken from qwen_lite (only the text expansion is compared)
        temporal_patch_size = merge_size = 2

        def __call__(self, videos, **kwargs):
            meta = [VideoMetadata(total_num_frames=4, fps=2.0, frames_indices=[0, 1, 2, 3])]
            return BatchFeature(
                {
                    "pixel_values_videos": ours["pixel_values_videos"],
                    "video_grid_thw": ours["video_grid_thw"],
                    "video_metadata": meta,
                }  # fmt: skip
            )

    saved, reference.video_processor = reference.video_processor, Fixed()
    try:
        theirs = reference(text=[text], videos=[clip], return_tensors="pt")["input_ids"]
    finally:
        reference.video_processor = saved
    ids = ours["input_ids"]
    if not TF5:
        assert torch.equal(ids, theirs)
        return
    tok = get_tokenizer("qwen3_vl")
    vs, ve = tok.vision_start_token_id, tok.vision_end_token_id
    first = int((ids[0] == tok.encode("<")[0]).nonzero()[0])  # where our first label starts
    last = int((ids[0] == ve).nonzero()[-1])
    wrapped = torch.cat(
        [ids[0, :first], torch.tensor([vs]), ids[0, first : last + 1], torch.tensor([ve]), ids[0, last + 1 :]]
    )
    assert torch.equal(theirs[0], wrapped)


# -------------------------------------------------------------------------------------------- chat template

# chat_template.json of Qwen3-VL-{2B,4B,8B,32B}-Instruct (tools part included), verbatim; 5292 bytes with the
# final newline, SHA-256 3636d0f0bd6bef02654cdffdc447b79cb2cef8ab02cc75267345946291a489e4.
QWEN3_VL_CHAT_TEMPLATE = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0].role == 'system' %}
        {%- if messages[0].content is string %}
            {{- messages[0].content }}
        {%- else %}
            {%- for content in messages[0].content %}
                {%- if 'text' in content %}
                    {{- content.text }}
                {%- endif %}
            {%- endfor %}
        {%- endif %}
        {{- '\\n\\n' }}
    {%- endif %}
    {{- "# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\\n' }}
        {%- if messages[0].content is string %}
            {{- messages[0].content }}
        {%- else %}
            {%- for content in messages[0].content %}
                {%- if 'text' in content %}
                    {{- content.text }}
                {%- endif %}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- set image_count = namespace(value=0) %}
{%- set video_count = namespace(value=0) %}
{%- for message in messages %}
    {%- if message.role == "user" %}
        {{- '<|im_start|>' + message.role + '\\n' }}
        {%- if message.content is string %}
            {{- message.content }}
        {%- else %}
            {%- for content in message.content %}
                {%- if content.type == 'image' or 'image' in content or 'image_url' in content %}
                    {%- set image_count.value = image_count.value + 1 %}
                    {%- if add_vision_id %}Picture {{ image_count.value }}: {% endif -%}
                    <|vision_start|><|image_pad|><|vision_end|>
                {%- elif content.type == 'video' or 'video' in content %}
                    {%- set video_count.value = video_count.value + 1 %}
                    {%- if add_vision_id %}Video {{ video_count.value }}: {% endif -%}
                    <|vision_start|><|video_pad|><|vision_end|>
                {%- elif 'text' in content %}
                    {{- content.text }}
                {%- endif %}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role + '\\n' }}
        {%- if message.content is string %}
            {{- message.content }}
        {%- else %}
            {%- for content_item in message.content %}
                {%- if 'text' in content_item %}
                    {{- content_item.text }}
                {%- endif %}
            {%- endfor %}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and message.content) or (not loop.first) %}
                    {{- '\\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {%- if message.content is string %}
            {{- message.content }}
        {%- else %}
            {%- for content in message.content %}
                {%- if content.type == 'image' or 'image' in content or 'image_url' in content %}
                    {%- set image_count.value = image_count.value + 1 %}
                    {%- if add_vision_id %}Picture {{ image_count.value }}: {% endif -%}
                    <|vision_start|><|image_pad|><|vision_end|>
                {%- elif content.type == 'video' or 'video' in content %}
                    {%- set video_count.value = video_count.value + 1 %}
                    {%- if add_vision_id %}Video {{ video_count.value }}: {% endif -%}
                    <|vision_start|><|video_pad|><|vision_end|>
                {%- elif 'text' in content %}
                    {{- content.text }}
                {%- endif %}
            {%- endfor %}
        {%- endif %}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""


def render_qwen3_jinja(messages, add_generation_prompt=True, add_vision_id=False) -> str:
    import jinja2.sandbox

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(QWEN3_VL_CHAT_TEMPLATE).render(
        messages=messages, add_generation_prompt=add_generation_prompt, add_vision_id=add_vision_id
    )


CONVERSATIONS = {
    "text": [{"role": "user", "content": "Hi"}],
    "system list + images + video": [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "and"}, {"video": "v"}, {"image_url": "x"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A cat."}]},
        {"role": "user", "content": "More?"},
    ],
    "tools and a late system": [
        {"role": "user", "content": "Go"},
        {"role": "assistant", "content": "<think>\nok\n</think>\n\ncalling"},
        {"role": "tool", "content": "r1"},
        {"role": "tool", "content": [{"type": "image"}, {"type": "text", "text": "r2"}]},
        {"role": "system", "content": "ignored"},
        {"role": "user", "content": [{"type": "video"}]},
    ],
}  # fmt: skip


def test_chat_template_sha256():
    import hashlib

    assert len(QWEN3_VL_CHAT_TEMPLATE.encode()) == 5292
    digest = hashlib.sha256(QWEN3_VL_CHAT_TEMPLATE.encode()).hexdigest()
    assert digest == "3636d0f0bd6bef02654cdffdc447b79cb2cef8ab02cc75267345946291a489e4"


@pytest.mark.parametrize("name", list(CONVERSATIONS))
@pytest.mark.parametrize("flags", [(True, False), (False, True)])
def test_chat_template_matches_jinja(name, flags):
    messages = CONVERSATIONS[name]
    assert apply_qwen3_vl_chat_template(messages, *flags) == render_qwen3_jinja(messages, *flags)
    assert get_tokenizer("qwen3_vl").apply_chat_template(messages, *flags) == render_qwen3_jinja(
        messages, *flags
    )


def test_chat_template_refuses_what_it_would_drop():
    with pytest.raises(
        ValueError, match=r"messages\[1\]\['content'\]\[0\]: an image or video item in a system"
    ):
        apply_qwen3_vl_chat_template(
            [{"role": "user", "content": "a"}, {"role": "assistant", "content": [{"image": "x"}]}]
        )
    with pytest.raises(ValueError, match=r"messages\[0\]\['tool_calls'\]"):
        apply_qwen3_vl_chat_template([{"role": "assistant", "content": "", "tool_calls": [{"name": "f"}]}])
    with pytest.raises(TypeError, match="messages: expected a list"):
        apply_qwen3_vl_chat_template("hi")


# ---------------------------------------------------------------------------------------------- on its own


def test_tokenizer_qwen3_tokens():
    q3, q25 = get_tokenizer("qwen3_vl"), get_tokenizer()
    assert len(q3) == len(q25) + 4 == 151669
    assert q3.encode("<think>x</think>") == [151667, 87, 151668]
    assert len(q25.encode("<think>")) > 1  # plain text for Qwen2.5-VL
    assert [q3.image_token_id, q3.video_token_id, q3.vision_start_token_id, q3.vision_end_token_id] == [
        151655, 151656, 151652, 151653
    ]  # fmt: skip
    assert q3.decode([151667], skip_special_tokens=True) == "<think>"  # not special: kept
    with pytest.raises(ValueError, match="model_type: expected one of"):
        get_tokenizer("qwen4")


def test_processor_settings(processor):
    assert (processor.patch_size, processor.factor, processor.image_mean) == (16, 32, (0.5, 0.5, 0.5))
    assert processor.video_budget == "clip" and processor.video_timestamps
    out = processor(text=prompt(VID), videos=[random_video(4, 64, 64)], fps=2.0)
    assert "second_per_grid_ts" not in out
    assert "second_per_grid_ts" in Qwen25VLProcessor()(
        text=prompt(VID), videos=[random_video(4, 56, 56)], fps=2.0
    )


def test_messages_equal_text(processor):
    clip, image = random_video(6, 64, 64, 7), random_image(90, 120)
    messages = [
        {"role": "user", "content": [{"image": image}, {"video": list(clip), "fps": 3.0}, {"text": "?"}]}
    ]
    from_messages = processor(messages=messages)
    from_text = processor(text=apply_qwen3_vl_chat_template(messages), images=[image], videos=[clip], fps=3.0)
    for key in from_text:
        torch.testing.assert_close(from_messages[key], from_text[key], atol=0, rtol=0)


def test_bare_video_pad_and_errors(processor):
    clip = random_video(4, 64, 64)
    bare = processor(text="x<|video_pad|>y", videos=[clip], fps=2.0)
    wrapped = processor(text=f"x{VID}y", videos=[clip], fps=2.0)
    assert torch.equal(bare["input_ids"], wrapped["input_ids"])
    with pytest.raises(ValueError, match="videos: 1 videos were given but the text has only 0"):
        processor(text="no placeholder", videos=[clip], fps=2.0)
    with pytest.raises(ValueError, match="fps: frame rate must be a positive number"):
        frame_group_times([0, 1], 0)
    with pytest.raises(ValueError, match=r"indices\[1\]: expected a frame number"):
        frame_group_times([0, -1], 2.0)
    with pytest.raises(ValueError, match="video_total_pixels, video_budget"):
        Qwen25VLProcessor(video_budget="clip", video_total_pixels=10**6)
    with pytest.raises(ValueError, match="num_frames: a clip needs at least"):
        clip_smart_resize(1, 64, 64)


def test_from_pretrained_reads_a_transformers_folder(tmp_path):
    """Folders saved by transformers' Qwen2VLImageProcessor and Qwen3VLVideoProcessor (4.57.6 or 5.x)."""
    pytest.importorskip("transformers")
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    from tests.reference import reference_image_processor

    image = reference_image_processor(patch_size=16, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    image.save_pretrained(tmp_path)
    Qwen3VLVideoProcessor(size={"shortest_edge": 4096, "longest_edge": 10**6}).save_pretrained(tmp_path)
    with pytest.warns(UserWarning, match="do_sample_frames"):
        loaded = Qwen3VLProcessor.from_pretrained(tmp_path)
    assert (loaded.patch_size, loaded.image_mean, loaded.video_min_pixels, loaded.video_max_pixels) == (
        16, (0.5, 0.5, 0.5), 4096, 10**6
    )  # fmt: skip
    assert loaded.video_budget == "clip" and loaded.tokenizer.model_type == "qwen3_vl"

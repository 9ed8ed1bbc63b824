"""How an image reaches the model: transparency, EXIF orientation, paths and data URLs, array forms.

Handed case pipeline_fidelity/03 (a transparent pixel must reach the model white) lives on here, with
the kind it stands for: every mode that carries alpha or a transparency entry, video frames too.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from qwen_lite import Qwen25VLProcessor
from qwen_lite.processing import (
    apply_exif_orientation,
    denormalize,
    load_image,
    preprocess_images,
    smart_resize,
    to_rgb,
    unpatchify,
)
from qwen_lite.video import preprocess_video

IMG = "<|vision_start|><|image_pad|><|vision_end|>"
VID = "<|vision_start|><|video_pad|><|vision_end|>"
WHITE = [255, 255, 255]


def seen_by_model(pixel_values, grid_thw) -> np.ndarray:
    """The first image/frame as the model sees it, back in 0..255 (h, w, 3)."""
    frames = unpatchify(pixel_values, grid_thw)[0]
    return (denormalize(frames[0]).permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()


# ---------------------------------------------------------------- handed case 03


def test_case_03_transparent_pixel_reaches_the_model_white():
    # pipeline_fidelity/03_rgba_transparent_black.py: right half (0, 0, 0, 0), left half opaque red
    rgba = np.zeros((56, 56, 4), np.uint8)
    rgba[:, :28] = (200, 30, 30, 255)
    out = Qwen25VLProcessor()(text=IMG, images=[Image.fromarray(rgba, "RGBA")])
    image = seen_by_model(out["pixel_values"], out["image_grid_thw"])
    assert image[10, 50].tolist() == WHITE  # transparent: white, not the stored black
    assert image[10, 10].tolist() == [200, 30, 30]  # opaque: its colour


# ---------------------------------------------------------------- every mode with transparency


def png_roundtrip(image: Image.Image, **save) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **save)
    buffer.seek(0)
    loaded = Image.open(buffer)
    loaded.load()
    return loaded


def transparent_images() -> dict[str, Image.Image]:
    """One 2x1 image per mode: pixel (0, 0) fully transparent (stored colour not white), (1, 0) opaque.

    Built from explicit band data, so every Pillow the package supports (>= 10.1) builds the same images:
    Pillow 10.1's ``RGBA.convert("PA")`` drops the alpha band and re-quantises to the web palette (13.0
    keeps both), and it cannot save a 16-bit PNG with a transparency value (10.4 can; the file then loads
    as ``I;16`` with ``info["transparency"]``, which is what the ``I;16`` entry holds).
    """
    rgba = Image.fromarray(np.array([[[200, 10, 20, 0], [30, 60, 90, 255]]], np.uint8), "RGBA")
    palette = Image.fromarray(np.array([[0, 1]], np.uint8), "P")
    palette.putpalette([200, 10, 20, 30, 60, 90, 70, 80, 90] + [0] * 759)
    palette_alpha = palette.copy()
    palette_alpha.putalpha(Image.fromarray(np.array([[0, 255]], np.uint8), "L"))  # P + alpha band: PA
    p_index = palette.copy()
    p_index.info["transparency"] = 0  # palette index 0 is transparent
    # A per-index alpha table (tRNS) with a partial entry, so PNG keeps it as a table, not as one index.
    p_table = png_roundtrip(palette, transparency=bytes([0, 255, 128]))
    assert isinstance(p_table.info["transparency"], bytes)
    grey = Image.fromarray(np.array([[7, 99]], np.uint8))
    grey.info["transparency"] = 7
    rgb = Image.fromarray(np.array([[[1, 2, 3], [4, 5, 6]]], np.uint8))
    rgb.info["transparency"] = (1, 2, 3)
    i32 = Image.fromarray(np.array([[40, 80]], np.int32))
    i32.info["transparency"] = 40
    i16 = Image.frombytes("I;16", (2, 1), np.array([300, 80], "<u2").tobytes())
    i16.info["transparency"] = 300
    bilevel = Image.new("1", (2, 1), 0)
    bilevel.putpixel((1, 0), 1)
    bilevel = png_roundtrip(bilevel, transparency=0)
    return {
        "RGBA": rgba,
        "LA": Image.fromarray(np.array([[[50, 0], [120, 255]]], np.uint8), "LA"),
        "PA": palette_alpha,
        "RGBa": rgba.convert("RGBa"),
        "La": Image.new("La", (2, 1), (0, 0)),
        "P+tRNS index": p_index,
        "P+tRNS table": p_table,
        "L+tRNS": grey,
        "RGB+tRNS": rgb,
        "I+tRNS": i32,
        "I;16+tRNS": i16,
        "1+tRNS": bilevel,
    }


def test_fixture_modes_are_what_they_claim():
    # The table above must hold the modes it names on every supported Pillow (see its docstring).
    images = transparent_images()
    for kind, image in images.items():
        assert image.mode == kind.split("+")[0], kind
    assert np.array(images["PA"].convert("RGBA")).tolist() == [[[200, 10, 20, 0], [30, 60, 90, 255]]]


@pytest.mark.parametrize("kind", list(transparent_images()))
def test_every_mode_with_transparency_composites_over_white(kind):
    image = transparent_images()[kind]
    rgb = np.array(to_rgb(image))
    assert rgb[0, 0].tolist() == WHITE, kind
    if kind != "La":  # the opaque pixel keeps exactly the colour convert("RGB") gives it
        # (PIL asks for palette images with an alpha table to go through RGBA; the colours are the same)
        opaque = image.convert("RGBA").convert("RGB") if kind == "P+tRNS table" else image.convert("RGB")
        assert rgb[0, 1].tolist() == np.array(opaque)[0, 1].tolist(), kind
    # the same through the whole pipeline (load_image is what preprocess_images and video frames use)
    out = preprocess_images(image.resize((2, 1)) if kind == "La" else image)
    seen = seen_by_model(out["pixel_values"], out["image_grid_thw"])
    assert seen[0, 0].tolist() == WHITE, kind  # the transparent corner, upscaled to 56x56


def test_partial_alpha_equals_qwen_vl_utils_vllm_and_transformers_5():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 256, (64, 256, 4), dtype=np.uint8)
    values[..., 3] = np.arange(256)[None, :]  # every alpha value
    image = Image.fromarray(values, "RGBA")
    ours = np.array(to_rgb(image)).astype(int)
    # qwen-vl-utils to_rgb and vLLM: paste on white with the alpha band as the mask
    pasted = Image.new("RGB", image.size, (255, 255, 255))
    pasted.paste(image, mask=image.split()[3])
    # transformers 5.x convert_to_rgb: alpha_composite on opaque white (PIL images), and its float
    # formula for 4-channel arrays: round(a * rgb + (1 - a) * 255)
    composite = Image.alpha_composite(Image.new("RGBA", image.size, (255, 255, 255, 255)), image)
    alpha = values[..., 3:] / 255
    blended = np.round(alpha * values[..., :3] + (1 - alpha) * 255).astype(int)
    assert np.array_equal(ours, np.array(pasted))
    assert np.array_equal(ours, np.array(composite.convert("RGB")))
    assert np.array_equal(ours, blended)


def test_opaque_images_are_unchanged_by_compositing():
    rng = np.random.default_rng(1)
    values = rng.integers(0, 256, (30, 40, 4), dtype=np.uint8)
    values[..., 3] = 255
    rgba = Image.fromarray(values, "RGBA")
    # (Pillow 10.1's convert("PA") re-quantises the colours: still one PA image compared with itself.)
    for image in (rgba, rgba.convert("LA"), rgba.convert("PA"), rgba.convert("RGBa")):
        assert np.array_equal(np.array(to_rgb(image)), np.array(image.convert("RGB"))), image.mode
    # a transparency entry that no pixel uses changes nothing either
    rgb = Image.fromarray(values[..., :3])
    rgb.info["transparency"] = (1, 2, 3)
    values_rgb = values[..., :3].reshape(-1, 3)
    assert not (values_rgb == (1, 2, 3)).all(axis=1).any()
    assert np.array_equal(np.array(to_rgb(rgb)), values[..., :3])


@pytest.mark.reference
def test_transparency_against_the_pinned_and_the_newest_transformers():
    # A documented, deliberate difference from the pinned transformers 4.57.6: its convert_to_rgb is
    # image.convert("RGB"), which drops alpha, so a transparent pixel reaches the model as its stored
    # colour (black here). qwen-vl-utils (the model card's pipeline), transformers 5.x and vLLM composite
    # over white; the released model was trained and is served through those, so qwen_lite follows them.
    import transformers
    from transformers.image_transforms import convert_to_rgb

    rgba = np.zeros((56, 56, 4), np.uint8)
    rgba[:, :28] = (200, 30, 30, 255)
    image = Image.fromarray(rgba, "RGBA")
    ours = np.array(to_rgb(image))
    theirs = np.array(convert_to_rgb(image))
    assert ours[10, 50].tolist() == WHITE
    if transformers.__version__.startswith("4."):
        assert theirs[10, 50].tolist() == [0, 0, 0]  # 4.57.6: the stored black
    else:
        assert theirs[10, 50].tolist() == WHITE  # 5.x: white, like qwen_lite
    assert ours[10, 10].tolist() == theirs[10, 10].tolist() == [200, 30, 30]  # opaque pixels agree


def test_transparent_video_frames_are_white_too():
    frame = np.zeros((56, 56, 4), np.uint8)  # fully transparent black
    video = preprocess_video([frame, frame], fps=2.0, sample_fps=None, min_pixels=3136, max_pixels=3136)
    assert seen_by_model(video["pixel_values_videos"], video["video_grid_thw"])[5, 5].tolist() == WHITE
    as_pil = preprocess_video([Image.fromarray(frame, "RGBA")] * 2, fps=2.0, sample_fps=None, min_pixels=3136)
    assert torch.equal(as_pil["pixel_values_videos"], video["pixel_values_videos"])


def test_rgba_and_float_arrays_equal_their_pil_form():
    rng = np.random.default_rng(2)
    values = rng.integers(0, 256, (33, 47, 4), dtype=np.uint8)
    from_array = preprocess_images(values)["pixel_values"]
    from_pil = preprocess_images(Image.fromarray(values, "RGBA"))["pixel_values"]
    assert torch.equal(from_array, from_pil)
    rgb = values[..., :3]
    as_float = rgb.astype(np.float64) / 255  # channels-last float in [0, 1]: round(x * 255) maps back
    assert torch.equal(preprocess_images(as_float)["pixel_values"], preprocess_images(rgb)["pixel_values"])


# ---------------------------------------------------------------- EXIF orientation


@pytest.fixture
def rotated_jpeg(tmp_path):
    """A JPEG stored 100 px wide, 50 px high (left half red), with EXIF orientation 6 (rotate 90° CW)."""
    stored = np.zeros((50, 100, 3), np.uint8)
    stored[:, :50] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    return path


def test_exif_orientation_is_applied_as_a_viewer_shows_it(rotated_jpeg):
    viewer = ImageOps.exif_transpose(Image.open(rotated_jpeg)).convert("RGB")
    assert viewer.size == (50, 100)  # shown 50 wide, 100 high
    for source in (rotated_jpeg, str(rotated_jpeg), f"file://{rotated_jpeg}", Image.open(rotated_jpeg)):
        image = load_image(source)
        assert image.size == (50, 100)
        assert np.array_equal(np.array(image), np.array(viewer))
    top, bottom = np.array(viewer)[10, 25], np.array(viewer)[90, 25]
    assert top[0] > 200 and top[1] < 40 and bottom.max() < 40  # the red half is on top once rotated
    grid = preprocess_images(str(rotated_jpeg))["image_grid_thw"].tolist()
    assert grid == [[1, *(side // 14 for side in smart_resize(100, 50))]] == [[1, 8, 4]]


def test_images_without_orientation_are_returned_as_is():
    image = Image.new("RGB", (8, 4), (1, 2, 3))
    assert apply_exif_orientation(image) is image


@pytest.mark.reference
def test_exif_against_transformers(rotated_jpeg):
    # transformers' load_image (paths, URLs; 4.57 and 5.x) applies the orientation, like qwen_lite; its
    # image processor given the PIL object does not, and qwen-vl-utils' fetch_image does not either
    # (both read the stored 100x50 pixels). A viewer shows the rotated image, so qwen_lite rotates.
    from transformers.image_utils import load_image as hf_load_image

    assert hf_load_image(str(rotated_jpeg)).size == load_image(str(rotated_jpeg)).size == (50, 100)
    assert Image.open(rotated_jpeg).convert("RGB").size == (100, 50)  # what the others read


# ---------------------------------------------------------------- paths and data URLs


def test_paths_file_urls_and_base64_data_urls(tmp_path):
    rng = np.random.default_rng(3)
    image = Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))
    path = tmp_path / "picture.png"
    image.save(path)
    data_url = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
    expected = preprocess_images(image)["pixel_values"]
    for source in (path, str(path), f"file://{path}", data_url):
        assert torch.equal(preprocess_images(source)["pixel_values"], expected), str(source)[:40]


@pytest.mark.parametrize(
    "source, message",
    [
        (
            "https://example.com/cat.png",
            r"images\[0\]: 'https://example.com/cat.png' is a web address; qwen_lite never",
        ),
        ("http://example.com/cat.png", "never uses the network"),
        ("data:image/png;base64,@@@", r"images\[0\]: the data URL's base64 payload is invalid"),
        ("data:text/plain,hello", r"images\[0\]: a data URL must look like 'data:image/png;base64"),
        ("data:image/png;base64," + base64.b64encode(b"not a png").decode(), "the data URL is not an image"),
        ("/no/such/file.png", r"images\[0\]: no image file at '/no/such/file.png'"),
    ],
)
def test_bad_image_sources(source, message):
    with pytest.raises(ValueError, match=message):
        preprocess_images([source])


def test_a_file_that_is_no_image(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ValueError, match=r"images\[0\]: '.*notes.txt' is not an image PIL can read"):
        preprocess_images([str(path)])

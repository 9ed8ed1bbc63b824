"""Where transformers 4.57.6 and 5.x disagree: the catalogue book/data/version_differences.json, checked live.

Each catalogue entry names a behaviour, the value under each reference, qwen_lite's value and which reference
qwen_lite follows. For every entry a probe below computes the value on the entry's input twice: with the
transformers this venv has (4.57.6 in .venv, 5.24.0 in .venv-tf5 via scripts/test_reference.sh) and with
qwen_lite. The test asserts the committed column of this transformers equals the live reference, qwen_lite's
committed column equals qwen_lite live, and that column equals the one of the reference it claims to follow.
So the table in chapter 10 cannot go stale: a new transformers pin without a column fails here, and so does
any change of behaviour on either side.

Also here: ``generate`` on the one-real-token row equals the reference token for token (4.57.6 by default;
5.x with ``deltas_count_pads=False``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from qwen_lite.config import from_hf_dict, tiny
from qwen_lite.generation import generate
from qwen_lite.model import Qwen25VLForConditionalGeneration
from qwen_lite.processing import IMAGE_MEAN, IMAGE_STD, preprocess_images
from qwen_lite.processor import Qwen25VLProcessor
from qwen_lite.rope import get_rope_index
from qwen_lite.weights import from_pretrained, save_pretrained
from tests.reference import (
    copy_weights_to_reference,
    hf_model,
    no_init_weights,
    reference_forward,
    reference_generate,
    reference_image_processor,
    reference_rope_index,
)

pytestmark = pytest.mark.reference

CATALOGUE = Path(__file__).parents[1] / "book" / "data" / "version_differences.json"
ENTRIES = json.loads(CATALOGUE.read_text())["differences"]

# The tiny model with a 4096-token vocabulary (special tokens moved inside it), as tests/model_inputs.py.
_IDS = dict(image_token_id=4000, video_token_id=4001, vision_start_token_id=4002, vision_end_token_id=4003)
CFG = tiny().replace(
    text=dataclasses.replace(tiny().text, vocab_size=4096), **_IDS, bos_token_id=4004, eos_token_id=4005
)
VS, VE, IMG, VID, PAD = 4002, 4003, 4000, 4001, 4004


def block(token: int, grid_thw) -> list[int]:
    t, h, w = grid_thw
    return [VS] + [token] * (t * h * w // 4) + [VE]


@pytest.fixture(scope="module")
def models():
    """(qwen_lite model, reference) with the same random weights."""
    torch.manual_seed(0)
    ours = Qwen25VLForConditionalGeneration(CFG).eval()
    with no_init_weights():
        reference = hf_model(CFG)
    copy_weights_to_reference(ours, reference)
    return ours, reference


def rope_ours(input_ids, **kwargs):
    return get_rope_index(
        input_ids, image_token_id=IMG, video_token_id=VID, vision_start_token_id=VS, **kwargs
    )


def first_generated_ours(input_ids, deltas) -> list[int]:
    return (input_ids.shape[1] + deltas[:, 0]).tolist()


# --- probes: one per catalogue id; each returns (reference value, qwen_lite value) ------------------------


def transparent_images() -> dict[str, Image.Image]:
    images = {
        "RGBA": Image.new("RGBA", (56, 56), (255, 0, 0, 0)),
        "LA": Image.new("LA", (56, 56), (30, 0)),
        "PA": Image.new("PA", (56, 56), (0, 0)),
        "P_tRNS": Image.new("P", (56, 56), 0),
        "L_tRNS": Image.new("L", (56, 56), 30),
        "RGB_tRNS": Image.new("RGB", (56, 56), (255, 0, 0)),
        "RGBA_half": Image.new("RGBA", (56, 56), (255, 0, 0, 128)),
    }
    for name in ("PA", "P_tRNS"):
        images[name].putpalette([255, 0, 0] * 256)
    images["P_tRNS"].info["transparency"] = 0
    images["L_tRNS"].info["transparency"] = 30
    images["RGB_tRNS"].info["transparency"] = (255, 0, 0)
    return images


def first_pixel_rgb(pixel_values: torch.Tensor) -> list[int]:
    """Unnormalised 0..255 RGB of the first pixel of the first patch (3 x 2 x 14 x 14 layout)."""
    normalised = pixel_values[0].view(3, 2, 14, 14)[:, 0, 0, 0].double()
    rgb = normalised * torch.tensor(IMAGE_STD).double() + torch.tensor(IMAGE_MEAN).double()
    return (rgb * 255).round().int().tolist()


def probe_transparent_pixels(models):
    processor = reference_image_processor()
    images = transparent_images()
    theirs = {
        k: first_pixel_rgb(processor(images=[im], return_tensors="pt")["pixel_values"])
        for k, im in images.items()
    }
    ours = {k: first_pixel_rgb(preprocess_images(im)["pixel_values"]) for k, im in images.items()}
    return theirs, ours


def probe_lab_image(models):
    """5.x treats any image with a band named "A" as having alpha; LAB's "A" is the a* colour axis. Pillow's
    LAB -> RGBA then copies the pixel's padding byte into alpha, and that byte is 0 after a resize: the image
    reaches 5.x white. qwen_lite, like 4.57 and qwen-vl-utils, converts LAB with convert("RGB")."""
    image = Image.new("RGB", (112, 112), (200, 30, 30)).resize((56, 56)).convert("LAB")
    theirs = first_pixel_rgb(reference_image_processor()(images=[image], return_tensors="pt")["pixel_values"])
    return theirs, first_pixel_rgb(preprocess_images(image)["pixel_values"])


def probe_channel_axis_of_pil_images(models):
    """4.57 guesses the channel axis from the array's shape, PIL images too: a 3-pixel-high RGB image reads as
    channels-first (3, 300, 3) -> transposed; a 1x1 one crashes. 5.x reads PIL images channels-last."""
    processor = reference_image_processor()
    images = {
        "3x300": Image.new("RGB", (300, 3), (10, 20, 30)),
        "1x1": Image.new("RGB", (1, 1), (10, 20, 30)),
    }

    def grid(call):
        try:
            return call()["image_grid_thw"].tolist()
        except ValueError:
            return "ValueError"

    theirs = {k: grid(lambda im=im: processor(images=[im], return_tensors="pt")) for k, im in images.items()}
    ours = {k: grid(lambda im=im: preprocess_images(im)) for k, im in images.items()}
    return theirs, ours


@functools.cache
def hf_processor():
    """The reference Qwen2_5_VLProcessor of tests/test_processor.py (released tokenizer files, PIL images)."""
    from tests.test_processor import reference_processor
    from tests.test_tokenizer import released_tokenizer

    with tempfile.TemporaryDirectory() as folder:
        return reference_processor(released_tokenizer(Path(folder)))  # loaded into memory


def probe_processor_mm_token_type_ids(models):
    """5.x's processor returns mm_token_type_ids unasked (its model needs them: forward_without_mm_token_type_ids);
    4.57's and qwen_lite's return them when asked (``return_mm_token_type_ids=True``)."""
    text, image = "<|vision_start|><|image_pad|><|vision_end|>Hi", Image.new("RGB", (56, 56), (10, 20, 30))
    theirs = "mm_token_type_ids" in hf_processor()(text=text, images=[image], return_tensors="pt")
    return theirs, "mm_token_type_ids" in Qwen25VLProcessor()(text=text, images=[image])


def probe_video_pad_token_type(models):
    """4.57's processor types only image pads (1): a video pad gets 0, as text. 5.x types it 2, and its model
    takes those types for 3-D positions. 5.x's video processor needs torchvision (absent), so its types come
    from ``create_mm_token_type_ids``, the method its ``__call__`` uses; 4.57's ``__call__`` takes the
    placeholder without a video."""
    text, video_pad = "<|vision_start|><|video_pad|><|vision_end|>", 151656
    processor = hf_processor()
    if hasattr(processor, "create_mm_token_type_ids"):  # 5.x
        ids = processor.tokenizer(text)["input_ids"]
        types = processor.create_mm_token_type_ids([ids])[0]
    else:
        out = processor(text=text, return_mm_token_type_ids=True)
        ids, types = out["input_ids"][0], out["mm_token_type_ids"][0]
    theirs = sorted({int(t) for i, t in zip(ids, types) if i == video_pad})
    out = Qwen25VLProcessor()(
        text=text, videos=[np.zeros((2, 28, 28, 3), np.uint8)], return_mm_token_type_ids=True
    )
    ours = out["mm_token_type_ids"][out["input_ids"] == video_pad].unique().tolist()
    return theirs, ours


def probe_fractional_second_per_grid(models):
    _, reference = models
    grid = torch.tensor([[4, 2, 4]])
    ids = torch.tensor([[5] + block(VID, (4, 2, 4)) + [6]])
    theirs, ours = {}, {}
    for key, seconds in (("0.5", 0.5), ("1.5", 1.5), ("0.667", 2 / 3)):
        kwargs = dict(video_grid_thw=grid, second_per_grid_ts=torch.tensor([seconds]))
        ref = reference_rope_index(reference, ids, **kwargs).positions
        own, _ = rope_ours(ids, **kwargs)
        theirs[key] = (ref[0, 0, 2:10:2] - 2).tolist()  # block starts at 2; 2 tokens per grid step
        ours[key] = (own[0, 0, 2:10:2] - 2).tolist()
    return theirs, ours


def probe_text_after_long_video(models):
    _, reference = models
    grid = torch.tensor([[3, 4, 6]])
    ids = torch.tensor([list(range(1, 15)) + block(VID, (3, 4, 6)) + [2, 3]])
    kwargs = dict(video_grid_thw=grid, second_per_grid_ts=torch.tensor([1.0]))
    ref = reference_rope_index(reference, ids, **kwargs)
    positions, deltas = rope_ours(ids, **kwargs)
    after = 14 + 1 + 18  # 14 text tokens, vision_start, 18 video tokens: then <|vision_end|>
    theirs = {"vision_end": int(ref.positions[0, 0, after]), "first_generated": int(ref.next_positions[0])}
    ours = {
        "vision_end": int(positions[0, 0, after]),
        "first_generated": first_generated_ours(ids, deltas)[0],
    }
    return theirs, ours


def padded_image_batch():
    grid = torch.tensor([[1, 4, 4], [1, 4, 4]])
    rows = [[5] + block(IMG, (1, 4, 4)), [3] + block(IMG, (1, 4, 4)) + [7, 8, 9]]
    ids = torch.tensor([[PAD] * 3 + rows[0], rows[1]])
    mask = torch.tensor([[0] * 3 + [1] * 7, [1] * 10])
    return ids, dict(image_grid_thw=grid, attention_mask=mask)


def probe_pad_position_value(models):
    _, reference = models
    ids, kwargs = padded_image_batch()
    ref = reference_rope_index(reference, ids, **kwargs)
    positions, _ = rope_ours(ids, **kwargs)
    pads = kwargs["attention_mask"] == 0
    (theirs,), (ours,) = ref.positions[:, pads].unique().tolist(), positions[:, pads].unique().tolist()
    return theirs, ours


def probe_rope_deltas_padded_row(models):
    _, reference = models
    ids, kwargs = padded_image_batch()
    ref = reference_rope_index(reference, ids, **kwargs)
    _, deltas = rope_ours(ids, **kwargs)
    theirs = {"rope_deltas": ref.deltas[:, 0].tolist(), "first_generated": ref.next_positions.tolist()}
    ours = {"rope_deltas": deltas[:, 0].tolist(), "first_generated": first_generated_ours(ids, deltas)}
    return theirs, ours


def one_token_rows():
    ids = torch.tensor([[PAD, PAD, 9], [9, 11, 1879], [PAD, PAD, PAD]])
    return ids, torch.tensor([[0, 0, 1], [1, 1, 1], [0, 0, 0]])


def probe_one_real_token_text_row(models):
    _, reference = models
    ids, mask = one_token_rows()
    ref = reference_rope_index(reference, ids, attention_mask=mask)
    _, deltas = rope_ours(ids, attention_mask=mask)
    theirs = {"rope_deltas": ref.deltas[:, 0].tolist(), "first_generated": ref.next_positions.tolist()}
    ours = {"rope_deltas": deltas[:, 0].tolist(), "first_generated": first_generated_ours(ids, deltas)}
    return theirs, ours


def probe_forward_without_mm_token_type_ids(models):
    ours, reference = models
    torch.manual_seed(3)
    pixel_values, grid = torch.randn(24, CFG.vision.patch_dim), torch.tensor([[1, 4, 6]])
    ids = torch.tensor([[5, 6] + block(IMG, (1, 4, 6)) + [7, 8]])
    with torch.no_grad():
        three_d = reference_forward(
            reference, input_ids=ids, pixel_values=pixel_values, image_grid_thw=grid
        ).logits
        bare = reference(input_ids=ids, pixel_values=pixel_values, image_grid_thw=grid).logits
        own = ours(ids, pixel_values=pixel_values, image_grid_thw=grid).logits
    return torch.allclose(bare, three_d, atol=1e-4, rtol=0), torch.allclose(own, three_d, atol=1e-4, rtol=0)


def probe_default_load_dtype(models):
    """The dtype(s) of every weight after ``from_pretrained(folder)`` of a folder whose config.json says bfloat16.

    qwen_lite follows 5.x (the checkpoint's dtype, ``dtype="auto"``): a 16 GB laptop cannot hold the 3B in
    float32 (issue 16). More rules of ``dtype="auto"``, each against transformers: tests/test_load_dtype.py.
    """
    from transformers import Qwen2_5_VLForConditionalGeneration

    def names(model):
        found = sorted({str(p.dtype).removeprefix("torch.") for p in model.parameters()})
        return found[0] if len(found) == 1 else found

    ours, reference = models
    with tempfile.TemporaryDirectory() as folder:
        reference.save_pretrained(folder)
        config_file = Path(folder) / "config.json"
        config = json.loads(config_file.read_text())
        config["torch_dtype"] = config["dtype"] = "bfloat16"
        config_file.write_text(json.dumps(config))
        theirs = names(Qwen2_5_VLForConditionalGeneration.from_pretrained(folder))
        own = names(from_pretrained(folder))
    return theirs, own


def config_layout(config: dict) -> dict:
    if "rope_scaling" in config:
        rope_key = "rope_scaling"
    elif "rope_parameters" in config:
        rope_key = "rope_parameters"
    else:
        text = config.get("text_config", {})
        rope_key = next(f"text_config.{k}" for k in ("rope_scaling", "rope_parameters") if k in text)
    return {"text_keys_at_top_level": "hidden_size" in config, "rope_key": rope_key}


def probe_config_json_layout(models):
    ours, reference = models
    with tempfile.TemporaryDirectory() as theirs_dir, tempfile.TemporaryDirectory() as ours_dir:
        reference.save_pretrained(theirs_dir)
        save_pretrained(ours, ours_dir)
        theirs_config = json.loads((Path(theirs_dir) / "config.json").read_text())
        ours_config = json.loads((Path(ours_dir) / "config.json").read_text())
    return config_layout(theirs_config), config_layout(ours_config)


PROBES = {name.removeprefix("probe_"): fn for name, fn in globals().items() if name.startswith("probe_")}


def test_every_entry_has_a_probe_and_every_probe_an_entry():
    assert sorted(e["id"] for e in ENTRIES) == sorted(PROBES)
    for entry in ENTRIES:
        assert set(entry) == {"id", "what", "input", "values", "follows", "why"}, entry["id"]
        assert set(entry["values"]) == {"4.57.6", "5.24.0", "qwen_lite"}, entry["id"]
        assert entry["values"]["4.57.6"] != entry["values"]["5.24.0"], f"{entry['id']}: not a difference"
        # The column qwen_lite claims to follow is the one it has.
        assert entry["values"]["qwen_lite"] == entry["values"][entry["follows"]], entry["id"]


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["id"] for e in ENTRIES])
def test_catalogue_matches_this_reference_and_qwen_lite(entry, models):
    from tests.reference import TRANSFORMERS_VERSION

    assert TRANSFORMERS_VERSION in entry["values"], (
        f"book/data/version_differences.json has no column for transformers {TRANSFORMERS_VERSION}: "
        "record this version's values (or pin one of the catalogued versions)"
    )
    theirs, ours = PROBES[entry["id"]](models)
    assert theirs == entry["values"][TRANSFORMERS_VERSION], (
        f"transformers {TRANSFORMERS_VERSION} now gives {theirs}"
    )
    assert ours == entry["values"]["qwen_lite"], f"qwen_lite now gives {ours}"


def test_qwen_lite_reads_the_config_json_this_reference_writes(models):
    """Whatever the layout (catalogue entry config_json_layout), the file loads back to the same config."""
    _, reference = models
    with tempfile.TemporaryDirectory() as folder:
        reference.save_pretrained(folder)
        config = json.loads((Path(folder) / "config.json").read_text())
    assert from_hf_dict(config) == CFG


# --- generate on the one-real-token row, token for token -------------------------------------------------


def greedy_with_rule(model, input_ids, attention_mask, steps: int, deltas_count_pads: bool) -> torch.Tensor:
    """A plain greedy loop on qwen_lite's forward, with the rope rule chosen explicitly."""
    positions, deltas = rope_ours(
        input_ids, attention_mask=attention_mask, deltas_count_pads=deltas_count_pads
    )
    with torch.no_grad():
        out = model(input_ids, attention_mask=attention_mask, position_ids=positions, use_cache=True)
        tokens = []
        for _ in range(steps):
            new = out.logits[:, -1].argmax(-1)
            tokens.append(new)
            attention_mask = torch.cat([attention_mask, torch.ones_like(attention_mask[:, :1])], 1)
            out = model(new[:, None], attention_mask=attention_mask, past_key_values=out.past_key_values,
                        rope_deltas=deltas)  # fmt: skip
    return torch.cat([input_ids, torch.stack(tokens, 1)], 1)


def test_generate_on_a_one_real_token_row_equals_the_reference(models):
    """qwen_lite's ``generate`` equals 4.57.6 token for token; the other rule reproduces 5.x's generate."""
    from tests.reference import TRANSFORMERS_VERSION

    ours, reference = models
    ids, mask = one_token_rows()
    ids, mask = ids[:2], mask[:2]  # the one-token row and a full row
    steps = 6
    with torch.no_grad():
        theirs = reference_generate(reference, input_ids=ids, attention_mask=mask, max_new_tokens=steps,
                                    min_new_tokens=steps, do_sample=False, pad_token_id=PAD)  # fmt: skip
    own = generate(ours, ids, attention_mask=mask, max_new_tokens=steps, eos_token_id=[], pad_token_id=PAD)
    assert torch.equal(own, greedy_with_rule(ours, ids, mask, steps, deltas_count_pads=True))
    rule = TRANSFORMERS_VERSION.startswith("4.")  # the rule of the reference this venv runs
    assert torch.equal(theirs, greedy_with_rule(ours, ids, mask, steps, deltas_count_pads=rule))
    if rule:
        assert torch.equal(own, theirs)  # the default: transformers 4.57.6 token for token

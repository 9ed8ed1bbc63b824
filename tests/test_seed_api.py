"""The seed README's API: its usage example runs, and its keywords map onto the real architecture."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from PIL import Image

from qwen_lite import accounting
from qwen_lite import config as C
from qwen_lite.processing import preprocess_images
from qwen_lite.seed_api import (
    Qwen25VLModel,
    default_kv_heads,
    default_mrope_section,
    preprocess_image,
    seed_config,
    tokenizer,
)

SEED_README = Path("/work/shared/seed/Qwen25_VL_Architecture_README.md")
SMALL = dict(embed_dim=64, vision_depth=2, vision_num_heads=4, llm_dim=64, llm_depth=2, llm_num_heads=4)


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    from matplotlib import cbook

    return Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB")


@pytest.fixture(scope="module")
def small_model() -> Qwen25VLModel:
    torch.manual_seed(0)
    return Qwen25VLModel(**SMALL).eval()


def seed_example() -> str:
    """The README's usage example, with the model's sizes made small (the vocabulary stays real)."""
    text = SEED_README.read_text(encoding="utf-8") if SEED_README.exists() else pytest.skip("no seed README")
    code = re.search(r"## 使用示例\s*```python\n(.*?)```", text, re.S).group(1)
    for name, value in SMALL.items():
        code, n = re.subn(rf"\b{name}=[\d.]+,", f"{name}={value},", code)
        assert n == 1, name
    return code


def test_seed_example_runs_as_written(photo):
    namespace = {"Qwen25VLModel": Qwen25VLModel, "preprocess_image": preprocess_image, "tokenizer": tokenizer}
    namespace["image"] = photo
    torch.manual_seed(0)
    exec(seed_example(), namespace)
    prompt = namespace["input_ids"]
    assert namespace["image_tensor"].shape == (1, 3, 224, 224)
    assert prompt.shape == (1, len(tokenizer.encode("描述这张图片")))
    # 224 px -> 16x16 patches -> 8x8 = 64 merged tokens, between <|vision_start|> and <|vision_end|>.
    assert namespace["outputs"].logits.shape == (1, 1 + 64 + 1 + prompt.shape[1], 151936)
    generated = namespace["generated_ids"]
    assert generated.shape[0] == 1 and prompt.shape[1] < generated.shape[1] <= 100
    assert torch.equal(generated[:, : prompt.shape[1]], prompt)
    assert namespace["generated_text"].startswith("描述这张图片")


def test_seed_defaults_map_to_the_documented_real_config():
    cfg = seed_config()
    v, t = cfg.vision, cfg.text
    assert (v.hidden_size, v.depth, v.num_heads, v.intermediate_size) == (1024, 24, 16, 4096)
    assert v.window_size == 112 and v.fullatt_block_indexes == (7, 15, 23)  # 8 patches; every 8th block
    assert (v.patch_size, v.in_channels, v.out_hidden_size) == (14, 3, 2048)
    assert (t.hidden_size, t.num_hidden_layers, t.num_attention_heads) == (2048, 32, 32)
    assert t.num_key_value_heads == 4  # GQA: the divisor of 32 heads nearest 32/8
    assert (t.intermediate_size, t.mrope_section, t.max_position_embeddings) == (8192, (8, 12, 12), 4096)
    assert t.vocab_size == 151936 and not t.tie_word_embeddings


def test_seed_model_at_default_sizes_builds_on_meta():
    with torch.device("meta"):
        model = Qwen25VLModel()
    numel = sum(p.numel() for p in model.parameters())
    assert numel == sum(accounting.parameter_counts(seed_config()).values())
    vision = sum(accounting.parameter_counts(seed_config())[k] for k in accounting.VISION_COMPONENTS)
    assert vision == 429_399_040  # the seed's own sizes: far from its "about 675M"


def test_mapping_reaches_the_released_models():
    assert seed_config(**released_3b_keywords()) == C.qwen25vl_3b()
    seven = dict(llm_dim=3584, llm_depth=28, llm_num_heads=28, llm_mlp_ratio=18944 / 3584, vocab_size=152064)
    assert seed_config(**{**released_3b_keywords(), **seven, "tie_word_embeddings": False}) == C.qwen25vl_7b()


def released_3b_keywords() -> dict:
    return dict(
        embed_dim=1280,
        vision_depth=32,
        vision_mlp_ratio=3420 / 1280,
        llm_depth=36,
        llm_num_heads=16,
        llm_mlp_ratio=11008 / 2048,
        max_position_embeddings=128000,
        tie_word_embeddings=True,
    )


def test_default_heads_and_rope_split():
    assert [default_kv_heads(h) for h in (16, 28, 64, 32, 4, 1)] == [2, 4, 8, 4, 1, 1]
    assert default_mrope_section(128) == (16, 24, 24) and default_mrope_section(16) == (2, 3, 3)
    assert seed_config(llm_num_kv_heads=8).text.num_key_value_heads == 8


def test_pixels_and_logits_equal_the_real_pipeline(small_model, photo):
    """The seed path == processor pixels for the 224x224 image + a hand-built prompt."""
    ids = tokenizer.encode("描述这张图片", return_tensors="pt")
    image_tensor = preprocess_image(photo)
    inputs = small_model.prepare_inputs(ids, image_tensor)
    reference = preprocess_images(photo.resize((224, 224), resample=Image.Resampling.BICUBIC))
    assert torch.equal(inputs["pixel_values"], reference["pixel_values"])
    assert inputs["image_grid_thw"].tolist() == [[1, 16, 16]]
    cfg = small_model.config
    block = [cfg.vision_start_token_id, *[cfg.image_token_id] * 64, cfg.vision_end_token_id]
    assert inputs["input_ids"].tolist() == [block + ids[0].tolist()]
    with torch.no_grad():
        expected = small_model.model(input_ids=inputs["input_ids"], **reference).logits
        got = small_model(input_ids=ids, vision_input=image_tensor).logits
    torch.testing.assert_close(got, expected, atol=0, rtol=0)


def test_video_and_batch(small_model):
    torch.manual_seed(1)
    video = torch.rand(2, 3, 3, 56, 84)  # 3 frames -> padded to 4 -> grid (2, 4, 6) -> 12 tokens
    ids = torch.tensor([[100, 200], [300, 400]])
    small_model.img_size = None  # use the frames as given
    try:
        inputs = small_model.prepare_inputs(ids, video, is_video=True)
        with torch.no_grad():
            logits = small_model(input_ids=ids, vision_input=video, is_video=True).logits
    finally:
        small_model.img_size = 224
    assert inputs["video_grid_thw"].tolist() == [[2, 4, 6], [2, 4, 6]]
    assert inputs["second_per_grid_ts"] == [1.0, 1.0]  # 2 frames per grid step at 2 fps
    assert (inputs["input_ids"] == small_model.config.video_token_id).sum(1).tolist() == [12, 12]
    assert logits.shape == (2, 2 + 12 + 2, 151936)


def test_inputs_are_resized_to_img_size(small_model):
    inputs = small_model.prepare_inputs(torch.tensor([[1]]), torch.rand(1, 3, 100, 150))
    assert inputs["image_grid_thw"].tolist() == [[1, 16, 16]]
    assert preprocess_image(torch.rand(3, 100, 150), img_size=None).shape == (1, 3, 112, 140)


def test_errors(small_model):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        small_model(input_ids=torch.tensor([[1]]), vision_input=torch.full((1, 3, 224, 224), 2.0))
    with pytest.raises(ValueError, match="vision_input"):
        small_model(input_ids=torch.tensor([[1]]), vision_input=torch.rand(3, 224, 224))
    with pytest.raises(ValueError, match="vocab_size"):
        seed_config(vocab_size=32000)
    with pytest.raises(ValueError, match="multiple of"):
        Qwen25VLModel(img_size=100, **SMALL)
    with pytest.raises(ValueError, match="max_length"):
        small_model.generate(input_ids=torch.tensor([[1, 2, 3]]), max_length=3)


def test_seed_generate_inherits_the_generation_config_and_its_checks(small_model, tmp_path):
    """Qwen25VLModel.generate is qwen_lite's generate: the model's generation_config supplies the defaults
    (end ids, sampling, penalty), keywords override them, and bad values are refused naming the argument."""
    from qwen_lite.generation import GenerationConfig
    from qwen_lite.weights import save_pretrained

    assert small_model.generation_config == GenerationConfig.released(small_model.config)
    ids = torch.tensor([[100, 200, 300]])
    image = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    free = small_model.generate(input_ids=ids, vision_input=image, max_length=9, eos_token_id=[])
    assert free.shape == (1, 9)
    # An end id: generation stops right after it, without the keyword once it is in the config.
    stop = int(free[0, 5])
    small_model.model.generation_config = GenerationConfig(eos_token_id=stop, pad_token_id=0)
    try:
        stopped = small_model.generate(input_ids=ids, vision_input=image, max_length=9)
    finally:
        small_model.model.generation_config = GenerationConfig.released(small_model.config)
    assert stopped.shape == (1, 6) and torch.equal(stopped, free[:, :6])
    # The same numbers as the real model's generate on the prepared inputs.
    inputs = small_model.prepare_inputs(ids, image)
    direct = small_model.model.generate(**inputs, max_new_tokens=6, repetition_penalty=0.01, eos_token_id=[])
    seed = small_model.generate(
        input_ids=ids, vision_input=image, max_length=9, repetition_penalty=0.01, eos_token_id=[]
    )
    assert torch.equal(seed, direct[:, -9:]) and not torch.equal(
        seed, free
    )  # < 1 rewards repeats: the answer changes
    for kwargs, error, name in [(dict(top_k=-1, do_sample=True), ValueError, "top_k"),
                                (dict(repetition_penalty=0.0), ValueError, "repetition_penalty"),
                                (dict(num_beams=3), TypeError, "num_beams"),
                                (dict(max_new_tokens=4), TypeError, "max_length"),
                                (dict(max_length=5.5), TypeError, "max_length")]:  # fmt: skip
        kwargs.setdefault("max_length", 6)
        with pytest.raises(error, match=name):
            small_model.generate(input_ids=ids, **kwargs)
    # from_pretrained: the folder's generation_config.json.
    small_model.model.generation_config = GenerationConfig(eos_token_id=[stop], do_sample=True, top_k=1)
    try:
        save_pretrained(small_model.model, tmp_path)
    finally:
        small_model.model.generation_config = GenerationConfig.released(small_model.config)
    loaded = Qwen25VLModel.from_pretrained(tmp_path, img_size=224)
    assert loaded.generation_config == GenerationConfig(eos_token_id=[stop], do_sample=True, top_k=1)
    assert torch.equal(loaded.generate(input_ids=ids, vision_input=image, max_length=9), stopped)

"""generate()'s defaults come from the model's generation_config, as in transformers.

* A model built here has the released Instruct ids (end ids [151645, 151643], pad 151643), greedy, no penalty;
  ``generate()`` without ``eos_token_id`` stops at them (handed case pipeline_fidelity/07).
* ``from_pretrained(folder)`` reads ``generation_config.json``; transformers reading the same folder generates
  the same ids, with the released sampling settings (``do_sample``, ``top_k=1``, ``repetition_penalty=1.05``...)
  for a text and an image prompt (pipeline_fidelity/06's kind).
* The logits processors are transformers' own, in its order, bit for bit.
"""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from qwen_lite.config import tiny
from qwen_lite.generation import GenerationConfig, generate, process_logits
from qwen_lite.model import Qwen25VLForConditionalGeneration
from qwen_lite.processor import Qwen25VLProcessor
from qwen_lite.weights import CheckpointError, from_pretrained, save_pretrained
from tests.model_inputs import CFG, model_pair, our_model, text
from tests.reference import reference_generate

IM_END, END_OF_TEXT, NEWLINE = 151645, 151643, 198
# The released Qwen2.5-VL-7B-Instruct generation_config.json (transformers_version is metadata).
RELEASED = {"bos_token_id": 151643, "pad_token_id": 151643, "do_sample": True, "eos_token_id": [151645, 151643],
            "repetition_penalty": 1.05, "temperature": 0.1, "top_p": 0.001, "top_k": 1,
            "transformers_version": "4.41.2"}  # fmt: skip
CHAT = [151644, 872, 198, 9707, 151645, 198, 151644, 77091, 198]  # user: "Hello", then the assistant turn


def hf_from_folder(folder):
    """transformers' model read from a checkpoint folder (its generation_config.json included)."""
    from transformers import Qwen2_5_VLForConditionalGeneration

    return Qwen2_5_VLForConditionalGeneration.from_pretrained(folder, attn_implementation="sdpa").eval()


# --- defaults of a model built without a checkpoint ------------------------------------------------------


def test_model_built_here_has_the_released_instruct_defaults():
    config = tiny()
    model = Qwen25VLForConditionalGeneration(config)
    assert model.generation_config == GenerationConfig(
        eos_token_id=[IM_END, END_OF_TEXT], pad_token_id=END_OF_TEXT, bos_token_id=END_OF_TEXT
    )
    g = model.generation_config
    assert (g.do_sample, g.repetition_penalty, g.max_new_tokens) == (False, 1.0, None)  # greedy, no penalty
    assert (g.temperature, g.top_k, g.top_p) == (1.0, 50, 1.0)  # transformers' defaults (next test)
    # The ids follow the model config (the compact test vocabulary moves them).
    compact = Qwen25VLForConditionalGeneration(CFG).generation_config
    assert compact.eos_token_id == [CFG.eos_token_id, CFG.bos_token_id]


@pytest.mark.reference
def test_sampling_defaults_are_transformers_defaults():
    """transformers' own defaults for the sampling fields (used once do_sample=True is asked for). 4.57's
    ``GenerationConfig()`` holds them; 5.x's leaves them None and applies ``_get_default_generation_params()``
    at generate: the effective values are compared, and they agree."""
    from transformers import GenerationConfig as HFGenerationConfig

    g = Qwen25VLForConditionalGeneration(tiny()).generation_config
    hf = HFGenerationConfig()
    defaults = getattr(hf, "_get_default_generation_params", lambda: vars(hf))()  # 5.x: applied at generate
    assert (g.temperature, g.top_k, g.top_p) == (
        defaults["temperature"],
        defaults["top_k"],
        defaults["top_p"],
    )


def im_end_second():
    """(model, its greedy ids for CHAT): the lm_head edited so <|im_end|> is greedy token 2."""
    torch.manual_seed(0)
    model = Qwen25VLForConditionalGeneration(tiny()).eval()
    ids = torch.tensor([CHAT])
    with torch.no_grad():
        second = int(model.generate(ids, max_new_tokens=2)[0, -1])
        model.lm_head.weight[IM_END] = 1.01 * model.lm_head.weight[second]
    return model, model.generate(ids, max_new_tokens=6)


def test_generate_without_eos_stops_at_im_end(tmp_path):
    """Handed case pipeline_fidelity/07: the lm_head is edited so <|im_end|> is greedy token 2."""
    model, got = im_end_second()
    new = got[0, len(CHAT) :].tolist()
    assert len(new) == 2 and new[1] == IM_END  # stopped right after <|im_end|>
    ids = torch.tensor([CHAT])
    assert (
        generate(model, ids, max_new_tokens=6, eos_token_id=[]).shape[1] == len(CHAT) + 6
    )  # [] = never stop
    save_pretrained(model, tmp_path)
    assert json.loads((tmp_path / "generation_config.json").read_text())["eos_token_id"] == [
        IM_END,
        END_OF_TEXT,
    ]
    assert torch.equal(from_pretrained(tmp_path).generate(ids, max_new_tokens=6), got)


@pytest.mark.reference
def test_generate_without_eos_stops_at_im_end_like_transformers(tmp_path):
    # transformers on the same folder (it reads the generation_config.json save_pretrained wrote).
    model, got = im_end_second()
    save_pretrained(model, tmp_path)
    assert torch.equal(got, reference_generate(hf_from_folder(tmp_path), input_ids=torch.tensor([CHAT]),
                                               max_new_tokens=6))  # fmt: skip


def test_explicit_arguments_override_the_config_and_none_means_use_it():
    ours = our_model(seed=3)
    torch.manual_seed(0)
    ids = torch.tensor([text(6)])
    free = generate(ours, ids, max_new_tokens=6, eos_token_id=[])
    stop = int(free[0, 8])  # the 3rd new token
    ours.generation_config = dataclasses.replace(ours.generation_config, eos_token_id=stop, max_new_tokens=6)
    try:
        assert generate(ours, ids).shape[1] == 6 + 3  # config: stops at its end id; max_new_tokens from it
        assert (
            generate(ours, ids, eos_token_id=None, max_new_tokens=None).shape[1] == 6 + 3
        )  # None = the config
        assert generate(ours, ids, eos_token_id=[]).shape[1] == 6 + 6  # explicit: overrides
        assert generate(ours, ids, max_new_tokens=2).shape[1] == 6 + 2
        # A generation_config argument replaces the model's for one call.
        assert generate(ours, ids, generation_config=GenerationConfig(max_new_tokens=4)).shape[1] == 6 + 4
    finally:
        ours.generation_config = GenerationConfig.released(ours.config)
    # Without max_new_tokens anywhere: transformers' default of 20 new tokens.
    assert generate(ours, ids, eos_token_id=[]).shape[1] == 6 + 20


@pytest.mark.reference
def test_explicit_none_differs_from_transformers_on_purpose():
    """transformers treats an *explicit* eos_token_id=None as "unset the field" (never stop); qwen_lite as
    "not given" (the config's end ids), so a helper that forwards None changes nothing. [] never stops."""
    ours, reference = model_pair(seed=3)
    ids = torch.tensor([text(6)])
    stop = int(generate(ours, ids, max_new_tokens=3, eos_token_id=[])[0, -1])
    reference.generation_config.eos_token_id, reference.generation_config.pad_token_id = stop, 0
    ours.generation_config = dataclasses.replace(ours.generation_config, eos_token_id=stop, pad_token_id=0)
    try:
        assert reference.generate(ids, max_new_tokens=5, eos_token_id=None).shape[1] == 6 + 5
        assert reference.generate(ids, max_new_tokens=5).shape[1] == 6 + 3
        assert generate(ours, ids, max_new_tokens=5, eos_token_id=None).shape[1] == 6 + 3
        assert torch.equal(
            generate(ours, ids, max_new_tokens=5, eos_token_id=[]),
            reference.generate(ids, max_new_tokens=5, eos_token_id=None),
        )
    finally:
        ours.generation_config = GenerationConfig.released(ours.config)


# --- a folder's generation_config.json --------------------------------------------------------------------


@pytest.fixture(scope="module")
def released_like_folder(tmp_path_factory):
    """A tiny checkpoint with the released generation_config.json, loaded by qwen_lite and by transformers.

    Its lm_head makes "\\n" (in every chat prompt) beat the text prompt's greedy first token B by 1%, so
    only the repetition penalty (1.05) makes B the answer: a run that ignores the file gives "\\n".
    """
    processor = Qwen25VLProcessor()
    image = Image.fromarray(np.random.default_rng(2).integers(0, 256, (56, 84, 3), dtype=np.uint8))
    prompts = {
        "text": processor(messages=[{"role": "user", "content": "Describe a cat in one line."}]),
        "image": processor(messages=[{"role": "user", "content": [
            {"type": "image", "image": image}, {"type": "text", "text": "Describe this image."}]}]),
    }  # fmt: skip
    torch.manual_seed(3)
    model = Qwen25VLForConditionalGeneration(tiny()).eval()
    with torch.no_grad():
        logits = model(**prompts["text"]).logits[0, -1]
        first = int(logits.argmax())
        assert logits[first] > 0 and first != NEWLINE
        model.lm_head.weight[NEWLINE] = 1.01 * model.lm_head.weight[first]
    folder = tmp_path_factory.mktemp("released_like")
    save_pretrained(model, folder)
    (folder / "generation_config.json").write_text(json.dumps(RELEASED))
    return from_pretrained(folder), prompts, first, folder


@pytest.fixture(scope="module")
def released_like_reference(released_like_folder):
    """transformers' model read from ``released_like_folder``."""
    return hf_from_folder(released_like_folder[-1])


RELEASED_CONFIG = GenerationConfig(
    eos_token_id=[IM_END, END_OF_TEXT], pad_token_id=END_OF_TEXT, bos_token_id=END_OF_TEXT, do_sample=True,
    temperature=0.1, top_k=1, top_p=0.001, repetition_penalty=1.05,
)  # fmt: skip


def test_from_pretrained_reads_generation_config_json(released_like_folder):
    ours, prompts, first, _ = released_like_folder
    assert ours.generation_config == RELEASED_CONFIG
    # The file's penalty decides the text prompt's first token; without it "\n" wins.
    inputs = prompts["text"]
    length = inputs["input_ids"].shape[1]
    assert int(ours.generate(**inputs, max_new_tokens=1)[0, length]) == first
    greedy = ours.generate(**inputs, max_new_tokens=1, do_sample=False, repetition_penalty=1.0)
    assert int(greedy[0, length]) == NEWLINE


@pytest.mark.reference
def test_transformers_reads_the_same_generation_config_json(released_like_reference):
    theirs = released_like_reference.generation_config
    for field in dataclasses.fields(GenerationConfig):  # the values transformers read from the file
        assert getattr(RELEASED_CONFIG, field.name) == getattr(theirs, field.name), field.name


@pytest.mark.reference
@pytest.mark.parametrize("prompt", ["text", "image"])
def test_folder_generation_config_matches_transformers(released_like_folder, released_like_reference, prompt):
    ours, prompts, *_ = released_like_folder
    inputs = prompts[prompt]
    got = ours.generate(**inputs, max_new_tokens=8)
    torch.manual_seed(0)  # transformers samples (top_k=1 leaves one token, so any seed gives these ids)
    want = reference_generate(released_like_reference, **inputs, max_new_tokens=8)  # 5.x: + mm_token_type_ids
    assert torch.equal(got, want)


def test_unsupported_generation_keys_are_named_in_a_warning(released_like_folder, tmp_path):
    *_, folder = released_like_folder
    for path in folder.iterdir():
        (tmp_path / path.name).symlink_to(path)
    (tmp_path / "generation_config.json").unlink()
    extra = {**RELEASED, "no_repeat_ngram_size": 3, "max_length": 32768, "_from_model_config": False}
    (tmp_path / "generation_config.json").write_text(json.dumps(extra))
    with pytest.warns(UserWarning) as caught:
        model = from_pretrained(tmp_path)
    messages = [str(w.message) for w in caught if "does not implement" in str(w.message)]
    assert len(messages) == 1 and str(tmp_path / "generation_config.json") in messages[0]
    assert "max_length=32768" in messages[0] and "no_repeat_ngram_size=3" in messages[0]
    assert "transformers_version" not in messages[0] and "_from_model_config" not in messages[0]  # metadata
    assert model.generation_config.repetition_penalty == 1.05  # the supported keys are used
    # Only metadata besides the supported keys: no warning at all.
    (tmp_path / "generation_config.json").write_text(json.dumps(RELEASED))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_pretrained(tmp_path)


def folder_without_generation_config(folder):
    torch.manual_seed(0)
    save_pretrained(Qwen25VLForConditionalGeneration(tiny()), folder)
    (folder / "generation_config.json").unlink()
    return folder


def test_folder_without_generation_config_uses_config_json(tmp_path):
    ours = from_pretrained(folder_without_generation_config(tmp_path)).generation_config
    assert ours == GenerationConfig(eos_token_id=IM_END, bos_token_id=END_OF_TEXT)  # one end id, no pad


@pytest.mark.reference
def test_folder_without_generation_config_uses_config_json_like_transformers(tmp_path):
    folder = folder_without_generation_config(tmp_path)
    ours = from_pretrained(folder).generation_config
    theirs = hf_from_folder(folder).generation_config
    assert (ours.eos_token_id, ours.pad_token_id, ours.bos_token_id) == (
        theirs.eos_token_id, theirs.pad_token_id, theirs.bos_token_id,
    )  # fmt: skip


def save_with_settings(folder):
    """A tiny model with non-default generation settings, saved to ``folder``."""
    torch.manual_seed(0)
    model = Qwen25VLForConditionalGeneration(tiny())
    model.generation_config = dataclasses.replace(
        model.generation_config,
        do_sample=True,
        top_k=None,
        top_p=0.8,
        repetition_penalty=1.1,
        max_new_tokens=64,
    )
    save_pretrained(model, folder)
    return model


def test_save_pretrained_writes_the_models_generation_config(tmp_path):
    model = save_with_settings(tmp_path)
    written = json.loads((tmp_path / "generation_config.json").read_text())
    assert written == {"bos_token_id": END_OF_TEXT, "eos_token_id": [IM_END, END_OF_TEXT],
                       "pad_token_id": END_OF_TEXT, "do_sample": True, "top_k": 0, "top_p": 0.8,
                       "repetition_penalty": 1.1, "max_new_tokens": 64}  # fmt: skip
    assert from_pretrained(tmp_path).generation_config == model.generation_config
    assert GenerationConfig(top_k=None, top_p=None, temperature=None) == GenerationConfig(
        top_k=0
    )  # None: off


@pytest.mark.reference
def test_transformers_reads_the_generation_config_we_write(tmp_path):
    from transformers import GenerationConfig as HFGenerationConfig

    save_with_settings(tmp_path)
    hf = HFGenerationConfig.from_pretrained(tmp_path)
    assert (hf.top_k, hf.top_p, hf.repetition_penalty, hf.max_new_tokens) == (0, 0.8, 1.1, 64)  # 0: top-k off


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", r"generation_config\.json: invalid JSON"),
        ("[1, 2]", r"generation_config\.json: expected a JSON object, got an array"),
        ('{"top_k": "1"}', r"generation_config\.json: top_k must be an int .*'1' \(str\)"),
        ('{"eos_token_id": [151645, "x"]}', r"generation_config\.json: eos_token_id\[1\] must be an int"),
        ('{"repetition_penalty": -1}', r"generation_config\.json: repetition_penalty must be a float > 0"),
        ('{"temperature": "hot"}', r"generation_config\.json: temperature must be a float, got 'hot'"),
        ('{"do_sample": "yes"}', r"generation_config\.json: do_sample must be True or False"),
        ('{"max_new_tokens": 0}', r"generation_config\.json: max_new_tokens must be greater than 0"),
    ],
)
def test_broken_generation_config_json_names_the_file(released_like_folder, tmp_path, content, message):
    *_, folder = released_like_folder
    for path in folder.iterdir():
        if path.name != "generation_config.json":
            (tmp_path / path.name).symlink_to(path)
    (tmp_path / "generation_config.json").write_text(content)
    with pytest.raises(CheckpointError, match=message):
        from_pretrained(tmp_path)


# --- the processors: transformers' own list, in its order ---------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        dict(repetition_penalty=1.05),
        dict(do_sample=True, temperature=0.7, top_k=50, top_p=0.9, repetition_penalty=1.3),
        dict(do_sample=True, temperature=0.1, top_k=1, top_p=0.001, repetition_penalty=1.05),
        dict(do_sample=True, temperature=2.0, top_k=0, top_p=0.5),
        dict(do_sample=True, top_k=None, top_p=None, repetition_penalty=0.8),
        dict(do_sample=True, top_p=0.0),
    ],
)
@pytest.mark.reference
def test_processors_equal_transformers_logits_processor_list(settings):
    """transformers builds its list in ``_get_logits_processor``; both must give the same scores bit for bit,
    on a left-padded batch (the penalty covers the padding and the prompt, as transformers' does)."""
    from transformers import GenerationConfig as HFGenerationConfig

    _, reference = model_pair(seed=1)
    torch.manual_seed(5)
    input_ids = torch.randint(0, CFG.text.vocab_size, (3, 12))
    input_ids[1, :4] = CFG.bos_token_id  # left padding: penalised too
    logits = torch.randn(3, CFG.text.vocab_size) * 4
    logits[:, input_ids[0, 5]] = -abs(logits[:, input_ids[0, 5]])  # a negative logit in the prompt
    processors = reference._get_logits_processor(
        generation_config=HFGenerationConfig(**settings), input_ids_seq_length=12, encoder_input_ids=input_ids,
        prefix_allowed_tokens_fn=None, logits_processor=None, device="cpu",
    )  # fmt: skip
    want = processors(input_ids, logits.clone())
    got = process_logits(input_ids, logits.clone(), GenerationConfig(**settings))
    assert torch.equal(got, want)
    if settings.get("repetition_penalty", 1.0) != 1.0:
        assert not torch.equal(
            got[1, CFG.bos_token_id], logits[1, CFG.bos_token_id]
        )  # the pad id was penalised


@pytest.mark.reference
def test_sampling_matches_transformers_draw_for_draw():
    """torch's global generator (generator=None), as transformers uses: the same seed, the same draws."""
    ours, reference = model_pair(seed=3)
    ids = torch.tensor([text(5), text(5)])
    settings = dict(do_sample=True, temperature=0.7, top_k=20, top_p=0.9, repetition_penalty=1.2)
    torch.manual_seed(11)
    got = generate(ours, ids, max_new_tokens=8, eos_token_id=[], **settings)
    torch.manual_seed(11)
    want = reference_generate(reference, input_ids=ids, max_new_tokens=8, eos_token_id=None, pad_token_id=0,
                              **settings)  # fmt: skip
    assert torch.equal(got, want)
    torch.manual_seed(12)
    assert not torch.equal(generate(ours, ids, max_new_tokens=8, eos_token_id=[], **settings), got)


def test_keys_transformers_5_writes_at_their_defaults_load_silently_and_warn_otherwise():
    import warnings

    from qwen_lite.generation import GenerationConfig

    written = {
        "use_cache": True,
        "output_attentions": False,
        "output_hidden_states": False,
        "do_sample": False,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GenerationConfig.from_dict(written)
    with pytest.warns(UserWarning, match="use_cache=False"):
        GenerationConfig.from_dict({**written, "use_cache": False})

"""The Qwen2 tokenizer against the real one's outputs, and the chat template against its Jinja source."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import jinja2
import jinja2.sandbox
import pytest
import torch

from qwen_lite.tokenizer import SPECIAL_TOKENS, Qwen2Tokenizer, apply_chat_template, get_tokenizer

VECTORS = Path(__file__).parent / "fixtures" / "tokenizer_vectors"

# chat_template of Qwen2-VL / Qwen2.5-VL-Instruct (tokenizer_config.json / chat_template.json), verbatim.
QWEN2_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in "
    "messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful "
    "assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string "
    "%}{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}{% if "
    "content['type'] == 'image' or 'image' in content or 'image_url' in content %}{% set image_count.value = "
    "image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: {% endif "
    "%}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'video' or 'video' in content "
    "%}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video {{ video_count.value "
    "}}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content %}{{ "
    "content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt "
    "%}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def tok() -> Qwen2Tokenizer:
    return get_tokenizer()


def load_vectors() -> list[tuple[str, list[int]]]:
    """llama.cpp's format: inputs separated by '\\n__ggml_vocab_test__\\n', one output line per input."""
    inputs = (VECTORS / "llamacpp_qwen2_vocab_test.inp").read_text(encoding="utf-8")
    inputs = inputs.split("\n__ggml_vocab_test__\n")[:-1]  # the file ends with a separator
    outputs = (VECTORS / "llamacpp_qwen2_vocab_test.out").read_text(encoding="utf-8").split("\n")[:-1]
    return [(text, [int(i) for i in ids.split()]) for text, ids in zip(inputs, outputs, strict=True)]


VECTOR_CASES = load_vectors()


def test_fixture_has_46_vectors():
    assert len(VECTOR_CASES) == 46
    assert VECTOR_CASES[0] == ("ied 4 ½ months", [1122, 220, 19, 220, 26062, 3951])


@pytest.mark.parametrize("text, expected", VECTOR_CASES, ids=[repr(t)[:30] for t, _ in VECTOR_CASES])
def test_encode_matches_hf_tokenizer_vectors(tok, text, expected):
    assert tok.encode(text) == expected


@pytest.mark.parametrize("text, expected", VECTOR_CASES, ids=[repr(t)[:30] for t, _ in VECTOR_CASES])
def test_decode_round_trips(tok, text, expected):
    # Decoding gives back the NFC form of the input (the normaliser's only change).
    assert tok.decode(expected) == unicodedata.normalize("NFC", text)


def test_special_token_table(tok):
    assert len(SPECIAL_TOKENS) == 22
    assert sorted(SPECIAL_TOKENS.values()) == list(range(151643, 151665))
    expected = {
        "<|endoftext|>": 151643,
        "<|im_start|>": 151644,
        "<|im_end|>": 151645,
        "<|vision_start|>": 151652,
        "<|vision_end|>": 151653,
        "<|vision_pad|>": 151654,
        "<|image_pad|>": 151655,
        "<|video_pad|>": 151656,
        "<tool_call>": 151657,
        "<|file_sep|>": 151664,
    }
    for token, token_id in expected.items():
        assert SPECIAL_TOKENS[token] == token_id
        assert tok.convert_tokens_to_ids(token) == token_id
    assert (tok.pad_token_id, tok.eos_token_id) == (151643, 151645)
    assert (tok.image_token_id, tok.video_token_id) == (151655, 151656)
    assert (tok.vision_start_token_id, tok.vision_end_token_id, tok.vision_token_id) == (
        151652,
        151653,
        151654,
    )
    assert tok.vocab_size == 151643 and len(tok) == 151665


def test_useful_ids_from_facts(tok):
    assert tok.encode("\n") == [198]
    assert tok.encode("user") == [872]
    assert tok.encode("assistant") == [77091]
    assert tok.encode("system") == [8948]


def test_special_tokens_inside_text_become_single_ids(tok):
    ids = tok.encode("a<|image_pad|><|image_pad|>b<|im_end|>")
    assert ids == tok.encode("a") + [151655, 151655] + tok.encode("b") + [151645]
    # A special token glued to a word still splits it, as in HF (added tokens are matched first).
    assert tok.encode("x<|vision_start|>y") == tok.encode("x") + [151652] + tok.encode("y")


def test_nfc_does_not_eat_a_special_token(tok):
    # '>' + U+0338 composes to U+226F under NFC; normalising the whole string would break <|im_end|>.
    ids = tok.encode("<|im_end|>\u0338")
    assert ids[0] == 151645 and len(ids) > 1


def test_decode_special_and_padding_ids(tok):
    ids = [151644, *tok.encode("Hello"), 151645]
    assert tok.decode(ids) == "<|im_start|>Hello<|im_end|>"
    assert tok.decode(ids, skip_special_tokens=True) == "Hello"
    assert tok.decode(torch.tensor(ids)) == "<|im_start|>Hello<|im_end|>"
    # Embedding rows 151665..151935 are no tokens: "" as in transformers.
    assert tok.decode([*tok.encode("Hi"), 151700, 151935]) == "Hi"
    assert tok.batch_decode(torch.tensor([ids, ids]), skip_special_tokens=True) == ["Hello", "Hello"]
    with pytest.raises(ValueError, match="non-negative"):
        tok.decode([-1])


def test_partial_utf8_decodes_to_replacement_char(tok):
    ids = tok.encode("½")
    assert tok.decode(ids) == "½"
    first_byte_only = [tok.convert_tokens_to_ids("Â")]  # 0xC2, half of '½'
    assert tok.decode(first_byte_only) == "\ufffd"


def test_byte_level_token_strings(tok):
    ids = tok.encode(" hello world")
    assert tok.convert_ids_to_tokens(ids) == ["Ġhello", "Ġworld"]
    assert tok.convert_tokens_to_ids(["Ġhello", "Ġworld"]) == ids
    assert tok.convert_ids_to_tokens(151655) == "<|image_pad|>"
    with pytest.raises(ValueError, match="not a token"):
        tok.convert_tokens_to_ids("Ġnot_a_single_token_at_all")
    with pytest.raises(ValueError, match="not a token id"):
        tok.convert_ids_to_tokens(151700)


def test_encode_rejects_non_strings(tok):
    with pytest.raises(TypeError, match="text: expected a str"):
        tok.encode(["a"])


# ---------------------------------------------------------------- chat template


def render_jinja(messages, add_generation_prompt=True, add_vision_id=False) -> str:
    """The reference: rendered with the jinja2 settings transformers' ``apply_chat_template`` uses."""
    environment = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    template = environment.from_string(QWEN2_VL_CHAT_TEMPLATE)
    return template.render(
        messages=messages, add_generation_prompt=add_generation_prompt, add_vision_id=add_vision_id
    )


CONVERSATIONS = {
    "text only": [{"role": "user", "content": "Hi there"}],
    "one image": [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe this image."}]}
    ],
    "system + images + video": [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Compare "},
                {"type": "image", "image": "a.png"},
                {"type": "text", "text": " and "},
                {"image_url": "b.png"},
                {"type": "video", "video": ["f0", "f1"]},
            ],
        },
    ],
    "multi turn": [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A cat."}]},
        {"role": "user", "content": [{"type": "image"}, {"video": "v.mp4"}, {"type": "other"}]},
        {"role": "assistant", "content": "Another cat."},
    ],
    "system not first": [
        {"role": "user", "content": "a"},
        {"role": "system", "content": "b"},
    ],
}


@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
@pytest.mark.parametrize("add_generation_prompt", [True, False])
@pytest.mark.parametrize("add_vision_id", [False, True])
def test_chat_template_matches_jinja(name, add_generation_prompt, add_vision_id):
    messages = CONVERSATIONS[name]
    expected = render_jinja(messages, add_generation_prompt, add_vision_id)
    assert apply_chat_template(messages, add_generation_prompt, add_vision_id) == expected


def test_chat_template_by_hand(tok):
    # The example of facts §2, written out by hand (independent of the Jinja source above).
    expected = (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
        "<|vision_start|><|image_pad|><|vision_end|>Describe this image.<|im_end|>\n<|im_start|>assistant\n"
    )
    assert tok.apply_chat_template(CONVERSATIONS["one image"]) == expected
    with_ids = tok.apply_chat_template(CONVERSATIONS["multi turn"], add_vision_id=True)
    assert "Picture 1: <|vision_start|>" in with_ids and "Picture 2: <|vision_start|>" in with_ids
    assert "Video 1: <|vision_start|><|video_pad|><|vision_end|>" in with_ids


def test_chat_template_errors():
    with pytest.raises(ValueError, match="messages"):
        apply_chat_template([])
    with pytest.raises(ValueError, match=r"messages\[0\].*'role' and 'content'"):
        apply_chat_template([{"content": "x"}])
    with pytest.raises(TypeError, match=r"messages\[0\]\['content'\]"):
        apply_chat_template([{"role": "user", "content": None}])

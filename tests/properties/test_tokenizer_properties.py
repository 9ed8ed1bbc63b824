"""Tokenizer ids, decoding and round trips against transformers' fast tokenizer on random text.

The reference is the ``Qwen2TokenizerFast`` of tests/test_tokenizer.py: loaded by ``AutoTokenizer`` from
released-style files converted from the same ranks, with the released added-token table (ids 151657..151664
are added tokens with ``"special": false``).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tokenizers import normalizers

from qwen_lite.tokenizer import SPECIAL_TOKENS, get_tokenizer
from tests.properties.support import TEXTS, TOKEN_IDS, examples

pytestmark = pytest.mark.reference

NFC = normalizers.NFC()  # the released tokenizer's normaliser
tok = get_tokenizer()


@examples(300)
@given(text=TEXTS)
def test_encode_matches_reference(hf_tokenizer, text):
    assert tok.encode(text) == hf_tokenizer.encode(text, add_special_tokens=False)


@examples(200)
@given(text=TEXTS)
def test_round_trip_is_the_reference_round_trip(hf_tokenizer, text):
    ids = tok.encode(text)
    assert tok.decode(ids) == hf_tokenizer.decode(hf_tokenizer.encode(text, add_special_tokens=False))
    if not any(special in text for special in SPECIAL_TOKENS):
        # Without added-token text, the round trip's only change is the reference's NFC normaliser.
        assert tok.decode(ids) == NFC.normalize_str(text)


@examples(300)
@given(ids=TOKEN_IDS, skip=st.booleans())
def test_decode_matches_reference(hf_tokenizer, ids, skip):
    """Random ids: partial UTF-8 sequences, special and non-special added tokens, embedding-padding rows."""
    assert tok.decode(ids, skip_special_tokens=skip) == hf_tokenizer.decode(ids, skip_special_tokens=skip)


@examples(100)
@given(ids=TOKEN_IDS)
def test_token_strings_match_reference(hf_tokenizer, ids):
    ids = [i for i in ids if i < len(tok)]  # embedding-padding rows have no token string
    tokens = tok.convert_ids_to_tokens(ids)
    assert tokens == hf_tokenizer.convert_ids_to_tokens(ids)
    assert tok.convert_tokens_to_ids(tokens) == ids

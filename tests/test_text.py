"""The text decoder against transformers (fp32), and the KV cache against full recomputation.

The reference tests run against 4.57.6 and 5.x (scripts/test_reference.sh); tests/reference.py bridges their APIs.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from qwen_lite.config import small
from qwen_lite.rope import MRoPE
from qwen_lite.text import DecoderLayer, KVCache, TextModel
from tests.reference import hf_config, no_init_weights, reference_decoder_layer

# Real head sizes (head_dim 128, mrope_section (16, 24, 24), 2 query heads per kv head), short vocabulary.
CFG = small().replace(text=dataclasses.replace(small().text, vocab_size=8192))


@pytest.fixture(scope="module")
def ours():
    """A qwen_lite text decoder whose every parameter is random (norm weights and biases too)."""
    torch.manual_seed(0)
    model = TextModel(CFG.text).eval()
    for p in model.parameters():  # random norm weights and biases too, so every parameter matters
        torch.nn.init.normal_(p, std=0.2 if p.dim() == 1 else 0.05)
    return model


@pytest.fixture(scope="module")
def models(ours):
    """(ours, reference) text decoders with the same random weights."""
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLTextModel

    with no_init_weights():  # overwritten by our weights just below
        reference = Qwen2_5_VLTextModel(hf_config(CFG).text_config).eval()
    reference.load_state_dict(ours.state_dict(), strict=True)  # same names: the checkpoint's model.*
    return ours, reference


def mixed_positions(batch: int, length: int) -> torch.Tensor:
    """(3 b l) positions whose axes differ, as inside an image: exercises every M-RoPE section."""
    steps = torch.arange(length)
    return torch.stack([steps // 4, steps % 4 + 3, steps % 3 + 7]).unsqueeze(1).expand(3, batch, length)


def test_state_dict_keys_are_checkpoint_names():
    keys = set(TextModel(CFG.text).state_dict())
    assert "embed_tokens.weight" in keys and "norm.weight" in keys
    for name in ("q_proj.weight", "q_proj.bias", "k_proj.bias", "v_proj.bias", "o_proj.weight"):
        assert f"layers.1.self_attn.{name}" in keys
    assert "layers.0.self_attn.o_proj.bias" not in keys and "layers.0.mlp.gate_proj.bias" not in keys
    assert {"layers.0.input_layernorm.weight", "layers.0.post_attention_layernorm.weight"} <= keys


@pytest.mark.reference
def test_decoder_layer_matches_reference(models):
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLRotaryEmbedding

    ours, reference = models
    x = torch.randn(2, 11, CFG.text.hidden_size)
    position_ids = mixed_positions(2, 11)
    ref_cos_sin = Qwen2_5_VLRotaryEmbedding(hf_config(CFG).text_config)(x, position_ids)
    cos, sin = MRoPE(CFG.text.head_dim, CFG.text.rope_theta, CFG.text.mrope_section)(position_ids)
    layer: DecoderLayer = ours.layers[1]
    with torch.no_grad():
        got = layer(x, cos, sin)
        want = reference_decoder_layer(reference.layers[1], x, position_embeddings=ref_cos_sin)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.reference
def test_decoder_matches_reference_with_mrope_positions(models):
    ours, reference = models
    ids = torch.randint(0, 5000, (2, 13))
    position_ids = mixed_positions(2, 13)
    with torch.no_grad():
        got = ours(input_ids=ids, position_ids=position_ids, output_hidden_states=True)
        want = reference(input_ids=ids, position_ids=position_ids, output_hidden_states=True)
    torch.testing.assert_close(got.last_hidden_state, want.last_hidden_state, atol=1e-5, rtol=1e-5)
    assert len(got.hidden_states) == len(want.hidden_states) == CFG.text.num_hidden_layers + 1
    for a, b in zip(got.hidden_states, want.hidden_states):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.reference
def test_decoder_matches_reference_left_padded(models):
    ours, reference = models
    ids = torch.randint(0, 5000, (2, 10))
    mask = torch.ones(2, 10, dtype=torch.long)
    mask[0, :4] = 0
    positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
    with torch.no_grad():
        got = ours(input_ids=ids, attention_mask=mask, position_ids=positions).last_hidden_state
        want = reference(input_ids=ids, attention_mask=mask, position_ids=positions[None].expand(3, -1, -1))
    torch.testing.assert_close(got, want.last_hidden_state, atol=1e-5, rtol=1e-5)
    assert torch.isfinite(got).all()  # fully masked pad queries give zeros, not NaN
    # Padding is invisible: the padded row equals the same tokens run alone.
    with torch.no_grad():
        alone = ours(input_ids=ids[:1, 4:]).last_hidden_state
    torch.testing.assert_close(got[:1, 4:], alone, atol=1e-5, rtol=1e-5)


def test_cached_decoding_equals_full_recompute(ours):
    ids = torch.randint(0, 5000, (2, 12))
    mask = torch.ones(2, 12, dtype=torch.long)
    mask[1, :3] = 0  # left padding in row 1
    positions = mixed_positions(2, 12).clone()
    positions[:, 1] = torch.where(mask[1].bool(), positions[:, 1], 1)
    with torch.no_grad():
        full = ours(input_ids=ids, attention_mask=mask, position_ids=positions).last_hidden_state
        cache = KVCache()
        prefill = ours(input_ids=ids[:, :7], attention_mask=mask[:, :7], position_ids=positions[:, :, :7],
                       past_key_values=cache)  # fmt: skip
        steps = [prefill.last_hidden_state]
        for i in range(7, 10):  # one token at a time ...
            out = ours(input_ids=ids[:, i : i + 1], attention_mask=mask[:, : i + 1],
                       position_ids=positions[:, :, i : i + 1], past_key_values=cache)  # fmt: skip
            steps.append(out.last_hidden_state)
        out = ours(
            input_ids=ids[:, 10:],
            attention_mask=mask,
            position_ids=positions[:, :, 10:],
            past_key_values=cache,
        )  # fmt: skip  ... and a chunk of two
        steps.append(out.last_hidden_state)
    torch.testing.assert_close(torch.cat(steps, dim=1)[:, :], full, atol=1e-5, rtol=1e-5)
    assert cache.get_seq_length() == 12 and len(cache) == CFG.text.num_hidden_layers
    # K/V are stored per kv head (not repeated for the query heads).
    assert cache.keys[0].shape == (2, CFG.text.num_key_value_heads, 12, CFG.text.head_dim)


def test_exactly_one_of_ids_or_embeds():
    model = TextModel(CFG.text)
    with pytest.raises(ValueError, match="exactly one of input_ids or inputs_embeds"):
        model()

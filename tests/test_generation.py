"""Generation: greedy ids equal transformers' generate(), the cache changes nothing, sampling filters.

The comparisons (marked ``reference``) run against 4.57.6 and 5.x (scripts/test_reference.sh); the rest
runs on qwen_lite alone, in the minimum-versions job too.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from qwen_lite.generation import filter_logits, generate
from tests.model_inputs import CFG, IMG, VID, block, left_pad, model_pair, our_model, pixels, text


@pytest.fixture(scope="module")
def ours():
    return our_model(seed=3)


@pytest.fixture(scope="module")
def models():
    return model_pair(seed=3)


@pytest.fixture(scope="module")
def mixed_batch():
    """A left-padded batch: row 0 text + image, row 1 video + text (1.0 s per grid)."""
    torch.manual_seed(7)
    image, image_grid = pixels((1, 4, 4))
    video, video_grid = pixels((2, 4, 4))
    ids, mask = left_pad([text(2) + block(IMG, image_grid[0]) + text(2), block(VID, video_grid[0]) + text(5)])
    return dict(input_ids=ids, attention_mask=mask, pixel_values=image, image_grid_thw=image_grid,
                pixel_values_videos=video, video_grid_thw=video_grid, second_per_grid_ts=torch.tensor([1.0]))  # fmt: skip


def hf_generate(reference, eos, pad, max_new_tokens=16, **inputs):
    from tests.reference import reference_generate

    return reference_generate(
        reference,
        **inputs, max_new_tokens=max_new_tokens, min_new_tokens=0, do_sample=False, num_beams=1,
        eos_token_id=eos, pad_token_id=pad, repetition_penalty=1.0,
    )  # fmt: skip


@pytest.mark.reference
def test_greedy_matches_transformers_generate(models, mixed_batch):
    ours, reference = models
    eos, pad = CFG.eos_token_id, CFG.bos_token_id  # <|im_end|>, <|endoftext|>
    got = generate(ours, **mixed_batch, max_new_tokens=16, eos_token_id=eos, pad_token_id=pad)
    want = hf_generate(reference, eos, pad, **mixed_batch)
    assert got.shape == (2, mixed_batch["input_ids"].shape[1] + 16)  # nobody stopped early ...
    assert torch.equal(got, want)  # ... and all 2 x 16 new ids are transformers' ids


def early_end_id(ours, batch) -> tuple[int, int]:
    """(step, id): an id that row 0 of ``batch`` emits at ``step`` (>= 1) of greedy decoding and row 1 never."""
    length = batch["input_ids"].shape[1]
    free = generate(ours, **batch, max_new_tokens=10)
    row0, row1 = free[0, length:].tolist(), free[1, length:].tolist()
    step = next(i for i, t in enumerate(row0) if i >= 1 and t not in row1 and t not in row0[:i])
    return step, row0[step]


def test_rows_stop_at_eos_independently(ours, mixed_batch):
    length = mixed_batch["input_ids"].shape[1]
    free = generate(ours, **mixed_batch, max_new_tokens=10)
    row0, row1 = free[0, length:].tolist(), free[1, length:].tolist()
    step, eos = early_end_id(ours, mixed_batch)
    pad = 0
    got = generate(
        ours, **mixed_batch, max_new_tokens=10, eos_token_id=[eos, CFG.eos_token_id], pad_token_id=pad
    )
    assert got[0, length : length + step + 1].tolist() == row0[: step + 1]
    assert got[0, length + step + 1 :].tolist() == [pad] * (9 - step)  # finished row: padding
    assert got[1, length:].tolist() == row1  # the other row is unaffected
    # Once every row has finished, generation stops.
    single = {k: v[:1] if k in ("input_ids", "attention_mask") else v for k, v in mixed_batch.items()}
    single = {k: v for k, v in single.items() if "video" not in k and k != "second_per_grid_ts"}
    short = generate(ours, **single, max_new_tokens=10, eos_token_id=eos)
    assert short.shape[1] == length + step + 1 and short[0, -1] == eos


@pytest.mark.reference
def test_rows_stop_at_eos_like_transformers(models, mixed_batch):
    ours, reference = models
    step, eos = early_end_id(ours, mixed_batch)
    got = generate(
        ours, **mixed_batch, max_new_tokens=10, eos_token_id=[eos, CFG.eos_token_id], pad_token_id=0
    )
    assert (got[0, -(9 - step) :] == 0).all()  # row 0 really finished early and was padded
    assert torch.equal(
        got, hf_generate(reference, [eos, CFG.eos_token_id], 0, max_new_tokens=10, **mixed_batch)
    )


def test_cached_equals_uncached(ours, mixed_batch):
    cached = generate(ours, **mixed_batch, max_new_tokens=6)
    uncached = generate(ours, **mixed_batch, max_new_tokens=6, use_cache=False)
    assert torch.equal(cached, uncached)
    assert torch.equal(ours.generate(**mixed_batch, max_new_tokens=6), cached)  # the method is the function


def test_first_step_logits_use_the_video_timing(ours):
    """Pitfall: pipelines that drop second_per_grid_ts. generate() must pass it to the prefill."""
    video, grid = pixels((4, 4, 4))
    ids = torch.tensor([text(2) + block(VID, grid[0]) + text(3)])
    inputs = dict(input_ids=ids, pixel_values_videos=video, video_grid_thw=grid)
    seen = []
    generate(ours, **inputs, second_per_grid_ts=torch.tensor([0.5]), max_new_tokens=1,
             callback=lambda step, tokens, logits: seen.append(logits))  # fmt: skip
    with torch.no_grad():
        timed = ours(**inputs, second_per_grid_ts=torch.tensor([0.5])).logits[:, -1]
        default = ours(**inputs).logits[:, -1]  # 1.0 s per grid
    torch.testing.assert_close(seen[0], timed, atol=1e-5, rtol=1e-5)  # 1 row vs all rows of lm_head
    assert (seen[0] - default).abs().max() > 1e-4  # the timing really changes the prediction


def test_sampling_is_reproducible_and_filtered(ours, mixed_batch):

    def sample(seed, **kwargs):
        generator = torch.Generator().manual_seed(seed)
        return generate(ours, **mixed_batch, max_new_tokens=6, do_sample=True, generator=generator, **kwargs)

    assert torch.equal(sample(0, temperature=0.7), sample(0, temperature=0.7))
    assert not torch.equal(sample(0), sample(1))  # a flat random model: different seeds, different draws
    assert torch.equal(sample(5, top_k=1), generate(ours, **mixed_batch, max_new_tokens=6))  # top-1 = greedy

    allowed = []  # every sampled token must be among the 3 most likely of its step

    def check(step, tokens, logits):
        allowed.append(bool((logits.topk(3).indices == tokens[:, None]).any(-1).all()))

    generator = torch.Generator().manual_seed(2)
    generate(
        ours, **mixed_batch, max_new_tokens=6, do_sample=True, top_k=3, generator=generator, callback=check
    )
    assert allowed == [True] * 6


@pytest.mark.reference
def test_top_k_top_p_match_transformers_warpers():
    from transformers.generation.logits_process import TopKLogitsWarper, TopPLogitsWarper

    torch.manual_seed(0)
    logits = torch.randn(4, 50) * 3
    logits[0, :5] = logits[0, 5]  # ties at the k-th logit: all of them stay, as in transformers
    for k in (1, 5, 6, 50, 80):
        assert torch.equal(filter_logits(logits, top_k=k), TopKLogitsWarper(k)(None, logits))
    for p in (0.0, 0.001, 0.1, 0.5, 0.9, 0.999):
        assert torch.equal(filter_logits(logits, top_p=p), TopPLogitsWarper(p)(None, logits)), p
    for keep in (1, 3):  # min_tokens_to_keep, as beam search would pass it
        want = TopPLogitsWarper(0.1, min_tokens_to_keep=keep)(None, logits)
        assert torch.equal(filter_logits(logits, top_p=0.1, min_tokens_to_keep=keep), want)
        assert int(want.isfinite().sum(-1).min()) >= keep
    # Off switches: top_k 0 or None, top_p 1.0 or None change nothing.
    for off in (dict(top_k=0), dict(top_k=None), dict(top_p=1.0), dict(top_p=None)):
        assert torch.equal(filter_logits(logits, **off), logits)
    # Hand-checked: probabilities 0.5, 0.3, 0.15, 0.05 with top_p = 0.7 keep the first two.
    kept = filter_logits(torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log(), top_p=0.7).isfinite()
    assert kept.tolist() == [[True, True, False, False]]


@pytest.mark.reference
def test_request_beyond_max_position_embeddings_warns_and_runs_like_transformers():
    """transformers only warns (MaxLengthCriteria) when prompt + max_new_tokens passes
    max_position_embeddings, and generates on: rotary positions have no table to run out of."""
    config = CFG.replace(text=dataclasses.replace(CFG.text, max_position_embeddings=8))
    ours, reference = model_pair(config, seed=4)
    ids = torch.tensor([text(5)])
    with pytest.warns(UserWarning, match=r"max_new_tokens=6 exceeds max_position_embeddings \(8\)"):
        got = generate(ours, ids, max_new_tokens=6, eos_token_id=[])
    assert got.shape == (1, 11)
    want = hf_generate(reference, None, 0, max_new_tokens=6, input_ids=ids)
    assert torch.equal(got, want)

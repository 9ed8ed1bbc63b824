"""generate() arguments: refused where transformers refuses them, accepted with its result where it accepts.

Every refusal is a ValueError / TypeError whose message names the argument (handed case randomized/04). Each
row below was checked by running transformers' generate on the same tiny weights: the refusal tests run it
again, so a newer transformers that changes its mind fails here. Where qwen_lite is stricter than
transformers (it would accept nonsense or crash deep inside), the test says so.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from qwen_lite.config import tiny
from qwen_lite.generation import GenerationConfig, generate
from qwen_lite.model import Qwen25VLForConditionalGeneration
from tests.model_inputs import CFG, left_pad, model_pair, our_model, text

VOCAB = CFG.text.vocab_size


@pytest.fixture(scope="module")
def models():
    return model_pair(seed=3)


@pytest.fixture(scope="module")
def ours():
    """``models``' qwen_lite model alone: the tests without transformers (the minimum-versions job too)."""
    return our_model(seed=3)


@pytest.fixture(scope="module")
def prompt():
    torch.manual_seed(0)
    return torch.tensor([text(5)])


def hf_generate(reference, ids, **kwargs):
    from tests.reference import reference_generate

    kwargs.setdefault("max_new_tokens", 3)
    kwargs.setdefault("pad_token_id", CFG.bos_token_id)
    return reference_generate(reference, input_ids=ids, **kwargs)


# --- handed case randomized/04 ----------------------------------------------------------------------------------


def test_handed_case_nonsense_arguments_are_refused_naming_them():
    torch.manual_seed(0)
    model = Qwen25VLForConditionalGeneration(tiny()).eval()
    ids = torch.tensor([[9707, 11, 1879]])
    cases = [("top_k", dict(do_sample=True, top_k=-1)), ("top_p", dict(do_sample=True, top_p=-0.5)),
             ("max_new_tokens", dict(max_new_tokens=0)), ("max_new_tokens", dict(max_new_tokens=-3)),
             ("temperature", dict(do_sample=True, temperature=float("nan")))]  # fmt: skip
    for name, kwargs in cases:
        kwargs.setdefault("max_new_tokens", 2)
        with pytest.raises(ValueError, match=name):
            model.generate(ids, generator=torch.Generator().manual_seed(0), **kwargs)


# --- refused by both --------------------------------------------------------------------------------------------

REFUSED_BY_BOTH = [
    ("top_k", dict(do_sample=True, top_k=-1)),
    ("top_k", dict(do_sample=True, top_k=2.5)),
    ("top_p", dict(do_sample=True, top_p=-0.5)),
    ("max_new_tokens", dict(max_new_tokens=0)),
    ("max_new_tokens", dict(max_new_tokens=-3)),
    ("temperature", dict(do_sample=True, temperature=float("nan"))),
    ("temperature", dict(do_sample=True, temperature=-1.0)),
    ("temperature", dict(do_sample=True, temperature=0.0)),  # "for greedy decoding set do_sample=False"
    ("repetition_penalty", dict(repetition_penalty=0.0)),
    ("repetition_penalty", dict(repetition_penalty=-1.0)),
    ("repetition_penalty", dict(repetition_penalty=float("nan"))),
]


@pytest.mark.parametrize(
    "name, kwargs", REFUSED_BY_BOTH, ids=[f"{n}={list(k.values())[-1]}" for n, k in REFUSED_BY_BOTH]
)
def test_refused_naming_the_argument(ours, prompt, name, kwargs):
    with pytest.raises((ValueError, TypeError), match=rf"^{name}\b"):
        generate(ours, prompt, **{"max_new_tokens": 3, **kwargs})


@pytest.mark.reference
@pytest.mark.parametrize(
    "name, kwargs", REFUSED_BY_BOTH, ids=[f"{n}={list(k.values())[-1]}" for n, k in REFUSED_BY_BOTH]
)
def test_refused_like_transformers(models, prompt, name, kwargs):
    _, reference = models
    with pytest.raises(ValueError):
        hf_generate(reference, prompt, **kwargs)


def test_value_from_the_config_is_named_as_such(ours, prompt):
    ours.generation_config.top_k = -1  # attribute assignment skips the dataclass check: generate checks again
    try:
        with pytest.raises(
            ValueError, match=r"top_k must .* got -1 \(the value comes from model\.generation_config\)"
        ):
            generate(ours, prompt, do_sample=True)
    finally:
        ours.generation_config = GenerationConfig.released(ours.config)
    with pytest.raises(TypeError, match="generation_config: expected a qwen_lite GenerationConfig"):
        generate(ours, prompt, generation_config={"top_k": 1})


# --- stricter than transformers ------------------------------------------------------------------------------

STRICTER = [
    # transformers skips its own TopPLogitsWarper check (top_p in [0, 1]) when top_p >= 1 or NaN: no filter.
    ("top_p", ValueError, dict(do_sample=True, top_p=1.5)),
    ("top_p", ValueError, dict(do_sample=True, top_p=float("nan"))),
    # transformers: warns "eos_token_id should consist of positive integers" / never stops.
    ("eos_token_id", ValueError, dict(eos_token_id=-1)),
    ("eos_token_id", ValueError, dict(eos_token_id=VOCAB)),
    ("eos_token_id", TypeError, dict(eos_token_id=4000.0)),
    (
        "eos_token_id",
        TypeError,
        dict(eos_token_id="4005"),
    ),  # transformers: TypeError "invalid data type 'str'"
    ("eos_token_id", TypeError, dict(eos_token_id=[4005, None])),
    # transformers: accepted, and an IndexError in the embedding once a row finishes.
    ("pad_token_id", ValueError, dict(pad_token_id=VOCAB + 5)),
    ("pad_token_id", ValueError, dict(pad_token_id=-1)),
    # transformers: any truthy value samples.
    ("do_sample", TypeError, dict(do_sample="yes")),
    # transformers: max_length = 2.5 + prompt; True = 1 token.
    ("max_new_tokens", TypeError, dict(max_new_tokens=2.5)),
    ("max_new_tokens", TypeError, dict(max_new_tokens=True)),
    ("top_k", TypeError, dict(do_sample=True, top_k=True)),  # transformers: TypeError inside torch.topk
]


@pytest.mark.parametrize(
    "name, error, kwargs", STRICTER, ids=[f"{n}={list(k.values())[-1]}" for n, _, k in STRICTER]
)
def test_refused_where_transformers_accepts_nonsense(ours, prompt, name, error, kwargs):
    kwargs.setdefault("max_new_tokens", 3)
    with pytest.raises(error, match=rf"^{name}\b"):
        generate(ours, prompt, **kwargs)


def test_transformers_options_qwen_lite_does_not_run_are_refused(ours, prompt):
    with pytest.raises(
        TypeError, match=r"num_beams=2 is a transformers generation option that qwen_lite does not"
    ):
        generate(ours, prompt, max_new_tokens=2, num_beams=2)
    with pytest.raises(TypeError, match=r"max_length=10 .*pass max_new_tokens instead"):
        generate(ours, prompt, max_length=10)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'topk'"):  # a typo
        generate(ours, prompt, topk=5)
    # The values that change nothing are accepted, so a call written for transformers runs unchanged.
    got = generate(ours, prompt, max_new_tokens=3, **NEUTRAL)
    assert torch.equal(got, generate(ours, prompt, max_new_tokens=3))


NEUTRAL = dict(num_beams=1, num_return_sequences=1, min_new_tokens=0, return_dict_in_generate=False,
               output_scores=False, length_penalty=1.0, early_stopping=False)  # fmt: skip


@pytest.mark.reference
def test_transformers_refuses_the_typo_and_runs_the_neutral_options(models, prompt):
    ours, reference = models
    with pytest.raises(ValueError, match="topk"):  # transformers: "model_kwargs are not used by the model"
        hf_generate(reference, prompt, topk=5)
    got = generate(ours, prompt, max_new_tokens=3, **NEUTRAL)
    assert torch.equal(got, hf_generate(reference, prompt, eos_token_id=CFG.eos_token_id, **NEUTRAL))


def test_input_checks_name_the_argument(ours, prompt):
    with pytest.raises(TypeError, match="input_ids: expected an integer tensor"):
        generate(ours, prompt.float())
    with pytest.raises(TypeError, match="input_ids: expected a torch.Tensor"):
        generate(ours, prompt.tolist())
    with pytest.raises(ValueError, match="input_ids: token id 5000 is outside the vocabulary"):
        generate(ours, torch.tensor([[1, 5000]]))
    with pytest.raises(ValueError, match=r"attention_mask: expected shape \(b s\) with b=1, s=5"):
        generate(ours, prompt, attention_mask=torch.ones(1, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="attention_mask: expected only 0 .* and 1 .*, found 2"):
        generate(ours, prompt, attention_mask=torch.full((1, 5), 2))
    with pytest.raises(TypeError, match="generator: expected a torch.Generator"):
        generate(ours, prompt, do_sample=True, generator=0)


@pytest.mark.reference
def test_transformers_crashes_inside_multinomial(models, prompt):
    """A temperature so small that logits / temperature overflow: transformers dies in torch.multinomial
    (RuntimeError "probability tensor contains either inf, nan or element < 0"); qwen_lite says why (next)."""
    _, reference = models
    with pytest.raises(RuntimeError, match="probability tensor"):
        hf_generate(reference, prompt, do_sample=True, temperature=1e-45, top_k=0)


def test_sampling_never_crashes_inside_multinomial(ours, prompt):
    with pytest.raises(ValueError, match=r"sampling step 0: .* not finite .*temperature"):
        generate(ours, prompt, max_new_tokens=3, do_sample=True, temperature=1e-45, top_k=0)


# --- accepted by both, with the same result ------------------------------------------------------------------

EDGE_VALUES = [
    dict(do_sample=True, top_k=1),  # one token left: sampling = greedy
    dict(do_sample=True, top_p=0.0),  # top-p always keeps the most likely token
    dict(do_sample=True, top_k=1, top_p=1.0),  # 1.0: top-p off
    dict(do_sample=True, top_k=1, temperature=1),  # int 1: no temperature warper
    dict(do_sample=True, top_k=1, temperature=float("inf")),
    dict(do_sample=False, temperature=0.0),  # sampling settings are unused when greedy, whatever their value
    dict(do_sample=False, temperature=1.0),
    dict(do_sample=False, temperature=-1.0),
    dict(do_sample=False, temperature=float("nan")),
    dict(do_sample=False, top_k=-1, top_p=-0.5),
    dict(do_sample=False, top_p=1.5),
    dict(do_sample=False, top_k=0, top_p=1.0),
    dict(repetition_penalty=1.0),
    dict(repetition_penalty=1),
    dict(repetition_penalty=float("inf")),
    dict(repetition_penalty=1.3),
    dict(repetition_penalty=0.5),
    dict(max_new_tokens=64),  # more than needed: both stop at the end id
    dict(eos_token_id=[]),
    dict(eos_token_id=[CFG.eos_token_id, CFG.bos_token_id], pad_token_id=0),
]


@pytest.mark.reference
@pytest.mark.parametrize("kwargs", EDGE_VALUES, ids=[str(k) for k in EDGE_VALUES])
def test_edge_values_accepted_with_transformers_result(models, prompt, kwargs):
    ours, reference = models
    theirs = dict(kwargs)
    if theirs.get("eos_token_id") == []:
        theirs["eos_token_id"] = None  # transformers' spelling of "no end id"
    unused = not kwargs.get("do_sample") and any(k in kwargs for k in ("temperature", "top_k", "top_p"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.manual_seed(0)  # the same global generator state for both (temperature=inf samples uniformly)
        got = generate(ours, prompt, **{"max_new_tokens": 3, **kwargs})
    # Sampling settings with do_sample=False: a warning, as transformers logs one ("only used in sample-based
    # generation modes"); otherwise none.
    assert (
        [str(w.message) for w in caught if "only apply when sampling" in str(w.message)] != []
        if unused
        else (caught == [])
    )
    torch.manual_seed(0)
    want = hf_generate(reference, prompt, **theirs)
    assert torch.equal(got, want)


@pytest.mark.reference
def test_large_max_new_tokens_stops_at_the_end_id(models, prompt):
    ours, reference = models
    free = generate(ours, prompt, max_new_tokens=4, eos_token_id=[])
    stop = int(free[0, -2])  # the 3rd new token, taken as the end id
    got = generate(ours, prompt, max_new_tokens=10_000, eos_token_id=stop)
    assert got.shape[1] == 5 + 3 and torch.equal(
        got, hf_generate(reference, prompt, max_new_tokens=10_000, eos_token_id=stop)
    )


def test_int_temperature_and_penalty_are_exact_floats(ours, prompt):
    """2 is exactly 2.0, so qwen_lite accepts it with the 2.0 result (transformers refuses it: next test)."""
    assert torch.equal(
        generate(ours, prompt, repetition_penalty=2), generate(ours, prompt, repetition_penalty=2.0)
    )
    sample = dict(do_sample=True, top_k=1, max_new_tokens=3)
    assert torch.equal(
        generate(ours, prompt, temperature=2, **sample), generate(ours, prompt, temperature=2.0, **sample)
    )


@pytest.mark.reference
def test_int_temperature_and_penalty_like_transformers(models, prompt):
    """transformers refuses an int temperature/penalty other than 1 ("has to be a strictly positive float");
    qwen_lite gives transformers' 2.0 result."""
    ours, reference = models
    with pytest.raises(ValueError, match="strictly positive float"):
        hf_generate(reference, prompt, do_sample=True, temperature=2)
    with pytest.raises(ValueError, match="strictly positive float"):
        hf_generate(reference, prompt, repetition_penalty=2)
    sample = dict(do_sample=True, top_k=1, max_new_tokens=3)
    assert torch.equal(
        generate(ours, prompt, temperature=2, **sample),
        hf_generate(reference, prompt, temperature=2.0, **sample),
    )


def padded_prompts():
    torch.manual_seed(1)
    return left_pad([text(3), text(6)], pad=0)


@pytest.mark.reference
def test_attention_mask_and_inferred_mask_like_transformers(models):
    ours, reference = models
    ids, mask = padded_prompts()
    base = generate(ours, ids, attention_mask=mask, max_new_tokens=3, pad_token_id=0)
    assert torch.equal(base, hf_generate(reference, ids, attention_mask=mask, pad_token_id=0))
    # No mask, pad id 0 in the prompt and not an end id: transformers infers input_ids != 0 (so does qwen_lite).
    assert torch.equal(hf_generate(reference, ids, pad_token_id=0), base)


def test_attention_mask_dtypes_and_inferred_mask(ours):
    ids, mask = padded_prompts()
    base = generate(ours, ids, attention_mask=mask, max_new_tokens=3, pad_token_id=0)
    for other in (mask.bool(), mask.float(), mask.int()):
        assert torch.equal(generate(ours, ids, attention_mask=other, max_new_tokens=3, pad_token_id=0), base)
    # No mask, pad id 0 in the prompt and not an end id: the mask is inferred as input_ids != 0, as transformers.
    assert torch.equal(generate(ours, ids, max_new_tokens=3, pad_token_id=0), base)
    # Right padding: a warning (decoder-only generation appends after the last column).
    with pytest.warns(UserWarning, match="right padding"):
        generate(ours, ids, attention_mask=mask.flip(-1), max_new_tokens=1, pad_token_id=0)


def test_generation_config_fields_are_checked_on_construction():
    assert GenerationConfig(temperature=2, top_p=1).temperature == 2.0  # exact conversions only
    assert GenerationConfig(eos_token_id=torch.tensor([5, 6])).eos_token_id == [5, 6]
    # Sampling settings: the type now, the range when sampling (a greedy config may hold top_k=-1).
    assert GenerationConfig(top_k=-2, top_p=math.inf, temperature=-1).top_k == -2
    for kwargs, error, message in [
        (dict(top_k=2.0), TypeError, "top_k must be an int"),
        (dict(top_p="0.9"), TypeError, "top_p must be a float"),
        (dict(temperature="0.7"), TypeError, "temperature must be a float, got '0.7'"),
        (dict(repetition_penalty=0.0), ValueError, "repetition_penalty must be a float > 0"),
        (dict(repetition_penalty=True), TypeError, "repetition_penalty"),
        (dict(eos_token_id=(1, -2)), ValueError, r"eos_token_id\[1\] must be >= 0"),
        (dict(bos_token_id=1.0), TypeError, "bos_token_id must be an int"),
        (dict(max_new_tokens="8"), TypeError, "max_new_tokens"),
    ]:
        with pytest.raises(error, match=message):
            GenerationConfig(**kwargs)

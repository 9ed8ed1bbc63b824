"""Training: the loss, the chat label mask, activation checkpointing and the training-memory byte model.

The parity tests (marked ``reference``) compare one training step with transformers on the same random
weights, for text, image and video batches with left padding: the loss, every parameter's gradient and
the weights after one ``torch.optim.AdamW`` step. They also run against transformers 5.x
(``.venv-tf5``, scripts/test_reference.sh).
"""

from __future__ import annotations

import copy
import dataclasses
import warnings

import pytest
import torch
import torch.nn.functional as F

from qwen_lite.config import small, tiny
from qwen_lite.model import Qwen25VLForConditionalGeneration
from qwen_lite.training import (
    IGNORE_INDEX,
    activation_floats,
    build_labels,
    causal_lm_loss,
    retained_bytes,
    training_bytes,
)
from tests.model_inputs import IMG, VID, block, compact, left_pad, model_pair, our_model, pixels, text
from tests.reference import hf_key, reference_forward

# --- inputs ------------------------------------------------------------------------------------------


def batch(kind: str) -> dict:
    """A left-padded batch of two rows (text, image or video) with labels; row 0 really is padded."""
    torch.manual_seed(3)
    inputs = {}
    if kind == "text":
        rows = [text(7), text(12)]
    elif kind == "image":
        values, grid = pixels((1, 4, 4), (1, 4, 6))
        rows = [text(2) + block(IMG, grid[0]) + text(3), text(4) + block(IMG, grid[1]) + text(6)]
        inputs = dict(pixel_values=values, image_grid_thw=grid)
    else:
        # Grids and timing where transformers 4.57 and 5.x place the text after a video alike (5.x differs
        # when (t - 1) * interval >= max(h, w) / 2: book/data/version_differences.json).
        values, grid = pixels((2, 4, 6), (2, 6, 4))
        rows = [text(2) + block(VID, grid[0]) + text(2), text(3) + block(VID, grid[1]) + text(9)]
        inputs = dict(
            pixel_values_videos=values, video_grid_thw=grid, second_per_grid_ts=torch.tensor([1.0, 1.0])
        )
    ids, mask = left_pad(rows)
    assert mask[0, 0] == 0 and mask[1].all()
    labels = ids.clone()
    labels[(mask == 0) | (ids == IMG) | (ids == VID)] = IGNORE_INDEX
    labels[:, -6:-4] = IGNORE_INDEX  # a masked stretch inside the real tokens too
    return dict(input_ids=ids, attention_mask=mask, labels=labels, **inputs)


# --- the loss ------------------------------------------------------------------------------------------


def test_loss_is_the_mean_cross_entropy_of_each_position_against_the_next_label():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 11)
    labels = torch.randint(0, 11, (2, 5))
    labels[0, 2] = labels[1, 0] = IGNORE_INDEX  # labels[1, 0] is never a target anyway (nothing predicts it)
    terms = [
        -logits[b, i].log_softmax(-1)[labels[b, i + 1]]
        for b in range(2)
        for i in range(4)
        if labels[b, i + 1] != IGNORE_INDEX
    ]
    assert len(terms) == 7
    torch.testing.assert_close(causal_lm_loss(logits, labels), torch.stack(terms).mean())
    # num_items_in_batch: the sum over counted tokens divided by it
    torch.testing.assert_close(
        causal_lm_loss(logits, labels, num_items_in_batch=10), torch.stack(terms).sum() / 10
    )


def test_loss_upcasts_bf16_logits_to_float32():
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 50).bfloat16()
    labels = torch.randint(0, 50, (2, 6))
    loss = causal_lm_loss(logits, labels)
    assert loss.dtype == torch.float32
    assert torch.equal(loss, causal_lm_loss(logits.float(), labels))


def test_num_items_in_batch_makes_accumulated_micro_batches_equal_the_whole_batch():
    torch.manual_seed(0)
    logits = torch.randn(4, 7, 13, requires_grad=True)
    labels = torch.randint(0, 13, (4, 7))
    labels[:2, :5] = IGNORE_INDEX  # uneven counts: plain means of the halves would weight tokens unequally
    whole = causal_lm_loss(logits, labels)
    counted = int((F.pad(labels, (0, 1), value=IGNORE_INDEX)[:, 1:] != IGNORE_INDEX).sum())
    parts = [causal_lm_loss(logits[i : i + 2], labels[i : i + 2], num_items_in_batch=counted) for i in (0, 2)]
    torch.testing.assert_close(sum(parts), whole)
    plain = sum(causal_lm_loss(logits[i : i + 2], labels[i : i + 2]) for i in (0, 2)) / 2
    assert abs(float(plain.detach()) - float(whole.detach())) > 1e-3  # the naive average really differs


NO_COUNTED = r"no position is counted \(all labels are -100.*NaN.*build_labels has no assistant turn"


@pytest.mark.parametrize("first", [IGNORE_INDEX, 3], ids=["all -100", "only the first (never a target)"])
def test_no_counted_token_gives_nan_as_transformers_does_and_says_why(first):
    labels = torch.full((2, 4), IGNORE_INDEX)
    labels[:, 0] = first
    with pytest.warns(UserWarning, match=NO_COUNTED):
        loss = causal_lm_loss(torch.randn(2, 4, 9), labels)
    assert torch.isnan(loss)


def test_no_counted_token_with_num_items_in_batch_is_zero_and_silent():
    # A micro-batch without answers adds nothing to an accumulated step: sum 0 / num_items, as transformers.
    labels = torch.full((1, 4), IGNORE_INDEX)
    logits = torch.randn(1, 4, 9, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for items in (5, torch.tensor(5)):
            loss = causal_lm_loss(logits, labels, items)
            assert loss.item() == 0.0 and not torch.isnan(loss)
        causal_lm_loss(logits, labels.masked_fill(torch.arange(4) == 2, 1))  # one counted token: no warning


def test_model_loss_on_a_chat_without_an_assistant_turn_warns():
    ours = our_model()
    inputs = batch("text")
    inputs["labels"] = torch.full_like(inputs["input_ids"], IGNORE_INDEX)
    with torch.no_grad(), pytest.warns(UserWarning, match=NO_COUNTED):
        assert torch.isnan(ours(**inputs).loss)


def test_without_labels_nothing_changes():
    ours = our_model()
    inputs = batch("image")
    labels = inputs.pop("labels")
    with torch.no_grad():
        plain = ours(**inputs)
        with_labels = ours(**inputs, labels=labels)
    assert plain.loss is None
    assert torch.equal(plain.logits, with_labels.logits)
    assert with_labels.loss.shape == () and with_labels.loss.dtype == torch.float32
    torch.testing.assert_close(with_labels.loss, causal_lm_loss(plain.logits, labels))


@pytest.mark.parametrize(
    "change, error, message",
    [
        (dict(labels=lambda ids: ids[:, 1:]), ValueError, r"labels: expected shape"),
        (dict(labels=lambda ids: ids.float()), TypeError, r"labels: expected an integer tensor"),
        (dict(labels=lambda ids: ids.bool()), TypeError, r"labels: expected an integer tensor"),
        (dict(labels=lambda ids: ids.tolist()), TypeError, r"labels: expected a torch.Tensor"),
        (
            dict(labels=lambda ids: ids.masked_fill(ids == ids[0, -1], -5)),
            ValueError,
            r"labels\[0, \d+\] = -5",
        ),
        (dict(labels=lambda ids: ids.masked_fill(ids == ids[1, -1], 4096)), ValueError, r"0\.\.4095 or -100"),
        (dict(logits_to_keep=1), ValueError, r"labels with logits_to_keep=1"),
        (dict(num_items_in_batch=0), ValueError, r"num_items_in_batch: expected the number of counted"),
        (dict(num_items_in_batch=torch.ones(2)), TypeError, r"num_items_in_batch: expected a positive int"),
        (dict(num_items_in_batch="3"), TypeError, r"num_items_in_batch: expected a positive int"),
        (dict(labels=None, num_items_in_batch=3), ValueError, r"num_items_in_batch was given without labels"),
    ],
)
def test_bad_labels_are_refused_with_the_argument_named(change, error, message):
    ours = our_model()
    inputs = batch("text")
    change = dict(change)
    if callable(change.get("labels")):
        change["labels"] = change["labels"](inputs["input_ids"])
    inputs.update(change)
    with pytest.raises(error, match=message):
        ours(**inputs)


# --- parity with transformers: one training step -----------------------------------------------------------


LR = 1e-2


def train_step(model, forward, inputs, **loss_kwargs):
    """(loss, {released name: grad}, {released name: weight after one AdamW step}) for one model."""
    model.train()
    model.zero_grad()
    loss = forward(model, **inputs, **loss_kwargs).loss
    loss.backward()
    named = dict(model.named_parameters())
    grads = {name: None if p.grad is None else p.grad.clone() for name, p in named.items()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.1)
    optimizer.step()
    return loss.detach(), grads, {name: p.detach().clone() for name, p in named.items()}


def ours_forward(model, **inputs):
    return model(**inputs)


@pytest.mark.reference
@pytest.mark.parametrize("kind", ["text", "image", "video"])
@pytest.mark.parametrize("accumulate", [False, True], ids=["mean", "num_items_in_batch"])
def test_one_training_step_matches_transformers(kind, accumulate):
    ours, reference = model_pair(seed=4)
    inputs = batch(kind)
    extra = dict(num_items_in_batch=torch.tensor(50)) if accumulate else {}
    our_loss, our_grads, our_after = train_step(ours, ours_forward, inputs, **extra)
    ref_loss, ref_grads, ref_after = train_step(reference, reference_forward, inputs, **extra)
    torch.testing.assert_close(our_loss, ref_loss, atol=1e-6, rtol=1e-6)
    assert set(ref_grads) == {hf_key(name) for name in our_grads}  # every parameter, names mapped
    for name, grad in our_grads.items():
        if kind == "text" and name.startswith("visual."):  # the tower never ran: no gradient in either
            assert grad is None and ref_grads[hf_key(name)] is None, name
        else:
            assert grad.abs().sum() > 0, name
            torch.testing.assert_close(grad, ref_grads[hf_key(name)], atol=1e-5, rtol=1e-4, msg=name)
        # AdamW's first step moves each weight by lr * g / (|g| + eps) (plus weight decay): a gradient element
        # at rounding level (|g| < 1e-6; the smallest here are ~1e-10) becomes a full +-lr step whose sign is
        # round-off, different in the two libraries. Elsewhere the weights agree.
        after, ref = our_after[name], ref_after[hf_key(name)]
        if grad is None:
            assert torch.equal(after, ref), name
            continue
        sure = (grad.abs() > 1e-6) & (ref_grads[hf_key(name)].abs() > 1e-6)
        torch.testing.assert_close(after[sure], ref[sure], atol=1e-6, rtol=1e-5, msg=name)
        assert (after - ref).abs().max() <= 2 * LR + 1e-6, name


@pytest.mark.reference
def test_causal_lm_loss_is_transformers_for_causal_lm_loss():
    from transformers.loss.loss_utils import ForCausalLMLoss

    torch.manual_seed(0)
    logits = torch.randn(3, 9, 40).bfloat16()
    labels = torch.randint(0, 40, (3, 9))
    labels[0, :4] = labels[2, 5:] = IGNORE_INDEX
    for items in (None, 17, torch.tensor(17)):
        assert torch.equal(
            causal_lm_loss(logits, labels, items),
            ForCausalLMLoss(logits, labels, 40, num_items_in_batch=items),
        )
    # No counted token: NaN for the mean, 0.0 with num_items_in_batch -- the same values (ours also warns).
    empty = torch.full_like(labels, IGNORE_INDEX)
    with pytest.warns(UserWarning, match=NO_COUNTED):
        ours = causal_lm_loss(logits, empty)
    reference = ForCausalLMLoss(logits, empty, 40)
    assert torch.isnan(ours) and torch.isnan(reference)
    for items in (17, torch.tensor(17)):
        assert torch.equal(
            causal_lm_loss(logits, empty, items), ForCausalLMLoss(logits, empty, 40, num_items_in_batch=items)
        )


# --- which tokens count ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def processor():
    from qwen_lite.processor import Qwen25VLProcessor

    return Qwen25VLProcessor()


def chat(answer1: str = "A red hat.", answer2: str = "Two.") -> list[dict]:
    image = torch.zeros(56, 56, 3, dtype=torch.uint8).numpy()
    return [
        {
            "role": "user",
            "content": [{"type": "image", "image": image}, {"type": "text", "text": "What is it?"}],
        },
        {"role": "assistant", "content": answer1},
        {"role": "user", "content": "How many?"},
        {"role": "assistant", "content": answer2},
    ]


def rendered(processor, conversations):
    from qwen_lite.tokenizer import apply_chat_template

    texts = [apply_chat_template(c, add_generation_prompt=False) for c in conversations]
    images = [item["image"] for c in conversations for m in c if isinstance(m["content"], list) for item in m["content"] if "image" in item]  # fmt: skip
    return processor(text=texts, images=images or None)


def counted_text(processor, ids, labels) -> str:
    return processor.decode([i for i, label in zip(ids.tolist(), labels.tolist()) if label != IGNORE_INDEX])


def test_only_the_assistant_answers_and_their_end_count(processor):
    inputs = rendered(processor, [chat(), chat("Blue.", "Three, all of them small.")])
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    assert (mask[0] == 0).any()  # the first conversation is shorter: left padded
    labels = build_labels(ids, mask)
    assert labels.dtype == torch.int64 and labels.shape == ids.shape
    assert counted_text(processor, ids[0], labels[0]) == "A red hat.<|im_end|>\nTwo.<|im_end|>\n"
    assert (
        counted_text(processor, ids[1], labels[1]) == "Blue.<|im_end|>\nThree, all of them small.<|im_end|>\n"
    )
    counted = labels != IGNORE_INDEX
    assert torch.equal(labels[counted], ids[counted])
    assert not counted[ids == processor.image_token_id].any() and not counted[mask == 0].any()
    without_newline = build_labels(ids, mask, include_newline=False)
    assert counted_text(processor, ids[0], without_newline[0]) == "A red hat.<|im_end|>Two.<|im_end|>"
    without_end = build_labels(ids, mask, include_end=False)
    assert counted_text(processor, ids[0], without_end[0]) == "A red hat.Two."


def test_label_edge_cases(processor):
    from qwen_lite.tokenizer import apply_chat_template

    tok = processor.tokenizer
    # An answer that starts with a newline: BPE merges it with the header's into one token, which counts.
    ids = torch.tensor([tok.encode(apply_chat_template(chat("\nYes.")[:2], add_generation_prompt=False))])
    assert counted_text(processor, ids[0], build_labels(ids)[0]) == "\n\nYes.<|im_end|>\n"
    # A turn cut off before its <|im_end|> counts up to the end of the row.
    full = tok.encode(apply_chat_template(chat()[:2], add_generation_prompt=False))
    cut = torch.tensor([full[:-4]])
    assert counted_text(processor, cut[0], build_labels(cut)[0]) == "A red"
    # A generation prompt (empty assistant turn) and a prompt without any assistant turn count nothing.
    prompt = torch.tensor([tok.encode(apply_chat_template(chat()[:1]))])
    assert (build_labels(prompt) == IGNORE_INDEX).all()
    with pytest.warns(UserWarning, match=NO_COUNTED):  # ... and the loss on them says so
        causal_lm_loss(torch.randn(1, prompt.shape[1], 8), build_labels(prompt))


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((torch.zeros(3, dtype=torch.long),), ValueError, "input_ids"),
        ((torch.zeros(1, 3),), TypeError, "input_ids: expected an integer tensor"),
        ((torch.zeros(1, 3, dtype=torch.long), torch.ones(1, 4)), ValueError, "attention_mask"),
        (
            (torch.zeros(1, 3, dtype=torch.long), torch.full((1, 3), 2)),
            ValueError,
            "attention_mask: expected only 0",
        ),
    ],
)
def test_build_labels_errors(args, error, message):
    with pytest.raises(error, match=message):
        build_labels(*args)


# --- activation checkpointing -------------------------------------------------------------------------


def loss_and_grads(model, inputs):
    model.zero_grad()
    loss = model(**inputs).loss
    loss.backward()
    return loss.detach(), {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("kind", ["text", "image", "video"])
def test_gradient_checkpointing_gives_identical_loss_and_gradients(kind):
    ours = our_model(seed=5).train()
    inputs = batch(kind)
    loss, grads = loss_and_grads(ours, inputs)
    keys = list(ours.state_dict())
    ours.gradient_checkpointing_enable()
    assert ours.gradient_checkpointing
    checkpointed_loss, checkpointed_grads = loss_and_grads(ours, inputs)
    assert torch.equal(loss, checkpointed_loss)
    for name, grad in grads.items():
        assert (grad is None and checkpointed_grads[name] is None) or torch.equal(
            grad, checkpointed_grads[name]
        ), name
    assert list(ours.state_dict()) == keys  # names unchanged
    # it really recomputes: the forward keeps less
    kept_on, _ = retained_bytes(lambda: ours(**inputs))
    ours.gradient_checkpointing = False
    kept_off, _ = retained_bytes(lambda: ours(**inputs))
    assert kept_on < 0.9 * kept_off


def test_gradient_checkpointing_switch():
    ours = our_model(seed=5).train()
    ours.gradient_checkpointing = True
    twin = copy.deepcopy(ours)  # the per-block switch follows the copy
    assert twin.model.layers[0].forward.__self__ is twin.model.layers[0]
    inputs = batch("text")
    inputs.pop("labels")
    with pytest.warns(UserWarning, match="use_cache=True with gradient checkpointing"):
        out = ours(**inputs, use_cache=True)
    assert out.past_key_values is None
    ours.eval()  # eval mode: a KV cache works as before
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with torch.no_grad():
            assert ours(**inputs, use_cache=True).past_key_values is not None
    ours.gradient_checkpointing_disable()
    assert not ours.gradient_checkpointing and "forward" not in vars(ours.model.layers[0])
    with pytest.raises(TypeError, match="gradient_checkpointing: expected True or False"):
        ours.gradient_checkpointing = 1


# --- the training-memory byte model -------------------------------------------------------------------


@pytest.mark.parametrize("base", [tiny, small])
@pytest.mark.parametrize("grid", [(8, 8), (12, 20)])
@pytest.mark.parametrize("checkpointing", [False, True])
@pytest.mark.parametrize("train_vision", [True, False])
def test_activation_byte_model_matches_measurement(base, grid, checkpointing, train_vision):
    config = compact(base())
    torch.manual_seed(0)
    model = Qwen25VLForConditionalGeneration(config).train()
    model.visual.requires_grad_(train_vision)
    model.gradient_checkpointing = checkpointing
    h, w = grid
    ids = torch.tensor([text(30) + block(IMG, (1, h, w)) + text(5)])
    pixel_values = torch.randn(h * w, config.vision.patch_dim)
    grid_thw = torch.tensor([[1, h, w]])
    measured, _ = retained_bytes(
        lambda: model(ids, pixel_values=pixel_values, image_grid_thw=grid_thw, labels=ids)
    )
    predicted = 4 * sum(
        activation_floats(
            config, ids.numel(), h * w, checkpointing=checkpointing, train_vision=train_vision
        ).values()
    )
    assert abs(measured / predicted - 1) < 0.05, (measured, predicted)


def test_weights_gradients_and_adamw_state_bytes_are_exact():
    config = compact(tiny())
    torch.manual_seed(0)
    model = Qwen25VLForConditionalGeneration(config).train()
    model.visual.requires_grad_(False)
    ids = torch.tensor([text(20)])
    model(ids, labels=ids).loss.backward()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
    optimizer.step()
    model_bytes = training_bytes(config, ids.numel(), train_vision=False)
    params = list(model.parameters())
    assert model_bytes["weights"] == sum(p.nbytes for p in params)
    assert model_bytes["gradients"] == sum(p.grad.nbytes for p in params if p.grad is not None)
    state = [t for s in optimizer.state.values() for k, t in s.items() if k != "step"]
    assert model_bytes["AdamW state"] == sum(t.nbytes for t in state)
    tied = config.replace(text=dataclasses.replace(config.text, tie_word_embeddings=True))
    assert training_bytes(tied, 1)["weights"] == model_bytes["weights"] - 4 * config.text.vocab_size * 64

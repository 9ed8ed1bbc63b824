"""Autoregressive generation: one prefill with the pixels, then one token per step from the KV cache.

    prefill: model(prompt, pixels, grids)  -> logits of the last position, KVCache, rope_deltas
    step:    model(new token, cache, rope_deltas) -> logits of that token
             (the token's position = cache length + rope_delta, the same on all three axes)

Each step's logits go through the same processors as in transformers' ``generate()``
(``transformers/generation/utils.py``, ``_get_logits_processor``), in its order:

    repetition penalty (greedy and sampling)  ->  temperature -> top-k -> top-p (sampling only)

then ``argmax`` (greedy) or a draw from the softmax (sampling). Rows that emit an end token are
finished: their later tokens are ``pad_token_id``, and the loop stops once every row is.

The defaults come from a :class:`GenerationConfig` -- the model's ``generation_config``, read from the
checkpoint folder's ``generation_config.json`` -- exactly as transformers does; an argument passed to
:func:`generate` overrides the config for that call.

What matches transformers (same weights and inputs, SDPA attention, CPU), by dtype:

* **float32**: the logits are bit-identical to transformers' at every step (the tiny test models; the
  released 3B shapes at all 16 measured steps, issue 16), so greedy decoding gives the same ids token for
  token (``tests/test_generation.py``; the tests compare the logits within 1e-5).
* **bfloat16**: the logits are bit-identical -- and greedy ids equal token for token -- when both models
  hold the same bf16 weights and the reference is loaded the way users load it,
  ``from_pretrained(folder, dtype=torch.bfloat16)`` from a bf16 checkpoint (its rotary frequency tables
  then stay float32 buffers; a reference cast with ``model.to(torch.bfloat16)`` rounds them and differs).
  This holds because qwen_lite rounds where transformers rounds (``tests/test_bf16.py``). The explicit,
  more accurate option ``Attention.rotary_in_float32 = True`` rotates the text q/k in float32 instead;
  it gives up this equality (at the released 3B shapes with random bf16 weights the greedy ids split from
  transformers' at the 2nd of 16 tokens, issue 16).
* float16 is not compared with the reference.

Sampling draws the same ids as transformers whenever the filtered distribution has a single token (e.g.
``top_k=1``), in the dtypes above.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from qwen_lite.shapes import check_shape
from qwen_lite.text import KVCache

# transformers' default when neither max_new_tokens nor max_length is set ("by default let's always
# generate 20 new tokens", generation/utils.py `_prepare_generated_length`).
DEFAULT_MAX_NEW_TOKENS = 20


class GenerationArgumentError(ValueError):
    """A generation argument (or ``generation_config`` field) has a value transformers would refuse."""

    def __init__(self, argument: str, message: str):
        super().__init__(message)
        self.argument = argument


class GenerationArgumentTypeError(TypeError):
    """A generation argument (or ``generation_config`` field) has the wrong type."""

    def __init__(self, argument: str, message: str):
        super().__init__(message)
        self.argument = argument


# --- the configuration --------------------------------------------------------------------------


# Keys transformers 5.x writes into every generation_config.json at these values (they change nothing
# in greedy or sampled generation): silent when at them, named in the warning otherwise.
_WRITTEN_AT_DEFAULT = {"output_attentions": False, "output_hidden_states": False, "use_cache": True}


@dataclass
class GenerationConfig:
    """The defaults of :func:`generate`: the fields of transformers' ``GenerationConfig`` that qwen_lite runs.

    Field meanings and defaults are transformers' (``transformers/generation/configuration_utils.py``):

    ==================== ============ ===========================================================
    field                default      meaning
    ==================== ============ ===========================================================
    eos_token_id         None         end id or list of ids; a row stops after emitting one
                                      (``[]`` or None: never stop early)
    pad_token_id         None         written after a row has finished (None: the first end id)
    bos_token_id         None         recorded only (decoder-only generation starts from the prompt)
    do_sample            False        sample from the filtered distribution instead of argmax
    temperature          1.0          logits / temperature before top-k/top-p (sampling only)
    top_k                50           keep the k most likely tokens (0: off; sampling only)
    top_p                1.0          keep the smallest set reaching this mass (1.0: off)
    repetition_penalty   1.0          divide positive / multiply negative logits of every id
                                      already in the sequence, prompt and padding included
    max_new_tokens       None         answer length limit (None: 20, transformers' default)
    ==================== ============ ===========================================================

    A model built without a checkpoint gets :meth:`released` (the Instruct models' end ids
    ``[<|im_end|>, <|endoftext|>]`` = [151645, 151643], pad ``<|endoftext|>`` = 151643, greedy, no
    penalty); :func:`qwen_lite.weights.from_pretrained` reads the folder's ``generation_config.json``
    with :meth:`from_dict`. Every field is checked on construction: a wrong type raises
    :class:`GenerationArgumentTypeError`, an out-of-range value :class:`GenerationArgumentError`
    (``TypeError`` / ``ValueError`` subclasses whose message starts with the field's name). The ranges of
    the sampling settings (``temperature``, ``top_k``, ``top_p``) are checked by :func:`generate` when it
    samples, as transformers checks them only when it builds its warpers. None for
    ``temperature``, ``top_k``, ``top_p`` or ``repetition_penalty`` (a ``null`` in a file) means "no such
    processor", as in transformers 4.57, and is stored as the value that says so (1.0, 0, 1.0, 1.0): a file
    written back then reads the same in transformers 5.x, where a missing value takes the default instead.
    """

    eos_token_id: int | list[int] | None = None
    pad_token_id: int | None = None
    bos_token_id: int | None = None
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 50
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    max_new_tokens: int | None = None

    def __post_init__(self):
        for field in dataclasses.fields(self):
            setattr(self, field.name, _CHECKS[field.name](getattr(self, field.name)))

    @classmethod
    def released(cls, config) -> GenerationConfig:
        """The released Instruct models' ``generation_config.json`` ids for a :class:`Qwen25VLConfig`.

        End ids ``[config.eos_token_id, config.bos_token_id]`` (``<|im_end|>``, ``<|endoftext|>``), pad and
        bos ``config.bos_token_id``; greedy, no penalty (the released files also set sampling values --
        ``do_sample``, ``top_k=1``, ``repetition_penalty=1.05``... -- which only a loaded folder brings).
        """
        return cls(
            eos_token_id=[config.eos_token_id, config.bos_token_id],
            pad_token_id=config.bos_token_id,
            bos_token_id=config.bos_token_id,
        )

    @classmethod
    def from_model_config(cls, config) -> GenerationConfig:
        """What transformers uses for a folder *without* ``generation_config.json``.

        ``GenerationConfig.from_model_config``: the ``config.json`` end id (one id, ``<|im_end|>``) and bos;
        no pad id, so finished rows are padded with the end id.
        """
        return cls(eos_token_id=config.eos_token_id, bos_token_id=config.bos_token_id)

    @classmethod
    def from_dict(cls, d: dict) -> GenerationConfig:
        """A ``generation_config.json`` dictionary -> :class:`GenerationConfig`.

        Metadata keys (``transformers_version`` and keys starting with ``_``), and the keys transformers 5.x
        writes at their defaults (``use_cache: true``, ``output_attentions``/``output_hidden_states: false``),
        are ignored silently. Every
        other key that qwen_lite does not run (``num_beams``, ``max_length``, ``min_p``...) is NAMED in one
        ``UserWarning`` and ignored, never dropped silently. Raises ``TypeError``/``ValueError`` (naming the
        key) for a value of the wrong type or range; :func:`qwen_lite.weights.read_generation_config`
        adds the file name.
        """
        if not isinstance(d, dict):
            raise TypeError(f"expected a JSON object, got a JSON {_json_type(d)}")
        fields = {f.name for f in dataclasses.fields(cls)}
        ignored = sorted(
            k
            for k in d
            if k not in fields and not _is_metadata(k) and not _WRITTEN_AT_DEFAULT.get(k, object()) == d[k]
        )
        if ignored:
            shown = ", ".join(f"{k}={d[k]!r}" for k in ignored)
            warnings.warn(
                f"generation_config.json: qwen_lite does not implement {shown}; "
                f"{'this key is' if len(ignored) == 1 else 'these keys are'} ignored (supported: "
                f"{', '.join(sorted(fields))})",
                UserWarning,
                stacklevel=3,
            )
        return cls(**{k: v for k, v in d.items() if k in fields})

    def to_dict(self) -> dict:
        """The ``generation_config.json`` dictionary: the ids and ``do_sample`` always, other fields where they
        differ from transformers' defaults (as transformers writes it), so transformers reads the same config."""
        defaults = GenerationConfig()
        always = ("bos_token_id", "eos_token_id", "pad_token_id", "do_sample")  # transformers' own order
        out = {name: getattr(self, name) for name in always}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name not in always and value != getattr(defaults, field.name):
                out[field.name] = value
        return out


def _is_metadata(key: str) -> bool:
    return key.startswith("_") or key == "transformers_version"


def _json_type(value) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def _describe(value) -> str:
    return f"{value!r} ({type(value).__name__})"


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _token_id(name: str):
    def check(value):
        if value is None:
            return None
        if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
            value = value.item()
        if not _is_int(value):
            raise GenerationArgumentTypeError(name, f"{name} must be an int token id, got {_describe(value)}")
        if value < 0:
            raise GenerationArgumentError(name, f"{name} must be a token id >= 0, got {value}")
        return int(value)

    return check


def _end_ids(value):
    """``eos_token_id``: an id or a list of ids -> the same (a list stays a list)."""
    if value is None or _is_int(value):
        return _token_id("eos_token_id")(value)
    if isinstance(value, torch.Tensor) and not value.is_floating_point() and value.dtype != torch.bool:
        value = value.flatten().tolist()
    if not isinstance(value, (list, tuple)):
        raise GenerationArgumentTypeError(
            "eos_token_id", f"eos_token_id must be an int or a list of ints, got {_describe(value)}"
        )
    ids = []
    for i, item in enumerate(value):
        if not _is_int(item):
            raise GenerationArgumentTypeError(
                "eos_token_id", f"eos_token_id[{i}] must be an int token id, got {_describe(item)}"
            )
        if item < 0:
            raise GenerationArgumentError("eos_token_id", f"eos_token_id[{i}] must be >= 0, got {item}")
        ids.append(int(item))
    return ids


def _flag(name: str):
    def check(value):
        if isinstance(value, (bool, np.bool_)) or (_is_int(value) and value in (0, 1)):
            return bool(value)
        raise GenerationArgumentTypeError(name, f"{name} must be True or False, got {_describe(value)}")

    return check


def _real(name: str, low: float, low_inclusive: bool, high: float | None = None, meaning: str = "",
          ranged: bool = True):  # fmt: skip
    """A float in [low, high] (or (low, high]); ints are exact floats; None -> 1.0 (the processor is off).
    ``ranged=False``: the type only (a sampling setting is range-checked only when sampling)."""

    def check(value):
        if value is None:
            return 1.0
        if not _is_real(value):
            raise GenerationArgumentTypeError(name, f"{name} must be a float, got {_describe(value)}")
        value = float(value)
        if not ranged:
            return value
        too_low = value < low if low_inclusive else value <= low
        if math.isnan(value) or too_low or (high is not None and value > high):
            bound = f"{'>=' if low_inclusive else '>'} {low:g}" + (
                f" and <= {high:g}" if high is not None else ""
            )
            raise GenerationArgumentError(name, f"{name} must be a float {bound}{meaning}, got {value}")
        return value

    return check


def _top_k(value, ranged: bool = True):
    if value is None:  # transformers 4.57: no TopKLogitsWarper, the same as 0
        return 0
    if not _is_int(value):
        raise GenerationArgumentTypeError("top_k", f"top_k must be an int (0 = off), got {_describe(value)}")
    if ranged and value < 0:
        raise GenerationArgumentError(
            "top_k", f"top_k must be a strictly positive integer, or 0 to turn it off; got {value}"
        )
    return int(value)


def _max_new_tokens(value):
    if value is None:
        return None
    if not _is_int(value):
        raise GenerationArgumentTypeError(
            "max_new_tokens", f"max_new_tokens must be an int > 0, got {_describe(value)}"
        )
    if value <= 0:
        raise GenerationArgumentError("max_new_tokens", f"max_new_tokens must be greater than 0, got {value}")
    return int(value)


# The sampling settings, range-checked when they are used (do_sample=True), as transformers checks them only
# when it builds its warpers: with greedy decoding it accepts (and ignores) temperature=-1 or top_k=-1.
SAMPLING_CHECKS = {
    "temperature": _real(
        "temperature", 0.0, False, meaning=" when sampling (for greedy decoding: do_sample=False)"
    ),
    "top_k": _top_k,
    "top_p": _real("top_p", 0.0, True, 1.0, meaning=" (a probability mass)"),
}
_CHECKS = {
    "eos_token_id": _end_ids,
    "pad_token_id": _token_id("pad_token_id"),
    "bos_token_id": _token_id("bos_token_id"),
    "do_sample": _flag("do_sample"),
    "temperature": _real("temperature", 0.0, False, ranged=False),
    "top_k": lambda value: _top_k(value, ranged=False),
    "top_p": _real("top_p", 0.0, True, 1.0, ranged=False),
    "repetition_penalty": _real("repetition_penalty", 0.0, False, meaning=" (1.0 = no penalty)"),
    "max_new_tokens": _max_new_tokens,
}

# transformers generate() arguments that qwen_lite does not implement, with the values that change nothing
# (accepted, so that a call written for transformers runs): anything else is refused with a TypeError.
NEUTRAL_ARGUMENTS = {
    "num_beams": (1,),
    "num_beam_groups": (1,),
    "num_return_sequences": (1,),
    "min_new_tokens": (None, 0),
    "min_length": (None, 0),
    "no_repeat_ngram_size": (None, 0),
    "encoder_repetition_penalty": (None, 1.0),
    "length_penalty": (None, 1.0),
    "early_stopping": (False,),
    "typical_p": (None, 1.0),
    "min_p": (None,),
    "epsilon_cutoff": (None, 0.0),
    "eta_cutoff": (None, 0.0),
    "diversity_penalty": (None, 0.0),
    "penalty_alpha": (None,),
    "guidance_scale": (None, 1.0),
    "bad_words_ids": (None,),
    "sequence_bias": (None,),
    "suppress_tokens": (None,),
    "begin_suppress_tokens": (None,),
    "forced_bos_token_id": (None,),
    "forced_eos_token_id": (None,),
    "renormalize_logits": (False,),
    "remove_invalid_values": (False,),
    "output_scores": (False,),
    "output_logits": (False,),
    "output_attentions": (False,),
    "output_hidden_states": (False,),
    "return_dict_in_generate": (False,),
    "max_length": (None,),
    "max_time": (None,),
    "stop_strings": (None,),
    "streamer": (None,),
    "logits_processor": (None,),
    "stopping_criteria": (None,),
    "assistant_model": (None,),
    "prompt_lookup_num_tokens": (None,),
    "low_memory": (None,),
    "watermarking_config": (None,),
    "cache_implementation": (None,),
}


def check_unsupported(kwargs: dict) -> None:
    """Refuse (``TypeError`` naming them) generate() keywords qwen_lite does not run; accept neutral values."""
    for name, value in kwargs.items():
        if name in NEUTRAL_ARGUMENTS:
            neutral = NEUTRAL_ARGUMENTS[name]
            if any(value is n or (n is not None and _is_real(value) and value == n) for n in neutral):
                continue
            hint = " (pass max_new_tokens instead)" if name == "max_length" else ""
            raise TypeError(
                f"generate(): {name}={value!r} is a transformers generation option that qwen_lite does not "
                f"implement{hint}; qwen_lite runs greedy and sampling decoding with "
                f"{', '.join(_CHECKS)} (only {name}={neutral[-1]!r}, which changes nothing, is accepted)"
            )
        raise TypeError(
            f"generate() got an unexpected keyword argument {name!r}; generation options: "
            f"{', '.join(_CHECKS)}, plus generation_config, generator, use_cache and callback"
        )


def resolve_config(model, generation_config: GenerationConfig | None, **arguments) -> GenerationConfig:
    """The config of one :func:`generate` call: ``generation_config`` (else the model's), then every
    argument that is not None on top. Errors name the argument, and say when its value came from the config."""
    if generation_config is None:
        generation_config = getattr(model, "generation_config", None)
        if generation_config is None:
            generation_config = GenerationConfig.released(model.config)
        origin = "model.generation_config"
    else:
        origin = "the generation_config argument"
    if not isinstance(generation_config, GenerationConfig):
        raise TypeError(
            f"generation_config: expected a qwen_lite GenerationConfig, got {type(generation_config).__name__}"
        )
    explicit = {k: v for k, v in arguments.items() if v is not None}

    def named(error):  # the error, saying where the value came from when no argument passed it
        if error.argument in explicit:
            return error
        return type(error)(error.argument, f"{error} (the value comes from {origin})")

    try:
        config = dataclasses.replace(generation_config, **explicit)
        if config.do_sample:
            for name, check in SAMPLING_CHECKS.items():
                check(getattr(config, name))
    except (GenerationArgumentError, GenerationArgumentTypeError) as error:
        raise named(error) from None
    ignored = [k for k in ("temperature", "top_k", "top_p") if k in explicit]
    if ignored and not config.do_sample:
        warnings.warn(
            f"generate(): {', '.join(ignored)} only apply when sampling; do_sample is False, so "
            f"{'it is' if len(ignored) == 1 else 'they are'} not used",
            UserWarning,
            stacklevel=4,
        )
    vocab = model.config.text.vocab_size
    ids = {"eos_token_id": end_ids(config.eos_token_id), "pad_token_id": [config.pad_token_id]}
    for name, values in ids.items():
        for value in values:
            if value is not None and value >= vocab:
                raise GenerationArgumentError(
                    name, f"{name}={value} is outside the vocabulary (ids 0..{vocab - 1}, vocab_size {vocab})"
                )
    return config


def end_ids(eos_token_id) -> list[int]:
    """``eos_token_id`` (None, an id or a list) -> a list of ids."""
    if eos_token_id is None:
        return []
    return [eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id)


# --- the loop -----------------------------------------------------------------------------------


@torch.no_grad()
def generate(
    model,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    pixel_values: torch.Tensor | None = None,
    image_grid_thw: torch.Tensor | None = None,
    pixel_values_videos: torch.Tensor | None = None,
    video_grid_thw: torch.Tensor | None = None,
    second_per_grid_ts: torch.Tensor | None = None,
    *,
    generation_config: GenerationConfig | None = None,
    max_new_tokens: int | None = None,
    do_sample: bool | None = None,
    temperature: float | None = None,
    top_k: int | None = None,
    top_p: float | None = None,
    repetition_penalty: float | None = None,
    eos_token_id: int | list[int] | None = None,
    pad_token_id: int | None = None,
    bos_token_id: int | None = None,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
    callback: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
    **transformers_only,
) -> torch.Tensor:
    """Continue each prompt by up to ``max_new_tokens`` tokens. Returns (b l+new) token ids.

    input_ids: (b l) integer ids, left-padded where ``attention_mask`` (b l, 0/1) is 0. Without a mask,
    transformers' rule infers one: ``input_ids != pad_token_id`` when the pad id occurs in the prompt and
    is not an end id; else all ones. The pixel arguments are those of the model's forward and are used on
    the prefill only (with ``use_cache=False`` every step recomputes the whole sequence, pixels included
    -- slow, for checking the cache).

    The generation options (``max_new_tokens`` ... ``bos_token_id``, see :class:`GenerationConfig`) default
    to ``generation_config``, else ``model.generation_config``; an argument that is not None overrides it
    for this call (so None means "use the config"; transformers instead treats an *explicit* None as "unset
    the field" -- to turn off stopping pass ``eos_token_id=[]``, to turn off top-k ``top_k=0``).
    generator: a seeded ``torch.Generator`` makes sampling reproducible (None: torch's global generator,
    which transformers uses).
    callback: called after each step as ``callback(step, new_tokens (b), logits (b vocab))`` with the raw
    float32 logits (before the processors).

    Parity with transformers' ``generate`` (details in the module docstring): greedy ids equal token for
    token in float32 (bit-identical logits), and in bfloat16 when the model holds the bf16 weights of a bf16
    checkpoint, as ``from_pretrained(folder)`` loads the released ones (bit-identical logits,
    ``tests/test_bf16.py``); not with ``Attention.rotary_in_float32 = True`` in bfloat16.

    Errors, as transformers gives them where it refuses a value (``ValueError`` / ``TypeError`` naming the
    argument): ``max_new_tokens <= 0``, ``repetition_penalty <= 0`` or NaN, and when sampling ``top_k < 0``,
    ``top_p < 0``, ``temperature <= 0`` or NaN; also end/pad ids outside the vocabulary, a non-integer
    ``input_ids``, a mask of another shape or with values other than 0/1, and transformers options
    qwen_lite does not run (``num_beams=2``...: ``TypeError``). Values transformers accepts are accepted
    with its result: ``top_p=1.0`` and ``top_k=0`` turn the filter off, the sampling settings are unused
    (whatever their value, with a warning) when greedy, a ``max_new_tokens`` beyond
    ``max_position_embeddings`` only warns. Stricter than transformers (which skips its own top-p check
    when it does not build the filter): ``top_p > 1`` or NaN when sampling, and a wrong *type* in any mode
    (``top_k="5"``: a ``TypeError`` naming it; transformers ignores it when greedy, crashes inside when sampling).
    """
    check_unsupported(transformers_only)
    config = resolve_config(
        model, generation_config, max_new_tokens=max_new_tokens, do_sample=do_sample, temperature=temperature,
        top_k=top_k, top_p=top_p, repetition_penalty=repetition_penalty, eos_token_id=eos_token_id,
        pad_token_id=pad_token_id, bos_token_id=bos_token_id,
    )  # fmt: skip
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator or None, got {type(generator).__name__}")
    if not isinstance(use_cache, (bool, np.bool_)):
        raise TypeError(f"use_cache: expected True or False, got {_describe(use_cache)}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback: expected a callable or None, got {type(callback).__name__}")
    batch, length = check_shape(input_ids, "b l", "input_ids").values()
    if input_ids.is_floating_point() or input_ids.is_complex() or input_ids.dtype == torch.bool:
        raise TypeError(f"input_ids: expected an integer tensor of token ids, got {input_ids.dtype}")
    new_tokens = config.max_new_tokens or DEFAULT_MAX_NEW_TOKENS
    limit = model.config.text.max_position_embeddings
    if length + new_tokens > limit:  # transformers warns too (MaxLengthCriteria), and carries on
        warnings.warn(
            f"prompt of {length} tokens + max_new_tokens={new_tokens} exceeds max_position_embeddings "
            f"({limit}); positions beyond it were never seen in training",
            UserWarning,
            stacklevel=3,
        )
    eos = torch.tensor(end_ids(config.eos_token_id), dtype=torch.long, device=input_ids.device)
    pad = config.pad_token_id if config.pad_token_id is not None else (int(eos[0]) if len(eos) else None)
    if attention_mask is None:
        attention_mask = infer_attention_mask(input_ids, pad, eos)
    pixels = dict(pixel_values=pixel_values, image_grid_thw=image_grid_thw, pixel_values_videos=pixel_values_videos,
                  video_grid_thw=video_grid_thw, second_per_grid_ts=second_per_grid_ts)  # fmt: skip

    cache = KVCache() if use_cache else None
    # The prefill checks every input (ids, mask, pixels, grids) before anything else runs.
    out = model(input_ids, attention_mask=attention_mask, past_key_values=cache, logits_to_keep=1, **pixels)
    if bool((attention_mask[:, -1] == 0).any()):
        warnings.warn(
            "attention_mask: right padding detected; decoder-only generation needs left padding "
            "(tokens are appended after the last column)",
            UserWarning,
            stacklevel=3,
        )
    attention_mask = attention_mask.to(torch.long)
    rope_deltas = out.rope_deltas
    # int64 like transformers' result (its cat promotes int32 prompts); gather/scatter need int64 indices.
    tokens, unfinished = input_ids.long(), torch.ones(batch, dtype=torch.bool, device=input_ids.device)
    for step in range(new_tokens):
        logits = out.logits[:, -1].float()
        scores = process_logits(tokens, logits, config)
        new = choose(scores, config.do_sample, generator, step, config)
        if len(eos):
            new = torch.where(unfinished, new, pad)
        tokens = torch.cat([tokens, new[:, None]], dim=1)
        if len(eos):
            unfinished &= ~torch.isin(new, eos)
        attention_mask = torch.cat([attention_mask, attention_mask.new_ones(batch, 1)], dim=1)
        if callback is not None:
            callback(step, new, logits)
        if not unfinished.any() or step == new_tokens - 1:
            break
        if use_cache:  # feed only the new token; its position comes from the prefill's deltas
            out = model(
                new[:, None], attention_mask=attention_mask, past_key_values=cache, rope_deltas=rope_deltas
            )
        else:
            out = model(tokens, attention_mask=attention_mask, logits_to_keep=1, **pixels)
    return tokens


def infer_attention_mask(input_ids: torch.Tensor, pad: int | None, eos: torch.Tensor) -> torch.Tensor:
    """transformers' ``_prepare_attention_mask_for_generation``: ``input_ids != pad`` when the pad id occurs
    in the prompt and is not an end id, else all ones. (b l) -> (b l) int64."""
    ones = torch.ones(input_ids.shape, dtype=torch.long, device=input_ids.device)
    if pad is None or bool(torch.isin(torch.tensor(pad), eos.cpu()).item()):
        return ones
    if not bool((input_ids == pad).any()):
        return ones
    return input_ids.ne(pad).long()


def process_logits(input_ids: torch.Tensor, logits: torch.Tensor, config: GenerationConfig) -> torch.Tensor:
    """(b vocab) float logits -> the scores transformers' default processors make of them, in its order.

    ``input_ids`` (b l) is the whole sequence so far (prompt with its padding and placeholders, then the
    generated tokens): the repetition penalty looks at all of it, as ``RepetitionPenaltyLogitsProcessor``
    does. Temperature, top-k and top-p apply only when ``config.do_sample`` (transformers' "warpers"),
    with ``min_tokens_to_keep=1`` (single-beam search).
    """
    if config.repetition_penalty != 1.0:
        logits = repetition_penalty(input_ids, logits, config.repetition_penalty)
    if not config.do_sample:
        return logits
    if config.temperature != 1.0:
        logits = logits / config.temperature
    return filter_logits(logits, config.top_k, config.top_p)


def repetition_penalty(input_ids: torch.Tensor, logits: torch.Tensor, penalty: float) -> torch.Tensor:
    """transformers' ``RepetitionPenaltyLogitsProcessor`` (CTRL, Keskar et al. 2019): every id present in
    ``input_ids`` (b l) gets its logit divided by ``penalty`` if positive, multiplied if negative (once,
    however often it occurs). (b vocab) -> (b vocab)."""
    seen = torch.gather(logits, 1, input_ids)
    seen = torch.where(seen < 0, seen * penalty, seen / penalty)
    return logits.scatter(1, input_ids, seen)


def choose(scores: torch.Tensor, do_sample: bool, generator: torch.Generator | None = None, step: int = 0,
           config: GenerationConfig | None = None):  # fmt: skip
    """(b vocab) processed scores -> (b) ids: argmax, or one draw from ``softmax(scores)``.

    Raises ``ValueError`` (not torch.multinomial's RuntimeError) if a row's distribution is not a
    distribution -- NaN or infinite logits, e.g. a temperature (or repetition penalty) so small that
    ``logits / temperature`` overflows; the message names the settings of ``config`` that can do that.
    """
    if not do_sample:
        return scores.argmax(dim=-1)
    probs = torch.softmax(scores, dim=-1)
    broken = ~torch.isfinite(probs).all(dim=-1) | ~(probs.sum(dim=-1) > 0)
    if bool(broken.any()):
        rows = broken.nonzero().flatten().tolist()
        settings = ["temperature", "repetition_penalty"]
        if config is not None:
            settings = [
                f"{name}={getattr(config, name)}" for name in settings if getattr(config, name) != 1.0
            ]
        raise ValueError(
            f"sampling step {step}: the token distribution of row(s) {rows} is not finite (NaN or infinite "
            f"logits); check {' and '.join(settings or ['the inputs'])} (dividing the logits by a value near 0 "
            "overflows them)"
        )
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)


def filter_logits(
    logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None, min_tokens_to_keep: int = 1
) -> torch.Tensor:
    """Set to -inf every logit outside the ``top_k`` largest and outside the smallest top-``top_p`` mass.

    (b vocab) -> (b vocab). transformers' ``TopKLogitsWarper`` then ``TopPLogitsWarper``, formula for
    formula: top-k keeps every logit >= the k-th largest (ties at the k-th all stay); top-p sorts
    ascending and drops the tokens whose cumulative probability is <= ``1 - top_p``, always keeping the
    ``min_tokens_to_keep`` most likely. ``top_k`` 0 or None and ``top_p`` >= 1 or None turn a filter off.
    """
    if top_k is not None and top_k != 0:
        k = min(max(top_k, min_tokens_to_keep), logits.shape[-1])
        kth_largest = torch.topk(logits, k)[0][..., -1, None]
        logits = logits.masked_fill(logits < kth_largest, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=False)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        drop_sorted = cumulative <= (1 - top_p)
        drop_sorted[..., -min_tokens_to_keep:] = False
        drop = drop_sorted.scatter(1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits

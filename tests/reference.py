"""The numerical reference: a Hugging Face ``transformers`` Qwen2.5-VL built from a qwen_lite config.

Parity tests build both models from one config, copy qwen_lite's random weights into the reference
(the parameter names are the checkpoint names, so this is a plain ``load_state_dict``), and compare.

Two references run these tests: the pinned transformers 4.57.6 (``.venv``) and the newest 5.x
(``.venv-tf5``, ``scripts/test_reference.sh``). Their APIs differ, and every difference is bridged
here, in one place, so a test reads the same under both:

* 5.x ``forward`` / ``get_rope_index`` need ``mm_token_type_ids`` (0 text, 1 image pad, 2 video pad;
  the processor returns them with ``return_mm_token_type_ids=True``). Without them 5.x *silently*
  uses 1-D positions, so :func:`reference_inputs` always adds them under 5.x.
* The 5.x vision tower returns an output object (``.pooler_output`` = merged tokens), 4.57 a tensor; a 5.x
  text decoder layer returns its hidden states, a 4.57 one a tuple.
* 5.x ``rope_deltas`` are relative to a row's unpadded length and its decode positions are
  ``cumsum(attention_mask) - 1 + delta``; 4.57's are relative to the padded length and its decode
  positions are ``cache position + delta``. :func:`reference_rope_index` returns both the raw deltas
  and each version's own next position, which is the quantity that must agree.
* Window index / vision rotary helpers moved from tower methods (4.57) to ``transformers.vision_utils``.
* ``no_init_weights`` moved from ``transformers.modeling_utils`` to ``transformers.initialization``.
* Models are always built in float32 (5.x ``from_pretrained`` defaults to the checkpoint dtype).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import torch

from qwen_lite.config import Qwen25VLConfig, to_hf_dict
from qwen_lite.weights import transformers_key as hf_key  # noqa: F401  (the one mapping, re-exported)

# transformers is imported on first use, not here: the test modules import this one at module level, and
# the minimum-versions job (no transformers) must still collect and run their tests not marked reference.
# TRANSFORMERS_VERSION, REFERENCE and TF5 are module attributes computed then (see __getattr__); inside
# this module, use _tf5().


@functools.cache
def _versions() -> dict:
    import transformers

    version = transformers.__version__
    #: "4.57" or "5.x": the key of this reference's column in book/data/version_differences.json.
    reference = "5.x" if int(version.split(".")[0]) >= 5 else "4.57"
    return {"TRANSFORMERS_VERSION": version, "REFERENCE": reference, "TF5": reference == "5.x"}


def __getattr__(name: str):
    """``TRANSFORMERS_VERSION`` ("4.57.6"), ``REFERENCE`` ("4.57" or "5.x"), ``TF5`` (bool), imported lazily.

    Without transformers this raises ``ModuleNotFoundError`` (named ``transformers``), as an import would.
    """
    if name in ("TRANSFORMERS_VERSION", "REFERENCE", "TF5"):
        return _versions()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _tf5() -> bool:
    return _versions()["TF5"]


def no_init_weights():
    """Context manager that skips the reference's weight initialisation (every weight is overwritten)."""
    if _tf5():
        from transformers.initialization import no_init_weights as skip
    else:
        from transformers.modeling_utils import no_init_weights as skip
    return skip()


def hf_config(config: Qwen25VLConfig):
    """A ``transformers.Qwen2_5_VLConfig`` equal to ``config`` (fp32, SDPA attention)."""
    from transformers import Qwen2_5_VLConfig

    hf = Qwen2_5_VLConfig(**to_hf_dict(config))
    hf._attn_implementation = "sdpa"
    hf.vision_config._attn_implementation = "sdpa"
    hf.text_config._attn_implementation = "sdpa"
    return hf


def hf_model(config: Qwen25VLConfig, seed: int = 0):
    """A randomly initialised reference model in eval mode (float32)."""
    from transformers import Qwen2_5_VLForConditionalGeneration

    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(hf_config(config)).eval()
    return model.float()


def copy_weights_to_reference(qwen_lite_model: torch.nn.Module, reference: torch.nn.Module) -> None:
    """Load every qwen_lite parameter into ``reference``; any missing or extra key is an error."""
    state = {hf_key(k): v for k, v in qwen_lite_model.state_dict().items()}
    reference.load_state_dict(state, strict=True)


# --- calling the reference the same way under 4.57 and 5.x -----------------------------------------


def _config_of(reference):
    config = reference.config
    return config


def mm_token_type_ids(input_ids: torch.Tensor, image_token_id: int, video_token_id: int) -> torch.Tensor:
    """(b l) int: 0 text, 1 ``<|image_pad|>``, 2 ``<|video_pad|>`` (what the 5.x processor returns)."""
    types = torch.zeros_like(input_ids, dtype=torch.int)
    types[input_ids == image_token_id] = 1
    types[input_ids == video_token_id] = 2
    return types


def reference_inputs(reference, **inputs) -> dict:
    """``inputs`` for the reference's ``forward``/``generate``: under 5.x with ``mm_token_type_ids`` added."""
    if _tf5() and "mm_token_type_ids" not in inputs and inputs.get("input_ids") is not None:
        config = _config_of(reference)
        inputs["mm_token_type_ids"] = mm_token_type_ids(
            inputs["input_ids"], config.image_token_id, config.video_token_id
        )
    return inputs


def reference_forward(reference, **inputs):
    """``reference(**inputs)`` with the 3-D positions computed as the model card's pipeline does.

    Under 5.x the model caches ``rope_deltas`` on itself; it is cleared first so that no earlier call leaks in.
    """
    if _tf5():
        getattr(reference, "model", reference).rope_deltas = None
    return reference(**reference_inputs(reference, **inputs))


def reference_next_positions(reference, output, input_ids: torch.Tensor, attention_mask=None) -> torch.Tensor:
    """(b) the position each row's first generated token gets after ``output = reference_forward(...)``.

    4.57: padded length + ``output.rope_deltas``. 5.x: the output has no deltas; the model keeps them (relative
    to the unpadded length, None for text only: 1-D positions) and decodes at ``cumsum(mask)[-1] + delta``.
    """
    if not _tf5():
        return input_ids.shape[1] + output.rope_deltas[:, 0].long()
    mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
    deltas = getattr(reference, "model", reference).rope_deltas
    deltas = torch.zeros(input_ids.shape[0], 1, dtype=torch.long) if deltas is None else deltas.long()
    return mask.long().sum(-1) + deltas[:, 0]


def reference_generate(reference, **inputs) -> torch.Tensor:
    """``reference.generate(**inputs)`` (ids, prompt included), fed like the 5.x processor feeds it."""
    return reference.generate(**reference_inputs(reference, **inputs))


class RopeIndex(NamedTuple):
    """A reference's ``get_rope_index`` result, and where its decode steps continue.

    positions: (3 b l) as returned (pads: 1 in 4.57, 0 in 5.x).
    deltas: (b 1) as returned (4.57: relative to the padded length; 5.x: to the unpadded length).
    next_positions: (b) the position the first generated token of each row gets under this version's
        own decode rule (4.57: ``l + delta``; 5.x: ``cumsum(mask)[-1] + delta``, its generate's rule).
    """

    positions: torch.Tensor
    deltas: torch.Tensor
    next_positions: torch.Tensor


def reference_rope_index(
    reference,
    input_ids: torch.Tensor,
    image_grid_thw: torch.Tensor | None = None,
    video_grid_thw: torch.Tensor | None = None,
    second_per_grid_ts=None,
    attention_mask: torch.Tensor | None = None,
) -> RopeIndex:
    """``get_rope_index`` of a ``Qwen2_5_VLModel`` (or the conditional-generation model holding one).

    Under 5.x a text-only batch does not go through ``get_rope_index`` at all: ``generate`` takes
    ``cumsum(attention_mask) - 1`` (pads 0) with zero deltas (``_prepare_position_ids_for_generation``),
    and that is what is returned here for it.
    """
    model = getattr(reference, "model", reference)
    length = input_ids.shape[1]
    mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
    real = mask.long().sum(-1)
    if not _tf5():
        positions, deltas = model.get_rope_index(
            input_ids, image_grid_thw, video_grid_thw, second_per_grid_ts, attention_mask
        )
        deltas = deltas.long()
        return RopeIndex(positions, deltas, length + deltas[:, 0])
    if image_grid_thw is None and video_grid_thw is None:
        positions = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
        positions = positions[None].expand(3, -1, -1)
        deltas = torch.zeros(input_ids.shape[0], 1, dtype=torch.long)
    else:
        config = model.config
        positions, deltas = model.get_rope_index(
            input_ids,
            mm_token_type_ids=mm_token_type_ids(input_ids, config.image_token_id, config.video_token_id),
            image_grid_thw=image_grid_thw,
            video_grid_thw=video_grid_thw,
            second_per_grid_ts=second_per_grid_ts,
            attention_mask=attention_mask,
        )
        deltas = deltas.long()
    return RopeIndex(positions, deltas, real + deltas[:, 0])


def reference_vision(tower, pixel_values: torch.Tensor, grid_thw: torch.Tensor) -> torch.Tensor:
    """The vision tower's merged tokens (n_merged, out_hidden): 5.x returns them as ``.pooler_output``."""
    out = tower(pixel_values, grid_thw)
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def reference_decoder_layer(layer, hidden_states: torch.Tensor, **kwargs) -> torch.Tensor:
    """A reference text decoder layer's output hidden states: 4.57 returns a tuple, 5.x the tensor."""
    out = layer(hidden_states, **kwargs)
    return out if isinstance(out, torch.Tensor) else out[0]


def reference_window_index(tower, grid_thw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(window_index, cu_window_seqlens without repeats, int32) as the reference's tower computes them."""
    if _tf5():
        from transformers.vision_utils import get_vision_window_index

        config = tower.config
        index, cu = get_vision_window_index(
            grid_thw,
            spatial_merge_size=config.spatial_merge_size,
            window_size=config.window_size,
            patch_size=config.patch_size,
        )
    else:
        index, cu = tower.get_window_index(grid_thw)
    return index, torch.unique_consecutive(torch.as_tensor(cu, dtype=torch.int32))


def reference_vision_rotary(tower, grid_thw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin (n_patches, head_dim) of the tower's 2-D rotary, in patch (not window) order."""
    if _tf5():
        from transformers.vision_utils import get_vision_position_ids

        position_ids = get_vision_position_ids(grid_thw, tower.spatial_merge_size)
        return tower.rotary_pos_emb(torch.zeros(1), position_ids)
    angles = tower.rot_pos_emb(grid_thw)
    angles = torch.cat([angles, angles], -1)
    return angles.cos(), angles.sin()


def reference_mrope(rotary, q: torch.Tensor, k: torch.Tensor, position_ids: torch.Tensor, mrope_section):
    """q, k (b h l d) rotated by the reference's text M-RoPE at ``position_ids`` (3 b l).

    4.57: the rotary module returns per-axis tables (3 b l d) and ``apply_multimodal_rotary_pos_emb``
    picks the section of each axis; 5.x: the module already returns the combined table (b l d).
    """
    from transformers.models.qwen2_5_vl import modeling_qwen2_5_vl as m

    cos, sin = rotary(q, position_ids)
    if _tf5():
        return m.apply_rotary_pos_emb(q, k, cos, sin)
    return m.apply_multimodal_rotary_pos_emb(q, k, cos, sin, list(mrope_section))


def reference_image_processor(**kwargs):
    """The reference's image processor without torchvision: 4.57 ``Qwen2VLImageProcessor`` (PIL), 5.x its PIL
    backend ``Qwen2VLImageProcessorPil`` (the default 5.x backend needs torchvision, absent here; both backends
    call the same ``convert_to_rgb``). ``kwargs`` go to the constructor (``image_mean``, ``min_pixels``...)."""
    if _tf5():
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

        return Qwen2VLImageProcessorPil(**kwargs)
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor

    return Qwen2VLImageProcessor(**kwargs)


def reference_smart_resize(height: int, width: int, **kwargs) -> tuple[int, int]:
    """The reference's ``smart_resize`` (5.x: the copy in its PIL image processor module, same code)."""
    if _tf5():
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize
    else:
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize
    return smart_resize(height, width, **kwargs)

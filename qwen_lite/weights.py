"""Load and save Hugging Face style checkpoints: ``config.json`` + ``*.safetensors``.

>>> model = from_pretrained("Qwen2.5-VL-3B-Instruct")          # a local folder
>>> save_pretrained(model, "out", max_shard_size="2GB")          # loads in transformers too

Three things make this harder than ``torch.load``:

* **Two key layouts.** The released files (and ``save_pretrained`` of transformers 4.5x and 5.x) use
  ``visual.*`` / ``model.*`` / ``lm_head.*``; transformers >= 4.52 *in memory* (and folders written from a
  raw ``state_dict()``) use ``model.visual.*`` / ``model.language_model.*``. Both are accepted and renamed
  to the released layout, which is also qwen_lite's parameter naming.
* **Tied embeddings.** The 3B model shares ``lm_head.weight`` with ``model.embed_tokens.weight`` and its
  files hold only the latter. A loader that ignored missing keys would leave ``lm_head`` random -- a bug
  several ports shipped -- so every key is checked and only this one documented absence is allowed.
* **Memory.** The model is built on the ``meta`` device (shapes only: no storage, no random init) and
  then takes the loaded tensors themselves (``load_state_dict(assign=True)``): the weights are in memory
  once, not twice. (qwen_lite keeps no buffers -- rotary tables are computed on the fly -- so nothing
  is left on ``meta``; the loader checks that.)

Checkpoints are read with ``safetensors`` only. Pickle files (``pytorch_model.bin``, ``*.pt``) can run
arbitrary code when loaded, so they are refused with a message saying how to convert them.

The files are found as transformers finds them: ``model.safetensors.index.json`` and the shards it names if
the index exists, else ``model.safetensors``. Any other ``*.safetensors`` file in the folder (an adapter, a
second export) is ignored and named in a warning. ``generation_config.json``, when present, becomes the
model's ``generation_config`` (:func:`read_generation_config`). A broken file -- invalid JSON, JSON of the
wrong type, an index without ``weight_map`` or naming a missing shard, a truncated safetensors file -- raises
:class:`CheckpointError` naming the file and what is wrong.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from qwen_lite.config import Qwen25VLConfig, from_hf_dict, to_hf_dict
from qwen_lite.files import CheckpointError, read_json
from qwen_lite.generation import GenerationConfig
from qwen_lite.model import Qwen25VLForConditionalGeneration

SAFETENSORS_INDEX = "model.safetensors.index.json"
SAFETENSORS_SINGLE = "model.safetensors"
GENERATION_CONFIG = "generation_config.json"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
LM_HEAD, EMBED_TOKENS = "lm_head.weight", "model.embed_tokens.weight"


# --- loading ------------------------------------------------------------------------------------


def from_pretrained(
    folder, dtype: torch.dtype = torch.float32, device="cpu"
) -> Qwen25VLForConditionalGeneration:
    """Build the model described by ``folder/config.json`` and load its safetensors weights.

    ``folder`` holds ``config.json`` and either ``model.safetensors`` or shards listed in
    ``model.safetensors.index.json`` (see :func:`safetensors_files`), and optionally
    ``generation_config.json`` (``model.generation_config``, :func:`read_generation_config`). Weights are
    cast to ``dtype`` and placed on ``device``. Raises :class:`CheckpointError` naming the broken file, or
    listing every missing, unexpected and mis-shaped tensor.
    """
    folder = Path(folder)
    config = read_config(folder)
    generation_config = read_generation_config(folder, config)
    state = load_safetensors(folder, dtype=dtype, device=device)
    with torch.device("meta"):  # shapes only: no storage, no random init
        model = Qwen25VLForConditionalGeneration(config)
    load_into(model, state, config, source=str(folder))
    model.generation_config = generation_config
    return model.eval()


def read_config(folder: Path) -> Qwen25VLConfig:
    """``folder/config.json`` -> :class:`Qwen25VLConfig` (missing fields take the released values).

    Raises :class:`CheckpointError` naming the file for invalid JSON, JSON that is not an object, and
    any value :func:`qwen_lite.config.from_hf_dict` refuses (which names the key).
    """
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise CheckpointError(
            f"{folder}: no config.json; a checkpoint folder needs config.json + model.safetensors "
            f"(or {SAFETENSORS_INDEX} and its shards)"
        )
    try:
        return from_hf_dict(read_json(path))
    except CheckpointError:
        raise
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: {error}") from None


def read_generation_config(folder: Path, config: Qwen25VLConfig) -> GenerationConfig:
    """``folder/generation_config.json`` -> :class:`~qwen_lite.generation.GenerationConfig`.

    As transformers: the file's values where it exists (keys qwen_lite does not run are named in a
    warning), else ``GenerationConfig.from_model_config(config)`` (``config.json``'s one end id, no pad
    id). Raises :class:`CheckpointError` naming the file for invalid JSON or a value of the wrong type
    or range (which names the key).
    """
    path = Path(folder) / GENERATION_CONFIG
    if not path.is_file():
        return GenerationConfig.from_model_config(config)
    data = read_json(path)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            generation_config = GenerationConfig.from_dict(data)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: {error}") from None
    for warning in caught:  # re-issue with the full path instead of the bare file name
        message = str(warning.message).replace(f"{GENERATION_CONFIG}:", f"{path}:", 1)
        warnings.warn(message, warning.category, stacklevel=3)
    return generation_config


def load_safetensors(
    folder: Path, dtype: torch.dtype = torch.float32, device="cpu"
) -> dict[str, torch.Tensor]:
    """Every tensor of the folder's safetensors file(s), renamed to the released key layout.

    A file safetensors cannot read (truncated, corrupt header) raises :class:`CheckpointError` naming it;
    so does a key stored twice (in two shards, or in both key layouts).
    """
    state, origin = {}, {}
    for path in safetensors_files(Path(folder)):
        try:
            with safe_open(path, framework="pt", device=str(device)) as f:
                for key in f.keys():
                    name = released_key(key)
                    if name in state:
                        raise CheckpointError(
                            f"{path}: tensor {key!r} is also in {origin[name]} (as {name!r}): "
                            "a checkpoint holds each weight once"
                        )
                    # Cast tensor by tensor, so at most one tensor exists in two dtypes at a time.
                    state[name] = f.get_tensor(key).to(dtype)
                    origin[name] = path.name
        except (SafetensorError, OSError) as error:
            raise CheckpointError(
                f"{path}: not a readable safetensors file (truncated or corrupt?): {error}"
            ) from None
    return state


def safetensors_files(folder: Path) -> list[Path]:
    """The safetensors files to read, as transformers chooses them.

    ``model.safetensors.index.json`` if present: the shards its ``weight_map`` names (each must exist);
    else ``model.safetensors``. Any other ``*.safetensors`` file (an adapter, a second export) is ignored
    and named in a ``UserWarning``; a folder with only such files raises :class:`CheckpointError`.
    """
    index = folder / SAFETENSORS_INDEX
    present = sorted(p.name for p in folder.glob("*.safetensors")) if folder.is_dir() else []
    if index.is_file():
        weight_map = read_json(index).get("weight_map")
        if weight_map is None:
            raise CheckpointError(f"{index}: no 'weight_map' (the map from tensor names to shard files)")
        if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
            raise CheckpointError(
                f"{index}: 'weight_map' must map tensor names to shard file names, got {str(weight_map)[:80]}"
            )
        names = sorted(set(weight_map.values()))
        if not names:
            raise CheckpointError(f"{index}: 'weight_map' is empty")
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise CheckpointError(f"{index}: names shard file(s) missing from {folder}: {', '.join(missing)}")
        _warn_ignored(folder, [p for p in present if p not in names], f"{SAFETENSORS_INDEX} does not name")
        return [folder / name for name in names]
    if SAFETENSORS_SINGLE in present:
        _warn_ignored(folder, [p for p in present if p != SAFETENSORS_SINGLE], f"not {SAFETENSORS_SINGLE}")
        return [folder / SAFETENSORS_SINGLE]
    if present:
        raise CheckpointError(
            f"{folder}: no {SAFETENSORS_SINGLE} and no {SAFETENSORS_INDEX}; found only {', '.join(present)}. "
            f"As transformers, qwen_lite reads the model from {SAFETENSORS_SINGLE} or the shards of "
            f"{SAFETENSORS_INDEX}, never from other safetensors files (adapters, other exports)"
        )
    pickles = (
        sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES) if folder.is_dir() else []
    )
    if pickles:
        raise CheckpointError(
            f"{folder}: found only pickle checkpoint files ({', '.join(pickles)}). qwen_lite never unpickles "
            "(loading a pickle can run arbitrary code). Convert them to safetensors first, e.g. "
            "transformers' model.save_pretrained(out_folder, safe_serialization=True)."
        )
    raise CheckpointError(f"{folder}: no *.safetensors files (and no {SAFETENSORS_INDEX})")


def _warn_ignored(folder: Path, names: list[str], why: str) -> None:
    if names:
        warnings.warn(
            f"{folder}: ignoring {', '.join(names)} ({why}; transformers ignores {'it' if len(names) == 1 else 'them'} "
            "too: the model is read from model.safetensors or the shards of the index only)",
            UserWarning,
            stacklevel=4,
        )


def released_key(key: str) -> str:
    """A key in either layout -> the released layout (``visual.*``, ``model.*``, ``lm_head.*``)."""
    key = re.sub(r"^model\.visual\.", "visual.", key)
    return re.sub(r"^model\.language_model\.", "model.", key)


def transformers_key(key: str) -> str:
    """A released-layout key -> the in-memory name of ``transformers`` >= 4.52 (inverse of :func:`released_key`).

    ``visual.*`` becomes ``model.visual.*`` and ``model.*`` becomes ``model.language_model.*``;
    ``lm_head.*`` is unchanged.
    """
    if key.startswith("visual."):
        return "model." + key
    if key.startswith("model."):
        return "model.language_model." + key.removeprefix("model.")
    return key


def load_into(
    model: nn.Module, state: dict[str, torch.Tensor], config: Qwen25VLConfig, source: str = ""
) -> None:
    """Put ``state`` (released key layout) into ``model``, taking the tensors themselves.

    With tied embeddings ``lm_head.weight`` may be absent (it *is* the embedding matrix); everything
    else must match exactly. Raises :class:`CheckpointError` otherwise.
    """
    tied = config.text.tie_word_embeddings
    if tied:
        state.pop(LM_HEAD, None)  # an explicit copy is redundant: the tie decides
    check_state_dict(model, state, allow_missing={LM_HEAD} if tied else set(), source=source)
    if tied and EMBED_TOKENS in state:
        state[LM_HEAD] = state[EMBED_TOKENS]
    model.load_state_dict(state, strict=True, assign=True)
    if tied:
        model.lm_head.weight = model.model.embed_tokens.weight  # one Parameter, as at construction
    still_meta = [name for name, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if still_meta:  # e.g. a buffer added to the model later: it would need computing, not loading
        raise CheckpointError(
            f"checkpoint {source}: tensors not loaded, still on the meta device: {still_meta}"
        )


def check_state_dict(model: nn.Module, state: dict, allow_missing=(), source: str = "") -> None:
    """Compare checkpoint keys and shapes with the model's; raise one error that lists every problem."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = sorted(set(expected) - set(state) - set(allow_missing))
    unexpected = sorted(set(state) - set(expected))
    misshaped = sorted(
        f"{k}: checkpoint {tuple(state[k].shape)}, model {expected[k]}"
        for k in set(state) & set(expected)
        if tuple(state[k].shape) != expected[k]
    )
    if not (missing or unexpected or misshaped):
        return
    lines = [f"checkpoint {source} does not match the model its config.json describes:"]
    for title, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", misshaped)):
        if items:
            shown = items[:20] + ([f"... and {len(items) - 20} more"] if len(items) > 20 else [])
            lines.append(f"  {title} ({len(items)}):")
            lines += [f"    {item}" for item in shown]
    raise CheckpointError("\n".join(lines))


# --- saving -------------------------------------------------------------------------------------


def save_pretrained(model: Qwen25VLForConditionalGeneration, folder, max_shard_size=None) -> None:
    """Write ``config.json``, ``generation_config.json`` (the model's ``generation_config``) and safetensors
    weights in the released layout.

    ``max_shard_size`` (bytes, or a string like ``"2GB"`` / ``"500MB"``) splits the weights into
    ``model-0000k-of-0000n.safetensors`` shards plus ``model.safetensors.index.json``. The folder loads
    with :func:`from_pretrained` and with ``transformers.Qwen2_5_VLForConditionalGeneration.from_pretrained``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config: Qwen25VLConfig = model.config
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if config.text.tie_word_embeddings:
        state.pop(LM_HEAD, None)  # safetensors refuses shared storage; the released 3B omits it too
    hf_config = to_hf_dict(config)
    hf_config["torch_dtype"] = str(next(iter(state.values())).dtype).removeprefix("torch.")
    _write_json(folder / "config.json", hf_config)
    generation = getattr(model, "generation_config", None) or GenerationConfig.released(config)
    _write_json(folder / GENERATION_CONFIG, generation.to_dict())
    shards = split_into_shards(state, parse_size(max_shard_size))
    if len(shards) == 1:
        save_file(shards[0], folder / "model.safetensors", metadata={"format": "pt"})
        return
    weight_map = {}
    for i, shard in enumerate(shards, start=1):
        name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, folder / name, metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(shard, name))
    total = sum(v.numel() * v.element_size() for v in state.values())
    _write_json(folder / SAFETENSORS_INDEX, {"metadata": {"total_size": total}, "weight_map": weight_map})


def split_into_shards(state: dict[str, torch.Tensor], max_bytes: int | None) -> list[dict]:
    """Greedy, in key order: start a new shard when the next tensor would overflow ``max_bytes``."""
    shards, size = [{}], 0
    for key, tensor in state.items():
        nbytes = tensor.numel() * tensor.element_size()
        if max_bytes is not None and shards[-1] and size + nbytes > max_bytes:
            shards.append({})
            size = 0
        shards[-1][key] = tensor
        size += nbytes
    return shards


def parse_size(size) -> int | None:
    """``None`` -> None, ``1000`` -> 1000, ``"2GB"`` -> 2e9, ``"500MiB"`` -> 500 * 2**20."""
    if size is None or isinstance(size, int):
        return size
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?)B\s*", str(size).upper().replace("IB", "iB"))
    if not match:
        raise ValueError(f"max_shard_size: expected bytes or a string like '2GB', got {size!r}")
    number, unit, binary = match.groups()
    base = 1024 if binary else 1000
    return int(float(number) * base ** " KMGT".index(unit or " "))


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")

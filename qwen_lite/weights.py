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
  once, not twice. Loaded in the checkpoint's own dtype (the default, below), on the CPU, each weight *is*
  a view of the memory-mapped safetensors file: nothing is copied, the pages are read from the file as
  the model first touches them and count as file-backed memory (``RssFile``), not anonymous memory. (qwen_lite
  keeps no buffers -- rotary tables are computed on the fly -- so nothing is left on ``meta``; the loader
  checks that.)
* **The dtype.** ``from_pretrained(folder)`` loads the dtype the checkpoint was saved in, as transformers 5.x
  does (``dtype="auto"``): bfloat16 for the released models, about 7.5 GB for the 3B. transformers 4.57.6
  defaults to float32 instead, twice that: more than a 16 GB laptop has for the 3B (issue 16; the
  difference is catalogued in ``book/data/version_differences.json``, ``default_load_dtype``).
* **A memory check.** Before anything is read, the memory the load needs (from the safetensors headers) is
  compared with the memory available; a load that cannot fit is refused with
  :class:`NotEnoughMemoryError`, which names both figures and the way out, instead of the operating system
  killing the process half-way (see :func:`memory_needed`, :func:`available_memory`).

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
import math
import os
import re
import warnings
from pathlib import Path
from typing import NamedTuple

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn
from torch.overrides import TorchFunctionMode

from qwen_lite.config import MultimodalConfig, Qwen3VLConfig, config_from_hf_dict, config_to_hf_dict
from qwen_lite.files import CheckpointError, read_json
from qwen_lite.generation import GenerationConfig
from qwen_lite.model import Qwen25VLForConditionalGeneration, model_class_for

SAFETENSORS_INDEX = "model.safetensors.index.json"
SAFETENSORS_SINGLE = "model.safetensors"
GENERATION_CONFIG = "generation_config.json"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
LM_HEAD, EMBED_TOKENS = "lm_head.weight", "model.embed_tokens.weight"


# --- loading ------------------------------------------------------------------------------------


def from_pretrained(
    folder, dtype: torch.dtype | str = "auto", device="cpu", check_memory: bool = True
) -> Qwen25VLForConditionalGeneration:
    """Build the model described by ``folder/config.json`` and load its safetensors weights.

    The model class follows ``config.json``'s ``model_type``: ``qwen2_5_vl`` (or none) builds
    :class:`~qwen_lite.model.Qwen25VLForConditionalGeneration`, ``qwen3_vl`` builds
    :class:`~qwen_lite.model.Qwen3VLForConditionalGeneration` (:func:`qwen_lite.model.model_class_for`); any
    other type raises :class:`CheckpointError` naming the file, the type and the supported ones.
    ``folder`` holds ``config.json`` and either ``model.safetensors`` or shards listed in
    ``model.safetensors.index.json`` (see :func:`safetensors_files`), and optionally
    ``generation_config.json`` (``model.generation_config``, :func:`read_generation_config`).

    dtype: ``"auto"`` (the default, as transformers 5.x): the checkpoint's own dtype, see
    :func:`checkpoint_dtype` -- bfloat16 for the released models. Or ``torch.float32`` / ``torch.bfloat16`` /
    ``torch.float16`` / ``torch.float64``, or the names ``"float32"``, ``"bfloat16"``, ``"float16"``: the
    weights are cast to it. (transformers 4.57.6 defaults to float32: pass ``dtype=torch.float32`` for its
    result.) In the stored dtype, on the CPU, the weights stay views of the memory-mapped files (no copy);
    any other dtype allocates a converted copy of every weight.
    device: where the weights go (safetensors reads them straight onto it).
    check_memory: on the CPU, first compare the memory the load needs (:func:`memory_needed`) with the
    memory available (:func:`available_memory`) and raise :class:`NotEnoughMemoryError` if it cannot fit.
    ``False`` skips the check (on other devices it is always skipped).

    Raises :class:`CheckpointError` naming the broken file, or listing every missing, unexpected and
    mis-shaped tensor; :class:`NotEnoughMemoryError` (a ``CheckpointError`` and a ``MemoryError``) for a load
    that cannot fit; ``ValueError`` / ``TypeError`` naming ``dtype`` for a dtype it cannot load in.
    """
    folder = checkpoint_folder(folder)
    config = read_config(folder)
    generation_config = read_generation_config(folder, config)
    files = safetensors_files(folder)
    dtype = resolve_dtype(dtype, folder, files)
    if check_memory and torch.device(device).type == "cpu":
        check_memory_for_load(folder, files, dtype)
    state = load_safetensors(folder, dtype=dtype, device=device, files=files)
    with torch.device("meta"), SkipInitOnMeta():  # shapes only: no storage, no random init
        model = model_class_for(config)(config)
    load_into(model, state, config, source=str(folder))
    model.generation_config = generation_config
    return model.eval()


class SkipInitOnMeta(TorchFunctionMode):
    """Inside it, the random initialisation of a ``meta`` tensor is skipped (it holds no values to set).

    Modules initialise their weights in their constructors (``nn.Embedding`` draws ``normal_``). On the meta
    device that draw does nothing, but its first call runs a Python decomposition that imports sympy:
    about 1.5 s and 70 MB of a load otherwise made of memory-mapped views (measured with torch 2.13).
    transformers skips the same calls while it builds a model to load (``no_init_weights``). Tensors on
    any other device are initialised as usual; the mode applies to this thread only.
    """

    SKIPPED = frozenset({torch.Tensor.normal_, torch.Tensor.uniform_, nn.init.normal_, nn.init.uniform_,
                         nn.init.trunc_normal_, nn.init.kaiming_uniform_, nn.init.kaiming_normal_,
                         nn.init.xavier_uniform_, nn.init.xavier_normal_})  # fmt: skip

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self.SKIPPED:  # the tensor comes first, by position or (torch.nn.init) as tensor=
            target = args[0] if args else kwargs.get("tensor", kwargs.get("self"))
            if isinstance(target, torch.Tensor) and target.is_meta:
                return target
        return func(*args, **kwargs)


def checkpoint_folder(folder) -> Path:
    """``folder`` as a ``Path`` once it is an existing folder, else an error saying exactly what it is.

    ``TypeError`` naming ``folder`` for a value that is not a path (``str`` / ``os.PathLike``);
    :class:`CheckpointError` for a path that does not exist, or that is a file -- ``config.json`` itself or
    a ``*.safetensors`` file, say, where the folder holding them is wanted. (A folder without
    ``config.json`` is :func:`read_config`'s error.) transformers' ``from_pretrained`` would take a missing
    path for a Hub id; qwen_lite reads local folders only, and says so for a path shaped like one.
    """
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(
            f"folder: expected the path (str or os.PathLike) of a checkpoint folder, got {type(folder).__name__}"
        )
    path = Path(folder)
    wanted = f"the folder that holds config.json + model.safetensors (or {SAFETENSORS_INDEX} and its shards)"
    if not path.exists():
        hint = ""
        if not path.is_absolute() and len(path.parts) == 2 and not str(folder).startswith("."):
            hint = f" (qwen_lite reads local folders only: download the Hub repository {folder} first)"
        raise CheckpointError(f"folder: {path} does not exist; expected {wanted}{hint}")
    if not path.is_dir():
        got = f"the file {path.name} itself" if path.name == "config.json" else f"the file {path.name}"
        raise CheckpointError(
            f"folder: {path} is a file; pass the folder that holds config.json (got {got}): {wanted}"
        )
    return path


def config_json(folder) -> Path:
    """``folder/config.json`` once it exists; else :class:`CheckpointError` (or :func:`checkpoint_folder`'s).

    The message for a folder without it names the folders one level down that hold one (a download's
    parent folder passed by mistake).
    """
    path = checkpoint_folder(folder) / "config.json"
    if not path.is_file():
        below = sorted(str(p.parent) for p in path.parent.glob("*/config.json"))
        hint = f" (one folder down: {', '.join(below)})" if below else ""
        raise CheckpointError(
            f"folder: {folder}: no config.json{hint}; a checkpoint folder needs config.json + model.safetensors "
            f"(or {SAFETENSORS_INDEX} and its shards)"
        )
    return path


def read_config(folder: Path) -> MultimodalConfig:
    """``folder/config.json`` -> :class:`~qwen_lite.config.Qwen25VLConfig` or
    :class:`~qwen_lite.config.Qwen3VLConfig`, by its ``model_type`` (:func:`qwen_lite.config.config_from_hf_dict`).

    Raises :class:`CheckpointError` naming the file for invalid JSON, JSON that is not an object, an
    unknown ``model_type``, and any value the config reader refuses (which names the key); ``folder``'s own
    errors are :func:`config_json`'s.
    """
    path = config_json(folder)
    try:
        return config_from_hf_dict(read_json(path))
    except CheckpointError:
        raise
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: {error}") from None


def read_generation_config(folder: Path, config: MultimodalConfig) -> GenerationConfig:
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


# --- the dtype ----------------------------------------------------------------------------------

#: The dtypes a model loads in, by the name config.json and ``dtype="..."`` use.
DTYPE_NAMES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16,
               "float64": torch.float64}  # fmt: skip
#: Bytes per element of each safetensors dtype code (the header's ``"dtype"``).
SAFETENSORS_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
                        "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}  # fmt: skip
SAFETENSORS_FLOATS = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
}
#: config.json keys naming the dtype the weights were saved in: 5.x writes ``dtype`` (4.56+ too), older
#: versions ``torch_dtype``; transformers 5.x reads ``dtype`` first.
CONFIG_DTYPE_KEYS = ("dtype", "torch_dtype")


def resolve_dtype(dtype, folder: Path, files: list[Path] | None = None) -> torch.dtype:
    """``from_pretrained``'s ``dtype`` argument -> the torch dtype to load in.

    ``"auto"``: :func:`checkpoint_dtype` of ``folder``. A name in :data:`DTYPE_NAMES` or one of those torch
    dtypes: itself. Anything else raises ``ValueError`` (a string, a non-float torch dtype) or ``TypeError``
    (another type), naming ``dtype`` and the accepted values. Source: transformers 5.x
    ``modeling_utils._get_dtype`` (``"auto"`` and dtype names).
    """
    accepted = "'auto', " + ", ".join(f"'{n}'" for n in DTYPE_NAMES) + " or one of those torch dtypes"
    if isinstance(dtype, str):
        if dtype == "auto":
            return checkpoint_dtype(folder, files)
        if dtype not in DTYPE_NAMES:
            raise ValueError(f"dtype: expected {accepted}, got {dtype!r}")
        return DTYPE_NAMES[dtype]
    if isinstance(dtype, torch.dtype):
        if dtype not in DTYPE_NAMES.values():
            raise ValueError(
                f"dtype: expected {accepted}, got {dtype} (the model computes in floating point)"
            )
        return dtype
    raise TypeError(f"dtype: expected {accepted}, got {type(dtype).__name__} {dtype!r}")


def checkpoint_dtype(folder, files: list[Path] | None = None) -> torch.dtype:
    """The dtype a checkpoint was saved in: what ``from_pretrained(folder)`` loads (``dtype="auto"``).

    As transformers 5.x (``modeling_utils._get_dtype``, ``"auto"``) and 4.57.6 with ``dtype="auto"``:
    ``config.json``'s top-level ``"dtype"``, else its ``"torch_dtype"`` (older files); else the dtype of the
    first floating-point tensor of the first safetensors file. ``text_config`` / ``vision_config`` values
    are ignored, as both transformers versions ignore them: the files they write keep a stale one there
    (a bfloat16 model saved by 4.57.6 or 5.24 has ``text_config.dtype == "float32"``). The released configs
    say ``"torch_dtype": "bfloat16"``. Raises :class:`CheckpointError` naming ``config.json`` and the key
    when the value is not a dtype qwen_lite loads, and :func:`config_json`'s errors for ``folder``.
    """
    path = config_json(folder)
    folder = path.parent
    config = read_json(path)
    for key in CONFIG_DTYPE_KEYS:
        value = config.get(key)
        if value is None:
            continue
        name = value.removeprefix("torch.") if isinstance(value, str) else None
        if name not in DTYPE_NAMES:
            raise CheckpointError(
                f"{path}: {key!r} is {value!r}; qwen_lite loads weights in {', '.join(DTYPE_NAMES)}. "
                "Pass dtype= to from_pretrained to choose one"
            )
        return DTYPE_NAMES[name]
    files = safetensors_files(folder) if files is None else files
    for _, code, _ in tensor_headers(files[0]):
        if code in SAFETENSORS_FLOATS:
            return SAFETENSORS_FLOATS[code]
    return torch.float32  # no floating-point tensor: torch's default dtype, as transformers


# --- memory -------------------------------------------------------------------------------------

GB = 1e9


def format_gb(nbytes: int) -> str:
    """Bytes as decimal gigabytes for messages: ``"7.5 GB"``, below 1 GB two significant digits (``"0.039 GB"``)."""
    return f"{nbytes / GB:.1f} GB" if nbytes >= GB else f"{nbytes / GB:.2g} GB"


class NotEnoughMemoryError(CheckpointError, MemoryError):
    """The weights cannot fit in the memory available; raised *before* anything is loaded.

    A :class:`CheckpointError` (so a ``ValueError``: the CLI and any caller handling bad input reports it)
    and a ``MemoryError`` (what the problem is: code catching memory trouble sees it too). ``needed`` and
    ``available`` are the two figures in bytes.
    """

    def __init__(self, message: str, needed: int, available: int):
        super().__init__(message)
        self.needed, self.available = needed, available


class MemoryNeed(NamedTuple):
    """Bytes a load needs: the weights as they will be held, plus what exists only while converting."""

    weights: int  #: every tensor in the load dtype (views of the mapped files, or converted copies)
    conversion: int  #: the stored bytes of the largest file that is converted: its pages are mapped meanwhile

    @property
    def total(self) -> int:
        return self.weights + self.conversion


def tensor_headers(path: Path) -> list[tuple[str, str, int]]:
    """``(key, safetensors dtype code, element count)`` of every tensor in one file, from its header only.

    Raises :class:`CheckpointError` naming the file when safetensors cannot read it.
    """
    try:
        with safe_open(path, framework="pt") as f:
            headers = []
            for key in f.keys():
                piece = f.get_slice(key)
                headers.append((key, piece.get_dtype(), math.prod(piece.get_shape())))
            return headers
    except (SafetensorError, OSError) as error:
        raise CheckpointError(
            f"{path}: not a readable safetensors file (truncated or corrupt?): {error}"
        ) from None


def memory_needed(files: list[Path], dtype: torch.dtype) -> MemoryNeed:
    """The memory loading ``files`` in ``dtype`` on the CPU takes, from the safetensors headers (bytes).

    A tensor stored in ``dtype`` is a view of its memory-mapped file: its bytes are resident once the model
    has touched them (file-backed). Any other tensor is converted: its copy in ``dtype`` is allocated, and
    while a file is being converted its pages are mapped too (so a bfloat16 file loaded in float32 peaks at
    the float32 weights plus the largest converted file). Resident-size measurements of both cases:
    ``tests/test_load_dtype.py``.
    """
    itemsize = dtype.itemsize
    code = {v: k for k, v in SAFETENSORS_FLOATS.items()}[dtype]
    weights = conversion = 0
    for path in files:
        converted = 0
        for _, stored, count in tensor_headers(path):
            weights += count * itemsize
            if stored != code:
                converted += count * SAFETENSORS_ITEMSIZE.get(stored, 8)
        conversion = max(conversion, converted)
    return MemoryNeed(weights, conversion)


def available_memory(
    meminfo: str | Path = "/proc/meminfo", cgroup: str | Path = "/sys/fs/cgroup"
) -> tuple[int, str] | None:
    """``(bytes, where the figure comes from)``: the memory a new load can use without swapping, or None.

    Linux: ``MemAvailable`` of ``/proc/meminfo`` (free memory plus the page cache the kernel can reclaim),
    lowered to the headroom of this process's cgroup memory limit where one is set (a container:
    limit - (usage - inactive file pages), cgroup v2 ``memory.max`` or v1 ``memory.limit_in_bytes``).
    Elsewhere ``psutil.virtual_memory().available`` if psutil is installed; else None, and
    :func:`from_pretrained` skips its memory check.
    """
    found = []
    try:
        for line in Path(meminfo).read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append((int(line.split()[1]) * 1024, f"MemAvailable in {meminfo}"))
    except (OSError, ValueError, IndexError):
        pass
    headroom = _cgroup_headroom(Path(cgroup))
    if headroom is not None:
        found.append((headroom, f"the memory limit of this process's cgroup ({cgroup})"))
    if not found:
        try:
            import psutil

            found.append((int(psutil.virtual_memory().available), "psutil.virtual_memory().available"))
        except Exception:  # not installed, or no figure on this platform: no check
            return None
    return min(found)


def _cgroup_headroom(root: Path) -> int | None:
    """limit - (usage - inactive file pages) of the cgroup at ``root`` (v2 or v1); None without a limit."""
    for limit_file, usage_file, inactive_key in (
        (root / "memory.max", root / "memory.current", "inactive_file"),
        (root / "memory" / "memory.limit_in_bytes", root / "memory" / "memory.usage_in_bytes",
         "total_inactive_file"),
    ):  # fmt: skip
        try:
            limit_text = limit_file.read_text().strip()
            if limit_text == "max" or int(limit_text) >= 2**60:  # no limit
                return None
            usage = int(usage_file.read_text())
            stat = dict(line.split() for line in (limit_file.parent / "memory.stat").read_text().splitlines())
            inactive = int(stat.get(inactive_key, 0))
            return max(int(limit_text) - (usage - inactive), 0)
        except (OSError, ValueError):
            continue
    return None


def check_memory_for_load(folder: Path, files: list[Path], dtype: torch.dtype) -> None:
    """Raise :class:`NotEnoughMemoryError` if loading ``files`` in ``dtype`` needs more than is available.

    Compares :func:`memory_needed` with :func:`available_memory` (no check where that is None). The message
    names both figures in GB and the ways out: a 16-bit dtype (with its figure), a smaller model, freeing
    memory, or ``check_memory=False``. Running the model needs more on top (activations, the KV cache).
    """
    found = available_memory()
    if found is None:
        return
    available, source = found
    need = memory_needed(files, dtype)
    if need.total <= available:
        return
    name = str(dtype).removeprefix("torch.")
    detail = f"{format_gb(need.weights)} of weights in {name}"
    if need.conversion:
        detail += f" + {format_gb(need.conversion)} of stored weights mapped while they are converted"
    ways = []
    if dtype.itemsize > 2:
        half = memory_needed(files, torch.bfloat16).total
        ways.append(f"load it in bfloat16 (dtype=torch.bfloat16: about {format_gb(half)})")
    ways += ["use a smaller model", "close other programs",
             "or pass check_memory=False to try anyway (the system may then swap or kill the process)"]  # fmt: skip
    raise NotEnoughMemoryError(
        f"{folder}: loading the weights in {name} needs about {format_gb(need.total)} of memory ({detail}), "
        f"but only {format_gb(available)} is available ({source}). Ways out: {'; '.join(ways)}.",
        needed=need.total,
        available=available,
    )


def load_safetensors(
    folder: Path, dtype: torch.dtype | None = None, device="cpu", files: list[Path] | None = None
) -> dict[str, torch.Tensor]:
    """Every tensor of the folder's safetensors file(s), renamed to the released key layout.

    dtype: cast every tensor to it; None keeps each tensor's stored dtype. A tensor already in ``dtype``
    is not copied: on the CPU it stays a view of the memory-mapped file. files: the files to read
    (default :func:`safetensors_files`). A file safetensors cannot read (truncated, corrupt header) raises
    :class:`CheckpointError` naming it; so does a key stored twice (in two shards, or in both key layouts).
    """
    state, origin = {}, {}
    for path in safetensors_files(Path(folder)) if files is None else files:
        try:
            with safe_open(path, framework="pt", device=str(device)) as f:
                for key in f.keys():
                    name = released_key(key)
                    if name in state:
                        raise CheckpointError(
                            f"{path}: tensor {key!r} is also in {origin[name]} (as {name!r}): "
                            "a checkpoint holds each weight once"
                        )
                    # Cast tensor by tensor, so at most one tensor exists in two dtypes at a time;
                    # .to() of a tensor already in dtype returns it: the view of the mapped file.
                    tensor = f.get_tensor(key)
                    state[name] = tensor if dtype is None else tensor.to(dtype)
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
    model: nn.Module, state: dict[str, torch.Tensor], config: MultimodalConfig, source: str = ""
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
    with :func:`from_pretrained` and with transformers' ``from_pretrained`` of the model's class
    (``Qwen2_5_VLForConditionalGeneration``, ``Qwen3VLForConditionalGeneration``). Qwen3-VL weights are
    written under the names its released files use (``model.visual.*``, ``model.language_model.*``).

    Like transformers' ``model.save_pretrained`` it writes no ``preprocessor_config.json``: preprocessing
    belongs to the processor. Add it with ``Qwen25VLProcessor(...).save_pretrained(folder)``
    (:class:`qwen_lite.processor.Qwen25VLProcessor`); without it, ``Qwen25VLProcessor.from_pretrained(folder)``
    (and ``python -m qwen_lite describe --weights folder``) warns and uses the released defaults.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config: MultimodalConfig = model.config
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if config.text.tie_word_embeddings:
        state.pop(LM_HEAD, None)  # safetensors refuses shared storage; the released 3B omits it too
    if isinstance(config, Qwen3VLConfig):
        state = {transformers_key(k): v for k, v in state.items()}
    hf_config = config_to_hf_dict(config)
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

"""``from_pretrained``'s dtype and memory: the checkpoint's dtype by default, no copy, a check before loading.

* The default is ``dtype="auto"`` as in transformers 5.x: ``config.json``'s ``dtype`` / ``torch_dtype``, else the
  stored tensors' dtype. Each rule is compared with what transformers (the venv's version) loads with
  ``dtype="auto"`` on the same folder.
* Loaded in the stored dtype the weights are views of the memory-mapped files: every parameter's address lies
  in a mapping of a shard file, and a fresh process's anonymous memory does not grow by the weights.
* The memory check refuses a load that cannot fit, before reading anything, with both figures and the way
  out; the available memory is faked by monkeypatching ``qwen_lite.weights.available_memory``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from qwen_lite import config as C
from qwen_lite import weights as W
from qwen_lite.model import Qwen25VLForConditionalGeneration
from qwen_lite.weights import (
    CheckpointError,
    NotEnoughMemoryError,
    available_memory,
    checkpoint_dtype,
    from_pretrained,
    memory_needed,
    safetensors_files,
    save_pretrained,
)

REPO = Path(__file__).resolve().parents[1]
SHARD = "12MB"  # the tiny model (~39 MB in bf16, ~78 MB in fp32) in several shards


def saved_model(folder: Path, dtype: torch.dtype, shard: str | None = SHARD, seed: int = 0) -> dict:
    """Save a random tiny model in ``dtype``; return its state dict (the stored values)."""
    torch.manual_seed(seed)
    model = Qwen25VLForConditionalGeneration(C.tiny()).to(dtype)
    save_pretrained(model, folder, max_shard_size=shard)
    return {k: v.clone() for k, v in model.state_dict().items()}


def edit_config(folder: Path, **changes) -> None:
    """Set (value) or delete (None) top-level keys of ``folder/config.json``."""
    path = folder / "config.json"
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path.write_text(json.dumps(data))


def dtypes(model) -> set[torch.dtype]:
    return {p.dtype for p in model.parameters()}


@pytest.fixture(scope="module")
def bf16_folder(tmp_path_factory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("bf16")
    return folder, saved_model(folder, torch.bfloat16)


# --- the default dtype --------------------------------------------------------------------------------------


def test_bf16_checkpoint_loads_as_bf16_by_default(bf16_folder):
    folder, stored = bf16_folder
    assert json.loads((folder / "config.json").read_text())["torch_dtype"] == "bfloat16"
    model = from_pretrained(folder)
    assert dtypes(model) == {torch.bfloat16}
    for key, value in model.state_dict().items():
        assert torch.equal(value, stored[key]), key


@pytest.mark.parametrize("dtype", [torch.float32, "float32"])
def test_dtype_argument_overrides_the_checkpoint(bf16_folder, dtype):
    folder, stored = bf16_folder
    model = from_pretrained(folder, dtype=dtype)
    assert dtypes(model) == {torch.float32}
    for key, value in model.state_dict().items():
        assert torch.equal(value, stored[key].float()), key  # bf16 -> fp32 is exact


def test_fp32_checkpoint_loads_as_fp32_and_casts_on_request(tmp_path):
    stored = saved_model(tmp_path, torch.float32, shard=None)
    assert dtypes(from_pretrained(tmp_path)) == {torch.float32}
    model = from_pretrained(tmp_path, dtype="bfloat16")
    assert dtypes(model) == {torch.bfloat16}
    assert torch.equal(model.model.norm.weight, stored["model.norm.weight"].bfloat16())


# Each config.json variant, the dtype qwen_lite must load (= what transformers loads with dtype="auto").
CONFIG_VARIANTS = {
    "torch_dtype only (released, 4.x)": (torch.float32, dict(dtype=None, torch_dtype="bfloat16"), "bfloat16"),
    "dtype only (4.56+, 5.x)": (torch.float32, dict(dtype="float16", torch_dtype=None), "float16"),
    "dtype wins over torch_dtype": (torch.float32, dict(dtype="bfloat16", torch_dtype="float16"), "bfloat16"),
    "no key: the stored tensors": (torch.float16, dict(dtype=None, torch_dtype=None), "float16"),
}


@pytest.mark.parametrize("name", CONFIG_VARIANTS)
def test_checkpoint_dtype_rules(tmp_path, name):
    stored, changes, expected = CONFIG_VARIANTS[name]
    saved_model(tmp_path, stored, shard=None)
    edit_config(tmp_path, **changes)
    assert checkpoint_dtype(tmp_path) == getattr(torch, expected)
    assert dtypes(from_pretrained(tmp_path)) == {getattr(torch, expected)}


def test_text_config_dtype_is_ignored(tmp_path):
    """transformers writes a stale text_config dtype (a bf16 model saved with text_config.dtype float32) and
    ignores it when loading; so does qwen_lite."""
    saved_model(tmp_path, torch.float32, shard=None)
    edit_config(tmp_path, dtype=None, torch_dtype=None, text_config={"dtype": "bfloat16"})
    assert checkpoint_dtype(tmp_path) == torch.float32


@pytest.mark.reference
@pytest.mark.parametrize("name", [*CONFIG_VARIANTS, "text_config"])
def test_auto_dtype_equals_transformers_auto(tmp_path, name):
    from transformers import Qwen2_5_VLForConditionalGeneration

    from tests.reference import hf_model

    stored, changes, _ = CONFIG_VARIANTS.get(name, (torch.float32, dict(dtype=None, torch_dtype=None), None))
    hf_model(C.tiny()).to(stored).save_pretrained(tmp_path)
    edit_config(tmp_path, **changes)
    if name == "text_config":
        text = json.loads((tmp_path / "config.json").read_text())["text_config"]
        edit_config(tmp_path, text_config={**text, "dtype": "bfloat16", "torch_dtype": "bfloat16"})
    theirs = next(
        Qwen2_5_VLForConditionalGeneration.from_pretrained(tmp_path, dtype="auto").parameters()
    ).dtype
    assert checkpoint_dtype(tmp_path) == theirs
    assert dtypes(from_pretrained(tmp_path)) == {theirs}


@pytest.mark.reference
def test_folder_transformers_saved_in_bf16_loads_in_bf16(tmp_path):
    """The file this venv's transformers writes for a bf16 model (its own dtype keys, stale text_config one)."""
    from tests.reference import hf_model

    hf_model(C.tiny()).to(torch.bfloat16).save_pretrained(tmp_path)
    assert dtypes(from_pretrained(tmp_path)) == {torch.bfloat16}


@pytest.mark.parametrize(
    "dtype, error, match",
    [
        ("fp32", ValueError, r"dtype: expected 'auto', 'float32', 'bfloat16', 'float16'.*got 'fp32'"),
        (torch.int8, ValueError, r"dtype: expected .*got torch\.int8"),
        (32, TypeError, r"dtype: expected .*got int 32"),
        (None, TypeError, r"dtype: expected .*got NoneType"),
    ],
)
def test_bad_dtype_argument_is_named(bf16_folder, dtype, error, match):
    with pytest.raises(error, match=match):
        from_pretrained(bf16_folder[0], dtype=dtype)


@pytest.mark.parametrize("value", ["int8", "float8_e4m3fn", 5, ["bfloat16"]])
def test_bad_config_dtype_names_file_and_key(tmp_path, value):
    saved_model(tmp_path, torch.float32, shard=None)
    edit_config(tmp_path, dtype=None, torch_dtype=value)
    with pytest.raises(CheckpointError, match=r"config\.json: 'torch_dtype' is .*Pass dtype="):
        from_pretrained(tmp_path)
    assert dtypes(from_pretrained(tmp_path, dtype=torch.float32)) == {torch.float32}  # the way out works


# --- no copy --------------------------------------------------------------------------------------------------


def file_mappings() -> list[tuple[int, int, str]]:
    """(start, end, path) of every file mapping of this process (Linux /proc/self/maps)."""
    out = []
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5].startswith("/"):
            start, end = (int(x, 16) for x in fields[0].split("-"))
            out.append((start, end, fields[5]))
    return out


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc/self/maps")
def test_weights_are_views_of_the_mapped_shards(bf16_folder):
    folder, _ = bf16_folder
    shards = {str(p.resolve()) for p in safetensors_files(folder)}
    assert len(shards) > 1
    model = from_pretrained(folder)
    maps = [(a, b, p) for a, b, p in file_mappings() if p in shards]

    def mapped_file(tensor):
        ptr = tensor.data_ptr()
        return next((p for a, b, p in maps if a <= ptr < b), None)

    where = {name: mapped_file(p) for name, p in model.named_parameters()}
    assert all(where.values()), [name for name, path in where.items() if path is None]
    assert set(where.values()) == shards  # every shard holds some of them
    converted = from_pretrained(folder, dtype=torch.float32)
    assert not any(mapped_file(p) for p in converted.parameters())  # a conversion is a copy


RSS_SCRIPT = """
import json, sys, torch
from qwen_lite.weights import from_pretrained
def status():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return {k: int(fields[k].split()[0]) * 1024 for k in ("VmRSS", "VmHWM", "RssAnon", "RssFile")}
before = status()
model = from_pretrained(sys.argv[1], dtype=sys.argv[2])
for p in model.parameters():
    p.max()  # touch every page, allocating nothing large
after = status()
print(json.dumps({**{k: after[k] - before[k] for k in after}, "sympy": "sympy" in sys.modules}))
"""


def rss_growth(folder: Path, dtype: str) -> dict:
    """Bytes each of VmRSS, VmHWM, RssAnon, RssFile grew by over a load that touches every weight."""
    env = {"OMP_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": "65536", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", RSS_SCRIPT, str(folder), dtype], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300, check=True)  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc/self/status")
def test_resident_memory_of_a_sharded_load(bf16_folder):
    """bf16 in bf16: the weights are file-backed pages, anonymous memory grows by a small fraction of them;
    bf16 in fp32: anonymous memory grows by the converted weights, and the peak stays within memory_needed."""
    folder, _ = bf16_folder
    files = safetensors_files(folder)
    same, converted = memory_needed(files, torch.bfloat16), memory_needed(files, torch.float32)
    assert same.conversion == 0 and converted.weights == 2 * same.weights
    kept = rss_growth(folder, "auto")
    assert kept["RssFile"] >= 0.9 * same.weights
    assert kept["RssAnon"] < 0.2 * same.weights  # (importing sympy alone would add ~70 MB, see below)
    assert not kept["sympy"]
    cast = rss_growth(folder, "float32")
    assert cast["RssAnon"] >= 0.9 * converted.weights
    # The peak also counts the bf16 shards' file-backed pages while they are read (page cache the kernel can
    # drop, so the memory check does not count them): at most anonymous need + the files themselves.
    assert cast["VmHWM"] <= converted.total + same.weights


def test_building_on_meta_skips_the_random_init():
    """nn.Embedding's normal_ on a meta tensor would import sympy (~1.5 s, ~70 MB) to draw nothing."""
    from qwen_lite.weights import SkipInitOnMeta

    with torch.device("meta"), SkipInitOnMeta():
        meta = torch.nn.Embedding(4, 3)
        real = torch.nn.Embedding(4, 3, device="cpu")  # other devices are initialised as usual
    assert meta.weight.is_meta and real.weight.std() > 0
    assert torch.nn.Embedding(4, 3).weight.std() > 0  # the mode is gone afterwards


# --- the memory check -----------------------------------------------------------------------------------------


def fake_available(monkeypatch, nbytes: int | None) -> None:
    monkeypatch.setattr(W, "available_memory", lambda: None if nbytes is None else (nbytes, "faked"))


def test_memory_needed_from_headers(bf16_folder):
    folder, stored = bf16_folder
    files = safetensors_files(folder)
    count = sum(v.numel() for v in stored.values())
    assert memory_needed(files, torch.bfloat16) == (2 * count, 0)
    largest = max(sum(v.numel() for v in load_file(f).values()) for f in files)
    assert memory_needed(files, torch.float32) == (4 * count, 2 * largest)


def test_load_that_fits_exactly_is_allowed(bf16_folder, monkeypatch):
    folder, _ = bf16_folder
    need = memory_needed(safetensors_files(folder), torch.bfloat16).total
    fake_available(monkeypatch, need)
    assert dtypes(from_pretrained(folder)) == {torch.bfloat16}


def test_impossible_load_is_refused_with_both_figures_and_the_way_out(bf16_folder, monkeypatch):
    folder, _ = bf16_folder
    files = safetensors_files(folder)
    need, half = memory_needed(files, torch.float32).total, memory_needed(files, torch.bfloat16).total
    fake_available(monkeypatch, half + 1000)  # enough for bf16, not for fp32
    with pytest.raises(NotEnoughMemoryError) as caught:
        from_pretrained(folder, dtype=torch.float32)
    error = caught.value
    assert (
        isinstance(error, CheckpointError)
        and isinstance(error, ValueError)
        and isinstance(error, MemoryError)
    )
    assert (error.needed, error.available) == (need, half + 1000)
    message = str(error)
    assert (
        f"needs about {W.format_gb(need)}" in message
        and f"only {W.format_gb(half + 1000)} is available" in message
    )
    assert "faked" in message and "in float32" in message and str(folder) in message
    assert f"dtype=torch.bfloat16: about {W.format_gb(half)}" in message
    assert "smaller model" in message and "check_memory=False" in message
    assert dtypes(from_pretrained(folder, dtype=torch.float32, check_memory=False)) == {torch.float32}
    assert dtypes(from_pretrained(folder)) == {torch.bfloat16}  # the way out the message names


def test_refusal_in_a_16_bit_dtype_suggests_no_dtype(bf16_folder, monkeypatch):
    folder, _ = bf16_folder
    need = memory_needed(safetensors_files(folder), torch.bfloat16).total
    fake_available(monkeypatch, need - 1)
    with pytest.raises(NotEnoughMemoryError, match="smaller model") as caught:
        from_pretrained(folder)
    assert "dtype=torch.bfloat16" not in str(caught.value)


def test_no_figure_no_check(bf16_folder, monkeypatch):
    fake_available(monkeypatch, None)
    assert dtypes(from_pretrained(bf16_folder[0], dtype=torch.float32)) == {torch.float32}


def test_format_gb():
    assert W.format_gb(7_510_000_000) == "7.5 GB" and W.format_gb(39_000_000) == "0.039 GB"


# --- the available memory -----------------------------------------------------------------------------------


def test_available_memory_reads_meminfo(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemFree:   100 kB\nMemAvailable:   12000000 kB\n")
    assert available_memory(meminfo, tmp_path / "no-cgroup") == (
        12000000 * 1024,
        f"MemAvailable in {meminfo}",
    )


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_available_memory_honours_a_cgroup_limit(tmp_path, version):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemAvailable:   12000000 kB\n")
    root = tmp_path / "cgroup"
    group = root if version == "v2" else root / "memory"
    group.mkdir(parents=True)
    names = ("memory.max", "memory.current", "inactive_file") if version == "v2" else (
        "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")  # fmt: skip
    (group / names[0]).write_text("8000000000\n")
    (group / names[1]).write_text("3000000000\n")
    (group / "memory.stat").write_text(f"anon 100\n{names[2]} 1000000000\n")
    nbytes, source = available_memory(meminfo, root)
    assert nbytes == 8_000_000_000 - (3_000_000_000 - 1_000_000_000) and "cgroup" in source
    (group / names[0]).write_text("max\n" if version == "v2" else "9223372036854771712\n")  # no limit
    assert available_memory(meminfo, root)[0] == 12000000 * 1024


def test_available_memory_without_figures(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil fails
    assert available_memory(tmp_path / "none", tmp_path / "none") is None


def test_available_memory_on_this_machine():
    found = available_memory()
    if found is None:
        pytest.skip("no memory figure on this platform")
    assert found[0] > 0 and isinstance(found[1], str)

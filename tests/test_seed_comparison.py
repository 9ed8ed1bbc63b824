"""The introduction's seed-versus-released table is computed from the presets and the seed API's defaults."""

from qwen_lite.config import qwen25vl_3b
from qwen_lite.seed_api import seed_config
from qwen_lite.viz.seed_comparison import seed_comparison_rows, seed_comparison_table, seed_defaults


def test_released_column_follows_the_presets():
    v = qwen25vl_3b().vision
    rows = {seed: released for seed, released, _, _ in seed_comparison_rows()}
    assert rows[f"`vision_depth` {seed_defaults()['vision_depth']}"] == str(v.depth)
    full = ", ".join(map(str, v.fullatt_block_indexes))
    assert any(released.endswith(f"window attention except blocks {full}") for released in rows.values())
    assert (
        f"{v.window_size} px = {v.window_size // v.patch_size} x {v.window_size // v.patch_size}"
        in "".join(rows.values())
    )


def test_seed_column_quotes_the_seed_defaults():
    defaults = seed_defaults()
    cfg = seed_config()
    assert defaults["embed_dim"] == cfg.vision.hidden_size and defaults["vision_depth"] == cfg.vision.depth
    assert defaults["img_size"] == 224  # the seed README's preprocess_image default, quoted by the table
    table = seed_comparison_table()
    assert table.count("\n") == len(seed_comparison_rows()) + 2
    assert all(f"{{ref}}`{label}`" in table for *_, label in seed_comparison_rows())

"""Image preprocessing against transformers' ``Qwen2VLImageProcessor`` (PIL path) on random images.

Random sizes 1..400 px per side, aspect ratios up to 200:1 (the limit both accept), noise or flat colour, and
every PIL mode. ``pixel_values`` and ``image_grid_thw`` must be bit-identical.

Transparency is where the references differ (facts, "Added facts"): transformers 4.57 drops alpha
(``convert("RGB")``), 5.x alpha-composites over white, as qwen-vl-utils (the model card's pipeline) and vLLM do.
qwen_lite follows 5.x: an image with transparency (an alpha band, premultiplied or not, or a ``transparency``
entry on P, L or RGB) must give exactly what the reference gives for that image composited over white -- and,
under 5.x, exactly what the reference gives for the image itself wherever 5.x sees the transparency (an "A" band
or a ``transparency`` entry). 5.x misses premultiplied RGBa / La (band "a"): it drops RGBa's alpha and cannot
convert La at all; qwen_lite composites both (the property compares them with the composited reference only).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from qwen_lite.processing import preprocess_images
from tests.properties.support import OPAQUE_MODES, TRANSPARENT_MODES, examples, image_specs, white_composite
from tests.reference import TF5
from tests.test_processing import reference_outputs

pytestmark = pytest.mark.reference


def assert_bit_exact(ours: dict, pixel_values: torch.Tensor, grid_thw: torch.Tensor) -> None:
    assert torch.equal(ours["image_grid_thw"], grid_thw.long())
    assert ours["pixel_values"].dtype == torch.float32
    assert torch.equal(ours["pixel_values"], pixel_values.float())


@examples(60)
@given(specs=st.lists(image_specs(OPAQUE_MODES), min_size=1, max_size=3))
def test_opaque_images_are_bit_exact(hf_image_processor, specs):
    images = [spec.render() for spec in specs]
    assert_bit_exact(preprocess_images(images), *reference_outputs(hf_image_processor._obj, images))


@examples(40)
@given(spec=image_specs(TRANSPARENT_MODES))
def test_transparent_images_are_composited_over_white(hf_image_processor, spec):
    image = spec.render()
    ours = preprocess_images(image)
    assert_bit_exact(ours, *reference_outputs(hf_image_processor._obj, white_composite(image)))
    if TF5 and ("A" in image.getbands() or "transparency" in image.info):
        # 5.x composites over white itself -- but only where it sees an "A" band or a transparency entry:
        # premultiplied RGBa / La (band "a") it converts without compositing (RGBa) or not at all (La).
        assert_bit_exact(ours, *reference_outputs(hf_image_processor._obj, image))

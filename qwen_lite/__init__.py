"""qwen_lite: a small, readable, exact re-implementation of Qwen2.5-VL."""

from qwen_lite.config import PRESETS, Qwen25VLConfig, TextConfig, VisionConfig
from qwen_lite.shapes import ShapeError, check_shape
from qwen_lite.trace import trace_shapes

__all__ = ["PRESETS", "Qwen25VLConfig", "TextConfig", "VisionConfig", "ShapeError", "check_shape", "trace_shapes"]

"""qwen_lite: a small, readable, exact re-implementation of Qwen2.5-VL (and Qwen3-VL, by composition).

The modules, in the order the book teaches them: ``config``, ``processing`` and ``video`` (pixels to
patches), ``tokenizer`` and ``processor`` (text and placeholders), ``vision`` (the ViT), ``rope``
(M-RoPE positions), ``text`` (the Qwen2 decoder), ``model`` (fusion and forward), ``generation``,
``weights`` (checkpoints), ``accounting`` (parameters and FLOPs), ``grounding`` (boxes and points in
the answers), ``training`` (labels and the loss), ``exercises`` (the chapters' checkers) and ``viz``
(figures and widgets, never imported by model code).
"""

from qwen_lite.config import PRESETS, Qwen3VLConfig, Qwen25VLConfig, TextConfig, VisionConfig
from qwen_lite.files import CheckpointError
from qwen_lite.generation import GenerationConfig
from qwen_lite.grounding import GroundingParseError, parse_grounding
from qwen_lite.model import Qwen3VLForConditionalGeneration, Qwen25VLForConditionalGeneration
from qwen_lite.processor import PreprocessorConfigError, Qwen3VLProcessor, Qwen25VLProcessor
from qwen_lite.seed_api import Qwen25VLModel, preprocess_image
from qwen_lite.shapes import ShapeError, check_shape
from qwen_lite.tokenizer import apply_chat_template, apply_qwen3_vl_chat_template, get_tokenizer
from qwen_lite.trace import trace_shapes
from qwen_lite.training import build_labels, causal_lm_loss
from qwen_lite.weights import NotEnoughMemoryError, from_pretrained, save_pretrained

__all__ = [
    "PRESETS",
    "PreprocessorConfigError",
    "CheckpointError",
    "GenerationConfig",
    "GroundingParseError",
    "NotEnoughMemoryError",
    "Qwen25VLConfig",
    "Qwen3VLConfig",
    "Qwen25VLForConditionalGeneration",
    "Qwen3VLForConditionalGeneration",
    "Qwen25VLModel",
    "Qwen25VLProcessor",
    "Qwen3VLProcessor",
    "ShapeError",
    "TextConfig",
    "VisionConfig",
    "apply_chat_template",
    "apply_qwen3_vl_chat_template",
    "build_labels",
    "causal_lm_loss",
    "check_shape",
    "from_pretrained",
    "get_tokenizer",
    "parse_grounding",
    "preprocess_image",
    "save_pretrained",
    "trace_shapes",
]

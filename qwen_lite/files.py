"""Reading the files of a checkpoint folder: the error they raise and the one JSON reader.

A Hugging Face checkpoint folder holds ``config.json``, ``generation_config.json``,
``preprocessor_config.json`` and safetensors weights. The model side (:mod:`qwen_lite.weights`) and the
preprocessing side (:mod:`qwen_lite.processor`) both read them; this module is what they share, so that
preprocessing never has to import the model.
"""

from __future__ import annotations

import json
from pathlib import Path


class CheckpointError(ValueError):
    """A checkpoint folder cannot be loaded: the message names the file and what is wrong with it."""


def read_json(
    path: Path, what: str = "a JSON object", error: type[CheckpointError] = CheckpointError
) -> dict:
    """The JSON object in ``path``; ``error`` (a :class:`CheckpointError`) naming the file if it is not one.

    Invalid UTF-8, invalid JSON (with line and column) and JSON of another type (an array, a string, a
    number, null) are each reported as such.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise error(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(data, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(data), "a number"
        )
        raise error(f"{path}: expected {what}, got {kind} ({str(data)[:60]})")
    return data

"""Grounding answers: boxes and points read from the model's text, and mapped between images.

Qwen2.5-VL answers a grounding prompt ("outline the face", "point to the badge") with *text*, usually
a fenced JSON list (the form of the model card and of the Qwen2.5-VL cookbook, ``spatial_understanding``)::

    ```json
    [{"bbox_2d": [x1, y1, x2, y2], "label": "face"}, {"point_2d": [x, y], "label": "badge"}]
    ```

The numbers are **absolute pixels of the resized image the model saw**: the image after
:func:`qwen_lite.processing.smart_resize`, whose size depends on the pixel budget
(``min_pixels``/``max_pixels``) of the processor that prepared the prompt (Qwen2.5-VL report, §2.1 and
§2.2.1). A box is ``[x1, y1, x2, y2]``: left, top, right, bottom edges, ``x`` to the right and ``y``
down from the top-left corner. To draw it on the original photograph, scale ``x`` by
``original_width / resized_width`` and ``y`` by ``original_height / resized_height``
(:func:`to_original`), with the resized size of the budget *the model saw* (:func:`resized_size_for`);
the cookbook does the same with ``image_grid_thw * 14``.

Qwen2-VL wrote boxes differently: coordinates normalised to ``[0, 1000)`` of the image, between
special tokens, with the label in an object-reference span (Qwen2-VL report, §2.2.1 "Data Format")::

    <|object_ref_start|>the face<|object_ref_end|><|box_start|>(312,233),(713,550)<|box_end|>

Those are read by :func:`parse_grounding` too, and mapped to pixels with :func:`from_qwen2vl`. The
special tokens only survive decoding with ``skip_special_tokens=False``.

Public names: :class:`Box`, :class:`Point` (one object each, coordinates as written), :class:`GroundingAnswer`
(the list :func:`parse_grounding` returns, with what was dropped), :class:`GroundingParseError`,
:func:`parse_grounding`, :func:`format_answer`, :func:`resized_size_for`, :func:`to_original`,
:func:`to_resized`, :func:`from_qwen2vl`, :func:`to_qwen2vl`. Sizes are always ``(width, height)``
tuples passed by keyword (``original_size=photo.size``, as PIL writes them).

This module is preprocessing-side: it imports :mod:`qwen_lite.processing` only, never the model or viz.
"""

from __future__ import annotations

import ast
import json
import math
import numbers
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from qwen_lite.processing import FACTOR, MAX_PIXELS, MIN_PIXELS, describe, smart_resize

__all__ = [
    "NORMALISED_RANGE",
    "Box",
    "GroundingAnswer",
    "GroundingParseError",
    "Point",
    "format_answer",
    "from_qwen2vl",
    "parse_grounding",
    "resized_size_for",
    "to_original",
    "to_qwen2vl",
    "to_resized",
]

#: Qwen2-VL's normalised coordinates run over ``[0, 1000)`` of the image's width and height.
NORMALISED_RANGE = 1000

# Qwen2-VL's grounding tokens (ids 151646..151649 in the Qwen2 vocabulary; qwen_lite.tokenizer).
REF_START, REF_END = "<|object_ref_start|>", "<|object_ref_end|>"
BOX_START, BOX_END = "<|box_start|>", "<|box_end|>"

BOX_KEY, POINT_KEY, LABEL_KEY = "bbox_2d", "point_2d", "label"


class GroundingParseError(ValueError):
    """A model answer that holds no readable box or point: says what was expected and what arrived."""


# ---------------------------------------------------------------- objects


def _coordinate(value, name: str) -> int | float:
    """A finite real number (bool and numeric strings refused) as a plain Python int or float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {describe(value)}")
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def _label(value, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name}: expected a string (or None), got {describe(value)}")
    return value


@dataclass(frozen=True)
class Box:
    """An axis-aligned box ``[x1, y1, x2, y2]``: left, top, right, bottom edges, in the units of some image.

    Which image (pixels of the resized image the model saw, of the original photo, or Qwen2-VL's 0-1000
    grid) is the caller's to track; the mapping functions take the sizes explicitly. ``x1 <= x2`` and
    ``y1 <= y2`` are required (a box with a side of zero is allowed). ``label`` is the answer's
    ``"label"`` (or Qwen2-VL's object reference); ``extra`` holds any other keys of the JSON object
    (e.g. ``"text_content"``), unchanged.

    Errors: a coordinate that is not a finite real number (``TypeError``/``ValueError`` naming it),
    ``x2 < x1`` or ``y2 < y1`` (``ValueError`` with the four numbers), a label that is not a string.
    """

    x1: float
    y1: float
    x2: float
    y2: float
    label: str | None = None
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        for name in ("x1", "y1", "x2", "y2"):
            object.__setattr__(self, name, _coordinate(getattr(self, name), f"Box.{name}"))
        object.__setattr__(self, "label", _label(self.label, "Box.label"))
        if self.x2 < self.x1 or self.y2 < self.y1:
            raise ValueError(
                f"Box: expected x1 <= x2 and y1 <= y2 ([left, top, right, bottom]), got "
                f"[{self.x1}, {self.y1}, {self.x2}, {self.y2}]"
            )

    def as_list(self) -> list:
        """``[x1, y1, x2, y2]``, the ``bbox_2d`` value."""
        return [self.x1, self.y1, self.x2, self.y2]

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def center(self) -> tuple[float, float]:
        """``(x, y)`` of the box's centre, same units."""
        return ((self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2)

    def _scaled(self, sx: tuple, sy: tuple) -> Box:
        (nx, dx), (ny, dy) = sx, sy
        x1, y1, x2, y2 = self.x1 * nx / dx, self.y1 * ny / dy, self.x2 * nx / dx, self.y2 * ny / dy
        return Box(x1, y1, x2, y2, self.label, dict(self.extra))


@dataclass(frozen=True)
class Point:
    """A point ``[x, y]`` (``x`` to the right, ``y`` down from the top-left corner), in some image's units.

    ``label`` and ``extra`` as in :class:`Box`. Errors: a coordinate that is not a finite real number,
    a label that is not a string.
    """

    x: float
    y: float
    label: str | None = None
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        for name in ("x", "y"):
            object.__setattr__(self, name, _coordinate(getattr(self, name), f"Point.{name}"))
        object.__setattr__(self, "label", _label(self.label, "Point.label"))

    def as_list(self) -> list:
        """``[x, y]``, the ``point_2d`` value."""
        return [self.x, self.y]

    def _scaled(self, sx: tuple, sy: tuple) -> Point:
        (nx, dx), (ny, dy) = sx, sy
        return Point(self.x * nx / dx, self.y * ny / dy, self.label, dict(self.extra))


Grounded = Box | Point


class GroundingAnswer(list):
    """The boxes and points :func:`parse_grounding` read, in answer order: a plain ``list`` of
    :class:`Box` / :class:`Point`, plus two attributes.

    ``form``: ``"json"`` (Qwen2.5-VL: absolute pixels of the resized image) or ``"qwen2vl"`` (the token
    form: 0-1000 normalised, map with :func:`from_qwen2vl`). ``dropped``: the text of an incomplete last
    object that was left out (a generation cut off by ``max_new_tokens``), ``""`` when nothing was.
    """

    def __init__(self, objects: Iterable[Grounded] = (), form: str = "json", dropped: str = ""):
        super().__init__(objects)
        self.form = form
        self.dropped = dropped

    @property
    def truncated(self) -> bool:
        """Whether an incomplete object was dropped."""
        return bool(self.dropped)

    def __repr__(self) -> str:
        tail = f", dropped={self.dropped!r}" if self.dropped else ""
        return f"GroundingAnswer({list.__repr__(self)}, form={self.form!r}{tail})"


# ---------------------------------------------------------------- parsing


def _short(text: str, limit: int = 80) -> str:
    text = repr(text)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _loads(text: str):
    """A JSON value; falls back to Python literal syntax (single quotes, trailing commas, None), as
    the cookbook's ``ast.literal_eval`` does. ``None`` when neither reads it."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


_CLOSE = {"[": "]", "{": "}"}


def _split_value(text: str, start: int) -> tuple[list[tuple[int, int]], int | None, bool]:
    """Scan the JSON container that opens at ``text[start]`` (``[`` or ``{``).

    Returns ``(elements, end, last_closed)``: for a list, the ``(begin, end)`` spans of its top-level
    elements (for an object, one span: the whole object); ``end`` the index after the closing bracket,
    or ``None`` when the text stops first (truncated); ``last_closed`` whether the last span ended with
    its own closing bracket (an element at the end of truncated text is complete only then).
    Strings in either quote style are skipped, with backslash escapes.
    """
    is_list = text[start] == "["
    stack = [text[start]]
    elements: list[tuple[int, int]] = []
    begin = start + 1 if is_list else start
    quote = None
    last_closed = False
    i = start + 1
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            stack.append(ch)
            last_closed = False
        elif ch in "]}":
            if not stack or _CLOSE[stack[-1]] != ch:
                raise GroundingParseError(
                    f"parse_grounding: unbalanced {ch!r} at character {i} of the JSON: {_short(text[start : i + 1])}"
                )
            stack.pop()
            if not stack:
                if is_list:
                    if text[begin:i].strip():
                        elements.append((begin, i))
                else:
                    elements.append((start, i + 1))
                return elements, i + 1, True
            last_closed = len(stack) == 1
        elif ch == "," and len(stack) == 1 and is_list:
            elements.append((begin, i))
            begin = i + 1
            last_closed = False
        elif not ch.isspace() and len(stack) == 1:
            last_closed = False
        i += 1
    if is_list and text[begin:].strip():
        elements.append((begin, len(text)))
    elif not is_list:
        elements.append((start, len(text)))
    return elements, None, last_closed


_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)


def _json_candidates(text: str) -> list[str]:
    """The JSON texts of an answer: the body of every ```json fence (the last may be unclosed), or,
    without fences, the text from its first ``[`` or ``{``."""
    if "```" in text:
        return [m.group(1) for m in _FENCE.finditer(text) if m.group(1).strip()]
    starts = [i for i in (text.find("["), text.find("{")) if i >= 0]
    return [text[min(starts) :]] if starts else []


def _to_objects(value, where: str) -> list[Grounded]:
    """One element of an answer (a dict with ``bbox_2d``/``point_2d``, or a bare list of 4 or 2
    numbers) -> its boxes / points. Errors name ``where`` and say what arrived."""
    if isinstance(value, dict):
        has_box, has_point = BOX_KEY in value, POINT_KEY in value
        if has_box == has_point:
            what = "both" if has_box else "neither"
            raise GroundingParseError(
                f"parse_grounding: {where}: expected an object with exactly one of {BOX_KEY!r} or "
                f"{POINT_KEY!r}, got {what} (keys {sorted(value)})"
            )
        label = value.get(LABEL_KEY)
        if label is not None and not isinstance(label, str):
            raise GroundingParseError(
                f"parse_grounding: {where}: expected {LABEL_KEY!r} to be a string, got {describe(label)}"
            )
        extra = {k: v for k, v in value.items() if k not in (BOX_KEY, POINT_KEY, LABEL_KEY)}
        key = BOX_KEY if has_box else POINT_KEY
        coords = value[key]
        if (
            key == POINT_KEY
            and isinstance(coords, (list, tuple))
            and coords
            and all(isinstance(c, (list, tuple)) for c in coords)
        ):  # several points under one label: {"point_2d": [[x, y], [x, y]]}
            return [_numbers(c, 2, f"{where}[{key!r}][{k}]", label, extra) for k, c in enumerate(coords)]
        return [_numbers(coords, 4 if has_box else 2, f"{where}[{key!r}]", label, extra)]
    if (
        isinstance(value, (list, tuple))
        and len(value) in (2, 4)
        and not any(isinstance(v, (list, tuple, dict)) for v in value)
    ):  # a bare [x1, y1, x2, y2] or [x, y]
        return [_numbers(value, len(value), where, None, {})]
    raise GroundingParseError(
        f"parse_grounding: {where}: expected an object like {{{BOX_KEY!r}: [x1, y1, x2, y2], "
        f"{LABEL_KEY!r}: ...}} or {{{POINT_KEY!r}: [x, y], ...}}, got {describe(value)}"
    )


def _numbers(coords, n: int, where: str, label, extra) -> Grounded:
    form = "[x1, y1, x2, y2]" if n == 4 else "[x, y]"
    if not isinstance(coords, (list, tuple)) or len(coords) != n:
        count = f"{len(coords)} values" if isinstance(coords, (list, tuple)) else describe(coords)
        raise GroundingParseError(
            f"parse_grounding: {where}: expected {n} numbers {form}, got {count}: {coords!r}"
        )
    for k, c in enumerate(coords):
        if isinstance(c, bool) or not isinstance(c, numbers.Real) or not math.isfinite(c):
            raise GroundingParseError(
                f"parse_grounding: {where}[{k}]: expected a finite number in {form}, got {describe(c)}"
            )
    try:
        return (
            Box(*coords, label=label, extra=dict(extra))
            if n == 4
            else Point(*coords, label=label, extra=dict(extra))
        )
    except ValueError as error:  # x2 < x1: say where
        raise GroundingParseError(f"parse_grounding: {where}: {error}") from None


def _parse_json(text: str, strict: bool) -> GroundingAnswer:
    candidates = _json_candidates(text)
    if not candidates:
        raise GroundingParseError(
            "parse_grounding: expected a ```json fenced answer, a JSON list/object of "
            f"{{{BOX_KEY!r}: ...}} / {{{POINT_KEY!r}: ...}}, or Qwen2-VL {BOX_START} tokens; got no JSON "
            f"in {_short(text)} (a Qwen2-VL answer keeps its tokens only when decoded with "
            "skip_special_tokens=False)"
        )
    objects: list[Grounded] = []
    dropped, unclosed = "", False
    for c_index, candidate in enumerate(candidates):
        starts = [i for i in (candidate.find("["), candidate.find("{")) if i >= 0]
        if not starts:
            raise GroundingParseError(
                f"parse_grounding: expected a JSON list or object in the fenced block, got {_short(candidate)}"
            )
        offset = min(starts)
        elements, end, last_closed = _split_value(candidate, offset)
        unclosed = unclosed or end is None
        is_list = candidate[offset] == "["
        for k, (a, b) in enumerate(elements):
            where = f"object {k}" if is_list else "the answer's object"
            if len(candidates) > 1:
                where = f"block {c_index}, {where}"
            piece = candidate[a:b].strip()
            at_cut = end is None and b == len(candidate)  # the element the text stops in
            value = None if at_cut and not last_closed else _loads(piece)
            if value is None and at_cut:
                dropped = piece
                break
            if value is None:
                raise GroundingParseError(f"parse_grounding: {where}: expected JSON, got {_short(piece)}")
            objects += _to_objects(value, where)
    if strict and unclosed:
        cut = f"at {_short(dropped)}" if dropped else "before its closing bracket"
        raise GroundingParseError(
            f"parse_grounding: expected a complete JSON answer, got one cut off {cut} after "
            f"{len(objects)} complete object(s) (strict=True; strict=False keeps them)"
        )
    if dropped and not objects:
        raise GroundingParseError(
            f"parse_grounding: expected at least one complete box or point, got only the incomplete {_short(dropped)}"
        )
    return GroundingAnswer(objects, form="json", dropped=dropped)


_NUMBER = r"\s*(-?\d+(?:\.\d+)?)\s*"
_PAIR = re.compile(r"\(" + _NUMBER + "," + _NUMBER + r"\)")


def _parse_qwen2vl(text: str, strict: bool) -> GroundingAnswer:
    objects: list[Grounded] = []
    label = None
    dropped = ""
    pos = 0
    n_box = 0
    while True:
        ref, box = text.find(REF_START, pos), text.find(BOX_START, pos)
        if ref < 0 and box < 0:
            break
        if ref >= 0 and (box < 0 or ref < box):
            end = text.find(REF_END, ref)
            if end < 0:
                dropped = text[ref:]
                break
            label = text[ref + len(REF_START) : end].strip()
            pos = end + len(REF_END)
            continue
        if text[pos:box].strip():  # text between: the box belongs to no reference
            label = None
        end = text.find(BOX_END, box)
        if end < 0:
            dropped = text[box:]
            break
        body = text[box + len(BOX_START) : end]
        pairs = _PAIR.findall(body)
        if not pairs or len(pairs) % 2 or _PAIR.sub("", body).replace(",", "").strip():
            raise GroundingParseError(
                f"parse_grounding: Qwen2-VL box {n_box}: expected {BOX_START}(x1,y1),(x2,y2){BOX_END} with "
                f"numbers in [0, {NORMALISED_RANGE}), got {_short(BOX_START + body + BOX_END)}"
            )
        for k in range(0, len(pairs), 2):
            x1, y1 = (float(v) if "." in v else int(v) for v in pairs[k])
            x2, y2 = (float(v) if "." in v else int(v) for v in pairs[k + 1])
            try:
                objects.append(Box(x1, y1, x2, y2, label=label))
            except ValueError as error:
                raise GroundingParseError(f"parse_grounding: Qwen2-VL box {n_box}: {error}") from None
        n_box += 1
        pos = end + len(BOX_END)
    if dropped and (strict or not objects):
        raise GroundingParseError(
            f"parse_grounding: expected complete Qwen2-VL spans ({REF_START}...{REF_END}, "
            f"{BOX_START}...{BOX_END}), got one cut off: {_short(dropped)} after {len(objects)} complete box(es)"
        )
    return GroundingAnswer(objects, form="qwen2vl", dropped=dropped)


def parse_grounding(text: str, *, strict: bool = False) -> GroundingAnswer:
    """Read the boxes and points of a model answer -> :class:`GroundingAnswer` (a list of Box / Point).

    Accepted (coordinates are returned as written; nothing is rescaled):

    * Qwen2.5-VL JSON, inside one or more ```json fences (text around them ignored) or bare (from the
      first ``[`` or ``{``): a list of objects, or one object, each ``{"bbox_2d": [x1, y1, x2, y2]}`` or
      ``{"point_2d": [x, y]}`` with an optional ``"label"`` (other keys kept in ``extra``);
      ``"point_2d": [[x, y], ...]`` gives one Point per pair; a bare ``[x1, y1, x2, y2]`` / ``[x, y]``
      element is a Box / Point without label. Units: pixels of the resized image (``form="json"``).
    * Qwen2-VL tokens: ``<|object_ref_start|>label<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>``;
      a box takes the label of the reference right before it (several boxes may follow one
      reference); a box after other text has none. Units: 0-1000 (``form="qwen2vl"``).
    * Slightly malformed JSON the cookbook's ``ast.literal_eval`` accepts: single quotes, trailing commas,
      a missing closing fence or bracket.
    * Truncated answers (generation stopped by ``max_new_tokens``): the complete objects are returned and
      the incomplete tail is in ``.dropped``; with ``strict=True`` a truncated answer raises instead.

    Errors (:class:`GroundingParseError`, a ``ValueError``, saying what was expected and what arrived,
    and which object): no JSON and no Qwen2-VL tokens (e.g. a Qwen2-VL answer decoded with
    ``skip_special_tokens=True``), nothing complete in a truncated answer, an object with neither or both
    of ``bbox_2d``/``point_2d``, a wrong number of coordinates, a non-number or non-finite coordinate,
    ``x2 < x1`` or ``y2 < y1``, a label that is not a string, a complete element that is not JSON.
    ``TypeError`` when ``text`` is not a string.

    Source: the answer format of the Qwen2.5-VL cookbook (``parse_json`` strips the fence, then
    ``ast.literal_eval``, and on failure cuts the text after the last ``"}`` to recover a truncated
    list); the Qwen2-VL token format of the Qwen2-VL report, §2.2.1.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_grounding: text must be the decoded answer (a str), got {describe(text)}")
    if not isinstance(strict, bool):
        raise TypeError(f"parse_grounding: strict must be a bool, got {describe(strict)}")
    if BOX_START in text or REF_START in text:
        return _parse_qwen2vl(text, strict)
    return _parse_json(text, strict)


def format_answer(objects, form: str = "json") -> str:
    """Write boxes / points as the model writes them (coordinates rounded to integers, half to even).

    ``form="json"``: a ```json fenced list, one object per line (Qwen2.5-VL); ``form="qwen2vl"``: the
    token form (boxes only; coordinates must already be on the 0-1000 grid, see :func:`to_qwen2vl`; an
    unlabelled box right after a labelled one reads back with that label, as in Qwen2-VL's answers).
    :func:`parse_grounding` reads both back. Used to build illustrative answers and training targets.
    Errors: an unknown ``form``, a Point in the Qwen2-VL form, objects that are not Box / Point.
    """
    objects = _objects(objects, "objects")[0]
    if form == "json":
        lines = []
        for obj in objects:
            key = BOX_KEY if isinstance(obj, Box) else POINT_KEY
            item = {key: [round(v) for v in obj.as_list()]}
            if obj.label is not None:
                item[LABEL_KEY] = obj.label
            item.update(obj.extra)
            lines.append("\t" + json.dumps(item, ensure_ascii=False))
        return "```json\n[\n" + ",\n".join(lines) + "\n]\n```"
    if form == "qwen2vl":
        parts = []
        for k, obj in enumerate(objects):
            if not isinstance(obj, Box):
                raise ValueError(
                    f"format_answer: objects[{k}]: the Qwen2-VL form has boxes only, got a Point"
                )
            x1, y1, x2, y2 = (round(v) for v in obj.as_list())
            ref = f"{REF_START}{obj.label}{REF_END}" if obj.label is not None else ""
            parts.append(f"{ref}{BOX_START}({x1},{y1}),({x2},{y2}){BOX_END}")
        return "".join(parts)
    raise ValueError(f"format_answer: form must be 'json' or 'qwen2vl', got {form!r}")


# ---------------------------------------------------------------- coordinate maps


def _size(size, name: str) -> tuple:
    """A ``(width, height)`` pair of positive finite numbers, errors naming ``name``."""
    if isinstance(size, (str, bytes)) or not isinstance(size, Iterable):
        raise TypeError(f"{name}: expected (width, height), got {describe(size)}")
    size = tuple(size)
    if len(size) != 2:
        raise ValueError(f"{name}: expected (width, height), two numbers, got {len(size)} values: {size!r}")
    out = []
    for value, axis in zip(size, ("width", "height")):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name}: the {axis} must be a number, got {describe(value)}")
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name}: the {axis} must be positive and finite, got {value!r}")
        out.append(int(value) if isinstance(value, numbers.Integral) else float(value))
    return tuple(out)


def _objects(objects, name: str) -> tuple[list[Grounded], bool]:
    """``objects`` as a list, and whether a single Box / Point was given (then one is returned)."""
    if isinstance(objects, (Box, Point)):
        return [objects], True
    if isinstance(objects, (str, bytes, dict)) or not isinstance(objects, Iterable):
        raise TypeError(f"{name}: expected a Box, a Point or a list of them, got {describe(objects)}")
    objects = list(objects)
    for k, obj in enumerate(objects):
        if not isinstance(obj, (Box, Point)):
            hint = (
                " (parse the answer first: parse_grounding(text))"
                if isinstance(obj, (str, dict, list))
                else ""
            )
            raise TypeError(f"{name}[{k}]: expected a Box or a Point, got {describe(obj)}{hint}")
    return objects, False


def _scale(objects, sx: tuple, sy: tuple):
    """Scale x by ``sx = (numerator, denominator)``, y by ``sy``; ``v * n / d`` in this order, so an edge
    ``v = d`` maps exactly to ``n``."""
    items, single = _objects(objects, "objects")
    scaled = [obj._scaled(sx, sy) for obj in items]
    return scaled[0] if single else scaled


def resized_size_for(
    original_size, *, min_pixels: float = MIN_PIXELS, max_pixels: float = MAX_PIXELS, factor: int = FACTOR
) -> tuple[int, int]:
    """``(width, height)`` of the image the model sees for an ``original_size = (width, height)`` photo.

    :func:`qwen_lite.processing.smart_resize` for this pixel budget (sides multiples of ``factor`` = 28,
    area within ``[min_pixels, max_pixels]``), in (width, height) order; equal to
    ``(image_grid_thw[2] * 14, image_grid_thw[1] * 14)`` of a processor with the same budget. The
    defaults are the transformers image-processor class defaults; the released ``preprocessor_config.json``
    and qwen-vl-utils use ``max_pixels=12845056`` (``processing.RELEASED_MAX_PIXELS``). Pass the budget of
    the processor that prepared the prompt. Errors as :func:`smart_resize`, and for a malformed size.
    """
    width, height = _size(original_size, "original_size")
    h, w = smart_resize(height, width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)
    return w, h


def to_original(objects, *, resized_size, original_size):
    """Boxes / points in pixels of the resized image -> pixels of the original image (floats, unrounded).

    ``x * original_width / resized_width``, ``y * original_height / resized_height``: the two axes
    scale separately, since the resize rounds each side to a multiple of 28 on its own. ``resized_size``
    must be the size the model saw: :func:`resized_size_for` with the prompt's budget, or
    ``(grid_w * 14, grid_h * 14)`` from ``image_grid_thw``. Both sizes are ``(width, height)``.
    Returns a list for a list (a :class:`GroundingAnswer` included), one object for one object; labels
    and ``extra`` are kept. Coordinates are not clipped to the image. Errors: malformed sizes, objects
    that are not Box / Point (``TypeError`` / ``ValueError`` naming the argument).
    Source: the Qwen2.5-VL cookbook (``spatial_understanding``) scales by ``width / input_width``.
    """
    rw, rh = _size(resized_size, "resized_size")
    ow, oh = _size(original_size, "original_size")
    return _scale(objects, (ow, rw), (oh, rh))


def to_resized(objects, *, original_size, resized_size):
    """Pixels of the original image -> pixels of the resized image the model sees (the inverse of
    :func:`to_original`): how a training target or a hand-made answer must be written for a budget.
    Same arguments, returns and errors as :func:`to_original`."""
    ow, oh = _size(original_size, "original_size")
    rw, rh = _size(resized_size, "resized_size")
    return _scale(objects, (rw, ow), (rh, oh))


def from_qwen2vl(objects, *, image_size):
    """Qwen2-VL's normalised coordinates (0..1000 of each side) -> pixels of an image of ``image_size``.

    ``x * width / 1000``, ``y * height / 1000``. The normalised grid is the same for every pixel budget,
    so ``image_size = (width, height)`` may be the original photo directly. Errors: a coordinate outside
    ``[0, 1000]`` (``ValueError`` naming the object: the answer is not on Qwen2-VL's grid), malformed
    sizes or objects. Source: Qwen2-VL report §2.2.1 (boxes normalised within [0, 1000)).
    """
    items, _ = _objects(objects, "objects")
    for k, obj in enumerate(items):
        values = obj.as_list()
        if any(v < 0 or v > NORMALISED_RANGE for v in values):
            raise ValueError(
                f"from_qwen2vl: objects[{k}]: expected coordinates in [0, {NORMALISED_RANGE}] (Qwen2-VL's "
                f"normalised grid), got {values}; Qwen2.5-VL answers are pixels: use to_original"
            )
    width, height = _size(image_size, "image_size")
    return _scale(objects, (width, NORMALISED_RANGE), (height, NORMALISED_RANGE))


def to_qwen2vl(objects, *, image_size):
    """Pixels of an image of ``image_size = (width, height)`` -> Qwen2-VL's 0..1000 grid (floats; the
    token form writes them rounded, see :func:`format_answer`). The inverse of :func:`from_qwen2vl`."""
    width, height = _size(image_size, "image_size")
    return _scale(objects, (NORMALISED_RANGE, width), (NORMALISED_RANGE, height))

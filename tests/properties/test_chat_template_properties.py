"""The chat template on random conversations against the released Jinja template.

The reference is ``render_jinja`` of tests/test_tokenizer.py: the verbatim ``chat_template`` of Qwen2.5-VL-Instruct
rendered with the jinja2 settings of transformers' ``apply_chat_template``. Conversations: 1..5 messages with
standard or random roles, string content (random text, special-token text and Jinja-looking text included) or
lists of items (images, image URLs, videos, text, unknown types, items with several keys, non-string text
values), with and without the generation prompt and vision ids.

Where the template would turn a value into text that nobody wrote, qwen_lite refuses it instead (its docstring):
a role that is not a str (the template prints ``None``, ``3``...), a text value that is not a str, and a
``{"type": "text"}`` item without ``"text"`` (the template renders nothing). The property states that rule: such a
conversation must raise a ``TypeError``/``ValueError`` naming the first offending place, ``messages[i]['role']`` or
``messages[i]['content'][j]``; every other conversation must render exactly as the Jinja template. Non-dict
messages or items are in ``test_error_properties.py``.
"""

from __future__ import annotations

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from qwen_lite.processor import Qwen25VLProcessor
from qwen_lite.tokenizer import apply_chat_template
from tests.properties.support import TEXTS, examples
from tests.test_tokenizer import render_jinja

pytestmark = pytest.mark.reference

JINJA_LOOKING = st.sampled_from(["{{ x }}", "{% if %}", "{#", "#}", "\n", "Picture 1: ", "}}"])
WORDS = TEXTS | JINJA_LOOKING
VALUES = st.one_of(WORDS, st.none(), st.integers(-5, 5), st.floats(allow_nan=False), st.booleans(),
                   st.lists(st.integers(0, 3), max_size=2))  # fmt: skip


def rarely(odd, usual, one_in: int):
    """``odd`` about once in ``one_in`` draws, else ``usual``."""
    return st.integers(1, one_in).flatmap(lambda k: odd if k == 1 else usual)


MOSTLY_TEXT = rarely(VALUES, WORDS, 8)
ROLES = rarely(VALUES, st.sampled_from(["system", "user", "assistant", "tool"]) | WORDS, 12)

MESSY_ITEMS = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["image", "video", "text", "image_url", "audio", "other"]) | VALUES,
        "image": VALUES,
        "image_url": VALUES,
        "video": VALUES,
        "text": MOSTLY_TEXT,
        "fps": st.floats(0.1, 30),
    },
)
ITEMS = st.one_of(
    st.fixed_dictionaries({"type": st.just("image")}, optional={"image": VALUES}),
    st.fixed_dictionaries({"type": st.just("video")}, optional={"video": VALUES, "fps": st.floats(0.1, 30)}),
    st.fixed_dictionaries({"type": st.just("text"), "text": WORDS}),
    st.fixed_dictionaries(
        {}, optional={"image": VALUES, "image_url": VALUES, "video": VALUES, "text": WORDS}
    ),
    MESSY_ITEMS,
)
MESSAGES = st.fixed_dictionaries(
    {"role": ROLES, "content": WORDS | st.lists(ITEMS, max_size=5)},
    optional={"name": WORDS},
)
CONVERSATIONS = st.lists(MESSAGES, min_size=1, max_size=5)

processor = Qwen25VLProcessor()


def first_refused(messages) -> str | None:
    """Where qwen_lite refuses what the template would stringify (module docstring), in its reading order."""
    for i, message in enumerate(messages):
        if not isinstance(message["role"], str):
            return f"messages[{i}]['role']"
        if isinstance(message["content"], str):
            continue
        for j, item in enumerate(message["content"]):
            kind = item.get("type")
            if kind in ("image", "video") or {"image", "image_url", "video"} & set(item):
                continue  # a visual item: its other keys are never rendered
            if ("text" in item and not isinstance(item["text"], str)) or (
                "text" not in item and kind == "text"
            ):
                return f"messages[{i}]['content'][{j}]"
    return None


@examples(300)
@given(messages=CONVERSATIONS, add_generation_prompt=st.booleans(), add_vision_id=st.booleans())
def test_chat_template_matches_jinja(messages, add_generation_prompt, add_vision_id):
    refused = first_refused(messages)
    event("refused" if refused else "rendered")
    for render in (apply_chat_template, processor.apply_chat_template):
        if refused:
            with pytest.raises((TypeError, ValueError)) as error:
                render(messages, add_generation_prompt, add_vision_id)
            assert refused in str(error.value)
        else:
            expected = render_jinja(messages, add_generation_prompt, add_vision_id)
            assert render(messages, add_generation_prompt, add_vision_id) == expected

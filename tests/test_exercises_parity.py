"""The parity chapter's name-mapping checker accepts the package's mapping and rejects plausible mistakes."""

import re

from qwen_lite.exercises.parity import check_released_key, released_key_cases
from qwen_lite.weights import released_key


def run(fn):
    messages = []
    return check_released_key(fn, report=messages.append), messages


def test_accepts_the_package_function():
    assert run(released_key) == (True, [f"released_key: all {len(released_key_cases())} hidden cases pass."])


def test_accepts_a_written_out_solution():
    def solution(name):
        name = re.sub(r"^model\.visual\.", "visual.", name)
        return re.sub(r"^model\.language_model\.", "model.", name)

    assert run(solution)[0]


def test_rejects_stripping_the_first_model_prefix():
    ok, messages = run(lambda name: name.removeprefix("model."))
    assert not ok and "language_model" in messages[0]


def test_rejects_a_mapping_that_breaks_names_already_released():
    def only_one_layout(name):  # right for transformers' names, wrong for released ones
        if name.startswith("model.visual."):
            return name.removeprefix("model.")
        if name.startswith("model."):
            return "model." + name.split(".", 2)[2]
        return name

    ok, messages = run(only_one_layout)
    assert not ok and "already in that layout" in messages[0]


def test_rejects_the_forward_mapping():
    ok, messages = run(lambda name: "model." + name if name.startswith("visual.") else name)
    assert not ok


def test_reports_a_starter_body_as_not_attempted():
    assert not run(lambda name: None)[0]

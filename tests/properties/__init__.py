"""Property-based tests (Hypothesis): qwen_lite against transformers on random inputs.

Each property draws random inputs (text, images, prompts with images and videos, batches, conversations,
malformed arguments) and compares qwen_lite with the reference on the same input: transformers' fast
tokenizer built from the same ranks, ``Qwen2VLImageProcessor``, ``Qwen2_5_VLModel.get_rope_index``, a
transformers model holding the same tiny random weights, and the released Jinja chat template. Every
example Hypothesis ever shrank to a failure lives on as a plain test in ``test_regressions.py``.

Profiles (``tests/properties/support.py``):

* ``ci`` (the default): a fixed seed (``derandomize=True``), a bounded number of examples per property,
  no deadline, no example database (nothing is written into the repository). About a minute on 2 cores.
* ``long``: random seeds and ``HYPOTHESIS_LONG_FACTOR`` (default 100) times as many examples.

The long run, against transformers 4.57 and then 5.x (prints examples and time per property)::

    HYPOTHESIS_PROFILE=long OMP_NUM_THREADS=1 .venv/bin/python -m pytest -q -p no:cacheprovider \\
        --hypothesis-show-statistics tests/properties
    HYPOTHESIS_PROFILE=long OMP_NUM_THREADS=1 .venv-tf5/bin/python -m pytest -q -p no:cacheprovider \\
        --hypothesis-show-statistics -m reference tests/properties
"""

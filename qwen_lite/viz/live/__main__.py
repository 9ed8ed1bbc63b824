"""python -m qwen_lite.viz.live FOLDER: write the static site's loader and widget scripts into FOLDER."""

import sys

from . import write_static

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m qwen_lite.viz.live FOLDER")
    for path in write_static(sys.argv[1]):
        print(path)

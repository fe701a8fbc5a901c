"""The floor: the least any tool must do to know the posts. Reads every post file under the
folder given and parses only its front matter, with PyYAML's C loader. Prints the count.

    python bench/floor.py REPO/posts
"""

import os
import sys

import yaml


def main(folder: str) -> int:
    count = 0
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            if not name.endswith(".md"):
                continue
            with open(os.path.join(dirpath, name), encoding="utf-8") as fh:
                text = fh.read()
            if text.startswith("---"):
                end = text.find("\n---", 3)
                yaml.load(text[3:end], Loader=yaml.CSafeLoader)
                count += 1
    print(count)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

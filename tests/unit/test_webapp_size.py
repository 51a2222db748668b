"""The first load of / stays small: the page, its styles and the modules it needs before the
first view shows (the downloads view), gzip-compressed as API Gateway sends them."""

from __future__ import annotations

import gzip
import re

from chalicelib.webapp.assets import load

BUDGET = 300 * 1024
FIRST_VIEW = "view-downloads.js"


def first_load() -> dict[str, int]:
    served = load()
    index = served.templates["index.html"]
    names = set(re.findall(r"\{\{static\}\}([\w.-]+)", index)) | {FIRST_VIEW}
    todo, seen = list(names), set()
    while todo:  # follow static imports from the entry points
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        body = served.files[name].body
        for target in re.findall(r"""from\s*["']\./([\w.-]+)["']""", body):
            todo.append(target)
    sizes = {name: len(gzip.compress(served.files[name].body.encode(), 9)) for name in sorted(seen)}
    sizes["index.html"] = len(gzip.compress(index.encode(), 9))
    return sizes


def test_first_load_is_under_300_kb_compressed() -> None:
    sizes = first_load()
    total = sum(sizes.values())
    print(f"first load of /: {total / 1024:.1f} KiB gzip over {len(sizes)} files")
    assert "swagger-ui-bundle.js" not in sizes and "uplot.js" not in sizes  # only where they are used
    assert total < BUDGET, sizes

"""Move modules and rewrite every reference to them: imports, dotted strings, file paths.

Usage (from the repository root):

    python tools/rewrite_imports.py MAPPING [--git-mv]

MAPPING is a text file of ``old path -> new path`` lines (e.g. ``chalicelib/models.py ->
chalicelib/persistence/models.py``, or a folder ``chalicelib/fairness -> chalicelib/engine/fairness``);
other lines are ignored, so the shared moves list can be passed as it is. With ``--git-mv`` the
files are moved first (``git mv``, new package folders get an ``__init__.py``); without it only the
references are rewritten, which is what a branch written against the old layout needs after a
rebase (run it, then ``ruff check --fix --select I``).

What it rewrites, in every tracked text file outside vendor/ and docs/notes/ (the notes are history):
- Python imports, absolute and relative (``from .models import X``, ``from chalicelib import bulk``,
  ``import chalicelib.models as m``), resolved against the importing file's old place, and written
  back relative when they were relative;
- dotted names in strings and prose (``mock.patch("chalicelib.storage.boto3")``,
  ``chalicelib.models``);
- file paths (``chalicelib/models.py``, ``chalicelib/fairness/``).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path.cwd()
SKIP_PARTS = {".git", ".venv", ".venv-localstack", "vendor", "build", "node_modules", "__pycache__"}
TEXT_SUFFIXES = {".py", ".md", ".json", ".toml", ".txt", ".cfg", ".ini", ".yaml", ".yml", ".sh", ".html", ".js"}
TEXT_NAMES = {"Makefile", "Dockerfile"}


def module_of(path: str) -> str:
    p = path[:-3] if path.endswith(".py") else path.rstrip("/")
    parts = p.split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def read_mapping(file: Path) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for line in file.read_text().splitlines():
        m = re.match(r"^\s*[-*]?\s*`?([\w./]+)`?\s*->\s*`?([\w./]+)`?", line)
        if m:
            pairs.append((m.group(1).rstrip("/"), m.group(2).rstrip("/")))
    return pairs


class Mapper:
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.modules = sorted(((module_of(o), module_of(n)) for o, n in pairs), key=lambda p: -len(p[0]))
        self.paths = sorted(pairs, key=lambda p: -len(p[0]))

    def module(self, name: str) -> str:
        for old, new in self.modules:
            if name == new or name.startswith(new + "."):
                return name  # already moved (chalicelib.stats -> chalicelib.stats.store)
            if name == old or name.startswith(old + "."):
                if len(existing_prefix(name)) > len(old.split(".")):
                    return name  # a module of the package the old module became (chalicelib.stats.schemas)
                return new + name[len(old) :]
        return name

    def path(self, path: str) -> str:
        for old, new in self.paths:
            if path == new or path.startswith(new + "/"):
                return path
            if path == old or path.startswith(old + "/"):
                return new + path[len(old) :]
        return path

    def old_module_of_file(self, new_module: str) -> str:
        for old, new in self.modules:
            if new_module == new or new_module.startswith(new + "."):
                return old + new_module[len(new) :]
        return new_module


def existing_prefix(name: str) -> list[str]:
    """The longest leading part of a dotted name that is a module or package in the tree now."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        p = Path(*parts[:n])
        if p.with_suffix(".py").is_file() or p.is_dir():
            return parts[:n]
    return []


def package_of(module: str, is_init: bool) -> str:
    return module if is_init else module.rpartition(".")[0]


def resolve(level: int, mod: str | None, package: str) -> str:
    base = package.split(".")
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, mod] if mod else base)


def relative(target: str, package: str) -> tuple[int, str]:
    """(level, module) expressing absolute `target` from inside `package`."""
    t, p = target.split("."), package.split(".")
    common = 0
    while common < min(len(t), len(p)) and t[common] == p[common]:
        common += 1
    return len(p) - common + 1, ".".join(t[common:])


def render_from(indent: str, level: int, mod: str, names: list[ast.alias], multiline: bool) -> str:
    head = f"from {'.' * level}{mod} import "
    items = [a.name + (f" as {a.asname}" if a.asname else "") for a in names]
    one = indent + head + ", ".join(items)
    if len(one) <= 120:
        return one
    body = "".join(f"{indent}    {i},\n" for i in items)
    return f"{indent}{head}(\n{body}{indent})"


def _regroup(names: list[ast.alias], target: str, mapper: Mapper) -> dict[str, list[ast.alias]]:
    """The names ``from target import ...`` brings in, grouped by the module each comes from now
    (in the order first met)."""
    groups: dict[str, list[ast.alias]] = {}
    for a in names:
        sub = f"{target}.{a.name}"
        moved_sub = mapper.module(sub)
        here_now = len(existing_prefix(sub)) == len(sub.split("."))
        if a.name != "*" and here_now and not any(sub == old for old, _ in mapper.modules):
            key, alias = target, a  # a module that is there now: from chalicelib.stats import schemas
        elif a.name != "*" and moved_sub != sub:
            parent, _, leaf = moved_sub.rpartition(".")
            alias = ast.alias(name=leaf, asname=a.asname if a.asname or leaf == a.name else a.name)
            key = parent
        else:
            key, alias = mapper.module(target), a
        groups.setdefault(key, []).append(alias)
    return groups


def rewrite_python(src: str, mapper: Mapper, file_module: str, old_file_module: str, is_init: bool) -> str:
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return src
    lines = src.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    new_pkg = package_of(file_module, is_init)
    old_pkg = package_of(old_file_module, is_init)
    edits: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        start = offsets[node.lineno - 1] + node.col_offset
        end = offsets[node.end_lineno - 1] + node.end_col_offset  # type: ignore[operator]
        original = src[start:end]
        if "#" in original:
            print(f"warning: comment inside an import, left as is: {file_module}:{node.lineno}", file=sys.stderr)
            continue
        if isinstance(node, ast.Import):
            if [mapper.module(a.name) for a in node.names] != [a.name for a in node.names]:
                parts = [mapper.module(a.name) + (f" as {a.asname}" if a.asname else "") for a in node.names]
                edits.append((start, end, "import " + ", ".join(parts)))
            continue
        was_relative = node.level > 0
        target = resolve(node.level, node.module, old_pkg) if was_relative else (node.module or "")
        groups = _regroup(node.names, target, mapper)
        order = list(groups)
        multiline = "\n" in original
        col = " " * node.col_offset
        rendered = []
        for key in order:
            if was_relative and key.split(".")[0] == new_pkg.split(".")[0]:
                level, mod = relative(key, new_pkg)
            else:
                level, mod = 0, key
            rendered.append(render_from(col, level, mod, groups[key], multiline))
        text = "\n".join(rendered)[len(col) :]
        if text != original:
            edits.append((start, end, text))
    for start, end, text in sorted(edits, reverse=True):
        src = src[:start] + text + src[end:]
    return src


def rewrite_strings(text: str, mapper: Mapper) -> str:
    tops = sorted({old.split(".")[0] for old, _ in mapper.modules})
    alt = "|".join(re.escape(t) for t in tops)
    text = re.sub(
        r"(?<![\w.])(?:" + alt + r")(?:\.\w+)+(?![\w.])(?! import\b)", lambda m: mapper.module(m.group(0)), text
    )
    text = re.sub(r"(?<![\w./])(?:" + alt + r")(?:/[\w.]*\w)+/?", lambda m: _path(mapper, m.group(0)), text)
    # ``from chalicelib import tracing`` written in a string (code run in a subprocess)
    text = re.sub(
        r"\bfrom ((?:" + alt + r")(?:\.\w+)*) import (\w+)(?=[ \t]*(?:$|;|\\n|[\"']))",
        lambda m: _from(mapper, m),
        text,
        flags=re.M,
    )
    return text


def _from(mapper: Mapper, m: re.Match[str]) -> str:
    sub = f"{m.group(1)}.{m.group(2)}"
    moved = mapper.module(sub)
    if moved == sub:
        return m.group(0)
    parent, _, leaf = moved.rpartition(".")
    return f"from {parent} import {leaf}" + (f" as {m.group(2)}" if leaf != m.group(2) else "")


def _path(mapper: Mapper, found: str) -> str:
    tail = "/" if found.endswith("/") else ""
    return mapper.path(found.rstrip("/")) + tail


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files"], capture_output=True, text=True, check=True).stdout
    files = []
    for f in out.splitlines():
        parts = f.split("/")
        if SKIP_PARTS.intersection(parts) or f.startswith("docs/notes/") or f == "tools/rewrite_imports.py":
            continue
        p = Path(f)
        if (p.suffix in TEXT_SUFFIXES or p.name in TEXT_NAMES) and p.is_file():
            files.append(f)
    return files


def main(argv: list[str]) -> int:
    mapper = Mapper(read_mapping(Path(argv[0])))
    git_mv = "--git-mv" in argv
    moved_new: dict[str, str] = {}
    if git_mv:
        for old, new in mapper.paths:
            if not Path(old).exists():
                print(f"skip (not here): {old}", file=sys.stderr)
                continue
            Path(new).parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["git", "mv", old, new], check=True)
            moved_new[module_of(new)] = module_of(old)
            for parent in Path(new).parents:
                if parent == Path(".") or (parent / "__init__.py").exists():
                    break
                (parent / "__init__.py").write_text("")
                subprocess.run(["git", "add", str(parent / "__init__.py")], check=True)
    changed = []
    for f in tracked_files():
        path = Path(f)
        src = path.read_text()
        # Strings first (``from chalicelib.stats import X`` is a dotted name too), then the imports
        # the string pass cannot see (relative ones, ``from chalicelib import stats``).
        out = rewrite_strings(src, mapper)
        if path.suffix == ".py":
            mod = module_of(f)
            old_mod = mapper.old_module_of_file(mod) if git_mv else mod
            out = rewrite_python(out, mapper, mod, old_mod, path.name == "__init__.py")
        if out != src:
            path.write_text(out)
            changed.append(f)
    print("\n".join(changed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

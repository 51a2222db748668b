"""Refresh the web app's vendored front-end libraries from the npm registry (`make vendor-web`).

Each package is fetched at the exact version below with `npm pack` (npm only runs here, never
at run time or in tests), the named files are copied under a flat served name, with the
package's licence next to them. Nothing else is taken from the package; source map comments
are dropped (the maps are not shipped) and bare imports are pointed at the vendored sibling.
The served files go to chalicelib/webapp/vendor/ (shipped with the Lambda code); axe-core is
for the browser tests only and goes to tests/browser/vendor/.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVED = ROOT / "chalicelib" / "webapp" / "vendor"
TESTS = ROOT / "tests" / "browser" / "vendor"

# package -> (exact version, destination folder, {file in the package: vendored name})
PACKAGES: dict[str, tuple[str, Path, dict[str, str]]] = {
    "preact": ("11.2.0", SERVED, {"dist/preact.mjs": "preact.js", "hooks/dist/hooks.mjs": "preact-hooks.js"}),
    "htm": ("3.1.1", SERVED, {"dist/htm.module.js": "htm.js"}),
    "uplot": ("1.6.32", SERVED, {"dist/uPlot.iife.min.js": "uplot.js", "dist/uPlot.min.css": "uplot.css"}),
    "swagger-ui-dist": ("5.35.0", SERVED, {"swagger-ui-bundle.js": "swagger-ui-bundle.js",
                                           "swagger-ui.css": "swagger-ui.css"}),
    "axe-core": ("4.14.1", TESTS, {"axe.min.js": "axe.min.js"}),
}
# Bare module specifiers the vendored ES modules use -> the vendored file that provides them.
IMPORTS = {'from"preact"': 'from"./preact.js"', "from 'preact'": "from './preact.js'"}
SOURCE_MAP = re.compile(r"\n?//# sourceMappingURL=\S+\s*$")


def _pack(name: str, version: str, workdir: Path) -> Path:
    out = subprocess.run(["npm", "pack", f"{name}@{version}", "--silent"], cwd=workdir, check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    folder = workdir / name
    with tarfile.open(workdir / out) as tar:
        tar.extractall(folder, filter="data")
    return folder / "package"


def _clean(text: str) -> str:
    for bare, local in IMPORTS.items():
        text = text.replace(bare, local)
    return SOURCE_MAP.sub("\n", text)


def main() -> int:
    if shutil.which("npm") is None:
        print("make vendor-web needs npm (only to fetch the packages; nothing runs on Node)", file=sys.stderr)
        return 2
    manifest: dict[str, dict[str, object]] = {}
    for dest in {SERVED, TESTS}:
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "LICENSES").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, (version, dest, files) in PACKAGES.items():
            package = _pack(name, version, Path(tmp))
            meta = json.loads((package / "package.json").read_text())
            assert meta["version"] == version, (name, meta["version"])
            for source, target in files.items():
                text = (package / source).read_text(encoding="utf-8")
                (dest / target).write_text(_clean(text), encoding="utf-8")
            licence = next(p for p in sorted(package.iterdir()) if p.name.upper().startswith(("LICENSE", "LICENCE")))
            shutil.copyfile(licence, dest / "LICENSES" / f"{name}.txt")
            manifest.setdefault(str(dest.relative_to(ROOT)), {})[name] = {
                "version": version, "license": meta.get("license"), "files": files,
            }
            print(f"{name}@{version}: {', '.join(files.values())}")
    for folder, packages in manifest.items():
        (ROOT / folder / "VERSIONS.json").write_text(json.dumps(packages, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

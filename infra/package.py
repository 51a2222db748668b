"""Package Haul for one stage: the deployable template and zip, in build/package/<stage>/.

    python -m infra.package --stage dev [--lint] [--force]

1. The project is copied to build/stage/<stage>/ as Chalice sees it (app.py, chalicelib/,
   vendor/ with its ``functions -> ../functions`` link, requirements.txt, .chalice/config.json),
   without __pycache__ directories, so the zip is reproducible and holds no stale bytecode.
2. If the hash of that copy (plus infra/, the Python and Chalice versions) equals the one of the
   last package, the last package is reused: same inputs, same output.
3. Otherwise ``python -m infra.template`` writes the merge template, ``chalice package
   --merge-template`` builds sam.json and deployment.zip (pip fetches the Lambda wheels of
   requirements.txt), and ``--lint`` runs cfn-lint on the result.

A lock file keeps concurrent runs (two test sessions, ``make package`` in another shell) from
building into the same directories at once.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
BIN = Path(sys.executable).parent
# What Chalice packages (chalice/deploy/packager.py) and what makes the template.
PROJECT_FILES = ("app.py", "requirements.txt", ".chalice/config.json")
PROJECT_DIRS = ("chalicelib", "functions", "infra")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".DS_Store", "*.swp")


class PackagingFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Packaged:
    stage: str
    directory: Path
    template: Path
    zip: Path
    merge_template: Path
    cached: bool
    seconds: float
    digest: str

    @property
    def zip_bytes(self) -> int:
        return self.zip.stat().st_size


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def stage_project(target: Path) -> None:
    """Copy the project into ``target`` as Chalice will see it, keeping Chalice's cache."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in target.iterdir():
        if entry.name == ".chalice":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    (target / ".chalice").mkdir(exist_ok=True)
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / name, target / name)
    for name in PROJECT_DIRS:
        shutil.copytree(ROOT / name, target / name, ignore=IGNORED)
    # vendor/ as it is: its functions link must keep working (Chalice follows links).
    shutil.copytree(ROOT / "vendor", target / "vendor", symlinks=True, ignore=IGNORED)


def digest(project: Path) -> str:
    """Hash of everything that determines the package (a staged copy: no caches in it)."""
    import chalice

    h = hashlib.sha256()
    h.update(f"python {sys.version_info[:2]} chalice {chalice.__version__}\n".encode())
    paths = [project / name for name in PROJECT_FILES]
    for name in (*PROJECT_DIRS, "vendor"):
        for path in sorted((project / name).rglob("*")):
            if path.is_symlink():
                h.update(f"link {path.relative_to(project)} -> {os.readlink(path)}\n".encode())
            elif path.is_file():
                paths.append(path)
    for path in sorted(paths):
        h.update(f"file {path.relative_to(project)}\n".encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _environment(project: Path) -> dict[str, str]:
    """The subprocesses' environment: none of this shell's Haul or endpoint settings leak into
    the package (the stage's come from .chalice/config.json), and no bytecode is written into
    the staged tree that is about to be zipped."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("HAUL_", "AWS_ENDPOINT_URL", "PYTHON"))
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONPATH"] = str(project)
    # Chalice asks for a region although the template is region-agnostic (${AWS::Region}).
    if not env.get("AWS_REGION") and not env.get("AWS_DEFAULT_REGION"):
        env["AWS_DEFAULT_REGION"] = "us-east-1"
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str], what: str) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise PackagingFailed(f"{what} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout + result.stderr


def _prune_chalice_cache(project: Path, keep: int = 1) -> None:
    deployments = project / ".chalice" / "deployments"
    if not deployments.is_dir():
        return
    zips = sorted(deployments.glob("*.zip"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in zips[keep:]:
        old.unlink()


def lint(template: Path) -> str:
    """cfn-lint's report; raises if it found errors (warnings and notes are returned)."""
    result = subprocess.run([str(BIN / "cfn-lint"), str(template)], capture_output=True, text=True)
    # cfn-lint's exit code is a bit field: 2 errors, 4 warnings, 8 informational, 1 crash.
    if result.returncode & 3:
        raise PackagingFailed(f"cfn-lint found errors in {template}:\n{result.stdout}{result.stderr}")
    return result.stdout


def package(stage: str, force: bool = False) -> Packaged:
    started = time.monotonic()
    out = BUILD / "package" / stage
    project = BUILD / "stage" / stage
    stamp = out / "inputs.sha256"
    with _locked(BUILD / "package" / f".{stage}.lock"):
        stage_project(project)
        wanted = digest(project)
        result = Packaged(
            stage, out, out / "sam.json", out / "deployment.zip", out / "merge-template.json",
            cached=True, seconds=0.0, digest=wanted,
        )
        if not force and stamp.is_file() and stamp.read_text().strip() == wanted \
                and result.template.is_file() and result.zip.is_file():
            return _timed(result, started)

        env = _environment(project)
        merge = project / "merge-template.json"
        _run([sys.executable, "-m", "infra.template", "--stage", stage, "-o", str(merge)], project, env,
             "infra.template")
        fresh = BUILD / "package" / f".{stage}.new"
        shutil.rmtree(fresh, ignore_errors=True)
        _run([str(BIN / "chalice"), "package", "--stage", stage, "--merge-template", str(merge), str(fresh)],
             project, env, "chalice package")
        shutil.copy2(merge, fresh / "merge-template.json")
        (fresh / "inputs.sha256").write_text(wanted + "\n")
        _prune_chalice_cache(project)
        shutil.rmtree(out, ignore_errors=True)
        fresh.rename(out)
        return _timed(Packaged(**{**result.__dict__, "cached": False}), started)


def _timed(result: Packaged, started: float) -> Packaged:
    return Packaged(**{**result.__dict__, "seconds": round(time.monotonic() - started, 1)})


def describe(result: Packaged) -> str:
    with zipfile.ZipFile(result.zip) as z:
        unpacked = sum(i.file_size for i in z.infolist())
    resources = json.loads(result.template.read_text())["Resources"]
    return (
        f"{result.directory.relative_to(ROOT)}: sam.json ({len(resources)} resources), "
        f"deployment.zip {result.zip_bytes / 1e6:.1f} MB ({unpacked / 1e6:.1f} MB unpacked); "
        f"{'reused (inputs unchanged)' if result.cached else 'built'} in {result.seconds:.1f} s"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Package Haul for a stage (template + zip).")
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--force", action="store_true", help="rebuild even if the inputs are unchanged")
    parser.add_argument("--lint", action="store_true", help="run cfn-lint on the packaged template")
    args = parser.parse_args(argv)
    try:
        result = package(args.stage, force=args.force)
        print(describe(result))
        if args.lint:
            report = lint(result.template)
            print(f"cfn-lint: no errors{' (notes below)' if report.strip() else ''}")
            if report.strip():
                print(report)
    except PackagingFailed as exc:
        parser.exit(1, f"{exc}\n")


if __name__ == "__main__":
    main()

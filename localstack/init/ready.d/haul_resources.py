"""LocalStack ready.d hook: create Haul's tables, queues and bucket when LocalStack is ready.

LocalStack runs this file in its own Python interpreter. The resources come from Haul's own
definitions (infra/resources.py, applied by ``python -m infra.bootstrap``, the code the embedded
emulator is bootstrapped with), run in a child process so that none of Haul's modules load into
LocalStack's. The project is mounted at ``HAUL_SOURCE`` (/opt/haul, see docker-compose.yml).
The table definitions are derived from the PynamoDB models, so PynamoDB is installed once into
``HAUL_HOOK_DEPS`` (a volume) if LocalStack's Python lacks it; everything else it needs (boto3)
LocalStack has.

It can be run by hand against any endpoint (the tests run it against the embedded emulator)::

    HAUL_SOURCE=. HAUL_HOOK_ENDPOINT=http://127.0.0.1:5000 HAUL_STAGE=local \\
        .venv/bin/python localstack/init/ready.d/haul_resources.py
"""

import os
import subprocess
import sys
from pathlib import Path


def _pin(requirements: Path, package: str) -> str:
    for line in requirements.read_text().splitlines():
        name = line.split("==")[0].strip().lower()
        if name == package:
            return line.strip()
    return package


def main() -> None:
    source = Path(os.environ.get("HAUL_SOURCE", "/opt/haul"))
    deps = Path(os.environ.get("HAUL_HOOK_DEPS", "/var/lib/haul-python"))
    env = dict(os.environ)
    env["AWS_ENDPOINT_URL"] = os.environ.get("HAUL_HOOK_ENDPOINT", "http://localhost:4566")
    env.setdefault("AWS_ACCESS_KEY_ID", "test")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    env["PYTHONPATH"] = os.pathsep.join([str(source), str(deps)])
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # the project is mounted read-only
    found = subprocess.run([sys.executable, "-c", "import pynamodb"], env=env, capture_output=True)
    if found.returncode != 0:
        pin = _pin(source / "requirements.txt", "pynamodb")
        print(f"haul: installing {pin} for the resource definitions into {deps}", flush=True)
        # --no-deps: its one dependency, botocore, is LocalStack's own.
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(deps), pin],
            check=True,
        )
    stage = os.environ.get("HAUL_STAGE", "local")
    subprocess.run([sys.executable, "-m", "infra.bootstrap", "--stage", stage], cwd=source, env=env, check=True)


# LocalStack executes hook files rather than importing them as __main__.
main()

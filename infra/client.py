"""imgpipe's typed Python client, generated from the upload API's OpenAPI document by
openapi-python-client into clients/python: `generate` (`make client`) and `check` (offline).

The document comes from the app itself (FastAPI's /openapi.json, built in this process on the
embedded defaults), so no server runs and nothing is fetched.

    python -m infra.client generate
    python -m infra.client check
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "clients" / "python"
CONFIG = ROOT / "clients" / "openapi-python-client.yaml"


def openapi_document() -> dict[str, Any]:
    """What GET /openapi.json answers."""
    from core.config import load_settings
    from services.upload_api.app import create_app

    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(
            database_url=f"sqlite:///{folder}/warehouse.db",
            storage_url=f"file://{folder}/objects",
            auth="gateway",  # any mode: the document is the same; this one needs no keys
        )
        app = create_app(settings)
        document: dict[str, Any] = app.openapi()
        app.state.ctx.close()
        return document


def generate(into: Path = CLIENT) -> None:
    """Write the client into `into`, replacing what was there."""
    with tempfile.TemporaryDirectory() as folder:
        document = Path(folder) / "openapi.json"
        document.write_text(json.dumps(openapi_document(), indent=1, sort_keys=True))
        bin_dir = Path(sys.executable).parent
        generator = bin_dir / "openapi-python-client"
        # The post hooks run `ruff`: the dev environment's, so the output is the same everywhere;
        # without a cache, which would land in the client's folder.
        path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
        env = {**os.environ, "PATH": path, "RUFF_NO_CACHE": "true"}
        command = [
            str(generator), "generate", "--path", str(document), "--config", str(CONFIG),
            "--meta", "uv", "--output-path", str(into), "--overwrite", "--fail-on-warning",
        ]  # fmt: skip
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise SystemExit(f"openapi-python-client failed:\n{done.stdout}{done.stderr}")


def differences(committed: Path = CLIENT) -> list[str]:
    """Files in which the committed client and a fresh generation differ."""
    with tempfile.TemporaryDirectory() as folder:
        fresh = Path(folder) / "client"
        generate(fresh)
        return compare(committed, fresh)


def compare(committed: Path, fresh: Path) -> list[str]:
    ignored = ["__pycache__", ".ruff_cache", ".mypy_cache", ".pytest_cache"]
    return _compare(filecmp.dircmp(committed, fresh, ignore=ignored), Path())


def _compare(node: filecmp.dircmp[str], where: Path) -> list[str]:
    found = [f"{where / name}: only in the committed client" for name in node.left_only]
    found += [f"{where / name}: missing from the committed client" for name in node.right_only]
    # Compare bytes, not os.stat signatures: the two trees were written at different times.
    _, mismatch, errors = filecmp.cmpfiles(node.left, node.right, node.common_files, shallow=False)
    found += [f"{where / name}: differs" for name in mismatch + errors]
    for name, child in node.subdirs.items():
        found += _compare(child, where / name)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.client", description=__doc__)
    parser.add_argument("action", choices=["generate", "check"])
    args = parser.parse_args(argv)
    if args.action == "generate":
        if CLIENT.exists():
            shutil.rmtree(CLIENT)
        generate()
        print(f"client: wrote {CLIENT.relative_to(ROOT)}")
        return 0
    found = differences()
    for line in found:
        print(f"client: {line}", file=sys.stderr)
    if found:
        print("client: out of step with the API's schema: run `make client`", file=sys.stderr)
        return 1
    print("client: clients/python is in step with the API's schema")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""From a fresh virtualenv: `pip install '.[demo]'`, then `imgpipe demo` and `imgpipe --version`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.locks import ROOT

pytestmark = pytest.mark.slow

# What a source distribution of imgpipe holds; the tests, benchmarks and tooling stay behind.
SOURCE = ("pyproject.toml", "README.md", "LICENSE", "core", "services")


def _uv() -> str:
    found = Path(sys.executable).with_name("uv")
    return str(found) if found.exists() else "uv"


def _clean_environment() -> dict[str, str]:
    """No imgpipe settings, no PYTHONPATH to this checkout, no active virtualenv."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "AWS_LAMBDA_FUNCTION_NAME")
    return {k: v for k, v in os.environ.items() if not k.startswith("IMGPIPE_") and k not in drop}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A virtualenv with nothing but `imgpipe[demo]` installed from a copy of the source."""
    base = tmp_path_factory.mktemp("fresh")
    source = base / "imgpipe"
    source.mkdir()
    for name in SOURCE:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    venv = base / "venv"
    env = _clean_environment()
    subprocess.run(
        [_uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], env=env, check=True
    )
    python = str(venv / "bin" / "python")
    install = [_uv(), "pip", "install", "--quiet", "--python", python, f"{source}[demo]"]
    subprocess.run(install, env=env, check=True)
    yield venv / "bin"


def run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "imgpipe"), *args],
        cwd=cwd,
        env=_clean_environment(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_version_is_the_one_pyproject_declares(installed: Path, tmp_path: Path) -> None:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        declared = tomllib.load(handle)["project"]["version"]
    done = run(installed, "--version", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, f"imgpipe {declared}\n")


def test_demo_runs_on_the_embedded_defaults(installed: Path, tmp_path: Path) -> None:
    done = run(installed, "demo", "--count", "40", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Sent 40 events" in done.stdout
    assert list((tmp_path / ".imgpipe" / "objects" / "manifests").glob("*.json"))


def test_a_command_of_another_role_names_the_extra_to_install(
    installed: Path, tmp_path: Path
) -> None:
    served = run(installed, "serve", "--port", "1", cwd=tmp_path)
    assert served.returncode == 2
    assert "pip install 'imgpipe[serve]'" in served.stderr
    consumed = run(installed, "consume", cwd=tmp_path)
    assert consumed.returncode == 2
    assert "pip install 'imgpipe[stream]'" in consumed.stderr


def test_the_distribution_carries_the_apache_license(installed: Path) -> None:
    program = (
        "import importlib.metadata as m; d = m.distribution('imgpipe'); "
        "print(next(f for f in d.files if f.name == 'LICENSE').locate().read_text())"
    )
    done = subprocess.run(
        [str(installed / "python"), "-c", program],
        capture_output=True,
        text=True,
        check=True,
        env=_clean_environment(),
    )
    assert done.stdout.strip() == (ROOT / "LICENSE").read_text().strip()
    assert "Apache License" in done.stdout and "Version 2.0, January 2004" in done.stdout

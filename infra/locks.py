"""Hashed lock files, compiled by uv from pyproject.toml's extras: `generate` and `check`.

Each Lambda image installs the runtime dependencies plus the extras of its role (the upload
image `api`, the stream image `stream`), its drivers and `tracing`; the dev environment
installs `dev`.
`generate` (`make lock`, needs PyPI) runs `uv pip compile pyproject.toml --extra ...
--generate-hashes` for each; `check` (part of `make lint`, offline) fails when pyproject.toml
and a lock disagree, so CI catches a dependency added to pyproject.toml but not locked.

    python -m infra.locks generate [--upgrade]
    python -m infra.locks check
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
PROJECT = "imgpipe"


@dataclass(frozen=True)
class Lock:
    """One lock file: the extras it installs and the interpreter it is compiled for."""

    extras: tuple[str, ...]
    python: str
    # A platform for an image (uv's --python-platform); None: universal, for any developer's.
    platform: str | None


# The Lambda base image, public.ecr.aws/lambda/python:3.12, runs Amazon Linux 2023 (glibc 2.34).
LAMBDA_PYTHON, LAMBDA_PLATFORM = "3.12", "x86_64-manylinux_2_34"
IMAGES: dict[str, Lock] = {
    "upload-api": Lock(("api", "redshift", "heif", "tracing"), LAMBDA_PYTHON, LAMBDA_PLATFORM),
    "stream-worker": Lock(
        ("stream", "redshift", "heif", "msk-iam", "tracing"), LAMBDA_PYTHON, LAMBDA_PLATFORM
    ),
    # The loader needs the core alone, the Redshift driver, the X-Ray SDK (Tracing: Active),
    # and a Kafka producer with MSK's IAM signer for an optional results topic.
    "loader": Lock(
        ("redshift", "tracing", "results-topic", "msk-iam"), LAMBDA_PYTHON, LAMBDA_PLATFORM
    ),
}
# The oldest Python imgpipe supports, so that the lock installs on every supported one.
LOCKS: dict[str, Lock] = {**IMAGES, "dev": Lock(("dev",), "3.11", None)}
# Role extras: an image carries none of the other roles' packages.
ROLES = ("api", "serve", "stream", "demo")

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")
Pins = dict[str, list[tuple[Version, int]]]


def _pyproject() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    assert isinstance(project, dict)
    return project


def requirements_for(extras: tuple[str, ...], project: dict[str, object]) -> list[Requirement]:
    """The direct requirements of the runtime dependencies and `extras`, self-references
    (`imgpipe[api]`) followed."""
    optional = project.get("optional-dependencies", {})
    base = project.get("dependencies", [])
    assert isinstance(optional, dict) and isinstance(base, list)
    found: list[Requirement] = [Requirement(line) for line in base]
    pending, seen = list(extras), set()
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        if extra not in optional:
            raise SystemExit(f"infra/locks.py: pyproject.toml has no extra {extra!r}")
        for line in optional[extra]:
            requirement = Requirement(line)
            if canonicalize_name(requirement.name) == PROJECT:
                pending.extend(requirement.extras)
            else:
                found.append(requirement)
    return found


def parse_lock(text: str) -> Pins:
    """Lock file -> {canonical name: [(pinned version, number of hashes)]}; a universal lock may
    pin one package at several versions, each under its own marker."""
    pins: Pins = {}
    current: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins.setdefault(current, []).append((Version(match.group(2)), 0))
        if current is not None and "--hash=sha256:" in line:
            version, hashes = pins[current][-1]
            pins[current][-1] = (version, hashes + line.count("--hash=sha256:"))
        if not line.endswith("\\"):
            current = None
    return pins


def _environment(lock: Lock) -> dict[str, str] | None:
    """Marker values of the lock's interpreter; None for a universal lock (any may hold)."""
    if lock.platform is None:
        return None
    environment = {key: str(value) for key, value in default_environment().items()}
    environment.update(
        python_version=lock.python,
        python_full_version=f"{lock.python}.0",
        sys_platform="linux",
        platform_system="Linux",
        platform_machine="x86_64",
    )
    return environment


def problems(name: str, project: dict[str, object] | None = None) -> list[str]:
    """Everything that makes requirements/<name>.txt disagree with pyproject.toml."""
    project = project if project is not None else _pyproject()
    lock = LOCKS[name]
    path = REQUIREMENTS / f"{name}.txt"
    if not path.exists():
        return [f"{path.relative_to(ROOT)} is missing: run `make lock`"]
    pins = parse_lock(path.read_text())
    environment = _environment(lock)
    wanted = requirements_for(lock.extras, project)
    found: list[str] = []
    for req in wanted:
        if environment is not None and req.marker and not req.marker.evaluate(environment):
            continue
        versions = pins.get(canonicalize_name(req.name))
        if not versions:
            found.append(f"{path.name}: {req} is not pinned")
        elif not any(req.specifier.contains(v, prereleases=True) for v, _ in versions):
            shown = ", ".join(str(v) for v, _ in versions)
            found.append(f"{path.name}: {req.name}=={shown} does not satisfy {req}")
    if name in IMAGES:
        own = {canonicalize_name(req.name) for req in wanted}
        others = tuple(role for role in ROLES if role not in lock.extras)
        for req in requirements_for(others, project):
            other = canonicalize_name(req.name)
            if other in pins and other not in own:
                found.append(f"{path.name}: {other} is locked but this image must not carry it")
    for key, versions in sorted(pins.items()):
        for version, hashes in versions:
            if hashes == 0:
                found.append(f"{path.name}: {key}=={version} has no hash")
    return found


def check() -> int:
    project = _pyproject()
    failures = [problem for name in LOCKS for problem in problems(name, project)]
    for failure in failures:
        print(f"lock: {failure}", file=sys.stderr)
    if failures:
        print("lock: regenerate with `make lock` and commit requirements/", file=sys.stderr)
        return 1
    print(f"lock: {', '.join(f'requirements/{n}.txt' for n in LOCKS)} agree with pyproject.toml")
    return 0


def _uv() -> str:
    beside = Path(sys.executable).with_name("uv")
    found = str(beside) if beside.exists() else shutil.which("uv")
    if found is None:
        raise SystemExit("infra/locks.py: uv is needed to generate locks (pip install uv)")
    return found


def compile_command(name: str, upgrade: bool = False) -> list[str]:
    """The uv command that writes requirements/<name>.txt."""
    lock = LOCKS[name]
    command = [
        _uv(), "pip", "compile", "pyproject.toml",
        *(f"--extra={extra}" for extra in lock.extras),
        "--generate-hashes",
        "--python-version", lock.python,
        "--custom-compile-command", "make lock",
        "--quiet",
        "-o", f"requirements/{name}.txt",
    ]  # fmt: skip
    if lock.platform is None:
        command.append("--universal")
    else:
        # Wheels only, for the image's platform: the image build then needs no compiler.
        command += ["--python-platform", lock.platform, "--only-binary", ":all:"]
    if upgrade:
        command.append("--upgrade")
    return command


def generate(upgrade: bool = False) -> int:
    REQUIREMENTS.mkdir(exist_ok=True)
    for name in LOCKS:
        subprocess.run(compile_command(name, upgrade), cwd=ROOT, check=True)  # noqa: S603
        print(f"lock: wrote requirements/{name}.txt")
    return check()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.locks", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    gen = sub.add_parser("generate", help="compile the hashed locks with uv")
    gen.add_argument("--upgrade", action="store_true", help="allow newer versions than locked")
    sub.add_parser("check", help="fail when pyproject.toml and the locks disagree (offline)")
    args = parser.parse_args(argv)
    if args.action == "generate":
        return generate(upgrade=args.upgrade)
    return check()


if __name__ == "__main__":
    sys.exit(main())

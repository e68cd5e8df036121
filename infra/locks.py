"""Hashed lock files of the two Lambda images: `generate` (needs PyPI) and `check` (offline).

Each image installs the runtime dependencies of pyproject.toml, plus some extras, minus the
packages its path never imports (the upload image has no Kafka client; the stream image no web
framework). `generate` writes `requirements/<image>.in` from pyproject.toml and compiles it with
uv into `requirements/<image>.txt`; `check` fails when pyproject.toml, the `.in` and the lock
disagree, without the network, so CI catches a dependency added to pyproject.toml but not locked.

    python -m infra.locks generate   # `make lock`
    python -m infra.locks check      # part of `make lint`
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

# The Lambda base image: public.ecr.aws/lambda/python:3.12 runs Amazon Linux 2023 (glibc 2.34).
PYTHON_VERSION = "3.12"
PLATFORM = "x86_64-manylinux_2_34"


@dataclass(frozen=True)
class Image:
    """What one container image installs, relative to pyproject.toml's runtime dependencies."""

    extras: tuple[str, ...]
    without: tuple[str, ...]


IMAGES: dict[str, Image] = {
    # Redshift through redshift-connector (pure Python, IAM and Secrets Manager friendly);
    # uvicorn is only for running the API off Lambda, where Mangum takes its place.
    "upload-api": Image(extras=("redshift", "heif"), without=("confluent-kafka", "uvicorn")),
    # The MSK event source polls Kafka for the function; confluent-kafka (with the MSK IAM
    # signer) is there for the dead-letter topic producer.
    "stream-worker": Image(
        extras=("redshift", "heif", "msk-iam"),
        without=("fastapi", "fastapi-offline", "mangum", "uvicorn", "python-multipart"),
    ),
}

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def _pyproject() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    assert isinstance(project, dict)
    return project


def requirements_for(name: str, project: dict[str, object] | None = None) -> list[Requirement]:
    """The direct requirements of one image, as pyproject.toml states them today."""
    image = IMAGES[name]
    project = project if project is not None else _pyproject()
    base = project.get("dependencies", [])
    optional = project.get("optional-dependencies", {})
    assert isinstance(base, list) and isinstance(optional, dict)
    lines: list[str] = list(base)
    for extra in image.extras:
        if extra not in optional:
            raise SystemExit(f"infra/locks.py: pyproject.toml has no extra {extra!r} ({name})")
        lines.extend(optional[extra])
    requirements = [Requirement(line) for line in lines]
    present = {canonicalize_name(req.name) for req in requirements}
    for dropped in image.without:
        if canonicalize_name(dropped) not in present:
            raise SystemExit(
                f"infra/locks.py: {dropped!r} is excluded from {name} but pyproject.toml "
                "no longer names it; update IMAGES"
            )
    excluded = {canonicalize_name(d) for d in image.without}
    return sorted(
        (req for req in requirements if canonicalize_name(req.name) not in excluded),
        key=lambda req: canonicalize_name(req.name),
    )


def render_in(name: str, project: dict[str, object] | None = None) -> str:
    image = IMAGES[name]
    header = [
        f"# Direct dependencies of the {name} image, written by `make lock` from pyproject.toml",
        f"# (runtime dependencies + extras: {', '.join(image.extras)};",
        f"#  without: {', '.join(image.without)}).",
        "# Do not edit: change pyproject.toml or IMAGES in infra/locks.py, then `make lock`.",
    ]
    return "\n".join([*header, *(str(req) for req in requirements_for(name, project))]) + "\n"


def parse_lock(text: str) -> dict[str, tuple[Version, int]]:
    """Lock file -> {canonical name: (pinned version, number of hashes)}."""
    pins: dict[str, tuple[Version, int]] = {}
    current: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = (Version(match.group(2)), 0)
        if current is not None and "--hash=sha256:" in line:
            version, hashes = pins[current]
            pins[current] = (version, hashes + line.count("--hash=sha256:"))
        if not line.endswith("\\"):
            current = None
    return pins


def problems(name: str, project: dict[str, object] | None = None) -> list[str]:
    """Everything that makes requirements/<name>.txt disagree with pyproject.toml."""
    found: list[str] = []
    source = REQUIREMENTS / f"{name}.in"
    lock = REQUIREMENTS / f"{name}.txt"
    if not source.exists() or not lock.exists():
        return [f"{lock.relative_to(ROOT)} is missing: run `make lock`"]
    if source.read_text() != render_in(name, project):
        found.append(f"{source.relative_to(ROOT)} is stale against pyproject.toml")
    pins = parse_lock(lock.read_text())
    # Markers are judged for the image's interpreter, not the one running this check.
    environment = {key: str(value) for key, value in default_environment().items()}
    environment.update(
        python_version=PYTHON_VERSION,
        python_full_version=f"{PYTHON_VERSION}.0",
        sys_platform="linux",
        platform_system="Linux",
        platform_machine="x86_64",
    )
    for req in requirements_for(name, project):
        if req.marker is not None and not req.marker.evaluate(environment):
            continue
        wanted = canonicalize_name(req.name)
        if wanted not in pins:
            found.append(f"{lock.name}: {req} is not pinned")
            continue
        version = pins[wanted][0]
        if not req.specifier.contains(version, prereleases=True):
            found.append(f"{lock.name}: {req.name}=={version} does not satisfy {req}")
    for dropped in IMAGES[name].without:
        if canonicalize_name(dropped) in pins:
            found.append(f"{lock.name}: {dropped} is locked but this image must not carry it")
    for key, (version, hashes) in sorted(pins.items()):
        if hashes == 0:
            found.append(f"{lock.name}: {key}=={version} has no hash")
    return found


def check() -> int:
    failures = [problem for name in IMAGES for problem in problems(name)]
    for failure in failures:
        print(f"lock: {failure}", file=sys.stderr)
    if failures:
        print("lock: regenerate with `make lock` and commit requirements/", file=sys.stderr)
        return 1
    print(f"lock: {', '.join(f'requirements/{n}.txt' for n in IMAGES)} agree with pyproject.toml")
    return 0


def _uv() -> str:
    beside = Path(sys.executable).with_name("uv")
    found = str(beside) if beside.exists() else shutil.which("uv")
    if found is None:
        raise SystemExit("infra/locks.py: uv is needed to generate locks (pip install uv)")
    return found


def generate(upgrade: bool = False) -> int:
    REQUIREMENTS.mkdir(exist_ok=True)
    for name in IMAGES:
        source = REQUIREMENTS / f"{name}.in"
        source.write_text(render_in(name))
        command = [
            _uv(), "pip", "compile", str(source.relative_to(ROOT)),
            "--generate-hashes",
            "--python-version", PYTHON_VERSION,
            "--python-platform", PLATFORM,
            # Wheels only: the image build then needs no compiler.
            "--only-binary", ":all:",
            "--custom-compile-command", "make lock",
            "--quiet",
            "-o", str((REQUIREMENTS / f"{name}.txt").relative_to(ROOT)),
        ]  # fmt: skip
        if upgrade:
            command.append("--upgrade")
        subprocess.run(command, cwd=ROOT, check=True)  # noqa: S603 - fixed argument list
        print(f"lock: wrote requirements/{name}.txt")
    return check()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.locks", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    gen = sub.add_parser("generate", help="write requirements/*.in and compile hashed locks")
    gen.add_argument("--upgrade", action="store_true", help="allow newer versions than locked")
    sub.add_parser("check", help="fail when pyproject.toml and the locks disagree (offline)")
    args = parser.parse_args(argv)
    if args.action == "generate":
        return generate(upgrade=args.upgrade)
    return check()


if __name__ == "__main__":
    sys.exit(main())

"""The hashed locks: compiled by uv from pyproject.toml's extras, checked offline in `make lint`."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import pytest

from infra.locks import IMAGES, LOCKS, ROOT, compile_command, problems, requirements_for


@pytest.fixture
def project() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        loaded: dict[str, Any] = tomllib.load(handle)["project"]
    return loaded


def test_every_lock_agrees_with_pyproject_as_committed(project: dict[str, Any]) -> None:
    assert {name: problems(name, project) for name in LOCKS} == {name: [] for name in LOCKS}


def test_a_dependency_added_to_a_role_but_not_locked_fails_the_check(
    project: dict[str, Any],
) -> None:
    changed = copy.deepcopy(project)
    changed["optional-dependencies"]["api"].append("imgpipe-not-a-package>=1")
    assert problems("upload-api", changed) == [
        "upload-api.txt: imgpipe-not-a-package>=1 is not pinned"
    ]
    assert problems("stream-worker", changed) == []  # not its role
    assert "dev.txt: imgpipe-not-a-package>=1 is not pinned" in problems("dev", changed)


def test_a_raised_lower_bound_fails_the_check_until_relocked(project: dict[str, Any]) -> None:
    changed = copy.deepcopy(project)
    changed["dependencies"] = [
        "pillow>=999" if line.startswith("pillow") else line for line in changed["dependencies"]
    ]
    for name in LOCKS:
        (problem,) = problems(name, changed)
        assert (
            problem.startswith(f"{name}.txt: pillow==")
            and "does not satisfy pillow>=999" in problem
        )


def test_an_image_carries_no_package_of_a_role_it_does_not_play(project: dict[str, Any]) -> None:
    # Were fastapi only the `serve` role's, the upload image would carry a package it must not.
    changed = copy.deepcopy(project)
    extras = changed["optional-dependencies"]
    fastapi = next(line for line in extras["api"] if line.startswith("fastapi>"))
    extras["api"].remove(fastapi)
    extras["serve"].append(fastapi)
    assert "upload-api.txt: fastapi is locked but this image must not carry it" in problems(
        "upload-api", changed
    )


def test_roles_reach_their_packages_through_self_references(project: dict[str, Any]) -> None:
    names = {req.name for req in requirements_for(("demo",), project)}
    assert {"fastapi", "mangum", "httpx", "pillow"} <= names  # demo = api + httpx, on the core
    assert "uvicorn" not in names and "confluent-kafka" not in names
    dev = {req.name for req in requirements_for(("dev",), project)}
    assert {"uvicorn", "confluent-kafka", "httpx", "psycopg", "pytest"} <= dev


def test_image_locks_are_wheels_for_the_lambda_platform_and_dev_is_universal() -> None:
    for name in IMAGES:
        command = compile_command(name)
        assert command[command.index("--python-platform") + 1] == "x86_64-manylinux_2_34"
        assert ":all:" in command and "--generate-hashes" in command
        assert command[3] == "pyproject.toml"  # uv reads the extras itself
    dev = compile_command("dev")
    assert "--universal" in dev and "--python-platform" not in dev and "--extra=dev" in dev

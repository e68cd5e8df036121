"""S3 for the tests: a moto server over HTTP on a free loopback port, reset between tests."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from core.config import Settings, load_settings
from tests.harness.moto_server import HELD, RESTORE_MODEL
from tests.harness.process import answers_http, running
from tests.harness.proxy import FaultProxy, free_port

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REGION = "us-east-1"
# moto.server with restores that can be held "ongoing", as S3 keeps them for hours.
MOTO_ENTRY = Path(__file__).with_name("moto_server.py")

# boto3 must never find, use or leak real credentials in a test run.
DUMMY_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
UNSET_AWS_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start moto's server (see moto_server.py) once per session; yield its endpoint URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    endpoint = f"http://127.0.0.1:{port}"
    command = [sys.executable, str(MOTO_ENTRY), "-H", "127.0.0.1", "-p", str(port)]
    ready = answers_http(f"{endpoint}/moto-api/data.json", ok_only=False)
    env = {**os.environ, **DUMMY_AWS_ENV}
    with running(command, log, ready, what="moto server", env=env, timeout=30):
        yield endpoint


def reset_moto(endpoint: str) -> None:
    """Forget every bucket and object, and go back to restores that complete at once."""
    httpx.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
    httpx.post(
        f"{endpoint}/moto-api/state-manager/unset-transition",
        json={"model_name": RESTORE_MODEL},
        timeout=10,
    ).raise_for_status()


def hold_restores(endpoint: str) -> None:
    """From now on, every requested restore stays `ongoing-request="true"`, as on S3 for the
    hours a Deep Archive restore takes; `reset_moto` (each test's `s3_endpoint`) undoes it."""
    httpx.post(
        f"{endpoint}/moto-api/state-manager/set-transition",
        json={"model_name": RESTORE_MODEL, "transition": {"progression": HELD}},
        timeout=10,
    ).raise_for_status()


def serve_env_on_new_bucket(moto_server: str, prefix: str) -> dict[str, str]:
    """The settings (and dummy credentials) of an `imgpipe` subprocess storing in a new bucket of
    its own on moto: for a server that a module's tests share."""
    import boto3

    bucket = f"{prefix}-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=moto_server,
        region_name=REGION,
        aws_access_key_id=DUMMY_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    ).create_bucket(Bucket=bucket)
    return {
        **DUMMY_AWS_ENV,
        "IMGPIPE_STORAGE_URL": f"s3://{bucket}/",
        "IMGPIPE_S3_ENDPOINT_URL": moto_server,
        "IMGPIPE_AWS_REGION": REGION,
    }


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and region in the environment, no profile or metadata service."""
    for name in UNSET_AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in DUMMY_AWS_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def s3_endpoint(moto_server: str, aws_env: None) -> str:
    """The moto endpoint, emptied for this test."""
    reset_moto(moto_server)
    return moto_server


@pytest.fixture
def s3_client(s3_endpoint: str) -> S3Client:
    """A plain boto3 client on moto, for setting up and inspecting what a test needs."""
    import boto3

    return boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION)


@pytest.fixture
def s3_bucket(s3_client: S3Client) -> str:
    """A fresh, empty bucket on a freshly reset moto."""
    name = f"imgpipe-test-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def secrets(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A Secrets Manager client on the (emptied) moto server, which the code under test reaches
    too: boto3 takes the endpoint from AWS_ENDPOINT_URL_SECRETS_MANAGER."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", s3_endpoint)
    return boto3.client("secretsmanager", region_name=REGION, endpoint_url=s3_endpoint)


MakeSettings = Callable[..., Settings]


@pytest.fixture
def make_settings(s3_endpoint: str, s3_bucket: str) -> MakeSettings:
    """Settings on the test's bucket: `make_settings(prefix="p", archive_after_days=3, ...)`.
    `prefix` goes into the storage URL; every other keyword is a Settings field."""

    def build(prefix: str = "", **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "storage_url": f"s3://{s3_bucket}/{prefix}",
            "s3_endpoint_url": s3_endpoint,
            "aws_region": REGION,
        }
        values.update(overrides)
        return load_settings(**values)

    return build


@pytest.fixture
def s3_settings(make_settings: MakeSettings) -> Settings:
    """Settings on the test's bucket, no prefix."""
    return make_settings()


@pytest.fixture
def s3_settings_env(
    s3_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """The test's S3 settings as IMGPIPE_* variables, set in this process (`get_settings()`
    reads them afresh) and returned, with the dummy AWS ones, for child processes."""
    from core.config import get_settings

    variables = {
        "IMGPIPE_STORAGE_URL": s3_settings.storage_url,
        "IMGPIPE_S3_ENDPOINT_URL": str(s3_settings.s3_endpoint_url),
        "IMGPIPE_AWS_REGION": REGION,
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield {**DUMMY_AWS_ENV, **variables}
    get_settings.cache_clear()


@pytest.fixture
def s3_proxy(moto_server: str) -> Iterator[FaultProxy]:
    """A proxy in front of moto that a drill can `.cut()` to make storage unreachable; point a
    store at it with `make_settings(s3_endpoint_url=f"http://{s3_proxy.address}")`."""
    port = int(moto_server.rsplit(":", 1)[1])
    proxy = FaultProxy("127.0.0.1", port).start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def folder_settings(tmp_path: Path) -> Settings:
    """Settings with the folder store under the test's temp dir."""
    return load_settings(storage_url=f"file://{tmp_path / 'objects'}")

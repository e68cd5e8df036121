"""API keys from Secrets Manager (moto server over HTTP) are read again after their max age, so
rotating a key needs no redeploy and no restart."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.config import Settings
from services.upload_api.app import create_app

OLD, NEW = "acme-key-before-rotation", "acme-key-after-rotation"


def pairs(**keys: str) -> str:
    return ",".join(f"{c}:{hashlib.sha256(k.encode()).hexdigest()}" for c, k in keys.items())


@pytest.fixture
def keys_secret(secrets: Any) -> str:
    arn: str = secrets.create_secret(Name="imgpipe/api-keys", SecretString=pairs(acme=OLD))["ARN"]
    return arn


@pytest.fixture
def serve(
    embedded_settings: Callable[..., Settings], keys_secret: str
) -> Iterator[Callable[[int], TestClient]]:
    """The app reading its keys from the secret, kept `max_age` seconds."""
    opened: list[TestClient] = []

    def start(max_age: int) -> TestClient:
        settings = embedded_settings(
            api_keys=[],
            auth="keys",
            api_keys_secret_arn=keys_secret,
            api_keys_max_age_seconds=max_age,
            aws_region="us-east-1",
        )
        client = TestClient(create_app(settings), raise_server_exceptions=False)
        opened.append(client)
        return client

    yield start
    for client in opened:
        client.close()


def status(client: TestClient, key: str) -> int:
    return client.get("/v1/images", headers={"X-API-Key": key}).status_code


def rotate(secrets: Any, arn: str, text: str) -> None:
    secrets.put_secret_value(SecretId=arn, SecretString=text)


def test_within_the_max_age_the_keys_read_at_start_stay_in_use(
    serve: Callable[[int], TestClient], secrets: Any, keys_secret: str
) -> None:
    client = serve(300)
    assert status(client, OLD) == 200
    rotate(secrets, keys_secret, pairs(acme=NEW))
    assert (status(client, OLD), status(client, NEW)) == (200, 401)


def test_after_the_max_age_a_rotated_key_works_and_the_old_one_is_refused(
    serve: Callable[[int], TestClient], secrets: Any, keys_secret: str
) -> None:
    client = serve(1)
    assert (status(client, OLD), status(client, NEW)) == (200, 401)
    rotate(secrets, keys_secret, pairs(acme=NEW, globex="globex-key"))
    time.sleep(1.2)
    assert status(client, NEW) == 200
    assert status(client, OLD) == 401
    assert status(client, "globex-key") == 200


def test_when_the_secret_cannot_be_read_again_the_keys_read_before_stay_in_use(
    serve: Callable[[int], TestClient],
    secrets: Any,
    keys_secret: str,
    api_log: pytest.LogCaptureFixture,
) -> None:
    client = serve(1)
    secrets.delete_secret(SecretId=keys_secret, ForceDeleteWithoutRecovery=True)
    time.sleep(1.2)
    assert (status(client, OLD), status(client, OLD)) == (200, 200)
    warnings = [r.getMessage() for r in api_log.records if r.levelno == logging.WARNING]
    # One read failed; the next waits: no request pays for a second failing call meanwhile.
    assert len([w for w in warnings if "not read again" in w]) == 1
    assert "IMGPIPE_API_KEYS_SECRET_ARN" in warnings[-1]
    assert keys_secret not in warnings[-1]


@pytest.mark.parametrize(
    "text",
    ["acme:not-a-digest", "   ", pairs(**{"x" * 200: NEW})],
    ids=["malformed", "empty", "unusable-customer"],
)
def test_a_rotated_secret_that_names_no_valid_key_is_refused_and_the_old_keys_kept(
    serve: Callable[[int], TestClient],
    secrets: Any,
    keys_secret: str,
    api_log: pytest.LogCaptureFixture,
    text: str,
) -> None:
    client = serve(1)
    rotate(secrets, keys_secret, text)
    time.sleep(1.2)
    assert (status(client, OLD), status(client, NEW)) == (200, 401)
    (refusal,) = [r.getMessage() for r in api_log.records if r.levelno == logging.ERROR]
    assert "API keys secret refused" in refusal
    assert text.strip() == "" or text not in refusal  # never the secret's text

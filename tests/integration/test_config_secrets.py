"""Secrets named by ARN are read from Secrets Manager (moto server) once, at start."""

from __future__ import annotations

import hashlib
import json

import pytest

from core.config import load_settings
from core.errors import ConfigError


def test_database_credentials_come_from_the_secret(secrets) -> None:  # type: ignore[no-untyped-def]
    arn = secrets.create_secret(
        Name="warehouse", SecretString=json.dumps({"username": "loader", "password": "p@ss/w"})
    )["ARN"]
    settings = load_settings(
        database_url="redshift+redshift_connector://wh.example:5439/dev",
        database_secret_arn=arn,
        aws_region="us-east-1",
    )
    assert settings.database_url == (
        "redshift+redshift_connector://loader:p%40ss%2Fw@wh.example:5439/dev"
    )


def test_api_keys_come_from_the_secret(secrets) -> None:  # type: ignore[no-untyped-def]
    digest = hashlib.sha256(b"k").hexdigest()
    arn = secrets.create_secret(Name="keys", SecretString=f"acme:{digest}")["ARN"]
    settings = load_settings(api_keys_secret_arn=arn, aws_region="us-east-1")
    assert settings.api_key_digests() == {digest: "acme"}


def test_an_unreadable_secret_fails_at_start_naming_the_variable(secrets) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="IMGPIPE_API_KEYS_SECRET_ARN") as caught:
        load_settings(api_keys_secret_arn="arn:aws:secretsmanager:us-east-1:1:secret:nope")
    assert "secret:nope" not in str(caught.value)  # the ARN is not echoed back


def test_a_database_secret_without_credentials_is_refused(secrets) -> None:  # type: ignore[no-untyped-def]
    arn = secrets.create_secret(Name="bad", SecretString="not json")["ARN"]
    with pytest.raises(ConfigError, match="IMGPIPE_DATABASE_SECRET_ARN") as caught:
        load_settings(database_secret_arn=arn, aws_region="us-east-1")
    assert "not json" not in str(caught.value)  # never the secret's text

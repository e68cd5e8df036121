"""Reading the settings: from the environment and the secrets they name, once per process."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from core.config.settings import ENV_PREFIX, Settings, key_digests, split_list
from core.errors import ConfigError


def parse_api_keys(text: str) -> dict[str, str]:
    """The api_keys setting's text (as in the environment or its secret) -> {digest: customer}."""
    pairs = split_list(text)
    if not isinstance(pairs, list) or not all(isinstance(pair, str) for pair in pairs):
        raise ValueError("expected customer_id:sha256hex(key) pairs, comma separated")
    return key_digests(pairs)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from the environment; a bad value fails naming its variable. Secrets
    named by ARN are fetched here, once, so that nothing else handles them."""
    try:
        settings = Settings(**overrides)
        resolved = _resolve_secrets(settings)
        return Settings(**{**overrides, **resolved}) if resolved else settings
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            where = ".".join(str(part) for part in error["loc"][1:])
            suffix = f" (at {where})" if where else ""
            lines.append(f"{ENV_PREFIX}{field.upper()}{suffix}: {error['msg']}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
    except (ValueError, json.JSONDecodeError) as exc:  # pragma: no cover - defensive
        raise ConfigError(f"invalid configuration: {exc}") from None


def _resolve_secrets(settings: Settings) -> dict[str, Any]:
    """Field values taken from AWS Secrets Manager: credentials spliced into the database URL,
    API key pairs. Empty when no secret is named."""
    values: dict[str, Any] = {}
    if settings.database_secret_arn:
        text = _secret_text(settings, settings.database_secret_arn, "DATABASE")
        try:
            secret = json.loads(text)
            username, password = str(secret["username"]), str(secret["password"])
        except (ValueError, KeyError, TypeError):
            raise ConfigError(
                f"{ENV_PREFIX}DATABASE_SECRET_ARN: the secret is not JSON with username "
                "and password"
            ) from None
        from sqlalchemy.engine import make_url

        url = make_url(settings.database_url).set(username=username, password=password)
        values["database_url"] = url.render_as_string(hide_password=False)
    if settings.api_keys_secret_arn:
        values["api_keys"] = _secret_text(settings, settings.api_keys_secret_arn, "API_KEYS")
    return values


def _secret_text(settings: Settings, arn: str, name: str) -> str:
    from core.secrets import SecretReader

    # The message names the variable and the failure, never the secret's value.
    return SecretReader(settings.aws_region).text(arn, f"{ENV_PREFIX}{name}_SECRET_ARN")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once (Lambda keeps them for the container's life)."""
    return load_settings()


def settings_with(**options: Any) -> Settings:
    """The process's settings with a command's options put over them, an option left out
    (None) taking nothing away; a bad option fails like a bad variable, naming the one it
    stands for."""
    given = {name: value for name, value in options.items() if value is not None}
    return load_settings(**given) if given else get_settings()


def running_on_lambda() -> bool:
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ

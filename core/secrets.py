"""Secrets Manager secrets by ARN, read through Powertools' parameters, each kept for a max age."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import ConfigError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider


class SecretReader:
    """Reads secret strings; a value younger than the max age asked for comes from memory.
    Importing Powertools and boto3 waits for the first read: a process that names no secret
    never pays for them."""

    def __init__(self, region: str | None) -> None:
        self._region = region
        self._provider: SecretsProvider | None = None

    def text(self, arn: str, variable: str, max_age: int = 0) -> str:
        """The secret's string. `variable` names the setting in errors, which never carry the
        ARN or the value."""
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            value = self._provider_for_region().get(arn, max_age=max_age)
        except GetParameterError as exc:
            # Powertools re-raises the SDK's error inside its handler: the cause is the context.
            cause = exc.__cause__ or exc.__context__ or exc
            raise ConfigError(
                f"{variable}: cannot read the secret: {type(cause).__name__}"
            ) from None
        if not isinstance(value, str):
            raise ConfigError(f"{variable}: the secret holds binary data, not text")
        return value

    def _provider_for_region(self) -> SecretsProvider:
        if self._provider is None:
            import boto3
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            client = boto3.client("secretsmanager", region_name=self._region)
            self._provider = SecretsProvider(boto3_client=client)
        return self._provider

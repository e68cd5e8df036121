"""Who is calling: an X-API-Key checked in constant time, the API Gateway authoriser, or open."""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

from starlette.datastructures import Headers

from core.config import Settings, parse_api_keys, running_on_lambda
from core.errors import ConfigError
from core.models import customer_id_problem
from services.upload_api.problems import ApiCode, ApiError

log = logging.getLogger("imgpipe.api")

AuthMode = Literal["keys", "gateway", "open"]
OPEN_CUSTOMER = "local"
API_KEY_HEADER = "X-API-Key"
KEYS_SECRET_VARIABLE = "IMGPIPE_API_KEYS_SECRET_ARN"  # noqa: S105 - a variable's name
# After a failed read of the keys secret, requests wait this long before one tries again.
RETRY_AFTER_FAILURE = 30.0

Digests = tuple[tuple[bytes, str], ...]  # (sha256 hex of a key, customer id)


def digest_table(digests: dict[str, str], variable: str) -> Digests:
    """{digest: customer} as the authenticator compares them; refuses unusable customer ids."""
    for customer in digests.values():
        if (problem := customer_id_problem(customer)) is not None:
            raise ConfigError(f"{variable} names customer {customer[:40]!r}: {problem}")
    return tuple((digest.encode(), customer) for digest, customer in digests.items())


class RotatingKeys:
    """The key digests of the API keys secret, read again through Powertools once the last
    read is `max_age` seconds old: a rotated secret takes effect without a redeploy. Should a
    read fail, or the secret stop naming valid keys, the keys read before stay in use."""

    def __init__(self, settings: Settings, digests: Digests) -> None:
        from core.secrets import SecretReader

        assert settings.api_keys_secret_arn
        self._arn = settings.api_keys_secret_arn
        self._max_age = settings.api_keys_max_age_seconds
        self._reader = SecretReader(settings.aws_region)
        self._digests = digests  # as load_settings read them at start
        self._text: str | None = None
        self._quiet_until = time.monotonic() + self._max_age  # the start's read is fresh
        self._reading = threading.Lock()

    def current(self) -> Digests:
        # One request reads; the others go on with the keys they have.
        if time.monotonic() >= self._quiet_until and self._reading.acquire(blocking=False):
            try:
                self._read()
            finally:
                self._reading.release()
        return self._digests

    def _read(self) -> None:
        try:
            # Powertools answers from memory until the value is max_age old, then asks again.
            text = self._reader.text(self._arn, KEYS_SECRET_VARIABLE, max_age=self._max_age)
        except ConfigError as exc:
            self._quiet_until = time.monotonic() + min(self._max_age, RETRY_AFTER_FAILURE)
            log.warning("API keys not read again (%s); the keys read before stay in use", exc)
            return
        if text == self._text:
            return
        self._text = text  # judged once, however often the same text is read
        try:
            digests = digest_table(parse_api_keys(text), KEYS_SECRET_VARIABLE)
            if not digests:
                raise ConfigError(f"{KEYS_SECRET_VARIABLE}: the secret names no key")
        except (ConfigError, ValueError) as exc:
            # The reason names the rule that failed, never the secret's text.
            log.error("API keys secret refused (%s); the keys read before stay in use", exc)
            return
        if digests != self._digests:
            log.info("API keys read again from their secret: %d keys", len(digests))
        self._digests = digests


@dataclass(frozen=True, slots=True)
class Authenticator:
    """Turns a request into a customer id, or refuses it with 401."""

    mode: AuthMode
    digests: Digests = ()
    rotating: RotatingKeys | None = None  # with a keys secret: digests that follow it

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        """The mode the settings ask for. Refuses to run open on Lambda: a deployed API without
        keys or an authoriser would take anyone's images."""
        digests = digest_table(settings.api_key_digests(), "IMGPIPE_API_KEYS")
        mode: AuthMode = settings.auth or ("keys" if digests else "open")
        if mode == "keys" and not digests:
            raise ConfigError("IMGPIPE_AUTH=keys but IMGPIPE_API_KEYS names no key")
        if mode == "open" and running_on_lambda():
            raise ConfigError(
                "refusing to run on Lambda without authentication: set IMGPIPE_API_KEYS "
                "(customer_id:sha256hex pairs) or IMGPIPE_AUTH=gateway"
            )
        if mode == "open":
            log.warning(
                "no API keys configured: the API is open and every caller is customer %r",
                OPEN_CUSTOMER,
            )
        if mode == "keys" and settings.api_keys_secret_arn:
            return cls(mode, digests, RotatingKeys(settings, digests))
        return cls(mode, digests)

    def customer(self, api_key: str | None, event: dict[str, Any] | None) -> str:
        if self.mode == "open":
            return OPEN_CUSTOMER
        if self.mode == "gateway":
            customer = customer_from_authorizer(event)
            if customer is None:
                raise _unauthorized("no customer in the API Gateway authoriser context")
            if (problem := customer_id_problem(customer)) is not None:
                # The authoriser is ours, not the caller's: say so in the log, where it is fixed.
                log.warning("authoriser context names an unusable customer id: %s", problem)
                raise _unauthorized(f"the authoriser's customer id cannot be used: {problem}")
            return customer
        if not api_key:
            raise _unauthorized(f"send your API key in the {API_KEY_HEADER} header")
        return self._customer_for_key(api_key)

    def _customer_for_key(self, api_key: str) -> str:
        presented = hashlib.sha256(api_key.encode()).hexdigest().encode()
        found: str | None = None
        digests = self.rotating.current() if self.rotating is not None else self.digests
        # Every digest is compared, whatever matched before: the time taken says nothing about
        # which key, or whether any, was close.
        for digest, customer in digests:
            if hmac.compare_digest(presented, digest) and found is None:
                found = customer
        if found is None:
            raise _unauthorized(f"the {API_KEY_HEADER} header does not name a valid key")
        return found


def customer_from_authorizer(event: dict[str, Any] | None) -> str | None:
    """The customer id an API Gateway authoriser put in the event, for HTTP API (payload 2.0:
    Lambda authoriser context or JWT claims) and REST API (v1: context or principal id)."""
    if not event:
        return None
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    if not isinstance(authorizer, dict):
        return None
    lambda_context = authorizer.get("lambda") or {}
    jwt_claims = (authorizer.get("jwt") or {}).get("claims") or {}
    cognito_claims = authorizer.get("claims") or {}
    candidates = (
        lambda_context.get("customer_id") if isinstance(lambda_context, dict) else None,
        jwt_claims.get("sub") if isinstance(jwt_claims, dict) else None,
        authorizer.get("customer_id"),
        authorizer.get("principalId"),
        cognito_claims.get("sub") if isinstance(cognito_claims, dict) else None,
    )
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None


def presented_key(headers: Headers) -> str | None:
    """The request's X-API-Key. Two of them are refused rather than one picked: a proxy and
    a client that each add one must not have the first (or last) silently win."""
    keys = headers.getlist(API_KEY_HEADER)
    if len(keys) > 1:
        raise _unauthorized(
            f"the request carries {len(keys)} {API_KEY_HEADER} headers; send exactly one",
            code=ApiCode.DUPLICATE_API_KEY,
        )
    return keys[0] if keys else None


def _unauthorized(detail: str, code: str = ApiCode.UNAUTHORIZED) -> ApiError:
    return ApiError(401, code, detail, headers={"WWW-Authenticate": API_KEY_HEADER})

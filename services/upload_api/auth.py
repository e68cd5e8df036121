"""Who is calling: an X-API-Key checked in constant time, the API Gateway authoriser, or open."""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any, Literal

from starlette.datastructures import Headers

from core.config import Settings, running_on_lambda
from core.errors import ConfigError
from core.models import customer_id_problem
from services.upload_api.problems import ApiCode, ApiError

log = logging.getLogger("imgpipe.api")

AuthMode = Literal["keys", "gateway", "open"]
OPEN_CUSTOMER = "local"
API_KEY_HEADER = "X-API-Key"


@dataclass(frozen=True, slots=True)
class Authenticator:
    """Turns a request into a customer id, or refuses it with 401."""

    mode: AuthMode
    digests: tuple[tuple[bytes, str], ...] = ()  # (sha256 hex of a key, customer id)

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        """The mode the settings ask for. Refuses to run open on Lambda: a deployed API without
        keys or an authoriser would take anyone's images."""
        digests = tuple(
            (digest.encode(), customer) for digest, customer in settings.api_key_digests().items()
        )
        for _, customer in digests:
            if (problem := customer_id_problem(customer)) is not None:
                raise ConfigError(f"IMGPIPE_API_KEYS names customer {customer[:40]!r}: {problem}")
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
        # Every digest is compared, whatever matched before: the time taken says nothing about
        # which key, or whether any, was close.
        for digest, customer in self.digests:
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

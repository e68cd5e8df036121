"""The folder store's presigned URLs, served by the app: what S3 does for its own URLs."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.bootstrap import Context
    from core.repository.objects import ObjectInfo


def signature_valid(
    key: str,
    ctx: Context,
    *,
    method: str,
    expires: str,
    signature: str,
    max_bytes: str | None = None,
) -> bool:
    """Whether the URL's query was signed by this store for this key and method, unexpired.
    A store whose URLs storage serves itself (S3) signs nothing the app could check."""
    verify = getattr(ctx.objects, "verify_signature", None)
    return verify is not None and bool(verify(key, method, expires, signature, max_bytes))


def read(key: str, ctx: Context) -> tuple[ObjectInfo, bytes]:
    """The object and what storage knows of it. Raises NotFound."""
    return ctx.objects.head(key), ctx.objects.get(key)


def write(key: str, data: bytes, content_type: str, ctx: Context) -> ObjectInfo:
    """Store what a signed PUT sent (see uploads.check_open first); what storage then knows
    of it (its ETag)."""
    ctx.objects.put(key, data, content_type)
    return ctx.objects.head(key)

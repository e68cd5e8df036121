"""The one reading of S3's errors, for imgpipe's own bucket and for a stream source."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from core.errors import ConfigError, ErrorCode, NotFound, PermanentError, TransientError
from core.repository.objects.s3_api import s3_error, s3_errors

WHERE = "s3://b/k"


def answer(code: str, status: int) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": f"{code} says no"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "GetObject")  # type: ignore[arg-type]


def meaning(error: Exception) -> str:
    if isinstance(error, PermanentError):
        return str(error.code)
    return type(error).__name__


# (S3's code, HTTP status): (for imgpipe's bucket, for a stream source)
TABLE = {
    ("NoSuchKey", 404): ("NotFound", "source_not_found"),
    ("404", 404): ("NotFound", "source_not_found"),
    ("NoSuchBucket", 404): ("TransientError", "source_not_found"),
    ("InvalidObjectState", 403): ("TransientError", "source_not_found"),
    ("AccessDenied", 403): ("TransientError", "forbidden_source"),
    ("403", 403): ("TransientError", "forbidden_source"),
    ("AllAccessDisabled", 403): ("TransientError", "forbidden_source"),
    ("InvalidAccessKeyId", 403): ("TransientError", "TransientError"),
    ("SignatureDoesNotMatch", 403): ("TransientError", "TransientError"),
    ("RequestTimeTooSkewed", 403): ("TransientError", "TransientError"),
    ("ExpiredToken", 400): ("TransientError", "TransientError"),
    ("SlowDown", 503): ("TransientError", "TransientError"),
    ("InternalError", 500): ("TransientError", "TransientError"),
    ("RequestTimeout", 400): ("TransientError", "TransientError"),
    ("TooManyRequests", 429): ("TransientError", "TransientError"),
    ("InvalidRange", 416): ("invalid_request", "invalid_request"),
    ("InvalidArgument", 400): ("invalid_request", "invalid_request"),
}


@pytest.mark.parametrize(("code", "status"), TABLE, ids=[c for c, _ in TABLE])
def test_each_answer_means_what_the_table_says_for_each_caller(code: str, status: int) -> None:
    store, source = TABLE[code, status]
    assert meaning(s3_error(answer(code, status), WHERE, "k")) == store
    assert meaning(s3_error(answer(code, status), WHERE, "k", source=True)) == source


def test_a_missing_key_of_imgpipes_bucket_names_the_key() -> None:
    error = s3_error(answer("NoSuchKey", 404), WHERE, "manifests/a.json")
    assert isinstance(error, NotFound)
    assert error.what == "manifests/a.json"


def test_throttling_asks_for_a_longer_pause_than_a_refusal() -> None:
    throttled = s3_error(answer("SlowDown", 503), WHERE)
    refused = s3_error(answer("AccessDenied", 403), WHERE)
    assert isinstance(throttled, TransientError) and isinstance(refused, TransientError)
    assert throttled.retry_after > refused.retry_after


def test_no_connection_is_transient_and_no_credentials_a_configuration_error() -> None:
    with pytest.raises(TransientError, match=WHERE), s3_errors(WHERE, source=True):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="no AWS credentials"), s3_errors(WHERE):
        raise NoCredentialsError


def test_a_source_refusal_says_where_and_is_permanent() -> None:
    with pytest.raises(PermanentError) as refused, s3_errors(WHERE, "k", source=True):
        raise answer("AccessDenied", 403)
    assert refused.value.code is ErrorCode.FORBIDDEN_SOURCE
    assert WHERE in refused.value.detail

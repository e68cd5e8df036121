from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.upload_in import UploadIn
from ...models.upload_out import UploadOut
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: None | Unset | UploadIn = UNSET,
    idempotency_key: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/uploads",
    }

    if isinstance(body, UploadIn):
        _kwargs["json"] = body.to_dict()
    else:
        _kwargs["json"] = body

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | UploadOut | None:
    if response.status_code == 201:
        response_201 = UploadOut.from_dict(response.json())

        return response_201

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 408:
        response_408 = Problem.from_dict(response.json())

        return response_408

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Problem | UploadOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: None | Unset | UploadIn = UNSET,
    idempotency_key: None | str | Unset = UNSET,
) -> Response[Problem | UploadOut]:
    """Start a direct upload

     For images larger than a request may carry (API Gateway takes 10 MB, Lambda 6 MB):
    answers a presigned URL to send the image straight to storage (S3: a POST policy that
    bounds the size; the local folder store: a signed PUT), valid for at most 15 minutes.
    Then POST the `complete_url`. Uploads never completed expire by the bucket's lifecycle.

    Args:
        idempotency_key (None | str | Unset): Any printable ASCII string of your choice (a UUID is
            best). Repeating a POST with the same key and body returns the first response; the same
            key with another body is refused with 409. Keys are kept for a day.
        body (None | Unset | UploadIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | UploadOut]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: None | Unset | UploadIn = UNSET,
    idempotency_key: None | str | Unset = UNSET,
) -> Problem | UploadOut | None:
    """Start a direct upload

     For images larger than a request may carry (API Gateway takes 10 MB, Lambda 6 MB):
    answers a presigned URL to send the image straight to storage (S3: a POST policy that
    bounds the size; the local folder store: a signed PUT), valid for at most 15 minutes.
    Then POST the `complete_url`. Uploads never completed expire by the bucket's lifecycle.

    Args:
        idempotency_key (None | str | Unset): Any printable ASCII string of your choice (a UUID is
            best). Repeating a POST with the same key and body returns the first response; the same
            key with another body is refused with 409. Keys are kept for a day.
        body (None | Unset | UploadIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | UploadOut
    """

    return sync_detailed(
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: None | Unset | UploadIn = UNSET,
    idempotency_key: None | str | Unset = UNSET,
) -> Response[Problem | UploadOut]:
    """Start a direct upload

     For images larger than a request may carry (API Gateway takes 10 MB, Lambda 6 MB):
    answers a presigned URL to send the image straight to storage (S3: a POST policy that
    bounds the size; the local folder store: a signed PUT), valid for at most 15 minutes.
    Then POST the `complete_url`. Uploads never completed expire by the bucket's lifecycle.

    Args:
        idempotency_key (None | str | Unset): Any printable ASCII string of your choice (a UUID is
            best). Repeating a POST with the same key and body returns the first response; the same
            key with another body is refused with 409. Keys are kept for a day.
        body (None | Unset | UploadIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | UploadOut]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: None | Unset | UploadIn = UNSET,
    idempotency_key: None | str | Unset = UNSET,
) -> Problem | UploadOut | None:
    """Start a direct upload

     For images larger than a request may carry (API Gateway takes 10 MB, Lambda 6 MB):
    answers a presigned URL to send the image straight to storage (S3: a POST policy that
    bounds the size; the local folder store: a signed PUT), valid for at most 15 minutes.
    Then POST the `complete_url`. Uploads never completed expire by the bucket's lifecycle.

    Args:
        idempotency_key (None | str | Unset): Any printable ASCII string of your choice (a UUID is
            best). Repeating a POST with the same key and body returns the first response; the same
            key with another body is refused with 409. Keys are kept for a day.
        body (None | Unset | UploadIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | UploadOut
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed

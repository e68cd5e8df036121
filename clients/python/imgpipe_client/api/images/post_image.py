from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.image_out import ImageOut
from ...models.post_image_files_body import PostImageFilesBody
from ...models.problem import Problem
from ...types import UNSET, File, Response, Unset


def _get_kwargs(
    *,
    body: File | File | File | File | File | File | File | File | File | PostImageFilesBody | Unset = UNSET,
    idempotency_key: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/images",
    }

    if isinstance(body, File):
        _kwargs["content"] = body.payload
        headers["Content-Type"] = "application/octet-stream"
    if isinstance(body, File):
        _kwargs["content"] = body.payload
        headers["Content-Type"] = "image/avif"
    if isinstance(body, File):
        _kwargs["content"] = body.payload
        headers["Content-Type"] = "image/bmp"
    if isinstance(body, File):
        _kwargs["content"] = body.payload
        headers["Content-Type"] = "image/gif"
    if isinstance(body, File):
        _kwargs["content"] = body.payload
        headers["Content-Type"] = "image/heic"
    if isinstance(body, File):
        _kwargs["content"] = body.payload
        headers["Content-Type"] = "image/jpeg"
    if isinstance(body, File):
        _kwargs["content"] = body.payload
        headers["Content-Type"] = "image/png"
    if isinstance(body, File):
        _kwargs["content"] = body.payload
        headers["Content-Type"] = "image/tiff"
    if isinstance(body, File):
        _kwargs["content"] = body.payload
        headers["Content-Type"] = "image/webp"
    if isinstance(body, PostImageFilesBody):
        _kwargs["files"] = body.to_multipart()

        headers["Content-Type"] = "multipart/form-data; boundary=+++"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ImageOut | Problem | None:
    if response.status_code == 200:
        response_200 = ImageOut.from_dict(response.json())

        return response_200

    if response.status_code == 201:
        response_201 = ImageOut.from_dict(response.json())

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

    if response.status_code == 415:
        response_415 = Problem.from_dict(response.json())

        return response_415

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ImageOut | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: File | File | File | File | File | File | File | File | File | PostImageFilesBody | Unset = UNSET,
    idempotency_key: None | str | Unset = UNSET,
) -> Response[ImageOut | Problem]:
    """Upload an image

     Ingests one image sent in the request (up to ~6 MB on Lambda, whose payload limit
    binds first; use POST /v1/uploads above that). The format is sniffed from the bytes;
    renditions are made, stored, and described in the answer. The same bytes from the same
    customer are the same image: 200 with `duplicate: true` instead of 201.

    Args:
        idempotency_key (None | str | Unset): Any printable ASCII string of your choice (a UUID is
            best). Repeating a POST with the same key and body returns the first response; the same
            key with another body is refused with 409. Keys are kept for a day.
        body (File):
        body (File):
        body (File):
        body (File):
        body (File):
        body (File):
        body (File):
        body (File):
        body (File):
        body (PostImageFilesBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ImageOut | Problem]
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
    body: File | File | File | File | File | File | File | File | File | PostImageFilesBody | Unset = UNSET,
    idempotency_key: None | str | Unset = UNSET,
) -> ImageOut | Problem | None:
    """Upload an image

     Ingests one image sent in the request (up to ~6 MB on Lambda, whose payload limit
    binds first; use POST /v1/uploads above that). The format is sniffed from the bytes;
    renditions are made, stored, and described in the answer. The same bytes from the same
    customer are the same image: 200 with `duplicate: true` instead of 201.

    Args:
        idempotency_key (None | str | Unset): Any printable ASCII string of your choice (a UUID is
            best). Repeating a POST with the same key and body returns the first response; the same
            key with another body is refused with 409. Keys are kept for a day.
        body (File):
        body (File):
        body (File):
        body (File):
        body (File):
        body (File):
        body (File):
        body (File):
        body (File):
        body (PostImageFilesBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ImageOut | Problem
    """

    return sync_detailed(
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: File | File | File | File | File | File | File | File | File | PostImageFilesBody | Unset = UNSET,
    idempotency_key: None | str | Unset = UNSET,
) -> Response[ImageOut | Problem]:
    """Upload an image

     Ingests one image sent in the request (up to ~6 MB on Lambda, whose payload limit
    binds first; use POST /v1/uploads above that). The format is sniffed from the bytes;
    renditions are made, stored, and described in the answer. The same bytes from the same
    customer are the same image: 200 with `duplicate: true` instead of 201.

    Args:
        idempotency_key (None | str | Unset): Any printable ASCII string of your choice (a UUID is
            best). Repeating a POST with the same key and body returns the first response; the same
            key with another body is refused with 409. Keys are kept for a day.
        body (File):
        body (File):
        body (File):
        body (File):
        body (File):
        body (File):
        body (File):
        body (File):
        body (File):
        body (PostImageFilesBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ImageOut | Problem]
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
    body: File | File | File | File | File | File | File | File | File | PostImageFilesBody | Unset = UNSET,
    idempotency_key: None | str | Unset = UNSET,
) -> ImageOut | Problem | None:
    """Upload an image

     Ingests one image sent in the request (up to ~6 MB on Lambda, whose payload limit
    binds first; use POST /v1/uploads above that). The format is sniffed from the bytes;
    renditions are made, stored, and described in the answer. The same bytes from the same
    customer are the same image: 200 with `duplicate: true` instead of 201.

    Args:
        idempotency_key (None | str | Unset): Any printable ASCII string of your choice (a UUID is
            best). Repeating a POST with the same key and body returns the first response; the same
            key with another body is refused with 409. Keys are kept for a day.
        body (File):
        body (File):
        body (File):
        body (File):
        body (File):
        body (File):
        body (File):
        body (File):
        body (File):
        body (PostImageFilesBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ImageOut | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed

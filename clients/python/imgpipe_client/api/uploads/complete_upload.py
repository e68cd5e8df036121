from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.image_out import ImageOut
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    upload_id: str,
    *,
    idempotency_key: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/uploads/{upload_id}/complete".format(
            upload_id=quote(str(upload_id), safe=""),
        ),
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ImageOut | Problem | None:
    if response.status_code == 200:
        response_200 = ImageOut.from_dict(response.json())

        return response_200

    if response.status_code == 201:
        response_201 = ImageOut.from_dict(response.json())

        return response_201

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

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
    upload_id: str,
    *,
    client: AuthenticatedClient,
    idempotency_key: None | str | Unset = UNSET,
) -> Response[ImageOut | Problem]:
    """Complete a direct upload

     Processes the uploaded object from storage and answers like POST /v1/images: 201 with
    the image, or 200 with `duplicate: true` when this customer had sent the same bytes before.
    Completing an upload again, or several times at once, answers 201 once and 200 with
    `duplicate: true` (the same image) to every other call; calls reaching different server
    instances at the same moment may each answer 201, with the same image. Called before the
    image was sent: 404 `source_not_found`, and nothing is recorded, so completing it once the
    image is sent succeeds. A completed upload's URL takes no new object (S3 cannot withdraw
    its POST policy before it expires: an object sent there after completion is never read,
    and expires with the upload).

    Args:
        upload_id (str): The upload id POST /v1/uploads gave.
        idempotency_key (None | str | Unset): Any printable ASCII string of your choice (a UUID is
            best). Repeating a POST with the same key and body returns the first response; the same
            key with another body is refused with 409. Keys are kept for a day.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ImageOut | Problem]
    """

    kwargs = _get_kwargs(
        upload_id=upload_id,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    upload_id: str,
    *,
    client: AuthenticatedClient,
    idempotency_key: None | str | Unset = UNSET,
) -> ImageOut | Problem | None:
    """Complete a direct upload

     Processes the uploaded object from storage and answers like POST /v1/images: 201 with
    the image, or 200 with `duplicate: true` when this customer had sent the same bytes before.
    Completing an upload again, or several times at once, answers 201 once and 200 with
    `duplicate: true` (the same image) to every other call; calls reaching different server
    instances at the same moment may each answer 201, with the same image. Called before the
    image was sent: 404 `source_not_found`, and nothing is recorded, so completing it once the
    image is sent succeeds. A completed upload's URL takes no new object (S3 cannot withdraw
    its POST policy before it expires: an object sent there after completion is never read,
    and expires with the upload).

    Args:
        upload_id (str): The upload id POST /v1/uploads gave.
        idempotency_key (None | str | Unset): Any printable ASCII string of your choice (a UUID is
            best). Repeating a POST with the same key and body returns the first response; the same
            key with another body is refused with 409. Keys are kept for a day.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ImageOut | Problem
    """

    return sync_detailed(
        upload_id=upload_id,
        client=client,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    upload_id: str,
    *,
    client: AuthenticatedClient,
    idempotency_key: None | str | Unset = UNSET,
) -> Response[ImageOut | Problem]:
    """Complete a direct upload

     Processes the uploaded object from storage and answers like POST /v1/images: 201 with
    the image, or 200 with `duplicate: true` when this customer had sent the same bytes before.
    Completing an upload again, or several times at once, answers 201 once and 200 with
    `duplicate: true` (the same image) to every other call; calls reaching different server
    instances at the same moment may each answer 201, with the same image. Called before the
    image was sent: 404 `source_not_found`, and nothing is recorded, so completing it once the
    image is sent succeeds. A completed upload's URL takes no new object (S3 cannot withdraw
    its POST policy before it expires: an object sent there after completion is never read,
    and expires with the upload).

    Args:
        upload_id (str): The upload id POST /v1/uploads gave.
        idempotency_key (None | str | Unset): Any printable ASCII string of your choice (a UUID is
            best). Repeating a POST with the same key and body returns the first response; the same
            key with another body is refused with 409. Keys are kept for a day.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ImageOut | Problem]
    """

    kwargs = _get_kwargs(
        upload_id=upload_id,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    upload_id: str,
    *,
    client: AuthenticatedClient,
    idempotency_key: None | str | Unset = UNSET,
) -> ImageOut | Problem | None:
    """Complete a direct upload

     Processes the uploaded object from storage and answers like POST /v1/images: 201 with
    the image, or 200 with `duplicate: true` when this customer had sent the same bytes before.
    Completing an upload again, or several times at once, answers 201 once and 200 with
    `duplicate: true` (the same image) to every other call; calls reaching different server
    instances at the same moment may each answer 201, with the same image. Called before the
    image was sent: 404 `source_not_found`, and nothing is recorded, so completing it once the
    image is sent succeeds. A completed upload's URL takes no new object (S3 cannot withdraw
    its POST policy before it expires: an object sent there after completion is never read,
    and expires with the upload).

    Args:
        upload_id (str): The upload id POST /v1/uploads gave.
        idempotency_key (None | str | Unset): Any printable ASCII string of your choice (a UUID is
            best). Repeating a POST with the same key and body returns the first response; the same
            key with another body is refused with 409. Keys are kept for a day.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ImageOut | Problem
    """

    return (
        await asyncio_detailed(
            upload_id=upload_id,
            client=client,
            idempotency_key=idempotency_key,
        )
    ).parsed

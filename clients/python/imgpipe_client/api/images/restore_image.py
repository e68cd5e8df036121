from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.image_out import ImageOut
from ...models.problem import Problem
from ...models.restore_in import RestoreIn
from ...types import UNSET, Response, Unset


def _get_kwargs(
    image_id: UUID,
    *,
    body: None | RestoreIn | Unset = UNSET,
    idempotency_key: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/images/{image_id}/restore".format(
            image_id=quote(str(image_id), safe=""),
        ),
    }

    if isinstance(body, RestoreIn):
        _kwargs["json"] = body.to_dict()
    else:
        _kwargs["json"] = body

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ImageOut | Problem | None:
    if response.status_code == 202:
        response_202 = ImageOut.from_dict(response.json())

        return response_202

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 408:
        response_408 = Problem.from_dict(response.json())

        return response_408

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

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
    image_id: UUID,
    *,
    client: AuthenticatedClient,
    body: None | RestoreIn | Unset = UNSET,
    idempotency_key: None | str | Unset = UNSET,
) -> Response[ImageOut | Problem]:
    """Restore archived renditions

     Asks storage for readable copies of the image's archived renditions (Deep Archive: Bulk
    within 48 hours, Standard within 12). Renditions already readable or being restored are
    left alone. The state shows in each rendition's `storage.restore`.

    Args:
        image_id (UUID): The image id, as POST answered it.
        idempotency_key (None | str | Unset): Any printable ASCII string of your choice (a UUID is
            best). Repeating a POST with the same key and body returns the first response; the same
            key with another body is refused with 409. Keys are kept for a day.
        body (None | RestoreIn | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ImageOut | Problem]
    """

    kwargs = _get_kwargs(
        image_id=image_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    image_id: UUID,
    *,
    client: AuthenticatedClient,
    body: None | RestoreIn | Unset = UNSET,
    idempotency_key: None | str | Unset = UNSET,
) -> ImageOut | Problem | None:
    """Restore archived renditions

     Asks storage for readable copies of the image's archived renditions (Deep Archive: Bulk
    within 48 hours, Standard within 12). Renditions already readable or being restored are
    left alone. The state shows in each rendition's `storage.restore`.

    Args:
        image_id (UUID): The image id, as POST answered it.
        idempotency_key (None | str | Unset): Any printable ASCII string of your choice (a UUID is
            best). Repeating a POST with the same key and body returns the first response; the same
            key with another body is refused with 409. Keys are kept for a day.
        body (None | RestoreIn | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ImageOut | Problem
    """

    return sync_detailed(
        image_id=image_id,
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    image_id: UUID,
    *,
    client: AuthenticatedClient,
    body: None | RestoreIn | Unset = UNSET,
    idempotency_key: None | str | Unset = UNSET,
) -> Response[ImageOut | Problem]:
    """Restore archived renditions

     Asks storage for readable copies of the image's archived renditions (Deep Archive: Bulk
    within 48 hours, Standard within 12). Renditions already readable or being restored are
    left alone. The state shows in each rendition's `storage.restore`.

    Args:
        image_id (UUID): The image id, as POST answered it.
        idempotency_key (None | str | Unset): Any printable ASCII string of your choice (a UUID is
            best). Repeating a POST with the same key and body returns the first response; the same
            key with another body is refused with 409. Keys are kept for a day.
        body (None | RestoreIn | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ImageOut | Problem]
    """

    kwargs = _get_kwargs(
        image_id=image_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    image_id: UUID,
    *,
    client: AuthenticatedClient,
    body: None | RestoreIn | Unset = UNSET,
    idempotency_key: None | str | Unset = UNSET,
) -> ImageOut | Problem | None:
    """Restore archived renditions

     Asks storage for readable copies of the image's archived renditions (Deep Archive: Bulk
    within 48 hours, Standard within 12). Renditions already readable or being restored are
    left alone. The state shows in each rendition's `storage.restore`.

    Args:
        image_id (UUID): The image id, as POST answered it.
        idempotency_key (None | str | Unset): Any printable ASCII string of your choice (a UUID is
            best). Repeating a POST with the same key and body returns the first response; the same
            key with another body is refused with 409. Keys are kept for a day.
        body (None | RestoreIn | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ImageOut | Problem
    """

    return (
        await asyncio_detailed(
            image_id=image_id,
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed

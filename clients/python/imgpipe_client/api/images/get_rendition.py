from http import HTTPStatus
from io import BytesIO
from typing import Any, cast
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...types import UNSET, File, Response, Unset


def _get_kwargs(
    image_id: UUID,
    name: str,
    *,
    if_none_match: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_none_match, Unset):
        headers["If-None-Match"] = if_none_match

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/images/{image_id}/renditions/{name}".format(
            image_id=quote(str(image_id), safe=""),
            name=quote(str(name), safe=""),
        ),
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Any | File | Problem | None:
    if response.status_code == 200:
        response_200 = File(payload=BytesIO(response.content))

        return response_200

    if response.status_code == 304:
        response_304 = cast(Any, None)
        return response_304

    if response.status_code == 307:
        response_307 = cast(Any, None)
        return response_307

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

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


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Any | File | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    image_id: UUID,
    name: str,
    *,
    client: AuthenticatedClient,
    if_none_match: None | str | Unset = UNSET,
) -> Response[Any | File | Problem]:
    """Fetch a rendition

     On S3, a 307 to a presigned URL (at most 15 minutes); on the local folder store, the
    bytes with their type and ETag. An archived rendition that is not restored answers 409 with
    its restore state: POST /v1/images/{image_id}/restore, then retry once it is readable.

    Args:
        image_id (UUID): The image id, as POST answered it.
        name (str): A rendition name, e.g. display, thumb.
        if_none_match (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | File | Problem]
    """

    kwargs = _get_kwargs(
        image_id=image_id,
        name=name,
        if_none_match=if_none_match,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    image_id: UUID,
    name: str,
    *,
    client: AuthenticatedClient,
    if_none_match: None | str | Unset = UNSET,
) -> Any | File | Problem | None:
    """Fetch a rendition

     On S3, a 307 to a presigned URL (at most 15 minutes); on the local folder store, the
    bytes with their type and ETag. An archived rendition that is not restored answers 409 with
    its restore state: POST /v1/images/{image_id}/restore, then retry once it is readable.

    Args:
        image_id (UUID): The image id, as POST answered it.
        name (str): A rendition name, e.g. display, thumb.
        if_none_match (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | File | Problem
    """

    return sync_detailed(
        image_id=image_id,
        name=name,
        client=client,
        if_none_match=if_none_match,
    ).parsed


async def asyncio_detailed(
    image_id: UUID,
    name: str,
    *,
    client: AuthenticatedClient,
    if_none_match: None | str | Unset = UNSET,
) -> Response[Any | File | Problem]:
    """Fetch a rendition

     On S3, a 307 to a presigned URL (at most 15 minutes); on the local folder store, the
    bytes with their type and ETag. An archived rendition that is not restored answers 409 with
    its restore state: POST /v1/images/{image_id}/restore, then retry once it is readable.

    Args:
        image_id (UUID): The image id, as POST answered it.
        name (str): A rendition name, e.g. display, thumb.
        if_none_match (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | File | Problem]
    """

    kwargs = _get_kwargs(
        image_id=image_id,
        name=name,
        if_none_match=if_none_match,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    image_id: UUID,
    name: str,
    *,
    client: AuthenticatedClient,
    if_none_match: None | str | Unset = UNSET,
) -> Any | File | Problem | None:
    """Fetch a rendition

     On S3, a 307 to a presigned URL (at most 15 minutes); on the local folder store, the
    bytes with their type and ETag. An archived rendition that is not restored answers 409 with
    its restore state: POST /v1/images/{image_id}/restore, then retry once it is readable.

    Args:
        image_id (UUID): The image id, as POST answered it.
        name (str): A rendition name, e.g. display, thumb.
        if_none_match (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | File | Problem
    """

    return (
        await asyncio_detailed(
            image_id=image_id,
            name=name,
            client=client,
            if_none_match=if_none_match,
        )
    ).parsed

import datetime
from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.image_page_out import ImagePageOut
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["limit"] = limit

    json_cursor: None | str | Unset
    if isinstance(cursor, Unset):
        json_cursor = UNSET
    else:
        json_cursor = cursor
    params["cursor"] = json_cursor

    json_since: None | str | Unset
    if isinstance(since, Unset):
        json_since = UNSET
    elif isinstance(since, datetime.datetime):
        json_since = since.isoformat()
    else:
        json_since = since
    params["since"] = json_since

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/images",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ImagePageOut | Problem | None:
    if response.status_code == 200:
        response_200 = ImagePageOut.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

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
) -> Response[ImagePageOut | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
) -> Response[ImagePageOut | Problem]:
    """List your images

     Your images, oldest first, a page at a time: pass `next_cursor` as `cursor` for the
    next page (pages neither skip nor repeat while images are added). Only the caller's images
    are listed. The list is read from the warehouse, which the loader fills from the fact log:
    an image shows here within one load interval of its upload (a minute on AWS, seconds
    locally; GET /v1/images/{image_id} has it at once). See `warehouse_lag_seconds` in
    /readyz.

    Args:
        limit (int | Unset): Images per page. Default: 50.
        cursor (None | str | Unset): `next_cursor` of the page before.
        since (datetime.datetime | None | Unset): Only images first seen at or after this time (no
            zone: UTC).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ImagePageOut | Problem]
    """

    kwargs = _get_kwargs(
        limit=limit,
        cursor=cursor,
        since=since,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
) -> ImagePageOut | Problem | None:
    """List your images

     Your images, oldest first, a page at a time: pass `next_cursor` as `cursor` for the
    next page (pages neither skip nor repeat while images are added). Only the caller's images
    are listed. The list is read from the warehouse, which the loader fills from the fact log:
    an image shows here within one load interval of its upload (a minute on AWS, seconds
    locally; GET /v1/images/{image_id} has it at once). See `warehouse_lag_seconds` in
    /readyz.

    Args:
        limit (int | Unset): Images per page. Default: 50.
        cursor (None | str | Unset): `next_cursor` of the page before.
        since (datetime.datetime | None | Unset): Only images first seen at or after this time (no
            zone: UTC).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ImagePageOut | Problem
    """

    return sync_detailed(
        client=client,
        limit=limit,
        cursor=cursor,
        since=since,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
) -> Response[ImagePageOut | Problem]:
    """List your images

     Your images, oldest first, a page at a time: pass `next_cursor` as `cursor` for the
    next page (pages neither skip nor repeat while images are added). Only the caller's images
    are listed. The list is read from the warehouse, which the loader fills from the fact log:
    an image shows here within one load interval of its upload (a minute on AWS, seconds
    locally; GET /v1/images/{image_id} has it at once). See `warehouse_lag_seconds` in
    /readyz.

    Args:
        limit (int | Unset): Images per page. Default: 50.
        cursor (None | str | Unset): `next_cursor` of the page before.
        since (datetime.datetime | None | Unset): Only images first seen at or after this time (no
            zone: UTC).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ImagePageOut | Problem]
    """

    kwargs = _get_kwargs(
        limit=limit,
        cursor=cursor,
        since=since,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
) -> ImagePageOut | Problem | None:
    """List your images

     Your images, oldest first, a page at a time: pass `next_cursor` as `cursor` for the
    next page (pages neither skip nor repeat while images are added). Only the caller's images
    are listed. The list is read from the warehouse, which the loader fills from the fact log:
    an image shows here within one load interval of its upload (a minute on AWS, seconds
    locally; GET /v1/images/{image_id} has it at once). See `warehouse_lag_seconds` in
    /readyz.

    Args:
        limit (int | Unset): Images per page. Default: 50.
        cursor (None | str | Unset): `next_cursor` of the page before.
        since (datetime.datetime | None | Unset): Only images first seen at or after this time (no
            zone: UTC).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ImagePageOut | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            limit=limit,
            cursor=cursor,
            since=since,
        )
    ).parsed

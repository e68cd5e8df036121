from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.erasure_out import ErasureOut
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    image_id: UUID,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "delete",
        "url": "/v1/images/{image_id}".format(
            image_id=quote(str(image_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErasureOut | Problem | None:
    if response.status_code == 200:
        response_200 = ErasureOut.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

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
) -> Response[ErasureOut | Problem]:
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
) -> Response[ErasureOut | Problem]:
    """Erase an image

     Erases the image and every stored trace of it: the manifest, every rendition
    (archived ones too: deleting from Glacier Deep Archive is allowed, and S3 bills such an
    object as if kept its 180-day minimum), the content index, idempotency records that would
    replay it, dead letters and direct uploads naming it, and its rows in the fact log (its
    ingest events stay for the statistics, without the image id). The warehouse rows go at the
    loader's next load and `image.deleted` is announced; the receipt says so under
    `scheduled`. Only the image's owner may erase it (customers in IMGPIPE_ADMIN_CUSTOMERS:
    any); another customer's image is 404, as is an image erased already. An upload of the
    same image during the erasure is answered 503 and, retried after it, stored as a new
    image (201). A 503 leaves the erasure unfinished: DELETE again to finish it.

    Args:
        image_id (UUID): The image id, as POST answered it.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErasureOut | Problem]
    """

    kwargs = _get_kwargs(
        image_id=image_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    image_id: UUID,
    *,
    client: AuthenticatedClient,
) -> ErasureOut | Problem | None:
    """Erase an image

     Erases the image and every stored trace of it: the manifest, every rendition
    (archived ones too: deleting from Glacier Deep Archive is allowed, and S3 bills such an
    object as if kept its 180-day minimum), the content index, idempotency records that would
    replay it, dead letters and direct uploads naming it, and its rows in the fact log (its
    ingest events stay for the statistics, without the image id). The warehouse rows go at the
    loader's next load and `image.deleted` is announced; the receipt says so under
    `scheduled`. Only the image's owner may erase it (customers in IMGPIPE_ADMIN_CUSTOMERS:
    any); another customer's image is 404, as is an image erased already. An upload of the
    same image during the erasure is answered 503 and, retried after it, stored as a new
    image (201). A 503 leaves the erasure unfinished: DELETE again to finish it.

    Args:
        image_id (UUID): The image id, as POST answered it.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErasureOut | Problem
    """

    return sync_detailed(
        image_id=image_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    image_id: UUID,
    *,
    client: AuthenticatedClient,
) -> Response[ErasureOut | Problem]:
    """Erase an image

     Erases the image and every stored trace of it: the manifest, every rendition
    (archived ones too: deleting from Glacier Deep Archive is allowed, and S3 bills such an
    object as if kept its 180-day minimum), the content index, idempotency records that would
    replay it, dead letters and direct uploads naming it, and its rows in the fact log (its
    ingest events stay for the statistics, without the image id). The warehouse rows go at the
    loader's next load and `image.deleted` is announced; the receipt says so under
    `scheduled`. Only the image's owner may erase it (customers in IMGPIPE_ADMIN_CUSTOMERS:
    any); another customer's image is 404, as is an image erased already. An upload of the
    same image during the erasure is answered 503 and, retried after it, stored as a new
    image (201). A 503 leaves the erasure unfinished: DELETE again to finish it.

    Args:
        image_id (UUID): The image id, as POST answered it.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErasureOut | Problem]
    """

    kwargs = _get_kwargs(
        image_id=image_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    image_id: UUID,
    *,
    client: AuthenticatedClient,
) -> ErasureOut | Problem | None:
    """Erase an image

     Erases the image and every stored trace of it: the manifest, every rendition
    (archived ones too: deleting from Glacier Deep Archive is allowed, and S3 bills such an
    object as if kept its 180-day minimum), the content index, idempotency records that would
    replay it, dead letters and direct uploads naming it, and its rows in the fact log (its
    ingest events stay for the statistics, without the image id). The warehouse rows go at the
    loader's next load and `image.deleted` is announced; the receipt says so under
    `scheduled`. Only the image's owner may erase it (customers in IMGPIPE_ADMIN_CUSTOMERS:
    any); another customer's image is 404, as is an image erased already. An upload of the
    same image during the erasure is answered 503 and, retried after it, stored as a new
    image (201). A 503 leaves the erasure unfinished: DELETE again to finish it.

    Args:
        image_id (UUID): The image id, as POST answered it.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErasureOut | Problem
    """

    return (
        await asyncio_detailed(
            image_id=image_id,
            client=client,
        )
    ).parsed

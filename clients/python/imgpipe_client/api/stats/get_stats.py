import datetime
from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.get_stats_source_type_0 import GetStatsSourceType0
from ...models.problem import Problem
from ...models.stats_out import StatsOut
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    from_: datetime.date | None | Unset = UNSET,
    to: datetime.date | None | Unset = UNSET,
    source: GetStatsSourceType0 | None | Unset = UNSET,
    customer: None | str | Unset = UNSET,
    top: int | Unset = 10,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_from_: None | str | Unset
    if isinstance(from_, Unset):
        json_from_ = UNSET
    elif isinstance(from_, datetime.date):
        json_from_ = from_.isoformat()
    else:
        json_from_ = from_
    params["from"] = json_from_

    json_to: None | str | Unset
    if isinstance(to, Unset):
        json_to = UNSET
    elif isinstance(to, datetime.date):
        json_to = to.isoformat()
    else:
        json_to = to
    params["to"] = json_to

    json_source: None | str | Unset
    if isinstance(source, Unset):
        json_source = UNSET
    elif isinstance(source, GetStatsSourceType0):
        json_source = source.value
    else:
        json_source = source
    params["source"] = json_source

    json_customer: None | str | Unset
    if isinstance(customer, Unset):
        json_customer = UNSET
    else:
        json_customer = customer
    params["customer"] = json_customer

    params["top"] = top

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/stats",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | StatsOut | None:
    if response.status_code == 200:
        response_200 = StatsOut.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Problem | StatsOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    from_: datetime.date | None | Unset = UNSET,
    to: datetime.date | None | Unset = UNSET,
    source: GetStatsSourceType0 | None | Unset = UNSET,
    customer: None | str | Unset = UNSET,
    top: int | Unset = 10,
) -> Response[Problem | StatsOut]:
    """Key statistics

     Events, distinct images, duplicates, rejections by reason, bytes in and out (and their
    ratio), processing time p50/p95, format mix and top customers, per UTC day, source and
    status, with totals for the range. Read from the warehouse's statistics views: the numbers
    are those QuickSight shows, and lag ingest by at most one load interval (a minute on AWS,
    seconds locally). A range with no events answers zeros and empty series, not 404.
    An admin key (its customer in IMGPIPE_ADMIN_CUSTOMERS) sees every customer.

    Args:
        from_ (datetime.date | None | Unset): First UTC day to include (YYYY-MM-DD). Omitted: from
            the first event.
        to (datetime.date | None | Unset): Last UTC day to include (YYYY-MM-DD). Omitted: up to
            the last event.
        source (GetStatsSourceType0 | None | Unset): Only events that came this way. Omitted:
            both.
        customer (None | str | Unset): Admin keys: one customer's numbers (omitted: every
            customer). Other keys see only their own customer and may name only it.
        top (int | Unset): How many customers `customers` ranks. Default: 10.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | StatsOut]
    """

    kwargs = _get_kwargs(
        from_=from_,
        to=to,
        source=source,
        customer=customer,
        top=top,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    from_: datetime.date | None | Unset = UNSET,
    to: datetime.date | None | Unset = UNSET,
    source: GetStatsSourceType0 | None | Unset = UNSET,
    customer: None | str | Unset = UNSET,
    top: int | Unset = 10,
) -> Problem | StatsOut | None:
    """Key statistics

     Events, distinct images, duplicates, rejections by reason, bytes in and out (and their
    ratio), processing time p50/p95, format mix and top customers, per UTC day, source and
    status, with totals for the range. Read from the warehouse's statistics views: the numbers
    are those QuickSight shows, and lag ingest by at most one load interval (a minute on AWS,
    seconds locally). A range with no events answers zeros and empty series, not 404.
    An admin key (its customer in IMGPIPE_ADMIN_CUSTOMERS) sees every customer.

    Args:
        from_ (datetime.date | None | Unset): First UTC day to include (YYYY-MM-DD). Omitted: from
            the first event.
        to (datetime.date | None | Unset): Last UTC day to include (YYYY-MM-DD). Omitted: up to
            the last event.
        source (GetStatsSourceType0 | None | Unset): Only events that came this way. Omitted:
            both.
        customer (None | str | Unset): Admin keys: one customer's numbers (omitted: every
            customer). Other keys see only their own customer and may name only it.
        top (int | Unset): How many customers `customers` ranks. Default: 10.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | StatsOut
    """

    return sync_detailed(
        client=client,
        from_=from_,
        to=to,
        source=source,
        customer=customer,
        top=top,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    from_: datetime.date | None | Unset = UNSET,
    to: datetime.date | None | Unset = UNSET,
    source: GetStatsSourceType0 | None | Unset = UNSET,
    customer: None | str | Unset = UNSET,
    top: int | Unset = 10,
) -> Response[Problem | StatsOut]:
    """Key statistics

     Events, distinct images, duplicates, rejections by reason, bytes in and out (and their
    ratio), processing time p50/p95, format mix and top customers, per UTC day, source and
    status, with totals for the range. Read from the warehouse's statistics views: the numbers
    are those QuickSight shows, and lag ingest by at most one load interval (a minute on AWS,
    seconds locally). A range with no events answers zeros and empty series, not 404.
    An admin key (its customer in IMGPIPE_ADMIN_CUSTOMERS) sees every customer.

    Args:
        from_ (datetime.date | None | Unset): First UTC day to include (YYYY-MM-DD). Omitted: from
            the first event.
        to (datetime.date | None | Unset): Last UTC day to include (YYYY-MM-DD). Omitted: up to
            the last event.
        source (GetStatsSourceType0 | None | Unset): Only events that came this way. Omitted:
            both.
        customer (None | str | Unset): Admin keys: one customer's numbers (omitted: every
            customer). Other keys see only their own customer and may name only it.
        top (int | Unset): How many customers `customers` ranks. Default: 10.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | StatsOut]
    """

    kwargs = _get_kwargs(
        from_=from_,
        to=to,
        source=source,
        customer=customer,
        top=top,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    from_: datetime.date | None | Unset = UNSET,
    to: datetime.date | None | Unset = UNSET,
    source: GetStatsSourceType0 | None | Unset = UNSET,
    customer: None | str | Unset = UNSET,
    top: int | Unset = 10,
) -> Problem | StatsOut | None:
    """Key statistics

     Events, distinct images, duplicates, rejections by reason, bytes in and out (and their
    ratio), processing time p50/p95, format mix and top customers, per UTC day, source and
    status, with totals for the range. Read from the warehouse's statistics views: the numbers
    are those QuickSight shows, and lag ingest by at most one load interval (a minute on AWS,
    seconds locally). A range with no events answers zeros and empty series, not 404.
    An admin key (its customer in IMGPIPE_ADMIN_CUSTOMERS) sees every customer.

    Args:
        from_ (datetime.date | None | Unset): First UTC day to include (YYYY-MM-DD). Omitted: from
            the first event.
        to (datetime.date | None | Unset): Last UTC day to include (YYYY-MM-DD). Omitted: up to
            the last event.
        source (GetStatsSourceType0 | None | Unset): Only events that came this way. Omitted:
            both.
        customer (None | str | Unset): Admin keys: one customer's numbers (omitted: every
            customer). Other keys see only their own customer and may name only it.
        top (int | Unset): How many customers `customers` ranks. Default: 10.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | StatsOut
    """

    return (
        await asyncio_detailed(
            client=client,
            from_=from_,
            to=to,
            source=source,
            customer=customer,
            top=top,
        )
    ).parsed

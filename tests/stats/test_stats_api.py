"""GET /v1/stats: the numbers of the statistics views, scoped to the caller's customer, on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from core.repository.warehouse import Warehouse
from tests.harness.app import KEYS, headers_for

PROBLEM = "application/problem+json"
D1 = date(2024, 3, 1)
D2 = date(2024, 3, 2)


def _where(
    since: date | None, until: date | None, source: str | None, customer: str | None
) -> tuple[str, dict[str, Any]]:
    conditions = ["1 = 1"]
    params: dict[str, Any] = {}
    if since is not None:
        conditions.append("day >= :since")
        params["since"] = since
    if until is not None:
        conditions.append("day <= :until")
        params["until"] = until
    if source is not None:
        conditions.append("source = :source")
        params["source"] = source
    if customer is not None:
        conditions.append("customer_id = :customer")
        params["customer"] = customer
    return " AND ".join(conditions), params


def _query(warehouse: Warehouse, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    statement = sa.text(sql).bindparams(
        *(sa.bindparam(name, type_=sa.Date) for name in ("since", "until") if name in params)
    )
    with warehouse.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(statement, params)]


def _day(value: Any) -> str:
    return str(value)[:10]


def numbers_from_the_views(
    warehouse: Warehouse,
    since: date | None = None,
    until: date | None = None,
    source: str | None = None,
    customer: str | None = None,
) -> dict[str, Any]:
    """What the views say for a filter, in plain SQL: the yardstick for the API."""
    where, params = _where(since, until, source, customer)
    daily = _query(
        warehouse,
        "SELECT day, source, status, SUM(events), SUM(images), SUM(bytes_in), SUM(bytes_out) "
        f"FROM stats_daily WHERE {where} GROUP BY day, source, status",
        params,
    )
    latency_scope = "" if customer is not None else " AND customer_id IS NULL"
    latency = _query(
        warehouse,
        "SELECT day, source, events, p50_ms, p95_ms, max_ms FROM stats_latency_daily "
        f"WHERE {where}{latency_scope}",
        params,
    )
    rejections = _query(
        warehouse,
        f"SELECT reason, SUM(events) FROM stats_rejections_daily WHERE {where} GROUP BY reason",
        params,
    )
    formats = _query(
        warehouse,
        "SELECT format, SUM(events), SUM(new_images), SUM(bytes_in), SUM(bytes_out) "
        f"FROM stats_formats_daily WHERE {where} GROUP BY format",
        params,
    )
    customers = _query(
        warehouse,
        "SELECT customer_id, SUM(events), SUM(processed), SUM(duplicates), SUM(rejected) "
        f"FROM stats_customers_daily WHERE {where} GROUP BY customer_id",
        params,
    )
    return {
        "daily": {(_day(r[0]), r[1], r[2]): tuple(int(v) for v in r[3:]) for r in daily},
        "latency": {
            (_day(r[0]), r[1]): (int(r[2]), *(round(float(v), 6) for v in r[3:])) for r in latency
        },
        "rejections": {r[0]: int(r[1]) for r in rejections},
        "formats": {r[0]: tuple(int(v) for v in r[1:]) for r in formats},
        "customers": {r[0]: tuple(int(v) for v in r[1:]) for r in customers},
    }


def numbers_from_the_api(document: dict[str, Any]) -> dict[str, Any]:
    return {
        "daily": {
            (r["day"], r["source"], r["status"]): (
                r["events"],
                r["images"],
                r["bytes_in"],
                r["bytes_out"],
            )
            for r in document["daily"]
        },
        "latency": {
            (r["day"], r["source"]): (
                r["events"],
                round(r["p50_ms"], 6),
                round(r["p95_ms"], 6),
                round(r["max_ms"], 6),
            )
            for r in document["latency"]
        },
        "rejections": document["totals"]["rejections_by_reason"],
        "formats": {
            f["format"]: (f["events"], f["new_images"], f["bytes_in"], f["bytes_out"])
            for f in document["formats"]
        },
        "customers": {
            c["customer_id"]: (c["events"], c["processed"], c["duplicates"], c["rejected"])
            for c in document["customers"]
        },
    }


FILTERS = [
    {},
    {"from": D2},
    {"to": D1},
    {"from": D1, "to": D1, "source": "stream"},
    {"source": "upload"},
    {"customer": "globex"},
    {"customer": "acme", "source": "upload", "to": D1},
]


@pytest.mark.parametrize("query", FILTERS, ids=lambda q: ",".join(f"{k}={v}" for k, v in q.items()))
def test_stats_api_answers_the_numbers_of_the_views(
    client: TestClient, warehouse: Warehouse, query: dict[str, Any]
) -> None:
    response = client.get("/v1/stats", params=query, headers=headers_for("ops"))
    assert response.status_code == 200, response.text
    expected = numbers_from_the_views(
        warehouse,
        since=query.get("from"),
        until=query.get("to"),
        source=query.get("source"),
        customer=query.get("customer"),
    )
    assert expected["daily"], "every filter above selects some events"
    assert numbers_from_the_api(response.json()) == expected


def test_stats_api_answers_exactly_what_warehouse_stats_answers(
    client: TestClient, warehouse: Warehouse
) -> None:
    response = client.get(
        "/v1/stats", params={"from": "2024-03-01", "to": "2024-03-02"}, headers=headers_for("ops")
    )
    assert response.json() == warehouse.stats(since=D1, until=D2).to_json()


def test_known_data_set_gives_the_hand_worked_totals(client: TestClient) -> None:
    document = client.get("/v1/stats", headers=headers_for("ops")).json()
    totals = document["totals"]
    assert (totals["events"], totals["processed"], totals["duplicates"], totals["rejected"]) == (
        13,
        7,
        2,
        4,
    )
    assert (totals["bytes_in"], totals["bytes_out"]) == (29450, 3800)
    assert totals["output_ratio"] == pytest.approx(3800 / 17300)
    assert totals["rejections_by_reason"] == {
        "unsupported_format": 2,
        "too_large": 1,
        "undecodable": 1,
    }
    assert (document["since"], document["until"], document["customer_id"]) == (None, None, None)
    assert [c["customer_id"] for c in document["customers"]] == ["acme", "globex"]


def test_a_key_sees_only_its_own_customers_numbers(client: TestClient) -> None:
    own = client.get("/v1/stats", headers=headers_for("globex")).json()
    assert own["customer_id"] == "globex"
    assert (own["totals"]["events"], own["totals"]["rejected"]) == (3, 1)
    assert [c["customer_id"] for c in own["customers"]] == ["globex"]

    named = client.get("/v1/stats", params={"customer": "globex"}, headers=headers_for("globex"))
    assert named.json() == own


def test_a_key_asking_for_another_customer_is_refused_with_403(client: TestClient) -> None:
    response = client.get("/v1/stats", params={"customer": "acme"}, headers=headers_for("globex"))
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["code"] == "forbidden"
    assert "globex" in problem["detail"] and KEYS["acme"] not in response.text


def test_an_admin_key_sees_every_customer_or_the_one_it_names(client: TestClient) -> None:
    everyone = client.get("/v1/stats", headers=headers_for("ops")).json()
    assert everyone["customer_id"] is None
    assert everyone["totals"]["events"] == 13
    acme = client.get("/v1/stats", params={"customer": "acme"}, headers=headers_for("ops")).json()
    assert (acme["customer_id"], acme["totals"]["events"]) == ("acme", 10)


def test_without_authentication_configured_the_one_caller_sees_every_customer(
    make_context: Any, warehouse: Warehouse
) -> None:
    from services.upload_api.app import create_app

    ctx = make_context(api_keys=[], auth="open")
    with TestClient(create_app(ctx=ctx)) as open_client:
        document = open_client.get("/v1/stats").json()
    assert document["totals"]["events"] == 13


def test_stats_without_a_key_are_refused_with_401(client: TestClient) -> None:
    response = client.get("/v1/stats")
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2030-01-01"},
        {"to": "2024-02-29"},
        {"from": "2024-03-01", "source": "stream", "customer": "nobody"},
    ],
    ids=["future", "before-the-first-event", "unknown-customer"],
)
def test_an_empty_range_answers_zeros_and_empty_series(
    client: TestClient, query: dict[str, str]
) -> None:
    response = client.get("/v1/stats", params=query, headers=headers_for("ops"))
    assert response.status_code == 200
    document = response.json()
    assert document["totals"]["events"] == 0
    assert document["totals"]["output_ratio"] is None
    assert document["totals"]["mean_processing_ms"] is None
    assert document["totals"]["rejections_by_reason"] == {}
    for series in ("daily", "latency", "rejections", "formats", "customers"):
        assert document[series] == [], series


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2024-13-01"},
        {"to": "yesterday"},
        {"from": "2024-02-30"},
        {"from": "2024-03-02", "to": "2024-03-01"},
        {"source": "email"},
        {"customer": "é" * 65},
        {"customer": "a\tb"},
    ],
    ids=[
        "month-13",
        "word",
        "february-30",
        "from-after-to",
        "unknown-source",
        "customer-over-128-bytes",
        "customer-with-control",
    ],
)
def test_bad_parameters_are_refused_with_422_problem_json(
    client: TestClient, query: dict[str, str]
) -> None:
    response = client.get("/v1/stats", params=query, headers=headers_for("acme"))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["code"] == "validation_failed"
    assert problem["status"] == 422
    assert problem["errors"], "the problem says which parameter is wrong"


def test_openapi_documents_stats_with_an_example_and_its_problems(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/v1/stats"]["get"]
    assert operation["summary"]
    parameters = {p["name"] for p in operation["parameters"]}
    assert {"from", "to", "source", "customer"} <= parameters
    example = operation["responses"]["200"]["content"]["application/json"]["example"]
    assert set(example) >= {"totals", "daily", "latency", "rejections", "formats", "customers"}
    for status in ("401", "403", "422"):
        content = operation["responses"][status]["content"]
        assert list(content) == [PROBLEM], status

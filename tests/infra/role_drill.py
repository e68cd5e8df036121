"""What one function of the template does on S3, run with its role's keys only:
`python -m tests.infra.role_drill upload|stream|loader` (settings from the environment).
Prints one JSON object: each step's outcome (an HTTP status, or what the handler returned)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "data" / "images"
CAMERA = (DATA / "camera-metadata.jpg").read_bytes()
CAMERA_EDITED = (DATA / "camera-metadata-edited.jpg").read_bytes()
PLAIN_PNG = (DATA / "plain.png").read_bytes()


def upload() -> dict[str, Any]:
    """Every route that touches storage: uploads (duplicate, content match, idempotent
    retry), reads, a direct upload and its completion, an erasure, a re-upload."""
    import boto3
    import httpx
    from fastapi.testclient import TestClient

    from core import layout
    from services.upload_api.app import create_app
    from tests.harness.app import headers_for

    acme = headers_for("acme")
    steps: dict[str, Any] = {}

    def post(client: TestClient, data: bytes, **extra: str) -> httpx.Response:
        files = {"file": ("photo", data, "image/jpeg")}
        return client.post("/v1/images", files=files, headers={**acme, **extra})

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        first = post(client, CAMERA, **{"Idempotency-Key": "drill"})
        steps["post"] = first.status_code
        image = first.json()
        steps["retry"] = post(client, CAMERA, **{"Idempotency-Key": "drill"}).status_code
        steps["duplicate"] = post(client, CAMERA).status_code
        steps["content_match"] = post(client, CAMERA_EDITED).status_code
        steps["get"] = client.get(f"/v1/images/{image['id']}", headers=acme).status_code
        url = f"/v1/images/{image['id']}/renditions/thumb"
        redirect = client.get(url, headers=acme, follow_redirects=False)
        steps["rendition"] = redirect.status_code
        # moto cannot check presigned requests under IAM: the role makes the same request
        # (the signer's permissions are the request's) with its own client.
        bucket, key = httpx.URL(redirect.headers["location"]).path.lstrip("/").split("/", 1)
        s3 = boto3.client("s3", endpoint_url=os.environ["IMGPIPE_S3_ENDPOINT_URL"])
        steps["rendition_get"] = len(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) > 0
        body = {"content_type": "image/png", "bytes": len(PLAIN_PNG)}
        started = client.post("/v1/uploads", json=body, headers=acme).json()
        s3.put_object(Bucket=bucket, Key=layout.upload_key(started["upload_id"]), Body=PLAIN_PNG)
        steps["complete"] = client.post(started["complete_url"], headers=acme).status_code
        steps["delete"] = client.delete(f"/v1/images/{image['id']}", headers=acme).status_code
        steps["after_delete"] = client.get(f"/v1/images/{image['id']}", headers=acme).status_code
        steps["again"] = post(client, CAMERA).status_code
        steps["ready"] = client.get("/readyz").status_code
    return steps


def stream() -> dict[str, Any]:
    """One MSK batch: a good record, a duplicate, a content match and one refused (its dead
    letter goes to the bucket)."""
    from services.stream_worker.lambda_handler import handler
    from services.stream_worker.records import KafkaRecord, msk_event

    acme = (("customer-id", b"acme"),)
    values = [PLAIN_PNG, PLAIN_PNG, CAMERA, CAMERA_EDITED, b"not an image"]
    records = [
        KafkaRecord("images", 0, offset, 0, None, value, acme)
        for offset, value in enumerate(values)
    ]
    answer = handler(msk_event(records))
    return {"failures": answer.get("batchItemFailures", [])}


def loader() -> dict[str, Any]:
    """The scheduled load: the facts into the warehouse, and spent erasures sealed."""
    from services.loader.lambda_handler import handler

    summary = handler({}, None)
    return {"files": summary["files"], "rejected": summary["rejected"]}


def main() -> None:
    drills = {"upload": upload, "stream": stream, "loader": loader}
    print(json.dumps(drills[sys.argv[1]]()))


if __name__ == "__main__":
    main()

"""The template's roles hold what its functions do on S3: each function's drill (role_drill.py)
runs in a child process with the keys of an IAM user that has only its role's S3 statements,
while moto's server enforces IAM (turned on for the test through /moto-api/reset-auth). moto
matches actions and resources but not conditions, so the loader's ListBucket is granted here
without its s3:prefix condition (test_template.py checks that condition as written); it calls
HEAD on a bucket s3:HeadBucket, which S3 grants by s3:ListBucket; and it cannot check presigned
requests, so the drill makes them with the role's own client."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from tests.harness.app import key_pairs
from tests.harness.process import python_child
from tests.harness.s3 import REGION
from tests.infra.template import (
    SAMPLE_BUCKET,
    as_list,
    parameter_defaults,
    resolve,
    statements,
)

ROOT = Path(__file__).resolve().parents[2]
ROLES = {"upload": "UploadRole", "stream": "StreamRole", "loader": "LoaderRole"}


def s3_policy(template: dict[str, Any], role: str) -> dict[str, Any]:
    """The role's statements that grant S3 actions, resolved, S3 actions only."""
    parameters = parameter_defaults(template)
    granted = []
    for name, statement in statements(template):
        actions = [a for a in as_list(statement["Action"]) if a.startswith("s3:")]
        if name != role or not actions:
            continue
        if "s3:ListBucket" in actions:
            actions.append("s3:HeadBucket")  # moto's name for what S3 grants by ListBucket
        resource = resolve(statement["Resource"], parameters)
        granted.append({"Effect": statement["Effect"], "Action": actions, "Resource": resource})
    return {"Version": "2012-10-17", "Statement": granted}


@contextmanager
def enforced_auth(endpoint: str) -> Iterator[None]:
    """moto checking every request against the caller's IAM policies, within the block."""
    httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"0").raise_for_status()
    try:
        yield
    finally:
        httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"inf").raise_for_status()


def run_as(keys: dict[str, str], drill: str, env: dict[str, str]) -> dict[str, Any]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("IMGPIPE_") and k not in {"AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"}
    }
    base.pop("AWS_LAMBDA_FUNCTION_NAME", None)
    child_env = {
        **base,
        **env,
        "PYTHONPATH": str(ROOT),
        "AWS_ACCESS_KEY_ID": keys["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": keys["SecretAccessKey"],
    }
    outcome, _log = python_child(
        ["-m", "tests.infra.role_drill", drill], env=child_env, cwd=ROOT, timeout=180
    )
    return dict(outcome)


def test_each_function_does_its_work_on_s3_with_its_roles_permissions_alone(
    s3_endpoint: str, template: dict[str, Any], tmp_path: Path
) -> None:
    admin = {"endpoint_url": s3_endpoint, "region_name": REGION}
    boto3.client("s3", **admin).create_bucket(Bucket=SAMPLE_BUCKET)
    iam = boto3.client("iam", **admin)
    keys = {}
    for drill, role in ROLES.items():
        iam.create_user(UserName=role)
        policy = json.dumps(s3_policy(template, role))
        iam.put_user_policy(UserName=role, PolicyName="s3", PolicyDocument=policy)
        keys[drill] = iam.create_access_key(UserName=role)["AccessKey"]
    database = tmp_path / "warehouse.db"
    env = {
        "IMGPIPE_STORAGE_URL": f"s3://{SAMPLE_BUCKET}/",
        "IMGPIPE_S3_ENDPOINT_URL": s3_endpoint,
        "IMGPIPE_AWS_REGION": REGION,
        "IMGPIPE_DATABASE_URL": f"sqlite:///{database}",
        "IMGPIPE_API_KEYS": ",".join(key_pairs()),
        "IMGPIPE_LOAD_SETTLE_SECONDS": "0",  # so that the load seals the erasure at once
        "IMGPIPE_EVENTS_SETTLE_SECONDS": "0",
    }
    s3 = boto3.client("s3", **admin)

    with enforced_auth(s3_endpoint):
        stream_keys = keys["stream"]
        as_stream = boto3.client(
            "s3",
            **admin,
            aws_access_key_id=stream_keys["AccessKeyId"],
            aws_secret_access_key=stream_keys["SecretAccessKey"],
        )
        with pytest.raises(ClientError, match="AccessDenied"):  # enforcement is on
            as_stream.delete_object(Bucket=SAMPLE_BUCKET, Key="manifests/any.json")
        uploaded = run_as(keys["upload"], "upload", env)
        streamed = run_as(keys["stream"], "stream", env)
        loaded = run_as(keys["loader"], "loader", env)

    assert uploaded == {
        "post": 201,
        "retry": 201,
        "duplicate": 200,
        "content_match": 200,
        "get": 200,
        "rendition": 307,
        "rendition_get": True,
        "complete": 201,
        "delete": 200,
        "after_delete": 404,
        "again": 201,
        "ready": 200,
    }
    assert streamed == {"failures": []}
    assert loaded["files"] >= 2 and loaded["rejected"] == 0
    listed = s3.list_objects_v2(Bucket=SAMPLE_BUCKET)
    stored = [item["Key"] for item in listed.get("Contents", [])]
    assert [key for key in stored if key.startswith("dead-letter/")] == [
        "dead-letter/images/0/4.json"
    ]
    assert not [key for key in stored if key.startswith("erasing/")]  # sealed by the load
    with sqlite3.connect(database) as conn:
        (images,) = conn.execute("select count(*) from images").fetchone()
        statuses = dict(
            conn.execute("select status, count(*) from ingest_events group by status").fetchall()
        )
    assert images == 2  # the photo uploaded again after its erasure, the direct upload's PNG
    # Uploads: the first, its erased copy re-uploaded, the direct upload; the duplicate and
    # the content match. Stream: two of the PNG, the photo, its edit; the refused record.
    assert statuses == {"processed": 3, "duplicate": 6, "rejected": 1}

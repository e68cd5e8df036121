"""infra/template.yaml: security properties, parity with the code it deploys, offline checks."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from core import layout
from infra.check import lint_expanded
from tests.infra.template import (
    SAMPLE_BUCKET,
    as_list,
    branches,
    parameter_defaults,
    resolve,
    resources,
    statements,
)

ROOT = Path(__file__).resolve().parents[2]
OBJECT_PREFIXES = tuple(
    value
    for name, value in vars(layout).items()
    if name.isupper() and isinstance(value, str) and value.endswith("/")
)


@pytest.fixture(scope="module")
def parameters(template: dict[str, Any]) -> dict[str, Any]:
    return parameter_defaults(template)


def bucket(template: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = template["Resources"]["Bucket"]["Properties"]
    return props


# --- bucket ------------------------------------------------------------------------------------


def test_bucket_blocks_all_four_kinds_of_public_access(template: dict[str, Any]) -> None:
    block = bucket(template)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket(template)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}
    ]


def test_bucket_encrypts_every_object_at_rest_by_default(template: dict[str, Any]) -> None:
    (rule,) = bucket(template)["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}


def test_bucket_policy_is_the_tls_only_statement_that_storage_setup_applies(
    template: dict[str, Any], parameters: dict[str, Any]
) -> None:
    from core.repository.objects.bucket_rules import tls_only_statement

    (policy,) = resources(template, "AWS::S3::BucketPolicy").values()
    assert policy["Properties"]["Bucket"] == {"Ref": "Bucket"}
    statements_ = resolve(policy["Properties"]["PolicyDocument"]["Statement"], parameters)
    assert statements_ == [tls_only_statement(SAMPLE_BUCKET)]


def _s3_api_rule(rule: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the shape S3's API (and lifecycle_rules()) uses."""
    rule = resolve(rule, parameters)
    shaped: dict[str, Any] = {
        "ID": rule["Id"],
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "Transitions" in rule:
        shaped["Transitions"] = [
            {"Days": int(t["TransitionInDays"]), "StorageClass": t["StorageClass"]}
            for t in rule["Transitions"]
        ]
    if "ExpirationInDays" in rule:
        shaped["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        shaped["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(days)}
    return shaped


def test_lifecycle_rules_equal_what_imgpipe_storage_setup_applies(
    template: dict[str, Any], parameters: dict[str, Any]
) -> None:
    from core.config import Settings
    from core.repository.objects.bucket_rules import lifecycle_rules

    settings = Settings(storage_url=f"s3://{SAMPLE_BUCKET}")
    ours = [
        _s3_api_rule(rule, parameters)
        for rule in bucket(template)["LifecycleConfiguration"]["Rules"]
    ]
    assert sorted(ours, key=lambda r: r["ID"]) == sorted(
        lifecycle_rules(settings), key=lambda r: r["ID"]
    )
    assert int(parameters["ArchiveAfterDays"]) == settings.archive_after_days


def test_renditions_go_to_deep_archive_and_small_objects_stay_in_standard(
    template: dict[str, Any],
) -> None:
    lifecycle = bucket(template)["LifecycleConfiguration"]
    assert lifecycle["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    (archive,) = [r for r in lifecycle["Rules"] if r.get("Prefix") == "renditions/"]
    assert archive["Transitions"][0]["StorageClass"] == "DEEP_ARCHIVE"


# --- IAM -----------------------------------------------------------------------------------------


def test_no_policy_allows_every_action_of_a_service(template: dict[str, Any]) -> None:
    for role, statement in statements(template):
        for action in as_list(statement["Action"]):
            assert "*" not in action, f"{role}: {action}"


def test_only_ec2_describe_calls_are_granted_on_every_resource(template: dict[str, Any]) -> None:
    for role, statement in statements(template):
        if "*" in as_list(statement["Resource"]):
            assert all(a.startswith("ec2:Describe") for a in as_list(statement["Action"])), role


def test_object_permissions_stay_within_the_bucket_prefixes(
    template: dict[str, Any], parameters: dict[str, Any]
) -> None:
    parameters = {**parameters, "StreamSourceBucket": "customer-source-bucket"}
    allowed = [f"arn:aws:s3:::{SAMPLE_BUCKET}/{prefix}*" for prefix in OBJECT_PREFIXES]
    allowed.append("arn:aws:s3:::customer-source-bucket/*")
    seen = set()
    for role, statement in statements(template):
        actions = as_list(statement["Action"])
        if not any(a.startswith("s3:") for a in actions):
            continue
        for resource in as_list(resolve(statement["Resource"], parameters)):
            if actions == ["s3:ListBucket"]:
                assert resource == f"arn:aws:s3:::{SAMPLE_BUCKET}", role
            else:
                assert resource in allowed, f"{role}: {actions} on {resource}"
                seen.add(resource)
    assert seen >= set(allowed[:3])


def test_kafka_permissions_name_only_the_cluster_its_topics_and_the_group(
    template: dict[str, Any], parameters: dict[str, Any]
) -> None:
    parameters = {**parameters, "DeadLetterTopic": "images-dlq", "ResultsTopic": "results"}
    cluster = parameters["MskClusterArn"]
    assert cluster == "arn:aws:kafka:us-east-1:123456789012:cluster/images/0a1b2c3d-4e5f"
    expected = {
        cluster,
        "arn:aws:kafka:us-east-1:123456789012:topic/images/0a1b2c3d-4e5f/images",
        "arn:aws:kafka:us-east-1:123456789012:topic/images/0a1b2c3d-4e5f/images-dlq",
        "arn:aws:kafka:us-east-1:123456789012:group/images/0a1b2c3d-4e5f/imgpipe",
        "arn:aws:kafka:us-east-1:123456789012:topic/images/0a1b2c3d-4e5f/results",
    }
    granted: dict[str, set[str]] = {}
    for _, statement in statements(template):
        actions = [a for a in as_list(statement["Action"]) if a.startswith(("kafka", "kafka-"))]
        for resource in as_list(resolve(statement["Resource"], parameters)):
            for action in actions:
                granted.setdefault(action, set()).add(resource)
    assert set().union(*granted.values()) == expected
    topic = "arn:aws:kafka:us-east-1:123456789012:topic/images/0a1b2c3d-4e5f/"
    assert granted["kafka-cluster:ReadData"] == {f"{topic}images"}  # the images topic only
    # The DLQ's producer (the stream's role) and the results topic's (the loader's).
    assert granted["kafka-cluster:WriteData"] == {f"{topic}images-dlq", f"{topic}results"}
    assert granted["kafka-cluster:WriteDataIdempotently"] == {cluster}
    assert granted["kafka-cluster:AlterGroup"] == {sorted(expected)[1]}  # the group only
    loader_kafka = {
        resource
        for role, statement in statements(template)
        if role == "LoaderRole" and any(a.startswith("kafka") for a in as_list(statement["Action"]))
        for resource in as_list(resolve(statement["Resource"], parameters))
    }
    assert loader_kafka == {cluster, f"{topic}results"}
    for needed in (
        "Connect",
        "DescribeGroup",
        "DescribeTopic",
        "DescribeClusterDynamicConfiguration",
    ):
        assert f"kafka-cluster:{needed}" in granted


def test_secret_access_is_limited_to_the_named_secrets(template: dict[str, Any]) -> None:
    for role, statement in statements(template):
        if "secretsmanager:GetSecretValue" in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                assert any(
                    value in ({"Ref": "ApiKeysSecretArn"}, {"Ref": "RedshiftAdminSecret"})
                    or value == {"Ref": "RedshiftSecretArn"}
                    for value in branches(resource)
                ), role


# --- functions -----------------------------------------------------------------------------------


def environment(template: dict[str, Any], function: str) -> dict[str, Any]:
    merged = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    merged.update(template["Resources"][function]["Properties"]["Environment"]["Variables"])
    return merged


FUNCTIONS = ["UploadFunction", "StreamFunction", "LoaderFunction"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_credentials_travel_in_plain_text_environment_variables(
    template: dict[str, Any], parameters: dict[str, Any], function: str
) -> None:
    env = environment(template, function)
    for name, value in env.items():
        assert not re.search(r"PASSWORD|API_KEYS$|SIGNING_KEY", name), name
        for option in branches(value):
            assert "@" not in str(resolve(option, parameters)), f"{name} carries credentials"
    # Only the functions that read or load the warehouse may read its secret.
    assert ("IMGPIPE_DATABASE_SECRET_ARN" in env) == (function != "StreamFunction")


def test_only_the_functions_that_read_or_load_the_warehouse_may_read_its_secret(
    template: dict[str, Any],
) -> None:
    readers = set()
    for role, statement in statements(template):
        if "secretsmanager:GetSecretValue" in as_list(statement["Action"]):
            readers.add(role)
    assert readers == {"UploadRole", "LoaderRole"}


def test_the_loader_runs_on_a_schedule_one_at_a_time_and_may_only_read_set_aside_and_seal_facts(
    template: dict[str, Any], parameters: dict[str, Any]
) -> None:
    loader = template["Resources"]["LoaderFunction"]["Properties"]
    assert loader["ReservedConcurrentExecutions"] == 1
    (schedule,) = loader["Events"].values()
    assert schedule["Type"] == "ScheduleV2"
    assert schedule["Properties"]["ScheduleExpression"] == {"Ref": "LoadSchedule"}
    assert parameters["LoadSchedule"] == "rate(1 minute)"
    granted: dict[str, set[str]] = {}
    for role, statement in statements(template):
        if role != "LoaderRole":
            continue
        for action in (a for a in as_list(statement["Action"]) if a.startswith("s3:")):
            for resource in as_list(resolve(statement["Resource"], parameters)):
                granted.setdefault(action, set()).add(resource.rsplit(":::", 1)[-1])
    bucket = SAMPLE_BUCKET
    erasures = f"{bucket}/erasing/facts/*"  # erasure facts to seal (core/erasure_seal.py)
    assert granted["s3:GetObject"] == {f"{bucket}/facts/*", f"{bucket}/events/*", erasures}
    assert granted["s3:DeleteObject"] == {f"{bucket}/facts/*", erasures}
    assert granted["s3:PutObject"] == {
        f"{bucket}/facts/*",  # a late fact of an erased image, rewritten by the seal
        f"{bucket}/facts-rejected/*",
        f"{bucket}/loads/*",
        f"{bucket}/events/*",
    }
    copy_role = template["Resources"]["RedshiftCopyRole"]["Properties"]
    (policy,) = copy_role["Policies"]
    (read,) = policy["PolicyDocument"]["Statement"]
    assert read["Action"] == "s3:GetObject"
    namespace = template["Resources"]["Namespace"]["Properties"]
    assert namespace["IamRoles"] == [{"Fn::GetAtt": ["RedshiftCopyRole", "Arn"]}]


def test_only_the_loader_puts_events_and_only_on_the_stacks_bus_which_has_an_example_rule(
    template: dict[str, Any],
) -> None:
    granted = [
        (role, statement["Resource"])
        for role, statement in statements(template)
        if any(action.startswith("events:") for action in as_list(statement["Action"]))
    ]
    assert granted == [("LoaderRole", {"Fn::GetAtt": ["EventBus", "Arn"]})]
    for _role, statement in statements(template):
        if any(a.startswith("events:") for a in as_list(statement["Action"])):
            assert as_list(statement["Action"]) == ["events:PutEvents"]
    resources = template["Resources"]
    loader_env = resources["LoaderFunction"]["Properties"]["Environment"]["Variables"]
    assert loader_env["IMGPIPE_EVENTS_BUS_NAME"] == {"Ref": "EventBus"}
    rule = resources["RejectedImagesRule"]["Properties"]
    assert rule["EventBusName"] == {"Ref": "EventBus"}
    assert rule["EventPattern"]["detail-type"] == ["com.imgpipe.image.rejected"]


def test_every_writer_of_images_appends_facts_and_nothing_else_writes_the_warehouse(
    template: dict[str, Any], parameters: dict[str, Any]
) -> None:
    for role in ("UploadRole", "StreamRole"):
        puts = {
            resource
            for name, statement in statements(template)
            if name == role and "s3:PutObject" in as_list(statement["Action"])
            for resource in as_list(resolve(statement["Resource"], parameters))
        }
        assert f"arn:aws:s3:::{SAMPLE_BUCKET}/facts/*" in puts, role
    stream = template["Resources"]["StreamFunction"]["Properties"]["Environment"]["Variables"]
    assert "IMGPIPE_DATABASE_SECRET_ARN" not in stream


@pytest.mark.parametrize("function", FUNCTIONS)
def test_environment_names_only_settings_that_exist(
    template: dict[str, Any], function: str
) -> None:
    from core.config import Settings

    fields = {f"IMGPIPE_{name.upper()}" for name in Settings.model_fields}
    secret_references = {"IMGPIPE_DATABASE_SECRET_ARN", "IMGPIPE_API_KEYS_SECRET_ARN"}
    unknown = set(environment(template, function)) - fields - secret_references
    assert not unknown


def test_settings_read_the_secret_references_the_template_passes() -> None:
    from core.config import Settings

    assert {"database_secret_arn", "api_keys_secret_arn"} <= set(Settings.model_fields)


def test_upload_function_is_an_image_behind_an_http_api_with_payload_2(
    template: dict[str, Any],
) -> None:
    props = template["Resources"]["UploadFunction"]["Properties"]
    assert props["PackageType"] == "Image"
    assert props["ReservedConcurrentExecutions"] == {"Ref": "UploadReservedConcurrency"}
    events = props["Events"].values()
    assert {e["Type"] for e in events} == {"HttpApi"}
    assert {e["Properties"]["PayloadFormatVersion"] for e in events} == {"2.0"}
    # API Gateway gives up after 30 s: a longer timeout bills answers nobody receives.
    assert props["Timeout"] < 30


def test_stream_mapping_reports_partial_failures_and_keeps_what_it_gives_up(
    expanded: dict[str, Any],
) -> None:
    (mapping,) = resources(expanded, "AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    assert props["EventSourceArn"] == {"Ref": "MskClusterArn"}
    assert props["Topics"] == [{"Ref": "MskTopic"}]
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "MinimumPollers" in props["ProvisionedPollerConfig"]
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["StreamFailureQueue", "Arn"]
    }
    assert props["AmazonManagedKafkaEventSourceConfig"] == {
        "ConsumerGroupId": {"Ref": "MskConsumerGroup"}
    }
    function = expanded["Resources"]["StreamFunction"]["Properties"]
    assert function["VpcConfig"]["SubnetIds"] == {"Ref": "SubnetIds"}


def test_alarms_watch_errors_throttles_dead_letters_and_offset_lag(
    template: dict[str, Any],
) -> None:
    watched = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"], _dimension(a))
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if "MetricName" in a["Properties"]  # metric math: see test_telemetry_template.py
    }
    for function in ("UploadFunction", "StreamFunction"):
        assert ("AWS/Lambda", "Errors", function) in watched
        assert ("AWS/Lambda", "Throttles", function) in watched
    assert ("AWS/Lambda", "OffsetLag", "StreamFunction") in watched
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "StreamFailureQueue") in watched
    assert ("AWS/S3", "PutRequests", "Bucket") in watched
    filters = bucket(template)["MetricsConfigurations"]
    assert {"Id": "dead-letters", "Prefix": "dead-letter/"} in filters


def _dimension(alarm: dict[str, Any]) -> str | None:
    """The resource an alarm's metric is about; None for a metric of no resource (log-derived)."""
    dimensions = alarm["Properties"].get("Dimensions")
    if not dimensions:
        return None
    value = dimensions[0]["Value"]
    if isinstance(value, str):  # imgpipe's own metrics: a source, not a resource
        return value
    if "Ref" in value:
        return str(value["Ref"])
    return str(value["Fn::GetAtt"][0])


def test_outputs_name_the_api_url_bucket_and_functions(template: dict[str, Any]) -> None:
    assert {"ApiUrl", "BucketName", "UploadFunctionName", "StreamFunctionName"} <= set(
        template["Outputs"]
    )


def test_every_parameter_is_explained_in_the_deploy_guide(template: dict[str, Any]) -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    missing = [name for name in template["Parameters"] if f"`{name}`" not in guide]
    assert not missing


# --- QuickSight ----------------------------------------------------------------------------------


QUICKSIGHT_TYPES = {
    "Date": "DATETIME",
    "DateTime": "DATETIME",
    "String": "STRING",
    "Integer": "INTEGER",
    "BigInteger": "INTEGER",
    "Float": "DECIMAL",
    "Numeric": "DECIMAL",
}


def data_set_tables(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    tables = {}
    for name, data_set in resources(template, "AWS::QuickSight::DataSet").items():
        for physical in data_set["Properties"]["PhysicalTableMap"].values():
            assert set(physical) == {"RelationalTable"}, f"{name}: views only, no custom SQL"
            tables[name] = physical["RelationalTable"]
    return tables


def test_quicksight_data_sets_read_only_the_statistics_views(template: dict[str, Any]) -> None:
    from core.repository.migrations.views import STATS_VIEWS

    names = {table["Name"] for table in data_set_tables(template).values()}
    assert names <= set(STATS_VIEWS)
    assert names == set(STATS_VIEWS), "every statistics view has its data set"


def test_quicksight_columns_are_the_views_columns(template: dict[str, Any]) -> None:
    from core.repository.migrations.views import view_table

    for name, table in data_set_tables(template).items():
        view = view_table(table["Name"])
        expected = [
            {"Name": c.name, "Type": QUICKSIGHT_TYPES[type(c.type).__name__]} for c in view.columns
        ]
        assert table["InputColumns"] == expected, name


def test_dashboard_charts_only_columns_its_data_sets_have(template: dict[str, Any]) -> None:
    tables = data_set_tables(template)
    (dashboard,) = resources(template, "AWS::QuickSight::Dashboard").values()
    definition = dashboard["Properties"]["Definition"]
    columns_of = {}
    for declaration in definition["DataSetIdentifierDeclarations"]:
        data_set = declaration["DataSetArn"]["Fn::GetAtt"][0]
        columns_of[declaration["Identifier"]] = {
            c["Name"] for c in tables[data_set]["InputColumns"]
        }
    used = list(_columns(definition["Sheets"]))
    assert used
    for column in used:
        assert column["ColumnName"] in columns_of[column["DataSetIdentifier"]], column
    charted = {column["ColumnName"] for column in used}
    # The key statistics: volume by source and status, bytes, latency, reasons, formats.
    assert {
        "source",
        "status",
        "bytes_in",
        "bytes_out",
        "p50_ms",
        "p95_ms",
        "reason",
        "format",
    } <= (charted)


def _columns(node: Any) -> Any:
    if isinstance(node, dict):
        if "ColumnName" in node:
            yield node
        for value in node.values():
            yield from _columns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _columns(value)


def test_quicksight_exists_only_when_a_principal_is_given(template: dict[str, Any]) -> None:
    kinds = [r for r in template["Resources"].values() if r["Type"].startswith("AWS::QuickSight")]
    assert kinds
    assert {r.get("Condition") for r in kinds} == {"HasQuickSight"}


# --- the offline checks themselves ----------------------------------------------------------------


def test_the_template_expands_and_lints_clean(template: dict[str, Any]) -> None:
    assert lint_expanded(template) == []


def _stream_event(template: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = template["Resources"]["StreamFunction"]["Properties"]["Events"][
        "Images"
    ]
    return event


def test_expanded_check_catches_a_wrong_starting_position(template: dict[str, Any]) -> None:
    broken = copy.deepcopy(template)
    _stream_event(broken)["Properties"]["StartingPosition"] = "OLDEST"
    assert any("OLDEST" in problem for problem in lint_expanded(broken))


def test_expanded_check_catches_a_misspelt_event_type(template: dict[str, Any]) -> None:
    broken = copy.deepcopy(template)
    _stream_event(broken)["Type"] = "MKS"
    assert any("MKS" in problem for problem in lint_expanded(broken))


def test_expanded_check_catches_a_dangling_reference(template: dict[str, Any]) -> None:
    broken = copy.deepcopy(template)
    _stream_event(broken)["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] = {
        "Fn::GetAtt": ["NoSuchQueue", "Arn"]
    }
    assert any("NoSuchQueue" in problem for problem in lint_expanded(broken))


def test_bucket_cors_equals_what_imgpipe_storage_setup_applies(
    template: dict[str, Any], parameters: dict[str, Any]
) -> None:
    from core.config import Settings
    from core.repository.objects.bucket_rules import cors_rules

    origins = "https://app.example.com,https://admin.example.com"
    conditional = bucket(template)["CorsConfiguration"]["Fn::If"]
    assert conditional[0] == "HasCorsOrigins"
    assert conditional[2] == {"Ref": "AWS::NoValue"}  # no origins: no CORS at all
    (rule,) = resolve(conditional[1], {**parameters, "CorsOrigins": origins})["CorsRules"]
    as_s3_api = {
        "ID": rule["Id"],
        "AllowedOrigins": rule["AllowedOrigins"],
        "AllowedMethods": rule["AllowedMethods"],
        "AllowedHeaders": rule["AllowedHeaders"],
        "ExposeHeaders": rule["ExposedHeaders"],
        "MaxAgeSeconds": rule["MaxAge"],
    }
    settings = Settings(storage_url=f"s3://{SAMPLE_BUCKET}", cors_origins=origins)
    assert [as_s3_api] == cors_rules(settings)

"""infra/template.yaml as operated: images `sam build` builds, traces, JSON logs, canary releases
rolled back by alarms; samconfig.toml and what `make deploy` runs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from infra.check import image_functions
from infra.deploy import CONFIG, commands, placeholders
from infra.locks import IMAGES
from tests.infra.template import resources
from tests.infra.test_images import parse_dockerfile

ROOT = Path(__file__).resolve().parents[2]
ROLLBACK_ALARMS = {"ApiServerErrorsAlarm", "UploadErrorsAlarm"}


@pytest.fixture(scope="module")
def samconfig() -> dict[str, Any]:
    with CONFIG.open("rb") as handle:
        return tomllib.load(handle)


# --- sam build ---------------------------------------------------------------------------------


def test_sam_build_builds_each_image_from_its_dockerfile_stage(template: dict[str, Any]) -> None:
    functions = image_functions(template)
    assert set(functions) == {
        name
        for name, body in resources(template, "AWS::Serverless::Function").items()
        if body["Properties"]["PackageType"] == "Image"
    }
    _, stages = parse_dockerfile()
    targets = set()
    for name, metadata in functions.items():
        # DockerContext is relative to the template's folder; Dockerfile to the context.
        context = (ROOT / "infra" / metadata["DockerContext"]).resolve()
        assert context == ROOT, name
        assert (context / metadata["Dockerfile"]).is_file(), name
        assert metadata["DockerBuildTarget"] in stages, name
        assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", metadata["DockerTag"]), name
        # `sam build` writes the image it built into ImageUri; `sam deploy` pushes it to ECR.
        assert "ImageUri" not in template["Resources"][name]["Properties"], name
        targets.add(metadata["DockerBuildTarget"])
    assert targets == set(IMAGES)  # each locked image is built, and only those


# --- traces and logs -----------------------------------------------------------------------------


def test_every_function_traces_to_x_ray_and_logs_json_to_its_own_group(
    expanded: dict[str, Any],
) -> None:
    functions = resources(expanded, "AWS::Lambda::Function")
    assert len(functions) >= 2
    for name, function in functions.items():
        props = function["Properties"]
        assert props["TracingConfig"] == {"Mode": "Active"}, name
        assert props["LoggingConfig"]["LogFormat"] == "JSON", name
        group = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert expanded["Resources"][group]["Type"] == "AWS::Logs::LogGroup", name


def test_function_roles_may_write_traces_through_the_x_ray_managed_policy_alone(
    template: dict[str, Any],
) -> None:
    for name in ("UploadFunction", "StreamFunction"):
        role = template["Resources"][name]["Properties"]["Role"]["Fn::GetAtt"][0]
        managed = template["Resources"][role]["Properties"]["ManagedPolicyArns"]
        assert managed == [
            {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"}
        ], name


# --- canary releases ---------------------------------------------------------------------------


def test_the_api_calls_the_live_alias_of_the_upload_function(expanded: dict[str, Any]) -> None:
    (alias_name, alias) = next(iter(resources(expanded, "AWS::Lambda::Alias").items()))
    assert alias["Properties"]["Name"] == "live"
    assert alias["Properties"]["FunctionName"] == {"Ref": "UploadFunction"}
    (api,) = resources(expanded, "AWS::ApiGatewayV2::Api").values()
    uris = [
        method["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        for path in api["Properties"]["Body"]["paths"].values()
        for method in path.values()
    ]
    assert uris and all(f"${{{alias_name}}}/invocations" in uri for uri in uris)
    for permission in resources(expanded, "AWS::Lambda::Permission").values():
        if permission["Properties"]["Principal"] == "apigateway.amazonaws.com":
            assert permission["Properties"]["FunctionName"] == {"Ref": alias_name}


def test_a_new_version_gets_a_tenth_of_the_traffic_and_rolls_back_on_alarm(
    expanded: dict[str, Any],
) -> None:
    (group,) = resources(expanded, "AWS::CodeDeploy::DeploymentGroup").values()
    props = group["Properties"]
    config = props["DeploymentConfigName"]["Fn::Sub"]
    assert config == [
        "CodeDeployDefault.Lambda${ConfigName}",
        {"ConfigName": "Canary10Percent5Minutes"},
    ]
    assert props["AlarmConfiguration"]["Enabled"] is True
    assert {a["Name"]["Ref"] for a in props["AlarmConfiguration"]["Alarms"]} == ROLLBACK_ALARMS
    assert "DEPLOYMENT_STOP_ON_ALARM" in props["AutoRollbackConfiguration"]["Events"]


def test_rollback_alarms_watch_the_api_5xx_and_the_function_errors_within_the_canary(
    template: dict[str, Any],
) -> None:
    alarms = {name: template["Resources"][name]["Properties"] for name in ROLLBACK_ALARMS}
    errors = alarms["UploadErrorsAlarm"]
    assert (errors["Namespace"], errors["MetricName"]) == ("AWS/Lambda", "Errors")
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "UploadFunction"}}]
    # The 5xx count comes from the API's access log (its own metric would name the API, which
    # depends on the alias the deployment moves).
    api = alarms["ApiServerErrorsAlarm"]
    (metric_filter,) = resources(template, "AWS::Logs::MetricFilter").values()
    (transformation,) = metric_filter["Properties"]["MetricTransformations"]
    assert (api["Namespace"], api["MetricName"]) == (
        transformation["MetricNamespace"],
        transformation["MetricName"],
    )
    assert metric_filter["Properties"]["LogGroupName"] == {"Ref": "ApiAccessLogGroup"}
    assert metric_filter["Properties"]["FilterPattern"] == '{ $.status = "5*" }'
    api_log = template["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]
    assert '"status":"$context.status"' in api_log["Format"]
    for name, alarm in alarms.items():
        assert alarm["Period"] * alarm["EvaluationPeriods"] <= 300, name  # the canary's 5 min


def test_every_alarm_notifies_the_alarm_topic(template: dict[str, Any]) -> None:
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert len(alarms) >= 8
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == {
            "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
        }, name
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching", name


# --- samconfig.toml and make deploy -------------------------------------------------------------


def test_samconfig_deploys_the_built_template_and_pushes_images_to_repos_of_its_own(
    samconfig: dict[str, Any],
) -> None:
    build = samconfig["default"]["build"]["parameters"]
    assert build["template_file"] == "infra/template.yaml"
    deploy = samconfig["default"]["deploy"]["parameters"]
    assert deploy["resolve_image_repos"] is True
    assert "CAPABILITY_IAM" in deploy["capabilities"]
    assert "template_file" not in deploy  # sam deploy then takes .aws-sam/build/template.yaml


def test_samconfig_names_every_parameter_a_first_deploy_needs_as_a_placeholder(
    samconfig: dict[str, Any], template: dict[str, Any]
) -> None:
    overrides = dict(
        line.split("=", 1)
        for line in samconfig["default"]["deploy"]["parameters"]["parameter_overrides"]
    )
    required = {name for name, spec in template["Parameters"].items() if "Default" not in spec}
    assert set(overrides) == required
    for name, value in overrides.items():
        assert re.fullmatch(r"(<[^<>]+>,?)+", value), f"{name} is not a placeholder: {value}"


def test_make_deploy_is_guided_until_the_placeholders_are_filled(
    samconfig: dict[str, Any],
) -> None:
    assert placeholders(samconfig)
    assert commands(samconfig, "sam") == [
        ["sam", "build", "--config-env", "default"],
        ["sam", "deploy", "--config-env", "default", "--guided"],
    ]
    filled = {"default": {"deploy": {"parameters": {"parameter_overrides": [
        "SubnetIds=subnet-0a,subnet-0b,subnet-0c",
        "SecurityGroupIds=sg-0a",
        "MskClusterArn=arn:aws:kafka:eu-west-1:123456789012:cluster/images/0a1b",
        "ApiKeysSecretArn=arn:aws:secretsmanager:eu-west-1:123456789012:secret:keys-AbCd",
    ], "resolve_image_repos": True}}}}  # fmt: skip
    assert placeholders(filled) == []
    assert commands(filled, "sam")[1] == ["sam", "deploy", "--config-env", "default"]
    assert placeholders({"default": {}}) == ["[default.deploy.parameters]"]

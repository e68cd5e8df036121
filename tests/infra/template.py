"""Reading infra/template.yaml in tests: resources by type, IAM statements, a small resolver."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from infra.check import SAMPLE_PARAMETERS

NO_VALUE = {"Ref": "AWS::NoValue"}
SAMPLE_BUCKET = "imgpipe-bucket-example"
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
}


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in template["Resources"].items() if body.get("Type") == kind}


def branches(value: Any) -> Iterator[Any]:
    """Every value a (possibly conditional) template value can take."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        _, then, otherwise = value["Fn::If"]
        yield from branches(then)
        yield from branches(otherwise)
    elif value != NO_VALUE:
        yield value


def statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(role name, statement) for every inline policy statement of every role."""
    for role_name, role in resources(template, "AWS::IAM::Role").items():
        for conditional in role["Properties"].get("Policies", []):
            for policy in branches(conditional):
                for entry in policy["PolicyDocument"]["Statement"]:
                    for statement in branches(entry):
                        yield role_name, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def parameter_defaults(template: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = dict(SAMPLE_PARAMETERS)
    for name, spec in template["Parameters"].items():
        if "Default" in spec:
            values[name] = spec["Default"]
    return values


def resolve(value: Any, parameters: dict[str, Any]) -> Any:
    """Evaluate the intrinsics this template uses (Ref, Sub, Select, Split, GetAtt of the bucket)
    with parameter values; names of other resources are left as they are."""
    if isinstance(value, list):
        return [resolve(item, parameters) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        name = value["Ref"]
        if name == "Bucket":
            return SAMPLE_BUCKET
        return PSEUDO.get(name, parameters.get(name, name))
    if set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        target = target.split(".", 1) if isinstance(target, str) else target
        if target == ["Bucket", "Arn"]:
            return f"arn:aws:s3:::{SAMPLE_BUCKET}"
        return ".".join(target)
    if set(value) == {"Fn::Select"}:
        index, items = value["Fn::Select"]
        return resolve(items, parameters)[int(index)]
    if set(value) == {"Fn::Split"}:
        separator, text = value["Fn::Split"]
        return str(resolve(text, parameters)).split(separator)
    if set(value) == {"Fn::Sub"}:
        body = value["Fn::Sub"]
        text, local = (body, {}) if isinstance(body, str) else body
        names = {**parameters, **{k: resolve(v, parameters) for k, v in local.items()}}
        names["Bucket.Arn"] = f"arn:aws:s3:::{SAMPLE_BUCKET}"
        names["Bucket"] = SAMPLE_BUCKET
        for key, replacement in {**PSEUDO, **names}.items():
            text = text.replace("${" + key + "}", str(replacement))
        return text
    return {key: resolve(item, parameters) for key, item in value.items()}

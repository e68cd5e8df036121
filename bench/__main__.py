"""`make bench`: run every benchmark in turn (or those named), each writing bench/results/*.json."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ["processing", "warehouse", "scale", "api", "stream", "coldstart"]


def main(argv: list[str]) -> int:
    names = argv or BENCHMARKS
    failed = []
    for name in names:
        print(f"\n=== bench/{name}.py ===", flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{name}":
                print("not present in this checkout")
                continue
            raise
        if module.main() != 0:
            failed.append(name)
    if failed:
        print(f"\nbenchmarks that missed a target: {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Run every benchmark and print its table."""

from __future__ import annotations

import argparse

from bench import grading, world


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller scales (a smoke run)")
    args = parser.parse_args()
    world.run(quick=args.quick)
    grading.run(quick=args.quick)


if __name__ == "__main__":
    main()

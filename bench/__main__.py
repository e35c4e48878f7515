"""Run every benchmark and print its table."""

from __future__ import annotations

import argparse

from bench import grading, world


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller scales (a smoke run)")
    parser.add_argument("--only", choices=("world", "grading", "class"), action="append",
                        help="run only these benchmarks (repeatable; default: all)")
    parser.add_argument("--class-sizes", default="25,50", metavar="N,N",
                        help="class sizes for the class-grading table: serial nbgrader, the local pool and a "
                             "2-worker Dask cluster on the same class (default 25,50)")
    args = parser.parse_args()
    only = set(args.only or ("world", "grading", "class"))
    if "world" in only:
        world.run(quick=args.quick)
    if "grading" in only:
        grading.run(quick=args.quick)
    if "class" in only:
        sizes = (5,) if args.quick else tuple(int(n) for n in args.class_sizes.split(","))
        grading.class_grading(sizes)


if __name__ == "__main__":
    main()

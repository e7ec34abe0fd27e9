"""Run every benchmark in sequence (``make bench``), printing their tables as they come and
saving everything to bench/out/bench-<time>.txt (git-ignored).

    .venv/bin/python bench/run_all.py                 # all of it (~30 min on 2 cores)
    .venv/bin/python bench/run_all.py --quick         # scaling up to 100x only (~8 min)
    .venv/bin/python bench/run_all.py --skip-scaling  # no scaling at all (~5 min)

Scripts: cold_start, queries, build, langchain_side_by_side, embedding_variants, scaling.
None asserts on time; a failing script is reported and the others still run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

from common import OFFLINE, PY, ROOT, load

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-scaling", action="store_true", help="skip bench/scaling.py")
    ap.add_argument("--quick", action="store_true",
                    help="scaling at 1x, 10x and 100x only (no 1,000x)")
    ap.add_argument("--skip-variants", action="store_true",
                    help="skip bench/embedding_variants.py")
    ap.add_argument("--repeats", type=int, default=3, help="passed to the scripts that take it")
    ap.add_argument("--only", help="comma-separated script names to run (e.g. queries,build)")
    args = ap.parse_args()
    rep = ["--repeats", str(args.repeats)]
    plan: list[tuple[str, list[str]]] = [
        ("cold_start", rep), ("queries", rep), ("build", rep),
        ("langchain_side_by_side", rep), ("embedding_variants", []),
        ("scaling", ["--sizes", "1,10,100" if args.quick else "1,10,100,1000"]),
    ]
    if args.skip_variants:
        plan = [p for p in plan if p[0] != "embedding_variants"]
    if args.skip_scaling:
        plan = [p for p in plan if p[0] != "scaling"]
    if args.only:
        wanted = set(args.only.split(","))
        plan = [p for p in plan if p[0] in wanted]
    out_dir = HERE / "out"
    out_dir.mkdir(exist_ok=True)
    out_path = out_dir / f"bench-{dt.datetime.now():%Y%m%d-%H%M%S}.txt"
    failed = []
    with out_path.open("w", encoding="utf-8") as log:
        for name, extra in plan:
            started = time.perf_counter()
            line = f"\n######## bench/{name}.py {' '.join(extra)}  (load {load()})\n"
            print(line, flush=True)
            log.write(line)
            proc = subprocess.Popen([PY, str(HERE / f"{name}.py"), *extra], cwd=ROOT,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, env={**os.environ, **OFFLINE})
            assert proc.stdout is not None
            for text in proc.stdout:
                sys.stdout.write(text)
                sys.stdout.flush()
                log.write(text)
            code = proc.wait()
            took = f"bench/{name}.py: exit {code} after {time.perf_counter() - started:.0f} s\n"
            print(took, flush=True)
            log.write(took)
            if code:
                failed.append(name)
    print(f"all output saved to {out_path.relative_to(ROOT)}")
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

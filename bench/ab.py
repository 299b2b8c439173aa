#!/usr/bin/env python3
"""Alternate two or more builds of a Google Benchmark program, round by round.

    bench/ab.py FILTER ROUNDS OLD_BINARY NEW_BINARY [MORE ...] [--cpu 0]

Each round runs every binary in turn on the benchmarks FILTER selects
(--benchmark_repetitions=3 --benchmark_min_time=0.05 by default). For each
benchmark it prints every binary's minimum over all rounds, the ratio of
the last binary's minimum to the first's, and the range of that ratio over
the rounds (each round's minima): on a shared machine the same binary's time
moves by 10-40% from one process to the next, so a ratio means something
only next to its spread. --cpu pins every run to one CPU (taskset): the two
vCPUs of the machine in docs/benchmarks.md ran at different speeds at
times, and a process moving between them adds to the spread.

--copies K (default 2) runs K byte-identical copies of each binary (in a
temporary directory) and takes, for each binary, the fastest of its copies:
on that machine one file could run a benchmark at half the speed of a copy
of itself, in every round, while its other benchmarks and other copies ran
at full speed. The column "copies" prints, for the last binary, its
slowest copy's minimum over its fastest's: far from 1, a copy was slow and
the comparison needs more copies.
"""
import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile

UNIT = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}  # to microseconds


def run(binary, flt, reps, min_time, cpu):
    cmd = [binary, f"--benchmark_filter={flt}", f"--benchmark_repetitions={reps}",
           f"--benchmark_min_time={min_time}", "--benchmark_format=json"]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu)] + cmd
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"{binary} failed ({res.returncode}): {res.stderr.strip()}")
    best = {}
    for b in json.loads(res.stdout)["benchmarks"]:
        if b.get("run_type") == "iteration":
            t = b["real_time"] * UNIT[b["time_unit"]]
            best[b["run_name"]] = min(best.get(b["run_name"], float("inf")), t)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("filter")
    ap.add_argument("rounds", type=int)
    ap.add_argument("binaries", nargs="+")
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--min-time", default="0.05")
    ap.add_argument("--cpu", type=int, default=None)
    ap.add_argument("--copies", type=int, default=2)
    a = ap.parse_args()
    if len(a.binaries) < 2:
        ap.error("give at least two binaries to alternate")
    if a.copies < 1:
        ap.error("--copies must be at least 1")
    with tempfile.TemporaryDirectory(prefix="ab-") as tmp:
        copies = []  # copies[i] = the files of binary i
        for i, b in enumerate(a.binaries):
            files = []
            for k in range(a.copies):
                f = os.path.join(tmp, f"bin{i}-copy{k}")
                shutil.copy2(b, f)
                files.append(f)
            copies.append(files)
        rounds = []  # rounds[r][i][k][name] = minimum of copy k of binary i in round r
        for _ in range(a.rounds):
            rounds.append([[run(f, a.filter, a.repetitions, a.min_time, a.cpu) for f in files] for files in copies])
    names = list(rounds[0][0][0])
    if not names:
        sys.exit(f"no benchmark matches {a.filter!r}")
    print(f"{'benchmark':70s} " + " ".join(f"{'bin ' + str(i):>10s}" for i in range(len(a.binaries)))
          + "   last/first  (rounds' range)  copies   [microseconds]")
    last = len(a.binaries) - 1
    for n in names:
        best = lambda r, i: min(c[n] for c in r[i])  # fastest copy of binary i in round r
        mins = [min(best(r, i) for r in rounds) for i in range(len(a.binaries))]
        per_round = [best(r, last) / best(r, 0) for r in rounds]
        per_copy = [min(r[last][k][n] for r in rounds) for k in range(a.copies)]
        print(f"{n:70s} " + " ".join(f"{v:10.2f}" for v in mins)
              + f"   {mins[-1] / mins[0]:.3f}  ({min(per_round):.2f}-{max(per_round):.2f})"
              + f"  {max(per_copy) / min(per_copy):.2f}")


if __name__ == "__main__":
    main()

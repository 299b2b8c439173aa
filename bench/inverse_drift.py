#!/usr/bin/env python3
"""How far a state rebuilt by inverse steps drifts: the backward
formulations that rebuild S_{k-1} = S_k exp(-z_k) from the output, or
carry the adjoint forward through exp(-z_k), lean on this
(docs/benchmarks.md, "Why backward <= 2.5x is not met").

A path followed by itself reversed has the unit as its signature: steps
n+1..2n undo steps 1..n one by one, so what the tensig CLI computes at
the end is S(x) exp(-z_n) ... exp(-z_1), the rebuilt start state, whose
true levels 1..N are zero. Standard library and the tensig CLI only:

    bench/inverse_drift.py build/tensig L d N [seed]

A random walk of L points with unit normal steps; prints, per level, the
largest entry of S(x) and the largest entry of the rebuilt start.
"""
import csv
import os
import random
import subprocess
import sys
import tempfile


def main():
    cli, L, d, N = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(int(sys.argv[5]) if len(sys.argv) > 5 else 7)
    x = [[0.0] * d]
    for _ in range(L - 1):
        x.append([v + rng.gauss(0.0, 1.0) for v in x[-1]])
    with tempfile.TemporaryDirectory() as tmp:
        def sig(points, name):
            src, out = os.path.join(tmp, name + ".csv"), os.path.join(tmp, name + "_sig.csv")
            with open(src, "w", newline="") as f:
                csv.writer(f).writerows([[repr(v) for v in p] for p in points])
            subprocess.run([cli, "-q", "sig", "-N", str(N), src, out], check=True)
            with open(out) as f:
                return [float(v) for row in csv.reader(f) for v in row if v.strip()]
        S = sig(x, "path")
        U = sig(x + x[-2::-1], "there_and_back")
    off, n = 0, d
    print("| level | max abs S(x) | max abs rebuilt start (exact: 0) |")
    print("|---|---|---|")
    for k in range(1, N + 1):
        print(f"| {k} | {max(abs(v) for v in S[off:off + n]):.3g} | {max(abs(v) for v in U[off:off + n]):.3g} |")
        off, n = off + n, n * d


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Backward / forward of `signature` on the standard shapes, from one binary.

    python3 bench/backward_ratio.py build/bench/bench_signature 4 --cpu 0

Runs every standard shape's forward and backward (float64, one thread) in
turn, ROUNDS times, each with three repetitions, pinned to one CPU, and
prints the minimum time of each and backward / forward of the minima. On a
noisy machine the minima of many short runs are steadier than one long run:
a shape's forward and backward are then compared at their least disturbed.
"""
import argparse
import collections
import json
import subprocess

FILTER = r'^(signature|signature_backward)<double>/B:[0-9]+/L:[0-9]+/d:[0-9]+/N:[0-9]+/threads:1/'
UNIT = {'ns': 1e-9, 'us': 1e-6, 'ms': 1e-3, 's': 1.0}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('binary')
    ap.add_argument('rounds', type=int)
    ap.add_argument('--cpu', type=int, default=0)
    args = ap.parse_args()
    best = collections.defaultdict(lambda: float('inf'))
    for _ in range(args.rounds):
        out = subprocess.run(['taskset', '-c', str(args.cpu), args.binary, '--benchmark_filter=' + FILTER,
                              '--benchmark_min_time=0.2', '--benchmark_repetitions=3', '--benchmark_format=json'],
                             capture_output=True, text=True, check=True).stdout
        for b in json.loads(out)['benchmarks']:
            if b.get('run_type') == 'iteration':
                best[b['run_name']] = min(best[b['run_name']], b['real_time'] * UNIT[b['time_unit']])
    print('| shape | forward | backward | backward / forward |')
    print('|---|---|---|---|')
    for k in sorted(best):
        if k.startswith('signature<'):
            kb = k.replace('signature<', 'signature_backward<', 1)
            shape = k.split('/')[1:5]
            print(f"| {'/'.join(shape)} | {best[k] * 1e6:.1f} us | {best[kb] * 1e6:.1f} us | {best[kb] / best[k]:.2f} |")


if __name__ == '__main__':
    main()

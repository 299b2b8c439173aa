#!/usr/bin/env python3
"""What one function of a perf profile issues to the floating-point units,
counted in its machine code (perf annotate), for a straight-line kernel
(every instruction runs once a call) against the FMA pipes' bound:

    perf record -F 1000 -o perf.data -- taskset -c 0 build/bench/bench_signature \\
        --benchmark_filter='^signature_backward<double>/B:128/L:128/d:4/N:6/threads:1/' --benchmark_min_time=3
    bench/fma_ops.py perf.data 'kernels<xsimd::avx512f, double>::lanes_bwd_last_three<4ul, 3ul>'

It prints the instruction counts by kind and the branches, so that a
reader can see whether the function is straight-line (then the counts are
per call). FMA-pipe operations are the fused multiply-adds and the
multiplies (on the Zen 4 and 5 the additions have pipes of their own);
two a cycle is the machine's peak (the fma_peak benchmark). Standard
library and perf only; docs/benchmarks.md ("Why backward <= 2.5x is not
met") uses it.
"""
import re
import subprocess
import sys
from collections import Counter


def instructions(data, symbol):
    out = subprocess.run(['perf', 'annotate', '-i', data, '--stdio', '-s', symbol], capture_output=True,
                         text=True, check=True).stdout
    for line in out.splitlines():
        m = re.match(r'\s*[0-9.]+\s*:\s*[0-9a-f]+:\s*(\S+)\s*(.*)$', line)
        if m:
            yield m.group(1), m.group(2)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    data, pattern = sys.argv[1], sys.argv[2]
    names = subprocess.run(['perf', 'report', '-i', data, '--stdio', '--no-children', '-F', 'sym'],
                           capture_output=True, text=True, check=True).stdout
    found = sorted({m.group(1).strip() for m in re.finditer(r'\[\.\]\s+(.*)', names) if pattern in m.group(1)})
    if len(found) != 1:
        sys.exit(f'{len(found)} symbols match {pattern!r}: {found[:5]}')
    kinds = Counter()
    for op, args in instructions(data, found[0]):
        if re.match(r'vf(n?)m(add|sub)', op):
            kinds['fma'] += 1
        elif op.startswith('vmulp'):
            kinds['multiply'] += 1
        elif op.startswith(('vaddp', 'vsubp')):
            kinds['add'] += 1
        elif op.startswith('j') or op in ('call', 'ret'):
            kinds['branch ' + op] += 1
        else:
            kinds['other'] += 1
        # memory operands: a store writes to "(...)" last, a load reads one elsewhere
        if '(' in args and op.startswith('v'):
            kinds['store' if args.rstrip().endswith(')') else 'load'] += 1
    print(found[0])
    for k in ('fma', 'multiply', 'add', 'load', 'store', 'other'):
        print(f'  {k:10s} {kinds[k]}')
    for k in sorted(k for k in kinds if k.startswith('branch')):
        print(f'  {k:10s} {kinds[k]}')
    fma_pipe = kinds['fma'] + kinds['multiply']
    print(f'  FMA-pipe operations {fma_pipe}: {fma_pipe / 2:.0f} cycles at two a cycle')


if __name__ == '__main__':
    main()

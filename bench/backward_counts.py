#!/usr/bin/env python3
"""Multiply-adds of signature_backward against signature, per standard
shape, for the backward as built and for the formulations it is compared
with in docs/benchmarks.md ("Why backward <= 2.5x is not met"). Standard
library only; counts, not timings:

    bench/backward_counts.py

Per fused step (one segment, dimension d, depth N):
  F       = sum_{k=1..N} sum_{j=1..k} d^j  the forward's Horner chains
  F_{N-1} = the same at depth N - 1          the sweep that keeps each
                                             pass's starting state
  E       = sum_{k=1..N} d^k                 exp(z) of the first step
The reverse of a step recomputes its chains' partial sums (F - d^N: the
top chain's last step makes no partial sum) and takes two multiply-adds
per partial sum, one for the gradient it passes on and one for dL/dz
(2F - N d: the first step of each chain passes nothing on).

Formulations:
  built     the backward as it runs: the reverse of every step, and a sweep
            at depth N - 1 through the steps before the last pass, which
            keeps each pass's starting state (passes of
            horner::lanes_backward_segments). The seed's shape starts from
            exp(z_0) in both directions (the forward does E multiplies, the
            backward 2E by the exponential's adjoint) and its six other
            steps are one pass: no sweep.
  inverse   each pass's start rebuilt from the next, S exp(-z) at depth
            N - 1 for every step, from the output recomputed by a forward
            (or given): the sweep's count again, for every step.
  given     the forward's output given (pySigLib's sig_backprop takes it):
            the adjoint carried forward, A_k = A_{k-1} exp(-z_k)^T, from
            A_0 = G S^T (sum_{l=1..N} l d^l, once per path), with the
            states and partial sums computed forward alongside: no sweep.
The forward is n fused steps (n = L - 1; the seed: E + (n - 1) F).
"""

SHAPES = [(1, 8, 2, 12), (128, 128, 4, 6), (32, 256, 8, 4), (1, 10000, 3, 5), (64, 64, 2, 10)]
# Segments per reverse pass (horner::lanes_backward_segments) with AVX-512's
# 32 registers; with 16 (AVX2), d = 4 has 2, which moves its count by one
# step's sweep in 127: less than 0.1%.
PASS = {2: 4, 3: 3, 4: 3, 8: 4}


def F(d, N):
    return sum(d ** j for k in range(1, N + 1) for j in range(1, k + 1))


def counts(L, d, N):
    """(built, inverse, given): the backward's multiply-adds over the forward's."""
    n = L - 1
    E = sum(d ** k for k in range(1, N + 1))
    reverse = 3 * F(d, N) - d ** N - N * d  # recompute F - d^N, adjoint 2F - N d
    A0 = sum(l * d ** l for l in range(1, N + 1))
    if L == 8 and d == 2:  # the seed's route (prefix lanes)
        forward, steps, sweep = E + (n - 1) * F(d, N), n - 1, 0
        first = 2 * E
    else:
        forward, steps, first = n * F(d, N), n, 0
        sweep = max(n - PASS[d], 0) * F(d, N - 1)
    built = steps * reverse + first + sweep
    inverse = steps * reverse + first + steps * F(d, N - 1)
    given = steps * reverse + first + A0
    return built / forward, inverse / forward, given / forward


def main():
    print("| (B, L, d, N) | F | F_(N-1) | built | inverse | given |")
    print("|---|---|---|---|---|---|")
    for B, L, d, N in SHAPES:
        built, inverse, given = counts(L, d, N)
        print(f"| ({B}, {L}, {d}, {N}) | {F(d, N)} | {F(d, N - 1)} | {built:.2f} | {inverse:.2f} | {given:.2f} |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Turn the JSON output of bench_kernels and bench_signature into the
markdown tables of docs/benchmarks.md, with every ratio computed from the
same run. Standard library only.

    bench/report.py kernels.json signature.json > tables.md

With --benchmark_repetitions the "min" aggregate (the fastest repetition,
the one least disturbed by other processes) is used, else the median, else
the single run. Times are wall-clock (real_time), as Google Benchmark prints
them; rates are the per-iteration work counters ("flops", "bytes") divided
by that time, so every rate matches its time.
"""
import json
import re
import sys

# iisignature, single thread, "on this kind of machine": quoted in issue 2,
# not measured here (seconds).
IISIG = {(1, 8, 2, 12): 0.64e-3, (128, 128, 4, 6): 0.47, (32, 256, 8, 4): 0.128,
         (1, 10000, 3, 5): 19e-3, (64, 64, 2, 10): 82e-3}
# Issue 6 targets (float64, single thread, seconds).
TARGET6 = {(1, 8, 2, 12): 27e-6, (128, 128, 4, 6): 18e-3, (32, 256, 8, 4): 6e-3,
           (1, 10000, 3, 5): 1.3e-3, (64, 64, 2, 10): 4.1e-3}
UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def load(path):
    """name -> entry (seconds in 't'), preferring the min aggregate, then the median."""
    with open(path) as f:
        data = json.load(f)
    runs, aggs = {}, {"median": {}, "min": {}}
    for b in data["benchmarks"]:
        b = dict(b)
        b["t"] = b["real_time"] * UNIT[b["time_unit"]]
        if "flops" in b:
            b["FLOP/s"] = b["flops"] / b["t"]
        if "bytes" in b:
            b["bytes_per_second"] = b["bytes"] / b["t"]
        name = b["run_name"].removesuffix("/real_time")  # added by UseRealTime()
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") in aggs:
                aggs[b["aggregate_name"]][name] = b
        else:
            runs.setdefault(name, b)
    runs.update(aggs["median"])
    runs.update(aggs["min"])
    return data["context"], runs


def fmt_t(t):
    if t < 1e-3:
        return f"{t * 1e6:.3g} µs"
    if t < 1:
        return f"{t * 1e3:.3g} ms"
    return f"{t:.3g} s"


def madds(d, n):
    return sum(d ** j for k in range(1, n + 1) for j in range(1, k + 1))


def main(kpath, spath):
    kctx, k = load(kpath)
    sctx, s = load(spath)
    out = []
    w = out.append
    for name, ctx in (("bench_kernels", kctx), ("bench_signature", sctx)):
        w(f"- {name}: run {ctx['date']}, load average at start "
          f"{', '.join(f'{x:.2f}' for x in ctx['load_avg'])}")
    w("")

    # ---- FMA peak
    peak = {}
    w("### FMA peak of one core\n")
    w("| type | instruction set | GFLOP/s |")
    w("|---|---|---|")
    for name, b in sorted(k.items()):
        m = re.match(r"fma_peak/(\w+)/(\w+)", name)
        if m:
            g = b["FLOP/s"] / 1e9
            peak[m.group(1)] = max(peak.get(m.group(1), 0), g)
            w(f"| {m.group(1)} | {m.group(2)} | {g:.1f} |")
    w("")

    # ---- fmexp
    archs = sorted({m.group(1) for n in k for m in [re.match(r"fmexp<\w+>/([^/]+)/d:", n)] if m}
                   - {"dispatched", "scalar"})
    shapes = []
    for n in k:
        m = re.match(r"fmexp<(\w+)>/dispatched/d:(\d+)/N:(\d+)", n)
        if m:
            shapes.append((m.group(1), int(m.group(2)), int(m.group(3))))
    if shapes:  # (not in the session-9 filter: bench_kernels '^fmexp<' runs them)
        w("### Fused multiply-exponentiate, one call (A <- A ⊗ exp(z))\n")
        w("| type | d | N | madds/call | scalar twin | dispatched (isa) | speed-up | GFLOP/s | % of peak | "
          + " | ".join(f"{a}" for a in archs) + " | best isa speed-up |")
        w("|---|---|---|---|---|---|---|---|---|" + "---|" * len(archs) + "---|")
    for T, d, N in shapes:
        pre = f"fmexp<{T}>/"
        suf = f"/d:{d}/N:{N}"
        sc = k[pre + "scalar" + suf]["t"] / 2
        dp = k[pre + "dispatched" + suf]
        td = dp["t"] / 2
        g = dp["FLOP/s"] / 1e9
        per = {a: k[pre + a + suf]["t"] / 2 for a in archs if pre + a + suf in k}
        best = min(per, key=per.get)
        w(f"| {T} | {d} | {N} | {madds(d, N)} | {fmt_t(sc)} | {fmt_t(td)} ({dp.get('label', '')}) | "
          f"{sc / td:.2f}x | {g:.2f} | {100 * g / peak[T]:.1f}% | "
          + " | ".join(f"{fmt_t(per[a])} ({sc / per[a]:.2f}x)" for a in archs)
          + f" | {sc / per[best]:.2f}x ({best}) |")
    if shapes:
        w("")

    # ---- fmexp_block: the block of segments the signature routes run
    blocks = sorted({(m.group(1), int(m.group(2)), int(m.group(3))) for n in k
                     for m in [re.match(r"fmexp_block<(\w+)>/lanes/d:(\d+)/N:(\d+)$", n)] if m},
                    key=lambda x: (x[0], x[1], x[2]))
    if blocks:
        w("### Fused multiply-exponentiate on a block of segments: one path at a time, or paths in lanes\n")
        w("| type | d | N | madds per segment | paths | GFLOP/s | % of peak | lanes | GFLOP/s | % of peak | "
          "lanes speed-up |")
        w("|---|---|---|---|---|---|---|---|---|---|---|")
        for T, d, N in blocks:
            ln = k[f"fmexp_block<{T}>/lanes/d:{d}/N:{N}"]
            pt = k.get(f"fmexp_block<{T}>/paths/d:{d}/N:{N}")
            gl = ln["FLOP/s"] / 1e9
            cells = ["", "", ""]
            if pt:
                gp = pt["FLOP/s"] / 1e9
                cells = [fmt_t(pt["t"]), f"{gp:.1f}", f"{100 * gp / peak[T]:.1f}%"]
            w(f"| {T} | {d} | {N} | {madds(d, N)} | {' | '.join(cells)} | {fmt_t(ln['t'])} | {gl:.1f} | "
              f"{100 * gl / peak[T]:.1f}% | " + (f"{pt['t'] / ln['t']:.2f}x |" if pt else " |"))
        w("")

    # ---- truncated product
    prods = sorted({(m.group(1), int(m.group(2)), int(m.group(3))) for n in k
                    for m in [re.match(r"product<(\w+)>/dispatched/d:(\d+)/N:(\d+)$", n)] if m})
    if prods:
        w("### Truncated product c = a ⊗ b (two dense tensors)\n")
        w("| type | d | N | madds/call | scalar twin | dispatched | GFLOP/s | % of peak | speed-up |")
        w("|---|---|---|---|---|---|---|---|---|")
        for T, d, N in prods:
            dp = k[f"product<{T}>/dispatched/d:{d}/N:{N}"]
            sc = k.get(f"product<{T}>/scalar/d:{d}/N:{N}")
            g = dp["FLOP/s"] / 1e9
            w(f"| {T} | {d} | {N} | {int(dp['flops'] / 2)} | {fmt_t(sc['t']) if sc else ''} | {fmt_t(dp['t'])} | "
              f"{g:.1f} | {100 * g / peak[T]:.1f}% | " + (f"{sc['t'] / dp['t']:.1f}x |" if sc else " |"))
        w("")
    adjs = sorted({(m.group(1), int(m.group(2)), int(m.group(3))) for n in k
                   for m in [re.match(r"product_adjoint<(\w+)>/dispatched/d:(\d+)/N:(\d+)", n)] if m})
    if adjs:
        w("### The product's adjoint: ga += gc ⌟ b and gb += a ⊳ gc\n")
        w("| type | d | N | madds/call | scalar twin | rows | dispatched | GFLOP/s | % of peak | rows / dispatched |")
        w("|---|---|---|---|---|---|---|---|---|---|")
        for T, d, N in adjs:
            get = lambda way: k.get(f"product_adjoint<{T}>/{way}/d:{d}/N:{N}")
            dp, rw, sc = get("dispatched"), get("rows"), get("scalar")
            g = dp["FLOP/s"] / 1e9
            w(f"| {T} | {d} | {N} | {int(dp['flops'] / 2)} | {fmt_t(sc['t']) if sc else ''} | "
              f"{fmt_t(rw['t']) if rw else ''} | {fmt_t(dp['t'])} | {g:.1f} | {100 * g / peak[T]:.1f}% | "
              + (f"{rw['t'] / dp['t']:.2f}x |" if rw else " |"))
        w("")

    # ---- expression chain
    chains = [(m.group(1), m.group(2)) for n in sorted(k) for m in [re.match(r"expr_chain<(\w+)>/lazy/N:(\d+)", n)]
              if m and all(f"expr_chain<{m.group(1)}>/{x}/N:{m.group(2)}" in k
                           for x in ("eager", "eager_prealloc", "hand_loop", "copy"))]
    if chains:
        w("### Expression chain d = a + 2*b - c (dimension 2, depth N)\n")
        w("| type | N | coefficients | lazy | eager (new temporaries) | eager (temporaries reused) | hand loop | copy | "
          "lazy GB/s | copy GB/s | lazy / copy bandwidth | eager / lazy time | eager reused / lazy time |")
        w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for T, N in chains:
        get = lambda impl: k[f"expr_chain<{T}>/{impl}/N:{N}"]
        lz, eg, ep, hl, cp = (get(x) for x in ("lazy", "eager", "eager_prealloc", "hand_loop", "copy"))
        bl, bc = lz["bytes_per_second"] / 1e9, cp["bytes_per_second"] / 1e9
        w(f"| {T} | {N} | {int(lz['coefficients'])} | {fmt_t(lz['t'])} | {fmt_t(eg['t'])} | {fmt_t(ep['t'])} | "
          f"{fmt_t(hl['t'])} | {fmt_t(cp['t'])} | {bl:.1f} | {bc:.1f} | {100 * bl / bc:.0f}% | "
          f"{eg['t'] / lz['t']:.2f}x | {ep['t'] / lz['t']:.2f}x |")
    if chains:
        w("")

    # ---- signature
    def sig(T, shape, arch=None, threads="1", kind="signature"):
        """The entry of one signature benchmark; names without /threads: are
        the forced-isa runs (always one thread) and older runs."""
        B, L, d, N = shape
        key = f"{kind}<{T}>/" + (arch + "/" if arch else "") + f"B:{B}/L:{L}/d:{d}/N:{N}"
        return s.get(f"{key}/threads:{threads}") or (s.get(key) if threads == "1" else None)

    # (a section, or a row, whose runs are not in the files is left out: a
    # partial run, say of the grid alone, still gets its tables)
    shapes = [shape for shape in IISIG if sig("double", shape) and sig("float", shape)]
    if shapes:
        w("### signature, single thread, kernels chosen at run time\n")
        w("| (B, L, d, N) | float64 | GFLOP/s | % of peak | float32 | f32 speed-up | iisignature (quoted) | "
          "vs iisignature | issue 2: ≥ 5x | issue 6 target | met |")
        w("|---|---|---|---|---|---|---|---|---|---|---|")
    for shape in shapes:
        b64, b32 = sig("double", shape), sig("float", shape)
        g = b64["FLOP/s"] / 1e9
        r = IISIG[shape] / b64["t"]
        w(f"| {shape} | {fmt_t(b64['t'])} ({b64.get('label', '')}) | {g:.2f} | {100 * g / peak['double']:.1f}% | "
          f"{fmt_t(b32['t'])} | {b64['t'] / b32['t']:.2f}x | {fmt_t(IISIG[shape])} | {r:.1f}x | "
          f"{'yes' if r >= 5 else 'no'} | ≤ {fmt_t(TARGET6[shape])} | {'yes' if b64['t'] <= TARGET6[shape] else 'no'} |")
    if shapes:
        w("")

    if any(sig("double", shape, kind="signature_backward") for shape in IISIG):
        w("### signature forward and backward, float64, one thread and all cores\n")
        w("| (B, L, d, N) | forward, 1 thread | forward, all cores | speed-up | backward, 1 thread | "
          "backward, all cores | speed-up | backward / forward (1 thread) | issue 6: ≤ 2.5x | issue 3: ≤ 3x |")
        w("|---|---|---|---|---|---|---|---|---|---|")
        for shape in IISIG:
            f1, fa = sig("double", shape), sig("double", shape, threads="all")
            b1, ba = (sig("double", shape, threads=x, kind="signature_backward") for x in ("1", "all"))
            if not (f1 and fa and b1 and ba):
                continue
            ratio = b1["t"] / f1["t"]
            # issue 3 sets its bound for these two shapes only
            issue3 = ("yes" if ratio <= 3 else "no") if shape in ((1, 8, 2, 12), (128, 128, 4, 6)) else "–"
            w(f"| {shape} | {fmt_t(f1['t'])} | {fmt_t(fa['t'])} | {f1['t'] / fa['t']:.2f}x | {fmt_t(b1['t'])} | "
              f"{fmt_t(ba['t'])} | {b1['t'] / ba['t']:.2f}x | {ratio:.2f}x | {'yes' if ratio <= 2.5 else 'no'} | "
              f"{issue3} |")
        w("")

    sarchs = sorted({m.group(1) for n in s for m in [re.match(r"signature<double>/([^B][^/]*)/B:", n)] if m})
    forced = [shape for shape in IISIG if sarchs and all(sig("double", shape, a) for a in sarchs)]
    if forced:
        w("### signature, float64, each instruction set forced\n")
        w("| (B, L, d, N) | " + " | ".join(sarchs) + " | best | best vs iisignature | best meets issue 6 |")
        w("|---|" + "---|" * len(sarchs) + "---|---|---|")
    for shape in forced:
        per = {a: sig("double", shape, a)["t"] for a in sarchs}
        best = min(per, key=per.get)
        w(f"| {shape} | " + " | ".join(fmt_t(per[a]) for a in sarchs)
          + f" | {best} | {IISIG[shape] / per[best]:.1f}x | {'yes' if per[best] <= TARGET6[shape] else 'no'} |")
    if forced:
        w("")
    # ---- log-signature in each basis
    logs = sorted({(m.group(1), m.group(2)) for n in s
                   for m in [re.match(r"logsignature<double>/(\w+)/(B:\d+/L:\d+/d:\d+/N:\d+)/threads:1", n)] if m})
    if logs:
        w("### logsignature, float64, one thread\n")
        w("| shape | basis | logsignature | signature (same run) | logsig / sig | backward (lyndon) |")
        w("|---|---|---|---|---|---|")
        for basis, shp in sorted(logs, key=lambda x: (x[1], x[0])):
            lg = s[f"logsignature<double>/{basis}/{shp}/threads:1"]
            sg = s.get(f"signature<double>/{shp}/threads:1")
            bw = s.get(f"logsignature_backward<double>/{basis}/{shp}/threads:1")
            w(f"| {shp} | {basis} | {fmt_t(lg['t'])} | {fmt_t(sg['t']) if sg else ''} | "
              f"{lg['t'] / sg['t']:.2f}x | {fmt_t(bw['t']) if bw else ''} |" if sg else
              f"| {shp} | {basis} | {fmt_t(lg['t'])} | | | |")
        w("")

    # ---- the peers' grid
    grid = sorted({(int(m.group(1)), int(m.group(2))) for n in s
                   for m in [re.match(r"grid<float>/B:32/L:10000/d:(\d+)/N:(\d+)/", n)] if m})
    if grid:
        w("### The peers' grid: float32, B = 32, L = 10000\n")
        w("| d | N | forward, 1 thread | GFLOP/s | % of peak | forward, all cores | backward, 1 thread | "
          "backward, all cores | backward / forward |")
        w("|---|---|---|---|---|---|---|---|---|")
        for d, N in grid:
            g = lambda kind, t: s.get(f"grid<float>/B:32/L:10000/d:{d}/N:{N}/{kind}/threads:{t}")
            f1, fa, b1, ba = g("fwd", "1"), g("fwd", "all"), g("bwd", "1"), g("bwd", "all")
            if not (f1 and fa and b1 and ba):
                continue
            gf = f1["FLOP/s"] / 1e9
            w(f"| {d} | {N} | {fmt_t(f1['t'])} | {gf:.2f} | {100 * gf / peak['float']:.1f}% | {fmt_t(fa['t'])} | "
              f"{fmt_t(b1['t'])} | {fmt_t(ba['t'])} | {b1['t'] / f1['t']:.2f}x |")
        w("")
    print("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: report.py KERNELS.json SIGNATURE.json")
    main(sys.argv[1], sys.argv[2])

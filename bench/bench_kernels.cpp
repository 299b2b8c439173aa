// Kernel benchmarks (Google Benchmark). Every figure comes with a baseline in
// the same run, so docs/benchmarks.md can quote ratios:
//
// - fmexp<T>/{dispatched,scalar,<arch>}/d:D/N:N: the fused
//   multiply-exponentiate A <- A ⊗ exp(z), the SIMD kernel picked at run time
//   vs its scalar twin (kernels/scalar.hpp, compiled here with default flags)
//   vs each instruction set forced with kernels::force_arch.
// - fmexp_adjoint<T>/{dispatched,scalar}/d:D/N:N: its adjoint from a record
//   (the backward pass's per-segment work) vs the scalar twin.
// - fmexp_block{,_record,_adjoint}<T>/{lanes,paths}/d:D/N:N: four segments on
//   kernels::lanes<T>() paths, in SIMD lanes (fmexp_lanes; levels 0..N-1
//   only, the checkpoints' pass; fmexp_lanes_backward, which recomputes what
//   it needs from levels 0..N-1) vs one path at a time (fmexp_many, with
//   records; fmexp_adjoint_many from them): what the signature and its
//   backward run on a batch.
// - gram<double>/{dispatched,scalar}/n:N/m:M/ld:S: Gauss-Newton's weighted
//   normal matrix of N columns of length M, stride S (M; M + 1, the layout of
//   the inversion's tangents; 8192, columns 64 KiB apart, which costs cache sets).
// - fma_peak/<T>/<isa>: the FMA throughput of one core (independent fused
//   multiply-adds in registers), the ceiling the FLOP rates are compared with.
// - expr_chain<T>/{lazy,eager,eager_prealloc,hand_loop,copy}/N:N on tensors
//   of dimension 2 and depth N (N = 19: 2^20 - 1 coefficients): the lazy
//   `d = a + 2*b - c` vs an eager version with temporaries vs a plain copy loop
//   (the memory-bandwidth baseline).
//
// FLOP count of one fmexp (DESIGN.md §1): sum_{k=1..N} sum_{j=1..k} d^j
// multiply-adds, an FMA counting as 2 FLOPs.

#include <algorithm>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include <immintrin.h>

#include <benchmark/benchmark.h>

#include <tensig/tensig.hpp>

#include "flops.hpp"

namespace {

using tensig::aligned_vector;
namespace kernels = tensig::kernels;

using bench::fmexp_madds;

template <class T> const char* type_name() {
    return sizeof(T) == 8 ? "double" : "float";
}

// ---- fused multiply-exponentiate --------------------------------------------------

enum class fmexp_impl { dispatched, scalar, forced };

/// A <- A ⊗ exp(z), then A <- A ⊗ exp(-z): two calls per iteration that bring
/// A back to where it was (up to rounding), so the values stay bounded however
/// many iterations run. A starts as the signature of a few random segments,
/// so every level is dense.
template <class T>
void bm_fmexp(benchmark::State& state, std::size_t d, std::size_t N, fmexp_impl impl,
              const std::string& arch) {
    const tensig::shape s(d, N);
    std::mt19937_64 rng(20240601);
    std::uniform_real_distribution<double> unif(-0.5, 0.5);
    tensig::tensor<T> A = tensig::tensor<T>::unit(s);
    std::vector<T> z(d), mz(d);
    for (int seg = 0; seg < 3; ++seg) {
        for (auto& v : z)
            v = T(unif(rng));
        kernels::scalar::fmexp(A.data(), z.data(), d, N,
                               std::vector<T>(kernels::scalar::fmexp_scratch_size(d, N)).data());
    }
    for (std::size_t i = 0; i < d; ++i) {
        z[i] = T(0.3 * unif(rng));
        mz[i] = -z[i];
    }
    std::vector<T> scratch(kernels::scalar::fmexp_scratch_size(d, N));

    if (impl == fmexp_impl::forced) kernels::force_arch(arch);
    state.SetLabel(impl == fmexp_impl::scalar ? "scalar twin" : kernels::active_arch());
    T* a = A.data();
    for (auto _ : state) {
        if (impl == fmexp_impl::scalar) {
            kernels::scalar::fmexp(a, z.data(), d, N, scratch.data());
            kernels::scalar::fmexp(a, mz.data(), d, N, scratch.data());
        } else {
            kernels::fmexp(a, z.data(), d, N);
            kernels::fmexp(a, mz.data(), d, N);
        }
        benchmark::DoNotOptimize(a);
        benchmark::ClobberMemory();
    }
    if (impl == fmexp_impl::forced) kernels::force_arch("");

    const double calls = 2.0 * double(state.iterations());
    state.SetItemsProcessed(static_cast<std::int64_t>(calls));
    state.counters["FLOP/s"] =
        benchmark::Counter(2.0 * fmexp_madds(d, N) * calls, benchmark::Counter::kIsRate);
    state.counters["flops"] = 2.0 * 2.0 * fmexp_madds(d, N); // per iteration (two calls), for bench/report.py
}

/// What bm_fmexp_block runs: the fused step, its recording version (levels
/// below N: in lanes, the checkpoints' pass at depth N-1; one path at a
/// time, with the records its adjoint reads), or the adjoint.
enum class block_op { forward, record, adjoint };

/// A block of four segments (z, -z, z, -z) on kernels::lanes<T>() paths:
/// one kernel call on interleaved tensors ("lanes": fmexp_lanes, at depth
/// N-1, fmexp_lanes_backward), or one call per path ("paths", what the
/// one-path route runs: fmexp_many, with records and update_top false,
/// fmexp_adjoint_many). Each path starts as the signature of a few random
/// segments. FLOPs are counted as the forward's (2 madds(d, N) per
/// segment) for every op, as for signature_backward.
template <class T>
void bm_fmexp_block(benchmark::State& state, std::size_t d, std::size_t N, bool lanes, block_op op) {
    const tensig::shape s(d, N);
    const std::size_t W = kernels::lanes<T>(), m = 4, size = s.size();
    std::mt19937_64 rng(20240602);
    std::uniform_real_distribution<double> unif(-0.5, 0.5);
    std::vector<tensig::tensor<T>> A, G;
    std::vector<std::vector<T>> Z;
    for (std::size_t l = 0; l < W; ++l) {
        A.push_back(tensig::tensor<T>::unit(s));
        G.push_back(tensig::tensor<T>::unit(s));
        std::vector<T> z(d);
        for (int seg = 0; seg < 3; ++seg) {
            for (auto& v : z)
                v = T(unif(rng));
            kernels::fmexp(A[l].data(), z.data(), d, N);
        }
        for (std::size_t i = 0; i < size; ++i)
            G[l][i] = T(unif(rng));
        for (auto& v : z)
            v = T(0.3 * unif(rng));
        Z.emplace_back(m * d);
        for (std::size_t k = 0; k < m; ++k)
            for (std::size_t b = 0; b < d; ++b)
                Z[l][k * d + b] = k % 2 ? -z[b] : z[b];
    }
    tensig::aligned_vector<T> AL(size * W), GL(size * W), ZL(m * d * W), GZL(m * d * W);
    for (std::size_t l = 0; l < W; ++l) {
        for (std::size_t i = 0; i < size; ++i) {
            AL[i * W + l] = A[l][i];
            GL[i * W + l] = G[l][i];
        }
        for (std::size_t i = 0; i < m * d; ++i)
            ZL[i * W + l] = Z[l][i];
    }
    const std::size_t RP = kernels::scalar::fmexp_record_size(d, N);
    tensig::aligned_vector<T> recP(W * m * RP), GZP(W * m * d);
    if (op == block_op::adjoint) { // the records the one-path adjoint reads
        for (std::size_t l = 0; l < W; ++l) {
            auto t = A[l];
            kernels::fmexp_many(t.data(), Z[l].data(), m, d, N, recP.data() + l * m * RP, false);
        }
    }
    state.SetLabel(kernels::active_arch() + ", " + std::to_string(W) + " lanes");
    for (auto _ : state) {
        if (lanes) {
            if (op == block_op::forward)
                kernels::fmexp_lanes(AL.data(), ZL.data(), m, d, N);
            else if (op == block_op::record) {
                if (N > 1) kernels::fmexp_lanes(AL.data(), ZL.data(), m, d, N - 1);
            } else
                kernels::fmexp_lanes_backward(AL.data(), GL.data(), GZL.data(), ZL.data(), m, d, N);
            benchmark::DoNotOptimize(AL.data());
            benchmark::DoNotOptimize(GL.data());
        } else {
            for (std::size_t l = 0; l < W; ++l) {
                if (op == block_op::forward)
                    kernels::fmexp_many(A[l].data(), Z[l].data(), m, d, N);
                else if (op == block_op::record)
                    kernels::fmexp_many(A[l].data(), Z[l].data(), m, d, N, recP.data() + l * m * RP, false);
                else
                    kernels::fmexp_adjoint_many(G[l].data(), GZP.data() + l * m * d, recP.data() + l * m * RP,
                                                Z[l].data(), m, d, N);
                benchmark::DoNotOptimize(A[l].data());
            }
        }
        benchmark::ClobberMemory();
    }
    const double segments = double(W * m);
    state.counters["FLOP/s"] = benchmark::Counter(2.0 * fmexp_madds(d, N) * segments * double(state.iterations()),
                                                  benchmark::Counter::kIsRate);
    state.counters["flops"] = 2.0 * fmexp_madds(d, N) * segments;
}

/// The adjoint of fmexp from its record (what the backward pass runs per
/// segment): the records of A ⊗ exp(z) and of (A ⊗ exp(z)) ⊗ exp(-z) are
/// taken once, and each iteration runs the two adjoints in reverse order,
/// which bring the gradient back to where it was (up to rounding). Two
/// multiply-adds per Horner term: 4 madds(d, N) FLOPs per call.
template <class T> void bm_fmexp_adjoint(benchmark::State& state, std::size_t d, std::size_t N, bool scalar) {
    const tensig::shape s(d, N);
    std::mt19937_64 rng(20240602);
    std::uniform_real_distribution<double> unif(-0.5, 0.5);
    std::vector<T> scratch(std::max(kernels::scalar::fmexp_scratch_size(d, N),
                                    kernels::scalar::fmexp_adjoint_scratch_size(d, N)));
    tensig::tensor<T> A = tensig::tensor<T>::unit(s), G(s);
    std::vector<T> z(d), mz(d), gz(d, T(0));
    for (int seg = 0; seg < 3; ++seg) {
        for (auto& v : z)
            v = T(unif(rng));
        kernels::scalar::fmexp(A.data(), z.data(), d, N, scratch.data());
    }
    for (std::size_t i = 0; i < s.size(); ++i)
        G[i] = T(unif(rng));
    for (std::size_t i = 0; i < d; ++i) {
        z[i] = T(0.3 * unif(rng));
        mz[i] = -z[i];
    }
    const std::size_t R = kernels::scalar::fmexp_record_size(d, N);
    std::vector<T> rec1(R), rec2(R);
    kernels::fmexp_record(A.data(), z.data(), d, N, rec1.data());
    kernels::fmexp_record(A.data(), mz.data(), d, N, rec2.data());
    state.SetLabel(scalar ? "scalar twin" : kernels::active_arch());
    T* g = G.data();
    for (auto _ : state) {
        if (scalar) {
            kernels::scalar::fmexp_adjoint_recorded(g, gz.data(), rec2.data(), mz.data(), d, N, scratch.data());
            kernels::scalar::fmexp_adjoint_recorded(g, gz.data(), rec1.data(), z.data(), d, N, scratch.data());
        } else {
            kernels::fmexp_adjoint_recorded(g, gz.data(), rec2.data(), mz.data(), d, N);
            kernels::fmexp_adjoint_recorded(g, gz.data(), rec1.data(), z.data(), d, N);
        }
        benchmark::DoNotOptimize(g);
        benchmark::ClobberMemory();
    }
    const double calls = 2.0 * double(state.iterations());
    state.SetItemsProcessed(static_cast<std::int64_t>(calls));
    state.counters["FLOP/s"] =
        benchmark::Counter(4.0 * fmexp_madds(d, N) * calls, benchmark::Counter::kIsRate);
    state.counters["flops"] = 2.0 * 4.0 * fmexp_madds(d, N); // per iteration (two calls)
}

/// Gauss-Newton's normal matrix: the Gram matrix of n columns of length m
/// (n = 15, m = 8190: 7 increments x 2 coordinates and the residual of the
/// 8-point depth-12 inversion), with the twelve levels' weights.
template <class T>
void bm_gram(benchmark::State& state, std::size_t n, std::size_t m, std::size_t ld, bool scalar) {
    std::mt19937_64 rng(20240603);
    std::uniform_real_distribution<double> unif(-1, 1);
    aligned_vector<T> C(n * ld);
    std::vector<T> H(n * n), scales;
    for (auto& v : C)
        v = T(unif(rng));
    std::vector<std::size_t> ends; // levels 1, 2, ... of a d = 2 signature
    for (std::size_t len = 2, end = 0; end < m; len *= 2) {
        end = std::min(m, end + len);
        ends.push_back(end);
        scales.push_back(T(ends.size() * ends.size()));
    }
    state.SetLabel(scalar ? "scalar twin" : kernels::active_arch());
    for (auto _ : state) {
        if (scalar)
            kernels::scalar::gram(H.data(), C.data(), n, m, ld, ends.data(), scales.data(), ends.size());
        else
            kernels::gram(H.data(), C.data(), n, m, ld, ends.data(), scales.data(), ends.size());
        benchmark::DoNotOptimize(H.data());
        benchmark::ClobberMemory();
    }
    const double madds = double(n) * double(n + 1) / 2 * double(m);
    state.counters["FLOP/s"] = benchmark::Counter(2.0 * madds * double(state.iterations()), benchmark::Counter::kIsRate);
    state.counters["flops"] = 2.0 * madds;
}

// ---- the FMA peak of one core --------------------------------------------------

// Acc independent accumulators x <- x * m + c (x converges to c / (1 - m):
// no overflow, no denormals). Enough accumulators to cover latency x ports.
__attribute__((target("avx2,fma"))) double peak_avx2_double(std::int64_t iters) {
    constexpr int Acc = 12;
    __m256d x[Acc];
    for (int j = 0; j < Acc; ++j)
        x[j] = _mm256_set1_pd(0.001 * j);
    const __m256d m = _mm256_set1_pd(0.999999), c = _mm256_set1_pd(1e-7);
    for (std::int64_t i = 0; i < iters; ++i)
        for (int j = 0; j < Acc; ++j)
            x[j] = _mm256_fmadd_pd(x[j], m, c);
    __m256d sum = x[0];
    for (int j = 1; j < Acc; ++j)
        sum = _mm256_add_pd(sum, x[j]);
    alignas(32) double out[4];
    _mm256_store_pd(out, sum);
    return out[0] + out[1] + out[2] + out[3];
}

__attribute__((target("avx2,fma"))) double peak_avx2_float(std::int64_t iters) {
    constexpr int Acc = 12;
    __m256 x[Acc];
    for (int j = 0; j < Acc; ++j)
        x[j] = _mm256_set1_ps(0.001f * float(j));
    const __m256 m = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-5f);
    for (std::int64_t i = 0; i < iters; ++i)
        for (int j = 0; j < Acc; ++j)
            x[j] = _mm256_fmadd_ps(x[j], m, c);
    __m256 sum = x[0];
    for (int j = 1; j < Acc; ++j)
        sum = _mm256_add_ps(sum, x[j]);
    alignas(32) float out[8];
    _mm256_store_ps(out, sum);
    double r = 0;
    for (float v : out)
        r += v;
    return r;
}

__attribute__((target("avx512f"))) double peak_avx512_double(std::int64_t iters) {
    constexpr int Acc = 16;
    __m512d x[Acc];
    for (int j = 0; j < Acc; ++j)
        x[j] = _mm512_set1_pd(0.001 * j);
    const __m512d m = _mm512_set1_pd(0.999999), c = _mm512_set1_pd(1e-7);
    for (std::int64_t i = 0; i < iters; ++i)
        for (int j = 0; j < Acc; ++j)
            x[j] = _mm512_fmadd_pd(x[j], m, c);
    __m512d sum = x[0];
    for (int j = 1; j < Acc; ++j)
        sum = _mm512_add_pd(sum, x[j]);
    alignas(64) double out[8];
    _mm512_store_pd(out, sum); // not _mm512_reduce_add_pd: g++ 12 warns inside it
    double r = 0;
    for (double v : out)
        r += v;
    return r;
}

__attribute__((target("avx512f"))) double peak_avx512_float(std::int64_t iters) {
    constexpr int Acc = 16;
    __m512 x[Acc];
    for (int j = 0; j < Acc; ++j)
        x[j] = _mm512_set1_ps(0.001f * float(j));
    const __m512 m = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(1e-5f);
    for (std::int64_t i = 0; i < iters; ++i)
        for (int j = 0; j < Acc; ++j)
            x[j] = _mm512_fmadd_ps(x[j], m, c);
    __m512 sum = x[0];
    for (int j = 1; j < Acc; ++j)
        sum = _mm512_add_ps(sum, x[j]);
    alignas(64) float out[16];
    _mm512_store_ps(out, sum);
    double r = 0;
    for (float v : out)
        r += v;
    return r;
}

/// `flops_per_inner` = accumulators * lanes * 2.
void bm_fma_peak(benchmark::State& state, double (*kernel)(std::int64_t), double flops_per_inner) {
    constexpr std::int64_t inner = 1 << 16;
    for (auto _ : state) {
        double r = kernel(inner);
        benchmark::DoNotOptimize(r);
    }
    state.counters["FLOP/s"] = benchmark::Counter(
        flops_per_inner * double(inner) * double(state.iterations()), benchmark::Counter::kIsRate);
    state.counters["flops"] = flops_per_inner * double(inner);
}

// ---- expression chain --------------------------------------------------------------

enum class chain_impl { lazy, eager, eager_prealloc, hand_loop, copy };

/// d = a + 2*b - c on tensors of dimension 2 and depth N. Bytes are counted
/// as the useful traffic (STREAM convention): 3 reads + 1 write per
/// coefficient for the chain whatever the implementation, so the bytes/s of
/// two implementations compare like their speeds; 1 read + 1 write for the copy.
template <class T> void bm_expr_chain(benchmark::State& state, chain_impl impl) {
    const tensig::shape s(2, static_cast<std::size_t>(state.range(0)));
    const std::size_t n = s.size();
    tensig::tensor<T> a(s), b(s), c(s), d(s);
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> unif(-1, 1);
    for (std::size_t i = 0; i < n; ++i) {
        a[i] = T(unif(rng));
        b[i] = T(unif(rng));
        c[i] = T(unif(rng));
        d[i] = T(0);
    }
    tensig::tensor<T> t1(s), t2(s); // eager_prealloc's temporaries
    for (auto _ : state) {
        switch (impl) {
        case chain_impl::lazy:
            d = a + 2 * b - c; // one pass, no temporary
            break;
        case chain_impl::eager: {
            // What a library without expression templates does: a new
            // temporary per operator, each a separate pass over memory.
            tensig::tensor<T> e1 = 2 * b;
            tensig::tensor<T> e2 = a + e1;
            d = e2 - c;
            break;
        }
        case chain_impl::eager_prealloc:
            // The same passes into temporaries allocated once, outside the loop.
            t1 = 2 * b;
            t2 = a + t1;
            d = t2 - c;
            break;
        case chain_impl::hand_loop: {
            // The fused loop by hand, compiled here with default flags.
            const T *pa = a.data(), *pb = b.data(), *pc = c.data();
            T* pd = d.data();
            for (std::size_t i = 0; i < n; ++i)
                pd[i] = pa[i] + T(2) * pb[i] - pc[i];
            break;
        }
        case chain_impl::copy: {
            const T* pa = a.data();
            T* pd = d.data();
            for (std::size_t i = 0; i < n; ++i)
                pd[i] = pa[i];
            break;
        }
        }
        T* p = d.data();
        benchmark::DoNotOptimize(p);
        benchmark::ClobberMemory();
    }
    const double per_iter = (impl == chain_impl::copy ? 2.0 : 4.0) * double(n) * sizeof(T);
    state.SetBytesProcessed(static_cast<std::int64_t>(per_iter * double(state.iterations())));
    state.counters["coefficients"] = double(n);
    state.counters["bytes"] = per_iter;
}

enum class transpose_impl { kernel, loop, copy };

/// W interleaved lanes of n values each into W rows (kernels::deinterleave,
/// as signature's lanes routes return their results), against the same
/// loop value by value and a plain copy of as many bytes. The rows start
/// one value past a cache line, as a signature's levels do in its output.
template <class T> void bm_deinterleave(benchmark::State& state, transpose_impl impl) {
    const std::size_t W = kernels::lanes<T>(), n = static_cast<std::size_t>(state.range(0));
    tensig::aligned_vector<T> lanes(W * n), rows(W * n + 64 / sizeof(T));
    for (std::size_t i = 0; i < lanes.size(); ++i)
        lanes[i] = T(static_cast<double>(i));
    T* out = rows.data() + 1;
    for (auto _ : state) {
        switch (impl) {
        case transpose_impl::kernel:
            kernels::deinterleave(lanes.data(), W, n, out, n);
            break;
        case transpose_impl::loop:
            for (std::size_t i = 0; i < n; ++i)
                for (std::size_t l = 0; l < W; ++l)
                    out[l * n + i] = lanes[i * W + l];
            break;
        case transpose_impl::copy:
            std::copy(lanes.begin(), lanes.end(), out);
            break;
        }
        benchmark::DoNotOptimize(out);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(2 * W * n * sizeof(T) * state.iterations()));
    state.counters["values"] = double(W * n);
}

/// The input checks' scan (kernels::all_finite) of n values against its
/// scalar twin (baseline width): a backward pass checks its gradient, one
/// signature's size per path, before any work.
template <class T> void bm_all_finite(benchmark::State& state, bool twin) {
    const std::size_t n = static_cast<std::size_t>(state.range(0));
    std::vector<T> v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = T(static_cast<double>(i % 97) - 48.0);
    for (auto _ : state) {
        bool ok = twin ? kernels::scalar::all_finite(v.data(), n) : kernels::all_finite(v.data(), n);
        benchmark::DoNotOptimize(ok);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(n * sizeof(T) * state.iterations()));
}

// ---- truncated product ----------------------------------------------------------

/// c = a ⊗ b (kernels::product, out of place) for two dense tensors of
/// dimension d and depth N, against the same algorithm's plain loops
/// (c_k = sum_i a_i ⊗ b_{k-i}, one coefficient at a time: the scalar twin's
/// arithmetic).
template <class T> void bm_product(benchmark::State& state, std::size_t d, std::size_t N, bool twin) {
    const tensig::shape s(d, N);
    std::mt19937_64 rng(20240603);
    std::uniform_real_distribution<double> unif(-0.5, 0.5);
    aligned_vector<T> a(s.size()), b(s.size()), c(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        a[i] = T(unif(rng));
        b[i] = T(unif(rng));
    }
    state.SetLabel(twin ? "scalar twin" : kernels::active_arch());
    for (auto _ : state) {
        if (twin)
            kernels::scalar::product(c.data(), a.data(), b.data(), d, N);
        else
            kernels::product(c.data(), a.data(), b.data(), s);
        benchmark::DoNotOptimize(c.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.counters["FLOP/s"] = benchmark::Counter(
        2.0 * bench::product_madds(d, N) * double(state.iterations()), benchmark::Counter::kIsRate);
    state.counters["flops"] = 2.0 * bench::product_madds(d, N);
}

/// The product's adjoint, both gradients (ga += gc ⌟ b, gb += a ⊳ gc;
/// kernels::product_adjoint), against the rows' algorithm on the
/// dispatched matrix-vector kernels (horner::product_adjoint, what
/// vjp::product ran until session 22) and the scalar twin. Twice the
/// product's multiply-adds.
enum class adjoint_way { dispatched, rows, scalar };
struct dispatched_rows_policy {
    template <class T>
    static void matvec(T* out, const T* M, std::size_t rows, std::size_t cols, const T* v, T* acc = nullptr) {
        kernels::matvec(out, M, rows, cols, v, acc);
    }
    template <class T>
    static void vecmat(T* out, const T* v, std::size_t rows, const T* M, std::size_t cols) {
        kernels::vecmat(out, v, rows, M, cols);
    }
};
template <class T>
void bm_product_adjoint(benchmark::State& state, std::size_t d, std::size_t N, adjoint_way way) {
    const tensig::shape s(d, N);
    std::mt19937_64 rng(20240604);
    std::uniform_real_distribution<double> unif(-0.5, 0.5);
    aligned_vector<T> a(s.size()), b(s.size()), gc(s.size()), ga(s.size()), gb(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        a[i] = T(unif(rng));
        b[i] = T(unif(rng));
        gc[i] = T(unif(rng));
    }
    state.SetLabel(way == adjoint_way::scalar ? "scalar twin" : kernels::active_arch());
    for (auto _ : state) {
        if (way == adjoint_way::scalar)
            kernels::scalar::product_adjoint(ga.data(), gb.data(), a.data(), b.data(), gc.data(), d, N);
        else if (way == adjoint_way::rows)
            kernels::horner::product_adjoint<dispatched_rows_policy>(ga.data(), gb.data(), a.data(), b.data(),
                                                                     gc.data(), d, N);
        else
            kernels::product_adjoint(ga.data(), gb.data(), a.data(), b.data(), gc.data(), d, N);
        benchmark::DoNotOptimize(ga.data());
        benchmark::DoNotOptimize(gb.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.counters["FLOP/s"] = benchmark::Counter(
        4.0 * bench::product_madds(d, N) * double(state.iterations()), benchmark::Counter::kIsRate);
    state.counters["flops"] = 4.0 * bench::product_madds(d, N);
}

/// The fastest repetition: with --benchmark_repetitions, the figure least
/// disturbed by other processes on a shared machine.
double min_of(const std::vector<double>& v) {
    return v.empty() ? 0.0 : *std::min_element(v.begin(), v.end());
}

const bool registered = [] {
    const std::size_t shapes[][2] = {{2, 12}, {4, 6}, {8, 4}, {3, 5}, {2, 10}, {16, 3}};
    const auto archs = kernels::available_archs();
    auto add_fmexp = [&](auto tag) {
        using T = decltype(tag);
        for (const auto& dn : shapes) {
            const std::size_t d = dn[0], N = dn[1];
            const std::string suffix = "/d:" + std::to_string(d) + "/N:" + std::to_string(N);
            const std::string base = std::string("fmexp<") + type_name<T>() + ">/";
            benchmark::RegisterBenchmark((base + "dispatched" + suffix).c_str(), [=](benchmark::State& st) {
                bm_fmexp<T>(st, d, N, fmexp_impl::dispatched, "");
            })->ComputeStatistics("min", min_of);
            benchmark::RegisterBenchmark((base + "scalar" + suffix).c_str(), [=](benchmark::State& st) {
                bm_fmexp<T>(st, d, N, fmexp_impl::scalar, "");
            })->ComputeStatistics("min", min_of);
            for (const auto& arch : archs)
                benchmark::RegisterBenchmark((base + arch + suffix).c_str(), [=](benchmark::State& st) {
                    bm_fmexp<T>(st, d, N, fmexp_impl::forced, arch);
                })->ComputeStatistics("min", min_of);
        }
    };
    for (const auto& [name, impl] : {std::pair{"kernel", transpose_impl::kernel},
                                     std::pair{"loop", transpose_impl::loop}, std::pair{"copy", transpose_impl::copy}}) {
        const transpose_impl im = impl;
        benchmark::RegisterBenchmark((std::string("deinterleave<double>/") + name).c_str(),
                                     [=](benchmark::State& st) { bm_deinterleave<double>(st, im); })
            ->Arg(1024)
            ->Arg(1 << 16)
            ->ComputeStatistics("min", min_of);
        benchmark::RegisterBenchmark((std::string("deinterleave<float>/") + name).c_str(),
                                     [=](benchmark::State& st) { bm_deinterleave<float>(st, im); })
            ->Arg(512)
            ->Arg(1 << 15)
            ->ComputeStatistics("min", min_of);
    }
    for (const bool twin : {false, true}) {
        const std::string name = twin ? "scalar" : "kernel";
        benchmark::RegisterBenchmark(("all_finite<double>/" + name).c_str(),
                                     [=](benchmark::State& st) { bm_all_finite<double>(st, twin); })
            ->Arg(8190)
            ->Arg(1 << 20)
            ->ComputeStatistics("min", min_of);
        benchmark::RegisterBenchmark(("all_finite<float>/" + name).c_str(),
                                     [=](benchmark::State& st) { bm_all_finite<float>(st, twin); })
            ->Arg(8190)
            ->Arg(1 << 20)
            ->ComputeStatistics("min", min_of);
    }
    add_fmexp(double{});
    add_fmexp(float{});
    // name<T>/{dispatched,scalar}/d:D/N:N for each (d, N) of `list`: run(state, d, N, scalar)
    const auto add_twins = [](const char* name, auto tag, const auto& list, auto run) {
        using T = decltype(tag);
        for (const auto& dn : list) {
            const std::size_t d = dn[0], N = dn[1];
            const std::string suffix = "/d:" + std::to_string(d) + "/N:" + std::to_string(N);
            const std::string base = std::string(name) + "<" + type_name<T>() + ">/";
            for (const bool scalar : {false, true})
                benchmark::RegisterBenchmark((base + (scalar ? "scalar" : "dispatched") + suffix).c_str(),
                                             [=](benchmark::State& st) { run(st, d, N, scalar); })
                    ->ComputeStatistics("min", min_of);
        }
    };
    // (and d = 3 at N = 7, where its levels are large enough for tiles)
    const std::size_t product_shapes[][2] = {{2, 12}, {4, 6}, {8, 4}, {3, 5}, {2, 10}, {16, 3}, {3, 7}};
    add_twins("product", double{}, product_shapes, &bm_product<double>);
    add_twins("product", float{}, product_shapes, &bm_product<float>);
    const auto add_adjoint = [&](auto tag) {
        using T = decltype(tag);
        const std::pair<const char*, adjoint_way> ways[] = {{"dispatched", adjoint_way::dispatched},
                                                            {"rows", adjoint_way::rows},
                                                            {"scalar", adjoint_way::scalar}};
        for (const auto& dn : product_shapes)
            for (const auto& [wname, way] : ways) {
                const std::size_t d = dn[0], N = dn[1];
                const adjoint_way w = way;
                benchmark::RegisterBenchmark(
                    (std::string("product_adjoint<") + type_name<T>() + ">/" + wname +
                     "/d:" + std::to_string(d) + "/N:" + std::to_string(N))
                        .c_str(),
                    [=](benchmark::State& st) { bm_product_adjoint<T>(st, d, N, w); })
                    ->ComputeStatistics("min", min_of);
            }
    };
    add_adjoint(double{});
    add_adjoint(float{});
    auto add_block = [&](auto tag) {
        using T = decltype(tag);
        const std::pair<const char*, block_op> ops[] = {
            {"", block_op::forward}, {"_record", block_op::record}, {"_adjoint", block_op::adjoint}};
        for (const auto& [opname, op] : ops)
            for (const auto& dn : shapes) {
                const std::size_t d = dn[0], N = dn[1];
                const std::string suffix = "/d:" + std::to_string(d) + "/N:" + std::to_string(N);
                for (const bool lanes : {true, false}) {
                    const block_op o = op;
                    benchmark::RegisterBenchmark((std::string("fmexp_block") + opname + "<" + type_name<T>() + ">/" +
                                                  (lanes ? "lanes" : "paths") + suffix)
                                                     .c_str(),
                                                 [=](benchmark::State& st) { bm_fmexp_block<T>(st, d, N, lanes, o); })
                        ->ComputeStatistics("min", min_of);
                }
            }
    };
    add_block(double{});
    add_block(float{});
    add_twins("fmexp_adjoint", double{}, shapes, &bm_fmexp_adjoint<double>);
    add_twins("fmexp_adjoint", float{}, shapes, &bm_fmexp_adjoint<float>);
    for (const std::size_t n : {15, 31})
        for (const bool scalar : {false, true})
            for (const std::size_t ld : {std::size_t(8190), std::size_t(8191), std::size_t(8192)})
                benchmark::RegisterBenchmark((std::string("gram<double>/") + (scalar ? "scalar" : "dispatched") +
                                              "/n:" + std::to_string(n) + "/m:8190/ld:" + std::to_string(ld))
                                                 .c_str(),
                                             [=](benchmark::State& st) { bm_gram<double>(st, n, 8190, ld, scalar); })
                    ->ComputeStatistics("min", min_of);

    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        benchmark::RegisterBenchmark("fma_peak/double/avx2", bm_fma_peak, &peak_avx2_double, 12.0 * 4 * 2)
            ->ComputeStatistics("min", min_of);
        benchmark::RegisterBenchmark("fma_peak/float/avx2", bm_fma_peak, &peak_avx2_float, 12.0 * 8 * 2)
            ->ComputeStatistics("min", min_of);
    }
    if (__builtin_cpu_supports("avx512f")) {
        benchmark::RegisterBenchmark("fma_peak/double/avx512f", bm_fma_peak, &peak_avx512_double,
                                     16.0 * 8 * 2)
            ->ComputeStatistics("min", min_of);
        benchmark::RegisterBenchmark("fma_peak/float/avx512f", bm_fma_peak, &peak_avx512_float, 16.0 * 16 * 2)
            ->ComputeStatistics("min", min_of);
    }

    const std::pair<const char*, chain_impl> chains[] = {{"lazy", chain_impl::lazy},
                                                         {"eager", chain_impl::eager},
                                                         {"eager_prealloc", chain_impl::eager_prealloc},
                                                         {"hand_loop", chain_impl::hand_loop},
                                                         {"copy", chain_impl::copy}};
    for (const auto& [name, impl] : chains) {
        const chain_impl i = impl;
        benchmark::RegisterBenchmark((std::string("expr_chain<double>/") + name).c_str(),
                                     [i](benchmark::State& st) { bm_expr_chain<double>(st, i); })
            ->ArgName("N")
            ->Arg(19)
            ->Arg(22)
            ->ComputeStatistics("min", min_of);
        benchmark::RegisterBenchmark((std::string("expr_chain<float>/") + name).c_str(),
                                     [i](benchmark::State& st) { bm_expr_chain<float>(st, i); })
            ->ArgName("N")
            ->Arg(19)
            ->ComputeStatistics("min", min_of);
    }
    return true;
}();

} // namespace

// tensig::signature and signature_backward on the standard shapes
// (B, L, d, N), one thread and all cores, float64 and float32, on seeded
// random walks (Google Benchmark; wall-clock time).
//
// - signature<T>/B:../L:../d:../N:../threads:1|all     kernels picked at run time
// - signature_backward<double>/.../threads:1|all       the gradient (sigbackprop), forward included
// - backward_sweep<double>/...                         the reverse sweep alone (forward untimed)
// - signature<double>/<arch>/B:../L:../d:../N:..  each instruction set forced
// - signature_backward<double>/<arch>/...        the same for the gradient
// - grid<float>/B:32/L:10000/d:../N:../fwd|bwd/threads:1|all   the peers' grid (float32)
// - signature_jacobian<double>/B:1/L:../d:../N:..   the full Jacobian
//   (sig_length, L, d) of one path of each standard shape, by forward tangents
// - long_path<double>/B:1/L:100000/d:3/N:5/threads:1|2   one long path: the
//   sequential pass against the parallel Chen reduction over two threads
// - logsignature<double>/<basis>/...                the log-signature in each basis (1 thread)
// - logsignature_backward<double>/lyndon/...       its gradient (iisignature's logsigbackprop)
//
// Counters: FLOP/s counts the fused multiply-exponentiate of every segment,
// B (L-1) sum_{k=1..N} sum_{j=1..k} d^j multiply-adds, an FMA as 2 FLOPs
// (DESIGN.md §1); segments/s is B (L-1) per call. The time includes
// everything a user's call does (input checks, output allocation).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <xtensor/xtensor.hpp>

#include <tensig/tensig.hpp>

#include "flops.hpp"

namespace {

struct bench_shape {
    std::size_t B, L, d, N;
};

// The standard shapes of docs/benchmarks.md (iisignature's reference set).
constexpr bench_shape shapes[] = {
    {1, 8, 2, 12}, {128, 128, 4, 6}, {32, 256, 8, 4}, {1, 10000, 3, 5}, {64, 64, 2, 10}};

using bench::fmexp_madds;

/// B random walks of L points in R^d with N(0, 1/L) increments (so every
/// path has length about sqrt(d) whatever L: values stay in range in float32).
template <class T> xt::xtensor<T, 3> random_paths(const bench_shape& sh, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt(double(sh.L)));
    xt::xtensor<T, 3> p = xt::zeros<T>({sh.B, sh.L, sh.d});
    for (std::size_t b = 0; b < sh.B; ++b)
        for (std::size_t c = 0; c < sh.d; ++c) {
            double x = 0;
            for (std::size_t i = 0; i < sh.L; ++i) {
                if (i > 0) x += normal(rng);
                p(b, i, c) = T(x);
            }
        }
    return p;
}

enum class pass { forward, backward };

template <class T>
void bm_signature(benchmark::State& state, bench_shape sh, const std::string& arch, std::size_t threads,
                  pass which) {
    const auto paths = random_paths<T>(sh, 12345);
    if (!arch.empty()) tensig::kernels::force_arch(arch);
    state.SetLabel(tensig::kernels::active_arch());
    tensig::signature_options o;
    o.threads = threads;
    const xt::xtensor<T, 2> grad = xt::ones<T>({sh.B, tensig::sig_length(sh.d, sh.N)});
    for (auto _ : state) {
        if (which == pass::forward) {
            auto sig = tensig::signature(paths, sh.N, o);
            T* p = sig.data();
            benchmark::DoNotOptimize(p);
        } else {
            auto g = tensig::signature_backward(grad, paths, sh.N, o);
            T* p = g.data();
            benchmark::DoNotOptimize(p);
        }
        benchmark::ClobberMemory();
    }
    if (!arch.empty()) tensig::kernels::force_arch("");
    const double segments = double(sh.B) * double(sh.L - 1) * double(state.iterations());
    state.SetItemsProcessed(static_cast<std::int64_t>(segments));
    state.counters["FLOP/s"] =
        benchmark::Counter(2.0 * fmexp_madds(sh.d, sh.N) * segments, benchmark::Counter::kIsRate);
    // per iteration, for bench/report.py
    state.counters["flops"] = 2.0 * fmexp_madds(sh.d, sh.N) * double(sh.B) * double(sh.L - 1);
}

/// logsignature (or its backward) in one basis, one thread.
void bm_logsignature(benchmark::State& state, bench_shape sh, tensig::logsig_basis basis, pass p) {
    const auto paths = random_paths<double>(sh, 12345);
    tensig::signature_options o;
    o.threads = 1;
    const xt::xtensor<double, 2> l = tensig::logsignature(paths, sh.N, basis, o);
    const xt::xtensor<double, 2> grad = xt::ones<double>(l.shape());
    for (auto _ : state) {
        if (p == pass::forward) {
            auto r = tensig::logsignature(paths, sh.N, basis, o);
            benchmark::DoNotOptimize(r.data());
        } else {
            auto r = tensig::logsignature_backward(grad, paths, sh.N, basis, o);
            benchmark::DoNotOptimize(r.data());
        }
    }
}

/// The reverse sweep alone, as in training after the forward pass: the
/// forward half (which keeps the Horner terms) runs outside the timed region.
void bm_backward_sweep(benchmark::State& state, bench_shape sh) {
    const auto paths = random_paths<double>(sh, 12345);
    const tensig::shape s(sh.d, sh.N);
    const std::vector<double> grad(s.sig_length(), 1.0);
    std::vector<double> out(sh.L * sh.d);
    tensig::detail::backward_workspace<double> ws(s);
    const tensig::signature_options o;
    for (auto _ : state) {
        for (std::size_t b = 0; b < sh.B; ++b) {
            const double* p = paths.data() + b * sh.L * sh.d;
            state.PauseTiming();
            tensig::detail::signature_forward_for_backward(p, sh.L, sh.d, o, true, ws);
            state.ResumeTiming();
            tensig::detail::signature_backward_from(grad.data(), p, sh.L, sh.d, o, true, ws, out.data());
        }
        benchmark::DoNotOptimize(out.data());
    }
}

std::string shape_name(const bench_shape& sh) {
    return "B:" + std::to_string(sh.B) + "/L:" + std::to_string(sh.L) + "/d:" + std::to_string(sh.d) +
           "/N:" + std::to_string(sh.N);
}

benchmark::TimeUnit unit_for(const bench_shape& sh) {
    const double flops = double(sh.B) * double(sh.L) * fmexp_madds(sh.d, sh.N);
    return flops < 1e7 ? benchmark::kMicrosecond : benchmark::kMillisecond;
}

/// The fastest repetition: with --benchmark_repetitions, the figure least
/// disturbed by other processes on a shared machine.
double min_of(const std::vector<double>& v) {
    return v.empty() ? 0.0 : *std::min_element(v.begin(), v.end());
}

const bool registered = [] {
    for (const auto& shape : shapes) {
        const bench_shape sh{1, shape.L, shape.d, shape.N};
        benchmark::RegisterBenchmark(("signature_jacobian<double>/" + shape_name(sh)).c_str(),
                                     [sh](benchmark::State& st) {
                                         const auto paths = random_paths<double>(sh, 12345);
                                         const xt::xtensor<double, 2> path = xt::view(paths, 0, xt::all(), xt::all());
                                         for (auto _ : st) {
                                             auto J = tensig::signature_jacobian(path, sh.N);
                                             double* p = J.data();
                                             benchmark::DoNotOptimize(p);
                                             benchmark::ClobberMemory();
                                         }
                                     })
            ->Unit(benchmark::kMillisecond)
            ->ComputeStatistics("min", min_of);
    }
    for (std::size_t threads : {std::size_t(1), std::size_t(2)}) {
        const bench_shape sh{1, 100000, 3, 5};
        benchmark::RegisterBenchmark(("long_path<double>/" + shape_name(sh) + "/threads:" + std::to_string(threads)).c_str(),
                                     [sh, threads](benchmark::State& st) {
                                         bm_signature<double>(st, sh, "", threads, pass::forward);
                                     })
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->ComputeStatistics("min", min_of);
    }
    for (const auto& sh : shapes) {
        for (std::size_t threads : {std::size_t(1), std::size_t(0)}) {
            const std::string t = threads == 1 ? "/threads:1" : "/threads:all";
            benchmark::RegisterBenchmark(("signature<double>/" + shape_name(sh) + t).c_str(),
                                         [sh, threads](benchmark::State& st) {
                                             bm_signature<double>(st, sh, "", threads, pass::forward);
                                         })
                ->Unit(unit_for(sh))
                ->UseRealTime()
                ->ComputeStatistics("min", min_of);
            benchmark::RegisterBenchmark(("signature<float>/" + shape_name(sh) + t).c_str(),
                                         [sh, threads](benchmark::State& st) {
                                             bm_signature<float>(st, sh, "", threads, pass::forward);
                                         })
                ->Unit(unit_for(sh))
                ->UseRealTime()
                ->ComputeStatistics("min", min_of);
            benchmark::RegisterBenchmark(("signature_backward<double>/" + shape_name(sh) + t).c_str(),
                                         [sh, threads](benchmark::State& st) {
                                             bm_signature<double>(st, sh, "", threads, pass::backward);
                                         })
                ->Unit(unit_for(sh))
                ->UseRealTime()
                ->ComputeStatistics("min", min_of);
        }
    }
    for (const auto& sh : {shapes[0], shapes[1]})
        benchmark::RegisterBenchmark(("backward_sweep<double>/" + shape_name(sh)).c_str(),
                                     [sh](benchmark::State& st) { bm_backward_sweep(st, sh); })
            ->Unit(unit_for(sh))
            ->ComputeStatistics("min", min_of);
    // The peers' grid: B = 32, L = 10000, d in {2, 4, 8, 16}, N in {2, 3}, float32.
    for (std::size_t d : {2, 4, 8, 16})
        for (std::size_t N : {2, 3})
            for (std::size_t threads : {std::size_t(1), std::size_t(0)})
                for (pass p : {pass::forward, pass::backward}) {
                    const bench_shape sh{32, 10000, d, N};
                    const std::string name = "grid<float>/" + shape_name(sh) +
                                             (p == pass::forward ? "/fwd" : "/bwd") +
                                             (threads == 1 ? "/threads:1" : "/threads:all");
                    benchmark::RegisterBenchmark(name.c_str(), [sh, threads, p](benchmark::State& st) {
                        bm_signature<float>(st, sh, "", threads, p);
                    })
                        ->Unit(benchmark::kMillisecond)
                        ->UseRealTime()
                        ->ComputeStatistics("min", min_of);
                }
    for (const auto& sh : {shapes[1], shapes[0]})
        for (auto [basis, name] : {std::pair{tensig::logsig_basis::expanded, "expanded"},
                                   std::pair{tensig::logsig_basis::words, "words"},
                                   std::pair{tensig::logsig_basis::lyndon, "lyndon"}}) {
            const auto b = basis;
            benchmark::RegisterBenchmark(
                ("logsignature<double>/" + std::string(name) + "/" + shape_name(sh) + "/threads:1").c_str(),
                [sh, b](benchmark::State& st) { bm_logsignature(st, sh, b, pass::forward); })
                ->Unit(unit_for(sh))
                ->UseRealTime()
                ->ComputeStatistics("min", min_of);
            if (b == tensig::logsig_basis::lyndon)
                benchmark::RegisterBenchmark(
                    ("logsignature_backward<double>/lyndon/" + shape_name(sh) + "/threads:1").c_str(),
                    [sh, b](benchmark::State& st) { bm_logsignature(st, sh, b, pass::backward); })
                    ->Unit(unit_for(sh))
                    ->UseRealTime()
                    ->ComputeStatistics("min", min_of);
        }
    for (const pass p : {pass::forward, pass::backward})
        for (const auto& arch : tensig::kernels::available_archs())
            for (const auto& sh : shapes)
                benchmark::RegisterBenchmark(
                    (std::string(p == pass::forward ? "signature" : "signature_backward") + "<double>/" + arch + "/" +
                     shape_name(sh))
                        .c_str(),
                    [sh, arch, p](benchmark::State& st) { bm_signature<double>(st, sh, arch, 1, p); })
                    ->Unit(unit_for(sh))
                    ->ComputeStatistics("min", min_of);
    return true;
}();

} // namespace

// Signature inversion of the PenDigits zero (seed-inversion.md):
//   BM_AdamPublished   the published run, 5000 Adam steps on the depth-12
//                      signature, single thread; iisignature's sig +
//                      sigbackprop take 12.5 s for the same loop on this kind
//                      of machine (issue 4)
//   BM_AdamStep        one step: loss, gradient (forward + backward) and update
//   BM_Auto/<digit>    tensig's default strategy on the zero, three, six, eight
//   BM_Forward / BM_Backward / BM_Jacobian   the pieces, for the ratios
//   BM_InvertBatch/threads:T   invert_batch on the built-in set (four PenDigits
//                      rows and the generated curves, twice: 22 items) with
//                      T threads, for the speed-up of two threads over one
#include <benchmark/benchmark.h>

#include <tensig/tensig.hpp>

namespace {

xt::xtensor<double, 1> target_of(std::size_t row) {
    const auto p = tensig::pendigits::to_path(tensig::pendigits::builtin_rows()[row]);
    return tensig::signature(p, 12);
}

void BM_AdamPublished(benchmark::State& state) {
    const auto target = target_of(0);
    tensig::invert_options o;
    o.method = tensig::invert_method::adam;
    o.init = tensig::invert_init::random;
    for (auto _ : state) {
        auto r = tensig::invert(target, 2, 12, o);
        benchmark::DoNotOptimize(r);
    }
    state.counters["steps/s"] = benchmark::Counter(5000.0, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_AdamPublished)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_Auto(benchmark::State& state) {
    const auto target = target_of(static_cast<std::size_t>(state.range(0)));
    std::string route;
    for (auto _ : state) {
        auto r = tensig::invert(target, 2, 12);
        route = r.route;
        benchmark::DoNotOptimize(r);
    }
    state.SetLabel("digit " + std::to_string(tensig::pendigits::builtin_rows()[state.range(0)].label) + ", " +
                   route);
}
BENCHMARK(BM_Auto)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);

// The pieces, on the zero's depth-12 problem at a perturbed point.
struct pieces {
    pieces() : loss(target_of(0), 2, 12, 8), x(16), g(16), r(8190), J(8190 * 16) {
        const auto p = tensig::pendigits::to_path(tensig::pendigits::builtin_rows()[0]);
        for (std::size_t i = 0; i < 16; ++i)
            x[i] = p.data()[i] + 0.01 * static_cast<double>(i % 3);
    }
    tensig::signature_loss<double> loss;
    std::vector<double> x, g, r, J;
};

void BM_Forward(benchmark::State& state) {
    pieces p;
    for (auto _ : state)
        benchmark::DoNotOptimize(p.loss.value(p.x.data()));
}
BENCHMARK(BM_Forward)->Unit(benchmark::kMicrosecond);

void BM_AdamStep(benchmark::State& state) {
    pieces p;
    for (auto _ : state)
        benchmark::DoNotOptimize(p.loss.value_and_gradient(p.x.data(), p.g.data()));
}
BENCHMARK(BM_AdamStep)->Unit(benchmark::kMicrosecond);

void BM_Jacobian(benchmark::State& state) {
    pieces p;
    for (auto _ : state) {
        p.loss.residuals(p.x.data(), p.r.data(), p.J.data());
        benchmark::DoNotOptimize(p.J.data());
    }
}
BENCHMARK(BM_Jacobian)->Unit(benchmark::kMicrosecond);

} // namespace

namespace {

void BM_InvertBatch(benchmark::State& state) {
    auto rows = tensig::pendigits::builtin_rows();
    for (const auto& r : tensig::pendigits::generated_curves())
        rows.push_back(r);
    const std::size_t B = 2 * rows.size();
    xt::xtensor<double, 2> targets = xt::zeros<double>({B, tensig::sig_length(2, 12)});
    for (std::size_t b = 0; b < B; ++b)
        xt::view(targets, b, xt::all()) = tensig::signature(tensig::pendigits::to_path(rows[b % rows.size()]), 12);
    tensig::invert_batch_options o;
    o.threads = static_cast<std::size_t>(state.range(0));
    for (auto _ : state) {
        auto items = tensig::invert_batch(targets, 2, 12, o);
        benchmark::DoNotOptimize(items.data());
    }
    state.counters["inversions/s"] =
        benchmark::Counter(double(B), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_InvertBatch)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace


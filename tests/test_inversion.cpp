// Layer 7: the published loss and its derivatives, the starts, the
// optimisers, and the experiment's targets (seed-inversion.md, issue 4).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "support/oracle.hpp"

namespace pd = tensig::pendigits;

namespace {
xt::xtensor<double, 1> signature_of(const xt::xtensor<double, 2>& p, std::size_t depth) {
    return tensig::signature(p, depth);
}

// The loss's gradient g at x against central differences of its value.
void check_gradient_by_differences(tensig::signature_loss<double>& loss, const std::vector<double>& x,
                                   const std::vector<double>& g, double h = 1e-5) {
    for (std::size_t i = 0; i < x.size(); ++i) {
        auto xp = x, xm = x;
        xp[i] += h;
        xm[i] -= h;
        const double fd = (loss.value(xp.data()) - loss.value(xm.data())) / (2 * h);
        CHECK(g[i] == Approx(fd).epsilon(1e-6).margin(1e-8));
    }
}
} // namespace

TEST_CASE("level weights are the notebook's floor(log2(i + 1)) for d = 2", "[inversion]") {
    const auto w = tensig::level_weights<double>(2, 12);
    REQUIRE(w.size() == 8190);
    for (std::size_t i = 1; i <= 8190; ++i)
        CHECK(w[i - 1] == std::floor(std::log2(double(i + 1))));
    const auto w3 = tensig::level_weights<double>(3, 3);
    CHECK(w3 == std::vector<double>{1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3,
                                    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3});
}

TEST_CASE("the loss, its gradient and its residual Jacobian agree with differences", "[inversion]") {
    const auto target_path = oracle::random_path(6, 3, 0.5);
    const auto target = signature_of(target_path, 4);
    tensig::signature_loss<double> loss(target, 3, 4, 5);
    auto x = tensig::init_random<double>(5, 3, 7);
    std::vector<double> g(x.size()), r(loss.size()), J(loss.size() * x.size());
    const double l = loss.value_and_gradient(x.data(), g.data());
    // (the gradient's recording forward pass and value's plain one may take
    // different kernels for small shapes: equal to rounding, not to the bit)
    CHECK(l == Approx(loss.value(x.data())).epsilon(1e-13));
    loss.residuals(x.data(), r.data(), J.data());
    CHECK(loss.loss_from_residuals(r.data()) == Approx(l).epsilon(1e-14));
    check_gradient_by_differences(loss, x, g);
    const double h = 1e-5;
    for (std::size_t i = 0; i < x.size(); ++i) {
        auto xp = x, xm = x;
        xp[i] += h;
        xm[i] -= h;
        std::vector<double> rp(loss.size()), rm(loss.size());
        loss.residuals(xp.data(), rp.data());
        loss.residuals(xm.data(), rm.data());
        for (std::size_t k = 0; k < loss.size(); k += 5)
            CHECK(J[i * loss.size() + k] == Approx((rp[k] - rm[k]) / (2 * h)).epsilon(1e-6).margin(1e-8));
    }
}

TEST_CASE("the loss's gradient by prefix lanes (d = 2, N = 12) agrees with differences", "[inversion]") {
    const auto target = signature_of(oracle::random_path(9, 2, 0.5), 12);
    tensig::signature_loss<double> loss(target, 2, 12, 8);
    const auto x = tensig::init_random<double>(8, 2, 3);
    tensig::detail::backward_workspace<double> ws(tensig::shape(2, 12));
    CHECK(tensig::detail::by_prefix_lanes_backward(7, {}, ws)); // the route this test is about
    std::vector<double> g(x.size());
    const double l = loss.value_and_gradient(x.data(), g.data());
    CHECK(l == Approx(loss.value(x.data())).epsilon(1e-13));
    check_gradient_by_differences(loss, x, g);
}

TEST_CASE("the loss's gradient in the prefix lanes' layout equals signature_backward of its dL/dS", "[inversion]") {
    // 8 points (7 steps: one block, the residuals taken in the lanes'
    // layout), 17 (16 steps: still one), 18 and 30 (two blocks: the
    // signature copied out, dL/dS copied in) against the gradient of
    // <dL/dS, signature> from the public backward, dL/dS built from the
    // signature in its own layout.
    for (std::size_t K : {8, 17, 18, 30}) {
        INFO("points " << K);
        const auto target = signature_of(oracle::random_path(K + 1, 2, 0.5), 12);
        tensig::signature_loss<double> loss(target, 2, 12, K);
        const auto x = tensig::init_random<double>(K, 2, 5);
        std::vector<double> g(x.size());
        const double l = loss.value_and_gradient(x.data(), g.data());
        xt::xtensor<double, 2> path = xt::zeros<double>({K, std::size_t(2)});
        std::copy(x.begin(), x.end(), path.begin());
        const xt::xtensor<double, 1> sig = tensig::signature(path, 12);
        const auto w = tensig::level_weights<double>(2, 12);
        const std::size_t n = sig.size();
        double mse = 0;
        for (std::size_t i = 0; i < n; ++i)
            mse += w[i] * w[i] * (sig[i] - target[i]) * (sig[i] - target[i]);
        mse /= double(n);
        CHECK(l == Approx(std::log(mse)).epsilon(1e-13));
        xt::xtensor<double, 1> G = xt::zeros<double>({n});
        for (std::size_t i = 0; i < n; ++i)
            G[i] = 2 * w[i] * w[i] * (sig[i] - target[i]) / (double(n) * mse);
        const xt::xtensor<double, 2> ref = tensig::signature_backward(G, path, 12);
        double gmax = 0, diff = 0;
        for (std::size_t i = 0; i < x.size(); ++i) {
            gmax = std::max(gmax, std::abs(ref.data()[i]));
            diff = std::max(diff, std::abs(g[i] - ref.data()[i]));
        }
        CHECK(gmax > 0);
        CHECK(diff <= 1e-12 * gmax);
    }
}

TEST_CASE("the normal equations over the increments equal JᵀJ and Jᵀr of the points' Jacobian", "[inversion]") {
    // (d, N, K): a 2-D depth-12 problem as in the experiment, and smaller ones
    for (auto [d, N, K] : {std::tuple<std::size_t, std::size_t, std::size_t>{2, 12, 8}, {3, 4, 5}, {2, 3, 2}}) {
        INFO("d " << d << " N " << N << " K " << K);
        const auto target = signature_of(oracle::random_path(K + 1, d, 0.5), N);
        tensig::signature_loss<double> loss(target, d, N, K);
        const auto x = tensig::init_random<double>(K, d, 11);
        const std::size_t m = loss.size(), p = (K - 1) * d;
        std::vector<double> r(m), J(m * K * d), r2(m), H(p * p), g(p);
        loss.residuals(x.data(), r.data(), J.data());
        loss.normal_equations(x.data(), r2.data(), H.data(), g.data());
        CHECK(oracle::max_abs_diff(r, r2, m) == 0);
        double hmax = 0, gmax = 0;
        std::vector<double> Href(p * p), gref(p);
        for (std::size_t a = 0; a < p; ++a) { // free coordinates: points 1..K-1, columns d.. of J
            const double* ca = J.data() + (d + a) * m;
            for (std::size_t b = 0; b < p; ++b)
                Href[a * p + b] = oracle::dot(ca, J.data() + (d + b) * m, m);
            gref[a] = oracle::dot(ca, r.data(), m);
            hmax = std::max(hmax, std::abs(Href[a * p + a]));
            gmax = std::max(gmax, std::abs(gref[a]));
        }
        CHECK(oracle::max_abs_diff(H, Href, p * p) <= 1e-13 * hmax);
        CHECK(oracle::max_abs_diff(g, gref, p) <= 1e-13 * std::max(gmax, 1e-300));
    }
}

TEST_CASE("bad inversion inputs are refused", "[inversion][errors]") {
    const xt::xtensor<double, 1> short_target = xt::zeros<double>({10ul});
    CHECK_THROWS_WITH(tensig::invert(short_target, 2, 3), Catch::Contains("length 10"));
    xt::xtensor<double, 1> nan_target = xt::zeros<double>({14ul});
    nan_target(3) = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_WITH(tensig::invert(nan_target, 2, 3), Catch::Contains("non-finite"));
    tensig::invert_options one;
    one.points = 1;
    CHECK_THROWS_WITH(tensig::invert(xt::xtensor<double, 1>(xt::zeros<double>({14ul})), 2, 3, one),
                      Catch::Contains("at least 2 points"));
    CHECK_THROWS_AS(tensig::init_insertion(nan_target.data(), 14, 2, 3, 4, 5), tensig::invalid_input);
}

TEST_CASE("the insertion start recovers a straight line exactly", "[inversion]") {
    const xt::xtensor<double, 2> line = {{0.0, 0.0}, {0.6, -0.8}};
    const auto s = signature_of(line, 6);
    const auto x = tensig::init_insertion(s.data(), s.size(), 2, 6, 5);
    // five points equally spaced on the segment from the origin
    for (std::size_t k = 0; k < 5; ++k) {
        CHECK(x[2 * k] == Approx(0.6 * double(k) / 4).margin(1e-12));
        CHECK(x[2 * k + 1] == Approx(-0.8 * double(k) / 4).margin(1e-12));
    }
}

TEST_CASE("fidelity: the original paper's run on the three (zeros, Adam 2e-3, clip 1)", "[inversion][seed]") {
    const auto three = pd::to_path(pd::builtin_rows()[1]);
    tensig::invert_options o;
    o.method = tensig::invert_method::adam;
    o.init = tensig::invert_init::zeros;
    o.adam.clip = 1.0;
    o.adam.iterations = 1001;
    const auto r = tensig::invert(signature_of(three, 12), 2, 12, o);
    REQUIRE(r.history.size() == 1001);
    CHECK(r.history[0] == Approx(-1.7569).margin(0.02));
    CHECK(r.history[1000] == Approx(-6.9453).margin(0.02));
}

TEST_CASE("published Adam settings on the zero beat the notebook's -6.41", "[inversion][seed]") {
    const auto zero = pd::to_path(pd::builtin_rows()[0]);
    tensig::invert_options o;
    o.method = tensig::invert_method::adam;
    o.init = tensig::invert_init::random;
    o.seed = 0;
    const auto r = tensig::invert(signature_of(zero, 12), 2, 12, o);
    REQUIRE(r.history.size() == 5000);
    CHECK(r.history[0] > 1.5); // a random start is far: the notebook printed 2.13
    CHECK(r.loss <= -6.41);
    // deterministic: the same seed gives the same path
    const auto again = tensig::invert(signature_of(zero, 12), 2, 12, o);
    CHECK(oracle::max_abs_diff(again.path, r.path, r.path.size()) == 0);
}

TEST_CASE("auto recovers the zero, three, six and eight exactly", "[inversion][seed]") {
    for (const auto& row : pd::builtin_rows()) {
        INFO("digit " << row.label << " (pendigits.tes line " << row.line << ")");
        const auto p = pd::to_path(row);
        const auto r = tensig::invert(signature_of(p, 12), 2, 12);
        INFO("route " << r.route << ", loss " << r.loss << ", " << r.iterations << " iterations");
        const auto err = tensig::compare_paths(r.path, p);
        CHECK(err.hausdorff <= 1e-8);
        CHECK(r.loss <= -55);
    }
}

TEST_CASE("continuation_abandon_loss: a continuation stops at its last lower depth when its fit there is worse",
          "[inversion]") {
    // the three: the first continuation fits depth 10 badly and fails; the
    // over-parametrised route recovers the path either way
    const auto path = pd::to_path(pd::builtin_rows()[1]);
    const xt::xtensor<double, 1> target = tensig::signature(path, 12);
    tensig::invert_options o;
    o.continuation_abandon_loss = std::numeric_limits<double>::infinity(); // never
    const auto kept = tensig::invert(target, 2, 12, o);
    const auto cut = tensig::invert(target, 2, 12, tensig::invert_options{}); // the default, -15
    CHECK(kept.exact);
    CHECK(cut.exact);
    CHECK(cut.route == kept.route);
    CHECK(cut.iterations < kept.iterations); // the failing continuation's depth-12 LM was skipped
}

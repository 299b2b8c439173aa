// Layer 6, the rest of the signature toolbox (issue 7): path transforms
// (time augmentation, lead-lag, basepoint) with their adjoints, and
// iisignature's helpers sigjoin / sigscale with their backward passes:
// against iisignature's values, closed forms, the laws that characterise
// them, central differences, and bad inputs.
#include <catch2/catch.hpp>

#include <limits>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xview.hpp>

#include <tensig/paths/toolbox.hpp>
#include <tensig/paths/transforms.hpp>

#include "support/oracle.hpp"

namespace {

// iisignature's float64 values agree with an exact computation to about 1e-12.
constexpr double ref_tol = 1e-12;
// FD tolerance for O(1) quantities with h = 1e-3 and Richardson.
constexpr double fd_tol = 1e-7;

using oracle::richardson;

/// Σ a[i] b[i] in double over two arrays of one size.
template <class A, class B> double dot(const A& a, const B& b) {
    REQUIRE(a.size() == b.size());
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        s += double(a.data()[i]) * double(b.data()[i]);
    return s;
}

/// Uniform(-scale, scale) values in an array of the given shape.
template <std::size_t R>
xt::xtensor<double, R> random_array(const std::array<std::size_t, R>& sh, double scale = 1.0) {
    std::uniform_real_distribution<double> u(-scale, scale);
    xt::xtensor<double, R> v(sh);
    for (auto& x : v)
        x = u(oracle::rng());
    return v;
}

xt::xtensor<double, 1> random_vec(std::size_t n, double scale = 1.0) {
    return random_array<1>({n}, scale);
}

/// A batch of B random paths (B, L, d).
xt::xtensor<double, 3> random_batch(std::size_t B, std::size_t L, std::size_t d, double scale = 1.0) {
    xt::xtensor<double, 3> p({B, L, d});
    for (std::size_t b = 0; b < B; ++b)
        xt::view(p, b, xt::all(), xt::all()) = oracle::random_path(L, d, scale);
    return p;
}

template <class A> xt::xtensor<double, 2> item(const A& batch, std::size_t b) {
    return xt::view(batch, b, xt::all(), xt::all());
}

} // namespace

// ---- helpers against iisignature ---------------------------------------------------------

TEST_CASE("signature_join matches iisignature's sigjoin", "[toolbox][reference]") {
    const auto sigs = oracle::load_ref<1>("sigjoin_d3_N4_sigs.npy");
    const auto seg = oracle::load_ref<1>("sigjoin_d3_N4_segment.npy");
    const auto ref = oracle::load_ref<1>("sigjoin_d3_N4_f64.npy");
    REQUIRE(sigs.size() == tensig::sig_length(3, 4));
    REQUIRE(seg.size() == 3);
    const xt::xtensor<double, 1> j = tensig::signature_join(sigs, seg, 3, 4);
    REQUIRE(j.shape() == ref.shape());
    CHECK(oracle::rel_err(j, ref, j.size()) <= ref_tol);
    // float, to float precision
    const xt::xtensor<float, 1> jf = tensig::signature_join(
        xt::xtensor<float, 1>(xt::cast<float>(sigs)), xt::xtensor<float, 1>(xt::cast<float>(seg)), 3, 4);
    CHECK(oracle::rel_err(jf, ref, j.size()) <= 2e-5);
    // an xarray in, an xarray out
    const xt::xarray<double> ja =
        tensig::signature_join(xt::xarray<double>(sigs), xt::xarray<double>(seg), 3, 4);
    CHECK(oracle::max_abs_diff(ja, j, j.size()) == 0);
}

TEST_CASE("signature_scale matches iisignature's sigscale", "[toolbox][reference]") {
    const auto sigs = oracle::load_ref<1>("sigscale_d3_N4_sigs.npy");
    const auto scales = oracle::load_ref<1>("sigscale_d3_N4_scales.npy");
    const auto ref = oracle::load_ref<1>("sigscale_d3_N4_f64.npy");
    REQUIRE(sigs.size() == tensig::sig_length(3, 4));
    REQUIRE(scales.size() == 3);
    const xt::xtensor<double, 1> s = tensig::signature_scale(sigs, scales, 3, 4);
    REQUIRE(s.shape() == ref.shape());
    CHECK(oracle::rel_err(s, ref, s.size()) <= ref_tol);
    const xt::xtensor<float, 1> sf = tensig::signature_scale(
        xt::xtensor<float, 1>(xt::cast<float>(sigs)), xt::xtensor<float, 1>(xt::cast<float>(scales)), 3, 4);
    CHECK(oracle::rel_err(sf, ref, s.size()) <= 2e-5);
}

// ---- helpers: the laws ------------------------------------------------------------------------

TEST_CASE("signature_join(signature(path[:-1]), last increment) == signature(path)", "[toolbox]") {
    for (std::size_t d : {1, 2, 3, 5}) {
        for (std::size_t N : {1, 4, 6}) {
            if (d == 5 && N == 6) continue;
            INFO("d " << d << " N " << N);
            const auto p = oracle::random_path(6, d, 0.7);
            const xt::xtensor<double, 2> head = xt::view(p, xt::range(0, 5), xt::all());
            const xt::xtensor<double, 1> last = xt::row(p, 5) - xt::row(p, 4);
            const xt::xtensor<double, 1> whole = tensig::signature(p, N);
            const xt::xtensor<double, 1> joined =
                tensig::signature_join(tensig::signature(head, N), last, d, N);
            CHECK(oracle::rel_err(joined, whole, whole.size()) <= 1e-13);
            // float
            const xt::xtensor<float, 1> jf = tensig::signature_join(
                xt::xtensor<float, 1>(tensig::signature(xt::xtensor<float, 2>(xt::cast<float>(head)), N)),
                xt::xtensor<float, 1>(xt::cast<float>(last)), d, N);
            CHECK(oracle::rel_err(jf, whole, whole.size()) <= 1e-5);
        }
    }
    // joining onto the signature of a one-point path (all zeros) is exp(segment)
    const auto p = oracle::random_path(2, 3);
    const xt::xtensor<double, 1> seg = xt::row(p, 1) - xt::row(p, 0);
    const xt::xtensor<double, 1> zero = xt::zeros<double>({tensig::sig_length(3, 5)});
    const xt::xtensor<double, 1> e = tensig::signature_join(zero, seg, 3, 5);
    const xt::xtensor<double, 1> sp = tensig::signature(p, 5);
    CHECK(oracle::rel_err(e, sp, sp.size()) <= 1e-14);
}

TEST_CASE("signature_scale(signature(path), c) == signature(path scaled per coordinate)", "[toolbox]") {
    for (std::size_t d : {1, 2, 3, 4}) {
        const std::size_t N = 5;
        INFO("d " << d);
        const auto p = oracle::random_path(7, d, 0.6);
        auto c = random_vec(d, 1.5);
        if (d > 2) c(1) = 0; // a zero scale flattens a coordinate
        xt::xtensor<double, 2> q = p;
        for (std::size_t i = 0; i < 7; ++i)
            for (std::size_t k = 0; k < d; ++k)
                q(i, k) *= c(k);
        const xt::xtensor<double, 1> scaled = tensig::signature_scale(tensig::signature(p, N), c, d, N);
        const xt::xtensor<double, 1> direct = tensig::signature(q, N);
        CHECK(oracle::rel_err(scaled, direct, direct.size()) <= 1e-13);
        // scale by ones is the identity; scaling twice multiplies the scales
        const xt::xtensor<double, 1> s = tensig::signature(p, N);
        const xt::xtensor<double, 1> ones = xt::ones<double>({d});
        CHECK(oracle::max_abs_diff(tensig::signature_scale(s, ones, d, N), s, s.size()) == 0);
        const auto c2 = random_vec(d);
        const xt::xtensor<double, 1> twice =
            tensig::signature_scale(xt::xtensor<double, 1>(tensig::signature_scale(s, c, d, N)), c2, d, N);
        const xt::xtensor<double, 1> once = tensig::signature_scale(s, xt::xtensor<double, 1>(c * c2), d, N);
        CHECK(oracle::rel_err(twice, once, once.size()) <= 1e-14);
        // float
        const xt::xtensor<float, 1> sf = tensig::signature_scale(
            xt::xtensor<float, 1>(xt::cast<float>(s)), xt::xtensor<float, 1>(xt::cast<float>(c)), d, N);
        CHECK(oracle::rel_err(sf, direct, direct.size()) <= 1e-5);
    }
}

// ---- transforms: small examples, closed forms -----------------------------------------------

TEST_CASE("time_augment and lead_lag on a small example", "[toolbox]") {
    const xt::xtensor<double, 2> p = {{1, 2}, {3, 5}, {4, 4}};
    const xt::xtensor<double, 2> t = tensig::time_augment(p);
    const xt::xtensor<double, 2> t_expect = {{1, 2, 0}, {3, 5, 0.5}, {4, 4, 1}};
    CHECK(bool(t == t_expect));
    const xt::xtensor<double, 2> t2 = tensig::time_augment(p, -1.0, 3.0);
    const xt::xtensor<double, 2> t2_expect = {{1, 2, -1}, {3, 5, 1}, {4, 4, 3}};
    CHECK(bool(t2 == t2_expect));
    // the end is exact whatever the range
    const xt::xtensor<double, 2> t3 = tensig::time_augment(oracle::random_path(7, 1), 0.1, 0.7);
    CHECK(t3(0, 1) == 0.1);
    CHECK(t3(6, 1) == 0.7);
    // a one-point path gets t_0 = start
    const xt::xtensor<double, 2> one = {{5, 6}};
    const xt::xtensor<double, 2> t1 = tensig::time_augment(one, 2.0, 9.0);
    CHECK(bool(t1 == xt::xtensor<double, 2>{{5, 6, 2}}));

    const xt::xtensor<double, 2> ll = tensig::lead_lag(p);
    const xt::xtensor<double, 2> ll_expect = {
        {1, 2, 1, 2}, {3, 5, 1, 2}, {3, 5, 3, 5}, {4, 4, 3, 5}, {4, 4, 4, 4}};
    CHECK(bool(ll == ll_expect));
    CHECK(bool(xt::xtensor<double, 2>(tensig::lead_lag(one)) == xt::xtensor<double, 2>{{5, 6, 5, 6}}));

    const xt::xtensor<double, 2> bp = tensig::add_basepoint(p);
    CHECK(bool(bp == xt::xtensor<double, 2>{{0, 0}, {1, 2}, {3, 5}, {4, 4}}));

    // backward passes on the same shapes, by hand
    const xt::xtensor<double, 2> gt = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}};
    CHECK(bool(xt::xtensor<double, 2>(tensig::time_augment_backward(gt)) ==
               xt::xtensor<double, 2>{{1, 2}, {4, 5}, {7, 8}}));
    // rows r = (x_lead, x_lag) with lead = (r+1)/2, lag = r/2
    const xt::xtensor<double, 2> gl = {
        {1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}, {13, 14, 15, 16}, {17, 18, 19, 20}};
    const xt::xtensor<double, 2> gl_expect = {
        {1 + 3 + 7, 2 + 4 + 8}, {5 + 9 + 11 + 15, 6 + 10 + 12 + 16}, {13 + 17 + 19, 14 + 18 + 20}};
    CHECK(bool(xt::xtensor<double, 2>(tensig::lead_lag_backward(gl)) == gl_expect));
    CHECK(bool(xt::xtensor<double, 2>(tensig::add_basepoint_backward(gt)) ==
               xt::xtensor<double, 2>{{4, 5, 6}, {7, 8, 9}}));

    // float in, float out; integers are promoted to double
    const xt::xtensor<float, 2> pf = xt::cast<float>(p);
    const xt::xtensor<float, 2> llf = tensig::lead_lag(pf);
    CHECK(bool(xt::xtensor<double, 2>(xt::cast<double>(llf)) == ll_expect));
    const xt::xtensor<float, 2> tf = tensig::time_augment(pf);
    CHECK(bool(xt::xtensor<double, 2>(xt::cast<double>(tf)) == t_expect));
    const xt::xtensor<float, 2> glf = xt::cast<float>(gl), gtf = xt::cast<float>(gt);
    const xt::xtensor<float, 2> gllf = tensig::lead_lag_backward(glf);
    CHECK(bool(xt::xtensor<double, 2>(xt::cast<double>(gllf)) == gl_expect));
    const xt::xtensor<float, 2> gtff = tensig::time_augment_backward(gtf);
    CHECK(bool(xt::xtensor<double, 2>(xt::cast<double>(gtff)) ==
               xt::xtensor<double, 2>{{1, 2}, {4, 5}, {7, 8}}));
    const xt::xtensor<float, 2> gbf = tensig::add_basepoint_backward(gtf);
    CHECK(
        bool(xt::xtensor<double, 2>(xt::cast<double>(gbf)) == xt::xtensor<double, 2>{{4, 5, 6}, {7, 8, 9}}));
    const xt::xtensor<int, 2> pi = {{1, 2}, {3, 5}, {4, 4}};
    const xt::xtensor<double, 2> lli = tensig::lead_lag(pi);
    CHECK(bool(lli == ll_expect));
}

TEST_CASE("lead-lag: the antisymmetric part of level 2 is the quadratic variation", "[toolbox]") {
    // S[lead_i, lag_i] - S[lag_i, lead_i] = Σ_j (x_{j+1,i} - x_{j,i})²
    for (std::size_t d : {1, 2, 3}) {
        const auto p = oracle::random_path(9, d);
        const std::size_t D = 2 * d;
        const xt::xtensor<double, 1> S = tensig::signature(tensig::lead_lag(p), 3);
        for (std::size_t i = 0; i < d; ++i) {
            double qv = 0;
            for (std::size_t j = 0; j + 1 < 9; ++j)
                qv += (p(j + 1, i) - p(j, i)) * (p(j + 1, i) - p(j, i));
            const std::size_t lead = i, lag = d + i;
            const double anti = S(D + lead * D + lag) - S(D + lag * D + lead);
            CHECK(anti == Approx(qv).epsilon(1e-13));
            // and level 1 is the increment, in both the lead and the lag (a sum of 16 increments of
            // about 1, which can cancel to a small value: to rounding of the sum, not of the value)
            CHECK(S(lead) == Approx(p(8, i) - p(0, i)).epsilon(1e-14).margin(1e-14));
            CHECK(S(lag) == Approx(p(8, i) - p(0, i)).epsilon(1e-14).margin(1e-14));
        }
        // for i != k the cross terms are the covariation: lead_i/lag_k minus lag_k/lead_i
        if (d >= 2) {
            double cov = 0;
            for (std::size_t j = 0; j + 1 < 9; ++j)
                cov += (p(j + 1, 0) - p(j, 0)) * (p(j + 1, 1) - p(j, 1));
            const double anti01 = S(D + 0 * D + (d + 1)) - S(D + (d + 1) * D + 0);
            const double anti10 = S(D + 1 * D + d) - S(D + d * D + 1);
            const double a = S(D + 0 * D + 1) - S(D + 1 * D + 0); // Lévy area of the lead
            CHECK(anti01 + anti10 == Approx(2 * cov).epsilon(1e-12));
            // and the difference is the Lévy area of the lead plus that of the lag (equal)
            const double a_lag = S(D + d * D + d + 1) - S(D + (d + 1) * D + d);
            CHECK(a_lag == Approx(a).epsilon(1e-12).margin(1e-14));
            CHECK(anti01 - anti10 == Approx(a + a_lag).epsilon(1e-12).margin(1e-12));
        }
    }
}

TEST_CASE("add_basepoint agrees with signature_options::basepoint", "[toolbox]") {
    tensig::signature_options bp;
    bp.basepoint = true;
    const auto p = oracle::random_path(6, 3);
    const xt::xtensor<double, 1> a = tensig::signature(tensig::add_basepoint(p), 4);
    const xt::xtensor<double, 1> b = tensig::signature(p, 4, bp);
    CHECK(oracle::max_abs_diff(a, b, a.size()) == 0);
    // batches, log-signatures and the stream too
    const auto batch = random_batch(3, 5, 2);
    const xt::xtensor<double, 2> ab = tensig::signature(tensig::add_basepoint(batch), 5);
    const xt::xtensor<double, 2> bb = tensig::signature(batch, 5, bp);
    CHECK(oracle::max_abs_diff(ab, bb, ab.size()) == 0);
    const xt::xtensor<double, 1> la = tensig::logsignature(tensig::add_basepoint(p), 4);
    const xt::xtensor<double, 1> lb = tensig::logsignature(p, 4, tensig::logsig_basis::expanded, bp);
    CHECK(oracle::rel_err(la, lb, la.size()) <= 1e-15);
    const xt::xtensor<double, 2> sa = tensig::signature_stream(tensig::add_basepoint(p), 3);
    const xt::xtensor<double, 2> sb = tensig::signature_stream(p, 3, bp);
    REQUIRE(sa.shape() == sb.shape());
    CHECK(oracle::max_abs_diff(sa, sb, sa.size()) == 0);
    // the gradients: pulled back through add_basepoint, or by the option
    const auto g = random_vec(tensig::sig_length(3, 4));
    const xt::xtensor<double, 2> ga =
        tensig::add_basepoint_backward(tensig::signature_backward(g, tensig::add_basepoint(p), 4));
    const xt::xtensor<double, 2> gb = tensig::signature_backward(g, p, 4, bp);
    REQUIRE(ga.shape() == p.shape());
    CHECK(oracle::rel_err(ga, gb, ga.size()) <= 1e-14);
    // an empty path with a basepoint is the origin alone: signature 1
    const xt::xtensor<double, 2> empty = xt::zeros<double>({0ul, 2ul});
    const xt::xtensor<double, 2> origin = tensig::add_basepoint(empty);
    CHECK(bool(origin == xt::xtensor<double, 2>{{0, 0}}));
    const xt::xtensor<double, 1> se = tensig::signature(origin, 3), sbe = tensig::signature(empty, 3, bp);
    CHECK(oracle::max_abs(se, se.size()) == 0);
    CHECK(oracle::max_abs(sbe, sbe.size()) == 0);
    CHECK(tensig::add_basepoint_backward(origin).shape()[0] == 0);
}

// ---- backward passes --------------------------------------------------------------------------

TEST_CASE("the transforms' backward passes are their adjoints", "[toolbox][autodiff]") {
    // <T x, y> = <x, Tᵀ y> (time_augment is affine: T x - T 0 is linear)
    for (std::size_t L : {1, 2, 7}) {
        for (std::size_t d : {1, 3}) {
            INFO("L " << L << " d " << d);
            const auto x = oracle::random_path(L, d);
            const xt::xtensor<double, 2> zero = xt::zeros<double>({L, d});
            {
                const auto y = random_array<2>({L, d + 1});
                const xt::xtensor<double, 2> Tx = tensig::time_augment(x, -0.5, 2.0);
                const xt::xtensor<double, 2> T0 = tensig::time_augment(zero, -0.5, 2.0);
                const xt::xtensor<double, 2> Tty = tensig::time_augment_backward(y);
                CHECK(dot(xt::xtensor<double, 2>(Tx - T0), y) == Approx(dot(x, Tty)).epsilon(1e-13));
            }
            {
                const auto y = random_array<2>({2 * L - 1, 2 * d});
                const xt::xtensor<double, 2> Tx = tensig::lead_lag(x);
                const xt::xtensor<double, 2> Tty = tensig::lead_lag_backward(y);
                REQUIRE(Tty.shape() == x.shape());
                CHECK(dot(Tx, y) == Approx(dot(x, Tty)).epsilon(1e-13));
            }
            {
                const auto y = random_array<2>({L + 1, d});
                const xt::xtensor<double, 2> Tx = tensig::add_basepoint(x);
                const xt::xtensor<double, 2> Tty = tensig::add_basepoint_backward(y);
                CHECK(dot(Tx, y) == Approx(dot(x, Tty)).epsilon(1e-13));
            }
        }
    }
    // and on a batch, where each path is its own block
    const auto xb = random_batch(3, 4, 2);
    const auto yb = random_array<3>({3, 7, 4});
    const xt::xtensor<double, 3> Txb = tensig::lead_lag(xb);
    const xt::xtensor<double, 3> Ttyb = tensig::lead_lag_backward(yb);
    CHECK(dot(Txb, yb) == Approx(dot(xb, Ttyb)).epsilon(1e-13));
}

TEST_CASE("signature gradients pulled back through the transforms match differences", "[toolbox][autodiff]") {
    const std::size_t L = 5, d = 2, N = 4;
    const auto p = oracle::random_path(L, d, 0.6), v = oracle::random_path(L, d);
    // lead-lag: (L, d) -> (2L-1, 2d), depth N over 2d channels
    {
        const auto g = random_vec(tensig::sig_length(2 * d, N));
        const xt::xtensor<double, 2> gp =
            tensig::lead_lag_backward(tensig::signature_backward(g, tensig::lead_lag(p), N));
        REQUIRE(gp.shape() == p.shape());
        const double fd = richardson([&](double t) {
            const xt::xtensor<double, 2> q = p + t * v;
            return dot(g, xt::xtensor<double, 1>(tensig::signature(tensig::lead_lag(q), N)));
        });
        CHECK(dot(gp, v) == Approx(fd).epsilon(fd_tol));
    }
    // time, then lead-lag of the time-augmented path
    {
        const auto g = random_vec(tensig::sig_length(2 * (d + 1), 3));
        const xt::xtensor<double, 2> gp = tensig::time_augment_backward(tensig::lead_lag_backward(
            tensig::signature_backward(g, tensig::lead_lag(tensig::time_augment(p)), 3)));
        REQUIRE(gp.shape() == p.shape());
        const double fd = richardson([&](double t) {
            const xt::xtensor<double, 2> q = p + t * v;
            return dot(
                g, xt::xtensor<double, 1>(tensig::signature(tensig::lead_lag(tensig::time_augment(q)), 3)));
        });
        CHECK(dot(gp, v) == Approx(fd).epsilon(fd_tol));
    }
    // lead-lag then time (the command line's order), through the log-signature
    {
        const auto g = random_vec(tensig::sig_length(2 * d + 1, 3));
        const xt::xtensor<double, 2> gp = tensig::lead_lag_backward(tensig::time_augment_backward(
            tensig::logsignature_backward(g, tensig::time_augment(tensig::lead_lag(p)), 3)));
        const double fd = richardson([&](double t) {
            const xt::xtensor<double, 2> q = p + t * v;
            return dot(g, xt::xtensor<double, 1>(
                              tensig::logsignature(tensig::time_augment(tensig::lead_lag(q)), 3)));
        });
        CHECK(dot(gp, v) == Approx(fd).epsilon(fd_tol));
    }
    // basepoint
    {
        const auto g = random_vec(tensig::sig_length(d, N));
        const xt::xtensor<double, 2> gp =
            tensig::add_basepoint_backward(tensig::signature_backward(g, tensig::add_basepoint(p), N));
        const double fd = richardson([&](double t) {
            const xt::xtensor<double, 2> q = p + t * v;
            return dot(g, xt::xtensor<double, 1>(tensig::signature(tensig::add_basepoint(q), N)));
        });
        CHECK(dot(gp, v) == Approx(fd).epsilon(fd_tol));
    }
}

TEST_CASE("signature_join_backward matches differences and iisignature's conventions",
          "[toolbox][autodiff]") {
    for (auto [dd, NN] : std::vector<std::pair<std::size_t, std::size_t>>{{1, 5}, {2, 5}, {3, 4}, {4, 2}}) {
        const std::size_t d = dd, N = NN; // (lambdas cannot capture structured bindings in C++17)
        INFO("d " << d << " N " << N);
        const std::size_t m = tensig::sig_length(d, N);
        const xt::xtensor<double, 1> S = tensig::signature(oracle::random_path(4, d, 0.6), N);
        const auto z = random_vec(d), g = random_vec(m), vs = random_vec(m), vz = random_vec(d);
        const auto [gs, gz] = tensig::signature_join_backward(g, S, z, d, N);
        REQUIRE(gs.shape() == S.shape());
        REQUIRE(gz.shape() == z.shape());
        const double fd = richardson([&](double t) {
            const xt::xtensor<double, 1> St = S + t * vs, zt = z + t * vz;
            return dot(g, xt::xtensor<double, 1>(tensig::signature_join(St, zt, d, N)));
        });
        CHECK(dot(gs, vs) + dot(gz, vz) == Approx(fd).epsilon(fd_tol));
        // the segment's gradient is the last segment's gradient of signature_backward
        const auto p = oracle::random_path(5, d, 0.6);
        const xt::xtensor<double, 2> head = xt::view(p, xt::range(0, 4), xt::all());
        const xt::xtensor<double, 1> last = xt::row(p, 4) - xt::row(p, 3);
        const auto [gs2, gz2] = tensig::signature_join_backward(g, tensig::signature(head, N), last, d, N);
        const xt::xtensor<double, 2> gp = tensig::signature_backward(g, p, N);
        const xt::xtensor<double, 1> gp_last = xt::row(gp, 4);
        CHECK(oracle::rel_err(gz2, gp_last, d) <= 1e-12);
        (void)gs2;
    }
}

TEST_CASE("signature_scale_backward matches differences, also for zero scales", "[toolbox][autodiff]") {
    for (auto [dd, NN] : std::vector<std::pair<std::size_t, std::size_t>>{{1, 6}, {2, 5}, {3, 4}, {4, 3}}) {
        const std::size_t d = dd, N = NN;
        for (int zeros = 0; zeros < 3; ++zeros) {
            INFO("d " << d << " N " << N << " zeros " << zeros);
            const std::size_t m = tensig::sig_length(d, N);
            const xt::xtensor<double, 1> S = tensig::signature(oracle::random_path(4, d, 0.6), N);
            auto c = random_vec(d, 1.2);
            if (zeros == 1) c(0) = 0;
            if (zeros == 2) c.fill(0);
            const auto g = random_vec(m), vs = random_vec(m), vc = random_vec(d);
            const auto [gs, gc] = tensig::signature_scale_backward(g, S, c, d, N);
            REQUIRE(gs.shape() == S.shape());
            REQUIRE(gc.shape() == c.shape());
            const double fd = richardson([&](double t) {
                const xt::xtensor<double, 1> St = S + t * vs, ct = c + t * vc;
                return dot(g, xt::xtensor<double, 1>(tensig::signature_scale(St, ct, d, N)));
            });
            CHECK(dot(gs, vs) + dot(gc, vc) == Approx(fd).epsilon(fd_tol).margin(1e-10));
            for (std::size_t a = 0; a < d; ++a)
                CHECK(std::isfinite(gc(a)));
            if (zeros == 2) // all scales 0: only level 1 depends on c to first order
                for (std::size_t a = 0; a < d; ++a)
                    CHECK(gc(a) == g(a) * S(a));
        }
    }
}

TEST_CASE("float gradients of the helpers agree with double", "[toolbox][autodiff]") {
    const std::size_t d = 3, N = 4, m = tensig::sig_length(d, N);
    const xt::xtensor<double, 1> S = tensig::signature(oracle::random_path(4, d, 0.6), N);
    const auto z = random_vec(d), g = random_vec(m);
    using F1 = xt::xtensor<float, 1>;
    const F1 Sf = xt::cast<float>(S), zf = xt::cast<float>(z), gf = xt::cast<float>(g);
    const auto [gs, gz] = tensig::signature_join_backward(g, S, z, d, N);
    const auto [gsf, gzf] = tensig::signature_join_backward(gf, Sf, zf, d, N);
    CHECK(oracle::rel_err(gsf, gs, m) <= 1e-5);
    CHECK(oracle::rel_err(gzf, gz, d) <= 1e-5);
    const auto [hs, hc] = tensig::signature_scale_backward(g, S, z, d, N);
    const auto [hsf, hcf] = tensig::signature_scale_backward(gf, Sf, zf, d, N);
    CHECK(oracle::rel_err(hsf, hs, m) <= 1e-5);
    CHECK(oracle::rel_err(hcf, hc, d) <= 1e-5);
    static_assert(std::is_same_v<std::decay_t<decltype(gsf)>, F1>);
}

// ---- batches ------------------------------------------------------------------------------------

TEST_CASE("batched helpers and transforms equal the loop, for any thread count", "[toolbox][parallel]") {
    const std::size_t B = 23, d = 3, N = 4, m = tensig::sig_length(d, N);
    const auto paths = random_batch(B, 5, d, 0.5);
    const xt::xtensor<double, 2> S = tensig::signature(paths, N);
    const auto Z = random_array<2>({B, d}), C = random_array<2>({B, d}), G = random_array<2>({B, m});
    const xt::xtensor<double, 2> J = tensig::signature_join(S, Z, d, N, 1);
    const xt::xtensor<double, 2> J2 = tensig::signature_join(S, Z, d, N, 2);
    const xt::xtensor<double, 2> K = tensig::signature_scale(S, C, d, N, 1);
    const auto [jgs, jgz] = tensig::signature_join_backward(G, S, Z, d, N, 1);
    const auto [jgs0, jgz0] = tensig::signature_join_backward(G, S, Z, d, N, 0);
    const auto [kgs, kgc] = tensig::signature_scale_backward(G, S, C, d, N);
    CHECK(bool(J == J2));
    CHECK(bool(jgs == jgs0));
    CHECK(bool(jgz == jgz0));
    REQUIRE(jgz.shape() == Z.shape());
    for (std::size_t b = 0; b < B; ++b) {
        INFO("item " << b);
        const xt::xtensor<double, 1> s = xt::row(S, b), z = xt::row(Z, b), c = xt::row(C, b),
                                     g = xt::row(G, b);
        CHECK(bool(xt::xtensor<double, 1>(xt::row(J, b)) == tensig::signature_join(s, z, d, N)));
        CHECK(bool(xt::xtensor<double, 1>(xt::row(K, b)) == tensig::signature_scale(s, c, d, N)));
        const auto [gs, gz] = tensig::signature_join_backward(g, s, z, d, N);
        CHECK(bool(xt::xtensor<double, 1>(xt::row(jgs, b)) == gs));
        CHECK(bool(xt::xtensor<double, 1>(xt::row(jgz, b)) == gz));
        const auto [hs, hc] = tensig::signature_scale_backward(g, s, c, d, N);
        CHECK(bool(xt::xtensor<double, 1>(xt::row(kgs, b)) == hs));
        CHECK(bool(xt::xtensor<double, 1>(xt::row(kgc, b)) == hc));
    }
    // transforms of a batch: each item transformed alone
    const xt::xtensor<double, 3> T = tensig::time_augment(paths, 1.0, 2.0);
    const xt::xtensor<double, 3> LL = tensig::lead_lag(paths);
    const xt::xtensor<double, 3> BP = tensig::add_basepoint(paths);
    const auto GT = random_array<3>({B, 5, d + 1}), GL = random_array<3>({B, 9, 2 * d});
    const xt::xtensor<double, 3> gT = tensig::time_augment_backward(GT);
    const xt::xtensor<double, 3> gL = tensig::lead_lag_backward(GL);
    const xt::xtensor<double, 3> gB = tensig::add_basepoint_backward(BP);
    REQUIRE(T.shape() == (std::array<std::size_t, 3>{B, 5, d + 1}));
    REQUIRE(LL.shape() == (std::array<std::size_t, 3>{B, 9, 2 * d}));
    REQUIRE(BP.shape() == (std::array<std::size_t, 3>{B, 6, d}));
    CHECK(bool(gB == paths));
    for (std::size_t b = 0; b < B; ++b) {
        INFO("item " << b);
        const auto p = item(paths, b);
        CHECK(bool(item(T, b) == xt::xtensor<double, 2>(tensig::time_augment(p, 1.0, 2.0))));
        CHECK(bool(item(LL, b) == xt::xtensor<double, 2>(tensig::lead_lag(p))));
        CHECK(bool(item(BP, b) == xt::xtensor<double, 2>(tensig::add_basepoint(p))));
        CHECK(bool(item(gT, b) == xt::xtensor<double, 2>(tensig::time_augment_backward(item(GT, b)))));
        CHECK(bool(item(gL, b) == xt::xtensor<double, 2>(tensig::lead_lag_backward(item(GL, b)))));
    }
    // a dynamic-rank batch gives a dynamic-rank result of the same shape
    const xt::xarray<double> LLa = tensig::lead_lag(xt::xarray<double>(paths));
    CHECK(LLa.dimension() == 3);
    CHECK(bool(LLa == LL));
}

// ---- bad inputs ---------------------------------------------------------------------------------

TEST_CASE("bad inputs to the helpers and transforms throw invalid_input", "[toolbox][errors]") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const std::size_t d = 2, N = 3, m = tensig::sig_length(d, N); // 14
    const xt::xtensor<double, 1> s = random_vec(m), z = random_vec(d), g = random_vec(m);
    const xt::xtensor<double, 2> S = random_array<2>({3, m}), Z = random_array<2>({3, d});
    using tensig::invalid_input;

    // wrong signature length, wrong vector length, mismatched batch, wrong rank
    CHECK_THROWS_WITH(tensig::signature_join(s, z, d, 4),
                      Catch::Contains("length 30") && Catch::Contains("(14,)"));
    CHECK_THROWS_WITH(tensig::signature_scale(s, xt::xtensor<double, 1>(random_vec(3)), d, N),
                      Catch::Contains("scales of shape (2,)"));
    CHECK_THROWS_WITH(tensig::signature_join(S, z, d, N), Catch::Contains("segments of shape (3, 2)"));
    CHECK_THROWS_WITH(tensig::signature_join(s, Z, d, N), Catch::Contains("segments of shape (2,)"));
    CHECK_THROWS_WITH(tensig::signature_join(S, xt::xtensor<double, 2>(random_array<2>({4, d})), d, N),
                      Catch::Contains("(3, 2)") && Catch::Contains("(4, 2)"));
    CHECK_THROWS_WITH(tensig::signature_join(xt::xarray<double>(xt::zeros<double>({2ul, 2ul, m})),
                                             xt::xarray<double>(z), d, N),
                      Catch::Contains("sigs must have shape"));
    CHECK_THROWS_AS(tensig::signature_scale(xt::xarray<double>(5.0), xt::xarray<double>(z), d, N),
                    invalid_input);
    // dimension or depth 0
    CHECK_THROWS_AS(tensig::signature_join(s, z, 0, N), invalid_input);
    CHECK_THROWS_AS(tensig::signature_scale(s, z, d, 0), invalid_input);
    // non-finite values, with their index
    auto sn = s;
    sn(7) = nan;
    CHECK_THROWS_WITH(tensig::signature_join(sn, z, d, N),
                      Catch::Contains("sigs has a non-finite value") && Catch::Contains("(7)"));
    auto zn = Z;
    zn(2, 1) = std::numeric_limits<double>::infinity();
    CHECK_THROWS_WITH(tensig::signature_join(S, zn, d, N),
                      Catch::Contains("segments has a non-finite") && Catch::Contains("(2, 1)"));
    CHECK_THROWS_WITH(tensig::signature_scale(s, xt::xtensor<double, 1>{1.0, nan}, d, N),
                      Catch::Contains("scales has a non-finite"));
    // backward: grad not shaped like sigs, non-finite grad
    CHECK_THROWS_WITH(tensig::signature_join_backward(xt::xtensor<double, 1>(random_vec(m - 1)), s, z, d, N),
                      Catch::Contains("grad must have the shape of sigs (14,)"));
    CHECK_THROWS_AS(tensig::signature_scale_backward(S, s, z, d, N), invalid_input);
    auto gn = g;
    gn(0) = nan;
    CHECK_THROWS_WITH(tensig::signature_scale_backward(gn, s, z, d, N),
                      Catch::Contains("grad has a non-finite"));
    CHECK_THROWS_WITH(tensig::signature_join_backward(g, s, xt::xtensor<double, 1>(random_vec(3)), d, N),
                      Catch::Contains("segments of shape (2,)"));

    // transforms: wrong rank, empty, no coordinates, non-finite values and ranges
    const xt::xarray<double> rank1 = xt::zeros<double>({5ul}),
                             rank4 = xt::zeros<double>({1ul, 2ul, 2ul, 2ul});
    for (const auto* x : {&rank1, &rank4}) {
        CHECK_THROWS_WITH(tensig::time_augment(*x), Catch::Contains("time_augment: path must have shape"));
        CHECK_THROWS_WITH(tensig::lead_lag(*x), Catch::Contains("rank"));
        CHECK_THROWS_AS(tensig::add_basepoint(*x), invalid_input);
        CHECK_THROWS_AS(tensig::time_augment_backward(*x), invalid_input);
        CHECK_THROWS_AS(tensig::lead_lag_backward(*x), invalid_input);
        CHECK_THROWS_AS(tensig::add_basepoint_backward(*x), invalid_input);
    }
    const xt::xtensor<double, 2> empty = xt::zeros<double>({0ul, 2ul}), nodim = xt::zeros<double>({3ul, 0ul});
    CHECK_THROWS_WITH(tensig::time_augment(empty), Catch::Contains("at least 1 point"));
    CHECK_THROWS_WITH(tensig::lead_lag(empty), Catch::Contains("at least 1 point"));
    CHECK_THROWS_WITH(tensig::lead_lag(nodim), Catch::Contains("at least 1 coordinate"));
    CHECK_THROWS_AS(tensig::time_augment(nodim), invalid_input);
    CHECK_THROWS_AS(tensig::add_basepoint(nodim), invalid_input);
    CHECK_THROWS_AS(tensig::add_basepoint_backward(empty), invalid_input);
    auto p = oracle::random_path(4, 2);
    CHECK_THROWS_WITH(tensig::time_augment(p, 0.0, nan), Catch::Contains("time range must be finite"));
    CHECK_THROWS_WITH(tensig::time_augment(p, -std::numeric_limits<double>::infinity(), 1.0),
                      Catch::Contains("finite"));
    p(3, 1) = nan;
    CHECK_THROWS_WITH(tensig::lead_lag(p),
                      Catch::Contains("lead_lag: path has a non-finite") && Catch::Contains("(3, 1)"));
    CHECK_THROWS_WITH(tensig::time_augment(p), Catch::Contains("(3, 1)"));
    CHECK_THROWS_WITH(tensig::add_basepoint(p), Catch::Contains("(3, 1)"));
    // backward shapes that no forward pass produces
    CHECK_THROWS_WITH(tensig::lead_lag_backward(xt::xtensor<double, 2>(xt::zeros<double>({4ul, 4ul}))),
                      Catch::Contains("odd number of points"));
    CHECK_THROWS_WITH(tensig::lead_lag_backward(xt::xtensor<double, 2>(xt::zeros<double>({5ul, 3ul}))),
                      Catch::Contains("(5, 3)"));
    CHECK_THROWS_WITH(tensig::time_augment_backward(xt::xtensor<double, 2>(xt::zeros<double>({5ul, 1ul}))),
                      Catch::Contains("at least 2 coordinates"));
    auto gt = random_array<2>({3, 3});
    gt(1, 2) = nan;
    CHECK_THROWS_WITH(tensig::time_augment_backward(gt),
                      Catch::Contains("the gradient has a non-finite") && Catch::Contains("(1, 2)"));
}

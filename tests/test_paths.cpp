// Layer 6: signatures and friends against iisignature's values, closed forms
// and the properties that characterise them; bad inputs.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xview.hpp>

#include "support/lanes_cases.hpp"
#include "support/oracle.hpp"

using tensig::shape;

namespace {
// iisignature's float64 values agree with an exact computation to about 1e-12
// relative (tensig/../shared/ref/README.md); both sides round independently.
constexpr double ref_tol = 1e-12;
} // namespace

TEST_CASE("signature matches iisignature's sig", "[paths][reference]") {
    for (const char* name :
         {"sig_L10_d2_N6", "sig_L1_d3_N4", "sig_L20_d3_N5", "sig_L2_d2_N3", "sig_L7_d5_N3"}) {
        INFO(name);
        const auto path = oracle::load_ref<2>(std::string(name) + "_path.npy");
        const auto ref = oracle::load_ref<1>(std::string(name) + ".npy");
        const std::string n(name);
        const std::size_t depth = static_cast<std::size_t>(n.back() - '0');
        const xt::xtensor<double, 1> s = tensig::signature(path, depth);
        REQUIRE(s.size() == ref.size());
        CHECK(oracle::rel_err(s, ref, s.size()) <= ref_tol);
        // and the float version, to float precision
        const xt::xtensor<float, 2> pf = xt::cast<float>(path);
        const xt::xtensor<float, 1> sf = tensig::signature(pf, depth);
        CHECK(oracle::rel_err(sf, ref, s.size()) <= 2e-5);
    }
}

TEST_CASE("signature_stream matches iisignature's sig(path, N, 2)", "[paths][reference]") {
    const auto path = oracle::load_ref<2>("sigprefix_L10_d2_N4_path.npy");
    const auto ref = oracle::load_ref<2>("sigprefix_L10_d2_N4.npy");
    const xt::xtensor<double, 2> P = tensig::signature_stream(path, 4);
    REQUIRE(P.shape() == ref.shape());
    CHECK(oracle::rel_err(P, ref, P.size()) <= ref_tol);
    // the last row is the signature
    const xt::xtensor<double, 1> s = tensig::signature(path, 4);
    CHECK(oracle::max_abs_diff(xt::xtensor<double, 1>(xt::row(P, P.shape()[0] - 1)), s, s.size()) == 0);
}

TEST_CASE("signature_combine matches iisignature's sigcombine", "[paths][reference]") {
    const auto s1 = oracle::load_ref<1>("sigcombine_d2_N6_sig1.npy");
    const auto s2 = oracle::load_ref<1>("sigcombine_d2_N6_sig2.npy");
    const auto ref = oracle::load_ref<1>("sigcombine_d2_N6_f64.npy");
    const xt::xtensor<double, 1> c = tensig::signature_combine(s1, s2, 2, 6);
    REQUIRE(c.shape() == ref.shape());
    CHECK(oracle::rel_err(c, ref, c.size()) <= ref_tol);
    // a batch of two: (s1, s2) and (s2, s1)
    const xt::xtensor<double, 2> a = xt::stack(xt::xtuple(s1, s2)), b = xt::stack(xt::xtuple(s2, s1));
    const xt::xtensor<double, 2> cb = tensig::signature_combine(a, b, 2, 6);
    CHECK(oracle::max_abs_diff(xt::xtensor<double, 1>(xt::row(cb, 0)), c, c.size()) == 0);
    const xt::xtensor<double, 1> swapped = tensig::signature_combine(s2, s1, 2, 6);
    CHECK(oracle::max_abs_diff(xt::xtensor<double, 1>(xt::row(cb, 1)), swapped, c.size()) == 0);
}

TEST_CASE("logsignature (expanded) matches iisignature's logsig(..., 'x')", "[paths][reference]") {
    for (const char* name : {"logsig_d2_N4", "logsig_d3_N4"}) {
        INFO(name);
        const auto path = oracle::load_ref<2>(std::string(name) + "_path.npy");
        const auto ref = oracle::load_ref<1>(std::string(name) + "_expanded.npy");
        const xt::xtensor<double, 1> l = tensig::logsignature(path, 4, tensig::logsig_basis::expanded);
        REQUIRE(l.size() == ref.size());
        CHECK(oracle::rel_err(l, ref, l.size()) <= ref_tol);
    }
}

TEST_CASE("a straight line has signature Δ^{⊗k}/k!", "[paths]") {
    for (std::size_t d : {1, 2, 3, 5}) {
        const std::size_t N = 5;
        const shape s(d, N);
        auto p = oracle::random_path(2, d);
        const xt::xtensor<double, 1> sig = tensig::signature(p, N);
        std::vector<double> delta(d);
        for (std::size_t c = 0; c < d; ++c)
            delta[c] = p(1, c) - p(0, c);
        double fact = 1;
        for (std::size_t k = 1; k <= N; ++k) {
            fact *= static_cast<double>(k);
            for (std::size_t idx = 0; idx < s.level_size(k); ++idx) {
                double expect = 1 / fact;
                for (auto letter : tensig::index_to_word(idx, k, d))
                    expect *= delta[letter];
                CHECK(sig[s.level_offset(k) - 1 + idx] == Approx(expect).epsilon(1e-14).margin(1e-15));
            }
        }
    }
}

TEST_CASE("Chen's identity: signature of a concatenation is the product", "[paths]") {
    for (std::size_t d : {1, 2, 3, 4}) {
        const std::size_t N = 5;
        const auto p = oracle::random_path(7, d);
        const xt::xtensor<double, 2> first = xt::view(p, xt::range(0, 4), xt::all());
        const xt::xtensor<double, 2> second = xt::view(p, xt::range(3, 7), xt::all());
        const xt::xtensor<double, 1> whole = tensig::signature(p, N);
        const xt::xtensor<double, 1> chen =
            tensig::signature_combine(tensig::signature(first, N), tensig::signature(second, N), d, N);
        CHECK(oracle::rel_err(chen, whole, whole.size()) <= 1e-13);
        // and against the naive oracle
        CHECK(oracle::rel_err(whole, oracle::signature(p, N), whole.size()) <= 1e-13);
    }
}

TEST_CASE("invariance under translation and under extra points on a segment", "[paths]") {
    const auto p = oracle::random_path(6, 3);
    const xt::xtensor<double, 1> s = tensig::signature(p, 5);
    const xt::xtensor<double, 2> shifted = p + xt::xtensor<double, 1>({10.0, -3.0, 0.5});
    const xt::xtensor<double, 1> st = tensig::signature(shifted, 5);
    CHECK(oracle::rel_err(st, s, s.size()) <= 1e-12);
    // insert the midpoint of segment 2 and a point a third along segment 4
    xt::xtensor<double, 2> q({8, 3});
    std::size_t r = 0;
    for (std::size_t j = 0; j < 6; ++j) {
        if (j == 3) xt::row(q, r++) = 0.5 * (xt::row(p, 2) + xt::row(p, 3));
        if (j == 5) xt::row(q, r++) = (2.0 * xt::row(p, 4) + xt::row(p, 5)) / 3.0;
        xt::row(q, r++) = xt::row(p, j);
    }
    const xt::xtensor<double, 1> sq = tensig::signature(q, 5);
    CHECK(oracle::rel_err(sq, s, s.size()) <= 1e-12);
}

TEST_CASE("reversal gives the inverse; options inverse and basepoint", "[paths]") {
    const std::size_t d = 3, N = 4;
    const shape sh(d, N);
    const auto p = oracle::random_path(5, d);
    const xt::xtensor<double, 2> rev = xt::flip(p, 0);
    const xt::xtensor<double, 1> s = tensig::signature(p, N), sr = tensig::signature(rev, N);
    tensig::signature_options inv;
    inv.inverse = true;
    const xt::xtensor<double, 1> si = tensig::signature(p, N, inv);
    CHECK(oracle::rel_err(si, sr, s.size()) <= 1e-13);
    // S ⊗ S^{-1} = 1
    const xt::xtensor<double, 1> one = tensig::signature_combine(s, si, d, N);
    CHECK(oracle::max_abs(one, one.size()) <= 1e-12);
    // basepoint: the same as prepending the origin
    tensig::signature_options bp;
    bp.basepoint = true;
    xt::xtensor<double, 2> with0 = xt::zeros<double>({6ul, d});
    xt::view(with0, xt::range(1, 6), xt::all()) = p;
    const xt::xtensor<double, 1> sb = tensig::signature(p, N, bp), s0 = tensig::signature(with0, N);
    CHECK(oracle::max_abs_diff(sb, s0, s0.size()) <= 1e-14);
    const xt::xtensor<double, 2> stream_bp = tensig::signature_stream(p, N, bp);
    CHECK(stream_bp.shape()[0] == 5);
    // stream with inverse: every row is the inverse of the prefix signature
    const xt::xtensor<double, 2> st = tensig::signature_stream(p, N),
                                 sti = tensig::signature_stream(p, N, inv);
    for (std::size_t r = 0; r < st.shape()[0]; ++r) {
        const xt::xtensor<double, 1> prod = tensig::signature_combine(
            xt::xtensor<double, 1>(xt::row(st, r)), xt::xtensor<double, 1>(xt::row(sti, r)), d, N);
        CHECK(oracle::max_abs(prod, prod.size()) <= 1e-12);
    }
    // a one-point path has signature 1
    const xt::xtensor<double, 2> point = {{1.0, 2.0, 3.0}};
    const xt::xtensor<double, 1> sp = tensig::signature(point, N);
    CHECK(oracle::max_abs(sp, sp.size()) == 0);
}

TEST_CASE("batches equal loops; any xtensor expression is accepted", "[paths]") {
    const std::size_t B = 5, L = 9, d = 3, N = 4;
    xt::xtensor<double, 3> batch({B, L, d});
    for (std::size_t b = 0; b < B; ++b)
        xt::view(batch, b, xt::all(), xt::all()) = oracle::random_path(L, d);
    const xt::xtensor<double, 2> S = tensig::signature(batch, N);
    REQUIRE(S.shape()[0] == B);
    for (std::size_t b = 0; b < B; ++b) {
        const xt::xtensor<double, 2> p = xt::view(batch, b, xt::all(), xt::all());
        const xt::xtensor<double, 1> s = tensig::signature(p, N);
        // (a batch may run in lanes, kernels::fmexp_lanes: equal to rounding)
        CHECK(oracle::rel_err(xt::xtensor<double, 1>(xt::row(S, b)), s, s.size()) <= 1e-14);
        // a lazy view, an xarray, an adaptor over raw memory, a column-major copy, integers
        const xt::xtensor<double, 1> sv = tensig::signature(xt::view(batch, b, xt::all(), xt::all()), N);
        const xt::xarray<double> arr = p;
        const xt::xarray<double> sa = tensig::signature(arr, N);
        std::vector<double> raw(p.begin(), p.end());
        const auto adapted =
            xt::adapt(raw.data(), raw.size(), xt::no_ownership(), std::array<std::size_t, 2>{L, d});
        const xt::xtensor<double, 1> sad = tensig::signature(adapted, N);
        xt::xtensor<double, 2, xt::layout_type::column_major> cm = p;
        const xt::xtensor<double, 1> scm = tensig::signature(cm, N);
        CHECK(oracle::max_abs_diff(sv, s, s.size()) == 0);
        CHECK(oracle::max_abs_diff(sa, s, s.size()) == 0);
        CHECK(oracle::max_abs_diff(sad, s, s.size()) == 0);
        CHECK(oracle::max_abs_diff(scm, s, s.size()) == 0);
    }
    const xt::xtensor<int, 2> ints = {{0, 0}, {1, 2}, {3, 1}};
    const xt::xtensor<double, 1> si = tensig::signature(ints, 2);
    CHECK(si(2) == Approx(4.5));
    // a batch of log-signatures equals the loop too
    const xt::xtensor<double, 2> LS = tensig::logsignature(batch, N);
    const xt::xtensor<double, 1> l0 = tensig::logsignature(xt::view(batch, 0, xt::all(), xt::all()), N);
    CHECK(oracle::rel_err(xt::xtensor<double, 1>(xt::row(LS, 0)), l0, l0.size()) <= 1e-14);
}

TEMPLATE_TEST_CASE("batches in SIMD lanes equal one path at a time, with every option (signature, logsignature)",
                   "[paths]", float, double) {
    using T = TestType;
    // float, d = 2, N = 7 (session 32): over 2200-7000 random paths of
    // these (L = 11, standard normal points) per instruction set, the largest
    // difference over the largest entry had a median of 2.2e-7-2.9e-7 and
    // reached 2.0e-5-3.2e-5
    const double tol = std::is_same_v<T, float> ? 1e-4 : 1e-13;
    // the log cancels: float rows differ by up to ~1e-4 (2000 ulp) of the largest
    const double log_tol = std::is_same_v<T, float> ? 1e-3 : 1e-12;
    lanes_cases::for_each<T>([&](std::size_t W, std::size_t d, std::size_t N, const tensig::signature_options& o) {
        const std::size_t B = 2 * W + 3, L = 11; // two groups of lanes and three paths alone
        xt::xtensor<T, 3> batch({B, L, d});
        for (std::size_t b = 0; b < B; ++b)
            xt::view(batch, b, xt::all(), xt::all()) = oracle::random_path<T>(L, d);
        const xt::xtensor<T, 2> S = tensig::signature(batch, N, o);
        const xt::xtensor<T, 2> LS = tensig::logsignature(batch, N, tensig::logsig_basis::lyndon, o);
        for (std::size_t b = 0; b < B; ++b) {
            const xt::xtensor<T, 2> path = xt::view(batch, b, xt::all(), xt::all());
            const xt::xtensor<T, 1> s = tensig::signature(path, N, o),
                                    l = tensig::logsignature(path, N, tensig::logsig_basis::lyndon, o);
            CHECK(oracle::rel_err(xt::xtensor<T, 1>(xt::row(S, b)), s, s.size()) <= tol);
            CHECK(oracle::rel_err(xt::xtensor<T, 1>(xt::row(LS, b)), l, l.size()) <= log_tol);
        }
    });
}

// The signature of `path` under o, one segment at a time through the scalar
// kernels (no lanes of any kind): the reference of the one-path routes.
template <class T>
std::vector<T> signature_by_segments(const xt::xtensor<T, 2>& path, std::size_t N, const tensig::signature_options& o) {
    const std::size_t L = path.shape()[0], d = path.shape()[1];
    std::vector<std::vector<T>> pts;
    if (o.basepoint) pts.emplace_back(d, T(0));
    for (std::size_t i = 0; i < L; ++i)
        pts.emplace_back(path.data() + i * d, path.data() + (i + 1) * d);
    if (o.inverse) std::reverse(pts.begin(), pts.end());
    tensig::tensor<T> A(shape(d, N));
    A.set_unit();
    std::vector<T> z(d), scratch(tensig::kernels::scalar::fmexp_scratch_size(d, N));
    for (std::size_t i = 0; i + 1 < pts.size(); ++i) {
        for (std::size_t c = 0; c < d; ++c)
            z[c] = pts[i + 1][c] - pts[i][c];
        tensig::kernels::scalar::fmexp(A.data(), z.data(), d, N, scratch.data());
    }
    return std::vector<T>(A.data() + 1, A.data() + A.size());
}

TEMPLATE_TEST_CASE("one path by prefix lanes equals its segments one by one, with every option", "[paths]", float,
                   double) {
    using T = TestType;
    const double tol = std::is_same_v<T, float> ? 1e-4 : 1e-12;
    for (const auto& arch : tensig::kernels::available_archs()) {
        tensig::kernels::force_arch(arch);
        const std::size_t W = tensig::kernels::lanes<T>();
        for (auto [d, N] : {std::pair<std::size_t, std::size_t>{2, 12}, {2, 10}, {2, 9}, {2, 4}, {4, 5}, {3, 5}}) {
            const std::size_t p = tensig::detail::prefix_lanes_level<T>(shape(d, N));
            // the route runs where it should: d = 2, N = 12 in lanes (W words of level log2 W)
            if (W > 1 && d == 2 && N == 12) CHECK(p > 0);
            if (d == 3) CHECK(p == 0); // 3^p is never a multiple of W
            for (std::size_t L : {1, 2, 3, 6, 19, 40})
                for (int option = 0; option < 3; ++option) {
                    const tensig::signature_options o = lanes_cases::option(option);
                    INFO(arch << " lanes " << W << " d " << d << " N " << N << " p " << p << " L " << L
                              << " option " << option);
                    const xt::xtensor<T, 2> path = oracle::random_path<T>(L, d, 0.7);
                    const xt::xtensor<T, 1> S = tensig::signature(path, N, o);
                    const std::vector<T> ref = signature_by_segments(path, N, o);
                    CHECK(oracle::rel_err(S, ref, ref.size()) <= tol);
                    // and level by level, however small the level. In double, to tol of the level. In float
                    // a high level can be much smaller than its terms (they cancel), and both S and ref were
                    // off by up to 4e-4 of such a level against double (3000 random paths, d = 2, N = 12,
                    // L = 6): there both are measured against the same points' signature in double, and S
                    // may be off by four times ref's error plus 1e-5 of the level.
                    const std::vector<double> exact =
                        signature_by_segments(xt::xtensor<double, 2>(xt::cast<double>(path)), N, o);
                    for (std::size_t k = 1; k <= N; ++k) {
                        const std::size_t off = shape(d, N).level_offset(k) - 1, n = shape(d, N).level_size(k);
                        if constexpr (std::is_same_v<T, double>) {
                            CHECK(oracle::max_abs_diff(S.data() + off, ref.data() + off, n) <=
                                  tol * oracle::max_abs(ref.data() + off, n));
                        } else {
                            double err = 0, ref_err = 0;
                            for (std::size_t i = off; i < off + n; ++i) {
                                err = std::max(err, std::abs(double(S(i)) - exact[i]));
                                ref_err = std::max(ref_err, std::abs(double(ref[i]) - exact[i]));
                            }
                            CHECK(err <= 4 * ref_err + 1e-5 * oracle::max_abs(exact.data() + off, n));
                        }
                    }
                }
        }
    }
    tensig::kernels::force_arch("");
    // a path long enough for pieces (signature_long), each piece from the unit by prefix lanes
    const xt::xtensor<double, 2> path = oracle::random_path(4200, 2, 0.05);
    const xt::xtensor<double, 1> S = tensig::signature(path, 8);
    const auto ref = signature_by_segments(path, 8, {});
    CHECK(oracle::rel_err(S, ref, ref.size()) <= 1e-11);
}

TEST_CASE("a thread keeps its last small workspace, for its shape and instruction set", "[paths]") {
    using tensig::detail::path_workspace;
    using tensig::detail::thread_workspace;
    const shape s(2, 12);
    const double* kept = nullptr;
    {
        thread_workspace<path_workspace<double>> ws(s);
        kept = ws->acc.data();
    }
    {
        thread_workspace<path_workspace<double>> ws(s);
        CHECK(ws->acc.data() == kept); // given back, then taken again
        thread_workspace<path_workspace<double>> nested(s); // in use: a call inside gets its own
        CHECK(nested->fits(s));
    }
    {
        thread_workspace<path_workspace<double>> big(shape(2, 17)); // 2 MiB: not kept
        CHECK(big->bytes() > tensig::detail::thread_workspace_bytes);
    }
    {
        thread_workspace<path_workspace<double>> ws(s);
        CHECK(ws->acc.data() == kept); // the outer one, given back last; the big one left nothing
    }
    { // the backward's too
        using tensig::detail::backward_workspace;
        const double* g = nullptr;
        {
            thread_workspace<backward_workspace<double>> ws(s);
            g = ws->grad.data();
        }
        thread_workspace<backward_workspace<double>> ws(s);
        CHECK(ws->grad.data() == g);
    }
    // Repeated calls give the same bits whatever ran on the thread between
    // them (another path, other options, the backward pass), and a kept
    // workspace is not used with kernels of another lane count.
    const xt::xtensor<double, 2> a = oracle::random_path(12, 2, 0.4), b = oracle::random_path(30, 2, 0.4);
    const auto g = oracle::random_path(tensig::sig_length(2, 12), 1, 1.0);
    const xt::xtensor<double, 1> ga = xt::flatten(g);
    const xt::xtensor<double, 1> Sa = tensig::signature(a, 12);
    const xt::xtensor<double, 2> Ga = tensig::signature_backward(ga, a, 12);
    for (const auto& arch : tensig::kernels::available_archs()) {
        INFO(arch);
        tensig::kernels::force_arch(arch);
        const xt::xtensor<double, 1> S = tensig::signature(a, 12);
        CHECK(oracle::rel_err(S, Sa, Sa.size()) <= 1e-12);
        CHECK(oracle::rel_err(xt::xtensor<double, 2>(tensig::signature_backward(ga, a, 12)), Ga, Ga.size()) <= 1e-12);
        tensig::signature_options o;
        o.inverse = true;
        (void)tensig::signature(b, 12, o);
        (void)tensig::signature_backward(ga, b, 12);
        CHECK((xt::xtensor<double, 1>(tensig::signature(a, 12)) == S));
    }
    tensig::kernels::force_arch("");
    CHECK((xt::xtensor<double, 1>(tensig::signature(a, 12)) == Sa));
    CHECK((xt::xtensor<double, 2>(tensig::signature_backward(ga, a, 12)) == Ga));
}

TEST_CASE("float and double agree to float precision on a long path", "[paths]") {
    const auto p = oracle::random_path(200, 2, 0.1);
    const xt::xtensor<float, 2> pf = xt::cast<float>(p);
    const xt::xtensor<double, 1> s = tensig::signature(p, 8);
    const xt::xtensor<float, 1> sf = tensig::signature(pf, 8);
    CHECK(oracle::rel_err(sf, s, s.size()) <= 1e-4);
    CHECK(oracle::rel_err(sf, s, s.size()) > 0); // really computed in float
}

TEST_CASE("bad inputs give clear errors", "[paths][errors]") {
    auto p = oracle::random_path(4, 2);
    CHECK_THROWS_WITH(tensig::signature(p, 0), Catch::Contains("depth must be at least 1"));
    p(2, 1) = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_WITH(tensig::signature(p, 3), Catch::Contains("non-finite") && Catch::Contains("(2, 1)"));
    p(2, 1) = std::numeric_limits<double>::infinity();
    CHECK_THROWS_AS(tensig::signature(p, 3), tensig::invalid_input);
    const xt::xtensor<double, 2> empty = xt::zeros<double>({0ul, 2ul});
    CHECK_THROWS_WITH(tensig::signature(empty, 3), Catch::Contains("empty"));
    const xt::xtensor<double, 2> nodim = xt::zeros<double>({3ul, 0ul});
    CHECK_THROWS_AS(tensig::signature(nodim, 3), tensig::invalid_input);
    const xt::xarray<double> rank1 = xt::zeros<double>({5ul});
    CHECK_THROWS_WITH(tensig::signature(rank1, 3), Catch::Contains("rank 1"));
    const xt::xarray<double> rank4 = xt::zeros<double>({2ul, 2ul, 2ul, 2ul});
    CHECK_THROWS_WITH(tensig::signature(rank4, 3), Catch::Contains("rank 4"));
    const xt::xtensor<double, 2> small = {{0.0, 1.0, 2.0}, {1.0, 1.0, 1.0}};
    CHECK_THROWS_AS(tensig::signature(small, 60), tensig::size_error);
    CHECK_THROWS_WITH(tensig::signature(small, 40), Catch::Contains("memory"));
    const xt::xtensor<double, 1> s1 = xt::zeros<double>({6ul}), s2 = xt::zeros<double>({7ul});
    CHECK_THROWS_WITH(tensig::signature_combine(s1, s2, 2, 2), Catch::Contains("length 6"));
    const xt::xtensor<double, 3> batch = xt::zeros<double>({2ul, 3ul, 2ul});
    CHECK_THROWS_AS(tensig::signature_stream(xt::xarray<double>(batch), 2), tensig::invalid_input);
}

TEMPLATE_TEST_CASE("a non-finite point is named wherever the output is the smaller", "[paths][errors]", float,
                   double) {
    // (B, L, d) = (3, 40, 2) at depth 2: 240 values in, 18 out, so the output
    // is scanned instead of the paths (on_finite_paths); every position of
    // the batch, each kind of non-finite value, and each function.
    using lim = std::numeric_limits<TestType>;
    const std::size_t B = 3, L = 40, d = 2, N = 2;
    xt::xtensor<TestType, 3> batch = xt::zeros<TestType>({B, L, d});
    for (std::size_t b = 0; b < B; ++b)
        xt::view(batch, b) = xt::cast<TestType>(oracle::random_path(L, d));
    const TestType bads[] = {lim::quiet_NaN(), lim::infinity(), -lim::infinity()};
    std::size_t thrown = 0;
    for (std::size_t b = 0; b < B; ++b)
        for (std::size_t l = 0; l < L; ++l)
            for (std::size_t c = 0; c < d; ++c) {
                xt::xtensor<TestType, 3> bad = batch;
                bad(b, l, c) = bads[(b + l + c) % 3];
                const std::string at = "(" + std::to_string(b) + ", " + std::to_string(l) + ", " +
                                       std::to_string(c) + ")";
                INFO(at);
                CHECK_THROWS_WITH(tensig::signature(bad, N), Catch::Contains("non-finite") && Catch::Contains(at));
                for (auto basis : {tensig::logsig_basis::expanded, tensig::logsig_basis::words,
                                   tensig::logsig_basis::lyndon})
                    CHECK_THROWS_WITH(tensig::logsignature(bad, N, basis), Catch::Contains(at));
                tensig::signature_options o;
                o.basepoint = true; // the first point starts a segment too
                o.inverse = (l % 2) == 0;
                CHECK_THROWS_WITH(tensig::signature(bad, N, o), Catch::Contains(at));
                thrown += 1;
            }
    CHECK(thrown == B * L * d);
    // a one-point path has no segment: its point is scanned before
    xt::xtensor<TestType, 2> one = {{TestType(1), lim::quiet_NaN()}};
    CHECK_THROWS_WITH(tensig::signature(one, 1), Catch::Contains("(0, 1)"));
    // a finite path whose signature overflows is no error: it is returned as computed
    xt::xtensor<TestType, 2> huge = xt::zeros<TestType>({L, d});
    for (std::size_t l = 0; l < L; ++l)
        huge(l, 0) = TestType(l % 2 ? 1 : -1) * lim::max() / TestType(4);
    const xt::xtensor<TestType, 1> s = tensig::signature(huge, N);
    CHECK(std::isfinite(s(0)));
    CHECK_FALSE(std::isfinite(s(2))); // level 2's (0, 0): Σ|Δ|²/2 past the largest value
}

// Layer 5: dual numbers forward, vector-Jacobian products backward, checked
// against each other, against Richardson-extrapolated central differences
// and against iisignature's sigbackprop.
#include <catch2/catch.hpp>

#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xview.hpp>

#include "support/alloc_counter.hpp"
#include "support/lanes_cases.hpp"
#include "support/oracle.hpp"

using tensig::dual;
using tensig::shape;
using tensig::tensor;

namespace {

using oracle::dot;
using oracle::richardson;

using oracle::random_vec;

// FD tolerance for O(1) quantities with h = 1e-3 and Richardson.
constexpr double fd_tol = 1e-7;

} // namespace

TEST_CASE("dual arithmetic follows the rules of differentiation", "[autodiff][dual]") {
    using D = dual<double, 2>;
    const D x = D::variable(1.3, 0), y = D::variable(-0.7, 1);
    const D p = x * y, q = x / y, e = exp(x * y), l = log(x), s = sqrt(x), m = -x + 2.0 * y - 1;
    CHECK(p.v == Approx(1.3 * -0.7));
    CHECK(p.d[0] == Approx(-0.7));
    CHECK(p.d[1] == Approx(1.3));
    CHECK(q.d[0] == Approx(1 / -0.7));
    CHECK(q.d[1] == Approx(-1.3 / (0.7 * 0.7)));
    CHECK(e.d[0] == Approx(-0.7 * std::exp(-0.91)));
    CHECK(l.d[0] == Approx(1 / 1.3));
    CHECK(s.d[0] == Approx(0.5 / std::sqrt(1.3)));
    CHECK(m.d[0] == -1);
    CHECK(m.d[1] == 2);
    CHECK(tensig::scalar_traits<D>::is_exact_zero(D(0)));
    CHECK_FALSE(tensig::scalar_traits<D>::is_exact_zero(D::variable(0, 1)));
}

TEST_CASE("duals through the algebra give exact directional derivatives", "[autodiff][dual]") {
    using D = dual<double, 1>;
    const shape s(3, 4);
    const auto a = oracle::random_tensor<double>(s), b = oracle::random_tensor<double>(s);
    const auto da = oracle::random_tensor<double>(s), db = oracle::random_tensor<double>(s);
    tensor<D> A(s), B(s);
    for (std::size_t i = 0; i < s.size(); ++i) {
        A[i] = D(a[i]);
        A[i].d[0] = da[i];
        B[i] = D(b[i]);
        B[i].d[0] = db[i];
    }
    // product rule: d(a ⊗ b) = da ⊗ b + a ⊗ db
    const tensor<D> C = A * B;
    const tensor<double> expect = da * b + a * db;
    for (std::size_t i = 0; i < s.size(); ++i)
        CHECK(C[i].d[0] == Approx(expect[i]).margin(1e-13));
    // exp and log along a direction, against differences
    A[0] = D(0.0);
    const tensor<D> E = exp(A);
    for (std::size_t i = 0; i < s.size(); i += 7) {
        const double fd = richardson([&](double t) {
            tensor<double> x = a + t * da;
            x[0] = 0;
            const tensor<double> ex = exp(x);
            return ex[i];
        });
        CHECK(E[i].d[0] == Approx(fd).epsilon(fd_tol).margin(fd_tol));
    }
}

TEST_CASE("signature_jacobian (dual numbers) equals central differences", "[autodiff][paths]") {
    const std::vector<std::pair<std::size_t, std::size_t>> cases = {{1, 8}, {2, 1}, {2, 4}, {2, 8}, {3, 2},
                                                                    {3, 5}, {4, 1}, {4, 4}, {5, 3}};
    for (auto [d, N] : cases) {
        INFO("d " << d << " N " << N);
        const auto p = oracle::random_path(4, d, 0.7);
        const xt::xtensor<double, 3> J = tensig::signature_jacobian(p, N);
        const std::size_t m = tensig::sig_length(d, N);
        REQUIRE(J.shape()[0] == m);
        // check a few rows against differences along each coordinate
        for (std::size_t j = 0; j < 4; ++j) {
            for (std::size_t c = 0; c < d; ++c) {
                std::vector<double> col(m);
                for (std::size_t r = 0; r < m; ++r) {
                    col[r] = J(r, j, c);
                }
                const auto w = random_vec(m);
                const double fd = richardson([&](double t) {
                    auto q = p;
                    q(j, c) += t;
                    const xt::xtensor<double, 1> sq = tensig::signature(q, N);
                    return dot(w, sq, m);
                });
                CHECK(dot(w, col, m) == Approx(fd).epsilon(fd_tol).margin(fd_tol));
            }
        }
    }
}

TEST_CASE("signature_backward equals Jᵀg, for every option", "[autodiff][paths]") {
    const std::vector<std::pair<std::size_t, std::size_t>> cases = {{1, 6}, {2, 1}, {2, 5}, {2, 8},
                                                                    {3, 4}, {4, 3}, {5, 3}, {5, 2}};
    for (auto [d, N] : cases) {
        for (int opt = 0; opt < 4; ++opt) {
            tensig::signature_options o;
            o.inverse = opt & 1;
            o.basepoint = opt & 2;
            INFO("d " << d << " N " << N << " inverse " << o.inverse << " basepoint " << o.basepoint);
            const auto p = oracle::random_path(5, d, 0.6);
            const std::size_t m = tensig::sig_length(d, N);
            const auto g = random_vec(m);
            const xt::xtensor<double, 3> J = tensig::signature_jacobian(p, N, o);
            for (auto mode : {tensig::prefix_mode::rebuild, tensig::prefix_mode::store}) {
                tensig::backward_options bo;
                bo.prefixes = mode;
                const xt::xtensor<double, 2> gp = tensig::signature_backward(g, p, N, o, bo);
                REQUIRE(gp.shape() == p.shape());
                for (std::size_t j = 0; j < 5; ++j)
                    for (std::size_t c = 0; c < d; ++c) {
                        double jt = 0;
                        for (std::size_t r = 0; r < m; ++r)
                            jt += J(r, j, c) * g(r);
                        CHECK(gp(j, c) == Approx(jt).epsilon(1e-11).margin(1e-11));
                    }
            }
        }
    }
}

TEST_CASE("signature_jacobian of long paths (tangents in the middle by one product) equals the backward's Jᵀg",
          "[autodiff][paths]") {
    // past product_steps(d, N) steps from both ends a tangent is multiplied
    // by the rest of the path instead of stepped along it
    const std::vector<std::pair<std::size_t, std::size_t>> cases = {{1, 6}, {2, 4}, {3, 3}, {4, 2}};
    for (auto [d, N] : cases) {
        for (int opt = 0; opt < 2; ++opt) {
            tensig::signature_options o;
            o.inverse = opt & 1;
            const std::size_t L = 40;
            INFO("d " << d << " N " << N << " inverse " << o.inverse << " product past "
                      << tensig::detail::product_steps(d, N) << " steps");
            REQUIRE(2 * tensig::detail::product_steps(d, N) + 2 < L - 1); // some steps take the product
            const auto p = oracle::random_path(L, d, 0.3);
            const std::size_t m = tensig::sig_length(d, N);
            const auto g = random_vec(m);
            const xt::xtensor<double, 3> J = tensig::signature_jacobian(p, N, o);
            const xt::xtensor<double, 2> gp = tensig::signature_backward(g, p, N, o);
            double scale = 0;
            for (std::size_t j = 0; j < L; ++j)
                for (std::size_t c = 0; c < d; ++c)
                    scale = std::max(scale, std::abs(gp(j, c)));
            for (std::size_t j = 0; j < L; ++j)
                for (std::size_t c = 0; c < d; ++c) {
                    double jt = 0;
                    for (std::size_t r = 0; r < m; ++r)
                        jt += J(r, j, c) * g(r);
                    CHECK(std::abs(gp(j, c) - jt) <= 1e-12 * std::max(1.0, scale));
                }
        }
    }
}

TEST_CASE("signature_backward matches iisignature's sigbackprop", "[autodiff][reference]") {
    const auto path = oracle::load_ref<2>("sigbackprop_L10_d2_N6_path.npy");
    const auto deriv = oracle::load_ref<1>("sigbackprop_L10_d2_N6_deriv.npy");
    const auto ref = oracle::load_ref<2>("sigbackprop_L10_d2_N6_f64.npy");
    const xt::xtensor<double, 2> g = tensig::signature_backward(deriv, path, 6);
    REQUIRE(g.shape() == ref.shape());
    CHECK(oracle::rel_err(g, ref, g.size()) <= 1e-10);
    const xt::xtensor<float, 2> gf = tensig::signature_backward(
        xt::xtensor<float, 1>(xt::cast<float>(deriv)), xt::xtensor<float, 2>(xt::cast<float>(path)), 6);
    CHECK(oracle::rel_err(gf, ref, g.size()) <= 1e-4);
}

TEMPLATE_TEST_CASE("backward of batches in SIMD lanes equals one path at a time, with every option",
                   "[autodiff][paths]", float, double) {
    using T = TestType;
    const double tol = std::is_same_v<T, float> ? 5e-5 : 1e-12;
    lanes_cases::for_each<T>([&](std::size_t W, std::size_t d, std::size_t N, const tensig::signature_options& o) {
        const std::size_t B = 2 * W + 3, L = 11, m = tensig::sig_length(d, N); // two groups and three alone
        xt::xtensor<T, 3> paths({B, L, d});
        xt::xtensor<T, 2> grads({B, m});
        for (std::size_t b = 0; b < B; ++b) {
            xt::view(paths, b, xt::all(), xt::all()) = oracle::random_path<T>(L, d);
            const auto g = random_vec(m);
            for (std::size_t i = 0; i < m; ++i)
                grads(b, i) = T(g(i));
        }
        const xt::xtensor<T, 3> G = tensig::signature_backward(grads, paths, N, o);
        for (std::size_t b = 0; b < B; ++b) {
            const xt::xtensor<T, 2> one =
                tensig::signature_backward(xt::xtensor<T, 1>(xt::row(grads, b)),
                                           xt::xtensor<T, 2>(xt::view(paths, b, xt::all(), xt::all())), N, o);
            CHECK(oracle::rel_err(xt::xtensor<T, 2>(xt::view(G, b, xt::all(), xt::all())), one, one.size()) <= tol);
        }
    });
}

TEST_CASE("backward of batches in lanes equals one path at a time, a checkpoint every pass or every chunk",
          "[autodiff][paths]") {
    // The spacing of the lanes backward's checkpoints (detail::lanes_chunk_steps):
    // every pass for a large state on a short path; chunks of several passes,
    // each with its own forward steps, for a small state on a long path.
    struct case_t {
        std::size_t L, d, N;
        bool every_pass;
    };
    for (const auto& arch : tensig::kernels::available_archs()) {
        tensig::kernels::force_arch(arch);
        const std::size_t W = tensig::kernels::lanes<double>();
        for (const case_t c : {case_t{11, 4, 6, true}, case_t{23, 4, 6, true}, case_t{2500, 2, 5, false}}) {
            INFO(arch << " L " << c.L << " d " << c.d << " N " << c.N);
            const tensig::shape s = tensig::detail::path_shape(c.L, c.d, c.N, false);
            const std::size_t n = c.L - 1, pass = tensig::kernels::lanes_backward_segments(c.d),
                              chunk = tensig::detail::lanes_chunk_steps<double>(s, W, n);
            if (W > 1) {
                CHECK((chunk == pass) == c.every_pass); // the policy this case is about
                CHECK(n > chunk);                       // several chunks either way
            }
            const std::size_t B = W, m = tensig::sig_length(c.d, c.N);
            xt::xtensor<double, 3> paths({B, c.L, c.d});
            xt::xtensor<double, 2> grads({B, m});
            for (std::size_t b = 0; b < B; ++b) {
                xt::view(paths, b, xt::all(), xt::all()) = oracle::random_path(c.L, c.d, 0.3);
                xt::row(grads, b) = random_vec(m);
            }
            const xt::xtensor<double, 3> G = tensig::signature_backward(grads, paths, c.N);
            for (std::size_t b = 0; b < B; ++b) {
                tensig::backward_options bo;
                bo.prefixes = tensig::prefix_mode::rebuild; // the one-path route, one segment at a time
                const xt::xtensor<double, 2> one = tensig::signature_backward(
                    xt::xtensor<double, 1>(xt::row(grads, b)),
                    xt::xtensor<double, 2>(xt::view(paths, b, xt::all(), xt::all())), c.N, {}, bo);
                CHECK(oracle::rel_err(xt::xtensor<double, 2>(xt::view(G, b, xt::all(), xt::all())), one,
                                      one.size()) <= 1e-12);
            }
        }
    }
    tensig::kernels::force_arch("");
}

TEST_CASE("backward of batches in lanes at depth 2 (checkpoints from the points) equals one path at a time",
          "[autodiff][paths]") {
    // At depth 2 the checkpoints' level 1 is a difference of two points
    // (detail::lanes_level_one_checkpoints), not a sweep: paths long enough
    // for several chunks, with every option, the last chunk short.
    for (const auto& arch : tensig::kernels::available_archs()) {
        tensig::kernels::force_arch(arch);
        const std::size_t W = tensig::kernels::lanes<double>();
        for (const std::size_t d : {std::size_t(2), std::size_t(5)})
            for (int which = 0; which < 3; ++which) {
                const tensig::signature_options o = lanes_cases::option(which);
                const std::size_t N = 2, B = W + 1;
                // (small states keep a checkpoint every many passes, whatever the path's length)
                const std::size_t chunk =
                    tensig::detail::lanes_chunk_steps<double>(tensig::shape(d, N), W, std::size_t(1) << 20);
                const std::size_t L = 2 * chunk + 7, n = tensig::detail::segment_count(L, o.basepoint);
                INFO(arch << " d " << d << " option " << which << " L " << L);
                CHECK(chunk == tensig::detail::lanes_chunk_steps<double>(tensig::shape(d, N), W, n));
                CHECK(n > 2 * chunk); // three chunks: checkpoints past the first, the last chunk short
                const std::size_t m = tensig::sig_length(d, N);
                xt::xtensor<double, 3> paths({B, L, d});
                xt::xtensor<double, 2> grads({B, m});
                for (std::size_t b = 0; b < B; ++b) {
                    xt::view(paths, b, xt::all(), xt::all()) = oracle::random_path(L, d, 0.3);
                    xt::row(grads, b) = random_vec(m);
                }
                const xt::xtensor<double, 3> G = tensig::signature_backward(grads, paths, N, o);
                for (std::size_t b = 0; b < B; ++b) {
                    tensig::backward_options bo;
                    bo.prefixes = tensig::prefix_mode::rebuild; // the one-path route, one segment at a time
                    const xt::xtensor<double, 2> one = tensig::signature_backward(
                        xt::xtensor<double, 1>(xt::row(grads, b)),
                        xt::xtensor<double, 2>(xt::view(paths, b, xt::all(), xt::all())), N, o, bo);
                    CHECK(oracle::rel_err(xt::xtensor<double, 2>(xt::view(G, b, xt::all(), xt::all())), one,
                                          one.size()) <= 1e-12);
                }
            }
    }
    tensig::kernels::force_arch("");
}

TEMPLATE_TEST_CASE("backward of one path by prefix lanes equals the one-path route, with every option",
                   "[autodiff][paths]", float, double) {
    using T = TestType;
    const double tol = std::is_same_v<T, float> ? 2e-4 : 1e-10;
    for (const auto& arch : tensig::kernels::available_archs()) {
        tensig::kernels::force_arch(arch);
        const std::size_t W = tensig::kernels::lanes<T>();
        for (auto [d, N] : {std::pair<std::size_t, std::size_t>{2, 12}, {2, 13}, {2, 10}, {2, 14}}) {
            const std::size_t p = tensig::detail::prefix_lanes_level<T>(tensig::shape(d, N));
            // the route runs: N = 12 with 8 lanes (p = 3), N = 13 with 16 (p = 4)
            if (W > 1 && N == 13) CHECK((p > 0 && N - p >= tensig::detail::prefix_lanes_backward_min_below));
            // (L = 17, 18: a first block of 15 steps after step 0, then none or one more;
            // N = 14: one segment takes the route, step 0 alone)
            for (std::size_t L : {2, 3, 17, 18, 19, 40})
                for (int option = 0; option < 3; ++option) {
                    const tensig::signature_options o = lanes_cases::option(option);
                    INFO(arch << " lanes " << W << " d " << d << " N " << N << " p " << p << " L " << L
                              << " option " << option);
                    const xt::xtensor<T, 2> path = oracle::random_path<T>(L, d, 0.5);
                    const auto g64 = random_vec(tensig::sig_length(d, N));
                    const xt::xtensor<T, 1> g = xt::cast<T>(g64);
                    const xt::xtensor<T, 2> gp = tensig::signature_backward(g, path, N, o);
                    tensig::backward_options bo; // the one-path kernels' route, inverse steps
                    bo.prefixes = tensig::prefix_mode::rebuild;
                    const xt::xtensor<T, 2> ref = tensig::signature_backward(g, path, N, o, bo);
                    CHECK(oracle::rel_err(gp, ref, ref.size()) <= tol);
                }
        }
    }
    tensig::kernels::force_arch("");
    // and against central differences of the signature, in double
    const std::size_t d = 2, N = 12, L = 12;
    const auto path = oracle::random_path(L, d, 0.5), dir = oracle::random_path(L, d, 1.0);
    const auto g = random_vec(tensig::sig_length(d, N));
    const xt::xtensor<double, 2> gp = tensig::signature_backward(g, path, N);
    const double h = 1e-6;
    const xt::xtensor<double, 1> sp = tensig::signature(xt::xtensor<double, 2>(path + h * dir), N),
                                 sm = tensig::signature(xt::xtensor<double, 2>(path - h * dir), N);
    double fd = 0, an = 0;
    for (std::size_t i = 0; i < g.size(); ++i)
        fd += g(i) * (sp(i) - sm(i)) / (2 * h);
    for (std::size_t i = 0; i < gp.size(); ++i)
        an += gp.data()[i] * dir.data()[i];
    CHECK(an == Approx(fd).epsilon(1e-6));
}

TEST_CASE("backward of one long path by pieces in lanes equals the one-path backward, for any thread count",
          "[autodiff][paths][parallel]") {
    const std::size_t d = 3, N = 4, m = tensig::sig_length(d, N);
    const auto g = random_vec(m);
    for (const auto& arch : tensig::kernels::available_archs()) {
        tensig::kernels::force_arch(arch);
        // a few lanes' worth; 9 pieces rounded up to 10, 12 or 16: several groups of lanes
        for (const std::size_t L : {std::size_t(200), std::size_t(9001)})
            for (int option = 0; option < 3; ++option) {
                INFO(arch << " L " << L << " option " << option);
                const auto p = oracle::random_path(L, d, 0.05);
                tensig::signature_options o;
                o.basepoint = option == 1;
                o.inverse = option == 2;
                tensig::backward_options rebuild;
                rebuild.prefixes = tensig::prefix_mode::rebuild; // the one-path route, one segment at a time
                o.threads = 1;
                const xt::xtensor<double, 2> one = tensig::signature_backward(g, p, N, o);
                o.threads = 2;
                const xt::xtensor<double, 2> two = tensig::signature_backward(g, p, N, o);
                const xt::xtensor<double, 2> ref = tensig::signature_backward(g, p, N, o, rebuild);
                // no budget for the checkpoints of the pieces' forward pass:
                // lanes_backward runs its own, with the same bits
                tensig::backward_options no_budget;
                no_budget.store_budget_bytes = 0;
                const xt::xtensor<double, 2> own = tensig::signature_backward(g, p, N, o, no_budget);
                CHECK(bool(one == two));
                CHECK(bool(one == own));
                CHECK(oracle::rel_err(one, ref, ref.size()) <= 1e-11);
            }
    }
    tensig::kernels::force_arch("");
}

TEMPLATE_TEST_CASE("a non-finite gradient is named by signature_backward on every route", "[autodiff][errors]", float,
                   double) {
    // The gradient is scanned only behind a non-finite output where the
    // output is the smaller (signature_backward): every route must carry any
    // non-finite value of it into the output. The routes: one path from
    // records and by inverse steps, a batch in lanes with paths left over,
    // one path by prefix lanes, one long path by pieces; each with every
    // option, repeated points (zero increments) and two threads.
    using T = TestType;
    using lim = std::numeric_limits<T>;
    const T bads[] = {lim::quiet_NaN(), lim::infinity(), -lim::infinity()};
    struct case_t {
        std::size_t B, L, d, N;
        bool rebuild;
        std::size_t every; // the gradient's positions tried: every `every`-th, and each level's first and last
    };
    for (const auto& arch : tensig::kernels::available_archs()) {
        tensig::kernels::force_arch(arch);
        const std::size_t W = tensig::kernels::lanes<T>();
        for (const case_t c : {case_t{1, 6, 2, 4, false, 1}, case_t{1, 6, 3, 3, true, 1},
                               case_t{2 * W + 1, 5, 2, 3, false, 1}, case_t{1, 8, 2, 12, false, 97},
                               case_t{1, 400, 2, 10, false, 31}}) {
            const std::size_t m = tensig::sig_length(c.d, c.N);
            CHECK(c.L * c.d < m); // the output is the smaller: the gradient is scanned behind it
            if (c.L == 400 && W > 1) // the long path's route: pieces in lanes
                CHECK(tensig::detail::by_pieces<T>(c.L - 1, tensig::detail::path_shape(c.L, c.d, c.N, false)));
            xt::xtensor<T, 3> paths({c.B, c.L, c.d});
            xt::xtensor<T, 2> grads({c.B, m});
            for (std::size_t b = 0; b < c.B; ++b) {
                xt::view(paths, b) = xt::cast<T>(oracle::random_path(c.L, c.d, 0.3));
                xt::view(paths, b, 2) = xt::view(paths, b, 1); // a repeated point: a zero increment
                xt::row(grads, b) = xt::cast<T>(random_vec(m));
            }
            std::vector<std::size_t> at;
            for (std::size_t i = 0; i < m; i += c.every)
                at.push_back(i);
            for (std::size_t k = 1, first = 0, n = c.d; k <= c.N; first += n, n *= c.d, ++k) {
                at.push_back(first);
                at.push_back(first + n - 1);
            }
            tensig::backward_options bo;
            if (c.rebuild) bo.prefixes = tensig::prefix_mode::rebuild;
            std::size_t k = 0;
            for (std::size_t b = 0; b < c.B; ++b)
                for (std::size_t i : at) {
                    tensig::signature_options o = lanes_cases::option(int(k % 3));
                    o.threads = k % 2 ? 2 : 1;
                    xt::xtensor<T, 2> bad = grads;
                    bad(b, i) = bads[k++ % 3];
                    INFO(arch << " (B, L, d, N) (" << c.B << ", " << c.L << ", " << c.d << ", " << c.N << ") b " << b
                              << " i " << i << " option " << (k - 1) % 3);
                    if (c.B == 1) // one path, one gradient: index (i)
                        CHECK_THROWS_WITH(
                            tensig::signature_backward(xt::xtensor<T, 1>(xt::row(bad, 0)),
                                                       xt::xtensor<T, 2>(xt::view(paths, 0)), c.N, o, bo),
                            Catch::Contains("gradient has a non-finite") &&
                                Catch::Contains("(" + std::to_string(i) + ")"));
                    else
                        CHECK_THROWS_WITH(tensig::signature_backward(bad, paths, c.N, o, bo),
                                          Catch::Contains("gradient has a non-finite") &&
                                              Catch::Contains("(" + std::to_string(b) + ", " + std::to_string(i) +
                                                              ")"));
                }
        }
    }
    tensig::kernels::force_arch("");
    // a path of one point has no segment: the gradient is scanned before
    const xt::xtensor<T, 2> one = {{T(1), T(2)}};
    xt::xtensor<T, 1> g = xt::zeros<T>({tensig::sig_length(2, 2)});
    g(3) = lim::quiet_NaN();
    CHECK_THROWS_WITH(tensig::signature_backward(g, one, 2), Catch::Contains("gradient") && Catch::Contains("(3)"));
    // a finite gradient whose path gradient overflows is no error: it is returned as computed
    const xt::xtensor<T, 2> path = xt::cast<T>(oracle::random_path(6, 2));
    g = xt::ones<T>({tensig::sig_length(2, 2)}) * lim::max();
    const xt::xtensor<T, 2> gp = tensig::signature_backward(g, path, 2);
    CHECK_FALSE(bool(xt::all(xt::isfinite(gp))));
}

TEST_CASE("batched backward equals the loop", "[autodiff][paths]") {
    const std::size_t B = 4, L = 6, d = 3, N = 4, m = tensig::sig_length(d, N);
    xt::xtensor<double, 3> paths({B, L, d});
    xt::xtensor<double, 2> grads({B, m});
    for (std::size_t b = 0; b < B; ++b) {
        xt::view(paths, b, xt::all(), xt::all()) = oracle::random_path(L, d);
        xt::row(grads, b) = random_vec(m);
    }
    const xt::xtensor<double, 3> G = tensig::signature_backward(grads, paths, N);
    for (std::size_t b = 0; b < B; ++b) {
        const xt::xtensor<double, 2> p = xt::view(paths, b, xt::all(), xt::all());
        const xt::xtensor<double, 1> g = xt::row(grads, b);
        const xt::xtensor<double, 2> one = tensig::signature_backward(g, p, N);
        const xt::xtensor<double, 2> fromBatch = xt::view(G, b, xt::all(), xt::all());
        // (a batch may run in SIMD lanes, kernels::fmexp_lanes_backward: equal to rounding)
        CHECK(oracle::rel_err(fromBatch, one, one.size()) <= 1e-13);
    }
    CHECK_THROWS_WITH(tensig::signature_backward(xt::xtensor<double, 1>(xt::row(grads, 0)), paths, N),
                      Catch::Contains("gradient must have shape (4, 120)"));
}

TEST_CASE("every algebra operation's backward matches differences", "[autodiff][algebra]") {
    for (const auto& s : {shape(2, 4), shape(3, 3), shape(1, 5)}) {
        INFO(s.str());
        const std::size_t n = s.size();
        const auto a = oracle::random_tensor<double>(s, 0.5), b = oracle::random_tensor<double>(s, 0.5);
        const auto va = oracle::random_tensor<double>(s), vb = oracle::random_tensor<double>(s);
        const auto g = oracle::random_tensor<double>(s);
        auto along = [&](const std::function<tensor<double>(double)>& f) {
            return richardson([&](double t) {
                const tensor<double> y = f(t);
                return dot(g, y, n);
            });
        };
        // product
        const auto [ga, gb] = tensig::product_backward(g, a, b);
        CHECK(dot(ga, va, n) + dot(gb, vb, n) == Approx(along([&](double t) {
                                                     return tensor<double>((a + t * va) * (b + t * vb));
                                                 })).epsilon(fd_tol));
        // fused multiply-exponentiate
        const std::vector<double> z = {0.3, -0.5, 0.2}, vz = {0.7, 0.1, -0.4};
        std::vector<double> zz(z.begin(), z.begin() + s.dim()), vzz(vz.begin(), vz.begin() + s.dim());
        const auto [gA, gz] = tensig::fmexp_backward(g, a, zz);
        CHECK(dot(gA, va, n) + dot(gz, vzz, s.dim()) == Approx(along([&](double t) {
                                                            std::vector<double> zt(zz);
                                                            for (std::size_t c = 0; c < zt.size(); ++c)
                                                                zt[c] += t * vzz[c];
                                                            tensor<double> A = a + t * va;
                                                            A *= exp(tensor<double>::from_level1(s, zt));
                                                            return A;
                                                        })).epsilon(fd_tol));
        // exp (general x, x_0 != 0), log and inverse (x_0 = 1.2), antipode
        const tensor<double> ge = tensig::exp_backward(g, a);
        CHECK(dot(ge, va, n) ==
              Approx(along([&](double t) { return tensor<double>(exp(a + t * va)); })).epsilon(fd_tol));
        auto x = a;
        x[0] = 1.2;
        const tensor<double> gl = tensig::log_backward(g, x), gi = tensig::inverse_backward(g, x);
        CHECK(dot(gl, va, n) ==
              Approx(along([&](double t) { return tensor<double>(log(x + t * va)); })).epsilon(fd_tol));
        CHECK(dot(gi, va, n) ==
              Approx(along([&](double t) { return tensor<double>(inverse(x + t * va)); })).epsilon(fd_tol));
        const tensor<double> gap = tensig::antipode_backward(g);
        CHECK(dot(gap, va, n) ==
              Approx(along([&](double t) { return tensor<double>(antipode(a + t * va)); })).epsilon(fd_tol));
    }
}

TEST_CASE("logsignature_backward and signature_combine_backward match differences", "[autodiff][paths]") {
    const std::size_t d = 3, N = 4, m = tensig::sig_length(d, N);
    const auto p = oracle::random_path(5, d, 0.6), v = oracle::random_path(5, d);
    const auto g = random_vec(m);
    const xt::xtensor<double, 2> gp = tensig::logsignature_backward(g, p, N);
    const double fd = richardson([&](double t) {
        const xt::xtensor<double, 2> q = p + t * v;
        const xt::xtensor<double, 1> l = tensig::logsignature(q, N);
        return dot(g, l, m);
    });
    CHECK(dot(gp, v, p.size()) == Approx(fd).epsilon(fd_tol));

    const xt::xtensor<double, 1> s1 = tensig::signature(p, N), s2 = tensig::signature(v, N);
    const auto v1 = random_vec(m), v2 = random_vec(m);
    const auto [g1, g2] = tensig::signature_combine_backward(g, s1, s2, d, N);
    const double fdc = richardson([&](double t) {
        const xt::xtensor<double, 1> c = tensig::signature_combine(xt::xtensor<double, 1>(s1 + t * v1),
                                                                   xt::xtensor<double, 1>(s2 + t * v2), d, N);
        return dot(g, c, m);
    });
    CHECK(dot(g1, v1, m) + dot(g2, v2, m) == Approx(fdc).epsilon(fd_tol));
}

TEST_CASE("a long path's backward by pieces agrees with the sequential sweep at every depth", "[autodiff]") {
    // Past 4096 segments the stored-prefix backward goes by pieces
    // (detail::signature_backward_long), whose signatures it computes at
    // depth N-1 only: their level N must not matter. The rebuilt-prefix
    // backward is one sequential sweep, an independent route. Every
    // instruction set: lanes of two, four or eight pieces.
    const std::size_t L = 4200;
    for (const auto& arch : tensig::kernels::available_archs()) {
        tensig::kernels::force_arch(arch);
        for (std::size_t d : {2, 3})
            for (std::size_t N : {1, 2, 3, 4}) {
                INFO(arch << " d " << d << " N " << N);
                const auto p = oracle::random_path(L, d, 0.02);
                const auto g = random_vec(tensig::sig_length(d, N));
                tensig::backward_options bo;
                const xt::xtensor<double, 2> pieces = tensig::signature_backward(g, p, N, {}, bo);
                bo.prefixes = tensig::prefix_mode::rebuild;
                const xt::xtensor<double, 2> sweep = tensig::signature_backward(g, p, N, {}, bo);
                CHECK(oracle::rel_err(pieces, sweep, sweep.size()) <= 1e-10);
            }
    }
    tensig::kernels::force_arch("");
}

TEST_CASE("rebuilding prefixes needs memory independent of the path length", "[autodiff][memory]") {
    const std::size_t L = 100000, d = 3, N = 5;
    const auto p = oracle::random_path(L, d, 0.01);
    const auto g = random_vec(tensig::sig_length(d, N));
    tensig::backward_options bo;
    bo.prefixes = tensig::prefix_mode::rebuild;
    const std::size_t before = alloc::bytes();
    const xt::xtensor<double, 2> gp = tensig::signature_backward(g, p, N, {}, bo);
    const std::size_t used = alloc::bytes() - before, output = L * d * sizeof(double);
    INFO("allocated " << used << " bytes, of which the output is " << output);
    CHECK(used <= output + 256 * 1024); // workspace: a few tensors of 364 values
    // and it agrees with the stored-prefix method on this smooth path
    bo.prefixes = tensig::prefix_mode::store;
    const xt::xtensor<double, 2> gs = tensig::signature_backward(g, p, N, {}, bo);
    CHECK(oracle::rel_err(gp, gs, gp.size()) <= 1e-8);
}

TEST_CASE("rebuilt prefixes stay accurate on long rough paths (L = 10000)", "[autodiff][accuracy]") {
    // A random walk with unit steps that retraces itself: the prefix
    // signatures reach 1e10 while the final one is 1, the hardest case for
    // rebuilding A_{j-1} = A_j ⊗ exp(-Δ_j). docs/gradients.md records the
    // observed errors (about 3e-14 relative); the bound leaves a margin.
    const std::size_t d = 2, N = 6, half = 5000, L = 2 * half;
    std::normal_distribution<double> g(0, 1.0);
    xt::xtensor<double, 2> p = xt::zeros<double>({L, d});
    for (std::size_t j = 1; j < half; ++j)
        for (std::size_t c = 0; c < d; ++c)
            p(j, c) = p(j - 1, c) + g(oracle::rng());
    for (std::size_t j = half; j < L; ++j)
        for (std::size_t c = 0; c < d; ++c)
            p(j, c) = p(L - 1 - j, c);
    const auto G = random_vec(tensig::sig_length(d, N));
    tensig::backward_options rebuild, store;
    rebuild.prefixes = tensig::prefix_mode::rebuild;
    store.prefixes = tensig::prefix_mode::store;
    const xt::xtensor<double, 2> gr = tensig::signature_backward(G, p, N, {}, rebuild);
    const xt::xtensor<double, 2> gs = tensig::signature_backward(G, p, N, {}, store);
    CHECK(oracle::max_abs(gs, gs.size()) > 1e6); // the case is as rough as intended
    CHECK(oracle::max_abs_diff(gr, gs, gr.size()) / oracle::max_abs(gs, gs.size()) <= 1e-11);
}

TEST_CASE("one forward pass of dual<double, 16> gives the 8190 x 16 Jacobian of the zero",
          "[autodiff][dual]") {
    const auto p = tensig::pendigits::to_path(tensig::pendigits::builtin_rows()[0]);
    using D = dual<double, 16>;
    xt::xtensor<D, 2> dp = xt::xtensor<D, 2>::from_shape({8, 2});
    for (std::size_t i = 0; i < 16; ++i)
        dp.data()[i] = D::variable(p.data()[i], i);
    const xt::xtensor<D, 1> sd = tensig::signature(dp, 12);
    const xt::xtensor<double, 3> J = tensig::signature_jacobian(p, 12);
    REQUIRE(sd.size() == 8190);
    REQUIRE(J.shape()[0] == 8190);
    double err = 0, scale = 0;
    for (std::size_t r = 0; r < 8190; ++r)
        for (std::size_t i = 0; i < 16; ++i) {
            err = std::max(err, std::abs(sd(r).d[i] - J.data()[r * 16 + i]));
            scale = std::max(scale, std::abs(J.data()[r * 16 + i]));
        }
    CHECK(err <= 1e-13 * scale);
    const xt::xtensor<double, 1> s = tensig::signature(p, 12);
    for (std::size_t r = 0; r < 8190; r += 97)
        CHECK(sd(r).v == Approx(s(r)).epsilon(1e-14).margin(1e-16));
}

TEST_CASE("no allocation inside the per-segment loops of signature and signature_backward",
          "[autodiff][memory]") {
    // The number of allocations of a call must not grow with the number of
    // segments: two lengths on each route make the same number of calls to new.
    const std::size_t d = 3, N = 4;
    const auto count_of = [&](std::size_t L, bool backward) {
        const auto p = oracle::random_path(L, d, 0.1);
        const auto g = random_vec(tensig::sig_length(d, N));
        tensig::signature_options o;
        o.threads = 1;
        tensig::backward_options bo;
        bo.prefixes = tensig::prefix_mode::rebuild; // store mode allocates its records once, by design
        // thread-local kernel scratch grows on a thread's first calls only
        const xt::xtensor<double, 1> warm = tensig::signature(p, N, o);
        const xt::xtensor<double, 2> warm_g = tensig::signature_backward(g, p, N, o, bo);
        (void)warm;
        (void)warm_g;
        const long before = alloc::count();
        if (backward) {
            const xt::xtensor<double, 2> gp = tensig::signature_backward(g, p, N, o, bo);
            CHECK(gp.size() == L * d);
        } else {
            const xt::xtensor<double, 1> s = tensig::signature(p, N, o);
            CHECK(s.size() == tensig::sig_length(d, N));
        }
        return alloc::count() - before;
    };
    // one sweep (short paths), and the Chen reduction of pieces (in lanes,
    // from a few hundred points; see detail::by_pieces), each at two lengths
    CHECK(count_of(10, false) == count_of(20, false)); // (by pieces from 32 segments with SSE2's two lanes)
    // (two pieces at both lengths, one per 1024 segments: each group of lanes
    // of pieces takes its workspace, so with SSE2's two lanes 4000 points
    // take one more workspace than 2000)
    CHECK(count_of(1100, false) == count_of(2049, false));
    CHECK(count_of(10, true) == count_of(2000, true));
    CHECK(count_of(2000, false) <= 16); // per call: shapes, the output, the pieces, one workspace
    // one path by prefix lanes (d = 2, N = 12): the same at two lengths, forward and backward
    const auto count_prefix = [&](std::size_t L, bool backward) {
        const auto p = oracle::random_path(L, 2, 0.1);
        const auto g = random_vec(tensig::sig_length(2, 12));
        // a thread keeps one workspace per route (detail::thread_workspace)
        const xt::xtensor<double, 1> warm = tensig::signature(p, 12);
        const xt::xtensor<double, 2> warm_g = tensig::signature_backward(g, p, 12);
        (void)warm;
        (void)warm_g;
        const long before = alloc::count();
        if (backward) {
            const xt::xtensor<double, 2> gp = tensig::signature_backward(g, p, 12);
            CHECK(gp.size() == L * 2);
        } else {
            const xt::xtensor<double, 1> s = tensig::signature(p, 12);
            CHECK(s.size() == tensig::sig_length(2, 12));
        }
        return alloc::count() - before;
    };
    CHECK(count_prefix(20, false) == count_prefix(40, false)); // (longer ones go by pieces: detail::by_pieces)
    CHECK(count_prefix(20, true) == count_prefix(40, true));
}

// Layer 4: every SIMD kernel, on every instruction set this CPU runs, agrees
// with its scalar twin to rounding, on sizes around the SIMD widths.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <vector>

#include "support/oracle.hpp"

namespace kn = tensig::kernels;

namespace {

// Sizes around the register widths of SSE2 / AVX2 / AVX-512 for float and double.
const std::vector<std::size_t> sizes = {0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 15, 16, 17, 25, 31, 32, 33, 49, 65};

template <class T> std::vector<T> random_vector(std::size_t n) {
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<T> v(n);
    for (auto& x : v)
        x = T(u(oracle::rng()));
    return v;
}

struct arch_guard {
    explicit arch_guard(const std::string& name) { kn::force_arch(name); }
    ~arch_guard() { kn::force_arch(""); }
};

// Tolerance: a few ulps per accumulated term.
template <class T> double tol(std::size_t terms) {
    return 8.0 * static_cast<double>(terms + 1) * oracle::eps<T>();
}

} // namespace

TEST_CASE("an AVX2-capable machine gets a SIMD instruction set automatically", "[kernels]") {
    const auto archs = kn::available_archs();
    REQUIRE(!archs.empty());
    // TENSIG_ARCH (.ci/run runs the tests under each instruction set) names
    // one to use instead of the best; a name not available is ignored
    const char* env = std::getenv("TENSIG_ARCH");
    const bool chosen = env && std::find(archs.begin(), archs.end(), std::string(env)) != archs.end();
    CHECK(kn::active_arch() == (chosen ? std::string(env) : archs.front()));
#if defined(__x86_64__)
    if (!chosen && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        CHECK(kn::active_arch() != "sse2");
#endif
    CHECK_THROWS_AS(kn::force_arch("no-such-arch"), tensig::invalid_input);
}

TEMPLATE_TEST_CASE("horner::reciprocal: the compile-time table rounds as the run-time division", "[kernels]", float,
                   double) {
    using T = TestType;
    volatile T one = T(1); // divided at run time
    for (std::size_t c = 1; c < kn::horner::reciprocal_table_size + 3; ++c) {
        CAPTURE(c);
        const T q = one / T(static_cast<double>(c));
        CHECK(kn::horner::reciprocal<T>(c) == q);
        const T back = kn::horner::reciprocal<T>(c) * T(static_cast<double>(c));
        CHECK(std::abs(back - T(1)) <= std::numeric_limits<T>::epsilon());
    }
}

TEMPLATE_TEST_CASE("lincomb: SIMD equals scalar", "[kernels]", float, double) {
    using T = TestType;
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        for (std::size_t terms = 0; terms <= 6; ++terms) {
            for (std::size_t n : sizes) {
                std::vector<std::vector<T>> src(terms);
                std::vector<const T*> ptr;
                for (auto& s : src) {
                    s = random_vector<T>(n);
                    ptr.push_back(s.data());
                }
                const auto coef = random_vector<T>(terms);
                std::vector<T> simd(n, T(7)), ref(n, T(7));
                kn::lincomb(simd.data(), n, ptr.data(), coef.data(), terms);
                kn::scalar::lincomb(ref.data(), n, ptr.data(), coef.data(), terms);
                INFO(arch << " terms " << terms << " n " << n);
                CHECK(oracle::max_abs_diff(simd, ref, n) <= tol<T>(terms) * static_cast<double>(terms + 1));
            }
        }
    }
}

TEMPLATE_TEST_CASE("lincomb: passes over streaming_threshold_bytes (non-temporal stores), misaligned, in place",
                   "[kernels]", float, double) {
    using T = TestType;
    // two terms (three arrays of traffic) reach the threshold
    const std::size_t n = kn::streaming_threshold_bytes() / (3 * sizeof(T)) + 13;
    std::vector<std::vector<T>> src(5);
    std::vector<const T*> ptr;
    for (auto& s : src) {
        s = random_vector<T>(n + 1);
        ptr.push_back(s.data());
    }
    const auto coef = random_vector<T>(5);
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        for (std::size_t terms : {2, 3, 5})
            for (std::size_t shift : {0, 1}) {
                INFO(arch << " terms " << terms << " shift " << shift);
                std::vector<T> out(n + 1, T(7)), ref(n + 1, T(7));
                kn::lincomb(out.data() + shift, n, ptr.data(), coef.data(), terms);
                kn::scalar::lincomb(ref.data() + shift, n, ptr.data(), coef.data(), terms);
                CHECK(oracle::max_abs_diff(out, ref, n + 1) <= tol<T>(terms) * static_cast<double>(terms + 1));
            }
        // in place: src[0] is also the output
        auto a = src[0];
        std::vector<T> ref(n);
        const T* in_place[2] = {a.data(), src[1].data()};
        kn::scalar::lincomb(ref.data(), n, in_place, coef.data(), 2);
        kn::lincomb(a.data(), n, in_place, coef.data(), 2);
        INFO(arch);
        CHECK(oracle::max_abs_diff(a, ref, n) <= tol<T>(2) * 3);
    }
}

TEMPLATE_TEST_CASE("lincomb in place (out is a source)", "[kernels]", float, double) {
    using T = TestType;
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        for (std::size_t n : sizes) {
            auto a = random_vector<T>(n), b = random_vector<T>(n);
            auto expect = a;
            for (std::size_t i = 0; i < n; ++i)
                expect[i] = T(2) * a[i] - b[i];
            const T* src[2] = {a.data(), b.data()};
            const T coef[2] = {T(2), T(-1)};
            kn::lincomb(a.data(), n, src, coef, 2);
            INFO(arch << " n " << n);
            CHECK(oracle::max_abs_diff(a, expect, n) <= tol<T>(2));
        }
    }
}

TEMPLATE_TEST_CASE("outer_fma: SIMD equals scalar for all row lengths", "[kernels]", float, double) {
    using T = TestType;
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        for (std::size_t na : sizes) {
            for (std::size_t nb : {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33}) {
                const auto a = random_vector<T>(na), b = random_vector<T>(nb),
                           add = random_vector<T>(na * nb);
                std::vector<T> simd(na * nb), ref(na * nb);
                kn::outer_fma(simd.data(), a.data(), na, b.data(), nb, add.data());
                kn::scalar::outer_fma(ref.data(), a.data(), na, b.data(), nb, add.data());
                INFO(arch << " na " << na << " nb " << nb);
                CHECK(oracle::max_abs_diff(simd, ref, na * nb) <= tol<T>(1));
                // in place: out == add
                auto inplace = add;
                kn::outer_fma(inplace.data(), a.data(), na, b.data(), nb, inplace.data());
                CHECK(oracle::max_abs_diff(inplace, ref, na * nb) <= tol<T>(1));
            }
        }
    }
}

TEMPLATE_TEST_CASE("product: SIMD equals scalar and the rows' algorithm, out of place and in place",
                   "[kernels]", float, double) {
    using T = TestType;
    // Tiles (d a power of two, levels of at least half the registers: from 16
    // values with SSE2 double to 256 with AVX-512 float; d = 3, levels of at least
    // 16 tiles of 9 or 27 values: N = 5, 6 and 7 here), every row length
    // shorter than a tile; and rows (smaller levels, other d).
    const std::vector<std::pair<std::size_t, std::size_t>> shapes = {
        {1, 6}, {2, 1}, {2, 3}, {2, 4}, {2, 5}, {2, 7}, {2, 9}, {3, 4}, {3, 5}, {3, 6}, {3, 7},
        {4, 2}, {4, 3}, {4, 4}, {5, 3}, {8, 2}, {8, 3}, {16, 2}, {16, 3}, {32, 2}};
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        for (auto [d, N] : shapes) {
            const tensig::shape s(d, N);
            const auto a = oracle::random_tensor<T>(s), b = oracle::random_tensor<T>(s);
            std::vector<T> simd(s.size(), T(-7)), ref(s.size()), rows(s.size());
            kn::product(simd.data(), a.data(), b.data(), s);
            kn::scalar::product(ref.data(), a.data(), b.data(), d, N);
            kn::horner::product<kn::scalar::policy>(rows.data(), a.data(), b.data(), d, N);
            INFO(arch << " d " << d << " N " << N);
            CHECK(oracle::rel_err(simd, ref, s.size()) <= tol<T>(N));
            CHECK(oracle::rel_err(rows, ref, s.size()) <= tol<T>(N));
            // in place, into either factor
            auto ca = a, cb = b;
            kn::product(ca.data(), ca.data(), b.data(), s);
            kn::product(cb.data(), a.data(), cb.data(), s);
            CHECK(oracle::max_abs_diff(ca, simd, s.size()) == 0);
            CHECK(oracle::max_abs_diff(cb, simd, s.size()) == 0);
        }
    }
}

TEMPLATE_TEST_CASE(
    "product_adjoint: SIMD equals scalar and the rows' algorithm, and is the product's transpose",
    "[kernels]", float, double) {
    using T = TestType;
    // gb_j in tiles of 1..8 registers (for d not a power of two with a last
    // stretch that ends with the row) and across rows shorter than a
    // register (of 1..7 values: all W rows' columns in a register, or a
    // register's rows spread over several); ga_i by blocks of 1..8 rows, its
    // rows from one value to many registers, for powers of two; the rest by
    // rows (W = 16: rows of 9..15 values).
    const std::vector<std::pair<std::size_t, std::size_t>> shapes = {
        {1, 6}, {2, 1},  {2, 3},  {2, 5},  {2, 8},  {2, 10}, {3, 4}, {3, 6}, {3, 7},
        {4, 2}, {4, 3},  {4, 5},  {5, 3},  {5, 4},  {6, 3},  {7, 3}, {8, 2}, {8, 4},
        {9, 3}, {10, 2}, {12, 3}, {16, 2}, {16, 3}, {17, 2}, {32, 2}};
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        for (auto [d, N] : shapes) {
            const tensig::shape s(d, N);
            const auto a = oracle::random_tensor<T>(s), b = oracle::random_tensor<T>(s),
                       gc = oracle::random_tensor<T>(s), start = oracle::random_tensor<T>(s);
            auto ga = start, gb = start, ga_ref = start, gb_ref = start, ga_rows = start, gb_rows = start;
            kn::product_adjoint(ga.data(), gb.data(), a.data(), b.data(), gc.data(), d, N);
            kn::scalar::product_adjoint(ga_ref.data(), gb_ref.data(), a.data(), b.data(), gc.data(), d, N);
            kn::horner::product_adjoint<kn::scalar::policy>(ga_rows.data(), gb_rows.data(), a.data(),
                                                            b.data(), gc.data(), d, N);
            INFO(arch << " d " << d << " N " << N);
            CHECK(oracle::rel_err(ga, ga_ref, s.size()) <= tol<T>(N) * 4);
            CHECK(oracle::rel_err(gb, gb_ref, s.size()) <= tol<T>(N) * 4);
            CHECK(oracle::rel_err(ga_rows, ga_ref, s.size()) <= tol<T>(N) * 4);
            CHECK(oracle::rel_err(gb_rows, gb_ref, s.size()) <= tol<T>(N) * 4);
            // either alone
            auto ga1 = start, gb1 = start;
            kn::product_adjoint(ga1.data(), static_cast<T*>(nullptr), a.data(), b.data(), gc.data(), d, N);
            kn::product_adjoint(static_cast<T*>(nullptr), gb1.data(), a.data(), b.data(), gc.data(), d, N);
            CHECK(oracle::max_abs_diff(ga1, ga, s.size()) == 0);
            CHECK(oracle::max_abs_diff(gb1, gb, s.size()) == 0);
            // the transpose: <gc, a ⊗ b> = <gc ⌟ b, a> = <a ⊳ gc, b>
            std::vector<T> c(s.size()), zero(s.size(), T(0));
            auto ga0 = zero, gb0 = zero;
            kn::product(c.data(), a.data(), b.data(), s);
            kn::product_adjoint(ga0.data(), gb0.data(), a.data(), b.data(), gc.data(), d, N);
            double cc = 0, aa = 0, bb = 0, scale = 0;
            for (std::size_t w = 0; w < s.size(); ++w) {
                cc += double(gc[w]) * double(c[w]);
                aa += double(ga0[w]) * double(a[w]);
                bb += double(gb0[w]) * double(b[w]);
                scale += std::abs(double(gc[w]) * double(c[w]));
            }
            CHECK(std::abs(aa - cc) <= tol<T>(N) * 4 * scale);
            CHECK(std::abs(bb - cc) <= tol<T>(N) * 4 * scale);
        }
    }
}

TEMPLATE_TEST_CASE("fmexp: SIMD equals scalar, and equals A ⊗ exp(z) by the definition", "[kernels]", float,
                   double) {
    using T = TestType;
    // (every shape with a compile-time kernel is here: 2 x 2..6, 3 x 2..5, 4 x 2..4, 8 x 2..3)
    const std::vector<std::pair<std::size_t, std::size_t>> shapes = {
        {1, 5}, {2, 1}, {2, 2}, {3, 2}, {4, 2}, {2, 3}, {2, 4}, {2, 5}, {2, 6}, {2, 7}, {3, 3}, {3, 4},
        {3, 5}, {4, 3}, {4, 4}, {5, 3}, {8, 2}, {8, 3}, {9, 2}, {16, 2}, {17, 2}};
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        for (auto [d, N] : shapes) {
            const tensig::shape s(d, N);
            const auto A = oracle::random_tensor<T>(s);
            const auto z = random_vector<T>(d);
            auto simd = A, ref = A;
            kn::fmexp(simd.data(), z.data(), d, N);
            std::vector<T> scratch(kn::scalar::fmexp_scratch_size(d, N));
            kn::scalar::fmexp(ref.data(), z.data(), d, N, scratch.data());
            INFO(arch << " d " << d << " N " << N);
            CHECK(oracle::rel_err(simd, ref, s.size()) <= tol<T>(N) * 4);
            // the definition, in double
            std::vector<double> a(A.data(), A.data() + s.size()), x(s.size(), 0.0);
            for (std::size_t c = 0; c < d; ++c)
                x[1 + c] = static_cast<double>(z[c]);
            const auto expect = oracle::product(a, oracle::exp_series(x, s), s);
            CHECK(oracle::rel_err(simd, expect, s.size()) <= tol<T>(N) * 16);
        }
    }
}

TEMPLATE_TEST_CASE("matvec and vecmat: SIMD equals scalar for all row lengths", "[kernels]", float, double) {
    using T = TestType;
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        for (std::size_t rows : sizes) {
            for (std::size_t cols : {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33}) {
                INFO(arch << " rows " << rows << " cols " << cols);
                const auto M = random_vector<T>(rows * cols), v = random_vector<T>(cols),
                           w = random_vector<T>(rows);
                std::vector<T> simd(rows), ref(rows);
                kn::matvec(simd.data(), M.data(), rows, cols, v.data());
                kn::scalar::matvec(ref.data(), M.data(), rows, cols, v.data());
                CHECK(oracle::max_abs_diff(simd, ref, rows) <= tol<T>(cols));
                // with an accumulator: acc[r] += out[r], fused
                auto sums = random_vector<T>(rows);
                auto sums_ref = sums;
                for (std::size_t r = 0; r < rows; ++r)
                    sums_ref[r] += ref[r];
                kn::matvec(simd.data(), M.data(), rows, cols, v.data(), sums.data());
                CHECK(oracle::max_abs_diff(sums, sums_ref, rows) <= tol<T>(cols) * 2);
                auto acc = random_vector<T>(cols);
                auto acc_ref = acc;
                kn::vecmat(acc.data(), w.data(), rows, M.data(), cols);
                kn::scalar::vecmat(acc_ref.data(), w.data(), rows, M.data(), cols);
                CHECK(oracle::max_abs_diff(acc, acc_ref, cols) <= tol<T>(rows));
            }
        }
    }
}

TEMPLATE_TEST_CASE("fmexp_adjoint: SIMD equals scalar, and is the transpose of fmexp", "[kernels]", float,
                   double) {
    using T = TestType;
    const std::vector<std::pair<std::size_t, std::size_t>> shapes = {{1, 5}, {2, 1}, {2, 7},  {3, 4}, {4, 4},
                                                                     {5, 3}, {8, 3}, {16, 2}, {17, 2}};
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        for (auto [d, N] : shapes) {
            INFO(arch << " d " << d << " N " << N);
            const tensig::shape s(d, N);
            const auto A = oracle::random_tensor<T>(s), G = oracle::random_tensor<T>(s);
            const auto z = random_vector<T>(d);
            auto gA = G, gA_ref = G;
            std::vector<T> gz(d, T(0)), gz_ref(d, T(0));
            kn::fmexp_adjoint(gA.data(), gz.data(), A.data(), z.data(), d, N);
            std::vector<T> scratch(kn::scalar::fmexp_adjoint_scratch_size(d, N));
            kn::scalar::fmexp_adjoint(gA_ref.data(), gz_ref.data(), A.data(), z.data(), d, N, scratch.data());
            CHECK(oracle::rel_err(gA, gA_ref, s.size()) <= tol<T>(N) * 8);
            CHECK(oracle::rel_err(gz, gz_ref, d) <= tol<T>(s.size()) * 8);
            // transpose: <G, fmexp(A)> is linear in A, so <gA, V> = <G, V ⊗ exp(z)>
            const auto V = oracle::random_tensor<T>(s);
            auto VE = V;
            kn::fmexp(VE.data(), z.data(), d, N);
            double lhs = 0, rhs = 0;
            for (std::size_t i = 0; i < s.size(); ++i) {
                lhs += double(gA[i]) * double(V[i]);
                rhs += double(G[i]) * double(VE[i]);
            }
            CHECK(lhs == Approx(rhs).epsilon(tol<T>(s.size())).margin(tol<T>(s.size())));
        }
    }
}

// (d, N) of the block kernels' tests: register-wide rows, rows that do not
// divide a register, and the short depth-2 path.
const std::vector<std::pair<std::size_t, std::size_t>> many_shapes = {{1, 5}, {2, 1}, {2, 2}, {4, 2}, {2, 7}, {3, 4},
                                                                      {4, 4}, {5, 3}, {8, 3}, {16, 2}, {17, 2}};

// f(d, N, m, shape, A, Z) for every instruction set, every (d, N) of
// many_shapes and block lengths m = 1, 2, 3, 4, 8: A a random tensor, Z m
// random increments.
template <class T, class F> void for_each_block_case(F&& f) {
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        for (auto [d, N] : many_shapes)
            for (std::size_t m : {1, 2, 3, 4, 8}) {
                INFO(arch << " d " << d << " N " << N << " m " << m);
                const tensig::shape s(d, N);
                const auto A = oracle::random_tensor<T>(s);
                const auto Z = random_vector<T>(m * d);
                f(d, N, m, s, A, Z);
            }
    }
}

TEMPLATE_TEST_CASE("fmexp_many: bit-identical to one fmexp per segment, records included", "[kernels]", float,
                   double) {
    using T = TestType;
    for_each_block_case<T>([](std::size_t d, std::size_t N, std::size_t m, const tensig::shape& s,
                              const tensig::tensor<T>& A, const std::vector<T>& Z) {
            const std::size_t R = kn::scalar::fmexp_record_size(d, N);
            auto many = A, one = A;
            std::vector<T> rec_many(m * R, T(-7)), rec_one(m * R, T(-7));
            kn::fmexp_many(many.data(), Z.data(), m, d, N, rec_many.data());
            for (std::size_t k = 0; k < m; ++k)
                kn::fmexp_record(one.data(), Z.data() + k * d, d, N, rec_one.data() + k * R);
            CHECK(oracle::max_abs_diff(many, one, s.size()) == 0);
            CHECK(oracle::max_abs_diff(rec_many, rec_one, m * R) == 0);
            // records only (update_top false): the same records and levels
            // 0..N-1, level N untouched
            {
                auto part = A;
                std::vector<T> rec_part(m * R, T(-7));
                kn::fmexp_many(part.data(), Z.data(), m, d, N, rec_part.data(), /*update_top=*/false);
                CHECK(oracle::max_abs_diff(rec_part, rec_one, m * R) == 0);
                const std::size_t below = s.size() - s.level_size(N);
                CHECK(oracle::max_abs_diff(part, one, below) == 0);
                CHECK(std::equal(part.data() + below, part.data() + s.size(), A.data() + below));
                std::vector<T> sc_part(A.data(), A.data() + s.size()), sc_rec(m * R, T(-7)),
                    scratch(kn::scalar::fmexp_many_scratch_size(d, N, m));
                kn::scalar::fmexp_many(sc_part.data(), Z.data(), m, d, N, scratch.data(), sc_rec.data(), false);
                CHECK(std::equal(sc_part.data() + below, sc_part.data() + s.size(), A.data() + below));
                CHECK(oracle::rel_err(sc_rec, rec_one, m * R) <= tol<T>(N) * 8);
            }
            // without records: equal to m fmexp calls (which may take a
            // different, shorter path than the recording one: compare like with like)
            auto norec = A, one_norec = A;
            kn::fmexp_many(norec.data(), Z.data(), m, d, N);
            for (std::size_t k = 0; k < m; ++k)
                kn::fmexp(one_norec.data(), Z.data() + k * d, d, N);
            CHECK(oracle::max_abs_diff(norec, one_norec, s.size()) == 0);
            CHECK(oracle::rel_err(norec, one, s.size()) <= tol<T>(N) * 8);
            // the scalar twin too
            auto sc = A;
            std::vector<T> scratch(kn::scalar::fmexp_many_scratch_size(d, N, m));
            kn::scalar::fmexp_many(sc.data(), Z.data(), m, d, N, scratch.data());
            CHECK(oracle::rel_err(sc, one, s.size()) <= tol<T>(N) * 8);
        });
}

TEMPLATE_TEST_CASE("fmexp_lanes: each lane is its own path's fmexp_many", "[kernels]", float, double) {
    using T = TestType;
    auto shapes = many_shapes;
    shapes.push_back({9, 2}); // a d with no compile-time kernel
    shapes.push_back({2, 10});
    shapes.push_back({2, 4}); // d = 2's last four levels from the root's partial sums (AVX-512)
    shapes.push_back({2, 5});
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        const std::size_t W = kn::lanes<T>();
        CHECK(W * sizeof(T) >= 16); // every instruction set of the build has at least 128-bit registers
        for (auto [d, N] : shapes)
            for (std::size_t m : {1, 2, 3, 4, 5, 8}) {
                INFO(arch << " lanes " << W << " d " << d << " N " << N << " m " << m);
                const tensig::shape s(d, N);
                std::vector<tensig::tensor<T>> A;
                std::vector<std::vector<T>> Z;
                std::vector<T> AL(s.size() * W), ZL(m * d * W);
                for (std::size_t l = 0; l < W; ++l) {
                    A.push_back(oracle::random_tensor<T>(s));
                    Z.push_back(random_vector<T>(m * d));
                    for (std::size_t i = 0; i < s.size(); ++i)
                        AL[i * W + l] = A[l][i];
                    for (std::size_t i = 0; i < m * d; ++i)
                        ZL[i * W + l] = Z[l][i];
                }
                auto twin = AL;
                kn::fmexp_lanes(AL.data(), ZL.data(), m, d, N);
                kn::scalar::fmexp_lanes(twin.data(), ZL.data(), m, d, N, W);
                CHECK(oracle::rel_err(AL, twin, AL.size()) <= tol<T>(N) * 8);
                for (std::size_t l = 0; l < W; ++l) {
                    auto ref = A[l];
                    kn::fmexp_many(ref.data(), Z[l].data(), m, d, N);
                    std::vector<T> lane(s.size());
                    for (std::size_t i = 0; i < s.size(); ++i)
                        lane[i] = AL[i * W + l];
                    CHECK(oracle::rel_err(lane, ref, s.size()) <= tol<T>(N) * 8);
                }
            }
    }
}

TEMPLATE_TEST_CASE("fmexp_lanes in registers: the same bits as the depth-first pass", "[kernels]", float, double) {
    // Small tensors stay in registers through all the segments
    // (fmexp_lanes_regs); with roots equal to level 0 the same segments take
    // the depth-first pass, which must do the same multiply-adds in the same order.
    using T = TestType;
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        const std::size_t W = kn::lanes<T>();
        for (auto [d, N] : std::vector<std::pair<std::size_t, std::size_t>>{
                 {1, 3}, {2, 1}, {2, 2}, {2, 3}, {3, 1}, {3, 2}, {4, 1}, {4, 2}, {8, 1}, {2, 4}})
            for (std::size_t m : {1, 3, 4, 9, 64}) {
                INFO(arch << " lanes " << W << " d " << d << " N " << N << " m " << m);
                const tensig::shape s(d, N);
                const auto A0 = random_vector<T>(s.size() * W), Z = random_vector<T>(m * d * W);
                std::vector<T> root(m * (N + 1) * W);
                for (std::size_t i = 0; i < root.size(); ++i)
                    root[i] = A0[i % W]; // every chain of every segment starts from level 0
                auto regs = A0, pass = A0;
                kn::fmexp_lanes(regs.data(), Z.data(), m, d, N);
                kn::fmexp_lanes(pass.data(), Z.data(), m, d, N, root.data());
                CHECK(regs == pass);
                auto twin = A0;
                kn::scalar::fmexp_lanes(twin.data(), Z.data(), m, d, N, W);
                CHECK(oracle::rel_err(regs, twin, regs.size()) <= tol<T>(N) * 8 * m);
            }
    }
}

TEMPLATE_TEST_CASE("fmexp_lanes with roots: the chains start from given partial sums", "[kernels]", float, double) {
    using T = TestType;
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        const std::size_t W = kn::lanes<T>();
        for (auto [d, N] :
             std::vector<std::pair<std::size_t, std::size_t>>{{2, 1}, {2, 2}, {2, 3}, {2, 4}, {2, 9}, {4, 4}, {3, 3}, {9, 2}})
            for (std::size_t m : {1, 3, 4, 5, 9}) {
                INFO(arch << " lanes " << W << " d " << d << " N " << N << " m " << m);
                const tensig::shape s(d, N);
                auto AL = random_vector<T>(s.size() * W);
                const auto ZL = random_vector<T>(m * d * W), root = random_vector<T>(m * (N + 1) * W);
                auto twin = AL;
                kn::fmexp_lanes(AL.data(), ZL.data(), m, d, N, root.data());
                kn::scalar::fmexp_lanes(twin.data(), ZL.data(), m, d, N, W, root.data());
                CHECK(oracle::rel_err(AL, twin, AL.size()) <= tol<T>(N) * 8);
                // roots equal to A_0 are no roots
                auto plain = random_vector<T>(s.size() * W);
                auto rooted = plain;
                std::vector<T> a0(m * (N + 1) * W);
                for (std::size_t i = 0; i < a0.size(); ++i)
                    a0[i] = plain[i % W];
                kn::fmexp_lanes(plain.data(), ZL.data(), m, d, N);
                kn::fmexp_lanes(rooted.data(), ZL.data(), m, d, N, a0.data());
                CHECK(oracle::max_abs_diff(plain, rooted, plain.size()) == 0);
            }
    }
}

TEMPLATE_TEST_CASE("fmexp_lanes out of place: the bits of a copy updated in place", "[kernels]", float, double) {
    // `from` is read, A only written: every coefficient (level 0 too, with
    // or without roots) must come out as a copy of `from` updated in place
    // would; A's old values must not leak in. Shapes in registers, depth-first
    // passes (one, several, a short last one), a d with no compile-time
    // kernel, and the empty cases (m = 0, N = 0), which copy.
    using T = TestType;
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        const std::size_t W = kn::lanes<T>();
        for (auto [d, N] : std::vector<std::pair<std::size_t, std::size_t>>{
                 {2, 0}, {2, 1}, {2, 2}, {4, 2}, {2, 4}, {2, 5}, {3, 3}, {4, 4}, {8, 3}, {2, 9}, {9, 2}})
            for (std::size_t m : {0, 1, 3, 4, 5, 9})
                for (bool with_root : {false, true}) {
                    INFO(arch << " lanes " << W << " d " << d << " N " << N << " m " << m << " root " << with_root);
                    const tensig::shape s(d, N);
                    const auto from = random_vector<T>(s.size() * W), Z = random_vector<T>(m * d * W);
                    const auto root = random_vector<T>(std::max<std::size_t>(m, 1) * (N + 1) * W);
                    const T* r = with_root ? root.data() : nullptr;
                    auto in_place = from;
                    kn::fmexp_lanes(in_place.data(), Z.data(), m, d, N, r);
                    std::vector<T> out(s.size() * W, std::numeric_limits<T>::quiet_NaN());
                    kn::fmexp_lanes(out.data(), Z.data(), m, d, N, r, from.data());
                    CHECK(out == in_place);
                    std::vector<T> twin(s.size() * W, std::numeric_limits<T>::quiet_NaN());
                    kn::scalar::fmexp_lanes(twin.data(), Z.data(), m, d, N, W, r, from.data());
                    CHECK(oracle::rel_err(twin, in_place, twin.size()) <= tol<T>(N) * 8 * std::max<std::size_t>(m, 1));
                    auto same = from; // from == A: in place
                    kn::fmexp_lanes(same.data(), Z.data(), m, d, N, r, same.data());
                    CHECK(same == in_place);
                }
    }
}

TEMPLATE_TEST_CASE("fmexp_lanes_exp: the bits of exp_lanes then fmexp_lanes", "[kernels]", float, double) {
    // The state before the steps is exp(z0) from level k0, made by the first
    // pass where it reads it (d = 2) or written first: every coefficient,
    // level 0 too, as e0 copied in, exp_lanes and fmexp_lanes leave it,
    // whatever A held; with and without roots, in registers and by passes
    // (one, several, a short last one), k0 = 0 and 3, and the empty cases.
    using T = TestType;
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        const std::size_t W = kn::lanes<T>();
        for (auto [d, N] : std::vector<std::pair<std::size_t, std::size_t>>{
                 {2, 0}, {2, 1}, {2, 2}, {2, 3}, {2, 4}, {2, 5}, {2, 9}, {2, 10}, {3, 3}, {4, 2}, {9, 2}})
            for (std::size_t m : {0, 1, 3, 4, 5, 9})
                for (std::size_t k0 : {0, 3})
                    for (bool with_root : {false, true}) {
                        INFO(arch << " lanes " << W << " d " << d << " N " << N << " m " << m << " k0 " << k0
                                  << " root " << with_root);
                        const tensig::shape s(d, N);
                        const auto e0 = random_vector<T>(W), z0 = random_vector<T>(d), Z = random_vector<T>(m * d * W);
                        const auto root = random_vector<T>(std::max<std::size_t>(m, 1) * (N + 1) * W);
                        const T* r = with_root ? root.data() : nullptr;
                        std::vector<T> expected(s.size() * W, T(7));
                        std::copy(e0.begin(), e0.end(), expected.begin());
                        kn::exp_lanes(expected.data(), z0.data(), d, N, k0);
                        kn::fmexp_lanes(expected.data(), Z.data(), m, d, N, r);
                        std::vector<T> A(s.size() * W, std::numeric_limits<T>::quiet_NaN());
                        kn::fmexp_lanes_exp(A.data(), Z.data(), m, d, N, r, z0.data(), k0, e0.data());
                        CHECK(A == expected);
                        std::vector<T> twin(s.size() * W, std::numeric_limits<T>::quiet_NaN());
                        kn::scalar::fmexp_lanes_exp(twin.data(), Z.data(), m, d, N, W, r, z0.data(), k0, e0.data());
                        CHECK(oracle::rel_err(twin, expected, twin.size()) <=
                              tol<T>(N) * 8 * std::max<std::size_t>(m, 1));
                    }
    }
}

TEMPLATE_TEST_CASE("fmexp_lanes_backward with roots against its scalar twin", "[kernels]", float, double) {
    using T = TestType;
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        const std::size_t W = kn::lanes<T>();
        for (auto [d, N] :
             std::vector<std::pair<std::size_t, std::size_t>>{{2, 1}, {2, 2}, {2, 3}, {2, 5}, {2, 7}, {4, 4}, {3, 3}, {9, 2}})
            for (std::size_t m : {1, 2, 3, 4, 5, 6, 7, 9}) { // short passes of 1, 2 and 3 (d = 2: their own length, first)
                INFO(arch << " lanes " << W << " d " << d << " N " << N << " m " << m);
                const tensig::shape s(d, N);
                const std::size_t R = kn::scalar::fmexp_lanes_record_size(d, N), K = (N + 1) * W;
                const auto A = random_vector<T>(R * W), Z = random_vector<T>(m * d * W),
                           root = random_vector<T>(m * K);
                auto G1 = random_vector<T>(s.size() * W);
                auto G2 = G1;
                std::vector<T> GZ1(m * d * W, std::numeric_limits<T>::quiet_NaN()), GZ2 = GZ1, gr1(m * K, T(-3)),
                    gr2(m * K, T(-5)); // (GZ written, not added to)
                kn::fmexp_lanes_backward(A.data(), G1.data(), GZ1.data(), Z.data(), m, d, N, root.data(), gr1.data());
                kn::scalar::fmexp_lanes_backward(A.data(), G2.data(), GZ2.data(), Z.data(), m, d, N, W, root.data(),
                                                 gr2.data());
                CHECK(oracle::rel_err(std::vector<T>(G1.begin() + W, G1.end()), std::vector<T>(G2.begin() + W, G2.end()),
                                      G1.size() - W) <= tol<T>(N) * 16);
                CHECK(oracle::rel_err(GZ1, GZ2, GZ1.size()) <= tol<T>(N) * 16);
                for (std::size_t sk = 0; sk < m * (N + 1); ++sk) // chain 0's root feeds nothing
                    for (std::size_t l = 0; l < W; ++l)
                        if (sk % (N + 1) == 0) {
                            CHECK(gr1[sk * W + l] == T(0));
                        } else {
                            CHECK(std::abs(double(gr1[sk * W + l]) - double(gr2[sk * W + l])) <=
                                  tol<T>(N) * 16 * std::max(1.0, oracle::max_abs(gr2, gr2.size())));
                        }
            }
    }
}

TEST_CASE("the rooted scalar twin's gradient is the derivative of the rooted forward", "[kernels]") {
    using T = double;
    for (auto [d, N] : std::vector<std::pair<std::size_t, std::size_t>>{{2, 1}, {2, 3}, {3, 2}, {2, 5}})
        for (std::size_t m : {1, 3}) {
            INFO("d " << d << " N " << N << " m " << m);
            const tensig::shape s(d, N);
            const std::size_t R = kn::scalar::fmexp_lanes_record_size(d, N), n = s.size();
            auto A = random_vector<T>(n), Z = random_vector<T>(m * d), q = random_vector<T>(m * (N + 1));
            const auto G = random_vector<T>(n);
            auto dA = random_vector<T>(n), dZ = random_vector<T>(m * d), dq = random_vector<T>(m * (N + 1));
            dA[0] = 0; // level 0 is not an input of the rooted update
            for (std::size_t i = R; i < n; ++i)
                dA[i] = 0; // nor is level N an input of the backward (it enters the loss as itself)
            auto loss = [&](double h) {
                std::vector<T> a(n), z(m * d), r(m * (N + 1));
                for (std::size_t i = 0; i < n; ++i)
                    a[i] = A[i] + h * dA[i];
                for (std::size_t i = 0; i < z.size(); ++i)
                    z[i] = Z[i] + h * dZ[i];
                for (std::size_t i = 0; i < r.size(); ++i)
                    r[i] = q[i] + h * dq[i];
                kn::scalar::fmexp_lanes(a.data(), z.data(), m, d, N, 1, r.data());
                double L = 0;
                for (std::size_t i = 1; i < n; ++i)
                    L += double(G[i]) * double(a[i]);
                return L;
            };
            const double h = 1e-6, fd = (loss(h) - loss(-h)) / (2 * h);
            auto g = G;
            std::vector<T> gz(m * d, T(0)), gr(m * (N + 1));
            kn::scalar::fmexp_lanes_backward(A.data(), g.data(), gz.data(), Z.data(), m, d, N, 1, q.data(), gr.data());
            double an = 0;
            for (std::size_t i = 1; i < R; ++i)
                an += double(g[i]) * double(dA[i]);
            for (std::size_t i = 0; i < gz.size(); ++i)
                an += double(gz[i]) * double(dZ[i]);
            for (std::size_t i = 0; i < gr.size(); ++i)
                an += double(gr[i]) * double(dq[i]);
            CHECK(std::abs(an - fd) <= 1e-7 * std::max(1.0, std::abs(fd)));
        }
}

TEMPLATE_TEST_CASE("all_finite: any infinity or NaN at any position, never a finite value", "[kernels]", float,
                   double) {
    using T = TestType;
    using lim = std::numeric_limits<T>;
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        for (std::size_t n : {0, 1, 7, 8, 9, 31, 64, 67, 200}) {
            INFO(arch << " n " << n);
            std::vector<T> v = random_vector<T>(n);
            if (n > 2) v[1] = lim::max(), v[2] = -lim::max(); // huge is finite: x - x is still 0
            if (n > 3) v[3] = lim::denorm_min();
            CHECK(kn::all_finite(v.data(), n));
            CHECK(kn::scalar::all_finite(v.data(), n));
            for (T bad : {lim::infinity(), -lim::infinity(), lim::quiet_NaN()})
                for (std::size_t i = 0; i < n; ++i) {
                    std::vector<T> w = v;
                    w[i] = bad;
                    if (kn::all_finite(w.data(), n) || kn::scalar::all_finite(w.data(), n))
                        FAIL_CHECK("missed " << bad << " at " << i);
                }
        }
    }
    // the input checks name the culprit (the fast path only says that there is one)
    std::vector<double> path(3 * 2, 0.5);
    path[5] = std::numeric_limits<double>::infinity();
    CHECK_THROWS_WITH(tensig::detail::check_finite(path.data(), {3, 2}, "path"),
                      Catch::Matchers::Contains("path") && Catch::Matchers::Contains("at index (2, 1)"));
}

TEMPLATE_TEST_CASE("exp_lanes: each lane's words below a prefix of exp(z)", "[kernels]", float, double) {
    using T = TestType;
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        const std::size_t W = kn::lanes<T>();
        for (std::size_t d : {1, 2, 3, 5})
            for (std::size_t depth : {0, 1, 2, 4})
                for (std::size_t k0 : {0, 1, 3}) {
                    INFO(arch << " lanes " << W << " d " << d << " depth " << depth << " k0 " << k0);
                    const tensig::shape s(d, depth);
                    const auto z = random_vector<T>(d);
                    std::vector<T> A(s.size() * W, T(7)), twin;
                    const auto a0 = random_vector<T>(W);
                    std::copy(a0.begin(), a0.end(), A.begin());
                    twin = A;
                    kn::exp_lanes(A.data(), z.data(), d, depth, k0);
                    kn::scalar::exp_lanes(twin.data(), z.data(), d, depth, k0, W);
                    CHECK(A == twin); // the same multiplies in the same order
                    // by the definition: lane l's word u of level j is a0[l] (z_u1 ... z_uj) k0!/(k0+j)!
                    double err = 0;
                    for (std::size_t j = 0; j <= depth; ++j) {
                        for (std::size_t u = 0; u < s.level_size(j); ++u) {
                            double prod = 1, fact = 1;
                            for (std::size_t i = 0, r = u; i < j; ++i, r /= d)
                                prod *= static_cast<double>(z[r % d]);
                            for (std::size_t i = k0 + 1; i <= k0 + j; ++i)
                                fact *= static_cast<double>(i);
                            for (std::size_t l = 0; l < W; ++l)
                                err = std::max(err, std::abs(static_cast<double>(A[(s.level_offset(j) + u) * W + l]) -
                                                             static_cast<double>(a0[l]) * prod / fact));
                        }
                    }
                    CHECK(err <= tol<T>(depth + 1));
                }
    }
}

TEMPLATE_TEST_CASE("exp_lanes_adjoint: the gradient of <G, exp_lanes> by its closed form and its twin", "[kernels]",
                   float, double) {
    using T = TestType;
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        const std::size_t W = kn::lanes<T>();
        for (std::size_t d : {1, 2, 3, 5, 9}) // (9: d at run time)
            for (std::size_t depth : {0, 1, 2, 4, 6})
                for (std::size_t k0 : {0, 1, 3}) {
                    if (d >= 5 && depth > 3 + (d == 5)) continue; // (at most 9^3 + ... values a lane)
                    INFO(arch << " lanes " << W << " d " << d << " depth " << depth << " k0 " << k0);
                    const tensig::shape s(d, depth);
                    const auto z = random_vector<T>(d), a0 = random_vector<T>(W), G0 = random_vector<T>(s.size() * W);
                    std::vector<T> E(s.size() * W);
                    std::copy(a0.begin(), a0.end(), E.begin());
                    kn::exp_lanes(E.data(), z.data(), d, depth, k0);
                    const std::vector<T> Ebelow(E.begin(), E.begin() + static_cast<std::ptrdiff_t>(
                                                                             s.level_offset(depth) * W));
                    std::vector<T> G1 = G0, G2 = G0, gz1(d, T(0.25)), gz2(d, T(0.25));
                    kn::exp_lanes_adjoint(Ebelow.data(), G1.data(), gz1.data(), z.data(), d, depth, k0);
                    kn::scalar::exp_lanes_adjoint(Ebelow.data(), G2.data(), gz2.data(), z.data(), d, depth, k0, W);
                    // L = sum G_j[u, l] a0[l] z_u k0!/(k0+j)!: dL/da0[l] and dL/dz_b word by word
                    std::vector<double> ga0(W, 0.0), gz(d, 0.25), ma0(W, 0.0), mz(d, 0.25); // (m: sums of |terms|)
                    for (std::size_t j = 0; j <= depth; ++j) {
                        double fact = 1;
                        for (std::size_t i = k0 + 1; i <= k0 + j; ++i)
                            fact *= static_cast<double>(i);
                        for (std::size_t u = 0; u < s.level_size(j); ++u) {
                            std::vector<std::size_t> letters;
                            for (std::size_t i = 0, r = u; i < j; ++i, r /= d)
                                letters.push_back(r % d);
                            double prod = 1;
                            for (auto b : letters)
                                prod *= static_cast<double>(z[b]);
                            std::vector<double> dprod(d, 0.0); // d(z_u)/dz_b
                            for (std::size_t i = 0; i < j; ++i) {
                                double others = 1;
                                for (std::size_t i2 = 0; i2 < j; ++i2)
                                    if (i2 != i) others *= static_cast<double>(z[letters[i2]]);
                                dprod[letters[i]] += others;
                            }
                            for (std::size_t l = 0; l < W; ++l) {
                                const double gl = static_cast<double>(G0[(s.level_offset(j) + u) * W + l]);
                                ga0[l] += gl * prod / fact;
                                ma0[l] += std::abs(gl * prod / fact);
                                for (std::size_t b = 0; b < d; ++b) {
                                    gz[b] += gl * static_cast<double>(a0[l]) * dprod[b] / fact;
                                    mz[b] += std::abs(gl * static_cast<double>(a0[l]) * dprod[b] / fact);
                                }
                            }
                        }
                    }
                    // (rounding: a few ulps of the sum of |terms| per level)
                    for (std::size_t b = 0; b < d; ++b) {
                        CHECK(std::abs(static_cast<double>(gz1[b]) - gz[b]) <= tol<T>(depth + 1) * mz[b]);
                        CHECK(std::abs(static_cast<double>(gz2[b]) - gz[b]) <= tol<T>(depth + 1) * mz[b]);
                    }
                    for (std::size_t l = 0; l < W; ++l) {
                        CHECK(std::abs(static_cast<double>(G1[l]) - ga0[l]) <= tol<T>(depth + 1) * ma0[l]);
                        CHECK(std::abs(static_cast<double>(G2[l]) - ga0[l]) <= tol<T>(depth + 1) * ma0[l]);
                    }
                }
    }
}

TEMPLATE_TEST_CASE(
    "prefix_roots and its adjoint: the words of level p in lanes equal horner's, several steps at once",
    "[kernels]", float, double) {
    using T = TestType;
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        const std::size_t W = kn::lanes<T>();
        for (std::size_t d : {2, 3, 4})
            for (std::size_t p : {1, 2, 3, 4})
                for (std::size_t extra : {0, 1, 4, 9}) {
                    const std::size_t N = p + extra;
                    std::size_t words = 1;
                    for (std::size_t k = 0; k < p; ++k)
                        words *= d;
                    if (words > 64) continue;
                    INFO(arch << " lanes " << W << " d " << d << " p " << p << " N " << N << " in lanes "
                              << (words == W));
                    const tensig::shape top(d, p);
                    auto A = random_vector<T>(top.size());
                    A[0] = T(1) + A[0] / T(4);
                    const auto z = random_vector<T>(d);
                    auto twinA = A;
                    std::vector<T> root((N - p + 1) * words, T(7)), twin(root.size(), T(-7));
                    std::vector<T> scratch(kn::horner::prefix_chains_scratch_size(d, p, N));
                    kn::prefix_roots(A.data(), z.data(), d, p, N, root.data());
                    kn::horner::prefix_chains(twinA.data(), z.data(), d, p, N, twin.data(), scratch.data());
                    // fused multiply-adds in the lanes, separate ones in the twin (baseline code)
                    CHECK(oracle::rel_err(root, twin, root.size()) <= tol<T>(N));
                    CHECK(oracle::rel_err(A, twinA, A.size()) <= tol<T>(N));
                    // the adjoint, from A before the step, against horner::prefix_chains_adjoint
                    const auto A0 = random_vector<T>(top.size()), groot = random_vector<T>(root.size()),
                               gA0 = random_vector<T>(top.size()), gz0 = random_vector<T>(d);
                    auto gA = gA0, gz = gz0, twin_gA = gA0, twin_gz = gz0;
                    std::vector<T> ascratch(kn::horner::prefix_chains_adjoint_scratch_size(d, p, N));
                    kn::prefix_roots_adjoint(A0.data(), z.data(), d, p, N, groot.data(), gA.data(), gz.data());
                    kn::horner::prefix_chains_adjoint(A0.data(), z.data(), d, p, N, groot.data(), twin_gA.data(),
                                                      twin_gz.data(), ascratch.data());
                    CHECK(oracle::rel_err(gA, twin_gA, gA.size()) <= tol<T>(N * words));
                    CHECK(oracle::rel_err(gz, twin_gz, gz.size()) <= tol<T>(N * words));
                    // three steps in one call: the bits of three calls of one step
                    const std::size_t m = 3, step = (N - p + 1) * words;
                    const auto zs = random_vector<T>(m * d);
                    auto Am = A0, As = A0;
                    Am[0] = As[0] = T(1);
                    std::vector<T> rm(m * step, T(5)), rs(rm.size(), T(-5));
                    kn::prefix_roots(Am.data(), zs.data(), d, p, N, rm.data(), m, step);
                    for (std::size_t s = 0; s < m; ++s)
                        kn::prefix_roots(As.data(), zs.data() + s * d, d, p, N, rs.data() + s * step);
                    CHECK(Am == As);
                    CHECK(rm == rs);
                }
    }
}

TEMPLATE_TEST_CASE("interleave and deinterleave move rows to lanes and back", "[kernels]", float, double) {
    using T = TestType;
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        const std::size_t W = kn::lanes<T>();
        for (std::size_t count : {W, W > 1 ? W - 1 : 1, std::size_t(1)})
            for (std::size_t n : {std::size_t(0), std::size_t(1), W - 1, W, 3 * W + 5, std::size_t(64)})
                for (std::size_t extra : {std::size_t(0), std::size_t(3), W})
                    for (std::size_t skew = 0; skew < W; ++skew) { // rows from every offset in a register
                        INFO(arch << " lanes " << W << " count " << count << " n " << n << " stride " << n + extra
                                  << " skew " << skew);
                        const std::size_t stride = n + extra;
                        tensig::aligned_vector<T> rows(skew + count * stride + W), lanes(n * W + W);
                        for (std::size_t i = 0; i < rows.size(); ++i)
                            rows[i] = T(static_cast<double>(i) + 0.5);
                        for (std::size_t i = 0; i < lanes.size(); ++i)
                            lanes[i] = T(-1);
                        kn::interleave(rows.data() + skew, stride, count, n, lanes.data());
                        bool moved = true, untouched = true;
                        for (std::size_t i = 0; i < n; ++i)
                            for (std::size_t l = 0; l < W; ++l) {
                                if (l < count) moved = moved && lanes[i * W + l] == rows[skew + l * stride + i];
                                else untouched = untouched && lanes[i * W + l] == T(-1);
                            }
                        for (std::size_t i = n * W; i < lanes.size(); ++i)
                            untouched = untouched && lanes[i] == T(-1);
                        CHECK(moved);
                        CHECK(untouched);
                        // and back, into rows that start out different: every value moved, nothing else written
                        tensig::aligned_vector<T> back(rows.size(), T(-2));
                        kn::deinterleave(lanes.data(), count, n, back.data() + skew, stride);
                        bool same = true, rest = true;
                        for (std::size_t i = 0; i < back.size(); ++i) {
                            const bool in_row = i >= skew && (i - skew) / std::max<std::size_t>(stride, 1) < count &&
                                                (i - skew) % std::max<std::size_t>(stride, 1) < n;
                            if (in_row) same = same && back[i] == rows[i];
                            else rest = rest && back[i] == T(-2);
                        }
                        CHECK(same);
                        CHECK(rest);
                    }
    }
}

TEMPLATE_TEST_CASE("interleave_differences: every lane's differences, zeros past its count, by its twin",
                   "[kernels]", float, double) {
    using T = TestType;
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        const std::size_t W = kn::lanes<T>();
        for (std::size_t lag : {std::size_t(1), std::size_t(2), std::size_t(5)})
            for (std::size_t n : {std::size_t(0), std::size_t(1), W - 1, W, 3 * W + 5, std::size_t(64)})
                for (int shortfall : {0, 1, 2}) { // every lane full; one lane short; idle lanes (count 0)
                    INFO(arch << " lanes " << W << " lag " << lag << " n " << n << " shortfall " << shortfall);
                    // lane l reads its own run of points, at its own offset (unaligned loads)
                    const auto pts = random_vector<T>(W * (n + lag + W) + 1);
                    std::vector<const T*> src(W);
                    std::vector<std::size_t> count(W, n);
                    for (std::size_t l = 0; l < W; ++l)
                        src[l] = pts.data() + l * (n + lag + W) + lag + l % W;
                    if (shortfall == 1) count[W / 2] = n / 2;
                    if (shortfall == 2)
                        for (std::size_t l = W / 2 + (W > 1 ? 0 : 1); l < W; ++l) {
                            count[l] = 0;
                            src[l] = nullptr;
                        }
                    std::vector<T> lanes(n * W + W, T(-1)), twin(n * W + W, T(-1));
                    kn::interleave_differences(src.data(), count.data(), n, lag, lanes.data());
                    kn::scalar::interleave_differences(src.data(), count.data(), n, lag, twin.data(), W);
                    bool exact = true, zeros = true, twins = true;
                    for (std::size_t i = 0; i < n; ++i)
                        for (std::size_t l = 0; l < W; ++l) {
                            const T v = lanes[i * W + l];
                            if (i < count[l]) exact = exact && v == T(src[l][i] - src[l][i - lag]);
                            else zeros = zeros && v == T(0);
                            twins = twins && v == twin[i * W + l];
                        }
                    for (std::size_t i = n * W; i < lanes.size(); ++i)
                        zeros = zeros && lanes[i] == T(-1); // nothing written past n
                    CHECK(exact);
                    CHECK(zeros);
                    CHECK(twins);
                }
    }
}

TEMPLATE_TEST_CASE("scatter_differences: each point minus the step it starts plus the step it ends", "[kernels]",
                   float, double) {
    using T = TestType;
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        for (std::size_t lag : {std::size_t(1), std::size_t(2), std::size_t(3), std::size_t(8), std::size_t(17)})
            for (std::size_t steps : {std::size_t(0), std::size_t(1), std::size_t(2), std::size_t(7), std::size_t(40)})
                for (bool fresh : {false, true}) {
                    INFO(arch << " lag " << lag << " steps " << steps << " fresh " << fresh);
                    const std::size_t n = steps * lag;
                    const auto grad = random_vector<T>(n), x0 = random_vector<T>(n + lag + 1);
                    // the plain two loops, from x0 (or from zeros but the last point, with fresh)
                    std::vector<T> ref = x0;
                    if (fresh && n > 0) std::fill(ref.begin() + 1, ref.begin() + 1 + n, T(0));
                    T* r = ref.data() + 1 + lag;
                    for (std::size_t j = 0; j < n; ++j)
                        r[static_cast<std::ptrdiff_t>(j) - static_cast<std::ptrdiff_t>(lag)] -= grad[j];
                    for (std::size_t j = 0; j < n; ++j)
                        r[j] += grad[j];
                    std::vector<T> x = x0, twin = x0;
                    kn::scatter_differences(x.data() + 1 + lag, grad.data(), n, lag, fresh);
                    kn::scalar::scatter_differences(twin.data() + 1 + lag, grad.data(), n, lag, fresh);
                    CHECK(x == ref); // bit for bit, and nothing outside the points written
                    CHECK(twin == ref);
                }
    }
}

TEMPLATE_TEST_CASE("fmexp_lanes_backward against its scalar twin (a record, then the adjoint through it)",
                   "[kernels]", float, double) {
    using T = TestType;
    auto shapes = many_shapes;
    shapes.push_back({9, 2});
    shapes.push_back({9, 4}); // (the generic walk's upper levels: d at run time)
    // (the walk with its depth left known at run time only: above 6 for d = 2, 4 for d >= 3)
    shapes.push_back({2, 10});
    shapes.push_back({3, 7});
    shapes.push_back({2, 5});
    shapes.push_back({2, 3}); // (with {2, 1}, {2, 2} and {4, 2}: the adjoint in registers)
    shapes.push_back({3, 2});
    shapes.push_back({1, 4});
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        const std::size_t W = kn::lanes<T>();
        for (auto [d, N] : shapes)
            for (std::size_t m : {1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 40}) { // passes, the last one short;
                // blocks of the adjoint in registers (16 segments), the last one short
                INFO(arch << " lanes " << W << " d " << d << " N " << N << " m " << m);
                const tensig::shape s(d, N);
                if (m > 9 && s.size() > 64) continue; // (the passes are tested by then)
                const std::size_t size = s.size(), R = kn::scalar::fmexp_lanes_record_size(d, N);
                REQUIRE(R == size - s.level_size(N));
                std::vector<T> A0(size * W), Z(m * d * W), G0(size * W);
                for (std::size_t l = 0; l < W; ++l) {
                    const auto a = oracle::random_tensor<T>(s), gl = oracle::random_tensor<T>(s);
                    const auto z = random_vector<T>(m * d);
                    for (std::size_t i = 0; i < size; ++i) {
                        A0[i * W + l] = a[i];
                        G0[i * W + l] = gl[i];
                    }
                    for (std::size_t i = 0; i < m * d; ++i)
                        Z[i * W + l] = z[i];
                }
                // the twin's record: levels 0..N-1 before each segment, level N untouched
                auto A1 = A0, A2 = A0;
                std::vector<T> rec(m * R * W, T(-7));
                kn::fmexp_lanes(A1.data(), Z.data(), m, d, N);
                kn::scalar::fmexp_lanes_record(A2.data(), Z.data(), m, d, N, W, rec.data());
                CHECK(std::equal(rec.begin(), rec.begin() + static_cast<std::ptrdiff_t>(R * W), A0.begin()));
                CHECK(oracle::rel_err(A1, A2, R * W) <= tol<T>(N) * 8);
                CHECK(std::equal(A2.begin() + R * W, A2.end(), A0.begin() + R * W));
                // and not needed: levels 0..N-1 alone (an access to level N
                // is out of bounds, which the ASan build reports)
                std::vector<T> A3(A0.begin(), A0.begin() + static_cast<std::ptrdiff_t>(R * W)), rec3(m * R * W);
                kn::scalar::fmexp_lanes_record(A3.data(), Z.data(), m, d, N, W, rec3.data());
                CHECK(std::equal(A3.begin(), A3.end(), A2.begin()));
                CHECK(rec3 == rec);
                // the kernel, from levels 0..N-1 alone (not written)
                auto G1 = G0, G2 = G0;
                // (GZ written, not added to: NaN before)
                std::vector<T> GZ1(m * d * W, std::numeric_limits<T>::quiet_NaN()), GZ2 = GZ1;
                const std::vector<T> A5(A0.begin(), A0.begin() + static_cast<std::ptrdiff_t>(R * W));
                kn::fmexp_lanes_backward(A5.data(), G1.data(), GZ1.data(), Z.data(), m, d, N);
                kn::scalar::fmexp_lanes_backward(A5.data(), G2.data(), GZ2.data(), Z.data(), m, d, N, W);
                CHECK(std::equal(A5.begin(), A5.end(), A0.begin()));
                CHECK(std::equal(G1.begin(), G1.begin() + static_cast<std::ptrdiff_t>(W), G0.begin())); // level 0
                CHECK(oracle::rel_err(std::vector<T>(G1.begin() + W, G1.end()),
                                      std::vector<T>(G2.begin() + W, G2.end()), (size - 1) * W) <= tol<T>(N) * 16);
                CHECK(std::all_of(GZ1.begin(), GZ1.end(), [](T v) { return std::isfinite(v); }));
                CHECK(std::all_of(GZ2.begin(), GZ2.end(), [](T v) { return std::isfinite(v); }));
                CHECK(oracle::rel_err(GZ1, GZ2, GZ1.size()) <= tol<T>(N) * 16);
                // the twin is its two halves
                auto G3 = G0;
                std::vector<T> GZ3(m * d * W, std::numeric_limits<T>::quiet_NaN());
                kn::scalar::fmexp_lanes_adjoint(G3.data(), GZ3.data(), static_cast<const T*>(rec.data()), Z.data(), m,
                                                d, N, W);
                CHECK(G3 == G2);
                CHECK(GZ3 == GZ2);
                // given every pass's start (a sweep at depth N-1, out of place,
                // a pass per call): the bits of the kernel that computes them
                const std::size_t P = kn::lanes_backward_segments(d), passes = (m + P - 1) / P;
                std::vector<T> states(passes * R * W, std::numeric_limits<T>::quiet_NaN());
                std::copy(A5.begin(), A5.end(), states.begin());
                for (std::size_t p = 1; p < passes; ++p)
                    kn::fmexp_lanes(states.data() + p * R * W, Z.data() + (p - 1) * P * d * W, P, d, N - 1,
                                    static_cast<const T*>(nullptr), states.data() + (p - 1) * R * W);
                auto G4 = G0;
                std::vector<T> GZ4(m * d * W, std::numeric_limits<T>::quiet_NaN());
                kn::fmexp_lanes_backward(states.data(), G4.data(), GZ4.data(), Z.data(), m, d, N,
                                         static_cast<const T*>(nullptr), static_cast<T*>(nullptr), R * W);
                CHECK(G4 == G1);
                CHECK(GZ4 == GZ1);
                if (passes > 1 && d >= 2 && N >= 4) { // (no adjoint in registers): the states are read
                    states[R * W + W] = std::numeric_limits<T>::quiet_NaN();
                    kn::fmexp_lanes_backward(states.data(), G4.data(), GZ4.data(), Z.data(), m, d, N,
                                             static_cast<const T*>(nullptr), static_cast<T*>(nullptr), R * W);
                    CHECK_FALSE(std::all_of(GZ4.begin(), GZ4.end(), [](T v) { return std::isfinite(v); }));
                }
            }
    }
}

TEMPLATE_TEST_CASE("fmexp_left_many and fmexp_left_jvp: exp(z) ⊗ A and Dexp(z)[ż] ⊗ A", "[kernels]", float,
                   double) {
    using T = TestType;
    for_each_block_case<T>([](std::size_t d, std::size_t N, std::size_t m, const tensig::shape& s,
                              const tensig::tensor<T>& A, const std::vector<T>& Z) {
            // reference: the product exp(z_m) ⊗ (... ⊗ (exp(z_1) ⊗ A)), exp(z) = 1 ⊗ exp(z) by fmexp
            auto ref = A;
            std::vector<T> E(s.size());
            for (std::size_t k = 0; k < m; ++k) {
                std::fill(E.begin(), E.end(), T(0));
                E[0] = T(1);
                kn::fmexp(E.data(), Z.data() + k * d, d, N);
                kn::product(ref.data(), E.data(), ref.data(), s);
            }
            auto many = A, one = A;
            kn::fmexp_left_many(many.data(), Z.data(), m, d, N);
            for (std::size_t k = 0; k < m; ++k)
                kn::fmexp_left_many(one.data(), Z.data() + k * d, 1, d, N);
            CHECK(oracle::max_abs_diff(many, one, s.size()) == 0); // any grouping: the same bits
            CHECK(oracle::rel_err(many, ref, s.size()) <= tol<T>(N) * 8 * m);
            auto sc = A;
            std::vector<T> scratch(kn::scalar::fmexp_many_scratch_size(d, N, m));
            kn::scalar::fmexp_left_many(sc.data(), Z.data(), m, d, N, scratch.data());
            CHECK(oracle::rel_err(sc, ref, s.size()) <= tol<T>(N) * 8 * m);
            if (m != 1) return;
            // Dexp(z)[ż] ⊗ A: the right jvp of the unit is Dexp(z)[ż]
            const auto zdot = random_vector<T>(d);
            std::vector<T> D(s.size()), jref(s.size()), jvp(s.size(), T(-7)), jsc(s.size(), T(-7));
            std::fill(E.begin(), E.end(), T(0));
            E[0] = T(1);
            kn::fmexp_jvp(D.data(), E.data(), Z.data(), zdot.data(), d, N);
            kn::product(jref.data(), D.data(), A.data(), s);
            kn::fmexp_left_jvp(jvp.data(), A.data(), Z.data(), zdot.data(), d, N);
            CHECK(oracle::rel_err(jvp, jref, s.size()) <= tol<T>(N) * 8);
            std::vector<T> jscratch(kn::scalar::fmexp_jvp_scratch_size(d, N));
            kn::scalar::fmexp_left_jvp(jsc.data(), A.data(), Z.data(), zdot.data(), d, N, jscratch.data());
            CHECK(oracle::rel_err(jsc, jref, s.size()) <= tol<T>(N) * 8);
            // ż along one axis takes a shorter path: by linearity it equals
            // jvp(ż + u) - jvp(u) for a dense u, both on the general path
            for (std::size_t axis : {std::size_t(0), d - 1}) {
                INFO("axis " << axis);
                std::vector<T> e(d, T(0)), eu(d), lhs(s.size()), ru(s.size()), reu(s.size());
                e[axis] = T(0.7);
                for (std::size_t b = 0; b < d; ++b)
                    eu[b] = e[b] + zdot[b];
                for (bool left : {false, true}) {
                    INFO("left " << left);
                    auto jvp_of = [&](T* out, const std::vector<T>& dir) {
                        if (left)
                            kn::fmexp_left_jvp(out, A.data(), Z.data(), dir.data(), d, N);
                        else
                            kn::fmexp_jvp(out, A.data(), Z.data(), dir.data(), d, N);
                    };
                    jvp_of(lhs.data(), e);
                    jvp_of(reu.data(), eu);
                    jvp_of(ru.data(), zdot);
                    for (std::size_t k = 0; k < s.size(); ++k)
                        reu[k] -= ru[k];
                    CHECK(oracle::rel_err(lhs, reu, s.size()) <= tol<T>(N) * 64);
                }
            }
            // several directions in one call (axes and a dense one): each
            // equals its own call, bit for bit (the same operations), and
            // the scalar twin to rounding
            const std::size_t count = d + 1;
            std::vector<T> dirs(count * d, T(0));
            for (std::size_t c = 0; c < d; ++c)
                dirs[c * d + c] = T(1);
            std::copy(zdot.begin(), zdot.end(), dirs.begin() + static_cast<std::ptrdiff_t>(d * d));
            for (bool left : {false, true}) {
                INFO("left " << left << ", " << count << " directions");
                std::vector<T> all(count * s.size(), T(-7)), one(s.size()), sc_all(count * s.size(), T(-7));
                std::vector<T> cscratch(kn::scalar::fmexp_jvp_scratch_size(d, N, count));
                if (left) {
                    kn::fmexp_left_jvp(all.data(), A.data(), Z.data(), dirs.data(), d, N, count);
                    kn::scalar::fmexp_left_jvp(sc_all.data(), A.data(), Z.data(), dirs.data(), d, N,
                                               cscratch.data(), count);
                } else {
                    kn::fmexp_jvp(all.data(), A.data(), Z.data(), dirs.data(), d, N, count);
                    kn::scalar::fmexp_jvp(sc_all.data(), A.data(), Z.data(), dirs.data(), d, N, cscratch.data(),
                                          count);
                }
                for (std::size_t q = 0; q < count; ++q) {
                    if (left)
                        kn::fmexp_left_jvp(one.data(), A.data(), Z.data(), dirs.data() + q * d, d, N);
                    else
                        kn::fmexp_jvp(one.data(), A.data(), Z.data(), dirs.data() + q * d, d, N);
                    CHECK(std::equal(one.begin(), one.end(), all.begin() + static_cast<std::ptrdiff_t>(q * s.size())));
                    CHECK(oracle::rel_err(sc_all.data() + q * s.size(), one.data(), s.size()) <= tol<T>(N) * 8);
                }
            }
        });
}

TEMPLATE_TEST_CASE("fmexp_adjoint_many: one adjoint per segment, the last first", "[kernels]", float, double) {
    using T = TestType;
    const std::vector<std::pair<std::size_t, std::size_t>> shapes = {{1, 5}, {2, 1}, {2, 2}, {2, 7}, {3, 4},
                                                                     {4, 4}, {5, 3}, {8, 3}, {16, 2}, {17, 2}};
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        for (auto [d, N] : shapes)
            for (std::size_t m : {1, 2, 4, 6}) {
                INFO(arch << " d " << d << " N " << N << " m " << m);
                const tensig::shape s(d, N);
                auto A = oracle::random_tensor<T>(s);
                const auto G = oracle::random_tensor<T>(s);
                const auto Z = random_vector<T>(m * d);
                const std::size_t R = kn::scalar::fmexp_record_size(d, N);
                std::vector<T> rec(m * R);
                kn::fmexp_many(A.data(), Z.data(), m, d, N, rec.data());
                auto gA = G, gA_ref = G;
                std::vector<T> gz(m * d, T(0)), gz_ref(m * d, T(0));
                kn::fmexp_adjoint_many(gA.data(), gz.data(), rec.data(), Z.data(), m, d, N);
                for (std::size_t k = m; k-- > 0;)
                    kn::fmexp_adjoint_recorded(gA_ref.data(), gz_ref.data() + k * d, rec.data() + k * R,
                                               Z.data() + k * d, d, N);
                CHECK(oracle::rel_err(gA, gA_ref, s.size()) <= tol<T>(s.size()));
                CHECK(oracle::rel_err(gz, gz_ref, m * d) <= tol<T>(s.size()));
                auto gA_sc = G;
                std::vector<T> gz_sc(m * d, T(0));
                std::vector<T> scratch(kn::scalar::fmexp_adjoint_many_scratch_size(d, N, m));
                kn::scalar::fmexp_adjoint_many(gA_sc.data(), gz_sc.data(), rec.data(), Z.data(), m, d, N,
                                               scratch.data());
                CHECK(oracle::rel_err(gA_sc, gA_ref, s.size()) <= tol<T>(s.size()));
                CHECK(oracle::rel_err(gz_sc, gz_ref, m * d) <= tol<T>(s.size()));
            }
    }
}

TEMPLATE_TEST_CASE("gram: SIMD equals scalar, symmetric, equals the definition", "[kernels]", float, double) {
    using T = TestType;
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        std::vector<std::size_t> lengths = sizes;
        for (std::size_t m : {511, 512, 513, 1023, 1024, 1025, 2600, 8190}) // across the rows' chunks
            lengths.push_back(m);
        for (std::size_t n : {1, 2, 3, 4, 5, 7, 8, 15, 16, 31})
            for (std::size_t m : lengths) {
                INFO(arch << " n " << n << " m " << m);
                const auto C = random_vector<T>(n * m);
                std::vector<T> H(n * n, T(-1)), ref(n * n, T(-1));
                kn::gram(H.data(), C.data(), n, m);
                kn::scalar::gram(ref.data(), C.data(), n, m);
                CHECK(oracle::max_abs_diff(H, ref, n * n) <= tol<T>(m) * std::max<double>(1.0, double(m)));
                for (std::size_t a = 0; a < n; ++a)
                    for (std::size_t b = 0; b < n; ++b)
                        CHECK(H[a * n + b] == H[b * n + a]);
                // weights constant on row ranges (the levels of a signature):
                // against the definition with a weighted copy of C
                const std::size_t ends[3] = {m / 3, m / 3 + (m + 1) / 2, m};
                const T scales[3] = {T(0.5), T(4), T(9)};
                std::vector<T> Cw(C);
                for (std::size_t a = 0; a < n; ++a)
                    for (std::size_t r = 0; r < m; ++r)
                        Cw[a * m + r] *= std::sqrt(r < ends[0] ? scales[0] : r < ends[1] ? scales[1] : scales[2]);
                std::vector<T> Hw(n * n, T(-1)), refw(n * n, T(-1)), sw(n * n, T(-1));
                kn::gram(Hw.data(), C.data(), n, m, m, ends, scales, 3);
                kn::scalar::gram(refw.data(), Cw.data(), n, m);
                kn::scalar::gram(sw.data(), C.data(), n, m, m, ends, scales, 3);
                // columns with a stride larger than their length
                const std::size_t ld = m + 5;
                std::vector<T> Cp(n * ld, std::numeric_limits<T>::quiet_NaN()), Hp(n * n, T(-1));
                for (std::size_t a = 0; a < n; ++a)
                    std::copy(C.begin() + a * m, C.begin() + (a + 1) * m, Cp.begin() + a * ld);
                kn::gram(Hp.data(), Cp.data(), n, m, ld, ends, scales, 3);
                CHECK(oracle::max_abs_diff(Hp, Hw, n * n) == 0);
                CHECK(oracle::max_abs_diff(Hw, refw, n * n) <= 9 * tol<T>(m) * std::max<double>(1.0, double(m)));
                CHECK(oracle::max_abs_diff(sw, refw, n * n) <= 9 * tol<T>(m) * std::max<double>(1.0, double(m)));
                for (std::size_t a = 0; a < n; ++a)
                    for (std::size_t b = 0; b < n; ++b)
                        CHECK(Hw[a * n + b] == Hw[b * n + a]);
            }
    }
}

TEMPLATE_TEST_CASE("lanes kernels below, at and past their depth limit (d = 1): their scalar twins' values",
                   "[kernels]", float, double) {
    // Past horner::lanes_max_depth the dispatcher runs the scalar twins
    // (the kernels' level offsets sit in fixed arrays): the same bits there,
    // the same values to rounding just below, and the closed form
    // (s^k / k!, s the sum of the increments) from the unit either way.
    using T = TestType;
    constexpr std::size_t d = 1, limit = kn::horner::lanes_max_depth;
    for (const auto& arch : kn::available_archs()) {
        arch_guard g(arch);
        const std::size_t W = kn::lanes<T>();
        for (std::size_t N : {limit - 1, limit, limit + 5})
            for (std::size_t m : {1, 5}) {
                INFO(arch << " lanes " << W << " N " << N << " m " << m);
                const double t = tol<T>(N) * 16;
                // a kernel's output against its twin's, from value `from` on
                const auto agree = [&](const std::vector<T>& a, const std::vector<T>& b, std::size_t from) {
                    const std::vector<T> x(a.begin() + static_cast<std::ptrdiff_t>(from), a.end()),
                        y(b.begin() + static_cast<std::ptrdiff_t>(from), b.end());
                    if (N >= limit) CHECK(x == y); // the twin itself
                    CHECK(oracle::rel_err(x, y, x.size()) <= t);
                };
                const std::size_t size = N + 1;
                const auto Z = random_vector<T>(m * W);
                // forward, from the unit
                std::vector<T> A1(size * W, T(0));
                std::fill(A1.begin(), A1.begin() + static_cast<std::ptrdiff_t>(W), T(1));
                auto A2 = A1;
                kn::fmexp_lanes(A1.data(), Z.data(), m, d, N);
                kn::scalar::fmexp_lanes(A2.data(), Z.data(), m, d, N, W);
                agree(A1, A2, 0);
                for (std::size_t l = 0; l < W; ++l) {
                    double s = 0;
                    for (std::size_t i = 0; i < m; ++i)
                        s += double(Z[i * W + l]);
                    std::vector<double> lane(size), exact(size);
                    for (std::size_t k = 0; k < size; ++k) {
                        lane[k] = double(A1[k * W + l]);
                        exact[k] = std::pow(s, double(k)) / std::tgamma(double(k) + 1);
                    }
                    CHECK(oracle::rel_err(lane, exact, size) <= t * double(m));
                }
                // from exp(z0) at level k0 = 2, with level 0 e0
                const auto z0 = random_vector<T>(d), e0 = random_vector<T>(W);
                const T* none = nullptr; // no roots
                std::vector<T> E1(size * W, std::numeric_limits<T>::quiet_NaN()), E2 = E1;
                kn::fmexp_lanes_exp(E1.data(), Z.data(), m, d, N, none, z0.data(), 2, e0.data());
                kn::scalar::fmexp_lanes_exp(E2.data(), Z.data(), m, d, N, W, none, z0.data(), 2, e0.data());
                agree(E1, E2, 0);
                // backward through the m segments, from levels 0..N-1 of a random state
                const auto A0 = random_vector<T>(N * W), G0 = random_vector<T>(size * W);
                auto G1 = G0, G2 = G0;
                std::vector<T> GZ1(m * W, std::numeric_limits<T>::quiet_NaN()), GZ2 = GZ1;
                kn::fmexp_lanes_backward(A0.data(), G1.data(), GZ1.data(), Z.data(), m, d, N);
                kn::scalar::fmexp_lanes_backward(A0.data(), G2.data(), GZ2.data(), Z.data(), m, d, N, W);
                agree(GZ1, GZ2, 0);
                agree(G1, G2, W); // (level 0 is the kernel's to leave or to use)
                // exp_lanes' adjoint
                std::vector<T> X(size * W, T(0));
                std::copy(e0.begin(), e0.end(), X.begin());
                kn::exp_lanes(X.data(), z0.data(), d, N, 2);
                auto H1 = G0, H2 = G0;
                std::vector<T> gz1(d, T(0.5)), gz2 = gz1; // (added to)
                kn::exp_lanes_adjoint(X.data(), H1.data(), gz1.data(), z0.data(), d, N, 2);
                kn::scalar::exp_lanes_adjoint(X.data(), H2.data(), gz2.data(), z0.data(), d, N, 2, W);
                agree(H1, H2, 0);
                agree(gz1, gz2, 0);
            }
    }
}

// Layer 3: laziness (no temporaries, no allocation), aliasing, fusion,
// shape checks at build time, `auto` safety, views over foreign memory.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

#include "support/oracle.hpp"

#include "support/alloc_counter.hpp"

using tensig::shape;
using tensig::tensor;

namespace {
template <class T> double tol() {
    return 500 * oracle::eps<T>();
}
} // namespace

TEMPLATE_TEST_CASE("a chain of linear operations is one pass with no allocation", "[expr]", float, double) {
    using T = TestType;
    const shape s(3, 4);
    const auto a = oracle::random_tensor<T>(s), b = oracle::random_tensor<T>(s),
               c = oracle::random_tensor<T>(s);
    tensor<T> d(s);
    const long before = alloc::count();
    d = a + 2 * b - c;
    d = -a + b / T(4) - 3.0 * (c - a) * 0.5;
    d += a - b;
    d -= 2 * c;
    tensig::tensor_view<T> v = d.view();
    v = a + b;
    const long after = alloc::count();
    CHECK(after - before == 0);
    for (std::size_t i = 0; i < s.size(); ++i)
        CHECK(double(d[i]) == Approx(double(a[i] + b[i])).margin(tol<T>()));
    // the value of a longer chain, against element-wise arithmetic
    d = a + 2 * b - c;
    d = -a + b / T(4) - 3.0 * (c - a) * 0.5;
    d += a - b;
    d -= 2 * c;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const double expect = -double(a[i]) + double(b[i]) / 4 - 1.5 * (double(c[i]) - double(a[i])) +
                              double(a[i]) - double(b[i]) - 2 * double(c[i]);
        CHECK(double(d[i]) == Approx(expect).margin(tol<T>() * 10));
    }
}

TEMPLATE_TEST_CASE("A *= exp(z) and A = A * exp(z) run the fused kernel without allocating", "[expr]", float,
                   double) {
    using T = TestType;
    const shape s(2, 6);
    auto A = oracle::random_group_like<T>(s);
    const auto z = tensor<T>::from_level1(s, std::vector<T>{T(0.3), T(-0.7)});
    const tensor<T> expect = A * tensor<T>(exp(z)); // general product with exp evaluated first
    auto B = A, C = A;
    tensor<T> D(s);
    B *= exp(z); // warm the per-thread scratch of the kernel
    B = A;
    const long before = alloc::count();
    B *= exp(z);
    C = C * exp(z);
    D = A * exp(z);
    CHECK(alloc::count() - before == 0);
    CHECK(oracle::rel_err(B, expect, s.size()) <= tol<T>());
    CHECK(oracle::rel_err(C, expect, s.size()) <= tol<T>());
    CHECK(oracle::rel_err(D, expect, s.size()) <= tol<T>());
    // z aliasing the destination: z = A * exp(z)
    auto zz = z;
    zz = A * exp(zz);
    CHECK(oracle::rel_err(zz, expect, s.size()) <= tol<T>());
    // not in level 1: the general path gives the same as the definition
    auto w = oracle::random_tensor<T>(s, 0.3);
    w[0] = T(0);
    const tensor<T> general = A * exp(w), ew = exp(w);
    const tensor<T> reference = A * ew;
    CHECK(oracle::rel_err(general, reference, s.size()) <= tol<T>());
}

TEMPLATE_TEST_CASE("aliasing: the destination may be any operand", "[expr][aliasing]", float, double) {
    using T = TestType;
    for (const auto& s : {shape(2, 4), shape(3, 3), shape(1, 5)}) {
        INFO(s.str());
        const auto a0 = oracle::random_tensor<T>(s), b = oracle::random_tensor<T>(s);
        const tensor<T> ab = a0 * b, ba = b * a0, aa = a0 * a0;
        const tensor<T> a_plus_aa = a0 + aa;
        auto a = a0;
        a = a * b;
        CHECK(oracle::rel_err(a, ab, s.size()) <= tol<T>());
        a = a0;
        a = b * a;
        CHECK(oracle::rel_err(a, ba, s.size()) <= tol<T>());
        a = a0;
        a = a * a;
        CHECK(oracle::rel_err(a, aa, s.size()) <= tol<T>());
        a = a0;
        a += a * a;
        CHECK(oracle::rel_err(a, a_plus_aa, s.size()) <= tol<T>());
        a = a0;
        a *= a;
        CHECK(oracle::rel_err(a, aa, s.size()) <= tol<T>());
        a = a0;
        a = a + a * b - a;
        CHECK(oracle::rel_err(a, ab, s.size()) <= tol<T>());
        auto g = oracle::random_group_like<T>(s);
        const tensor<T> gi = antipode(g), lg = log(g);
        g = antipode(g);
        CHECK(oracle::rel_err(g, gi, s.size()) <= tol<T>());
        g = antipode(g);
        g = log(g);
        CHECK(oracle::rel_err(g, lg, s.size()) <= tol<T>());
        g = exp(g);
        g = inverse(g);
        CHECK(oracle::rel_err(g, gi, s.size()) <= tol<T>());
    }
}

TEST_CASE("mismatched shapes throw when the expression is built", "[expr][errors]") {
    const tensor<double> a(2, 3), b(3, 3), c(2, 4);
    CHECK_THROWS_AS(a + b, tensig::invalid_input);
    CHECK_THROWS_AS(a - c, tensig::invalid_input);
    CHECK_THROWS_WITH(a * b, Catch::Contains("different shapes") && Catch::Contains("(dim 2, depth 3)"));
    CHECK_THROWS_AS(a * exp(c), tensig::invalid_input);
    tensor<double> d(2, 3);
    CHECK_THROWS_AS(d += b, tensig::invalid_input);
    CHECK_THROWS_AS(d *= exp(c), tensig::invalid_input);
    std::vector<double> memory(b.size());
    tensig::tensor_view<double> v(memory.data(), b.shape());
    CHECK_THROWS_AS(v = a + a, tensig::invalid_input);
    // an owning tensor takes the shape of what is assigned
    d = b + b;
    CHECK(d.shape() == b.shape());
}

TEST_CASE("auto expressions over temporaries hold them by value", "[expr]") {
    const shape s(2, 3);
    const auto a = oracle::random_tensor<double>(s);
    auto e = a + oracle::random_tensor<double>(s) * 2.0; // the temporary is moved into the node
    auto f = exp(tensor<double>::from_level1(s, std::vector<double>{1.0, 2.0}));
    const tensor<double> r = e, g = f;
    CHECK(std::isfinite(r[1]));
    CHECK(g[1] == 1.0);
    CHECK(g.at({1, 1}) == Approx(2.0));
    CHECK(g.at({0, 1}) == Approx(1.0));
}

TEST_CASE("views compute in memory someone else owns", "[expr]") {
    const shape s(2, 3);
    std::vector<double> rows(3 * s.size(), 0.0);
    tensig::tensor_view<double> r0(rows.data(), s), r1(rows.data() + s.size(), s),
        r2(rows.data() + 2 * s.size(), s);
    r0.set_unit();
    r1 = oracle::random_group_like<double>(s);
    r2 = r0 * r1 + r1;
    for (std::size_t i = 0; i < s.size(); ++i)
        CHECK(r2[i] == Approx(2 * r1[i]));
    const tensig::tensor_view<const double> c(rows.data() + s.size(), s);
    const tensor<double> copy = c * 1.0;
    CHECK(oracle::max_abs_diff(copy, r1, s.size()) == 0);
}

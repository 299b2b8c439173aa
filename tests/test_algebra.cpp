// Layers 2 and 4: the algebra's laws on random tensors, and each operation
// against the naive oracle of support/oracle.hpp.
#include <catch2/catch.hpp>

#include "support/oracle.hpp"

using tensig::shape;
using tensig::tensor;

namespace {
const std::vector<shape> shapes = {shape(1, 4), shape(2, 1), shape(2, 4),
                                   shape(3, 3), shape(4, 3), shape(5, 2)};

// Relative tolerance for results built from a few products of O(1) tensors:
// each coefficient sums at most (N+1) d^N-ish products, so errors stay a few
// hundred ulps.
template <class T> double tol() {
    return 500 * oracle::eps<T>();
}
} // namespace

TEMPLATE_TEST_CASE("tensor: shape, levels, words, unit", "[algebra]", float, double) {
    using T = TestType;
    tensor<T> t(3, 2);
    CHECK(t.size() == 13);
    CHECK(t.dim() == 3);
    CHECK(t.depth() == 2);
    CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % 64 == 0);
    for (std::size_t i = 0; i < t.size(); ++i)
        CHECK(t[i] == T(0));
    t.at({2, 1}) = T(5);
    CHECK(t.level(2)[2 * 3 + 1] == T(5));
    CHECK(t[1 + 3 + 7] == T(5));
    CHECK(t.level(1).size() == 3);
    CHECK(t.level(0).size() == 1);
    CHECK_THROWS_AS(t.level(3), tensig::invalid_input);
    CHECK_THROWS_AS(t.at({3}), tensig::invalid_input);
    const auto u = tensor<T>::unit(shape(3, 2));
    CHECK(u[0] == T(1));
    CHECK(oracle::max_abs(u.data() + 1, u.size() - 1) == 0);
    CHECK_THROWS_AS((tensor<T>(shape(2, 1), {T(1), T(2)})), tensig::invalid_input);
    CHECK_THROWS_AS(tensor<T>::from_level1(shape(2, 2), std::vector<T>{T(1)}), tensig::invalid_input);
}

TEMPLATE_TEST_CASE("product equals the definition", "[algebra]", float, double) {
    using T = TestType;
    for (const auto& s : shapes) {
        const auto a = oracle::random_tensor<T>(s), b = oracle::random_tensor<T>(s);
        const tensor<T> c = a * b;
        std::vector<double> va(a.data(), a.data() + s.size()), vb(b.data(), b.data() + s.size());
        const auto expect = oracle::product(va, vb, s);
        INFO(s.str());
        CHECK(oracle::rel_err(c, expect, s.size()) <= tol<T>());
    }
}

TEMPLATE_TEST_CASE("product laws: associativity, distributivity, unit", "[algebra]", float, double,
                   (tensig::dual<double, 3>)) {
    using T = TestType;
    for (const auto& s : shapes) {
        INFO(s.str());
        const auto a = oracle::random_tensor<T>(s), b = oracle::random_tensor<T>(s),
                   c = oracle::random_tensor<T>(s);
        const tensor<T> ab_c = (a * b) * c, a_bc = a * (b * c);
        CHECK(oracle::rel_err(ab_c, a_bc, s.size()) <= tol<T>());
        const tensor<T> left = a * (b + c), right = a * b + a * c;
        CHECK(oracle::rel_err(left, right, s.size()) <= tol<T>());
        const tensor<T> left2 = (a - T(2) * b) * c, right2 = a * c - 2 * (b * c);
        CHECK(oracle::rel_err(left2, right2, s.size()) <= tol<T>());
        const auto one = tensor<T>::unit(s);
        const tensor<T> a1 = a * one, one_a = one * a;
        CHECK(oracle::max_abs_diff(a1, a, s.size()) == 0);
        CHECK(oracle::max_abs_diff(one_a, a, s.size()) == 0);
    }
}

TEMPLATE_TEST_CASE("exp equals the series and log inverts it", "[algebra]", float, double) {
    using T = TestType;
    for (const auto& s : shapes) {
        INFO(s.str());
        auto a = oracle::random_tensor<T>(s, 0.5);
        a[0] = T(0);
        const tensor<T> e = exp(a);
        std::vector<double> va(a.data(), a.data() + s.size());
        CHECK(oracle::rel_err(e, oracle::exp_series(va, s), s.size()) <= tol<T>());
        const tensor<T> back = log(e);
        CHECK(oracle::rel_err(back, a, s.size()) <= tol<T>());
        // exp(x) with x_0 != 0 is e^{x_0} exp(x - x_0)
        a[0] = T(0.3);
        const tensor<T> e2 = exp(a);
        for (std::size_t i = 0; i < s.size(); ++i)
            CHECK(double(e2[i]) == Approx(std::exp(0.3) * double(e[i])).epsilon(tol<T>()).margin(tol<T>()));
    }
}

TEMPLATE_TEST_CASE("exp(log x) = x for group-like x; log S is primitive-free at level 0", "[algebra]", float,
                   double, (tensig::dual<double, 3>)) {
    using T = TestType;
    for (const auto& s : shapes) {
        INFO(s.str());
        const auto x = oracle::random_group_like<T>(s);
        const tensor<T> l = log(x);
        CHECK(double(l[0]) == Approx(0).margin(tol<T>()));
        const tensor<T> back = exp(l);
        CHECK(oracle::rel_err(back, x, s.size()) <= tol<T>());
    }
}

TEMPLATE_TEST_CASE("inverse: x * inverse(x) = inverse(x) * x = 1; antipode inverts group-like x", "[algebra]",
                   float, double) {
    using T = TestType;
    for (const auto& s : shapes) {
        INFO(s.str());
        auto x = oracle::random_tensor<T>(s, 0.5);
        x[0] = T(1.5);
        const auto one = tensor<T>::unit(s);
        const tensor<T> xi = x * inverse(x), ix = inverse(x) * x;
        CHECK(oracle::rel_err(xi, one, s.size()) <= tol<T>());
        CHECK(oracle::rel_err(ix, one, s.size()) <= tol<T>());
        const auto g = oracle::random_group_like<T>(s);
        const tensor<T> ga = g * antipode(g), gi = inverse(g);
        CHECK(oracle::rel_err(ga, one, s.size()) <= tol<T>());
        const tensor<T> ap = antipode(g);
        CHECK(oracle::rel_err(ap, gi, s.size()) <= tol<T>());
        // the antipode reverses words and flips odd levels
        if (s.depth() >= 2 && s.dim() >= 2) {
            CHECK(ap.at({0, 1}) == g.at({1, 0}));
            CHECK(ap.at({1}) == -g.at({1}));
        }
    }
}

TEMPLATE_TEST_CASE("log and inverse refuse a zero level-0 term", "[algebra][errors]", float, double) {
    using T = TestType;
    const auto x = oracle::random_tensor<T>(shape(2, 3));
    auto z = x;
    z[0] = T(0);
    tensor<T> out;
    CHECK_THROWS_AS(out = log(z), tensig::invalid_input);
    CHECK_THROWS_WITH(out = inverse(z), Catch::Contains("level-0"));
}

TEMPLATE_TEST_CASE("depth 0: exp, log and inverse act on the scalar part, and so do their gradients",
                   "[algebra]", float, double) {
    using T = TestType;
    tensor<T> x(shape(3, 0));
    x[0] = T(0.5);
    const tensor<T> e = exp(x), l = log(x), r = inverse(x);
    CHECK(double(e[0]) == Approx(std::exp(0.5)).epsilon(1e-6));
    CHECK(double(l[0]) == Approx(std::log(0.5)).epsilon(1e-6));
    CHECK(double(r[0]) == Approx(2.0).epsilon(1e-6));
    tensor<T> g(shape(3, 0));
    g[0] = T(1);
    CHECK(double(tensig::exp_backward(g, x)[0]) == Approx(std::exp(0.5)).epsilon(1e-6));
    CHECK(double(tensig::log_backward(g, x)[0]) == Approx(2.0).epsilon(1e-6));
    CHECK(double(tensig::inverse_backward(g, x)[0]) == Approx(-4.0).epsilon(1e-6));
}

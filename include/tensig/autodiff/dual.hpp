#pragma once
/// \file
/// Layer 5, forward mode: dual numbers with K tangents.
///
/// `dual<T, K>` carries a value and K directional derivatives. It is a scalar
/// like any other: `tensor<dual<double, 16>>`, every expression, and
/// `signature` of a path of duals run through the same (scalar) kernels, and
/// the tangents of the result are the derivatives of the result along the K
/// seeded directions.

#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <ostream>
#include <type_traits>

#include "tensig/algebra/scalar_traits.hpp"

namespace tensig {

/// A value and K tangents, with the arithmetic of the first-order Taylor
/// ring: (a + a'ε)(b + b'ε) = ab + (a'b + ab')ε.
template <class T, std::size_t K> struct dual {
    static_assert(std::is_floating_point_v<T>, "dual<T, K> needs a floating-point T");
    using value_type = T;
    static constexpr std::size_t size = K;

    T v{};                ///< value
    std::array<T, K> d{}; ///< tangents

    constexpr dual() = default;
    /// A constant (all tangents zero). Implicit, so that literals mix with duals.
    template <class S, class = std::enable_if_t<std::is_arithmetic_v<S>>>
    constexpr dual(S value) : v(static_cast<T>(value)) {}

    /// A variable: value x, tangent 1 in direction `i`.
    static dual variable(T x, std::size_t i) {
        dual r(x);
        r.d[i] = T(1);
        return r;
    }

    explicit operator T() const { return v; }

    dual& operator+=(const dual& o) {
        v += o.v;
        for (std::size_t i = 0; i < K; ++i)
            d[i] += o.d[i];
        return *this;
    }
    dual& operator-=(const dual& o) {
        v -= o.v;
        for (std::size_t i = 0; i < K; ++i)
            d[i] -= o.d[i];
        return *this;
    }
    dual& operator*=(const dual& o) {
        for (std::size_t i = 0; i < K; ++i)
            d[i] = d[i] * o.v + v * o.d[i];
        v *= o.v;
        return *this;
    }
    dual& operator/=(const dual& o) {
        const T inv = T(1) / o.v;
        const T q = v * inv;
        for (std::size_t i = 0; i < K; ++i)
            d[i] = (d[i] - q * o.d[i]) * inv;
        v = q;
        return *this;
    }

    friend dual operator+(dual a, const dual& b) { return a += b; }
    friend dual operator-(dual a, const dual& b) { return a -= b; }
    friend dual operator*(dual a, const dual& b) { return a *= b; }
    friend dual operator/(dual a, const dual& b) { return a /= b; }
    friend dual operator-(dual a) {
        a.v = -a.v;
        for (auto& x : a.d)
            x = -x;
        return a;
    }
    friend dual operator+(const dual& a) { return a; }

    // Comparisons look at values only (as for branching in algorithms).
    friend bool operator==(const dual& a, const dual& b) { return a.v == b.v; }
    friend bool operator!=(const dual& a, const dual& b) { return a.v != b.v; }
    friend bool operator<(const dual& a, const dual& b) { return a.v < b.v; }
    friend bool operator>(const dual& a, const dual& b) { return a.v > b.v; }
    friend bool operator<=(const dual& a, const dual& b) { return a.v <= b.v; }
    friend bool operator>=(const dual& a, const dual& b) { return a.v >= b.v; }

    friend std::ostream& operator<<(std::ostream& os, const dual& a) {
        os << a.v << " [";
        for (std::size_t i = 0; i < K; ++i)
            os << (i ? ", " : "") << a.d[i];
        return os << ']';
    }
};

/// Apply a scalar function f with derivative f' at the value: the chain rule.
template <class T, std::size_t K> dual<T, K> chain(const dual<T, K>& x, T f, T df) {
    dual<T, K> r(f);
    for (std::size_t i = 0; i < K; ++i)
        r.d[i] = df * x.d[i];
    return r;
}

template <class T, std::size_t K> dual<T, K> exp(const dual<T, K>& x) {
    const T e = std::exp(x.v);
    return chain(x, e, e);
}
template <class T, std::size_t K> dual<T, K> log(const dual<T, K>& x) {
    return chain(x, std::log(x.v), T(1) / x.v);
}
template <class T, std::size_t K> dual<T, K> sqrt(const dual<T, K>& x) {
    const T s = std::sqrt(x.v);
    return chain(x, s, T(0.5) / s);
}
template <class T, std::size_t K> dual<T, K> abs(const dual<T, K>& x) {
    return x.v < T(0) ? -x : x;
}
template <class T, std::size_t K> bool isfinite(const dual<T, K>& x) {
    if (!std::isfinite(x.v)) return false;
    for (const auto& t : x.d)
        if (!std::isfinite(t)) return false;
    return true;
}

/// Value part of a scalar (itself for plain numbers).
template <class T> T value_of(const T& x) {
    return x;
}
template <class T, std::size_t K> T value_of(const dual<T, K>& x) {
    return x.v;
}

template <class T> struct is_dual : std::false_type {};
template <class T, std::size_t K> struct is_dual<dual<T, K>> : std::true_type {};

template <class T, std::size_t K> struct scalar_traits<dual<T, K>> {
    static bool is_exact_zero(const dual<T, K>& x) {
        if (x.v != T(0)) return false;
        for (const auto& t : x.d)
            if (t != T(0)) return false;
        return true;
    }
    static bool is_finite(const dual<T, K>& x) { return tensig::isfinite(x); }
    static double value(const dual<T, K>& x) { return static_cast<double>(x.v); }
    /// a b + c in one pass over the tangents, with no temporaries.
    static dual<T, K> fma(const dual<T, K>& a, const dual<T, K>& b, const dual<T, K>& c) {
        dual<T, K> r;
        r.v = a.v * b.v + c.v;
        for (std::size_t i = 0; i < K; ++i)
            r.d[i] = a.d[i] * b.v + a.v * b.d[i] + c.d[i];
        return r;
    }
};

} // namespace tensig

#pragma once
// Test support: naive oracles written straight from the definitions
// (DESIGN.md §1), random inputs, comparisons with stated tolerances.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <xtensor/xnpy.hpp>
#include <xtensor/xtensor.hpp>

#include <tensig/tensig.hpp>

namespace oracle {

/// Product by the definition: (a ⊗ b)[u v] = sum over splits of a[u] b[v],
/// word by word, with no shared code with the kernels.
template <class T>
std::vector<T> product(const std::vector<T>& a, const std::vector<T>& b, const tensig::shape& s) {
    std::vector<T> c(s.size(), T(0));
    const std::size_t d = s.dim();
    for (std::size_t k = 0; k <= s.depth(); ++k) {
        for (std::size_t i = 0; i <= k; ++i) {
            const std::size_t na = s.level_size(i), nb = s.level_size(k - i);
            for (std::size_t u = 0; u < na; ++u)
                for (std::size_t v = 0; v < nb; ++v)
                    c[s.level_offset(k) + u * nb + v] +=
                        a[s.level_offset(i) + u] * b[s.level_offset(k - i) + v];
        }
    }
    (void)d;
    return c;
}

/// exp by the plain series sum_{n=0..N} x^n / n!.
template <class T> std::vector<T> exp_series(const std::vector<T>& x, const tensig::shape& s) {
    std::vector<T> result(s.size(), T(0)), power(s.size(), T(0));
    power[0] = T(1);
    result[0] = T(1);
    T fact = T(1);
    for (std::size_t n = 1; n <= s.depth(); ++n) {
        power = product(power, x, s);
        fact *= T(static_cast<double>(n));
        for (std::size_t i = 0; i < s.size(); ++i)
            result[i] += power[i] / fact;
    }
    return result;
}

/// Signature as the product of exp(Δ) computed by the series.
inline std::vector<double> signature(const xt::xtensor<double, 2>& path, std::size_t depth) {
    const std::size_t L = path.shape()[0], d = path.shape()[1];
    const tensig::shape s(d, depth);
    std::vector<double> S(s.size(), 0.0);
    S[0] = 1;
    for (std::size_t j = 1; j < L; ++j) {
        std::vector<double> x(s.size(), 0.0);
        for (std::size_t c = 0; c < d; ++c)
            x[1 + c] = path(j, c) - path(j - 1, c);
        S = product(S, exp_series(x, s), s);
    }
    return std::vector<double>(S.begin() + 1, S.end());
}

inline std::mt19937_64& rng() {
    static std::mt19937_64 gen(20261128);
    return gen;
}

template <class T> tensig::tensor<T> random_tensor(const tensig::shape& s, double scale = 1.0) {
    std::uniform_real_distribution<double> u(-scale, scale);
    tensig::tensor<T> t(s);
    for (std::size_t i = 0; i < s.size(); ++i)
        t[i] = T(u(rng()));
    return t;
}

/// A random group-like element: the signature of a random path (level 0 = 1).
template <class T>
tensig::tensor<T> random_group_like(const tensig::shape& s, std::size_t points = 4, double scale = 0.5) {
    std::uniform_real_distribution<double> u(-scale, scale);
    tensig::tensor<T> t = tensig::tensor<T>::unit(s);
    std::vector<T> z(s.dim());
    for (std::size_t p = 0; p < points; ++p) {
        for (auto& v : z)
            v = T(u(rng()));
        t *= tensig::exp(tensig::tensor<T>::from_level1(s, z));
    }
    return t;
}

template <class T = double> xt::xtensor<T, 2> random_path(std::size_t L, std::size_t d, double scale = 1.0) {
    std::normal_distribution<double> g(0.0, scale);
    xt::xtensor<T, 2> p({L, d});
    for (auto& v : p)
        v = T(g(rng()));
    return p;
}

/// The largest |a_i - b_i|; infinity if any difference is NaN (std::max
/// would skip it, and a comparison against a tolerance would pass).
template <class A, class B> double max_abs_diff(const A& a, const B& b, std::size_t n) {
    double m = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double e = std::abs(double(a[i]) - double(b[i]));
        if (std::isnan(e)) return std::numeric_limits<double>::infinity();
        m = std::max(m, e);
    }
    return m;
}

template <class A> double max_abs(const A& a, std::size_t n) {
    double m = 0;
    for (std::size_t i = 0; i < n; ++i)
        m = std::max(m, std::abs(double(a[i])));
    return m;
}

/// Relative max-norm error |a - b|_inf / max(1, |b|_inf).
template <class A, class B> double rel_err(const A& a, const B& b, std::size_t n) {
    return max_abs_diff(a, b, n) / std::max(1.0, max_abs(b, n));
}

/// Machine epsilon of T, for tolerances stated as a multiple of it.
template <class T> constexpr double eps() {
    if constexpr (tensig::is_dual<T>::value)
        return static_cast<double>(std::numeric_limits<typename T::value_type>::epsilon());
    else
        return static_cast<double>(std::numeric_limits<T>::epsilon());
}

inline std::string data_path(const std::string& name) {
    return std::string(TENSIG_TEST_DATA) + "/" + name;
}

/// A reference array of known rank (REQUIREd, so a wrong file fails loudly).
template <std::size_t R> xt::xtensor<double, R> load_ref(const std::string& name) {
    const auto loaded = xt::load_npy<double>(data_path(name));
    REQUIRE(loaded.dimension() == R);
    std::array<std::size_t, R> sh{};
    std::copy(loaded.shape().begin(), loaded.shape().end(), sh.begin());
    xt::xtensor<double, R> out(sh);
    std::copy(loaded.begin(), loaded.end(), out.begin());
    return out;
}

/// d/dt f(t) at 0 by central differences with one Richardson step:
/// (4 D(h/2) - D(h)) / 3, truncation error O(h^4).
inline double richardson(const std::function<double(double)>& f, double h = 1e-3) {
    auto D = [&](double s) { return (f(s) - f(-s)) / (2 * s); };
    return (4 * D(h / 2) - D(h)) / 3;
}

/// Σ a[i] b[i] in double.
template <class A, class B> double dot(const A& a, const B& b, std::size_t n) {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i)
        s += double(a[i]) * double(b[i]);
    return s;
}

/// n values uniform in [-1, 1].
inline xt::xtensor<double, 1> random_vec(std::size_t n) {
    std::uniform_real_distribution<double> u(-1, 1);
    xt::xtensor<double, 1> v = xt::zeros<double>({n});
    for (auto& x : v)
        x = u(rng());
    return v;
}

} // namespace oracle

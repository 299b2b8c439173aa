#pragma once
/// \file
/// Layer 4: the algebra's computations on flat buffers (levels 0..N), built
/// on the primitives of kernels/primitives.hpp: the truncated product, exp,
/// log, the series inverse and the antipode. Generic in the scalar T.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>

#include "tensig/algebra/aligned.hpp"
#include "tensig/algebra/scalar_traits.hpp"
#include "tensig/error.hpp"
#include "tensig/kernels/primitives.hpp"
#include "tensig/shape/shape.hpp"

namespace tensig {

namespace kernels {

/// True when x has level 0 equal to zero and levels >= 2 all zero (x lies in
/// level 1, the case of the fused multiply-exponentiate).
template <class T> bool is_level1(const T* x, const shape& s) {
    if (!scalar_traits<T>::is_exact_zero(x[0])) return false;
    for (std::size_t i = 1 + s.dim(); i < s.size(); ++i)
        if (!scalar_traits<T>::is_exact_zero(x[i])) return false;
    return s.depth() >= 1;
}

/// c = a ⊗ b, truncated at s.depth(). c may be the same buffer as a or as b
/// (not both). float and double run the SIMD kernel (tiles of c summed in
/// registers); other scalars the rows' algorithm (horner::product).
template <class T> void product(T* c, const T* a, const T* b, const shape& s) {
    if constexpr (has_simd<T>::value)
        dispatched::product(c, a, b, s.dim(), s.depth());
    else
        horner::product<scalar::policy>(c, a, b, s.dim(), s.depth());
}

/// out = c * x element-wise over n values (in place allowed).
template <class T> void scale(T* out, const T* x, std::size_t n, const T& c) {
    const T* src[1] = {x};
    const T coef[1] = {c};
    lincomb(out, n, src, coef, 1);
}

/// dst = exp(x). exp(x) = e^{x_0} exp(x - x_0); the nilpotent part by
/// Horner's scheme E = 1 + y/N, E <- 1 + (y ⊗ E)/n for n = N-1..1, or by the
/// fused kernel when x lies in level 1. dst must not overlap x.
template <class T> void exp(T* dst, const T* x, const shape& s) {
    using std::exp;
    const std::size_t n = s.size();
    const T x0 = x[0];
    if (is_level1(x, s)) {
        std::fill(dst, dst + n, T(0));
        dst[0] = T(1);
        fmexp(dst, x + 1, s.dim(), s.depth());
        return;
    }
    if (s.depth() == 0) { // T^0: the scalar part alone
        dst[0] = T(exp(x0));
        return;
    }
    aligned_vector<T> y(x, x + n), p(n);
    y[0] = T(0);
    const std::size_t N = s.depth(), d = s.dim();
    // E_m is multiplied by y (no level 0) m-1 more times, so only its levels
    // <= N-m+1 matter: each Horner step is a product truncated there.
    std::fill(dst, dst + n, T(0));
    scale(dst, y.data(), s.level_offset(2), T(1) / T(static_cast<double>(N)));
    dst[0] = T(1);
    for (std::size_t m = N - 1; m >= 1; --m) {
        const shape sm(d, N - m + 1);
        product(p.data(), y.data(), dst, sm);
        scale(dst, p.data(), sm.size(), T(1) / T(static_cast<double>(m)));
        dst[0] += T(1);
    }
    if (!scalar_traits<T>::is_exact_zero(x0)) scale(dst, dst, n, T(exp(x0)));
}

namespace detail_ops {
template <class T> T check_level0(const T* x, const char* what) {
    const T x0 = x[0];
    if (scalar_traits<T>::is_exact_zero(x0))
        throw invalid_input(std::string(what) + " needs a nonzero level-0 coefficient (got 0)");
    return x0;
}
/// (-1)^m / m: the log series' coefficient of y^m, with its sign.
template <class T> T alternating_inverse(std::size_t m) {
    const T inv = T(1) / T(static_cast<double>(m));
    return m % 2 == 0 ? inv : -inv;
}
} // namespace detail_ops

/// Values of scratch kernels::log takes (y and the Horner term).
inline std::size_t log_scratch_size(const shape& s) {
    return 2 * s.size();
}

/// dst = log(x) for x_0 > 0: log(x) = log(x_0) + log(1 + y), y = x/x_0 - 1,
/// by Horner's scheme log(1+y) = y ⊗ (1 - y ⊗ (1/2 - y ⊗ (1/3 - ...))).
/// The inner term q_m is multiplied by y (no level 0) m more times, so each
/// step is a product truncated at depth N-m: the whole log costs about
/// d/(d-1) full products instead of N. The steps carry r_m = (-1)^m q_m,
/// r_m = (-1)^m/m + y ⊗ r_{m+1}, in place: a product's rounding is odd in
/// each factor, so r_m is exactly ±q_m (the same bits as negating q_m at
/// every step), and no pass negates or copies it at every step.
/// `scratch` holds log_scratch_size(s) values (written before read), so
/// that a batch allocates it once.
/// dst must not overlap x or scratch. \throws invalid_input if x_0 is 0.
template <class T> void log(T* dst, const T* x, const shape& s, T* scratch) {
    using std::log;
    const T x0 = detail_ops::check_level0(x, "log");
    const std::size_t n = s.size(), N = s.depth();
    if (N == 0) { // T^0: the scalar part alone
        dst[0] = log(x0);
        return;
    }
    T* const y = scratch;
    T* const r = scratch + n;
    scale(y, x, n, T(1) / x0);
    y[0] = T(0);
    // r = (-1)^N/N; r <- (-1)^m/m + y ⊗ r for m = N-1..1; log(1+y) = y ⊗ q_1
    // = -(y ⊗ r_1). Step m reads r at depth N-m, one level more than the
    // step before wrote (zero).
    std::fill(r, r + n, T(0));
    r[0] = detail_ops::alternating_inverse<T>(N);
    for (std::size_t m = N - 1; m >= 1; --m) {
        product(r, y, r, shape(s.dim(), N - m));
        r[0] += detail_ops::alternating_inverse<T>(m);
    }
    product(dst, y, r, s);
    scale(dst, dst, n, T(-1));
    dst[0] = log(x0);
}

/// The same with its own scratch.
template <class T> void log(T* dst, const T* x, const shape& s) {
    scratch_vector<T> scratch(log_scratch_size(s));
    log(dst, x, s, scratch.data());
}

/// dst = x^{-1}, the series inverse for x_0 != 0: with y = x/x_0 - 1,
/// x^{-1} = (1/x_0) (1 - y + y^2 - ... ± y^N), by Horner r <- 1 - y ⊗ r
/// (step m truncated at depth m: r is multiplied by y N-m more times).
/// dst must not overlap x. \throws invalid_input if x_0 is 0.
template <class T> void inverse(T* dst, const T* x, const shape& s) {
    const T x0 = detail_ops::check_level0(x, "inverse");
    const std::size_t n = s.size(), N = s.depth();
    aligned_vector<T> y(n), r(n);
    scale(y.data(), x, n, T(1) / x0);
    y[0] = T(0);
    r[0] = T(1);
    for (std::size_t m = 0; m < N; ++m) {
        const shape sm(s.dim(), m + 1);
        product(dst, y.data(), r.data(), sm);
        scale(r.data(), dst, sm.size(), T(-1));
        r[0] += T(1);
    }
    scale(dst, r.data(), n, T(1) / x0);
}

/// dst[w] = (-1)^{|w|} x[reverse(w)]: the antipode, which is the inverse of a
/// group-like element (a signature), exactly and cheaply. dst must not
/// overlap x.
template <class T> void antipode(T* dst, const T* x, const shape& s) {
    const std::size_t d = s.dim();
    dst[0] = x[0];
    std::size_t off = 1, n = d;
    for (std::size_t k = 1; k <= s.depth(); ++k) {
        const bool odd = k % 2 == 1;
        for (std::size_t idx = 0; idx < n; ++idx) {
            std::size_t rest = idx, rev = 0;
            for (std::size_t p = 0; p < k; ++p) {
                rev = rev * d + rest % d;
                rest /= d;
            }
            dst[off + rev] = odd ? -x[off + idx] : x[off + idx];
        }
        off += n;
        n *= d;
    }
}

} // namespace kernels
} // namespace tensig

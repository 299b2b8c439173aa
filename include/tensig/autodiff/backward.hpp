#pragma once
/// \file
/// Layer 5, reverse mode: vector-Jacobian products of the algebra's
/// operations. Each takes the gradient of a scalar loss L with respect to an
/// operation's result and returns the gradients with respect to its inputs.
/// The flat-buffer versions (namespace vjp) accumulate (+=) into their
/// outputs; the tensor versions return fresh tensors.

#include <cstddef>
#include <utility>
#include <vector>

#include "tensig/algebra/aligned.hpp"
#include "tensig/algebra/tensor.hpp"
#include "tensig/error.hpp"
#include "tensig/kernels/ops.hpp"
#include "tensig/kernels/primitives.hpp"
#include "tensig/shape/shape.hpp"

namespace tensig {

namespace vjp {

/// c = a ⊗ b: ga += gc ⌟ b (contract the trailing letters with b),
/// gb += a ⊳ gc (contract the leading letters with a); kernels::product_adjoint.
template <class T> void product(T* ga, T* gb, const T* a, const T* b, const T* gc, const shape& s) {
    kernels::product_adjoint(ga, gb, a, b, gc, s.dim(), s.depth());
}

/// y = exp(x) (any x; Horner as in kernels::exp): gx += ∂L/∂x.
template <class T> void exp(T* gx, const T* x, const T* gy, const shape& s) {
    using std::exp;
    const std::size_t n = s.size(), N = s.depth();
    const T e0 = exp(x[0]);
    if (N == 0) { // T^0: y = e^{x_0}
        gx[0] += gy[0] * e0;
        return;
    }
    aligned_vector<T> y(x, x + n);
    y[0] = T(0);
    // E[m] for m = 1..N: E_N = 1 + y/N, E_m = 1 + (y ⊗ E_{m+1})/m, each
    // truncated at depth N-m+1 as in kernels::exp.
    const std::size_t d = s.dim();
    std::vector<aligned_vector<T>> E(N + 1, aligned_vector<T>(n));
    for (std::size_t i = 0; i < s.level_offset(2); ++i)
        E[N][i] = y[i] / T(static_cast<double>(N));
    E[N][0] += T(1);
    for (std::size_t m = N - 1; m >= 1; --m) {
        const shape sm(d, N - m + 1);
        kernels::product(E[m].data(), y.data(), E[m + 1].data(), sm);
        for (std::size_t i = 0; i < sm.size(); ++i)
            E[m][i] = E[m][i] / T(static_cast<double>(m));
        E[m][0] += T(1);
    }
    // result e0 E_1
    aligned_vector<T> gE(n), gnext(n), gy_acc(n);
    T g0 = T(0);
    for (std::size_t i = 0; i < n; ++i) {
        gE[i] = e0 * gy[i];
        g0 += gy[i] * e0 * E[1][i];
    }
    for (std::size_t m = 1; m < N; ++m) {
        const shape sm(d, N - m + 1);
        for (std::size_t i = 0; i < sm.size(); ++i)
            gE[i] = gE[i] / T(static_cast<double>(m)); // ∂/∂(y ⊗ E_{m+1})
        std::fill(gnext.begin(), gnext.end(), T(0));
        product(gy_acc.data(), gnext.data(), y.data(), E[m + 1].data(), gE.data(), sm);
        gE.swap(gnext);
    }
    for (std::size_t i = 1; i < n; ++i)
        gx[i] += gy_acc[i] + gE[i] / T(static_cast<double>(N));
    gx[0] += g0;
}

namespace detail_vjp {
// y = x / x0 - e_0: gradient of the normalisation, given sign * gy (level 0
// ignored; sign 1 or -1, so that a caller need not negate gy first).
template <class T> void normalise(T* gx, const T* x, const T* gy, std::size_t n, const T& sign = T(1)) {
    const T x0 = x[0];
    if (n <= 1) return;
    // gx += (sign / x0) gy over levels >= 1 in one pass of the kernels (a
    // division per coefficient, the compiler's SSE2 loop, had been 4% of
    // logsignature_backward on (1, 8, 2, 12))
    const T* src[2] = {gx + 1, gy + 1};
    const T coef[2] = {T(1), sign / x0};
    kernels::lincomb(gx + 1, n - 1, src, coef, 2);
    // <gy, x> over levels >= 1 by the kernel (a chain of n scalar
    // multiply-adds had cost as much as the loop above)
    T dot = T(0);
    kernels::matvec(&dot, gy + 1, 1, n - 1, x + 1);
    gx[0] -= sign * dot / (x0 * x0);
}
} // namespace detail_vjp

/// Values of scratch vjp::log takes: y, the Horner terms q_m (each with
/// one level more than it holds, zero, as the step after reads it) and
/// three gradients.
inline std::size_t log_scratch_size(const shape& s) {
    const std::size_t n = s.size(), N = s.depth();
    std::size_t terms = 0;
    for (std::size_t m = 1; m <= N; ++m)
        terms += shape(s.dim(), N - m + 1).size();
    return 4 * n + terms;
}

/// l = log(x) (kernels::log's Horner scheme): gx += ∂L/∂x. `scratch` holds
/// log_scratch_size(s) values (written before read), so that a batch
/// allocates it once.
template <class T> void log(T* gx, const T* x, const T* gl, const shape& s, T* scratch) {
    const std::size_t n = s.size(), N = s.depth(), d = s.dim();
    const T x0 = x[0];
    if (scalar_traits<T>::is_exact_zero(x0))
        throw invalid_input("log needs a nonzero level-0 coefficient (got 0)");
    if (N == 0) { // T^0: l = log(x_0)
        gx[0] += gl[0] / x0;
        return;
    }
    T* const y = scratch;
    T* const gy = y + n;
    T* gq = gy + n;
    T* gnext = gq + n;
    // r_m = (-1)^m q_m (kernels::log's terms), m = 1..N, at q[m] (depth
    // N-m+1, its top level zero): r_N = (-1)^N/N, r_m = (-1)^m/m + y ⊗ r_{m+1}
    // (truncated at depth N-m); l = y ⊗ q_1 + log(x0) = log(x0) - y ⊗ r_1
    T* q[64] = {}; // (N < 64: shape's limit)
    q[N] = gnext + n;
    for (std::size_t m = N; m > 1; --m)
        q[m - 1] = q[m] + shape(d, N - m + 1).size();
    kernels::scale(y, x, n, T(1) / x0); // (kernels::log's y)
    y[0] = T(0);
    std::fill(q[N], q[N] + 1 + d, T(0));
    q[N][0] = kernels::detail_ops::alternating_inverse<T>(N);
    for (std::size_t m = N - 1; m >= 1; --m) {
        const shape sm(d, N - m);
        kernels::product(q[m], y, q[m + 1], sm);
        q[m][0] += kernels::detail_ops::alternating_inverse<T>(m);
        std::fill(q[m] + sm.size(), q[m] + sm.size() + sm.level_size(N - m) * d, T(0));
    }
    // The reverse of q_m = 1/m - y ⊗ q_{m+1}: with t_0 = gl and t_{m+1} =
    // y ⊳ t_m, ∂L/∂y = -Σ_{m<N} t_m ⌟ r_{m+1} (the signs of r and of the
    // Horner steps leave every term negative, so no pass negates a term).
    std::fill(gy, gy + n, T(0));
    std::fill(gq, gq + n, T(0));
    product(gy, gq, y, q[1], gl, s);
    for (std::size_t m = 1; m < N; ++m) {
        const shape sm(d, N - m);
        std::fill(gnext, gnext + sm.size(), T(0));
        product(gy, gnext, y, q[m + 1], gq, sm);
        std::swap(gq, gnext);
    }
    detail_vjp::normalise(gx, x, gy, n, T(-1)); // (∂L/∂y is -gy)
    gx[0] += gl[0] / x0;
}

/// The same with its own scratch.
template <class T> void log(T* gx, const T* x, const T* gl, const shape& s) {
    scratch_vector<T> scratch(log_scratch_size(s));
    log(gx, x, gl, s, scratch.data());
}

/// r = inverse(x) (kernels::inverse's Horner scheme): gx += ∂L/∂x.
template <class T> void inverse(T* gx, const T* x, const T* gr, const shape& s) {
    const std::size_t n = s.size(), N = s.depth();
    const T x0 = x[0];
    if (scalar_traits<T>::is_exact_zero(x0))
        throw invalid_input("inverse needs a nonzero level-0 coefficient (got 0)");
    aligned_vector<T> y(n);
    for (std::size_t i = 1; i < n; ++i)
        y[i] = x[i] / x0;
    // r[0] = 1, r[m+1] = 1 - y ⊗ r[m] (truncated at depth m+1 as in
    // kernels::inverse); result r[N] / x0
    const std::size_t d = s.dim();
    std::vector<aligned_vector<T>> r(N + 1, aligned_vector<T>(n));
    r[0][0] = T(1);
    for (std::size_t m = 0; m < N; ++m) {
        const shape sm(d, m + 1);
        kernels::product(r[m + 1].data(), y.data(), r[m].data(), sm);
        for (std::size_t i = 0; i < sm.size(); ++i)
            r[m + 1][i] = -r[m + 1][i];
        r[m + 1][0] += T(1);
    }
    aligned_vector<T> gy(n), g(n), gnext(n);
    T dot = T(0);
    for (std::size_t i = 0; i < n; ++i) {
        g[i] = -gr[i] / x0; // ∂/∂(y ⊗ r[N-1]) = -∂/∂r[N]
        dot += gr[i] * r[N][i];
    }
    for (std::size_t m = N; m-- > 0;) {
        const shape sm(d, m + 1);
        std::fill(gnext.begin(), gnext.end(), T(0));
        product(gy.data(), gnext.data(), y.data(), r[m].data(), g.data(), sm);
        for (std::size_t i = 0; i < n; ++i)
            g[i] = -gnext[i];
    }
    detail_vjp::normalise(gx, x, gy.data(), n);
    gx[0] -= dot / (x0 * x0);
}

/// y = antipode(x): gx += antipode(gy) (the antipode is its own transpose).
template <class T> void antipode(T* gx, const T* gy, const shape& s) {
    aligned_vector<T> t(s.size());
    kernels::antipode(t.data(), gy, s);
    for (std::size_t i = 0; i < s.size(); ++i)
        gx[i] += t[i];
}

} // namespace vjp

// ---- tensor versions -----------------------------------------------------------------

namespace detail {
template <class T> void check_grad_shape(const tensor<T>& g, const tensor<T>& x, const char* op) {
    if (g.shape() != x.shape())
        throw invalid_input(std::string(op) + ": the gradient has shape " + g.shape().str() + ", the input " +
                            x.shape().str());
}
} // namespace detail

/// Gradients of L with respect to a and b, given g = ∂L/∂(a ⊗ b).
template <class T>
std::pair<tensor<T>, tensor<T>> product_backward(const tensor<T>& g, const tensor<T>& a, const tensor<T>& b) {
    detail::check_grad_shape(g, a, "product_backward");
    detail::check_grad_shape(g, b, "product_backward");
    tensor<T> ga(a.shape()), gb(b.shape());
    vjp::product(ga.data(), gb.data(), a.data(), b.data(), g.data(), a.shape());
    return {std::move(ga), std::move(gb)};
}

/// Gradients with respect to A and to z (dim values), given g = ∂L/∂(A ⊗ exp(z)).
template <class T>
std::pair<tensor<T>, std::vector<T>> fmexp_backward(const tensor<T>& g, const tensor<T>& A,
                                                    const std::vector<T>& z) {
    detail::check_grad_shape(g, A, "fmexp_backward");
    if (z.size() != A.dim())
        throw invalid_input("fmexp_backward: z has " + std::to_string(z.size()) +
                            " values, the dimension is " + std::to_string(A.dim()));
    tensor<T> gA = g;
    std::vector<T> gz(z.size(), T(0));
    kernels::fmexp_adjoint(gA.data(), gz.data(), A.data(), z.data(), A.dim(), A.depth());
    return {std::move(gA), std::move(gz)};
}

/// Gradient with respect to x, given g = ∂L/∂exp(x).
template <class T> tensor<T> exp_backward(const tensor<T>& g, const tensor<T>& x) {
    detail::check_grad_shape(g, x, "exp_backward");
    tensor<T> gx(x.shape());
    vjp::exp(gx.data(), x.data(), g.data(), x.shape());
    return gx;
}

/// Gradient with respect to x, given g = ∂L/∂log(x).
template <class T> tensor<T> log_backward(const tensor<T>& g, const tensor<T>& x) {
    detail::check_grad_shape(g, x, "log_backward");
    tensor<T> gx(x.shape());
    vjp::log(gx.data(), x.data(), g.data(), x.shape());
    return gx;
}

/// Gradient with respect to x, given g = ∂L/∂inverse(x).
template <class T> tensor<T> inverse_backward(const tensor<T>& g, const tensor<T>& x) {
    detail::check_grad_shape(g, x, "inverse_backward");
    tensor<T> gx(x.shape());
    vjp::inverse(gx.data(), x.data(), g.data(), x.shape());
    return gx;
}

/// Gradient with respect to x, given g = ∂L/∂antipode(x).
template <class T> tensor<T> antipode_backward(const tensor<T>& g) {
    tensor<T> gx(g.shape());
    vjp::antipode(gx.data(), g.data(), g.shape());
    return gx;
}

} // namespace tensig

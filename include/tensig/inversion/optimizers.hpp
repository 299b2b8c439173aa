#pragma once
/// \file
/// Layer 7: the optimisers of signature inversion. Adam exactly as in the
/// published experiment, and Levenberg–Marquardt on the weighted residuals
/// with the exact Jacobian, which polishes to machine precision.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <vector>

#include "tensig/inversion/loss.hpp"

namespace tensig {

/// Adam (Kingma & Ba) on the published loss. Defaults: the notebook's.
struct adam_options {
    std::size_t iterations = 5000;
    double lr = 2e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    /// When > 0, scale the gradient so its infinity norm is at most `clip`
    /// (PyTorch's clip_grad_norm_ with norm_type = inf, as the original
    /// paper did with 1.0). 0: no clipping (the notebook).
    double clip = 0;
    /// Called with (step, loss before the step's update); return false to stop.
    std::function<bool(std::size_t, double)> on_step;
};

/// What an optimiser did.
struct optimizer_report {
    double loss = std::numeric_limits<double>::quiet_NaN(); ///< loss at the final points
    std::size_t iterations = 0;
    std::vector<double> history; ///< the loss before each step's update (the published convention)
};

/// Run Adam on `x` (points * dim values, updated in place).
template <class T> optimizer_report adam(signature_loss<T>& loss, std::vector<T>& x, const adam_options& o) {
    const std::size_t n = x.size();
    std::vector<T> g(n), m(n, T(0)), v(n, T(0));
    optimizer_report rep;
    rep.history.reserve(o.iterations);
    const T b1 = T(o.beta1), b2 = T(o.beta2), lr = T(o.lr), eps = T(o.eps);
    T b1t = T(1), b2t = T(1);
    for (std::size_t t = 0; t < o.iterations; ++t) {
        const T l = loss.value_and_gradient(x.data(), g.data());
        rep.history.push_back(static_cast<double>(l));
        rep.iterations = t + 1;
        if (o.on_step && !o.on_step(t, static_cast<double>(l))) break;
        if (o.clip > 0) {
            T norm = T(0);
            for (const T& gi : g)
                norm = std::max(norm, std::abs(gi));
            const T coef = T(o.clip) / (norm + T(1e-6));
            if (coef < T(1))
                for (T& gi : g)
                    gi *= coef;
        }
        b1t *= b1;
        b2t *= b2;
        for (std::size_t i = 0; i < n; ++i) {
            m[i] = b1 * m[i] + (T(1) - b1) * g[i];
            v[i] = b2 * v[i] + (T(1) - b2) * g[i] * g[i];
            const T mhat = m[i] / (T(1) - b1t), vhat = v[i] / (T(1) - b2t);
            x[i] -= lr * mhat / (std::sqrt(vhat) + eps);
        }
    }
    rep.loss = static_cast<double>(loss.value(x.data()));
    return rep;
}

/// Levenberg–Marquardt on r(x) = w ⊙ (sig(x) - s) with the exact Jacobian
/// (dual numbers). The first point is held fixed: a signature does not see
/// translations, so those directions are removed rather than damped.
struct lm_options {
    std::size_t iterations = 600;
    /// Give up when the loss has improved by less than `stall_gain` over the
    /// last `stall_window` iterations (a local minimum); 0 disables.
    std::size_t stall_window = 150;
    double stall_gain = 0.5;
    /// Stop when the relative step is below this.
    double step_tolerance = 1e-15;
    /// Stop when the published loss log(mean r^2) falls below this (machine
    /// precision is about -70 for O(1) signatures).
    double loss_floor = -66;
    double initial_damping = 1e-3;
    /// Marquardt scaling uses max(H_aa, damping_floor * max_b H_bb): a floor
    /// keeps nearly flat directions (points sliding along a straight stretch,
    /// where the signature barely changes) from taking wild steps.
    double damping_floor = 1e-12;
};

namespace detail {
/// Solve the symmetric positive definite system A y = b (n x n, row-major)
/// by Cholesky, overwriting A with its factor; returns false if A is not
/// positive definite.
template <class T> bool cholesky_solve(std::vector<T>& A, std::vector<T>& b, std::size_t n) {
    for (std::size_t j = 0; j < n; ++j) {
        T diag = A[j * n + j];
        for (std::size_t k = 0; k < j; ++k)
            diag -= A[j * n + k] * A[j * n + k];
        if (!(diag > T(0))) return false;
        const T ljj = std::sqrt(diag);
        A[j * n + j] = ljj;
        for (std::size_t i = j + 1; i < n; ++i) {
            T s = A[i * n + j];
            for (std::size_t k = 0; k < j; ++k)
                s -= A[i * n + k] * A[j * n + k];
            A[i * n + j] = s / ljj;
        }
    }
    for (std::size_t i = 0; i < n; ++i) { // L y = b
        T s = b[i];
        for (std::size_t k = 0; k < i; ++k)
            s -= A[i * n + k] * b[k];
        b[i] = s / A[i * n + i];
    }
    for (std::size_t i = n; i-- > 0;) { // L^T x = y
        T s = b[i];
        for (std::size_t k = i + 1; k < n; ++k)
            s -= A[k * n + i] * b[k];
        b[i] = s / A[i * n + i];
    }
    return true;
}
} // namespace detail

/// Run Levenberg–Marquardt on `x` (points * dim values, updated in place).
template <class T>
optimizer_report levenberg_marquardt(signature_loss<T>& loss, std::vector<T>& x, const lm_options& o) {
    const std::size_t m = loss.size(), d = loss.dim(), n_all = x.size(), p = n_all - d; // point 0 fixed
    std::vector<T> r(m), r_new(m), H(p * p), A(p * p), g(p), step(p), x_new(n_all);
    optimizer_report rep;
    auto cost_of = [&](const std::vector<T>& res) {
        T c = T(0);
        for (const T& v : res)
            c += v * v;
        return c / T(2);
    };
    loss.normal_equations(x.data(), r.data(), H.data(), g.data()); // H = JᵀJ, g = Jᵀr over points 1..K-1
    T cost = cost_of(r);
    T lambda = T(-1), nu = T(2);
    for (std::size_t it = 0; it < o.iterations; ++it) {
        rep.history.push_back(static_cast<double>(loss.loss_from_residuals(r.data())));
        rep.iterations = it + 1;
        if (rep.history.back() < o.loss_floor) break;
        if (o.stall_window > 0 && it >= o.stall_window &&
            rep.history[it - o.stall_window] - rep.history.back() < o.stall_gain)
            break;
        if (lambda < T(0)) {
            T hmax = T(0);
            for (std::size_t a = 0; a < p; ++a)
                hmax = std::max(hmax, H[a * p + a]);
            lambda = T(o.initial_damping) * hmax;
        }
        // (H + λ diag(H)) step = -g, with a floor on the scaling
        T hmax = T(0);
        for (std::size_t a = 0; a < p; ++a)
            hmax = std::max(hmax, H[a * p + a]);
        A = H; // the damped system, factored in place
        const T floor = T(o.damping_floor) * hmax;
        for (std::size_t a = 0; a < p; ++a)
            A[a * p + a] += lambda * std::max(H[a * p + a], floor);
        for (std::size_t a = 0; a < p; ++a)
            step[a] = -g[a];
        if (!detail::cholesky_solve(A, step, p)) {
            lambda *= nu;
            nu *= T(2);
            continue;
        }
        T step_norm = T(0), x_norm = T(0);
        for (std::size_t a = 0; a < p; ++a) {
            step_norm += step[a] * step[a];
            x_norm += x[d + a] * x[d + a];
        }
        if (std::sqrt(step_norm) <= T(o.step_tolerance) * (std::sqrt(x_norm) + T(o.step_tolerance))) break;
        x_new = x;
        for (std::size_t a = 0; a < p; ++a)
            x_new[d + a] += step[a];
        loss.residuals(x_new.data(), r_new.data());
        const T new_cost = cost_of(r_new);
        // gain ratio: actual / predicted decrease, predicted = ½ stepᵀ(λ D step - g)
        T predicted = T(0);
        for (std::size_t a = 0; a < p; ++a)
            predicted += step[a] * (lambda * std::max(H[a * p + a], floor) * step[a] - g[a]);
        predicted /= T(2);
        const T rho = predicted > T(0) ? (cost - new_cost) / predicted : T(-1);
        if (rho > T(0) && std::isfinite(static_cast<double>(new_cost))) {
            x.swap(x_new);
            loss.normal_equations(x.data(), r.data(), H.data(), g.data());
            cost = cost_of(r);
            const T t = T(2) * rho - T(1);
            lambda *= std::max(T(1) / T(3), T(1) - t * t * t);
            nu = T(2);
        } else {
            lambda *= nu;
            nu *= T(2);
            if (!std::isfinite(static_cast<double>(lambda)) || lambda > T(1e30)) break;
        }
    }
    rep.loss = static_cast<double>(loss.loss_from_residuals(r.data()));
    return rep;
}

} // namespace tensig

#pragma once
/// \file
/// Layer 7: the objective of signature inversion (seed-inversion.md).
///
/// For a target signature s (levels 1..N) and a candidate path x of K points,
/// the published loss is
///     loss(x) = log( mean_i ( w_i (s_i - sig(x)_i) )^2 ),
/// with w_i the level of entry i (for d = 2 exactly the notebook's
/// floor(log2(i + 1)); for other d tensig uses "weight = level"). Its
/// gradient comes from the backward layer; its residuals
/// r = w ⊙ (sig(x) - s) and their Jacobian from dual numbers.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "tensig/error.hpp"
#include "tensig/kernels/primitives.hpp"
#include "tensig/paths/backward.hpp"
#include "tensig/paths/detail/backward_core.hpp"
#include "tensig/paths/signature.hpp"

namespace tensig {

/// w_i = level of entry i of a flattened signature (levels 1..N).
template <class T> std::vector<T> level_weights(std::size_t dim, std::size_t depth) {
    const shape s(dim, depth);
    std::vector<T> w;
    w.reserve(s.sig_length());
    for (std::size_t k = 1; k <= depth; ++k)
        w.insert(w.end(), s.level_size(k), T(static_cast<double>(k)));
    return w;
}

/// The level-weighted log-MSE between a target signature and the signature
/// of a path of `points` points in R^dim. Holds its workspaces, so repeated
/// evaluations do not allocate. Not thread-safe (one per thread).
template <class T> class signature_loss {
  public:
    /// \throws invalid_input if target's length is not sig_length(dim, depth),
    ///   it has non-finite values, or points < 2.
    signature_loss(const xt::xtensor<T, 1>& target, std::size_t dim, std::size_t depth, std::size_t points)
        : target_(target), weights_(level_weights<T>(dim, depth)), dim_(dim), depth_(depth), points_(points),
          ws_(shape(dim, depth)), sig_(target.size()), grad_sig_(target.size()) {
        if (target.size() != sig_length(dim, depth))
            throw invalid_input("inversion target has length " + std::to_string(target.size()) +
                                "; a signature of dimension " + std::to_string(dim) + " and depth " +
                                std::to_string(depth) + " has " + std::to_string(sig_length(dim, depth)));
        detail::check_finite(target.data(), {target.size()}, "inversion target");
        if (points < 2)
            throw invalid_input("an inversion needs at least 2 points (got " + std::to_string(points) + ")");
        const shape s(dim, depth);
        for (std::size_t k = 1, end = 0; k <= depth; ++k) { // the weights are constant on each level
            end += s.level_size(k);
            level_ends_.push_back(end);
            level_w2_.push_back(T(static_cast<double>(k)) * T(static_cast<double>(k)));
        }
        // The gradient by prefix lanes with a single block of steps: the
        // residuals and ∂L/∂S are taken in the lanes' layout
        // (lanes_value_and_gradient).
        lanes_ = detail::by_prefix_lanes_backward(points - 1, {}, ws_) && points - 1 <= detail::prefix_lanes_block;
        if (lanes_) {
            const auto& pw = *ws_.fwd.prefix;
            target_top_.assign(pw.top.size(), T(0));
            target_lanes_.assign(pw.lanes.size(), T(0));
            detail::prefix_lanes_layout(pw, s, target_.data(), target_top_.data(), target_lanes_.data(), false);
            // (the top's levels 1..p from its index 1 end where the
            // signature's do; the lanes' levels p+1..N are as long, from
            // lane level 1)
            for (std::size_t k = pw.p; k < depth; ++k)
                lanes_ends_.push_back(level_ends_[k] - level_ends_[pw.p - 1]);
        }
    }

    std::size_t dim() const { return dim_; }
    std::size_t depth() const { return depth_; }
    std::size_t points() const { return points_; }
    std::size_t size() const { return target_.size(); }
    const xt::xtensor<T, 1>& target() const { return target_; }
    const std::vector<T>& weights() const { return weights_; }

    /// loss(x) for a path (points, dim) given as a contiguous buffer.
    T value(const T* x) {
        detail::signature_one(x, points_, dim_, {}, ws_.fwd, sig_.data());
        return std::log(mse(sig_.data()));
    }

    /// loss(x), and its gradient with respect to the points in `grad`
    /// (points * dim values).
    T value_and_gradient(const T* x, T* grad) {
        if (lanes_) return lanes_value_and_gradient(x, grad);
        // The backward by prefix lanes (where the shape takes it) keeps no
        // forward terms: the signature comes from the plain forward pass.
        const bool prefix = detail::by_prefix_lanes_backward(points_ - 1, {}, ws_);
        const bool store = !prefix && detail::stores_prefixes({}, points_ - 1, dim_, depth_, sizeof(T));
        if (prefix)
            detail::signature_into(x, points_, dim_, {}, ws_.fwd);
        else
            detail::signature_forward_for_backward(x, points_, dim_, {}, store, ws_);
        const T m = mse(ws_.fwd.acc.data() + 1); // leaves sig - s in grad_sig_
        // d log(mse) / d sig_i = 2 w_i^2 (sig_i - s_i) / (n mse)
        const T scale = T(2) / (T(static_cast<double>(size())) * m);
        scale_ranges(grad_sig_.data(), grad_sig_.data(), level_ends_.data(), depth_, [&](std::size_t k) {
            const T w = level_weight(k);
            return scale * w * w;
        });
        if (prefix)
            detail::prefix_lanes_backward(grad_sig_.data(), x, points_, dim_, {}, ws_, grad);
        else
            detail::signature_backward_from(grad_sig_.data(), x, points_, dim_, {}, store, ws_, grad);
        return std::log(m);
    }

    /// Residuals r = w ⊙ (sig(x) - s) (size() values) and, if J is not null,
    /// their Jacobian as columns: J[j * size() + i] = ∂r_i/∂x_j for the
    /// points*dim coordinates x_j (by forward tangents in the SIMD kernels).
    void residuals(const T* x, T* r, T* J = nullptr) {
        if (J) {
            detail::signature_jacobian_columns(x, points_, dim_, depth_, {}, J, sig_.data());
            const std::size_t n = points_ * dim_, m = size();
            for (std::size_t j = 0; j < n; ++j)
                scale_ranges(J + j * m, J + j * m, level_ends_.data(), depth_, level_weight);
        } else {
            detail::signature_one(x, points_, dim_, {}, ws_.fwd, sig_.data());
        }
        difference(r, sig_.data(), target_.data(), size());
        scale_ranges(r, r, level_ends_.data(), depth_, level_weight);
    }

    /// Residuals r = w ⊙ (sig(x) - s) and Gauss-Newton's normal equations
    /// over the free coordinates, points 1..K-1 (point 0 stays fixed: the
    /// signature does not see translations): H = JᵀJ ((K-1)d × (K-1)d,
    /// row-major) and g = Jᵀr. They are formed over the increments: each
    /// tangent D_{i,c} = ∂sig/∂Δ_{i,c} is written once, one Gram matrix of
    /// the D columns and sig - s with the squared level weights is taken
    /// (kernels::gram: Dᵀ diag(w²) D, w constant on each level), and as x_p
    /// enters Δ_{p-1} with + and Δ_p with -, J = diag(w) D M, so
    /// H = Mᵀ(Dᵀ diag(w²) D)M and g = Mᵀ(Dᵀ diag(w²) (sig - s)) by
    /// differences of its entries.
    void normal_equations(const T* x, T* r, T* H, T* g) {
        const std::size_t m = size(), d = dim_, n = points_ - 1, q = n * d, Q = q + 1;
        // column j: its tangent's level 0 (unused), then levels 1..N, where
        // increment_tangents builds it (no copy; the d columns of a step are
        // adjacent, sig_length + 1 apart, as it builds them)
        const std::size_t ld = m + 1;
        if (D_.size() < Q * ld) D_.resize(Q * ld);
        if (G_.size() < Q * Q) G_.resize(Q * Q);
        detail::increment_tangents(
            x, points_, d, depth_, {}, sig_.data(), tangents_,
            [&](std::size_t i) { return D_.data() + i * d * ld; },
            [](std::size_t, std::size_t, const T*) {});
        T* rc = D_.data() + q * ld + 1;
        difference(rc, sig_.data(), target_.data(), size());
        scale_ranges(r, rc, level_ends_.data(), depth_, level_weight);
        kernels::gram(G_.data(), D_.data() + 1, Q, m, ld, level_ends_.data(), level_w2_.data(), level_ends_.size());
        // entry (a, b) of DᵀD with a = (i, c); increment n (after the last point) is zero
        auto gd = [&](std::size_t i, std::size_t c, std::size_t j, std::size_t e) {
            return i < n && j < n ? G_[(i * d + c) * Q + j * d + e] : T(0);
        };
        for (std::size_t p = 1; p <= n; ++p)
            for (std::size_t c = 0; c < d; ++c) {
                const std::size_t a = (p - 1) * d + c;
                g[a] = G_[a * Q + q] - (p < n ? G_[(p * d + c) * Q + q] : T(0));
                for (std::size_t p2 = 1; p2 <= n; ++p2)
                    for (std::size_t e = 0; e < d; ++e)
                        H[a * q + (p2 - 1) * d + e] =
                            (gd(p - 1, c, p2 - 1, e) - gd(p - 1, c, p2, e)) - (gd(p, c, p2 - 1, e) - gd(p, c, p2, e));
            }
    }

    /// The published loss from residuals: log(mean(r^2)).
    T loss_from_residuals(const T* r) const {
        T acc = T(0);
        for (std::size_t i = 0; i < size(); ++i)
            acc += r[i] * r[i];
        return std::log(acc / T(static_cast<double>(size())));
    }

  private:
    // mean of w_i^2 (sig_i - s_i)^2 for the signature at `sig`, with sig - s
    // left in grad_sig_. The weighted sum is kernels::gram of that one
    // column with the level weights (SIMD): a running sum in this loop was
    // a chain of dependent additions, 8190 of them for d = 2, N = 12.
    T mse(const T* sig) {
        const std::size_t n = size();
        difference(grad_sig_.data(), sig, target_.data(), n);
        T sum = T(0);
        kernels::gram(&sum, grad_sig_.data(), 1, n, 0, level_ends_.data(), level_w2_.data(), level_ends_.size());
        return sum / T(static_cast<double>(n));
    }

    // value_and_gradient by prefix lanes, one block of steps: the forward
    // leaves the signature in the lanes' layout (levels 0..p in the top,
    // the rest interleaved), the residuals and ∂L/∂S are taken there
    // against the target in the same layout, and the backward's adjoint
    // reads them where they are. Neither the forward's copy out of the
    // lanes nor the backward's copy of ∂L/∂S into them runs (together a
    // tenth of a step of the published run).
    T lanes_value_and_gradient(const T* x, T* grad) {
        auto& pw = *ws_.fwd.prefix;
        const std::size_t n = points_ - 1, W = pw.W, top = pw.top.size(), lanes = pw.lanes.size();
        detail::prefix_lanes_checkpoints(x, points_, dim_, {}, ws_); // (one block: the top and the lanes untouched)
        detail::prefix_lanes_from_start(x, dim_, n, n, {}, depth_, pw);
        auto& bw = *ws_.prefix;
        // r = sig - s, the top's into its gradient, the lanes' in place (level 0 of each is not an entry)
        T* const rt = bw.gtop.data() + 1;
        T* const rl = pw.lanes.data() + W;
        difference(rt, pw.top.data() + 1, target_top_.data() + 1, top - 1);
        difference(rl, rl, target_lanes_.data() + W, lanes - W);
        T st = T(0), sl = T(0);
        const T* const lanes_w2 = level_w2_.data() + pw.p;
        kernels::gram(&st, rt, 1, top - 1, 0, level_ends_.data(), level_w2_.data(), pw.p);
        kernels::gram(&sl, rl, 1, lanes - W, 0, lanes_ends_.data(), lanes_w2, lanes_ends_.size());
        const T m = (st + sl) / T(static_cast<double>(size()));
        // ∂L/∂sig_i = 2 w_i^2 (sig_i - s_i) / (n mse), level by level
        const T scale = T(2) / (T(static_cast<double>(size())) * m);
        scale_ranges(rt, rt, level_ends_.data(), pw.p, [&](std::size_t k) { return scale * level_w2_[k]; });
        scale_ranges(rl, rl, lanes_ends_.data(), lanes_ends_.size(),
                     [&](std::size_t k) { return scale * lanes_w2[k]; });
        bw.gtop[0] = T(0);
        std::fill_n(pw.lanes.data(), W, T(0));
        detail::prefix_lanes_adjoint(x, points_, dim_, {}, ws_, grad);
        return std::log(m);
    }
    // The element-wise passes over a signature's length run in the
    // dispatched SIMD kernels (kernels::lincomb), not in loops compiled
    // with the caller's flags (SSE2 by default): in the published Adam run
    // those loops had taken a tenth of the time.
    // out = a - b (the same bits as the subtraction: 1*a exactly, then one
    // rounding; out may be a).
    static void difference(T* out, const T* a, const T* b, std::size_t n) {
        const T* src[2] = {a, b};
        const T coef[2] = {T(1), T(-1)};
        kernels::lincomb(out, n, src, coef, 2);
    }
    // out_i = coef(k) in_i for the entries of range k, [ends[k-1], ends[k])
    // (the levels, whose weight is constant; out may be in); the product
    // rounds as coef(k) * in_i.
    template <class F>
    static void scale_ranges(T* out, const T* in, const std::size_t* ends, std::size_t ranges, F coef_of) {
        for (std::size_t k = 0, begin = 0; k < ranges; begin = ends[k], ++k) {
            const T* src[1] = {in + begin};
            const T coef[1] = {coef_of(k)};
            kernels::lincomb(out + begin, ends[k] - begin, src, coef, 1);
        }
    }
    // The weight of range k of level_ends_ (level k + 1).
    static T level_weight(std::size_t k) { return T(static_cast<double>(k + 1)); }

    xt::xtensor<T, 1> target_;
    std::vector<T> weights_;
    std::vector<std::size_t> level_ends_; // where each level's entries end in sig_
    std::vector<T> level_w2_;             // each level's squared weight
    bool lanes_ = false;                  // lanes_value_and_gradient
    std::vector<T> target_top_, target_lanes_;   // the target in the prefix lanes' layout
    std::vector<std::size_t> lanes_ends_;        // the lanes' levels' ends, from lane level 1
    std::size_t dim_, depth_, points_;
    detail::backward_workspace<T> ws_;
    std::vector<T> sig_, grad_sig_;
    scratch_vector<T> D_, G_; // normal_equations: the increments' weighted tangents and r; their Gram matrix
    detail::tangent_workspace<T> tangents_;
};

} // namespace tensig

#pragma once
/// \file
/// Layer 7: recover a path from its signature.
///
/// `invert(target, dim, depth, options)` runs one of three methods:
/// - `adam`: Adam on the published loss from the chosen start (the
///   published experiment);
/// - `lm`: Levenberg–Marquardt with the exact Jacobian from the chosen start;
/// - `automatic` (the default): routes tried in turn until one reaches
///   machine precision, keeping the best: the insertion start polished by LM
///   through increasing depths (continuation); the same with two more points
///   than asked for, reduced and padded back; the insertion start polished by
///   LM at full depth; four, six and eight more points; an Adam warm-up from
///   zeros then LM; seeded random starts with continuation.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "tensig/inversion/init.hpp"
#include "tensig/inversion/loss.hpp"
#include "tensig/inversion/optimizers.hpp"
#include "tensig/inversion/tree_reduce.hpp"

namespace tensig {

enum class invert_method { automatic, adam, lm };
enum class invert_init { insertion, random, zeros };

struct invert_options {
    std::size_t points = 8; ///< K, points of the recovered path
    invert_method method = invert_method::automatic;
    invert_init init = invert_init::insertion; ///< start of `adam` and `lm` (auto chooses its own)
    std::uint64_t seed = 0;                    ///< for random starts
    adam_options adam;                         ///< Adam settings (the notebook's by default)
    lm_options lm;                             ///< LM settings
    /// `automatic` stops as soon as a route reaches this loss (log mean r^2):
    /// residuals of about 1e-13 relative, well inside what recovers paths to 1e-8.
    double exact_loss = -55;
    std::size_t warmup_steps = 1500; ///< Adam steps before LM in the second route
    double warmup_lr = 1e-2;         ///< their learning rate
    std::size_t random_starts = 6;   ///< LM from this many seeded random starts, last route
    /// Depth at which the continuation routes start: LM on the signature
    /// truncated at this depth, then at depth + 2, ..., then the full depth
    /// (low depths have fewer local minima and cost little). 0 disables.
    std::size_t continuation_depth = 4;
    /// A continuation whose fit at its last depth below the full depth (N - 2
    /// when N - continuation_depth is even, else N - 1) ends above this loss,
    /// or above exact_loss if that is higher, stops there, without the
    /// full-depth LM (most of its cost): on 400 training rows of PenDigits
    /// (pendigits.tra, 40 per digit, N = 12) no continuation that went on to
    /// an exact fit had a loss above -21 at depth N - 2, and the rule saved a
    /// quarter of the continuations' time. +infinity disables.
    double continuation_abandon_loss = -15;
    /// The over-parametrised routes solve with K + e points for e =
    /// extra_points, 2, 3 and 4 times it, then reduce and pad back to K. 0
    /// disables them.
    std::size_t extra_points = 2;
    /// When the target's scale estimate (see signature_scale) lies outside
    /// [1, 16], solve for the path scaled to scale 5 and scale the result
    /// back: signatures of raw data (say PenDigits' 0..100) span too many
    /// orders of magnitude for the optimisers otherwise.
    bool rescale = true;
};

/// A scale estimate of the path behind a signature: max over levels k of
/// (k! ||S_k||)^(1/k), which is |Δ| for a straight line and tends to the
/// length for smooth paths as k grows (Hambly & Lyons).
template <class T> double signature_scale(const T* sig, std::size_t dim, std::size_t depth) {
    const shape s(dim, depth);
    double rho = 0, fact = 1;
    for (std::size_t k = 1; k <= depth; ++k) {
        fact *= static_cast<double>(k);
        double n2 = 0;
        const T* level = sig + s.level_offset(k) - 1;
        for (std::size_t i = 0; i < s.level_size(k); ++i)
            n2 += static_cast<double>(level[i]) * static_cast<double>(level[i]);
        rho = std::max(rho, std::pow(fact * std::sqrt(n2), 1.0 / static_cast<double>(k)));
    }
    return rho;
}

struct invert_result {
    xt::xtensor<double, 2> path; ///< the recovered points (K, d), as optimised (not translated or reduced)
    double loss = std::numeric_limits<double>::quiet_NaN(); ///< log(mean((w (s - sig))^2)) at `path`
    std::size_t iterations = 0;                             ///< optimiser steps over all routes tried
    double seconds = 0;                                     ///< wall time
    std::string route;           ///< which route produced `path`, e.g. "insertion+lm"
    bool exact = false;          ///< the (rescaled) loss reached invert_options::exact_loss
    std::vector<double> history; ///< loss before each step of the winning route
};

namespace detail {
template <class T>
std::vector<T> start_points(invert_init init, const xt::xtensor<T, 1>& target, std::size_t dim,
                            std::size_t depth, std::size_t K, std::uint64_t seed) {
    switch (init) {
    case invert_init::random:
        return init_random<T>(K, dim, seed);
    case invert_init::zeros:
        return init_zeros<T>(K, dim);
    default:
        return init_insertion(target.data(), target.size(), dim, depth, K, depth >= 2 ? depth : 0);
    }
}

/// K points on the polyline `path` (at most K rows): its vertices, with the
/// longest segments split at their midpoints until there are K (the
/// signature does not change).
template <class T> std::vector<T> pad_points(const xt::xtensor<T, 2>& path, std::size_t K) {
    const std::size_t d = path.shape()[1];
    std::vector<std::vector<T>> pts;
    for (std::size_t j = 0; j < path.shape()[0]; ++j)
        pts.emplace_back(&path(j, 0), &path(j, 0) + d);
    while (pts.size() < K) {
        std::size_t longest = 0;
        T best = T(-1);
        for (std::size_t j = 0; j + 1 < pts.size(); ++j) {
            T len = T(0);
            for (std::size_t c = 0; c < d; ++c)
                len += (pts[j + 1][c] - pts[j][c]) * (pts[j + 1][c] - pts[j][c]);
            if (len > best) {
                best = len;
                longest = j;
            }
        }
        std::vector<T> mid(d);
        if (pts.size() == 1) {
            mid = pts[0];
        } else {
            for (std::size_t c = 0; c < d; ++c)
                mid[c] = (pts[longest][c] + pts[longest + 1][c]) / T(2);
        }
        pts.insert(pts.begin() + static_cast<std::ptrdiff_t>(std::min(longest + 1, pts.size())), mid);
    }
    std::vector<T> x;
    for (const auto& p : pts)
        x.insert(x.end(), p.begin(), p.end());
    return x;
}

inline const char* init_name(invert_init i) {
    return i == invert_init::random ? "random" : i == invert_init::zeros ? "zeros" : "insertion";
}
} // namespace detail

/// Recover a path of `options.points` points whose depth-`depth` signature is
/// `target` (levels 1..depth of T^depth(R^dim)).
/// \throws invalid_input for a target of the wrong length or with non-finite
///   values, fewer than 2 points, or an insertion start with depth < 2.
template <class T>
invert_result invert(const xt::xtensor<T, 1>& target, std::size_t dim, std::size_t depth,
                     const invert_options& o = {}) {
    const auto t0 = std::chrono::steady_clock::now();
    signature_loss<T> original_loss(target, dim, depth, o.points); // validates the target
    // rescale the problem when the target's scale is far from 1 (see invert_options::rescale)
    const double rho = signature_scale(target.data(), dim, depth);
    const double lambda = (o.rescale && rho > 0 && (rho < 1 || rho > 16)) ? 5.0 / rho : 1.0;
    xt::xtensor<T, 1> scaled = target;
    if (lambda != 1.0) {
        const shape sh(dim, depth);
        double f = 1;
        for (std::size_t k = 1; k <= depth; ++k) {
            f *= lambda;
            for (std::size_t i = 0; i < sh.level_size(k); ++i)
                scaled[sh.level_offset(k) - 1 + i] *= T(f);
        }
    }
    signature_loss<T> loss(scaled, dim, depth, o.points);
    invert_result best;
    std::vector<T> best_x;
    auto consider = [&](const std::vector<T>& x, const optimizer_report& rep, std::string route) {
        best.iterations += rep.iterations;
        if (best_x.empty() || rep.loss < best.loss || !(best.loss == best.loss)) {
            best.loss = rep.loss;
            best.route = std::move(route);
            best.history = rep.history;
            best_x = x;
        }
        return best.loss <= o.exact_loss;
    };
    // LM through increasing depths, from the start in x (see continuation_depth)
    auto continuation_with = [&](std::vector<T>& x, signature_loss<T>& full, std::size_t points) {
        optimizer_report total;
        double coarse_loss = -std::numeric_limits<double>::infinity();
        for (std::size_t k = o.continuation_depth; k < depth; k += 2) {
            const xt::xtensor<T, 1> truncated = xt::view(scaled, xt::range(0, sig_length(dim, k)));
            signature_loss<T> coarse(truncated, dim, k, points);
            const auto rep = levenberg_marquardt(coarse, x, o.lm);
            total.iterations += rep.iterations;
            coarse_loss = rep.loss;
        }
        if (coarse_loss > std::max(o.continuation_abandon_loss, o.exact_loss)) { // hopeless at the last lower depth
            total.loss = static_cast<double>(full.value(x.data()));
            return total;
        }
        const auto fine = levenberg_marquardt(full, x, o.lm);
        total.iterations += fine.iterations;
        total.loss = fine.loss;
        total.history = fine.history;
        return total;
    };
    auto continuation = [&](std::vector<T>& x) { return continuation_with(x, loss, o.points); };
    const bool use_continuation = o.continuation_depth >= 2 && o.continuation_depth < depth;
    if (o.method == invert_method::adam || o.method == invert_method::lm) {
        auto x = detail::start_points(o.init, target, dim, depth, o.points, o.seed);
        const bool adam = o.method == invert_method::adam;
        if (o.init == invert_init::insertion)
            x = init_insertion(scaled.data(), scaled.size(), dim, depth, o.points);
        const auto rep = adam ? tensig::adam(loss, x, o.adam) : levenberg_marquardt(loss, x, o.lm);
        consider(x, rep, std::string(detail::init_name(o.init)) + (adam ? "+adam" : "+lm"));
    } else {
        bool done = false;
        if (depth >= 2 && use_continuation) { // route 1: insertion start, LM through increasing depths
            auto x = init_insertion(scaled.data(), scaled.size(), dim, depth, o.points);
            done = consider(x, continuation(x),
                            "insertion+lm(depth " + std::to_string(o.continuation_depth) + "..)");
        }
        // route 2: insertion start, LM at full depth (tried after the first,
        // cheaper over-parametrised attempt below)
        bool direct_tried = false;
        auto direct = [&] {
            if (done || depth < 2 || direct_tried) return;
            direct_tried = true;
            auto x = init_insertion(scaled.data(), scaled.size(), dim, depth, o.points);
            done = consider(x, levenberg_marquardt(loss, x, o.lm), "insertion+lm");
        };
        // route 3: more points than asked for, K + e for e = extra, 2 extra, 3
        // extra, 4 extra (an over-parametrised problem has fewer spurious
        // minima); an exact solution reduces to at most K points (the reduced
        // path is unique), which are padded back to K by splitting the longest
        // segments and polished
        for (std::size_t step = 1; step <= 4; ++step) {
            if (step == 2) direct();
            const std::size_t extra = step * o.extra_points;
            if (done || !(depth >= 2 && use_continuation && extra > 0)) break;
            const std::size_t K2 = o.points + extra;
            signature_loss<T> wide(scaled, dim, depth, K2);
            auto x2 = init_insertion(scaled.data(), scaled.size(), dim, depth, K2);
            auto rep = continuation_with(x2, wide, K2);
            if (rep.loss <= o.exact_loss) {
                xt::xtensor<T, 2> p2 = xt::xtensor<T, 2>::from_shape({K2, dim});
                std::copy(x2.begin(), x2.end(), p2.begin());
                const xt::xtensor<T, 2> reduced = tree_reduce(p2, T(1e-9));
                if (reduced.shape()[0] <= o.points) {
                    auto x = detail::pad_points(reduced, o.points);
                    const auto polish = levenberg_marquardt(loss, x, o.lm);
                    rep.iterations += polish.iterations;
                    rep.loss = polish.loss;
                    rep.history = polish.history;
                    done = consider(x, rep, "insertion+lm(" + std::to_string(K2) + " points, reduced)");
                }
            } else {
                best.iterations += rep.iterations;
            }
        }
        direct();    // when the over-parametrised routes were not run
        if (!done) { // route 4: Adam warm-up from zeros, then LM
            auto x = init_zeros<T>(o.points, dim);
            adam_options warm = o.adam;
            warm.iterations = o.warmup_steps;
            warm.lr = o.warmup_lr;
            warm.clip = 1.0;
            auto rep = tensig::adam(loss, x, warm);
            const auto lm = levenberg_marquardt(loss, x, o.lm);
            rep.iterations += lm.iterations;
            rep.loss = lm.loss;
            rep.history.insert(rep.history.end(), lm.history.begin(), lm.history.end());
            done = consider(x, rep, "zeros+adam+lm");
        }
        for (std::size_t k = 0; !done && k < o.random_starts; ++k) { // route 5: seeded random starts
            auto x = init_random<T>(o.points, dim, o.seed + 1000003 * (k + 1));
            done =
                use_continuation
                    ? consider(x, continuation(x), "random" + std::to_string(k) + "+lm(depths)")
                    : consider(x, levenberg_marquardt(loss, x, o.lm), "random" + std::to_string(k) + "+lm");
        }
    }
    best.exact = best.loss <= o.exact_loss;
    best.path = xt::xtensor<double, 2>::from_shape({o.points, dim});
    for (std::size_t i = 0; i < best_x.size(); ++i)
        best.path.data()[i] = static_cast<double>(best_x[i]) / lambda;
    if (lambda != 1.0) { // report the loss of the problem as given
        for (std::size_t i = 0; i < best_x.size(); ++i)
            best_x[i] = T(best.path.data()[i]);
        best.loss = static_cast<double>(original_loss.value(best_x.data()));
    }
    best.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return best;
}

} // namespace tensig

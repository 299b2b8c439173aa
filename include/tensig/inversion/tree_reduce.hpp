#pragma once
/// \file
/// Layer 7: tree reduction of piecewise-linear paths, the two kinds of
/// seed-inversion.md ("Tree reduction, two kinds").
///
/// A signature does not see tree-like pieces: an excursion that retraces
/// itself (a, b, a) has the signature of the point a. So a path recovered from
/// its signature is only determined up to such pieces, and paths are compared
/// after removing them. `tree_reduce` does that exactly (the result has the
/// signature of the input, to rounding); `signature_simplify` is the
/// notebook's lossy simplifier, kept for fidelity with the published figure.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "tensig/error.hpp"
#include "tensig/paths/signature.hpp"

namespace tensig {

namespace detail {

/// Throw invalid_input unless `path` is a non-empty (L, d) array with d >= 1
/// and finite values; `what` names the caller in the message.
template <class T> void check_polyline(const xt::xtensor<T, 2>& path, const std::string& what) {
    const std::size_t L = path.shape()[0], d = path.shape()[1];
    if (L == 0) throw invalid_input(what + ": the path is empty (0 points)");
    if (d == 0) throw invalid_input(what + ": the path has 0 coordinates per point");
    for (std::size_t i = 0; i < L; ++i)
        for (std::size_t j = 0; j < d; ++j)
            if (!std::isfinite(path(i, j)))
                throw invalid_input(what + ": the path has a non-finite value at (" + std::to_string(i) +
                                    ", " + std::to_string(j) + ")");
}

/// Throw invalid_input unless a tolerance is finite and not negative.
template <class T> void check_tolerance(T tol, const std::string& what) {
    if (!std::isfinite(tol) || tol < T(0))
        throw invalid_input(what + " must be finite and >= 0 (got " +
                            std::to_string(static_cast<double>(tol)) + ")");
}

/// Rows `rows` of `path`, in that order, as a new (rows.size(), d) array.
template <class T>
xt::xtensor<T, 2> gather_rows(const xt::xtensor<T, 2>& path, const std::vector<std::size_t>& rows) {
    const std::size_t d = path.shape()[1];
    xt::xtensor<T, 2> out({rows.size(), d});
    for (std::size_t r = 0; r < rows.size(); ++r)
        for (std::size_t j = 0; j < d; ++j)
            out(r, j) = path(rows[r], j);
    return out;
}

/// Geometry of the stack reduction, in units of the path's extent so that
/// squares neither overflow nor underflow whatever the coordinates' size.
template <class T> class reduction_geometry {
  public:
    reduction_geometry(const xt::xtensor<T, 2>& path, T rel_tol) : path_(path), d_(path.shape()[1]) {
        T magnitude = 0;
        for (std::size_t j = 0; j < d_; ++j) {
            T lo = path(0, j), hi = path(0, j);
            for (std::size_t i = 1; i < path.shape()[0]; ++i) {
                lo = std::min(lo, path(i, j));
                hi = std::max(hi, path(i, j));
            }
            extent_ = std::max(extent_, hi - lo);
            magnitude = std::max({magnitude, std::abs(lo), std::abs(hi)});
        }
        // Coordinates carry a rounding error of eps * |x|, so points that are
        // collinear in exact arithmetic are off the line by that much: the
        // floor treats anything within a few such roundings as exact.
        const T floor = T(8) * std::numeric_limits<T>::epsilon() * std::max(extent_, magnitude);
        tol_ = extent_ > T(0) ? std::max(rel_tol * extent_, floor) / extent_ : T(0);
    }

    /// Largest distance between the path's points along one axis.
    T extent() const { return extent_; }

    /// Points i and j closer than the tolerance: a zero-length segment.
    bool near(std::size_t i, std::size_t j) const {
        T s = 0;
        for (std::size_t c = 0; c < d_; ++c)
            s += sq(diff(j, i, c));
        return std::sqrt(s) <= tol_;
    }

    /// The triangle (a, b, c) is flat: its smallest altitude (twice its area
    /// over its longest side) is within the tolerance. For a turn-back the
    /// longest side is not a-c, and the distance of b from the line a-c would
    /// be large for a near-spike a, b, a' (a' close to a); the smallest altitude
    /// is small for same-direction and turn-back alike.
    bool flat(std::size_t a, std::size_t b, std::size_t c) const {
        T uu = 0, vv = 0, ww = 0, wedge = 0;
        for (std::size_t i = 0; i < d_; ++i) {
            const T ui = diff(b, a, i), vi = diff(c, b, i);
            uu += sq(ui);
            vv += sq(vi);
            ww += sq(diff(c, a, i));
            // |u ∧ v|^2 = sum over i < j of (u_i v_j - u_j v_i)^2: every term is
            // computed to full relative precision, unlike |u|^2 |v|^2 - (u.v)^2.
            for (std::size_t j = i + 1; j < d_; ++j)
                wedge += sq(ui * diff(c, b, j) - diff(b, a, j) * vi);
        }
        const T longest = std::sqrt(std::max({uu, vv, ww}));
        return longest <= tol_ || std::sqrt(wedge) <= tol_ * longest;
    }

    bool identical(std::size_t i, std::size_t j) const {
        for (std::size_t c = 0; c < d_; ++c)
            if (path_(i, c) != path_(j, c)) return false;
        return true;
    }

  private:
    static T sq(T x) { return x * x; }
    T diff(std::size_t i, std::size_t j, std::size_t c) const {
        return (path_(i, c) - path_(j, c)) / extent_;
    }

    const xt::xtensor<T, 2>& path_;
    std::size_t d_;
    T extent_ = 0;
    T tol_ = 0;
};

/// Merge exactly equal consecutive points (zero-length segments contribute
/// nothing to a signature, so this is lossless).
template <class T> std::vector<std::vector<T>> distinct_points(const xt::xtensor<T, 2>& path) {
    const std::size_t L = path.shape()[0], d = path.shape()[1];
    std::vector<std::vector<T>> pts;
    for (std::size_t i = 0; i < L; ++i) {
        std::vector<T> p(d);
        for (std::size_t j = 0; j < d; ++j)
            p[j] = path(i, j);
        if (pts.empty() || pts.back() != p) pts.push_back(std::move(p));
    }
    return pts;
}

template <class T>
xt::xtensor<T, 2> to_array(const std::vector<std::vector<T>>& pts, std::size_t first, std::size_t count) {
    const std::size_t d = pts.front().size();
    xt::xtensor<T, 2> out({count, d});
    for (std::size_t r = 0; r < count; ++r)
        for (std::size_t j = 0; j < d; ++j)
            out(r, j) = pts[first + r][j];
    return out;
}

} // namespace detail

/// Exact tree reduction of a piecewise-linear path (L, d) -> (K, d), K <= L.
///
/// Walks the vertices with a stack. After each push, while something
/// changes: if the top two points are within the tolerance of each other (a
/// zero-length segment) one of them goes; if the top three points a, b, c are
/// collinear within the tolerance (b continues the line a-c, or turns back
/// along it), b goes. An out-and-back spike vanishes, a partial turn-back
/// 0 -> 2 -> 1 shortens to 0 -> 1, nested spikes collapse from the inside.
/// With rel_tol = 0 the result has the signature of the input (to rounding),
/// and is the shortest path with that signature, up to translation.
///
/// Tolerance. Let `extent` be the largest side of the path's bounding box and
/// tol = max(rel_tol * extent, 8 eps * max(extent, max |x_ij|)), eps the
/// machine epsilon of T. The second term is the "exact" floor: input
/// coordinates are rounded to eps * |x|, so exactly collinear points in
/// exact arithmetic are only collinear to that accuracy. Two points are
/// equal when their Euclidean distance is <= tol; three points are collinear
/// when the smallest altitude of their triangle, |u ∧ v| / longest side
/// (u = b - a, v = c - b; the general-d formula), is <= tol. The smallest
/// altitude rather than b's distance from the line a-c, so that a
/// near-turn-back a, b, a' with a' close to a counts as flat. The tolerance
/// is checked per removal, not as a global bound on the distance between the
/// input and the result.
///
/// Guarantees: the first and the last point are kept exactly (they fix level
/// 1 of the signature); every removal deletes a vertex, so the length never
/// grows; the result is a fixed point (reducing it again changes nothing);
/// a path that reduces to one point is returned as that point, shape (1, d).
/// If the first and last point are within the tolerance but not identical,
/// both are kept (K = 2), so level 1 stays exact.
///
/// \throws invalid_input for an empty path, d = 0, a non-finite value, or a
///   negative or non-finite rel_tol.
template <class T>
[[nodiscard]] xt::xtensor<T, 2> tree_reduce(const xt::xtensor<T, 2>& path, T rel_tol = T(0)) {
    static_assert(std::is_floating_point_v<T>, "tree_reduce: T must be a floating-point type");
    detail::check_polyline(path, "tree_reduce");
    detail::check_tolerance(rel_tol, "tree_reduce: rel_tol");
    const std::size_t L = path.shape()[0];
    const detail::reduction_geometry<T> g(path, rel_tol);
    if (g.extent() == T(0)) return detail::gather_rows(path, {0});

    std::vector<std::size_t> s{0};
    s.reserve(L);
    for (std::size_t i = 1; i < L; ++i) {
        s.push_back(i);
        for (;;) {
            const std::size_t n = s.size();
            if (n >= 2 && g.near(s[n - 2], s[n - 1])) {
                if (s[n - 1] != L - 1) {
                    s.pop_back();
                    continue;
                }
                // The top is the last point: it stays, its neighbour goes,
                // unless that neighbour is the first point.
                if (n > 2) {
                    s.erase(s.end() - 2);
                    continue;
                }
                if (g.identical(s[0], s[1])) s.pop_back();
                break;
            }
            if (n >= 3 && g.flat(s[n - 3], s[n - 2], s[n - 1])) {
                s.erase(s.end() - 2);
                continue;
            }
            break;
        }
    }
    return detail::gather_rows(path, s);
}

/// The signature-distance simplifier of the published notebook
/// (`get_tree_reduced`), without its two defects. Lossy: besides tree-like
/// pieces it straightens any stretch whose signature is close to its chord's,
/// so near-straight wiggles and small loops go too; use `tree_reduce` to
/// compare paths exactly.
///
/// With the path's points p_0..p_{K-1}: for window sizes w = 3, 4, ..., K and
/// starts i = 0, 1, ..., K - w, the window p_i..p_{i+w-1} is replaced by its
/// chord (p_i, p_{i+w-1}) as soon as
///     || S_depth(window) - S_depth(chord) ||_2 < tol
/// (levels 1..depth, Euclidean norm over all entries), and the scan restarts
/// from w = 3 with the caller's `tol` and `depth` (the notebook restarted with
/// its defaults). After a replacement, equal consecutive points are merged
/// (the notebook turned a spike a, b, a into a, a); exactly equal consecutive
/// input points are merged first. The first and last points are kept; a path
/// whose whole signature is below tol (a small loop) becomes one point.
/// Cost: O(K^2) signatures of up to K points per removal.
///
/// \throws invalid_input for an empty path, d = 0, a non-finite value,
///   depth = 0, or a negative or non-finite tol.
template <class T>
[[nodiscard]] xt::xtensor<T, 2> signature_simplify(const xt::xtensor<T, 2>& path, T tol,
                                                   std::size_t depth = 4) {
    static_assert(std::is_floating_point_v<T>, "signature_simplify: T must be a floating-point type");
    detail::check_polyline(path, "signature_simplify");
    detail::check_tolerance(tol, "signature_simplify: tol");
    if (depth == 0) throw invalid_input("signature_simplify: depth must be at least 1 (got 0)");

    std::vector<std::vector<T>> pts = detail::distinct_points(path);
    const auto window_is_chordlike = [&](std::size_t i, std::size_t w) {
        const xt::xtensor<T, 1> sw = signature(detail::to_array(pts, i, w), depth);
        xt::xtensor<T, 2> chord = detail::to_array(pts, i, 2);
        for (std::size_t j = 0; j < chord.shape()[1]; ++j)
            chord(1, j) = pts[i + w - 1][j];
        const xt::xtensor<T, 1> sc = signature(chord, depth);
        T sum = 0;
        for (std::size_t k = 0; k < sw.size(); ++k)
            sum += (sw(k) - sc(k)) * (sw(k) - sc(k));
        return std::sqrt(sum) < tol;
    };
    for (bool removed = true; removed;) {
        removed = false;
        for (std::size_t w = 3; w <= pts.size() && !removed; ++w) {
            for (std::size_t i = 0; i + w <= pts.size(); ++i) {
                if (!window_is_chordlike(i, w)) continue;
                pts.erase(pts.begin() + static_cast<std::ptrdiff_t>(i + 1),
                          pts.begin() + static_cast<std::ptrdiff_t>(i + w - 1));
                if (pts[i] == pts[i + 1]) pts.erase(pts.begin() + static_cast<std::ptrdiff_t>(i + 1));
                removed = true;
                break;
            }
        }
    }
    return detail::to_array(pts, 0, pts.size());
}

} // namespace tensig

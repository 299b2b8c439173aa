#pragma once
/// \file
/// Layer 7: how far a recovered path is from a reference (seed-inversion.md,
/// "What the numbers do and do not say"). The loss alone does not say whether
/// a path was recovered, so inversions report a path error: after translating
/// the starts together and reducing both paths exactly, the Hausdorff distance
/// between the two polylines and, when the point counts agree, the largest
/// distance between corresponding points.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "tensig/error.hpp"
#include "tensig/inversion/tree_reduce.hpp"

namespace tensig {

namespace detail {

/// Throw invalid_input unless two polylines live in the same R^d.
template <class T>
void check_same_dim(const xt::xtensor<T, 2>& a, const xt::xtensor<T, 2>& b, const std::string& what) {
    if (a.shape()[1] != b.shape()[1])
        throw invalid_input(what + ": the paths have " + std::to_string(a.shape()[1]) + " and " +
                            std::to_string(b.shape()[1]) + " coordinates per point");
}

/// The segments of a polyline as (start, increment) in double (float inputs
/// are measured in double). A one-point polyline is one zero-length segment.
class polyline_segments {
  public:
    template <class T> explicit polyline_segments(const xt::xtensor<T, 2>& p) : d_(p.shape()[1]) {
        const std::size_t L = p.shape()[0];
        count_ = L == 1 ? 1 : L - 1;
        start_.resize(count_ * d_);
        step_.resize(count_ * d_);
        for (std::size_t s = 0; s < count_; ++s)
            for (std::size_t j = 0; j < d_; ++j) {
                const double a = static_cast<double>(p(s, j));
                start_[s * d_ + j] = a;
                step_[s * d_ + j] = L == 1 ? 0.0 : static_cast<double>(p(s + 1, j)) - a;
            }
    }
    std::size_t size() const { return count_; }
    std::size_t dim() const { return d_; }
    const double* start(std::size_t s) const { return start_.data() + s * d_; }
    const double* step(std::size_t s) const { return step_.data() + s * d_; }

    /// Distance from x to segment s: clamp the projection to the segment and
    /// measure the difference vector directly (no cancellation, so points on
    /// the segment give rounding-level distances). Zero-length segments are
    /// points.
    double distance(const double* x, std::size_t s) const {
        const double *q = start(s), *e = step(s);
        double ee = 0, re = 0;
        for (std::size_t j = 0; j < d_; ++j) {
            ee += e[j] * e[j];
            re += (x[j] - q[j]) * e[j];
        }
        const double t = ee > 0 ? std::clamp(re / ee, 0.0, 1.0) : 0.0;
        double sum = 0;
        for (std::size_t j = 0; j < d_; ++j) {
            const double r = x[j] - q[j] - t * e[j];
            sum += r * r;
        }
        return std::sqrt(sum);
    }

    /// min over segments of distance(x, s), or a value below `floor` as soon
    /// as one segment is closer than `floor` (the caller only needs to know).
    double distance(const double* x, double floor = -1.0) const {
        double best = std::numeric_limits<double>::infinity();
        for (std::size_t s = 0; s < count_ && best > floor; ++s)
            best = std::min(best, distance(x, s));
        return best;
    }

  private:
    std::size_t d_ = 0, count_ = 0;
    std::vector<double> start_, step_;
};

/// g(t)^2 = c0 + c1 t + c2 t^2 on [lo, hi]: one piece of the squared distance
/// from a(t) = P + t D to a segment of B.
struct distance_piece {
    double lo, hi, c0, c1, c2;
};

/// The squared distance from P + t D (t in [0, 1]) to segment s of B is
/// piecewise quadratic in t: the nearest point of the segment is its start,
/// an interior point, or its end, according to where the projection falls.
/// Built from the components perpendicular to the segment (for the interior
/// piece), which avoids the cancellation of |r|^2 - (r.e)^2 / |e|^2.
inline void squared_distance_pieces(const double* P, const double* D, const polyline_segments& B,
                                    std::size_t s, std::vector<distance_piece>& out) {
    const std::size_t d = B.dim();
    const double *q = B.start(s), *e = B.step(s);
    double ee = 0, re = 0, de = 0;
    for (std::size_t j = 0; j < d; ++j) {
        ee += e[j] * e[j];
        re += (P[j] - q[j]) * e[j];
        de += D[j] * e[j];
    }
    // piece of |r0 + t D'|^2 where r0 = P - q - shift * e and D' = D - slope * e
    const auto piece = [&](double lo, double hi, double shift, double slope) {
        distance_piece p{lo, hi, 0, 0, 0};
        for (std::size_t j = 0; j < d; ++j) {
            const double r = P[j] - q[j] - shift * e[j], v = D[j] - slope * e[j];
            p.c0 += r * r;
            p.c1 += 2 * r * v;
            p.c2 += v * v;
        }
        out.push_back(p);
    };
    if (!(ee > 0)) {
        piece(0, 1, 0, 0);
        return;
    }
    // projection parameter sigma(t) = alpha + beta t along the segment
    const double alpha = re / ee, beta = de / ee;
    std::vector<double> cuts{0.0, 1.0};
    if (beta != 0)
        for (double level : {0.0, 1.0}) {
            const double t = (level - alpha) / beta;
            if (t > 0 && t < 1) cuts.push_back(t);
        }
    std::sort(cuts.begin(), cuts.end());
    for (std::size_t k = 0; k + 1 < cuts.size(); ++k) {
        const double lo = cuts[k], hi = cuts[k + 1], sigma = alpha + beta * (lo + hi) / 2;
        if (sigma <= 0)
            piece(lo, hi, 0, 0);
        else if (sigma >= 1)
            piece(lo, hi, 1, 0);
        else
            piece(lo, hi, alpha, beta);
    }
}

/// Real roots of c0 + c1 t + c2 t^2 in [lo, hi], by the cancellation-free
/// formula; when rounding makes a near-double root complex, the parabola's
/// vertex stands in for it (extra candidates never make the result wrong).
inline void quadratic_roots_in(double c0, double c1, double c2, double lo, double hi,
                               std::vector<double>& out) {
    const auto keep = [&](double t) {
        if (std::isfinite(t) && t >= lo && t <= hi) out.push_back(t);
    };
    if (c2 == 0 && c1 == 0) return;
    const double disc = c1 * c1 - 4 * c2 * c0;
    if (disc < 0) {
        keep(-c1 / (2 * c2));
        return;
    }
    const double q = -0.5 * (c1 + std::copysign(std::sqrt(disc), c1));
    if (q != 0) keep(c0 / q);
    if (c2 != 0) keep(q / c2);
}

/// Smallest value of a piecewise quadratic g^2 over its pieces, lowered by a
/// bound on its rounding error, so that it is a safe lower bound.
inline double smallest_distance(const std::vector<distance_piece>& pieces) {
    double low = std::numeric_limits<double>::infinity();
    for (const auto& p : pieces) {
        const auto value = [&](double t) { return p.c0 + p.c1 * t + p.c2 * t * t; };
        double v = std::min(value(p.lo), value(p.hi));
        if (p.c2 > 0) v = std::min(v, value(std::clamp(-p.c1 / (2 * p.c2), p.lo, p.hi)));
        const double magnitude = std::abs(p.c0) + std::abs(p.c1) + std::abs(p.c2);
        low = std::min(low, v - 16 * std::numeric_limits<double>::epsilon() * magnitude);
    }
    return std::sqrt(std::max(low, 0.0));
}

/// sup over t in [0, 1] of f(t) = dist(P + t D, B), raising `best` to it if
/// larger.
///
/// f = min_s g_s with g_s(t) the distance to segment s, each convex in t.
/// Between two consecutive points where some pair g_r, g_s cross, the
/// minimising segment does not change, so f is convex there and peaks at an
/// end: the sup is attained at t = 0, t = 1, or a crossing. Crossings are the
/// roots of g_r^2 - g_s^2, a quadratic on each common piece; f is evaluated
/// directly at every candidate, so errors in the roots only move the point
/// where f is measured, never the distance measured there. Pruning, all by
/// convexity: if some g_s is <= best at both ends it is <= best on the whole
/// segment, and so is f; a segment whose lower bound exceeds
/// U = min_s max(g_s(0), g_s(1)) >= f is never the nearest.
inline void directed_hausdorff_on_segment(const double* P, const double* D, const polyline_segments& B,
                                          double& best) {
    const std::size_t d = B.dim(), m = B.size();
    std::vector<double> x(d);
    const auto point = [&](double t) {
        for (std::size_t j = 0; j < d; ++j)
            x[j] = P[j] + t * D[j];
        return x.data();
    };
    const auto raise = [&](double t) {
        const double f = B.distance(point(t), best);
        if (f > best) best = f;
    };
    raise(0);
    double dd = 0;
    for (std::size_t j = 0; j < d; ++j)
        dd += D[j] * D[j];
    if (!(dd > 0)) return;
    raise(1);

    double upper = std::numeric_limits<double>::infinity();
    for (std::size_t s = 0; s < m; ++s) {
        const double ends = std::max(B.distance(point(0), s), B.distance(point(1), s));
        if (ends <= best) return;
        upper = std::min(upper, ends);
    }
    std::vector<std::size_t> near;
    std::vector<std::vector<distance_piece>> pieces;
    std::vector<double> cand;
    for (std::size_t s = 0; s < m; ++s) {
        std::vector<distance_piece> ps;
        squared_distance_pieces(P, D, B, s, ps);
        if (smallest_distance(ps) > upper) continue;
        near.push_back(s);
        for (const auto& p : ps)
            cand.push_back(p.lo);
        pieces.push_back(std::move(ps));
    }
    for (double t : cand)
        raise(t);
    for (std::size_t r = 0; r < near.size(); ++r) {
        for (std::size_t s = r + 1; s < near.size(); ++s) {
            cand.clear();
            for (const auto& pr : pieces[r])
                for (const auto& ps : pieces[s]) {
                    const double lo = std::max(pr.lo, ps.lo), hi = std::min(pr.hi, ps.hi);
                    if (lo <= hi)
                        quadratic_roots_in(pr.c0 - ps.c0, pr.c1 - ps.c1, pr.c2 - ps.c2, lo, hi, cand);
                }
            for (double t : cand)
                if (B.distance(point(t), near[r]) > best) raise(t);
        }
    }
}

} // namespace detail

/// A copy of `path` (L, d) translated so that its first point is
/// `start_point` (d,).
/// \throws invalid_input for an empty path, a non-finite value, or a start
///   point of the wrong length.
template <class T>
[[nodiscard]] xt::xtensor<T, 2> translate_start(const xt::xtensor<T, 2>& path,
                                                const xt::xtensor<T, 1>& start_point) {
    detail::check_polyline(path, "translate_start");
    const std::size_t L = path.shape()[0], d = path.shape()[1];
    if (start_point.size() != d)
        throw invalid_input("translate_start: the start point has " + std::to_string(start_point.size()) +
                            " coordinates; the path has " + std::to_string(d));
    for (std::size_t j = 0; j < d; ++j)
        if (!std::isfinite(start_point(j)))
            throw invalid_input("translate_start: the start point is not finite");
    xt::xtensor<T, 2> out({L, d});
    for (std::size_t j = 0; j < d; ++j) {
        const T shift = start_point(j) - path(0, j);
        for (std::size_t i = 0; i < L; ++i)
            out(i, j) = path(i, j) + shift;
        out(0, j) = start_point(j);
    }
    return out;
}

/// Directed Hausdorff distance sup_{p in A} inf_{q in B} |p - q| between
/// polylines A (L, d) and B (M, d) taken as sets (the union of their
/// segments; a one-point polyline is its point).
///
/// Exact up to rounding: on each segment of A the distance to B is the lower
/// envelope of convex functions, whose sup lies at a vertex of A or where two
/// of them cross; those crossings are roots of quadratics, and the distance
/// is evaluated directly (clamped projection) at each of them. Computed in
/// double. The error is a few eps times the coordinates' size (about 1e-15 for
/// paths of unit size): coinciding polylines with different vertices give
/// ~1e-16, and vertex-to-vertex cases are exact distances. Cost
/// O(L M^2) in the worst case, less when most segments of B are never the
/// nearest; meant for paths of up to a few hundred points.
/// \throws invalid_input for an empty path, a non-finite value, or
///   different d.
template <class T>
[[nodiscard]] T directed_hausdorff(const xt::xtensor<T, 2>& a, const xt::xtensor<T, 2>& b) {
    static_assert(std::is_floating_point_v<T>, "directed_hausdorff: T must be a floating-point type");
    detail::check_polyline(a, "hausdorff");
    detail::check_polyline(b, "hausdorff");
    detail::check_same_dim(a, b, "hausdorff");
    const detail::polyline_segments A(a), B(b);
    double best = 0;
    for (std::size_t s = 0; s < A.size(); ++s)
        detail::directed_hausdorff_on_segment(A.start(s), A.step(s), B, best);
    return static_cast<T>(best);
}

/// Hausdorff distance max(h(A, B), h(B, A)) between two polylines as sets;
/// see directed_hausdorff for the method and its accuracy. Symmetric.
/// \throws invalid_input as directed_hausdorff.
template <class T> [[nodiscard]] T hausdorff(const xt::xtensor<T, 2>& a, const xt::xtensor<T, 2>& b) {
    return std::max(directed_hausdorff(a, b), directed_hausdorff(b, a));
}

/// max_i |a_i - b_i| (Euclidean) over corresponding points of two paths with
/// the same number of points.
/// \throws invalid_input for an empty path, a non-finite value, different d
///   or different point counts.
template <class T> [[nodiscard]] T max_point_error(const xt::xtensor<T, 2>& a, const xt::xtensor<T, 2>& b) {
    detail::check_polyline(a, "max_point_error");
    detail::check_polyline(b, "max_point_error");
    detail::check_same_dim(a, b, "max_point_error");
    if (a.shape()[0] != b.shape()[0])
        throw invalid_input("max_point_error: the paths have " + std::to_string(a.shape()[0]) + " and " +
                            std::to_string(b.shape()[0]) + " points");
    T worst = 0;
    for (std::size_t i = 0; i < a.shape()[0]; ++i) {
        T sum = 0;
        for (std::size_t j = 0; j < a.shape()[1]; ++j)
            sum += (a(i, j) - b(i, j)) * (a(i, j) - b(i, j));
        worst = std::max(worst, std::sqrt(sum));
    }
    return worst;
}

/// The path error of an inversion.
struct path_error {
    /// Hausdorff distance between the reduced paths.
    double hausdorff;
    /// max_point_error of the reduced paths; NaN when their counts differ.
    double max_point_error;
    /// Whether the reduced paths have the same number of points.
    bool same_count;
};

/// Compare a recovered path with a reference: translate the recovered path so
/// that it starts at the reference's start (a signature does not see
/// translation), reduce both with tree_reduce(·, rel_tol) (nor tree-like
/// pieces), then measure the Hausdorff distance and, when the reduced paths
/// have the same number of points, the max point error.
/// \throws invalid_input for an empty path, a non-finite value, different d,
///   or a negative or non-finite rel_tol.
template <class T>
[[nodiscard]] path_error compare_paths(const xt::xtensor<T, 2>& recovered, const xt::xtensor<T, 2>& reference,
                                       T rel_tol = T(0)) {
    detail::check_polyline(recovered, "compare_paths");
    detail::check_polyline(reference, "compare_paths");
    detail::check_same_dim(recovered, reference, "compare_paths");
    const std::size_t d = reference.shape()[1];
    auto start = xt::xtensor<T, 1>::from_shape({d});
    for (std::size_t j = 0; j < d; ++j)
        start(j) = reference(0, j);
    const auto a = tree_reduce(translate_start(recovered, start), rel_tol);
    const auto b = tree_reduce(reference, rel_tol);
    path_error e{};
    e.hausdorff = static_cast<double>(hausdorff(a, b));
    e.same_count = a.shape()[0] == b.shape()[0];
    e.max_point_error =
        e.same_count ? static_cast<double>(max_point_error(a, b)) : std::numeric_limits<double>::quiet_NaN();
    return e;
}

} // namespace tensig

#pragma once
/// \file
/// Layer 6: path transforms applied before a signature (time augmentation,
/// the lead-lag transform, a basepoint), each with its backward pass: the
/// adjoint of the (linear) transform, which takes the gradient with respect
/// to the transformed path to the gradient with respect to the original one.
///
/// Inputs are xtensor expressions of shape (L, d) (one path) or (B, L, d) (a
/// batch), as for `signature`; integer inputs are promoted to double. These
/// are copies with a fixed pattern, so they are header-only and run in the
/// calling thread.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include "tensig/error.hpp"
#include "tensig/paths/signature.hpp"

namespace tensig {

namespace detail {

/// Checks an input of a path transform: rank 2 or 3, finite values, and at
/// least `min_rows` rows and `min_cols` columns; returns (B, rows, cols).
template <class T>
std::array<std::size_t, 3> check_transform_input(const contiguous<T>& p, const char* fn, const char* what,
                                                 const char* expect, std::size_t min_rows,
                                                 std::size_t min_cols) {
    const auto& sh = p.shape;
    if (sh.size() != 2 && sh.size() != 3)
        throw invalid_input(std::string(fn) + ": " + what + " must have shape " + expect +
                            "; got an array of rank " + std::to_string(sh.size()) + " and shape " +
                            shape_str(sh));
    const std::size_t B = sh.size() == 3 ? sh[0] : 1, rows = sh[sh.size() - 2], cols = sh.back();
    if (rows < min_rows)
        throw invalid_input(std::string(fn) + ": " + what + " needs at least " + std::to_string(min_rows) +
                            (min_rows == 1 ? " point" : " points") + "; got shape " + shape_str(sh));
    if (cols < min_cols)
        throw invalid_input(std::string(fn) + ": " + what + " needs at least " + std::to_string(min_cols) +
                            (min_cols == 1 ? " coordinate" : " coordinates") + " per point; got shape " +
                            shape_str(sh));
    check_finite(p.data, sh, (std::string(fn) + ": " + what).c_str());
    return {B, rows, cols};
}

/// The shape (rows, cols) of one item, with B in front for a batch.
inline std::vector<std::size_t> item_shape(std::size_t rank, std::size_t B, std::size_t rows,
                                           std::size_t cols) {
    return rank == 3 ? std::vector<std::size_t>{B, rows, cols} : std::vector<std::size_t>{rows, cols};
}

/// Result container of a transform of a rank-R input (xarray for dynamic rank).
template <class T, class E>
using transform_result_t = std::conditional_t<static_rank<E>() == 3, result_t<T, E, 3>, result_t<T, E, 2>>;

template <class E> constexpr void static_check_path_rank() {
    constexpr std::size_t R = static_rank<E>();
    static_assert(R == SIZE_MAX || R == 2 || R == 3, "a path has shape (L, d) or a batch (B, L, d)");
}

/// Time channel value of point i of L: (1 - f) start + f end with f = i/(L-1),
/// so both ends are exact; start for a one-point path.
inline double time_at(std::size_t i, std::size_t L, double start, double end) {
    if (L < 2) return start;
    const double f = static_cast<double>(i) / static_cast<double>(L - 1);
    return (1 - f) * start + f * end;
}

} // namespace detail

/// Appends a time channel as the LAST coordinate: (L, d) -> (L, d+1) and
/// (B, L, d) -> (B, L, d+1), with t_i = start + (end - start) i/(L-1)
/// (t_0 = start when L = 1). Every path of a batch gets the same times.
/// \throws invalid_input for a wrong rank, an empty path, 0 coordinates, or a
///   non-finite value (its index is named) in the path, `start` or `end`.
template <class E>
[[nodiscard]] auto time_augment(const xt::xexpression<E>& path, double start = 0.0, double end = 1.0) {
    using T = detail::real_t<E>;
    detail::static_check_path_rank<E>();
    using Out = detail::transform_result_t<T, E>;
    const auto p = detail::make_contiguous<T>(path);
    const auto [B, L, d] =
        detail::check_transform_input(p, "time_augment", "path", "(L, d) or (B, L, d)", 1, 1);
    if (!std::isfinite(start) || !std::isfinite(end))
        throw invalid_input("time_augment: the time range must be finite; got start " +
                            std::to_string(start) + " and end " + std::to_string(end));
    auto out = detail::make_output<Out>(detail::item_shape(p.shape.size(), B, L, d + 1), sizeof(T));
    T* o = out.data();
    for (std::size_t b = 0; b < B; ++b)
        for (std::size_t i = 0; i < L; ++i) {
            const T* x = p.data + (b * L + i) * d;
            std::copy(x, x + d, o);
            o[d] = T(detail::time_at(i, L, start, end));
            o += d + 1;
        }
    return out;
}

/// Backward of `time_augment`: the gradient (L, d+1) or (B, L, d+1) with
/// respect to the time-augmented path, to (L, d) or (B, L, d) with respect to
/// the path (the time channel does not depend on the path: it is dropped).
/// \throws invalid_input for a wrong rank, no points, fewer than 2 channels, or
///   a non-finite value.
template <class E> [[nodiscard]] auto time_augment_backward(const xt::xexpression<E>& grad) {
    using T = detail::real_t<E>;
    detail::static_check_path_rank<E>();
    using Out = detail::transform_result_t<T, E>;
    const auto g = detail::make_contiguous<T>(grad);
    const auto [B, L, c] = detail::check_transform_input(g, "time_augment_backward", "the gradient",
                                                         "(L, d+1) or (B, L, d+1)", 1, 2);
    const std::size_t d = c - 1;
    auto out = detail::make_output<Out>(detail::item_shape(g.shape.size(), B, L, d), sizeof(T));
    T* o = out.data();
    for (std::size_t r = 0; r < B * L; ++r, o += d)
        std::copy(g.data + r * c, g.data + r * c + d, o);
    return out;
}

/// The lead-lag transform: (L, d) -> (2L-1, 2d) (and (B, L, d) ->
/// (B, 2L-1, 2d)). Point 2i is (x_i, x_i), point 2i+1 is (x_{i+1}, x_i): the
/// first d channels are the lead, the last d the lag; the lead moves first.
/// \throws invalid_input for a wrong rank, an empty path, 0 coordinates, or a
///   non-finite value.
template <class E> [[nodiscard]] auto lead_lag(const xt::xexpression<E>& path) {
    using T = detail::real_t<E>;
    detail::static_check_path_rank<E>();
    using Out = detail::transform_result_t<T, E>;
    const auto p = detail::make_contiguous<T>(path);
    const auto [B, L, d] = detail::check_transform_input(p, "lead_lag", "path", "(L, d) or (B, L, d)", 1, 1);
    const std::size_t M = detail::checked_mul(2, L, "lead-lag path") - 1; // L >= 1
    auto out = detail::make_output<Out>(
        detail::item_shape(p.shape.size(), B, M, detail::checked_mul(2, d, "lead-lag path")), sizeof(T));
    T* o = out.data();
    for (std::size_t b = 0; b < B; ++b) {
        const T* x = p.data + b * L * d;
        for (std::size_t i = 0; i < L; ++i) {
            std::copy(x + i * d, x + (i + 1) * d, o); // point 2i: (x_i, x_i)
            std::copy(x + i * d, x + (i + 1) * d, o + d);
            o += 2 * d;
            if (i + 1 == L) break;
            std::copy(x + (i + 1) * d, x + (i + 2) * d, o); // point 2i+1: (x_{i+1}, x_i)
            std::copy(x + i * d, x + (i + 1) * d, o + d);
            o += 2 * d;
        }
    }
    return out;
}

/// Backward of `lead_lag`: the gradient (2L-1, 2d) (or (B, 2L-1, 2d)) with
/// respect to the lead-lag path, to (L, d) (or (B, L, d)): x_i's gradient is
/// the sum of the gradients of every channel that copies it.
/// \throws invalid_input for a wrong rank, an even number of rows, an odd
///   number of channels, or a non-finite value.
template <class E> [[nodiscard]] auto lead_lag_backward(const xt::xexpression<E>& grad) {
    using T = detail::real_t<E>;
    detail::static_check_path_rank<E>();
    using Out = detail::transform_result_t<T, E>;
    const auto g = detail::make_contiguous<T>(grad);
    const auto [B, M, c] = detail::check_transform_input(g, "lead_lag_backward", "the gradient",
                                                         "(2L-1, 2d) or (B, 2L-1, 2d)", 1, 2);
    if (M % 2 == 0 || c % 2 != 0)
        throw invalid_input("lead_lag_backward: the gradient of a lead-lag path has shape (2L-1, 2d): an odd "
                            "number of points and an even number of channels; got shape " +
                            detail::shape_str(g.shape));
    const std::size_t L = (M + 1) / 2, d = c / 2;
    auto out = detail::make_output<Out>(detail::item_shape(g.shape.size(), B, L, d), sizeof(T));
    T* o = out.data();
    std::fill(o, o + B * L * d, T(0));
    for (std::size_t b = 0; b < B; ++b) {
        const T* gb = g.data + b * M * c;
        T* x = o + b * L * d;
        for (std::size_t r = 0; r < M; ++r) {
            const std::size_t lead = (r + 1) / 2, lag = r / 2; // point r = (x_lead, x_lag)
            for (std::size_t k = 0; k < d; ++k) {
                x[lead * d + k] += gb[r * c + k];
                x[lag * d + k] += gb[r * c + d + k];
            }
        }
    }
    return out;
}

/// Prepends the origin: (L, d) -> (L+1, d) (and (B, L, d) -> (B, L+1, d)).
/// `signature(add_basepoint(path), N)` equals `signature(path, N)` with
/// `signature_options::basepoint`; an empty path (0, d) gives the origin alone.
/// \throws invalid_input for a wrong rank, 0 coordinates, or a non-finite value.
template <class E> [[nodiscard]] auto add_basepoint(const xt::xexpression<E>& path) {
    using T = detail::real_t<E>;
    detail::static_check_path_rank<E>();
    using Out = detail::transform_result_t<T, E>;
    const auto p = detail::make_contiguous<T>(path);
    const auto [B, L, d] =
        detail::check_transform_input(p, "add_basepoint", "path", "(L, d) or (B, L, d)", 0, 1);
    auto out = detail::make_output<Out>(
        detail::item_shape(p.shape.size(), B, detail::checked_add(L, 1, "path with a basepoint"), d),
        sizeof(T));
    T* o = out.data();
    for (std::size_t b = 0; b < B; ++b) {
        std::fill(o, o + d, T(0));
        std::copy(p.data + b * L * d, p.data + (b + 1) * L * d, o + d);
        o += (L + 1) * d;
    }
    return out;
}

/// Backward of `add_basepoint`: the gradient (L+1, d) (or (B, L+1, d)) with
/// respect to the path with its basepoint, to (L, d) (or (B, L, d)): the
/// first row (the fixed origin) is dropped.
/// \throws invalid_input for a wrong rank, no rows, 0 coordinates, or a
///   non-finite value.
template <class E> [[nodiscard]] auto add_basepoint_backward(const xt::xexpression<E>& grad) {
    using T = detail::real_t<E>;
    detail::static_check_path_rank<E>();
    using Out = detail::transform_result_t<T, E>;
    const auto g = detail::make_contiguous<T>(grad);
    const auto [B, M, d] = detail::check_transform_input(g, "add_basepoint_backward", "the gradient",
                                                         "(L+1, d) or (B, L+1, d)", 1, 1);
    const std::size_t L = M - 1;
    auto out = detail::make_output<Out>(detail::item_shape(g.shape.size(), B, L, d), sizeof(T));
    for (std::size_t b = 0; b < B; ++b)
        std::copy(g.data + (b * M + 1) * d, g.data + (b + 1) * M * d, out.data() + b * L * d);
    return out;
}

} // namespace tensig

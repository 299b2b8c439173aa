#pragma once
/// \file
/// Layer 6: signatures, prefix signatures, log-signatures and Chen products
/// of piecewise-linear paths given as xtensor expressions.
///
/// A path is an expression of shape (L, d) (L points in R^d) and a batch of
/// paths one of shape (B, L, d). Any xtensor expression of that rank works
/// (xt::xtensor, xt::xarray, adaptors over raw memory, views); integer
/// inputs are promoted to double. Results follow iisignature's layout: levels
/// 1..N, each row-major with the first letter most significant.

#include <array>
#include <cstddef>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xutils.hpp>

#include "tensig/error.hpp"
#include "tensig/paths/detail/core.hpp"
#include "tensig/paths/options.hpp"
#include "tensig/shape/shape.hpp"

namespace tensig {

namespace detail {

template <class E>
using real_t = std::conditional_t<std::is_integral_v<typename std::decay_t<E>::value_type>, double,
                                  typename std::decay_t<E>::value_type>;

/// An input array as a contiguous row-major buffer: the expression's own
/// memory when it already is one, a copy otherwise.
template <class T> struct contiguous {
    const T* data = nullptr;
    std::vector<std::size_t> shape;
    xt::xarray<T> storage;
};

template <class T, class E> contiguous<T> make_contiguous(const xt::xexpression<E>& expr) {
    const E& e = expr.derived_cast();
    contiguous<T> c;
    c.shape.assign(e.shape().begin(), e.shape().end());
    if constexpr (std::is_same_v<typename E::value_type, T> && xt::has_data_interface<E>::value &&
                  xt::has_strides<E>::value) {
        bool row_major = true;
        std::size_t stride = 1;
        for (std::size_t i = c.shape.size(); i-- > 0;) {
            if (c.shape[i] != 1 && static_cast<std::size_t>(e.strides()[i]) != stride) row_major = false;
            stride *= c.shape[i];
        }
        if (row_major) {
            c.data = e.data() + e.data_offset();
            return c;
        }
    }
    c.storage = e;
    c.data = c.storage.data();
    return c;
}

inline std::string shape_str(const std::vector<std::size_t>& sh) {
    std::string s = "(";
    for (std::size_t i = 0; i < sh.size(); ++i)
        s += (i ? ", " : "") + std::to_string(sh[i]);
    return s + (sh.size() == 1 ? ",)" : ")");
}

template <class E> constexpr std::size_t static_rank() {
    return xt::get_rank<std::decay_t<E>>::value;
}

/// Result container: rank R with a static-rank input, xarray otherwise.
template <class T, class E, std::size_t R>
using result_t = std::conditional_t<static_rank<E>() == SIZE_MAX, xt::xarray<T>, xt::xtensor<T, R>>;

/// The output array, after checking that it and `work` more values of
/// workspace fit in memory together (before allocating either).
template <class Out>
Out make_output(const std::vector<std::size_t>& sh, std::size_t elem_size, std::size_t work = 0) {
    std::size_t n = 1;
    for (auto k : sh)
        n = checked_mul(n, k, "output");
    if (work > std::numeric_limits<std::size_t>::max() - n)
        throw size_error(
            "an output of shape " + shape_str(sh) +
            " with its workspace would need more than 2^64 values, far more than this machine's memory");
    check_fits_in_memory_lazy(n + work, elem_size,
                              [&] { return "an output of shape " + shape_str(sh) + " with its workspace"; });
    typename Out::shape_type out_shape;
    if constexpr (std::is_same_v<Out, xt::xarray<typename Out::value_type>>)
        out_shape.assign(sh.begin(), sh.end());
    else
        std::copy(sh.begin(), sh.end(), out_shape.begin());
    return Out(out_shape);
}

/// Values of workspace for `tensors` tensors of shape s (plus kernel scratch).
inline std::size_t workspace_size(const shape& s, std::size_t tensors) {
    if (tensors != 0 && s.size() > std::numeric_limits<std::size_t>::max() / tensors)
        throw size_error("the workspace for shape " + s.str() +
                         " would need more than 2^64 values, far more than this machine's memory");
    return s.size() * tensors;
}

/// Checks the rank of a path or batch; returns (B, L, d).
template <class T> std::array<std::size_t, 3> path_dims(const contiguous<T>& p, const char* what) {
    const auto& sh = p.shape;
    if (sh.size() != 2 && sh.size() != 3)
        throw invalid_input(std::string(what) +
                            " must have shape (L, d) or (B, L, d); got an array of rank " +
                            std::to_string(sh.size()) + " and shape " + shape_str(sh));
    return {sh.size() == 3 ? sh[0] : 1, sh[sh.size() - 2], sh.back()};
}

/// Checks rank, sizes and finiteness of a path or batch; returns (B, L, d).
template <class T> std::array<std::size_t, 3> check_paths(const contiguous<T>& p, const char* what) {
    const auto dims = path_dims(p, what);
    check_finite(p.data, p.shape, what);
    return dims;
}

/// compute(), which writes the n_out values at `out` from an input p that
/// must be finite (check_finite's error otherwise), where the caller knows
/// that, when `reaches` holds, a non-finite value of p makes some output
/// value non-finite. Where the output is then the smaller, it is scanned
/// after compute() instead of the input before, and the input only behind
/// a non-finite output (the input's culprit named, or a finite input's
/// overflow returned as it is).
template <class T, class F>
void on_finite_input(const contiguous<T>& p, const char* what, bool reaches, const T* out, std::size_t n_out,
                     F&& compute) {
    std::size_t n_in = 1;
    for (auto k : p.shape)
        n_in *= k;
    if (!reaches || n_out >= n_in) {
        check_finite(p.data, p.shape, what);
        compute();
        return;
    }
    compute();
    if (!all_finite_values(out, n_out)) check_finite(p.data, p.shape, what);
}

/// on_finite_input for paths of `segments` segments each: when every point
/// ends or starts a segment, a non-finite point makes a non-finite
/// increment (x - y is finite only when x and y are) and so a non-finite
/// level 1 (a sum of the increments, which keeps an infinity or NaN). For
/// (B, L, d, N) = (32, 10000, 2, 2) the scan of the input had been 13% of
/// `signature`.
template <class T, class F>
void on_finite_paths(const contiguous<T>& p, const char* what, std::size_t segments, const T* out,
                     std::size_t n_out, F&& compute) {
    on_finite_input(p, what, segments > 0, out, n_out, std::forward<F>(compute));
}

} // namespace detail

/// Signature of a path (L, d) -> (sig_length(d, N),), or of a batch
/// (B, L, d) -> (B, sig_length(d, N)), at depth N: levels 1..N of
/// exp(Δ_1) ⊗ ... ⊗ exp(Δ_{L-1}). A one-point path has signature 0 (that is, 1).
/// \throws invalid_input for a wrong rank, an empty path, depth or dimension
///   0, or a non-finite value (its index is named); size_error when the result
///   would not fit in memory.
template <class E>
[[nodiscard]] auto signature(const xt::xexpression<E>& path, std::size_t depth,
                             const signature_options& o = {}) {
    using T = detail::real_t<E>;
    constexpr std::size_t R = detail::static_rank<E>();
    static_assert(R == SIZE_MAX || R == 2 || R == 3,
                  "signature: a path has shape (L, d) or a batch (B, L, d)");
    using Out = std::conditional_t<R == 3, detail::result_t<T, E, 2>, detail::result_t<T, E, 1>>;
    const auto p = detail::make_contiguous<T>(path);
    const auto [B, L, d] = detail::path_dims(p, "path");
    const shape s = detail::path_shape(L, d, depth, o.basepoint);
    std::vector<std::size_t> sh = {s.sig_length()};
    if (p.shape.size() == 3) sh.insert(sh.begin(), B);
    auto out = detail::make_output<Out>(sh, sizeof(T), detail::workspace_size(s, 2));
    detail::on_finite_paths(p, "path", detail::segment_count(L, o.basepoint), out.data(), out.size(),
                            [&] { detail::signature_batch(p.data, B, L, d, depth, o, out.data()); });
    return out;
}

/// Every prefix signature of a path (L, d): shape (L-1, sig_length), row k the
/// signature of the first k+2 points (iisignature's `sig(path, N, 2)`); with
/// a basepoint, L rows.
/// \throws as `signature`; also for a batch (rank 3).
template <class E>
[[nodiscard]] auto signature_stream(const xt::xexpression<E>& path, std::size_t depth,
                                    const signature_options& o = {}) {
    using T = detail::real_t<E>;
    constexpr std::size_t R = detail::static_rank<E>();
    static_assert(R == SIZE_MAX || R == 2, "signature_stream: a path has shape (L, d)");
    using Out = detail::result_t<T, E, 2>;
    const auto p = detail::make_contiguous<T>(path);
    if (p.shape.size() != 2)
        throw invalid_input("signature_stream: path must have shape (L, d); got shape " +
                            detail::shape_str(p.shape));
    const auto [B, L, d] = detail::check_paths(p, "path");
    (void)B;
    const shape s = detail::path_shape(L, d, depth, o.basepoint);
    auto out = detail::make_output<Out>({detail::segment_count(L, o.basepoint), s.sig_length()}, sizeof(T),
                                        detail::workspace_size(s, 3));
    detail::signature_stream_one(p.data, L, d, depth, o, out.data());
    return out;
}

/// Log-signature of a path (L, d) or a batch (B, L, d): log of the
/// signature in the coordinates of `basis`: `expanded` (levels 1..N of log S,
/// sig_length values), `words` (log S at the Lyndon words) or `lyndon`
/// (iisignature's `logsig`: the Lyndon-bracket basis), logsig_length values
/// each. The Lyndon tables of (d, N) are built on first use and cached.
/// \throws as `signature`.
template <class E>
[[nodiscard]] auto logsignature(const xt::xexpression<E>& path, std::size_t depth,
                                logsig_basis basis = logsig_basis::expanded,
                                const signature_options& o = {}) {
    using T = detail::real_t<E>;
    constexpr std::size_t R = detail::static_rank<E>();
    static_assert(R == SIZE_MAX || R == 2 || R == 3,
                  "logsignature: a path has shape (L, d) or a batch (B, L, d)");
    using Out = std::conditional_t<R == 3, detail::result_t<T, E, 2>, detail::result_t<T, E, 1>>;
    const auto p = detail::make_contiguous<T>(path);
    const auto [B, L, d] = detail::path_dims(p, "path");
    const shape s = detail::path_shape(L, d, depth, o.basepoint);
    std::vector<std::size_t> sh = {detail::logsig_coordinates(s, basis)};
    if (p.shape.size() == 3) sh.insert(sh.begin(), B);
    auto out = detail::make_output<Out>(sh, sizeof(T), detail::workspace_size(s, 6));
    detail::on_finite_paths(p, "path", detail::segment_count(L, o.basepoint), out.data(), out.size(),
                            [&] { detail::logsignature_batch(p.data, B, L, d, depth, o, basis, out.data()); });
    return out;
}

namespace detail {
/// Checks a (m,) or (B, m) array of flattened rows of length m and its
/// values; returns B (1 for rank 1). `what` names the argument, `kind` says
/// what a row is.
template <class T>
std::size_t check_rows(const contiguous<T>& a, std::size_t m, const std::string& what, const std::string& kind) {
    if (a.shape.size() != 1 && a.shape.size() != 2)
        throw invalid_input(what + ": " + kind + " must have shape (" + std::to_string(m) + ",) or (B, " +
                            std::to_string(m) + "); got shape " + shape_str(a.shape));
    if (a.shape.back() != m)
        throw invalid_input(what + ": " + kind + " have length " + std::to_string(m) + "; got " +
                            std::to_string(a.shape.back()));
    check_finite(a.data, a.shape, (what + " input").c_str());
    return a.shape.size() == 2 ? a.shape[0] : 1;
}

/// Checks rows of length n_in, (n_in,) or (B, n_in), and allocates the
/// output of the same rank with rows of length n_out; returns (B, output).
template <class Out, class T>
std::pair<std::size_t, Out> map_rows(const contiguous<T>& a, std::size_t n_in, std::size_t n_out, const shape& s,
                                     const std::string& what, const std::string& kind) {
    const std::size_t B = check_rows(a, n_in, what, kind);
    std::vector<std::size_t> sh = a.shape;
    sh.back() = n_out;
    return {B, make_output<Out>(sh, sizeof(T), workspace_size(s, 2))};
}

/// Checks M signatures in a row, (M, m) or (B, M, m) with m = sig_length,
/// and their values; returns (B, M).
template <class T>
std::pair<std::size_t, std::size_t> check_sequences(const contiguous<T>& a, const shape& s, const std::string& what) {
    const std::size_t m = s.sig_length();
    if ((a.shape.size() != 2 && a.shape.size() != 3) || a.shape.back() != m)
        throw invalid_input(what + ": signatures of dimension " + std::to_string(s.dim()) + " and depth " +
                            std::to_string(s.depth()) + " must have shape (M, " + std::to_string(m) +
                            ") or (B, M, " + std::to_string(m) + "); got shape " + shape_str(a.shape));
    check_finite(a.data, a.shape, (what + " input").c_str());
    return {a.shape.size() == 3 ? a.shape[0] : 1, a.shape[a.shape.size() - 2]};
}

inline const char* basis_name(logsig_basis b) {
    return b == logsig_basis::expanded ? "expanded" : b == logsig_basis::words ? "words" : "lyndon";
}
} // namespace detail

/// Log-signatures, in `basis`, of flattened signatures (sig_length,) or
/// (B, sig_length) of dimension `dim` and depth `depth` (level 0 taken as 1).
/// \throws invalid_input for a wrong shape or a non-finite value.
template <class E>
[[nodiscard]] auto signature_to_logsignature(const xt::xexpression<E>& sigs, std::size_t dim, std::size_t depth,
                                             logsig_basis basis = logsig_basis::expanded,
                                             std::size_t threads = 0) {
    using T = detail::real_t<E>;
    constexpr std::size_t R = detail::static_rank<E>();
    static_assert(R == SIZE_MAX || R == 1 || R == 2,
                  "signature_to_logsignature: signatures have shape (m,) or (B, m)");
    using Out = std::conditional_t<R == 2, detail::result_t<T, E, 2>, detail::result_t<T, E, 1>>;
    const shape s = detail::signature_shape(dim, depth, "signature_to_logsignature");
    const auto a = detail::make_contiguous<T>(sigs);
    auto [B, out] = detail::map_rows<Out>(a, s.sig_length(), detail::logsig_coordinates(s, basis), s,
                                          "signature_to_logsignature",
                                          "signatures of dimension " + std::to_string(dim) + " and depth " +
                                              std::to_string(depth));
    detail::signature_to_logsignature_batch(a.data, B, dim, depth, basis, out.data(), threads);
    return out;
}

/// Signatures exp(ℓ) (levels 1..N) of log-signatures ℓ given in `basis`:
/// shape (n,) or (B, n) with n = sig_length (expanded) or logsig_length
/// (words, lyndon). The inverse of `signature_to_logsignature`. (An expanded
/// input is exponentiated as it is, Lie element or not.)
/// \throws invalid_input for a wrong shape or a non-finite value.
template <class E>
[[nodiscard]] auto logsignature_to_signature(const xt::xexpression<E>& logsigs, std::size_t dim, std::size_t depth,
                                             logsig_basis basis = logsig_basis::expanded,
                                             std::size_t threads = 0) {
    using T = detail::real_t<E>;
    constexpr std::size_t R = detail::static_rank<E>();
    static_assert(R == SIZE_MAX || R == 1 || R == 2,
                  "logsignature_to_signature: log-signatures have shape (n,) or (B, n)");
    using Out = std::conditional_t<R == 2, detail::result_t<T, E, 2>, detail::result_t<T, E, 1>>;
    const shape s = detail::signature_shape(dim, depth, "logsignature_to_signature");
    const auto a = detail::make_contiguous<T>(logsigs);
    auto [B, out] = detail::map_rows<Out>(a, detail::logsig_coordinates(s, basis), s.sig_length(), s,
                                          "logsignature_to_signature",
                                          std::string("log-signatures in the ") + detail::basis_name(basis) +
                                              " basis of dimension " + std::to_string(dim) + " and depth " +
                                              std::to_string(depth));
    detail::logsignature_to_signature_batch(a.data, B, dim, depth, basis, out.data(), threads);
    return out;
}

/// Chen product of many signatures in order, s_1 ⊗ s_2 ⊗ ... ⊗ s_M: the
/// signature of the concatenated paths (Signatory's multi_signature_combine).
/// Shapes (M, sig_length) -> (sig_length,), or a batch (B, M, sig_length) ->
/// (B, sig_length). M = 0 gives the unit (all zeros).
/// \throws invalid_input for a wrong shape or a non-finite value.
template <class E>
[[nodiscard]] auto signature_combine_many(const xt::xexpression<E>& sigs, std::size_t dim, std::size_t depth,
                                          std::size_t threads = 0) {
    using T = detail::real_t<E>;
    constexpr std::size_t R = detail::static_rank<E>();
    static_assert(R == SIZE_MAX || R == 2 || R == 3,
                  "signature_combine_many: signatures have shape (M, m) or (B, M, m)");
    using Out = std::conditional_t<R == 3, detail::result_t<T, E, 2>, detail::result_t<T, E, 1>>;
    const shape s = detail::signature_shape(dim, depth, "signature_combine_many");
    const std::size_t m = s.sig_length();
    const auto a = detail::make_contiguous<T>(sigs);
    const auto [B, M] = detail::check_sequences(a, s, "signature_combine_many");
    std::vector<std::size_t> sh = {m};
    if (a.shape.size() == 3) sh.insert(sh.begin(), B);
    auto out = detail::make_output<Out>(sh, sizeof(T), detail::workspace_size(s, 2));
    detail::signature_combine_many_batch(a.data, B, M, dim, depth, out.data(), threads);
    return out;
}

/// Chen product of flattened signatures (levels 1..N of T^N(R^dim), level 0
/// taken as 1): the signature of the concatenation of the two paths. Shapes
/// (sig_length,) or (B, sig_length), both alike.
/// \throws invalid_input when a length is not sig_length(dim, depth) or the
///   two shapes differ.
template <class E1, class E2>
[[nodiscard]] auto signature_combine(const xt::xexpression<E1>& s1, const xt::xexpression<E2>& s2,
                                     std::size_t dim, std::size_t depth, std::size_t threads = 0) {
    using T = detail::real_t<E1>;
    static_assert(std::is_same_v<T, detail::real_t<E2>>,
                  "signature_combine: both operands need one scalar type");
    constexpr std::size_t R = detail::static_rank<E1>();
    static_assert(R == SIZE_MAX || R == 1 || R == 2,
                  "signature_combine: signatures have shape (m,) or (B, m)");
    using Out = std::conditional_t<R == 2, detail::result_t<T, E1, 2>, detail::result_t<T, E1, 1>>;
    const std::size_t m = sig_length(dim, depth);
    const auto a = detail::make_contiguous<T>(s1);
    const auto b = detail::make_contiguous<T>(s2);
    for (const auto* x : {&a, &b}) {
        if (x->shape.size() != 1 && x->shape.size() != 2)
            throw invalid_input("signature_combine: a signature must have shape (" + std::to_string(m) +
                                ",) or (B, " + std::to_string(m) + "); got shape " +
                                detail::shape_str(x->shape));
        if (x->shape.back() != m)
            throw invalid_input("signature_combine: signatures of dimension " + std::to_string(dim) +
                                " and depth " + std::to_string(depth) + " have length " + std::to_string(m) +
                                "; got " + std::to_string(x->shape.back()));
    }
    if (a.shape != b.shape)
        throw invalid_input("signature_combine: the two operands have different shapes " +
                            detail::shape_str(a.shape) + " and " + detail::shape_str(b.shape));
    const std::size_t B = a.shape.size() == 2 ? a.shape[0] : 1;
    detail::check_finite(a.data, a.shape, "first signature");
    detail::check_finite(b.data, b.shape, "second signature");
    auto out = detail::make_output<Out>(a.shape, sizeof(T));
    detail::signature_combine_batch(a.data, b.data, B, dim, depth, out.data(), threads);
    return out;
}

} // namespace tensig

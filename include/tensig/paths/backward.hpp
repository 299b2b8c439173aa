#pragma once
/// \file
/// Layer 6, gradients of the path functions: reverse mode (vector-Jacobian
/// products, iisignature's `sigbackprop`, `logsigbackprop`) and the full
/// Jacobian of a signature by forward-mode dual numbers.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <optional>
#include <vector>

#include "tensig/autodiff/dual.hpp"
#include "tensig/paths/detail/backward_core.hpp"
#include "tensig/paths/signature.hpp"

namespace tensig {

namespace detail {
/// The shape of a gradient given for B rows of m values (rank 3: a batch);
/// its values are checked by the caller.
template <class T>
void check_grad_shape(const contiguous<T>& g, std::size_t rank, std::size_t B, std::size_t m, const char* what) {
    const std::vector<std::size_t> expect =
        rank == 3 ? std::vector<std::size_t>{B, m} : std::vector<std::size_t>{m};
    if (g.shape != expect)
        throw invalid_input(std::string(what) + ": the gradient must have shape " + shape_str(expect) +
                            "; got " + shape_str(g.shape));
}

template <class T>
void check_grad_rows(const contiguous<T>& g, std::size_t rank, std::size_t B, std::size_t m,
                     const char* what) {
    check_grad_shape(g, rank, B, m, what);
    check_finite(g.data, g.shape, "gradient");
}

/// Buffers of increment_tangents, kept by callers that take many Jacobians
/// (the inversion's loss) so that repeated calls do not allocate.
template <class T> struct tangent_workspace {
    scratch_vector<T> ends;    // per step: the prefix or the suffix its tangent is built on
    scratch_vector<T> middles; // per step far from both ends: its suffix (its prefix is in ends)
    scratch_vector<T> deltas;  // the increments in the order of the steps, then reversed
    scratch_vector<T> tangent; // one tangent (levels 0..N)
    std::vector<T> unit;       // e_0, ..., e_{d-1} (d x d)
    std::optional<path_workspace<T>> fwd;
};

/// The tangents of one path's signature along its increments, by forward
/// mode, all in SIMD: for each step i (in the order the signature multiplies
/// them) and coordinate c, visit(i, c, v) gets v = ∂S/∂Δ_{i,c} (levels 1..N,
/// sig_length values, valid during the call). The tangent is
///   P_i ⊗ Dexp(Δ_i)[e_c] ⊗ S_{i+1}
/// (P_i the signature of the steps before i, S_{i+1} of those after it),
/// carried to the nearer end of the path: from P_i ⊗ Dexp(Δ_i)[e_c]
/// (kernels::fmexp_jvp) through the later steps on the right
/// (kernels::fmexp_many) when 2i + 1 >= n, or from Dexp(Δ_i)[e_c] ⊗ S_{i+1}
/// (kernels::fmexp_left_jvp) through the earlier steps on the left
/// (kernels::fmexp_left_many): min(i, n-1-i) steps instead of n-1-i. A step
/// farther than that from both ends than one truncated product costs
/// (product_steps) takes the product (P_i ⊗ Dexp(Δ_i)[e_c]) ⊗ S_{i+1}
/// instead, so a long path's Jacobian costs O(L), not O(L²). So each step
/// needs one of P_i and S_{i+1} (both for those), kept in ws.ends (and
/// ws.middles).
/// With `sig`, the signature (levels 1..N) too. Each tangent (levels 0..N)
/// is built in place: the d tangents of step i at where(i) + c * (sig_length
/// + 1), or in ws.tangent when `where` returns null, so a caller that keeps
/// them all can have them built where it keeps them. The d tangents of a
/// step share one JVP call (their Horner terms are the same).
template <class T, class Where, class Visit>
void increment_tangents(const T* path, std::size_t L, std::size_t d, std::size_t depth, const signature_options& o,
                        T* sig, tangent_workspace<T>& ws, Where&& where, Visit&& visit) {
    const shape s = path_shape(L, d, depth, o.basepoint);
    const std::size_t size = s.size();
    const std::size_t n = segment_count(L, o.basepoint);
    const std::size_t far = product_steps(d, depth);
    auto on_the_left = [n](std::size_t i) { return 2 * i + 1 < n; };
    auto in_the_middle = [n, far](std::size_t i) { return std::min(i, n - 1 - i) > far; };
    if (ws.ends.size() < n * size) ws.ends.resize(n * size);
    if (n > 2 * far + 2 && ws.middles.size() < n * size) ws.middles.resize(n * size);
    if (ws.deltas.size() < 2 * n * d) ws.deltas.resize(2 * n * d);
    if (ws.tangent.size() < d * size) ws.tangent.resize(d * size);
    ws.unit.assign(d * d, T(0)); // the d coordinate directions
    for (std::size_t c = 0; c < d; ++c)
        ws.unit[c * d + c] = T(1);
    if (!ws.fwd || ws.fwd->acc.shape() != s) ws.fwd.emplace(s);
    T* const deltas = ws.deltas.data();
    T* const rdeltas = deltas + n * d; // rdeltas[k] = deltas[n-1-k]: the left steps in the order they apply
    T* const ends = ws.ends.data();
    auto& acc = ws.fwd->acc;
    acc.set_unit();
    for (std::size_t i = 0; i < n; ++i) {
        if (!on_the_left(i) || in_the_middle(i)) std::copy(acc.data(), acc.data() + size, ends + i * size); // P_i
        segment_increment(path, d, step_segment(i, n, o.inverse), o.basepoint, o.inverse, deltas + i * d);
        std::copy(deltas + i * d, deltas + (i + 1) * d, rdeltas + (n - 1 - i) * d);
        kernels::fmexp(acc.data(), deltas + i * d, d, depth);
    }
    if (sig) std::copy(acc.data() + 1, acc.data() + size, sig);
    acc.set_unit();
    for (std::size_t i = n; i-- > 0;) { // acc = S_{i+1}; kept for the steps on the left and in the middle
        if (in_the_middle(i))
            std::copy(acc.data(), acc.data() + size, ws.middles.data() + i * size);
        else if (on_the_left(i))
            std::copy(acc.data(), acc.data() + size, ends + i * size);
        if (i > 0) kernels::fmexp_left_many(acc.data(), deltas + i * d, 1, d, depth);
    }
    for (std::size_t i = 0; i < n; ++i) {
        T* tangents = where(i);
        if (!tangents) tangents = ws.tangent.data();
        const bool left = on_the_left(i) && !in_the_middle(i);
        if (left)
            kernels::fmexp_left_jvp(tangents, ends + i * size, deltas + i * d, ws.unit.data(), d, depth, d);
        else
            kernels::fmexp_jvp(tangents, ends + i * size, deltas + i * d, ws.unit.data(), d, depth, d);
        for (std::size_t c = 0; c < d; ++c) {
            T* tangent = tangents + c * size;
            if (in_the_middle(i)) // (P_i ⊗ Dexp(Δ_i)[e_c]) ⊗ S_{i+1}, in place
                kernels::product(tangent, tangent, static_cast<const T*>(ws.middles.data() + i * size), s);
            else if (left) // steps i-1, ..., 0 on the left: the reversed increments from n - i
                for (std::size_t k = n - i; k < n; k += kernels::fmexp_block)
                    kernels::fmexp_left_many(tangent, rdeltas + k * d, std::min(kernels::fmexp_block, n - k), d,
                                             depth);
            else
                for (std::size_t k = i + 1; k < n; k += kernels::fmexp_block)
                    kernels::fmexp_many(tangent, deltas + k * d, std::min(kernels::fmexp_block, n - k), d, depth);
            visit(i, c, static_cast<const T*>(tangent + 1));
        }
    }
}

template <class T, class Visit>
void increment_tangents(const T* path, std::size_t L, std::size_t d, std::size_t depth, const signature_options& o,
                        T* sig, tangent_workspace<T>& ws, Visit&& visit) {
    increment_tangents(path, L, d, depth, o, sig, ws, [](std::size_t) { return static_cast<T*>(nullptr); },
                       std::forward<Visit>(visit));
}

/// The Jacobian of one path's signature as columns: cols[j * sig_length + r]
/// = ∂sig_r/∂x_j (x the path flattened, j < L d), from increment_tangents:
/// ∂/∂x_i = ∂/∂Δ_i - ∂/∂Δ_{i+1}.
template <class T>
void signature_jacobian_columns(const T* path, std::size_t L, std::size_t d, std::size_t depth,
                                const signature_options& o, T* cols, T* sig = nullptr) {
    const std::size_t m = sig_length(d, depth), n_in = L * d;
    const std::size_t n = segment_count(L, o.basepoint);
    std::vector<char> written(n_in, 0); // columns are set on first touch, added to after
    tangent_workspace<T> ws;
    increment_tangents(path, L, d, depth, o, sig, ws, [&](std::size_t i, std::size_t c, const T* v) {
        const std::size_t seg = step_segment(i, n, o.inverse);
        const std::size_t hi = o.basepoint ? seg : seg + 1;
        const bool from_origin = o.basepoint && seg == 0;
        const T sign = o.inverse ? T(-1) : T(1);
        // ∂S/∂Δ (sign-adjusted) into the columns of x_hi (+) and x_lo (-)
        auto add = [&](std::size_t col, T f) {
            T* out = cols + col * m;
            if (written[col])
                for (std::size_t r = 0; r < m; ++r)
                    out[r] += f * v[r];
            else
                for (std::size_t r = 0; r < m; ++r)
                    out[r] = f * v[r];
            written[col] = 1;
        };
        add(hi * d + c, sign);
        if (!from_origin) add((hi - 1) * d + c, -sign);
    });
    for (std::size_t col = 0; col < n_in; ++col) // points no segment touches (a one-point path)
        if (!written[col]) std::fill(cols + col * m, cols + (col + 1) * m, T(0));
}

/// The Jacobian (sig_length, L, d) row-major: signature_jacobian_columns, transposed.
template <class T>
void signature_jacobian_one(const T* path, std::size_t L, std::size_t d, std::size_t depth,
                            const signature_options& o, T* out) {
    const std::size_t m = sig_length(d, depth), n_in = L * d;
    aligned_vector<T> cols(m * n_in);
    signature_jacobian_columns(path, L, d, depth, o, cols.data());
    for (std::size_t r = 0; r < m; ++r)
        for (std::size_t j = 0; j < n_in; ++j)
            out[r * n_in + j] = cols[j * m + r];
}
} // namespace detail

/// Gradient of <grad, signature(path, depth)> with respect to the path:
/// iisignature's `sigbackprop`. grad (sig_length,) with a path (L, d) gives
/// (L, d); grad (B, sig_length) with paths (B, L, d) gives (B, L, d).
/// Memory: O(sig_length) beyond the output when prefixes are rebuilt
/// (backward_options::prefixes).
/// \throws invalid_input for mismatched shapes, plus everything `signature` throws.
template <class EG, class EP>
[[nodiscard]] auto signature_backward(const xt::xexpression<EG>& grad, const xt::xexpression<EP>& path,
                                      std::size_t depth, const signature_options& o = {},
                                      const backward_options& bo = {}) {
    using T = detail::real_t<EP>;
    constexpr std::size_t R = detail::static_rank<EP>();
    static_assert(R == SIZE_MAX || R == 2 || R == 3,
                  "signature_backward: a path has shape (L, d) or (B, L, d)");
    using Out = std::conditional_t<R == 3, detail::result_t<T, EP, 3>, detail::result_t<T, EP, 2>>;
    const auto p = detail::make_contiguous<T>(path);
    const auto [B, L, d] = detail::check_paths(p, "path");
    const shape s = detail::path_shape(L, d, depth, o.basepoint);
    const auto g = detail::make_contiguous<T>(grad);
    detail::check_grad_shape(g, p.shape.size(), B, s.sig_length(), "signature_backward");
    auto out = detail::make_output<Out>(p.shape, sizeof(T), detail::workspace_size(s, 6));
    // Every value of the gradient enters the last step's ∂L/∂z as a term of
    // a sum, multiplied by a finite number (the top of each level's chain:
    // ∂L/∂z_b += p(w) G[w b]), and a step's ∂L/∂z is a term of its points'
    // gradients, so a non-finite gradient makes a non-finite output: the
    // gradient (sig_length values a path, against L d) is scanned behind a
    // non-finite output only. (Its scan had been 3% of (1, 8, 2, 12).)
    detail::on_finite_input(g, "gradient", std::is_floating_point_v<T> && detail::segment_count(L, o.basepoint) > 0,
                            out.data(), out.size(),
                            [&] { detail::signature_backward_batch(g.data, p.data, B, L, d, depth, o, bo, out.data()); });
    return out;
}

/// Gradient of <grad, logsignature(path, depth, basis)> with respect to the
/// path, for every basis (in `lyndon`, iisignature's `logsigbackprop`).
/// grad has the shape of the log-signature: (n,) or (B, n).
template <class EG, class EP>
[[nodiscard]] auto logsignature_backward(const xt::xexpression<EG>& grad, const xt::xexpression<EP>& path,
                                         std::size_t depth, logsig_basis basis = logsig_basis::expanded,
                                         const signature_options& o = {}, const backward_options& bo = {}) {
    using T = detail::real_t<EP>;
    constexpr std::size_t R = detail::static_rank<EP>();
    static_assert(R == SIZE_MAX || R == 2 || R == 3,
                  "logsignature_backward: a path has shape (L, d) or (B, L, d)");
    using Out = std::conditional_t<R == 3, detail::result_t<T, EP, 3>, detail::result_t<T, EP, 2>>;
    const auto p = detail::make_contiguous<T>(path);
    const auto [B, L, d] = detail::check_paths(p, "path");
    const shape s = detail::path_shape(L, d, depth, o.basepoint);
    const auto g = detail::make_contiguous<T>(grad);
    detail::check_grad_rows(g, p.shape.size(), B, detail::logsig_coordinates(s, basis), "logsignature_backward");
    auto out = detail::make_output<Out>(p.shape, sizeof(T), detail::workspace_size(s, 3 * s.depth() + 12));
    detail::logsignature_backward_batch(g.data, p.data, B, L, d, depth, o, basis, bo, out.data());
    return out;
}

/// Gradients of <grad, signature_combine(s1, s2)> with respect to s1 and s2
/// (shapes (m,) or (B, m), all three alike).
template <class EG, class E1, class E2>
[[nodiscard]] auto signature_combine_backward(const xt::xexpression<EG>& grad, const xt::xexpression<E1>& s1,
                                              const xt::xexpression<E2>& s2, std::size_t dim,
                                              std::size_t depth) {
    using T = detail::real_t<E1>;
    constexpr std::size_t R = detail::static_rank<E1>();
    static_assert(R == SIZE_MAX || R == 1 || R == 2,
                  "signature_combine_backward: signatures have shape (m,) or (B, m)");
    using Out = std::conditional_t<R == 2, detail::result_t<T, E1, 2>, detail::result_t<T, E1, 1>>;
    const std::size_t m = sig_length(dim, depth);
    const auto g = detail::make_contiguous<T>(grad);
    const auto a = detail::make_contiguous<T>(s1);
    const auto b = detail::make_contiguous<T>(s2);
    for (const auto* x : {&g, &a, &b}) {
        if ((x->shape.size() != 1 && x->shape.size() != 2) || x->shape.back() != m)
            throw invalid_input("signature_combine_backward: signatures of dimension " + std::to_string(dim) +
                                " and depth " + std::to_string(depth) + " have length " + std::to_string(m) +
                                "; got shape " + detail::shape_str(x->shape));
        if (x->shape != a.shape)
            throw invalid_input("signature_combine_backward: operands of different shapes " +
                                detail::shape_str(x->shape) + " and " + detail::shape_str(a.shape));
        detail::check_finite(x->data, x->shape, "signature_combine_backward input");
    }
    const std::size_t B = a.shape.size() == 2 ? a.shape[0] : 1;
    auto g1 = detail::make_output<Out>(a.shape, sizeof(T));
    auto g2 = detail::make_output<Out>(a.shape, sizeof(T));
    detail::signature_combine_backward_batch(g.data, a.data, b.data, B, dim, depth, g1.data(), g2.data());
    return std::make_pair(std::move(g1), std::move(g2));
}

/// Gradient of <grad, signature_combine_many(sigs)> with respect to sigs:
/// grad (m,) with sigs (M, m), or grad (B, m) with sigs (B, M, m); the result
/// has the shape of sigs.
template <class EG, class E>
[[nodiscard]] auto signature_combine_many_backward(const xt::xexpression<EG>& grad, const xt::xexpression<E>& sigs,
                                                   std::size_t dim, std::size_t depth, std::size_t threads = 0) {
    using T = detail::real_t<E>;
    constexpr std::size_t R = detail::static_rank<E>();
    static_assert(R == SIZE_MAX || R == 2 || R == 3,
                  "signature_combine_many_backward: signatures have shape (M, m) or (B, M, m)");
    using Out = std::conditional_t<R == 3, detail::result_t<T, E, 3>, detail::result_t<T, E, 2>>;
    const shape s = detail::signature_shape(dim, depth, "signature_combine_many_backward");
    const std::size_t m = s.sig_length();
    const auto a = detail::make_contiguous<T>(sigs);
    const auto [B, M] = detail::check_sequences(a, s, "signature_combine_many_backward");
    const auto g = detail::make_contiguous<T>(grad);
    detail::check_grad_rows(g, a.shape.size(), B, m, "signature_combine_many_backward");
    auto out = detail::make_output<Out>(a.shape, sizeof(T), detail::checked_mul(M + 4, s.size(), "workspace"));
    detail::signature_combine_many_backward_batch(g.data, a.data, B, M, dim, depth, out.data(), threads);
    return out;
}

/// The Jacobian of the signature of one path (L, d) with respect to its
/// points: shape (sig_length, L, d), entry (i, j, c) = ∂sig_i/∂path(j, c).
/// Computed forward: each increment's tangent enters through
/// kernels::fmexp_jvp and is carried by the SIMD fused kernel. (A
/// `signature` of a path of `dual<T, 16>` gives the same numbers in one
/// pass of the scalar kernels; this is about 4x faster for float and double.)
template <class E>
[[nodiscard]] auto signature_jacobian(const xt::xexpression<E>& path, std::size_t depth,
                                      const signature_options& o = {}) {
    using T = detail::real_t<E>;
    constexpr std::size_t R = detail::static_rank<E>();
    static_assert(R == SIZE_MAX || R == 2, "signature_jacobian: a path has shape (L, d)");
    using Out = detail::result_t<T, E, 3>;
    const auto p = detail::make_contiguous<T>(path);
    if (p.shape.size() != 2)
        throw invalid_input("signature_jacobian: path must have shape (L, d); got shape " +
                            detail::shape_str(p.shape));
    const auto [B, L, d] = detail::check_paths(p, "path");
    (void)B;
    const shape s = detail::path_shape(L, d, depth, o.basepoint);
    auto out = detail::make_output<Out>({s.sig_length(), L, d}, sizeof(T),
                                        detail::workspace_size(s, detail::segment_count(L, o.basepoint) + 4));
    detail::signature_jacobian_one(p.data, L, d, depth, o, out.data());
    return out;
}

} // namespace tensig

namespace tensig::detail {
extern template void signature_jacobian_one<float>(const float*, std::size_t, std::size_t, std::size_t,
                                                   const signature_options&, float*);
extern template void signature_jacobian_one<double>(const double*, std::size_t, std::size_t, std::size_t,
                                                    const signature_options&, double*);
extern template void signature_jacobian_columns<float>(const float*, std::size_t, std::size_t, std::size_t,
                                                       const signature_options&, float*, float*);
extern template void signature_jacobian_columns<double>(const double*, std::size_t, std::size_t, std::size_t,
                                                        const signature_options&, double*, double*);
} // namespace tensig::detail

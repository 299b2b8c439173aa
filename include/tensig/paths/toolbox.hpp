#pragma once
/// \file
/// Layer 6: iisignature's helpers on flattened signatures (levels 1..N,
/// level 0 taken as 1), with their backward passes:
///
/// - `signature_join(sigs, segments, dim, depth)`: S ⊗ exp(segment), the
///   signature of the path extended by one straight segment (`sigjoin`);
/// - `signature_scale(sigs, scales, dim, depth)`: the entry of word
///   i1..ik times c[i1]···c[ik], the signature of the path scaled per
///   coordinate (`sigscale`).
///
/// Operands are one item, (m,) with (dim,), or a batch, (B, m) with (B, dim),
/// where m = sig_length(dim, depth). Batches run in parallel
/// (parallel::for_chunks) on up to `threads` threads (0: all cores, 1: the
/// calling thread); results do not depend on the thread count.

#include <algorithm>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tensig/algebra/tensor.hpp"
#include "tensig/error.hpp"
#include "tensig/kernels/primitives.hpp"
#include "tensig/parallel/parallel.hpp"
#include "tensig/paths/detail/core.hpp"
#include "tensig/paths/signature.hpp"
#include "tensig/shape/shape.hpp"

namespace tensig {

namespace detail {

// ---- buffers (float and double compiled once, in src/paths/toolbox.cpp) ----------------

/// out_b = sigs_b ⊗ exp(segs_b) for B items (levels 1..N in and out).
template <class T>
void signature_join_batch(const T* sigs, const T* segs, std::size_t B, std::size_t d, std::size_t depth,
                          T* out, std::size_t threads) {
    const shape s(d, depth);
    const std::size_t m = s.sig_length();
    parallel::for_chunks(B, batch_grain(B, threads), threads, [&](std::size_t i0, std::size_t i1) {
        tensor<T> a(s);
        for (std::size_t i = i0; i < i1; ++i) {
            a[0] = T(1);
            std::copy(sigs + i * m, sigs + (i + 1) * m, a.data() + 1);
            kernels::fmexp(a.data(), segs + i * d, d, depth);
            std::copy(a.data() + 1, a.data() + 1 + m, out + i * m);
        }
    });
}

/// Gradients of <G, sigs ⊗ exp(segs)> with respect to sigs (gs, B x m) and
/// segs (gz, B x d), by the fused kernel's adjoint.
template <class T>
void signature_join_backward_batch(const T* G, const T* sigs, const T* segs, std::size_t B, std::size_t d,
                                   std::size_t depth, T* gs, T* gz, std::size_t threads) {
    const shape s(d, depth);
    const std::size_t m = s.sig_length();
    parallel::for_chunks(B, batch_grain(B, threads), threads, [&](std::size_t i0, std::size_t i1) {
        tensor<T> a(s), g(s);
        std::vector<T> z(d);
        for (std::size_t i = i0; i < i1; ++i) {
            a[0] = T(1);
            g[0] = T(0); // level 0 of the result is not an output
            std::copy(sigs + i * m, sigs + (i + 1) * m, a.data() + 1);
            std::copy(G + i * m, G + (i + 1) * m, g.data() + 1);
            std::fill(z.begin(), z.end(), T(0));
            kernels::fmexp_adjoint(g.data(), z.data(), a.data(), segs + i * d, d, depth);
            std::copy(g.data() + 1, g.data() + 1 + m, gs + i * m);
            std::copy(z.begin(), z.end(), gz + i * d);
        }
    });
}

/// The factors of signature_scale for one scale vector c, levels 0..N:
/// f[w] = c[w_1]···c[w_k] (f = 1 at level 0), level k built from level k-1.
template <class T> void scale_factors(const T* c, const shape& s, T* f) {
    const std::size_t d = s.dim();
    f[0] = T(1);
    for (std::size_t k = 1; k <= s.depth(); ++k) {
        const T* prev = f + s.level_offset(k - 1);
        T* cur = f + s.level_offset(k);
        for (std::size_t u = 0; u < s.level_size(k - 1); ++u)
            for (std::size_t a = 0; a < d; ++a)
                cur[u * d + a] = prev[u] * c[a];
    }
}

/// out_b[w] = sigs_b[w] · c_b[w_1]···c_b[w_k] for B items.
template <class T>
void signature_scale_batch(const T* sigs, const T* scales, std::size_t B, std::size_t d, std::size_t depth,
                           T* out, std::size_t threads) {
    const shape s(d, depth);
    const std::size_t m = s.sig_length();
    parallel::for_chunks(B, batch_grain(B, threads), threads, [&](std::size_t i0, std::size_t i1) {
        std::vector<T> f(s.size());
        for (std::size_t i = i0; i < i1; ++i) {
            scale_factors(scales + i * d, s, f.data());
            for (std::size_t j = 0; j < m; ++j)
                out[i * m + j] = sigs[i * m + j] * f[1 + j];
        }
    });
}

/// Gradients of <G, signature_scale(sigs, scales)>: gs = G · f, and
/// gc[a] = Σ_w G[w] sigs[w] Σ_{j : w_j = a} Π_{l<j} c[w_l] Π_{l>j} c[w_l]. The
/// prefix and suffix products are the factors of the shorter words, so no
/// scale is ever divided by (a zero scale is fine).
template <class T>
void signature_scale_backward_batch(const T* G, const T* sigs, const T* scales, std::size_t B, std::size_t d,
                                    std::size_t depth, T* gs, T* gc, std::size_t threads) {
    const shape s(d, depth);
    const std::size_t m = s.sig_length(), N = s.depth();
    parallel::for_chunks(B, batch_grain(B, threads), threads, [&](std::size_t i0, std::size_t i1) {
        std::vector<T> f(s.size()), h(s.size());
        for (std::size_t i = i0; i < i1; ++i) {
            const T* Gi = G + i * m;
            const T* Si = sigs + i * m;
            scale_factors(scales + i * d, s, f.data());
            h[0] = T(0);
            for (std::size_t j = 0; j < m; ++j) {
                gs[i * m + j] = Gi[j] * f[1 + j];
                h[1 + j] = Gi[j] * Si[j];
            }
            T* g = gc + i * d;
            std::fill(g, g + d, T(0));
            // word = prefix p (level j-1), letter a, suffix q (level k-j)
            for (std::size_t k = 1; k <= N; ++k) {
                const T* hk = h.data() + s.level_offset(k);
                for (std::size_t j = 1; j <= k; ++j) {
                    const std::size_t np = s.level_size(j - 1), nq = s.level_size(k - j);
                    const T* fp = f.data() + s.level_offset(j - 1);
                    const T* fq = f.data() + s.level_offset(k - j);
                    for (std::size_t p = 0; p < np; ++p)
                        for (std::size_t a = 0; a < d; ++a) {
                            const T* hw = hk + (p * d + a) * nq;
                            T acc = T(0);
                            for (std::size_t q = 0; q < nq; ++q)
                                acc += hw[q] * fq[q];
                            g[a] += fp[p] * acc;
                        }
                }
            }
        }
    });
}

// ---- checks ------------------------------------------------------------------------------

/// Checks a signature operand (m,) / (B, m) and a vector operand (dim,) /
/// (B, dim) of the helpers, alike in rank and B, both finite; returns B.
template <class T>
std::size_t check_sig_and_vector(const char* fn, const contiguous<T>& sig, const contiguous<T>& vec,
                                 const char* vec_name, std::size_t dim, std::size_t depth) {
    const std::size_t m = sig_length(dim, depth); // throws for dim or depth 0
    const std::string f(fn);
    if (sig.shape.size() != 1 && sig.shape.size() != 2)
        throw invalid_input(f + ": sigs must have shape (" + std::to_string(m) + ",) or (B, " +
                            std::to_string(m) + "); got shape " + shape_str(sig.shape));
    if (sig.shape.back() != m)
        throw invalid_input(f + ": signatures of dimension " + std::to_string(dim) + " and depth " +
                            std::to_string(depth) + " have length " + std::to_string(m) +
                            "; got sigs of shape " + shape_str(sig.shape));
    std::vector<std::size_t> expect = {dim};
    if (sig.shape.size() == 2) expect.insert(expect.begin(), sig.shape[0]);
    if (vec.shape != expect)
        throw invalid_input(f + ": sigs of shape " + shape_str(sig.shape) + " need " + vec_name +
                            " of shape " + shape_str(expect) + "; got " + shape_str(vec.shape));
    check_finite(sig.data, sig.shape, (f + ": sigs").c_str());
    check_finite(vec.data, vec.shape, (f + ": " + vec_name).c_str());
    return sig.shape.size() == 2 ? sig.shape[0] : 1;
}

/// Checks the incoming gradient of a helper's backward pass: shaped like sigs, finite.
template <class T> void check_helper_grad(const char* fn, const contiguous<T>& g, const contiguous<T>& sig) {
    if (g.shape != sig.shape)
        throw invalid_input(std::string(fn) + ": grad must have the shape of sigs " + shape_str(sig.shape) +
                            "; got " + shape_str(g.shape));
    check_finite(g.data, g.shape, (std::string(fn) + ": grad").c_str());
}

/// Result container of rank 1 or 2 after the operand E (xarray for dynamic rank).
template <class T, class E>
using helper_result_t = std::conditional_t<static_rank<E>() == 2, result_t<T, E, 2>, result_t<T, E, 1>>;

template <class E> constexpr void static_check_helper_rank() {
    constexpr std::size_t R = static_rank<E>();
    static_assert(R == SIZE_MAX || R == 1 || R == 2,
                  "a signature has shape (m,) or (B, m), a segment or scale vector (dim,) or (B, dim)");
}

/// The operands of a helper `sigs (op) vec`, checked (naming `fn` and
/// `vec_name`): contiguous buffers and the batch size B.
template <class T> struct helper_operands {
    template <class ES, class EV>
    helper_operands(const char* fn, const char* vec_name, const xt::xexpression<ES>& sigs,
                    const xt::xexpression<EV>& vec, std::size_t dim, std::size_t depth)
        : a(make_contiguous<T>(sigs)), v(make_contiguous<T>(vec)),
          B(check_sig_and_vector(fn, a, v, vec_name, dim, depth)) {
        static_assert(std::is_same_v<T, real_t<ES>> && std::is_same_v<T, real_t<EV>>,
                      "the signatures and the other operand need one scalar type");
        static_check_helper_rank<ES>();
        static_check_helper_rank<EV>();
    }
    contiguous<T> a, v;
    std::size_t B;
};

/// The front end of a helper `sigs (op) vec`: checks the operands, makes the
/// output shaped like sigs, and hands the contiguous buffers to
/// batch(sigs, vec, B, out).
template <class ES, class EV, class Batch>
auto helper_forward(const char* fn, const char* vec_name, const xt::xexpression<ES>& sigs,
                    const xt::xexpression<EV>& vec, std::size_t dim, std::size_t depth, Batch&& batch) {
    using T = real_t<ES>;
    const helper_operands<T> ops(fn, vec_name, sigs, vec, dim, depth);
    auto out = make_output<helper_result_t<T, ES>>(ops.a.shape, sizeof(T));
    batch(ops.a.data, ops.v.data, ops.B, out.data());
    return out;
}

/// The front end of a helper's backward: as helper_forward, plus a grad
/// shaped like sigs; batch(grad, sigs, vec, B, grad_sigs, grad_vec) fills a
/// pair shaped like (sigs, vec).
template <class EG, class ES, class EV, class Batch>
auto helper_backward(const char* fn, const char* vec_name, const xt::xexpression<EG>& grad,
                     const xt::xexpression<ES>& sigs, const xt::xexpression<EV>& vec, std::size_t dim,
                     std::size_t depth, Batch&& batch) {
    using T = real_t<ES>;
    const auto g = make_contiguous<T>(grad);
    const helper_operands<T> ops(fn, vec_name, sigs, vec, dim, depth);
    check_helper_grad(fn, g, ops.a);
    auto gs = make_output<helper_result_t<T, ES>>(ops.a.shape, sizeof(T));
    auto gv = make_output<helper_result_t<T, EV>>(ops.v.shape, sizeof(T));
    batch(g.data, ops.a.data, ops.v.data, ops.B, gs.data(), gv.data());
    return std::make_pair(std::move(gs), std::move(gv));
}

} // namespace detail

/// The signature of each path extended by one straight segment:
/// S ⊗ exp(segment) (iisignature's `sigjoin`). sigs (m,) or (B, m) hold
/// levels 1..N of signatures in R^dim (level 0 is 1), segments (dim,) or
/// (B, dim) the increments; the result is shaped like sigs. Computed in place
/// by the fused multiply-exponentiate kernel.
/// \throws invalid_input for dim or depth 0, a wrong rank or length, operands
///   that do not match, or a non-finite value (its index is named);
///   size_error when the result would not fit in memory.
template <class ES, class EZ>
[[nodiscard]] auto signature_join(const xt::xexpression<ES>& sigs, const xt::xexpression<EZ>& segments,
                                  std::size_t dim, std::size_t depth, std::size_t threads = 0) {
    return detail::helper_forward("signature_join", "segments", sigs, segments, dim, depth,
                                  [&](const auto* a, const auto* z, std::size_t B, auto* out) {
                                      detail::signature_join_batch(a, z, B, dim, depth, out, threads);
                                  });
}

/// Gradients of <grad, signature_join(sigs, segments)> with respect to sigs
/// and to segments (iisignature's `sigjoinbackprop`): a pair shaped like
/// (sigs, segments); grad is shaped like sigs.
/// \throws as `signature_join`, and for a grad not shaped like sigs.
template <class EG, class ES, class EZ>
[[nodiscard]] auto signature_join_backward(const xt::xexpression<EG>& grad, const xt::xexpression<ES>& sigs,
                                           const xt::xexpression<EZ>& segments, std::size_t dim,
                                           std::size_t depth, std::size_t threads = 0) {
    return detail::helper_backward(
        "signature_join_backward", "segments", grad, sigs, segments, dim, depth,
        [&](const auto* g, const auto* a, const auto* z, std::size_t B, auto* gs, auto* gz) {
            detail::signature_join_backward_batch(g, a, z, B, dim, depth, gs, gz, threads);
        });
}

/// The signature of each path scaled per coordinate (iisignature's
/// `sigscale`): the entry of word i1..ik times c[i1]···c[ik]. sigs (m,) or
/// (B, m), scales (dim,) or (B, dim); the result is shaped like sigs.
/// \throws as `signature_join`.
template <class ES, class EC>
[[nodiscard]] auto signature_scale(const xt::xexpression<ES>& sigs, const xt::xexpression<EC>& scales,
                                   std::size_t dim, std::size_t depth, std::size_t threads = 0) {
    return detail::helper_forward("signature_scale", "scales", sigs, scales, dim, depth,
                                  [&](const auto* a, const auto* c, std::size_t B, auto* out) {
                                      detail::signature_scale_batch(a, c, B, dim, depth, out, threads);
                                  });
}

/// Gradients of <grad, signature_scale(sigs, scales)> with respect to sigs
/// and to scales (iisignature's `sigscalebackprop`): a pair shaped like
/// (sigs, scales). Exact for zero scales (nothing is divided).
/// \throws as `signature_scale`, and for a grad not shaped like sigs.
template <class EG, class ES, class EC>
[[nodiscard]] auto signature_scale_backward(const xt::xexpression<EG>& grad, const xt::xexpression<ES>& sigs,
                                            const xt::xexpression<EC>& scales, std::size_t dim,
                                            std::size_t depth, std::size_t threads = 0) {
    return detail::helper_backward(
        "signature_scale_backward", "scales", grad, sigs, scales, dim, depth,
        [&](const auto* g, const auto* a, const auto* c, std::size_t B, auto* gs, auto* gc) {
            detail::signature_scale_backward_batch(g, a, c, B, dim, depth, gs, gc, threads);
        });
}

} // namespace tensig

// float and double are compiled once, in the library (src/paths/toolbox.cpp).
namespace tensig::detail {
#define TENSIG_TOOLBOX_EXTERN(T)                                                                             \
    extern template void signature_join_batch<T>(const T*, const T*, std::size_t, std::size_t, std::size_t,  \
                                                 T*, std::size_t);                                           \
    extern template void signature_join_backward_batch<T>(const T*, const T*, const T*, std::size_t,         \
                                                          std::size_t, std::size_t, T*, T*, std::size_t);    \
    extern template void signature_scale_batch<T>(const T*, const T*, std::size_t, std::size_t, std::size_t, \
                                                  T*, std::size_t);                                          \
    extern template void signature_scale_backward_batch<T>(const T*, const T*, const T*, std::size_t,        \
                                                           std::size_t, std::size_t, T*, T*, std::size_t);
TENSIG_TOOLBOX_EXTERN(float)
TENSIG_TOOLBOX_EXTERN(double)
#undef TENSIG_TOOLBOX_EXTERN
} // namespace tensig::detail

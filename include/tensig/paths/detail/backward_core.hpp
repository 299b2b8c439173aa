#pragma once
/// \file
/// Backward passes of the path functions on contiguous buffers. Generic in
/// T; float and double are instantiated once in the library.

#include <algorithm>
#include <cstddef>
#include <vector>

#include "tensig/algebra/aligned.hpp"
#include "tensig/algebra/tensor.hpp"
#include "tensig/autodiff/backward.hpp"
#include "tensig/kernels/primitives.hpp"
#include "tensig/paths/detail/core.hpp"
#include "tensig/paths/options.hpp"

namespace tensig {

/// How the backward pass of `signature` gets the prefix signatures it needs.
enum class prefix_mode {
    /// `store` while all prefixes fit in `backward_options::store_budget_bytes`, else `rebuild`.
    automatic,
    /// A_{j-1} = A_j ⊗ exp(-Δ_j): extra memory O(sig_length), independent of the
    /// path length; loses some accuracy on long rough paths (docs/gradients.md).
    rebuild,
    /// Keep what the adjoint needs from the forward pass (each segment's
    /// Horner terms, about one signature's size): exact, memory O(L · sig_length),
    /// and the fastest (the adjoint need not recompute them).
    store
};

/// Options of the backward passes.
struct backward_options {
    prefix_mode prefixes = prefix_mode::automatic;
    /// Memory the `automatic` mode may spend on stored prefixes, per path.
    std::size_t store_budget_bytes = std::size_t(32) << 20;
};

namespace detail {

/// Workspace of the signature's backward pass, reused across a batch.
template <class T> struct backward_workspace {
    explicit backward_workspace(const shape& s) : fwd(s), grad(tensor<T>::unfilled(s)), gz(s.dim()) {}
    path_workspace<T> fwd;
    tensor<T> grad;
    std::vector<T> gz;
    std::vector<T> neg;
    scratch_vector<T> prefixes; // stored Horner terms: written before read
};

/// Step i (0-based, in the order the forward pass multiplies) of the signature
/// of a path with n segments: its segment, and the sign of its increment.
inline std::size_t step_segment(std::size_t i, std::size_t n, bool inverse) {
    return inverse ? n - 1 - i : i;
}

/// Whether the backward pass of a path with n segments stores the forward
/// pass's Horner terms (about one signature's size per segment).
inline bool stores_prefixes(const backward_options& bo, std::size_t n, std::size_t dim, std::size_t depth,
                            std::size_t elem) {
    return bo.prefixes == prefix_mode::store ||
           (bo.prefixes == prefix_mode::automatic &&
            n * kernels::scalar::fmexp_record_size(dim, depth) * elem <= bo.store_budget_bytes);
}

/// The forward half of the backward pass: leaves the signature (levels
/// 0..N) in ws.fwd.acc and, when `store`, every segment's Horner terms in
/// ws.prefixes. When storing, the top level N of the signature is computed
/// only with `signature_wanted`: the backward half reads the records, never
/// level N, and level N's update is most of a forward pass (56% of it for
/// d = 4, N = 6; a quarter for d = 2, N = 12).
template <class T>
void signature_forward_for_backward(const T* path, std::size_t L, std::size_t d, const signature_options& o,
                                    bool store, backward_workspace<T>& ws, bool signature_wanted = true) {
    const shape& s = ws.grad.shape();
    const std::size_t n = segment_count(L, o.basepoint),
                      rec = kernels::scalar::fmexp_record_size(d, s.depth());
    if (store && ws.prefixes.size() < n * rec) ws.prefixes.resize(n * rec);
    auto& A = ws.fwd.acc;
    A.set_unit();
    if (!store) {
        apply_steps(path, d, n, 0, n, o, ws.fwd);
        return;
    }
    for (std::size_t i = 0; i < n;) { // blocks of segments, as apply_steps
        const std::size_t m = std::min(kernels::fmexp_block, n - i), first = i;
        for (std::size_t b = 0; b < m; ++b, ++i)
            segment_increment(path, d, step_segment(i, n, o.inverse), o.basepoint, o.inverse,
                              ws.fwd.delta.data() + b * d);
        kernels::fmexp_many(A.data(), ws.fwd.delta.data(), m, d, s.depth(), ws.prefixes.data() + first * rec,
                            signature_wanted);
    }
}

/// The backward half: from G = ∂L/∂S (levels 1..N) and the state left by
/// signature_forward_for_backward (with the same `store`), write ∂L/∂path
/// (L, d) into `out`. Consumes ws.fwd.acc when rebuilding.
template <class T>
void signature_backward_from(const T* G, const T* path, std::size_t L, std::size_t d,
                             const signature_options& o, bool store, backward_workspace<T>& ws, T* out) {
    const shape& s = ws.grad.shape();
    const std::size_t n = segment_count(L, o.basepoint),
                      rec = kernels::scalar::fmexp_record_size(d, s.depth());
    std::fill(out, out + L * d, T(0));
    auto& A = ws.fwd.acc;
    ws.grad[0] = T(0);
    std::copy(G, G + s.sig_length(), ws.grad.data() + 1);
    if (ws.neg.size() < d) ws.neg.resize(d);
    if (ws.gz.size() < d * kernels::fmexp_block) ws.gz.resize(d * kernels::fmexp_block);
    // ∂L/∂Δ of step i (in gz) into the gradients of the segment's two points
    auto scatter = [&](std::size_t i, const T* gz) {
        const std::size_t seg = step_segment(i, n, o.inverse);
        const std::size_t hi = o.basepoint ? seg : seg + 1;
        const bool from_origin = o.basepoint && seg == 0;
        const T sign = o.inverse ? T(-1) : T(1);
        for (std::size_t c = 0; c < d; ++c) {
            out[hi * d + c] += sign * gz[c];
            if (!from_origin) out[(hi - 1) * d + c] -= sign * gz[c];
        }
    };
    if (store) {
        // blocks of steps, the last first: the records of fmexp_many, read back
        for (std::size_t end = n; end > 0;) {
            const std::size_t m = std::min(kernels::fmexp_block, end), first = end - m;
            for (std::size_t b = 0; b < m; ++b)
                segment_increment(path, d, step_segment(first + b, n, o.inverse), o.basepoint, o.inverse,
                                  ws.fwd.delta.data() + b * d);
            std::fill(ws.gz.begin(), ws.gz.begin() + static_cast<std::ptrdiff_t>(m * d), T(0));
            kernels::fmexp_adjoint_many(ws.grad.data(), ws.gz.data(), ws.prefixes.data() + first * rec,
                                        ws.fwd.delta.data(), m, d, s.depth());
            for (std::size_t b = m; b-- > 0;)
                scatter(first + b, ws.gz.data() + b * d);
            end = first;
        }
        return;
    }
    for (std::size_t i = n; i-- > 0;) {
        segment_increment(path, d, step_segment(i, n, o.inverse), o.basepoint, o.inverse, ws.fwd.delta.data());
        for (std::size_t c = 0; c < d; ++c)
            ws.neg[c] = -ws.fwd.delta[c];
        std::fill(ws.gz.begin(), ws.gz.begin() + static_cast<std::ptrdiff_t>(d), T(0));
        kernels::fmexp(A.data(), ws.neg.data(), d, s.depth()); // A_i -> A_{i-1}
        kernels::fmexp_adjoint(ws.grad.data(), ws.gz.data(), A.data(), ws.fwd.delta.data(), d, s.depth());
        scatter(i, ws.gz.data());
    }
}

/// Gradient (L, d) of <G, signature(path)> with respect to the path, for one
/// path; G holds levels 1..N. `out` is overwritten.
template <class T>
void signature_backward_one(const T* G, const T* path, std::size_t L, std::size_t d,
                            const signature_options& o, const backward_options& bo, backward_workspace<T>& ws,
                            T* out) {
    const bool store =
        stores_prefixes(bo, segment_count(L, o.basepoint), d, ws.grad.shape().depth(), sizeof(T));
    signature_forward_for_backward(path, L, d, o, store, ws, /*signature_wanted=*/false);
    signature_backward_from(G, path, L, d, o, store, ws, out);
}

/// Batched: G (B, sig_length), paths (B, L, d) -> out (B, L, d).
template <class T>
void signature_backward_batch(const T* G, const T* paths, std::size_t B, std::size_t L, std::size_t d,
                              std::size_t depth, const signature_options& o, const backward_options& bo,
                              T* out) {
    const shape s = path_shape(L, d, depth, o.basepoint);
    if (bo.prefixes == prefix_mode::store)
        check_fits_in_memory(checked_mul(segment_count(L, o.basepoint),
                                         kernels::scalar::fmexp_record_size(d, depth), "stored prefixes"),
                             sizeof(T),
                             "the stored prefix signatures of a path of " + std::to_string(L) + " points");
    parallel::for_chunks(B, batch_grain(B, o.threads), o.threads, [&](std::size_t b0, std::size_t b1) {
        backward_workspace<T> ws(s);
        for (std::size_t b = b0; b < b1; ++b)
            signature_backward_one(G + b * s.sig_length(), paths + b * L * d, L, d, o, bo, ws,
                                   out + b * L * d);
    });
}

/// Gradients of <G, s1 ⊗ s2> with respect to flattened signatures s1, s2 (B pairs).
template <class T>
void signature_combine_backward_batch(const T* G, const T* s1, const T* s2, std::size_t B, std::size_t d,
                                      std::size_t depth, T* g1, T* g2) {
    const shape s(d, depth);
    const std::size_t m = s.sig_length();
    parallel::for_chunks(B, batch_grain(B, 0), 0, [&](std::size_t i0, std::size_t i1) {
        tensor<T> a(s), b(s), g(s), ga(s), gb(s);
        for (std::size_t i = i0; i < i1; ++i) {
            a[0] = b[0] = T(1);
            g[0] = T(0);
            std::copy(s1 + i * m, s1 + (i + 1) * m, a.data() + 1);
            std::copy(s2 + i * m, s2 + (i + 1) * m, b.data() + 1);
            std::copy(G + i * m, G + (i + 1) * m, g.data() + 1);
            ga.set_zero();
            gb.set_zero();
            vjp::product(ga.data(), gb.data(), a.data(), b.data(), g.data(), s);
            std::copy(ga.data() + 1, ga.data() + 1 + m, g1 + i * m);
            std::copy(gb.data() + 1, gb.data() + 1 + m, g2 + i * m);
        }
    });
}

/// Gradient of <G, logsignature(path, basis)> for B paths; G is
/// (B, logsig_coordinates(basis)).
template <class T>
void logsignature_backward_batch(const T* G, const T* paths, std::size_t B, std::size_t L, std::size_t d,
                                 std::size_t depth, const signature_options& o, logsig_basis basis,
                                 const backward_options& bo, T* out) {
    const shape s = path_shape(L, d, depth, o.basepoint);
    const auto lb = basis_tables(d, depth, basis);
    const std::size_t m = s.sig_length(), n = logsig_coordinates(s, basis);
    parallel::for_chunks(B, batch_grain(B, o.threads), o.threads, [&](std::size_t b0, std::size_t b1) {
        backward_workspace<T> ws(s);
        tensor<T> gl(s), gs(s);
        std::vector<T> scratch(lb ? lb->size() : 0);
        for (std::size_t b = b0; b < b1; ++b) {
            signature_into(paths + b * L * d, L, d, o, ws.fwd);
            gl[0] = T(0);
            lie::from_tensor_adjoint(lb.get(), basis, G + b * n, m, gl.data() + 1, scratch.data());
            gs.set_zero();
            vjp::log(gs.data(), ws.fwd.acc.data(), gl.data(), s);
            signature_backward_one(gs.data() + 1, paths + b * L * d, L, d, o, bo, ws, out + b * L * d);
        }
    });
}

/// Gradients of <G_b, s_{b,1} ⊗ ... ⊗ s_{b,M}> with respect to every s_{b,j}
/// (out has the shape of sigs, (B, M, sig_length)). The prefix products are
/// kept (M tensors per thread), then the product's VJP runs right to left.
template <class T>
void signature_combine_many_backward_batch(const T* G, const T* sigs, std::size_t B, std::size_t M, std::size_t d,
                                           std::size_t depth, T* out, std::size_t threads = 0) {
    const shape s(d, depth);
    const std::size_t m = s.sig_length(), size = s.size();
    if (M == 0) return; // the unit depends on nothing: an empty gradient
    parallel::for_chunks(B, batch_grain(B, threads), threads, [&](std::size_t i0, std::size_t i1) {
        aligned_vector<T> prefix(M * size);
        tensor<T> b(s), g(s), ga(s), gb(s);
        for (std::size_t i = i0; i < i1; ++i) {
            const T* row = sigs + i * M * m;
            T* grow = out + i * M * m;
            // prefix j = s_1 ⊗ ... ⊗ s_j (j = 0: the unit).
            std::fill(prefix.begin(), prefix.begin() + static_cast<std::ptrdiff_t>(size), T(0));
            prefix[0] = T(1);
            b[0] = T(1);
            for (std::size_t j = 0; j + 1 < M; ++j) {
                std::copy(row + j * m, row + (j + 1) * m, b.data() + 1);
                kernels::product(prefix.data() + (j + 1) * size, prefix.data() + j * size, b.data(), s);
            }
            g[0] = T(0);
            std::copy(G + i * m, G + (i + 1) * m, g.data() + 1);
            for (std::size_t j = M; j-- > 0;) {
                std::copy(row + j * m, row + (j + 1) * m, b.data() + 1);
                ga.set_zero();
                gb.set_zero();
                vjp::product(ga.data(), gb.data(), prefix.data() + j * size, b.data(), g.data(), s);
                std::copy(gb.data() + 1, gb.data() + 1 + m, grow + j * m);
                std::swap(g, ga);
                g[0] = T(0);
            }
        }
    });
}

} // namespace detail
} // namespace tensig

namespace tensig::detail {
#define TENSIG_BACKWARD_CORE_EXTERN(T)                                                                       \
    extern template void signature_backward_batch<T>(const T*, const T*, std::size_t, std::size_t,           \
                                                     std::size_t, std::size_t, const signature_options&,     \
                                                     const backward_options&, T*);                           \
    extern template void signature_combine_backward_batch<T>(const T*, const T*, const T*, std::size_t,      \
                                                             std::size_t, std::size_t, T*, T*);              \
    extern template void logsignature_backward_batch<T>(const T*, const T*, std::size_t, std::size_t,        \
                                                        std::size_t, std::size_t, const signature_options&,  \
                                                        logsig_basis, const backward_options&, T*);  \
    extern template void signature_combine_many_backward_batch<T>(const T*, const T*, std::size_t, std::size_t, \
                                                                  std::size_t, std::size_t, T*, std::size_t);
TENSIG_BACKWARD_CORE_EXTERN(float)
TENSIG_BACKWARD_CORE_EXTERN(double)
#undef TENSIG_BACKWARD_CORE_EXTERN
} // namespace tensig::detail

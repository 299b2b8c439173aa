#pragma once
/// \file
/// Backward passes of the path functions on contiguous buffers. Generic in
/// T; float and double are instantiated once in the library.

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
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

/// The backward pass of one path by prefix lanes (prefix_lanes_backward):
/// at the start of every block of steps (the first one's: after step 0),
/// levels 0..p and the lanes' levels 0..N-p-1; a block's levels 0..p
/// before each step, and gradients. (The
/// lanes' gradient takes the place of the forward's lanes, done with once
/// the checkpoints are kept.)
template <class T> struct prefix_backward_workspace {
    prefix_backward_workspace(const prefix_lanes_workspace<T>& pw, const shape& s, std::size_t n)
        : steps(n), blocks((n + prefix_lanes_block - 1) / prefix_lanes_block),
          R(kernels::scalar::fmexp_lanes_record_size(s.dim(), pw.below) * pw.W), checkpoints(blocks * R),
          tops(blocks * pw.top.size()), step_tops(prefix_lanes_block * pw.top.size()),
          GZ(prefix_lanes_block * s.dim() * pw.W), groot(prefix_lanes_block * (pw.below + 1) * pw.W),
          gtop(pw.top.size()), gz(prefix_lanes_block * s.dim()) {}
    /// Bytes it keeps for a path of n steps (the checkpoints).
    static std::size_t checkpoint_bytes(const prefix_lanes_workspace<T>& pw, const shape& s, std::size_t n) {
        const std::size_t blocks = (n + prefix_lanes_block - 1) / prefix_lanes_block;
        return blocks * (kernels::scalar::fmexp_lanes_record_size(s.dim(), pw.below) * pw.W + pw.top.size()) *
               sizeof(T);
    }
    std::size_t steps, blocks, R; // R: one checkpoint of the lanes
    scratch_vector<T> checkpoints, tops, step_tops, GZ, groot, gtop, gz;
    std::size_t bytes() const {
        return (checkpoints.capacity() + tops.capacity() + step_tops.capacity() + GZ.capacity() +
                groot.capacity() + gtop.capacity() + gz.capacity()) *
               sizeof(T);
    }
};

/// Workspace of the signature's backward pass, reused across a batch.
template <class T> struct backward_workspace {
    explicit backward_workspace(const shape& s) : fwd(s), grad(tensor<T>::unfilled(s)), gz(s.dim()) {}
    path_workspace<T> fwd;
    tensor<T> grad;
    std::vector<T> gz;
    std::vector<T> neg;
    scratch_vector<T> prefixes; // stored Horner terms: written before read
    std::unique_ptr<prefix_backward_workspace<T>> prefix;
    bool fits(const tensig::shape& s) const { return fwd.fits(s); }
    std::size_t bytes() const {
        return fwd.bytes() + (grad.size() + gz.capacity() + neg.capacity() + prefixes.capacity()) * sizeof(T) +
               (prefix ? prefix->bytes() : 0);
    }
};

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
/// only with `signature_wanted` (else ws.fwd.acc's level N holds stale
/// values): the backward half reads the records, never level N, and level
/// N's update is most of a forward pass (56% of it for d = 4, N = 6; a
/// quarter for d = 2, N = 12).
template <class T>
void signature_forward_for_backward(const T* path, std::size_t L, std::size_t d, const signature_options& o,
                                    bool store, backward_workspace<T>& ws, bool signature_wanted = true) {
    const shape& s = ws.grad.shape();
    const std::size_t n = segment_count(L, o.basepoint),
                      rec = kernels::scalar::fmexp_record_size(d, s.depth());
    if (store && ws.prefixes.size() < n * rec) ws.prefixes.resize(n * rec);
    auto& A = ws.fwd.acc;
    if (store && !signature_wanted) { // level N is neither computed nor read: not even cleared
        std::fill(A.data(), A.data() + (s.size() - s.level_size(s.depth())), T(0));
        A[0] = T(1);
    } else
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
    auto scatter = [&](std::size_t i, const T* gz) { scatter_step_gradient(out, i, n, d, o, gz); };
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

/// The forward of prefix_lanes_backward: checkpoints at the start of every
/// block of steps (the last block's steps are not needed), the first one
/// after step 0: exp(z_0), levels 0..p and the lanes' levels 0..N-p-1,
/// whose level 0 (the words of level p, not read by the lanes' kernels)
/// holds the top's level p for the exponential's adjoint. With one block
/// (at most prefix_lanes_block steps) it writes neither ws.fwd.prefix's
/// top nor its lanes.
template <class T>
void prefix_lanes_checkpoints(const T* path, std::size_t L, std::size_t d, const signature_options& o,
                              backward_workspace<T>& ws) {
    auto& pw = *ws.fwd.prefix;
    const shape& s = ws.grad.shape();
    const std::size_t n = segment_count(L, o.basepoint), N = s.depth(), B = prefix_lanes_block,
                      top = pw.top.size();
    if (!ws.prefix || ws.prefix->steps != n) ws.prefix = std::make_unique<prefix_backward_workspace<T>>(pw, s, n);
    auto& bw = *ws.prefix;
    T z0[prefix_lanes_max_dim]; // (the route's d)
    segment_increment(path, d, step_segment(0, n, o.inverse), o.basepoint, o.inverse, z0);
    if (bw.blocks > 1) { // the forward goes on from exp(z_0): all its levels, then a copy
        prefix_lanes_exp_into(pw, pw.top.data(), pw.lanes.data(), z0, d, pw.below);
        std::copy_n(pw.top.data(), top, bw.tops.data());
        std::copy_n(pw.lanes.data(), bw.R, bw.checkpoints.data());
        prefix_lanes_steps(path, d, n, 1, B, o, N, pw);
    } else { // only the checkpoint: levels 0..N-p-1, straight into it
        prefix_lanes_exp_into(pw, bw.tops.data(), bw.checkpoints.data(), z0, d, pw.below - 1);
    }
    for (std::size_t blk = 1; blk < bw.blocks; ++blk) {
        std::copy_n(pw.top.data(), top, bw.tops.data() + blk * top);
        std::copy_n(pw.lanes.data(), bw.R, bw.checkpoints.data() + blk * bw.R);
        if (blk + 1 < bw.blocks) prefix_lanes_steps(path, d, n, blk * B, blk * B + B, o, N, pw);
    }
}

/// The adjoint of prefix_lanes_backward, from its checkpoints and ∂L/∂S in
/// ws.prefix->gtop and the lanes (both consumed); `out` (L, d) is
/// overwritten.
template <class T>
void prefix_lanes_adjoint(const T* path, std::size_t L, std::size_t d, const signature_options& o,
                          backward_workspace<T>& ws, T* out) {
    auto& pw = *ws.fwd.prefix;
    auto& bw = *ws.prefix;
    const std::size_t n = segment_count(L, o.basepoint), N = ws.grad.shape().depth(), W = pw.W, K = pw.below + 1,
                      B = prefix_lanes_block, top = pw.top.size();
    T z0[prefix_lanes_max_dim]; // (the route's d)
    segment_increment(path, d, step_segment(0, n, o.inverse), o.basepoint, o.inverse, z0);
    std::fill(out, out + L * d, T(0));
    T* const grad = pw.lanes.data();
    for (std::size_t blk = bw.blocks; blk-- > 0;) {
        // the block's steps i0..i0+m-1 through the lanes (the first block's from step 1)
        const std::size_t i0 = blk == 0 ? 1 : blk * B, m = std::min(blk * B + B, n) - i0;
        if (m > 0) {
            // the block's increments and roots again, from levels 0..p at its start
            std::copy_n(bw.tops.data() + blk * top, top, pw.top.data());
            prefix_lanes_roots(path, d, n, i0, m, o, N, pw, bw.step_tops.data());
            kernels::fmexp_lanes_backward(bw.checkpoints.data() + blk * bw.R, grad, bw.GZ.data(), pw.Z.data(), m, d,
                                          pw.below, pw.roots.data(), bw.groot.data());
        }
        for (std::size_t i = 0; i < m * d; ++i) { // ∂L/∂z: every lane's
            bw.gz[i] = T(0);
            for (std::size_t l = 0; l < W; ++l)
                bw.gz[i] += bw.GZ[i * W + l];
        }
        for (std::size_t b = m; b-- > 0;) { // and the top's
            kernels::prefix_roots_adjoint(bw.step_tops.data() + b * top, pw.z.data() + b * d, d, pw.p, N,
                                          bw.groot.data() + b * K * W, bw.gtop.data(), bw.gz.data() + b * d);
            scatter_step_gradient(out, i0 + b, n, d, o, bw.gz.data() + b * d);
        }
    }
    // step 0: the gradient of exp(z_0), the lanes' (whose level 0 then holds
    // ∂L/∂(the words of level p)) and the top's
    T* const gz0 = bw.gz.data();
    std::fill_n(gz0, d, T(0));
    kernels::exp_lanes_adjoint(bw.checkpoints.data(), grad, gz0, z0, d, pw.below, pw.p);
    for (std::size_t l = 0; l < W; ++l)
        bw.gtop[top - W + l] += grad[l];
    kernels::scalar::exp_lanes_adjoint(bw.tops.data(), bw.gtop.data(), gz0, z0, d, pw.p, 0, 1);
    scatter_step_gradient(out, 0, n, d, o, gz0);
}

/// The backward pass of one path by prefix lanes (by_prefix_lanes): the
/// forward keeps levels 0..p and the lanes' levels 0..N-p-1 at the start of
/// every block of steps (the first block's: after step 0, below). From the last block back, the block's roots are
/// recomputed from them (kernels::prefix_roots), the lanes' gradient goes
/// through kernels::fmexp_lanes_backward with roots, and
/// ∂L/∂root with ∂L/∂(levels 0..p) through kernels::prefix_roots_adjoint,
/// step by step. ∂L/∂z is the lanes' sum plus the top's. Exact: nothing is
/// rebuilt by inverse steps.
///
/// The first step starts from the unit, so its result is exp(z) (as in
/// signature_into): the first block's checkpoint is the state after it, and
/// its gradient goes through the adjoint of that exponential
/// (kernels::exp_lanes_adjoint, two multiply-adds per value) instead of a
/// fused multiply-exponentiate's (about six for d = 2).
///
/// In three parts, so that a caller whose ∂L/∂S comes from the signature
/// in the lanes' layout (signature_loss) can write it there:
/// prefix_lanes_checkpoints, then ∂L/∂S into ws.prefix->gtop (levels 0..p,
/// level 0 zero) and ws.fwd.prefix->lanes (level 0 zero), then
/// prefix_lanes_adjoint.
template <class T>
void prefix_lanes_backward(const T* G, const T* path, std::size_t L, std::size_t d, const signature_options& o,
                           backward_workspace<T>& ws, T* out) {
    prefix_lanes_checkpoints(path, L, d, o, ws);
    auto& pw = *ws.fwd.prefix;
    auto& bw = *ws.prefix;
    // ∂L/∂S (levels 1..N) in the same layout, the lanes' in place of the forward's
    bw.gtop[0] = T(0);
    std::fill_n(pw.lanes.data(), pw.W, T(0)); // level 0 of the lanes (the words of level p) is the top's
    prefix_lanes_layout(pw, ws.grad.shape(), G, bw.gtop.data(), pw.lanes.data(), false);
    prefix_lanes_adjoint(path, L, d, o, ws, out);
}

/// Fewest levels below p for the backward by prefix lanes. Against the
/// one-path kernels with stored Horner terms (alternated, double, d = 2):
/// N = 12 at par or better (L = 8: 0.97-1.05x the time, L = 20: 0.98-1.03x,
/// L = 100: 0.91x), N = 10 and N = 8 slower (L = 20..100: 1.17-1.41x): the
/// lanes' adjoint at d = 2 takes about 4x its forward. Where it runs, its
/// checkpoints take about 1/32 of the stored terms' memory.
inline constexpr std::size_t prefix_lanes_backward_min_below = 9;

/// Whether the backward of one path of n segments runs by prefix lanes.
template <class T>
bool by_prefix_lanes_backward(std::size_t n, const backward_options& bo, const backward_workspace<T>& ws) {
    return bo.prefixes != prefix_mode::rebuild && by_prefix_lanes(0, n, ws.fwd) &&
           ws.fwd.prefix->below >= prefix_lanes_backward_min_below &&
           (bo.prefixes == prefix_mode::store ||
            prefix_backward_workspace<T>::checkpoint_bytes(*ws.fwd.prefix, ws.grad.shape(), n) <= bo.store_budget_bytes);
}

/// Gradient (L, d) of <G, signature(path)> with respect to the path, for one
/// path; G holds levels 1..N. `out` is overwritten.
template <class T>
void signature_backward_one(const T* G, const T* path, std::size_t L, std::size_t d,
                            const signature_options& o, const backward_options& bo, backward_workspace<T>& ws,
                            T* out) {
    const std::size_t n = segment_count(L, o.basepoint);
    if (by_prefix_lanes_backward(n, bo, ws)) return prefix_lanes_backward(G, path, L, d, o, ws, out);
    const bool store =
        stores_prefixes(bo, segment_count(L, o.basepoint), d, ws.grad.shape().depth(), sizeof(T));
    signature_forward_for_backward(path, L, d, o, store, ws, /*signature_wanted=*/false);
    signature_backward_from(G, path, L, d, o, store, ws, out);
}

/// Steps of one chunk of the backward pass in lanes (paths of n steps): the
/// spacing of its checkpoints, for lanes_backward_workspace and whoever
/// hands it checkpoints. kernels::fmexp_lanes_backward keeps the state
/// (levels 0..N-1 of every lane) at the start of each of the chunk's
/// passes, and those take about 256 KiB, so they stay in the L2 cache
/// between the forward sweep that writes them and the passes that read
/// them. A multiple of the segments of a pass, so no chunk ends in a short
/// pass.
///
/// Where a state is large (such a chunk at most lanes_every_pass_max_passes
/// passes) and a checkpoint at every pass fits lanes_every_pass_bytes in
/// all, the chunk is one pass: the sweep keeps every pass's start, and the
/// chunks run no forward steps of their own. Those steps had been, by
/// count, 3.7% ((128,128,4,6)), 3.8% ((32,256,8,4)) and 8.3% ((64,64,2,10))
/// of the backward's multiply-adds. Three alternations (6-12 rounds each,
/// bench/ab.py) measured 0.97-1.02, 0.96-1.04 and 0.89-0.95 the time: the
/// first two within this machine's noise, the checkpoints (2.4-2.8 MB) now
/// in L3 rather than L2, the third a gain. With a
/// small state (the float grid's, L = 10000) a pass per call took 3.5-5.8x
/// the time: each call gathers its increments lane by lane.
///
/// Up to 64 passes (states from 4 KiB) since the long path's pieces run at
/// depth N-1: (1,10000,3,5), whose 7.7 KB states had chunks of 33 passes,
/// keeps 2.4 MB of checkpoints. Alternated (8 and 6 rounds): 1.01x
/// (0.91-1.04) while the machine ran at its usual speed, 0.41x (0.41-0.45)
/// while it ran the 33-pass chunks at half that speed; the every-pass
/// sweep held 0.75-1.0 ms throughout. The float grid's chunks stay as they
/// were (their checkpoints would take 11-43 MB).
inline constexpr std::size_t lanes_every_pass_max_passes = 64;
inline constexpr std::size_t lanes_every_pass_bytes = std::size_t(4) << 20;

template <class T> std::size_t lanes_chunk_steps(const shape& s, std::size_t W, std::size_t n) {
    const std::size_t pass = kernels::lanes_backward_segments(s.dim());
    const std::size_t state_bytes = lanes_record_values(s, W) * sizeof(T),
                      passes = std::max<std::size_t>(1, (std::size_t(256) << 10) / state_bytes);
    if (passes <= lanes_every_pass_max_passes && (n + pass - 1) / pass * state_bytes <= lanes_every_pass_bytes)
        return pass;
    return passes * pass;
}

/// Workspace of the backward pass in lanes (kernels::fmexp_lanes_backward):
/// the forward sweep's (for the checkpoints), the interleaved gradient, the
/// increments of one chunk and their gradients, and the checkpoints (levels
/// 0..N-1 at the start of every chunk of paths of n steps), by default with
/// lanes_chunk_steps' chunks; with own_checkpoints false, none are kept
/// (the caller hands them in, spaced by `chunk`).
template <class T> struct lanes_backward_workspace {
    lanes_backward_workspace(const shape& s, std::size_t W, std::size_t n)
        : lanes_backward_workspace(s, W, n, lanes_chunk_steps<T>(s, W, n), true) {}
    lanes_backward_workspace(const shape& s, std::size_t W, std::size_t n, std::size_t chunk_steps,
                             bool own_checkpoints)
        : lanes(W), R(lanes_record_values(s, W)), chunk(chunk_steps),
          span(chunk == kernels::lanes_backward_segments(s.dim()) ? std::max(chunk, lanes_increment_block)
                                                                           : chunk),
          fwd(s, W), grad(s.size() * W), Z(span * s.dim() * W), GZ(span * s.dim() * W),
          checkpoints(own_checkpoints ? (n + chunk - 1) / chunk * R : 0) {}
    // span: the steps of one call of the adjoint kernel, a multiple of the
    // chunk; several chunks where each pass has its checkpoint (the kernel
    // reads them all: fmexp_lanes_backward's `states`), else one
    std::size_t lanes, R, chunk, span;
    lanes_workspace<T> fwd;
    // each written before it is read (lanes_backward): clearing them had been
    // 5% of a long batch's backward
    scratch_vector<T> grad, Z, GZ;
    scratch_vector<T> checkpoints; // written before read
};

/// Adds to `out` the gradients of <G_l, signature of lane l> for the lanes of
/// `src` (G_l, levels 1..N, at G + l*gstride; lanes >= count have none),
/// together, one per SIMD lane (src.scatter places them). The adjoint
/// needs levels 0..N-1 before every step: a first sweep (lanes_signatures at
/// depth N-1) keeps them at the start of every chunk of ws.chunk steps
/// (checkpoints); then, from the last
/// chunk to the first, kernels::fmexp_lanes_backward runs the chunk's
/// adjoint from its checkpoint. With `checkpoints` (from lanes_signatures
/// with every = ws.chunk, on the same source), the first pass is skipped.
/// With `fresh` (separate paths with at least one step: lane_paths), `out`
/// is written rather than added to, every point as its gradient is first
/// scattered (lanes_scatter), so it need not be cleared.
template <class T, class Source>
void lanes_backward(const Source& src, const T* G, std::size_t gstride, std::size_t count, const shape& s,
                    lanes_backward_workspace<T>& ws, T* out, const T* checkpoints = nullptr, bool fresh = false) {
    const std::size_t W = ws.lanes, n = src.steps(), m = s.sig_length(), d = s.dim(), R = ws.R, C = ws.chunk;
    if (!checkpoints) { // levels 0..N-1 only: a sweep at depth N-1
        lanes_signatures(src, s, ws.fwd, ws.checkpoints.data(), C, s.depth() - 1, /*to_end=*/false);
        checkpoints = ws.checkpoints.data();
    }
    // level 0 has no gradient; the lanes past count have none either
    std::fill(ws.grad.begin(), count < W ? ws.grad.end() : ws.grad.begin() + static_cast<std::ptrdiff_t>(W), T(0));
    interleave_lanes(G, gstride, count, m, W, ws.grad.data() + W);
    const std::size_t span = ws.span, states = span > C ? R : 0;
    for (std::size_t chunk_end = n; chunk_end > 0;) {
        const std::size_t chunk_first = chunk_end > span ? (chunk_end - span + C - 1) / C * C : 0,
                          steps = chunk_end - chunk_first;
        lanes_increments(src, chunk_first, steps, d, W, ws.Z.data());
        kernels::fmexp_lanes_backward(checkpoints + chunk_first / C * R, ws.grad.data(), ws.GZ.data(), ws.Z.data(),
                                      steps, d, s.depth(), static_cast<const T*>(nullptr), static_cast<T*>(nullptr),
                                      states);
        lanes_scatter(src, chunk_first, steps, d, W, ws.GZ.data(), out, fresh); // into the points
        chunk_end = chunk_first;
    }
}

/// Whether the backward pass of paths of shape s (B of them, prefixes
/// stored) runs in lanes: whenever the forward pass does. Without records
/// (kernels::fmexp_lanes_backward) the lanes win or tie on every shape
/// measured, up to (B, L, d, N) = (64, 128, 5, 6) and (32, 32, 16, 4)
/// (docs/benchmarks-history.md, session 8).
template <class T> bool backward_in_lanes(const shape& s, std::size_t B) { return use_lanes<T>(s, B); }

template <class T>
void signature_combine_many_backward_batch(const T* G, const T* sigs, std::size_t B, std::size_t M, std::size_t d,
                                           std::size_t depth, T* out, std::size_t threads = 0);

/// The backward pass of one long path by pieces (as signature_long): the
/// pieces' signatures, the gradient of <G, P_0 ⊗ ... ⊗ P_{K-1}> with respect
/// to each piece (signature_combine_many_backward_batch), then each group of
/// pieces backward in lanes, groups in parallel.
///
/// The pieces are needed at levels 0..N-1 only: a word v of level >= 1 of
/// piece k enters the product's words u v t with |u| + |t| <= N - 1, so
/// ∂<G, product>/∂P_k[v] involves the other pieces' levels up to N-1 alone,
/// and level N of any piece enters only the gradients' level 0, which is
/// dropped. So their sweep runs at depth N-1 (level N left zero), as the
/// backward's checkpoints need: (d, N) = (3, 5) costs 174 multiply-adds
/// per step there instead of 537.
template <class T>
void signature_backward_long(const T* G, const T* path, std::size_t L, std::size_t d, const shape& s,
                             const signature_options& o, const backward_options& bo, T* out) {
    const std::size_t n = segment_count(L, o.basepoint), size = s.size(), m = s.sig_length();
    const auto [pieces, W] = long_path_pieces<T>(n, s);
    aligned_vector<T> P(pieces * size), flat(pieces * m), gP(pieces * m);
    // The pieces' forward pass keeps the backward pass's checkpoints (the
    // chunks of lanes_backward_workspace), so lanes_backward skips its own
    // forward pass, when all groups' checkpoints at once fit the stored
    // prefixes' budget (they grow with the path: a few KB per step at
    // most); else each group's lanes_backward makes its own. Their spacing
    // counts every group's steps, as all of them may be kept at once (a
    // checkpoint at every pass only where all of those fit the caches).
    const std::size_t groups = pieces / W, steps = (n + pieces - 1) / pieces,
                      C = lanes_chunk_steps<T>(s, W, groups * steps),
                      per_group = (steps + C - 1) / C * lanes_record_values(s, W);
    const bool keep = bo.prefixes == prefix_mode::store ||
                      groups * per_group <= bo.store_budget_bytes / sizeof(T);
    scratch_vector<T> checkpoints(keep ? groups * per_group : 0); // written before read
    piece_signatures(path, d, n, pieces, W, s, o, P.data(), keep ? checkpoints.data() : nullptr, C, per_group,
                     s.depth() - 1);
    for (std::size_t p = 0; p < pieces; ++p) // levels 1..N, as signature_combine_many takes them
        std::copy(P.data() + p * size + 1, P.data() + (p + 1) * size, flat.data() + p * m);
    signature_combine_many_backward_batch(G, flat.data(), 1, pieces, d, s.depth(), gP.data(), o.threads);
    std::fill(out, out + L * d, T(0));
    // each group adds into its own gradient over the points its pieces
    // touch, summed in a fixed order: the same bits for any thread count
    std::vector<aligned_vector<T>> grads(groups);
    std::vector<std::size_t> lo(groups);
    parallel::for_chunks(groups, 1, o.threads, [&](std::size_t g0, std::size_t g1) {
        lanes_backward_workspace<T> ws(s, W, steps, C, !keep);
        for (std::size_t grp = g0; grp < g1; ++grp) {
            lane_pieces<T> src(path, d, n, grp * W, pieces, W, &o);
            const auto [first, last] = src.points();
            src.point0 = lo[grp] = first;
            grads[grp].assign((last - first + 1) * d, T(0));
            lanes_backward(src, gP.data() + grp * W * m, m, W, s, ws, grads[grp].data(),
                           keep ? checkpoints.data() + grp * per_group : nullptr);
        }
    });
    for (std::size_t grp = 0; grp < groups; ++grp)
        for (std::size_t i = 0; i < grads[grp].size(); ++i)
            out[lo[grp] * d + i] += grads[grp][i];
}

/// Batched: G (B, sig_length), paths (B, L, d) -> out (B, L, d). Groups of
/// kernels::lanes<T>() paths run together in lanes when the shape allows
/// (use_lanes) and the prefixes are stored (their records are smaller than
/// the one-path route's), the rest one by one.
template <class T>
void signature_backward_batch(const T* G, const T* paths, std::size_t B, std::size_t L, std::size_t d,
                              std::size_t depth, const signature_options& o, const backward_options& bo,
                              T* out) {
    const shape s = path_shape(L, d, depth, o.basepoint);
    const std::size_t n = segment_count(L, o.basepoint), m = s.sig_length();
    if (bo.prefixes == prefix_mode::store)
        check_fits_in_memory_lazy(
            checked_mul(n, kernels::scalar::fmexp_record_size(d, depth), "stored prefixes"), sizeof(T),
            [&] { return "the stored prefix signatures of a path of " + std::to_string(L) + " points"; });
    const bool lanes_ok = backward_in_lanes<T>(s, B) && stores_prefixes(bo, n, d, depth, sizeof(T));
    if (B == 1 && by_pieces<T>(n, s) && backward_in_lanes<T>(s, kernels::lanes<T>()) &&
        bo.prefixes != prefix_mode::rebuild) {
        signature_backward_long(G, paths, L, d, s, o, bo, out);
        return;
    }
    const std::size_t W = lanes_ok ? kernels::lanes<T>() : 1;
    const std::size_t groups = W > 1 ? B / W : 0, singles = B - groups * W, units = groups + singles;
    parallel::for_chunks(units, batch_grain(units, o.threads), o.threads, [&](std::size_t u0, std::size_t u1) {
        std::unique_ptr<lanes_backward_workspace<T>> lanes;
        std::optional<thread_workspace<backward_workspace<T>>> ws;
        for (std::size_t u = u0; u < u1; ++u) {
            if (u < groups) {
                if (!lanes) lanes = std::make_unique<lanes_backward_workspace<T>>(s, W, n);
                // (fresh: each point written when first touched, so no clearing of the
                // group's gradients first, which had been 11% of a long batch's backward)
                if (n == 0) std::fill(out + u * W * L * d, out + (u + 1) * W * L * d, T(0));
                lanes_backward(lane_paths<T>{paths + u * W * L * d, W, L, d, n, &o}, G + u * W * m, m, W, s,
                               *lanes, out + u * W * L * d, static_cast<const T*>(nullptr), true);
            } else {
                if (!ws) ws.emplace(s);
                const std::size_t b = groups * W + (u - groups);
                signature_backward_one(G + b * m, paths + b * L * d, L, d, o, bo, **ws, out + b * L * d);
            }
        }
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

/// One thread's buffers for the log's backward (logsignature_backward_batch):
/// a signature, ∂L/∂log and ∂L/∂S, and vjp::log's scratch, kept between
/// calls on one shape (thread_workspace).
template <class T> struct log_backward_workspace {
    explicit log_backward_workspace(const shape& s)
        : x(tensor<T>::unfilled(s)), gl(tensor<T>::unfilled(s)), gs(tensor<T>::unfilled(s)),
          scratch(vjp::log_scratch_size(s)) {}
    tensor<T> x, gl, gs;
    scratch_vector<T> scratch;
    bool fits(const shape& s) const { return x.shape() == s; }
    std::size_t bytes() const { return (3 * x.size() + scratch.capacity()) * sizeof(T); }
};

/// Gradient of <G, logsignature(path, basis)> for B paths; G is
/// (B, logsig_coordinates(basis)). A bounded number of paths at a time
/// (signatures_chunk, as logsignature_batch): their signatures
/// (signature_batch), then each one's ∂L/∂S in its place (the basis's
/// adjoint and vjp::log), then signature_backward_batch on them, so that
/// the paths run the signature's own routes (lanes, pieces, prefix lanes)
/// both ways. (One path at a time by the one-path routes, it had taken
/// 82 ms on (128, 128, 4, 6) against 29 ms for signature_backward.)
template <class T>
void logsignature_backward_batch(const T* G, const T* paths, std::size_t B, std::size_t L, std::size_t d,
                                 std::size_t depth, const signature_options& o, logsig_basis basis,
                                 const backward_options& bo, T* out) {
    const shape s = path_shape(L, d, depth, o.basepoint);
    const auto lb = basis_tables(d, depth, basis);
    const std::size_t m = s.sig_length(), n = logsig_coordinates(s, basis), chunk = signatures_chunk<T>(m);
    scratch_vector<T> sigs(std::min(B, chunk) * m); // the signatures, then ∂L/∂S (written before read)
    for (std::size_t b0 = 0; b0 < B; b0 += chunk) {
        const std::size_t count = std::min(chunk, B - b0);
        signature_batch(paths + b0 * L * d, count, L, d, depth, o, sigs.data());
        const auto log_backward = [&](std::size_t i0, std::size_t i1) { // rows i0..i1 of the chunk
            thread_workspace<log_backward_workspace<T>> ws(s);
            tensor<T>&x = ws->x, &gl = ws->gl, &gs = ws->gs;
            std::vector<T> scratch(lb ? lb->size() : 0);
            for (std::size_t i = i0; i < i1; ++i) {
                T* row = sigs.data() + i * m;
                x[0] = T(1);
                std::copy(row, row + m, x.data() + 1);
                gl[0] = T(0);
                lie::from_tensor_adjoint(lb.get(), basis, G + (b0 + i) * n, m, gl.data() + 1, scratch.data());
                gs.set_zero();
                vjp::log(gs.data(), x.data(), gl.data(), s, ws->scratch.data());
                std::copy(gs.data() + 1, gs.data() + 1 + m, row);
            }
        };
        parallel::for_chunks(count, batch_grain(count, o.threads), o.threads, log_backward);
        signature_backward_batch(sigs.data(), paths + b0 * L * d, count, L, d, depth, o, bo,
                                 out + b0 * L * d);
    }
}

/// Gradients of <G_b, s_{b,1} ⊗ ... ⊗ s_{b,M}> with respect to every s_{b,j}
/// (out has the shape of sigs, (B, M, sig_length)). The prefix products are
/// kept (M tensors per thread), then the product's VJP runs right to left.
template <class T>
void signature_combine_many_backward_batch(const T* G, const T* sigs, std::size_t B, std::size_t M, std::size_t d,
                                           std::size_t depth, T* out, std::size_t threads) {
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

#pragma once
/// \file
/// The path functions on contiguous row-major buffers: what the typed
/// front-ends of paths/signature.hpp call. Generic in T; float and double are
/// instantiated once in the library (src/paths/signature.cpp).

#include <algorithm>
#include <cassert>
#include <utility>
#include <cmath>
#include <memory>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "tensig/algebra/lie.hpp"
#include "tensig/algebra/scalar_traits.hpp"
#include "tensig/algebra/tensor.hpp"
#include "tensig/error.hpp"
#include "tensig/expr/evaluate.hpp"
#include "tensig/kernels/ops.hpp"
#include "tensig/kernels/primitives.hpp"
#include "tensig/parallel/parallel.hpp"
#include "tensig/paths/options.hpp"
#include "tensig/shape/lyndon.hpp"
#include "tensig/shape/shape.hpp"

namespace tensig::detail {

/// Whether the n values at p are all finite (kernels::all_finite for float
/// and double).
template <class T> bool all_finite_values(const T* p, std::size_t n) {
    if constexpr (std::is_floating_point_v<T>)
        return kernels::all_finite(p, n);
    else {
        for (std::size_t i = 0; i < n; ++i)
            if (!scalar_traits<T>::is_finite(p[i])) return false;
        return true;
    }
}

/// Throw invalid_input naming the first non-finite value of a row-major
/// array of the given shape, with its multi-index.
template <class T> void check_finite(const T* p, const std::vector<std::size_t>& shape, const char* what) {
    std::size_t n = 1;
    for (auto k : shape)
        n *= k;
    if (all_finite_values(p, n)) return; // fast path; else find the first culprit
    for (std::size_t i = 0; i < n; ++i) {
        if (scalar_traits<T>::is_finite(p[i])) continue;
        const double v = scalar_traits<T>::value(p[i]);
        std::vector<std::size_t> index(shape.size());
        for (std::size_t r = shape.size(), rest = i; r-- > 0;) {
            index[r] = rest % shape[r];
            rest /= shape[r];
        }
        std::string at;
        for (std::size_t r = 0; r < index.size(); ++r)
            at += (r ? ", " : "") + std::to_string(index[r]);
        throw invalid_input(std::string(what) + " has a non-finite value (" + std::to_string(v) +
                            ") at index (" + at + ")");
    }
}

/// Shape checks of the functions on flattened signatures.
inline shape signature_shape(std::size_t dim, std::size_t depth, const char* what) {
    if (depth == 0) throw invalid_input(std::string(what) + ": depth must be at least 1 (got 0)");
    if (dim == 0) throw invalid_input(std::string(what) + ": dimension must be at least 1 (got 0)");
    return shape(dim, depth);
}

/// The prepared Lyndon tables a basis needs (null for expanded).
inline std::shared_ptr<const lie_basis> basis_tables(std::size_t d, std::size_t depth, logsig_basis basis) {
    if (basis == logsig_basis::expanded) return nullptr;
    return lie_basis::get(d, depth);
}

/// Length of a log-signature in `basis`: sig_length for expanded,
/// logsig_length (Witt's formula) for words and lyndon.
inline std::size_t logsig_coordinates(const shape& s, logsig_basis basis) {
    return basis == logsig_basis::expanded ? s.sig_length() : logsig_length(s.dim(), s.depth());
}

/// Shape checks shared by every path function.
inline shape path_shape(std::size_t L, std::size_t d, std::size_t depth, bool basepoint) {
    if (depth == 0) throw invalid_input("depth must be at least 1 (got 0)");
    if (d == 0) throw invalid_input("path dimension must be at least 1 (got 0 coordinates per point)");
    if (L == 0 && !basepoint) throw invalid_input("path is empty (0 points)");
    return shape(d, depth);
}

/// Rows l < count of dst (row l at dst + l*stride, n values) from the
/// interleaved src (value i of lane l at src[i*W + l]), and back. With the
/// kernels' lanes, by their register tiles (kernels::deinterleave); else
/// value by value.
template <class T>
void deinterleave_lanes(const T* src, std::size_t W, std::size_t count, std::size_t n, T* dst, std::size_t stride) {
    if (W == kernels::lanes<T>()) return kernels::deinterleave(src, count, n, dst, stride);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t l = 0; l < count; ++l)
            dst[l * stride + i] = src[i * W + l];
}

template <class T>
void interleave_lanes(const T* src, std::size_t stride, std::size_t count, std::size_t n, std::size_t W, T* dst) {
    if (W == kernels::lanes<T>()) return kernels::interleave(src, stride, count, n, dst);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t l = 0; l < count; ++l)
            dst[i * W + l] = src[l * stride + i];
}

/// Prefix lanes (below): the largest d, the fewest levels below p, the
/// least work (steps times the signature's size) of a call that takes the
/// route, and the steps per block. Measured against the one-path kernels
/// (one path, double, AVX-512 lanes, alternated): d = 2 wins from N = 8 on
/// long paths (L = 100: 0.85x the time) and from N = 10 on short ones (L = 8:
/// N = 12 0.70x, N = 10 0.99x, N = 8 1.17x; N = 12 with one segment 1.07x);
/// d = 4 lost everywhere (L = 8, N = 4..6: 1.04-2.9x; L = 100, N = 5:
/// 1.43x), where the one-path rows of 4 values fill AVX2 registers.
inline constexpr std::size_t prefix_lanes_max_dim = 2;
inline constexpr std::size_t prefix_lanes_min_below = 5;
inline constexpr std::size_t prefix_lanes_min_work = std::size_t(1) << 14;
inline constexpr std::size_t prefix_lanes_block = 16;

/// Prefix lanes: one path's fmexp in SIMD lanes, one word w of a level p
/// per lane. Below w, the words w u of levels p+1..N advance as one lane of
/// kernels::fmexp_lanes of depth N - p whose chains start from their partial
/// sums at w (its roots, horner::prefix_chains); the increments are the same
/// in every lane. The d^p words of level p are the W = kernels::lanes lanes,
/// so d^p = W: d a power of two (d = 2 where it is measured faster).
/// Every multiply-add below level p is a full register, where the one-path
/// kernels' rows of d values are short for small d. Levels 0..p stay in the
/// usual layout; the rest is interleaved for the route and back.
/// Returns p, or 0 where the route does not apply.
template <class T> std::size_t prefix_lanes_level(const shape& s) {
    const std::size_t W = kernels::lanes<T>(), d = s.dim(), N = s.depth();
    if (W < 2 || d < 2 || d > prefix_lanes_max_dim) return 0;
    std::size_t p = 0, words = 1;
    while (words < W) {
        words *= d;
        ++p;
    }
    if (words != W || N < p + prefix_lanes_min_below || N - p >= kernels::horner::lanes_max_depth) return 0;
    return p;
}

/// The state of the prefix lanes route (part of a path_workspace).
template <class T> struct prefix_lanes_workspace {
    prefix_lanes_workspace(const shape& s, std::size_t level)
        : p(level), W(kernels::lanes<T>()), below(s.depth() - level), lane_size(shape(s.dim(), below).size()),
          top(s.level_offset(level + 1)), lanes(W * lane_size), Z(prefix_lanes_block * s.dim() * W),
          roots(prefix_lanes_block * (below + 1) * W), z((prefix_lanes_block + 1) * s.dim()) {}
    std::size_t p, W, below, lane_size; // W words of level p; levels below it; coefficients per lane
    std::vector<T> top;                 // levels 0..p
    scratch_vector<T> lanes;            // W interleaved lanes, levels 0..N-p
    scratch_vector<T> Z;                // a block of increments, each coordinate in every lane
    scratch_vector<T> roots;            // the chains' partial sums at level p, per step of a block
    std::vector<T> z;                   // the block's increments, then the first step's (prefix_lanes_from_start)
    std::size_t bytes() const {
        return (top.capacity() + lanes.capacity() + Z.capacity() + roots.capacity() + z.capacity()) * sizeof(T);
    }
};

/// Workspace of one-path work: the running signature (unfilled: every user
/// sets it first) and a block of increments; the prefix lanes' state where
/// the shape takes that route. Reused across the paths of a batch, and
/// across calls by a thread (thread_workspace), so the per-segment loop
/// never allocates. Every buffer is written before it is read.
template <class T> struct path_workspace {
    explicit path_workspace(const shape& s)
        : acc(tensor<T>::unfilled(s)), delta(s.dim() * kernels::fmexp_block), lanes(kernels::lanes<T>()) {
        if (const std::size_t p = prefix_lanes_level<T>(s)) prefix = std::make_unique<prefix_lanes_workspace<T>>(s, p);
    }
    tensor<T> acc;
    std::vector<T> delta;
    std::unique_ptr<prefix_lanes_workspace<T>> prefix;
    std::size_t lanes; // the kernels' lanes it was laid out for (kernels::force_arch may change them)
    /// Whether it serves a call on shape s with the kernels in use.
    bool fits(const tensig::shape& s) const { return acc.shape() == s && lanes == kernels::lanes<T>(); }
    std::size_t bytes() const {
        return (acc.size() + delta.capacity()) * sizeof(T) + (prefix ? prefix->bytes() : 0);
    }
};

/// Largest workspace a thread keeps between calls (thread_workspace).
inline constexpr std::size_t thread_workspace_bytes = std::size_t(1) << 20;

/// A workspace (path_workspace, backward_workspace, ...) for one call on
/// shape s: the calling thread's kept one when it has that shape, else a
/// new one. The thread keeps it afterwards if it is at most
/// thread_workspace_bytes, so that calls on one small shape, one path at
/// a time, allocate and fault in their buffers once: for one path of
/// (L, d, N) = (8, 2, 12) that was a tenth of the call. While in use it is
/// out of the thread's slot, so a nested call gets its own. A thread so
/// keeps at most 1 MiB per workspace type and scalar (path and backward,
/// float and double), until it exits.
template <class WS> class thread_workspace {
public:
    explicit thread_workspace(const shape& s) {
        std::unique_ptr<WS>& kept = slot();
        if (kept && kept->fits(s))
            ws_ = std::move(kept);
        else
            ws_ = std::make_unique<WS>(s);
    }
    ~thread_workspace() {
        if (ws_->bytes() <= thread_workspace_bytes) slot() = std::move(ws_);
    }
    thread_workspace(const thread_workspace&) = delete;
    thread_workspace& operator=(const thread_workspace&) = delete;
    WS& operator*() { return *ws_; }
    WS* operator->() { return ws_.get(); }

private:
    static std::unique_ptr<WS>& slot() {
        thread_local std::unique_ptr<WS> kept;
        return kept;
    }
    std::unique_ptr<WS> ws_;
};

/// Number of segments of a path of L points.
inline std::size_t segment_count(std::size_t L, bool basepoint) {
    return basepoint ? L : (L == 0 ? 0 : L - 1);
}

/// The increment of segment `seg` (reversed: negated) into `delta`:
/// Δ_seg = x_hi - x_{hi-1}, with the origin before the first point under basepoint.
template <class T>
void segment_increment(const T* path, std::size_t d, std::size_t seg, bool basepoint, bool reversed,
                       T* delta, std::size_t stride = 1) {
    const std::size_t hi = basepoint ? seg : seg + 1;
    for (std::size_t c = 0; c < d; ++c) {
        const T end = path[hi * d + c];
        const T start = (basepoint && seg == 0) ? T(0) : path[(hi - 1) * d + c];
        delta[c * stride] = reversed ? T(start - end) : T(end - start);
    }
}

/// Step i (0-based, in the order the forward pass multiplies) of the signature
/// of a path with n segments: its segment, and the sign of its increment.
inline std::size_t step_segment(std::size_t i, std::size_t n, bool inverse) {
    return inverse ? n - 1 - i : i;
}

/// ∂L/∂Δ of step i (gz, d values) into the gradients of the segment's two
/// points in `out` (L, d), or, with point0, in out holding points point0 on.
template <class T>
void scatter_step_gradient(T* out, std::size_t i, std::size_t n, std::size_t d, const signature_options& o,
                           const T* gz, std::size_t point0 = 0, std::size_t gstride = 1) {
    const std::size_t seg = step_segment(i, n, o.inverse);
    const std::size_t hi = (o.basepoint ? seg : seg + 1) - point0;
    const bool from_origin = o.basepoint && seg == 0;
    const T sign = o.inverse ? T(-1) : T(1);
    for (std::size_t c = 0; c < d; ++c) {
        out[hi * d + c] += sign * gz[c * gstride];
        if (!from_origin) out[(hi - 1) * d + c] -= sign * gz[c * gstride];
    }
}

/// ws.acc <- ws.acc ⊗ exp(Δ) for segment `seg` of the path (in the given
/// direction): Δ_seg = x_{seg} - x_{seg-1} with x_{-1} = 0 under basepoint.
template <class T>
void apply_segment(const T* path, std::size_t d, std::size_t seg, bool basepoint, bool reversed,
                   path_workspace<T>& ws) {
    const shape& s = ws.acc.shape();
    segment_increment(path, d, seg, basepoint, reversed, ws.delta.data());
    kernels::fmexp(ws.acc.data(), ws.delta.data(), d, s.depth());
}

/// A tensor's levels 1..N (A1: a signature as it is returned) into the
/// prefix lanes' layout, top (levels 0..p; level 0 left as it is) and lanes
/// (level p + j is row w, a word of level p, of d^j values per word: lane
/// w's level j), or back (out).
/// (R: T, or const T for the way in.)
template <class T, class R>
void prefix_lanes_layout(const prefix_lanes_workspace<T>& pw, const shape& s, R* A1, T* top, T* lanes, bool out) {
    const std::size_t W = pw.W, d = s.dim();
    if (!out) std::copy(A1, A1 + pw.top.size() - 1, top + 1);
    if constexpr (!std::is_const_v<R>)
        if (out) std::copy(top + 1, top + pw.top.size(), A1);
    for (std::size_t j = 1, n_j = d, lane_off = 1; j <= pw.below; lane_off += n_j, n_j *= d, ++j) {
        R* rows = A1 + (s.level_offset(pw.p + j) - 1);
        T* l = lanes + lane_off * W;
        if (!out) interleave_lanes(static_cast<const T*>(rows), n_j, W, n_j, W, l);
        if constexpr (!std::is_const_v<R>)
            if (out) deinterleave_lanes(static_cast<const T*>(l), W, W, n_j, rows, n_j);
    }
}

/// The prefix lanes' state from the tensor A (levels 0..N at A1 - 1), or
/// its levels 1..N into A1 (out).
template <class T> void prefix_lanes_move(prefix_lanes_workspace<T>& pw, const shape& s, T* A1, bool out) {
    if (!out) pw.top[0] = A1[-1];
    prefix_lanes_layout(pw, s, A1, pw.top.data(), pw.lanes.data(), out);
}

/// exp(z) in the prefix lanes' layout, into top (levels 0..p) and lanes
/// (levels 0..depth, depth <= N-p: level 0 holds level p, the words from
/// which kernels::exp_lanes derives the rest).
template <class T>
void prefix_lanes_exp_into(const prefix_lanes_workspace<T>& pw, T* top, T* lanes, const T* z, std::size_t d,
                           std::size_t depth) {
    top[0] = T(1);
    kernels::scalar::exp_lanes(top, z, d, pw.p, 0, 1); // one lane: exp(z)'s levels 1..p
    std::copy_n(top + (pw.top.size() - pw.W), pw.W, lanes);
    kernels::exp_lanes(lanes, z, d, depth, pw.p);
}

/// The prefix lanes' state set to exp(z) (d values), a path's state after
/// its first step: level j of top is level j-1 times z_b/j, and the lanes
/// below level p follow from level p's values (kernels::exp_lanes). One
/// multiply per value, where the unit and a first step cost a clear and a
/// fused multiply-exponentiate.
template <class T> void prefix_lanes_exp(prefix_lanes_workspace<T>& pw, const T* z, std::size_t d) {
    prefix_lanes_exp_into(pw, pw.top.data(), pw.lanes.data(), z, d, pw.below);
    std::fill_n(pw.lanes.data(), pw.W, T(0)); // (lane level 0 is the top's level p, not read by the kernels)
}

/// Steps i0..i0+m-1 (m <= prefix_lanes_block) of the path, the top half:
/// their increments (pw.z, and each coordinate in every lane, pw.Z) and
/// roots (pw.roots), advancing levels 0..p; with `tops`, levels 0..p before
/// each step go to tops + b * (p's offset + d^p) (the backward's).
template <class T>
void prefix_lanes_roots(const T* path, std::size_t d, std::size_t n, std::size_t i0, std::size_t m,
                        const signature_options& o, std::size_t depth, prefix_lanes_workspace<T>& pw,
                        T* tops = nullptr) {
    const std::size_t W = pw.W, top = pw.top.size();
    for (std::size_t b = 0; b < m; ++b) {
        T* z = pw.z.data() + b * d;
        segment_increment(path, d, step_segment(i0 + b, n, o.inverse), o.basepoint, o.inverse, z);
        for (std::size_t c = 0; c < d; ++c)
            std::fill_n(pw.Z.data() + (b * d + c) * W, W, z[c]);
        if (!tops) continue; // (the steps' roots in one call, below)
        std::copy_n(pw.top.data(), top, tops + b * top);
        kernels::prefix_roots(pw.top.data(), z, d, pw.p, depth, pw.roots.data() + b * (pw.below + 1) * W);
    }
    if (!tops)
        kernels::prefix_roots(pw.top.data(), pw.z.data(), d, pw.p, depth, pw.roots.data(), m,
                              (pw.below + 1) * W);
}

/// Steps i0..i1-1 of the path (as apply_steps) on the prefix lanes' state.
template <class T>
void prefix_lanes_steps(const T* path, std::size_t d, std::size_t n, std::size_t i0, std::size_t i1,
                        const signature_options& o, std::size_t depth, prefix_lanes_workspace<T>& pw) {
    for (std::size_t i = i0; i < i1;) {
        const std::size_t m = std::min(prefix_lanes_block, i1 - i);
        prefix_lanes_roots(path, d, n, i, m, o, depth, pw);
        kernels::fmexp_lanes(pw.lanes.data(), pw.Z.data(), m, d, pw.below, pw.roots.data());
        i += m;
    }
}

/// The prefix lanes' state after steps 0..i1-1 of the path (i1 >= 1) from
/// the unit: exp of step 0, then steps 1..i1-1. Where steps follow, the
/// first block's pass makes exp's lanes as it reads them
/// (kernels::fmexp_lanes_exp: the same bits as prefix_lanes_exp, then the
/// steps), rather than writing them first.
template <class T>
void prefix_lanes_from_start(const T* path, std::size_t d, std::size_t n, std::size_t i1, const signature_options& o,
                             std::size_t depth, prefix_lanes_workspace<T>& pw) {
    T* const z0 = pw.z.data() + prefix_lanes_block * d; // (past the block's increments)
    segment_increment(path, d, step_segment(0, n, o.inverse), o.basepoint, o.inverse, z0);
    if (i1 == 1) return prefix_lanes_exp(pw, z0, d);
    prefix_lanes_exp_into(pw, pw.top.data(), pw.lanes.data(), z0, d, 0); // levels 0..p; level p in lane level 0
    const std::size_t m = std::min(prefix_lanes_block, i1 - 1);
    prefix_lanes_roots(path, d, n, 1, m, o, depth, pw);
    kernels::fmexp_lanes_exp(pw.lanes.data(), pw.Z.data(), m, d, pw.below, pw.roots.data(), z0, pw.p,
                             pw.lanes.data());
    std::fill_n(pw.lanes.data(), pw.W, T(0)); // (as prefix_lanes_exp leaves it)
    prefix_lanes_steps(path, d, n, 1 + m, i1, o, depth, pw);
}

/// Whether steps i0..i1 of a path take the prefix lanes.
template <class T> bool by_prefix_lanes(std::size_t i0, std::size_t i1, const path_workspace<T>& ws) {
    return ws.prefix && (i1 - i0) * ws.acc.size() >= prefix_lanes_min_work;
}

/// ws.acc <- ws.acc ⊗ exp(Δ) for steps i0..i1-1 of the path (step i is
/// segment i, or segment n-1-i reversed for the inverse), in blocks of
/// kernels::fmexp_block segments (bit-identical to one segment at a time),
/// or by prefix lanes where the shape allows (equal to rounding).
template <class T>
void apply_steps(const T* path, std::size_t d, std::size_t n, std::size_t i0, std::size_t i1,
                 const signature_options& o, path_workspace<T>& ws) {
    const shape& s = ws.acc.shape();
    if (by_prefix_lanes(i0, i1, ws)) {
        prefix_lanes_move(*ws.prefix, s, ws.acc.data() + 1, false);
        prefix_lanes_steps(path, d, n, i0, i1, o, s.depth(), *ws.prefix);
        prefix_lanes_move(*ws.prefix, s, ws.acc.data() + 1, true);
        return;
    }
    for (std::size_t i = i0; i < i1;) {
        const std::size_t m = std::min(kernels::fmexp_block, i1 - i);
        for (std::size_t b = 0; b < m; ++b, ++i)
            segment_increment(path, d, o.inverse ? n - 1 - i : i, o.basepoint, o.inverse, ws.delta.data() + b * d);
        kernels::fmexp_many(ws.acc.data(), ws.delta.data(), m, d, s.depth());
    }
}

/// The signature of one path of L points in R^d, left in ws.acc (levels 0..N).
/// (The inverse, S^{-1} = exp(-Δ_n) ⊗ ... ⊗ exp(-Δ_1), is the reversed path.)
/// Prefix lanes write levels 1..N to `out` when given (else to ws.acc).
template <class T>
void signature_into(const T* path, std::size_t L, std::size_t d, const signature_options& o, path_workspace<T>& ws,
                    T* out = nullptr) {
    const std::size_t n = segment_count(L, o.basepoint);
    if (by_prefix_lanes(0, n, ws)) { // from exp of the first step: nothing to move in
        prefix_lanes_from_start(path, d, n, n, o, ws.acc.shape().depth(), *ws.prefix);
        ws.acc[0] = T(1);
        prefix_lanes_move(*ws.prefix, ws.acc.shape(), out ? out : ws.acc.data() + 1, true);
        return;
    }
    ws.acc.set_unit();
    apply_steps(path, d, n, 0, n, o, ws);
    if (out) std::copy(ws.acc.data() + 1, ws.acc.data() + ws.acc.size(), out);
}

/// Signature (levels 1..N) of one path of L points in R^d into `out`.
template <class T>
void signature_one(const T* path, std::size_t L, std::size_t d, const signature_options& o,
                   path_workspace<T>& ws, T* out) {
    signature_into(path, L, d, o, ws, out);
}

/// Steps whose increments the lanes route gathers at once: lane by lane,
/// each lane's points read in one run (a block of a few steps per lane
/// left 16 paths' loads waiting on memory).
inline constexpr std::size_t lanes_increment_block = 64;

/// Workspace of the lanes route (kernels::fmexp_lanes): `lanes` running
/// signatures and a block of increments, interleaved.
template <class T> struct lanes_workspace {
    lanes_workspace(const shape& s, std::size_t W)
        : lanes(W), acc(s.size() * W), Z(lanes_increment_block * s.dim() * W) {}
    std::size_t lanes;
    scratch_vector<T> acc; // (set by lanes_signatures)
    scratch_vector<T> Z;
};

/// Most bytes of interleaved signatures the lanes route works on: it keeps
/// `lanes` signatures where the one-path route keeps one, and beyond the L2
/// cache its passes would go to memory.
inline constexpr std::size_t lanes_max_bytes = std::size_t(1) << 20;

/// Whether signature_batch runs B paths of shape s in lanes.
template <class T> bool use_lanes(const shape& s, std::size_t B) {
    const std::size_t W = kernels::lanes<T>();
    return W > 1 && B >= W && s.depth() < kernels::horner::lanes_max_depth &&
           s.size() <= lanes_max_bytes / (W * sizeof(T));
}

/// Segments from which one path's signature is computed by the parallel
/// Chen reduction rather than in one sequential sweep.
inline constexpr std::size_t long_path_segments = 4096;

/// How many fused multiply-exponentiates one truncated product costs (its
/// multiply-adds, about sum_k (k+1) d^k, over fmexp's sum_k sum_{j<=k} d^j),
/// rounded up: past this many steps from both ends, increment_tangents
/// multiplies a tangent by the rest of the path instead of stepping it there;
/// a path of a few lanes' worth of these goes by pieces in lanes (by_pieces).
inline std::size_t product_steps(std::size_t dim, std::size_t depth) {
    double product = 0, fmexp = 0, level = 1, below = 0;
    for (std::size_t k = 1; k <= depth; ++k) {
        level *= double(dim);
        below += level;
        product += double(k + 1) * level;
        fmexp += below;
    }
    return fmexp > 0 ? static_cast<std::size_t>(std::ceil(product / fmexp)) : 1;
}

/// Whether one path of n segments is computed by the Chen reduction of
/// pieces (signature_long): a long one always (threads share the pieces);
/// in lanes, also one long enough that its pieces, one per lane, save more
/// than the lanes - 1 products joining them cost (four times over).
template <class T> bool by_pieces(std::size_t n, const shape& s) {
    if (n >= long_path_segments) return true;
    const std::size_t W = kernels::lanes<T>();
    return W > 1 && use_lanes<T>(s, W) && n >= 4 * W * product_steps(s.dim(), s.depth());
}

/// What the lanes of one group follow (lanes_signatures and the backward
/// pass in lanes): `count` separate paths of L points, path l at
/// paths + l*L*d (lanes beyond count are idle).
template <class T> struct lane_paths {
    const T* paths;
    std::size_t count, L, d, n; // n segments each
    const signature_options* o;
    std::size_t steps() const { return n; }
    /// Of the steps first..first+block-1 of lane l, how many it has (a
    /// prefix of them); the first one's step of its path in step0.
    std::size_t lane_steps(std::size_t l, std::size_t first, std::size_t block, std::size_t& step0) const {
        step0 = first;
        return l < count && first < n ? std::min(block, n - first) : 0;
    }
    /// The points of lane l, and where its gradient goes in `out` (count x L
    /// x d) with its first point (asked only of lanes that have steps).
    const T* lane_path(std::size_t l) const { return paths + l * L * d; }
    T* lane_out(T* out, std::size_t l) const { return out + l * L * d; }
    std::size_t lane_point0() const { return 0; }
};

/// ... or consecutive pieces p0..p0+W-1 of `pieces` of one path of n steps
/// (piece p: steps n*p/pieces .. n*(p+1)/pieces - 1); a piece shorter than
/// the longest has no steps at its end.
template <class T> struct lane_pieces {
    lane_pieces(const T* path_, std::size_t d_, std::size_t n_, std::size_t p0, std::size_t pieces, std::size_t W,
                const signature_options* o_)
        : path(path_), d(d_), n(n_), lanes(W), o(o_) {
        for (std::size_t l = 0; l <= W; ++l)
            bound[l] = n * (p0 + l) / pieces;
    }
    const T* path;
    std::size_t d, n, lanes;
    const signature_options* o;
    std::size_t point0 = 0; // scatter: `out` holds the gradients of points point0 on
    std::size_t bound[65];  // piece l: steps bound[l] .. bound[l+1]-1 (lanes <= 64)
    std::size_t first(std::size_t l) const { return bound[l]; }
    std::size_t end(std::size_t l) const { return bound[l + 1]; }
    std::size_t steps() const {
        std::size_t longest = 0;
        for (std::size_t l = 0; l < lanes; ++l)
            longest = std::max(longest, end(l) - first(l));
        return longest;
    }
    std::size_t lane_steps(std::size_t l, std::size_t i0, std::size_t block, std::size_t& step0) const {
        step0 = first(l) + i0;
        return step0 >= end(l) ? 0 : std::min(block, end(l) - step0);
    }
    const T* lane_path(std::size_t) const { return path; }
    T* lane_out(T* out, std::size_t) const { return out; } // every piece's gradient: the one path's
    std::size_t lane_point0() const { return point0; }
    /// The points the steps of these pieces touch: [lo, hi].
    std::pair<std::size_t, std::size_t> points() const {
        const std::size_t a = first(0), b = end(lanes - 1); // steps a..b-1
        const std::size_t s0 = o->inverse ? n - b : a, s1 = o->inverse ? n - 1 - a : b - 1; // their segments
        return {o->basepoint ? (s0 > 0 ? s0 - 1 : 0) : s0, o->basepoint ? s1 : s1 + 1};
    }
};

/// Whether steps first..first+block-1 of every lane of `src` are
/// differences of consecutive points, a run of each lane's path (forward
/// steps; not the first step under basepoint, which starts at the origin),
/// so that they move as rows: a lane's values contiguous, interleaved by the
/// SIMD transpose (a value at a time into the lanes, a store each, this was
/// a tenth of one long path's forward pass). W <= 16.
template <class Source> bool lanes_as_rows(const Source& src, std::size_t first, std::size_t block, std::size_t W) {
    const signature_options& o = *src.o;
    if (o.inverse || W > 16) return false;
    for (std::size_t l = 0; l < W && o.basepoint; ++l) {
        std::size_t step0 = 0;
        if (src.lane_steps(l, first, block, step0) > 0 && step0 == 0) return false;
    }
    return true;
}

/// The gradients go through a buffer of rows of at most this many values of all lanes.
inline constexpr std::size_t lanes_row_values = 2048;

/// Steps per sub-block where the gradients of steps first..first+block-1
/// of every lane go as rows (lanes_as_rows, lanes_row_values), else 0.
template <class Source>
std::size_t lanes_row_steps(const Source& src, std::size_t first, std::size_t block, std::size_t d, std::size_t W) {
    return W * d <= lanes_row_values && lanes_as_rows(src, first, block, W) ? lanes_row_values / (W * d) : 0;
}

/// The increments of steps first..first+block-1 of every lane of `src` into
/// Z (block x d x W; zero where a lane has no step: exp(0) = 1).
template <class T, class Source>
void lanes_increments(const Source& src, std::size_t first, std::size_t block, std::size_t d, std::size_t W, T* Z) {
    const signature_options& o = *src.o;
    if (W == kernels::lanes<T>() && lanes_as_rows(src, first, block, W)) { // as rows, by the kernel
        const T* ends[16];                                                   // W <= 16 (lanes_as_rows)
        std::size_t count[16];
        for (std::size_t l = 0; l < W; ++l) {
            std::size_t step0 = 0;
            count[l] = src.lane_steps(l, first, block, step0) * d;
            const T* path = src.lane_path(l);
            ends[l] = count[l] ? path + (o.basepoint ? step0 : step0 + 1) * d : nullptr; // step0's end point
        }
        kernels::interleave_differences(ends, count, block * d, d, Z);
        return;
    }
    for (std::size_t l = 0; l < W; ++l) {
        std::size_t step0 = 0;
        const std::size_t has = src.lane_steps(l, first, block, step0);
        for (std::size_t b = 0; b < has; ++b)
            segment_increment(src.lane_path(l), d, step_segment(step0 + b, src.n, o.inverse), o.basepoint,
                              o.inverse, Z + b * d * W + l, W);
        for (std::size_t i = has * d; i < block * d; ++i)
            Z[i * W + l] = T(0);
    }
}

/// The points that steps first..first+block-1 of lane l touch and no later
/// step of the lane does (the backward pass goes from the last step): set
/// to 0 in `out`, for lanes_scatter's `fresh`.
template <class T, class Source>
void zero_fresh_points(const Source& src, std::size_t l, std::size_t first, std::size_t block, std::size_t d,
                       T* out) {
    const signature_options& o = *src.o;
    std::size_t step0 = 0, next0 = 0;
    const std::size_t has = src.lane_steps(l, first, block, step0);
    if (has == 0) return;
    const bool later = src.lane_steps(l, first + has, 1, next0) > 0;
    const std::size_t n = src.n, s0 = step_segment(step0, n, o.inverse),
                      s1 = step_segment(step0 + has - 1, n, o.inverse);
    const std::size_t sa = std::min(s0, s1), sb = std::max(s0, s1); // their segments
    std::size_t pa = o.basepoint ? (sa > 0 ? sa - 1 : 0) : sa, pb = o.basepoint ? sb : sb + 1; // their points
    if (later) { // the point the later steps share: the start of the segments below (inverse), else the end
        if (o.inverse)
            ++pa;
        else
            --pb;
    }
    if (pb + 1 > pa) {
        T* x = src.lane_out(out, l) - src.lane_point0() * d;
        std::fill(x + pa * d, x + (pb + 1) * d, T(0));
    }
}

/// ∂L/∂Δ of steps first..first+block-1 of every lane (GZ, block x d x W,
/// interleaved) into the gradients of their paths' points, the last step
/// first in each lane. As rows (kernels::scatter_differences), a lane's
/// points take the same operations in the same order: point j gets -∂L/∂Δ
/// of the step it starts, then +∂L/∂Δ of the step it ends; the sub-blocks go
/// last first, so a point that ends one lane's piece and starts the next
/// one's also does. With `fresh` (lanes that are separate paths, whose
/// later steps have been scattered), the points no later step touched are
/// written rather than added to: `out` need not be cleared first.
template <class T, class Source>
void lanes_scatter(const Source& src, std::size_t first, std::size_t block, std::size_t d, std::size_t W,
                   const T* GZ, T* out, bool fresh = false) {
    const signature_options& o = *src.o;
    if (const std::size_t sub = lanes_row_steps(src, first, block, d, W)) {
        T rows[lanes_row_values];
        for (std::size_t b0 = (block - 1) / sub * sub;; b0 -= sub) {
            const std::size_t m = std::min(sub, block - b0), stride = m * d;
            deinterleave_lanes(GZ + b0 * d * W, W, W, stride, rows, stride);
            for (std::size_t l = 0; l < W; ++l) {
                std::size_t step0 = 0, next0 = 0;
                const std::size_t has = src.lane_steps(l, first + b0, m, step0);
                if (has == 0) continue;
                T* x = src.lane_out(out, l) + ((o.basepoint ? step0 : step0 + 1) - src.lane_point0()) * d;
                if (fresh && src.lane_steps(l, first + b0 + has, 1, next0) == 0) // the lane's last point
                    std::fill(x + (has - 1) * d, x + has * d, T(0));
                kernels::scatter_differences(x, static_cast<const T*>(rows + l * stride), has * d, d, fresh);
                // the lane's next sub-block, below: the points of many paths (5 MB for
                // the peers' grid) had missed the caches on every store
                if (b0 > 0) kernels::horner::prefetch_before_for_write(x, sub * d);
            }
            if (b0 == 0) break;
        }
        return;
    }
    for (std::size_t l = 0; l < W; ++l) {
        if (fresh) zero_fresh_points(src, l, first, block, d, out);
        std::size_t step0 = 0;
        const std::size_t has = src.lane_steps(l, first, block, step0);
        for (std::size_t b = has; b-- > 0;)
            scatter_step_gradient(src.lane_out(out, l), step0 + b, src.n, d, o, GZ + b * d * W + l,
                                  src.lane_point0(), W);
    }
}

/// Values of one step's record in lanes, or of one checkpoint: levels
/// 0..N-1 of W interleaved tensors.
inline std::size_t lanes_record_values(const shape& s, std::size_t W) {
    return kernels::scalar::fmexp_lanes_record_size(s.dim(), s.depth()) * W;
}

/// Levels 0 and 1 before every step that is a multiple of `every`, from the
/// points alone (lanes_signatures at depth 1 wanting only the checkpoints):
/// level 1 before step t of a lane is the sum of its increments, and the
/// sum of a run of increments is the difference of the run's end points
/// (one rounding, where a sweep takes one per step). A sweep would read
/// every point through the lanes' transposes for it: about a tenth of the
/// peers' grid's backward at N = 2.
template <class T, class Source>
void lanes_level_one_checkpoints(const Source& src, std::size_t d, std::size_t W, T* checkpoints, std::size_t every) {
    const signature_options& o = *src.o;
    const std::size_t n = src.steps(), R = (1 + d) * W, slots = (n + every - 1) / every;
    // step i's increment is x[to(i)] - x[from(i)] (the inverse walks the
    // segments back, reversed), and step i + 1 starts where step i ends;
    // point -1 is the origin (basepoint)
    const auto hi = [&](std::size_t i) {
        const std::size_t seg = step_segment(i, src.n, o.inverse);
        return std::ptrdiff_t(o.basepoint ? seg : seg + 1);
    };
    const auto from = [&](std::size_t i) { return o.inverse ? hi(i) : hi(i) - 1; };
    const auto to = [&](std::size_t i) { return o.inverse ? hi(i) - 1 : hi(i); };
    const auto point = [&](const T* path, std::ptrdiff_t k, std::size_t c) {
        return k < 0 ? T(0) : path[std::size_t(k) * d + c];
    };
    for (std::size_t j = 0; j < slots; ++j) {
        T* state = checkpoints + j * R;
        std::fill(state, state + W, T(1));
        std::fill(state + W, state + R, T(0));
        for (std::size_t l = 0; l < W && j > 0; ++l) {
            std::size_t step0 = 0;
            const std::size_t has = src.lane_steps(l, 0, j * every, step0);
            if (has == 0) continue;
            const std::ptrdiff_t a = from(step0), b = to(step0 + has - 1);
            const T* path = src.lane_path(l);
            for (std::size_t c = 0; c < d; ++c)
                state[W + c * W + l] = T(point(path, b, c) - point(path, a, c));
        }
    }
}

/// The signatures of the lanes of `src`, left interleaved in ws.acc. With
/// `checkpoints`, levels 0..N-1 before every step that is a multiple of
/// `every` (the backward pass's chunks, lanes_backward) are kept there, one
/// after the other: the backward pass of a long path then need not run
/// this forward pass again.
///
/// With `depth` below the shape's, the levels above it are not computed
/// (they are left zero): the backward passes need levels 0..N-1 only, and
/// at depth N-1 every chain of level N is skipped. With `to_end` false only
/// the checkpoints are wanted, so the sweep stops at the last one. Below
/// the shape's depth the state is a checkpoint's size, which is why
/// `checkpoints` needs a depth below the shape's: the state lives in the
/// checkpoints themselves, the run that starts at one reading it and
/// writing the next (kernels::fmexp_lanes out of place), the last one
/// ws.acc; a copy of every state had been 3.4-5.2% of a backward pass. At
/// depth 1 with only the checkpoints wanted, they come from the points
/// (lanes_level_one_checkpoints), with no sweep.
template <class T, class Source>
void lanes_signatures(const Source& src, const shape& s, lanes_workspace<T>& ws, T* checkpoints = nullptr,
                      std::size_t every = 0, std::size_t depth = SIZE_MAX, bool to_end = true) {
    const std::size_t W = ws.lanes, n = src.steps(), d = s.dim(), N = std::min(depth, s.depth());
    const std::size_t R = checkpoints ? lanes_record_values(s, W) : 0;
    const std::size_t end = !to_end && n > 0 ? (n - 1) / every * every : n; // steps advanced
    const std::size_t slots = checkpoints ? (n + every - 1) / every : 0;
    assert(!checkpoints || N < s.depth()); // a checkpoint holds levels 0..N-1 of the shape
    if (checkpoints && N == 1 && !to_end && R == (1 + d) * W)
        return lanes_level_one_checkpoints(src, d, W, checkpoints, every);
    T* state = ws.acc.data();
    if (slots > 0) { // the unit, in the first checkpoint
        state = checkpoints;
        std::fill(state, state + W, T(1));
        std::fill(state + W, state + R, T(0));
    }
    // ws.acc: the state from the unit (no checkpoint slots), or the last
    // state, written by a run out of place (its levels above N left as they
    // are: zero). Without to_end the sweep stops at the last checkpoint and
    // never reaches it: clearing it had been 1.1-1.7% of (32, 256, 8, 4)'s
    // backward.
    if (slots == 0 || to_end) {
        std::fill(ws.acc.begin(), ws.acc.end(), T(0));
        if (slots == 0) std::fill(ws.acc.begin(), ws.acc.begin() + W, T(1));
    }
    for (std::size_t i = 0; i < n;) {
        const std::size_t block = std::min(lanes_increment_block, n - i);
        if (i < end) lanes_increments(src, i, std::min(block, end - i), d, W, ws.Z.data());
        // the block's steps, cut at the checkpoints (each kept before its step
        // is taken; the increments gathered once per block, not per cut)
        for (std::size_t j = i; j < i + block;) {
            std::size_t run = i + block - j;
            const T* from = nullptr;
            if (checkpoints) {
                if (j % every == 0) { // from this checkpoint into the next (the last: ws.acc)
                    from = state;
                    state = j / every + 1 < slots ? checkpoints + (j / every + 1) * R : ws.acc.data();
                }
                run = std::min(run, every - j % every);
            }
            if (j >= end) return;
            kernels::fmexp_lanes(state, ws.Z.data() + (j - i) * d * W, run, d, N, static_cast<const T*>(nullptr), from);
            j += run;
        }
        i += block;
    }
}

/// Pieces per lane group and lanes of the Chen reduction of one path of n
/// segments (signature_long): a multiple of the lanes in lanes (use_lanes).
template <class T> std::pair<std::size_t, std::size_t> long_path_pieces(std::size_t n, const shape& s) {
    const std::size_t W = use_lanes<T>(s, kernels::lanes<T>()) ? kernels::lanes<T>() : 1;
    return {(std::min<std::size_t>(256, (n + 1023) / 1024) + W - 1) / W * W, W};
}

/// The signatures (levels 0..N) of every piece of one path into acc
/// (pieces tensors), in lanes when W > 1, groups of pieces in parallel.
/// With `checkpoints` (W > 1 only), group g keeps its lanes_signatures
/// checkpoints every `every` steps at checkpoints + g * per_group. With
/// `depth` below N, levels 0..depth are computed and the rest are zero in
/// lanes (exact one piece at a time).
template <class T>
void piece_signatures(const T* path, std::size_t d, std::size_t n, std::size_t pieces, std::size_t W,
                      const shape& s, const signature_options& o, T* acc, T* checkpoints = nullptr,
                      std::size_t every = 0, std::size_t per_group = 0, std::size_t depth = SIZE_MAX) {
    const std::size_t size = s.size();
    parallel::for_chunks(pieces / W, 1, o.threads, [&](std::size_t g0, std::size_t g1) {
        if (W > 1) {
            lanes_workspace<T> ws(s, W);
            for (std::size_t g = g0; g < g1; ++g) {
                lanes_signatures(lane_pieces<T>(path, d, n, g * W, pieces, W, &o), s, ws,
                                 checkpoints ? checkpoints + g * per_group : nullptr, every, depth);
                deinterleave_lanes(ws.acc.data(), W, W, size, acc + g * W * size, size);
            }
            return;
        }
        path_workspace<T> ws(s);
        for (std::size_t p = g0; p < g1; ++p) {
            ws.acc.set_unit();
            apply_steps(path, d, n, n * p / pieces, n * (p + 1) / pieces, o, ws);
            std::copy(ws.acc.data(), ws.acc.data() + size, acc + p * size);
        }
    });
}

/// Signature of one long path by a tree reduction of Chen products: the
/// steps are cut into pieces fixed by their number alone (never by the
/// thread count), each piece's signature is computed on its own, and the
/// pieces are multiplied pairwise, level by level, in a fixed order. So the
/// result is bit-identical for any number of threads, and equal to the
/// sequential sweep to rounding.
template <class T>
void signature_long(const T* path, std::size_t L, std::size_t d, const shape& s, const signature_options& o,
                    T* out) {
    const std::size_t n = segment_count(L, o.basepoint), size = s.size();
    const auto [pieces, W] = long_path_pieces<T>(n, s);
    aligned_vector<T> acc(pieces * size);
    piece_signatures(path, d, n, pieces, W, s, o, acc.data());
    for (std::size_t stride = 1; stride < pieces; stride *= 2) {
        const std::size_t pairs = (pieces + 2 * stride - 1) / (2 * stride);
        parallel::for_chunks(pairs, 1, o.threads, [&](std::size_t q0, std::size_t q1) {
            for (std::size_t q = q0; q < q1; ++q) {
                const std::size_t left = 2 * stride * q, right = left + stride;
                if (right < pieces)
                    kernels::product(acc.data() + left * size, acc.data() + left * size,
                                     acc.data() + right * size, s);
            }
        });
    }
    std::copy(acc.data() + 1, acc.data() + size, out);
}

/// Items per chunk of a batch: enough work per chunk to amortise its
/// workspace, small enough to balance threads. (Items are independent, so
/// the chunking never changes a result.)
inline std::size_t batch_grain(std::size_t B, std::size_t threads) {
    const std::size_t t = threads == 0 ? parallel::hardware_threads() : threads;
    return std::max<std::size_t>(1, B / (8 * t));
}

/// Signatures of `count` <= ws.lanes paths of L points (path l at
/// paths + l*L*d) into out (count rows of sig_length), computed together,
/// one per SIMD lane.
template <class T>
void signature_lanes(const T* paths, std::size_t count, std::size_t L, std::size_t d, const shape& s,
                     const signature_options& o, lanes_workspace<T>& ws, T* out) {
    const std::size_t W = ws.lanes, m = s.sig_length();
    lanes_signatures(lane_paths<T>{paths, count, L, d, segment_count(L, o.basepoint), &o}, s, ws);
    deinterleave_lanes(ws.acc.data() + W, W, count, m, out, m);
}

/// Signatures of B paths (B, L, d) into out (B, sig_length), the batch in
/// parallel: groups of kernels::lanes<T>() paths together, one per SIMD
/// lane, where the shape allows (use_lanes), the rest one by one; a single
/// long path by the parallel Chen reduction.
template <class T>
void signature_batch(const T* paths, std::size_t B, std::size_t L, std::size_t d, std::size_t depth,
                     const signature_options& o, T* out) {
    const shape s = path_shape(L, d, depth, o.basepoint);
    if (B == 1 && by_pieces<T>(segment_count(L, o.basepoint), s)) {
        signature_long(paths, L, d, s, o, out);
        return;
    }
    const std::size_t W = use_lanes<T>(s, B) ? kernels::lanes<T>() : 1;
    const std::size_t groups = W > 1 ? B / W : 0, singles = B - groups * W, units = groups + singles;
    parallel::for_chunks(units, batch_grain(units, o.threads), o.threads, [&](std::size_t u0, std::size_t u1) {
        std::unique_ptr<lanes_workspace<T>> lanes;
        thread_workspace<path_workspace<T>> ws(s);
        for (std::size_t u = u0; u < u1; ++u) {
            if (u < groups) {
                if (!lanes) lanes = std::make_unique<lanes_workspace<T>>(s, W);
                signature_lanes(paths + u * W * L * d, W, L, d, s, o, *lanes, out + u * W * s.sig_length());
            } else {
                const std::size_t b = groups * W + (u - groups);
                signature_one(paths + b * L * d, L, d, o, *ws, out + b * s.sig_length());
            }
        }
    });
}

/// Every prefix signature of one path into out (segments, sig_length).
template <class T>
void signature_stream_one(const T* path, std::size_t L, std::size_t d, std::size_t depth,
                          const signature_options& o, T* out) {
    const shape s = path_shape(L, d, depth, o.basepoint);
    path_workspace<T> ws(s);
    ws.acc.set_unit();
    tensor<T> inv(o.inverse ? s : shape(1, 0));
    const std::size_t n = segment_count(L, o.basepoint), m = s.sig_length();
    for (std::size_t seg = 0; seg < n; ++seg) {
        apply_segment(path, d, seg, o.basepoint, false, ws);
        const T* src = ws.acc.data();
        if (o.inverse) {
            kernels::antipode(inv.data(), ws.acc.data(), s);
            src = inv.data();
        }
        std::copy(src + 1, src + 1 + m, out + seg * m);
    }
}

/// Chen products of B pairs of flattened signatures (levels 1..N, level 0
/// taken as 1): out_b = s1_b ⊗ s2_b.
template <class T>
void signature_combine_batch(const T* s1, const T* s2, std::size_t B, std::size_t d, std::size_t depth,
                             T* out, std::size_t threads = 0) {
    const shape s(d, depth);
    const std::size_t m = s.sig_length();
    parallel::for_chunks(B, batch_grain(B, threads), threads, [&](std::size_t i0, std::size_t i1) {
        tensor<T> a(s), b(s);
        for (std::size_t i = i0; i < i1; ++i) {
            a[0] = T(1);
            b[0] = T(1);
            std::copy(s1 + i * m, s1 + (i + 1) * m, a.data() + 1);
            std::copy(s2 + i * m, s2 + (i + 1) * m, b.data() + 1);
            kernels::product(a.data(), a.data(), b.data(), s);
            std::copy(a.data() + 1, a.data() + 1 + m, out + i * m);
        }
    });
}

/// One thread's buffers for the log of signatures: a signature, its log
/// and kernels::log's scratch, kept between calls on one shape
/// (thread_workspace), so that calls on one or a few paths do not allocate.
template <class T> struct log_workspace {
    explicit log_workspace(const shape& s)
        : x(tensor<T>::unfilled(s)), l(tensor<T>::unfilled(s)), scratch(kernels::log_scratch_size(s)) {}
    tensor<T> x, l;
    scratch_vector<T> scratch;
    bool fits(const shape& s) const { return x.shape() == s; }
    std::size_t bytes() const { return (x.size() + l.size() + scratch.capacity()) * sizeof(T); }
};

/// Log-signatures in `basis` of B flattened signatures (B, sig_length). For
/// the expanded basis out may be sigs: each row is copied into the
/// workspace before its log is written over it.
template <class T>
void signature_to_logsignature_batch(const T* sigs, std::size_t B, std::size_t d, std::size_t depth,
                                     logsig_basis basis, T* out, std::size_t threads = 0) {
    const shape s(d, depth);
    const auto lb = basis_tables(d, depth, basis);
    const std::size_t m = s.sig_length(), n = logsig_coordinates(s, basis);
    parallel::for_chunks(B, batch_grain(B, threads), threads, [&](std::size_t b0, std::size_t b1) {
        thread_workspace<log_workspace<T>> ws(s);
        tensor<T>&x = ws->x, &l = ws->l;
        for (std::size_t b = b0; b < b1; ++b) {
            x[0] = T(1);
            std::copy(sigs + b * m, sigs + (b + 1) * m, x.data() + 1);
            kernels::log(l.data(), x.data(), s, ws->scratch.data());
            lie::from_tensor(lb.get(), basis, l.data() + 1, m, out + b * n);
        }
    });
}

/// Paths whose signatures (m values each) the log-signature and its
/// backward keep at a time: 64 MB of them, a whole number of SIMD lane
/// groups where that is at least one (signature_batch runs groups of
/// kernels::lanes<T>() paths together).
template <class T> std::size_t signatures_chunk(std::size_t m) {
    const std::size_t chunk = std::max<std::size_t>(1, (std::size_t(64) << 20) / (m * sizeof(T))),
                      W = kernels::lanes<T>();
    return chunk >= W ? chunk / W * W : chunk;
}

/// Log-signatures of B paths in `basis` into out (B, logsig_coordinates):
/// signature_batch (lanes, pieces, threads as for signatures), then the log,
/// a bounded number of paths at a time (their signatures are kept between
/// the two). The expanded basis has rows as long as the signatures': they
/// are computed in out and their logs taken in place, with no buffer of
/// signatures. (A second buffer as large as out, fresh at every call, had
/// made (128, 128, 4, 6) 6x slower on a guest whose page faults are dear:
/// 28 ms against 4.4 for the words basis, when glibc returned both to the
/// system between calls.)
template <class T>
void logsignature_batch(const T* paths, std::size_t B, std::size_t L, std::size_t d, std::size_t depth,
                        const signature_options& o, logsig_basis basis, T* out) {
    const shape s = path_shape(L, d, depth, o.basepoint);
    (void)basis_tables(d, depth, basis); // the basis is checked even for an empty batch
    const std::size_t m = s.sig_length(), n = logsig_coordinates(s, basis), chunk = signatures_chunk<T>(m);
    if (basis == logsig_basis::expanded) { // (each row is read into a workspace before it is written)
        signature_batch(paths, B, L, d, depth, o, out);
        signature_to_logsignature_batch(out, B, d, depth, basis, out, o.threads);
        return;
    }
    scratch_vector<T> sigs(std::min(B, chunk) * m); // (written before read)
    for (std::size_t b0 = 0; b0 < B; b0 += chunk) {
        const std::size_t count = std::min(chunk, B - b0);
        signature_batch(paths + b0 * L * d, count, L, d, depth, o, sigs.data());
        signature_to_logsignature_batch(sigs.data(), count, d, depth, basis, out + b0 * n, o.threads);
    }
}

/// Signatures exp(ℓ) of B log-signatures given in `basis` (B, logsig_coordinates).
template <class T>
void logsignature_to_signature_batch(const T* logsigs, std::size_t B, std::size_t d, std::size_t depth,
                                     logsig_basis basis, T* out, std::size_t threads = 0) {
    const shape s(d, depth);
    const auto lb = basis_tables(d, depth, basis);
    const std::size_t m = s.sig_length(), n = logsig_coordinates(s, basis);
    parallel::for_chunks(B, batch_grain(B, threads), threads, [&](std::size_t b0, std::size_t b1) {
        tensor<T> l(s), x(s);
        std::vector<T> scratch(lb ? lb->size() : 0);
        for (std::size_t b = b0; b < b1; ++b) {
            l[0] = T(0);
            lie::to_tensor(lb.get(), basis, logsigs + b * n, m, l.data() + 1, scratch.data());
            kernels::exp(x.data(), l.data(), s);
            std::copy(x.data() + 1, x.data() + 1 + m, out + b * m);
        }
    });
}

/// Chen products of B sequences of M flattened signatures (B, M, sig_length):
/// out_b = s_{b,1} ⊗ s_{b,2} ⊗ ... ⊗ s_{b,M}, left to right.
template <class T>
void signature_combine_many_batch(const T* sigs, std::size_t B, std::size_t M, std::size_t d, std::size_t depth,
                                  T* out, std::size_t threads = 0) {
    const shape s(d, depth);
    const std::size_t m = s.sig_length();
    parallel::for_chunks(B, batch_grain(B, threads), threads, [&](std::size_t i0, std::size_t i1) {
        tensor<T> acc(s), b(s);
        for (std::size_t i = i0; i < i1; ++i) {
            acc.set_unit();
            b[0] = T(1);
            for (std::size_t j = 0; j < M; ++j) {
                std::copy(sigs + (i * M + j) * m, sigs + (i * M + j + 1) * m, b.data() + 1);
                kernels::product(acc.data(), acc.data(), b.data(), s);
            }
            std::copy(acc.data() + 1, acc.data() + 1 + m, out + i * m);
        }
    });
}

} // namespace tensig::detail

// float and double are compiled once, in the library (src/paths/signature.cpp).
namespace tensig::detail {
#define TENSIG_PATH_CORE_EXTERN(T)                                                                           \
    extern template void signature_batch<T>(const T*, std::size_t, std::size_t, std::size_t, std::size_t,    \
                                            const signature_options&, T*);                                   \
    extern template void signature_stream_one<T>(const T*, std::size_t, std::size_t, std::size_t,            \
                                                 const signature_options&, T*);                              \
    extern template void signature_combine_batch<T>(const T*, const T*, std::size_t, std::size_t,            \
                                                    std::size_t, T*, std::size_t);                           \
    extern template void logsignature_batch<T>(const T*, std::size_t, std::size_t, std::size_t, std::size_t, \
                                               const signature_options&, logsig_basis, T*);                  \
    extern template void signature_to_logsignature_batch<T>(const T*, std::size_t, std::size_t, std::size_t, \
                                                            logsig_basis, T*, std::size_t);                  \
    extern template void logsignature_to_signature_batch<T>(const T*, std::size_t, std::size_t, std::size_t, \
                                                            logsig_basis, T*, std::size_t);                  \
    extern template void signature_combine_many_batch<T>(const T*, std::size_t, std::size_t, std::size_t,    \
                                                         std::size_t, T*, std::size_t);
TENSIG_PATH_CORE_EXTERN(float)
TENSIG_PATH_CORE_EXTERN(double)
#undef TENSIG_PATH_CORE_EXTERN
} // namespace tensig::detail

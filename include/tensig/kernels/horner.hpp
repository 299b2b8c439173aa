#pragma once
/// \file
/// Layer 4: the fused multiply-exponentiate and its adjoint, and the
/// truncated product by rows, written once over a policy `P` of primitives
/// (`P::lincomb`, `P::outer_fma`, `P::matvec`, `P::vecmat`,
/// `P::adjoint_step`: both of the last two over one matrix),
/// so the scalar twins (kernels/scalar.hpp) and the SIMD kernels
/// (src/kernels/simd.hpp) run the same algorithm. Pointer code only.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace tensig::kernels::horner {

/// Scratch (elements of T) for fmexp: z/m for m = 1..N, two buffers of d^(N-1).
inline std::size_t fmexp_scratch_size(std::size_t dim, std::size_t depth) {
    std::size_t top = 1;
    for (std::size_t k = 1; k < depth; ++k)
        top *= dim;
    return depth * dim + 2 * top;
}

/// Scratch for fmexp_many with blocks of m segments: the top level's Horner
/// terms of each segment (m d^(N-1)), and what fmexp needs.
inline std::size_t fmexp_many_scratch_size(std::size_t dim, std::size_t depth, std::size_t m) {
    std::size_t top = 1;
    for (std::size_t k = 1; k < depth; ++k)
        top *= dim;
    return m * top + fmexp_scratch_size(dim, depth);
}

/// Segments fmexp_lanes carries through one depth-first pass (the SIMD
/// kernels keep their increments in registers at the leaves).
inline constexpr std::size_t lanes_segments = 4;
/// Depths the lanes kernels (fmexp_lanes, its exp and backward forms,
/// exp_lanes_adjoint) take: below this one (their level offsets and
/// reciprocals sit in arrays on the stack). The dispatcher sends deeper
/// calls to the scalar twins, and the paths' lanes routes stop short of it
/// (use_lanes). Only d = 1 gets there: 2^64 coefficients are no shape.
inline constexpr std::size_t lanes_max_depth = 64;
/// Segments per pass of fmexp_lanes_backward for dimension `dim` with
/// `registers` vector registers (the instruction set's: 16 for SSE2 and
/// AVX2, 32 for AVX-512; kernels::lanes_backward_segments gives the
/// dispatched one). Three for d = 3, and for d = 4 with 32 registers,
/// whose register kernel (lanes_bwd_last_three) keeps a segment's sums and
/// z-gradients in registers and spilled them with four (three: 0.95-0.96x
/// the backward's time on (1,10000,3,5) and (128,128,4,6), 0.94x on the
/// float grid's (4, 3), Zen 5). Two for d = 4 with 16 registers, where three
/// spilled (Zen 3, AVX2, against three: (128,128,4,6) 0.78 twice, float
/// grid (4, 3) 0.80; d = 3 with two: 0.99). Four for d = 2 (three ran equal
/// on (64,64,2,10)) and larger d, whose leaves' sums are small matrix
/// products in memory (three: 1.26x on (32,256,8,4)). (Passes of two had
/// run equal for d = 4, N = 6 and 1.26x slower for d = 2, N = 10, Zen 5.)
constexpr std::size_t lanes_backward_segments(std::size_t dim, std::size_t registers) {
    return dim == 3 ? 3 : dim == 4 ? (registers >= 32 ? 3 : 2) : 4;
}
/// Most segments of the one pass fmexp_lanes_backward may run instead of
/// passes of lanes_backward_segments(2, ...) (d = 2, the starts not given).
inline constexpr std::size_t lanes_backward_long_pass = 6;

/// Segments per pass of fmexp_lanes_backward on m segments: all m in one
/// pass (no sweep for the starts) where d = 2 (whose every pass length is
/// compiled), m is a little more than lanes_backward_segments(2, ...) and
/// the starts are not given; else lanes_backward_segments(dim, registers).
inline std::size_t lanes_backward_pass(std::size_t dim, std::size_t m, bool starts_given, std::size_t registers) {
    const std::size_t M = lanes_backward_segments(dim, registers);
    return dim == 2 && !starts_given && m > M && m <= lanes_backward_long_pass ? m : M;
}

/// Scratch for fmexp_lanes (`lanes` paths, one per SIMD lane, blocks of at
/// most m segments): the partial sums of the N + 1 chains at the d children
/// of one node of each level below N - 1, per segment and lane. (The
/// increments are read where they are: the partial sums are stored divided.)
inline std::size_t fmexp_lanes_scratch_size(std::size_t dim, std::size_t depth, std::size_t m, std::size_t lanes) {
    m = m < lanes_segments ? m : lanes_segments; // one pass at a time
    return lanes * m * depth * dim * (depth + 1);
}

/// Size of the record fmexp_lanes writes per segment and lane: levels
/// 0..N-1 of the running tensor before the segment.
inline std::size_t fmexp_lanes_record_size(std::size_t dim, std::size_t depth) {
    std::size_t total = 0, n = 1;
    for (std::size_t k = 0; k < depth; ++k, n *= dim)
        total += n;
    return total;
}

/// Segments per block of the backward of a tensor kept in registers (the
/// SIMD kernels' fmexp_lanes_backward_regs), whose states before each
/// segment it keeps; the blocks' starts are kept by a first sweep.
inline constexpr std::size_t lanes_regs_backward_block = 16;

/// Asks for the cache lines of the n values before `end`, to be written
/// (addresses only: a prefetch does not fault, and the values need not be
/// an object's). For buffers the backward writes from their end back, an
/// order the hardware's stream prefetchers do not follow: a lane's points
/// in lanes_scatter (paths/detail/core.hpp), ∂L/∂z in the passes of
/// fmexp_lanes_backward (src/kernels/simd.hpp).
template <class T> inline void prefetch_before_for_write(const T* end, std::size_t n) {
    const std::uintptr_t e = reinterpret_cast<std::uintptr_t>(end);
    for (std::uintptr_t a = e - n * sizeof(T); a < e; a += 64)
        __builtin_prefetch(reinterpret_cast<const void*>(a), 1, 3);
}

/// Scratch for fmexp_lanes_backward on m segments (or, for a tensor in
/// registers, the states before each segment of a block and every
/// block's start, if more): per pass of
/// M segments (lanes_backward_segments(dim, registers), or m for one pass of up to
/// lanes_backward_long_pass), z/c and ∂L/∂z per divisor (2 M N d)
/// and the forward partial sums at one node of each level (N M (N+1)) and
/// the adjoint sums at its d children (d N M (N+1)), chain N's partial sums at the nodes of level N-1 under one node (M
/// d); a short pass's increments padded with zeros (M d); with roots, a
/// pass's roots and their gradient (2 M (N+1)); the forward's scratch
/// at depth N-1; levels 0..N-1 at the start of every pass but the first. All
/// per lane.
inline std::size_t fmexp_lanes_backward_scratch_size(std::size_t dim, std::size_t depth, std::size_t m,
                                                     std::size_t lanes, std::size_t registers) {
    const std::size_t M = lanes_backward_pass(dim, m, false, registers), passes = (m + M - 1) / M;
    const std::size_t B = lanes_regs_backward_block, blocks = (m + B - 1) / B;
    const std::size_t in_passes =
        lanes * (2 * M * depth * dim + (1 + dim) * depth * M * (depth + 1) + 2 * M * dim + 2 * M * (depth + 1)) +
        fmexp_lanes_scratch_size(dim, depth > 0 ? depth - 1 : 0, M, lanes) +
        (passes > 0 ? passes - 1 : 0) * fmexp_lanes_record_size(dim, depth) * lanes;
    const std::size_t in_registers =
        ((blocks > 0 ? blocks - 1 : 0) + B) * fmexp_lanes_record_size(dim, depth) * lanes;
    return in_passes > in_registers ? in_passes : in_registers;
}

/// Scratch for fmexp_adjoint: z/m, per-divisor z-gradients (N d each), the
/// Horner terms of one level (levels 0..N-1 of a tensor) and two buffers of d^(N-1).
inline std::size_t fmexp_adjoint_scratch_size(std::size_t dim, std::size_t depth) {
    std::size_t top = 1, below = 0; // d^(N-1), d^0 + ... + d^(N-1)
    for (std::size_t k = 0; k < depth; ++k) {
        below += top;
        if (k + 1 < depth) top *= dim;
    }
    return 2 * depth * dim + below + 2 * top;
}

/// Size of the record of one fmexp: for each level k = 1..N its Horner terms
/// t_0..t_{k-1}, laid out like levels 0..k-1 of a tensor; about one
/// signature's size (sum over k of d^0 + ... + d^(k-1)).
inline std::size_t fmexp_record_size(std::size_t dim, std::size_t depth) {
    std::size_t total = 0, below = 0, n = 1; // below = d^0 + ... + d^(k-1)
    for (std::size_t k = 1; k <= depth; ++k) {
        below += n;
        n *= dim;
        total += below;
    }
    return total;
}

/// 1/c for c < reciprocal_table_size, as reciprocal computes it: a division
/// in a constant expression rounds as the same division at run time (IEEE
/// 754's correctly rounded quotient), so the table changes no bits. Filled
/// at compile time: prefix_roots, which fills its 1/c at every call, had
/// spent a fifth of its samples in those divisions.
inline constexpr std::size_t reciprocal_table_size = 64;
template <class T> struct reciprocal_table {
    T value[reciprocal_table_size] = {};
    constexpr reciprocal_table() {
        for (std::size_t c = 1; c < reciprocal_table_size; ++c)
            value[c] = T(1) / T(static_cast<double>(c));
    }
};
template <class T> inline constexpr reciprocal_table<T> reciprocals{};

/// 1/c, by which every kernel multiplies an increment for Horner's divisor
/// c (z/c as z * (1/c)): one expression, so that the scalar twins and the
/// SIMD kernels round alike.
template <class T> T reciprocal(std::size_t c) {
    if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>)
        if (c < reciprocal_table_size) return reciprocals<T>.value[c];
    return T(1) / T(static_cast<double>(c));
}

/// zs[(c-1)*dim + b] = z[b] / c for c = c0..depth: the increment divided by
/// each Horner divisor.
template <class T> void divided_by_steps(T* zs, const T* z, std::size_t dim, std::size_t c0, std::size_t depth) {
    for (std::size_t c = c0; c <= depth; ++c) {
        const T inv = reciprocal<T>(c);
        for (std::size_t b = 0; b < dim; ++b)
            zs[(c - 1) * dim + b] = z[b] * inv;
    }
}

/// gz[b] += gzc[(c-1)*dim + b] / c for c = c0..depth: the z-gradients
/// gathered per divisor, scaled once.
template <class T> void add_divided(T* gz, const T* gzc, std::size_t dim, std::size_t c0, std::size_t depth) {
    for (std::size_t c = c0; c <= depth; ++c) {
        const T inv = reciprocal<T>(c);
        for (std::size_t b = 0; b < dim; ++b)
            gz[b] += gzc[(c - 1) * dim + b] * inv;
    }
}

/// The Horner step of one side. Right (A ⊗ exp(z)): t ⊗ z, rows of d
/// values (P::outer_fma). Left (exp(z) ⊗ A): z ⊗ t, d contiguous blocks
/// z_b t of d^(j-1) values (P::block_fma).
template <bool Left, class P, class T>
void step_fma(T* out, const T* t, std::size_t n, const T* z, std::size_t dim, const T* add) {
    if constexpr (Left)
        P::block_fma(out, t, n, z, dim, add);
    else
        P::outer_fma(out, t, n, z, dim, add);
}

template <bool Left, class P, class T>
void step_fma_many(T* out, const T* t, std::size_t st, std::size_t n, std::size_t m, const T* Z, std::size_t dim) {
    if constexpr (Left)
        P::block_fma_many(out, t, st, n, m, Z, dim);
    else
        P::outer_fma_many(out, t, st, n, m, Z, dim);
}

/// A <- A ⊗ exp(z) (Left: A <- exp(z) ⊗ A): levels N down to 1, each by
/// Horner's scheme
///   t_0 = A_0, t_j = t_{j-1} ⊗ z/(k-j+1) + A_j (j = 1..k), A_k <- t_k
/// (Left: t_j = z/(k-j+1) ⊗ t_{j-1} + A_j).
/// With `record` non-null, the Horner terms are written there (see
/// fmexp_record_size) for fmexp_adjoint, instead of to scratch; then, with
/// `update_top` false, level N of A is left as it was: the adjoint reads only the
/// record, and level N, read by no other level, is the largest update.
template <class P, bool Left = false, class T>
void fmexp(T* A, const T* z, std::size_t dim, std::size_t depth, T* scratch, T* record = nullptr,
           bool update_top = true) {
    if (depth == 0) return;
    if (depth == 2 && dim <= 4 && !record) {
        // A few multiply-adds: plain loops, none of the general set-up.
        // Level 2: A_2 += (A_0 z/2 + A_1) ⊗ z; then level 1: A_1 += A_0 z.
        // (Left: A_2 += z ⊗ (A_0 z/2 + A_1), the transposed update.)
        T* A2 = A + 1 + dim;
        for (std::size_t i = 0; i < dim; ++i) {
            const T t = A[0] * (z[i] * T(0.5)) + A[1 + i];
            for (std::size_t j = 0; j < dim; ++j) {
                const std::size_t ij = Left ? j * dim + i : i * dim + j;
                A2[ij] = t * z[j] + A2[ij];
            }
        }
        for (std::size_t i = 0; i < dim; ++i)
            A[1 + i] = A[0] * z[i] + A[1 + i];
        return;
    }
    T* zs = scratch; // zs[(m-1)*dim + b] = z[b] / m
    divided_by_steps(zs, z, dim, 1, depth);
    std::size_t top = 1;
    for (std::size_t k = 1; k < depth; ++k)
        top *= dim;
    T* buf[2] = {scratch + depth * dim, scratch + depth * dim + top};

    std::size_t level_size = top * dim, offset = 0; // level N, then walked down
    for (std::size_t k = 0, n = 1; k < depth; ++k, n *= dim)
        offset += n;
    // record block of level k starts after the blocks of levels 1..k-1
    std::size_t record_off = record ? fmexp_record_size(dim, depth) : 0;
    for (std::size_t k = depth; k >= 1; --k) {
        T* Ak = A + offset;
        T* rec = nullptr;
        if (record) {
            record_off -= offset; // the block of level k has d^0 + ... + d^(k-1) = offset entries
            rec = record + record_off;
            rec[0] = A[0];
        }
        const bool update = update_top || !record || k < depth;
        if (k == 1) {
            if (update)
                for (std::size_t b = 0; b < dim; ++b)
                    Ak[b] = A[0] * z[b] + Ak[b];
            break;
        }
        T* t = rec ? rec + 1 : buf[0];
        const T* zk = zs + (k - 1) * dim;
        for (std::size_t b = 0; b < dim; ++b)
            t[b] = A[0] * zk[b] + A[1 + b];
        std::size_t tn = dim, level_off = 1 + dim;
        int cur = 0;
        for (std::size_t j = 2; j < k; ++j) {
            T* next = rec ? rec + level_off : buf[1 - cur];
            step_fma<Left, P>(next, t, tn, zs + (k - j) * dim, dim, A + level_off);
            t = next;
            cur = 1 - cur;
            tn *= dim;
            level_off += tn;
        }
        if (update) step_fma<Left, P>(Ak, t, tn, z, dim, Ak);
        level_size /= dim;
        offset -= level_size;
    }
}

/// A <- A ⊗ exp(z_1) ⊗ ... ⊗ exp(z_m), z_s = Z + s*dim: m fused steps with
/// the top level N deferred. Level N is read by no other level, so each
/// segment updates levels 1..N-1 as fmexp does and keeps only the top
/// level's last Horner term t^(s) (from the lower levels before segment s);
/// then one pass adds Σ_s t^(s) ⊗ z_s to level N (P::outer_fma_many, in
/// order s = 1..m, the same fused multiply-adds as m fmexp calls: the
/// result is bit-identical). The top level, most of the tensor, is read and
/// written once per block instead of once per segment. With `record`, the
/// Horner terms of segment s go to record + s * fmexp_record_size(dim, depth),
/// exactly as m fmexp calls with records would write them, and with `update_top`
/// false level N is not updated (as fmexp).
template <class P, bool Left = false, class T>
void fmexp_many(T* A, const T* Z, std::size_t m, std::size_t dim, std::size_t depth, T* scratch,
                T* record = nullptr, bool update_top = true) {
    if (depth == 0 || m == 0) return;
    const std::size_t R = record ? fmexp_record_size(dim, depth) : 0;
    if (depth == 1 || m == 1 || (depth == 2 && dim <= 4)) { // (fmexp's short path for depth 2)
        for (std::size_t s = 0; s < m; ++s)
            fmexp<P, Left>(A, Z + s * dim, dim, depth, scratch, record ? record + s * R : nullptr, update_top);
        return;
    }
    std::size_t top = 1, offset = 0; // d^(N-1); offset of level N
    for (std::size_t k = 1; k < depth; ++k)
        top *= dim;
    for (std::size_t k = 0, n = 1; k < depth; ++k, n *= dim)
        offset += n;
    // With a record, level N's block of segment s starts after its blocks of
    // levels 1..N-1, and holds t_0..t_{N-1} at the offsets of levels 0..N-1.
    const std::size_t block_N = record ? fmexp_record_size(dim, depth - 1) : 0;
    const std::size_t last_off = offset - top; // offset of t_{N-1} inside that block
    T* tops = scratch;                           // m blocks of d^(N-1) (without a record)
    T* work = scratch + (record ? 0 : m * top); // fmexp's scratch: z/c (N d) and two d^(N-1) buffers
    T* zs = work;
    T* buf[2] = {work + depth * dim, work + depth * dim + top};
    for (std::size_t s = 0; s < m; ++s) {
        const T* z = Z + s * dim;
        T* rec = record ? record + s * R + block_N : nullptr;
        T* t_last = rec ? rec + last_off : tops + s * top;
        // level N's Horner terms t_1..t_{N-1} (divisors N..2), t_{N-1} kept
        divided_by_steps(zs, z, dim, 2, depth);
        if (rec) rec[0] = A[0];
        T* t = depth == 2 ? t_last : (rec ? rec + 1 : buf[0]);
        const T* zN = zs + (depth - 1) * dim;
        for (std::size_t b = 0; b < dim; ++b)
            t[b] = A[0] * zN[b] + A[1 + b];
        std::size_t tn = dim, level_off = 1 + dim;
        int cur = 0;
        for (std::size_t j = 2; j < depth; ++j) {
            T* next = j + 1 == depth ? t_last : (rec ? rec + level_off : buf[1 - cur]);
            step_fma<Left, P>(next, t, tn, zs + (depth - j) * dim, dim, A + level_off);
            t = next;
            cur = 1 - cur;
            tn *= dim;
            level_off += tn;
        }
        // levels 1..N-1 (fmexp of depth N-1 uses the same divisors for them;
        // its record layout is the prefix of depth N's)
        fmexp<P, Left>(A, z, dim, depth - 1, work, record ? record + s * R : nullptr);
    }
    if (record) {
        if (update_top) step_fma_many<Left, P>(A + offset, record + block_N + last_off, R, top, m, Z, dim);
    } else
        step_fma_many<Left, P>(A + offset, tops, top, top, m, Z, dim);
}

/// Scratch for prefix_chains: z/c (N d) and the chains' partial sums at two
/// levels ((N + 1) d^p each).
inline std::size_t prefix_chains_scratch_size(std::size_t dim, std::size_t p, std::size_t depth) {
    std::size_t n = 1;
    for (std::size_t k = 0; k < p; ++k)
        n *= dim;
    return depth * dim + 2 * (depth + 1) * n;
}

/// The top of A ⊗ exp(z) when the words of level p are lanes (signature's
/// prefix lanes: below each word w of level p, fmexp_lanes with roots
/// advances the words w u). A holds levels 0..p of a depth-N tensor; for
/// k = 0..N-p, root[k*n + w] (n = d^p) becomes the partial sum at w of
/// Horner's chain of level p + k,
///   t_0 = A_0, t_j = t_{j-1} ⊗ z/(p+k-j+1) + A_j (j = 1..p), root_k = t_p,
/// and levels 1..p of A become those of A ⊗ exp(z) (t_k of chain k; root_0
/// is the new level p). Level by level, every chain still running at once
/// (the loop over chains innermost and contiguous). `scratch`:
/// prefix_chains_scratch_size(dim, p, depth).
template <class T>
void prefix_chains(T* A, const T* z, std::size_t dim, std::size_t p, std::size_t depth, T* root, T* scratch) {
    const std::size_t K = depth + 1;
    std::size_t words = 1; // d^p
    for (std::size_t j = 0; j < p; ++j)
        words *= dim;
    T* zs = scratch; // zs[(c-1)*dim + b] = z_b / c
    divided_by_steps(zs, z, dim, 1, depth);
    T* v = scratch + depth * dim; // level j-1: v[w*K + k], chains k >= j-1
    T* next = v + K * words;      // level j
    for (std::size_t k = 0; k <= depth; ++k)
        v[k] = A[0];
    for (std::size_t j = 1, n = dim, off = 1; j <= p; off += n, n *= dim, ++j) {
        for (std::size_t w = 0; w < n / dim; ++w)
            for (std::size_t b = 0; b < dim; ++b) {
                const T a = A[off + w * dim + b];
                const T* q = v + w * K;
                T* t = next + (w * dim + b) * K;
                for (std::size_t k = j; k <= depth; ++k) // divisor k - j + 1
                    t[k] = q[k] * zs[(k - j) * dim + b] + a;
                A[off + w * dim + b] = t[j]; // chain j ends here
            }
        std::swap(v, next);
    }
    for (std::size_t w = 0; w < words; ++w)
        for (std::size_t k = p; k <= depth; ++k)
            root[(k - p) * words + w] = v[w * K + k];
}

/// Scratch for prefix_chains_adjoint: z/c (N d), then every level's partial
/// sums and their adjoints ((N + 1)(d^0 + ... + d^p) each).
inline std::size_t prefix_chains_adjoint_scratch_size(std::size_t dim, std::size_t p, std::size_t depth) {
    std::size_t words = 0;
    for (std::size_t k = 0, n = 1; k <= p; ++k, n *= dim)
        words += n;
    return depth * dim + depth + 2 * (depth + 1) * words;
}

/// The adjoint of prefix_chains: A holds levels 0..p before the segment (not
/// written); gA holds ∂L/∂(levels 0..p after) on entry and ∂L/∂(levels 0..p
/// before) on exit; groot[k*n + w] is ∂L/∂root_k at the word w of level p;
/// ∂L/∂z is added to gz. The partial sums are recomputed, then reverse mode
/// through t_j = t_{j-1} z_b/c + A_j, level p up to the root.
template <class T>
void prefix_chains_adjoint(const T* A, const T* z, std::size_t dim, std::size_t p, std::size_t depth, const T* groot,
                           T* gA, T* gz, T* scratch) {
    const std::size_t K = depth + 1;
    T* zs = scratch;
    divided_by_steps(zs, z, dim, 1, depth);
    T* inv = zs + depth * dim; // inv[c-1] = 1/c
    for (std::size_t c = 1; c <= depth; ++c)
        inv[c - 1] = reciprocal<T>(c);
    T* t = inv + depth; // level j's partial sums at t + K*off_j (off_j: offset of level j)
    const std::size_t total = (prefix_chains_adjoint_scratch_size(dim, p, depth) - depth * dim - depth) / 2;
    T* tb = t + total; // and their adjoints
    std::fill(tb, tb + total, T(0));
    for (std::size_t k = 0; k <= depth; ++k)
        t[k] = A[0];
    std::size_t off = 1, n = dim;
    for (std::size_t j = 1; j <= p; off += n, n *= dim, ++j)
        for (std::size_t u = 0; u < n / dim; ++u)
            for (std::size_t b = 0; b < dim; ++b) {
                const std::size_t w = off + u * dim + b, par = off - n / dim + u;
                for (std::size_t k = j; k <= depth; ++k)
                    t[w * K + k] = t[par * K + k] * zs[(k - j) * dim + b] + A[w];
            }
    // level p: the roots' gradients, and that of the new level p (chain p)
    n /= dim;
    off -= n;
    for (std::size_t w = 0; w < n; ++w) {
        for (std::size_t k = p; k <= depth; ++k)
            tb[(off + w) * K + k] = groot[(k - p) * n + w];
        tb[(off + w) * K + p] += gA[off + w];
    }
    for (std::size_t j = p; j >= 1; --j) {
        const std::size_t up = off - n / dim; // offset of level j-1
        for (std::size_t u = 0; u < n / dim; ++u) { // chain j-1 ends at u: the gradient of the new A_{j-1}
            if (j > 1) tb[(up + u) * K + j - 1] += gA[up + u];
            for (std::size_t b = 0; b < dim; ++b) {
                const std::size_t w = off + u * dim + b;
                const T* v = tb + w * K;
                const T* q = t + (up + u) * K;
                T* qb = tb + (up + u) * K;
                T g = T(0), gzb = T(0);
                for (std::size_t k = j; k <= depth; ++k) {
                    g += v[k];
                    qb[k] += v[k] * zs[(k - j) * dim + b];
                    gzb += v[k] * q[k] * inv[k - j];
                }
                gA[w] = g;
                gz[b] += gzb;
            }
        }
        n /= dim;
        off = up;
    }
    for (std::size_t k = 1; k <= depth; ++k) // level 0 is every chain's start
        gA[0] += tb[k];
}

/// The reverse Horner chain of level k from step j_top down to 1, given
/// t̄_{j_top} (rows x dim values, rows = d^(j_top - 1); off_prev is the offset
/// of level j_top - 1): for each step, ∂L/∂z (times c = k-j+1) += t_{j-1}ᵀ t̄_j
/// and t̄_{j-1} = t̄_j · z / c with ∂L/∂A_{j-1} += t̄_{j-1}, in one pass over
/// t̄_j (P::adjoint_step). `terms` holds the level's Horner terms at the
/// offsets of levels 0..k-1; buf is two buffers of d^(N-1).
/// With accM, the first step also adds t̄_{j_top} into accM.
template <class P, class T>
void reverse_chain(T* gA, T* gzc, const T* terms, const T* tbar, std::size_t k, std::size_t j_top,
                   std::size_t rows, std::size_t off_prev, std::size_t dim, const T* zs, T* const* buf,
                   T* accM = nullptr) {
    int cur = 0;
    for (std::size_t j = j_top; j >= 1; --j) {
        const std::size_t c = k - j + 1;
        T* next = buf[cur];
        P::adjoint_step(gzc + (c - 1) * dim, terms + off_prev, next, tbar, rows, dim, zs + (c - 1) * dim,
                        gA + off_prev, j == j_top ? accM : static_cast<T*>(nullptr));
        tbar = next;
        cur = 1 - cur;
        if (j > 1) {
            rows /= dim;
            off_prev -= rows;
        }
    }
}

/// The adjoint of B = A ⊗ exp(z): given gA = ∂L/∂B (levels 0..N), overwrite
/// it with ∂L/∂A and add ∂L/∂z to gz (dim values). A is the input of the
/// forward step. Levels go up from 1, so the overwrite is safe: level k of
/// ∂L/∂B is read before any higher level adds to it. For each level the
/// forward Horner terms are recomputed, then run backwards:
///   ∂L/∂A_j += t̄_j,  ∂L/∂z += t_{j-1}ᵀ t̄_j / c,  t̄_{j-1} = t̄_j · z / c  (c = k-j+1).
/// With `record` (from fmexp on the same A and z) the Horner terms are read
/// from it instead of being recomputed, and A is not used.
template <class P, class T>
void fmexp_adjoint(T* gA, T* gz, const T* A, const T* z, std::size_t dim, std::size_t depth, T* scratch,
                   const T* record = nullptr) {
    if (depth == 0) return;
    T* zs = scratch;                // z / m
    T* gzc = scratch + depth * dim; // gradient of z per divisor c, scaled at the end
    T* tstore = gzc + depth * dim;  // Horner terms t_0..t_{k-1} at the offsets of levels 0..k-1
    std::size_t top = 1, below = 0;
    for (std::size_t k = 0; k < depth; ++k) {
        below += top;
        if (k + 1 < depth) top *= dim;
    }
    T* buf[2] = {tstore + below, tstore + below + top};
    divided_by_steps(zs, z, dim, 1, depth);
    std::fill(gzc, gzc + depth * dim, T(0));
    std::size_t off_k = 1, n_k = dim; // level k: offset and size
    std::size_t record_off = 0;
    for (std::size_t k = 1; k <= depth; ++k) {
        const T* terms = tstore;
        if (record) {
            terms = record + record_off; // block of level k: off_k entries
            record_off += off_k;
        } else {
            // forward: t_0 = A_0, t_j = t_{j-1} ⊗ z/(k-j+1) + A_j for j < k
            tstore[0] = A[0];
            std::size_t off_j = 1, n_j = dim;
            for (std::size_t j = 1; j < k; ++j) {
                P::outer_fma(tstore + off_j, tstore + off_j - n_j / dim, n_j / dim, zs + (k - j) * dim, dim,
                             A + off_j);
                off_j += n_j;
                n_j *= dim;
            }
        }
        // backward from t̄_k = ∂L/∂B_k
        reverse_chain<P>(gA, gzc, terms, gA + off_k, k, k, n_k / dim, off_k - n_k / dim, dim, zs, buf);
        off_k += n_k;
        n_k *= dim;
    }
    add_divided(gz, gzc, dim, 1, depth);
}

/// Scratch for fmexp_adjoint_many (blocks of m segments).
inline std::size_t fmexp_adjoint_many_scratch_size(std::size_t dim, std::size_t depth, std::size_t m) {
    std::size_t top = 1;
    for (std::size_t k = 1; k < depth; ++k)
        top *= dim;
    return m * top + m * dim + 2 * depth * dim + 2 * top + fmexp_adjoint_scratch_size(dim, depth);
}

/// The adjoint of fmexp_many with records: for s = m-1 down to 0 it does what
/// fmexp_adjoint(gA, GZ + s*dim, ., Z + s*dim, dim, depth, ., record_s) does,
/// record_s = record + s * fmexp_record_size(dim, depth). The top level's
/// gradient is the same for every segment of the block (level N feeds no
/// other level), so its first reverse Horner step, the pass over the largest
/// level, is done for all m segments at once (P::adjoint_step_many); the
/// rest runs segment by segment, levels 1..N-1 first, then the tail of
/// level N's chain. Equal to m fmexp_adjoint calls up to the order of the
/// z-gradient's sums.
template <class P, class T>
void fmexp_adjoint_many(T* gA, T* GZ, const T* record, const T* Z, std::size_t m, std::size_t dim,
                        std::size_t depth, T* scratch) {
    if (depth == 0 || m == 0) return;
    const std::size_t R = fmexp_record_size(dim, depth);
    if (depth == 1 || m == 1) {
        for (std::size_t s = m; s-- > 0;)
            fmexp_adjoint<P>(gA, GZ + s * dim, static_cast<const T*>(nullptr), Z + s * dim, dim, depth, scratch,
                             record + s * R);
        return;
    }
    std::size_t top = 1, off_N = 0; // d^(N-1); offset of level N
    for (std::size_t k = 1; k < depth; ++k)
        top *= dim;
    for (std::size_t k = 0, n = 1; k < depth; ++k, n *= dim)
        off_N += n;
    const std::size_t block_N = fmexp_record_size(dim, depth - 1), off_last = off_N - top;
    T* tb = scratch;            // m x d^(N-1): t̄_{N-1} of each segment
    T* gz1 = tb + m * top;      // m x dim: ∂L/∂z from level N's first step (divisor 1)
    T* zs = gz1 + m * dim;      // z / c, c = 1..N
    T* gzc = zs + depth * dim;  // level N's z-gradient per divisor
    T* buf[2] = {gzc + depth * dim, gzc + depth * dim + top};
    T* inner = buf[1] + top;    // fmexp_adjoint's scratch
    for (std::size_t i = 0; i < m * dim; ++i)
        gz1[i] = T(0);
    // t̄_{N-1}^(s) = G_N z_s and t_{N-1}^(s)ᵀ G_N, for every s in one pass over G_N
    P::adjoint_step_many(gz1, record + block_N + off_last, R, tb, gA + off_N, top, dim, Z, m);
    for (std::size_t s = m; s-- > 0;) {
        const T* z = Z + s * dim;
        const T* terms = record + s * R + block_N; // level N's Horner terms
        // levels 1..N-1 (their record blocks are the prefix of depth N's)
        fmexp_adjoint<P>(gA, GZ + s * dim, static_cast<const T*>(nullptr), z, dim, depth - 1, inner, record + s * R);
        // level N: the first step was done above; the rest of the chain, whose
        // first step also adds t̄_{N-1} to ∂L/∂A_{N-1} as it reads it
        divided_by_steps(zs, z, dim, 1, depth);
        std::fill(gzc, gzc + depth * dim, T(0));
        reverse_chain<P>(gA, gzc, terms, tb + s * top, depth, depth - 1, top / dim, off_last - top / dim, dim, zs,
                         buf, gA + off_last);
        T* gz = GZ + s * dim;
        for (std::size_t b = 0; b < dim; ++b)
            gz[b] += gz1[s * dim + b];
        add_divided(gz, gzc, dim, 2, depth);
    }
}

/// Scratch for fmexp_jvp with `count` directions: z/m and each ż_s/m (N d
/// each), a zero row, and the Horner terms t and each ṫ_s of one level in
/// ping-pong pairs ((1 + count) pairs of d^N).
inline std::size_t fmexp_jvp_scratch_size(std::size_t dim, std::size_t depth, std::size_t count = 1) {
    std::size_t top = 1;
    for (std::size_t k = 1; k < depth; ++k)
        top *= dim;
    return (1 + count) * depth * dim + (3 + 2 * count) * top * dim;
}

/// The derivatives of B = A ⊗ exp(z) along `count` directions, A held
/// fixed: Bdot_s = A ⊗ Dexp(z)[ż_s] for ż_s = zdot + s*dim, written to
/// Bdot + s*size (size = the tensor's length, levels 0..N; level 0 is 0),
/// by differentiating Horner's scheme,
///   ṫ_0 = 0, ṫ_j = ṫ_{j-1} ⊗ z/c + t_{j-1} ⊗ ż/c  (c = k-j+1),  Ḃ_k = ṫ_k.
/// The terms t do not depend on ż: one chain of them serves every direction
/// (the Jacobian's d directions cost 1 + d chains per level, not 2d).
/// Left: Bdot_s = Dexp(z)[ż_s] ⊗ A, the derivative of exp(z) ⊗ A (the same
/// recursion with z ⊗ t for t ⊗ z).
template <class P, bool Left = false, class T>
void fmexp_jvp(T* Bdot, const T* A, const T* z, const T* zdot, std::size_t dim, std::size_t depth, T* scratch,
               std::size_t count = 1) {
    if (depth == 0 || count == 0) return;
    std::size_t top = 1, size = 1;
    for (std::size_t k = 1; k < depth; ++k)
        top *= dim;
    for (std::size_t k = 1, n = 1; k <= depth; ++k)
        size += n *= dim;
    const std::size_t cap = top * dim;
    T* zs = scratch;                  // z / c
    T* zds = zs + depth * dim;        // ż_s / c, direction s at s * depth * dim
    T* zero = zds + count * depth * dim;
    T* t[2] = {zero + cap, zero + 2 * cap};
    T* td = zero + 3 * cap;           // direction s: its ping-pong pair at td + 2 s cap
    for (std::size_t i = 0; i < cap; ++i)
        zero[i] = T(0);
    divided_by_steps(zs, z, dim, 1, depth);
    // ż along one coordinate (the Jacobian's directions): t ⊗ ż/c is t/c
    // times ż's entry, in one column (Right) or one block (Left), so it is
    // added where it lands instead of by a full outer product
    // (for float and double: a dual number's zero may carry derivatives)
    constexpr std::size_t no_axis = ~std::size_t(0);
    auto axis_of = [&](const T* zd) {
        std::size_t axis = no_axis, nonzero = 0;
        if constexpr (std::is_floating_point_v<T>)
            for (std::size_t b = 0; b < dim; ++b)
                if (!(zd[b] == T(0))) {
                    axis = b;
                    ++nonzero;
                }
        return nonzero == 1 ? axis : no_axis;
    };
    for (std::size_t s = 0; s < count; ++s) {
        divided_by_steps(zds + s * depth * dim, zdot + s * dim, dim, 1, depth);
        Bdot[s * size] = T(0);
    }
    std::size_t off_k = 1, n_k = dim;
    for (std::size_t k = 1; k <= depth; ++k) {
        // j = 1: t_1 = A_0 z/k + A_1, ṫ_1 = A_0 ż/k
        const T* zk = zs + (k - 1) * dim;
        if (k > 1)
            for (std::size_t b = 0; b < dim; ++b)
                t[0][b] = A[0] * zk[b] + A[1 + b];
        for (std::size_t s = 0; s < count; ++s) {
            T* out_td = k == 1 ? Bdot + s * size + off_k : td + 2 * s * cap;
            const T* zdk = zds + s * depth * dim + (k - 1) * dim;
            for (std::size_t b = 0; b < dim; ++b)
                out_td[b] = A[0] * zdk[b];
        }
        std::size_t tn = dim, level_off = 1 + dim;
        int cur = 0;
        for (std::size_t j = 2; j <= k; ++j) {
            const std::size_t c = k - j + 1;
            for (std::size_t s = 0; s < count; ++s) {
                T* tds = td + 2 * s * cap;
                T* td_cur = tds + cur * cap;
                T* td_next = j == k ? Bdot + s * size + off_k : tds + (1 - cur) * cap;
                const T* zdc = zds + s * depth * dim + (c - 1) * dim;
                // ṫ_j = t_{j-1} ⊗ ż/c + ṫ_{j-1} ⊗ z/c
                const std::size_t axis = axis_of(zdc);
                if (axis != no_axis) {
                    step_fma<Left, P>(td_next, td_cur, tn, zs + (c - 1) * dim, dim, zero);
                    const T f = zdc[axis];
                    const T* tc = t[cur];
                    if constexpr (Left) {
                        T* block = td_next + axis * tn;
                        for (std::size_t i = 0; i < tn; ++i)
                            block[i] = tc[i] * f + block[i];
                    } else {
                        for (std::size_t i = 0; i < tn; ++i)
                            td_next[i * dim + axis] = tc[i] * f + td_next[i * dim + axis];
                    }
                } else {
                    step_fma<Left, P>(td_next, t[cur], tn, zdc, dim, zero);
                    step_fma<Left, P>(td_next, td_cur, tn, zs + (c - 1) * dim, dim, td_next);
                }
            }
            if (j < k) {
                step_fma<Left, P>(t[1 - cur], t[cur], tn, zs + (c - 1) * dim, dim, A + level_off);
                cur = 1 - cur;
                tn *= dim;
                level_off += tn;
            }
        }
        off_k += n_k;
        n_k *= dim;
    }
}

/// Level k of c = a ⊗ b by rows, for levels 0..N of dimension d flattened
/// (off_k, n_k = d^k: level k's offset and size): c_k = a_0 b_k + b_0 a_k,
/// then one outer product a_i ⊗ b_{k-i} per 0 < i < k, each a pass over
/// c_k. Reads levels < k of a and b, and level k at the coefficient it
/// writes: c may be a or b when the levels above k are done first.
template <class P, class T>
void product_level(T* c, const T* a, const T* b, std::size_t d, std::size_t k, std::size_t off_k,
                   std::size_t n_k) {
    const T* src[2] = {b + off_k, a + off_k};
    const T coef[2] = {a[0], b[0]};
    P::lincomb(c + off_k, n_k, src, coef, 2);
    for (std::size_t i = 1, off_i = 1, n_i = d; i < k; ++i, off_i += n_i, n_i *= d) {
        const std::size_t n_rest = n_k / n_i, off_rest = d == 1 ? k - i : (n_rest - 1) / (d - 1);
        P::outer_fma(c + off_k, a + off_i, n_i, b + off_rest, n_rest, c + off_k);
    }
}

/// c = a ⊗ b truncated at depth N, level by level from the top
/// (product_level), level 0 last: c may be a or b.
template <class P, class T> void product(T* c, const T* a, const T* b, std::size_t d, std::size_t N) {
    std::size_t n_k = 1, off_k = 0;
    for (std::size_t k = 1; k <= N; ++k) {
        off_k += n_k;
        n_k *= d;
    }
    for (std::size_t k = N; k >= 1; --k) {
        product_level<P>(c, a, b, d, k, off_k, n_k);
        n_k /= d;
        off_k -= n_k;
    }
    c[0] = a[0] * b[0];
}

/// Calls f(off_k, n_k, off_i, n_i, off_m, n_m) for every term of the
/// product's adjoint: level k = i + m of gc as n_i = d^i rows of n_m = d^m.
template <class F> void for_each_product_term(std::size_t d, std::size_t N, F&& f) {
    std::size_t off_k = 0, n_k = 1;
    for (std::size_t k = 0; k <= N; ++k) {
        std::size_t off_i = 0, n_i = 1;
        for (std::size_t i = 0; i <= k; ++i) {
            const std::size_t n_m = n_k / n_i, off_m = d == 1 ? k - i : (n_m - 1) / (d - 1);
            f(off_k, n_k, off_i, n_i, off_m, n_m);
            off_i += n_i;
            n_i *= d;
        }
        off_k += n_k;
        n_k *= d;
    }
}

/// gb += a ⊳ gc by rows (product_adjoint's left half).
template <class P, class T>
void product_adjoint_left(T* gb, const T* a, const T* gc, std::size_t d, std::size_t N) {
    for_each_product_term(d, N,
                          [&](std::size_t off_k, std::size_t, std::size_t off_i, std::size_t n_i,
                              std::size_t off_m,
                              std::size_t n_m) { P::vecmat(gb + off_m, a + off_i, n_i, gc + off_k, n_m); });
}

/// ga += gc ⌟ b by rows (product_adjoint's right half).
template <class P, class T>
void product_adjoint_right(T* ga, const T* b, const T* gc, std::size_t d, std::size_t N) {
    constexpr std::size_t chunk = 64;
    T tmp[chunk];
    for_each_product_term(d, N,
                          [&](std::size_t off_k, std::size_t, std::size_t off_i, std::size_t n_i,
                              std::size_t off_m, std::size_t n_m) {
                              for (std::size_t r = 0; r < n_i; r += chunk)
                                  P::matvec(tmp, gc + off_k + r * n_m, std::min(chunk, n_i - r), n_m,
                                            b + off_m, ga + off_i + r);
                          });
}

/// The truncated product's adjoint by rows: from gc = ∂L/∂c for c = a ⊗ b
/// (levels 0..N of dimension d), ga += gc ⌟ b and gb += a ⊳ gc, that is
/// ga_i[u] += Σ_j Σ_v gc_{i+j}[u v] b_j[v] (the trailing letters contracted
/// with b) and gb_j[v] += Σ_i Σ_u a_i[u] gc_{i+j}[u v] (the leading ones
/// with a). Each term a matrix-vector product of gc_k, as d^i rows of
/// d^(k-i), with b_(k-i) (P::matvec, 64 rows at a time into `tmp`:
/// product_adjoint_right) and a vector-matrix product with a_i (P::vecmat:
/// product_adjoint_left). Either of ga, gb may be null.
template <class P, class T>
void product_adjoint(T* ga, T* gb, const T* a, const T* b, const T* gc, std::size_t d, std::size_t N) {
    if (gb) product_adjoint_left<P>(gb, a, gc, d, N);
    if (ga) product_adjoint_right<P>(ga, b, gc, d, N);
}

} // namespace tensig::kernels::horner

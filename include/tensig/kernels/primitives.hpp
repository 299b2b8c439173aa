#pragma once
/// \file
/// Layer 4: the kernel entry points the rest of tensig calls.
///
/// For float and double they go to SIMD kernels compiled into the library
/// for several instruction sets and picked at run time (xsimd's dispatch);
/// for any other scalar (dual numbers, long double) they run the scalar twins
/// of kernels/scalar.hpp. No other header touches SIMD.

#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include "tensig/kernels/scalar.hpp"

namespace tensig::kernels {

/// True for the scalars that have SIMD kernels in the compiled library.
template <class T>
struct has_simd : std::bool_constant<std::is_same_v<T, float> || std::is_same_v<T, double>> {};

/// Name of the instruction set the dispatched kernels use ("fma3+avx2", "sse2", ...).
std::string active_arch();

/// Instruction sets this build has kernels for that this CPU can run, best first.
std::vector<std::string> available_archs();

/// Elementwise passes (lincomb: every expression of `+`, `-` and scalar
/// factors) whose memory traffic, inputs plus output, is at least this many
/// bytes write their output with non-temporal stores: half the last-level
/// cache the system reports (32 MiB if it reports none). Such a pass streams
/// through memory, and an output left in the cache would only evict the
/// inputs and cost a read for ownership per line.
std::size_t streaming_threshold_bytes();

/// Force the kernels of one instruction set ("" restores the automatic
/// choice). For tests and benchmarks only: not thread-safe against
/// concurrent kernel calls.
/// \throws invalid_input if the name is unknown or the CPU cannot run it.
void force_arch(const std::string& name);

namespace dispatched {
void lincomb(double* out, std::size_t n, const double* const* src, const double* coef, std::size_t nterms);
void lincomb(float* out, std::size_t n, const float* const* src, const float* coef, std::size_t nterms);
void outer_fma(double* out, const double* a, std::size_t na, const double* b, std::size_t nb,
               const double* add);
void outer_fma(float* out, const float* a, std::size_t na, const float* b, std::size_t nb, const float* add);
void product(double* c, const double* a, const double* b, std::size_t dim, std::size_t depth);
void product(float* c, const float* a, const float* b, std::size_t dim, std::size_t depth);
void product_adjoint(double* ga, double* gb, const double* a, const double* b, const double* gc,
                     std::size_t dim, std::size_t depth);
void product_adjoint(float* ga, float* gb, const float* a, const float* b, const float* gc, std::size_t dim,
                     std::size_t depth);
void fmexp(double* A, const double* z, std::size_t dim, std::size_t depth);
void fmexp(float* A, const float* z, std::size_t dim, std::size_t depth);
void fmexp_many(double* A, const double* Z, std::size_t m, std::size_t dim, std::size_t depth, double* record,
                bool update_top);
void fmexp_many(float* A, const float* Z, std::size_t m, std::size_t dim, std::size_t depth, float* record,
                bool update_top);
void matvec(double* out, const double* M, std::size_t rows, std::size_t cols, const double* v, double* acc);
void matvec(float* out, const float* M, std::size_t rows, std::size_t cols, const float* v, float* acc);
void vecmat(double* out, const double* v, std::size_t rows, const double* M, std::size_t cols);
void vecmat(float* out, const float* v, std::size_t rows, const float* M, std::size_t cols);
void fmexp_adjoint(double* gA, double* gz, const double* A, const double* z, std::size_t dim,
                   std::size_t depth);
void fmexp_adjoint(float* gA, float* gz, const float* A, const float* z, std::size_t dim, std::size_t depth);
void fmexp_jvp(double* Bdot, const double* A, const double* z, const double* zdot, std::size_t dim,
               std::size_t depth, std::size_t count);
void fmexp_jvp(float* Bdot, const float* A, const float* z, const float* zdot, std::size_t dim,
               std::size_t depth, std::size_t count);
void fmexp_record(double* A, const double* z, std::size_t dim, std::size_t depth, double* record);
void fmexp_record(float* A, const float* z, std::size_t dim, std::size_t depth, float* record);
void fmexp_adjoint_recorded(double* gA, double* gz, const double* record, const double* z, std::size_t dim,
                            std::size_t depth);
void fmexp_adjoint_recorded(float* gA, float* gz, const float* record, const float* z, std::size_t dim,
                            std::size_t depth);
void fmexp_adjoint_many(double* gA, double* GZ, const double* record, const double* Z, std::size_t m,
                        std::size_t dim, std::size_t depth);
void fmexp_adjoint_many(float* gA, float* GZ, const float* record, const float* Z, std::size_t m,
                        std::size_t dim, std::size_t depth);
void fmexp_left_many(double* A, const double* Z, std::size_t m, std::size_t dim, std::size_t depth);
void fmexp_left_many(float* A, const float* Z, std::size_t m, std::size_t dim, std::size_t depth);
void fmexp_left_jvp(double* Bdot, const double* A, const double* z, const double* zdot, std::size_t dim,
                    std::size_t depth, std::size_t count);
void fmexp_left_jvp(float* Bdot, const float* A, const float* z, const float* zdot, std::size_t dim,
                    std::size_t depth, std::size_t count);
std::size_t lanes_double();
std::size_t lanes_float();
std::size_t vector_registers();
void fmexp_lanes(double* A, const double* Z, std::size_t m, std::size_t dim, std::size_t depth, const double* root,
                 const double* from);
void fmexp_lanes(float* A, const float* Z, std::size_t m, std::size_t dim, std::size_t depth, const float* root,
                 const float* from);
void fmexp_lanes_exp(double* A, const double* Z, std::size_t m, std::size_t dim, std::size_t depth,
                     const double* root, const double* z0, std::size_t k0, const double* e0);
void fmexp_lanes_exp(float* A, const float* Z, std::size_t m, std::size_t dim, std::size_t depth, const float* root,
                     const float* z0, std::size_t k0, const float* e0);
void interleave(const double* rows, std::size_t stride, std::size_t count, std::size_t n, double* lanes);
void interleave(const float* rows, std::size_t stride, std::size_t count, std::size_t n, float* lanes);
void deinterleave(const double* lanes, std::size_t count, std::size_t n, double* rows, std::size_t stride);
void deinterleave(const float* lanes, std::size_t count, std::size_t n, float* rows, std::size_t stride);
void interleave_differences(const double* const* src, const std::size_t* count, std::size_t n, std::size_t lag,
                            double* lanes);
void interleave_differences(const float* const* src, const std::size_t* count, std::size_t n, std::size_t lag,
                            float* lanes);
void scatter_differences(double* x, const double* g, std::size_t n, std::size_t lag, bool fresh);
void scatter_differences(float* x, const float* g, std::size_t n, std::size_t lag, bool fresh);
void prefix_roots(double* A, const double* z, std::size_t dim, std::size_t p, std::size_t depth, double* root,
                  std::size_t m, std::size_t root_step);
void prefix_roots(float* A, const float* z, std::size_t dim, std::size_t p, std::size_t depth, float* root,
                  std::size_t m, std::size_t root_step);
void prefix_roots_adjoint(const double* A, const double* z, std::size_t dim, std::size_t p, std::size_t depth,
                          const double* groot, double* gA, double* gz);
void prefix_roots_adjoint(const float* A, const float* z, std::size_t dim, std::size_t p, std::size_t depth,
                          const float* groot, float* gA, float* gz);
void exp_lanes(double* A, const double* z, std::size_t dim, std::size_t depth, std::size_t k0);
void exp_lanes(float* A, const float* z, std::size_t dim, std::size_t depth, std::size_t k0);
void exp_lanes_adjoint(const double* E, double* G, double* gz, const double* z, std::size_t dim, std::size_t depth,
                       std::size_t k0);
void exp_lanes_adjoint(const float* E, float* G, float* gz, const float* z, std::size_t dim, std::size_t depth,
                       std::size_t k0);
void fmexp_lanes_backward(const double* A, double* G, double* GZ, const double* Z, std::size_t m, std::size_t dim,
                          std::size_t depth, const double* root, double* groot, std::size_t states);
void fmexp_lanes_backward(const float* A, float* G, float* GZ, const float* Z, std::size_t m, std::size_t dim,
                          std::size_t depth, const float* root, float* groot, std::size_t states);
bool all_finite(const double* p, std::size_t n);
bool all_finite(const float* p, std::size_t n);
void gram(double* H, const double* C, std::size_t n, std::size_t m, std::size_t ld, const std::size_t* ends,
          const double* scales, std::size_t ranges);
void gram(float* H, const float* C, std::size_t n, std::size_t m, std::size_t ld, const std::size_t* ends,
          const float* scales, std::size_t ranges);
} // namespace dispatched

namespace detail {
/// Per-thread scratch of at least n elements for the generic (non-SIMD)
/// fmexp; grows, never shrinks, so steady-state calls do not allocate.
template <class T> T* generic_scratch(std::size_t n) {
    thread_local std::vector<T> buffer;
    if (buffer.size() < n) buffer.resize(n);
    return buffer.data();
}
} // namespace detail

/// out[i] = sum_j coef[j] * src[j][i], i < n. `out` may be one of the sources
/// (element-wise, so in place is safe); partial overlaps are not.
template <class T>
void lincomb(T* out, std::size_t n, const T* const* src, const T* coef, std::size_t nterms) {
    if constexpr (has_simd<T>::value)
        dispatched::lincomb(out, n, src, coef, nterms);
    else
        scalar::lincomb(out, n, src, coef, nterms);
}

/// out[i*nb + j] = a[i] * b[j] + add[i*nb + j]; `out` may equal `add`.
template <class T>
void outer_fma(T* out, const T* a, std::size_t na, const T* b, std::size_t nb, const T* add) {
    if constexpr (has_simd<T>::value)
        dispatched::outer_fma(out, a, na, b, nb, add);
    else
        scalar::outer_fma(out, a, na, b, nb, add);
}

/// A <- A ⊗ exp(z) in place, z in level 1 (dim values), A levels 0..depth.
template <class T> void fmexp(T* A, const T* z, std::size_t dim, std::size_t depth) {
    if constexpr (has_simd<T>::value)
        dispatched::fmexp(A, z, dim, depth);
    else
        scalar::fmexp(A, z, dim, depth, detail::generic_scratch<T>(scalar::fmexp_scratch_size(dim, depth)));
}

/// Whether every one of p[0..n) is finite (no infinity, no NaN): the input
/// checks' fast path (tensig::detail::check_finite).
template <class T> bool all_finite(const T* p, std::size_t n) {
    if constexpr (has_simd<T>::value)
        return dispatched::all_finite(p, n);
    else
        return scalar::all_finite(p, n);
}

/// H = Cᵀ diag(w) C (n x n, symmetric) for n columns of length m stored
/// one after another: H[a*n + b] = sum_r w_r C[a*ld + r] C[b*ld + r], w
/// constant on row ranges (w_r = scales[k] for ends[k-1] <= r < ends[k];
/// ranges = 0: w = 1). Gauss-Newton's normal matrix with level weights.
/// Column a starts at C + a ld (ld >= m; 0 means m).
template <class T>
void gram(T* H, const T* C, std::size_t n, std::size_t m, std::size_t ld = 0, const std::size_t* ends = nullptr,
          const T* scales = nullptr, std::size_t ranges = 0) {
    if (ld == 0) ld = m;
    if constexpr (has_simd<T>::value)
        dispatched::gram(H, C, n, m, ld, ends, scales, ranges);
    else
        scalar::gram(H, C, n, m, ld, ends, scales, ranges);
}

/// Segments the path functions hand to fmexp_many at once.
inline constexpr std::size_t fmexp_block = 4;

/// A <- A ⊗ exp(z_1) ⊗ ... ⊗ exp(z_m), z_s = Z + s*dim (m <= 8), bit-identical
/// to m fmexp calls; the top level is read and written once (horner.hpp).
/// With `record`, the m records fmexp_record would write, one after another;
/// then with `update_top` false, level N of A is left as it was (what the
/// adjoint needs is in the records; level N is most of the work).
template <class T>
void fmexp_many(T* A, const T* Z, std::size_t m, std::size_t dim, std::size_t depth, T* record = nullptr,
                bool update_top = true) {
    if constexpr (has_simd<T>::value)
        dispatched::fmexp_many(A, Z, m, dim, depth, record, update_top);
    else
        scalar::fmexp_many(A, Z, m, dim, depth,
                           detail::generic_scratch<T>(scalar::fmexp_many_scratch_size(dim, depth, m)), record,
                           update_top);
}

/// Paths the dispatched kernels run at once in fmexp_lanes: one per lane
/// of a SIMD register (4 doubles or 8 floats with AVX2); 1 for scalars
/// without SIMD kernels.
template <class T> std::size_t lanes() {
    if constexpr (std::is_same_v<T, double>)
        return dispatched::lanes_double();
    else if constexpr (std::is_same_v<T, float>)
        return dispatched::lanes_float();
    else
        return 1;
}

/// Segments per pass of the dispatched fmexp_lanes_backward (without
/// `states`, d = 2 may run one longer pass): horner::lanes_backward_segments
/// for the chosen instruction set's vector registers. Callers that keep
/// every pass's start (`states`) space them by it.
inline std::size_t lanes_backward_segments(std::size_t dim) {
    return horner::lanes_backward_segments(dim, dispatched::vector_registers());
}

/// fmexp_many on lanes<T>() paths at once, one per SIMD lane, on
/// interleaved tensors: coefficient i of path l at A[i*lanes + l], coordinate b
/// of segment s of path l at Z[(s*dim + b)*lanes + l]. Each lane gets what
/// fmexp_many computes on its own path; every multiply-add is a full
/// register whatever d is (no short rows, no shuffles).
///
/// With `root`, Horner's chain of level k starts segment s from
/// root[(s*(N+1) + k)*lanes + l] instead of A_0 (level 0, then, is neither
/// read nor written): level k >= 1 of each lane becomes
///   (A ⊗ exp(z_s))_k + (root_{s,k} - A_0) z_s^{⊗k} / k!.
/// That is the update of the words below a fixed prefix, one prefix per lane,
/// given the chains' partial sums at the prefix (signature's prefix lanes).
///
/// With `from` (the same layout, not overlapping A unless equal to it), out
/// of place: A <- from ⊗ exp(z_1) ⊗ ... ⊗ exp(z_m), A only written, with
/// the same bits as a copy followed by the update in place. A forward sweep
/// that keeps its states (the backward pass's checkpoints) so writes each
/// state once, into its checkpoint, rather than copying it there.
template <class T>
void fmexp_lanes(T* A, const T* Z, std::size_t m, std::size_t dim, std::size_t depth, const T* root = nullptr,
                 const T* from = nullptr) {
    if constexpr (has_simd<T>::value)
        dispatched::fmexp_lanes(A, Z, m, dim, depth, root, from);
    else
        scalar::fmexp_lanes(A, Z, m, dim, depth, 1, root, from);
}

/// fmexp_lanes from exp(z0): A <- E ⊗ exp(z_1) ⊗ ... ⊗ exp(z_m), where E
/// is exp_lanes' tensor from level k0 with level 0 e0 (W values): E_j[u b]
/// = E_{j-1}[u] z0_b/(k0 + j). The bits of e0 copied to A's level 0,
/// exp_lanes, then fmexp_lanes (with `root` as there), without writing E
/// first: where the kernels can (d = 2, the prefix lanes' first pass), the
/// first pass makes each value of E where it reads it.
template <class T>
void fmexp_lanes_exp(T* A, const T* Z, std::size_t m, std::size_t dim, std::size_t depth, const T* root,
                     const T* z0, std::size_t k0, const T* e0) {
    if constexpr (has_simd<T>::value)
        dispatched::fmexp_lanes_exp(A, Z, m, dim, depth, root, z0, k0, e0);
    else
        scalar::fmexp_lanes_exp(A, Z, m, dim, depth, 1, root, z0, k0, e0);
}

/// The truncated product's adjoint: from gc = ∂L/∂c for c = a ⊗ b (levels
/// 0..N of dimension `dim`), ga += gc ⌟ b and gb += a ⊳ gc (the trailing
/// letters of gc contracted with b, the leading ones with a;
/// horner::product_adjoint has the sums). Either of ga, gb may be null;
/// neither may overlap a, b or gc. float and double run the SIMD kernel,
/// other scalars the rows' algorithm.
template <class T>
void product_adjoint(T* ga, T* gb, const T* a, const T* b, const T* gc, std::size_t dim, std::size_t depth) {
    if constexpr (has_simd<T>::value)
        dispatched::product_adjoint(ga, gb, a, b, gc, dim, depth);
    else
        horner::product_adjoint<scalar::policy>(ga, gb, a, b, gc, dim, depth);
}

/// Rows to interleaved lanes: lanes[i*W + l] = rows[l*stride + i] for the
/// rows l < count (count <= W = lanes<T>()) and values i < n; by W x W tiles
/// transposed in registers. (Lanes that count leaves out are not written.)
template <class T>
void interleave(const T* rows, std::size_t stride, std::size_t count, std::size_t n, T* lanes) {
    if constexpr (has_simd<T>::value)
        dispatched::interleave(rows, stride, count, n, lanes);
    else
        for (std::size_t i = 0; i < n && count > 0; ++i)
            lanes[i] = rows[i];
}

/// Differences into interleaved lanes: lanes[i*W + l] = src[l][i] -
/// src[l][i - lag] for i < count[l], and 0 for count[l] <= i < n, for the
/// W = lanes<T>() lanes (src and count have W entries; src[l] may be null
/// where count[l] = 0). A block of W paths' increments (lag d) as the lanes
/// kernels take them, transposed by tiles as they are computed.
template <class T>
void interleave_differences(const T* const* src, const std::size_t* count, std::size_t n, std::size_t lag,
                            T* lanes) {
    if constexpr (has_simd<T>::value)
        dispatched::interleave_differences(src, count, n, lag, lanes);
    else
        scalar::interleave_differences(src, count, n, lag, lanes, 1);
}

/// The gradients g of a run of n/lag consecutive increments of a path
/// (step i's at g + i*lag) into its points x (step i's end at x + i*lag,
/// the first step's start at x - lag): x[j - lag] -= g[j] and x[j] += g[j]
/// for j < n, as one pass over the points, each taking the gradient of the
/// step it starts first, then that of the step it ends. With `fresh` the
/// points before the last start from 0 (written here first) rather than
/// from their values; the last one always adds.
template <class T> void scatter_differences(T* x, const T* g, std::size_t n, std::size_t lag, bool fresh) {
    if constexpr (has_simd<T>::value)
        dispatched::scatter_differences(x, g, n, lag, fresh);
    else
        scalar::scatter_differences(x, g, n, lag, fresh);
}

/// The reverse of interleave: rows[l*stride + i] = lanes[i*W + l].
template <class T>
void deinterleave(const T* lanes, std::size_t count, std::size_t n, T* rows, std::size_t stride) {
    if constexpr (has_simd<T>::value)
        dispatched::deinterleave(lanes, count, n, rows, stride);
    else
        for (std::size_t i = 0; i < n && count > 0; ++i)
            rows[i] = lanes[i];
}

/// horner::prefix_chains (A's levels 0..p advanced by exp(z); root[k*n + w]
/// the partial sum at the word w of level p of Horner's chain of level
/// p + k, n = dim^p), with the words in SIMD lanes where they fill them
/// (dim^p = lanes<T>(): one register per chain, no partial sums stored),
/// else horner::prefix_chains itself. For m steps in a row: z holds m*dim
/// values, step s's roots go to root + s*root_step (the bits of m calls).
template <class T>
void prefix_roots(T* A, const T* z, std::size_t dim, std::size_t p, std::size_t depth, T* root,
                  std::size_t m = 1, std::size_t root_step = 0) {
    if constexpr (has_simd<T>::value)
        dispatched::prefix_roots(A, z, dim, p, depth, root, m, root_step);
    else
        for (std::size_t s = 0; s < m; ++s)
            horner::prefix_chains(
                A, z + s * dim, dim, p, depth, root + s * root_step,
                detail::generic_scratch<T>(horner::prefix_chains_scratch_size(dim, p, depth)));
}

/// horner::prefix_chains_adjoint (A: levels 0..p before the step, not
/// written; gA: ∂L/∂(levels 0..p after) in, before out; groot[k*n + w] =
/// ∂L/∂root; ∂L/∂z added to gz), in lanes where prefix_roots runs in them.
template <class T>
void prefix_roots_adjoint(const T* A, const T* z, std::size_t dim, std::size_t p, std::size_t depth, const T* groot,
                          T* gA, T* gz) {
    if constexpr (has_simd<T>::value)
        dispatched::prefix_roots_adjoint(A, z, dim, p, depth, groot, gA, gz);
    else
        horner::prefix_chains_adjoint(
            A, z, dim, p, depth, groot, gA, gz,
            detail::generic_scratch<T>(horner::prefix_chains_adjoint_scratch_size(dim, p, depth)));
}

/// Levels 1..depth of lanes<T>() interleaved tensors from their level 0:
/// A_j[u b] = A_{j-1}[u] z_b / (k0 + j). Lane l becomes
/// A_0[l] z^{⊗j} k0!/(k0 + j)!: with A_0[l] the value of exp(z) at a word
/// w_l of level k0, the words w_l u of exp(z) (the prefix lanes' first
/// step). z holds dim values, the same in every lane.
template <class T> void exp_lanes(T* A, const T* z, std::size_t dim, std::size_t depth, std::size_t k0) {
    if constexpr (has_simd<T>::value)
        dispatched::exp_lanes(A, z, dim, depth, k0);
    else
        scalar::exp_lanes(A, z, dim, depth, k0, 1);
}

/// The adjoint of exp_lanes: E holds levels 0..depth-1 of exp_lanes'
/// values (interleaved; level 0 its input), G levels 0..depth of ∂L/∂E.
/// On exit G's levels 0..depth-1 hold the whole gradient of each value
/// (∂L/∂E_j with E_j's dependence on E_{j-1}: what the levels below added
/// to it), so level 0 holds ∂L/∂E_0; level `depth` is only read. ∂L/∂z,
/// summed over the lanes, is added to gz (dim values). What the backward of a
/// path's first step costs when that step starts from the unit: two
/// multiply-adds per value, where the adjoint of a fused
/// multiply-exponentiate takes about six (d = 2).
template <class T>
void exp_lanes_adjoint(const T* E, T* G, T* gz, const T* z, std::size_t dim, std::size_t depth, std::size_t k0) {
    if constexpr (has_simd<T>::value)
        dispatched::exp_lanes_adjoint(E, G, gz, z, dim, depth, k0);
    else
        scalar::exp_lanes_adjoint(E, G, gz, z, dim, depth, k0, 1);
}

/// The adjoint of fmexp_lanes: A holds levels 0..N-1 (interleaved) before
/// the m segments and is not written; G holds ∂L/∂(A ⊗ exp(z_1) ⊗ ... ⊗
/// exp(z_m)) per lane on entry and ∂L/∂A on exit (level 0 left alone);
/// ∂L/∂z_s is written to GZ + s*dim*lanes (written, not added: its callers
/// had cleared GZ first, 6% of the grid's backward at N = 2, and the
/// kernel in registers then read it back). Each pass of four segments (for
/// d = 2, one pass of up to six: horner::lanes_backward_long_pass)
/// recomputes its values on the way down the words and runs the adjoint on
/// the way up, so nothing but the start of each pass is stored (the scalar
/// twin records levels 0..N-1 before every segment, then runs the adjoint
/// through the record).
///
/// With `root` (fmexp_lanes' roots, levels as there), ∂L/∂root_{s,k} is
/// written to groot[(s*(N+1) + k)*lanes + l].
///
/// With `states` (a stride, in values), A holds the start of every pass:
/// levels 0..N-1 before segments p*P.. (P = lanes_backward_segments(dim))
/// at A + p*states, as a forward sweep that keeps them leaves them
/// (fmexp_lanes at depth N-1, out of place, P segments a call). The kernel
/// then reads them instead of running that sweep itself; so one call can
/// cover a caller's many checkpoints. The bits are those of the call
/// without `states` (tested), although that call may cut its passes
/// elsewhere (for d = 2: a short pass first, or one long pass): a pass
/// boundary changes where values are kept, not the multiply-adds or their
/// order. (The scalar twin recomputes them from A.)
template <class T>
void fmexp_lanes_backward(const T* A, T* G, T* GZ, const T* Z, std::size_t m, std::size_t dim, std::size_t depth,
                          const T* root = nullptr, T* groot = nullptr, std::size_t states = 0) {
    if constexpr (has_simd<T>::value)
        dispatched::fmexp_lanes_backward(A, G, GZ, Z, m, dim, depth, root, groot, states);
    else
        scalar::fmexp_lanes_backward(A, G, GZ, Z, m, dim, depth, 1, root, groot);
}

/// out[r] = sum_c M[r*cols + c] * v[c] for r < rows; with `acc`, also
/// acc[r] += out[r].
template <class T>
void matvec(T* out, const T* M, std::size_t rows, std::size_t cols, const T* v, T* acc = nullptr) {
    if constexpr (has_simd<T>::value)
        dispatched::matvec(out, M, rows, cols, v, acc);
    else
        scalar::matvec(out, M, rows, cols, v, acc);
}

/// out[c] += sum_r v[r] * M[r*cols + c] for c < cols.
template <class T> void vecmat(T* out, const T* v, std::size_t rows, const T* M, std::size_t cols) {
    if constexpr (has_simd<T>::value)
        dispatched::vecmat(out, v, rows, M, cols);
    else
        scalar::vecmat(out, v, rows, M, cols);
}

/// Adjoint of B = A ⊗ exp(z) (A the input of the forward step): gA holds
/// ∂L/∂B on entry and ∂L/∂A on exit; ∂L/∂z is added to gz (dim values).
template <class T>
void fmexp_adjoint(T* gA, T* gz, const T* A, const T* z, std::size_t dim, std::size_t depth) {
    if constexpr (has_simd<T>::value)
        dispatched::fmexp_adjoint(gA, gz, A, z, dim, depth);
    else
        scalar::fmexp_adjoint(gA, gz, A, z, dim, depth,
                              detail::generic_scratch<T>(scalar::fmexp_adjoint_scratch_size(dim, depth)));
}

/// Bdot = A ⊗ Dexp(z)[zdot]: the derivative of A ⊗ exp(z) along zdot with A
/// fixed (levels 0..depth); with `count` directions zdot + s*dim, the
/// derivatives go to Bdot + s*size (size = the tensor's length), sharing the
/// Horner terms.
template <class T>
void fmexp_jvp(T* Bdot, const T* A, const T* z, const T* zdot, std::size_t dim, std::size_t depth,
               std::size_t count = 1) {
    if constexpr (has_simd<T>::value)
        dispatched::fmexp_jvp(Bdot, A, z, zdot, dim, depth, count);
    else
        scalar::fmexp_jvp(Bdot, A, z, zdot, dim, depth,
                          detail::generic_scratch<T>(scalar::fmexp_jvp_scratch_size(dim, depth, count)), count);
}

/// fmexp that also writes its Horner terms to `record`
/// (scalar::fmexp_record_size(dim, depth) values) for fmexp_adjoint_recorded.
template <class T> void fmexp_record(T* A, const T* z, std::size_t dim, std::size_t depth, T* record) {
    if constexpr (has_simd<T>::value)
        dispatched::fmexp_record(A, z, dim, depth, record);
    else
        scalar::fmexp_record(A, z, dim, depth,
                             detail::generic_scratch<T>(scalar::fmexp_scratch_size(dim, depth)), record);
}

/// The adjoint of the fmexp that wrote `record`: as fmexp_adjoint, without
/// recomputing the forward terms (one kernel's work less).
template <class T>
void fmexp_adjoint_recorded(T* gA, T* gz, const T* record, const T* z, std::size_t dim, std::size_t depth) {
    if constexpr (has_simd<T>::value)
        dispatched::fmexp_adjoint_recorded(gA, gz, record, z, dim, depth);
    else
        scalar::fmexp_adjoint_recorded(
            gA, gz, record, z, dim, depth,
            detail::generic_scratch<T>(scalar::fmexp_adjoint_scratch_size(dim, depth)));
}

/// The adjoint of fmexp_many with records: m segments, the last first;
/// gA holds ∂L/∂B on entry and ∂L/∂A on exit, ∂L/∂z_s is added to GZ + s*dim.
template <class T>
void fmexp_adjoint_many(T* gA, T* GZ, const T* record, const T* Z, std::size_t m, std::size_t dim,
                        std::size_t depth) {
    if constexpr (has_simd<T>::value)
        dispatched::fmexp_adjoint_many(gA, GZ, record, Z, m, dim, depth);
    else
        scalar::fmexp_adjoint_many(
            gA, GZ, record, Z, m, dim, depth,
            detail::generic_scratch<T>(scalar::fmexp_adjoint_many_scratch_size(dim, depth, m)));
}

/// A <- exp(z_m) ⊗ ... ⊗ exp(z_1) ⊗ A, z_s = Z + (s-1)*dim applied in order
/// (each step multiplies on the left: its Horner steps are d contiguous rows
/// z_b t). Bit-identical for any grouping of the steps into calls.
template <class T> void fmexp_left_many(T* A, const T* Z, std::size_t m, std::size_t dim, std::size_t depth) {
    if constexpr (has_simd<T>::value)
        dispatched::fmexp_left_many(A, Z, m, dim, depth);
    else
        scalar::fmexp_left_many(A, Z, m, dim, depth,
                                detail::generic_scratch<T>(scalar::fmexp_many_scratch_size(dim, depth, m)));
}

/// Bdot = Dexp(z)[zdot] ⊗ A: the derivative of exp(z) ⊗ A along zdot with A
/// fixed (levels 0..depth); with `count` directions zdot + s*dim, the
/// derivatives go to Bdot + s*size (size = the tensor's length), sharing the
/// Horner terms.
template <class T>
void fmexp_left_jvp(T* Bdot, const T* A, const T* z, const T* zdot, std::size_t dim, std::size_t depth,
                    std::size_t count = 1) {
    if constexpr (has_simd<T>::value)
        dispatched::fmexp_left_jvp(Bdot, A, z, zdot, dim, depth, count);
    else
        scalar::fmexp_left_jvp(Bdot, A, z, zdot, dim, depth,
                               detail::generic_scratch<T>(scalar::fmexp_jvp_scratch_size(dim, depth, count)), count);
}

} // namespace tensig::kernels

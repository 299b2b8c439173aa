#pragma once
/// \file
/// Layer 4, scalar twins: the plain loops every SIMD kernel is tested
/// against. They work for any ring-like scalar T (float, double, dual
/// numbers), and are what non-SIMD scalars run.

#include <algorithm>
#include <cstddef>
#include <vector>

#include "tensig/algebra/scalar_traits.hpp"
#include "tensig/kernels/horner.hpp"

namespace tensig::kernels::scalar {

/// out[i] = sum_j coef[j] * src[j][i] for i < n (out may equal any src[j]).
template <class T>
void lincomb(T* out, std::size_t n, const T* const* src, const T* coef, std::size_t nterms) {
    for (std::size_t i = 0; i < n; ++i) {
        T acc = nterms == 0 ? T(0) : coef[0] * src[0][i];
        for (std::size_t j = 1; j < nterms; ++j)
            acc += coef[j] * src[j][i];
        out[i] = acc;
    }
}

/// out[i*nb + j] = a[i] * b[j] + add[i*nb + j] (out may equal add).
template <class T>
void outer_fma(T* out, const T* a, std::size_t na, const T* b, std::size_t nb, const T* add) {
    for (std::size_t i = 0; i < na; ++i) {
        const T ai = a[i];
        for (std::size_t j = 0; j < nb; ++j)
            out[i * nb + j] = scalar_traits<T>::fma(ai, b[j], add[i * nb + j]);
    }
}

/// out[r*nb + j] += sum_s a[s*sa + r] * b[s*nb + j], s = 0..m-1 in order:
/// m outer products added to out (rows r < na) in one pass.
template <class T>
void outer_fma_many(T* out, const T* a, std::size_t sa, std::size_t na, std::size_t m, const T* b,
                    std::size_t nb) {
    for (std::size_t r = 0; r < na; ++r)
        for (std::size_t j = 0; j < nb; ++j) {
            T acc = out[r * nb + j];
            for (std::size_t s = 0; s < m; ++s)
                acc = scalar_traits<T>::fma(a[s * sa + r], b[s * nb + j], acc);
            out[r * nb + j] = acc;
        }
}

/// out[b*n + i] = z[b] * t[i] + add[b*n + i] (out may equal add): the left
/// outer product z ⊗ t, block by block.
template <class T> void block_fma(T* out, const T* t, std::size_t n, const T* z, std::size_t nz, const T* add) {
    for (std::size_t b = 0; b < nz; ++b)
        for (std::size_t i = 0; i < n; ++i)
            out[b * n + i] = scalar_traits<T>::fma(z[b], t[i], add[b * n + i]);
}

/// out[b*n + i] += sum_s Z[s*nz + b] * t[s*st + i], s = 0..m-1 in order: m
/// left outer products added to out in one pass.
template <class T>
void block_fma_many(T* out, const T* t, std::size_t st, std::size_t n, std::size_t m, const T* Z, std::size_t nz) {
    for (std::size_t b = 0; b < nz; ++b)
        for (std::size_t i = 0; i < n; ++i) {
            T acc = out[b * n + i];
            for (std::size_t s = 0; s < m; ++s)
                acc = scalar_traits<T>::fma(Z[s * nz + b], t[s * st + i], acc);
            out[b * n + i] = acc;
        }
}

/// out[r] = sum_c M[r*cols + c] * v[c] for r < rows (a row contraction);
/// with `acc`, also acc[r] += out[r].
template <class T>
void matvec(T* out, const T* M, std::size_t rows, std::size_t cols, const T* v, T* acc = nullptr) {
    for (std::size_t r = 0; r < rows; ++r) {
        T sum = T(0);
        for (std::size_t c = 0; c < cols; ++c)
            sum += M[r * cols + c] * v[c];
        out[r] = sum;
        if (acc) acc[r] += sum;
    }
}

/// Whether every one of p[0..n) is finite: x - x is 0 for a finite x and
/// NaN for an infinity or a NaN, and a sum of zeros stays exactly 0, so
/// the answer is exact in any order of summation (eight independent sums).
template <class T> bool all_finite(const T* p, std::size_t n) {
    T acc[8] = {};
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (std::size_t k = 0; k < 8; ++k)
            acc[k] += p[i + k] - p[i + k];
    for (; i < n; ++i)
        acc[0] += p[i] - p[i];
    T sum = T(0);
    for (T a : acc)
        sum += a;
    return sum == T(0);
}

/// out[c] += sum_r v[r] * M[r*cols + c] for c < cols (a column contraction).
template <class T> void vecmat(T* out, const T* v, std::size_t rows, const T* M, std::size_t cols) {
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c)
            out[c] += v[r] * M[r * cols + c];
}

/// H[a*n + b] = sum_r w_r C[a*ld + r] C[b*ld + r] (a, b < n): the weighted
/// Gram matrix of n columns of length m stored one after another
/// (H = Cᵀ diag(w) C, symmetric). The weights are constant on row ranges:
/// w_r = scales[k] for ends[k-1] <= r < ends[k] (ends[-1] = 0,
/// ends[ranges-1] = m); with ranges = 0, w = 1. Column a starts at C + a ld
/// (ld >= m; 0 means m).
template <class T>
void gram(T* H, const T* C, std::size_t n, std::size_t m, std::size_t ld = 0, const std::size_t* ends = nullptr,
          const T* scales = nullptr, std::size_t ranges = 0) {
    if (ld == 0) ld = m;
    for (std::size_t a = 0; a < n; ++a)
        for (std::size_t b = 0; b <= a; ++b) {
            T sum = T(0);
            std::size_t r = 0;
            for (std::size_t k = 0; k < (ranges ? ranges : 1); ++k) {
                T part = T(0);
                for (; r < (ranges ? ends[k] : m); ++r)
                    part += C[a * ld + r] * C[b * ld + r];
                sum += (ranges ? scales[k] : T(1)) * part;
            }
            H[a * n + b] = H[b * n + a] = sum;
        }
}

/// c = a ⊗ b truncated at depth N, levels 0..N of dimension d flattened
/// (level k at offset (d^k - 1)/(d - 1), d > 1; offset k for d = 1), one
/// coefficient at a time: c_k[u v] = sum over the splits of each word of
/// a_i[u] b_{k-i}[v], i = 0..k in order. Levels are written from the top
/// down and each coefficient after all its terms, so c may be a or b.
template <class T> void product(T* c, const T* a, const T* b, std::size_t d, std::size_t N) {
    std::vector<std::size_t> off(N + 2, 0), len(N + 1, 1);
    for (std::size_t k = 1; k <= N; ++k) {
        len[k] = len[k - 1] * d;
        off[k] = off[k - 1] + len[k - 1];
    }
    for (std::size_t k = N + 1; k-- > 0;)
        for (std::size_t w = 0; w < len[k]; ++w) {
            T sum = T(0);
            for (std::size_t i = 0; i <= k; ++i) {
                const std::size_t r = len[k - i]; // the suffix's count: w = u r + v
                sum += a[off[i] + w / r] * b[off[k - i] + w % r];
            }
            c[off[k] + w] = sum;
        }
}

/// The twin of kernels::product_adjoint, one coefficient at a time: for
/// every word w = u v of gc's levels, ga[u] += gc[w] b[v] and gb[v] +=
/// a[u] gc[w], over the splits u v of w in order. Either of ga, gb may be
/// null.
template <class T>
void product_adjoint(T* ga, T* gb, const T* a, const T* b, const T* gc, std::size_t d, std::size_t N) {
    std::vector<std::size_t> off(N + 2, 0), len(N + 1, 1);
    for (std::size_t k = 1; k <= N; ++k) {
        len[k] = len[k - 1] * d;
        off[k] = off[k - 1] + len[k - 1];
    }
    for (std::size_t k = 0; k <= N; ++k)
        for (std::size_t w = 0; w < len[k]; ++w) {
            const T g = gc[off[k] + w];
            for (std::size_t i = 0; i <= k; ++i) {
                const std::size_t r = len[k - i]; // the suffix's count: w = u r + v
                if (ga) ga[off[i] + w / r] += g * b[off[k - i] + w % r];
                if (gb) gb[off[k - i] + w % r] += a[off[i] + w / r] * g;
            }
        }
}

/// The primitives above as a policy for the algorithms of kernels/horner.hpp.
struct policy {
    template <class T>
    static void lincomb(T* out, std::size_t n, const T* const* src, const T* coef, std::size_t nterms) {
        scalar::lincomb(out, n, src, coef, nterms);
    }
    template <class T>
    static void outer_fma(T* out, const T* a, std::size_t na, const T* b, std::size_t nb, const T* add) {
        scalar::outer_fma(out, a, na, b, nb, add);
    }
    template <class T>
    static void outer_fma_many(T* out, const T* a, std::size_t sa, std::size_t na, std::size_t m, const T* b,
                               std::size_t nb) {
        scalar::outer_fma_many(out, a, sa, na, m, b, nb);
    }
    template <class T>
    static void matvec(T* out, const T* M, std::size_t rows, std::size_t cols, const T* v, T* acc = nullptr) {
        scalar::matvec(out, M, rows, cols, v, acc);
    }
    template <class T>
    static void vecmat(T* out, const T* v, std::size_t rows, const T* M, std::size_t cols) {
        scalar::vecmat(out, v, rows, M, cols);
    }
    template <class T>
    static void block_fma(T* out, const T* t, std::size_t n, const T* z, std::size_t nz, const T* add) {
        scalar::block_fma(out, t, n, z, nz, add);
    }
    template <class T>
    static void block_fma_many(T* out, const T* t, std::size_t st, std::size_t n, std::size_t m, const T* Z,
                               std::size_t nz) {
        scalar::block_fma_many(out, t, st, n, m, Z, nz);
    }
    /// For s < m: vecmat(gv + s cols, v + s sv, rows, M, cols) and
    /// matvec(out + s rows, M, rows, cols, w + s cols) (no accumulation).
    template <class T>
    static void adjoint_step_many(T* gv, const T* v, std::size_t sv, T* out, const T* M, std::size_t rows,
                                  std::size_t cols, const T* w, std::size_t m) {
        for (std::size_t s = 0; s < m; ++s) {
            scalar::vecmat(gv + s * cols, v + s * sv, rows, M, cols);
            scalar::matvec(out + s * rows, M, rows, cols, w + s * cols);
        }
    }
    /// vecmat(gv, v, rows, M, cols) and matvec(out, M, rows, cols, w, acc);
    /// with accM, also accM += M.
    template <class T>
    static void adjoint_step(T* gv, const T* v, T* out, const T* M, std::size_t rows, std::size_t cols, const T* w,
                             T* acc, T* accM) {
        scalar::vecmat(gv, v, rows, M, cols);
        scalar::matvec(out, M, rows, cols, w, acc);
        if (accM)
            for (std::size_t i = 0; i < rows * cols; ++i)
                accM[i] += M[i];
    }
};

using horner::fmexp_adjoint_many_scratch_size;
using horner::fmexp_adjoint_scratch_size;
using horner::fmexp_jvp_scratch_size;
using horner::fmexp_lanes_backward_scratch_size;
using horner::fmexp_lanes_record_size;
using horner::fmexp_lanes_scratch_size;
using horner::fmexp_many_scratch_size;
using horner::fmexp_record_size;
using horner::fmexp_scratch_size;

/// Fused multiply-exponentiate: A <- A ⊗ exp(z), z in level 1 (dim values),
/// A holding levels 0..depth (DESIGN.md §1; algorithm in kernels/horner.hpp).
/// `scratch` holds fmexp_scratch_size(dim, depth) elements.
template <class T> void fmexp(T* A, const T* z, std::size_t dim, std::size_t depth, T* scratch) {
    horner::fmexp<policy>(A, z, dim, depth, scratch);
}

/// A <- A ⊗ exp(z_1) ⊗ ... ⊗ exp(z_m), z_s = Z + s*dim; bit-identical to m
/// fmexp calls. `scratch` holds fmexp_many_scratch_size(dim, depth, m)
/// elements; with `record`, m records of fmexp_record_size as fmexp_record
/// writes, and with `update_top` false level N of A is not updated (the
/// adjoint needs only the records).
template <class T>
void fmexp_many(T* A, const T* Z, std::size_t m, std::size_t dim, std::size_t depth, T* scratch,
                T* record = nullptr, bool update_top = true) {
    horner::fmexp_many<policy>(A, Z, m, dim, depth, scratch, record, update_top);
}

/// kernels::scatter_differences, value by value.
template <class T> void scatter_differences(T* x, const T* g, std::size_t n, std::size_t lag, bool fresh) {
    if (n == 0) return;
    T* const start = x - lag;
    for (std::size_t j = 0; j < lag; ++j)
        start[j] = (fresh ? T(0) : start[j]) - g[j];
    for (std::size_t j = 0; j + lag < n; ++j)
        x[j] = ((fresh ? T(0) : x[j]) - g[j + lag]) + g[j];
    for (std::size_t j = n - lag; j < n; ++j)
        x[j] += g[j];
}

/// kernels::interleave_differences for `lanes` lanes, value by value.
template <class T>
void interleave_differences(const T* const* src, const std::size_t* count, std::size_t n, std::size_t lag, T* out,
                            std::size_t lanes) {
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t l = 0; l < lanes; ++l)
            out[i * lanes + l] = i < count[l] ? T(src[l][i] - src[l][i - lag]) : T(0);
}

/// kernels::exp_lanes on `lanes` interleaved tensors, one lane at a time.
template <class T>
void exp_lanes(T* A, const T* z, std::size_t dim, std::size_t depth, std::size_t k0, std::size_t lanes) {
    for (std::size_t j = 1, prev = 0, cur = 1, n = 1; j <= depth; prev = cur, cur += n * dim, n *= dim, ++j)
        for (std::size_t u = 0; u < n; ++u)
            for (std::size_t b = 0; b < dim; ++b)
                for (std::size_t l = 0; l < lanes; ++l)
                    A[(cur + u * dim + b) * lanes + l] =
                        A[(prev + u) * lanes + l] * (z[b] / T(static_cast<double>(k0 + j)));
}

/// kernels::exp_lanes_adjoint on `lanes` interleaved tensors, one lane at
/// a time: the chain rule through A_j[u b] = A_{j-1}[u] (z_b / (k0 + j)),
/// from the deepest level up.
template <class T>
void exp_lanes_adjoint(const T* E, T* G, T* gz, const T* z, std::size_t dim, std::size_t depth, std::size_t k0,
                       std::size_t lanes) {
    if (depth == 0) return;
    std::size_t prev = 0, n = 1; // level depth-1: its offset and size
    for (std::size_t j = 1; j < depth; ++j, n *= dim)
        prev += n;
    for (std::size_t j = depth; j >= 1; --j) {
        const T k = T(static_cast<double>(k0 + j));
        for (std::size_t l = 0; l < lanes; ++l)
            for (std::size_t u = 0; u < n; ++u)
                for (std::size_t b = 0; b < dim; ++b) {
                    const T g = G[(prev + n + u * dim + b) * lanes + l];
                    G[(prev + u) * lanes + l] += g * (z[b] / k);
                    gz[b] += g * E[(prev + u) * lanes + l] / k;
                }
        if (j > 1) {
            n /= dim;
            prev -= n;
        }
    }
}

/// fmexp_many on `lanes` interleaved tensors at once (coefficient i of lane
/// l at A[i*lanes + l], coordinate b of segment s at Z[(s*dim + b)*lanes + l]):
/// the twin of the SIMD kernels' fmexp_lanes, one lane at a time (a
/// reference for tests: it allocates its scratch). With `root`, as
/// kernels::fmexp_lanes documents: fmexp, then (root_{s,k} - A_0) z^{⊗k}/k!
/// added to each level k >= 1 (an independent formula, not the kernel's
/// order of operations). With `from`, the tensors before the steps are
/// read from there and A is only written.
template <class T>
void fmexp_lanes(T* A, const T* Z, std::size_t m, std::size_t dim, std::size_t depth, std::size_t lanes,
                 const T* root = nullptr, const T* from = nullptr) {
    std::size_t size = 0;
    for (std::size_t k = 0, n = 1; k <= depth; ++k, n *= dim)
        size += n;
    std::vector<T> buffer(2 * size + m * dim + horner::fmexp_many_scratch_size(dim, depth, m));
    T* a = buffer.data();
    T* e = a + size; // z^{⊗k}/k!, levels 0..N
    T* z = e + size;
    T* work = z + m * dim;
    const T* src = from ? from : A;
    for (std::size_t l = 0; l < lanes; ++l) {
        for (std::size_t i = 0; i < size; ++i)
            a[i] = src[i * lanes + l];
        for (std::size_t i = 0; i < m * dim; ++i)
            z[i] = Z[i * lanes + l];
        if (!root) {
            horner::fmexp_many<policy>(a, z, m, dim, depth, work);
        } else {
            for (std::size_t s = 0; s < m; ++s) {
                const T a0 = a[0];
                const T* zs = z + s * dim;
                horner::fmexp_many<policy>(a, zs, 1, dim, depth, work);
                e[0] = T(1);
                for (std::size_t k = 1, below = 0, off = 1, n = dim; k <= depth; ++k, below = off, off += n, n *= dim) {
                    const T shift = root[(s * (depth + 1) + k) * lanes + l] - a0;
                    for (std::size_t i = 0; i < n; ++i) {
                        e[off + i] = e[below + i / dim] * zs[i % dim] / T(static_cast<double>(k));
                        a[off + i] += shift * e[off + i];
                    }
                }
            }
        }
        for (std::size_t i = 0; i < size; ++i)
            A[i * lanes + l] = a[i];
    }
}

/// The twin of kernels::fmexp_lanes_exp: e0 into A's level 0, exp_lanes,
/// then fmexp_lanes.
template <class T>
void fmexp_lanes_exp(T* A, const T* Z, std::size_t m, std::size_t dim, std::size_t depth, std::size_t lanes,
                     const T* root, const T* z0, std::size_t k0, const T* e0) {
    std::copy(e0, e0 + lanes, A);
    exp_lanes(A, z0, dim, depth, k0, lanes);
    if (m > 0 && depth > 0) fmexp_lanes(A, Z, m, dim, depth, lanes, root);
}

/// fmexp_lanes with a record (the first half of fmexp_lanes_backward's
/// twin): levels 0..N-1 of each lane before each segment s go to
/// record + s*R*lanes (R = fmexp_lanes_record_size, interleaved like A);
/// level N of A is neither read nor written (A may hold levels 0..N-1
/// alone). Levels 0..N-1 of a depth-N tensor are a depth N-1 tensor in the
/// same layout, and each level has its own Horner chain, so they advance at
/// depth N-1.
template <class T>
void fmexp_lanes_record(T* A, const T* Z, std::size_t m, std::size_t dim, std::size_t depth, std::size_t lanes,
                        T* record) {
    const std::size_t R = fmexp_lanes_record_size(dim, depth);
    for (std::size_t s = 0; s < m; ++s) {
        std::copy(A, A + R * lanes, record + s * R * lanes);
        if (depth > 1) fmexp_lanes(A, Z + s * dim * lanes, 1, dim, depth - 1, lanes);
    }
}

/// The adjoint through such a record (the second half of
/// fmexp_lanes_backward's twin): G (interleaved, levels 0..N) holds
/// ∂L/∂(A ⊗ exp(z_1) ⊗ ... ⊗ exp(z_m)) on entry and ∂L/∂A (levels 1..N) on
/// exit, from the record of fmexp_lanes_record;
/// ∂L/∂z_s is written to GZ + s*dim*lanes. (A reference for tests: it allocates.)
template <class T>
void fmexp_lanes_adjoint(T* G, T* GZ, const T* record, const T* Z, std::size_t m, std::size_t dim,
                         std::size_t depth, std::size_t lanes) {
    const std::size_t R = fmexp_lanes_record_size(dim, depth), size = fmexp_lanes_record_size(dim, depth + 1);
    std::vector<T> a(size), g(size), z(dim), gz(dim), work(fmexp_adjoint_scratch_size(dim, depth));
    for (std::size_t l = 0; l < lanes; ++l) {
        for (std::size_t i = 0; i < size; ++i)
            g[i] = G[i * lanes + l];
        for (std::size_t s = m; s-- > 0;) {
            for (std::size_t i = 0; i < R; ++i)
                a[i] = record[(s * R + i) * lanes + l];
            for (std::size_t b = 0; b < dim; ++b) {
                z[b] = Z[(s * dim + b) * lanes + l];
                gz[b] = T(0);
            }
            horner::fmexp_adjoint<policy>(g.data(), gz.data(), a.data(), z.data(), dim, depth, work.data());
            for (std::size_t b = 0; b < dim; ++b)
                GZ[(s * dim + b) * lanes + l] = gz[b];
        }
        for (std::size_t i = 1; i < size; ++i)
            G[i * lanes + l] = g[i];
    }
}

/// The twin of the SIMD kernels' fmexp_lanes_backward: fmexp_lanes_record
/// from a copy of A (levels 0..N-1), then fmexp_lanes_adjoint through the
/// record. (A reference for tests: it allocates.)
template <class T>
void fmexp_lanes_backward_rooted(const T* A, T* G, T* GZ, const T* Z, std::size_t m, std::size_t dim,
                                 std::size_t depth, std::size_t lanes, const T* root, T* groot);

template <class T>
void fmexp_lanes_backward(const T* A, T* G, T* GZ, const T* Z, std::size_t m, std::size_t dim, std::size_t depth,
                          std::size_t lanes, const T* root = nullptr, T* groot = nullptr) {
    if (root) return fmexp_lanes_backward_rooted(A, G, GZ, Z, m, dim, depth, lanes, root, groot);
    const std::size_t R = fmexp_lanes_record_size(dim, depth);
    std::vector<T> a(A, A + R * lanes), record(m * R * lanes);
    fmexp_lanes_record(a.data(), Z, m, dim, depth, lanes, record.data());
    fmexp_lanes_adjoint(G, GZ, static_cast<const T*>(record.data()), Z, m, dim, depth, lanes);
}

/// fmexp_lanes_backward with roots (kernels::fmexp_lanes): the adjoint of
/// B = A ⊗ exp(z) + Σ_k (q_k - A_0) z^{⊗k}/k! per segment, one lane at a
/// time: fmexp_adjoint for the first term; for the second, ∂L/∂q_k =
/// <∂L/∂B_k, z^{⊗k}/k!> (written to groot) and its z-gradient by reverse
/// mode through E_k = E_{k-1} ⊗ z / k. (A reference for tests: it allocates.)
template <class T>
void fmexp_lanes_backward_rooted(const T* A, T* G, T* GZ, const T* Z, std::size_t m, std::size_t dim,
                                 std::size_t depth, std::size_t lanes, const T* root, T* groot) {
    const std::size_t size = fmexp_lanes_record_size(dim, depth + 1), below = fmexp_lanes_record_size(dim, depth);
    std::vector<T> rec(m * size), a(size), g(size), gin(size), e(size), ebar(size), z(dim), gz(dim),
        work(fmexp_adjoint_scratch_size(dim, depth));
    for (std::size_t l = 0; l < lanes; ++l) {
        // the state before each segment (level N is read by nothing: zero)
        for (std::size_t i = 0; i < size; ++i)
            a[i] = i < below ? A[i * lanes + l] : T(0);
        for (std::size_t s = 0; s < m; ++s) {
            std::copy(a.begin(), a.end(), rec.begin() + static_cast<std::ptrdiff_t>(s * size));
            std::vector<T> zl(dim), ql(depth + 1);
            for (std::size_t b = 0; b < dim; ++b)
                zl[b] = Z[(s * dim + b) * lanes + l];
            for (std::size_t k = 0; k <= depth; ++k)
                ql[k] = root[(s * (depth + 1) + k) * lanes + l];
            fmexp_lanes(a.data(), zl.data(), 1, dim, depth, 1, ql.data());
        }
        for (std::size_t i = 0; i < size; ++i)
            g[i] = G[i * lanes + l];
        for (std::size_t s = m; s-- > 0;) {
            const T* as = rec.data() + s * size;
            for (std::size_t b = 0; b < dim; ++b) {
                z[b] = Z[(s * dim + b) * lanes + l];
                gz[b] = T(0);
            }
            gin = g;
            horner::fmexp_adjoint<policy>(g.data(), gz.data(), as, z.data(), dim, depth, work.data());
            // the roots' term
            e[0] = T(1);
            for (std::size_t k = 1, lo = 0, off = 1, n = dim; k <= depth; ++k, lo = off, off += n, n *= dim)
                for (std::size_t i = 0; i < n; ++i)
                    e[off + i] = e[lo + i / dim] * z[i % dim] / T(static_cast<double>(k));
            std::fill(ebar.begin(), ebar.end(), T(0));
            groot[(s * (depth + 1)) * lanes + l] = T(0);
            for (std::size_t k = 1, off = 1, n = dim; k <= depth; ++k, off += n, n *= dim) {
                const T shift = root[(s * (depth + 1) + k) * lanes + l] - as[0];
                T dot = T(0);
                for (std::size_t i = 0; i < n; ++i) {
                    dot += gin[off + i] * e[off + i];
                    ebar[off + i] = shift * gin[off + i];
                }
                groot[(s * (depth + 1) + k) * lanes + l] = dot;
            }
            std::size_t off = below, n = size - below; // level N, walked down
            for (std::size_t k = depth; k >= 1; --k) {
                const std::size_t lo = off - n / dim;
                for (std::size_t i = 0; i < n; ++i) {
                    const T scale = T(1) / T(static_cast<double>(k));
                    ebar[lo + i / dim] += ebar[off + i] * z[i % dim] * scale;
                    gz[i % dim] += ebar[off + i] * e[lo + i / dim] * scale;
                }
                n /= dim;
                off = lo;
            }
            for (std::size_t b = 0; b < dim; ++b)
                GZ[(s * dim + b) * lanes + l] = gz[b];
        }
        for (std::size_t i = 1; i < size; ++i)
            G[i * lanes + l] = g[i];
    }
}

/// Adjoint of B = A ⊗ exp(z): gA holds ∂L/∂B on entry and ∂L/∂A on exit;
/// ∂L/∂z is added to gz. `scratch` holds fmexp_adjoint_scratch_size elements.
template <class T>
void fmexp_adjoint(T* gA, T* gz, const T* A, const T* z, std::size_t dim, std::size_t depth, T* scratch) {
    horner::fmexp_adjoint<policy>(gA, gz, A, z, dim, depth, scratch);
}

/// fmexp that also writes its Horner terms to `record` (fmexp_record_size).
template <class T>
void fmexp_record(T* A, const T* z, std::size_t dim, std::size_t depth, T* scratch, T* record) {
    horner::fmexp<policy>(A, z, dim, depth, scratch, record);
}

/// fmexp_adjoint reading the Horner terms from a record of fmexp_record
/// instead of recomputing them from A.
template <class T>
void fmexp_adjoint_recorded(T* gA, T* gz, const T* record, const T* z, std::size_t dim, std::size_t depth,
                            T* scratch) {
    horner::fmexp_adjoint<policy>(gA, gz, static_cast<const T*>(nullptr), z, dim, depth, scratch, record);
}

/// The adjoint of fmexp_many with records (m segments, from the last to the
/// first); ∂L/∂z_s is added to GZ + s*dim. `scratch` holds
/// fmexp_adjoint_many_scratch_size(dim, depth, m) elements.
template <class T>
void fmexp_adjoint_many(T* gA, T* GZ, const T* record, const T* Z, std::size_t m, std::size_t dim,
                        std::size_t depth, T* scratch) {
    horner::fmexp_adjoint_many<policy>(gA, GZ, record, Z, m, dim, depth, scratch);
}

/// A <- exp(z_m) ⊗ ... ⊗ exp(z_1) ⊗ A (z_s = Z + (s-1)*dim, applied in
/// order; the same scratch as fmexp_many).
template <class T>
void fmexp_left_many(T* A, const T* Z, std::size_t m, std::size_t dim, std::size_t depth, T* scratch) {
    horner::fmexp_many<policy, true>(A, Z, m, dim, depth, scratch);
}

/// Bdot = Dexp(z)[zdot] ⊗ A (the derivative of exp(z) ⊗ A along zdot);
/// for `count` directions zdot + s*dim, to Bdot + s*size (horner::fmexp_jvp).
/// `scratch` holds fmexp_jvp_scratch_size(dim, depth, count) elements.
template <class T>
void fmexp_left_jvp(T* Bdot, const T* A, const T* z, const T* zdot, std::size_t dim, std::size_t depth,
                    T* scratch, std::size_t count = 1) {
    horner::fmexp_jvp<policy, true>(Bdot, A, z, zdot, dim, depth, scratch, count);
}

/// Bdot = A ⊗ Dexp(z)[zdot] (the derivative of A ⊗ exp(z) along zdot);
/// for `count` directions as fmexp_left_jvp.
template <class T>
void fmexp_jvp(T* Bdot, const T* A, const T* z, const T* zdot, std::size_t dim, std::size_t depth,
               T* scratch, std::size_t count = 1) {
    horner::fmexp_jvp<policy>(Bdot, A, z, zdot, dim, depth, scratch, count);
}

} // namespace tensig::kernels::scalar

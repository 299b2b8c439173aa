#pragma once
/// \file
/// Layer 4, scalar twins: the plain loops every SIMD kernel is tested
/// against. They work for any ring-like scalar T (float, double, dual
/// numbers), and are what non-SIMD scalars run.

#include <cstddef>

namespace tensig::kernels::scalar {

/// out[i] = sum_j coef[j] * src[j][i] for i < n (out may equal any src[j]).
template <class T>
void lincomb(T* out, std::size_t n, const T* const* src, const T* coef, std::size_t nterms) {
    for (std::size_t i = 0; i < n; ++i) {
        T acc = nterms == 0 ? T(0) : coef[0] * src[0][i];
        for (std::size_t j = 1; j < nterms; ++j) acc += coef[j] * src[j][i];
        out[i] = acc;
    }
}

/// out[i*nb + j] = a[i] * b[j] + add[i*nb + j] (out may equal add).
template <class T>
void outer_fma(T* out, const T* a, std::size_t na, const T* b, std::size_t nb, const T* add) {
    for (std::size_t i = 0; i < na; ++i) {
        const T ai = a[i];
        for (std::size_t j = 0; j < nb; ++j) out[i * nb + j] = ai * b[j] + add[i * nb + j];
    }
}

/// Scratch (in elements of T) that fmexp needs for (dim, depth).
inline std::size_t fmexp_scratch_size(std::size_t dim, std::size_t depth) {
    std::size_t top = 1; // dim^(depth-1)
    for (std::size_t k = 1; k < depth; ++k) top *= dim;
    return depth * dim + 2 * top;
}

/// Fused multiply-exponentiate: A <- A ⊗ exp(z), z in level 1 (dim values),
/// A holding levels 0..depth. Levels are updated from the top down, each by
/// Horner's scheme (DESIGN.md §1):
///   (A ⊗ exp z)_k = (...((A_0 z/k + A_1) z/(k-1) + A_2) ... + A_{k-1}) z/1 + A_k.
/// `scratch` holds fmexp_scratch_size(dim, depth) elements.
template <class T>
void fmexp(T* A, const T* z, std::size_t dim, std::size_t depth, T* scratch) {
    if (depth == 0) return;
    // zs[(m-1)*dim + b] = z[b] / m
    T* zs = scratch;
    for (std::size_t m = 1; m <= depth; ++m)
        for (std::size_t b = 0; b < dim; ++b) zs[(m - 1) * dim + b] = z[b] / T(static_cast<double>(m));
    std::size_t top = 1;
    for (std::size_t k = 1; k < depth; ++k) top *= dim;
    T* buf[2] = {scratch + depth * dim, scratch + depth * dim + top};

    auto level_ptr = [&](std::size_t j) {
        std::size_t o = 0, n = 1;
        for (std::size_t i = 0; i < j; ++i, n *= dim) o += n;
        return A + o;
    };
    for (std::size_t k = depth; k >= 1; --k) {
        T* Ak = level_ptr(k);
        if (k == 1) {
            for (std::size_t b = 0; b < dim; ++b) Ak[b] = A[0] * z[b] + Ak[b];
            break;
        }
        // t_1 = A_0 z / k + A_1
        T* t = buf[0];
        const T* zk = zs + (k - 1) * dim;
        const T* A1 = A + 1;
        for (std::size_t b = 0; b < dim; ++b) t[b] = A[0] * zk[b] + A1[b];
        std::size_t tn = dim;
        int cur = 0;
        for (std::size_t j = 2; j < k; ++j) {
            T* next = buf[1 - cur];
            outer_fma(next, t, tn, zs + (k - j) * dim, dim, level_ptr(j));
            t = next;
            cur = 1 - cur;
            tn *= dim;
        }
        outer_fma(Ak, t, tn, z, dim, Ak);
    }
}

} // namespace tensig::kernels::scalar

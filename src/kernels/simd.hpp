#pragma once
// SIMD kernels, written once as templates over an xsimd architecture tag and
// instantiated per instruction set in arch_*.cpp. Only pointer code lives
// here (no standard containers), so that nothing compiled with -mavx2 can be
// picked by the linker for code that runs on an older CPU.

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "table.hpp"

namespace tensig::kernels::simd {

// Architectures with a compile-time swizzle for float and double (AVX and
// later); SSE2 has none in xsimd 8.1.
template <class Arch>
constexpr bool has_swizzle = std::is_base_of<xsimd::avx, Arch>::value;

// Mask that expands lanes: lane l of block r reads source lane (r*W + l) / D.
template <class U, std::size_t D, std::size_t R>
struct expand_gen {
    static constexpr U get(std::size_t index, std::size_t size) { return static_cast<U>((R * size + index) / D); }
};

template <class Arch, class T>
struct kernels {
    using batch = xsimd::batch<T, Arch>;
    using mask_int = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
    using mask_batch = xsimd::batch<mask_int, Arch>;
    static constexpr std::size_t W = batch::size;

    static void lincomb(T* out, std::size_t n, const T* const* src, const T* coef, std::size_t m) {
        std::size_t i = 0;
        if (m == 0) {
            for (; i < n; ++i) out[i] = T(0);
            return;
        }
        switch (m) { // the common short chains get the terms in registers
        case 1: lincomb_fixed<1>(out, n, src, coef, i); break;
        case 2: lincomb_fixed<2>(out, n, src, coef, i); break;
        case 3: lincomb_fixed<3>(out, n, src, coef, i); break;
        case 4: lincomb_fixed<4>(out, n, src, coef, i); break;
        default:
            for (; i + W <= n; i += W) {
                batch acc = batch(coef[0]) * batch::load_unaligned(src[0] + i);
                for (std::size_t j = 1; j < m; ++j)
                    acc = xsimd::fma(batch(coef[j]), batch::load_unaligned(src[j] + i), acc);
                acc.store_unaligned(out + i);
            }
        }
        for (; i < n; ++i) {
            T acc = coef[0] * src[0][i];
            for (std::size_t j = 1; j < m; ++j) acc += coef[j] * src[j][i];
            out[i] = acc;
        }
    }

    template <std::size_t M>
    static void lincomb_fixed(T* out, std::size_t n, const T* const* src, const T* coef, std::size_t& i) {
        batch c[M];
        const T* s[M];
        for (std::size_t j = 0; j < M; ++j) {
            c[j] = batch(coef[j]);
            s[j] = src[j];
        }
        for (; i + W <= n; i += W) {
            batch acc = c[0] * batch::load_unaligned(s[0] + i);
            for (std::size_t j = 1; j < M; ++j) acc = xsimd::fma(c[j], batch::load_unaligned(s[j] + i), acc);
            acc.store_unaligned(out + i);
        }
    }

    // out[i*nb + j] = a[i] * b[j] + add[i*nb + j]
    static void outer_fma(T* out, const T* a, std::size_t na, const T* b, std::size_t nb, const T* add) {
        if (nb >= W) {
            for (std::size_t i = 0; i < na; ++i) {
                const batch ai(a[i]);
                T* o = out + i * nb;
                const T* p = add + i * nb;
                std::size_t j = 0;
                for (; j + W <= nb; j += W)
                    xsimd::fma(ai, batch::load_unaligned(b + j), batch::load_unaligned(p + j)).store_unaligned(o + j);
                for (; j < nb; ++j) o[j] = a[i] * b[j] + p[j];
            }
            return;
        }
        std::size_t done = 0;
        if constexpr (has_swizzle<Arch>) {
            switch (nb) {
            case 1: done = outer_fma_narrow<1>(out, a, na, b, add); break;
            case 2: done = outer_fma_narrow<2>(out, a, na, b, add); break;
            case 4: done = outer_fma_narrow<4>(out, a, na, b, add); break;
            case 8:
                if constexpr (W > 8) done = outer_fma_narrow<8>(out, a, na, b, add);
                break;
            default: break;
            }
        }
        for (std::size_t i = done; i < na; ++i)
            for (std::size_t j = 0; j < nb; ++j) out[i * nb + j] = a[i] * b[j] + add[i * nb + j];
    }

    // Rows shorter than a register, D dividing W: W rows (W*D outputs, D
    // registers) at a time, each register's a-values expanded by a swizzle.
    // Returns the number of rows done.
    template <std::size_t D>
    static std::size_t outer_fma_narrow(T* out, const T* a, std::size_t na, const T* b, const T* add) {
        static_assert(W % D == 0, "row length must divide the register width");
        alignas(64) T pattern[W];
        for (std::size_t l = 0; l < W; ++l) pattern[l] = b[l % D];
        const batch bp = batch::load_aligned(pattern);
        std::size_t i = 0;
        for (; i + W <= na; i += W) {
            const batch av = batch::load_unaligned(a + i);
            expand_rows<D>(av, bp, out + i * D, add + i * D, std::make_index_sequence<D>{});
        }
        return i;
    }

    template <std::size_t D, std::size_t... R>
    static void expand_rows(const batch& av, const batch& bp, T* out, const T* add, std::index_sequence<R...>) {
        if constexpr (D == 1) {
            xsimd::fma(av, bp, batch::load_unaligned(add)).store_unaligned(out);
        } else {
            (xsimd::fma(xsimd::swizzle(av, xsimd::make_batch_constant<mask_batch, expand_gen<mask_int, D, R>>()), bp,
                        batch::load_unaligned(add + R * W))
                 .store_unaligned(out + R * W),
             ...);
        }
    }

    // A <- A ⊗ exp(z); scratch holds scalar::fmexp_scratch_size(dim, depth).
    static void fmexp(T* A, const T* z, std::size_t dim, std::size_t depth, T* scratch) {
        if (depth == 0) return;
        T* zs = scratch; // zs[(m-1)*dim + b] = z[b] / m
        for (std::size_t m = 1; m <= depth; ++m) {
            const T inv = T(1) / static_cast<T>(m);
            for (std::size_t b = 0; b < dim; ++b) zs[(m - 1) * dim + b] = z[b] * inv;
        }
        std::size_t top = 1;
        for (std::size_t k = 1; k < depth; ++k) top *= dim;
        T* buf[2] = {scratch + depth * dim, scratch + depth * dim + top};

        // offset of level k, walked down from the top
        std::size_t level_size = top * dim, offset = 0;
        for (std::size_t k = 0, n = 1; k < depth; ++k, n *= dim) offset += n;
        for (std::size_t k = depth; k >= 1; --k) {
            T* Ak = A + offset;
            if (k == 1) {
                for (std::size_t b = 0; b < dim; ++b) Ak[b] = A[0] * z[b] + Ak[b];
                break;
            }
            T* t = buf[0];
            const T* zk = zs + (k - 1) * dim;
            for (std::size_t b = 0; b < dim; ++b) t[b] = A[0] * zk[b] + A[1 + b];
            std::size_t tn = dim, level_off = 1 + dim;
            int cur = 0;
            for (std::size_t j = 2; j < k; ++j) {
                T* next = buf[1 - cur];
                outer_fma(next, t, tn, zs + (k - j) * dim, dim, A + level_off);
                t = next;
                cur = 1 - cur;
                tn *= dim;
                level_off += tn;
            }
            outer_fma(Ak, t, tn, z, dim, Ak);
            level_size /= dim;
            offset -= level_size;
        }
    }
};

template <class Arch>
kernel_table make_table_for() {
    kernel_table t;
    t.name = Arch::name();
    t.lincomb_d = &kernels<Arch, double>::lincomb;
    t.lincomb_f = &kernels<Arch, float>::lincomb;
    t.outer_fma_d = &kernels<Arch, double>::outer_fma;
    t.outer_fma_f = &kernels<Arch, float>::outer_fma;
    t.fmexp_d = &kernels<Arch, double>::fmexp;
    t.fmexp_f = &kernels<Arch, float>::fmexp;
    return t;
}

} // namespace tensig::kernels::simd

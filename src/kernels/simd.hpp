#pragma once
// SIMD kernels, written once as templates over an xsimd architecture tag and
// instantiated per instruction set in arch_*.cpp. Only pointer code lives
// here (no standard containers), so that nothing compiled with -mavx2 can be
// picked by the linker for code that runs on an older CPU.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "table.hpp"
#include "tensig/kernels/horner.hpp"

namespace tensig::kernels::simd {

// Architectures with a compile-time swizzle for float and double: AVX and
// later, and AVX-512 (in xsimd 8.1 avx512f does not derive from avx, but
// has its own swizzle); SSE2 has none in xsimd 8.1.
template <class Arch>
constexpr bool has_swizzle =
    std::is_base_of<xsimd::avx, Arch>::value || std::is_base_of<xsimd::avx512f, Arch>::value;

// The architecture of half-width registers, for rows shorter than a full
// register (SSE inside AVX2 code is VEX-encoded: no transition penalty).
template <class Arch>
using half_arch = std::conditional_t<std::is_base_of<xsimd::avx, Arch>::value, xsimd::sse4_2, void>;

// Mask that expands lanes: lane l of block r reads source lane (r*W + l) / D.
template <class U, std::size_t D, std::size_t R> struct expand_gen {
    static constexpr U get(std::size_t index, std::size_t size) {
        return static_cast<U>((R * size + index) / D);
    }
};

// Lane l reads lane l ^ X (pairwise swaps for horizontal sums in groups).
template <class U, std::size_t X> struct xor_gen {
    static constexpr U get(std::size_t index, std::size_t) { return static_cast<U>(index ^ X); }
};

// Block K of W/D lanes gathers the group sums held in lanes D*j.
template <class U, std::size_t D, std::size_t K> struct gather_gen {
    static constexpr U get(std::size_t index, std::size_t size) {
        return (index / (size / D)) == K ? static_cast<U>(D * (index - K * (size / D))) : U(0);
    }
};

// True on block K of W/D lanes.
template <std::size_t D, std::size_t K> struct block_gen {
    static constexpr bool get(std::size_t index, std::size_t size) { return (index / (size / D)) == K; }
};

// A <- A ⊗ exp(z) for a small shape fixed at compile time (d^N at most a few
// hundred values): the Horner scheme of fmexp with every loop bound a
// constant, so the compiler unrolls and vectorises it as a whole, where the
// general kernel's per-call set-up and short rows dominate.
constexpr std::size_t ipow(std::size_t d, std::size_t k) { return k == 0 ? 1 : d * ipow(d, k - 1); }
constexpr std::size_t level_start(std::size_t d, std::size_t k) { return k == 0 ? 0 : level_start(d, k - 1) + ipow(d, k - 1); }

template <class Arch, class T> struct kernels {
    using batch = xsimd::batch<T, Arch>;
    using mask_int = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
    using mask_batch = xsimd::batch<mask_int, Arch>;
    static constexpr std::size_t W = batch::size;
    // Vector registers of the instruction set, which the register-blocked
    // kernels size their blocks by (and horner::lanes_backward_segments).
    static constexpr std::size_t vector_registers = std::is_base_of<xsimd::avx512f, Arch>::value ? 32 : 16;
    // Most segments fmexp_many takes at once (kernels::fmexp_block).
    static constexpr std::size_t max_block = 8;
    // Segments fmexp_lanes carries through one depth-first pass: their
    // increments stay in registers at the leaves (M d registers).
    static constexpr std::size_t lanes_segments = horner::lanes_segments;
    static constexpr std::size_t lanes_max_depth = horner::lanes_max_depth;

    // x*y + z, rounded once. xsimd 8.1's avx512f fma is the expression
    // x*y + z, fused only by the compiler's contraction (-ffp-contract=fast),
    // which may pair an addition with either of two products (x*y + (u*v))
    // and pair them differently in two instantiations of one kernel: the
    // lanes backward's bits then hung on how its passes were split. The
    // intrinsic fixes which product is fused.
    [[gnu::always_inline]] static inline batch fmadd(const batch& x, const batch& y, const batch& z) {
#if defined(__AVX512F__)
        if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
            if constexpr (std::is_same_v<T, double>)
                return _mm512_fmadd_pd(x, y, z);
            else
                return _mm512_fmadd_ps(x, y, z);
        }
#endif
        return xsimd::fma(x, y, z);
    }

    static void lincomb(T* out, std::size_t n, const T* const* src, const T* coef, std::size_t m) {
        if (m == 0) {
            for (std::size_t i = 0; i < n; ++i)
                out[i] = T(0);
            return;
        }
        switch (m) { // the common short chains get the terms in registers
        case 1:
            return lincomb_fixed<1>(out, n, src, coef);
        case 2:
            return lincomb_fixed<2>(out, n, src, coef);
        case 3:
            return lincomb_fixed<3>(out, n, src, coef);
        case 4:
            return lincomb_fixed<4>(out, n, src, coef);
        default:
            store_all(out, n, m, [&](std::size_t i) {
                batch acc = batch(coef[0]) * batch::load_unaligned(src[0] + i);
                for (std::size_t j = 1; j < m; ++j)
                    acc = fmadd(batch(coef[j]), batch::load_unaligned(src[j] + i), acc);
                return acc;
            }, [&](std::size_t i) {
                T acc = coef[0] * src[0][i];
                for (std::size_t j = 1; j < m; ++j)
                    acc += coef[j] * src[j][i];
                return acc;
            });
        }
    }

    template <std::size_t M>
    static void lincomb_fixed(T* out, std::size_t n, const T* const* src, const T* coef) {
        batch c[M];
        const T* s[M];
        for (std::size_t j = 0; j < M; ++j) {
            c[j] = batch(coef[j]);
            s[j] = src[j];
        }
        store_all(out, n, M, [&](std::size_t i) {
            batch acc = c[0] * batch::load_unaligned(s[0] + i);
            for (std::size_t j = 1; j < M; ++j)
                acc = fmadd(c[j], batch::load_unaligned(s[j] + i), acc);
            return acc;
        }, [&](std::size_t i) {
            T acc = coef[0] * s[0][i];
            for (std::size_t j = 1; j < M; ++j)
                acc += coef[j] * s[j][i];
            return acc;
        });
    }

    // out[i] = vec(i) (a register's worth from i) for i < n, scalar(i) for
    // the elements no register covers; an elementwise pass over `inputs`
    // arrays. A pass whose traffic reaches streaming_threshold_bytes() writes
    // with non-temporal stores (AVX units; 10^6 doubles, a + 2b - c: 2.34 ->
    // 1.72 ms on the Ice Lake of docs/benchmarks-history.md; AVX-512's, a whole cache
    // line per store, reach 89-94% of the copy loop's bandwidth where AVX2's
    // reached 82-92%). The elements before the
    // first 32-byte (AVX-512: 64-byte) boundary of `out` then take the scalar path (none for
    // tensors, which are 64-byte aligned): for a misaligned view the last
    // bit of those few may differ from the vector path's fused multiply-add.
    // Non-temporal stores of a whole register (AVX, AVX-512: a cache line).
    static constexpr bool streams = std::is_base_of_v<xsimd::avx, Arch> || std::is_base_of_v<xsimd::avx512f, Arch>;
    static void stream([[maybe_unused]] T* p, [[maybe_unused]] const batch& v) {
#if defined(__AVX512F__)
        if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
            if constexpr (std::is_same_v<T, double>)
                _mm512_stream_pd(p, v);
            else
                _mm512_stream_ps(p, v);
            return;
        }
#endif
#if defined(__AVX__)
        if constexpr (std::is_base_of_v<xsimd::avx, Arch>) {
            if constexpr (std::is_same_v<T, double>)
                _mm256_stream_pd(p, v);
            else
                _mm256_stream_ps(p, v);
        }
#endif
    }
    static void stream_fence() {
#if defined(__AVX__)
        _mm_sfence();
#endif
    }

    template <class Vec, class Scalar>
    static void store_all(T* out, std::size_t n, [[maybe_unused]] std::size_t inputs, Vec&& vec, Scalar&& scalar) {
        std::size_t i = 0;
        if constexpr (streams) {
            if ((inputs + 1) * n * sizeof(T) >= streaming_threshold_bytes()) {
                for (; i < n && reinterpret_cast<std::uintptr_t>(out + i) % sizeof(batch) != 0; ++i)
                    out[i] = scalar(i);
                for (; i + W <= n; i += W)
                    stream(out + i, vec(i));
                stream_fence();
            }
        }
        for (; i + W <= n; i += W)
            vec(i).store_unaligned(out + i);
        for (; i < n; ++i)
            out[i] = scalar(i);
    }

    // out[i*nb + j] = a[i] * b[j] + add[i*nb + j]
    static void outer_fma(T* out, const T* a, std::size_t na, const T* b, std::size_t nb, const T* add) {
        if (nb == W) { // rows exactly one register (d = 4 double, d = 8 float with AVX2): b stays in a register
            const batch bv = batch::load_unaligned(b);
            std::size_t i = 0;
            for (; i + 2 <= na; i += 2) {
                const batch r0 = fmadd(batch(a[i]), bv, batch::load_unaligned(add + i * W));
                const batch r1 = fmadd(batch(a[i + 1]), bv, batch::load_unaligned(add + (i + 1) * W));
                r0.store_unaligned(out + i * W);
                r1.store_unaligned(out + (i + 1) * W);
            }
            if (i < na) fmadd(batch(a[i]), bv, batch::load_unaligned(add + i * W)).store_unaligned(out + i * W);
            return;
        }
        if (nb == 2 * W) return outer_fma_regs<2>(out, a, na, b, add);
        if (nb == 4 * W) return outer_fma_regs<4>(out, a, na, b, add);
        if (nb >= W) {
            for (std::size_t i = 0; i < na; ++i) {
                const batch ai(a[i]);
                T* o = out + i * nb;
                const T* p = add + i * nb;
                std::size_t j = 0;
                for (; j + W <= nb; j += W)
                    fmadd(ai, batch::load_unaligned(b + j), batch::load_unaligned(p + j))
                        .store_unaligned(o + j);
                for (; j < nb; ++j)
                    o[j] = a[i] * b[j] + p[j];
            }
            return;
        }
        std::size_t done = 0;
        if constexpr (has_swizzle<Arch>) {
            switch (nb) {
            case 1:
                done = outer_fma_narrow<1>(out, a, na, b, add);
                break;
            case 2:
                done = outer_fma_narrow<2>(out, a, na, b, add);
                break;
            case 3:
                if constexpr (W > 3) done = outer_fma_narrow<3>(out, a, na, b, add);
                break;
            case 4:
                if constexpr (W > 4) done = outer_fma_narrow<4>(out, a, na, b, add);
                break;
            case 5:
                if constexpr (W > 5) done = outer_fma_narrow<5>(out, a, na, b, add);
                break;
            case 6:
                if constexpr (W > 6) done = outer_fma_narrow<6>(out, a, na, b, add);
                break;
            case 7:
                if constexpr (W > 7) done = outer_fma_narrow<7>(out, a, na, b, add);
                break;
            case 8:
                if constexpr (W > 8) done = outer_fma_narrow<8>(out, a, na, b, add);
                break;
            default:
                break;
            }
        }
        if constexpr (!std::is_void_v<half_arch<Arch>>) {
            // rows of at least half a register (d = 3 with AVX2 doubles, 5..7
            // with AVX2 floats): the broadcast path with half-width registers
            using half = xsimd::batch<T, half_arch<Arch>>;
            if (done == 0 && nb >= half::size) {
                for (std::size_t i = 0; i < na; ++i) {
                    const half ai(a[i]);
                    T* o = out + i * nb;
                    const T* p = add + i * nb;
                    std::size_t j = 0;
                    for (; j + half::size <= nb; j += half::size)
                        xsimd::fma(ai, half::load_unaligned(b + j), half::load_unaligned(p + j))
                            .store_unaligned(o + j);
                    for (; j < nb; ++j)
                        o[j] = a[i] * b[j] + p[j];
                }
                return;
            }
        }
        if (done == 0 && nb == 3) return outer_fma_fixed<3>(out, a, na, b, add);
        for (std::size_t i = done; i < na; ++i)
            for (std::size_t j = 0; j < nb; ++j)
                out[i * nb + j] = a[i] * b[j] + add[i * nb + j];
    }

    // out[r*nb + j] += sum_s a[s*na + r] b[s*nb + j], s in order: rows of one
    // or more whole registers keep each b_s chunk in a register and read and
    // write out once; other row lengths add the m outer products one by one
    // (the same fused multiply-adds in the same order).
    static void outer_fma_many(T* out, const T* a, std::size_t sa, std::size_t na, std::size_t m, const T* b,
                               std::size_t nb) {
        if (nb % W == 0) {
            switch (m) { // the block length known at compile time: the m terms unrolled
            case 1:
                return outer_fma_many_fixed<1>(out, a, sa, na, b, nb);
            case 2:
                return outer_fma_many_fixed<2>(out, a, sa, na, b, nb);
            case 3:
                return outer_fma_many_fixed<3>(out, a, sa, na, b, nb);
            case 4:
                return outer_fma_many_fixed<4>(out, a, sa, na, b, nb);
            default:
                break;
            }
        }
        for (std::size_t s = 0; s < m; ++s)
            outer_fma(out, a + s * sa, na, b + s * nb, nb, out);
    }

    template <std::size_t M>
    static void outer_fma_many_fixed(T* out, const T* a, std::size_t sa, std::size_t na, const T* b, std::size_t nb) {
        batch bv[M];
        for (std::size_t c = 0; c < nb; c += W) {
            for (std::size_t s = 0; s < M; ++s)
                bv[s] = batch::load_unaligned(b + s * nb + c);
            for (std::size_t r = 0; r < na; ++r) {
                batch acc = batch::load_unaligned(out + r * nb + c);
                for (std::size_t s = 0; s < M; ++s)
                    acc = fmadd(batch(a[s * sa + r]), bv[s], acc);
                acc.store_unaligned(out + r * nb + c);
            }
        }
    }

    // Rows of K registers (d = 8, 16 in double; 16, 32 in float): b is held
    // in K registers for the whole loop.
    template <std::size_t K>
    static void outer_fma_regs(T* out, const T* a, std::size_t na, const T* b, const T* add) {
        batch bv[K];
        for (std::size_t k = 0; k < K; ++k)
            bv[k] = batch::load_unaligned(b + k * W);
        for (std::size_t i = 0; i < na; ++i) {
            const batch ai(a[i]);
            batch r[K];
            for (std::size_t k = 0; k < K; ++k)
                r[k] = fmadd(ai, bv[k], batch::load_unaligned(add + (i * K + k) * W));
            for (std::size_t k = 0; k < K; ++k)
                r[k].store_unaligned(out + (i * K + k) * W);
        }
    }

    // Short rows of a length known at compile time, unrolled.
    template <std::size_t D>
    static void outer_fma_fixed(T* out, const T* a, std::size_t na, const T* b, const T* add) {
        T w[D];
        for (std::size_t j = 0; j < D; ++j)
            w[j] = b[j];
        for (std::size_t i = 0; i < na; ++i)
            for (std::size_t j = 0; j < D; ++j)
                out[i * D + j] = a[i] * w[j] + add[i * D + j];
    }

    // Rows shorter than a register: W rows (W*D outputs, D registers) at a
    // time; lane l of register R holds row (R*W + l) / D, column (R*W + l) % D,
    // its a-value expanded by a swizzle. Returns the number of rows done.
    template <std::size_t D>
    static std::size_t outer_fma_narrow(T* out, const T* a, std::size_t na, const T* b, const T* add) {
        static_assert(D < W || D == 1, "rows shorter than a register");
        if (na < W) return 0; // fewer rows than one step: the caller's short loop
        alignas(64) T pattern[D][W];
        for (std::size_t R = 0; R < D; ++R)
            for (std::size_t l = 0; l < W; ++l)
                pattern[R][l] = b[(R * W + l) % D];
        batch bp[D];
        for (std::size_t R = 0; R < D; ++R)
            bp[R] = batch::load_aligned(pattern[R]);
        std::size_t i = 0;
        for (; i + W <= na; i += W) {
            const batch av = batch::load_unaligned(a + i);
            expand_rows<D>(av, bp, out + i * D, add + i * D, std::make_index_sequence<D>{});
        }
        return i;
    }

    template <std::size_t D, std::size_t... R>
    static void expand_rows(const batch& av, const batch* bp, T* out, const T* add, std::index_sequence<R...>) {
        if constexpr (D == 1) {
            fmadd(av, bp[0], batch::load_unaligned(add)).store_unaligned(out);
        } else {
            (fmadd(permuted<expand_gen<mask_int, D, R>>(av), bp[R], batch::load_unaligned(add + R * W))
                 .store_unaligned(out + R * W),
             ...);
        }
    }

    // ---- The truncated product c = a ⊗ b ----
    //
    // Output-stationary: each level k (from the top, so c may be a or b)
    // goes in tiles of product_tile consecutive coefficients, summed in
    // registers over the level's k + 1 terms a_i ⊗ b_{k-i} (i in order)
    // and stored once. As a matrix, term i is the outer product of a_i
    // (d^i rows) and b_{k-i} (rows of r = d^{k-i}); for d a power of two a
    // tile is a whole number of rows or lies in one:
    // - r >= the tile: one coefficient of a_i broadcast against b_{k-i}'s
    //   stretch under the tile;
    // - W <= r < the tile: a broadcast per register, b_{k-i} from its start;
    // - r < W: W/r coefficients of a_i per register, each repeated r times
    //   (expand_gen), against b_{k-i} repeated W/r times (bpat, made once).
    // A tile reads a_k and b_k only at its own coefficients. d = 3 has its
    // own tiles (product_odd_tiles); levels smaller than a tile, and other
    // d, go by rows (horner::product_level: a pass over c_k per term). The
    // rows' way had run at 16-23% of the FMA peak (Zen 3, AVX2, d = 2..16);
    // docs/benchmarks.md has the tiles'.
    //
    // A tile's sums are independent chains of multiply-adds, one per
    // register: with 8 of them and two FMA pipes of 4 cycles' latency, the
    // tiles ran no faster in AVX-512 than in AVX2 (Zen 5). So a tile takes
    // half the registers: 8 with 16 (AVX2, SSE2), 16 with AVX-512's 32
    // (double, against 8: 0.73-0.88x the time for d = 2, 4, 8 and 16;
    // float, 8 against 16: 0.97-1.10x). d = 3's tiles and the adjoint's
    // blocks keep 8 (block_regs; d = 3 in 81-value tiles with AVX-512
    // double: no faster on (3, 7)).
    static constexpr std::size_t product_regs = vector_registers / 2;
    static constexpr std::size_t block_regs = 8;
    static constexpr std::size_t product_tile = product_regs * W;

    // f(integral_constant<v>) for the one of the values V... that equals n
    // (none: no call), so that a run-time size picks a compiled kernel.
    template <std::size_t... V, class F> static void with_one_of(std::size_t n, F&& f) {
        ((n == V ? f(std::integral_constant<std::size_t, V>{}) : void()), ...);
    }

    static void product(T* c, const T* a, const T* b, std::size_t d, std::size_t N) {
        std::size_t s = 0; // d = 2^s where the tiles apply
        while ((std::size_t(1) << s) < d)
            ++s;
        const bool tiles = d >= 2 && (std::size_t(1) << s) == d, odd = d == 3;
        std::size_t off[64] = {}; // level offsets where the tiles apply (d >= 2: d^N values, N < 64)
        std::size_t n_k = 1, off_k = 0;
        for (std::size_t k = 1; k <= N; ++k) {
            off_k += n_k;
            n_k *= d;
            if (tiles || odd) off[k] = off_k;
        }
        const std::size_t size = off_k + n_k; // (the tensors' values: the odd tiles' last loads stop there)
        batch bpat[4]; // b_m repeated to fill a register, for d^m < W (W <= 16, d >= 2: m < 4)
        if (tiles)
            for (std::size_t m = 0, r = 1; r < W && m <= N; ++m, r *= d) {
                alignas(64) T pat[W];
                for (std::size_t l = 0; l < W; ++l)
                    pat[l] = b[off[m] + l % r];
                bpat[m] = batch::load_aligned(pat);
            }
        for (std::size_t k = N; k >= 1; --k) {
            if (tiles && n_k >= product_tile && s <= 4)
                with_one_of<1, 2, 3, 4>(s, [&](auto S) { // d = 2, 4, 8, 16
                    product_tiles<decltype(S)::value>(c + off_k, a, b, k, off, n_k, bpat);
                });
            else if (odd && n_k >= 16 * ipow(3, odd_tile_letters<3>())) // (fewer tiles: rows, below)
                product_odd_tiles<3>(c + off_k, a, b, k, off, n_k, size);
            else
                horner::product_level<policy>(c, a, b, d, k, off_k, n_k);
            n_k /= d;
            off_k -= n_k;
        }
        c[0] = a[0] * b[0];
    }

    // ---- The product's tiles for d = 3 (D not a power of two) ----
    //
    // A tile is the D^q words under one prefix of level k (q: the most
    // letters whose D^q values take at most product_regs registers; 27 for
    // d = 3 in AVX2 double), so each term's rows are again a whole number
    // of tiles or a whole number of rows per tile, but do not fall on
    // register boundaries. Rows of a tile or more: one broadcast of a_i, as
    // for a power of two. Shorter rows of r = D^m values: lane l of register
    // j is row (jW + l)/r, column (jW + l) mod r; its coefficient of a_i
    // comes from a register of a_i read from row jW/r on and permuted
    // (rows_gen), its b_m from a pattern made once per level (bp). The last
    // register is partly outside the tile: its extra lanes are computed
    // from values that exist and never stored, and its loads from a_k and
    // b_k, which may end the tensor, read only the tile's part there.
    template <std::size_t D> static constexpr std::size_t odd_tile_letters() {
        std::size_t q = 1;
        while ((ipow(D, q + 1) + W - 1) / W <= block_regs)
            ++q;
        return q;
    }

    // W values from p, of which the first v are wanted, not reading at or
    // past end.
    static batch load_part(const T* p, std::size_t v, const T* end) {
        if (p + W <= end) return batch::load_unaligned(p);
        alignas(64) T tmp[W] = {};
        for (std::size_t l = 0; l < v; ++l)
            tmp[l] = p[l];
        return batch::load_aligned(tmp);
    }

    template <std::size_t D>
    static void product_odd_tiles(T* ck, const T* a, const T* b, std::size_t k, const std::size_t* off,
                                  std::size_t n, std::size_t size) {
        constexpr std::size_t q = odd_tile_letters<D>(), Q = ipow(D, q), R = (Q + W - 1) / W,
                              V = Q - (R - 1) * W; // values of the last register inside the tile
        // bp[(m*R + j)*W + l] = b_m[(jW + l) mod D^m] for the rows shorter than a tile
        alignas(64) T bp[q * R * W];
        for (std::size_t m = 0, r = 1; m < q; ++m, r *= D)
            for (std::size_t i = 0, y = 0; i < R * W; ++i, y = y + 1 == r ? 0 : y + 1)
                bp[m * R * W + i] = b[off[m] + y];
        const batch a0(a[0]);
        const T *aend = a + size, *bend = b + size;
        std::size_t pw[64]; // D^(m-q) for m = q..k
        pw[q] = 1;
        for (std::size_t m = q + 1; m <= k; ++m)
            pw[m] = pw[m - 1] * D;
        for (std::size_t u = 0, t = 0; t < n; ++u, t += Q) {
            batch acc[R];
            const T* bk = b + off[k] + t;
            for (std::size_t j = 0; j + 1 < R; ++j)
                acc[j] = a0 * batch::load_unaligned(bk + j * W);
            acc[R - 1] = a0 * load_part(bk + (R - 1) * W, V, bend);
            // term k - m (m >= q): the tile lies in row u / D^(m-q) of it, over
            // b_m's stretch u mod D^(m-q)
            std::size_t rows[64];
            rows[q] = u;
            for (std::size_t m = q + 1; m < k; ++m)
                rows[m] = rows[m - 1] / D;
            for (std::size_t m = k - 1; m + 1 > q; --m) {
                const batch av(a[off[k - m] + rows[m]]);
                const T* bm = b + off[m] + (u - rows[m] * pw[m]) * Q;
#pragma GCC unroll 16
                for (std::size_t j = 0; j < R; ++j)
                    acc[j] = fmadd(av, batch::load_unaligned(bm + j * W), acc[j]);
            }
            product_odd_short<D, q, R>(acc, a, k, off, u, bp, aend, std::make_index_sequence<q * R>{});
            for (std::size_t j = 0; j + 1 < R; ++j)
                acc[j].store_unaligned(ck + t + j * W);
            alignas(64) T last[W];
            acc[R - 1].store_aligned(last);
            for (std::size_t l = 0; l < V; ++l)
                ck[t + (R - 1) * W + l] = last[l];
        }
    }

    // Lane l of register J reads lane (J W + l)/r - (J W)/r.
    template <class U, std::size_t r, std::size_t J> struct rows_gen {
        static constexpr U get(std::size_t l, std::size_t size) {
            return static_cast<U>((J * size + l) / r - (J * size) / r);
        }
    };

    // The terms of rows shorter than a tile, m = q-1 down to 0 (i in
    // order), register by register: I = (q-1-m)*R + j.
    template <std::size_t D, std::size_t q, std::size_t R, std::size_t... I>
    static void product_odd_short(batch* acc, const T* a, std::size_t k, const std::size_t* off,
                                  std::size_t u, const T* bp, const T* aend, std::index_sequence<I...>) {
        (product_odd_reg<D, q - 1 - I / R, I % R, R>(acc[I % R], a + off[k - (q - 1 - I / R)], u, bp, aend),
         ...);
    }
    template <std::size_t D, std::size_t M, std::size_t J, std::size_t R>
    static void product_odd_reg(batch& acc, const T* ai, std::size_t u, const T* bp, const T* aend) {
        constexpr std::size_t r = ipow(D, M), Q = ipow(D, odd_tile_letters<D>()), V = Q - (R - 1) * W;
        const T* src = ai + u * (Q / r) + (J * W) / r; // register J's first row of a_{k-M}
        const batch bm = batch::load_aligned(bp + (M * R + J) * W);
        if constexpr (r == 1) {
            const batch av = J + 1 < R ? batch::load_unaligned(src) : load_part(src, V, aend);
            acc = fmadd(av, bm, acc);
        } else { // (rows of a_i, i < k: level i+1 follows)
            acc = fmadd(permuted<rows_gen<mask_int, r, J>>(batch::load_unaligned(src)), bm, acc);
        }
    }

    // v's lanes rearranged by a compile-time mask (lane l takes lane
    // Gen::get(l, W)): a swizzle, or through memory (xsimd 8.1's SSE2 has no
    // swizzle). Every swizzle of the kernels goes through here. AVX-512's
    // is the masked form of its permute with every lane selected: the same
    // instruction as xsimd's, without the undefined operand GCC 12 warns
    // about.
    template <class Gen> static batch permuted(const batch& v) {
        if constexpr (std::is_base_of<xsimd::avx512f, Arch>::value) {
            return permuted512<Gen>(v, std::make_index_sequence<W>{});
        } else if constexpr (has_swizzle<Arch>) {
            return xsimd::swizzle(v, xsimd::make_batch_constant<mask_batch, Gen>());
        } else {
            alignas(64) T x[W], e[W];
            v.store_aligned(x);
            for (std::size_t l = 0; l < W; ++l)
                e[l] = x[Gen::get(l, W)];
            return batch::load_aligned(e);
        }
    }
    template <class Gen, std::size_t... L>
    static batch permuted512([[maybe_unused]] const batch& v, std::index_sequence<L...>) {
#if defined(__AVX512F__)
        alignas(64) static constexpr mask_int index[W] = {static_cast<mask_int>(Gen::get(L, W))...};
        const __m512i idx = _mm512_load_si512(index);
        if constexpr (sizeof(T) == 8)
            return _mm512_mask_permutexvar_pd(v, __mmask8(0xFF), idx, v);
        else
            return _mm512_mask_permutexvar_ps(v, __mmask16(0xFFFF), idx, v);
#else
        static_assert(sizeof...(L) == 0, "AVX-512 kernels are compiled with -mavx512f");
        return v;
#endif
    }

    // Level k (d = 2^S, n = d^k >= product_tile coefficients, at ck) of
    // c = a ⊗ b in tiles; off[i] is level i's offset. Term i = k - m by
    // the length of its rows, d^m: the long (m >= ML) in a loop, the others
    // unrolled (their index arithmetic constant).
    template <std::size_t S>
    static void product_tiles(T* ck, const T* a, const T* b, std::size_t k, const std::size_t* off,
                              std::size_t n, const batch* bpat) {
        constexpr std::size_t R = product_regs;
        constexpr std::size_t ML = log_ceil(product_tile, S), MW = log_ceil(W, S); // d^ML >= tile, d^MW >= W
        const batch a0(a[0]);
        for (std::size_t t = 0; t < n; t += product_tile) {
            batch acc[R];
            const T* bk = b + off[k] + t;
#pragma GCC unroll 16
            for (std::size_t j = 0; j < R; ++j)
                acc[j] = a0 * batch::load_unaligned(bk + j * W);
            for (std::size_t m = k; m-- > ML;) { // rows of a tile or more: one coefficient of a_{k-m}
                const batch av(a[off[k - m] + (t >> (m * S))]);
                const T* bm = b + off[m] + (t & ((std::size_t(1) << (m * S)) - 1));
#pragma GCC unroll 16
                for (std::size_t j = 0; j < R; ++j)
                    acc[j] = fmadd(av, batch::load_unaligned(bm + j * W), acc[j]);
            }
            product_tile_rows<S>(acc, a, b, k, off, t, std::make_index_sequence<ML - MW>{});
            product_tile_short<S>(acc, a, k, off, t, bpat, std::make_index_sequence<MW>{});
#pragma GCC unroll 16
            for (std::size_t j = 0; j < R; ++j)
                acc[j].store_unaligned(ck + t + j * W);
        }
    }

    // The smallest m with 2^(m S) >= x (x a power of two).
    static constexpr std::size_t log_ceil(std::size_t x, std::size_t S) {
        std::size_t m = 0;
        while ((std::size_t(1) << (m * S)) < x)
            ++m;
        return m;
    }

    // Terms of rows from a register to less than a tile (m = ML-1 down to
    // MW, so i in order): a broadcast per register.
    template <std::size_t S, std::size_t... I>
    static void product_tile_rows([[maybe_unused]] batch* acc, [[maybe_unused]] const T* a,
                                  [[maybe_unused]] const T* b, [[maybe_unused]] std::size_t k,
                                  [[maybe_unused]] const std::size_t* off, [[maybe_unused]] std::size_t t,
                                  std::index_sequence<I...>) { // (I: none where d^MW >= the tile)
        constexpr std::size_t ML = log_ceil(product_tile, S);
        (product_tile_row<S, ML - 1 - I>(acc, a + off[k - (ML - 1 - I)], b + off[ML - 1 - I], t), ...);
    }
    template <std::size_t S, std::size_t M>
    static void product_tile_row(batch* acc, const T* ai, const T* bm, std::size_t t) {
        constexpr std::size_t sh = M * S, r = std::size_t(1) << sh;
        const T* ap = ai + (t >> sh);
#pragma GCC unroll 16
        for (std::size_t j = 0; j < product_regs; ++j)
            acc[j] = fmadd(batch(ap[(j * W) >> sh]), batch::load_unaligned(bm + ((j * W) & (r - 1))), acc[j]);
    }

    // Terms of rows shorter than a register (m = MW-1 down to 0).
    template <std::size_t S, std::size_t... I>
    static void product_tile_short(batch* acc, const T* a, std::size_t k, const std::size_t* off,
                                   std::size_t t, const batch* bpat, std::index_sequence<I...>) {
        constexpr std::size_t MW = sizeof...(I);
        ((product_expand<(std::size_t(1) << ((MW - 1 - I) * S))>(
             acc, a + off[k - (MW - 1 - I)] + (t >> ((MW - 1 - I) * S)), bpat[MW - 1 - I])),
         ...);
    }

    // Register g*r + q of the tile holds rows (g*W + q*W/r + l/r) for l < W:
    // lane l reads lane (q*W + l)/r of a's g-th register.
    template <std::size_t r> static void product_expand(batch* acc, const T* ap, const batch& bp) {
        for (std::size_t g = 0; g < product_regs / r; ++g)
            product_expand_regs<r>(acc + g * r, batch::load_unaligned(ap + g * W), bp,
                                   std::make_index_sequence<r>{});
    }
    template <std::size_t r, std::size_t... q>
    static void product_expand_regs(batch* acc, const batch& av, const batch& bp, std::index_sequence<q...>) {
        if constexpr (r == 1)
            acc[0] = fmadd(av, bp, acc[0]);
        else
            ((acc[q] = fmadd(permuted<expand_gen<mask_int, r, q>>(av), bp, acc[q])), ...);
    }

    // ---- The truncated product's adjoint ----
    //
    // From gc = ∂L/∂c for c = a ⊗ b: gb_j[v] += Σ_i Σ_u a_i[u] gc_{i+j}[u v]
    // and ga_i[u] += Σ_j Σ_v gc_{i+j}[u v] b_j[v] (|u| = i, |v| = j).
    // horner::product_adjoint takes them term by term (a pass over gc_k per
    // term, its dot products one chain of multiply-adds, its vector-matrix
    // products a load and a store of gb_j per row of gc_k). Here, for d a
    // power of two, each output is summed in registers over all its terms
    // and stored once: gb_j in tiles (adjoint_left), ga_i by blocks of rows
    // (adjoint_right). Other d go by rows.
    // The two halves have a table entry each (typed_kernels::
    // product_adjoint_left and _right; dispatched::product_adjoint runs
    // both). With AVX-512, ga's half goes by adjoint_right_lanes where a
    // level has W rows or more.
    //
    // gb += a ⊳ gc.
    static void product_adjoint_left(T* gb, const T* a, const T* gc, std::size_t d, std::size_t N) {
        if (d < 2) { // a value a level (d = 1), or level 0 alone (d = 0)
            const std::size_t n = d == 1 ? N : 0;
            for (std::size_t j = 0; j <= n; ++j)
                for (std::size_t i = 0; i + j <= n; ++i)
                    gb[j] += a[i] * gc[i + j];
            return;
        }
        std::size_t off[64], len[64];
        level_offsets(off, d, N, len); // (d >= 2: d^N values, N < 64)
        for (std::size_t j = 0; j <= N; ++j)
            adjoint_left(gb + off[j], a, gc, j, N, off, len);
    }
    // ga += gc ⌟ b.
    static void product_adjoint_right(T* ga, const T* b, const T* gc, std::size_t d, std::size_t N) {
        if (d < 2) { // as the left half's
            const std::size_t n = d == 1 ? N : 0;
            for (std::size_t i = 0; i <= n; ++i)
                for (std::size_t j = 0; i + j <= n; ++j)
                    ga[i] += gc[i + j] * b[j];
            return;
        }
        const bool pow2 = (d & (d - 1)) == 0;
        if (!pow2 && !is_avx512) // by rows (above)
            return horner::product_adjoint_right<policy>(ga, b, gc, d, N);
        std::size_t off[64], len[64];
        level_offsets(off, d, N, len); // (d >= 2: d^N values, N < 64)
        // b_j masked to the lanes of row q of a register, for the rows
        // shorter than a register (d^j < W, d a power of two): bmask[(j*W + q)*W + l]
        alignas(64) T bmask[5 * W * W]; // (d >= 2, W <= 16: j < 5)
        for (std::size_t j = 1; pow2 && j <= N && len[j] < W; ++j)
            for (std::size_t q = 0; q < W / len[j]; ++q)
                for (std::size_t l = 0; l < W; ++l)
                    bmask[(j * W + q) * W + l] = l / len[j] == q ? b[off[j] + l % len[j]] : T(0);
        for (std::size_t i = 0; i <= N; ++i) {
            if constexpr (is_avx512)
                if (len[i] >= W) {
                    pow2 ? adjoint_right_lanes(ga + off[i], b, gc, i, N, off, len)
                         : adjoint_right_any(ga + off[i], b, gc, i, N, off, len);
                    continue;
                }
            // blocks of RB rows, a power of two (AVX-512: fewer than W), then one at a time
            std::size_t RB = std::min<std::size_t>(block_regs, is_avx512 ? W / 2 : block_regs), u = 0;
            while (RB > len[i])
                RB /= 2;
            with_one_of<1, 2, 4, 8>(RB, [&](auto R) {
                if constexpr (!is_avx512 || decltype(R)::value < W)
                    for (; u + R <= len[i]; u += R)
                        pow2 ? adjoint_right<decltype(R)::value>(ga + off[i] + u, b, gc, i, u, N, off, len,
                                                                 bmask)
                             : adjoint_right<decltype(R)::value, is_avx512>(ga + off[i] + u, b, gc, i, u, N,
                                                                            off, len, bmask);
            });
            for (; u < len[i]; ++u) // (AVX-512, d not a power of two)
                adjoint_right<1, is_avx512>(ga + off[i] + u, b, gc, i, u, N, off, len, bmask);
        }
    }

    static constexpr bool is_avx512 = std::is_base_of<xsimd::avx512f, Arch>::value;

    // ga_i (at out, d^i >= W rows) += Σ_j gc_{i+j} ⌟ b_j with AVX-512's
    // two-source permutes (its adjoint_right, with xsimd's haddp and one sum
    // per row, ran 1.8-8x slower than AVX2's), in blocks of W rows whose
    // sums are the lanes of one register. Term by term for b_0 and the rows
    // of b_j shorter than a register (d^j < W), each a loop over the blocks:
    // a block's nj registers of gc_{i+j} turned into its nj columns
    // (columns_of), each against a broadcast of b_j. Then the longer rows
    // together, block by block: a sum per row along it, then the W sums
    // across their lanes at once (fold_rows).
    static void adjoint_right_lanes(T* out, const T* b, const T* gc, std::size_t i, std::size_t N,
                                    const std::size_t* off, const std::size_t* len) {
        const std::size_t n = len[i];
        {
            const batch b0(b[0]);
            const T* gi = gc + off[i];
            for (std::size_t u = 0; u < n; u += W)
                fmadd(batch::load_unaligned(gi + u), b0, batch::load_unaligned(out + u))
                    .store_unaligned(out + u);
        }
        std::size_t j = 1;
        for (; i + j <= N && len[j] < W; ++j)
            with_one_of<2, 4, 8>(len[j], [&](auto NJ) {
                constexpr std::size_t nj = decltype(NJ)::value;
                if constexpr (nj < W) {
                    const T* g = gc + off[i + j];
                    batch bv[nj];
#pragma GCC unroll 8
                    for (std::size_t v = 0; v < nj; ++v)
                        bv[v] = batch(b[off[j] + v]);
                    for (std::size_t u = 0; u < n; u += W, g += nj * W) {
                        batch col[nj];
#pragma GCC unroll 8
                        for (std::size_t q = 0; q < nj; ++q)
                            col[q] = batch::load_unaligned(g + q * W);
                        columns_of<nj>(col);
                        batch sum = batch::load_unaligned(out + u);
#pragma GCC unroll 8
                        for (std::size_t v = 0; v < nj; ++v)
                            sum = fmadd(col[v], bv[v], sum);
                        sum.store_unaligned(out + u);
                    }
                }
            });
        if (i + j > N) return;
        for (std::size_t u = 0; u < n; u += W) // (b_0's term above)
            right_block<true, false>(out, b, gc, i, N, off, len, u, W, j);
    }

    // The same for d not a power of two (AVX-512; d^i >= W rows): every
    // term j >= 1 as adjoint_right_lanes' long rows (right_block), the
    // row's last d^j mod W values (or all of a row shorter than a
    // register) by a masked load, which reads nothing past them. The last
    // rows (d^i mod W) as a block of fewer rows.
    static void adjoint_right_any(T* out, const T* b, const T* gc, std::size_t i, std::size_t N,
                                  const std::size_t* off, const std::size_t* len) {
        const std::size_t n = len[i];
        std::size_t u = 0;
        for (; u + W <= n; u += W)
            right_block<true, true>(out, b, gc, i, N, off, len, u, W, 1);
        if (u < n) right_block<false, true>(out, b, gc, i, N, off, len, u, n - u, 1);
    }
    // Rows u.. (W of them where Full, else `rows`) of ga_i += Σ_{k >= j}
    // gc_{i+k} ⌟ b_k: a sum per row along it, then the W sums across their
    // lanes at once (fold_rows). Any: d not a power of two (rows may end
    // inside a register, and b_0's term is added here, not by the caller).
    // For a power of two neither branch is compiled: with them in, the
    // double kernel had taken 1.04-1.06x the time for d = 4, 8 and 16.
    template <bool Full, bool Any>
    [[gnu::always_inline]] static inline void
    right_block(T* out, const T* b, const T* gc, std::size_t i, std::size_t N, const std::size_t* off,
                const std::size_t* len, std::size_t u, std::size_t rows, std::size_t j) {
        batch acc[W];
#pragma GCC unroll 16
        for (std::size_t r = 0; r < W; ++r)
            acc[r] = batch(T(0));
        for (std::size_t k = j; i + k <= N; ++k) {
            const std::size_t nk = len[k], full = Any ? nk / W * W : nk, rest = nk - full;
            const T* g = gc + off[i + k] + u * nk;
            const T* bk = b + off[k];
            for (std::size_t c = 0; c < full; c += W) {
                const batch bv = batch::load_unaligned(bk + c);
#pragma GCC unroll 16
                for (std::size_t r = 0; r < W; ++r)
                    if (Full || r < rows) acc[r] = fmadd(batch::load_unaligned(g + r * nk + c), bv, acc[r]);
            }
            if (Any && rest) {
                const batch bv = load_first(bk + full, rest);
#pragma GCC unroll 16
                for (std::size_t r = 0; r < W; ++r)
                    if (Full || r < rows) acc[r] = fmadd(load_first(g + r * nk + full, rest), bv, acc[r]);
            }
        }
        fold_rows<W>(acc);
        const T* gi = gc + off[i] + u;
        if constexpr (Full) {
            if (Any) acc[0] = fmadd(batch::load_unaligned(gi), batch(b[0]), acc[0]);
            (batch::load_unaligned(out + u) + acc[0]).store_unaligned(out + u);
        } else { // the last rows of a level (d not a power of two only)
            static_assert(Any, "a block of fewer than W rows is only d not a power of two's");
            alignas(64) T sums[W];
            acc[0].store_aligned(sums);
            for (std::size_t r = 0; r < rows; ++r)
                out[u + r] += sums[r] + gi[r] * b[0];
        }
    }
    // The first v < W values at p in a register, the other lanes zero
    // (AVX-512's masked load: nothing past p + v is read).
    template <class U = T>
    static batch load_first([[maybe_unused]] const U* p, [[maybe_unused]] std::size_t v) {
#if defined(__AVX512F__)
        if constexpr (sizeof(U) == 8)
            return _mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << v) - 1), p);
        else
            return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << v) - 1), p);
#else
        static_assert(sizeof(U) == 0, "AVX-512 kernels are compiled with -mavx512f");
        return batch(T(0));
#endif
    }

    // The W rows of nj values in x[0..nj) (row r at lanes r*nj.. of the
    // registers laid end to end) to their nj columns: x[v] lane r = row r's
    // value v. log2(nj) rounds of even/odd splits, nj permutes each.
    template <std::size_t NJ> static void columns_of(batch* x) {
        if constexpr (NJ >= 2) {
            batch e[NJ / 2], o[NJ / 2];
#pragma GCC unroll 8
            for (std::size_t q = 0; q < NJ / 2; ++q) {
                e[q] = permuted2<parity_gen<0>>(x[2 * q], x[2 * q + 1]);
                o[q] = permuted2<parity_gen<1>>(x[2 * q], x[2 * q + 1]);
            }
            columns_of<NJ / 2>(e); // the even columns, in order
            columns_of<NJ / 2>(o);
#pragma GCC unroll 8
            for (std::size_t t = 0; t < NJ / 2; ++t) {
                x[2 * t] = e[t];
                x[2 * t + 1] = o[t];
            }
        }
    }

    // Row sums of x[0..W): x[0] lane r = the sum of x[r]'s lanes. At the
    // round of L (W, W/2, .., 2) there are L registers of W/L rows, a row's
    // partial sums in L lanes side by side; each pair folds into one
    // register of twice the rows and half the lanes: W - 1 folds of two
    // permutes and an add.
    template <std::size_t L> static void fold_rows(batch* x) {
        if constexpr (L >= 2) {
#pragma GCC unroll 16
            for (std::size_t p = 0; p < L / 2; ++p)
                x[p] = permuted2<fold_gen<L, 0>>(x[2 * p], x[2 * p + 1]) +
                       permuted2<fold_gen<L, 1>>(x[2 * p], x[2 * p + 1]);
            fold_rows<L / 2>(x);
        }
    }
    // Lane n of even/odd: lane 2n + P of x and y laid end to end.
    template <std::size_t P> struct parity_gen {
        static constexpr std::size_t get(std::size_t n) { return 2 * n + P; }
    };
    // Lane n of a fold: x's W/L rows then y's, each the first (H = 0) or
    // second (H = 1) half of its L lanes.
    template <std::size_t L, std::size_t H> struct fold_gen {
        static constexpr std::size_t get(std::size_t n) {
            const std::size_t rows = W / L, h = L / 2, t = n / h;
            return (t < rows ? t * L : W + (t - rows) * L) + n % h + H * h;
        }
    };
    // Lane n takes lane Gen::get(n) of x (below W) or y (W and above):
    // AVX-512's two-source permute.
    template <class Gen> static batch permuted2(const batch& x, const batch& y) {
        return permuted2_512<Gen>(x, y, std::make_index_sequence<W>{});
    }
    template <class Gen, std::size_t... L>
    static batch permuted2_512([[maybe_unused]] const batch& x, [[maybe_unused]] const batch& y,
                               std::index_sequence<L...>) {
#if defined(__AVX512F__)
        alignas(64) static constexpr mask_int index[W] = {static_cast<mask_int>(Gen::get(L))...};
        const __m512i idx = _mm512_load_si512(index);
        if constexpr (sizeof(T) == 8)
            return _mm512_permutex2var_pd(x, idx, y);
        else
            return _mm512_permutex2var_ps(x, idx, y);
#else
        static_assert(sizeof...(L) == 0, "AVX-512 kernels are compiled with -mavx512f");
        return x;
#endif
    }

    // gb_j (at out) += Σ_i a_i ⊳ gc_{i+j}. Rows of gc_{i+j} (d^j values) of
    // a register or more: gb_j in stretches of Rr registers (at most
    // product_regs), each a sum over the rows u of a_i[u] broadcast against
    // the row's stretch; K = block_regs / Rr sets of sums over
    // consecutive rows, so that the multiply-adds into one register do not
    // wait on each other. Where d is not a power of two, a row's last
    // d^j mod W values are the last lanes of a stretch of one register that
    // ends with the row (its other lanes, which the stretches before it
    // also sum, dropped). Shorter rows (adjoint_left_short): across rows;
    // rows of 8 to 15 values where W is 16 (d not a power of two): by rows.
    static void adjoint_left(T* out, const T* a, const T* gc, std::size_t j, std::size_t N,
                             const std::size_t* off, const std::size_t* len) {
        const std::size_t nj = len[j];
        if (nj >= W) {
            const std::size_t full = nj / W * W, rem = nj - full;
            alignas(64) T tail[W];
            if (rem) { // first, from out's values before any stretch is added
                std::copy(out + nj - W, out + nj, tail);
                adjoint_left_tile<1>(tail, a, gc + (nj - W), j, N, off, len);
            }
            std::size_t t = 0;
            std::size_t Rr = block_regs;
            while (Rr * W > full)
                Rr /= 2;
            with_one_of<1, 2, 4, 8>(Rr, [&](auto R) {
                for (; t + R * W <= full; t += R * W)
                    adjoint_left_tile<decltype(R)::value>(out + t, a, gc + t, j, N, off, len);
            });
            for (; t < full; t += W)
                adjoint_left_tile<1>(out + t, a, gc + t, j, N, off, len);
            std::copy(tail + W - rem, tail + W, out + full);
            return;
        }
        bool done = false;
        with_one_of<1, 2, 3, 4, 5, 6, 7, 8>(nj, [&](auto NJ) {
            if constexpr (decltype(NJ)::value < W) {
                adjoint_left_short<decltype(NJ)::value>(out, a, gc, j, N, off, len);
                done = true;
            }
        });
        if (!done)
            for (std::size_t i = 0; i + j <= N; ++i)
                policy::vecmat(out, a + off[i], len[i], gc + off[i + j], nj);
    }
    template <std::size_t Rr>
    static void adjoint_left_tile(T* out, const T* a, const T* gct, std::size_t j, std::size_t N,
                                  const std::size_t* off, const std::size_t* len) {
        constexpr std::size_t K = block_regs / Rr;
        const std::size_t nj = len[j];
        batch acc[K][Rr];
        for (std::size_t r = 0; r < Rr; ++r) {
            acc[0][r] = batch::load_unaligned(out + r * W);
            for (std::size_t q = 1; q < K; ++q)
                acc[q][r] = batch(T(0));
        }
        for (std::size_t i = 0; i + j <= N; ++i) {
            const T* ai = a + off[i];
            const T* g = gct + off[i + j];
            const std::size_t ni = len[i];
            std::size_t u = 0;
            for (; u + K <= ni; u += K)
#pragma GCC unroll 8
                for (std::size_t q = 0; q < K; ++q) {
                    const batch av(ai[u + q]);
                    const T* gu = g + (u + q) * nj;
#pragma GCC unroll 8
                    for (std::size_t r = 0; r < Rr; ++r)
                        acc[q][r] = fmadd(av, batch::load_unaligned(gu + r * W), acc[q][r]);
                }
            for (; u < ni; ++u) {
                const batch av(ai[u]);
                for (std::size_t r = 0; r < Rr; ++r)
                    acc[0][r] = fmadd(av, batch::load_unaligned(g + u * nj + r * W), acc[0][r]);
            }
        }
        for (std::size_t r = 0; r < Rr; ++r) {
            for (std::size_t q = 1; q < K; ++q)
                acc[0][r] = acc[0][r] + acc[q][r];
            acc[0][r].store_unaligned(out + r * W);
        }
    }
    // Rows of NJ < W values: a register of a_i (W rows) against the NJ
    // registers of gc_{i+j} that hold those rows, a_i's coefficients each
    // repeated NJ times (expand_gen): lane l of the q-th register sums into
    // gb_j[(q W + l) mod NJ], folded once at the end. Where NJ divides W
    // that is l mod NJ for every q, and four sums are taken in turn; else a
    // sum per q. Levels of a_i smaller than a register, and the rows past
    // the last whole register of a_i, go one coefficient at a time.
    template <std::size_t NJ>
    static void adjoint_left_short(T* out, const T* a, const T* gc, std::size_t j, std::size_t N,
                                   const std::size_t* off, const std::size_t* len) {
        constexpr bool divides = W % NJ == 0;
        constexpr std::size_t S = divides ? 4 : NJ; // sums
        batch acc[S];
        for (auto& x : acc)
            x = batch(T(0));
        for (std::size_t i = 0; i + j <= N; ++i) {
            const T* ai = a + off[i];
            const T* g = gc + off[i + j];
            const std::size_t ni = len[i];
            std::size_t u = 0;
            if (ni >= W) {
                if constexpr (divides) {
                    // S / NJ registers of a_i a round where NJ < S, each into its own
                    // sums (for NJ = 1 one sum had waited on its multiply-add's latency)
                    constexpr std::size_t U = NJ < S ? S / NJ : 1;
                    for (; u + U * W <= ni; u += U * W)
#pragma GCC unroll 4
                        for (std::size_t r = 0; r < U; ++r)
                            adjoint_left_expand<NJ>(acc + r * NJ, batch::load_unaligned(ai + u + r * W),
                                                    g + (u + r * W) * NJ, std::make_index_sequence<NJ>{});
                }
                for (; u + W <= ni; u += W)
                    adjoint_left_expand<NJ>(acc, batch::load_unaligned(ai + u), g + u * NJ,
                                            std::make_index_sequence<NJ>{});
            }
            for (; u < ni; ++u)
                for (std::size_t v = 0; v < NJ; ++v)
                    out[v] += ai[u] * g[u * NJ + v];
        }
        alignas(64) T lanes[W];
        if constexpr (divides) {
            ((acc[0] + acc[1]) + (acc[2] + acc[3])).store_aligned(lanes);
            for (std::size_t l = 0; l < W; ++l)
                out[l % NJ] += lanes[l];
        } else {
            for (std::size_t q = 0; q < NJ; ++q) {
                acc[q].store_aligned(lanes);
                for (std::size_t l = 0; l < W; ++l)
                    out[(q * W + l) % NJ] += lanes[l];
            }
        }
    }
    template <std::size_t NJ, std::size_t... q>
    static void adjoint_left_expand(batch* acc, const batch& av, const T* g, std::index_sequence<q...>) {
        constexpr std::size_t S = W % NJ == 0 ? 4 : NJ;
        if constexpr (NJ == 1)
            acc[0] = fmadd(av, batch::load_unaligned(g), acc[0]);
        else
            ((acc[q % S] = fmadd(permuted<expand_gen<mask_int, NJ, q>>(av), batch::load_unaligned(g + q * W),
                                 acc[q % S])),
             ...);
    }

    // ga_i[u..u+RB) (at out) += Σ_j gc_{i+j} ⌟ b_j for RB rows, P =
    // product_regs / RB sums per row (taken in turn over the stretches of a
    // row). Rows of b_j of a register or more: a register of b_j against the
    // RB rows' stretches; shorter rows: a register of gc holds W/d^j rows,
    // each against b_j masked to its lanes (bmask); rows of fewer values
    // than a register in all: one coefficient at a time. Then each row's
    // sum across its lanes (W rows at once, xsimd::haddp), plus the term
    // of b_0. With Any (AVX-512, d not a power of two: W does not divide
    // d^j), a row's values past its last whole register, or all of a row
    // shorter than a register, by masked loads (load_first).
    template <std::size_t RB, bool Any = false>
    static void adjoint_right(T* out, const T* b, const T* gc, std::size_t i, std::size_t u, std::size_t N,
                              const std::size_t* off, const std::size_t* len, const T* bmask) {
        constexpr std::size_t P = block_regs / RB;
        batch acc[RB][P];
        for (auto& row : acc)
            for (auto& x : row)
                x = batch(T(0));
        T small[RB] = {};
        for (std::size_t j = 1; i + j <= N; ++j) {
            const std::size_t nj = len[j];
            const T* g = gc + off[i + j] + u * nj;
            const T* bj = b + off[j];
            if (nj >= W) {
                const std::size_t full = Any ? nj / W * W : nj; // (Any: the rest of the row after)
                for (std::size_t c = 0; c < full; c += P * W)
#pragma GCC unroll 8
                    for (std::size_t p = 0; p < P; ++p)
                        if (P == 1 || c + p * W < full) {
                            const batch bv = batch::load_unaligned(bj + c + p * W);
#pragma GCC unroll 8
                            for (std::size_t r = 0; r < RB; ++r)
                                acc[r][p] =
                                    fmadd(batch::load_unaligned(g + r * nj + c + p * W), bv, acc[r][p]);
                        }
                if constexpr (Any)
                    if (full < nj) { // the row's last values (AVX-512's masked loads)
                        const batch bv = load_first(bj + full, nj - full);
                        for (std::size_t r = 0; r < RB; ++r)
                            acc[r][0] = fmadd(load_first(g + r * nj + full, nj - full), bv, acc[r][0]);
                    }
            } else if ((!Any || W % nj == 0) && RB * nj >= W) {
                // h = W / nj rows per register, known at compile time so that
                // the sums stay in registers (with a run-time h they went
                // through the stack, and h took a division)
                with_one_of<2, 4, 8, 16>(W / nj, [&](auto H) {
                    constexpr std::size_t h = decltype(H)::value;
                    // (h <= RB holds here, as RB * nj >= W; the test only
                    // keeps the other instantiations from being compiled)
                    if constexpr (h <= RB && h <= W) {
                        batch bq[h];
#pragma GCC unroll 16
                        for (std::size_t q = 0; q < h; ++q)
                            bq[q] = batch::load_aligned(bmask + (j * W + q) * W);
#pragma GCC unroll 16
                        for (std::size_t r0 = 0; r0 < RB; r0 += h) {
                            const batch gv = batch::load_unaligned(g + r0 * nj);
#pragma GCC unroll 16
                            for (std::size_t q = 0; q < h; ++q)
                                acc[r0 + q][0] = fmadd(gv, bq[q], acc[r0 + q][0]);
                        }
                    }
                });
            } else if (Any && W % nj != 0) { // a row in a register, by masked loads
                if constexpr (Any) {
                    const batch bv = load_first(bj, nj);
                    for (std::size_t r = 0; r < RB; ++r)
                        acc[r][0] = fmadd(load_first(g + r * nj, nj), bv, acc[r][0]);
                }
            } else {
                for (std::size_t r = 0; r < RB; ++r)
                    for (std::size_t v = 0; v < nj; ++v)
                        small[r] += g[r * nj + v] * bj[v];
            }
        }
        batch row[RB];
        for (std::size_t r = 0; r < RB; ++r) {
            row[r] = acc[r][0];
            for (std::size_t p = 1; p < P; ++p)
                row[r] = row[r] + acc[r][p];
        }
        const T b0 = b[0];
        const T* gi = gc + off[i] + u;
        if constexpr (RB >= W) {
            const batch b0v(b0);
            for (std::size_t r = 0; r < RB; r += W) {
                batch sums = xsimd::haddp(row + r);
                sums = fmadd(b0v, batch::load_unaligned(gi + r), sums);
                (batch::load_unaligned(out + r) + sums).store_unaligned(out + r);
            }
        } else {
            for (std::size_t r = 0; r < RB; ++r)
                out[r] += (reduce_sum(row[r]) + small[r]) + b0 * gi[r];
        }
    }

    // Horizontal sum. Not xsimd::hadd: in xsimd 8.1 its AVX-512 float version
    // needs AVX-512DQ, which the avx512f kernels must not assume (and it is
    // renamed in xsimd 9).
    static T reduce_sum(const batch& x) {
        alignas(64) T lanes[W];
        x.store_aligned(lanes);
        T sum = lanes[0];
        for (std::size_t l = 1; l < W; ++l)
            sum += lanes[l];
        return sum;
    }

    // Whether p[0..n) are all finite (scalar::all_finite): R registers of
    // x - x sums, 0 exactly unless some x is an infinity or a NaN. (8190
    // doubles, out of L1: 0.42 us with AVX-512, 0.61 with AVX2, the twin
    // 1.17-1.27; R = 4 ran as fast.)
    static bool all_finite(const T* p, std::size_t n) {
        constexpr std::size_t R = 8;
        batch acc[R];
        for (auto& a : acc)
            a = batch(T(0));
        std::size_t i = 0;
        for (; i + R * W <= n; i += R * W)
            for (std::size_t k = 0; k < R; ++k) {
                const batch x = batch::load_unaligned(p + i + k * W);
                acc[k] = acc[k] + (x - x);
            }
        for (; i + W <= n; i += W) {
            const batch x = batch::load_unaligned(p + i);
            acc[0] = acc[0] + (x - x);
        }
        T rest = T(0);
        for (; i < n; ++i)
            rest += p[i] - p[i];
        for (std::size_t k = 1; k < R; ++k)
            acc[0] = acc[0] + acc[k];
        return reduce_sum(acc[0]) + rest == T(0);
    }

    // out[r] = sum_c M[r*cols + c] v[c]
    // With `acc`, also acc[r] += out[r] (the adjoint adds each contraction
    // into the gradient: fused here to save a pass over memory).
    static void matvec(T* out, const T* M, std::size_t rows, std::size_t cols, const T* v, T* acc = nullptr) {
        if (cols == W) { // rows exactly a register long (d = 4 in AVX2 double): W rows, one horizontal add
            const batch vv = batch::load_unaligned(v);
            std::size_t r = 0;
            for (; r + W <= rows; r += W) {
                batch p[W];
                for (std::size_t i = 0; i < W; ++i)
                    p[i] = batch::load_unaligned(M + (r + i) * W) * vv;
                const batch res = xsimd::haddp(p);
                res.store_unaligned(out + r);
                if (acc) (batch::load_unaligned(acc + r) + res).store_unaligned(acc + r);
            }
            for (; r < rows; ++r) {
                out[r] = reduce_sum(batch::load_unaligned(M + r * W) * vv);
                if (acc) acc[r] += out[r];
            }
            return;
        }
        if (cols >= W) {
            for (std::size_t r = 0; r < rows; ++r) {
                const T* m = M + r * cols;
                batch part(T(0));
                std::size_t c = 0;
                for (; c + W <= cols; c += W)
                    part = fmadd(batch::load_unaligned(m + c), batch::load_unaligned(v + c), part);
                T sum = reduce_sum(part);
                for (; c < cols; ++c)
                    sum += m[c] * v[c];
                out[r] = sum;
                if (acc) acc[r] += sum;
            }
            return;
        }
#if defined(__AVX2__)
        if constexpr (std::is_same_v<T, double> && std::is_base_of_v<xsimd::avx2, Arch>) {
            // d = 2 in double, the commonest case: one pairwise horizontal add
            // and one lane permute per four rows
            if (cols == 2 && rows >= 4) {
                const __m256d vp = _mm256_setr_pd(v[0], v[1], v[0], v[1]);
                std::size_t r = 0;
                for (; r + 4 <= rows; r += 4) {
                    const __m256d a = _mm256_mul_pd(_mm256_loadu_pd(M + 2 * r), vp);
                    const __m256d b = _mm256_mul_pd(_mm256_loadu_pd(M + 2 * r + 4), vp);
                    const __m256d h = _mm256_permute4x64_pd(_mm256_hadd_pd(a, b), 0xD8); // lanes 0, 2, 1, 3
                    _mm256_storeu_pd(out + r, h);
                    if (acc) _mm256_storeu_pd(acc + r, _mm256_add_pd(_mm256_loadu_pd(acc + r), h));
                }
                if (r < rows) matvec(out + r, M + r * 2, rows - r, 2, v, acc ? acc + r : nullptr);
                return;
            }
        }
#endif
        if constexpr (has_swizzle<Arch>) {
            std::size_t done = 0;
            if (cols == 2) done = matvec_narrow<2>(out, M, rows, v, acc);
            if constexpr (W > 4)
                if (cols == 4) done = matvec_narrow<4>(out, M, rows, v, acc);
            if (done > 0) {
                if (done < rows)
                    matvec(out + done, M + done * cols, rows - done, cols, v, acc ? acc + done : nullptr);
                return;
            }
        }
        switch (cols) { // short rows: fixed-length loops the compiler vectorises across rows
        case 1:
            matvec_fixed<1>(out, M, rows, v);
            break;
        case 2:
            matvec_fixed<2>(out, M, rows, v);
            break;
        case 3:
            matvec_fixed<3>(out, M, rows, v);
            break;
        case 4:
            matvec_fixed<4>(out, M, rows, v);
            break;
        case 5:
            matvec_fixed<5>(out, M, rows, v);
            break;
        case 6:
            matvec_fixed<6>(out, M, rows, v);
            break;
        case 7:
            matvec_fixed<7>(out, M, rows, v);
            break;
        default:
            for (std::size_t r = 0; r < rows; ++r) {
                T sum = T(0);
                for (std::size_t c = 0; c < cols; ++c)
                    sum += M[r * cols + c] * v[c];
                out[r] = sum;
            }
        }
        if (acc)
            for (std::size_t r = 0; r < rows; ++r)
                acc[r] += out[r];
    }

    // Rows shorter than a register, D dividing W: W rows (D registers) at a
    // time; each register's products are summed in groups of D lanes by
    // swizzles, and the W sums gathered into one register.
    template <std::size_t D>
    static std::size_t matvec_narrow(T* out, const T* M, std::size_t rows, const T* v, T* acc) {
        static_assert(W % D == 0 && D >= 2 && D <= 4, "row length must divide the register width");
        alignas(64) T pattern[W];
        for (std::size_t l = 0; l < W; ++l)
            pattern[l] = v[l % D];
        const batch vp = batch::load_aligned(pattern);
        std::size_t r = 0;
        for (; r + W <= rows; r += W) {
            const batch res = gather_sums<D>(M + r * D, vp, std::make_index_sequence<D>{});
            res.store_unaligned(out + r);
            if (acc) (batch::load_unaligned(acc + r) + res).store_unaligned(acc + r);
        }
        return r;
    }

    template <std::size_t D> static batch group_sum(batch p) {
        p = p + permuted<xor_gen<mask_int, 1>>(p);
        if constexpr (D == 4) p = p + permuted<xor_gen<mask_int, 2>>(p);
        return p;
    }

    template <std::size_t D, std::size_t... K>
    static batch gather_sums(const T* M, const batch& vp, std::index_sequence<K...>) {
        batch s[D] = {group_sum<D>(batch::load_unaligned(M + K * W) * vp)...};
        batch res = permuted<gather_gen<mask_int, D, 0>>(s[0]);
        ((res = K == 0 ? res
                       : xsimd::select(xsimd::make_batch_bool_constant<batch, block_gen<D, K>>(),
                                       permuted<gather_gen<mask_int, D, K>>(s[K]), res)),
         ...);
        return res;
    }

    template <std::size_t C> static void matvec_fixed(T* out, const T* M, std::size_t rows, const T* v) {
        T w[C];
        for (std::size_t c = 0; c < C; ++c)
            w[c] = v[c];
        for (std::size_t r = 0; r < rows; ++r) {
            T acc = M[r * C] * w[0];
            for (std::size_t c = 1; c < C; ++c)
                acc += M[r * C + c] * w[c];
            out[r] = acc;
        }
    }

    // out[c] += sum_r v[r] M[r*cols + c]
    static void vecmat(T* out, const T* v, std::size_t rows, const T* M, std::size_t cols) {
        if (cols == W) { // one register accumulates every row
            batch acc = batch::load_unaligned(out);
            for (std::size_t r = 0; r < rows; ++r)
                acc = fmadd(batch(v[r]), batch::load_unaligned(M + r * W), acc);
            acc.store_unaligned(out);
            return;
        }
        if (cols >= W) {
            for (std::size_t r = 0; r < rows; ++r) {
                const batch vr(v[r]);
                const T* m = M + r * cols;
                std::size_t c = 0;
                for (; c + W <= cols; c += W)
                    fmadd(vr, batch::load_unaligned(m + c), batch::load_unaligned(out + c))
                        .store_unaligned(out + c);
                for (; c < cols; ++c)
                    out[c] += v[r] * m[c];
            }
            return;
        }
        std::size_t done = 0;
        if constexpr (has_swizzle<Arch>) {
            switch (cols) {
            case 1:
                done = vecmat_narrow<1>(out, v, rows, M);
                break;
            case 2:
                done = vecmat_narrow<2>(out, v, rows, M);
                break;
            case 4:
                done = vecmat_narrow<4>(out, v, rows, M);
                break;
            case 8:
                if constexpr (W > 8) done = vecmat_narrow<8>(out, v, rows, M);
                break;
            default:
                break;
            }
        }
        for (std::size_t r = done; r < rows; ++r)
            for (std::size_t c = 0; c < cols; ++c)
                out[c] += v[r] * M[r * cols + c];
    }

    // H = Cᵀ diag(w) C for n columns of length m (Gauss-Newton's normal
    // matrix), w constant on row ranges (scalar::gram). The rows go in chunks
    // short enough for every column's chunk to stay in L1 while all the dot
    // products use it (one pass over C from L2 instead of one per pair of
    // columns); within a chunk, panels of columns (gram_rows).
    static void gram(T* H, const T* C, std::size_t n, std::size_t m, std::size_t ld, const std::size_t* ends,
                     const T* scales, std::size_t ranges) {
        constexpr std::size_t chunk = 4096 / sizeof(T); // rows per chunk: 4 KiB of each column
        for (std::size_t i = 0; i < n * n; ++i)
            H[i] = T(0);
        std::size_t begin = 0;
        for (std::size_t k = 0; k < (ranges ? ranges : 1); ++k) {
            const std::size_t end = ranges ? ends[k] : m;
            const T scale = ranges ? scales[k] : T(1);
            for (std::size_t r0 = begin; r0 < end; r0 += chunk)
                gram_rows(H, C, n, ld, r0, r0 + chunk < end ? r0 + chunk : end, scale);
            begin = end;
        }
        for (std::size_t a = 0; a < n; ++a) // the lower triangle was accumulated
            for (std::size_t b = 0; b < a; ++b)
                H[b * n + a] = H[a * n + b];
    }

    // Keeps x in a register from here on (an empty asm statement the
    // compiler cannot see through): a value used several times is then
    // loaded once, not folded into every instruction that uses it.
    static void in_register(batch& x) {
#if defined(__GNUC__)
        auto& reg = x.data; // xsimd's register
        asm("" : "+x"(reg));
#else
        (void)x;
#endif
    }

    // h[i][j] = the dot product of columns x[i] and y[j] over rows [r0, r1):
    // RA x RB sums in registers, each load feeding RB or RA multiply-adds.
    template <std::size_t RA, std::size_t RB>
    static void dot_block(const T* const* x, const T* const* y, std::size_t r0, std::size_t r1, T (&h)[RA][RB]) {
        batch s[RA][RB];
        for (auto& row : s)
            for (auto& v : row)
                v = batch(T(0));
        std::size_t r = r0;
        for (; r + W <= r1; r += W) {
            batch v[RB];
            for (std::size_t j = 0; j < RB; ++j)
                v[j] = batch::load_unaligned(y[j] + r);
            for (std::size_t i = 0; i < RA; ++i) {
                batch u = batch::load_unaligned(x[i] + r);
                // one load feeding RB multiply-adds: without this GCC folds
                // the load into each of them (RB loads, the loop load bound)
                in_register(u);
                for (std::size_t j = 0; j < RB; ++j)
                    s[i][j] = fmadd(u, v[j], s[i][j]);
            }
        }
        for (std::size_t i = 0; i < RA; ++i)
            for (std::size_t j = 0; j < RB; ++j) {
                T sum = reduce_sum(s[i][j]);
                for (std::size_t t = r; t < r1; ++t)
                    sum += x[i][t] * y[j][t];
                h[i][j] = sum;
            }
    }

    // Columns a..a+RA-1 against all columns b <= a+RA-1 (RB at a time, then
    // one by one): scale times their dot products over rows [r0, r1) added
    // to the lower triangle of H.
    template <std::size_t RA, std::size_t RB>
    static void gram_panel(T* H, const T* C, std::size_t n, std::size_t m, std::size_t a, std::size_t r0,
                           std::size_t r1, T scale) {
        const T* x[RA];
        for (std::size_t i = 0; i < RA; ++i)
            x[i] = C + (a + i) * m;
        auto add = [&](std::size_t b, std::size_t i, std::size_t j, T v) {
            if (b + j <= a + i) H[(a + i) * n + b + j] += scale * v; // (lower triangle only)
        };
        std::size_t b = 0;
        for (; b + RB <= a + RA; b += RB) {
            const T* y[RB];
            for (std::size_t j = 0; j < RB; ++j)
                y[j] = C + (b + j) * m;
            T h[RA][RB];
            dot_block<RA, RB>(x, y, r0, r1, h);
            for (std::size_t i = 0; i < RA; ++i)
                for (std::size_t j = 0; j < RB; ++j)
                    add(b, i, j, h[i][j]);
        }
        for (; b < a + RA; ++b) {
            const T* y[1] = {C + b * m};
            T h[RA][1];
            dot_block<RA, 1>(x, y, r0, r1, h);
            for (std::size_t i = 0; i < RA; ++i)
                add(b, i, 0, h[i][0]);
        }
    }

    // Adds scale times the dot products of columns a and b (column j at
    // C + j m) over rows [r0, r1) to the lower triangle of H (b <= a): panels of four columns
    // against two (eight independent sums hide the FMA latency; six loads
    // feed eight multiply-adds); the last n mod 4 columns against two (three
    // left) or four (one or two left).
    static void gram_rows(T* H, const T* C, std::size_t n, std::size_t m, std::size_t r0, std::size_t r1,
                          T scale) {
        std::size_t a = 0;
        for (; a + 4 <= n; a += 4)
            gram_panel<4, 2>(H, C, n, m, a, r0, r1, scale);
        switch (n - a) {
        case 3:
            return gram_panel<3, 2>(H, C, n, m, a, r0, r1, scale);
        case 2:
            return gram_panel<2, 4>(H, C, n, m, a, r0, r1, scale);
        case 1:
            return gram_panel<1, 4>(H, C, n, m, a, r0, r1, scale);
        default:
            return;
        }
    }

#if defined(__AVX2__)
    // The adjoint's d = 2 layout (AVX2 double): rows r, r+2 of M in a and
    // rows r+1, r+3 in b, a half register each (the upper half by an insert
    // from memory, no shuffle unit). Then v's multipliers are in-lane
    // duplicates and one in-lane horizontal add gives the row sums in order,
    // where rows (r, r+1) in one register needed three lane crossings per
    // four rows.
    static void d2_load_rows(const double* mr, __m256d& a, __m256d& b) {
        a = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(mr)), _mm_loadu_pd(mr + 4), 1);
        b = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(mr + 2)), _mm_loadu_pd(mr + 6), 1);
    }
    // Four rows: g0, g1 += the rows weighted by v[0..3] (columns in lanes
    // (0, 2) and (1, 3)); returns the row sums M[r] · w (wp = w twice).
    static __m256d d2_rows_step(__m256d a, __m256d b, const double* v, __m256d wp, __m256d& g0, __m256d& g1) {
        const __m256d vv = _mm256_loadu_pd(v);
        g0 = _mm256_fmadd_pd(_mm256_movedup_pd(vv), a, g0);      // v0 v0 v2 v2
        g1 = _mm256_fmadd_pd(_mm256_unpackhi_pd(vv, vv), b, g1); // v1 v1 v3 v3
        return _mm256_hadd_pd(_mm256_mul_pd(a, wp), _mm256_mul_pd(b, wp));
    }
    static __m256d d2_rows_step(const double* mr, const double* v, __m256d wp, __m256d& g0, __m256d& g1) {
        __m256d a, b;
        d2_load_rows(mr, a, b);
        return d2_rows_step(a, b, v, wp, g0, g1);
    }
    // gv[c] += the lanes of g that hold column c
    static void d2_add_lanes(double* gv, __m256d g) {
        alignas(32) double lanes[4];
        _mm256_store_pd(lanes, g);
        gv[0] += lanes[0] + lanes[2];
        gv[1] += lanes[1] + lanes[3];
    }
#endif

    // The adjoint's inner step over one matrix M (rows x cols), read once
    // where a fused path exists: gv[c] += sum_r v[r] M[r][c] (vecmat) and
    // out[r] = sum_c M[r][c] w[c], acc[r] += out[r] (matvec; no acc when null).
    // adjoint_step has a d = 2 path (AVX2 doubles, four rows a step)
#if defined(__AVX2__)
    static constexpr bool has_d2_adjoint = std::is_same_v<T, double> && std::is_base_of_v<xsimd::avx2, Arch>;
#else
    static constexpr bool has_d2_adjoint = false;
#endif
    // With accM, also accM[i] += M[i] for every value of M (fused where M is
    // read in registers: d = 2 and rows of one register).
    static void adjoint_step(T* gv, const T* v, T* out, const T* M, std::size_t rows, std::size_t cols, const T* w,
                             T* acc, T* accM = nullptr) {
        const bool fused = rows >= W && (cols == W || (has_d2_adjoint && cols == 2));
        if (accM && !fused) {
            adjoint_step(gv, v, out, M, rows, cols, w, acc);
            for (std::size_t i = 0; i < rows * cols; ++i)
                accM[i] += M[i];
            return;
        }
#if defined(__AVX2__)
        if constexpr (has_d2_adjoint) {
            if (cols == 2 && rows >= 4) { // d = 2: four rows (two registers) per step (d2_load_rows)
                const __m256d wp = _mm256_setr_pd(w[0], w[1], w[0], w[1]);
                __m256d g0 = _mm256_setzero_pd(), g1 = _mm256_setzero_pd();
                std::size_t r = 0;
                for (; r + 4 <= rows; r += 4) {
                    const double* mr = M + 2 * r;
                    if (accM) {
                        _mm256_storeu_pd(accM + 2 * r, _mm256_add_pd(_mm256_loadu_pd(accM + 2 * r), _mm256_loadu_pd(mr)));
                        _mm256_storeu_pd(accM + 2 * r + 4,
                                         _mm256_add_pd(_mm256_loadu_pd(accM + 2 * r + 4), _mm256_loadu_pd(mr + 4)));
                    }
                    const __m256d h = d2_rows_step(mr, v + r, wp, g0, g1);
                    _mm256_storeu_pd(out + r, h);
                    if (acc) _mm256_storeu_pd(acc + r, _mm256_add_pd(_mm256_loadu_pd(acc + r), h));
                }
                d2_add_lanes(gv, _mm256_add_pd(g0, g1));
                if (r < rows)
                    adjoint_step(gv, v + r, out + r, M + 2 * r, rows - r, 2, w, acc ? acc + r : nullptr,
                                 accM ? accM + 2 * r : nullptr);
                return;
            }
        }
#endif
        if (cols == W && rows >= W) { // rows exactly a register long: W rows, one horizontal add
            const batch wv = batch::load_unaligned(w);
            // two sums for the z-gradient: one chain of W dependent
            // multiply-adds per W rows would be latency bound
            batch g[2] = {batch::load_unaligned(gv), batch(T(0))};
            std::size_t r = 0;
            for (; r + W <= rows; r += W) {
                batch p[W];
                for (std::size_t i = 0; i < W; ++i) {
                    const batch row = batch::load_unaligned(M + (r + i) * W);
                    g[i % 2] = fmadd(batch(v[r + i]), row, g[i % 2]);
                    p[i] = row * wv;
                    if (accM) (batch::load_unaligned(accM + (r + i) * W) + row).store_unaligned(accM + (r + i) * W);
                }
                const batch res = xsimd::haddp(p);
                res.store_unaligned(out + r);
                if (acc) (batch::load_unaligned(acc + r) + res).store_unaligned(acc + r);
            }
            (g[0] + g[1]).store_unaligned(gv);
            if (r < rows)
                adjoint_step(gv, v + r, out + r, M + r * W, rows - r, W, w, acc ? acc + r : nullptr,
                             accM ? accM + r * W : nullptr);
            return;
        }
        if (cols == 2 * W && rows >= W) return adjoint_step_regs<2>(gv, v, out, M, rows, w, acc);
        if (cols == 4 * W && rows >= W) return adjoint_step_regs<4>(gv, v, out, M, rows, w, acc);
        if (cols < W || !has_swizzle<Arch>) {
            switch (cols) { // short rows: both products in registers, row by row
            case 3:
                return adjoint_step_fixed<3>(gv, v, out, M, rows, w, acc);
            case 5:
                return adjoint_step_fixed<5>(gv, v, out, M, rows, w, acc);
            case 6:
                return adjoint_step_fixed<6>(gv, v, out, M, rows, w, acc);
            case 7:
                return adjoint_step_fixed<7>(gv, v, out, M, rows, w, acc);
            default:
                break;
            }
        }
        vecmat(gv, v, rows, M, cols);
        matvec(out, M, rows, cols, w, acc);
    }

    // For s < m: gv_s[c] += sum_r v_s[r] M[r][c] and out_s[r] = sum_c M[r][c] w_s[c]
    // (v_s = v + s sv, out_s = out + s rows): the adjoint's first step for a
    // block of segments sharing M. Rows of one register read M once for all s.
    static void adjoint_step_many(T* gv, const T* v, std::size_t sv, T* out, const T* M, std::size_t rows,
                                  std::size_t cols, const T* w, std::size_t m) {
#if defined(__AVX2__)
        if constexpr (std::is_same_v<T, double> && std::is_base_of_v<xsimd::avx2, Arch>) {
            if (cols == 4 && m <= 4 && rows >= 4) {
                // d = 4: each block of four rows is transposed once (eight
                // shuffles) into its four columns, and every segment's row
                // sums are then four multiply-adds, where a horizontal add per
                // segment would cost more shuffles than the whole transpose.
                __m256d g[4];
                for (std::size_t s = 0; s < m; ++s)
                    g[s] = _mm256_loadu_pd(gv + s * 4);
                std::size_t r = 0;
                for (; r + 4 <= rows; r += 4) {
                    const double* mr = M + 4 * r;
                    const __m256d p0 = _mm256_loadu_pd(mr), p1 = _mm256_loadu_pd(mr + 4),
                                  p2 = _mm256_loadu_pd(mr + 8), p3 = _mm256_loadu_pd(mr + 12);
                    const __m256d t0 = _mm256_unpacklo_pd(p0, p1), t1 = _mm256_unpackhi_pd(p0, p1),
                                  t2 = _mm256_unpacklo_pd(p2, p3), t3 = _mm256_unpackhi_pd(p2, p3);
                    const __m256d c0 = _mm256_permute2f128_pd(t0, t2, 0x20), c1 = _mm256_permute2f128_pd(t1, t3, 0x20),
                                  c2 = _mm256_permute2f128_pd(t0, t2, 0x31), c3 = _mm256_permute2f128_pd(t1, t3, 0x31);
                    for (std::size_t s = 0; s < m; ++s) {
                        const double* ws = w + s * 4;
                        __m256d o = _mm256_mul_pd(c0, _mm256_broadcast_sd(ws));
                        o = _mm256_fmadd_pd(c1, _mm256_broadcast_sd(ws + 1), o);
                        o = _mm256_fmadd_pd(c2, _mm256_broadcast_sd(ws + 2), o);
                        o = _mm256_fmadd_pd(c3, _mm256_broadcast_sd(ws + 3), o);
                        _mm256_storeu_pd(out + s * rows + r, o);
                        const double* vs = v + s * sv + r;
                        g[s] = _mm256_fmadd_pd(_mm256_broadcast_sd(vs), p0, g[s]);
                        g[s] = _mm256_fmadd_pd(_mm256_broadcast_sd(vs + 1), p1, g[s]);
                        g[s] = _mm256_fmadd_pd(_mm256_broadcast_sd(vs + 2), p2, g[s]);
                        g[s] = _mm256_fmadd_pd(_mm256_broadcast_sd(vs + 3), p3, g[s]);
                    }
                }
                for (std::size_t s = 0; s < m; ++s)
                    _mm256_storeu_pd(gv + s * 4, g[s]);
                if (r < rows)
                    for (std::size_t s = 0; s < m; ++s)
                        adjoint_step(gv + s * 4, v + s * sv + r, out + s * rows + r, M + 4 * r, rows - r, 4, w + s * 4,
                                     nullptr);
                return;
            }
            if (cols == 2 && m <= 4 && rows >= 4) {
                // d = 2: adjoint_step's layout (rows r, r+2 and r+1, r+3 in
                // two registers), each block of M loaded once for all m segments
                __m256d g[4], wp[4];
                for (std::size_t s = 0; s < m; ++s) {
                    g[s] = _mm256_setzero_pd();
                    wp[s] = _mm256_setr_pd(w[2 * s], w[2 * s + 1], w[2 * s], w[2 * s + 1]);
                }
                std::size_t r = 0;
                for (; r + 4 <= rows; r += 4) {
                    __m256d a, b;
                    d2_load_rows(M + 2 * r, a, b);
                    for (std::size_t s = 0; s < m; ++s)
                        _mm256_storeu_pd(out + s * rows + r, d2_rows_step(a, b, v + s * sv + r, wp[s], g[s], g[s]));
                }
                for (std::size_t s = 0; s < m; ++s) {
                    d2_add_lanes(gv + 2 * s, g[s]);
                    if (r < rows)
                        adjoint_step(gv + 2 * s, v + s * sv + r, out + s * rows + r, M + 2 * r, rows - r, 2,
                                     w + 2 * s, nullptr);
                }
                return;
            }
        }
#endif
        if (cols == W && m <= 4 && rows >= W) {
            batch g[4], wv[4];
            for (std::size_t s = 0; s < m; ++s) {
                g[s] = batch::load_unaligned(gv + s * W);
                wv[s] = batch::load_unaligned(w + s * W);
            }
            std::size_t r = 0;
            for (; r + W <= rows; r += W) {
                batch p[W];
                for (std::size_t i = 0; i < W; ++i)
                    p[i] = batch::load_unaligned(M + (r + i) * W);
                for (std::size_t s = 0; s < m; ++s) {
                    batch q[W];
                    for (std::size_t i = 0; i < W; ++i) {
                        g[s] = fmadd(batch(v[s * sv + r + i]), p[i], g[s]);
                        q[i] = p[i] * wv[s];
                    }
                    xsimd::haddp(q).store_unaligned(out + s * rows + r);
                }
            }
            for (std::size_t s = 0; s < m; ++s)
                g[s].store_unaligned(gv + s * W);
            for (; r < rows; ++r) {
                const batch row = batch::load_unaligned(M + r * W);
                for (std::size_t s = 0; s < m; ++s) {
                    out[s * rows + r] = reduce_sum(row * wv[s]);
                    for (std::size_t c = 0; c < W; ++c)
                        gv[s * W + c] += v[s * sv + r] * M[r * W + c];
                }
            }
            return;
        }
        for (std::size_t s = 0; s < m; ++s)
            adjoint_step(gv + s * cols, v + s * sv, out + s * rows, M, rows, cols, w + s * cols, nullptr);
    }

    // adjoint_step for rows of K registers (d = 8, 16 in double): the column
    // sums stay in K registers; W row sums are gathered by one horizontal add.
    template <std::size_t K>
    static void adjoint_step_regs(T* gv, const T* v, T* out, const T* M, std::size_t rows, const T* w, T* acc) {
        // G sums per column register for the z-gradient (rows alternate), so
        // that its multiply-adds are not one dependent chain per register
        constexpr std::size_t G = K <= 2 ? 2 : 1;
        batch wv[K], g[G][K];
        for (std::size_t k = 0; k < K; ++k) {
            wv[k] = batch::load_unaligned(w + k * W);
            g[0][k] = batch::load_unaligned(gv + k * W);
            for (std::size_t a = 1; a < G; ++a)
                g[a][k] = batch(T(0));
        }
        std::size_t r = 0;
        for (; r + W <= rows; r += W) {
            batch p[W];
            for (std::size_t i = 0; i < W; ++i) {
                const T* m = M + (r + i) * K * W;
                const batch vr(v[r + i]);
                batch sum(T(0));
                for (std::size_t k = 0; k < K; ++k) {
                    const batch row = batch::load_unaligned(m + k * W);
                    g[i % G][k] = fmadd(vr, row, g[i % G][k]);
                    sum = fmadd(row, wv[k], sum);
                }
                p[i] = sum;
            }
            const batch res = xsimd::haddp(p);
            res.store_unaligned(out + r);
            if (acc) (batch::load_unaligned(acc + r) + res).store_unaligned(acc + r);
        }
        for (; r < rows; ++r) {
            const T* m = M + r * K * W;
            const batch vr(v[r]);
            batch sum(T(0));
            for (std::size_t k = 0; k < K; ++k) {
                const batch row = batch::load_unaligned(m + k * W);
                g[0][k] = fmadd(vr, row, g[0][k]);
                sum = fmadd(row, wv[k], sum);
            }
            out[r] = reduce_sum(sum);
            if (acc) acc[r] += out[r];
        }
        for (std::size_t k = 0; k < K; ++k) {
            for (std::size_t a = 1; a < G; ++a)
                g[0][k] = g[0][k] + g[a][k];
            g[0][k].store_unaligned(gv + k * W);
        }
    }

    // out[b*n + i] = z[b] * t[i] + add[b*n + i]: block b of the left product
    // z ⊗ t, a contiguous row of n values whatever d, two registers a step.
    static void block_fma(T* out, const T* t, std::size_t n, const T* z, std::size_t nz, const T* add) {
        for (std::size_t b = 0; b < nz; ++b) {
            const batch zb(z[b]);
            T* o = out + b * n;
            const T* p = add + b * n;
            std::size_t i = 0;
            for (; i + 2 * W <= n; i += 2 * W) {
                const batch r0 = fmadd(zb, batch::load_unaligned(t + i), batch::load_unaligned(p + i));
                const batch r1 = fmadd(zb, batch::load_unaligned(t + i + W), batch::load_unaligned(p + i + W));
                r0.store_unaligned(o + i);
                r1.store_unaligned(o + i + W);
            }
            for (; i + W <= n; i += W)
                fmadd(zb, batch::load_unaligned(t + i), batch::load_unaligned(p + i)).store_unaligned(o + i);
            for (; i < n; ++i)
                o[i] = z[b] * t[i] + p[i];
        }
    }

    // out[b*n + i] += sum_s Z[s*nz + b] t[s*st + i], s in order: each register
    // of the m rows t_s is loaded once and each register of out read and
    // written once; the same fused multiply-adds in the same order as m
    // block_fma calls (bit-identical).
    static void block_fma_many(T* out, const T* t, std::size_t st, std::size_t n, std::size_t m, const T* Z,
                               std::size_t nz) {
        if (m > max_block) {
            for (std::size_t s = 0; s < m; ++s)
                block_fma(out, t + s * st, n, Z + s * nz, nz, out);
            return;
        }
        std::size_t i = 0;
        for (; i + W <= n; i += W) {
            batch ts[max_block];
            for (std::size_t s = 0; s < m; ++s)
                ts[s] = batch::load_unaligned(t + s * st + i);
            for (std::size_t b = 0; b < nz; ++b) {
                batch acc = batch::load_unaligned(out + b * n + i);
                for (std::size_t s = 0; s < m; ++s)
                    acc = fmadd(batch(Z[s * nz + b]), ts[s], acc);
                acc.store_unaligned(out + b * n + i);
            }
        }
        for (; i < n; ++i)
            for (std::size_t b = 0; b < nz; ++b) {
                T acc = out[b * n + i];
                for (std::size_t s = 0; s < m; ++s)
                    acc = Z[s * nz + b] * t[s * st + i] + acc;
                out[b * n + i] = acc;
            }
    }

    // adjoint_step for rows of C < W values: the column sums in registers,
    // two sets (even and odd rows) to hide the FMA latency.
    template <std::size_t C>
    static void adjoint_step_fixed(T* gv, const T* v, T* out, const T* M, std::size_t rows, const T* w, T* acc) {
        T g0[C] = {}, g1[C] = {}, ww[C];
        for (std::size_t c = 0; c < C; ++c)
            ww[c] = w[c];
        std::size_t r = 0;
        for (; r + 2 <= rows; r += 2) {
            const T* m0 = M + r * C;
            const T* m1 = m0 + C;
            T o0 = T(0), o1 = T(0);
            for (std::size_t c = 0; c < C; ++c) {
                g0[c] += v[r] * m0[c];
                g1[c] += v[r + 1] * m1[c];
                o0 += m0[c] * ww[c];
                o1 += m1[c] * ww[c];
            }
            out[r] = o0;
            out[r + 1] = o1;
            if (acc) {
                acc[r] += o0;
                acc[r + 1] += o1;
            }
        }
        for (; r < rows; ++r) {
            const T* m0 = M + r * C;
            T o0 = T(0);
            for (std::size_t c = 0; c < C; ++c) {
                g0[c] += v[r] * m0[c];
                o0 += m0[c] * ww[c];
            }
            out[r] = o0;
            if (acc) acc[r] += o0;
        }
        for (std::size_t c = 0; c < C; ++c)
            gv[c] += g0[c] + g1[c];
    }

    // Columns shorter than a register, D dividing W: accumulate expanded v
    // times M over W rows at a time in D registers; lane l holds column l % D.
    template <std::size_t D>
    static std::size_t vecmat_narrow(T* out, const T* v, std::size_t rows, const T* M) {
        // two independent sets of accumulators hide the FMA latency
        batch acc[D], acc2[D];
        for (std::size_t i = 0; i < D; ++i)
            acc[i] = acc2[i] = batch(T(0));
        std::size_t r = 0;
        for (; r + 2 * W <= rows; r += 2 * W) {
            accumulate_rows<D>(batch::load_unaligned(v + r), M + r * D, acc, std::make_index_sequence<D>{});
            accumulate_rows<D>(batch::load_unaligned(v + r + W), M + (r + W) * D, acc2,
                               std::make_index_sequence<D>{});
        }
        for (; r + W <= rows; r += W)
            accumulate_rows<D>(batch::load_unaligned(v + r), M + r * D, acc, std::make_index_sequence<D>{});
        alignas(64) T lanes[W];
        for (std::size_t i = 0; i < D; ++i) {
            (acc[i] + acc2[i]).store_aligned(lanes);
            for (std::size_t l = 0; l < W; ++l)
                out[l % D] += lanes[l];
        }
        return r;
    }

    template <std::size_t D, std::size_t... R>
    static void accumulate_rows(const batch& vv, const T* M, batch* acc, std::index_sequence<R...>) {
        if constexpr (D == 1) {
            acc[0] = fmadd(vv, batch::load_unaligned(M), acc[0]);
        } else {
            ((acc[R] =
                  fmadd(permuted<expand_gen<mask_int, D, R>>(vv), batch::load_unaligned(M + R * W), acc[R])),
             ...);
        }
    }

    struct policy {
        static void lincomb(T* out, std::size_t n, const T* const* src, const T* coef, std::size_t m) {
            kernels::lincomb(out, n, src, coef, m);
        }
        static void outer_fma(T* out, const T* a, std::size_t na, const T* b, std::size_t nb, const T* add) {
            kernels::outer_fma(out, a, na, b, nb, add);
        }
        static void outer_fma_many(T* out, const T* a, std::size_t sa, std::size_t na, std::size_t m, const T* b,
                                   std::size_t nb) {
            kernels::outer_fma_many(out, a, sa, na, m, b, nb);
        }
        static void matvec(T* out, const T* M, std::size_t rows, std::size_t cols, const T* v,
                           T* acc = nullptr) {
            kernels::matvec(out, M, rows, cols, v, acc);
        }
        static void vecmat(T* out, const T* v, std::size_t rows, const T* M, std::size_t cols) {
            kernels::vecmat(out, v, rows, M, cols);
        }
        static void adjoint_step(T* gv, const T* v, T* out, const T* M, std::size_t rows, std::size_t cols,
                                 const T* w, T* acc, T* accM) {
            kernels::adjoint_step(gv, v, out, M, rows, cols, w, acc, accM);
        }
        static void adjoint_step_many(T* gv, const T* v, std::size_t sv, T* out, const T* M, std::size_t rows,
                                      std::size_t cols, const T* w, std::size_t m) {
            kernels::adjoint_step_many(gv, v, sv, out, M, rows, cols, w, m);
        }
        static void block_fma(T* out, const T* t, std::size_t n, const T* z, std::size_t nz, const T* add) {
            kernels::block_fma(out, t, n, z, nz, add);
        }
        static void block_fma_many(T* out, const T* t, std::size_t st, std::size_t n, std::size_t m, const T* Z,
                                   std::size_t nz) {
            kernels::block_fma_many(out, t, st, n, m, Z, nz);
        }
    };

    // A <- A ⊗ exp(z) for a small shape fixed at compile time: fmexp's Horner
    // scheme unrolled by templates (no per-call set-up, every size a
    // constant); rows of a register or more, or enough short rows, go
    // through outer_fma's register paths.
    template <std::size_t D, std::size_t K, std::size_t J>
    static void fixed_horner(T* A, const T* z, const T* zs, const T* cur) {
        constexpr std::size_t n = ipow(D, J - 1), off = level_start(D, J);
        const T* zc = J == K ? z : zs + (K - J) * D;
        alignas(64) T nxt[J == K ? 1 : n * D];
        T* out = J == K ? A + off : nxt;
        if constexpr (n >= W || D >= W) {
            outer_fma_call(out, cur, n, zc, D, A + off);
        } else {
            for (std::size_t i = 0; i < n; ++i)
                for (std::size_t b = 0; b < D; ++b)
#if defined(__FMA__)
                    out[i * D + b] = std::fma(cur[i], zc[b], A[off + i * D + b]);
#else
                    out[i * D + b] = cur[i] * zc[b] + A[off + i * D + b];
#endif
        }
        if constexpr (J < K) fixed_horner<D, K, J + 1>(A, z, zs, nxt);
    }

    // outer_fma behind an opaque call: specialised for constant sizes, its fallback
    // loops draw false out-of-bounds warnings from GCC.
    [[gnu::noipa]] static void outer_fma_call(T* out, const T* a, std::size_t na, const T* b, std::size_t nb,
                                                 const T* add) {
        outer_fma(out, a, na, b, nb, add);
    }

    template <std::size_t D, std::size_t K> static void fixed_levels(T* A, const T* z, const T* zs) {
        fixed_horner<D, K, 1>(A, z, zs, A); // level K from t_0 = A_0
        if constexpr (K > 1) fixed_levels<D, K - 1>(A, z, zs);
    }

    template <std::size_t D, std::size_t N> static void fmexp_fixed(T* A, const T* z) {
        T zs[N * D];
        for (std::size_t c = 1; c <= N; ++c) {
            const T inv = horner::reciprocal<T>(c);
            for (std::size_t b = 0; b < D; ++b)
                zs[(c - 1) * D + b] = z[b] * inv;
        }
        fixed_levels<D, N>(A, z, zs);
    }

    // The fused step of a shape with a compile-time kernel (fmexp_fixed), or null.
    using fixed_fn = void (*)(T*, const T*);
    static fixed_fn fixed_kernel(std::size_t dim, std::size_t depth) {
        switch (dim * 16 + depth) {
        case 2 * 16 + 2:
            return &fmexp_fixed<2, 2>;
        case 3 * 16 + 2:
            return &fmexp_fixed<3, 2>;
        case 4 * 16 + 2:
            return &fmexp_fixed<4, 2>;
        case 8 * 16 + 2:
            return &fmexp_fixed<8, 2>;
        case 8 * 16 + 3:
            return &fmexp_fixed<8, 3>;
        case 2 * 16 + 3:
            return &fmexp_fixed<2, 3>;
        case 2 * 16 + 4:
            return &fmexp_fixed<2, 4>;
        case 2 * 16 + 5:
            return &fmexp_fixed<2, 5>;
        case 2 * 16 + 6:
            return &fmexp_fixed<2, 6>;
        case 3 * 16 + 3:
            return &fmexp_fixed<3, 3>;
        case 3 * 16 + 4:
            return &fmexp_fixed<3, 4>;
        case 3 * 16 + 5:
            return &fmexp_fixed<3, 5>;
        case 4 * 16 + 3:
            return &fmexp_fixed<4, 3>;
        case 4 * 16 + 4:
            return &fmexp_fixed<4, 4>;
        default:
            return nullptr;
        }
    }
    static void fmexp(T* A, const T* z, std::size_t dim, std::size_t depth, T* scratch) {
        if (const auto f = fixed_kernel(dim, depth)) return f(A, z);
        horner::fmexp<policy>(A, z, dim, depth, scratch);
    }
    static void fmexp_many(T* A, const T* Z, std::size_t m, std::size_t dim, std::size_t depth, T* scratch,
                           T* record, bool update_top) {
        if (!record)
            if (const auto f = fixed_kernel(dim, depth)) {
                for (std::size_t s = 0; s < m; ++s)
                    f(A, Z + s * dim);
                return;
            }
        horner::fmexp_many<policy>(A, Z, m, dim, depth, scratch, record, update_top);
    }
    static void fmexp_adjoint(T* gA, T* gz, const T* A, const T* z, std::size_t dim, std::size_t depth,
                              T* scratch) {
        horner::fmexp_adjoint<policy>(gA, gz, A, z, dim, depth, scratch);
    }
    static void fmexp_jvp(T* Bdot, const T* A, const T* z, const T* zdot, std::size_t dim, std::size_t depth,
                          T* scratch, std::size_t count) {
        horner::fmexp_jvp<policy>(Bdot, A, z, zdot, dim, depth, scratch, count);
    }
    static void fmexp_left_many(T* A, const T* Z, std::size_t m, std::size_t dim, std::size_t depth, T* scratch) {
        horner::fmexp_many<policy, true>(A, Z, m, dim, depth, scratch);
    }
    static void fmexp_left_jvp(T* Bdot, const T* A, const T* z, const T* zdot, std::size_t dim, std::size_t depth,
                               T* scratch, std::size_t count) {
        horner::fmexp_jvp<policy, true>(Bdot, A, z, zdot, dim, depth, scratch, count);
    }
    static void fmexp_record(T* A, const T* z, std::size_t dim, std::size_t depth, T* scratch, T* record) {
        horner::fmexp<policy>(A, z, dim, depth, scratch, record);
    }
    static void fmexp_adjoint_recorded(T* gA, T* gz, const T* record, const T* z, std::size_t dim,
                                       std::size_t depth, T* scratch) {
        horner::fmexp_adjoint<policy>(gA, gz, static_cast<const T*>(nullptr), z, dim, depth, scratch, record);
    }
    static void fmexp_adjoint_many(T* gA, T* GZ, const T* record, const T* Z, std::size_t m, std::size_t dim,
                                   std::size_t depth, T* scratch) {
        horner::fmexp_adjoint_many<policy>(gA, GZ, record, Z, m, dim, depth, scratch);
    }

    // ---- Interleaved lanes and plain rows ----
    //
    // Lane l of an interleaved tensor holds value i at lanes[i*W + l]; row l
    // holds it at rows[l*stride + i]. Both ways go by tiles of W x W values:
    // W registers loaded, transposed in registers (log2 W rounds of
    // shuffles), W registers stored; a value-by-value loop wrote each row in
    // scattered single values (4.7 of a 20.8 us signature call, d = 2, N = 12).

    // Whether transpose_tile has a register version for this instruction set.
    static constexpr bool has_tile_transpose =
#if defined(__AVX2__)
        std::is_base_of<xsimd::avx2, Arch>::value || std::is_base_of<xsimd::avx512f, Arch>::value;
#else
        false;
#endif

#if defined(__AVX512F__)
    // In-lane unpacks, then 128-bit block shuffles (transpose_tile). The
    // intrinsics' masked forms with every lane selected are the same
    // instructions; the unmasked ones pass GCC 12 an undefined operand,
    // which -Wmaybe-uninitialized reports.
    static __m512 unpacklo(__m512 a, __m512 b) {
        return _mm512_mask_unpacklo_ps(a, __mmask16(0xFFFF), a, b);
    }
    static __m512 unpackhi(__m512 a, __m512 b) {
        return _mm512_mask_unpackhi_ps(a, __mmask16(0xFFFF), a, b);
    }
    static __m512d unpacklo(__m512d a, __m512d b) {
        return _mm512_mask_unpacklo_pd(a, __mmask8(0xFF), a, b);
    }
    static __m512d unpackhi(__m512d a, __m512d b) {
        return _mm512_mask_unpackhi_pd(a, __mmask8(0xFF), a, b);
    }
    // Blocks 0 and 2 of a, then of b (Imm 0x88), or blocks 1 and 3 (0xDD).
    template <int Imm> static __m512 blocks(__m512 a, __m512 b) {
        return _mm512_mask_shuffle_f32x4(a, __mmask16(0xFFFF), a, b, Imm);
    }
    template <int Imm> static __m512d blocks(__m512d a, __m512d b) {
        return _mm512_mask_shuffle_f64x2(a, __mmask8(0xFF), a, b, Imm);
    }
    // The last two rounds of an AVX-512 transpose, with Q = W/4 (4 in
    // float, 2 in double): u[g*Q + c] holds, in its 128-bit block k, column
    // k*Q + c of rows g*Q..g*Q+Q-1 (g = 0..3); r[k*Q + c] gets column
    // k*Q + c of every row.
    template <class Reg> static void transpose_blocks(const Reg* u, batch* r) {
        constexpr std::size_t Q = W / 4;
        for (std::size_t c = 0; c < Q; ++c) {
            const Reg v02 = blocks<0x88>(u[c], u[Q + c]), v13 = blocks<0xDD>(u[c], u[Q + c]),
                      w02 = blocks<0x88>(u[2 * Q + c], u[3 * Q + c]),
                      w13 = blocks<0xDD>(u[2 * Q + c], u[3 * Q + c]);
            r[c] = blocks<0x88>(v02, w02);
            r[2 * Q + c] = blocks<0xDD>(v02, w02);
            r[Q + c] = blocks<0x88>(v13, w13);
            r[3 * Q + c] = blocks<0xDD>(v13, w13);
        }
    }
#endif

    // r[i] <- the values i of the W registers r (a W x W transpose).
    static void transpose_tile([[maybe_unused]] batch* r) {
#if defined(__AVX512F__)
        // In-lane unpacks (rows in pairs, then pairs of pairs in float), then
        // two rounds of 128-bit block shuffles. The log2 W rounds of
        // two-source permutes (vpermt2ps/pd) this replaces bound the float
        // transpose on the Zen 5: interleave_differences' loop over 20 MB of
        // increments (standalone) took 1.05 ms with them, 0.55 ms with these,
        // 0.50 ms with no transpose. In the library, float: deinterleave
        // (L2) 0.917, seed forward 0.968, the grid's N = 2 forwards
        // 0.97-0.98; double, where the stores bind, at par (0.99-1.03).
        if constexpr (std::is_base_of<xsimd::avx512f, Arch>::value && sizeof(T) == 4) {
            __m512 t[W], u[W];
            for (std::size_t i = 0; i < W; i += 2) {
                t[i] = unpacklo(__m512(r[i]), __m512(r[i + 1]));
                t[i + 1] = unpackhi(__m512(r[i]), __m512(r[i + 1]));
            }
            for (std::size_t i = 0; i < W; i += 4) { // pairs of rows as doubles
                const auto lo = [](__m512 a, __m512 b) {
                    return _mm512_castpd_ps(unpacklo(_mm512_castps_pd(a), _mm512_castps_pd(b)));
                };
                const auto hi = [](__m512 a, __m512 b) {
                    return _mm512_castpd_ps(unpackhi(_mm512_castps_pd(a), _mm512_castps_pd(b)));
                };
                u[i] = lo(t[i], t[i + 2]);
                u[i + 1] = hi(t[i], t[i + 2]);
                u[i + 2] = lo(t[i + 1], t[i + 3]);
                u[i + 3] = hi(t[i + 1], t[i + 3]);
            }
            return transpose_blocks(u, r);
        }
        if constexpr (std::is_base_of<xsimd::avx512f, Arch>::value && sizeof(T) == 8) {
            __m512d u[W];
            for (std::size_t i = 0; i < W; i += 2) {
                u[i] = unpacklo(__m512d(r[i]), __m512d(r[i + 1]));
                u[i + 1] = unpackhi(__m512d(r[i]), __m512d(r[i + 1]));
            }
            return transpose_blocks(u, r);
        }
#endif
#if defined(__AVX2__)
        if constexpr (std::is_base_of<xsimd::avx2, Arch>::value && sizeof(T) == 8) {
            const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
            const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
            r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
            r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
            r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
            r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
            return;
        }
        if constexpr (std::is_base_of<xsimd::avx2, Arch>::value && sizeof(T) == 4) {
            __m256 t[8], u[8];
            for (int i = 0; i < 8; i += 2) {
                t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
                t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
            }
            for (int g = 0; g < 8; g += 4) { // rows g..g+3: u[g + c] holds columns c and c + 4
                u[g] = _mm256_shuffle_ps(t[g], t[g + 2], 0x44);
                u[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], 0xEE);
                u[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0x44);
                u[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
            }
            for (int c = 0; c < 4; ++c) {
                r[c] = _mm256_permute2f128_ps(u[c], u[c + 4], 0x20);
                r[c + 4] = _mm256_permute2f128_ps(u[c], u[c + 4], 0x31);
            }
            return;
        }
#endif
    }

    // The values [i0, i1) of the rows that go by tiles: from the first at
    // a register boundary of the rows (when every row starts at the same
    // offset from one), whole tiles only. A tile's row registers straddling
    // cache lines made deinterleave 2.3x slower (8192 doubles: 3.9 against
    // 1.7 us, the time of a plain copy). head: that first boundary (0..W-1,
    // before clamping to n; 0 where the rows' offsets differ).
    static void tile_range(const T* rows, std::size_t stride, std::size_t count, std::size_t n, std::size_t& i0,
                           std::size_t& i1, std::size_t& head) {
        i0 = i1 = head = 0;
        if (!has_tile_transpose || count != W) return;
        const std::size_t skew = reinterpret_cast<std::uintptr_t>(rows) / sizeof(T) % W;
        if (stride % W == 0 && reinterpret_cast<std::uintptr_t>(rows) % sizeof(T) == 0) head = (W - skew) % W;
        i0 = head < n ? head : n;
        i1 = i0 + (n - i0) / W * W;
    }

    // Whether the values outside whole tiles go by tiles too, with AVX-512's
    // masks: a masked load or store leaves the masked-out values unread and
    // unwritten (and cannot fault on them), so a tile may start before the
    // rows or end after them. Elsewhere they go value by value.
    static constexpr bool masked_edges = std::is_base_of<xsimd::avx512f, Arch>::value;

#if defined(__AVX512F__)
    using lane_mask = std::conditional_t<sizeof(T) == 8, __mmask8, __mmask16>;
    static batch masked_load(const T* p, lane_mask m) {
        if constexpr (sizeof(T) == 8)
            return _mm512_maskz_loadu_pd(m, p);
        else
            return _mm512_maskz_loadu_ps(m, p);
    }
    static void masked_store(T* p, lane_mask m, const batch& x) {
        if constexpr (sizeof(T) == 8)
            _mm512_mask_storeu_pd(p, m, x);
        else
            _mm512_mask_storeu_ps(p, m, x);
    }

    // The tile of values t..t+W-1 (t may be negative: the head's starts
    // before the rows) moved for those in [0, n) only.
    template <bool Out>
    static void move_edge_tile(T* rows, std::size_t stride, std::size_t n, T* lanes, std::ptrdiff_t t) {
        unsigned bits = 0;
        for (std::size_t i = 0; i < W; ++i)
            if (t + std::ptrdiff_t(i) >= 0 && t + std::ptrdiff_t(i) < std::ptrdiff_t(n)) bits |= 1u << i;
        const lane_mask m = static_cast<lane_mask>(bits);
        // (the addresses as integers: a pointer before the rows would be outside their array)
        const auto at = [](T* base, std::ptrdiff_t k) {
            return reinterpret_cast<T*>(reinterpret_cast<std::uintptr_t>(base) + k * std::ptrdiff_t(sizeof(T)));
        };
        batch r[W];
        for (std::size_t i = 0; i < W; ++i) // register i: Out, value t+i of every lane; else row i
            r[i] = Out ? ((bits >> i & 1u) ? batch::load_unaligned(lanes + (t + std::ptrdiff_t(i)) * std::ptrdiff_t(W))
                                           : batch(T(0)))
                       : masked_load(at(rows + i * stride, t), m);
        transpose_tile(r);
        for (std::size_t i = 0; i < W; ++i) {
            if constexpr (Out)
                masked_store(at(rows + i * stride, t), m, r[i]);
            else if (bits >> i & 1u)
                r[i].store_unaligned(lanes + (t + std::ptrdiff_t(i)) * std::ptrdiff_t(W));
        }
    }
#endif

    // Out: rows[l*stride + i] = lanes[i*W + l], else the reverse, for l <
    // count, i < n. (The side read is only read.)
    template <bool Out> static void move_lanes(T* rows, std::size_t stride, std::size_t count, std::size_t n, T* lanes) {
        std::size_t i0, i1, head;
        tile_range(rows, stride, count, n, i0, i1, head);
        batch r[W];
        for (std::size_t t = i0; t < i1; t += W) {
            for (std::size_t i = 0; i < W; ++i) // register i: Out, value t+i of every lane; else row i
                r[i] = batch::load_unaligned(Out ? lanes + (t + i) * W : rows + i * stride + t);
            transpose_tile(r);
            for (std::size_t i = 0; i < W; ++i)
                r[i].store_unaligned(Out ? rows + i * stride + t : lanes + (t + i) * W);
        }
#if defined(__AVX512F__)
        if constexpr (masked_edges)
            if (count == W && n > 0) { // (the seed's copy out: 6% of its values, 11% of the copy's time value by value)
                if (head > 0) move_edge_tile<Out>(rows, stride, n, lanes, std::ptrdiff_t(head) - std::ptrdiff_t(W));
                if (i1 < n) move_edge_tile<Out>(rows, stride, n, lanes, std::ptrdiff_t(i1));
                return;
            }
#endif
        for (std::size_t i = i0 == 0 ? i1 : 0; i < n; i = i + 1 == i0 ? i1 : i + 1) // the values outside tiles
            for (std::size_t l = 0; l < count; ++l) {
                if constexpr (Out)
                    rows[l * stride + i] = lanes[i * W + l];
                else
                    lanes[i * W + l] = rows[l * stride + i];
            }
    }

    static void deinterleave(const T* lanes, std::size_t count, std::size_t n, T* rows, std::size_t stride) {
        move_lanes<true>(rows, stride, count, n, const_cast<T*>(lanes));
    }

    static void interleave(const T* rows, std::size_t stride, std::size_t count, std::size_t n, T* lanes) {
        move_lanes<false>(const_cast<T*>(rows), stride, count, n, lanes);
    }

    // x[j - lag] -= g[j] and x[j] += g[j] for j < n as one pass over x, each
    // x[j] taking its subtraction first (kernels::scatter_differences).
    static void scatter_differences(T* x, const T* g, std::size_t n, std::size_t lag, bool fresh) {
        if (n == 0) return;
        T* const start = x - lag; // the first step's start point
        for (std::size_t j = 0; j < lag; ++j)
            start[j] = (fresh ? T(0) : start[j]) - g[j];
        const std::size_t mid = n - lag; // points that start a step and end one
        std::size_t j = 0;
        for (; j + W <= mid; j += W) {
            const batch base = fresh ? batch(T(0)) : batch::load_unaligned(x + j);
            ((base - batch::load_unaligned(g + j + lag)) + batch::load_unaligned(g + j)).store_unaligned(x + j);
        }
        for (; j < mid; ++j)
            x[j] = ((fresh ? T(0) : x[j]) - g[j + lag]) + g[j];
        for (j = mid; j < n; ++j) // the last step's end point
            x[j] += g[j];
    }

    // lanes[i*W + l] = src[l][i] - src[l][i - lag] for i < count[l], else 0
    // (i < n): the differences (a block of path increments) transposed by
    // tiles where every lane has them, as they are computed.
    static void interleave_differences(const T* const* src, const std::size_t* count, std::size_t n,
                                       std::size_t lag, T* lanes) {
        std::size_t full = n, i = 0;
        for (std::size_t l = 0; l < W; ++l)
            full = count[l] < full ? count[l] : full;
        if constexpr (has_tile_transpose) {
            batch r[W];
            for (; i + W <= full; i += W) {
                for (std::size_t l = 0; l < W; ++l)
                    r[l] = batch::load_unaligned(src[l] + i) - batch::load_unaligned(src[l] + i - lag);
                transpose_tile(r);
                for (std::size_t j = 0; j < W; ++j)
                    r[j].store_unaligned(lanes + (i + j) * W);
            }
        }
        for (; i < n; ++i)
            for (std::size_t l = 0; l < W; ++l)
                lanes[i * W + l] = i < count[l] ? T(src[l][i] - src[l][i - lag]) : T(0);
    }

    // Levels 1..depth of W interleaved tensors from their level 0:
    // A_j[u b] = A_{j-1}[u] * (z_b / (k0 + j)), one register per row.
    static void exp_lanes(T* A, const T* z, std::size_t dim, std::size_t depth, std::size_t k0) {
        for (std::size_t j = 1, prev = 0, cur = 1, n = 1; j <= depth; prev = cur, cur += n * dim, n *= dim, ++j)
            for (std::size_t b = 0; b < dim; ++b) {
                const batch c(z[b] / T(static_cast<double>(k0 + j)));
                for (std::size_t u = 0; u < n; ++u)
                    (batch::load_unaligned(A + (prev + u) * W) * c).store_unaligned(A + (cur + u * dim + b) * W);
            }
    }

    // The adjoint of exp_lanes (kernels::exp_lanes_adjoint): from the
    // deepest level up, G_{j-1}[u] += G_j[u b] c_b with c_b = z_b / (k0 + j),
    // exp_lanes' own factor, and gz[b] += the sum over u and the lanes of
    // G_j[u b] E_{j-1}[u], divided by k0 + j once per level. Two sets of
    // sums (even and odd u) hide the multiply-add latency.
    template <std::size_t D>
    static void exp_lanes_adjoint_d(const T* E, T* G, T* gz, const T* z, std::size_t dim, std::size_t depth,
                                    std::size_t k0) {
        std::size_t off[lanes_max_depth];
        level_offsets(off, dim, depth);
        for (std::size_t j = depth; j >= 1; --j) {
            const std::size_t n = off[j] - off[j - 1];
            const T k = T(static_cast<double>(k0 + j));
            const T* Ep = E + off[j - 1] * W;
            T* Gp = G + off[j - 1] * W;
            const T* Gc = G + off[j] * W;
            if constexpr (D > 0) {
                batch c[D], acc0[D], acc1[D];
                for (std::size_t b = 0; b < D; ++b) {
                    c[b] = batch(z[b] / k);
                    acc0[b] = acc1[b] = batch(T(0));
                }
                const auto word = [&](std::size_t u, batch* acc) {
                    const batch e = batch::load_unaligned(Ep + u * W);
                    batch g = batch::load_unaligned(Gp + u * W);
                    for (std::size_t b = 0; b < D; ++b) {
                        const batch gc = batch::load_unaligned(Gc + (u * D + b) * W);
                        g = fmadd(gc, c[b], g);
                        acc[b] = fmadd(gc, e, acc[b]);
                    }
                    g.store_unaligned(Gp + u * W);
                };
                std::size_t u = 0;
                for (; u + 1 < n; u += 2) {
                    word(u, acc0);
                    word(u + 1, acc1);
                }
                if (u < n) word(u, acc0);
                for (std::size_t b = 0; b < D; ++b)
                    gz[b] += reduce_sum(acc0[b] + acc1[b]) / k;
            } else {
                for (std::size_t b = 0; b < dim; ++b) {
                    const batch c(z[b] / k);
                    batch acc(T(0));
                    for (std::size_t u = 0; u < n; ++u) {
                        const batch gc = batch::load_unaligned(Gc + (u * dim + b) * W);
                        fmadd(gc, c, batch::load_unaligned(Gp + u * W)).store_unaligned(Gp + u * W);
                        acc = fmadd(gc, batch::load_unaligned(Ep + u * W), acc);
                    }
                    gz[b] += reduce_sum(acc) / k;
                }
            }
        }
    }

    static void exp_lanes_adjoint(const T* E, T* G, T* gz, const T* z, std::size_t dim, std::size_t depth,
                                  std::size_t k0) {
        with_dim(dim, [&](auto D) { exp_lanes_adjoint_d<decltype(D)::value>(E, G, gz, z, dim, depth, k0); });
    }

    // horner::prefix_chains with the W words of level p in the lanes
    // (dim^p = W, p <= prefix_roots_max_p, depth < prefix_roots_max_depth):
    // chain k is one register through levels 1..min(k, p), each level's
    // letters and coefficients spread over the words below them; no
    // partial sums stored, no transpose of the roots.
    // The letters' indices (letter, lane_letters) and the coefficients (al)
    // of levels 1..p spread over the words below them (word w of level p in
    // lane w), and 1/c.
    static void roots_setup(const T* A, std::size_t dim, std::size_t p, std::size_t depth, T* letter, T* al,
                            T* inv) {
        for (std::size_t c = 1; c <= depth; ++c)
            inv[c] = horner::reciprocal<T>(c);
        lane_letters(dim, p, letter);
        for (std::size_t l = 1, off = 1, n = dim; l <= p; off += n, n *= dim, ++l) // node u of level l
            for (std::size_t u = 0, span = W / n; u < n; ++u)
                for (std::size_t r = 0; r < span; ++r) // the words below it
                    al[(l - 1) * W + u * span + r] = A[off + u];
    }
    // zl[l] = the letters z of level l + 1 spread over the words below them,
    // from `letter` (spread_letters of 0..dim-1): selects in registers. (A
    // scalar spread read back at once as registers waits for its stores:
    // a failed store forwarding per level.)
    static void letters_in_registers(const T* letter, const T* z, std::size_t dim, std::size_t p, batch* zl) {
        for (std::size_t l = 0; l < p; ++l) {
            const batch at = batch::load_aligned(letter + l * W);
            zl[l] = batch(z[0]);
            for (std::size_t b = 1; b < dim; ++b)
                zl[l] = xsimd::select(at == batch(T(static_cast<double>(b))), batch(z[b]), zl[l]);
        }
    }
    // The letter of each lane at each level, as a value (0..dim-1; dim <= W).
    static void lane_letters(std::size_t dim, std::size_t p, T* letter) {
        alignas(64) T id[W];
        for (std::size_t b = 0; b < dim; ++b)
            id[b] = T(static_cast<double>(b));
        spread_letters(id, dim, p, letter);
    }
    static void spread_letters(const T* z, std::size_t dim, std::size_t p, T* zl) {
        for (std::size_t l = 1, n = dim; l <= p; n *= dim, ++l)
            for (std::size_t u = 0, b = 0, span = W / n; u < n; ++u, b = b + 1 == dim ? 0 : b + 1)
                for (std::size_t r = 0; r < span; ++r)
                    zl[(l - 1) * W + u * span + r] = z[b];
    }

    //
    // m steps in a row (z: m*dim values; step s's roots at root +
    // s*root_step): a step's new levels 1..p stay in registers, spread over
    // the words below them, for the next one, as the spread of what it
    // would have written to A (chain k < p has the same value in every lane
    // below a node), and reach A once, after the last step. p (d^p = W: at
    // most 4 for 16 lanes) at compile time unrolls the chains' loops: the
    // seed's six steps in 0.56x the time of a run-time p (127 against 228
    // ns, one process), the seed forward 0.977x (alternated).
    static void prefix_roots(T* A, const T* z, std::size_t dim, std::size_t p, std::size_t depth, T* root,
                             std::size_t m, std::size_t root_step) {
        switch (p) {
        case 1: return prefix_roots_p<1>(A, z, dim, p, depth, root, m, root_step);
        case 2: return prefix_roots_p<2>(A, z, dim, p, depth, root, m, root_step);
        case 3: return prefix_roots_p<3>(A, z, dim, p, depth, root, m, root_step);
        case 4: return prefix_roots_p<4>(A, z, dim, p, depth, root, m, root_step);
        default: return prefix_roots_p<0>(A, z, dim, p, depth, root, m, root_step);
        }
    }
    // prefix_roots with p = P, or p as given for P = 0.
    template <std::size_t P>
    static void prefix_roots_p(T* A, const T* z, std::size_t dim, std::size_t p_given, std::size_t depth, T* root,
                               std::size_t m, std::size_t root_step) {
        const std::size_t p = P > 0 ? P : p_given;
        alignas(64) T letter[prefix_roots_max_p * W], inv[prefix_roots_max_depth];
        alignas(64) T al[prefix_roots_max_p * W] = {}; // (set by roots_setup: g++ 12 cannot tell for P = 1)
        roots_setup(A, dim, p, depth, letter, al, inv);
        const batch a0(A[0]);
        constexpr std::size_t LR = P > 0 ? P : prefix_roots_max_p;
        batch level[LR]; // the step's new levels 1..p, spread
        for (std::size_t l = 0; l < p; ++l)
            level[l] = batch::load_aligned(al + l * W);
        for (std::size_t s = 0; s < m; ++s, root += root_step) {
            batch zl[prefix_roots_max_p];
            letters_in_registers(letter, z + s * dim, dim, p, zl);
            batch old[LR]; // levels 1..p before the step
            for (std::size_t l = 0; l < p; ++l)
                old[l] = level[l];
            for (std::size_t k = 1; k <= depth; ++k) {
                batch t = a0;
                const std::size_t lk = std::min(k, p);
                for (std::size_t l = 1; l <= lk; ++l) // divisor k - l + 1
                    t = fmadd(t, zl[l - 1] * batch(inv[k - l + 1]), old[l - 1]);
                if (k >= p) t.store_unaligned(root + (k - p) * W);
                if (k <= p) level[k - 1] = t;
            }
        }
        for (std::size_t l = 0; l < p; ++l)
            level[l].store_aligned(al + l * W);
        for (std::size_t l = 1, off = 1, n = dim; l <= p; off += n, n *= dim, ++l) // one value per node
            for (std::size_t u = 0, span = W / n; u < n; ++u)
                A[off + u] = al[(l - 1) * W + u * span];
    }

    // horner::prefix_chains_adjoint in the same lanes: each chain's partial
    // sums are recomputed in registers, then its adjoint runs from level
    // min(k, p) up, adding to one register per level for the coefficients'
    // gradients and one for z's (sums over the words below a node, or with
    // a letter, taken once at the end). A chain k < p ends at the nodes of
    // level k, each spread over several lanes: its gradient enters in the
    // first lane of each.
    static void prefix_roots_adjoint(const T* A, const T* z, std::size_t dim, std::size_t p, std::size_t depth,
                                     const T* groot, T* gA, T* gz) {
        alignas(64) T letter[prefix_roots_max_p * W], al[prefix_roots_max_p * W], inv[prefix_roots_max_depth], tv[W];
        roots_setup(A, dim, p, depth, letter, al, inv);
        batch zl[prefix_roots_max_p];
        letters_in_registers(letter, z, dim, p, zl);
        batch t[prefix_roots_max_p], ga[prefix_roots_max_p + 1], gzl[prefix_roots_max_p];
        for (std::size_t l = 0; l <= p; ++l)
            ga[l] = batch(T(0));
        for (std::size_t l = 0; l < p; ++l)
            gzl[l] = batch(T(0));
        for (std::size_t k = 1, off = 1, n = dim; k <= depth; ++k) {
            const std::size_t L = std::min(k, p);
            t[0] = batch(A[0]); // t[l]: the partial sum after level l (l < L)
            for (std::size_t l = 1; l < L; ++l)
                t[l] = fmadd(t[l - 1], zl[l - 1] * batch(inv[k - l + 1]),
                                  batch::load_aligned(al + (l - 1) * W));
            batch tb = k >= p ? batch::load_unaligned(groot + (k - p) * W) : batch(T(0));
            if (k <= p) { // the new level k's gradient
                for (std::size_t u = 0, span = W / n; u < n; ++u)
                    for (std::size_t r = 0; r < span; ++r)
                        tv[u * span + r] = r == 0 ? gA[off + u] : T(0);
                tb = tb + batch::load_aligned(tv);
                off += n;
                n *= dim;
            }
            for (std::size_t l = L; l >= 1; --l) { // t_l = t_{l-1} z/c + A_l
                const batch c(inv[k - l + 1]), zc = zl[l - 1];
                ga[l] = ga[l] + tb;
                gzl[l - 1] = fmadd(tb * t[l - 1], c, gzl[l - 1]);
                tb = tb * (zc * c);
            }
            ga[0] = ga[0] + tb;
        }
        ga[0].store_aligned(tv);
        for (std::size_t w = 0; w < W; ++w)
            gA[0] += tv[w];
        for (std::size_t l = 1, off = 1, n = dim; l <= p; off += n, n *= dim, ++l) {
            const std::size_t span = W / n;
            ga[l].store_aligned(tv); // the old level l's: each node's words summed
            for (std::size_t u = 0; u < n; ++u) {
                T sum = T(0);
                for (std::size_t r = 0; r < span; ++r)
                    sum += tv[u * span + r];
                gA[off + u] = sum;
            }
            gzl[l - 1].store_aligned(tv); // z's: each letter's words summed
            for (std::size_t u = 0, b = 0; u < n; ++u, b = b + 1 == dim ? 0 : b + 1)
                for (std::size_t r = 0; r < span; ++r)
                    gz[b] += tv[u * span + r];
        }
    }

    // ---- Lanes: W paths at once, one per SIMD lane ----
    //
    // Coefficient i of lane l of an interleaved tensor is at A[i*W + l], so
    // every multiply-add is one full register whatever d is: no short rows,
    // no swizzles, no horizontal adds.
    //
    // The Horner chains are evaluated depth first over the words w instead
    // of level by level. The chain of level k, at the node w of level j <= k
    // (last letter b), is p_k(w) = p_k(parent) z_b/(k-j+1) + A_j[w], with
    // p_k(root) = A_0, and the new A_j[w] is p_j(w) (divisor 1). A node's
    // coefficient is loaded once, every chain through it (k = j..N) is
    // advanced from its parent's partial sums, and the same is done for M
    // segments in a row before the coefficient is stored: each coefficient is
    // read and written once per M segments, and the leaves (level N, most
    // of the tensor) cost M fused multiply-adds per load and store.
    //
    // A partial sum is kept divided by its children's divisor: P_k(w) =
    // p_k(w)/(k-j) (no division for k = j+1), so that a child computes
    // P_k(w) z_b + A[w b] with the increment itself, which the d children
    // share, and every divisor costs one multiply per node, chain and
    // segment: where each child had read z_b/c instead, the loads had bound
    // the upper levels (now 0.87-0.93x the forward's time and 0.91-0.96x the
    // backward's on the d = 2 and 4 shapes; the backward's way up reads
    // p_k/c as it is). The arithmetic per lane is
    // fmexp_many's up to where the divisions round: (p/c) z_b there, p (z_b/c)
    // in fmexp_many.
    //
    // Scratch: the partial sums of the d children of the current node of
    // each level j < N-1: child b's sum of chain k for segment s at partials +
    // (j*d + b)*M*(N+1)*W + chain_at<D, M>(N, k, s) (level 0: the root's, A_0
    // for every chain, or the given roots, divided by k). The increments are read where
    // they are (zs: Z[(s*d + b)*W] from the pass's first segment).
    //
    // Out of place, a pass reads every coefficient from `src` (the same
    // layout) and writes it to A: each is read once and written once, so
    // the two differ only in where the loads and the stores go. Level 0 is
    // read, never written (fmexp_lanes_d copies it).
    struct lanes_ctx {
        T* A;
        const T* src; // the tensors before the pass: A, or another buffer
        const std::size_t* off; // offset of level j, for j = 0..N
        std::size_t dim, depth;
        const T* zs;              // the pass's increments, zs[(s*d + b)*W] = z_{s,b}
        T* partials;
        const T* inv;             // inv[c*W] = 1/c in every lane (c = 1..N)
        const T* root = nullptr;  // the pass's roots (fmexp_lanes), or none: A_0
        std::size_t root_step = 0; // between the roots of consecutive segments
        // With E (the pass's template flag), the tensors before the pass are
        // exp(z) from level k0 (fmexp_lanes_exp), made where they are read:
        // ez[0..W) is level 0, ez[(j*d + b)*W] = z_b/(k0 + j) for j = 1..N.
        const T* ez = nullptr;
    };

    // E: a node's value before the pass, exp's, from its parent's (ep):
    // exp_lanes' product, so the same bits. Else loaded from at.
    template <bool E>
    static batch start_value(const lanes_ctx& c, const T* at, const batch& ep, std::size_t j, std::size_t b) {
        return start_at<E>(E ? c.ez + j * c.dim * W : nullptr, at, ep, b);
    }
    // The same for node b of a level whose row of exp's quotients is ez
    // (E), else at's value.
    template <bool E> static batch start_at(const T* ez, const T* at, const batch& ep, std::size_t b) {
        if constexpr (E)
            return ep * batch::load_unaligned(ez + b * W);
        else
            return batch::load_unaligned(at);
    }

    // d: D when known at compile time, else the context's (lanes_ctx, lanes_bwd_ctx).
    template <std::size_t D, class Ctx> static constexpr std::size_t dim_of(const Ctx& c) {
        if constexpr (D > 0)
            return D;
        else
            return c.dim;
    }

    // off[k] = offset of level k (k = 0..depth) of a tensor, and with `len`
    // len[k] = its size, dim^k; depth < 64.
    static void level_offsets(std::size_t* off, std::size_t dim, std::size_t depth,
                              std::size_t* len = nullptr) {
        for (std::size_t k = 0, o = 0, n = 1; k <= depth; ++k, n *= dim) {
            off[k] = o;
            if (len) len[k] = n;
            o += n;
        }
    }

    // Where a node's partial sum of chain k for segment s lies in its block
    // of partial sums (lanes_ctx::partials). For d = 2 (lanes_last_four),
    // chain N first and segments innermost, so that the last levels, which
    // read chains N-3..N, address them at offsets known at compile time
    // from one pointer (their run-time (N+1)-strided addresses had each
    // taken a register, spilled): (64, 64, 2, 10) forward 0.91x, the seed
    // 0.96x; for d = 4 (lanes_last_three) that layout was 1.04x slower on
    // (128, 128, 4, 6), and the segments stay outermost.
    template <std::size_t D, std::size_t M>
    static constexpr std::size_t chain_at(std::size_t N, std::size_t k, std::size_t s) {
        if constexpr (last_four<D>)
            return chain_major_at<M>(N, k, s);
        else
            return (s * (N + 1) + k) * W;
    }
    // Chain N first, segments innermost: chain k of segment s (of M).
    template <std::size_t M> static constexpr std::size_t chain_major_at(std::size_t N, std::size_t k, std::size_t s) {
        return ((N - k) * M + s) * W;
    }

    // zs[(((c-1)*M + s)*d + b)*W] = z_{s,b} / c for the M segments of Z from s0
    // (interleaved increments), c = 1..N: the Horner divisors of a pass.
    static void divided_lanes(T* zs, const T* Z, std::size_t s0, std::size_t M, std::size_t dim, std::size_t depth) {
        for (std::size_t c = 1; c <= depth; ++c) {
            const batch inv(horner::reciprocal<T>(c)); // (one division per divisor, not per segment too)
            for (std::size_t s = 0; s < M; ++s)
                for (std::size_t b = 0; b < dim; ++b)
                    (batch::load_unaligned(Z + ((s0 + s) * dim + b) * W) * inv)
                        .store_unaligned(zs + (((c - 1) * M + s) * dim + b) * W);
        }
    }

    // The d nodes of level j under `parent` (index of the parent among the
    // words of level j-1), given the parent's partial sums q: every chain
    // k > j is advanced into the children's partial sums (each parent value
    // read once for the d children), then each child's subtree in turn.
    // (E: the values before the pass are exp's, the parent's ep; D > 0.)
    template <std::size_t D, std::size_t M, bool E = false>
    static void lanes_visit(const lanes_ctx& c, std::size_t j, std::size_t parent, const T* q, const batch& ep = {}) {
        static_assert(!E || D > 0, "exp's values are made with d known at compile time");
        const std::size_t N = c.depth;
        if constexpr (last_four<D>)
            if (j + 3 == N) return lanes_last_four<D, M, E>(c, parent, q, ep);
        if (j + 2 == N) return lanes_last_three<D, M, E>(c, parent, q, ep);
        const std::size_t d = dim_of<D>(c), child = M * (N + 1) * W;
        const T* zs = c.zs;
        const T* const inv_of = c.inv; // (read once: the stores below may alias c as far as the compiler knows)
        T* const p = c.partials + j * d * child; // child b's partial sums at p + b*child
        T* const Aw = c.A + (c.off[j] + parent * d) * W;
        const T* const Sw = c.src + (c.off[j] + parent * d) * W;
        constexpr std::size_t AR = D > 0 ? D : 1;
        constexpr std::size_t ER = E ? AR : 1;
        batch a[AR], e[ER]; // the children's coefficients (D > 0), else updated in A; E: their values before
        if constexpr (D > 0) {
            for (std::size_t b = 0; b < D; ++b) {
                a[b] = start_value<E>(c, Sw + b * W, ep, j, b);
                if constexpr (E) e[b] = a[b];
            }
        } else if (Sw != Aw) {
            for (std::size_t b = 0; b < d; ++b)
                batch::load_unaligned(Sw + b * W).store_unaligned(Aw + b * W);
        }
        for (std::size_t s = 0; s < M; ++s) {
            const T* zseg = zs + s * d * W; // divisor 1
            batch z[AR]; // (D > 0)
            if constexpr (D > 0)
                for (std::size_t b = 0; b < D; ++b)
                    z[b] = batch::load_unaligned(zseg + b * W);
            const auto zb = [&](std::size_t b) { return D > 0 ? z[b % AR] : batch::load_unaligned(zseg + b * W); };
            const auto ab = [&](std::size_t b) { return D > 0 ? a[b % AR] : batch::load_unaligned(Aw + b * W); };
            { // chain j + 1: its children's divisor is 1 (j + 1 < N here)
                const batch qk = batch::load_unaligned(q + chain_at<D, M>(N, j + 1, s)); // divided by 2
                T* pk = p + chain_at<D, M>(N, j + 1, s);
                for (std::size_t b = 0; b < d; ++b)
                    fmadd(qk, zb(b), ab(b)).store_unaligned(pk + b * child);
            }
            for (std::size_t k = j + 2; k <= N; ++k) {
                const batch qk = batch::load_unaligned(q + chain_at<D, M>(N, k, s)); // divided by k - j + 1
                T* pk = p + chain_at<D, M>(N, k, s);
                const batch inv = batch::load_unaligned(inv_of + (k - j) * W); // the children's divisor
                for (std::size_t b = 0; b < d; ++b)
                    (fmadd(qk, zb(b), ab(b)) * inv).store_unaligned(pk + b * child);
            }
            const batch qj = batch::load_unaligned(q + chain_at<D, M>(N, j, s));
            for (std::size_t b = 0; b < d; ++b) {
                if constexpr (D > 0)
                    a[b] = fmadd(qj, z[b], a[b]);
                else
                    fmadd(qj, batch::load_unaligned(zseg + b * W), batch::load_unaligned(Aw + b * W))
                        .store_unaligned(Aw + b * W);
            }
        }
        if constexpr (D > 0)
            for (std::size_t b = 0; b < D; ++b)
                a[b].store_unaligned(Aw + b * W);
        for (std::size_t b = 0; b < d; ++b)
            lanes_visit<D, M, E>(c, j + 1, parent * d + b, p + b * child, e[E ? b % ER : 0]);
    }

    // Where the last levels' rows start: levels N-2, N-1 and N of A (written),
    // of the tensors before the pass (read) and of exp's quotients (E),
    // taken out of the context once per call of lanes_last_two/three/four.
    // Every store may alias the context as far as the compiler knows, and
    // it had reloaded them, and recomputed the rows, at every node.
    struct last_rows {
        T* A[3];
        const T* S[3];
        const T* ez[3];
        const T* zs;
        std::size_t dim;
    };
    static last_rows last_rows_of(const lanes_ctx& c) {
        last_rows r;
        for (std::size_t i = 0; i < 3; ++i) {
            const std::size_t j = c.depth - 2 + i; // (depth >= 2)
            r.A[i] = c.A + c.off[j] * W;
            r.S[i] = c.src + c.off[j] * W;
            r.ez[i] = c.ez ? c.ez + j * c.dim * W : nullptr;
        }
        r.zs = c.zs;
        r.dim = c.dim;
        return r;
    }

    // Levels N-1 and N under `parent` (level N-2): each node u of level N-1
    // advances its own level (k = N-1) and level N's chain (k = N), then its
    // d leaves take the M multiply-adds of level N. The parent's partial sums
    // (qN, qN1: chains N and N-1 of each segment) and, for a d known at
    // compile time, the increments (z1) come in registers.
    template <std::size_t D, std::size_t M, bool E>
    [[gnu::always_inline]] static inline void lanes_last_two_regs(const last_rows& r, std::size_t parent,
                                                                  const batch* qN, const batch* qN1,
                                                                  const batch* z1, const batch& ep) {
        const std::size_t d = dim_of<D>(r);
        constexpr std::size_t ZR = z1_count<D, M>;
        const T* zs = r.zs;
        T* Au = r.A[1] + parent * d * W; // the d nodes of level N-1
        T* leaf = r.A[2] + parent * d * d * W;  // and their d*d leaves
        const T* Su = r.S[1] + parent * d * W; // where they are read
        const T* Sleaf = r.S[2] + parent * d * d * W;
        const T* ezu = r.ez[1];
        const T* ezleaf = r.ez[2];
        for (std::size_t bu = 0; bu < d; ++bu, Au += W, leaf += d * W, Su += W, Sleaf += d * W) {
            batch a = start_at<E>(ezu, Su, ep, bu);
            const batch eu = a;
            batch pN[M];
            for (std::size_t s = 0; s < M; ++s) {
                const batch zb = D > 0 ? z1[(s * D + bu) % ZR] : batch::load_unaligned(zs + (s * d + bu) * W);
                pN[s] = fmadd(qN[s], zb, a); // (qN divided by 2)
                a = fmadd(qN1[s], zb, a);
            }
            a.store_unaligned(Au);
            for (std::size_t b = 0; b < d; ++b) {
                batch acc = start_at<E>(ezleaf, Sleaf + b * W, eu, b);
                for (std::size_t s = 0; s < M; ++s)
                    acc = fmadd(pN[s], D > 0 ? z1[(s * D + b) % ZR] : batch::load_unaligned(zs + (s * d + b) * W),
                                     acc);
                acc.store_unaligned(leaf + b * W);
            }
        }
    }

    // Registers that hold the increments z_s[b] (divisor 1) through the last
    // levels of a pass: M*D for a d known at compile time, else none (1: a
    // placeholder; they are read from scratch).
    template <std::size_t D, std::size_t M> static constexpr std::size_t z1_count = D > 0 ? M * D : 1;

    // z1[s*D + b] = z_s[b] (divisor 1) for a d known at compile time.
    template <std::size_t D, std::size_t M> static void load_z1(const lanes_ctx& c, batch* z1) {
        if constexpr (D > 0) {
            for (std::size_t s = 0; s < M; ++s)
                for (std::size_t b = 0; b < D; ++b)
                    z1[s * D + b] = batch::load_unaligned(c.zs + (s * D + b) * W);
        }
    }

    // Levels N-1 and N under `parent` (level N-2), its partial sums q in
    // memory (N = 2: the root's).
    template <std::size_t D, std::size_t M, bool E = false>
    static void lanes_last_two(const lanes_ctx& c, std::size_t parent, const T* q, const batch& ep = {}) {
        const std::size_t N = c.depth;
        batch qN[M], qN1[M];
        for (std::size_t s = 0; s < M; ++s) {
            qN[s] = batch::load_unaligned(q + chain_at<D, M>(N, N, s));
            qN1[s] = batch::load_unaligned(q + chain_at<D, M>(N, N - 1, s));
        }
        batch z1[z1_count<D, M>];
        load_z1<D, M>(c, z1);
        const last_rows r = last_rows_of(c);
        lanes_last_two_regs<D, M, E>(r, parent, qN, qN1, z1, ep);
    }

    // Levels N-2, N-1 and N under `parent` (level N-3), its partial sums of
    // chains N-2, N-1 and N in registers (qN2, qN1, qN: one per segment):
    // each node v of level N-2 advances its own level and the chains of
    // levels N-1 and N into registers (no partial sums stored), then its
    // subtree is lanes_last_two_regs.
    template <std::size_t D, std::size_t M, bool E>
    [[gnu::always_inline]] static inline void lanes_last_three_regs(const last_rows& r, std::size_t parent,
                                                                    const batch* qN2, const batch* qN1,
                                                                    const batch* qN, const batch* z1,
                                                                    const batch& half, const batch& ep) {
        const std::size_t d = dim_of<D>(r);
        const T* zs = r.zs;
        T* Av = r.A[0] + parent * d * W; // the d nodes of level N-2
        const T* Sv = r.S[0] + parent * d * W;
        for (std::size_t bv = 0; bv < d; ++bv) {
            batch a = start_at<E>(r.ez[0], Sv + bv * W, ep, bv);
            const batch ev = a;
            batch pN[M], pN1[M];
            for (std::size_t s = 0; s < M; ++s) { // (qN1, qN divided by 2, 3)
                const batch zb = D > 0 ? z1[(s * D + bv) % z1_count<D, M>] : batch::load_unaligned(zs + (s * d + bv) * W);
                pN1[s] = fmadd(qN1[s], zb, a);
                pN[s] = fmadd(qN[s], zb, a) * half; // for its children
                a = fmadd(qN2[s], zb, a);
            }
            a.store_unaligned(Av + bv * W);
            lanes_last_two_regs<D, M, E>(r, parent * d + bv, pN, pN1, z1, ev);
        }
    }

    // Levels N-2, N-1 and N under `parent` (level N-3), its partial sums q in
    // memory. The increments are loaded once for the d nodes, not once per node.
    template <std::size_t D, std::size_t M, bool E = false>
    static void lanes_last_three(const lanes_ctx& c, std::size_t parent, const T* q, const batch& ep = {}) {
        const std::size_t N = c.depth;
        batch z1[z1_count<D, M>];
        load_z1<D, M>(c, z1);
        batch qN2[M], qN1[M], qN[M];
        for (std::size_t s = 0; s < M; ++s) {
            qN2[s] = batch::load_unaligned(q + chain_at<D, M>(N, N - 2, s));
            qN1[s] = batch::load_unaligned(q + chain_at<D, M>(N, N - 1, s));
            qN[s] = batch::load_unaligned(q + chain_at<D, M>(N, N, s));
        }
        const last_rows r = last_rows_of(c);
        lanes_last_three_regs<D, M, E>(r, parent, qN2, qN1, qN, z1, batch::load_unaligned(c.inv + 2 * W), ep);
    }

    // Whether levels N-3..N run as one call (lanes_last_four): for d = 2,
    // whose nodes of level N-3 are as many as all the levels above together
    // and have only three chains each to advance, so that a loop over them
    // costs more in its set-up than in its multiply-adds. It keeps 3M + 2M + M
    // partial sums and the 2M increments of divisor 1 live: AVX-512's 32
    // registers. With 16 (AVX2, SSE2) some spill, and it is still faster
    // (Zen 3, alternated against lanes_last_three: AVX2 (1,8,2,12) 0.916
    // and 0.932, (64,64,2,10) 0.961, float 0.984 and 0.938; SSE2 0.967 and
    // 0.890).
    template <std::size_t D>
    static constexpr bool last_four = D == 2;

    // Levels N-3..N under `parent` (level N-4), its partial sums q in memory:
    // each node x of level N-3 takes chains N-2, N-1 and N into registers,
    // then its subtree is lanes_last_three_regs.
    template <std::size_t D, std::size_t M, bool E>
    static void lanes_last_four(const lanes_ctx& c, std::size_t parent, const T* q, const batch& ep) {
        const std::size_t d = dim_of<D>(c), N = c.depth;
        const T* zs = c.zs;
        const batch half = batch::load_unaligned(c.inv + 2 * W), third = batch::load_unaligned(c.inv + 3 * W);
        batch z1[z1_count<D, M>];
        load_z1<D, M>(c, z1);
        T* Ax = c.A + (c.off[N - 3] + parent * d) * W; // the d nodes of level N-3
        const T* Sx = c.src + (c.off[N - 3] + parent * d) * W;
        const last_rows r = last_rows_of(c);
        for (std::size_t bx = 0; bx < d; ++bx) {
            batch a = start_value<E>(c, Sx + bx * W, ep, N - 3, bx);
            const batch ex = a;
            batch pN2[M], pN1[M], pN[M];
            for (std::size_t s = 0; s < M; ++s) { // (q divided by 1, 2, 3, 4 for chains N-3..N)
                const batch zb = D > 0 ? z1[(s * D + bx) % z1_count<D, M>] : batch::load_unaligned(zs + (s * d + bx) * W);
                pN2[s] = fmadd(batch::load_unaligned(q + chain_at<D, M>(N, N - 2, s)), zb, a);
                pN1[s] = fmadd(batch::load_unaligned(q + chain_at<D, M>(N, N - 1, s)), zb, a) * half;
                pN[s] = fmadd(batch::load_unaligned(q + chain_at<D, M>(N, N, s)), zb, a) * third;
                a = fmadd(batch::load_unaligned(q + chain_at<D, M>(N, N - 3, s)), zb, a);
            }
            a.store_unaligned(Ax + bx * W);
            lanes_last_three_regs<D, M, E>(r, parent * d + bx, pN2, pN1, pN, z1, half, ex);
        }
    }

    // One depth-first pass for M segments (zs and partials set up; E: from
    // exp's values, lanes_ctx::ez).
    template <std::size_t D, std::size_t M, bool E = false> static void lanes_pass(const lanes_ctx& c) {
        const std::size_t d = dim_of<D>(c), N = c.depth;
        const batch a0 = batch::load_unaligned(c.src);
        // chain k's value at the root before segment s
        auto root_value = [&](std::size_t s, std::size_t k) {
            return c.root ? batch::load_unaligned(c.root + s * c.root_step + k * W) : a0;
        };
        const batch e0 = E ? batch::load_unaligned(c.ez) : a0; // (E: exp's level 0)
        if (N == 1) { // the leaves hang from the root
            for (std::size_t b = 0; b < d; ++b) {
                batch acc = start_value<E>(c, c.src + (1 + b) * W, e0, 1, b);
                for (std::size_t s = 0; s < M; ++s)
                    acc = fmadd(root_value(s, 1), batch::load_unaligned(c.zs + (s * d + b) * W), acc); // N = 1
                acc.store_unaligned(c.A + (1 + b) * W);
            }
            return;
        }
        T* root = c.partials; // the root's partial sums, for every chain and segment, divided by k
        for (std::size_t s = 0; s < M; ++s)
            for (std::size_t k = 0; k <= N; ++k) {
                const batch v = root_value(s, k);
                (k > 1 ? v * batch::load_unaligned(c.inv + k * W) : v).store_unaligned(root + chain_at<D, M>(N, k, s));
            }
        if (N == 2)
            lanes_last_two<D, M, E>(c, 0, root, e0);
        else
            lanes_visit<D, M, E>(c, 1, 0, root, e0);
    }

    // The depth up to which fmexp_lanes keeps a whole tensor of dimension D
    // in registers (fmexp_lanes_regs; 0: none): its words of levels 0..N,
    // the increments and their quotients, and the partial sums of one level
    // fit in the register file (32 with AVX-512, else 16), give or take one:
    // (d, N) = (4, 2) counts 33 and took 0.73x the pass's time (float grid).
    template <std::size_t D> static constexpr std::size_t regs_depth() {
        constexpr std::size_t R = vector_registers;
        std::size_t N = 0;
        while (N < 4 && level_start(D, N + 2) + (N + 1) * D + ipow(D, N) <= R + 1)
            ++N;
        return D > 0 ? N : 0;
    }

    // fmexp_lanes for a tensor small enough to stay in registers through all
    // m segments (fmexp_lanes_d; no roots). Per segment, level by level, each
    // word w b takes its chains' partial sums p_k(w b) = p_k(w) z_b/(k-j+1) +
    // A[w b] (k > j, its level) and its new value p_j(w) z_b + A[w b], as
    // the depth-first pass does: the same multiply-adds in the same order,
    // so the same bits, with no partial sums in memory and no pass to set up.
    // (Read from src, which may be A; written to A.)
    template <std::size_t D, std::size_t N>
    static void fmexp_lanes_regs(T* A, const T* src, const T* Z, std::size_t m) {
        constexpr std::size_t S = level_start(D, N + 1); // words of levels 0..N
        batch a[S], inv[N + 1];
        regs_load<S>(a, src);
        regs_reciprocals<N>(inv);
        for (std::size_t s = 0; s < m; ++s) {
            batch z1[D];
            regs_increments<D>(Z + s * D * W, z1);
            regs_step<D, N>(a, inv, z1);
        }
        if (src != A)
            regs_store<S>(a, A);
        else
            regs_store<S, 1>(a, A);
    }

    // r[i] = the register at p + i*W for i < K: K words of interleaved
    // tensors into registers; regs_store the reverse, for First <= i < K.
    template <std::size_t K> [[gnu::always_inline]] static inline void regs_load(batch* r, const T* p) {
#pragma GCC unroll 64
        for (std::size_t i = 0; i < K; ++i)
            r[i] = batch::load_unaligned(p + i * W);
    }
    template <std::size_t K, std::size_t First = 0>
    [[gnu::always_inline]] static inline void regs_store(const batch* r, T* p) {
#pragma GCC unroll 64
        for (std::size_t i = First; i < K; ++i)
            r[i].store_unaligned(p + i * W);
    }

    // inv[c] = 1/c in every lane, c = 1..N (horner::reciprocal, as divided_lanes).
    template <std::size_t N> [[gnu::always_inline]] static inline void regs_reciprocals(batch* inv) {
#pragma GCC unroll 8
        for (std::size_t c = 1; c <= N; ++c)
            inv[c] = batch(horner::reciprocal<T>(c));
    }

    // z[c][b] = z_b * (1/c) for c = 1..N, from one segment's increments zp
    // (zp[b*W]), as divided_lanes computes them.
    template <std::size_t D, std::size_t N>
    [[gnu::always_inline]] static inline void regs_quotients(const T* zp, const batch* inv, batch (*z)[D]) {
#pragma GCC unroll 8
        for (std::size_t b = 0; b < D; ++b) {
            const batch zb = batch::load_unaligned(zp + b * W);
#pragma GCC unroll 8
            for (std::size_t c = 1; c <= N; ++c)
                z[c][b] = zb * inv[c];
        }
    }

    // The chains' partial sums of one segment at the words of levels
    // 0..N-1, each divided by its children's divisor as the pass stores
    // them (p[k][i] = p_k(i)/(k-j) for i of level j < k; p[k][0] = a[0]/k),
    // from a tensor's levels 0..N-1 (a) and the increments z1[b]; with
    // Step, the words' new values too (a[i] for i of levels 1..N).
    template <std::size_t D, std::size_t N, bool Step>
    [[gnu::always_inline]] static inline void regs_chains(batch* a, const batch* inv, const batch* z1,
                                                          batch (*p)[level_start(D, N + 1)]) {
#pragma GCC unroll 8
        for (std::size_t k = 1; k <= N; ++k)
            p[k][0] = k > 1 ? a[0] * inv[k] : a[0];
#pragma GCC unroll 8
        for (std::size_t j = 1; j <= (Step ? N : N - 1); ++j) {
            const std::size_t words = ipow(D, j);
#pragma GCC unroll 64
            for (std::size_t u = 0; u < words; ++u) {
                const std::size_t i = level_start(D, j) + u, w = level_start(D, j - 1) + u / D, b = u % D;
#pragma GCC unroll 8
                for (std::size_t k = j + 1; k <= N; ++k) {
                    const batch t = fmadd(p[k][w], z1[b], a[i]);
                    p[k][i] = k > j + 1 ? t * inv[k - j] : t;
                }
                if constexpr (Step) a[i] = fmadd(p[j][w], z1[b], a[i]);
            }
        }
    }

    // z1[b] = z_b of one segment (zp[b*W]).
    template <std::size_t D> [[gnu::always_inline]] static inline void regs_increments(const T* zp, batch* z1) {
#pragma GCC unroll 8
        for (std::size_t b = 0; b < D; ++b)
            z1[b] = batch::load_unaligned(zp + b * W);
    }

    // a (levels 0..N) <- a ⊗ exp(z) for one segment (z1 from regs_increments).
    template <std::size_t D, std::size_t N>
    [[gnu::always_inline]] static inline void regs_step(batch* a, const batch* inv, const batch* z1) {
        batch p[N + 1][level_start(D, N + 1)];
        regs_chains<D, N, true>(a, inv, z1, p);
    }

    // Segments per block of fmexp_lanes_backward_regs, whose states before
    // each segment it keeps.
    static constexpr std::size_t regs_backward_block = horner::lanes_regs_backward_block;

    // fmexp_lanes_backward for a tensor small enough for registers
    // (regs_depth; no roots): the states before each segment (levels
    // 0..N-1) are recomputed a block at a time (the blocks' starts kept by a
    // first sweep), then each segment's chains (regs_chains) and their
    // adjoint, the last segment first, with G in registers: at the word i =
    // w b of level j, a_new[i] = p_j(w) z_b + a[i] gives G[w]'s chain j and
    // z_b their products, and p_k(i) = p_k(w) z_b/(k-j+1) + a[i] passes its
    // gradient to p_k(w), z_b and a[i]. Scratch: horner::fmexp_lanes_backward_scratch_size.
    template <std::size_t D, std::size_t N>
    static void fmexp_lanes_backward_regs(const T* A, T* G, T* GZ, const T* Z, std::size_t m, T* scratch) {
        constexpr std::size_t S = level_start(D, N + 1), R = level_start(D, N), B = regs_backward_block;
        batch inv[N + 1];
        regs_reciprocals<N>(inv);
        auto advance = [&](batch* a, std::size_t s) { // levels 0..N-1 by segment s
            if constexpr (N > 1) {
                batch z1[D];
                regs_increments<D>(Z + s * D * W, z1);
                regs_step<D, N - 1>(a, inv, z1);
            }
        };
        const std::size_t blocks = (m + B - 1) / B;
        T* starts = scratch;                        // levels 0..N-1 at the start of blocks 1, 2, ...
        T* states = starts + (blocks - 1) * R * W;  // ... and before each segment of the current block
        batch a[R];
        regs_load<R>(a, A);
        for (std::size_t s = 0; s < (blocks - 1) * B; ++s) {
            advance(a, s);
            if ((s + 1) % B == 0) regs_store<R>(a, starts + (s + 1 - B) / B * R * W); // block (s + 1)/B's start
        }
        batch g[S];
        regs_load<S>(g, G);
        for (std::size_t blk = blocks; blk-- > 0;) {
            const T* from = blk == 0 ? A : starts + (blk - 1) * R * W;
            const std::size_t s0 = blk * B, s1 = s0 + B < m ? s0 + B : m;
            regs_load<R>(a, from);
            for (std::size_t s = s0; s < s1; ++s) {
                regs_store<R>(a, states + (s - s0) * R * W);
                if (s + 1 < s1) advance(a, s);
            }
            for (std::size_t s = s1; s-- > s0;) {
                batch x[S]; // levels 0..N-1 before segment s (level N unused)
                regs_load<R>(x, states + (s - s0) * R * W);
                batch z[N + 1][D]; // z[c][b] = z_b/c
                regs_quotients<D, N>(Z + s * D * W, inv, z);
                batch p[N + 1][S];
                regs_chains<D, N, false>(x, inv, z[1], p);
                batch gp[N + 1][S], gz[N + 1][D];
#pragma GCC unroll 8
                for (std::size_t k = 0; k <= N; ++k)
#pragma GCC unroll 64
                    for (std::size_t i = 0; i < S; ++i)
                        gp[k][i] = batch(T(0));
#pragma GCC unroll 8
                for (std::size_t c = 0; c <= N; ++c)
#pragma GCC unroll 8
                    for (std::size_t b = 0; b < D; ++b)
                        gz[c][b] = batch(T(0));
#pragma GCC unroll 8
                for (std::size_t j = N; j >= 1; --j) {
                    const std::size_t words = ipow(D, j);
#pragma GCC unroll 64
                    for (std::size_t v = 0; v < words; ++v) { // the words of level j, the last first
                        const std::size_t u = words - 1 - v;
                        const std::size_t i = level_start(D, j) + u, w = level_start(D, j - 1) + u / D, b = u % D;
                        gp[j][w] = fmadd(g[i], z[1][b], gp[j][w]);
                        gz[1][b] = fmadd(g[i], p[j][w], gz[1][b]);
#pragma GCC unroll 8
                        for (std::size_t k = N; k > j; --k) {
                            gp[k][w] = fmadd(gp[k][i], z[k - j + 1][b], gp[k][w]);
                            gz[k - j + 1][b] = fmadd(gp[k][i], p[k][w], gz[k - j + 1][b]);
                            g[i] = g[i] + gp[k][i];
                        }
                    }
                }
#pragma GCC unroll 8
                for (std::size_t b = 0; b < D; ++b) { // (the partial sums p were divided already)
                    batch sum = gz[1][b];
#pragma GCC unroll 8
                    for (std::size_t c = 2; c <= N; ++c)
                        sum = sum + gz[c][b];
                    sum.store_unaligned(GZ + (s * D + b) * W);
                }
            }
        }
        regs_store<S, 1>(g, G); // (level 0 has no gradient: left as it is, as the passes do)
    }

    template <std::size_t D>
    // (root_step: between the roots of consecutive segments; 0: (depth+1)*W.
    // With `from`, out of place: the tensors are read from there and written
    // to A, by the first pass; depth >= 1 and m >= 1.)
    // With ez (d = 2, lanes_ctx::ez), the first pass starts from exp's values (by passes, never in registers).
    static void fmexp_lanes_d(T* A, const T* Z, std::size_t m, std::size_t dim, std::size_t depth, T* scratch,
                              const T* root = nullptr, std::size_t root_step = 0, const T* from = nullptr,
                              const T* ez = nullptr) {
        const T* src = from ? from : A;
        if constexpr (regs_depth<D>() > 0)
            if (!root && !ez && depth >= 1 && depth <= regs_depth<D>())
                return with_count(depth, std::make_index_sequence<regs_depth<D>()>{},
                                  [&](auto N) { fmexp_lanes_regs<D, decltype(N)::value>(A, src, Z, m); });
        if (root_step == 0) root_step = (depth + 1) * W;
        std::size_t off[lanes_max_depth];
        level_offsets(off, dim, depth);
        if (src != A) // level 0: read by the passes (without roots), never written
            batch::load_unaligned(src).store_unaligned(A);
        // Passes of at most lanes_segments, as equal in length as can be: the
        // seed path's six steps after exp as 3 + 3, not 4 + 2 (0.97x the time).
        const std::size_t passes = (m + lanes_segments - 1) / lanes_segments;
        alignas(64) T inv[lanes_max_depth * W];
        lanes_reciprocals(inv, depth);
        for (std::size_t s0 = 0, left = passes; left > 0; --left, src = A) {
            const std::size_t M = (m - s0 + left - 1) / left;
            // The increments as they are (divisor 1): each partial sum is
            // stored divided by its children's divisor (lanes_visit).
            const lanes_ctx ctx{A,   src, off, dim, depth, Z + s0 * dim * W, scratch, inv,
                                root ? root + s0 * root_step : nullptr, root_step, ez};
            with_count(M, std::make_index_sequence<lanes_segments>{}, [&](auto k) {
                if constexpr (exp_start<D>)
                    if (ez) return lanes_pass<D, decltype(k)::value, true>(ctx);
                lanes_pass<D, decltype(k)::value>(ctx);
            });
            s0 += M, ez = nullptr;
        }
    }

    // inv[c*W..] = 1/c in every lane for c = 1..depth (horner::reciprocal):
    // the passes' divisors, forward and backward (inv: lanes_max_depth
    // registers; depth < lanes_max_depth, the dispatcher's limit).
    static void lanes_reciprocals(T* inv, std::size_t depth) {
        for (std::size_t c = 1; c <= depth; ++c)
            batch(horner::reciprocal<T>(c)).store_aligned(inv + c * W);
    }

    // f(std::integral_constant<std::size_t, n>) for n in 1..sizeof...(I):
    // a kernel compiled per count (a pass's segments, a depth).
    template <class F, std::size_t... I>
    static void with_count(std::size_t n, std::index_sequence<I...>, F&& f) {
        ((n == I + 1 ? f(std::integral_constant<std::size_t, I + 1>{}) : void()), ...);
    }

    // ---- The backward pass in lanes, without records ----
    //
    // The reverse of one segment, depth first: with r_k(w) the adjoint of the
    // partial sum p_k(w) of chain k at node w (level j, last letter b),
    // r_j(w) is the incoming gradient of the new A_j[w]; r_k(w) for k > j
    // sums r_k(w b') z_b'/(k-j) over the children; the gradient of the old
    // A_j[w] is the sum of r_k(w) over k >= j, and ∂L/∂z_b gains
    // r_k(w) p_k(parent)/(k-j+1). The leaves (level N) keep their gradient
    // (A_N enters only itself). ∂L/∂z gathers r_k(w b) (p_k(parent)/c) in
    // gzc, the partial sum as the way down stores it (divided by its
    // children's divisor, as lanes_visit's), so that a node's sums over its
    // chains stay in registers (a sum per divisor, scaled at the end, had
    // cost a load and a store per multiply-add). The adjoint sums r_k are
    // those of the undivided p_k.
    //
    // A pass of M segments is one such walk of the words. On the way down,
    // each node takes its value through the M segments (its value before
    // segment s is what a forward pass would have had to record) and the
    // partial sums of every chain and segment from its parent's; on the way
    // up, the segments in reverse order, the adjoint sums. A node's gradient
    // after segment s comes from its own subtree and its chains alone, so a
    // subtree finishes all M segments before its parent starts. Nothing is
    // recorded: the only state kept between passes is levels 0..N-1 at the
    // start of each pass.
    struct lanes_bwd_ctx {
        T* G;                   // gradient, interleaved, levels 0..N
        const T* A;             // levels 0..N-1 before the pass
        const std::size_t* off; // offset of level j
        std::size_t dim, depth;
        const T* zs;   // zs[(((c-1)*M + s)*d + b)*W] = z_{s,b} / c (divided_lanes)
        T* gzc;        // gzc[(s*d + b)*W]: ∂L/∂z_{s,b}
        const T* inv;  // inv[c*W] = 1/c in every lane (c = 1..N)
        T* partials;   // per level j: the node's p_k/(k-j) per segment, at [j*M*(N+1)*W + chain_major_at(N, k, s)]
        // per level j, for each child b of a node: its r_k (k > j), at
        // [(j*d*(N+1) + b*(N-j))*M*W + chain_major_at(N, k, s)]
        T* adjoints;
        T* leafp;      // leafp[(u*M + s)*W]: chain N's partial sums at the d nodes u of level N-1
        T* leafr;      // leafr[(u*M + s)*W]: their adjoint sums of chain N (where not bwd_regs)
        const T* root = nullptr; // the pass's roots [(s*(N+1) + k)*W] (fmexp_lanes), or none: A_0
        T* groot = nullptr;      // with roots: ∂L/∂root, the same layout (written)
    };

    // The walk knows R = N - j, the levels left under the children (level
    // j), at compile time for R up to bwd_walk_depth<D> (lanes_bwd_at): its
    // chain loops are unrolled and each chain's offsets are constants
    // (chain_major_at's N - k is R - i for chain k = j + i). Deeper levels,
    // and a d not compiled, run it with R known at run time (Rc = 0): the
    // same operations in the same order, so the same bits. (The levels just
    // above the last three hold most of the walk's nodes: the seed's walk
    // at R = 7 and 8 took 3% of its backward, and compiling them (and d >= 3
    // at R = 5) had cost the sanitizer build's AVX-512 unit 4.6 more
    // minutes, 1049 s against 770 s, for 0.999-1.008x the backward's time.)
    template <std::size_t D> static constexpr std::size_t bwd_walk_depth = D == 2 ? 6 : D >= 3 ? 4 : 0;

    template <std::size_t D, std::size_t M, std::size_t R>
    static void lanes_bwd_at(const lanes_bwd_ctx& c, std::size_t j, std::size_t parent, const T* q, T* r) {
        if constexpr (R == 3 && bwd_last_four<D, M>)
            lanes_bwd_last_four<D, M>(c, parent, q, r);
        else if constexpr (R == 2)
            lanes_bwd_last_three<D, M>(c, parent, q, r);
        else
            lanes_bwd_visit<D, M, R>(c, j, parent, q, r);
    }

    template <std::size_t D, std::size_t M>
    static void lanes_bwd_walk(const lanes_bwd_ctx& c, std::size_t j, std::size_t parent, const T* q, T* r) {
        const std::size_t R = c.depth - j;
        constexpr std::size_t Rmax = std::max<std::size_t>(bwd_walk_depth<D>, bwd_last_four<D, M> ? 3 : 2);
        if (R <= Rmax)
            return with_count(R, std::make_index_sequence<Rmax>{}, [&](auto Rc) {
                if constexpr (decltype(Rc)::value >= 2)
                    lanes_bwd_at<D, M, decltype(Rc)::value>(c, j, parent, q, r);
            });
        lanes_bwd_visit<D, M, 0>(c, j, parent, q, r);
    }

    // The children of `parent` (level j-1), whose partial sums (q) and
    // adjoint sums (r) of segment s and chain k are at q + chain_major_at(N,
    // k, s) and r + chain_major_at(N, k, s): for every d, where the forward
    // takes it for d = 2 alone (chain_at), so that the last levels address
    // chains N-2..N at offsets known at compile time ((128, 128, 4, 6)'s
    // backward took it best, 0.857).
    // Each child's subtree runs in turn (its partial sums in one buffer per
    // level, its adjoint sums in its own); then the children's reverse
    // steps run together, segment by segment, so that each of the parent's
    // adjoint sums is written once for the d children, not read and written
    // d times (and not cleared before: that loop is their only writer).
    // Rc: R (above), or 0 where it is known at run time only.
    template <std::size_t D, std::size_t M, std::size_t Rc>
    static void lanes_bwd_visit(const lanes_bwd_ctx& c, std::size_t j, std::size_t parent, const T* q, T* r) {
        const std::size_t N = c.depth, R = Rc ? Rc : N - j;
        const std::size_t d = dim_of<D>(c), zdiv = M * d * W, dW = d * W, cs = M * (N + 1) * W;
        // chain j + i: chain_major_at(N, j + i, s), with N - j = R
        const auto at = [&](std::size_t i, std::size_t s) { return chain_major_at<M>(R, i, s); };
        T* const p = c.partials + j * cs;
        T* const rr = c.adjoints + j * d * cs; // child b's adjoint sums (chains j+1..N) at rr + b*cb
        const std::size_t cb = R * M * W;
        for (std::size_t b = 0; b < d; ++b) {
            const std::size_t u = parent * d + b;
            // The child's value before each segment (a[s]) and its letter's
            // increments (z[s]) in registers; then its partial sums chain by
            // chain, each divided once for its own children (divisor k - j).
            batch a[M + 1], z[M];
            a[0] = batch::load_unaligned(c.A + (c.off[j] + u) * W);
#pragma GCC unroll 8
            for (std::size_t s = 0; s < M; ++s) {
                z[s] = batch::load_unaligned(c.zs + (s * d + b) * W); // divisor 1
                a[s + 1] = fmadd(batch::load_unaligned(q + at(0, s)), z[s], a[s]);
            }
#pragma GCC unroll 8
            for (std::size_t s = 0; s < M; ++s) // chain j+1: divisor 1
                fmadd(batch::load_unaligned(q + at(1, s)), z[s], a[s]).store_unaligned(p + at(1, s));
#pragma GCC unroll 16
            for (std::size_t i = 2; i <= R; ++i) {
                const batch inv = batch::load_unaligned(c.inv + i * W);
#pragma GCC unroll 8
                for (std::size_t s = 0; s < M; ++s)
                    (fmadd(batch::load_unaligned(q + at(i, s)), z[s], a[s]) * inv)
                        .store_unaligned(p + at(i, s));
            }
            if constexpr (Rc > 0)
                lanes_bwd_at<D, M, Rc - 1>(c, j + 1, u, p, rr + b * cb);
            else
                lanes_bwd_walk<D, M>(c, j + 1, u, p, rr + b * cb);
        }
        // The children's gradients g (after the segments still to undo) and
        // their sums over chains: registers for a d known at compile time,
        // else leafp (free between calls of lanes_bwd_last_three).
        T* const Gp = c.G + (c.off[j] + parent * d) * W; // the children's gradients
        if constexpr (D > 0) {
            // Two sets of sums over the chains (even and odd k - j) where
            // they fit in the registers, so that the multiply-adds into the
            // z-gradients and the additions into the children's gradients
            // wait on the chain before the last, not on the last: with one
            // set the walk up waited on their latency (two: 0.98x the
            // backward for d = 2 and 4; for d = 8, 5 d live registers spill).
            constexpr bool two = D <= (std::is_base_of<xsimd::avx512f, Arch>::value ? 4 : 2);
            batch g[D];
            for (std::size_t b = 0; b < D; ++b)
                g[b] = batch::load_unaligned(Gp + b * W);
            for (std::size_t s = M; s-- > 0;) {
                T* gz = c.gzc + s * dW; // child b's at + b*W
                const T* zsb = c.zs + s * dW;
                batch gz0[D], gz1[D], sum0[D], sum1[D];
                for (std::size_t b = 0; b < D; ++b) {
                    gz0[b] = batch::load_unaligned(gz + b * W);
                    gz1[b] = batch(T(0));
                    sum0[b] = g[b]; // the sums over chains start from g (chain j)
                    sum1[b] = batch(T(0));
                }
                const auto chain = [&](std::size_t i, batch* gzk, batch* sumk) { // chain j + i, divisor i + 1
                    const batch qc = batch::load_unaligned(q + at(i, s));        // divided by i + 1
                    batch rk(T(0)); // this loop is the only writer of r_k, k >= j
                    const T* zk = zsb + i * zdiv;
                    for (std::size_t b = 0; b < D; ++b) {
                        const batch v = i == 0 ? g[b] : batch::load_unaligned(rr + b * cb + at(i, s));
                        if (i > 0) sumk[b] = sumk[b] + v;
                        gzk[b] = fmadd(v, qc, gzk[b]);
                        rk = fmadd(v, batch::load_unaligned(zk + b * W), rk);
                    }
                    rk.store_unaligned(r + at(i, s));
                };
                std::size_t i = 0;
                if constexpr (two)
#pragma GCC unroll 8
                    for (; i + 1 <= R; i += 2) {
                        chain(i, gz0, sum0);
                        chain(i + 1, gz1, sum1);
                    }
#pragma GCC unroll 16
                for (; i <= R; ++i)
                    chain(i, gz0, sum0);
                for (std::size_t b = 0; b < D; ++b) { // before segment s
                    g[b] = two ? sum0[b] + sum1[b] : sum0[b];
                    (two ? gz0[b] + gz1[b] : gz0[b]).store_unaligned(gz + b * W);
                }
            }
            for (std::size_t b = 0; b < D; ++b)
                g[b].store_unaligned(Gp + b * W);
        } else {
            T* const g = c.leafp;
            T* const sum = c.leafp + dW;
            std::copy(Gp, Gp + dW, g);
            for (std::size_t s = M; s-- > 0;) {
                T* gz = c.gzc + s * dW; // child b's at + b*W
                const T* zsb = c.zs + s * dW;
                std::copy(g, g + dW, sum); // the sums over chains start from g (chain j)
                for (std::size_t i = 0; i <= R; ++i) {                    // chain j + i, divisor i + 1
                    const batch qc = batch::load_unaligned(q + at(i, s)); // divided by i + 1
                    batch rk(T(0)); // this loop is the only writer of r_k, k >= j
                    const T* zk = zsb + i * zdiv;
                    for (std::size_t b = 0; b < d; ++b) {
                        const batch v = batch::load_unaligned(i == 0 ? g + b * W : rr + b * cb + at(i, s));
                        if (i > 0) (batch::load_unaligned(sum + b * W) + v).store_unaligned(sum + b * W);
                        fmadd(v, qc, batch::load_unaligned(gz + b * W)).store_unaligned(gz + b * W);
                        rk = fmadd(v, batch::load_unaligned(zk + b * W), rk);
                    }
                    rk.store_unaligned(r + at(i, s));
                }
                std::copy(sum, sum + dW, g); // before segment s
            }
            std::copy(g, g + dW, Gp);
        }
    }

    // Levels N-1 and N under `parent` (level N-2). A leaf's gradient is the
    // same after every segment (A_N enters only itself); each leaf adds to
    // its parent's adjoint sum of chain N and to ∂L/∂z (divisor 1) for
    // every segment. The parent's partial sums (qN, qN1: chains N and N-1 of
    // each segment) come in registers and its adjoint sums (rNp, rN1) go
    // back in registers; so do, for d <= 4 known at compile time
    // (bwd_regs), the z-gradients (gz1[s*D + b]), else in gzc.
    template <std::size_t D> static constexpr bool bwd_regs = D > 0 && D <= 4;
    template <std::size_t D, std::size_t M> static constexpr std::size_t bwd_gz1 = bwd_regs<D> ? M * D : 1;

    // What the last two levels read of the context, read once per call of
    // lanes_bwd_last_two/three (as last_rows: every store may alias the
    // context, which had been reloaded at every node): the rows of level
    // N-1 of A and G and of level N of G, and the scratch they use.
    struct bwd_rows {
        const T* A1;
        T* G1;
        const T* G2;
        const T* zs;
        T* gzc;
        T* leafp;
        T* leafr;
        std::size_t dim;
    };
    static bwd_rows bwd_rows_of(const lanes_bwd_ctx& c) {
        const std::size_t N = c.depth;
        return {c.A + c.off[N - 1] * W, c.G + c.off[N - 1] * W, c.G + c.off[N] * W, c.zs, c.gzc,
                c.leafp,                c.leafr,                c.dim};
    }

    template <std::size_t D, std::size_t M>
    [[gnu::always_inline]] static inline void lanes_bwd_last_two_regs(const bwd_rows& c, std::size_t parent,
                                                                      const batch* qN, const batch* qN1, batch* rN1,
                                                                      batch* rNp, batch* gz1) {
        const std::size_t d = dim_of<D>(c), dW = d * W;
        const T* zs = c.zs;
        const T* Au = c.A1 + parent * d * W;
        T* Gu = c.G1 + parent * d * W;
        const T* leaves = c.G2 + parent * d * d * W;
        T* const leafp = c.leafp;
        const T* leaf = leaves;
#pragma GCC unroll 4
        for (std::size_t bu = 0; bu < d; ++bu, Au += W, Gu += W, leaf += dW) {
            batch a = batch::load_unaligned(Au);
            batch pN[M], rN[M];
            for (std::size_t s = 0; s < M; ++s) {
                const batch zb = batch::load_unaligned(zs + (s * d + bu) * W);
                pN[s] = fmadd(qN[s], zb, a); // chain N (qN divided by 2)
                a = fmadd(qN1[s], zb, a);
                rN[s] = batch(T(0));
            }
            if constexpr (bwd_regs<D>) {
#pragma GCC unroll 4
                for (std::size_t b = 0; b < d; ++b) {
                    const batch g = batch::load_unaligned(leaf + b * W);
                    for (std::size_t s = 0; s < M; ++s) {
                        rN[s] = fmadd(g, batch::load_unaligned(zs + (s * d + b) * W), rN[s]);
                        gz1[s * D + b] = fmadd(g, pN[s], gz1[s * D + b]);
                    }
                }
            } else { // the leaves' sums after this loop, from pN kept in c.leafp
                for (std::size_t s = 0; s < M; ++s)
                    pN[s].store_unaligned(leafp + (bu * M + s) * W);
                continue;
            }
            lanes_bwd_last_two_up<D, M>(c, bu, Gu, qN, qN1, rN, rN1, rNp, gz1);
        }
        if constexpr (!bwd_regs<D>) {
            // each node's adjoint sum of chain N over its leaves, rN[u][s] =
            // sum_b G[u b] z_{s,b}, into c.leafr; then the nodes' reverse steps
            T* const R = c.leafr;
            small_products<M>(R, M * W, W, leaves, dW, W, zs, W, dW, d, d, false);
            Gu = c.G1 + parent * d * W;
            for (std::size_t bu = 0; bu < d; ++bu, Gu += W) {
                batch rN[M];
                for (std::size_t s = 0; s < M; ++s)
                    rN[s] = batch::load_unaligned(R + (bu * M + s) * W);
                lanes_bwd_last_two_up<D, M>(c, bu, Gu, qN, qN1, rN, rN1, rNp, gz1);
            }
            // ∂L/∂z_{s,b} (divisor 1) += sum over u of G[u b] pN_s[u]
            small_products<M>(c.gzc, W, dW, leaves, W, dW, leafp, M * W, W, d, d, true);
        }
    }

    // out[x][s] (+)= sum over y < ny of a[x][y] b[y][s] for x < nx, s < M,
    // each a register of W lanes; the arguments are the strides (in values)
    // of out over x and s, of a over x and y, and of b over y and s. Four
    // x at a time: 16 multiply-adds for the 4 + M loads of one y (a loop
    // over one x had a load per multiply-add). Fewer where the K M sums,
    // the M values of b and one of a would not fit in the registers
    // (small_products_rows): with AVX2's 16 and M = 4, two x at a time
    // (Zen 3, alternated against four: (32,256,8,4) backward 0.707 and
    // 0.678; float grid d = 8: 0.80, 0.75; d = 16: 0.98, 0.84).
    template <std::size_t M> static constexpr std::size_t small_products_rows() {
        constexpr std::size_t R = vector_registers;
        std::size_t K = 4;
        while (K > 1 && K * M + M + 1 > R)
            --K;
        return K;
    }
    template <std::size_t M>
    static void small_products(T* out, std::size_t ox, std::size_t os, const T* a, std::size_t ax, std::size_t ay,
                               const T* b, std::size_t by, std::size_t bs, std::size_t nx, std::size_t ny,
                               bool accumulate) {
        std::size_t x = 0;
        const auto block = [&](auto X) {
            constexpr std::size_t K = decltype(X)::value;
            batch acc[K][M];
            for (std::size_t i = 0; i < K; ++i)
                for (std::size_t s = 0; s < M; ++s)
                    acc[i][s] = accumulate ? batch::load_unaligned(out + (x + i) * ox + s * os) : batch(T(0));
            for (std::size_t y = 0; y < ny; ++y) {
                batch bv[M];
                for (std::size_t s = 0; s < M; ++s)
                    bv[s] = batch::load_unaligned(b + y * by + s * bs);
                for (std::size_t i = 0; i < K; ++i) {
                    const batch av = batch::load_unaligned(a + (x + i) * ax + y * ay);
                    for (std::size_t s = 0; s < M; ++s)
                        acc[i][s] = fmadd(av, bv[s], acc[i][s]);
                }
            }
            for (std::size_t i = 0; i < K; ++i)
                for (std::size_t s = 0; s < M; ++s)
                    acc[i][s].store_unaligned(out + (x + i) * ox + s * os);
        };
        constexpr std::size_t X = small_products_rows<M>();
        for (; x + X <= nx; x += X)
            block(std::integral_constant<std::size_t, X>{});
        for (; x < nx; ++x)
            block(std::integral_constant<std::size_t, 1>{});
    }

    // The reverse steps of node bu (level N-1, its gradient at Gu) given
    // its leaves' adjoint sum rN of chain N: its z-gradients of chains N-1
    // and N (divisor 2), and its parent's adjoint sums rN1, rNp.
    template <std::size_t D, std::size_t M>
    [[gnu::always_inline]] static inline void lanes_bwd_last_two_up(const bwd_rows& c, std::size_t bu, T* Gu,
                                                                    const batch* qN, const batch* qN1,
                                                                    const batch* rN, batch* rN1, batch* rNp,
                                                                    batch* gz1) {
        const std::size_t d = dim_of<D>(c), zdiv = M * d * W, dW = d * W;
        const T* zs = c.zs;
        T* const gzc = c.gzc;
        batch g1 = batch::load_unaligned(Gu);
        for (std::size_t s = M; s-- > 0;) {
            const T* zb = zs + (s * d + bu) * W;
            T* gz = gzc + s * dW + bu * W;
            if constexpr (bwd_regs<D>) // chains N-1 and N (qN divided by 2)
                gz1[s * D + bu] = fmadd(g1, qN1[s], fmadd(rN[s], qN[s], gz1[s * D + bu]));
            else
                fmadd(g1, qN1[s], fmadd(rN[s], qN[s], batch::load_unaligned(gz))).store_unaligned(gz);
            rN1[s] = fmadd(g1, batch::load_unaligned(zb), rN1[s]);
            rNp[s] = fmadd(rN[s], batch::load_unaligned(zb + zdiv), rNp[s]);
            g1 = g1 + rN[s];
        }
        g1.store_unaligned(Gu);
    }

    // gz1 <- the z-gradients in gzc (to_regs), or back.
    template <std::size_t D, std::size_t M> static void bwd_gz1_move(const lanes_bwd_ctx& c, batch* gz1, bool to_regs) {
        if constexpr (bwd_regs<D>) {
            const std::size_t gzs = D * W;
            for (std::size_t s = 0; s < M; ++s)
                for (std::size_t b = 0; b < D; ++b) {
                    if (to_regs)
                        gz1[s * D + b] = batch::load_unaligned(c.gzc + s * gzs + b * W);
                    else
                        gz1[s * D + b].store_unaligned(c.gzc + s * gzs + b * W);
                }
        }
    }

    // Levels N-1 and N under `parent` (level N-2), its sums in memory (N = 2:
    // the root's).
    template <std::size_t D, std::size_t M>
    static void lanes_bwd_last_two(const lanes_bwd_ctx& c, std::size_t parent, const T* q, T* r) {
        const std::size_t N = c.depth;
        batch qN[M], qN1[M], rN1[M], rNp[M];
        for (std::size_t s = 0; s < M; ++s) {
            qN[s] = batch::load_unaligned(q + chain_major_at<M>(N, N, s));
            qN1[s] = batch::load_unaligned(q + chain_major_at<M>(N, N - 1, s));
            rN1[s] = batch::load_unaligned(r + chain_major_at<M>(N, N - 1, s));
            rNp[s] = batch::load_unaligned(r + chain_major_at<M>(N, N, s));
        }
        batch gz1[bwd_gz1<D, M>];
        bwd_gz1_move<D, M>(c, gz1, true);
        const bwd_rows rows = bwd_rows_of(c);
        lanes_bwd_last_two_regs<D, M>(rows, parent, qN, qN1, rN1, rNp, gz1);
        bwd_gz1_move<D, M>(c, gz1, false);
        for (std::size_t s = 0; s < M; ++s) {
            rN1[s].store_unaligned(r + chain_major_at<M>(N, N - 1, s));
            rNp[s].store_unaligned(r + chain_major_at<M>(N, N, s));
        }
    }

    // Levels N-2, N-1 and N under `parent` (level N-3), given its partial
    // sums of chains N-2+i (i = 0, 1, 2), q(i, s) for segment s (divided by
    // 1, 2 and 3 for its children), and its adjoint sums, to which acc(i, s,
    // bv, v, z) adds v z for its child bv: each node v of level N-2 takes the
    // partial sums of chains N-1 and N into registers (none stored), its
    // subtree is lanes_bwd_last_two_regs, and its adjoint sums come back in
    // registers. (A2, G2: level N-2 of A and G.)
    template <std::size_t D, std::size_t M, class Q, class Acc>
    [[gnu::always_inline]] static inline void lanes_bwd_last_three_at(const bwd_rows& rows, const T* A2, T* G2,
                                                                      const batch& half, std::size_t parent,
                                                                      const Q& q, const Acc& acc, batch* gz1) {
        const std::size_t d = dim_of<D>(rows), zdiv = M * d * W, dW = d * W;
        const T* zs = rows.zs;
        T* const gzc = rows.gzc;
#pragma GCC unroll 4
        for (std::size_t bv = 0; bv < d; ++bv) {
            const std::size_t v = parent * d + bv;
            batch a = batch::load_unaligned(A2 + v * W);
            batch pN[M], pN1[M], rN1[M], rNp[M];
            for (std::size_t s = 0; s < M; ++s) {
                const batch zb = batch::load_unaligned(zs + (s * d + bv) * W);
                pN1[s] = fmadd(q(1, s), zb, a);
                pN[s] = fmadd(q(2, s), zb, a) * half; // for its children
                a = fmadd(q(0, s), zb, a);
                rN1[s] = rNp[s] = batch(T(0));
            }
            lanes_bwd_last_two_regs<D, M>(rows, v, pN, pN1, rN1, rNp, gz1);
            T* Gv = G2 + v * W;
            batch g = batch::load_unaligned(Gv);
            for (std::size_t s = M; s-- > 0;) {
                const T* zb = zs + (s * d + bv) * W;
                T* gz = gzc + s * dW + bv * W;
                const batch v1 = rN1[s], v2 = rNp[s];
                // chains N-2, N-1 and N (divisors 1, 2, 3)
                const batch t = fmadd(v2, q(2, s), v1 * q(1, s));
                if constexpr (bwd_regs<D>)
                    gz1[s * D + bv] = fmadd(g, q(0, s), gz1[s * D + bv] + t);
                else
                    fmadd(g, q(0, s), batch::load_unaligned(gz) + t).store_unaligned(gz);
                acc(0, s, bv, g, batch::load_unaligned(zb));
                acc(1, s, bv, v1, batch::load_unaligned(zb + zdiv));
                acc(2, s, bv, v2, batch::load_unaligned(zb + 2 * zdiv));
                g = (g + v1) + v2;
            }
            g.store_unaligned(Gv);
        }
    }

    // Levels N-2, N-1 and N under `parent` (level N-3), its sums in memory
    // (its adjoint sums written: the first child starts them).
    template <std::size_t D, std::size_t M>
    static void lanes_bwd_last_three(const lanes_bwd_ctx& c, std::size_t parent, const T* q, T* r) {
        const std::size_t N = c.depth;
        batch gz1[bwd_gz1<D, M>];
        bwd_gz1_move<D, M>(c, gz1, true);
        const bwd_rows rows = bwd_rows_of(c);
        const auto qi = [&](std::size_t i, std::size_t s) {
            return batch::load_unaligned(q + chain_major_at<M>(N, N - 2 + i, s));
        };
        const auto acc = [&](std::size_t i, std::size_t s, std::size_t bv, const batch& v, const batch& z) {
            T* x = r + chain_major_at<M>(N, N - 2 + i, s);
            (bv == 0 ? v * z : fmadd(v, z, batch::load_unaligned(x))).store_unaligned(x);
        };
        lanes_bwd_last_three_at<D, M>(rows, c.A + c.off[N - 2] * W, c.G + c.off[N - 2] * W,
                                      batch::load_unaligned(c.inv + 2 * W), parent, qi, acc, gz1);
        bwd_gz1_move<D, M>(c, gz1, false);
    }

    // Whether levels N-3..N of the backward run as one call
    // (lanes_bwd_last_four): d = 2, as the forward's (last_four), in passes
    // of up to four segments (the seed's one pass of six spills).
    template <std::size_t D, std::size_t M> static constexpr bool bwd_last_four = last_four<D> && M <= 4;

    // Levels N-3..N under `parent` (level N-4), its sums in memory: each
    // node x of level N-3 takes the partial sums of chains N-2, N-1 and N
    // into registers, its subtree is lanes_bwd_last_three_at (its adjoint
    // sums of those chains come back in registers); then the reverse steps
    // of the d nodes (lanes_bwd_visit's: ∂L/∂z, their gradients and the
    // parent's adjoint sums, which the first node starts). The same
    // operations in the same order as lanes_bwd_visit and
    // lanes_bwd_last_three, so the same bits: passes of any length agree
    // (with and without given starts, fmexp_lanes_backward_d).
    template <std::size_t D, std::size_t M>
    static void lanes_bwd_last_four(const lanes_bwd_ctx& c, std::size_t parent, const T* q, T* r) {
        static_assert(bwd_regs<D>, "the nodes' sums and z-gradients are kept for a small d known at compile time");
        const std::size_t N = c.depth, zdiv = M * D * W;
        const T* zs = c.zs;
        const T* const A3 = c.A + c.off[N - 3] * W;
        T* const G3 = c.G + c.off[N - 3] * W;
        const T* const A2 = c.A + c.off[N - 2] * W;
        T* const G2 = c.G + c.off[N - 2] * W;
        const batch half = batch::load_unaligned(c.inv + 2 * W), third = batch::load_unaligned(c.inv + 3 * W);
        batch gz1[bwd_gz1<D, M>];
        bwd_gz1_move<D, M>(c, gz1, true);
        const bwd_rows rows = bwd_rows_of(c);
        const auto qk = [&](std::size_t k, std::size_t s) { // chain k (N-3..N), divided by k - N + 4
            return batch::load_unaligned(q + chain_major_at<M>(N, k, s));
        };
        batch rs[D][3][M]; // node bx's adjoint sums of chains N-2, N-1, N
        for (std::size_t bx = 0; bx < D; ++bx) {
            batch a = batch::load_unaligned(A3 + (parent * D + bx) * W);
            batch qs[3][M]; // its partial sums of those chains
            for (std::size_t s = 0; s < M; ++s) {
                const batch zb = batch::load_unaligned(zs + (s * D + bx) * W); // divisor 1
                qs[0][s] = fmadd(qk(N - 2, s), zb, a);
                qs[1][s] = fmadd(qk(N - 1, s), zb, a) * half;
                qs[2][s] = fmadd(qk(N, s), zb, a) * third;
                a = fmadd(qk(N - 3, s), zb, a);
            }
            batch(&rx)[3][M] = rs[bx];
            lanes_bwd_last_three_at<D, M>(
                rows, A2, G2, half, parent * D + bx, [&](std::size_t i, std::size_t s) { return qs[i][s]; },
                [&](std::size_t i, std::size_t s, std::size_t bv, const batch& v, const batch& z) {
                    rx[i][s] = bv == 0 ? v * z : fmadd(v, z, rx[i][s]);
                },
                gz1);
        }
        T* const Gx = G3 + parent * D * W; // the d nodes' gradients
        batch g[D];
        for (std::size_t bx = 0; bx < D; ++bx)
            g[bx] = batch::load_unaligned(Gx + bx * W);
        for (std::size_t s = M; s-- > 0;) {
            for (std::size_t bx = 0; bx < D; ++bx) {
                // chains N-3..N (divisors 1..4), in two sums as lanes_bwd_visit's
                const batch(&rx)[3][M] = rs[bx];
                batch g0 = fmadd(g[bx], qk(N - 3, s), gz1[s * D + bx]);
                batch g1 = rx[0][s] * qk(N - 2, s);
                g0 = fmadd(rx[1][s], qk(N - 1, s), g0);
                g1 = fmadd(rx[2][s], qk(N, s), g1);
                gz1[s * D + bx] = g0 + g1;
            }
            // the parent's adjoint sums of chains N-3..N over the d nodes
            for (std::size_t k = N - 3; k <= N; ++k) {
                const T* zk = zs + (k - N + 3) * zdiv + s * D * W;
                batch rk = (k == N - 3 ? g[0] : rs[0][k - N + 2][s]) * batch::load_unaligned(zk);
                for (std::size_t bx = 1; bx < D; ++bx)
                    rk = fmadd(k == N - 3 ? g[bx] : rs[bx][k - N + 2][s], batch::load_unaligned(zk + bx * W), rk);
                rk.store_unaligned(r + chain_major_at<M>(N, k, s));
            }
            for (std::size_t bx = 0; bx < D; ++bx) // before segment s
                g[bx] = (g[bx] + rs[bx][1][s]) + (rs[bx][0][s] + rs[bx][2][s]);
        }
        for (std::size_t bx = 0; bx < D; ++bx)
            g[bx].store_unaligned(Gx + bx * W);
        bwd_gz1_move<D, M>(c, gz1, false);
    }

    // One pass of M segments (zs set, gzc zeroed).
    template <std::size_t D, std::size_t M> static void lanes_bwd_pass(const lanes_bwd_ctx& c) {
        const std::size_t d = dim_of<D>(c), N = c.depth, stride = (N + 1) * W;
        const batch a0 = batch::load_unaligned(c.A);
        auto root_value = [&](std::size_t s, std::size_t k) {
            return c.root ? batch::load_unaligned(c.root + s * stride + k * W) : a0;
        };
        if (N == 1) { // the leaves hang from the root
            for (std::size_t s = 0; s < M; ++s) {
                const batch q = root_value(s, 1);
                batch gq(T(0));
                for (std::size_t b = 0; b < d; ++b) {
                    const batch g = batch::load_unaligned(c.G + (1 + b) * W);
                    T* gz = c.gzc + (s * d + b) * W;
                    fmadd(g, q, batch::load_unaligned(gz)).store_unaligned(gz);
                    gq = fmadd(g, batch::load_unaligned(c.zs + (s * d + b) * W), gq);
                }
                if (c.groot) {
                    batch(T(0)).store_unaligned(c.groot + s * stride);
                    gq.store_unaligned(c.groot + s * stride + W);
                }
            }
            return;
        }
        // the root: p_k = A_0 or the root given; r_k = 0, which r_0 keeps (the
        // children write r_k for k >= 1, but N = 2's lanes_bwd_last_two adds)
        for (std::size_t s = 0; s < M; ++s)
            for (std::size_t k = 0; k <= N; ++k) { // divided by k for the children (level 1)
                const batch v = root_value(s, k);
                (k > 1 ? v * batch::load_unaligned(c.inv + k * W) : v).store_unaligned(c.partials + chain_major_at<M>(N, k, s));
                batch(T(0)).store_unaligned(c.adjoints + chain_major_at<M>(N, k, s));
            }
        if (N == 2)
            lanes_bwd_last_two<D, M>(c, 0, c.partials, c.adjoints);
        else
            lanes_bwd_walk<D, M>(c, 1, 0, c.partials, c.adjoints);
        if (c.groot) // the root's adjoint sums: ∂L/∂root (in the roots' layout)
            for (std::size_t s = 0; s < M; ++s)
                for (std::size_t k = 0; k <= N; ++k)
                    batch::load_unaligned(c.adjoints + chain_major_at<M>(N, k, s))
                        .store_unaligned(c.groot + s * stride + k * W);
    }

    // G <- ∂L/∂A from G = ∂L/∂(A ⊗ exp(z_1) ⊗ ... ⊗ exp(z_m)) in each lane,
    // given levels 0..N-1 of A (not written); ∂L/∂z_s is written to GZ +
    // s*d*W. The start of every pass is computed first (levels 0..N-1, that
    // is fmexp_lanes at depth N-1), then the passes run from the last.
    // With `states`, pass p's start is read at A + p*states (values) rather
    // than computed from A.
    template <std::size_t D>
    static void fmexp_lanes_backward_d(const T* A, T* G, T* GZ, const T* Z, std::size_t m, std::size_t dim,
                                       std::size_t depth, T* scratch, const T* root = nullptr,
                                       T* groot = nullptr, std::size_t states = 0) {
        if constexpr (regs_depth<D>() > 0)
            if (!root && depth <= regs_depth<D>())
                return with_count(depth, std::make_index_sequence<regs_depth<D>()>{}, [&](auto N) {
                    fmexp_lanes_backward_regs<D, decltype(N)::value>(A, G, GZ, Z, m, scratch);
                });
        // Passes of M segments; or one pass of all m where m is a little
        // more than M (up to horner::lanes_backward_long_pass), every pass
        // length is compiled (short_bwd_passes) and the starts are not
        // given: then there is no sweep at all. (The seed path's six steps:
        // 0.93x the time of passes of 2 and 4 with a sweep of 2 at depth N-1.)
        constexpr std::size_t M0 = horner::lanes_backward_segments(D, vector_registers),
                              ML = horner::lanes_backward_long_pass;
        // (D = 0: every d not compiled, all of them above 4, as M0's 0)
        static_assert(D > 0 || horner::lanes_backward_segments(0, vector_registers) ==
                                   horner::lanes_backward_segments(9, vector_registers));
        // (M > M0: short_bwd_passes<D>)
        const std::size_t M = horner::lanes_backward_pass(dim, m, states != 0, vector_registers);
        std::size_t off[lanes_max_depth];
        level_offsets(off, dim, depth);
        const std::size_t R = off[depth] * W, stride = (depth + 1) * W, passes = (m + M - 1) / M,
                          gzn = M * depth * dim * W;
        T* zs = scratch;
        T* gzc = zs + gzn; // M*d*W of its gzn; then leafr (M*d*W, depth >= 2)
        T* partials = gzc + gzn;
        alignas(64) T inv[lanes_max_depth * W];
        lanes_reciprocals(inv, depth);
        T* adjoints = partials + depth * M * stride; // d children's per level
        T* leafp = adjoints + depth * dim * M * stride;
        T* zpad = leafp + M * dim * W; // a short last pass's increments, then zeros
        T* rpad = zpad + M * dim * W;  // with roots: a pass's roots and their gradient (zeros past m)
        T* gpad = rpad + M * stride;
        T* fwd = gpad + M * stride;    // fmexp_lanes' scratch at depth N-1
        T* starts = fwd + horner::fmexp_lanes_scratch_size(dim, depth - 1, M, W); // passes 1, 2, ...
        const auto start_of = [&](std::size_t p) -> const T* {
            return states ? A + p * states : p == 0 ? A : starts + (p - 1) * R;
        };
        // Pass p covers segments [first_of(p), first_of(p + 1)). Where short
        // passes run at their length and the starts are swept here, the
        // short one comes first: the sweep then advances the state by m mod M
        // segments before the full passes, not by M (the seed path's six
        // steps: 2 segments swept at depth N-1 instead of 4). Given states
        // are a pass apart from the first segment: the short pass is last.
        const std::size_t lead = short_bwd_passes<D> && !states && m % M ? m % M : M;
        const auto first_of = [&](std::size_t p) { return p == 0 ? 0 : std::min(m, lead + (p - 1) * M); };
        for (std::size_t p = 1; p < passes && !states; ++p) {
            const T* prev = p == 1 ? A : starts + (p - 2) * R;
            T* cur = starts + (p - 1) * R;
            const std::size_t s0 = first_of(p - 1);
            if (depth > 1) // out of place: prev's levels 0..N-1 advanced into cur
                fmexp_lanes_d<D>(cur, Z + s0 * dim * W, first_of(p) - s0, dim, depth - 1, fwd,
                                 root ? root + s0 * stride : nullptr, stride, prev);
            else
                batch::load_unaligned(prev).store_unaligned(cur);
        }
        for (std::size_t p = passes; p-- > 0;) {
            // The pass before's ∂L/∂z, asked for ahead of its stores (the
            // passes write GZ from its end back; (16, 2) float: 1.06-1.13x
            // the backward's time without).
            if (p > 0)
                horner::prefetch_before_for_write(GZ + first_of(p) * dim * W,
                                                  (first_of(p) - first_of(p - 1)) * dim * W);
            // A short pass runs at its length where those passes are compiled
            // (short_bwd_passes), else as a full one whose last segments have
            // zero increments: exp(0) = 1, so they change neither the values
            // nor the gradient.
            const std::size_t s0 = first_of(p), Mp = first_of(p + 1) - s0;
            const bool own = Mp == M || short_bwd_passes<D>;
            const std::size_t Mr = own ? Mp : M; // segments the pass runs
            if (own)
                divided_lanes(zs, Z, s0, Mr, dim, depth);
            else {
                for (std::size_t i = 0; i < M * dim * W; i += W)
                    (i < Mp * dim * W ? batch::load_unaligned(Z + s0 * dim * W + i) : batch(T(0)))
                        .store_unaligned(zpad + i);
                divided_lanes(zs, zpad, 0, M, dim, depth);
            }
            for (std::size_t i = 0; i < Mr * dim * W; i += W)
                batch(T(0)).store_unaligned(gzc + i);
            const T* proot = root ? root + s0 * stride : nullptr;
            T* pgroot = root ? groot + s0 * stride : nullptr;
            if (root && !own) { // the padded segments' roots are zeros, their gradients dropped
                for (std::size_t i = 0; i < M * stride; i += W)
                    (i < Mp * stride ? batch::load_unaligned(proot + i) : batch(T(0))).store_unaligned(rpad + i);
                proot = rpad;
                pgroot = gpad;
            }
            const lanes_bwd_ctx ctx{G,        start_of(p),
                                    off,      dim,
                                    depth,    zs,
                                    gzc,      inv,
                                    partials,
                                    adjoints, leafp,
                                    gzc + M * dim * W, // leafr: the rest of gzc's region (depth >= 2)
                                    proot,    pgroot};
            if constexpr (short_bwd_passes<D>)
                with_count(Mr, std::make_index_sequence<ML>{},
                           [&](auto k) { lanes_bwd_pass<D, decltype(k)::value>(ctx); });
            else
                lanes_bwd_pass<D, M0>(ctx);
            if (root && !own)
                for (std::size_t i = 0; i < Mp * stride; i += W)
                    batch::load_unaligned(gpad + i).store_unaligned(groot + s0 * stride + i);
            for (std::size_t i = 0; i < Mp * dim * W; i += W)
                batch::load_unaligned(gzc + i).store_unaligned(GZ + s0 * dim * W + i);
        }
    }

    // Whether a short pass runs with its own length (a pass per length
    // compiled, up to horner::lanes_backward_long_pass: then it comes first,
    // or is the only one) rather than as a full one with zero increments
    // (last): for d = 2, whose one path of seven segments (the seed
    // inversion's) would do eight.
    template <std::size_t D> static constexpr bool short_bwd_passes = D == 2; // (horner::lanes_backward_pass's d)

    // With `root` (fmexp_lanes' roots), ∂L/∂root is written to groot.
    static void fmexp_lanes_backward(const T* A, T* G, T* GZ, const T* Z, std::size_t m, std::size_t dim,
                                     std::size_t depth, T* scratch, const T* root, T* groot, std::size_t states) {
        if (depth == 0 || m == 0) return;
        with_dim(dim, [&](auto D) {
            fmexp_lanes_backward_d<decltype(D)::value>(A, G, GZ, Z, m, dim, depth, scratch, root, groot, states);
        });
    }

    // A <- A ⊗ exp(z_1) ⊗ ... ⊗ exp(z_m) in each of W lanes (interleaved
    // tensors and increments: Z[(s*d + b)*W + l]); scratch of
    // horner::fmexp_lanes_scratch_size(dim, depth, m, W); depth < 64 (the
    // dispatcher sends deeper ones, d = 1 only in practice, to the scalar twin).
    // With `root`, chain k starts segment s from root[(s*(N+1) + k)*W]
    // instead of A_0 (kernels::fmexp_lanes). With `from`, out of place.
    static void fmexp_lanes(T* A, const T* Z, std::size_t m, std::size_t dim, std::size_t depth, T* scratch,
                            const T* root, const T* from) {
        if (from == A) from = nullptr;
        if (depth == 0 || m == 0) {
            if (from) std::copy(from, from + level_start(dim, depth + 1) * W, A); // levels 0..depth
            return;
        }
        with_dim(dim, [&](auto D) { fmexp_lanes_d<decltype(D)::value>(A, Z, m, dim, depth, scratch, root, 0, from); });
    }

    // Whether fmexp_lanes_exp makes exp's values in its first pass (d = 2,
    // the prefix lanes' dimension), else exp_lanes writes them first.
    template <std::size_t D> static constexpr bool exp_start = D == 2;

    // A <- exp(z0) ⊗ exp(z_1) ⊗ ... ⊗ exp(z_m) in lanes, exp(z0) from level
    // k0 with level 0 at e0 (kernels::fmexp_lanes_exp): the bits of
    // exp_lanes then fmexp_lanes, without writing exp(z0) first.
    static void fmexp_lanes_exp(T* A, const T* Z, std::size_t m, std::size_t dim, std::size_t depth, T* scratch,
                                const T* root, const T* z0, std::size_t k0, const T* e0) {
        batch::load_unaligned(e0).store_unaligned(A); // level 0
        with_dim(dim, [&](auto Dc) {
            constexpr std::size_t D = decltype(Dc)::value;
            if constexpr (exp_start<D>) {
                if (m > 0 && depth >= 1 && depth < 64) {
                    alignas(64) T ez[(64 * D + D) * W];
                    batch::load_unaligned(A).store_aligned(ez);
                    for (std::size_t j = 1; j <= depth; ++j)
                        for (std::size_t b = 0; b < D; ++b)
                            batch(z0[b] / T(static_cast<double>(k0 + j))).store_aligned(ez + (j * D + b) * W);
                    return fmexp_lanes_d<D>(A, Z, m, dim, depth, scratch, root, 0, nullptr, ez);
                }
            }
            exp_lanes(A, z0, dim, depth, k0);
            if (m > 0 && depth >= 1) fmexp_lanes_d<D>(A, Z, m, dim, depth, scratch, root, 0, nullptr);
        });
    }

    // f(std::integral_constant<std::size_t, D>) with D = dim for the
    // dimensions the lanes kernels unroll (1..8), D = 0 (run time) otherwise.
    template <class F> static void with_dim(std::size_t dim, F&& f) {
        using std::integral_constant;
        switch (dim) {
        case 1:
            return f(integral_constant<std::size_t, 1>{});
        case 2:
            return f(integral_constant<std::size_t, 2>{});
        case 3:
            return f(integral_constant<std::size_t, 3>{});
        case 4:
            return f(integral_constant<std::size_t, 4>{});
        case 5:
            return f(integral_constant<std::size_t, 5>{});
        case 6:
            return f(integral_constant<std::size_t, 6>{});
        case 7:
            return f(integral_constant<std::size_t, 7>{});
        case 8:
            return f(integral_constant<std::size_t, 8>{});
        default:
            return f(integral_constant<std::size_t, 0>{});
        }
    }
};

// table.hpp's set_kernels and set_plain_kernels, instantiated for one
// instruction set and type in each arch_<set>_<type>.cpp.
template <class Arch, class T> void set_kernels(kernel_table& t) {
    using K = kernels<Arch, T>;
    typed_kernels<T>& k = t.of<T>();
    k.outer_fma = &K::outer_fma;
    k.fmexp = &K::fmexp;
    k.fmexp_many = &K::fmexp_many;
    k.matvec = &K::matvec;
    k.vecmat = &K::vecmat;
    k.fmexp_adjoint = &K::fmexp_adjoint;
    k.fmexp_jvp = &K::fmexp_jvp;
    k.fmexp_record = &K::fmexp_record;
    k.fmexp_adjoint_recorded = &K::fmexp_adjoint_recorded;
    k.fmexp_adjoint_many = &K::fmexp_adjoint_many;
    k.gram = &K::gram;
    k.fmexp_left_many = &K::fmexp_left_many;
    k.fmexp_left_jvp = &K::fmexp_left_jvp;
    set_plain_kernels<Arch, T>(t);
}

template <class Arch, class T> void set_plain_kernels(kernel_table& t) {
    using K = kernels<Arch, T>;
    typed_kernels<T>& k = t.of<T>();
    k.lincomb = &K::lincomb;       // (an elementwise pass: plain loads, FMAs and stores too)
    k.all_finite = &K::all_finite; // (the same: loads and adds)
    // The product (AVX-512 against AVX2 on the Zen 5: double 0.73-0.88x the
    // time for d = 2, 4, 8, 16; float 0.76-0.83x, (3, 7) 0.95x, (2, 10)
    // at par, (3, 5) 1.08x, its rows too short for 16 lanes).
    k.product = &K::product;
    // The product's adjoint: gb's half (broadcasts against rows, as the
    // product's) 0.67-0.88x AVX2's time in AVX-512 on the Zen 5 as it was;
    // ga's half with adjoint_right_lanes, 0.45-0.81x AVX2's for both halves
    // together (session 28).
    k.product_adjoint_left = &K::product_adjoint_left;
    k.product_adjoint_right = &K::product_adjoint_right;
    t.registers = K::vector_registers;
    k.lanes = K::W;
    k.fmexp_lanes = &K::fmexp_lanes;
    k.fmexp_lanes_exp = &K::fmexp_lanes_exp;
    k.fmexp_lanes_backward = &K::fmexp_lanes_backward;
    k.interleave = &K::interleave;
    k.deinterleave = &K::deinterleave;
    k.interleave_differences = &K::interleave_differences;
    k.scatter_differences = &K::scatter_differences;
    k.exp_lanes = &K::exp_lanes;
    k.exp_lanes_adjoint = &K::exp_lanes_adjoint;
    k.prefix_roots = &K::prefix_roots;
    k.prefix_roots_adjoint = &K::prefix_roots_adjoint;
}

} // namespace tensig::kernels::simd

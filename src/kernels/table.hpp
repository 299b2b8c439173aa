#pragma once
// The table of SIMD kernels for one instruction set; dispatch.cpp picks one.

#include <cstddef>
#include <type_traits>

namespace tensig::kernels {
std::size_t streaming_threshold_bytes(); // primitives.hpp
}

namespace tensig::kernels::simd {

// Limits of the lanes version of prefix_roots (its arrays on the stack):
// levels down to p, chains up to depth (exclusive).
inline constexpr std::size_t prefix_roots_max_p = 8, prefix_roots_max_depth = 128;

// One instruction set's kernels for one type T (float or double).
template <class T> struct typed_kernels {
    std::size_t lanes = 1; // paths per register in fmexp_lanes
    void (*lincomb)(T*, std::size_t, const T* const*, const T*, std::size_t) = nullptr;
    void (*outer_fma)(T*, const T*, std::size_t, const T*, std::size_t, const T*) = nullptr;
    void (*fmexp)(T*, const T*, std::size_t, std::size_t, T*) = nullptr;
    void (*fmexp_many)(T*, const T*, std::size_t, std::size_t, std::size_t, T*, T*, bool) = nullptr;
    void (*matvec)(T*, const T*, std::size_t, std::size_t, const T*, T*) = nullptr;
    void (*vecmat)(T*, const T*, std::size_t, const T*, std::size_t) = nullptr;
    void (*fmexp_adjoint)(T*, T*, const T*, const T*, std::size_t, std::size_t, T*) = nullptr;
    void (*fmexp_jvp)(T*, const T*, const T*, const T*, std::size_t, std::size_t, T*, std::size_t) = nullptr;
    void (*fmexp_record)(T*, const T*, std::size_t, std::size_t, T*, T*) = nullptr;
    void (*fmexp_adjoint_recorded)(T*, T*, const T*, const T*, std::size_t, std::size_t, T*) = nullptr;
    void (*fmexp_adjoint_many)(T*, T*, const T*, const T*, std::size_t, std::size_t, std::size_t,
                               T*) = nullptr;
    void (*fmexp_left_many)(T*, const T*, std::size_t, std::size_t, std::size_t, T*) = nullptr;
    void (*fmexp_left_jvp)(T*, const T*, const T*, const T*, std::size_t, std::size_t, T*,
                           std::size_t) = nullptr;
    void (*product)(T*, const T*, const T*, std::size_t, std::size_t) = nullptr;
    // the product's adjoint in halves: gb += a ⊳ gc (left), ga += gc ⌟ b (right)
    void (*product_adjoint_left)(T*, const T*, const T*, std::size_t, std::size_t) = nullptr;
    void (*product_adjoint_right)(T*, const T*, const T*, std::size_t, std::size_t) = nullptr;
    void (*gram)(T*, const T*, std::size_t, std::size_t, std::size_t, const std::size_t*, const T*,
                 std::size_t) = nullptr;
    bool (*all_finite)(const T*, std::size_t) = nullptr;
    void (*fmexp_lanes)(T*, const T*, std::size_t, std::size_t, std::size_t, T*, const T*,
                        const T*) = nullptr;
    void (*fmexp_lanes_exp)(T*, const T*, std::size_t, std::size_t, std::size_t, T*, const T*, const T*,
                            std::size_t, const T*) = nullptr;
    void (*fmexp_lanes_backward)(const T*, T*, T*, const T*, std::size_t, std::size_t, std::size_t, T*,
                                 const T*, T*, std::size_t) = nullptr;
    void (*interleave)(const T*, std::size_t, std::size_t, std::size_t, T*) = nullptr;
    void (*deinterleave)(const T*, std::size_t, std::size_t, T*, std::size_t) = nullptr;
    void (*scatter_differences)(T*, const T*, std::size_t, std::size_t, bool) = nullptr;
    void (*interleave_differences)(const T* const*, const std::size_t*, std::size_t, std::size_t,
                                   T*) = nullptr;
    void (*exp_lanes)(T*, const T*, std::size_t, std::size_t, std::size_t) = nullptr;
    void (*exp_lanes_adjoint)(const T*, T*, T*, const T*, std::size_t, std::size_t, std::size_t) = nullptr;
    void (*prefix_roots)(T*, const T*, std::size_t, std::size_t, std::size_t, T*, std::size_t,
                         std::size_t) = nullptr;
    void (*prefix_roots_adjoint)(const T*, const T*, std::size_t, std::size_t, std::size_t, const T*, T*,
                                 T*) = nullptr;
};

// The table dispatch.cpp picks: each type's kernels (d, f; of<T>()).
struct kernel_table {
    const char* name = nullptr;
    std::size_t registers = 16; // vector registers (horner::lanes_backward_segments)
    typed_kernels<double> d;
    typed_kernels<float> f;
    template <class T> typed_kernels<T>& of() {
        if constexpr (std::is_same<T, double>::value)
            return d;
        else
            return f;
    }
    template <class T> const typed_kernels<T>& of() const { return const_cast<kernel_table*>(this)->of<T>(); }
};

// Set t's kernels for T (t.of<T>()) to Arch's: every entry (set_kernels),
// or only those whose kernels are plain loads, stores and multiply-adds
// (set_plain_kernels: fmexp_lanes, fmexp_lanes_backward, the other lanes
// kernels, lincomb, all_finite, the product and its adjoint, lanes,
// registers), so that an instruction set can supply those alone (AVX-512,
// whose other kernels with xsimd 8.1 are slower than AVX2's,
// docs/benchmarks-history.md). Defined in simd.hpp; instantiated in one
// translation unit per instruction set and type, arch_<set>_<type>.cpp
// (set_plain_kernels alone for xsimd::avx512f), so that a build compiles
// them on as many cores as it has (the sanitizer build had taken 13
// minutes for AVX-512's double and float together).
template <class Arch, class T> void set_kernels(kernel_table& t);
template <class Arch, class T> void set_plain_kernels(kernel_table& t);

// Arch's table (Arch::name(), both types).
template <class Arch> kernel_table make_table() {
    kernel_table t;
    t.name = Arch::name();
    set_kernels<Arch, double>(t);
    set_kernels<Arch, float>(t);
    return t;
}

} // namespace tensig::kernels::simd

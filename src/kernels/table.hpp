#pragma once
// The table of SIMD kernels for one instruction set; dispatch.cpp picks one.

#include <cstddef>

namespace tensig::kernels {
std::size_t streaming_threshold_bytes(); // primitives.hpp
}

namespace tensig::kernels::simd {

// Limits of the lanes version of prefix_roots (its arrays on the stack):
// levels down to p, chains up to depth (exclusive).
inline constexpr std::size_t prefix_roots_max_p = 8, prefix_roots_max_depth = 128;

struct kernel_table {
    const char* name = nullptr;
    void (*lincomb_d)(double*, std::size_t, const double* const*, const double*, std::size_t) = nullptr;
    void (*lincomb_f)(float*, std::size_t, const float* const*, const float*, std::size_t) = nullptr;
    void (*outer_fma_d)(double*, const double*, std::size_t, const double*, std::size_t,
                        const double*) = nullptr;
    void (*outer_fma_f)(float*, const float*, std::size_t, const float*, std::size_t, const float*) = nullptr;
    void (*fmexp_d)(double*, const double*, std::size_t, std::size_t, double*) = nullptr;
    void (*fmexp_f)(float*, const float*, std::size_t, std::size_t, float*) = nullptr;
    void (*fmexp_many_d)(double*, const double*, std::size_t, std::size_t, std::size_t, double*, double*,
                         bool) = nullptr;
    void (*fmexp_many_f)(float*, const float*, std::size_t, std::size_t, std::size_t, float*, float*,
                         bool) = nullptr;
    void (*matvec_d)(double*, const double*, std::size_t, std::size_t, const double*, double*) = nullptr;
    void (*matvec_f)(float*, const float*, std::size_t, std::size_t, const float*, float*) = nullptr;
    void (*vecmat_d)(double*, const double*, std::size_t, const double*, std::size_t) = nullptr;
    void (*vecmat_f)(float*, const float*, std::size_t, const float*, std::size_t) = nullptr;
    void (*fmexp_adjoint_d)(double*, double*, const double*, const double*, std::size_t, std::size_t,
                            double*) = nullptr;
    void (*fmexp_adjoint_f)(float*, float*, const float*, const float*, std::size_t, std::size_t,
                            float*) = nullptr;
    void (*fmexp_jvp_d)(double*, const double*, const double*, const double*, std::size_t, std::size_t,
                        double*, std::size_t) = nullptr;
    void (*fmexp_jvp_f)(float*, const float*, const float*, const float*, std::size_t, std::size_t,
                        float*, std::size_t) = nullptr;
    void (*fmexp_record_d)(double*, const double*, std::size_t, std::size_t, double*, double*) = nullptr;
    void (*fmexp_record_f)(float*, const float*, std::size_t, std::size_t, float*, float*) = nullptr;
    void (*fmexp_adjoint_recorded_d)(double*, double*, const double*, const double*, std::size_t, std::size_t,
                                     double*) = nullptr;
    void (*fmexp_adjoint_recorded_f)(float*, float*, const float*, const float*, std::size_t, std::size_t,
                                     float*) = nullptr;
    void (*fmexp_adjoint_many_d)(double*, double*, const double*, const double*, std::size_t, std::size_t,
                                 std::size_t, double*) = nullptr;
    void (*fmexp_adjoint_many_f)(float*, float*, const float*, const float*, std::size_t, std::size_t,
                                 std::size_t, float*) = nullptr;
    void (*fmexp_left_many_d)(double*, const double*, std::size_t, std::size_t, std::size_t, double*) = nullptr;
    void (*fmexp_left_many_f)(float*, const float*, std::size_t, std::size_t, std::size_t, float*) = nullptr;
    void (*fmexp_left_jvp_d)(double*, const double*, const double*, const double*, std::size_t, std::size_t,
                             double*, std::size_t) = nullptr;
    void (*fmexp_left_jvp_f)(float*, const float*, const float*, const float*, std::size_t, std::size_t,
                             float*, std::size_t) = nullptr;
    void (*product_d)(double*, const double*, const double*, std::size_t, std::size_t) = nullptr;
    void (*product_f)(float*, const float*, const float*, std::size_t, std::size_t) = nullptr;
    // the product's adjoint in halves: gb += a ⊳ gc (left), ga += gc ⌟ b (right)
    void (*product_adjoint_left_d)(double*, const double*, const double*, std::size_t, std::size_t) = nullptr;
    void (*product_adjoint_left_f)(float*, const float*, const float*, std::size_t, std::size_t) = nullptr;
    void (*product_adjoint_right_d)(double*, const double*, const double*, std::size_t,
                                    std::size_t) = nullptr;
    void (*product_adjoint_right_f)(float*, const float*, const float*, std::size_t, std::size_t) = nullptr;
    void (*gram_d)(double*, const double*, std::size_t, std::size_t, std::size_t, const std::size_t*,
                   const double*, std::size_t) = nullptr;
    void (*gram_f)(float*, const float*, std::size_t, std::size_t, std::size_t, const std::size_t*, const float*,
                   std::size_t) = nullptr;
    bool (*all_finite_d)(const double*, std::size_t) = nullptr;
    bool (*all_finite_f)(const float*, std::size_t) = nullptr;
    std::size_t lanes_d = 1, lanes_f = 1; // paths per register in fmexp_lanes
    std::size_t registers = 16;           // vector registers (horner::lanes_backward_segments)
    void (*fmexp_lanes_d)(double*, const double*, std::size_t, std::size_t, std::size_t, double*,
                          const double*, const double*) = nullptr;
    void (*fmexp_lanes_f)(float*, const float*, std::size_t, std::size_t, std::size_t, float*,
                          const float*, const float*) = nullptr;
    void (*fmexp_lanes_exp_d)(double*, const double*, std::size_t, std::size_t, std::size_t, double*, const double*,
                              const double*, std::size_t, const double*) = nullptr;
    void (*fmexp_lanes_exp_f)(float*, const float*, std::size_t, std::size_t, std::size_t, float*, const float*,
                              const float*, std::size_t, const float*) = nullptr;
    void (*fmexp_lanes_backward_d)(const double*, double*, double*, const double*, std::size_t, std::size_t,
                                   std::size_t, double*, const double*, double*, std::size_t) = nullptr;
    void (*fmexp_lanes_backward_f)(const float*, float*, float*, const float*, std::size_t, std::size_t,
                                   std::size_t, float*, const float*, float*, std::size_t) = nullptr;
    void (*interleave_d)(const double*, std::size_t, std::size_t, std::size_t, double*) = nullptr;
    void (*interleave_f)(const float*, std::size_t, std::size_t, std::size_t, float*) = nullptr;
    void (*deinterleave_d)(const double*, std::size_t, std::size_t, double*, std::size_t) = nullptr;
    void (*deinterleave_f)(const float*, std::size_t, std::size_t, float*, std::size_t) = nullptr;
    void (*scatter_differences_d)(double*, const double*, std::size_t, std::size_t, bool) = nullptr;
    void (*scatter_differences_f)(float*, const float*, std::size_t, std::size_t, bool) = nullptr;
    void (*interleave_differences_d)(const double* const*, const std::size_t*, std::size_t, std::size_t,
                                     double*) = nullptr;
    void (*interleave_differences_f)(const float* const*, const std::size_t*, std::size_t, std::size_t,
                                     float*) = nullptr;
    void (*exp_lanes_d)(double*, const double*, std::size_t, std::size_t, std::size_t) = nullptr;
    void (*exp_lanes_f)(float*, const float*, std::size_t, std::size_t, std::size_t) = nullptr;
    void (*exp_lanes_adjoint_d)(const double*, double*, double*, const double*, std::size_t, std::size_t,
                                std::size_t) = nullptr;
    void (*exp_lanes_adjoint_f)(const float*, float*, float*, const float*, std::size_t, std::size_t,
                                std::size_t) = nullptr;
    void (*prefix_roots_d)(double*, const double*, std::size_t, std::size_t, std::size_t, double*,
                           std::size_t, std::size_t) = nullptr;
    void (*prefix_roots_f)(float*, const float*, std::size_t, std::size_t, std::size_t, float*, std::size_t,
                           std::size_t) = nullptr;
    void (*prefix_roots_adjoint_d)(const double*, const double*, std::size_t, std::size_t, std::size_t,
                                   const double*, double*, double*) = nullptr;
    void (*prefix_roots_adjoint_f)(const float*, const float*, std::size_t, std::size_t, std::size_t, const float*,
                                   float*, float*) = nullptr;
};

// Set the entries of t for T (the _d ones for double, the _f ones for
// float) to Arch's kernels: every entry (set_kernels), or only those whose
// kernels are plain loads, stores and multiply-adds (set_plain_kernels:
// fmexp_lanes, fmexp_lanes_backward, the other lanes kernels, lincomb,
// all_finite, the product and its adjoint, lanes_d/lanes_f, registers), so
// that an instruction set can supply those alone (AVX-512, whose other
// kernels with xsimd 8.1 are slower than AVX2's,
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

// The lanes kernels, lincomb, the product and its adjoint for AVX-512 in
// double (compiled with -mavx512f): plain loads, stores and multiply-adds
// (and the product's swizzles, the adjoint's permutes), which xsimd 8.1
// maps well (its avx512f fma is x*y + z, fused by -ffp-contract=fast,
// CMakeLists.txt); the other kernels stay AVX2's (dispatch.cpp).
#include "simd.hpp"

namespace tensig::kernels::simd {
template void set_plain_kernels<xsimd::avx512f, double>(kernel_table&);
} // namespace tensig::kernels::simd

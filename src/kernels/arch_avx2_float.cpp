// The kernels for AVX2 + FMA in float (compiled with -mavx2 -mfma).
#include "simd.hpp"

namespace tensig::kernels::simd {
template void set_kernels<xsimd::fma3<xsimd::avx2>, float>(kernel_table&);
} // namespace tensig::kernels::simd

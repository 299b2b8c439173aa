// The AVX-512 kernels of arch_avx512_double.cpp, in float.
#include "simd.hpp"

namespace tensig::kernels::simd {
template void set_plain_kernels<xsimd::avx512f, float>(kernel_table&);
} // namespace tensig::kernels::simd

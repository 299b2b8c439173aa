// Kernels for AVX2 + FMA (compiled with -mavx2 -mfma).
#include "simd.hpp"

namespace tensig::kernels::simd {
template <> kernel_table make_table<xsimd::fma3<xsimd::avx2>>() {
    return make_table_for<xsimd::fma3<xsimd::avx2>>();
}
} // namespace tensig::kernels::simd

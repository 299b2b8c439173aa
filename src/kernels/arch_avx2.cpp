// Kernels for AVX2 + FMA (compiled with -mavx2 -mfma).
#include "simd.hpp"

namespace tensig::kernels::simd {
template <> kernel_table make_table<xsimd::fma3<xsimd::avx2>>() {
    return make_table_for<xsimd::fma3<xsimd::avx2>>();
}
template <> void set_lanes<xsimd::fma3<xsimd::avx2>>(kernel_table& t) {
    set_lanes_for<xsimd::fma3<xsimd::avx2>>(t);
}
} // namespace tensig::kernels::simd

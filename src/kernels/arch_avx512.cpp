// The lanes kernels for AVX-512 (compiled with -mavx512f): plain loads,
// stores and multiply-adds, one path per lane, which xsimd 8.1 maps well
// (its avx512f fma is x*y + z, fused by -ffp-contract=fast, CMakeLists.txt);
// the other kernels stay AVX2's (dispatch.cpp).
#include "simd.hpp"

namespace tensig::kernels::simd {
template <> void set_lanes<xsimd::avx512f>(kernel_table& t) {
    set_lanes_for<xsimd::avx512f>(t);
}
} // namespace tensig::kernels::simd

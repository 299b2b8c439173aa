// Kernels for AVX-512F (compiled with -mavx512f -mfma).
#include "simd.hpp"

namespace tensig::kernels::simd {
template <>
kernel_table make_table<xsimd::avx512f>() {
    return make_table_for<xsimd::avx512f>();
}
} // namespace tensig::kernels::simd

// Kernels for SSE2, the x86-64 baseline every CPU runs.
#include "simd.hpp"

namespace tensig::kernels::simd {
template <> kernel_table make_table<xsimd::sse2>() {
    return make_table_for<xsimd::sse2>();
}
} // namespace tensig::kernels::simd

// Kernels for SSE2, the x86-64 baseline every CPU runs.
#include "simd.hpp"

namespace tensig::kernels::simd {
template <> kernel_table make_table<xsimd::sse2>() {
    return make_table_for<xsimd::sse2>();
}
template <> void set_lanes<xsimd::sse2>(kernel_table& t) {
    set_lanes_for<xsimd::sse2>(t);
}
} // namespace tensig::kernels::simd

// The kernels for SSE2 in float (every x86-64 CPU has it; no -m flags).
#include "simd.hpp"

namespace tensig::kernels::simd {
template void set_kernels<xsimd::sse2, float>(kernel_table&);
} // namespace tensig::kernels::simd

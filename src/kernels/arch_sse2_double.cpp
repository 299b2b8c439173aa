// The kernels for SSE2 in double (every x86-64 CPU has it; no -m flags).
#include "simd.hpp"

namespace tensig::kernels::simd {
template void set_kernels<xsimd::sse2, double>(kernel_table&);
} // namespace tensig::kernels::simd

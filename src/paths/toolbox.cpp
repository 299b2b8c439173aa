// The signature helpers (join, scale and their backward passes) for float
// and double, compiled once here so that user translation units do not
// instantiate them (see paths/toolbox.hpp).
#include "tensig/paths/toolbox.hpp"

namespace tensig::detail {
#define TENSIG_TOOLBOX_INSTANTIATE(T)                                                                        \
    template void signature_join_batch<T>(const T*, const T*, std::size_t, std::size_t, std::size_t, T*,     \
                                          std::size_t);                                                      \
    template void signature_join_backward_batch<T>(const T*, const T*, const T*, std::size_t, std::size_t,   \
                                                   std::size_t, T*, T*, std::size_t);                        \
    template void signature_scale_batch<T>(const T*, const T*, std::size_t, std::size_t, std::size_t, T*,    \
                                           std::size_t);                                                     \
    template void signature_scale_backward_batch<T>(const T*, const T*, const T*, std::size_t, std::size_t,  \
                                                    std::size_t, T*, T*, std::size_t);
TENSIG_TOOLBOX_INSTANTIATE(float)
TENSIG_TOOLBOX_INSTANTIATE(double)
#undef TENSIG_TOOLBOX_INSTANTIATE
} // namespace tensig::detail

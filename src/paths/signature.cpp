// The path functions for float and double, compiled once here so that user
// translation units do not instantiate them (see paths/detail/core.hpp).
#include "tensig/paths/detail/core.hpp"

namespace tensig::detail {
#define TENSIG_PATH_CORE_INSTANTIATE(T)                                                                      \
    template void signature_batch<T>(const T*, std::size_t, std::size_t, std::size_t, std::size_t,           \
                                     const signature_options&, T*);                                          \
    template void signature_stream_one<T>(const T*, std::size_t, std::size_t, std::size_t,                   \
                                          const signature_options&, T*);                                     \
    template void signature_combine_batch<T>(const T*, const T*, std::size_t, std::size_t, std::size_t, T*,  \
                                             std::size_t);                                                   \
    template void logsignature_batch<T>(const T*, std::size_t, std::size_t, std::size_t, std::size_t,        \
                                        const signature_options&, logsig_basis, T*);                         \
    template void signature_to_logsignature_batch<T>(const T*, std::size_t, std::size_t, std::size_t,        \
                                                     logsig_basis, T*, std::size_t);                         \
    template void logsignature_to_signature_batch<T>(const T*, std::size_t, std::size_t, std::size_t,        \
                                                     logsig_basis, T*, std::size_t);                         \
    template void signature_combine_many_batch<T>(const T*, std::size_t, std::size_t, std::size_t,           \
                                                  std::size_t, T*, std::size_t);
TENSIG_PATH_CORE_INSTANTIATE(float)
TENSIG_PATH_CORE_INSTANTIATE(double)
#undef TENSIG_PATH_CORE_INSTANTIATE
} // namespace tensig::detail

#include "tensig/paths/backward.hpp"

namespace tensig::detail {
#define TENSIG_BACKWARD_CORE_INSTANTIATE(T)                                                                  \
    template void signature_backward_batch<T>(const T*, const T*, std::size_t, std::size_t, std::size_t,     \
                                              std::size_t, const signature_options&,                         \
                                              const backward_options&, T*);                                  \
    template void signature_combine_backward_batch<T>(const T*, const T*, const T*, std::size_t,             \
                                                      std::size_t, std::size_t, T*, T*);                     \
    template void logsignature_backward_batch<T>(const T*, const T*, std::size_t, std::size_t, std::size_t,  \
                                                 std::size_t, const signature_options&, logsig_basis,        \
                                                 const backward_options&, T*);                               \
    template void signature_combine_many_backward_batch<T>(const T*, const T*, std::size_t, std::size_t,     \
                                                           std::size_t, std::size_t, T*, std::size_t);       \
    template void signature_jacobian_one<T>(const T*, std::size_t, std::size_t, std::size_t,                 \
                                            const signature_options&, T*);                                   \
    template void signature_jacobian_columns<T>(const T*, std::size_t, std::size_t, std::size_t,             \
                                                const signature_options&, T*, T*);
TENSIG_BACKWARD_CORE_INSTANTIATE(float)
TENSIG_BACKWARD_CORE_INSTANTIATE(double)
#undef TENSIG_BACKWARD_CORE_INSTANTIATE
} // namespace tensig::detail

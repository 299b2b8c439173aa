#pragma once
/// \file
/// Cache-line aligned storage for tensor coefficients.

#include <cstddef>
#include <new>
#include <vector>

namespace tensig {

/// Allocator returning 64-byte aligned memory (a cache line; enough for any
/// SIMD register up to AVX-512).
template <class T>
struct aligned_allocator {
    using value_type = T;
    static constexpr std::size_t alignment = 64;

    aligned_allocator() noexcept = default;
    template <class U>
    aligned_allocator(const aligned_allocator<U>&) noexcept {}

    T* allocate(std::size_t n) {
        if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
        return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(alignment)));
    }
    void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t(alignment)); }

    template <class U>
    friend bool operator==(const aligned_allocator&, const aligned_allocator<U>&) noexcept {
        return true;
    }
    template <class U>
    friend bool operator!=(const aligned_allocator&, const aligned_allocator<U>&) noexcept {
        return false;
    }
};

template <class T>
using aligned_vector = std::vector<T, aligned_allocator<T>>;

} // namespace tensig

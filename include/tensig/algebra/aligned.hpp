#pragma once
/// \file
/// Cache-line aligned storage for tensor coefficients.

#include <cstddef>
#include <new>
#include <utility>
#include <vector>

namespace tensig {

/// Allocator returning 64-byte aligned memory (a cache line; enough for any
/// SIMD register up to AVX-512).
template <class T> struct aligned_allocator {
    using value_type = T;
    static constexpr std::size_t alignment = 64;

    aligned_allocator() noexcept = default;
    template <class U> aligned_allocator(const aligned_allocator<U>&) noexcept {}

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

template <class T> using aligned_vector = std::vector<T, aligned_allocator<T>>;

/// aligned_allocator whose resize() leaves trivial values uninitialised: for
/// scratch that is always written before it is read, where zeroing would
/// cost as much as the work.
template <class T> struct scratch_allocator : aligned_allocator<T> {
    using value_type = T;
    template <class U> struct rebind { using other = scratch_allocator<U>; };
    scratch_allocator() noexcept = default;
    template <class U> scratch_allocator(const scratch_allocator<U>&) noexcept {}
    template <class U, class... Args> void construct(U* p, Args&&... args) {
        if constexpr (sizeof...(Args) == 0)
            ::new (static_cast<void*>(p)) U;
        else
            ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
};

template <class T> using scratch_vector = std::vector<T, scratch_allocator<T>>;

} // namespace tensig

#include "alloc_counter.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<long> n_allocs{0};
std::atomic<std::size_t> n_bytes{0};
std::atomic<std::size_t> max_bytes{0};

void record(std::size_t n) {
    ++n_allocs;
    n_bytes += n;
    std::size_t m = max_bytes.load();
    while (n > m && !max_bytes.compare_exchange_weak(m, n)) {
    }
}
} // namespace

namespace alloc {
long count() {
    return n_allocs.load();
}
std::size_t bytes() {
    return n_bytes.load();
}
std::size_t largest() {
    return max_bytes.load();
}
} // namespace alloc

void* operator new(std::size_t n) {
    record(n);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t al) {
    record(n);
    const std::size_t a = static_cast<std::size_t>(al);
    if (void* p = std::aligned_alloc(a, (n + a - 1) / a * a)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}

// The remaining forms, so that every allocation and deallocation in the test
// binary goes through the pair above (AddressSanitizer checks that they match).
void* operator new[](std::size_t n) {
    return ::operator new(n);
}
void* operator new[](std::size_t n, std::align_val_t al) {
    return ::operator new(n, al);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return ::operator new(n);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return ::operator new(n);
    } catch (...) {
        return nullptr;
    }
}
void* operator new(std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
    try {
        return ::operator new(n, al);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
    try {
        return ::operator new(n, al);
    } catch (...) {
        return nullptr;
    }
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    std::free(p);
}

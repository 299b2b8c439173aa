#pragma once
// Counts every call of the global operator new in the test binary (the
// replacement lives in alloc_counter.cpp), to prove that code paths do not
// allocate, or how much they allocate.
#include <cstddef>

namespace alloc {
/// Number of allocations so far.
long count();
/// Bytes allocated so far (never decreases).
std::size_t bytes();
/// Largest single allocation so far, in bytes.
std::size_t largest();
} // namespace alloc

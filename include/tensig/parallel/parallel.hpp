#pragma once
/// \file
/// Layer 8: the one door to threads. Everything parallel in tensig goes
/// through these functions, implemented with oneTBB in src/parallel/; no
/// other file includes TBB.
///
/// Results never depend on the number of threads: work is split into pieces
/// fixed by the problem (never by the thread count), every piece is computed
/// the same way on whatever thread runs it, and pieces are combined in a
/// fixed order.

#include <cstddef>
#include <functional>

namespace tensig::parallel {

/// Threads used when a caller asks for 0 ("all cores").
std::size_t hardware_threads();

/// Run body(begin, end) over [0, n) split into chunks of at most `grain`
/// items, on up to `threads` threads (0: all cores; 1: in the calling
/// thread, in order). Chunks are disjoint and cover [0, n); each is run once.
/// The body may allocate per chunk (workspaces), so callers need no
/// allocation per item. Exceptions thrown by the body propagate.
void for_chunks(std::size_t n, std::size_t grain, std::size_t threads,
                const std::function<void(std::size_t, std::size_t)>& body);

} // namespace tensig::parallel

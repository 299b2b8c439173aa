// The TBB side of tensig::parallel (the only translation units that include TBB).
#include "tensig/parallel/parallel.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

namespace tensig::parallel {

std::size_t hardware_threads() {
    return static_cast<std::size_t>(std::max(1, oneapi::tbb::info::default_concurrency()));
}

namespace {

// The arena of `threads` threads, made once and kept: a task_arena made per
// call had its workers join it afresh every time, which cost more than a
// long path's pieces (one path of (10000, 3, 5), five parallel loops a
// call: 0.44-2.3 ms on two threads against 0.20 ms on one). Never destroyed:
// the arenas live until the process ends, as TBB's own does.
oneapi::tbb::task_arena& arena_of(int threads) {
    static std::mutex lock;
    static auto* arenas = new std::map<int, std::unique_ptr<oneapi::tbb::task_arena>>;
    const std::lock_guard<std::mutex> guard(lock);
    std::unique_ptr<oneapi::tbb::task_arena>& a = (*arenas)[threads];
    if (!a) a = std::make_unique<oneapi::tbb::task_arena>(threads);
    return *a;
}

} // namespace

void for_chunks(std::size_t n, std::size_t grain, std::size_t threads,
                const std::function<void(std::size_t, std::size_t)>& body) {
    if (n == 0) return;
    grain = std::max<std::size_t>(grain, 1);
    if (threads == 0) threads = hardware_threads();
    if (threads == 1 || n <= grain) {
        for (std::size_t b = 0; b < n; b += grain)
            body(b, std::min(n, b + grain));
        return;
    }
    arena_of(static_cast<int>(threads)).execute([&] {
        // simple_partitioner: chunks of exactly `grain` items (the last shorter),
        // whatever the number of threads
        oneapi::tbb::parallel_for(
            oneapi::tbb::blocked_range<std::size_t>(0, n, grain),
            [&](const oneapi::tbb::blocked_range<std::size_t>& r) { body(r.begin(), r.end()); },
            oneapi::tbb::simple_partitioner());
    });
}

} // namespace tensig::parallel

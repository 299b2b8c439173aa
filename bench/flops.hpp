#pragma once
// The FLOP count the benchmarks report (docs/benchmarks.md, "FLOP count").

#include <cstddef>

namespace bench {

/// Multiply-adds of one fused multiply-exponentiate at dimension d and
/// depth N: sum_{k=1..N} sum_{j=1..k} d^j (DESIGN.md §1).
inline double fmexp_madds(std::size_t d, std::size_t N) {
    double total = 0;
    for (std::size_t k = 1; k <= N; ++k) {
        double p = 1;
        for (std::size_t j = 1; j <= k; ++j) {
            p *= double(d);
            total += p;
        }
    }
    return total;
}

} // namespace bench

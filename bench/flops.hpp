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

/// Multiply-adds of one truncated product c = a ⊗ b at dimension d and depth
/// N: level k sums the k + 1 terms a_i ⊗ b_{k-i}, d^k multiply-adds each
/// (the terms with a_0 or b_0 included), sum_{k=1..N} (k+1) d^k.
inline double product_madds(std::size_t d, std::size_t N) {
    double total = 0, p = 1;
    for (std::size_t k = 1; k <= N; ++k) {
        p *= double(d);
        total += double(k + 1) * p;
    }
    return total;
}

} // namespace bench

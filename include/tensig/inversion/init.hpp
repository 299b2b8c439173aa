#pragma once
/// \file
/// Layer 7: starting paths for an inversion.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "tensig/error.hpp"
#include "tensig/shape/shape.hpp"

namespace tensig {

/// K points uniform in [-1, 1]^d from std::mt19937_64(seed) (the same
/// sequence on every platform with libstdc++).
template <class T> std::vector<T> init_random(std::size_t points, std::size_t dim, std::uint64_t seed) {
    std::mt19937_64 gen(seed);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::vector<T> x(points * dim);
    for (auto& v : x)
        v = T(u(gen));
    return x;
}

/// K points at the origin (the original paper's start).
template <class T> std::vector<T> init_zeros(std::size_t points, std::size_t dim) {
    return std::vector<T>(points * dim, T(0));
}

/// Resample a polyline (n points, row-major) to K points equally spaced in
/// arc length (the first and last points kept).
template <class T>
std::vector<T> resample_by_length(const std::vector<T>& path, std::size_t n, std::size_t dim, std::size_t K) {
    std::vector<double> cum(n, 0.0);
    for (std::size_t j = 1; j < n; ++j) {
        double s = 0;
        for (std::size_t c = 0; c < dim; ++c) {
            const double e = static_cast<double>(path[j * dim + c] - path[(j - 1) * dim + c]);
            s += e * e;
        }
        cum[j] = cum[j - 1] + std::sqrt(s);
    }
    std::vector<T> out(K * dim);
    const double total = cum.back();
    std::size_t seg = 1;
    for (std::size_t k = 0; k < K; ++k) {
        const double target = K == 1 ? 0.0 : total * static_cast<double>(k) / static_cast<double>(K - 1);
        while (seg < n - 1 && cum[seg] < target)
            ++seg;
        const double len = n > 1 ? cum[seg] - cum[seg - 1] : 0.0;
        const double t = len > 0 ? std::clamp((target - cum[seg - 1]) / len, 0.0, 1.0) : 0.0;
        for (std::size_t c = 0; c < dim; ++c) {
            const T a = n > 1 ? path[(seg - 1) * dim + c] : path[c];
            const T b = n > 1 ? path[seg * dim + c] : path[c];
            out[k * dim + c] = a + T(t) * (b - a);
        }
    }
    return out;
}

/// The insertion method (Chang & Lyons 2019; Fermanian, Chang, Lyons & Biau
/// 2023): with the path run at constant speed over [0, 1], its velocity on
/// the p-th of n equal steps is approximately
///   v_p[i] = n Σ_w S^{n-1}[w] S^n[insert(w, p, i)] / ||S^{n-1}||²,
/// from levels n-1 and n of the signature (insert puts letter i at position
/// p of the word w). The n+1 points (cumulative sums of v_p / n from the
/// origin) are resampled by arc length to K points.
/// `sig` holds levels 1..depth; `n` defaults to the depth (0 means depth).
/// \throws invalid_input if n < 2 or n > depth, or the signature's length is wrong.
template <class T>
std::vector<T> init_insertion(const T* sig, std::size_t sig_len, std::size_t dim, std::size_t depth,
                              std::size_t points, std::size_t n = 0) {
    const shape s(dim, depth);
    if (sig_len != s.sig_length())
        throw invalid_input("insertion start: signature has length " + std::to_string(sig_len) +
                            ", expected " + std::to_string(s.sig_length()));
    if (n == 0) n = depth;
    if (n < 2 || n > depth)
        throw invalid_input("insertion start needs 2 <= n <= depth (n = " + std::to_string(n) + ", depth " +
                            std::to_string(depth) + ")");
    const T* lower = sig + s.level_offset(n - 1) - 1; // level n-1 (signature offsets skip level 0)
    const T* upper = sig + s.level_offset(n) - 1;     // level n
    const std::size_t n_lower = s.level_size(n - 1);
    T norm2 = T(0);
    for (std::size_t w = 0; w < n_lower; ++w)
        norm2 += lower[w] * lower[w];
    std::vector<T> path((n + 1) * dim, T(0));
    if (!(norm2 > T(0))) return resample_by_length(path, n + 1, dim, points); // a constant path
    for (std::size_t p = 1; p <= n; ++p) {
        const std::size_t tail = s.level_size(n - p); // d^(n-p): letters after the inserted one
        for (std::size_t i = 0; i < dim; ++i) {
            T acc = T(0);
            for (std::size_t w = 0; w < n_lower; ++w) {
                const std::size_t prefix = w / tail, suffix = w % tail;
                acc += lower[w] * upper[(prefix * dim + i) * tail + suffix];
            }
            // increment of step p = v_p / n = acc / ||S^{n-1}||²
            path[p * dim + i] = path[(p - 1) * dim + i] + acc / norm2;
        }
    }
    return resample_by_length(path, n + 1, dim, points);
}

} // namespace tensig

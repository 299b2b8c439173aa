#pragma once
/// \file
/// Layer 8: many inversions at once, in parallel. Each item is inverted with
/// its own seed (the batch seed plus its index), so every item's result is
/// the same whatever the number of threads or the order items run in. A
/// failure in one item is reported in its result and never stops the others.

#include <atomic>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "tensig/inversion/invert.hpp"

namespace tensig {

struct invert_batch_options {
    invert_options invert;   ///< per-item options; item i uses seed invert.seed + i
    std::size_t threads = 0; ///< 0: all cores
    /// Called after each item with (items done, total), from one thread at a time.
    std::function<void(std::size_t, std::size_t)> progress;
    /// When set and true, items not yet started are skipped (reported as cancelled).
    const std::atomic<bool>* cancel = nullptr;
};

/// One item of a batch inversion.
struct invert_item {
    bool ok = false;             ///< ran to the end (false: see `error`)
    bool converged = false;      ///< reached invert_options::exact_loss
    std::string error;           ///< why the item failed or was skipped
    invert_result result;        ///< path (K, d), loss, iterations, seconds, route
    double hausdorff = -1;       ///< path error against the reference, if one was given (else -1)
    double max_point_error = -1; ///< when the reduced point counts agree (else -1)
};

/// Invert B targets (B, sig_length) in parallel. With `references` (B, L, d)
/// (the paths the targets came from), each item also gets its path error
/// (compare_paths: translated, exactly tree-reduced, Hausdorff).
std::vector<invert_item> invert_batch(const xt::xtensor<double, 2>& targets, std::size_t dim,
                                      std::size_t depth, const invert_batch_options& options = {},
                                      const xt::xtensor<double, 3>* references = nullptr);

} // namespace tensig

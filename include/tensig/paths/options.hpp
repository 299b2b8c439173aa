#pragma once

#include <cstddef>
/// \file
/// Options of the path functions.

namespace tensig {

/// Options of `signature`, `signature_stream` and `logsignature`.
struct signature_options {
    /// Prepend the origin to every path (Signatory's `basepoint=True`): the
    /// first segment runs from 0 to the first point.
    bool basepoint = false;
    /// Return the signature of the reversed path, which is the inverse
    /// (antipode) of the signature.
    bool inverse = false;
    /// Threads for batches and long paths (0: all cores, 1: the calling
    /// thread only). Results are bit-identical for every value.
    std::size_t threads = 0;
};

/// Coordinates of a log-signature (DESIGN.md §1).
enum class logsig_basis {
    expanded, ///< all tensor coefficients of levels 1..N of log S
    words,    ///< the coefficients of log S at the Lyndon words
    lyndon    ///< the Lyndon-bracket basis of the free Lie algebra (iisignature's default)
};

} // namespace tensig

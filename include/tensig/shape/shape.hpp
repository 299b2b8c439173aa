#pragma once
/// \file
/// Layer 1: the shape of the truncated tensor algebra T^N(R^d).
///
/// Level k of T^N(R^d) has d^k coefficients indexed by words i1..ik over the
/// letters 0..d-1, flattened row-major (first letter most significant). A
/// tensor stores levels 0..N one after another; a signature as returned to
/// users holds levels 1..N only.

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "tensig/error.hpp"

namespace tensig {

namespace detail {

/// a * b, or throw size_error naming `what` if it overflows std::size_t.
inline std::size_t checked_mul(std::size_t a, std::size_t b, const char* what) {
    if (a != 0 && b > std::numeric_limits<std::size_t>::max() / a)
        throw size_error(std::string(what) + ": size overflows std::size_t");
    return a * b;
}

/// a + b, or throw size_error naming `what` if it overflows std::size_t.
inline std::size_t checked_add(std::size_t a, std::size_t b, const char* what) {
    if (b > std::numeric_limits<std::size_t>::max() - a)
        throw size_error(std::string(what) + ": size overflows std::size_t");
    return a + b;
}

/// Bytes of physical memory of this machine (0 if unknown).
std::size_t physical_memory_bytes() noexcept;

/// Whether `count` objects of `elem_size` bytes fit in the machine's memory
/// (its size unknown: whether they fit in 2^64 bytes).
bool fits_in_memory(std::size_t count, std::size_t elem_size) noexcept;

/// Throw size_error if `count` objects of `elem_size` bytes would not fit in
/// the machine's memory. `what` names the request in the message.
void check_fits_in_memory(std::size_t count, std::size_t elem_size, const std::string& what);

/// check_fits_in_memory with the name built by `what()` only when it throws:
/// the checks run on every output and tensor made, where formatting a
/// shape into a string had been most of their cost.
template <class Describe>
void check_fits_in_memory_lazy(std::size_t count, std::size_t elem_size, Describe&& what) {
    if (!fits_in_memory(count, elem_size)) check_fits_in_memory(count, elem_size, what());
}

} // namespace detail

/// The run-time shape (dimension d, depth N) of T^N(R^d). A small value type
/// (no allocation, cheap to copy). Constructing one checks that d >= 1 and
/// that the total size d^0 + ... + d^N fits in std::size_t.
class shape {
  public:
    /// \throws invalid_input if dim == 0; size_error on overflow.
    shape(std::size_t dim, std::size_t depth) : dim_(dim), depth_(depth) {
        if (dim == 0) throw invalid_input("dimension must be at least 1 (got 0)");
        std::size_t total = 0, level = 1;
        const std::size_t max = std::numeric_limits<std::size_t>::max();
        for (std::size_t k = 0; k <= depth; ++k) {
            if (level > max - total || (k < depth && level > max / dim))
                throw size_error("the tensor algebra of dimension " + std::to_string(dim) + " and depth " +
                                 std::to_string(depth) + " has more coefficients than std::size_t can count");
            total += level;
            if (k < depth) level *= dim;
        }
        size_ = total;
    }

    std::size_t dim() const noexcept { return dim_; }
    std::size_t depth() const noexcept { return depth_; }
    /// Number of coefficients of levels 0..N.
    std::size_t size() const noexcept { return size_; }
    /// d^k (k <= depth).
    std::size_t level_size(std::size_t k) const noexcept {
        std::size_t n = 1;
        for (std::size_t i = 0; i < k; ++i)
            n *= dim_;
        return n;
    }
    /// Index of the first coefficient of level k (k <= depth + 1) in the
    /// flattened storage: d^0 + ... + d^(k-1).
    std::size_t level_offset(std::size_t k) const noexcept {
        std::size_t off = 0, n = 1;
        for (std::size_t i = 0; i < k; ++i, n *= dim_)
            off += n;
        return off;
    }
    /// Number of coefficients of levels 1..N (the length of a signature).
    std::size_t sig_length() const noexcept { return size_ - 1; }

    friend bool operator==(const shape& a, const shape& b) noexcept {
        return a.dim_ == b.dim_ && a.depth_ == b.depth_;
    }
    friend bool operator!=(const shape& a, const shape& b) noexcept { return !(a == b); }

    /// "(dim 2, depth 12)", for messages.
    std::string str() const {
        return "(dim " + std::to_string(dim_) + ", depth " + std::to_string(depth_) + ")";
    }

  private:
    std::size_t dim_;
    std::size_t depth_;
    std::size_t size_ = 0;
};

/// d + d^2 + ... + d^N (iisignature's `siglength`).
/// \throws invalid_input if dim or depth is 0; size_error on overflow.
std::size_t sig_length(std::size_t dim, std::size_t depth);

/// Dimension of the free Lie algebra truncated at depth N over d letters, by
/// Witt's formula: sum over k = 1..N of (1/k) sum_{m | k} mu(m) d^(k/m)
/// (iisignature's `logsiglength`).
/// \throws invalid_input if dim or depth is 0; size_error on overflow.
std::size_t logsig_length(std::size_t dim, std::size_t depth);

/// Index inside its level of the word i1..ik (letters in 0..d-1):
/// ((i1 d + i2) d + ...) d + ik.
/// \throws invalid_input if a letter is >= dim.
std::size_t word_to_index(const std::vector<std::size_t>& word, std::size_t dim);

/// The word of length `level` at index `index` inside its level.
/// \throws invalid_input if index >= dim^level.
std::vector<std::size_t> index_to_word(std::size_t index, std::size_t level, std::size_t dim);

/// Position of the word in the flattened tensor storage (levels 0..N), i.e.
/// level_offset(|w|) + word_to_index(w).
std::size_t word_to_flat(const std::vector<std::size_t>& word, const shape& s);

} // namespace tensig

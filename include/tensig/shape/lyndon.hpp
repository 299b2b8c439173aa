#pragma once
/// \file
/// Layer 1, the combinatorics of the free Lie algebra: Lyndon words, their
/// standard bracketing, and the prepared tables that turn a log-signature in
/// tensor coordinates into Lyndon coordinates and back (algebra/lie.hpp uses
/// them; docs/conventions.md states the bases).
///
/// Letters are 0-based here (0..d-1); the bracket strings follow iisignature
/// and are 1-based ("[1,[1,2]]").

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tensig {

/// True if w is a Lyndon word: non-empty and strictly smaller, in
/// lexicographic order, than each of its proper rotations.
bool is_lyndon(const std::vector<std::size_t>& w);

/// The Lyndon words over `dim` letters of lengths 1..depth, ordered by length
/// and then lexicographically (iisignature's and Signatory's order). There
/// are logsig_length(dim, depth) of them.
/// \throws invalid_input if dim or depth is 0; size_error if the list would
///   not fit in memory.
std::vector<std::vector<std::size_t>> lyndon_words(std::size_t dim, std::size_t depth);

/// The standard bracketing of a Lyndon word, written as iisignature's
/// `basis` does with 1-based letters: "1", "[1,2]", "[[1,2],2]",
/// "[1,[1,[2,3]]]". A Lyndon word w of length >= 2 is bracketed as [u, v]
/// where v is its longest proper suffix that is a Lyndon word.
/// \throws invalid_input if w is not a Lyndon word.
std::string lyndon_bracket(const std::vector<std::size_t>& w);

/// Everything the Lyndon coordinates of a (dim, depth) pair need, computed
/// once and shared (iisignature's `prepare`): the Lyndon words, the expansion
/// of each standard bracket P_w as a polynomial in the tensor coordinates,
/// and the unitriangular matrix M (M[u][w] = coefficient of the word u in
/// P_w, for Lyndon u) that relates the two Lyndon coordinate systems:
/// words = M · lyndon. M[u][w] is zero unless u and w have the same length
/// and u >= w lexicographically, and M[w][w] = 1.
///
/// Obtain one with lie_basis::get(dim, depth): the tables are built on first
/// use and cached for the life of the program (thread-safe; concurrent
/// callers wait for one build).
class lie_basis {
  public:
    /// One non-zero of a sparse row or column: a position (a tensor
    /// coordinate or a Lyndon index, as documented where it is used) and an
    /// integer coefficient.
    struct entry {
        std::uint32_t index;
        std::int32_t coef;
    };
    /// A contiguous range of entries.
    struct range {
        const entry* first;
        const entry* last;
        const entry* begin() const { return first; }
        const entry* end() const { return last; }
        std::size_t size() const { return static_cast<std::size_t>(last - first); }
    };

    /// The shared tables of (dim, depth), built on first use.
    /// \throws invalid_input if dim or depth is 0; size_error if the tables
    ///   would not fit in memory or a tensor coordinate would not fit in 32
    ///   bits.
    static std::shared_ptr<const lie_basis> get(std::size_t dim, std::size_t depth);

    std::size_t dim() const { return dim_; }
    std::size_t depth() const { return depth_; }
    /// Number of Lyndon words: logsig_length(dim, depth).
    std::size_t size() const { return words_.size(); }
    /// d + ... + d^N: the length of the expanded (tensor) coordinates.
    std::size_t tensor_length() const { return tensor_length_; }

    /// The i-th Lyndon word (0-based letters).
    const std::vector<std::size_t>& word(std::size_t i) const { return words_[i]; }
    const std::vector<std::vector<std::size_t>>& words() const { return words_; }
    /// Position of the i-th Lyndon word in the flattened levels 1..N.
    std::size_t coordinate(std::size_t i) const { return coordinate_[i]; }
    /// P_w of the i-th word: entries (tensor coordinate in levels 1..N,
    /// integer coefficient), sorted by coordinate.
    range expansion(std::size_t i) const { return slice(expansion_, expansion_ptr_, i); }
    /// Column i of M below the diagonal: entries (Lyndon index j > i,
    /// M[j][i]) for the Lyndon words w_j that occur in P_{w_i}.
    range column(std::size_t i) const { return slice(column_, column_ptr_, i); }
    /// Row i of M left of the diagonal: entries (Lyndon index j < i,
    /// M[i][j]) in increasing j, the columns' entries transposed.
    range row(std::size_t i) const { return slice(row_, row_ptr_, i); }

    lie_basis(std::size_t dim, std::size_t depth); ///< builds the tables; use get()

  private:
    static range slice(const std::vector<entry>& v, const std::vector<std::size_t>& ptr, std::size_t i) {
        return {v.data() + ptr[i], v.data() + ptr[i + 1]};
    }

    std::size_t dim_, depth_, tensor_length_;
    std::vector<std::vector<std::size_t>> words_;
    std::vector<std::size_t> coordinate_;
    std::vector<std::size_t> expansion_ptr_;
    std::vector<entry> expansion_;
    std::vector<std::size_t> column_ptr_;
    std::vector<entry> column_;
    std::vector<std::size_t> row_ptr_;
    std::vector<entry> row_;
};

} // namespace tensig

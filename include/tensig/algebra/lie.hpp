#pragma once
/// \file
/// Layer 2, coordinates of Lie elements (log-signatures): from tensor
/// coordinates (levels 1..N, "expanded") to the Lyndon coordinates "words"
/// (the coefficients at the Lyndon words) and "lyndon" (the coefficients in
/// the basis of standard brackets P_w), and back; with the adjoint of each
/// map for the backward layer. The tables come from shape/lyndon.hpp.
///
/// With x = Σ_w c_w P_w a Lie element, words_u = x[u] = Σ_w M[u][w] c_w for
/// Lyndon u, M unitriangular in the order of lie_basis: so lyndon -> words is
/// a sparse triangular product and words -> lyndon a forward substitution.
/// The maps are exact up to the rounding of these sparse integer sums.

#include <algorithm>
#include <cstddef>

#include "tensig/paths/options.hpp"
#include "tensig/shape/lyndon.hpp"

namespace tensig::lie {

/// Σ_e coef_e x[index_e] over a row, column or expansion of the tables, in
/// four sums taken in turn: with one, each multiply-add waited on the last
/// (the Lyndon basis's backward on (1, 8, 2, 12) spent 5% of its time in
/// that chain).
template <class T> T sparse_dot(const lie_basis::range& r, const T* x) {
    T s0 = T(0), s1 = T(0), s2 = T(0), s3 = T(0);
    const auto* e = r.first;
    for (; r.last - e >= 4; e += 4) {
        s0 += T(e[0].coef) * x[e[0].index];
        s1 += T(e[1].coef) * x[e[1].index];
        s2 += T(e[2].coef) * x[e[2].index];
        s3 += T(e[3].coef) * x[e[3].index];
    }
    for (; e != r.last; ++e)
        s0 += T(e->coef) * x[e->index];
    return (s0 + s1) + (s2 + s3);
}

/// words[i] = x[coordinate(i)]: the coefficients of x at the Lyndon words.
template <class T> void tensor_to_words(const lie_basis& b, const T* x, T* words) {
    for (std::size_t i = 0; i < b.size(); ++i)
        words[i] = x[b.coordinate(i)];
}

/// Adjoint of tensor_to_words: gx = 0 except gx[coordinate(i)] = g_words[i].
template <class T> void tensor_to_words_adjoint(const lie_basis& b, const T* g_words, T* gx) {
    std::fill(gx, gx + b.tensor_length(), T(0));
    for (std::size_t i = 0; i < b.size(); ++i)
        gx[b.coordinate(i)] = g_words[i];
}

/// In place: words coordinates -> Lyndon-bracket coordinates (c = M^{-1} x),
/// by forward substitution, row by row: c_i = x_i - Σ_{j<i} M[i][j] c_j,
/// each sum in registers (sparse_dot). (Scattered column by column into x,
/// each update waited on the last store to its coefficient: the Lyndon
/// basis's time over the expanded one on (1, 8, 2, 12) went from 4.4 to
/// 3.6 us.)
template <class T> void words_to_lyndon(const lie_basis& b, T* x) {
    for (std::size_t i = 0; i < b.size(); ++i)
        x[i] -= sparse_dot(b.row(i), x);
}

/// In place: Lyndon-bracket coordinates -> words coordinates (x = M c),
/// row by row from the last: x_i = c_i + Σ_{j<i} M[i][j] c_j (rows above i
/// still hold c), each sum in registers (sparse_dot).
template <class T> void lyndon_to_words(const lie_basis& b, T* x) {
    for (std::size_t i = b.size(); i-- > 0;)
        x[i] += sparse_dot(b.row(i), x);
}

/// In place: the adjoint of words_to_lyndon (g <- M^{-T} g).
template <class T> void words_to_lyndon_adjoint(const lie_basis& b, T* g) {
    for (std::size_t i = b.size(); i-- > 0;)
        g[i] -= sparse_dot(b.column(i), g);
}

/// x = Σ_w c_w P_w in tensor coordinates (levels 1..N; overwritten).
template <class T> void lyndon_to_tensor(const lie_basis& b, const T* c, T* x) {
    std::fill(x, x + b.tensor_length(), T(0));
    for (std::size_t i = 0; i < b.size(); ++i)
        for (const auto& e : b.expansion(i))
            x[e.index] += T(e.coef) * c[i];
}

/// Adjoint of lyndon_to_tensor: gc[i] = <P_{w_i}, gx>.
template <class T> void lyndon_to_tensor_adjoint(const lie_basis& b, const T* gx, T* gc) {
    for (std::size_t i = 0; i < b.size(); ++i)
        gc[i] = sparse_dot(b.expansion(i), gx);
}

/// Length of the coordinates of `basis` (b may be null for expanded).
inline std::size_t coordinate_count(const lie_basis* b, std::size_t tensor_length, logsig_basis basis) {
    return basis == logsig_basis::expanded ? tensor_length : b->size();
}

/// out = the coordinates in `basis` of the Lie element x (levels 1..N).
/// For expanded this is a copy (b may be null).
template <class T> void from_tensor(const lie_basis* b, logsig_basis basis, const T* x, std::size_t n, T* out) {
    if (basis == logsig_basis::expanded) {
        std::copy(x, x + n, out);
        return;
    }
    tensor_to_words(*b, x, out);
    if (basis == logsig_basis::lyndon) words_to_lyndon(*b, out);
}

/// Adjoint of from_tensor: gx (levels 1..N) from the gradient g of the
/// coordinates. `scratch` holds b->size() values (unused for expanded).
template <class T>
void from_tensor_adjoint(const lie_basis* b, logsig_basis basis, const T* g, std::size_t n, T* gx, T* scratch) {
    if (basis == logsig_basis::expanded) {
        std::copy(g, g + n, gx);
        return;
    }
    std::copy(g, g + b->size(), scratch);
    if (basis == logsig_basis::lyndon) words_to_lyndon_adjoint(*b, scratch);
    tensor_to_words_adjoint(*b, scratch, gx);
}

/// x (levels 1..N) = the Lie element with coordinates `in` in `basis`. For
/// expanded this is a copy. `scratch` holds b->size() values.
template <class T>
void to_tensor(const lie_basis* b, logsig_basis basis, const T* in, std::size_t n, T* x, T* scratch) {
    if (basis == logsig_basis::expanded) {
        std::copy(in, in + n, x);
        return;
    }
    std::copy(in, in + b->size(), scratch);
    if (basis == logsig_basis::words) words_to_lyndon(*b, scratch);
    lyndon_to_tensor(*b, scratch, x);
}

} // namespace tensig::lie

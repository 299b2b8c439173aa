#pragma once
/// \file
/// Layer 3: the one evaluator of tensig expressions.
///
/// Contract (docs/design.md has the long form):
/// - A linear expression (a tree of +, -, unary -, scalar * and /) over
///   leaves is flattened at compile time into sum_j c_j * leaf_j and evaluated
///   in one SIMD pass by kernels::lincomb, with no temporary and no allocation.
/// - A computed node (tensor *, exp, log, inverse, antipode) at the top runs
///   its kernel straight into the destination; nested inside a bigger
///   expression it is first evaluated into a temporary.
/// - `A * exp(z)` and `A *= exp(z)` with z in level 1 run the fused
///   multiply-exponentiate kernel in place.
/// - Aliasing: the destination may appear anywhere in the expression. Linear
///   passes are element-wise (safe in place); products write levels top-down
///   (safe when the destination is one operand); everything else that would
///   read the destination after writing it goes through a temporary. Views
///   that partially overlap each other are not supported.

#include <algorithm>
#include <array>
#include <cstddef>
#include <type_traits>

#include "tensig/algebra/aligned.hpp"
#include "tensig/algebra/tensor.hpp"
#include "tensig/expr/nodes.hpp"
#include "tensig/kernels/ops.hpp"
#include "tensig/kernels/primitives.hpp"

namespace tensig::detail {

// ---- compile-time shape of a linear tree --------------------------------------

template <class E, class = void> struct term_count {
    static constexpr std::size_t leaves = 1; // a leaf or a computed node: one term
    static constexpr std::size_t computed = E::kind == node_kind::computed ? 1 : 0;
};
template <class CL, class CR, int S> struct term_count<sum_node<CL, CR, S>> {
    static constexpr std::size_t leaves =
        term_count<std::decay_t<CL>>::leaves + term_count<std::decay_t<CR>>::leaves;
    static constexpr std::size_t computed =
        term_count<std::decay_t<CL>>::computed + term_count<std::decay_t<CR>>::computed;
};
template <class CE> struct term_count<scale_node<CE>> : term_count<std::decay_t<CE>> {};

/// The terms sum_j coef[j] * src[j] of a linear expression, and the
/// temporaries holding its computed sub-expressions (empty vectors do not
/// allocate).
template <class T, std::size_t N, std::size_t M> struct linear_terms {
    std::array<const T*, N> src{};
    std::array<T, N> coef{};
    std::size_t n = 0;
    std::array<aligned_vector<T>, (M > 0 ? M : 1)> temps;
    std::size_t ntemps = 0;
};

template <class T, class E> void compute_into(T* dst, const shape& s, const E& e);

template <class T, std::size_t N, std::size_t M, class E>
void gather(const E& e, const T& coef, const shape& s, linear_terms<T, N, M>& terms) {
    if constexpr (E::kind == node_kind::leaf) {
        terms.src[terms.n] = e.data();
        terms.coef[terms.n++] = coef;
    } else if constexpr (E::kind == node_kind::computed) {
        auto& tmp = terms.temps[terms.ntemps++];
        tmp.resize(s.size());
        compute_into(tmp.data(), s, e);
        terms.src[terms.n] = tmp.data();
        terms.coef[terms.n++] = coef;
    } else {
        gather_linear(e, coef, s, terms);
    }
}

template <class T, std::size_t N, std::size_t M, class CL, class CR, int S>
void gather_linear(const sum_node<CL, CR, S>& e, const T& coef, const shape& s,
                   linear_terms<T, N, M>& terms) {
    gather(e.left(), coef, s, terms);
    gather(e.right(), S > 0 ? coef : T(-coef), s, terms);
}

template <class T, std::size_t N, std::size_t M, class CE>
void gather_linear(const scale_node<CE>& e, const T& coef, const shape& s, linear_terms<T, N, M>& terms) {
    gather(e.operand(), T(coef * e.factor()), s, terms);
}

// ---- materialising operands ----------------------------------------------------

/// Pointer to the coefficients of `e`: a leaf's own storage, or `tmp` filled
/// with the value of `e`.
template <class T, class E> const T* materialize(const E& e, const shape& s, aligned_vector<T>& tmp) {
    if constexpr (E::kind == node_kind::leaf) {
        return e.data();
    } else {
        tmp.resize(s.size());
        assign(tmp.data(), s, e);
        return tmp.data();
    }
}

/// `src` itself unless it is `dst`, in which case a copy in `tmp`.
template <class T> const T* unalias(const T* src, const T* dst, const shape& s, aligned_vector<T>& tmp) {
    if (src != dst) return src;
    tmp.assign(src, src + s.size());
    return tmp.data();
}

// ---- computed nodes ------------------------------------------------------------

template <class T, class CL, class CR>
void compute_product(T* dst, const shape& s, const product_node<CL, CR>& e) {
    using R = std::decay_t<CR>;
    aligned_vector<T> ta, tb;
    if constexpr (is_exp_node<R>::value) {
        // A * exp(z): the fused multiply-exponentiate when z lies in level 1.
        const T* z = materialize(e.right().operand(), s, tb);
        if (kernels::is_level1(z, s)) {
            const std::size_t d = s.dim();
            // keep z's level 1 safe from the write of A into dst
            std::array<T, 16> small{};
            aligned_vector<T> large;
            T* zc = small.data();
            if (d > small.size()) {
                large.assign(z + 1, z + 1 + d);
                zc = large.data();
            } else {
                std::copy(z + 1, z + 1 + d, zc);
            }
            assign(dst, s, e.left());
            kernels::fmexp(dst, zc, d, s.depth());
            return;
        }
    }
    const T* a = materialize(e.left(), s, ta);
    const T* b = materialize(e.right(), s, tb);
    if (a == dst && b == dst) a = unalias(a, dst, s, ta);
    kernels::product(dst, a, b, s);
}

template <class T, class CE, unary_op Op>
void compute_unary(T* dst, const shape& s, const unary_node<CE, Op>& e) {
    aligned_vector<T> tx, tcopy;
    const T* x = unalias(materialize(e.operand(), s, tx), dst, s, tcopy);
    if constexpr (Op == unary_op::exp)
        kernels::exp(dst, x, s);
    else if constexpr (Op == unary_op::log)
        kernels::log(dst, x, s);
    else if constexpr (Op == unary_op::inverse)
        kernels::inverse(dst, x, s);
    else
        kernels::antipode(dst, x, s);
}

template <class E> struct is_product_node : std::false_type {};
template <class CL, class CR> struct is_product_node<product_node<CL, CR>> : std::true_type {};

template <class T, class E> void compute_into(T* dst, const shape& s, const E& e) {
    if constexpr (is_product_node<E>::value)
        compute_product(dst, s, e);
    else
        compute_unary(dst, s, e);
}

// ---- the entry points used by tensor and tensor_view ---------------------------

/// dst = e.
template <class T, class E> void assign(T* dst, const shape& s, const E& e) {
    if constexpr (E::kind == node_kind::leaf) {
        if (e.data() != dst) std::copy(e.data(), e.data() + s.size(), dst);
    } else if constexpr (E::kind == node_kind::computed) {
        compute_into(dst, s, e);
    } else {
        linear_terms<T, term_count<E>::leaves, term_count<E>::computed> terms;
        gather(e, T(1), s, terms);
        kernels::lincomb(dst, s.size(), terms.src.data(), terms.coef.data(), terms.n);
    }
}

/// dst += sign * e.
template <class T, class E> void add_assign(T* dst, const shape& s, const E& e, const T& sign) {
    linear_terms<T, term_count<E>::leaves + 1, term_count<E>::computed> terms;
    terms.src[0] = dst;
    terms.coef[0] = T(1);
    terms.n = 1;
    gather(e, sign, s, terms);
    kernels::lincomb(dst, s.size(), terms.src.data(), terms.coef.data(), terms.n);
}

/// dst = dst * e, in place; dst *= exp(z) with z in level 1 is fused.
template <class T, class E> void multiply_assign(T* dst, const shape& s, const E& e) {
    aligned_vector<T> tb, tcopy;
    if constexpr (is_exp_node<E>::value) {
        const T* z = materialize(e.operand(), s, tb);
        if (kernels::is_level1(z, s)) {
            const T* zc = unalias(z, dst, s, tcopy);
            kernels::fmexp(dst, zc + 1, s.dim(), s.depth());
            return;
        }
    }
    const T* b = unalias(materialize(e, s, tb), dst, s, tcopy);
    kernels::product(dst, dst, b, s);
}

/// dst *= c.
template <class T> void scale_in_place(T* dst, std::size_t n, const T& c) {
    kernels::scale(dst, dst, n, c);
}

} // namespace tensig::detail

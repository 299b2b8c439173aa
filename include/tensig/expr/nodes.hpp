#pragma once
/// \file
/// Layer 3: the expression nodes and the operators that build them.
///
/// Building an expression computes nothing; it checks that the operands'
/// shapes agree (throwing invalid_input otherwise) and records the tree.
/// Evaluation happens once, on assignment to a tensor or view
/// (expr/evaluate.hpp). Operands are held the xtensor way (detail::closure_t):
/// lvalues by reference, rvalues by value, so `auto` is safe as long as the
/// lvalues it refers to outlive the expression.

#include <string>
#include <type_traits>
#include <utility>

#include "tensig/error.hpp"
#include "tensig/expr/fwd.hpp"
#include "tensig/shape/shape.hpp"

namespace tensig {

namespace detail {
template <class A, class B> void check_same_shape(const A& a, const B& b, const char* op) {
    static_assert(std::is_same_v<value_t<A>, value_t<B>>,
                  "tensig expressions combine operands of one scalar type only");
    if (a.shape() != b.shape())
        throw invalid_input(std::string("operands of ") + op + " have different shapes: " + a.shape().str() +
                            " and " + b.shape().str());
}

template <class S, class T>
inline constexpr bool is_scalar_for_v = (std::is_arithmetic_v<S> ||
                                         std::is_same_v<S, T>)&&!is_expression_v<S>;
} // namespace detail

/// `l + r` (Sign = +1) or `l - r` (Sign = -1): coefficient-wise, lazy.
template <class CL, class CR, int Sign> class sum_node : public expr_base<sum_node<CL, CR, Sign>> {
  public:
    using value_type = detail::value_t<CL>;
    static constexpr node_kind kind = node_kind::linear;

    template <class L, class R> sum_node(L&& l, R&& r) : l_(std::forward<L>(l)), r_(std::forward<R>(r)) {
        detail::check_same_shape(l_, r_, Sign > 0 ? "+" : "-");
    }
    const tensig::shape& shape() const noexcept { return l_.shape(); }
    const std::decay_t<CL>& left() const noexcept { return l_; }
    const std::decay_t<CR>& right() const noexcept { return r_; }

  private:
    CL l_;
    CR r_;
};

/// `c * e`, `e * c`, `e / c`, `-e`: coefficient-wise scaling, lazy.
template <class CE> class scale_node : public expr_base<scale_node<CE>> {
  public:
    using value_type = detail::value_t<CE>;
    static constexpr node_kind kind = node_kind::linear;

    template <class E> scale_node(E&& e, const value_type& c) : e_(std::forward<E>(e)), c_(c) {}
    const tensig::shape& shape() const noexcept { return e_.shape(); }
    const std::decay_t<CE>& operand() const noexcept { return e_; }
    const value_type& factor() const noexcept { return c_; }

  private:
    CE e_;
    value_type c_;
};

/// `l * r`: the truncated tensor product, computed by a kernel.
template <class CL, class CR> class product_node : public expr_base<product_node<CL, CR>> {
  public:
    using value_type = detail::value_t<CL>;
    static constexpr node_kind kind = node_kind::computed;

    template <class L, class R> product_node(L&& l, R&& r) : l_(std::forward<L>(l)), r_(std::forward<R>(r)) {
        detail::check_same_shape(l_, r_, "*");
    }
    const tensig::shape& shape() const noexcept { return l_.shape(); }
    const std::decay_t<CL>& left() const noexcept { return l_; }
    const std::decay_t<CR>& right() const noexcept { return r_; }

  private:
    CL l_;
    CR r_;
};

/// The unary computations: exp, log, series inverse, antipode.
enum class unary_op { exp, log, inverse, antipode };

template <class CE, unary_op Op> class unary_node : public expr_base<unary_node<CE, Op>> {
  public:
    using value_type = detail::value_t<CE>;
    static constexpr node_kind kind = node_kind::computed;
    static constexpr unary_op op = Op;

    template <class E> explicit unary_node(E&& e) : e_(std::forward<E>(e)) {}
    const tensig::shape& shape() const noexcept { return e_.shape(); }
    const std::decay_t<CE>& operand() const noexcept { return e_; }

  private:
    CE e_;
};

template <class E> struct is_exp_node : std::false_type {};
template <class CE> struct is_exp_node<unary_node<CE, unary_op::exp>> : std::true_type {};

// ---- operators --------------------------------------------------------------

#define TENSIG_REQUIRES_EXPR2(L, R) class = std::enable_if_t < is_expression_v<L> && is_expression_v < R >>

/// Coefficient-wise sum.
template <class L, class R, TENSIG_REQUIRES_EXPR2(L, R)> [[nodiscard]] auto operator+(L&& l, R&& r) {
    return sum_node<detail::closure_t<L>, detail::closure_t<R>, +1>(std::forward<L>(l), std::forward<R>(r));
}

/// Coefficient-wise difference.
template <class L, class R, TENSIG_REQUIRES_EXPR2(L, R)> [[nodiscard]] auto operator-(L&& l, R&& r) {
    return sum_node<detail::closure_t<L>, detail::closure_t<R>, -1>(std::forward<L>(l), std::forward<R>(r));
}

/// Truncated tensor product.
template <class L, class R, TENSIG_REQUIRES_EXPR2(L, R)> [[nodiscard]] auto operator*(L&& l, R&& r) {
    return product_node<detail::closure_t<L>, detail::closure_t<R>>(std::forward<L>(l), std::forward<R>(r));
}

#undef TENSIG_REQUIRES_EXPR2

/// Negation.
template <class E, class = std::enable_if_t<is_expression_v<E>>> [[nodiscard]] auto operator-(E&& e) {
    return scale_node<detail::closure_t<E>>(std::forward<E>(e), detail::value_t<E>(-1));
}

/// Scalar times expression.
template <class S, class E,
          class = std::enable_if_t<is_expression_v<E> &&
                                   detail::is_scalar_for_v<std::decay_t<S>, detail::value_t<E>>>>
[[nodiscard]] auto operator*(const S& c, E&& e) {
    return scale_node<detail::closure_t<E>>(std::forward<E>(e), detail::value_t<E>(c));
}

/// Expression times scalar.
template <class E, class S,
          class = std::enable_if_t<is_expression_v<E> &&
                                   detail::is_scalar_for_v<std::decay_t<S>, detail::value_t<E>>>,
          class = void>
[[nodiscard]] auto operator*(E&& e, const S& c) {
    return scale_node<detail::closure_t<E>>(std::forward<E>(e), detail::value_t<E>(c));
}

/// Expression divided by a scalar.
template <class E, class S,
          class = std::enable_if_t<is_expression_v<E> &&
                                   detail::is_scalar_for_v<std::decay_t<S>, detail::value_t<E>>>>
[[nodiscard]] auto operator/(E&& e, const S& c) {
    using T = detail::value_t<E>;
    return scale_node<detail::closure_t<E>>(std::forward<E>(e), T(1) / T(c));
}

/// exp(x) = sum_{n=0..N} x^n / n! (times e^{x_0} when x_0 != 0). `A * exp(z)`
/// and `A *= exp(z)` with z in level 1 run the fused multiply-exponentiate.
template <class E, class = std::enable_if_t<is_expression_v<E>>> [[nodiscard]] auto exp(E&& e) {
    return unary_node<detail::closure_t<E>, unary_op::exp>(std::forward<E>(e));
}

/// log(x) for x_0 > 0 (a signature has x_0 = 1): log(x_0) + sum_{n=1..N}
/// (-1)^{n+1} (x/x_0 - 1)^n / n. Evaluation throws if x_0 is 0.
template <class E, class = std::enable_if_t<is_expression_v<E>>> [[nodiscard]] auto log(E&& e) {
    return unary_node<detail::closure_t<E>, unary_op::log>(std::forward<E>(e));
}

/// The series inverse of x (x_0 != 0): x * inverse(x) = inverse(x) * x = 1.
/// For a group-like x (a signature) antipode(x) is the same, cheaper.
template <class E, class = std::enable_if_t<is_expression_v<E>>> [[nodiscard]] auto inverse(E&& e) {
    return unary_node<detail::closure_t<E>, unary_op::inverse>(std::forward<E>(e));
}

/// The antipode: word w -> (-1)^{|w|} x[reverse(w)]. Equals inverse(x) for
/// group-like x (signatures), exactly and in one pass.
template <class E, class = std::enable_if_t<is_expression_v<E>>> [[nodiscard]] auto antipode(E&& e) {
    return unary_node<detail::closure_t<E>, unary_op::antipode>(std::forward<E>(e));
}

} // namespace tensig

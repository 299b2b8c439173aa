#pragma once
/// \file
/// Layer 3 foundations: the CRTP base of every tensor-algebra expression and
/// the traits the evaluator dispatches on.

#include <type_traits>

namespace tensig {

/// What a node is, for the evaluator:
/// - leaf: owns or views coefficients (tensor, tensor_view);
/// - linear: a coefficient-wise linear combination (+, -, unary -, scalar * and /),
///   evaluated lazily in one pass;
/// - computed: a tensor product, exp, log, inverse or antipode, run by a kernel
///   into its destination (or into a temporary when nested).
enum class node_kind { leaf, linear, computed };

/// Base of every expression; `D` is the concrete node type.
template <class D> struct expr_base {
    const D& derived() const noexcept { return static_cast<const D&>(*this); }
};

template <class E> struct is_expression : std::is_base_of<expr_base<std::decay_t<E>>, std::decay_t<E>> {};

template <class E> inline constexpr bool is_expression_v = is_expression<E>::value;

namespace detail {

/// How a node holds an operand (xtensor's closure type): an lvalue by const
/// reference, an rvalue moved in and held by value, so `auto e = f(tmp()) + g`
/// cannot dangle.
template <class E>
using closure_t =
    std::conditional_t<std::is_lvalue_reference_v<E>, const std::remove_reference_t<E>&, std::decay_t<E>>;

template <class E> using value_t = typename std::decay_t<E>::value_type;

} // namespace detail
} // namespace tensig

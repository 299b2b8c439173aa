#pragma once
/// \file
/// What the algebra needs to know about a scalar beyond its arithmetic.
/// Specialise `scalar_traits` for a new scalar type (dual numbers do, in
/// autodiff/dual.hpp).

#include <cmath>

namespace tensig {

template <class T> struct scalar_traits {
    /// True when x is exactly zero (derivative parts included, for duals):
    /// used to recognise elements that lie in level 1.
    static bool is_exact_zero(const T& x) { return x == T(0); }
    /// True when x (and every part of it) is finite.
    static bool is_finite(const T& x) { return std::isfinite(static_cast<double>(x)); }
    /// The value as a double, for messages.
    static double value(const T& x) { return static_cast<double>(x); }
    /// a * b + c, the scalar kernels' one operation (dual numbers fuse it).
    static T fma(const T& a, const T& b, const T& c) { return a * b + c; }
};

} // namespace tensig

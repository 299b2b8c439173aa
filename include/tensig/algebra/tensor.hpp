#pragma once
/// \file
/// Layer 2: elements of the truncated tensor algebra T^N(R^d).
///
/// `tensor<T>` owns aligned contiguous storage of levels 0..N;
/// `tensor_view<T>` is the same over memory someone else owns (a row of a
/// batch array). Both are leaves of the expression templates of layer 3:
/// assigning an expression to them evaluates it (see docs/design.md for the
/// evaluation and aliasing contract).

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <vector>

#include "tensig/algebra/aligned.hpp"
#include "tensig/error.hpp"
#include "tensig/expr/fwd.hpp"
#include "tensig/shape/shape.hpp"

namespace tensig {

namespace detail {
// Defined in expr/evaluate.hpp.
template <class T, class E> void assign(T* dst, const shape& s, const E& e);
template <class T, class E> void add_assign(T* dst, const shape& s, const E& e, const T& sign);
template <class T, class E> void multiply_assign(T* dst, const shape& s, const E& e);
template <class T> void scale_in_place(T* dst, std::size_t n, const T& c);
} // namespace detail

/// The coefficients of one level k of a tensor: d^k values, words in
/// row-major order. A non-owning span.
template <class T> class level_view {
  public:
    level_view(T* data, std::size_t size, std::size_t level) noexcept
        : data_(data), size_(size), level_(level) {}
    T* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    std::size_t level() const noexcept { return level_; }
    T& operator[](std::size_t i) const noexcept { return data_[i]; }
    T* begin() const noexcept { return data_; }
    T* end() const noexcept { return data_ + size_; }

  private:
    T* data_;
    std::size_t size_;
    std::size_t level_;
};

/// Shared interface of tensor and tensor_view (CRTP): element access by flat
/// index, by level, by word, and the assignment operators that evaluate
/// expressions. `Derived` provides `data()` and `shape()`.
template <class Derived, class T> class dense_base : public expr_base<Derived> {
  public:
    using value_type = std::remove_const_t<T>;
    static constexpr node_kind kind = node_kind::leaf;

    std::size_t size() const noexcept { return self().shape().size(); }
    std::size_t dim() const noexcept { return self().shape().dim(); }
    std::size_t depth() const noexcept { return self().shape().depth(); }

    T& operator[](std::size_t i) noexcept { return self().data()[i]; }
    const T& operator[](std::size_t i) const noexcept { return self().data()[i]; }

    /// Level k (0..depth) as a span of d^k coefficients.
    /// \throws invalid_input if k > depth.
    level_view<T> level(std::size_t k) {
        check_level(k);
        const auto& s = self().shape();
        return {self().data() + s.level_offset(k), s.level_size(k), k};
    }
    level_view<const T> level(std::size_t k) const {
        check_level(k);
        const auto& s = self().shape();
        return {self().data() + s.level_offset(k), s.level_size(k), k};
    }

    /// The coefficient of a word (letters 0..d-1; the empty word is level 0).
    /// \throws invalid_input for a letter >= dim or a word longer than depth.
    T& at(const std::vector<std::size_t>& word) { return self().data()[word_to_flat(word, self().shape())]; }
    const T& at(const std::vector<std::size_t>& word) const {
        return self().data()[word_to_flat(word, self().shape())];
    }
    T& at(std::initializer_list<std::size_t> word) { return at(std::vector<std::size_t>(word)); }
    const T& at(std::initializer_list<std::size_t> word) const { return at(std::vector<std::size_t>(word)); }

    /// Set every coefficient to zero.
    void set_zero() { std::fill(self().data(), self().data() + size(), value_type(0)); }
    /// Set to the unit 1 (level 0 is 1, everything else 0).
    void set_unit() {
        set_zero();
        self().data()[0] = value_type(1);
    }

    template <class E> Derived& operator+=(const expr_base<E>& e) {
        check_same(e.derived().shape(), "+=");
        detail::add_assign(mutable_data(), self().shape(), e.derived(), value_type(1));
        return self();
    }
    template <class E> Derived& operator-=(const expr_base<E>& e) {
        check_same(e.derived().shape(), "-=");
        detail::add_assign(mutable_data(), self().shape(), e.derived(), value_type(-1));
        return self();
    }
    /// Truncated tensor product in place: `A *= B`; `A *= exp(z)` with z in
    /// level 1 runs the fused multiply-exponentiate kernel.
    template <class E> Derived& operator*=(const expr_base<E>& e) {
        check_same(e.derived().shape(), "*=");
        detail::multiply_assign(mutable_data(), self().shape(), e.derived());
        return self();
    }
    template <class S, class = std::enable_if_t<std::is_arithmetic_v<S> || std::is_same_v<S, value_type>>>
    Derived& operator*=(const S& c) {
        detail::scale_in_place(mutable_data(), size(), value_type(c));
        return self();
    }
    template <class S, class = std::enable_if_t<std::is_arithmetic_v<S> || std::is_same_v<S, value_type>>>
    Derived& operator/=(const S& c) {
        detail::scale_in_place(mutable_data(), size(), value_type(1) / value_type(c));
        return self();
    }

  protected:
    Derived& self() noexcept { return static_cast<Derived&>(*this); }
    const Derived& self() const noexcept { return static_cast<const Derived&>(*this); }

    value_type* mutable_data() {
        static_assert(!std::is_const_v<T>, "cannot assign to a view of const coefficients");
        return self().data();
    }
    void check_level(std::size_t k) const {
        if (k > depth())
            throw invalid_input("level " + std::to_string(k) + " is above the depth " +
                                std::to_string(depth()));
    }
    void check_same(const shape& other, const char* op) const {
        if (other != self().shape())
            throw invalid_input(std::string("operands of ") + op +
                                " have different shapes: " + self().shape().str() + " and " + other.str());
    }
};

/// A non-owning view of an element of T^N(R^d) stored contiguously (levels
/// 0..N) in memory someone else owns. Assigning an expression of another
/// shape throws. `tensor_view<const T>` is read-only.
template <class T> class tensor_view : public dense_base<tensor_view<T>, T> {
    using base = dense_base<tensor_view<T>, T>;

  public:
    using value_type = std::remove_const_t<T>;

    /// View `s.size()` coefficients at `data`.
    tensor_view(T* data, const tensig::shape& s) noexcept : data_(data), shape_(s) {}

    /// A view of a tensor or another view (to T or const T).
    template <class D, class U, class = std::enable_if_t<std::is_convertible_v<U*, T*>>>
    tensor_view(dense_base<D, U>& t) : tensor_view(static_cast<D&>(t).data(), static_cast<D&>(t).shape()) {}
    template <class D, class U, class = std::enable_if_t<std::is_convertible_v<const U*, T*>>>
    tensor_view(const dense_base<D, U>& t)
        : tensor_view(static_cast<const D&>(t).data(), static_cast<const D&>(t).shape()) {}

    tensor_view(const tensor_view&) = default;

    T* data() const noexcept { return data_; }
    const tensig::shape& shape() const noexcept { return shape_; }

    /// Copies the coefficients of `other` (same shape) into the viewed memory.
    tensor_view& operator=(const tensor_view& other) {
        return *this = static_cast<const expr_base<tensor_view>&>(other);
    }

    /// Evaluate `e` into the viewed memory.
    /// \throws invalid_input if the shapes differ.
    template <class E> tensor_view& operator=(const expr_base<E>& e) {
        this->check_same(e.derived().shape(), "=");
        detail::assign(this->mutable_data(), shape_, e.derived());
        return *this;
    }

    using base::operator+=;
    using base::operator-=;
    using base::operator*=;
    using base::operator/=;

  private:
    T* data_;
    tensig::shape shape_;
};

/// An element of T^N(R^d): levels 0..N in one aligned contiguous buffer,
/// with run-time dimension and depth. Assigning an expression evaluates it
/// (lazily built, evaluated once, see docs/design.md); the tensor takes the
/// expression's shape.
template <class T> class tensor : public dense_base<tensor<T>, T> {
    static_assert(!std::is_const_v<T>, "tensor<const T> makes no sense: use tensor_view<const T>");
    using base = dense_base<tensor<T>, T>;

  public:
    using value_type = T;

    /// The zero of T^0(R^1) (a single coefficient).
    tensor() : tensor(tensig::shape(1, 0)) {}

    /// The zero tensor of the given shape.
    /// \throws size_error if it would not fit in memory.
    explicit tensor(const tensig::shape& s) : tensor(s, uninitialized{}) {
        std::fill(data_.begin(), data_.end(), T(0));
    }
    tensor(std::size_t dim, std::size_t depth) : tensor(tensig::shape(dim, depth)) {}

    /// A tensor of the given shape whose coefficients are unspecified: for
    /// workspaces that write every coefficient before reading it (saves a
    /// pass over memory). \throws size_error if it would not fit in memory.
    static tensor unfilled(const tensig::shape& s) { return tensor(s, uninitialized{}); }

    /// A tensor with the given coefficients (levels 0..N, flattened).
    /// \throws invalid_input if their number is not `s.size()`.
    tensor(const tensig::shape& s, std::initializer_list<T> values) : tensor(s) {
        if (values.size() != s.size())
            throw invalid_input("tensor of shape " + s.str() + " needs " + std::to_string(s.size()) +
                                " coefficients, got " + std::to_string(values.size()));
        std::copy(values.begin(), values.end(), data_.begin());
    }

    /// Evaluate an expression into a new tensor.
    template <class E> tensor(const expr_base<E>& e) : tensor(e.derived().shape(), uninitialized{}) {
        detail::assign(data_.data(), shape_, e.derived()); // writes every coefficient
    }

    tensor(const tensor&) = default;
    tensor(tensor&&) noexcept = default;
    tensor& operator=(const tensor&) = default;
    tensor& operator=(tensor&&) noexcept = default;

    /// Evaluate `e` into this tensor, reshaping it if the shapes differ.
    template <class E> tensor& operator=(const expr_base<E>& e) {
        const tensig::shape& s = e.derived().shape();
        if (s != shape_) {
            // `e` cannot read this tensor: all its leaves have shape `s`.
            data_.clear(); // no zero fill: the evaluation below writes every coefficient
            data_.resize(checked_size(s));
            shape_ = s;
        }
        detail::assign(data_.data(), shape_, e.derived());
        return *this;
    }

    /// The unit 1 of the given shape.
    static tensor unit(const tensig::shape& s) {
        tensor t(s);
        t.data_[0] = T(1);
        return t;
    }

    /// The tensor whose level 1 is `v` (length dim) and whose other levels are 0.
    /// \throws invalid_input if v.size() != s.dim().
    template <class V> static tensor from_level1(const tensig::shape& s, const V& v) {
        if (static_cast<std::size_t>(v.size()) != s.dim())
            throw invalid_input("level 1 of shape " + s.str() + " needs " + std::to_string(s.dim()) +
                                " values, got " + std::to_string(v.size()));
        tensor t(s);
        if (s.depth() == 0) throw invalid_input("a tensor of depth 0 has no level 1");
        std::size_t i = 0;
        for (const auto& x : v)
            t.data_[1 + i++] = T(x);
        return t;
    }

    T* data() noexcept { return data_.data(); }
    const T* data() const noexcept { return data_.data(); }
    const tensig::shape& shape() const noexcept { return shape_; }

    tensor_view<T> view() noexcept { return {data(), shape_}; }
    tensor_view<const T> view() const noexcept { return {data(), shape_}; }

    using base::operator+=;
    using base::operator-=;
    using base::operator*=;
    using base::operator/=;

  private:
    struct uninitialized {};
    // Storage for s.size() coefficients that the caller writes in full.
    tensor(const tensig::shape& s, uninitialized) : shape_(s), data_(checked_size(s)) {}

    static std::size_t checked_size(const tensig::shape& s) {
        detail::check_fits_in_memory_lazy(s.size(), sizeof(T), [&] { return "a tensor of shape " + s.str(); });
        return s.size();
    }

    tensig::shape shape_;
    scratch_vector<T> data_; // default-initialised: each constructor says how it fills it
};

} // namespace tensig

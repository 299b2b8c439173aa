#pragma once
/// \file
/// The exception types tensig throws (DESIGN.md §4).

#include <stdexcept>
#include <string>

namespace tensig {

/// Any input tensig refuses: wrong rank or shape, empty path, zero depth or
/// dimension, non-finite values, mismatched operands. The message names what
/// was wrong.
class invalid_input : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

/// A size that would overflow `std::size_t` or exceed the machine's memory,
/// detected before anything is allocated.
class size_error : public invalid_input {
  public:
    using invalid_input::invalid_input;
};

/// A feature that is specified but not implemented yet (the message says
/// which).
class not_supported : public invalid_input {
  public:
    using invalid_input::invalid_input;
};

} // namespace tensig

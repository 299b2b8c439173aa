#pragma once
/// \file
/// Layer 9 support: reading and writing arrays as `.npy` (via xtensor's npy
/// reader, after validating the file) or `.csv` (one row per line), chosen
/// by the file extension. Errors name the file and what is wrong.

#include <string>

#include <xtensor/xarray.hpp>

namespace tensig::io {

/// Element type of an array file.
enum class dtype { f64, f32 };

/// An array read from a file: its values as double, and the precision it
/// was stored in (float32 .npy files are computed in float).
struct array {
    xt::xarray<double> values;
    dtype type = dtype::f64;
};

/// Read `.npy` (little-endian float64/float32/int64/int32, C or Fortran
/// order) or `.csv` (numbers separated by commas or blanks, one row per line,
/// `#` comments) by extension.
/// \throws invalid_input naming the file and the problem: missing file,
///   unknown extension, bad magic or header, unsupported dtype, truncated
///   data or trailing bytes, a non-numeric CSV field (line and column), ragged
///   rows, or an array too large for memory.
array read_array(const std::string& path);

/// Write `.npy` (in the given precision) or `.csv` (rank 1 as one line, rank 2
/// as rows; higher ranks are refused) by extension. The file is written to
/// a temporary name and renamed, so a failure leaves no partial output.
/// \throws invalid_input for an unknown extension or a rank the format cannot hold;
///   std::runtime_error if the file cannot be written.
void write_array(const std::string& path, const xt::xarray<double>& values, dtype type = dtype::f64);

/// Write `content` to `path` through a temporary name and a rename, so a
/// failure leaves neither a partial file nor the temporary.
/// \throws std::runtime_error if the file cannot be written.
void write_file(const std::string& path, const std::string& content);

} // namespace tensig::io

#pragma once
/// \file
/// The UCI PenDigits data set (Alpaydin & Alimoglu, UCI ML Repository,
/// CC BY 4.0) as paths: each row is 8 pen positions (x, y) in 0..100 and a
/// digit label. tensig carries the few rows its examples need; the data set
/// itself is read from a file the user gives.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "tensig/error.hpp"

namespace tensig::pendigits {

/// One row: 16 numbers (x1, y1, ..., x8, y8) and the digit.
struct row {
    std::array<double, 16> values{};
    int label = -1;
    std::size_t line = 0; ///< line number in its file (1-based), 0 for built-in rows
};

/// The row as 8 points rescaled the notebook's way, with one global min and
/// max over its 16 numbers: p = -1 + 2 (v - min) / (max - min).
inline xt::xtensor<double, 2> to_path(const row& r) {
    double lo = r.values[0], hi = r.values[0];
    for (double v : r.values) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    xt::xtensor<double, 2> p = xt::zeros<double>({std::size_t(8), std::size_t(2)});
    const double span = hi > lo ? hi - lo : 1.0;
    for (std::size_t i = 0; i < 16; ++i)
        p.data()[i] = -1.0 + 2.0 * (r.values[i] - lo) / span;
    return p;
}

/// Rows of pendigits.tes used by the examples and tests: the "zero" of the
/// published notebook (line 59), the "three" of the original paper (line
/// 177), and the first "six" (line 21) and "eight" (line 1) of the file.
inline std::vector<row> builtin_rows() {
    return {
        {{29, 97, 0, 57, 22, 10, 68, 0, 100, 40, 83, 90, 37, 100, 12, 57}, 0, 59},
        {{37, 80, 53, 100, 88, 83, 59, 60, 100, 44, 92, 15, 49, 0, 0, 8}, 3, 177},
        {{100, 100, 79, 80, 54, 59, 32, 38, 21, 16, 50, 0, 79, 16, 0, 16}, 6, 21},
        {{88, 92, 2, 99, 16, 66, 94, 37, 70, 0, 0, 24, 42, 65, 100, 100}, 8, 1},
    };
}

/// A few generated 8-point curves in [0, 100]^2 (label -1): arcs, a spiral,
/// a wave, a zigzag, a loop; with builtin_rows() they make the built-in set
/// that `tensig pendigits` inverts when given no file.
inline std::vector<row> generated_curves() {
    std::vector<row> rows;
    auto add = [&](auto&& f) {
        row r;
        r.label = -1;
        for (std::size_t j = 0; j < 8; ++j) {
            const double t = static_cast<double>(j) / 7.0;
            const auto [x, y] = f(t);
            r.values[2 * j] = std::round(50 + 50 * x);
            r.values[2 * j + 1] = std::round(50 + 50 * y);
        }
        rows.push_back(r);
    };
    const double pi = 3.14159265358979323846;
    add([&](double t) { return std::pair{std::cos(pi * t), std::sin(pi * t)}; }); // half circle
    add([&](double t) {
        return std::pair{std::cos(1.6 * pi * t), std::sin(1.6 * pi * t)};
    }); // most of a circle
    add([&](double t) { return std::pair{t * std::cos(3 * pi * t), t * std::sin(3 * pi * t)}; }); // spiral
    add([&](double t) { return std::pair{2 * t - 1, 0.8 * std::sin(2 * pi * t)}; });              // wave
    add([&](double t) {
        return std::pair{2 * t - 1, (static_cast<int>(7 * t + 0.5) % 2) ? 0.6 : -0.6};
    });                                                                                       // zigzag
    add([&](double t) { return std::pair{std::sin(2 * pi * t), std::sin(4 * pi * t) / 2}; }); // figure eight
    return rows;
}

/// Read a file in the UCI format (17 comma-separated integers per line: 16
/// coordinates in 0..100, then the label 0..9).
/// \throws invalid_input naming the file and line of anything else.
inline std::vector<row> read(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw invalid_input(path + ": cannot open file");
    std::vector<row> rows;
    std::string line;
    std::size_t n = 0;
    while (std::getline(in, line)) {
        ++n;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        std::stringstream ss(line);
        std::string field;
        row r;
        r.line = n;
        std::size_t k = 0;
        while (std::getline(ss, field, ',')) {
            std::size_t pos = 0;
            long v = 0;
            try {
                v = std::stol(field, &pos);
            } catch (const std::exception&) {
                pos = 0;
            }
            if (pos == 0 || field.find_first_not_of(" \t\r", pos) != std::string::npos)
                throw invalid_input(path + ": line " + std::to_string(n) + ": '" + field +
                                    "' is not an integer");
            if (k < 16) {
                if (v < 0 || v > 100)
                    throw invalid_input(path + ": line " + std::to_string(n) + ": coordinate " +
                                        std::to_string(v) + " is outside 0..100");
                r.values[k] = static_cast<double>(v);
            } else if (k == 16) {
                if (v < 0 || v > 9)
                    throw invalid_input(path + ": line " + std::to_string(n) + ": label " +
                                        std::to_string(v) + " is not a digit");
                r.label = static_cast<int>(v);
            }
            ++k;
        }
        if (k != 17)
            throw invalid_input(path + ": line " + std::to_string(n) + " has " + std::to_string(k) +
                                " fields; PenDigits rows have 17");
        rows.push_back(r);
    }
    return rows;
}

} // namespace tensig::pendigits

#include "tensig/io/io.hpp"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <xtensor/xadapt.hpp>
#include <xtensor/xnpy.hpp>
#include <xtensor/xoperation.hpp>

#include "tensig/error.hpp"
#include "tensig/shape/shape.hpp"

namespace tensig::io {

namespace {

std::string extension_of(const std::string& path) {
    std::string ext = std::filesystem::path(path).extension().string();
    for (auto& c : ext)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ext;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
    throw invalid_input(path + ": " + what);
}

// "cannot open file (No such file or directory)"; call right after the failed open.
[[noreturn]] void fail_open(const std::string& path) {
    const int err = errno;
    fail(path, err ? "cannot open file (" + std::string(std::strerror(err)) + ")" : "cannot open file");
}

// ---- .npy validation (xtensor's reader trusts the header and does not check
// that the data is all there, so we check before handing the file over) ----

struct npy_header {
    std::string descr;
    bool fortran = false;
    std::vector<std::size_t> shape;
};

std::string dict_value(const std::string& header, const std::string& key, const std::string& path) {
    const auto k = header.find("'" + key + "'");
    if (k == std::string::npos) fail(path, "corrupt .npy header: no '" + key + "' entry");
    const auto colon = header.find(':', k);
    if (colon == std::string::npos) fail(path, "corrupt .npy header near '" + key + "'");
    std::size_t start = colon + 1;
    while (start < header.size() && header[start] == ' ')
        ++start;
    std::size_t end = start;
    if (start < header.size() && header[start] == '(') {
        end = header.find(')', start);
        if (end == std::string::npos) fail(path, "corrupt .npy header: unterminated shape");
        return header.substr(start, end - start + 1);
    }
    while (end < header.size() && header[end] != ',' && header[end] != '}')
        ++end;
    return header.substr(start, end - start);
}

npy_header validate_npy(const std::string& path) {
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in) fail_open(path);
    in.seekg(0, std::ios::end);
    const auto file_size = static_cast<std::uintmax_t>(in.tellg());
    in.seekg(0);
    char magic[8];
    if (!in.read(magic, 8) || std::string(magic, 6) != "\x93NUMPY")
        fail(path, "not a .npy file (bad magic string)");
    const int major = static_cast<unsigned char>(magic[6]);
    std::uintmax_t header_len = 0, prefix = 0;
    if (major == 1) {
        unsigned char b[2];
        if (!in.read(reinterpret_cast<char*>(b), 2)) fail(path, "truncated .npy header");
        header_len = b[0] | (b[1] << 8);
        prefix = 10;
    } else if (major == 2 || major == 3) {
        unsigned char b[4];
        if (!in.read(reinterpret_cast<char*>(b), 4)) fail(path, "truncated .npy header");
        header_len = b[0] | (b[1] << 8) | (static_cast<std::uintmax_t>(b[2]) << 16) |
                     (static_cast<std::uintmax_t>(b[3]) << 24);
        prefix = 12;
        if (major == 3) fail(path, ".npy format version 3 is not supported");
    } else {
        fail(path, "unsupported .npy format version " + std::to_string(major));
    }
    if (prefix + header_len > file_size) fail(path, "truncated .npy header");
    std::string header(header_len, '\0');
    in.read(header.data(), static_cast<std::streamsize>(header_len));

    npy_header h;
    std::string descr = dict_value(header, "descr", path);
    if (descr.size() < 2 || (descr.front() != '\'' && descr.front() != '"'))
        fail(path, "corrupt .npy header: bad descr");
    h.descr = descr.substr(1, descr.size() - 2);
    const std::string fortran = dict_value(header, "fortran_order", path);
    if (fortran.rfind("True", 0) == 0)
        h.fortran = true;
    else if (fortran.rfind("False", 0) != 0)
        fail(path, "corrupt .npy header: bad fortran_order");
    const std::string shape_str = dict_value(header, "shape", path);
    if (shape_str.size() < 2 || shape_str.front() != '(') fail(path, "corrupt .npy header: bad shape");
    std::stringstream ss(shape_str.substr(1, shape_str.size() - 2));
    std::string item;
    while (std::getline(ss, item, ',')) {
        const auto first = item.find_first_not_of(' ');
        if (first == std::string::npos) continue;
        item = item.substr(first, item.find_last_not_of(' ') - first + 1);
        if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos || item.size() > 19)
            fail(path, "corrupt .npy header: bad shape entry '" + item + "'");
        h.shape.push_back(std::stoull(item));
    }
    std::size_t word = 0;
    if (h.descr == "<f8" || h.descr == "<i8")
        word = 8;
    else if (h.descr == "<f4" || h.descr == "<i4")
        word = 4;
    else
        fail(path,
             "unsupported .npy dtype '" + h.descr + "' (use little-endian float64, float32, int64 or int32)");
    std::size_t count = 1;
    for (auto k : h.shape)
        count = detail::checked_mul(count, k, (path + ": array").c_str());
    detail::check_fits_in_memory(count, sizeof(double),
                                 path + ": an array of " + std::to_string(count) + " values");
    const std::uintmax_t expected = prefix + header_len + static_cast<std::uintmax_t>(count) * word;
    if (file_size < expected)
        fail(path, "truncated .npy data: the header promises " + std::to_string(count) + " values (" +
                       std::to_string(expected) + " bytes) but the file has " + std::to_string(file_size) +
                       " bytes");
    if (file_size > expected)
        fail(path, "corrupt .npy file: " + std::to_string(file_size - expected) + " bytes after the data");
    return h;
}

template <class T> xt::xarray<double> load_as_double(const std::string& path) {
    auto loaded = xt::load_npy<T>(path);
    xt::xarray<double> out = xt::cast<double>(loaded);
    return out;
}

array read_npy(const std::string& path) {
    const npy_header h = validate_npy(path);
    array a;
    try {
        if (h.descr == "<f8") {
            a.values = load_as_double<double>(path);
        } else if (h.descr == "<f4") {
            a.values = load_as_double<float>(path);
            a.type = dtype::f32;
        } else if (h.descr == "<i8") {
            a.values = load_as_double<std::int64_t>(path);
        } else {
            a.values = load_as_double<std::int32_t>(path);
        }
    } catch (const invalid_input&) {
        throw;
    } catch (const std::exception& e) {
        fail(path, std::string("cannot read .npy file: ") + e.what());
    }
    return a;
}

// ---- .csv ------------------------------------------------------------------------

array read_csv(const std::string& path) {
    errno = 0;
    std::ifstream in(path);
    if (!in) fail_open(path);
    std::vector<double> values;
    std::size_t cols = 0, rows = 0, line_no = 0;
    std::string line;
    while (std::getline(in, line)) {
        ++line_no;
        if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
        for (auto& c : line)
            if (c == '\r') c = ' ';
        if (line.find_first_not_of(" \t") == std::string::npos) continue; // blank line
        // Fields are separated by ',', ';' or tab (blanks around them are
        // ignored), or by blanks alone. An empty field ("1,,2", "1,2," or a
        // line of bare separators) is an error: skipping it would silently
        // shift the columns.
        std::vector<std::string> fields;
        if (line.find_first_of(",;\t") != std::string::npos) {
            std::size_t start = 0;
            while (true) {
                const auto sep = line.find_first_of(",;\t", start);
                std::string f =
                    line.substr(start, sep == std::string::npos ? std::string::npos : sep - start);
                const auto a = f.find_first_not_of(' ');
                f = a == std::string::npos ? std::string() : f.substr(a, f.find_last_not_of(' ') - a + 1);
                if (f.empty())
                    fail(path, "line " + std::to_string(line_no) + ", column " +
                                   std::to_string(fields.size() + 1) + ": empty field");
                fields.push_back(f);
                if (sep == std::string::npos) break;
                start = sep + 1;
            }
        } else {
            std::stringstream ss(line);
            for (std::string f; ss >> f;)
                fields.push_back(f);
        }
        std::size_t n = 0;
        for (const auto& field : fields) {
            errno = 0;
            char* end = nullptr;
            const double v = std::strtod(field.c_str(), &end);
            if (end == field.c_str() || *end != '\0')
                fail(path, "line " + std::to_string(line_no) + ", column " + std::to_string(n + 1) + ": '" +
                               field + "' is not a number");
            values.push_back(v);
            ++n;
        }
        if (n == 0) continue;
        if (rows == 0)
            cols = n;
        else if (n != cols)
            fail(path, "line " + std::to_string(line_no) + " has " + std::to_string(n) +
                           " values, the rows before " + std::to_string(cols));
        ++rows;
    }
    if (rows == 0) fail(path, "no data (empty CSV file)");
    array a;
    a.values = xt::adapt(values, std::vector<std::size_t>{rows, cols});
    return a;
}

void write_csv(std::ostream& out, const xt::xarray<double>& v, const std::string& path) {
    if (v.dimension() > 2)
        fail(path, "CSV holds arrays of rank 1 or 2; this result has rank " + std::to_string(v.dimension()) +
                       " (write .npy instead)");
    const std::size_t rows = v.dimension() == 2 ? v.shape()[0] : 1;
    const std::size_t cols = v.dimension() == 0 ? 1 : v.shape().back();
    char buf[32];
    for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t c = 0; c < cols; ++c) {
            std::snprintf(buf, sizeof buf, "%.17g", v.data()[r * cols + c]);
            out << (c ? "," : "") << buf;
        }
        out << '\n';
    }
}

} // namespace

array read_array(const std::string& path) {
    const std::string ext = extension_of(path);
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) fail(path, "is a directory, not a file");
    if (ext == ".npy") return read_npy(path);
    if (ext == ".csv" || ext == ".txt") return read_csv(path);
    fail(path, "unknown file type '" + ext + "' (use .npy or .csv)");
}

void write_file(const std::string& path, const std::string& content) {
    const std::string tmp = path + ".tmp-tensig";
    {
        std::ofstream out(tmp, std::ios::binary);
        if (!out) throw std::runtime_error(path + ": cannot open for writing");
        out.write(content.data(), static_cast<std::streamsize>(content.size()));
        if (!out) {
            out.close();
            std::remove(tmp.c_str());
            throw std::runtime_error(path + ": write failed");
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::remove(tmp.c_str());
        throw std::runtime_error(path + ": cannot write (" + ec.message() + ")");
    }
}

void write_array(const std::string& path, const xt::xarray<double>& values, dtype type) {
    const std::string ext = extension_of(path);
    if (ext != ".npy" && ext != ".csv" && ext != ".txt")
        fail(path, "unknown file type '" + ext + "' (use .npy or .csv)");
    if (ext == ".npy") {
        write_file(path, type == dtype::f32 ? xt::dump_npy(xt::xarray<float>(xt::cast<float>(values)))
                                            : xt::dump_npy(values));
    } else {
        std::ostringstream out;
        write_csv(out, values, path);
        write_file(path, out.str());
    }
}

} // namespace tensig::io

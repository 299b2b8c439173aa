#include "tensig/shape/shape.hpp"

#include <cstdio>
#include <limits>

#include <unistd.h>

namespace tensig {

namespace detail {

std::size_t physical_memory_bytes() noexcept {
    // Asked once: sysconf(_SC_PHYS_PAGES) is a system call (sysinfo), and
    // every tensor and workspace checks its size against it.
    static const std::size_t bytes = [] {
        const long pages = ::sysconf(_SC_PHYS_PAGES);
        const long page_size = ::sysconf(_SC_PAGESIZE);
        if (pages <= 0 || page_size <= 0) return std::size_t(0);
        return static_cast<std::size_t>(pages) * static_cast<std::size_t>(page_size);
    }();
    return bytes;
}

bool fits_in_memory(std::size_t count, std::size_t elem_size) noexcept {
    if (elem_size != 0 && count > std::numeric_limits<std::size_t>::max() / elem_size) return false;
    const std::size_t limit = physical_memory_bytes();
    return limit == 0 || count * elem_size <= limit;
}

void check_fits_in_memory(std::size_t count, std::size_t elem_size, const std::string& what) {
    const std::size_t limit = physical_memory_bytes();
    if (elem_size != 0 && count > std::numeric_limits<std::size_t>::max() / elem_size)
        throw size_error(what + " would need more than 2^64 bytes, far more than this machine's memory");
    const std::size_t bytes = count * elem_size;
    if (limit != 0 && bytes > limit) {
        const double gib = 1024.0 * 1024.0 * 1024.0;
        char need[64], have[64];
        std::snprintf(need, sizeof need, "%.3g", static_cast<double>(bytes) / gib);
        std::snprintf(have, sizeof have, "%.3g", static_cast<double>(limit) / gib);
        throw size_error(what + " would need " + need + " GiB, more than this machine's " + have +
                         " GiB of memory");
    }
}

} // namespace detail

namespace {
void check_dim_depth(std::size_t dim, std::size_t depth) {
    if (dim == 0) throw invalid_input("dimension must be at least 1 (got 0)");
    if (depth == 0) throw invalid_input("depth must be at least 1 (got 0)");
}

int moebius(std::size_t n) {
    int mu = 1;
    for (std::size_t p = 2; p * p <= n; ++p) {
        if (n % p == 0) {
            n /= p;
            if (n % p == 0) return 0;
            mu = -mu;
        }
    }
    if (n > 1) mu = -mu;
    return mu;
}
} // namespace

std::size_t sig_length(std::size_t dim, std::size_t depth) {
    check_dim_depth(dim, depth);
    return shape(dim, depth).sig_length();
}

std::size_t logsig_length(std::size_t dim, std::size_t depth) {
    check_dim_depth(dim, depth);
    (void)shape(dim, depth); // overflow check of d^N
    std::size_t total = 0;
    for (std::size_t k = 1; k <= depth; ++k) {
        // Witt: (1/k) sum_{m | k} mu(m) d^(k/m). The signed sum is computed
        // with the positive and negative parts apart so nothing wraps.
        std::size_t plus = 0, minus = 0;
        for (std::size_t m = 1; m <= k; ++m) {
            if (k % m != 0) continue;
            const int mu = moebius(m);
            if (mu == 0) continue;
            std::size_t p = 1;
            for (std::size_t i = 0; i < k / m; ++i)
                p *= dim;
            (mu > 0 ? plus : minus) += p;
        }
        total = detail::checked_add(total, (plus - minus) / k, "logsig_length");
    }
    return total;
}

std::size_t word_to_index(const std::vector<std::size_t>& word, std::size_t dim) {
    std::size_t index = 0;
    for (std::size_t pos = 0; pos < word.size(); ++pos) {
        if (word[pos] >= dim)
            throw invalid_input("word letter " + std::to_string(word[pos]) + " at position " +
                                std::to_string(pos) + " is not below the dimension " + std::to_string(dim));
        index = detail::checked_add(detail::checked_mul(index, dim, "word index"), word[pos], "word index");
    }
    return index;
}

std::vector<std::size_t> index_to_word(std::size_t index, std::size_t level, std::size_t dim) {
    if (dim == 0) throw invalid_input("dimension must be at least 1 (got 0)");
    const shape s(dim, level);
    if (index >= s.level_size(level))
        throw invalid_input("index " + std::to_string(index) + " is outside level " + std::to_string(level) +
                            " of size " + std::to_string(s.level_size(level)));
    std::vector<std::size_t> word(level);
    for (std::size_t pos = level; pos-- > 0;) {
        word[pos] = index % dim;
        index /= dim;
    }
    return word;
}

std::size_t word_to_flat(const std::vector<std::size_t>& word, const shape& s) {
    if (word.size() > s.depth())
        throw invalid_input("word of length " + std::to_string(word.size()) + " is longer than the depth " +
                            std::to_string(s.depth()));
    return s.level_offset(word.size()) + word_to_index(word, s.dim());
}

} // namespace tensig

#include "tensig/shape/lyndon.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "tensig/error.hpp"
#include "tensig/shape/shape.hpp"

namespace tensig {

namespace {

void check_dim_depth(std::size_t dim, std::size_t depth, const char* what) {
    if (dim == 0) throw invalid_input(std::string(what) + ": dimension must be at least 1 (got 0)");
    if (depth == 0) throw invalid_input(std::string(what) + ": depth must be at least 1 (got 0)");
}

/// Length of the longest proper suffix of w that is a Lyndon word (w has
/// length >= 2, so the last letter alone is one).
std::size_t standard_suffix(const std::vector<std::size_t>& w) {
    for (std::size_t start = 1; start < w.size(); ++start) {
        const std::vector<std::size_t> v(w.begin() + static_cast<std::ptrdiff_t>(start), w.end());
        if (is_lyndon(v)) return w.size() - start;
    }
    return 1; // unreachable for a non-empty suffix: a single letter is Lyndon
}

std::string bracket_of(const std::vector<std::size_t>& w) {
    if (w.size() == 1) return std::to_string(w[0] + 1);
    const std::size_t nv = standard_suffix(w);
    const auto cut = w.begin() + static_cast<std::ptrdiff_t>(w.size() - nv);
    return "[" + bracket_of({w.begin(), cut}) + "," + bracket_of({cut, w.end()}) + "]";
}

} // namespace

bool is_lyndon(const std::vector<std::size_t>& w) {
    if (w.empty()) return false;
    // A word is Lyndon iff it is strictly smaller than each proper suffix.
    for (std::size_t start = 1; start < w.size(); ++start)
        if (!std::lexicographical_compare(w.begin(), w.end(), w.begin() + static_cast<std::ptrdiff_t>(start),
                                          w.end()))
            return false;
    return true;
}

std::vector<std::vector<std::size_t>> lyndon_words(std::size_t dim, std::size_t depth) {
    check_dim_depth(dim, depth, "lyndon_words");
    const std::size_t count = logsig_length(dim, depth);
    detail::check_fits_in_memory(detail::checked_mul(count, depth + 4, "Lyndon words"), sizeof(std::size_t),
                                 "the " + std::to_string(count) + " Lyndon words of dimension " +
                                     std::to_string(dim) + " and depth " + std::to_string(depth));
    // Duval's algorithm lists the Lyndon words of length <= depth in
    // lexicographic order; bucket them by length to get the standard order.
    std::vector<std::vector<std::vector<std::size_t>>> by_length(depth + 1);
    std::vector<std::size_t> w;
    w.push_back(0);
    while (!w.empty()) {
        by_length[w.size()].push_back(w);
        const std::size_t m = w.size();
        while (w.size() < depth)
            w.push_back(w[w.size() - m]);
        while (!w.empty() && w.back() == dim - 1)
            w.pop_back();
        if (!w.empty()) ++w.back();
    }
    std::vector<std::vector<std::size_t>> out;
    out.reserve(count);
    for (auto& level : by_length)
        for (auto& x : level)
            out.push_back(std::move(x));
    if (out.size() != count) throw std::logic_error("lyndon_words: Duval's algorithm disagrees with Witt's formula");
    return out;
}

std::string lyndon_bracket(const std::vector<std::size_t>& w) {
    if (!is_lyndon(w)) {
        std::string s;
        for (std::size_t i = 0; i < w.size(); ++i)
            s += (i ? "," : "") + std::to_string(w[i]);
        throw invalid_input("lyndon_bracket: the word (" + s + ") is not a Lyndon word");
    }
    return bracket_of(w);
}

lie_basis::lie_basis(std::size_t dim, std::size_t depth)
    : dim_(dim), depth_(depth), tensor_length_(sig_length(dim, depth)) {
    check_dim_depth(dim, depth, "lie_basis");
    if (tensor_length_ > std::numeric_limits<std::uint32_t>::max())
        throw size_error("the Lyndon basis of dimension " + std::to_string(dim) + " and depth " +
                         std::to_string(depth) + " has " + std::to_string(tensor_length_) +
                         " tensor coordinates; Lyndon coordinates support at most 2^32");
    // An upper bound of the expansion entries: P_w has at most 2^(|w|-1)
    // words (and at most d^|w|).
    std::size_t bound = 0, below = 0;
    for (std::size_t k = 1; k <= depth; ++k) {
        const std::size_t upto = logsig_length(dim, k), n_k = upto - below;
        below = upto;
        std::size_t terms = 1, dk = 1;
        for (std::size_t j = 1; j <= k; ++j) {
            dk = detail::checked_mul(dk, dim, "Lyndon basis");
            if (j > 1 && terms < dk) terms = std::min(detail::checked_mul(terms, 2, "Lyndon basis"), dk);
        }
        bound = detail::checked_add(bound, detail::checked_mul(n_k, terms, "Lyndon basis"), "Lyndon basis");
    }
    detail::check_fits_in_memory(detail::checked_mul(bound, 2, "Lyndon basis"), sizeof(entry),
                                 "the Lyndon basis tables of dimension " + std::to_string(dim) + " and depth " +
                                     std::to_string(depth));

    words_ = lyndon_words(dim, depth);
    const shape sh(dim, depth);
    const std::size_t n = words_.size();
    coordinate_.resize(n);
    for (std::size_t i = 0; i < n; ++i)
        coordinate_[i] = word_to_flat(words_[i], sh) - 1; // levels 1..N
    // Within a level, lexicographic order is index order, so coordinate_ increases.
    auto lyndon_index = [&](std::size_t coord) -> std::size_t {
        const auto it = std::lower_bound(coordinate_.begin(), coordinate_.end(), coord);
        return (it != coordinate_.end() && *it == coord) ? static_cast<std::size_t>(it - coordinate_.begin()) : n;
    };

    expansion_ptr_.assign(1, 0);
    column_ptr_.assign(1, 0);
    std::vector<std::pair<std::size_t, std::int64_t>> terms;
    for (std::size_t i = 0; i < n; ++i) {
        const auto& w = words_[i];
        if (w.size() == 1) {
            expansion_.push_back({static_cast<std::uint32_t>(coordinate_[i]), 1});
        } else {
            // P_w = P_u P_v - P_v P_u with w = uv the standard factorisation;
            // u and v are shorter Lyndon words, already expanded.
            const std::size_t nv = standard_suffix(w), nu = w.size() - nv;
            const std::vector<std::size_t> u(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(nu));
            const std::vector<std::size_t> v(w.begin() + static_cast<std::ptrdiff_t>(nu), w.end());
            const std::size_t iu = lyndon_index(word_to_flat(u, sh) - 1);
            const std::size_t iv = lyndon_index(word_to_flat(v, sh) - 1);
            const std::size_t off_u = sh.level_offset(nu) - 1, off_v = sh.level_offset(nv) - 1;
            const std::size_t off_w = sh.level_offset(w.size()) - 1;
            const std::size_t du = sh.level_size(nu), dv = sh.level_size(nv);
            terms.clear();
            for (const entry& a : expansion(iu))
                for (const entry& b : expansion(iv)) {
                    const std::size_t ia = a.index - off_u, ib = b.index - off_v;
                    const std::int64_t c = std::int64_t(a.coef) * b.coef;
                    terms.emplace_back(off_w + ia * dv + ib, c);
                    terms.emplace_back(off_w + ib * du + ia, -c);
                }
            std::sort(terms.begin(), terms.end());
            for (std::size_t t = 0; t < terms.size();) {
                std::size_t e = t;
                std::int64_t c = 0;
                for (; e < terms.size() && terms[e].first == terms[t].first; ++e)
                    c += terms[e].second;
                if (c != 0) {
                    if (c > std::numeric_limits<std::int32_t>::max() || c < std::numeric_limits<std::int32_t>::min())
                        throw size_error("the Lyndon basis of depth " + std::to_string(depth) +
                                         " has bracket coefficients beyond 32 bits");
                    expansion_.push_back({static_cast<std::uint32_t>(terms[t].first), static_cast<std::int32_t>(c)});
                }
                t = e;
            }
        }
        expansion_ptr_.push_back(expansion_.size());
        bool diagonal = false;
        for (const entry& e : expansion(i)) {
            const std::size_t j = lyndon_index(e.index);
            if (j == n) continue;
            if (j == i) {
                diagonal = e.coef == 1;
                continue;
            }
            // The triangularity of the Lyndon basis (Reutenauer, Free Lie
            // Algebras, Thm 5.1): only larger Lyndon words occur in P_w.
            if (j < i) throw std::logic_error("lie_basis: Lyndon expansion is not triangular");
            column_.push_back({static_cast<std::uint32_t>(j), e.coef});
        }
        if (!diagonal) throw std::logic_error("lie_basis: Lyndon expansion lacks its leading word");
        column_ptr_.push_back(column_.size());
    }
    // the rows: the columns' entries transposed, each row by increasing column
    row_ptr_.assign(n + 1, 0);
    for (const entry& e : column_)
        ++row_ptr_[e.index + 1];
    for (std::size_t r = 0; r < n; ++r)
        row_ptr_[r + 1] += row_ptr_[r];
    row_.resize(column_.size());
    std::vector<std::size_t> fill(row_ptr_.begin(), row_ptr_.end() - 1);
    for (std::size_t i = 0; i < n; ++i)
        for (const entry& e : column(i))
            row_[fill[e.index]++] = {static_cast<std::uint32_t>(i), e.coef};
}

std::shared_ptr<const lie_basis> lie_basis::get(std::size_t dim, std::size_t depth) {
    check_dim_depth(dim, depth, "lie_basis");
    static std::mutex mutex;
    static std::map<std::pair<std::size_t, std::size_t>, std::shared_ptr<const lie_basis>> cache;
    const std::lock_guard<std::mutex> lock(mutex);
    auto& slot = cache[{dim, depth}];
    if (!slot) slot = std::make_shared<const lie_basis>(dim, depth);
    return slot;
}

} // namespace tensig

// Lyndon words, the Lie bases of the log-signature, conversions between
// signatures and log-signatures, and the multi-combine: against iisignature's
// values, Witt's formula, the Lie property (Dynkin's operator), round trips
// and finite differences.
#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <tuple>

#include <xtensor/xview.hpp>

#include "support/lanes_cases.hpp"
#include "support/oracle.hpp"

using tensig::logsig_basis;
using tensig::shape;

namespace {

constexpr double ref_tol = 1e-12;
constexpr double fd_tol = 1e-7;
const logsig_basis all_bases[] = {logsig_basis::expanded, logsig_basis::words, logsig_basis::lyndon};

const char* name(logsig_basis b) {
    return b == logsig_basis::expanded ? "expanded" : b == logsig_basis::words ? "words" : "lyndon";
}

/// The basis lists of logsig_bases.json ({"bases": {"d2_N4": ["1", ...]}}),
/// read with a few string searches (the file is small and regular).
std::map<std::string, std::vector<std::string>> read_bases() {
    std::ifstream in(oracle::data_path("logsig_bases.json"));
    REQUIRE(in);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    std::map<std::string, std::vector<std::string>> out;
    for (const std::string key : {"d2_N4", "d3_N4"}) {
        std::size_t at = text.find("\"" + key + "\"");
        REQUIRE(at != std::string::npos);
        at = text.find('[', at);
        REQUIRE(at != std::string::npos);
        // the strings up to the ']' that closes the list (brackets inside strings do not count)
        std::vector<std::string> list;
        for (std::size_t q = at + 1; q < text.size() && text[q] != ']'; ++q) {
            if (text[q] != '"') continue;
            const std::size_t close = text.find('"', q + 1);
            REQUIRE(close != std::string::npos);
            list.push_back(text.substr(q + 1, close - q - 1));
            q = close;
        }
        out[key] = list;
    }
    return out;
}

/// Levels 1..N of a tensor as a vector (level 0 dropped).
std::vector<double> tail(const tensig::tensor<double>& t) { return {t.data() + 1, t.data() + t.size()}; }

/// The right-normed bracket [..[[a1,a2],a3],..,ak] of a word, expanded in
/// level k (dense), by r(w a) = r(w) a - a r(w).
std::vector<double> right_normed(const std::vector<std::size_t>& w, std::size_t d) {
    std::vector<double> r(d, 0.0);
    r[w[0]] = 1;
    std::size_t len = d; // d^{j}
    for (std::size_t j = 1; j < w.size(); ++j) {
        std::vector<double> next(len * d, 0.0);
        for (std::size_t i = 0; i < len; ++i) {
            next[i * d + w[j]] += r[i];       // r a
            next[w[j] * len + i] -= r[i];     // a r
        }
        r = std::move(next);
        len *= d;
    }
    return r;
}

} // namespace

TEST_CASE("Lyndon words: Witt's count, order, factorisation", "[lie]") {
    for (std::size_t d = 1; d <= 5; ++d)
        for (std::size_t N = 1; N <= 7; ++N) {
            const auto words = tensig::lyndon_words(d, N);
            INFO("d = " << d << ", N = " << N);
            REQUIRE(words.size() == tensig::logsig_length(d, N));
            for (std::size_t i = 0; i < words.size(); ++i) {
                CHECK(tensig::is_lyndon(words[i]));
                if (i > 0) {
                    const auto& a = words[i - 1];
                    const auto& b = words[i];
                    CHECK((a.size() < b.size() || (a.size() == b.size() && a < b)));
                }
            }
        }
    // Known small cases.
    CHECK(tensig::lyndon_words(2, 3) ==
          std::vector<std::vector<std::size_t>>{{0}, {1}, {0, 1}, {0, 0, 1}, {0, 1, 1}});
    CHECK(tensig::is_lyndon({0, 0, 1, 0, 1}));
    CHECK_FALSE(tensig::is_lyndon({0, 1, 0, 1}));  // periodic
    CHECK_FALSE(tensig::is_lyndon({1, 0}));
    CHECK_FALSE(tensig::is_lyndon({}));
    CHECK(tensig::lyndon_bracket({0, 0, 1, 0, 1}) == "[[1,[1,2]],[1,2]]");
    CHECK_THROWS_AS(tensig::lyndon_bracket({1, 0}), tensig::invalid_input);
    CHECK_THROWS_AS(tensig::lyndon_words(0, 3), tensig::invalid_input);
    CHECK_THROWS_AS(tensig::lyndon_words(2, 0), tensig::invalid_input);
    CHECK_THROWS_AS(tensig::lie_basis::get(1000, 12), tensig::size_error);
}

TEST_CASE("Lyndon brackets match iisignature's basis", "[lie][reference]") {
    const auto bases = read_bases();
    for (const auto& [key, list] : bases) {
        const std::size_t d = std::size_t(key[1] - '0'), N = std::size_t(key[4] - '0');
        const auto words = tensig::lyndon_words(d, N);
        REQUIRE(words.size() == list.size());
        for (std::size_t i = 0; i < words.size(); ++i)
            CHECK(tensig::lyndon_bracket(words[i]) == list[i]);
    }
}

TEST_CASE("lie_basis: expansions are the brackets, M is unitriangular", "[lie]") {
    for (auto [d, N] : {std::pair<std::size_t, std::size_t>{2, 6}, {3, 4}, {4, 3}}) {
        INFO("d = " << d << ", N = " << N);
        const auto b = tensig::lie_basis::get(d, N);
        const shape s(d, N);
        REQUIRE(b->size() == tensig::logsig_length(d, N));
        REQUIRE(b->tensor_length() == s.sig_length());
        CHECK(tensig::lie_basis::get(d, N) == b); // cached
        // P_w built independently with the algebra's product: [u, v] = u⊗v - v⊗u.
        std::map<std::vector<std::size_t>, tensig::tensor<double>> P;
        for (std::size_t i = 0; i < b->size(); ++i) {
            const auto& w = b->word(i);
            tensig::tensor<double> t(s);
            if (w.size() == 1) {
                t[1 + w[0]] = 1;
            } else {
                std::size_t cut = 1;
                while (!tensig::is_lyndon({w.begin() + long(cut), w.end()}))
                    ++cut;
                const auto& u = P.at({w.begin(), w.begin() + long(cut)});
                const auto& v = P.at({w.begin() + long(cut), w.end()});
                t = u * v - v * u;
            }
            std::vector<double> mine(s.sig_length(), 0.0);
            for (const auto& e : b->expansion(i))
                mine[e.index] = e.coef;
            CHECK(oracle::max_abs_diff(mine, tail(t), mine.size()) == 0);
            CHECK(mine[b->coordinate(i)] == 1); // the leading word
            for (const auto& e : b->column(i))
                CHECK(e.index > i);
            P.emplace(w, std::move(t));
        }
    }
}

TEST_CASE("the Lyndon basis's rows are its columns transposed, each by increasing column", "[lie]") {
    for (auto [d, N] : {std::pair<std::size_t, std::size_t>{2, 8}, {3, 5}, {4, 4}}) {
        const auto b = tensig::lie_basis::get(d, N);
        std::map<std::pair<std::size_t, std::size_t>, std::int64_t> by_column, by_row;
        std::size_t entries = 0;
        for (std::size_t i = 0; i < b->size(); ++i) {
            for (const auto& e : b->column(i))
                by_column[{e.index, i}] = e.coef;
            std::size_t last = 0;
            for (const auto& e : b->row(i)) {
                CHECK(e.index < i);
                CHECK((last == 0 || e.index > last - 1));
                last = e.index + 1;
                by_row[{i, e.index}] = e.coef;
                ++entries;
            }
        }
        INFO("d " << d << " N " << N);
        CHECK(entries == by_row.size());
        CHECK(by_row == by_column);
        CHECK(!by_row.empty());
    }
}

TEST_CASE("logsignature in the Lyndon basis matches iisignature's logsig", "[lie][reference]") {
    for (const char* key : {"d2_N4", "d3_N4"}) {
        INFO(key);
        const std::string k(key);
        const auto path = oracle::load_ref<2>("logsig_" + k + "_path.npy");
        const auto ref = oracle::load_ref<1>("logsig_" + k + ".npy");
        const auto ref_x = oracle::load_ref<1>("logsig_" + k + "_expanded.npy");
        const std::size_t d = path.shape()[1], N = 4;
        const xt::xtensor<double, 1> ly = tensig::logsignature(path, N, logsig_basis::lyndon);
        REQUIRE(ly.size() == ref.size());
        CHECK(oracle::rel_err(ly, ref, ly.size()) <= ref_tol);
        const xt::xtensor<double, 1> x = tensig::logsignature(path, N, logsig_basis::expanded);
        CHECK(oracle::rel_err(x, ref_x, x.size()) <= ref_tol);
        // words: the expanded coefficients at the Lyndon words, by definition.
        const xt::xtensor<double, 1> wd = tensig::logsignature(path, N, logsig_basis::words);
        const auto b = tensig::lie_basis::get(d, N);
        REQUIRE(wd.size() == b->size());
        for (std::size_t i = 0; i < b->size(); ++i)
            CHECK(wd[i] == x[b->coordinate(i)]);
        // words = M lyndon (the triangular relation), and back.
        std::vector<double> t(ly.begin(), ly.end());
        tensig::lie::lyndon_to_words(*b, t.data());
        CHECK(oracle::rel_err(t, wd, t.size()) <= 1e-14);
        tensig::lie::words_to_lyndon(*b, t.data());
        CHECK(oracle::rel_err(t, ly, t.size()) <= 1e-14);
        // float
        const xt::xtensor<float, 2> pf = xt::cast<float>(path);
        const xt::xtensor<float, 1> lyf = tensig::logsignature(pf, N, logsig_basis::lyndon);
        CHECK(oracle::rel_err(lyf, ref, ref.size()) <= 2e-5);
    }
}

TEST_CASE("the log-signature is a Lie element: Dynkin's operator and the Lyndon expansion",
          "[lie][property]") {
    for (auto [d, N] : {std::pair<std::size_t, std::size_t>{2, 7}, {3, 5}, {5, 3}}) {
        INFO("d = " << d << ", N = " << N);
        const shape s(d, N);
        const auto path = oracle::random_path(6, d, 0.5);
        const xt::xtensor<double, 1> x = tensig::logsignature(path, N);
        // Dynkin-Specht-Wever: a homogeneous Lie element of degree k satisfies D(x_k) = k x_k,
        // with D the right-normed bracketing of each word.
        for (std::size_t k = 1; k <= N; ++k) {
            const std::size_t off = s.level_offset(k) - 1, n = s.level_size(k);
            std::vector<double> Dx(n, 0.0), kx(n);
            for (std::size_t i = 0; i < n; ++i) {
                kx[i] = double(k) * x[off + i];
                const auto r = right_normed(tensig::index_to_word(i, k, d), d);
                for (std::size_t j = 0; j < n; ++j)
                    Dx[j] += x[off + i] * r[j];
            }
            INFO("level " << k);
            CHECK(oracle::max_abs_diff(Dx, kx, n) <= 1e-13 * std::max(1.0, oracle::max_abs(kx, n)));
        }
        // and it is the combination of brackets its Lyndon coordinates say.
        const auto b = tensig::lie_basis::get(d, N);
        const xt::xtensor<double, 1> c = tensig::logsignature(path, N, logsig_basis::lyndon);
        std::vector<double> back(s.sig_length());
        tensig::lie::lyndon_to_tensor(*b, c.data(), back.data());
        CHECK(oracle::rel_err(back, x, back.size()) <= 1e-13);
        // A tensor that is not a Lie element (the signature itself) is not reproduced.
        const xt::xtensor<double, 1> sig = tensig::signature(path, N);
        std::vector<double> w(b->size());
        tensig::lie::tensor_to_words(*b, sig.data(), w.data());
        tensig::lie::words_to_lyndon(*b, w.data());
        tensig::lie::lyndon_to_tensor(*b, w.data(), back.data());
        CHECK(oracle::rel_err(back, sig, back.size()) > 1e-3);
    }
}

TEST_CASE("signature <-> log-signature round trips in every basis", "[lie][property]") {
    for (auto [d, N] : {std::pair<std::size_t, std::size_t>{2, 8}, {3, 5}, {4, 4}}) {
        const auto paths = [&] {
            xt::xtensor<double, 3> p({3, 7, d});
            for (std::size_t i = 0; i < 3; ++i)
                xt::view(p, i) = oracle::random_path(7, d, 0.6);
            return p;
        }();
        const xt::xtensor<double, 2> sig = tensig::signature(paths, N);
        for (auto basis : all_bases) {
            INFO("d = " << d << ", N = " << N << ", " << name(basis));
            const xt::xtensor<double, 2> l = tensig::logsignature(paths, N, basis);
            const xt::xtensor<double, 2> l2 = tensig::signature_to_logsignature(sig, d, N, basis);
            CHECK(oracle::rel_err(l2, l, l.size()) <= 1e-13);
            const xt::xtensor<double, 2> s2 = tensig::logsignature_to_signature(l, d, N, basis);
            REQUIRE(s2.shape() == sig.shape());
            // Projecting log S onto the Lie basis drops the non-Lie part of
            // its rounding, which exp then amplifies: for d = 2, N = 8 the
            // round trip of the correctly rounded signature (from long double)
            // differs from it by up to 3.5e-11 over 50 random paths, 4e-11 for ours.
            CAPTURE(oracle::rel_err(s2, sig, sig.size()));
            CHECK(oracle::rel_err(s2, sig, sig.size()) <= 1e-10);
            // one row alone
            const xt::xtensor<double, 1> row = xt::view(l, 1);
            const xt::xtensor<double, 1> s1 = tensig::logsignature_to_signature(row, d, N, basis);
            CHECK(oracle::max_abs_diff(s1, xt::xtensor<double, 1>(xt::view(s2, 1)), s1.size()) == 0);
        }
    }
}

TEST_CASE("logsignature_backward in every basis: iisignature's logsigbackprop and finite differences",
          "[lie][autodiff]") {
    const auto path = oracle::load_ref<2>("logsigbackprop_L10_d2_N4_path.npy");
    const auto deriv = oracle::load_ref<1>("logsigbackprop_L10_d2_N4_deriv.npy");
    const auto ref = oracle::load_ref<2>("logsigbackprop_L10_d2_N4_f64.npy");
    const xt::xtensor<double, 2> g = tensig::logsignature_backward(deriv, path, 4, logsig_basis::lyndon);
    REQUIRE(g.shape() == ref.shape());
    CHECK(oracle::rel_err(g, ref, g.size()) <= 1e-10);

    // (L, d, N) = (8, 2, 12): one path by the signature's prefix lanes both ways
    for (auto [L, d, N] :
         {std::tuple<std::size_t, std::size_t, std::size_t>{5, 2, 6}, {5, 3, 4}, {5, 4, 3}, {8, 2, 12}}) {
        const auto p = oracle::random_path(L, d, N > 6 ? 0.4 : 0.6), v = oracle::random_path(L, d);
        for (auto basis : all_bases) {
            INFO("L = " << L << ", d = " << d << ", N = " << N << ", " << name(basis));
            const xt::xtensor<double, 1> l = tensig::logsignature(p, N, basis);
            const xt::xtensor<double, 1> w = oracle::random_vec(l.size());
            const xt::xtensor<double, 2> gp = tensig::logsignature_backward(w, p, N, basis);
            const double fd = oracle::richardson([&](double t) {
                const xt::xtensor<double, 2> q = p + t * v;
                const xt::xtensor<double, 1> lq = tensig::logsignature(q, N, basis);
                return oracle::dot(lq, w, lq.size());
            });
            CHECK(std::abs(oracle::dot(gp, v, gp.size()) - fd) <= fd_tol * std::max(1.0, std::abs(fd)));
            // batched equals looped
            xt::xtensor<double, 3> P({2, L, d});
            xt::view(P, 0) = p;
            xt::view(P, 1) = v;
            xt::xtensor<double, 2> W({2, l.size()});
            xt::view(W, 0) = w;
            xt::view(W, 1) = w;
            const xt::xtensor<double, 3> G = tensig::logsignature_backward(W, P, N, basis);
            const xt::xtensor<double, 2> G0 = xt::view(G, 0);
            if (tensig::kernels::lanes<double>() > 2) // the same route: the same bits
                CHECK(oracle::max_abs_diff(G0, gp, gp.size()) == 0);
            else // two paths in SSE2's two lanes, one alone: equal to rounding
                CHECK(oracle::rel_err(G0, gp, gp.size()) <= 1e-13);
        }
    }
    // the gradient must have the basis's length
    CHECK_THROWS_AS(tensig::logsignature_backward(deriv, path, 4, logsig_basis::expanded), tensig::invalid_input);
}

// logsignature_backward runs signature_batch and signature_backward_batch:
// groups of W paths in SIMD lanes, the rest one by one.
TEMPLATE_TEST_CASE("logsignature_backward of batches in SIMD lanes equals one path at a time",
                   "[lie][autodiff][paths]", float, double) {
    using T = TestType;
    const double tol = std::is_same_v<T, float> ? 5e-4 : 1e-11;
    lanes_cases::for_each<T>(
        [&](std::size_t W, std::size_t d, std::size_t N, const tensig::signature_options& o) {
            if (d == 1) return; // (no Lyndon words of length > 1)
            for (auto basis : {logsig_basis::lyndon, logsig_basis::expanded}) {
                INFO(name(basis));
                const std::size_t B = 2 * W + 3, L = 11; // two groups and three alone
                const std::size_t n =
                    basis == logsig_basis::lyndon ? tensig::logsig_length(d, N) : tensig::sig_length(d, N);
                xt::xtensor<T, 3> paths({B, L, d});
                xt::xtensor<T, 2> grads({B, n});
                for (std::size_t b = 0; b < B; ++b) {
                    xt::view(paths, b, xt::all(), xt::all()) = oracle::random_path<T>(L, d, 0.5);
                    const auto g = oracle::random_vec(n);
                    for (std::size_t i = 0; i < n; ++i)
                        grads(b, i) = T(g(i));
                }
                const xt::xtensor<T, 3> G = tensig::logsignature_backward(grads, paths, N, basis, o);
                for (std::size_t b = 0; b < B; ++b) {
                    const xt::xtensor<T, 2> one = tensig::logsignature_backward(
                        xt::xtensor<T, 1>(xt::row(grads, b)),
                        xt::xtensor<T, 2>(xt::view(paths, b, xt::all(), xt::all())), N, basis, o);
                    CHECK(oracle::rel_err(xt::xtensor<T, 2>(xt::view(G, b, xt::all(), xt::all())), one,
                                          one.size()) <= tol);
                }
            }
        });
}

TEST_CASE("signature_combine_many: Chen's identity and its backward", "[lie][paths]") {
    const std::size_t d = 3, N = 4;
    const auto path = oracle::random_path(10, d, 0.5);
    // pieces sharing end points: points 0..3, 3..6, 6..9
    xt::xtensor<double, 2> sigs({3, tensig::sig_length(d, N)});
    for (std::size_t j = 0; j < 3; ++j)
        xt::view(sigs, j) =
            tensig::signature(xt::xtensor<double, 2>(xt::view(path, xt::range(3 * j, 3 * j + 4))), N);
    const xt::xtensor<double, 1> all = tensig::signature(path, N);
    const xt::xtensor<double, 1> c = tensig::signature_combine_many(sigs, d, N);
    CHECK(oracle::rel_err(c, all, c.size()) <= 1e-13);
    // equals folding the pairwise combine
    const xt::xtensor<double, 1> s01 = tensig::signature_combine(xt::xtensor<double, 1>(xt::view(sigs, 0)),
                                                                 xt::xtensor<double, 1>(xt::view(sigs, 1)), d, N);
    const xt::xtensor<double, 1> s012 =
        tensig::signature_combine(s01, xt::xtensor<double, 1>(xt::view(sigs, 2)), d, N);
    CHECK(oracle::max_abs_diff(c, s012, c.size()) <= 1e-15);
    // M = 1 is the identity, M = 0 the unit
    const xt::xtensor<double, 2> one = xt::view(sigs, xt::range(0, 1));
    CHECK(oracle::max_abs_diff(tensig::signature_combine_many(one, d, N), xt::view(sigs, 0), c.size()) == 0);
    const xt::xtensor<double, 2> none = xt::zeros<double>({std::size_t(0), c.size()});
    CHECK(oracle::max_abs(tensig::signature_combine_many(none, d, N), c.size()) == 0);
    const xt::xtensor<double, 1> w0 = oracle::random_vec(c.size());
    CHECK(tensig::signature_combine_many_backward(w0, none, d, N).size() == 0); // the unit depends on nothing
    // a batch (2, 3, m) equals looping
    xt::xtensor<double, 3> batch({2, 3, c.size()});
    xt::view(batch, 0) = sigs;
    xt::view(batch, 1) = 0.5 * sigs;
    const xt::xtensor<double, 2> cb = tensig::signature_combine_many(batch, d, N);
    CHECK(oracle::max_abs_diff(xt::xtensor<double, 1>(xt::view(cb, 0)), c, c.size()) == 0);

    // backward against finite differences
    const xt::xtensor<double, 1> w = oracle::random_vec(c.size());
    const xt::xtensor<double, 2> v = oracle::random_path(3, c.size());
    const xt::xtensor<double, 2> g = tensig::signature_combine_many_backward(w, sigs, d, N);
    REQUIRE(g.shape() == sigs.shape());
    const double fd = oracle::richardson([&](double t) {
        const xt::xtensor<double, 2> q = sigs + t * v;
        const xt::xtensor<double, 1> cq = tensig::signature_combine_many(q, d, N);
        return oracle::dot(cq, w, cq.size());
    });
    CHECK(std::abs(oracle::dot(g, v, g.size()) - fd) <= fd_tol * std::max(1.0, std::abs(fd)));
    xt::xtensor<double, 2> W({2, c.size()});
    xt::view(W, 0) = w;
    xt::view(W, 1) = 2.0 * w;
    const xt::xtensor<double, 3> gb = tensig::signature_combine_many_backward(W, batch, d, N);
    CHECK(oracle::max_abs_diff(xt::xtensor<double, 2>(xt::view(gb, 0)), g, g.size()) == 0);
}

TEST_CASE("Lie bases: bad inputs name what was wrong", "[lie][errors]") {
    const std::size_t d = 2, N = 4;
    const xt::xtensor<double, 1> wrong = xt::zeros<double>({std::size_t(7)});
    CHECK_THROWS_WITH(tensig::logsignature_to_signature(wrong, d, N, logsig_basis::lyndon),
                      Catch::Contains("have length 8; got 7"));
    CHECK_THROWS_WITH(tensig::signature_to_logsignature(wrong, d, N), Catch::Contains("have length 30; got 7"));
    xt::xtensor<double, 1> bad = xt::zeros<double>({std::size_t(8)});
    bad[3] = std::nan("");
    CHECK_THROWS_WITH(tensig::logsignature_to_signature(bad, d, N, logsig_basis::words),
                      Catch::Contains("non-finite") && Catch::Contains("(3)"));
    const xt::xtensor<double, 3> r3 = xt::zeros<double>({1, 1, 30});
    CHECK_THROWS_WITH(tensig::signature_to_logsignature(xt::xarray<double>(r3), d, N), Catch::Contains("shape"));
    const xt::xtensor<double, 2> sigs = xt::zeros<double>({3, 29});
    CHECK_THROWS_WITH(tensig::signature_combine_many(sigs, d, N), Catch::Contains("(M, 30)"));
    CHECK_THROWS_WITH(tensig::signature_to_logsignature(wrong, 0, N),
                      Catch::Contains("signature_to_logsignature: dimension must be at least 1"));
}

TEST_CASE("lie_basis::get is thread-safe and builds once", "[lie][parallel]") {
    std::vector<std::shared_ptr<const tensig::lie_basis>> got(4);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < got.size(); ++t)
        threads.emplace_back([&, t] { got[t] = tensig::lie_basis::get(3, 6); });
    for (auto& t : threads)
        t.join();
    for (const auto& g : got)
        CHECK(g == got[0]);
    CHECK(got[0]->size() == tensig::logsig_length(3, 6));
}

// Layer 7 geometry: exact tree reduction, the signature-distance simplifier,
// path metrics (Hausdorff, point error, compare_paths) and the SVG writer.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include <tensig/inversion/metrics.hpp>
#include <tensig/inversion/tree_reduce.hpp>
#include <tensig/io/svg.hpp>
#include <tensig/tensig.hpp>

namespace {

using rows = std::initializer_list<std::initializer_list<double>>;

template <class T = double> xt::xtensor<T, 2> make_path(rows r) {
    const std::size_t L = r.size(), d = L ? r.begin()->size() : 0;
    xt::xtensor<T, 2> p({L, d});
    std::size_t i = 0;
    for (const auto& row : r) {
        std::size_t j = 0;
        for (double v : row)
            p(i, j++) = static_cast<T>(v);
        ++i;
    }
    return p;
}

template <class T> xt::xtensor<T, 2> from_points(const std::vector<std::vector<T>>& pts) {
    xt::xtensor<T, 2> p({pts.size(), pts.front().size()});
    for (std::size_t i = 0; i < pts.size(); ++i)
        for (std::size_t j = 0; j < pts[i].size(); ++j)
            p(i, j) = pts[i][j];
    return p;
}

template <class T> std::vector<std::vector<T>> to_points(const xt::xtensor<T, 2>& p) {
    std::vector<std::vector<T>> pts(p.shape()[0], std::vector<T>(p.shape()[1]));
    for (std::size_t i = 0; i < p.shape()[0]; ++i)
        for (std::size_t j = 0; j < p.shape()[1]; ++j)
            pts[i][j] = p(i, j);
    return pts;
}

// Exact comparison: the reductions only ever delete points, so the kept
// points are the input's bits.
template <class T> bool same_points(const xt::xtensor<T, 2>& a, const xt::xtensor<T, 2>& b) {
    return a.shape() == b.shape() && to_points(a) == to_points(b);
}

template <class T> double length(const xt::xtensor<T, 2>& p) {
    double total = 0;
    for (std::size_t i = 1; i < p.shape()[0]; ++i) {
        double s = 0;
        for (std::size_t j = 0; j < p.shape()[1]; ++j)
            s += std::pow(double(p(i, j)) - double(p(i - 1, j)), 2);
        total += std::sqrt(s);
    }
    return total;
}

bool has_repeated_points(const xt::xtensor<double, 2>& p) {
    const auto pts = to_points(p);
    for (std::size_t i = 1; i < pts.size(); ++i)
        if (pts[i] == pts[i - 1]) return true;
    return false;
}

// Relative max-norm distance between two depth-6 signatures.
double signature_gap(const xt::xtensor<double, 2>& a, const xt::xtensor<double, 2>& b) {
    const xt::xtensor<double, 1> sa = tensig::signature(a, 6), sb = tensig::signature(b, 6);
    double diff = 0, size = 0;
    for (std::size_t k = 0; k < sa.size(); ++k) {
        diff = std::max(diff, std::abs(sa(k) - sb(k)));
        size = std::max(size, std::abs(sb(k)));
    }
    return diff / std::max(1.0, size);
}

double window_gap(const std::vector<std::vector<double>>& pts, std::size_t i, std::size_t w,
                  std::size_t depth) {
    const std::vector<std::vector<double>> window(pts.begin() + static_cast<std::ptrdiff_t>(i),
                                                  pts.begin() + static_cast<std::ptrdiff_t>(i + w));
    const xt::xtensor<double, 1> s1 = tensig::signature(from_points(window), depth);
    const xt::xtensor<double, 1> s2 = tensig::signature(from_points<double>({pts[i], pts[i + w - 1]}), depth);
    double sum = 0;
    for (std::size_t k = 0; k < s1.size(); ++k)
        sum += (s1(k) - s2(k)) * (s1(k) - s2(k));
    return std::sqrt(sum);
}

// A random path plus tree-like decorations: spikes out and back, nested
// spikes, points inside segments and overshoots that turn back. Its exact
// reduction is the undecorated path, bit for bit.
struct decorated {
    xt::xtensor<double, 2> plain, path;
};

decorated decorate(std::mt19937_64& gen, std::size_t L, std::size_t d) {
    std::normal_distribution<double> g(0.0, 1.0);
    std::uniform_real_distribution<double> u(0.1, 0.9);
    std::uniform_int_distribution<int> kind(0, 4);
    const auto random_point = [&] {
        std::vector<double> p(d);
        for (auto& v : p)
            v = g(gen);
        return p;
    };
    const auto lerp = [&](const std::vector<double>& a, const std::vector<double>& b, double t) {
        std::vector<double> p(d);
        for (std::size_t j = 0; j < d; ++j)
            p[j] = a[j] + t * (b[j] - a[j]);
        return p;
    };
    std::vector<std::vector<double>> plain, path;
    for (std::size_t i = 0; i < L; ++i)
        plain.push_back(random_point());
    for (std::size_t i = 0; i < L; ++i) {
        const auto& p = plain[i];
        path.push_back(p);
        if (i + 1 == L) break;
        const auto& q = plain[i + 1];
        switch (kind(gen)) {
        case 0: { // spike p -> s -> p
            path.push_back(random_point());
            path.push_back(p);
            break;
        }
        case 1: { // nested spikes p -> s -> r -> s -> p
            const auto s = random_point(), r = random_point();
            path.insert(path.end(), {s, r, s, p});
            break;
        }
        case 2: // a point inside the segment
            path.push_back(lerp(p, q, u(gen)));
            break;
        case 3: // overshoot past q, then back to q
            path.push_back(lerp(p, q, 1.0 + u(gen)));
            break;
        default: // a repeated point
            path.push_back(p);
        }
    }
    return {from_points(plain), from_points(path)};
}

std::string temp_name(const std::string& stem) {
    return (std::filesystem::temp_directory_path() / ("tensig_geometry_" + stem)).string();
}

std::string read_text(const std::string& file) {
    std::ifstream in(file);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++n;
    return n;
}

} // namespace

// ---- tree_reduce ---------------------------------------------------------------------

TEMPLATE_TEST_CASE("tree_reduce removes spikes exactly", "[geometry]", float, double) {
    using T = TestType;
    const auto lone = tensig::tree_reduce(make_path<T>({{0.25, -1}, {3, 7}, {0.25, -1}}));
    CHECK(same_points(lone, make_path<T>({{0.25, -1}})));

    const auto with_spike = make_path<T>({{0, 0}, {1, 0}, {1.5, 1}, {0.75, 3}, {1.5, 1}, {2, 3}});
    const auto without = make_path<T>({{0, 0}, {1, 0}, {1.5, 1}, {2, 3}});
    CHECK(same_points(tensig::tree_reduce(with_spike), without));
    CHECK(same_points(tensig::tree_reduce(without), without));
}

TEST_CASE("tree_reduce shortens partial turn-backs and merges collinear points", "[geometry]") {
    CHECK(same_points(tensig::tree_reduce(make_path({{0, 0}, {2, 0}, {1, 0}})), make_path({{0, 0}, {1, 0}})));
    CHECK(same_points(tensig::tree_reduce(make_path({{0}, {2}, {1}})), make_path({{0}, {1}})));
    // in 3-D, along a diagonal, with a turn-back past the start
    CHECK(same_points(tensig::tree_reduce(make_path({{1, 1, 1}, {3, 3, 3}, {-1, -1, -1}})),
                      make_path({{1, 1, 1}, {-1, -1, -1}})));
    CHECK(same_points(tensig::tree_reduce(make_path({{0, 0}, {1, 1}, {2, 2}, {3, 3}, {3, 4}})),
                      make_path({{0, 0}, {3, 3}, {3, 4}})));
    // collinear points made by rounding (0.1 steps) still merge
    CHECK(same_points(tensig::tree_reduce(make_path({{0, 0}, {0.1, 0.3}, {0.2, 0.6}, {0.3, 0.9}, {1, 1}})),
                      make_path({{0, 0}, {0.3, 0.9}, {1, 1}})));
}

TEST_CASE("tree_reduce collapses nested spikes and zero-length segments", "[geometry]") {
    // a tree: out along x, a branch up, back, further out, all the way back
    const auto tree = make_path({{0, 0}, {1, 0}, {1, 1}, {1, 0}, {2, 0}, {1, 0}, {0, 0}, {0, -1}});
    CHECK(same_points(tensig::tree_reduce(tree), make_path({{0, 0}, {0, -1}})));
    const auto nested = make_path({{0, 0}, {1, 2}, {3, 1}, {4, 4}, {3, 1}, {1, 2}, {0, 0}});
    CHECK(same_points(tensig::tree_reduce(nested), make_path({{0, 0}})));
    const auto repeats = make_path({{0, 0}, {0, 0}, {1, 0}, {1, 0}, {1, 1}, {1, 1}});
    CHECK(same_points(tensig::tree_reduce(repeats), make_path({{0, 0}, {1, 0}, {1, 1}})));
    CHECK(same_points(tensig::tree_reduce(make_path({{2, 3}, {2, 3}, {2, 3}})), make_path({{2, 3}})));
    CHECK(same_points(tensig::tree_reduce(make_path({{2, 3}})), make_path({{2, 3}})));
}

TEST_CASE("tree_reduce keeps the signature and the end points, never lengthens, is idempotent",
          "[geometry]") {
    std::mt19937_64 gen(4242);
    for (std::size_t d : {2, 3, 5}) {
        for (int trial = 0; trial < 20; ++trial) {
            INFO("d = " << d << ", trial " << trial);
            const auto [plain, path] = decorate(gen, 8, d);
            const auto reduced = tensig::tree_reduce(path);
            // random points are in general position, so the decorations and
            // nothing else go
            CHECK(same_points(reduced, plain));
            CHECK(signature_gap(reduced, path) <= 1e-12);
            CHECK(same_points(tensig::tree_reduce(reduced), reduced));
            CHECK(length(reduced) <= length(path) * (1 + 1e-15));
            for (double rel_tol : {1e-3, 0.05, 0.3}) {
                const auto loose = tensig::tree_reduce(path, rel_tol);
                CHECK(same_points(tensig::tree_reduce(loose, rel_tol), loose));
                CHECK(length(loose) <= length(path) * (1 + 1e-15));
                CHECK(same_points(xt::xtensor<double, 2>(xt::view(loose, xt::keep(0, -1))),
                                  xt::xtensor<double, 2>(xt::view(path, xt::keep(0, -1)))));
            }
        }
    }
}

TEST_CASE("tree_reduce's tolerance removes near-turn-backs, not genuine corners", "[geometry]") {
    // out to (1, 0), back to nearly the middle: a thin triangle
    const auto near_turn = make_path({{0, 0}, {1, 0}, {0.5, 1e-4}, {0.5, 1}});
    CHECK(same_points(tensig::tree_reduce(near_turn), near_turn));
    CHECK(same_points(tensig::tree_reduce(near_turn, 1e-3), make_path({{0, 0}, {0.5, 1e-4}, {0.5, 1}})));
    // a near-spike whose ends almost meet: flat although b is far from the
    // line through a and a'
    const auto near_spike = make_path({{0, 0}, {5, 0}, {1e-5, 1e-5}, {3, 4}});
    CHECK(same_points(tensig::tree_reduce(near_spike, 1e-4), make_path({{0, 0}, {3, 4}})));
    // corners of 90 degrees and of 10 degrees stay
    const auto square = make_path({{0, 0}, {1, 0}, {1, 1}, {0, 1}, {0, 0}});
    CHECK(same_points(tensig::tree_reduce(square, 1e-3), square));
    const auto sharp = make_path({{0, 0}, {1, 0}, {0, std::tan(0.17)}});
    CHECK(same_points(tensig::tree_reduce(sharp, 1e-2), sharp));
    // a closed near-loop keeps both its ends, so level 1 stays exact
    const auto almost_closed = make_path({{0, 0}, {1, 0}, {1e-9, 0}});
    CHECK(same_points(tensig::tree_reduce(almost_closed, 1e-6), make_path({{0, 0}, {1e-9, 0}})));
}

TEST_CASE("tree_reduce refuses bad input", "[geometry]") {
    CHECK_THROWS_AS(tensig::tree_reduce(xt::xtensor<double, 2>({0, 2})), tensig::invalid_input);
    CHECK_THROWS_AS(tensig::tree_reduce(xt::xtensor<double, 2>({3, 0})), tensig::invalid_input);
    CHECK_THROWS_AS(tensig::tree_reduce(make_path({{0, 0}, {1, std::nan("")}})), tensig::invalid_input);
    CHECK_THROWS_AS(tensig::tree_reduce(make_path({{0, 0}, {std::numeric_limits<double>::infinity(), 1}})),
                    tensig::invalid_input);
    CHECK_THROWS_AS(tensig::tree_reduce(make_path({{0, 0}, {1, 1}}), -1e-3), tensig::invalid_input);
    CHECK_THROWS_AS(tensig::tree_reduce(make_path({{0, 0}, {1, 1}}), std::nan("")), tensig::invalid_input);
}

// ---- signature_simplify ----------------------------------------------------------------

TEST_CASE("signature_simplify straightens a small wiggle at a loose tol, keeps a corner at a tight one",
          "[geometry]") {
    const auto wiggly = make_path({{0, 0}, {1, 0}, {1.05, 0.02}, {1.1, 0}, {2, 0}, {2, 1}});
    CHECK(same_points(tensig::signature_simplify(wiggly, 1e-2), make_path({{0, 0}, {2, 0}, {2, 1}})));
    CHECK(same_points(tensig::signature_simplify(wiggly, 1e-8), wiggly));
    const auto corner = make_path({{0, 0}, {1, 0}, {1, 1}});
    CHECK(same_points(tensig::signature_simplify(corner, 1e-3), corner));
    CHECK(same_points(tensig::signature_simplify(corner, 10.0), make_path({{0, 0}, {1, 1}})));
}

TEST_CASE("signature_simplify uses the caller's tol after a removal (4-point windows)", "[geometry]") {
    // a collinear point to remove first, then an S whose 4-point window is
    // closer to its chord than any of its 3-point windows (the S's signed
    // areas cancel at level 2)
    const std::vector<std::vector<double>> pts = {{0, 0},    {1, 0},   {2, 0},  {2.5, 0.1},
                                                  {3, -0.1}, {3.5, 0}, {3.5, 1}};
    const auto path = from_points(pts);
    std::vector<std::vector<double>> after_first = pts;
    after_first.erase(after_first.begin() + 1);
    const double d4 = window_gap(after_first, 1, 4, 4);
    double d3 = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i + 3 <= after_first.size(); ++i)
        d3 = std::min(d3, window_gap(after_first, i, 3, 4));
    REQUIRE(d4 < d3);
    const double between = (d4 + d3) / 2;
    CHECK(same_points(tensig::signature_simplify(path, between), make_path({{0, 0}, {3.5, 0}, {3.5, 1}})));
    CHECK(same_points(tensig::signature_simplify(path, d4 * 0.99),
                      make_path({{0, 0}, {2, 0}, {2.5, 0.1}, {3, -0.1}, {3.5, 0}, {3.5, 1}})));
    // every window of the result is at least tol from its chord
    for (double tol : {d4 * 0.99, between, 0.05, 0.3}) {
        const auto out = to_points(tensig::signature_simplify(path, tol));
        for (std::size_t w = 3; w <= out.size(); ++w)
            for (std::size_t i = 0; i + w <= out.size(); ++i)
                CHECK(window_gap(out, i, w, 4) >= tol);
    }
}

TEST_CASE("signature_simplify never leaves repeated points", "[geometry]") {
    const auto spike = make_path({{0, 0}, {1, 0}, {1, 1}, {1, 0}, {2, 1}});
    const auto s = tensig::signature_simplify(spike, 1e-9);
    CHECK(same_points(s, make_path({{0, 0}, {1, 0}, {2, 1}})));
    CHECK(same_points(tensig::signature_simplify(make_path({{0, 0}, {1, 0}, {1, 1}, {1, 0}}), 1e-9),
                      make_path({{0, 0}, {1, 0}})));
    CHECK(same_points(tensig::signature_simplify(make_path({{0, 0}, {0, 0}, {1, 1}}), 1e-9),
                      make_path({{0, 0}, {1, 1}})));
    std::mt19937_64 gen(99);
    for (int trial = 0; trial < 10; ++trial) {
        const auto path = decorate(gen, 6, 2).path;
        for (double tol : {1e-9, 1e-2, 0.5}) {
            const auto out = tensig::signature_simplify(path, tol, 3);
            CHECK_FALSE(has_repeated_points(out));
            CHECK(out(0, 0) == path(0, 0));
            CHECK(out(out.shape()[0] - 1, 1) == path(path.shape()[0] - 1, 1));
        }
    }
    CHECK_THROWS_AS(tensig::signature_simplify(spike, -1.0), tensig::invalid_input);
    CHECK_THROWS_AS(tensig::signature_simplify(spike, 0.1, 0), tensig::invalid_input);
}

// ---- metrics ---------------------------------------------------------------------------

TEST_CASE("hausdorff: identical and re-subdivided polylines are at distance ~0", "[geometry]") {
    std::mt19937_64 gen(7);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (std::size_t d : {2, 3}) {
        for (int trial = 0; trial < 10; ++trial) {
            const auto [plain, path] = decorate(gen, 10, d);
            (void)path;
            CHECK(tensig::hausdorff(plain, plain) == 0);
            // the same polyline with extra vertices inside its segments
            std::vector<std::vector<double>> finer;
            const auto pts = to_points(plain);
            for (std::size_t i = 0; i + 1 < pts.size(); ++i) {
                finer.push_back(pts[i]);
                for (int k = 0; k < 3; ++k) {
                    const double t = u(gen);
                    std::vector<double> p(d);
                    for (std::size_t j = 0; j < d; ++j)
                        p[j] = pts[i][j] + t * (pts[i + 1][j] - pts[i][j]);
                    finer.push_back(p);
                }
            }
            finer.push_back(pts.back());
            CHECK(tensig::hausdorff(plain, from_points(finer)) <= 1e-12);
            CHECK(tensig::hausdorff(from_points(finer), plain) <= 1e-12);
        }
    }
}

TEST_CASE("hausdorff: known values, interior maxima, symmetry", "[geometry]") {
    const double h = 0.375;
    CHECK(tensig::hausdorff(make_path({{0, 0}, {1, 0}}), make_path({{0, h}, {1, h}})) ==
          Approx(h).epsilon(1e-15));
    // vertices only: exact distances
    CHECK(tensig::hausdorff(make_path({{0, 0}}), make_path({{3, 4}})) == 5);
    CHECK(tensig::hausdorff(make_path({{0, 1}}), make_path({{-1, 0}, {1, 0}})) == Approx(std::sqrt(2.0)));
    CHECK(tensig::directed_hausdorff(make_path({{0, 1}}), make_path({{-1, 0}, {1, 0}})) == 1);
    // a square and its diagonal: sqrt(2)/2 from the corners (1, 0), (0, 1)
    // to the diagonal; the other way the sup, 1/2, is at the diagonal's
    // midpoint, not at a vertex (both of the diagonal's vertices lie on the
    // square)
    const auto square = make_path({{0, 0}, {1, 0}, {1, 1}, {0, 1}, {0, 0}});
    const auto diagonal = make_path({{0, 0}, {1, 1}});
    CHECK(tensig::hausdorff(square, diagonal) == Approx(std::sqrt(0.5)).epsilon(1e-15));
    CHECK(tensig::directed_hausdorff(diagonal, square) == Approx(0.5).epsilon(1e-15));
    // an interior maximum between two segments of B that are not parallel:
    // both ends of A lie on B; the first leg of B is nearest to (x, 0) at
    // (-1, 0), distance x + 1, the second lies on the line x + y = 2, distance
    // (2 - x) / sqrt 2; the sup is where the two are equal
    const auto a = make_path({{-1, 0}, {2, 0}});
    const auto b = make_path({{-1, 0}, {-1, 3}, {2, 0}});
    const double x = (2 - std::sqrt(2.0)) / (1 + std::sqrt(2.0));
    CHECK(tensig::directed_hausdorff(a, b) == Approx(x + 1).epsilon(1e-14));
    // zero-length segments in either polyline
    CHECK(tensig::hausdorff(make_path({{0, 1}, {0, 1}, {1, 1}}), make_path({{0, 0}, {0, 0}, {1, 0}})) == 1);
    // symmetric, and bracketed by dense sampling on random polylines
    std::mt19937_64 gen(11);
    for (int trial = 0; trial < 10; ++trial) {
        const auto p = decorate(gen, 6, 2).plain, q = decorate(gen, 7, 2).plain;
        CHECK(tensig::hausdorff(p, q) == tensig::hausdorff(q, p));
        const auto segs = tensig::detail::polyline_segments(q);
        double sampled = 0, spacing = 0;
        const std::size_t n = 4000;
        for (std::size_t i = 0; i + 1 < p.shape()[0]; ++i) {
            const double dx = p(i + 1, 0) - p(i, 0), dy = p(i + 1, 1) - p(i, 1);
            spacing = std::max(spacing, std::hypot(dx, dy) / n);
            for (std::size_t k = 0; k <= n; ++k) {
                const double t = double(k) / n, pt[2] = {p(i, 0) + t * dx, p(i, 1) + t * dy};
                sampled = std::max(sampled, segs.distance(pt));
            }
        }
        const double exact = tensig::directed_hausdorff(p, q);
        CHECK(exact >= sampled - 1e-12);
        CHECK(exact <= sampled + spacing / 2 + 1e-12);
    }
    CHECK_THROWS_AS(tensig::hausdorff(make_path({{0, 0}}), make_path({{0, 0, 0}})), tensig::invalid_input);
    CHECK_THROWS_AS(tensig::hausdorff(xt::xtensor<double, 2>({0, 2}), make_path({{0, 0}})),
                    tensig::invalid_input);
}

TEST_CASE("max_point_error and translate_start", "[geometry]") {
    CHECK(tensig::max_point_error(make_path({{0, 0}, {1, 0}, {2, 2}}), make_path({{0, 0}, {1, 1}, {5, 6}})) ==
          5);
    CHECK(tensig::max_point_error(make_path({{0, 0}}), make_path({{0, 0}})) == 0);
    CHECK_THROWS_AS(tensig::max_point_error(make_path({{0, 0}, {1, 0}}), make_path({{0, 0}})),
                    tensig::invalid_input);

    const auto p = make_path({{1, 2}, {3, 5}, {-1, 0}});
    const xt::xtensor<double, 1> start = {10, -10};
    const auto t = tensig::translate_start(p, start);
    CHECK(same_points(t, make_path({{10, -10}, {12, -7}, {8, -12}})));
    CHECK_THROWS_AS(tensig::translate_start(p, xt::xtensor<double, 1>({1, 2, 3})), tensig::invalid_input);
}

TEST_CASE("compare_paths: a translated copy with tree-like decorations matches", "[geometry]") {
    std::mt19937_64 gen(5);
    for (int trial = 0; trial < 10; ++trial) {
        const auto [plain, path] = decorate(gen, 8, 2);
        const auto moved = xt::xtensor<double, 2>(path + 0.125);
        const auto e = tensig::compare_paths(moved, plain);
        CHECK(e.same_count);
        CHECK(e.hausdorff <= 1e-12);
        CHECK(e.max_point_error <= 1e-12);
    }
    const auto reference = make_path({{0, 0}, {1, 0}, {1, 1}});
    const auto e = tensig::compare_paths(make_path({{5, 5}, {6, 5}, {6, 7}, {6, 6}, {6.5, 6}}), reference);
    CHECK_FALSE(e.same_count);
    CHECK(std::isnan(e.max_point_error));
    CHECK(e.hausdorff == Approx(0.5));
}

// ---- SVG -------------------------------------------------------------------------------

TEST_CASE("write_svg draws one polyline per path", "[geometry]") {
    const std::string file = temp_name("figure.svg");
    std::filesystem::remove(file);
    std::vector<tensig::io::svg_path> paths;
    paths.push_back({make_path({{0, 0}, {1, 2}, {3, 1}}), "black", 3.0, false, "original"});
    paths.push_back({make_path({{0, 0.1}, {1, 2.1}, {3, 0.9}}), "#d62728", 1.5, true, "recovered <tensig>"});
    paths.push_back({make_path({{2, 2}}), "blue", 2.0, false, ""});
    tensig::io::write_svg(file, paths, "PenDigits \"zero\"");
    const std::string text = read_text(file);
    CHECK(count(text, "<svg") == 1);
    CHECK(count(text, "<polyline") == 3);
    CHECK(count(text, "stroke-dasharray") == 2); // the dashed path and its legend sample
    CHECK(count(text, "recovered &lt;tensig&gt;") == 1);
    CHECK(count(text, "&quot;zero&quot;") == 1);
    CHECK(count(text, "</svg>") == 1);
    std::filesystem::remove(file);

    const std::string grid = temp_name("grid.svg");
    std::vector<std::vector<tensig::io::svg_path>> panels(5, paths);
    tensig::io::write_svg_grid(grid, panels, 3, {"a", "b", "c", "d", "e"});
    const std::string gtext = read_text(grid);
    CHECK(count(gtext, "<svg") == 1);
    CHECK(count(gtext, "<polyline") == 15);
    CHECK(count(gtext, "class=\"panel\"") == 5);
    std::filesystem::remove(grid);
}

TEST_CASE("write_svg refuses paths that are not (L, 2) and leaves no file", "[geometry]") {
    const std::string file = temp_name("bad.svg");
    std::filesystem::remove(file);
    std::vector<tensig::io::svg_path> paths;
    paths.push_back({make_path({{0, 0}, {1, 1}}), "black", 1.0, false, "ok"});
    paths.push_back({make_path({{0, 0, 0}, {1, 1, 1}, {2, 0, 1}}), "red", 1.0, false, "3-D"});
    CHECK_THROWS_AS(tensig::io::write_svg(file, paths), tensig::invalid_input);
    CHECK_FALSE(std::filesystem::exists(file));
    CHECK_FALSE(std::filesystem::exists(file + ".tmp-tensig"));
    CHECK_THROWS_AS(tensig::io::write_svg_grid(file, {paths}, 2, {}), tensig::invalid_input);
    CHECK_FALSE(std::filesystem::exists(file));
    paths.pop_back();
    CHECK_THROWS_AS(tensig::io::write_svg_grid(file, {paths}, 0, {}), tensig::invalid_input);
    CHECK_THROWS_AS(tensig::io::write_svg_grid(file, {paths}, 1, {"a", "b"}), tensig::invalid_input);
    paths[0].width = -1;
    CHECK_THROWS_AS(tensig::io::write_svg(file, paths), tensig::invalid_input);
    CHECK_FALSE(std::filesystem::exists(file));
}

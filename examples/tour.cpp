// A short tour of tensig: the truncated tensor algebra T^N(R^d) as C++
// expressions, and signatures of paths. Copy what you need.
//
//   tour              run the tour on a built-in path
//   tour PATH.npy     also print the signature of a float64 path of shape (L, d)
//
// Every claim the tour makes is checked; the program exits with 1 if one
// fails (the tests run it, so it cannot silently rot).

#include <cmath>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xnpy.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include <tensig/tensig.hpp>

namespace {

int failures = 0;

/// Print one check and count it if it fails.
void check(const char* what, bool ok, double error = 0) {
    std::printf("  [%s] %s (max error %.2e)\n", ok ? " ok " : "FAIL", what, error);
    if (!ok) ++failures;
}

/// Largest |x_i - y_i| over two equally long ranges.
template <class X, class Y> double max_abs_diff(const X& x, const Y& y) {
    double m = 0;
    auto j = y.begin();
    for (auto i = x.begin(); i != x.end(); ++i, ++j)
        m = std::fmax(m, std::fabs(double(*i) - double(*j)));
    return m;
}

/// The same for two tensors (levels 0..N).
double max_abs_diff(const tensig::tensor<double>& x, const tensig::tensor<double>& y) {
    double m = 0;
    for (std::size_t i = 0; i < x.size(); ++i)
        m = std::fmax(m, std::fabs(x[i] - y[i]));
    return m;
}

/// Print a tensor level by level.
void print_tensor(const char* name, const tensig::tensor<double>& t) {
    std::printf("%s:\n", name);
    for (std::size_t k = 0; k <= t.depth(); ++k) {
        std::printf("  level %zu:", k);
        for (double v : t.level(k))
            std::printf(" %9.5f", v);
        std::printf("\n");
    }
}

/// Print a flattened signature (levels 1..N, as tensig::signature returns it).
template <class S>
void print_signature(const S& sig, std::size_t dim, std::size_t depth, std::size_t max_values = 16) {
    const tensig::shape s(dim, depth);
    for (std::size_t k = 1; k <= depth; ++k) {
        // In the flattened signature level k starts at level_offset(k) - 1
        // (level 0, the constant 1, is not stored).
        const std::size_t begin = s.level_offset(k) - 1, n = s.level_size(k);
        std::printf("  level %zu (%zu values):", k, n);
        for (std::size_t i = 0; i < n && i < max_values; ++i)
            std::printf(" %.6g", double(sig(begin + i)));
        std::printf(n > max_values ? " ...\n" : "\n");
    }
}

} // namespace

int main(int argc, char** argv) {
    using tensig::tensor;
    constexpr double tol = 1e-12;

    // ---- 1. Tensors -------------------------------------------------------
    // A tensor holds levels 0..N of T^N(R^d); dimension and depth are
    // run-time values, fixed by a tensig::shape. New tensors are zero.
    const tensig::shape s(2, 3); // d = 2 letters, depth N = 3: 1 + 2 + 4 + 8 = 15 coefficients
    tensor<double> a(s), b(s), c(s);
    std::printf("1. tensors of shape %s have %zu coefficients\n", s.str().c_str(), s.size());

    // Coefficients are indexed by words over the letters 0..d-1: at({}) is
    // level 0, at({1}) a letter, at({0, 1}) the word "01" of level 2.
    a.at({}) = 1;
    a.at({0}) = 0.5;
    a.at({0, 1}) = 2;
    b.at({1, 1, 0}) = -1;
    // ... or level by level (level k is a span of d^k values, row-major,
    // first letter most significant), or by flat index.
    b.level(1)[1] = 3; // the word "1"
    c[0] = 0.25;       // level 0
    print_tensor("a", a);

    // ---- 2. Linear expressions --------------------------------------------
    // `a + 2*b - c` builds an expression; nothing is computed until it is
    // assigned, and then it runs as one pass over the coefficients, with no
    // temporary tensors.
    tensor<double> lin = a + 2 * b - c;
    std::printf("2. a + 2*b - c\n");
    double err = 0;
    for (std::size_t i = 0; i < s.size(); ++i)
        err = std::fmax(err, std::fabs(lin[i] - (a[i] + 2 * b[i] - c[i])));
    check("a + 2*b - c coefficient by coefficient", err == 0, err);
    // Expressions may also be kept in `auto` (operands are held by reference
    // when they are named tensors, so keep those alive) and assigned later.
    auto twice = lin + lin;
    tensor<double> t2 = twice;
    check("auto expression assigned later", t2.at({0, 1}) == 2 * lin.at({0, 1}));

    // ---- 3. Products and the exponential ------------------------------------
    // `*` is the truncated tensor product, exp/log the series of the algebra.
    // For z in level 1 (a path increment), exp(z) is the signature of the
    // straight segment z, and `S * exp(z)` appends that segment to S.
    const tensor<double> z1 = tensor<double>::from_level1(s, std::vector<double>{1.0, 0.5});
    const tensor<double> z2 = tensor<double>::from_level1(s, std::vector<double>{-0.5, 2.0});
    const tensor<double> z3 = tensor<double>::from_level1(s, std::vector<double>{0.25, -1.0});

    tensor<double> S = exp(z1) * exp(z2); // signature of the path 0 -> z1 -> z1 + z2
    tensor<double> S3 = S * exp(z3);      // a copy with one more segment (fused kernel)
    S *= exp(z3);                         // the same in place: A <- A ⊗ exp(z), the hot loop
    std::printf("3. S = exp(z1) * exp(z2) * exp(z3)\n");
    print_tensor("S", S);
    check("S * exp(z) equals S *= exp(z)", max_abs_diff(S, S3) <= tol, max_abs_diff(S, S3));

    // The same signature from the path's points with tensig::signature (which
    // returns levels 1..N only; level 0 is always 1).
    const xt::xtensor<double, 2> three_segments = {{0.0, 0.0}, {1.0, 0.5}, {0.5, 2.5}, {0.75, 1.5}};
    const xt::xtensor<double, 1> sig = tensig::signature(three_segments, s.depth());
    err = 0;
    for (std::size_t i = 0; i < sig.size(); ++i)
        err = std::fmax(err, std::fabs(sig(i) - S[i + 1]));
    check("exp(z1) * exp(z2) * exp(z3) equals tensig::signature of the path", err <= tol, err);

    // ---- 4. log, exp, inverse, antipode --------------------------------------
    // log(S) of a signature is a Lie element (the log-signature); exp undoes it.
    tensor<double> L = log(S);
    tensor<double> back = exp(log(S));
    std::printf("4. log, exp, inverse and antipode\n");
    print_tensor("log(S)", L);
    check("exp(log(S)) == S", max_abs_diff(back, S) <= tol, max_abs_diff(back, S));
    // inverse() is the series inverse of any x with x_0 != 0; for a signature
    // (group-like) it equals the antipode (reverse each word, sign (-1)^|w|),
    // which is exact and cheap: the signature of the path run backwards.
    tensor<double> Sinv = inverse(S);
    tensor<double> Santi = antipode(S);
    check("inverse(S) == antipode(S) for a signature", max_abs_diff(Sinv, Santi) <= tol,
          max_abs_diff(Sinv, Santi));
    tensor<double> one = S * antipode(S);
    const tensor<double> unit = tensor<double>::unit(s);
    check("S * antipode(S) == 1", max_abs_diff(one, unit) <= tol, max_abs_diff(one, unit));
    // Computations nest inside linear expressions (evaluated into a temporary
    // first), and the destination may appear on the right: a = a * b is safe.
    tensor<double> mixed = 0.5 * (S * Sinv) + 0.5 * unit;
    check("0.5 * (S * inverse(S)) + 0.5 * 1 == 1", max_abs_diff(mixed, unit) <= tol,
          max_abs_diff(mixed, unit));

    // ---- 5. Chen's identity --------------------------------------------------
    // The signature of a concatenation X * Y is the product of the
    // signatures: signature_combine multiplies flattened signatures.
    std::printf("5. Chen's identity\n");
    const std::size_t depth = 4;
    const xt::xtensor<double, 2> X = {{0.0, 0.0}, {1.0, 0.2}, {1.5, 1.0}};
    const xt::xtensor<double, 2> Y = {
        {1.5, 1.0}, {0.7, 1.8}, {-0.3, 1.1}, {0.0, -0.4}}; // starts where X ends
    const xt::xtensor<double, 2> XY =
        xt::concatenate(xt::xtuple(X, xt::view(Y, xt::range(1, xt::placeholders::_))));
    const xt::xtensor<double, 1> sX = tensig::signature(X, depth);
    const xt::xtensor<double, 1> sY = tensig::signature(Y, depth);
    const xt::xtensor<double, 1> sXY = tensig::signature(XY, depth);
    const xt::xtensor<double, 1> chen = tensig::signature_combine(sX, sY, 2, depth);
    check("signature(X * Y) == signature_combine(signature(X), signature(Y))", max_abs_diff(sXY, chen) <= tol,
          max_abs_diff(sXY, chen));
    // Batches: (B, L, d) paths give (B, sig_length) signatures.
    xt::xtensor<double, 3> batch = xt::zeros<double>({std::size_t(2), std::size_t(3), std::size_t(2)});
    xt::view(batch, 0) = X;
    xt::view(batch, 1) = xt::view(Y, xt::range(0, 3));
    const xt::xtensor<double, 2> sB = tensig::signature(batch, depth);
    check("batch row 0 == signature(X)", max_abs_diff(xt::xtensor<double, 1>(xt::row(sB, 0)), sX) == 0,
          max_abs_diff(xt::xtensor<double, 1>(xt::row(sB, 0)), sX));

    // ---- 6. A path from a .npy file -------------------------------------------
    // xt::load_npy<double> reads float64 files (it throws on other dtypes);
    // assign it to a rank-2 xtensor once its rank is checked.
    std::printf("6. signature levels of a path\n");
    xt::xtensor<double, 2> path = {
        {0.0, 0.0}, {1.0, 0.0}, {1.0, 1.0}, {0.0, 1.0}, {0.0, 0.0}}; // the unit square
    if (argc > 1) {
        try {
            auto raw = xt::load_npy<double>(argv[1]);
            if (raw.dimension() != 2) {
                std::fprintf(stderr, "tour: %s: expected an array of shape (L, d), got rank %zu\n", argv[1],
                             raw.dimension());
                return 2;
            }
            path = raw;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "tour: cannot read %s as a float64 .npy file: %s\n", argv[1], e.what());
            return 2;
        }
        std::printf("path from %s: %zu points in R^%zu\n", argv[1], path.shape(0), path.shape(1));
    } else {
        std::printf("built-in path (the unit square, anticlockwise): %zu points in R^%zu\n", path.shape(0),
                    path.shape(1));
    }
    try {
        const std::size_t N = 4;
        const auto p_sig = tensig::signature(path, N);
        print_signature(p_sig, path.shape(1), N);
        if (argc == 1) {
            // A closed loop: level 1 is 0, and the antisymmetric part of
            // level 2 is the signed area: S[01] - S[10] = 2 * area = 2.
            const double area2 = p_sig(2 + 1) - p_sig(2 + 2);
            check("the closed square has level 1 == 0", std::fabs(p_sig(0)) + std::fabs(p_sig(1)) <= tol);
            check("S[01] - S[10] == twice the area", std::fabs(area2 - 2.0) <= tol, std::fabs(area2 - 2.0));
        }
    } catch (const tensig::invalid_input& e) {
        // Bad input (an empty path, NaN, ...) throws with a message saying what.
        std::fprintf(stderr, "tour: %s\n", e.what());
        return 2;
    }

    std::printf(failures == 0 ? "all checks passed\n" : "%d check(s) FAILED\n", failures);
    return failures == 0 ? 0 : 1;
}

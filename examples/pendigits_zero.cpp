// The main job, for now: the depth-12 signature of the PenDigits "zero" of
// the signature-inversion experiment (Deep Signature Transforms, section 3.6;
// see seed-inversion.md). d = 2, so the signature has 2 + 4 + ... + 4096 =
// 8190 numbers; this prints a readable summary of them.
//
//   pendigits_zero [--out FILE.npy]
//
// --out writes the 8190 values (float64, shape (8190,)) with xt::dump_npy.
// The program also checks two closed forms (level 1 is the total increment,
// the symmetric part of level 2 is its square over 2) and exits with 1 if
// either fails, so the test that runs it catches a broken signature.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include <xtensor/xnpy.hpp>
#include <xtensor/xtensor.hpp>

#include <tensig/tensig.hpp>

namespace {

void usage(std::FILE* f) {
    std::fprintf(f,
                 "usage: pendigits_zero [--out FILE.npy]\n"
                 "  Prints the depth-12 signature of the PenDigits \"zero\" (8190 numbers) level by level.\n"
                 "  --out FILE.npy   also write the signature (float64, shape (8190,)).\n");
}

} // namespace

int main(int argc, char** argv) {
    std::string out_file;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            usage(stdout);
            return 0;
        }
        if (arg == "--out" && i + 1 < argc) {
            out_file = argv[++i];
        } else if (arg.rfind("--out=", 0) == 0 && arg.size() > 6) {
            out_file = arg.substr(6);
        } else {
            std::fprintf(stderr, "pendigits_zero: unexpected argument '%s'\n", arg.c_str());
            usage(stderr);
            return 2;
        }
    }

    // pendigits.tes, line 59: a "0", 8 pen positions (x, y) in 0..100.
    const double raw[16] = {29, 97, 0, 57, 22, 10, 68, 0, 100, 40, 83, 90, 37, 100, 12, 57};
    constexpr std::size_t L = 8, d = 2, depth = 12;
    // Rescaled to [-1, 1] with one global min and max: p = -1 + 2 (v - min) / (max - min), here v/50 - 1.
    const double lo = *std::min_element(raw, raw + 16), hi = *std::max_element(raw, raw + 16);
    xt::xtensor<double, 2> path = xt::zeros<double>({L, d});
    for (std::size_t i = 0; i < L; ++i)
        for (std::size_t c = 0; c < d; ++c)
            path(i, c) = -1 + 2 * (raw[2 * i + c] - lo) / (hi - lo);

    std::printf("PenDigits \"zero\" (pendigits.tes line 59), %zu points in R^%zu, rescaled p = v/50 - 1:\n",
                L, d);
    for (std::size_t i = 0; i < L; ++i)
        std::printf("  (%6.2f, %6.2f)\n", path(i, 0), path(i, 1));

    // The signature, levels 1..12, flattened level by level (row-major words).
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    xt::xtensor<double, 1> sig = tensig::signature(path, depth);
    const double first_us = std::chrono::duration<double, std::micro>(clock::now() - t0).count();
    // The first call includes one-time set-up (kernel dispatch, scratch
    // buffers); time a few hundred more for the steady-state figure.
    std::size_t reps = 0;
    const auto t1 = clock::now();
    double elapsed = 0;
    while (reps < 10 || elapsed < 0.1) {
        sig = tensig::signature(path, depth);
        ++reps;
        elapsed = std::chrono::duration<double>(clock::now() - t1).count();
    }

    const tensig::shape s(d, depth);
    std::printf("\nSignature at depth %zu: %zu numbers (levels 1..%zu; level 0 is 1 and not stored)\n", depth,
                sig.size(), depth);
    std::printf("%6s %8s %14s  %s\n", "level", "values", "norm", "first values");
    for (std::size_t k = 1; k <= depth; ++k) {
        const std::size_t begin = s.level_offset(k) - 1, n = s.level_size(k);
        double sq = 0;
        for (std::size_t i = 0; i < n; ++i)
            sq += sig(begin + i) * sig(begin + i);
        std::printf("%6zu %8zu %14.6e ", k, n, std::sqrt(sq));
        for (std::size_t i = 0; i < std::min<std::size_t>(n, 4); ++i)
            std::printf(" %13.6e", sig(begin + i));
        std::printf(n > 4 ? " ...\n" : "\n");
    }
    std::printf("\nTime: %.1f us for the first call, %.2f us per call over %zu calls (kernels: %s)\n",
                first_us, elapsed / double(reps) * 1e6, reps, tensig::kernels::active_arch().c_str());

    // Closed forms: S^(1) = x_end - x_start and S^(ij) + S^(ji) = Δ_i Δ_j.
    int failures = 0;
    double err = 0;
    for (std::size_t i = 0; i < d; ++i) {
        const double delta_i = path(L - 1, i) - path(0, i);
        err = std::fmax(err, std::fabs(sig(i) - delta_i));
        for (std::size_t j = 0; j < d; ++j) {
            const double delta_j = path(L - 1, j) - path(0, j);
            err = std::fmax(err, std::fabs(sig(d + i * d + j) + sig(d + j * d + i) - delta_i * delta_j));
        }
    }
    bool finite = true;
    for (double v : sig)
        finite = finite && std::isfinite(v);
    if (err > 1e-12 || !finite || sig.size() != 8190) {
        std::fprintf(stderr,
                     "pendigits_zero: self-check FAILED (closed-form error %.3e, finite %d, length %zu)\n",
                     err, int(finite), sig.size());
        ++failures;
    }

    if (!out_file.empty()) {
        try {
            xt::dump_npy(out_file, sig);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "pendigits_zero: cannot write %s: %s\n", out_file.c_str(), e.what());
            return 2;
        }
        std::printf("Wrote %zu values (float64) to %s\n", sig.size(), out_file.c_str());
    }
    return failures == 0 ? 0 : 1;
}

// Downstream check: an installed tensig found with find_package works, and a
// program built with default flags gets the SIMD kernels by run-time dispatch.
// Exits 0 on success, 1 on any failure.
#include <cmath>
#include <cstddef>
#include <iostream>
#include <string>
#include <vector>

#include <tensig/tensig.hpp>
#include <xtensor/xtensor.hpp>

namespace {

// Levels 1..N of exp(Δ): level k is Δ^{⊗k}/k!, words row-major.
std::vector<double> straight_line(const std::vector<double>& delta, std::size_t depth) {
    std::vector<double> out, level = {1.0};
    double factorial = 1.0;
    for (std::size_t k = 1; k <= depth; ++k) {
        std::vector<double> next;
        for (double a : level)
            for (double b : delta)
                next.push_back(a * b);
        level = next;
        factorial *= static_cast<double>(k);
        for (double v : level)
            out.push_back(v / factorial);
    }
    return out;
}

template <class T>
bool check(const char* name, const T& got, const std::vector<double>& expected, double rtol) {
    if (got.size() != expected.size()) {
        std::cerr << name << ": " << got.size() << " values, expected " << expected.size() << '\n';
        return false;
    }
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const double g = static_cast<double>(got(i)), e = expected[i];
        if (std::abs(g - e) > rtol * std::max(std::abs(e), 1.0)) {
            std::cerr << name << ": value " << i << " is " << g << ", expected " << e << '\n';
            return false;
        }
    }
    std::cout << name << ": " << expected.size() << " values agree with the closed form\n";
    return true;
}

} // namespace

int main() {
    bool ok = true;
    try {
        // A straight line in R^3 from 0 to Δ = (1, -2, 0.5), through two
        // intermediate points on the segment (which change nothing).
        const std::size_t depth = 6;
        const std::vector<double> delta = {1.0, -2.0, 0.5};
        const xt::xtensor<double, 2> path = {
            {0.0, 0.0, 0.0}, {0.25, -0.5, 0.125}, {0.75, -1.5, 0.375}, {1.0, -2.0, 0.5}};
        const auto expected = straight_line(delta, depth);

        const auto s = tensig::signature(path, depth);
        ok &= s.size() == tensig::sig_length(3, depth);
        ok &= check("signature<double>", s, expected, 1e-12);

        const xt::xtensor<float, 2> path32 = xt::cast<float>(path);
        ok &= check("signature<float>", tensig::signature(path32, depth), expected, 1e-5);

        // Bad input is an exception, not a crash.
        try {
            (void)tensig::signature(path, 0);
            std::cerr << "depth 0 was accepted\n";
            ok = false;
        } catch (const std::invalid_argument& e) {
            std::cout << "depth 0 refused: " << e.what() << '\n';
        }
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << '\n';
        return 1;
    }

    const std::string arch = tensig::kernels::active_arch();
    std::cout << "tensig::kernels::active_arch() = " << arch << '\n';
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    if (arch == "sse2" && __builtin_cpu_supports("avx2")) {
        std::cerr << "the CPU has AVX2 but tensig runs its sse2 kernels: run-time dispatch is not working\n";
        ok = false;
    }
#endif
    std::cout << (ok ? "downstream: OK" : "downstream: FAILED") << '\n';
    return ok ? 0 : 1;
}

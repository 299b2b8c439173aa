// Layer 8: batches and long paths in parallel give bit-identical results for
// any number of threads; batch inversion is deterministic per item, reports
// failures per item, can be cancelled, and reports progress.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>

#include <xtensor/xview.hpp>

#include "support/oracle.hpp"

namespace {
tensig::signature_options with_threads(std::size_t t) {
    tensig::signature_options o;
    o.threads = t;
    return o;
}
} // namespace

TEST_CASE("batched path functions are bit-identical for any thread count", "[parallel]") {
    const std::size_t B = 37, L = 20, d = 3, N = 4;
    xt::xtensor<double, 3> paths({B, L, d});
    for (std::size_t b = 0; b < B; ++b)
        xt::view(paths, b, xt::all(), xt::all()) = oracle::random_path(L, d, 0.3);
    const xt::xtensor<double, 2> s1 = tensig::signature(paths, N, with_threads(1));
    const xt::xtensor<double, 2> s2 = tensig::signature(paths, N, with_threads(2));
    const xt::xtensor<double, 2> s0 = tensig::signature(paths, N, with_threads(0));
    const xt::xtensor<double, 2> s3 = tensig::signature(paths, N, with_threads(3));
    CHECK(bool(s1 == s2));
    CHECK(bool(s1 == s0));
    CHECK(bool(s1 == s3));
    const xt::xtensor<double, 2> l1 =
        tensig::logsignature(paths, N, tensig::logsig_basis::expanded, with_threads(1));
    const xt::xtensor<double, 2> l2 =
        tensig::logsignature(paths, N, tensig::logsig_basis::expanded, with_threads(2));
    CHECK(bool(l1 == l2));
    const xt::xtensor<double, 3> g1 = tensig::signature_backward(s1, paths, N, with_threads(1));
    const xt::xtensor<double, 3> g2 = tensig::signature_backward(s1, paths, N, with_threads(2));
    CHECK(bool(g1 == g2));
    // and each row is the single-path result (to rounding: a batch runs in
    // SIMD lanes, one path alone does not)
    for (std::size_t b = 0; b < B; b += 9) {
        const xt::xtensor<double, 2> p = xt::view(paths, b, xt::all(), xt::all());
        const xt::xtensor<double, 1> one = tensig::signature(p, N, with_threads(1));
        CHECK(oracle::rel_err(xt::xtensor<double, 1>(xt::row(s2, b)), one, one.size()) <= 1e-14);
    }
}

TEST_CASE("a long path's signature by parallel Chen reduction", "[parallel]") {
    const std::size_t L = 20000, d = 3, N = 5;
    const auto p = oracle::random_path(L, d, 0.02);
    const xt::xtensor<double, 2> stream = tensig::signature_stream(p, N);
    const xt::xtensor<double, 1> sequential = xt::row(stream, L - 2);
    // every instruction set: with lanes, the pieces go eight, four or two at
    // a time, the shorter ones padded with zero increments
    for (const auto& arch : tensig::kernels::available_archs()) {
        INFO(arch);
        tensig::kernels::force_arch(arch);
        const xt::xtensor<double, 1> s1 = tensig::signature(p, N, with_threads(1));
        const xt::xtensor<double, 1> s2 = tensig::signature(p, N, with_threads(2));
        CHECK(bool(s1 == s2)); // bit-identical: the pieces do not depend on the thread count
        // the sequential sweep (the last row of the stream) agrees to rounding
        CHECK(oracle::rel_err(s1, sequential, s1.size()) <= 1e-12);
        tensig::signature_options inv = with_threads(2);
        inv.inverse = true;
        const xt::xtensor<double, 1> si = tensig::signature(p, N, inv);
        const xt::xtensor<double, 1> one = tensig::signature_combine(s1, si, d, N);
        CHECK(oracle::max_abs(one, one.size()) <= 1e-9);
        tensig::signature_options bp = with_threads(2);
        bp.basepoint = true;
        const xt::xtensor<double, 1> sb = tensig::signature(p, N, bp);
        const xt::xtensor<double, 2> stream_bp = tensig::signature_stream(p, N, bp);
        CHECK(oracle::rel_err(sb, xt::xtensor<double, 1>(xt::row(stream_bp, L - 1)), sb.size()) <= 1e-12);
    }
    tensig::kernels::force_arch("");
}

TEST_CASE("invert_batch: deterministic per item, failures isolated, progress and cancellation",
          "[parallel][inversion]") {
    const auto rows = tensig::pendigits::builtin_rows();
    const std::size_t B = 5;
    xt::xtensor<double, 3> paths({B, std::size_t(8), std::size_t(2)});
    for (std::size_t i = 0; i < 4; ++i)
        xt::view(paths, i, xt::all(), xt::all()) = tensig::pendigits::to_path(rows[i]);
    xt::view(paths, 4, xt::all(), xt::all()) = tensig::pendigits::to_path(rows[0]);
    xt::xtensor<double, 2> targets = tensig::signature(paths, 12);
    targets(4, 7) = std::numeric_limits<double>::quiet_NaN(); // one bad item
    tensig::invert_batch_options o;
    o.threads = 2;
    std::size_t calls = 0, last = 0;
    o.progress = [&](std::size_t done, std::size_t total) {
        ++calls;
        last = done;
        CHECK(total == B);
    };
    const auto a = tensig::invert_batch(targets, 2, 12, o, &paths);
    CHECK(calls == B);
    CHECK(last == B);
    REQUIRE(a.size() == B);
    for (std::size_t i = 0; i < 4; ++i) {
        INFO("item " << i << ": " << a[i].error);
        CHECK(a[i].ok);
        CHECK(a[i].converged);
        CHECK(a[i].hausdorff <= 1e-8);
    }
    CHECK_FALSE(a[4].ok);
    CHECK_THAT(a[4].error, Catch::Contains("non-finite"));
    // the same items with one thread: identical paths
    o.threads = 1;
    o.progress = nullptr;
    const auto b = tensig::invert_batch(targets, 2, 12, o, &paths);
    for (std::size_t i = 0; i < 4; ++i)
        CHECK(bool(a[i].result.path == b[i].result.path));
    // cancelled before starting: every item reports it
    std::atomic<bool> cancel{true};
    o.cancel = &cancel;
    const auto c = tensig::invert_batch(targets, 2, 12, o);
    for (const auto& item : c)
        CHECK(item.error == "cancelled");
}

TEST_CASE("PenDigits rows: the file named by TENSIG_PENDIGITS, or the built-in set",
          "[parallel][inversion]") {
    std::vector<tensig::pendigits::row> rows;
    if (const char* file = std::getenv("TENSIG_PENDIGITS")) {
        const auto all = tensig::pendigits::read(file);
        CHECK(all.size() == 3498);
        rows.assign(all.begin() + 58, all.begin() + 64); // around the notebook's zero (line 59)
        CHECK(rows.front().line == 59);
        CHECK(rows.front().label == 0);
    } else {
        rows = tensig::pendigits::builtin_rows();
    }
    const std::size_t B = rows.size();
    xt::xtensor<double, 3> paths({B, std::size_t(8), std::size_t(2)});
    for (std::size_t i = 0; i < B; ++i)
        xt::view(paths, i, xt::all(), xt::all()) = tensig::pendigits::to_path(rows[i]);
    const xt::xtensor<double, 2> targets = tensig::signature(paths, 12);
    const auto items = tensig::invert_batch(targets, 2, 12, {}, &paths);
    std::size_t exact = 0;
    for (const auto& it : items)
        exact += it.ok && it.hausdorff <= 1e-6;
    CHECK(exact >=
          B / 2); // the notebook's zero and most neighbours; docs/benchmarks.md has the full data set
    CHECK(items.front().hausdorff <= 1e-8);
}

TEST_CASE("the PenDigits reader names bad lines", "[parallel][errors]") {
    std::FILE* f = std::fopen("bad_pendigits.tes", "w");
    REQUIRE(f);
    std::fputs(" 1, 2, 3, 4, 5, 6, 7, 8, 9,10,11,12,13,14,15,16, 3\n 1, 2, x, 4\n", f);
    std::fclose(f);
    CHECK_THROWS_WITH(tensig::pendigits::read("bad_pendigits.tes"), Catch::Contains("line 2"));
    CHECK_THROWS_WITH(tensig::pendigits::read("no_such_file.tes"), Catch::Contains("cannot open"));
    std::remove("bad_pendigits.tes");
}

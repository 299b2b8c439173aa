// Run-time choice of the SIMD kernels (the best instruction set xsimd
// reports available), and the
// per-thread scratch they use. Compiled without architecture flags.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include <cpuid.h>
#include <unistd.h>

#include <xsimd/xsimd.hpp>

#include "table.hpp"
#include "tensig/error.hpp"
#include "tensig/kernels/primitives.hpp"

namespace tensig::kernels {

namespace {

struct entry {
    const char* name;
    bool available;
    simd::kernel_table (*make)();
};

// AVX-512 supplies the lanes kernels (one path per lane), lincomb, the
// product and its adjoint: plain loads, stores and multiply-adds (and the
// product's swizzles, the adjoint's two-source permutes); its other
// kernels, with xsimd 8.1, measured up to 8x slower than AVX2 on d = 2 and
// d = 3 (docs/benchmarks-history.md), so they stay AVX2's. (The adjoint
// in AVX-512 by AVX2's algorithm, xsimd's haddp folding its ga sums, had
// been 1.8-8x slower; session 28 gave ga its own form, adjoint_right_lanes.)
simd::kernel_table make_avx512_table() {
    simd::kernel_table t = simd::make_table<xsimd::fma3<xsimd::avx2>>();
    simd::set_plain_kernels<xsimd::avx512f, double>(t);
    simd::set_plain_kernels<xsimd::avx512f, float>(t);
    t.name = "avx512f+avx2";
    return t;
}

// Whether the operating system saves the register state in `mask` of XCR0
// (0x6: SSE and AVX; 0xE6: also AVX-512's). xsimd 8.1 reads the CPU's
// flags only: a CPU can have AVX-512 that the kernel or hypervisor leaves
// disabled, and its instructions then fault.
bool os_saves(unsigned mask) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return false; // OSXSAVE
    unsigned lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & mask) == mask;
}

// Best first. (No allocation: the first kernel call picks the table, and
// tests count allocations around kernel calls.)
std::array<entry, 3> entries() {
    const auto have = xsimd::available_architectures();
    const bool avx2 = have.fma3_avx2 != 0 && os_saves(0x6);
    return {{{"avx512f+avx2", avx2 && have.avx512f != 0 && os_saves(0xE6), &make_avx512_table},
             {xsimd::fma3<xsimd::avx2>::name(), avx2, &simd::make_table<xsimd::fma3<xsimd::avx2>>},
             {xsimd::sse2::name(), have.sse2 != 0, &simd::make_table<xsimd::sse2>}}};
}

const simd::kernel_table& automatic_table() {
    static const simd::kernel_table table = [] {
        const auto list = entries();
        // TENSIG_ARCH names an instruction set to use instead of the best
        // (benchmarks, debugging); an unknown or unavailable one is ignored.
        if (const char* wanted = std::getenv("TENSIG_ARCH"))
            for (const auto& e : list)
                if (e.available && std::strcmp(wanted, e.name) == 0) return e.make();
        for (const auto& e : list)
            if (e.available) return e.make();
        return list.back().make(); // SSE2: every x86-64 CPU has it
    }();
    return table;
}

std::atomic<const simd::kernel_table*> forced{nullptr};

const simd::kernel_table& table() {
    const simd::kernel_table* f = forced.load(std::memory_order_relaxed);
    return f ? *f : automatic_table();
}

// At a 64-byte boundary: the kernels' register-sized accesses to it must not
// straddle cache lines (a split access costs two).
template <class T> T* scratch(std::size_t n) {
    constexpr std::size_t align = 64 / sizeof(T);
    thread_local std::vector<T> buffer;
    if (buffer.size() < n + align) buffer.resize(n + align);
    const auto address = reinterpret_cast<std::uintptr_t>(buffer.data());
    return buffer.data() + (64 - address % 64) % 64 / sizeof(T);
}

} // namespace

std::string active_arch() {
    return table().name;
}

std::size_t streaming_threshold_bytes() {
    // Half the last-level cache, taken as at most 48 MiB (the Ice Lake of
    // docs/benchmarks-history.md had that): a virtual machine may report its host's
    // total (532 MB on a Zen 5 EPYC guest whose core reaches 32 MB), and
    // with that threshold a + 2b - c on 10^6 doubles (32 MiB of traffic) went
    // through the cache in 1.25x the time it takes streamed.
    static const std::size_t bytes = [] {
        const long llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
        const std::size_t cap = std::size_t(48) << 20;
        return llc > 0 ? std::min(static_cast<std::size_t>(llc), cap) / 2 : std::size_t(32) << 20;
    }();
    return bytes;
}

std::vector<std::string> available_archs() {
    std::vector<std::string> names;
    for (const auto& e : entries())
        if (e.available) names.emplace_back(e.name);
    return names;
}

void force_arch(const std::string& name) {
    if (name.empty()) {
        forced.store(nullptr);
        return;
    }
    static std::deque<simd::kernel_table> tables; // stable addresses for the pointer in `forced`
    for (const auto& e : entries()) {
        if (name != e.name) continue;
        if (!e.available) throw invalid_input("instruction set '" + name + "' is not supported by this CPU");
        tables.push_back(e.make());
        forced.store(&tables.back());
        return;
    }
    throw invalid_input("unknown instruction set '" + name + "'");
}

namespace dispatched {
void lincomb(double* out, std::size_t n, const double* const* src, const double* coef, std::size_t m) {
    table().d.lincomb(out, n, src, coef, m);
}
void lincomb(float* out, std::size_t n, const float* const* src, const float* coef, std::size_t m) {
    table().f.lincomb(out, n, src, coef, m);
}
void outer_fma(double* out, const double* a, std::size_t na, const double* b, std::size_t nb,
               const double* add) {
    table().d.outer_fma(out, a, na, b, nb, add);
}
void outer_fma(float* out, const float* a, std::size_t na, const float* b, std::size_t nb, const float* add) {
    table().f.outer_fma(out, a, na, b, nb, add);
}
void product(double* c, const double* a, const double* b, std::size_t dim, std::size_t depth) {
    table().d.product(c, a, b, dim, depth);
}
void product(float* c, const float* a, const float* b, std::size_t dim, std::size_t depth) {
    table().f.product(c, a, b, dim, depth);
}
void product_adjoint(double* ga, double* gb, const double* a, const double* b, const double* gc,
                     std::size_t dim, std::size_t depth) {
    if (gb) table().d.product_adjoint_left(gb, a, gc, dim, depth);
    if (ga) table().d.product_adjoint_right(ga, b, gc, dim, depth);
}
void product_adjoint(float* ga, float* gb, const float* a, const float* b, const float* gc, std::size_t dim,
                     std::size_t depth) {
    if (gb) table().f.product_adjoint_left(gb, a, gc, dim, depth);
    if (ga) table().f.product_adjoint_right(ga, b, gc, dim, depth);
}
void fmexp(double* A, const double* z, std::size_t dim, std::size_t depth) {
    table().d.fmexp(A, z, dim, depth, scratch<double>(scalar::fmexp_scratch_size(dim, depth)));
}
void fmexp(float* A, const float* z, std::size_t dim, std::size_t depth) {
    table().f.fmexp(A, z, dim, depth, scratch<float>(scalar::fmexp_scratch_size(dim, depth)));
}
void fmexp_many(double* A, const double* Z, std::size_t m, std::size_t dim, std::size_t depth, double* record,
                bool update_top) {
    table().d.fmexp_many(A, Z, m, dim, depth, scratch<double>(scalar::fmexp_many_scratch_size(dim, depth, m)),
                         record, update_top);
}
void fmexp_many(float* A, const float* Z, std::size_t m, std::size_t dim, std::size_t depth, float* record,
                bool update_top) {
    table().f.fmexp_many(A, Z, m, dim, depth, scratch<float>(scalar::fmexp_many_scratch_size(dim, depth, m)),
                         record, update_top);
}
void matvec(double* out, const double* M, std::size_t rows, std::size_t cols, const double* v, double* acc) {
    table().d.matvec(out, M, rows, cols, v, acc);
}
void matvec(float* out, const float* M, std::size_t rows, std::size_t cols, const float* v, float* acc) {
    table().f.matvec(out, M, rows, cols, v, acc);
}
void vecmat(double* out, const double* v, std::size_t rows, const double* M, std::size_t cols) {
    table().d.vecmat(out, v, rows, M, cols);
}
void vecmat(float* out, const float* v, std::size_t rows, const float* M, std::size_t cols) {
    table().f.vecmat(out, v, rows, M, cols);
}
void fmexp_adjoint(double* gA, double* gz, const double* A, const double* z, std::size_t dim,
                   std::size_t depth) {
    table().d.fmexp_adjoint(gA, gz, A, z, dim, depth,
                            scratch<double>(scalar::fmexp_adjoint_scratch_size(dim, depth)));
}
void fmexp_adjoint(float* gA, float* gz, const float* A, const float* z, std::size_t dim, std::size_t depth) {
    table().f.fmexp_adjoint(gA, gz, A, z, dim, depth,
                            scratch<float>(scalar::fmexp_adjoint_scratch_size(dim, depth)));
}
void fmexp_jvp(double* Bdot, const double* A, const double* z, const double* zdot, std::size_t dim,
               std::size_t depth, std::size_t count) {
    table().d.fmexp_jvp(Bdot, A, z, zdot, dim, depth,
                        scratch<double>(scalar::fmexp_jvp_scratch_size(dim, depth, count)), count);
}
void fmexp_jvp(float* Bdot, const float* A, const float* z, const float* zdot, std::size_t dim,
               std::size_t depth, std::size_t count) {
    table().f.fmexp_jvp(Bdot, A, z, zdot, dim, depth,
                        scratch<float>(scalar::fmexp_jvp_scratch_size(dim, depth, count)), count);
}
void fmexp_record(double* A, const double* z, std::size_t dim, std::size_t depth, double* record) {
    table().d.fmexp_record(A, z, dim, depth, scratch<double>(scalar::fmexp_scratch_size(dim, depth)), record);
}
void fmexp_record(float* A, const float* z, std::size_t dim, std::size_t depth, float* record) {
    table().f.fmexp_record(A, z, dim, depth, scratch<float>(scalar::fmexp_scratch_size(dim, depth)), record);
}
void fmexp_adjoint_recorded(double* gA, double* gz, const double* record, const double* z, std::size_t dim,
                            std::size_t depth) {
    table().d.fmexp_adjoint_recorded(gA, gz, record, z, dim, depth,
                                     scratch<double>(scalar::fmexp_adjoint_scratch_size(dim, depth)));
}
void fmexp_adjoint_recorded(float* gA, float* gz, const float* record, const float* z, std::size_t dim,
                            std::size_t depth) {
    table().f.fmexp_adjoint_recorded(gA, gz, record, z, dim, depth,
                                     scratch<float>(scalar::fmexp_adjoint_scratch_size(dim, depth)));
}
void fmexp_adjoint_many(double* gA, double* GZ, const double* record, const double* Z, std::size_t m,
                        std::size_t dim, std::size_t depth) {
    table().d.fmexp_adjoint_many(gA, GZ, record, Z, m, dim, depth,
                                 scratch<double>(scalar::fmexp_adjoint_many_scratch_size(dim, depth, m)));
}
void fmexp_adjoint_many(float* gA, float* GZ, const float* record, const float* Z, std::size_t m,
                        std::size_t dim, std::size_t depth) {
    table().f.fmexp_adjoint_many(gA, GZ, record, Z, m, dim, depth,
                                 scratch<float>(scalar::fmexp_adjoint_many_scratch_size(dim, depth, m)));
}
void fmexp_left_many(double* A, const double* Z, std::size_t m, std::size_t dim, std::size_t depth) {
    table().d.fmexp_left_many(A, Z, m, dim, depth,
                              scratch<double>(scalar::fmexp_many_scratch_size(dim, depth, m)));
}
void fmexp_left_many(float* A, const float* Z, std::size_t m, std::size_t dim, std::size_t depth) {
    table().f.fmexp_left_many(A, Z, m, dim, depth,
                              scratch<float>(scalar::fmexp_many_scratch_size(dim, depth, m)));
}
std::size_t lanes_double() {
    return table().d.lanes;
}
std::size_t lanes_float() {
    return table().f.lanes;
}
std::size_t vector_registers() {
    return table().registers;
}
namespace {
// The lanes kernels for T (the table's, W = its lanes), or their scalar twins
// from horner::lanes_max_depth on (d = 1 only in practice: the kernels index
// levels in fixed arrays).
template <class T>
void lanes_forward(T* A, const T* Z, std::size_t m, std::size_t dim, std::size_t depth, const T* root,
                   const T* from) {
    const auto& k = table().of<T>();
    if (depth >= horner::lanes_max_depth)
        return scalar::fmexp_lanes(A, Z, m, dim, depth, k.lanes, root, from);
    k.fmexp_lanes(A, Z, m, dim, depth, scratch<T>(scalar::fmexp_lanes_scratch_size(dim, depth, m, k.lanes)),
                  root, from);
}
template <class T>
void lanes_from_exp(T* A, const T* Z, std::size_t m, std::size_t dim, std::size_t depth, const T* root,
                    const T* z0, std::size_t k0, const T* e0) {
    const auto& k = table().of<T>();
    if (depth >= horner::lanes_max_depth)
        return scalar::fmexp_lanes_exp(A, Z, m, dim, depth, k.lanes, root, z0, k0, e0);
    k.fmexp_lanes_exp(A, Z, m, dim, depth,
                      scratch<T>(scalar::fmexp_lanes_scratch_size(dim, depth, m, k.lanes)), root, z0, k0, e0);
}
template <class T>
void lanes_backward(const T* A, T* G, T* GZ, const T* Z, std::size_t m, std::size_t dim, std::size_t depth,
                    const T* root, T* groot, std::size_t states) {
    const auto& k = table().of<T>();
    if (depth >= horner::lanes_max_depth)
        return scalar::fmexp_lanes_backward(A, G, GZ, Z, m, dim, depth, k.lanes, root, groot);
    const std::size_t size =
        scalar::fmexp_lanes_backward_scratch_size(dim, depth, m, k.lanes, table().registers);
    k.fmexp_lanes_backward(A, G, GZ, Z, m, dim, depth, scratch<T>(size), root, groot, states);
}
template <class T>
void exp_adjoint(const T* E, T* G, T* gz, const T* z, std::size_t dim, std::size_t depth, std::size_t k0) {
    const auto& k = table().of<T>();
    if (depth >= horner::lanes_max_depth)
        return scalar::exp_lanes_adjoint(E, G, gz, z, dim, depth, k0, k.lanes);
    k.exp_lanes_adjoint(E, G, gz, z, dim, depth, k0);
}
} // namespace
void fmexp_lanes(double* A, const double* Z, std::size_t m, std::size_t dim, std::size_t depth, const double* root,
                 const double* from) {
    lanes_forward(A, Z, m, dim, depth, root, from);
}
void fmexp_lanes(float* A, const float* Z, std::size_t m, std::size_t dim, std::size_t depth, const float* root,
                 const float* from) {
    lanes_forward(A, Z, m, dim, depth, root, from);
}
void fmexp_lanes_exp(double* A, const double* Z, std::size_t m, std::size_t dim, std::size_t depth,
                     const double* root, const double* z0, std::size_t k0, const double* e0) {
    lanes_from_exp(A, Z, m, dim, depth, root, z0, k0, e0);
}
void fmexp_lanes_exp(float* A, const float* Z, std::size_t m, std::size_t dim, std::size_t depth, const float* root,
                     const float* z0, std::size_t k0, const float* e0) {
    lanes_from_exp(A, Z, m, dim, depth, root, z0, k0, e0);
}
void interleave(const double* rows, std::size_t stride, std::size_t count, std::size_t n, double* lanes) {
    table().d.interleave(rows, stride, count, n, lanes);
}
void interleave(const float* rows, std::size_t stride, std::size_t count, std::size_t n, float* lanes) {
    table().f.interleave(rows, stride, count, n, lanes);
}
void deinterleave(const double* lanes, std::size_t count, std::size_t n, double* rows, std::size_t stride) {
    table().d.deinterleave(lanes, count, n, rows, stride);
}
void deinterleave(const float* lanes, std::size_t count, std::size_t n, float* rows, std::size_t stride) {
    table().f.deinterleave(lanes, count, n, rows, stride);
}
void scatter_differences(double* x, const double* g, std::size_t n, std::size_t lag, bool fresh) {
    table().d.scatter_differences(x, g, n, lag, fresh);
}
void scatter_differences(float* x, const float* g, std::size_t n, std::size_t lag, bool fresh) {
    table().f.scatter_differences(x, g, n, lag, fresh);
}
void interleave_differences(const double* const* src, const std::size_t* count, std::size_t n, std::size_t lag,
                            double* lanes) {
    table().d.interleave_differences(src, count, n, lag, lanes);
}
void interleave_differences(const float* const* src, const std::size_t* count, std::size_t n, std::size_t lag,
                            float* lanes) {
    table().f.interleave_differences(src, count, n, lag, lanes);
}
void exp_lanes(double* A, const double* z, std::size_t dim, std::size_t depth, std::size_t k0) {
    table().d.exp_lanes(A, z, dim, depth, k0);
}
void exp_lanes(float* A, const float* z, std::size_t dim, std::size_t depth, std::size_t k0) {
    table().f.exp_lanes(A, z, dim, depth, k0);
}
void exp_lanes_adjoint(const double* E, double* G, double* gz, const double* z, std::size_t dim, std::size_t depth,
                       std::size_t k0) {
    exp_adjoint(E, G, gz, z, dim, depth, k0);
}
void exp_lanes_adjoint(const float* E, float* G, float* gz, const float* z, std::size_t dim, std::size_t depth,
                       std::size_t k0) {
    exp_adjoint(E, G, gz, z, dim, depth, k0);
}
namespace {
// Whether kernels::prefix_roots runs in lanes: the words of level p fill them.
bool roots_in_lanes(std::size_t dim, std::size_t p, std::size_t depth, std::size_t W) {
    std::size_t words = 1;
    for (std::size_t k = 0; k < p && words <= W; ++k)
        words *= dim;
    return p >= 1 && words == W && p <= simd::prefix_roots_max_p && depth < simd::prefix_roots_max_depth;
}

// prefix_roots and its adjoint for T: the table's lanes kernel where the
// words fill its lanes, else horner's.
template <class T>
void roots(T* A, const T* z, std::size_t dim, std::size_t p, std::size_t depth, T* root, std::size_t m,
           std::size_t root_step) {
    const auto& k = table().of<T>();
    if (roots_in_lanes(dim, p, depth, k.lanes))
        return k.prefix_roots(A, z, dim, p, depth, root, m, root_step);
    for (std::size_t s = 0; s < m; ++s)
        horner::prefix_chains(A, z + s * dim, dim, p, depth, root + s * root_step,
                              scratch<T>(horner::prefix_chains_scratch_size(dim, p, depth)));
}
template <class T>
void roots_adjoint(const T* A, const T* z, std::size_t dim, std::size_t p, std::size_t depth, const T* groot,
                   T* gA, T* gz) {
    const auto& k = table().of<T>();
    if (roots_in_lanes(dim, p, depth, k.lanes))
        return k.prefix_roots_adjoint(A, z, dim, p, depth, groot, gA, gz);
    horner::prefix_chains_adjoint(A, z, dim, p, depth, groot, gA, gz,
                                  scratch<T>(horner::prefix_chains_adjoint_scratch_size(dim, p, depth)));
}
} // namespace
void prefix_roots(double* A, const double* z, std::size_t dim, std::size_t p, std::size_t depth, double* root,
                  std::size_t m, std::size_t root_step) {
    roots(A, z, dim, p, depth, root, m, root_step);
}
void prefix_roots(float* A, const float* z, std::size_t dim, std::size_t p, std::size_t depth, float* root,
                  std::size_t m, std::size_t root_step) {
    roots(A, z, dim, p, depth, root, m, root_step);
}
void prefix_roots_adjoint(const double* A, const double* z, std::size_t dim, std::size_t p, std::size_t depth,
                          const double* groot, double* gA, double* gz) {
    roots_adjoint(A, z, dim, p, depth, groot, gA, gz);
}
void prefix_roots_adjoint(const float* A, const float* z, std::size_t dim, std::size_t p, std::size_t depth,
                          const float* groot, float* gA, float* gz) {
    roots_adjoint(A, z, dim, p, depth, groot, gA, gz);
}
void fmexp_lanes_backward(const double* A, double* G, double* GZ, const double* Z, std::size_t m, std::size_t dim,
                          std::size_t depth, const double* root, double* groot, std::size_t states) {
    lanes_backward(A, G, GZ, Z, m, dim, depth, root, groot, states);
}
void fmexp_lanes_backward(const float* A, float* G, float* GZ, const float* Z, std::size_t m, std::size_t dim,
                          std::size_t depth, const float* root, float* groot, std::size_t states) {
    lanes_backward(A, G, GZ, Z, m, dim, depth, root, groot, states);
}
void fmexp_left_jvp(double* Bdot, const double* A, const double* z, const double* zdot, std::size_t dim,
                    std::size_t depth, std::size_t count) {
    table().d.fmexp_left_jvp(Bdot, A, z, zdot, dim, depth,
                             scratch<double>(scalar::fmexp_jvp_scratch_size(dim, depth, count)), count);
}
void fmexp_left_jvp(float* Bdot, const float* A, const float* z, const float* zdot, std::size_t dim,
                    std::size_t depth, std::size_t count) {
    table().f.fmexp_left_jvp(Bdot, A, z, zdot, dim, depth,
                             scratch<float>(scalar::fmexp_jvp_scratch_size(dim, depth, count)), count);
}
bool all_finite(const double* p, std::size_t n) {
    return table().d.all_finite(p, n);
}
bool all_finite(const float* p, std::size_t n) {
    return table().f.all_finite(p, n);
}
void gram(double* H, const double* C, std::size_t n, std::size_t m, std::size_t ld, const std::size_t* ends,
          const double* scales, std::size_t ranges) {
    table().d.gram(H, C, n, m, ld, ends, scales, ranges);
}
void gram(float* H, const float* C, std::size_t n, std::size_t m, std::size_t ld, const std::size_t* ends,
          const float* scales, std::size_t ranges) {
    table().f.gram(H, C, n, m, ld, ends, scales, ranges);
}
} // namespace dispatched

} // namespace tensig::kernels

#pragma once
// The cases of the tests of the lanes route (batches and their backward in
// SIMD lanes): every instruction set, shapes from d = 1 to 9 with signatures
// small enough for it, and the three path options.
#include <cstddef>
#include <string>
#include <utility>

#include <catch2/catch.hpp>

#include <tensig/tensig.hpp>

namespace lanes_cases {

// The three path options the route tests take: plain (0), basepoint (1),
// inverse (2).
inline tensig::signature_options option(int which) {
    tensig::signature_options o;
    o.basepoint = which == 1;
    o.inverse = which == 2;
    return o;
}

// f(W, d, N, options) with the instruction set forced (W = its lanes for T);
// the automatic choice is restored after.
template <class T, class F> void for_each(F&& f) {
    for (const auto& arch : tensig::kernels::available_archs()) {
        tensig::kernels::force_arch(arch);
        const std::size_t W = tensig::kernels::lanes<T>();
        for (auto [d, N] : {std::pair<std::size_t, std::size_t>{2, 7}, {3, 4}, {4, 3}, {9, 2}, {1, 5}, {2, 1}})
            for (int which = 0; which < 3; ++which) {
                INFO(arch << " lanes " << W << " d " << d << " N " << N << " option " << which);
                f(W, d, N, option(which));
            }
    }
    tensig::kernels::force_arch("");
}

} // namespace lanes_cases

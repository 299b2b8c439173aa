#include <iostream>
#include <tensig/tensig.hpp>
int main() {
    xt::xtensor<double, 2> p = {{0, 0}, {1, 2}, {3, 1}};
    auto s = tensig::signature(p, 3);
    for (auto v : s) std::cout << v << ' ';
    std::cout << '\n' << tensig::kernels::active_arch() << '\n';
    tensig::tensor<double> a(2, 3), b(2, 3), c(2, 3);
    a[1] = 1; b[2] = 2; c = a + 2 * b - a;
    std::cout << c[2] << '\n';
}

// The `tensig` command line: signatures, log-signatures and Chen products of
// paths stored as .npy or .csv files.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xio.hpp>
#include <xtensor/xview.hpp>

#include "tensig/io/io.hpp"
#include "tensig/io/svg.hpp"
#include "tensig/kernels/primitives.hpp"
#include "tensig/tensig.hpp"

namespace {

using tensig::io::dtype;

struct sig_args {
    std::string input, output;
    std::size_t depth = 0;
    bool stream = false, basepoint = false, inverse = false;
};

struct logsig_args {
    std::string input, output, basis = "expanded";
    std::size_t depth = 0;
    bool basepoint = false, inverse = false;
};

struct combine_args {
    std::string a, b, output;
    std::size_t dim = 0, depth = 0;
};

// Run `f` on the input converted to float or double, as stored.
template <class F>
xt::xarray<double> in_precision(const tensig::io::array& in, F&& f) {
    if (in.type == dtype::f32) {
        const xt::xarray<float> x = xt::cast<float>(in.values);
        return xt::cast<double>(f(x));
    }
    return f(in.values);
}

void run_sig(const sig_args& a) {
    const auto in = tensig::io::read_array(a.input);
    tensig::signature_options o;
    o.basepoint = a.basepoint;
    o.inverse = a.inverse;
    const auto out = in_precision(in, [&](const auto& x) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        return a.stream ? xt::xarray<T>(tensig::signature_stream(x, a.depth, o))
                        : xt::xarray<T>(tensig::signature(x, a.depth, o));
    });
    tensig::io::write_array(a.output, out, in.type);
}

tensig::logsig_basis parse_basis(const std::string& name) {
    if (name == "expanded") return tensig::logsig_basis::expanded;
    if (name == "words") return tensig::logsig_basis::words;
    return tensig::logsig_basis::lyndon;
}

void run_logsig(const logsig_args& a) {
    const auto basis = parse_basis(a.basis);
    const auto in = tensig::io::read_array(a.input);
    tensig::signature_options o;
    o.basepoint = a.basepoint;
    o.inverse = a.inverse;
    const auto out = in_precision(in, [&](const auto& x) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        return xt::xarray<T>(tensig::logsignature(x, a.depth, basis, o));
    });
    tensig::io::write_array(a.output, out, in.type);
}

void run_combine(const combine_args& a) {
    const auto s1 = tensig::io::read_array(a.a);
    const auto s2 = tensig::io::read_array(a.b);
    const bool single = s1.type == dtype::f32 && s2.type == dtype::f32;
    xt::xarray<double> out;
    if (single) {
        const xt::xarray<float> x = xt::cast<float>(s1.values), y = xt::cast<float>(s2.values);
        out = xt::cast<double>(xt::xarray<float>(tensig::signature_combine(x, y, a.dim, a.depth)));
    } else {
        out = tensig::signature_combine(s1.values, s2.values, a.dim, a.depth);
    }
    tensig::io::write_array(a.output, out, single ? dtype::f32 : dtype::f64);
}

struct invert_args {
    std::string input, output, history, plot, method = "auto", init = "insertion";
    std::size_t depth = 0, dim = 0, points = 8, iterations = 0;
    double lr = 2e-3, clip = 0;
    std::uint64_t seed = 0;
    bool raw = false;
};

// Recover a path from a signature (or from the signature of a given path,
// which is then the reference for the path error).
void run_invert(const invert_args& a) {
    const auto in = tensig::io::read_array(a.input);
    const auto& v = in.values;
    xt::xtensor<double, 1> target;
    xt::xtensor<double, 2> reference;
    bool have_reference = false;
    std::size_t dim = a.dim;
    if (v.dimension() == 2) { // a path (L, d)
        reference = v;
        have_reference = true;
        if (dim != 0 && dim != reference.shape()[1])
            throw tensig::invalid_input("--dim " + std::to_string(dim) + " disagrees with the path's dimension " +
                                        std::to_string(reference.shape()[1]));
        dim = reference.shape()[1];
        target = tensig::signature(reference, a.depth);
    } else if (v.dimension() == 1) { // a flattened signature
        if (dim == 0) throw tensig::invalid_input("INPUT is a signature: --dim is required");
        if (v.size() != tensig::sig_length(dim, a.depth))
            throw tensig::invalid_input("INPUT has " + std::to_string(v.size()) + " values; a signature of dimension " +
                                        std::to_string(dim) + " and depth " + std::to_string(a.depth) + " has " +
                                        std::to_string(tensig::sig_length(dim, a.depth)));
        target = v;
    } else {
        throw tensig::invalid_input("INPUT must be a path (L, d) or a signature (sig_length,); got an array of rank " +
                                    std::to_string(v.dimension()));
    }
    if (!a.plot.empty() && dim != 2) throw tensig::invalid_input("--plot draws 2-D paths only (dimension is " +
                                                                 std::to_string(dim) + ")");
    tensig::invert_options o;
    o.points = a.points;
    o.seed = a.seed;
    o.method = a.method == "adam" ? tensig::invert_method::adam
               : a.method == "lm" ? tensig::invert_method::lm
                                  : tensig::invert_method::automatic;
    o.init = a.init == "random" ? tensig::invert_init::random
             : a.init == "zeros" ? tensig::invert_init::zeros
                                 : tensig::invert_init::insertion;
    o.adam.lr = a.lr;
    o.adam.clip = a.clip;
    if (a.iterations > 0) {
        o.adam.iterations = a.iterations;
        o.lm.iterations = a.iterations;
    }
    const auto r = tensig::invert(target, dim, a.depth, o);

    // translate to the reference's start (or the origin), reduce unless --raw
    xt::xtensor<double, 1> start = xt::zeros<double>({dim});
    if (have_reference) start = xt::row(reference, 0);
    xt::xtensor<double, 2> out = tensig::translate_start(r.path, start);
    if (!a.raw) out = tensig::tree_reduce(out);
    tensig::io::write_array(a.output, xt::xarray<double>(out), in.type);
    if (!a.history.empty())
        tensig::io::write_array(a.history, xt::xarray<double>(xt::adapt(r.history, {r.history.size()})));
    if (!a.plot.empty()) {
        std::vector<tensig::io::svg_path> paths;
        if (have_reference) {
            tensig::io::svg_path p;
            p.points = reference;
            p.width = 4;
            p.label = "original";
            paths.push_back(p);
        }
        tensig::io::svg_path p;
        p.points = out;
        p.colour = "#1f77b4";
        p.width = 2;
        p.dashed = true;
        p.label = "recovered (" + r.route + ")";
        paths.push_back(p);
        tensig::io::write_svg(a.plot, paths, "Signature inversion, depth " + std::to_string(a.depth));
    }
    std::printf("loss %.6g after %zu iterations (route %s), %.3f s\n", r.loss, r.iterations, r.route.c_str(),
                r.seconds);
    if (have_reference) {
        const auto e = tensig::compare_paths(r.path, reference);
        std::printf("path error (translated, tree-reduced): Hausdorff %.3g", e.hausdorff);
        if (e.same_count) std::printf(", max point error %.3g", e.max_point_error);
        std::printf("\n");
    }
}

struct backward_args {
    std::string grad, input, output, basis = "expanded";
    std::size_t depth = 0;
    bool basepoint = false, inverse = false, logsig = false;
};

// The gradient of <GRAD, sig(INPUT)> (or logsig) with respect to the path:
// iisignature's sigbackprop / logsigbackprop.
void run_backward(const backward_args& a) {
    const auto basis = parse_basis(a.basis);
    const auto g = tensig::io::read_array(a.grad);
    const auto in = tensig::io::read_array(a.input);
    tensig::signature_options o;
    o.basepoint = a.basepoint;
    o.inverse = a.inverse;
    const auto out = in_precision(in, [&](const auto& x) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        const xt::xarray<T> gx = xt::cast<T>(g.values);
        return a.logsig ? xt::xarray<T>(tensig::logsignature_backward(gx, x, a.depth, basis, o))
                        : xt::xarray<T>(tensig::signature_backward(gx, x, a.depth, o));
    });
    tensig::io::write_array(a.output, out, in.type);
}

// CLI11 2.1 converts "-1" to SIZE_MAX for an unsigned option and saturates
// out-of-range numbers silently: accept plain decimal digits that fit.
const CLI::Validator count_check(
    [](std::string& s) -> std::string {
        if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
            return "'" + s + "' is not a non-negative integer";
        errno = 0;
        (void)std::strtoull(s.c_str(), nullptr, 10);
        if (errno == ERANGE) return "'" + s + "' is too large";
        return {};
    },
    "COUNT");

// Parse errors as one line, like every other error (CLI11 adds a second
// "Run with --help" line by default).
std::string one_line_failure(const CLI::App*, const CLI::Error& e) {
    std::string what = e.what();
    for (auto& c : what)
        if (c == '\n') c = ' ';
    return "tensig: error: " + what + " (see tensig --help)\n";
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"tensig: signatures, log-signatures and Chen products of paths.\n"
                 "Files are .npy (float64 or float32; paths (L, d) or batches (B, L, d)) or .csv (one point per row)."};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("tensig 0.1.0"));
    app.failure_message(one_line_failure);

    sig_args sa;
    auto* sig = app.add_subcommand("sig", "Signature of a path (L, d) or batch (B, L, d): levels 1..N");
    sig->add_option("INPUT", sa.input, "path file (.npy or .csv)")->required();
    sig->add_option("OUTPUT", sa.output, "result file (.npy or .csv)")->required();
    sig->add_option("--depth,-N", sa.depth, "truncation depth N >= 1")->required()->check(count_check);
    sig->add_flag("--stream", sa.stream, "every prefix signature: (L-1, sig_length)");
    sig->add_flag("--basepoint", sa.basepoint, "start the path at the origin");
    sig->add_flag("--inverse", sa.inverse, "signature of the reversed path (the inverse)");

    logsig_args la;
    auto* logsig = app.add_subcommand("logsig", "Log-signature of a path (L, d) or batch (B, L, d)");
    logsig->add_option("INPUT", la.input, "path file (.npy or .csv)")->required();
    logsig->add_option("OUTPUT", la.output, "result file (.npy or .csv)")->required();
    logsig->add_option("--depth,-N", la.depth, "truncation depth N >= 1")->required()->check(count_check);
    logsig->add_option("--basis", la.basis, "coordinates: expanded (tensor), words or lyndon")
        ->check(CLI::IsMember({"expanded", "words", "lyndon"}));
    logsig->add_flag("--basepoint", la.basepoint, "start the path at the origin");
    logsig->add_flag("--inverse", la.inverse, "log-signature of the reversed path");

    combine_args ca;
    auto* combine = app.add_subcommand("combine", "Chen product of two signatures (m,) or (B, m)");
    combine->add_option("A", ca.a, "first signature file")->required();
    combine->add_option("B", ca.b, "second signature file")->required();
    combine->add_option("OUTPUT", ca.output, "result file")->required();
    combine->add_option("--dim,-d", ca.dim, "path dimension d >= 1")->required()->check(count_check);
    combine->add_option("--depth,-N", ca.depth, "truncation depth N >= 1")->required()->check(count_check);

    backward_args ba;
    auto* sigb = app.add_subcommand(
        "sig-backward", "Gradient of <GRAD, sig(INPUT)> with respect to the path (iisignature's sigbackprop)");
    sigb->add_option("GRAD", ba.grad, "gradient with respect to the signature: (sig_length,) or (B, sig_length)")
        ->required();
    sigb->add_option("INPUT", ba.input, "path file (L, d) or (B, L, d)")->required();
    sigb->add_option("OUTPUT", ba.output, "gradient with respect to the path, shaped like INPUT")->required();
    sigb->add_option("--depth,-N", ba.depth, "truncation depth N >= 1")->required()->check(count_check);
    sigb->add_flag("--basepoint", ba.basepoint, "start the path at the origin");
    sigb->add_flag("--inverse", ba.inverse, "signature of the reversed path");

    backward_args la_b;
    la_b.logsig = true;
    auto* logsigb = app.add_subcommand("logsig-backward",
                                       "Gradient of <GRAD, logsig(INPUT)> with respect to the path");
    logsigb->add_option("GRAD", la_b.grad, "gradient with respect to the log-signature")->required();
    logsigb->add_option("INPUT", la_b.input, "path file (L, d) or (B, L, d)")->required();
    logsigb->add_option("OUTPUT", la_b.output, "gradient with respect to the path, shaped like INPUT")->required();
    logsigb->add_option("--depth,-N", la_b.depth, "truncation depth N >= 1")->required()->check(count_check);
    logsigb->add_option("--basis", la_b.basis, "coordinates: expanded (tensor), words or lyndon")
        ->check(CLI::IsMember({"expanded", "words", "lyndon"}));
    logsigb->add_flag("--basepoint", la_b.basepoint, "start the path at the origin");
    logsigb->add_flag("--inverse", la_b.inverse, "log-signature of the reversed path");

    invert_args ia;
    auto* inv = app.add_subcommand("invert", "Recover a path from its signature (or from a path's signature)");
    inv->add_option("INPUT", ia.input, "a path (L, d) (its signature is the target and it is the reference) or a "
                                       "signature (sig_length,) (then --dim is required)")
        ->required();
    inv->add_option("OUTPUT", ia.output, "the recovered path, translated to the reference's start (or the origin), "
                                         "tree-reduced unless --raw")
        ->required();
    inv->add_option("--depth,-N", ia.depth, "signature depth N >= 1")->required()->check(count_check);
    inv->add_option("--dim,-d", ia.dim, "path dimension (required when INPUT is a signature)")->check(count_check);
    inv->add_option("--points,-K", ia.points, "points of the recovered path (default 8)")->check(count_check);
    inv->add_option("--method", ia.method, "auto (default), adam or lm")->check(CLI::IsMember({"auto", "adam", "lm"}));
    inv->add_option("--init", ia.init, "start of adam/lm: insertion (default), random or zeros")
        ->check(CLI::IsMember({"insertion", "random", "zeros"}));
    inv->add_option("--iterations", ia.iterations, "Adam steps or LM iterations (default 5000 / 600)")
        ->check(count_check);
    inv->add_option("--lr", ia.lr, "Adam learning rate (default 2e-3)")->check(CLI::PositiveNumber);
    inv->add_option("--clip", ia.clip, "clip Adam's gradient to this infinity norm (default: none)")
        ->check(CLI::NonNegativeNumber);
    inv->add_option("--seed", ia.seed, "seed of the random start (default 0)");
    inv->add_option("--history", ia.history, "write the loss before each step (.npy or .csv)");
    inv->add_option("--plot", ia.plot, "write an SVG figure (2-D paths)");
    inv->add_flag("--raw", ia.raw, "write the points as optimised, not tree-reduced");

    app.add_subcommand("arch", "Print the SIMD instruction set the kernels use")->callback([] {
        std::cout << tensig::kernels::active_arch() << '\n';
    });

    try {
        // CLI11 reports an unknown command as "A subcommand is required": name it.
        if (argc > 1 && argv[1][0] != '-' &&
            app.get_subcommands([&](CLI::App* c) { return c->check_name(argv[1]); }).empty())
            throw CLI::ValidationError(std::string("unknown command '") + argv[1] +
                                       "' (use sig, logsig, combine, sig-backward, logsig-backward, invert or arch)");
        app.parse(argc, argv);
        if (sig->parsed()) run_sig(sa);
        if (logsig->parsed()) run_logsig(la);
        if (combine->parsed()) run_combine(ca);
        if (sigb->parsed()) run_backward(ba);
        if (inv->parsed()) run_invert(ia);
        if (logsigb->parsed()) run_backward(la_b);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const std::exception& e) {
        std::cerr << "tensig: error: " << e.what() << '\n';
        return 1;
    } catch (...) {
        std::cerr << "tensig: error: unknown exception\n";
        return 1;
    }
    return 0;
}

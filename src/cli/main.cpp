// The `tensig` command line: signatures, log-signatures and Chen products of
// paths stored as .npy or .csv files.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <limits>
#include <map>
#include <sstream>
#include <string>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xio.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xview.hpp>

#include "tensig/io/io.hpp"
#include "tensig/io/svg.hpp"
#include "tensig/kernels/primitives.hpp"
#include "tensig/parallel/invert_batch.hpp"
#include "tensig/parallel/parallel.hpp"
#include "tensig/tensig.hpp"

namespace {

using tensig::io::dtype;

// --threads, accepted by every command (0: all cores).
std::size_t threads_option = 0;
// --quiet: no progress bar.
bool quiet_option = false;

// --lead-lag and --time: path transforms applied to INPUT before the
// signature, lead-lag first (so the time channel is one increasing coordinate
// of the lead-lag path); --basepoint then applies to the transformed path.
struct transform_flags {
    bool lead_lag = false, time = false;
};

struct sig_args {
    std::string input, output;
    std::size_t depth = 0;
    bool stream = false, basepoint = false, inverse = false;
    transform_flags transforms;
};

struct logsig_args {
    std::string input, output, basis = "expanded";
    std::size_t depth = 0;
    bool basepoint = false, inverse = false;
    transform_flags transforms;
};

struct combine_args {
    std::vector<std::string> files; // inputs..., output
    std::size_t dim = 0, depth = 0;
};

struct convert_args {
    std::string input, output, basis = "lyndon";
    std::size_t dim = 0, depth = 0;
};

// Run `f` on the input converted to float or double, as stored.
template <class F> xt::xarray<double> in_precision(const tensig::io::array& in, F&& f) {
    if (in.type == dtype::f32) {
        const xt::xarray<float> x = xt::cast<float>(in.values);
        return xt::cast<double>(f(x));
    }
    return f(in.values);
}

// The path options of a command, with the global --threads.
tensig::signature_options path_options(bool basepoint, bool inverse) {
    tensig::signature_options o;
    o.basepoint = basepoint;
    o.inverse = inverse;
    o.threads = threads_option;
    return o;
}

// f(the path a command works on): x itself, or x with --lead-lag and then
// --time applied.
template <class T, class F> auto on_transformed(const xt::xarray<T>& x, const transform_flags& t, F&& f) {
    if (!t.lead_lag && !t.time) return f(x);
    xt::xarray<T> p = t.lead_lag ? xt::xarray<T>(tensig::lead_lag(x)) : x;
    if (t.time) p = tensig::time_augment(p);
    return f(p);
}

// A gradient with respect to the transformed path, pulled back through the
// transforms' adjoints (in the reverse order) to the shape of INPUT.
template <class T> xt::xarray<T> pulled_back(xt::xarray<T> g, const transform_flags& t) {
    if (t.time) g = tensig::time_augment_backward(g);
    if (t.lead_lag) g = tensig::lead_lag_backward(g);
    return g;
}

void run_sig(const sig_args& a) {
    const auto in = tensig::io::read_array(a.input);
    const tensig::signature_options o = path_options(a.basepoint, a.inverse);
    const auto out = in_precision(in, [&](const auto& x) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        return on_transformed(x, a.transforms, [&](const xt::xarray<T>& p) {
            return a.stream ? xt::xarray<T>(tensig::signature_stream(p, a.depth, o))
                            : xt::xarray<T>(tensig::signature(p, a.depth, o));
        });
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
    const tensig::signature_options o = path_options(a.basepoint, a.inverse);
    const auto out = in_precision(in, [&](const auto& x) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        return on_transformed(x, a.transforms, [&](const xt::xarray<T>& p) {
            return xt::xarray<T>(tensig::logsignature(p, a.depth, basis, o));
        });
    });
    tensig::io::write_array(a.output, out, in.type);
}

// combine A B [C ...] OUTPUT: the Chen product of all inputs in order, each
// (m,) or (B, m), all of one shape (float if all inputs are float).
void run_combine(const combine_args& a) {
    if (a.files.size() < 3)
        throw tensig::invalid_input("combine needs at least two signature files and an output file; got " +
                                    std::to_string(a.files.size()) + " file name(s)");
    const std::size_t M = a.files.size() - 1, m = tensig::sig_length(a.dim, a.depth);
    std::vector<tensig::io::array> in;
    bool single = true;
    for (std::size_t j = 0; j < M; ++j) {
        in.push_back(tensig::io::read_array(a.files[j]));
        const auto& sh = in.back().values.shape();
        if ((sh.size() != 1 && sh.size() != 2) || sh.back() != m)
            throw tensig::invalid_input("combine: signatures of dimension " + std::to_string(a.dim) +
                                        " and depth " + std::to_string(a.depth) + " have length " +
                                        std::to_string(m) + "; " + a.files[j] + " has shape " +
                                        tensig::detail::shape_str({sh.begin(), sh.end()}));
        if (sh != in.front().values.shape())
            throw tensig::invalid_input("combine: " + a.files[j] + " and " + a.files[0] +
                                        " have different shapes (one batch size for all)");
        single = single && in.back().type == dtype::f32;
    }
    // (M, m) or (B, M, m): the inputs side by side.
    const bool batch = in.front().values.dimension() == 2;
    const std::size_t B = batch ? in.front().values.shape()[0] : 1;
    xt::xarray<double> stacked = xt::zeros<double>({B, M, m});
    for (std::size_t j = 0; j < M; ++j)
        for (std::size_t b = 0; b < B; ++b)
            std::copy(in[j].values.data() + b * m, in[j].values.data() + (b + 1) * m,
                      stacked.data() + (b * M + j) * m);
    if (!batch) stacked.reshape({M, m});
    const tensig::io::array all{stacked, single ? dtype::f32 : dtype::f64};
    const auto out = in_precision(all, [&](const auto& x) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        return xt::xarray<T>(tensig::signature_combine_many(x, a.dim, a.depth, threads_option));
    });
    tensig::io::write_array(a.files.back(), out, all.type);
}

// logsig2sig / sig2logsig: conversions between signatures and log-signatures.
void run_convert(const convert_args& a, bool to_signature) {
    const auto basis = parse_basis(a.basis);
    const auto in = tensig::io::read_array(a.input);
    const auto out = in_precision(in, [&](const auto& x) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        return to_signature
                   ? xt::xarray<T>(tensig::logsignature_to_signature(x, a.dim, a.depth, basis, threads_option))
                   : xt::xarray<T>(tensig::signature_to_logsignature(x, a.dim, a.depth, basis, threads_option));
    });
    tensig::io::write_array(a.output, out, in.type);
}

// basis: the Lyndon words of (d, N) and their brackets, one per line, in the
// order of the words/lyndon coordinates.
void run_basis(std::size_t dim, std::size_t depth) {
    const auto words = tensig::lyndon_words(dim, depth);
    for (std::size_t i = 0; i < words.size(); ++i) {
        std::string w;
        for (auto letter : words[i])
            w += std::to_string(letter + 1) + (dim > 9 ? "," : "");
        if (dim > 9) w.pop_back();
        std::cout << i << '\t' << w << '\t' << tensig::lyndon_bracket(words[i]) << '\n';
    }
}

struct helper_args {
    std::string sigs, vectors, output;
    std::size_t dim = 0, depth = 0;
    bool scale = false; // sigscale, else sigjoin
};

// iisignature's sigjoin (SIGS ⊗ exp(SEGMENTS)) or sigscale (SIGS scaled per
// coordinate by SCALES): in float32 when both files are.
void run_helper(const helper_args& a) {
    auto s = tensig::io::read_array(a.sigs);
    auto v = tensig::io::read_array(a.vectors);
    // A CSV file is always rank 2: a one-row CSV beside a rank-1 operand is one vector.
    auto as_vector = [](xt::xarray<double>& x, const xt::xarray<double>& other) {
        if (other.dimension() == 1 && x.dimension() == 2 && x.shape()[0] == 1)
            x.reshape(std::vector<std::size_t>{x.shape()[1]});
    };
    as_vector(v.values, s.values);
    as_vector(s.values, v.values);
    const auto run = [&](const auto& x, const auto& y) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        return a.scale ? xt::xarray<T>(tensig::signature_scale(x, y, a.dim, a.depth, threads_option))
                       : xt::xarray<T>(tensig::signature_join(x, y, a.dim, a.depth, threads_option));
    };
    const bool single = s.type == dtype::f32 && v.type == dtype::f32;
    xt::xarray<double> out;
    if (single) {
        const xt::xarray<float> x = xt::cast<float>(s.values), y = xt::cast<float>(v.values);
        out = xt::cast<double>(run(x, y));
    } else {
        out = run(s.values, v.values);
    }
    tensig::io::write_array(a.output, out, single ? dtype::f32 : dtype::f64);
}

struct invert_args {
    std::string input, output, history, plot, report, method = "auto", init = "insertion";
    std::size_t depth = 0, dim = 0, points = 8, iterations = 0;
    double lr = 2e-3, clip = 0;
    std::uint64_t seed = 0;
    bool raw = false;
};

// A progress bar on stderr, only when stderr is a terminal and not --quiet.
class progress_bar {
  public:
    explicit progress_bar(const std::string& what) : what_(what), on_(!quiet_option && ::isatty(2)) {}
    void operator()(std::size_t done, std::size_t total) {
        if (!on_) return;
        const auto now = std::chrono::steady_clock::now();
        if (done < total && now - last_ < std::chrono::milliseconds(100)) return;
        last_ = now;
        const std::size_t width = 30, filled = total ? width * done / total : width;
        std::fprintf(stderr, "\r%s [%s%s] %zu/%zu", what_.c_str(), std::string(filled, '#').c_str(),
                     std::string(width - filled, ' ').c_str(), done, total);
        if (done == total) std::fprintf(stderr, "\n");
    }

  private:
    std::string what_;
    bool on_;
    std::chrono::steady_clock::time_point last_{};
};

tensig::invert_options make_invert_options(const invert_args& a) {
    tensig::invert_options o;
    o.points = a.points;
    o.seed = a.seed;
    o.method = a.method == "adam" ? tensig::invert_method::adam
               : a.method == "lm" ? tensig::invert_method::lm
                                  : tensig::invert_method::automatic;
    o.init = a.init == "random"  ? tensig::invert_init::random
             : a.init == "zeros" ? tensig::invert_init::zeros
                                 : tensig::invert_init::insertion;
    o.adam.lr = a.lr;
    o.adam.clip = a.clip;
    if (a.iterations > 0) {
        o.adam.iterations = a.iterations;
        o.lm.iterations = a.iterations;
    }
    return o;
}

// A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line
// break, its quotes doubled; nothing is dropped or replaced.
std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) {
        if (c == '"') q += '"';
        q += c;
    }
    return q + '"';
}

// One CSV row per item of a batch inversion.
void write_report(const std::string& file, const std::vector<tensig::invert_item>& items,
                  const std::vector<std::string>& extra_header = {},
                  const std::vector<std::vector<std::string>>& extra = {}) {
    std::ostringstream out;
    out << "index";
    for (const auto& h : extra_header)
        out << ',' << h;
    out << ",ok,converged,loss,iterations,seconds,route,hausdorff,max_point_error,error\n";
    char buf[64];
    auto num = [&](double v) {
        std::snprintf(buf, sizeof buf, "%.6g", v);
        return std::string(buf);
    };
    for (std::size_t i = 0; i < items.size(); ++i) {
        const auto& it = items[i];
        out << i;
        if (i < extra.size())
            for (const auto& e : extra[i])
                out << ',' << csv_field(e);
        out << ',' << it.ok << ',' << it.converged << ',' << num(it.result.loss) << ','
            << it.result.iterations << ',' << num(it.result.seconds) << ',' << csv_field(it.result.route) << ','
            << (it.hausdorff >= 0 ? num(it.hausdorff) : "") << ','
            << (it.max_point_error >= 0 ? num(it.max_point_error) : "") << ',' << csv_field(it.error) << '\n';
    }
    tensig::io::write_file(file, out.str());
}

// One panel of a figure: the original (solid, thick; if any) and the
// recovery (dashed).
std::vector<tensig::io::svg_path> comparison_panel(const xt::xtensor<double, 2>* original,
                                                   const xt::xtensor<double, 2>& recovered,
                                                   const std::string& label) {
    std::vector<tensig::io::svg_path> panel;
    if (original) {
        tensig::io::svg_path p;
        p.points = *original;
        p.width = 4;
        p.label = "original";
        panel.push_back(p);
    }
    tensig::io::svg_path p;
    p.points = recovered;
    p.colour = "#1f77b4";
    p.width = 2;
    p.dashed = true;
    p.label = label;
    panel.push_back(p);
    return panel;
}

// Recover paths from signatures (or from the signatures of given paths,
// which are then the references for the path error): one or a batch.
void run_invert(const invert_args& a) {
    const auto in = tensig::io::read_array(a.input);
    const auto& v = in.values;
    std::size_t dim = a.dim;
    // Is INPUT paths (rank 2 (L, d) or rank 3 (B, L, d)) or signatures
    // (rank 1 (m,) or rank 2 (B, m) with --dim and m = sig_length)?
    const bool signatures = v.dimension() == 1 || (v.dimension() == 2 && dim != 0 && v.shape()[1] != dim &&
                                                   v.shape()[1] == tensig::sig_length(dim, a.depth));
    if (v.dimension() == 0 || v.dimension() > 3)
        throw tensig::invalid_input(
            "INPUT must be paths (L, d) or (B, L, d), or signatures (m,) or (B, m); got an "
            "array of rank " +
            std::to_string(v.dimension()));
    xt::xtensor<double, 2> targets;
    xt::xtensor<double, 3> references;
    const bool batch = v.dimension() == 3 || (signatures && v.dimension() == 2);
    if (signatures) {
        if (dim == 0) throw tensig::invalid_input("INPUT is a signature: --dim is required");
        const std::size_t m = tensig::sig_length(dim, a.depth);
        if (v.shape().back() != m)
            throw tensig::invalid_input(
                "INPUT rows have " + std::to_string(v.shape().back()) + " values; a signature of dimension " +
                std::to_string(dim) + " and depth " + std::to_string(a.depth) + " has " + std::to_string(m));
        targets = xt::reshape_view(v, {v.size() / m, m});
    } else {
        const std::size_t d = v.shape().back();
        if (dim != 0 && dim != d)
            throw tensig::invalid_input("--dim " + std::to_string(dim) +
                                        " disagrees with the path's dimension " + std::to_string(d));
        dim = d;
        const std::size_t L = v.shape()[v.dimension() - 2], B = v.dimension() == 3 ? v.shape()[0] : 1;
        references = xt::reshape_view(v, {B, L, d});
        tensig::signature_options so;
        so.threads = threads_option;
        targets = tensig::signature(references, a.depth, so);
    }
    if (!a.plot.empty() && dim != 2)
        throw tensig::invalid_input("--plot draws 2-D paths only (dimension is " + std::to_string(dim) + ")");
    if (batch && !a.history.empty()) throw tensig::invalid_input("--history is for a single inversion");
    const bool have_reference = !signatures;

    tensig::invert_batch_options bo;
    bo.invert = make_invert_options(a);
    bo.threads = threads_option;
    progress_bar bar("inverting");
    if (batch) bo.progress = [&](std::size_t done, std::size_t total) { bar(done, total); };
    const auto t0 = std::chrono::steady_clock::now();
    const auto items =
        tensig::invert_batch(targets, dim, a.depth, bo, have_reference ? &references : nullptr);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    // outputs: translated to the reference's start (or the origin)
    const std::size_t B = items.size(), K = a.points;
    auto placed = [&](std::size_t i) {
        xt::xtensor<double, 1> start = xt::zeros<double>({dim});
        if (have_reference) start = xt::view(references, i, 0, xt::all());
        return tensig::translate_start(items[i].result.path, start);
    };
    for (const auto& it : items)
        if (!it.ok && !batch) throw tensig::invalid_input(it.error);
    if (batch) {
        xt::xtensor<double, 3> out = xt::zeros<double>({B, K, dim});
        for (std::size_t i = 0; i < B; ++i)
            if (items[i].ok) xt::view(out, i, xt::all(), xt::all()) = placed(i);
        tensig::io::write_array(a.output, xt::xarray<double>(out), in.type);
    } else {
        xt::xtensor<double, 2> out = placed(0);
        if (!a.raw) out = tensig::tree_reduce(out);
        tensig::io::write_array(a.output, xt::xarray<double>(out), in.type);
        if (!a.history.empty()) {
            const auto& h = items[0].result.history;
            tensig::io::write_array(a.history, xt::xarray<double>(xt::adapt(h, {h.size()})));
        }
    }
    if (!a.report.empty()) write_report(a.report, items);
    if (!a.plot.empty()) {
        std::vector<std::vector<tensig::io::svg_path>> panels;
        std::vector<std::string> captions;
        for (std::size_t i = 0; i < std::min<std::size_t>(B, 48); ++i) {
            const xt::xtensor<double, 2> ref =
                have_reference ? xt::xtensor<double, 2>(xt::view(references, i, xt::all(), xt::all()))
                               : xt::xtensor<double, 2>();
            panels.push_back(comparison_panel(have_reference ? &ref : nullptr, tensig::tree_reduce(placed(i)),
                                              "recovered (" + items[i].result.route + ")"));
            captions.push_back(std::to_string(i) + ": " + items[i].result.route);
        }
        if (B == 1)
            tensig::io::write_svg(a.plot, panels[0], "Signature inversion, depth " + std::to_string(a.depth));
        else
            tensig::io::write_svg_grid(a.plot, panels, 6, captions);
    }
    if (!batch) {
        const auto& r = items[0].result;
        std::printf("loss %.6g after %zu iterations (route %s), %.3f s\n", r.loss, r.iterations,
                    r.route.c_str(), r.seconds);
        if (have_reference) {
            std::printf("path error (translated, tree-reduced): Hausdorff %.3g", items[0].hausdorff);
            if (items[0].max_point_error >= 0)
                std::printf(", max point error %.3g", items[0].max_point_error);
            std::printf("\n");
        }
    } else {
        std::size_t ok = 0, exact = 0;
        for (const auto& it : items) {
            ok += it.ok;
            exact += it.converged;
        }
        std::printf("%zu inversions in %.2f s (%.1f per second): %zu converged, %zu failed\n", B, wall,
                    static_cast<double>(B) / wall, exact, B - ok);
    }
}

struct pendigits_args {
    std::string file, report, plot;
    std::size_t depth = 12, points = 8, limit = 0, per_class = 0;
    std::uint64_t seed = 0;
};

double quantile(std::vector<double> v, double q) {
    if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
    std::sort(v.begin(), v.end());
    const double pos = q * static_cast<double>(v.size() - 1);
    const std::size_t i = static_cast<std::size_t>(pos);
    const double f = pos - static_cast<double>(i);
    return i + 1 < v.size() ? v[i] * (1 - f) + v[i + 1] * f : v[i];
}

// Invert every row of a PenDigits file (or the built-in set) and summarise.
void run_pendigits(const pendigits_args& a) {
    std::vector<tensig::pendigits::row> rows;
    std::string source;
    if (a.file.empty()) {
        rows = tensig::pendigits::builtin_rows();
        const auto curves = tensig::pendigits::generated_curves();
        rows.insert(rows.end(), curves.begin(), curves.end());
        source =
            "the built-in set (4 PenDigits rows, " + std::to_string(curves.size()) + " generated curves)";
    } else {
        rows = tensig::pendigits::read(a.file);
        source = a.file;
    }
    if (a.per_class > 0) {
        std::map<int, std::size_t> taken;
        std::vector<tensig::pendigits::row> kept;
        for (const auto& r : rows)
            if (taken[r.label]++ < a.per_class) kept.push_back(r);
        rows.swap(kept);
    }
    if (a.limit > 0 && rows.size() > a.limit) rows.resize(a.limit);
    if (rows.empty()) throw tensig::invalid_input(source + ": no rows to invert");
    const std::size_t B = rows.size();
    xt::xtensor<double, 3> paths = xt::zeros<double>({B, std::size_t(8), std::size_t(2)});
    for (std::size_t i = 0; i < B; ++i)
        xt::view(paths, i, xt::all(), xt::all()) = tensig::pendigits::to_path(rows[i]);
    tensig::signature_options so;
    so.threads = threads_option;
    const xt::xtensor<double, 2> targets = tensig::signature(paths, a.depth, so);

    tensig::invert_batch_options bo;
    bo.invert.points = a.points;
    bo.invert.seed = a.seed;
    bo.threads = threads_option;
    progress_bar bar("inverting");
    bo.progress = [&](std::size_t done, std::size_t total) { bar(done, total); };
    const auto t0 = std::chrono::steady_clock::now();
    const auto items = tensig::invert_batch(targets, 2, a.depth, bo, &paths);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::size_t threads = threads_option ? threads_option : tensig::parallel::hardware_threads();

    std::printf("PenDigits inversion: %s\n%zu rows, depth %zu, %zu points, auto strategy, %zu threads\n\n",
                source.c_str(), B, a.depth, a.points, threads);
    std::printf("%-6s %6s %10s %10s %11s %11s %11s\n", "digit", "rows", "exact", "<= 1e-2", "median H",
                "p95 H", "median loss");
    std::map<int, std::vector<std::size_t>> by_label;
    for (std::size_t i = 0; i < B; ++i)
        by_label[rows[i].label].push_back(i);
    auto line = [&](const std::string& name, const std::vector<std::size_t>& idx) {
        std::vector<double> h, loss;
        std::size_t exact = 0, close = 0;
        for (auto i : idx) {
            const double hd = items[i].ok ? items[i].hausdorff : std::numeric_limits<double>::infinity();
            h.push_back(hd);
            loss.push_back(items[i].result.loss);
            exact += hd <= 1e-6;
            close += hd <= 1e-2;
        }
        const double n = static_cast<double>(idx.size());
        std::printf("%-6s %6zu %9.1f%% %9.1f%% %11.3g %11.3g %11.2f\n", name.c_str(), idx.size(),
                    100.0 * exact / n, 100.0 * close / n, quantile(h, 0.5), quantile(h, 0.95),
                    quantile(loss, 0.5));
    };
    std::vector<std::size_t> all;
    for (const auto& [label, idx] : by_label) {
        line(label < 0 ? "curve" : std::to_string(label), idx);
        all.insert(all.end(), idx.begin(), idx.end());
    }
    line("all", all);
    std::printf("\nwall time %.2f s: %.2f inversions per second, %.2f per thread\n", wall,
                static_cast<double>(B) / wall, static_cast<double>(B) / wall / static_cast<double>(threads));
    std::printf("(exact: Hausdorff distance <= 1e-6 after translating and exact tree reduction)\n");

    if (!a.report.empty()) {
        std::vector<std::vector<std::string>> extra;
        for (const auto& r : rows)
            extra.push_back({std::to_string(r.line), std::to_string(r.label)});
        write_report(a.report, items, {"line", "label"}, extra);
    }
    if (!a.plot.empty()) {
        std::vector<std::vector<tensig::io::svg_path>> panels;
        std::vector<std::string> captions;
        for (std::size_t i = 0; i < std::min<std::size_t>(B, 48); ++i) {
            const xt::xtensor<double, 2> orig = xt::view(paths, i, xt::all(), xt::all());
            const xt::xtensor<double, 1> start = xt::row(orig, 0);
            panels.push_back(comparison_panel(
                &orig, tensig::tree_reduce(tensig::translate_start(items[i].result.path, start)),
                "recovered"));
            char cap[64];
            std::snprintf(cap, sizeof cap, "%s  H=%.1e",
                          rows[i].label < 0 ? "curve" : std::to_string(rows[i].label).c_str(),
                          items[i].hausdorff);
            captions.push_back(cap);
        }
        tensig::io::write_svg_grid(a.plot, panels, 8, captions);
    }
}

struct backward_args {
    std::string grad, input, output, basis = "expanded";
    std::size_t depth = 0;
    bool basepoint = false, inverse = false, logsig = false;
    transform_flags transforms;
};

// The gradient of <GRAD, sig(INPUT)> (or logsig) with respect to the path:
// iisignature's sigbackprop / logsigbackprop.
void run_backward(const backward_args& a) {
    const auto basis = parse_basis(a.basis);
    const auto g = tensig::io::read_array(a.grad);
    const auto in = tensig::io::read_array(a.input);
    const tensig::signature_options o = path_options(a.basepoint, a.inverse);
    const auto out = in_precision(in, [&](const auto& x) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        const xt::xarray<T> gx = xt::cast<T>(g.values);
        return on_transformed(x, a.transforms, [&](const xt::xarray<T>& p) {
            xt::xarray<T> gp = a.logsig
                                   ? xt::xarray<T>(tensig::logsignature_backward(gx, p, a.depth, basis, o))
                                   : xt::xarray<T>(tensig::signature_backward(gx, p, a.depth, o));
            return pulled_back(std::move(gp), a.transforms);
        });
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

// --lead-lag and --time on a command that takes a path.
void add_transform_flags(CLI::App* cmd, transform_flags& t) {
    cmd->add_flag("--lead-lag", t.lead_lag,
                  "first the lead-lag transform: (L, d) -> (2L-1, 2d), the lead channels then the lag");
    cmd->add_flag("--time", t.time, "then append time, 0 to 1, as the last coordinate: d -> d+1 channels");
}

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
                 "Files are .npy (float64 or float32; paths (L, d) or batches (B, L, d)) or .csv (one point "
                 "per row)."};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("tensig 0.1.0"));
    app.failure_message(one_line_failure);
    app.fallthrough();
    app.add_option("--threads", threads_option,
                   "threads for every command that does work (default: all cores)")
        ->check(count_check);
    app.add_flag("--quiet,-q", quiet_option, "no progress bar");

    sig_args sa;
    auto* sig = app.add_subcommand("sig", "Signature of a path (L, d) or batch (B, L, d): levels 1..N");
    sig->add_option("INPUT", sa.input, "path file (.npy or .csv)")->required();
    sig->add_option("OUTPUT", sa.output, "result file (.npy or .csv)")->required();
    sig->add_option("--depth,-N", sa.depth, "truncation depth N >= 1")->required()->check(count_check);
    sig->add_flag("--stream", sa.stream, "every prefix signature: (L-1, sig_length)");
    sig->add_flag("--basepoint", sa.basepoint, "start the path at the origin");
    sig->add_flag("--inverse", sa.inverse, "signature of the reversed path (the inverse)");
    add_transform_flags(sig, sa.transforms);

    logsig_args la;
    auto* logsig = app.add_subcommand("logsig", "Log-signature of a path (L, d) or batch (B, L, d)");
    logsig->add_option("INPUT", la.input, "path file (.npy or .csv)")->required();
    logsig->add_option("OUTPUT", la.output, "result file (.npy or .csv)")->required();
    logsig->add_option("--depth,-N", la.depth, "truncation depth N >= 1")->required()->check(count_check);
    logsig->add_option("--basis", la.basis, "coordinates: expanded (tensor), words or lyndon")
        ->check(CLI::IsMember({"expanded", "words", "lyndon"}));
    logsig->add_flag("--basepoint", la.basepoint, "start the path at the origin");
    logsig->add_flag("--inverse", la.inverse, "log-signature of the reversed path");
    add_transform_flags(logsig, la.transforms);

    combine_args ca;
    auto* combine = app.add_subcommand(
        "combine", "Chen product of two or more signatures (m,) or (B, m), in order: A ⊗ B ⊗ ...");
    combine->add_option("FILES", ca.files, "signature files A B [C ...], then the result file")->required();
    combine->add_option("--dim,-d", ca.dim, "path dimension d >= 1")->required()->check(count_check);
    combine->add_option("--depth,-N", ca.depth, "truncation depth N >= 1")->required()->check(count_check);

    convert_args l2s, s2l;
    auto* logsig2sig = app.add_subcommand(
        "logsig2sig", "Signature exp(l) of log-signatures (n,) or (B, n) given in --basis");
    auto* sig2logsig =
        app.add_subcommand("sig2logsig", "Log-signature, in --basis, of signatures (m,) or (B, m)");
    for (auto [cmd, ca_] : {std::pair{logsig2sig, &l2s}, std::pair{sig2logsig, &s2l}}) {
        cmd->add_option("INPUT", ca_->input, "input file (.npy or .csv)")->required();
        cmd->add_option("OUTPUT", ca_->output, "result file (.npy or .csv)")->required();
        cmd->add_option("--dim,-d", ca_->dim, "path dimension d >= 1")->required()->check(count_check);
        cmd->add_option("--depth,-N", ca_->depth, "truncation depth N >= 1")->required()->check(count_check);
        cmd->add_option("--basis", ca_->basis, "log-signature coordinates: lyndon (default), words or expanded")
            ->check(CLI::IsMember({"expanded", "words", "lyndon"}));
    }

    std::size_t basis_dim = 0, basis_depth = 0;
    auto* basis = app.add_subcommand(
        "basis", "Print the Lyndon words of (d, N) and their brackets (iisignature's basis), one per line");
    basis->add_option("--dim,-d", basis_dim, "path dimension d >= 1")->required()->check(count_check);
    basis->add_option("--depth,-N", basis_depth, "truncation depth N >= 1")->required()->check(count_check);

    helper_args ja;
    auto* join = app.add_subcommand(
        "join", "Signatures of paths extended by one straight segment: SIGS ⊗ exp(SEGMENTS) (iisignature's "
                "sigjoin)");
    join->add_option("SIGS", ja.sigs, "signatures (sig_length,) or (B, sig_length)")->required();
    join->add_option("SEGMENTS", ja.vectors, "segments (increments) (d,) or (B, d)")->required();
    join->add_option("OUTPUT", ja.output, "result file, shaped like SIGS")->required();
    join->add_option("--dim,-d", ja.dim, "path dimension d >= 1")->required()->check(count_check);
    join->add_option("--depth,-N", ja.depth, "truncation depth N >= 1")->required()->check(count_check);

    helper_args sca;
    sca.scale = true;
    auto* scale = app.add_subcommand(
        "scale", "Signatures of paths scaled per coordinate: the entry of word i1..ik times "
                 "SCALES[i1]...SCALES[ik] (iisignature's sigscale)");
    scale->add_option("SIGS", sca.sigs, "signatures (sig_length,) or (B, sig_length)")->required();
    scale->add_option("SCALES", sca.vectors, "scale factors (d,) or (B, d)")->required();
    scale->add_option("OUTPUT", sca.output, "result file, shaped like SIGS")->required();
    scale->add_option("--dim,-d", sca.dim, "path dimension d >= 1")->required()->check(count_check);
    scale->add_option("--depth,-N", sca.depth, "truncation depth N >= 1")->required()->check(count_check);

    backward_args ba;
    auto* sigb = app.add_subcommand(
        "sig-backward",
        "Gradient of <GRAD, sig(INPUT)> with respect to the path (iisignature's sigbackprop)");
    sigb->add_option("GRAD", ba.grad,
                     "gradient with respect to the signature: (sig_length,) or (B, sig_length)")
        ->required();
    sigb->add_option("INPUT", ba.input, "path file (L, d) or (B, L, d)")->required();
    sigb->add_option("OUTPUT", ba.output, "gradient with respect to the path, shaped like INPUT")->required();
    sigb->add_option("--depth,-N", ba.depth, "truncation depth N >= 1")->required()->check(count_check);
    sigb->add_flag("--basepoint", ba.basepoint, "start the path at the origin");
    sigb->add_flag("--inverse", ba.inverse, "signature of the reversed path");
    add_transform_flags(sigb, ba.transforms);

    backward_args la_b;
    la_b.logsig = true;
    auto* logsigb =
        app.add_subcommand("logsig-backward", "Gradient of <GRAD, logsig(INPUT)> with respect to the path");
    logsigb->add_option("GRAD", la_b.grad, "gradient with respect to the log-signature")->required();
    logsigb->add_option("INPUT", la_b.input, "path file (L, d) or (B, L, d)")->required();
    logsigb->add_option("OUTPUT", la_b.output, "gradient with respect to the path, shaped like INPUT")
        ->required();
    logsigb->add_option("--depth,-N", la_b.depth, "truncation depth N >= 1")->required()->check(count_check);
    logsigb->add_option("--basis", la_b.basis, "coordinates: expanded (tensor), words or lyndon")
        ->check(CLI::IsMember({"expanded", "words", "lyndon"}));
    logsigb->add_flag("--basepoint", la_b.basepoint, "start the path at the origin");
    logsigb->add_flag("--inverse", la_b.inverse, "log-signature of the reversed path");
    add_transform_flags(logsigb, la_b.transforms);

    invert_args ia;
    auto* inv =
        app.add_subcommand("invert", "Recover a path from its signature (or from a path's signature)");
    inv->add_option("INPUT", ia.input,
                    "a path (L, d) (its signature is the target and it is the reference) or a "
                    "signature (sig_length,) (then --dim is required)")
        ->required();
    inv->add_option("OUTPUT", ia.output,
                    "the recovered path, translated to the reference's start (or the origin), "
                    "tree-reduced unless --raw")
        ->required();
    inv->add_option("--depth,-N", ia.depth, "signature depth N >= 1")->required()->check(count_check);
    inv->add_option("--dim,-d", ia.dim, "path dimension (required when INPUT is a signature)")
        ->check(count_check);
    inv->add_option("--points,-K", ia.points, "points of the recovered path (default 8)")->check(count_check);
    inv->add_option("--method", ia.method, "auto (default), adam or lm")
        ->check(CLI::IsMember({"auto", "adam", "lm"}));
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
    inv->add_flag("--raw", ia.raw,
                  "write the points as optimised, not tree-reduced (batches are never reduced)");
    inv->add_option("--report", ia.report, "write one CSV row per item (loss, route, time, path error)");

    pendigits_args pa;
    auto* pen =
        app.add_subcommand("pendigits", "Invert every row of a PenDigits file (or the built-in set) and "
                                        "summarise the recovery per digit");
    pen->add_option("FILE", pa.file, "pendigits.tra / pendigits.tes (UCI format); default: the built-in set")
        ->check(CLI::ExistingFile);
    pen->add_option("--depth,-N", pa.depth, "signature depth (default 12)")->check(count_check);
    pen->add_option("--points,-K", pa.points, "points of the recovered paths (default 8)")
        ->check(count_check);
    pen->add_option("--limit", pa.limit, "invert only the first N rows")->check(count_check);
    pen->add_option("--per-class", pa.per_class, "invert only the first N rows of each digit")
        ->check(count_check);
    pen->add_option("--seed", pa.seed, "seed of the random starts (default 0)");
    pen->add_option("--report", pa.report, "write one CSV row per item");
    pen->add_option("--plot", pa.plot, "write an SVG grid of originals and recoveries (first 48 rows)");

    app.add_subcommand("arch", "Print the SIMD instruction set the kernels use")->callback([] {
        std::cout << tensig::kernels::active_arch() << '\n';
    });

    try {
        // CLI11 reports an unknown command as "A subcommand is required": name it.
        if (argc > 1 && argv[1][0] != '-' &&
            app.get_subcommands([&](CLI::App* c) { return c->check_name(argv[1]); }).empty())
            throw CLI::ValidationError(std::string("unknown command '") + argv[1] +
                                       "' (use sig, logsig, combine, logsig2sig, sig2logsig, basis, join, scale, "
                                       "sig-backward, logsig-backward, invert, pendigits or arch)");
        app.parse(argc, argv);
        if (sig->parsed()) run_sig(sa);
        if (logsig->parsed()) run_logsig(la);
        if (combine->parsed()) run_combine(ca);
        if (logsig2sig->parsed()) run_convert(l2s, true);
        if (sig2logsig->parsed()) run_convert(s2l, false);
        if (basis->parsed()) run_basis(basis_dim, basis_depth);
        if (join->parsed()) run_helper(ja);
        if (scale->parsed()) run_helper(sca);
        if (sigb->parsed()) run_backward(ba);
        if (inv->parsed()) run_invert(ia);
        if (pen->parsed()) run_pendigits(pa);
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

#include "tensig/io/svg.hpp"

#include "tensig/io/io.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <locale>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include "tensig/error.hpp"

namespace tensig::io {

namespace {

// Figure geometry, in pixels.
constexpr double figure_width = 640, plot_height = 440, margin = 40, inset = 10;
constexpr double panel_size = 180, panel_gap = 16, caption_height = 20, legend_row = 18;

void check_path(const svg_path& p, const std::string& where) {
    const auto& sh = p.points.shape();
    if (sh[1] != 2 || sh[0] == 0)
        throw invalid_input(where + ": an SVG path must have shape (L, 2) with L >= 1; got (" +
                            std::to_string(sh[0]) + ", " + std::to_string(sh[1]) + ")");
    for (double v : p.points)
        if (!std::isfinite(v)) throw invalid_input(where + ": an SVG path has a non-finite coordinate");
    if (!std::isfinite(p.width) || !(p.width > 0))
        throw invalid_input(where + ": stroke width must be finite and > 0 (got " + std::to_string(p.width) +
                            ")");
}

std::string escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&apos;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

// A stream that prints numbers the same way whatever the global locale.
std::ostringstream svg_stream() {
    std::ostringstream os;
    os.imbue(std::locale::classic());
    os.setf(std::ios::fixed);
    os.precision(2);
    return os;
}

std::string stroke_attributes(const svg_path& p) {
    auto os = svg_stream();
    os << "fill=\"none\" stroke=\"" << escape(p.colour) << "\" stroke-width=\"" << p.width
       << "\" stroke-linejoin=\"round\" stroke-linecap=\"round\"";
    // Dashes grow with the stroke so thick dashed lines still read as dashed.
    if (p.dashed)
        os << " stroke-dasharray=\"" << std::max(4.0, 4 * p.width) << " " << std::max(3.0, 3 * p.width)
           << "\"";
    return os.str();
}

// The paths of one set of axes, fitted into the box (x, y, w, h) with equal
// scales in x and y, y pointing up.
void draw_axes(std::ostream& os, const std::vector<svg_path>& paths, double x, double y, double w, double h) {
    os << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << w << "\" height=\"" << h
       << "\" fill=\"none\" stroke=\"#cccccc\" stroke-width=\"1\"/>\n";
    double lo[2] = {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity()};
    double hi[2] = {-lo[0], -lo[1]};
    for (const auto& p : paths)
        for (std::size_t i = 0; i < p.points.shape()[0]; ++i)
            for (std::size_t j = 0; j < 2; ++j) {
                lo[j] = std::min(lo[j], p.points(i, j));
                hi[j] = std::max(hi[j], p.points(i, j));
            }
    if (paths.empty()) return;
    const double iw = w - 2 * inset, ih = h - 2 * inset;
    const double ex = hi[0] - lo[0], ey = hi[1] - lo[1];
    double scale = std::min(ex > 0 ? iw / ex : std::numeric_limits<double>::infinity(),
                            ey > 0 ? ih / ey : std::numeric_limits<double>::infinity());
    if (!std::isfinite(scale)) scale = 1;
    const double cx = x + w / 2, cy = y + h / 2, mx = (lo[0] + hi[0]) / 2, my = (lo[1] + hi[1]) / 2;
    for (const auto& p : paths) {
        os << "<polyline points=\"";
        const std::size_t L = p.points.shape()[0];
        // A one-point path is drawn as a zero-length line, which round caps
        // render as a dot.
        for (std::size_t i = 0; i < std::max<std::size_t>(L, 2); ++i) {
            const std::size_t k = std::min(i, L - 1);
            os << (i ? " " : "") << cx + (p.points(k, 0) - mx) * scale << ","
               << cy - (p.points(k, 1) - my) * scale;
        }
        os << "\" " << stroke_attributes(p) << "/>\n";
    }
}

// One legend entry per distinct (label, colour, width, dash), in first-seen order.
std::vector<const svg_path*> legend_entries(const std::vector<const svg_path*>& paths) {
    std::vector<const svg_path*> entries;
    for (const auto* p : paths) {
        if (p->label.empty()) continue;
        const auto same = [&](const svg_path* q) {
            return std::tie(q->label, q->colour, q->width, q->dashed) ==
                   std::tie(p->label, p->colour, p->width, p->dashed);
        };
        if (std::none_of(entries.begin(), entries.end(), same)) entries.push_back(p);
    }
    return entries;
}

// Legend rows from (x, y) downwards, with a white backing so it reads over
// the paths.
void draw_legend(std::ostream& os, const std::vector<const svg_path*>& entries, double x, double y) {
    if (entries.empty()) return;
    std::size_t longest = 0;
    for (const auto* p : entries)
        longest = std::max(longest, p->label.size());
    const double w = 44 + 7.0 * static_cast<double>(longest),
                 h = legend_row * static_cast<double>(entries.size()) + 8;
    os << "<g class=\"legend\">\n<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << w << "\" height=\""
       << h << "\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#999999\" stroke-width=\"0.5\"/>\n";
    for (std::size_t k = 0; k < entries.size(); ++k) {
        const double ry = y + 4 + legend_row * (static_cast<double>(k) + 0.5);
        os << "<line x1=\"" << x + 6 << "\" y1=\"" << ry << "\" x2=\"" << x + 34 << "\" y2=\"" << ry << "\" "
           << stroke_attributes(*entries[k]) << "/>\n";
        os << "<text x=\"" << x + 40 << "\" y=\"" << ry + 4
           << "\" font-family=\"sans-serif\" font-size=\"12\">" << escape(entries[k]->label) << "</text>\n";
    }
    os << "</g>\n";
}

void open_svg(std::ostream& os, double w, double h) {
    os << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\""
       << w << "\" height=\"" << h << "\" viewBox=\"0 0 " << w << " " << h
       << "\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
}

} // namespace

void write_svg(const std::string& file, const std::vector<svg_path>& paths, const std::string& title) {
    for (const auto& p : paths)
        check_path(p, file);
    std::vector<const svg_path*> all;
    for (const auto& p : paths)
        all.push_back(&p);
    const auto entries = legend_entries(all);
    // The legend goes under the axes, so it never hides a path.
    const double top = title.empty() ? margin : margin + 24, w = figure_width - 2 * margin, h = plot_height;
    const double legend_h = entries.empty() ? 0 : legend_row * static_cast<double>(entries.size()) + 16;
    auto os = svg_stream();
    open_svg(os, figure_width, top + h + legend_h + margin);
    if (!title.empty())
        os << "<text x=\"" << figure_width / 2 << "\" y=\"" << margin
           << "\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"16\">" << escape(title)
           << "</text>\n";
    draw_axes(os, paths, margin, top, w, h);
    draw_legend(os, entries, margin, top + h + 12);
    os << "</svg>\n";
    write_file(file, os.str());
}

void write_svg_grid(const std::string& file, const std::vector<std::vector<svg_path>>& panels,
                    std::size_t columns, const std::vector<std::string>& captions) {
    if (columns == 0) throw invalid_input(file + ": a grid needs at least one column");
    if (!captions.empty() && captions.size() != panels.size())
        throw invalid_input(file + ": " + std::to_string(captions.size()) + " captions for " +
                            std::to_string(panels.size()) + " panels (give one per panel, or none)");
    std::vector<const svg_path*> all;
    for (const auto& panel : panels)
        for (const auto& p : panel) {
            check_path(p, file);
            all.push_back(&p);
        }
    const auto entries = legend_entries(all);
    const std::size_t cols = std::max<std::size_t>(1, std::min(columns, panels.size()));
    const std::size_t rows = (panels.size() + columns - 1) / columns;
    const double legend_h = entries.empty() ? 0 : legend_row * static_cast<double>(entries.size()) + 16;
    const double cell_w = panel_size + panel_gap, cell_h = panel_size + caption_height + panel_gap;
    const double width = panel_gap + cell_w * static_cast<double>(cols);
    const double height = panel_gap + legend_h + cell_h * static_cast<double>(std::max<std::size_t>(rows, 1));
    auto os = svg_stream();
    open_svg(os, width, height);
    draw_legend(os, entries, panel_gap, panel_gap / 2);
    for (std::size_t k = 0; k < panels.size(); ++k) {
        const double x = panel_gap + cell_w * static_cast<double>(k % columns);
        const double y = panel_gap + legend_h + cell_h * static_cast<double>(k / columns);
        os << "<g class=\"panel\">\n";
        draw_axes(os, panels[k], x, y, panel_size, panel_size);
        if (!captions.empty())
            os << "<text x=\"" << x + panel_size / 2 << "\" y=\"" << y + panel_size + 15
               << "\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"12\">"
               << escape(captions[k]) << "</text>\n";
        os << "</g>\n";
    }
    os << "</svg>\n";
    write_file(file, os.str());
}

} // namespace tensig::io

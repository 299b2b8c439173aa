#pragma once
/// \file
/// Layer 9 support: SVG figures of 2-D polylines, for showing an original
/// path next to the ones recovered from its signature (seed-inversion.md:
/// original solid and thick, recovered dashed).

#include <cstddef>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

namespace tensig::io {

/// One polyline of a figure.
struct svg_path {
    /// The points, shape (L, 2), L >= 1: x to the right, y up.
    xt::xtensor<double, 2> points;
    /// Any SVG colour ("black", "#1f77b4", ...).
    std::string colour = "black";
    /// Stroke width in pixels (> 0).
    double width = 1.5;
    /// Dashed rather than solid.
    bool dashed = false;
    /// Legend entry; paths with an empty label are not in the legend.
    std::string label;
};

/// Write one figure: all paths on common axes with equal scales in x and y
/// (so shapes are not distorted), the bounding box of all points fitted into
/// the plot area with margins, y pointing up, a legend of the labelled paths
/// and an optional title. Each path is one `<polyline>`; a one-point path is
/// drawn as a dot. Text is XML-escaped. The whole figure is built before the
/// file is touched, then written to a temporary name and renamed, so an error
/// leaves no file.
/// \throws invalid_input for a path whose points are not (L, 2) with L >= 1,
///   a non-finite coordinate, or a width that is not finite and > 0;
///   std::runtime_error if the file cannot be written.
void write_svg(const std::string& file, const std::vector<svg_path>& paths, const std::string& title = "");

/// Write a grid of small panels, `columns` per row, each panel scaled on its
/// own (as write_svg, equal x and y scales) with its caption underneath, and
/// one legend for the whole grid (the distinct labelled styles of all panels).
/// Used to show many originals and their recoveries at once. An empty panel
/// is drawn as an empty frame.
/// \throws invalid_input as write_svg, for columns = 0, or when `captions` is
///   neither empty nor one per panel; std::runtime_error if the file cannot
///   be written.
void write_svg_grid(const std::string& file, const std::vector<std::vector<svg_path>>& panels,
                    std::size_t columns, const std::vector<std::string>& captions = {});

} // namespace tensig::io

// Small self-contained SVG charts for the HTML reports of `selm report` and `selm compare`:
// plain inline <svg> markup with axes, tick labels, a title and a legend; no scripts and no
// external resources, so a report opens anywhere (offline, in a mail attachment, on a cluster).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "selm/eval/statistics.hpp"

namespace selm {

// One data series of a chart: points (x, y), optionally joined by a line and with vertical
// error bars (a 95% interval per point).
struct ChartSeries {
  std::string label;                 // legend text
  std::string color;                 // CSS colour, e.g. "#2563eb"
  std::vector<double> x;
  std::vector<double> y;
  std::vector<Interval> error_bars;  // empty, or one per point
  bool line = true;                  // join the points in the given order
  bool markers = true;               // a dot per point
  double marker_opacity = 1.0;       // below 1 for dense strip plots
};

struct Chart {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<ChartSeries> series;
  // Categorical x axis: category i sits at x = i and is labelled category_labels[i]. Empty: a
  // numeric x axis with ticks chosen from the data.
  std::vector<std::string> category_labels;
  std::vector<double> x_markers;       // dashed vertical lines, e.g. round boundaries
  std::string x_marker_label;          // legend entry of the markers (none when empty)
  std::optional<Interval> y_range;     // fixed y axis range (e.g. [0, 1] for rates); else the data's
  std::optional<double> y_reference;   // dashed horizontal line, e.g. a win rate of 0.5
  int width = 540;
  int height = 320;
};

// The chart as an <svg> element (no XML namespace attribute: it is meant to be inlined in
// HTML5). Non-finite values are skipped.
std::string render_svg_chart(const Chart& chart);

// Distinct, saturated colours used for chart series, in order.
const std::vector<std::string>& chart_palette();

// Round tick values covering [low, high]: steps of 1, 2 or 5 times a power of ten, about
// `target_count` of them; the first tick is <= low and the last >= high.
std::vector<double> nice_ticks(double low, double high, int target_count);

// Text made safe for HTML element content and attribute values (& < > " ').
std::string html_escape(std::string_view text);

// A table; the first row is the header. Cells are escaped.
std::string html_table(const std::vector<std::vector<std::string>>& rows);

// A complete HTML5 page with the reports' inline style sheet around `body` (already HTML).
std::string html_page(const std::string& title, const std::string& body);

// printf("%.*f") as a string; "-" for a non-finite value.
std::string format_fixed(double value, int decimals);

}  // namespace selm

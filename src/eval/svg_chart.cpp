#include "selm/eval/svg_chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace selm {

namespace {

// Space around the plot area, in pixels: tick labels and the y label on the left, the title on
// top, tick labels, the x label and the legend below.
constexpr double kLeft = 64;
constexpr double kRight = 18;
constexpr double kTop = 34;
constexpr double kBottom = 76;
constexpr double kCharWidth = 6.6;  // rough width of one 12px sans-serif character, for the legend

constexpr const char* kAxisColor = "#374151";
constexpr const char* kGridColor = "#e5e7eb";
constexpr const char* kMarkerColor = "#9ca3af";

struct Range {
  double low = std::numeric_limits<double>::infinity();
  double high = -std::numeric_limits<double>::infinity();

  void include(double value) {
    if (!std::isfinite(value)) return;
    low = std::min(low, value);
    high = std::max(high, value);
  }
  bool empty() const { return !(low <= high); }
};

// Decimals enough to tell ticks `step` apart.
int tick_decimals(double step) {
  if (!(step > 0)) return 0;
  const int decimals = static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  return std::clamp(decimals, 0, 6);
}

std::string number(double value) { return format_fixed(value, 1); }

// Widens a degenerate or empty range so that ticks can be drawn.
Range usable(Range range) {
  if (range.empty()) return Range{0.0, 1.0};
  if (range.high - range.low < 1e-12) {
    const double pad = std::abs(range.low) > 0 ? std::abs(range.low) * 0.1 : 0.5;
    return Range{range.low - pad, range.high + pad};
  }
  return range;
}

class Canvas {
 public:
  Canvas(const Chart& chart, Range x_range, Range y_range)
      : x_(x_range), y_(y_range),
        plot_width_(chart.width - kLeft - kRight), plot_height_(chart.height - kTop - kBottom) {}

  double px(double x) const { return kLeft + (x - x_.low) / (x_.high - x_.low) * plot_width_; }
  // Clamped to the plot area: with a fixed y range (rates in [0, 1]) a wide interval must not
  // run over the title and the legend.
  double py(double y) const {
    return kTop + (y_.high - std::clamp(y, y_.low, y_.high)) / (y_.high - y_.low) * plot_height_;
  }
  bool y_visible(double y) const {
    const double slack = (y_.high - y_.low) * 1e-9;
    return y >= y_.low - slack && y <= y_.high + slack;
  }
  double plot_bottom() const { return kTop + plot_height_; }
  double plot_right() const { return kLeft + plot_width_; }

 private:
  Range x_, y_;
  double plot_width_, plot_height_;
};

void line(std::string& out, double x1, double y1, double x2, double y2, const std::string& color, double width,
          const char* dash = nullptr) {
  out += "<line x1=\"" + number(x1) + "\" y1=\"" + number(y1) + "\" x2=\"" + number(x2) + "\" y2=\"" +
         number(y2) + "\" stroke=\"" + color + "\" stroke-width=\"" + format_fixed(width, 1) + "\"";
  if (dash != nullptr) out += std::string(" stroke-dasharray=\"") + dash + "\"";
  out += "/>";
}

void text(std::string& out, double x, double y, const std::string& content, const char* anchor, int size,
          const std::string& extra = "") {
  out += "<text x=\"" + number(x) + "\" y=\"" + number(y) + "\" text-anchor=\"" + anchor + "\" font-size=\"" +
         std::to_string(size) + "\"" + extra + ">" + html_escape(content) + "</text>";
}

bool point_ok(const ChartSeries& series, std::size_t i) {
  return i < series.y.size() && std::isfinite(series.x[i]) && std::isfinite(series.y[i]);
}

}  // namespace

const std::vector<std::string>& chart_palette() {
  static const std::vector<std::string> palette = {"#2563eb", "#ea580c", "#16a34a", "#9333ea",
                                                   "#dc2626", "#0891b2", "#ca8a04", "#4b5563"};
  return palette;
}

std::vector<double> nice_ticks(double low, double high, int target_count) {
  if (!(low <= high) || !std::isfinite(low) || !std::isfinite(high)) return {};
  if (high - low < 1e-12) return {low};
  const double raw_step = (high - low) / std::max(1, target_count);
  const int exponent = static_cast<int>(std::floor(std::log10(raw_step)));
  const double magnitude = std::pow(10.0, exponent);
  double factor = 1.0;
  for (double candidate : {1.0, 2.0, 5.0, 10.0}) {
    factor = candidate;
    if (candidate * magnitude >= raw_step) break;
  }
  const double step = factor * magnitude;
  // Tick k is k * factor * 10^exponent; dividing by 10^-exponent for negative exponents gives
  // the correctly rounded decimal (0.6, not 3 * 0.2 = 0.6000000000000001).
  auto tick_value = [&](double k) {
    const double value = exponent >= 0 ? k * factor * magnitude : k * factor / std::pow(10.0, -exponent);
    return value == 0.0 ? 0.0 : value;  // no "-0"
  };
  const double first = std::floor(low / step + 1e-9);
  const double last = std::ceil(high / step - 1e-9);
  std::vector<double> ticks;
  for (double k = first; k <= last + 0.5; k += 1.0) ticks.push_back(tick_value(k));
  return ticks;
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string html_table(const std::vector<std::vector<std::string>>& rows) {
  std::string out = "<table>";
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const char* cell_tag = r == 0 ? "th" : "td";
    out += "<tr>";
    for (const std::string& cell : rows[r]) {
      out += std::string("<") + cell_tag + ">" + html_escape(cell) + "</" + cell_tag + ">";
    }
    out += "</tr>";
  }
  return out + "</table>";
}

std::string html_page(const std::string& title, const std::string& body) {
  static const char* const kStyle =
      "body{font-family:sans-serif;margin:24px;color:#111827;max-width:1160px}"
      "h1{font-size:22px}h2{font-size:18px;margin-top:28px}h3{font-size:15px}"
      "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d1d5db;padding:3px 8px;"
      "text-align:right;font-size:13px}th{background:#f3f4f6}"
      ".charts{display:flex;flex-wrap:wrap;gap:12px}.chart{border:1px solid #e5e7eb}"
      ".meta{color:#4b5563;font-size:13px}.example{border-left:3px solid #d1d5db;padding:2px 10px;margin:8px 0;"
      "font-size:13px}.example pre{white-space:pre-wrap;margin:2px 0 6px 0;font-family:monospace}";
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + html_escape(title) +
         "</title><style>" + kStyle + "</style></head><body>\n" + body + "</body></html>\n";
}

std::string format_fixed(double value, int decimals) {
  if (!std::isfinite(value)) return "-";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

std::string render_svg_chart(const Chart& chart) {
  // Data ranges.
  Range x_data, y_data;
  for (const ChartSeries& series : chart.series) {
    for (std::size_t i = 0; i < series.x.size(); ++i) {
      if (!point_ok(series, i)) continue;
      x_data.include(series.x[i]);
      y_data.include(series.y[i]);
      if (i < series.error_bars.size()) {
        y_data.include(series.error_bars[i].low);
        y_data.include(series.error_bars[i].high);
      }
    }
  }
  for (double marker : chart.x_markers) x_data.include(marker);
  if (chart.y_reference) y_data.include(*chart.y_reference);
  const bool has_data = !y_data.empty();

  Range x_range;
  std::vector<double> x_ticks;
  if (!chart.category_labels.empty()) {
    x_range = Range{-0.5, static_cast<double>(chart.category_labels.size()) - 0.5};
    for (std::size_t i = 0; i < chart.category_labels.size(); ++i) x_ticks.push_back(static_cast<double>(i));
  } else {
    x_ticks = nice_ticks(usable(x_data).low, usable(x_data).high, 6);
    x_range = Range{x_ticks.front(), x_ticks.back()};
  }
  Range y_range;
  std::vector<double> y_ticks;
  if (chart.y_range) {
    y_range = Range{chart.y_range->low, chart.y_range->high};
    y_ticks = nice_ticks(y_range.low, y_range.high, 5);
  } else {
    y_ticks = nice_ticks(usable(y_data).low, usable(y_data).high, 5);
    y_range = Range{y_ticks.front(), y_ticks.back()};
  }
  const Canvas canvas(chart, x_range, y_range);

  std::string out = "<svg class=\"chart\" width=\"" + std::to_string(chart.width) + "\" height=\"" +
                    std::to_string(chart.height) + "\" viewBox=\"0 0 " + std::to_string(chart.width) + " " +
                    std::to_string(chart.height) + "\" role=\"img\" font-family=\"sans-serif\">";
  out += "<title>" + html_escape(chart.title) + "</title>";
  out += "<rect x=\"0\" y=\"0\" width=\"" + std::to_string(chart.width) + "\" height=\"" +
         std::to_string(chart.height) + "\" fill=\"#ffffff\"/>";
  text(out, chart.width / 2.0, 20, chart.title, "middle", 14, " font-weight=\"bold\"");

  // Grid, ticks and tick labels.
  const int y_decimals = tick_decimals(y_ticks.size() > 1 ? y_ticks[1] - y_ticks[0] : 1.0);
  for (double tick : y_ticks) {
    if (tick < y_range.low - 1e-12 || tick > y_range.high + 1e-12) continue;
    const double y = canvas.py(tick);
    line(out, kLeft, y, canvas.plot_right(), y, kGridColor, 1);
    line(out, kLeft - 5, y, kLeft, y, kAxisColor, 1);
    text(out, kLeft - 8, y + 4, format_fixed(tick, y_decimals), "end", 11);
  }
  const int x_decimals = tick_decimals(x_ticks.size() > 1 ? x_ticks[1] - x_ticks[0] : 1.0);
  for (std::size_t i = 0; i < x_ticks.size(); ++i) {
    const double x = canvas.px(x_ticks[i]);
    line(out, x, canvas.plot_bottom(), x, canvas.plot_bottom() + 5, kAxisColor, 1);
    const std::string label =
        chart.category_labels.empty() ? format_fixed(x_ticks[i], x_decimals) : chart.category_labels[i];
    text(out, x, canvas.plot_bottom() + 18, label, "middle", 11);
  }
  // Axes and their labels.
  line(out, kLeft, kTop, kLeft, canvas.plot_bottom(), kAxisColor, 1);
  line(out, kLeft, canvas.plot_bottom(), canvas.plot_right(), canvas.plot_bottom(), kAxisColor, 1);
  text(out, (kLeft + canvas.plot_right()) / 2, canvas.plot_bottom() + 36, chart.x_label, "middle", 12);
  const double y_label_x = 16, y_label_y = (kTop + canvas.plot_bottom()) / 2;
  text(out, y_label_x, y_label_y, chart.y_label, "middle", 12,
       " transform=\"rotate(-90 " + number(y_label_x) + " " + number(y_label_y) + ")\"");

  if (!has_data) text(out, (kLeft + canvas.plot_right()) / 2, (kTop + canvas.plot_bottom()) / 2, "no data", "middle", 13);
  if (chart.y_reference) {
    const double y = canvas.py(*chart.y_reference);
    line(out, kLeft, y, canvas.plot_right(), y, kMarkerColor, 1, "6 4");
  }
  for (double marker : chart.x_markers) {
    const double x = canvas.px(marker);
    line(out, x, kTop, x, canvas.plot_bottom(), kMarkerColor, 1, "4 3");
  }

  // Series: error bars under lines under markers.
  for (const ChartSeries& series : chart.series) {
    for (std::size_t i = 0; i < series.x.size() && i < series.error_bars.size(); ++i) {
      if (!point_ok(series, i)) continue;
      const Interval& bar = series.error_bars[i];
      if (!std::isfinite(bar.low) || !std::isfinite(bar.high)) continue;
      const double x = canvas.px(series.x[i]);
      line(out, x, canvas.py(bar.low), x, canvas.py(bar.high), series.color, 1.5);
      // A cap marks the interval's end: none where the bar was cut at the plot's edge.
      if (canvas.y_visible(bar.low)) line(out, x - 5, canvas.py(bar.low), x + 5, canvas.py(bar.low), series.color, 1.5);
      if (canvas.y_visible(bar.high)) line(out, x - 5, canvas.py(bar.high), x + 5, canvas.py(bar.high), series.color, 1.5);
    }
    if (series.line) {
      std::string points;
      for (std::size_t i = 0; i < series.x.size(); ++i) {
        if (!point_ok(series, i)) continue;
        points += number(canvas.px(series.x[i])) + "," + number(canvas.py(series.y[i])) + " ";
      }
      if (!points.empty()) {
        out += "<polyline fill=\"none\" stroke=\"" + series.color + "\" stroke-width=\"2\" points=\"" + points +
               "\"/>";
      }
    }
    if (series.markers) {
      const std::string opacity =
          series.marker_opacity < 1.0 ? " fill-opacity=\"" + format_fixed(series.marker_opacity, 2) + "\"" : "";
      for (std::size_t i = 0; i < series.x.size(); ++i) {
        if (!point_ok(series, i)) continue;
        out += "<circle cx=\"" + number(canvas.px(series.x[i])) + "\" cy=\"" + number(canvas.py(series.y[i])) +
               "\" r=\"4\" fill=\"" + series.color + "\"" + opacity + "/>";
      }
    }
  }

  // Legend: one row under the x label.
  double legend_x = kLeft;
  const double legend_y = chart.height - 14.0;
  auto legend_entry = [&](const std::string& label, const std::string& color, bool dashed) {
    if (dashed) {
      line(out, legend_x, legend_y - 4, legend_x + 18, legend_y - 4, color, 1.5, "4 3");
    } else {
      out += "<rect x=\"" + number(legend_x) + "\" y=\"" + number(legend_y - 9) + "\" width=\"18\" height=\"10\" fill=\"" +
             color + "\"/>";
    }
    text(out, legend_x + 23, legend_y, label, "start", 11);
    legend_x += 23 + kCharWidth * static_cast<double>(label.size()) + 14;
  };
  out += "<g class=\"legend\">";
  for (const ChartSeries& series : chart.series) legend_entry(series.label, series.color, false);
  if (!chart.x_markers.empty() && !chart.x_marker_label.empty()) legend_entry(chart.x_marker_label, kMarkerColor, true);
  out += "</g></svg>";
  return out;
}

}  // namespace selm

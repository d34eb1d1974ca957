#include "selm/eval/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "selm/config/config.hpp"
#include "selm/eval/svg_chart.hpp"
#include "selm/run/initial_model_record.hpp"
#include "selm/run/json_fields.hpp"
#include "selm/run/pairing_counts.hpp"
#include "selm/run/run_paths.hpp"
#include "selm/run/run_state.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"

namespace selm {

namespace {

using json = nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Typed access to JSON fields (run/json_fields.hpp), with errors that name the file, line and key.

std::optional<Interval> optional_interval(const json& record, const std::string& key, const std::string& where) {
  const auto it = record.find(key);
  if (it == record.end() || it->is_null()) return std::nullopt;
  if (!it->is_array() || it->size() != 2 || !(*it)[0].is_number() || !(*it)[1].is_number()) {
    bad_key(where, key, "expected [low, high], got " + it->dump());
  }
  return Interval{(*it)[0].get<double>(), (*it)[1].get<double>()};
}

// "mean_score" with "mean_score_ci"; from the per-prompt `scores_key` array when the scalar is
// absent (an older or hand-made eval.json).
std::optional<ValueWithInterval> estimate_field(const json& record, const std::string& key,
                                                const std::string& scores_key, const std::string& where) {
  if (const auto value = optional_number(record, key, where)) {
    const auto interval = optional_interval(record, key + "_ci", where);
    return ValueWithInterval{*value, interval ? *interval : Interval{*value, *value}};
  }
  if (record.contains(key) || scores_key.empty()) return std::nullopt;  // explicit null: unscored
  const std::vector<double> scores = number_array(record, scores_key, where);
  if (scores.empty()) return std::nullopt;
  const MeanEstimate estimate = mean_estimate(scores);
  return ValueWithInterval{estimate.mean, estimate.interval};
}

// The evaluation fields shared by eval.json and a metrics.jsonl line.
void read_eval_fields(const json& record, const std::string& where, RoundSummary& round) {
  if (!record.is_object()) throw InputError(where + "expected a JSON object");
  round.evaluated = true;
  round.prompts = count_or_zero(record, "prompts", where);
  round.abstained = count_or_zero(record, "abstained", where);
  round.failed = count_or_zero(record, "failed", where);
  round.win_rate = win_rate(count_or_zero(record, "wins", where), count_or_zero(record, "ties", where),
                            count_or_zero(record, "losses", where));
  round.scores = number_array(record, "scores", where);
  round.baseline_scores = number_array(record, "baseline_scores", where);
  round.mean_score = estimate_field(record, "mean_score", "scores", where);
  round.baseline_mean_score = estimate_field(record, "baseline_mean_score", "baseline_scores", where);
  round.kl = estimate_field(record, "kl", "", where);
  round.mean_length = optional_number(record, "mean_length", where);
  round.baseline_mean_length = optional_number(record, "baseline_mean_length", where);
  if (const auto pairs = record.find("pairs"); pairs != record.end() && !pairs->is_null()) {
    round.pairs = count_or_zero(record, "pairs", where);
  }
  if (const auto examples = record.find("examples"); examples != record.end() && !examples->is_null()) {
    if (!examples->is_array()) bad_key(where, "examples", "expected an array");
    round.examples.clear();
    for (const json& example : *examples) {
      if (!example.is_object()) bad_key(where, "examples", "expected objects {prompt, response, baseline}");
      round.examples.push_back({optional_string(example, "prompt", where), optional_string(example, "response", where),
                                optional_string(example, "baseline", where)});
    }
  }
}

RoundSummary& round_entry(std::vector<RoundSummary>& rounds, std::int64_t number) {
  for (RoundSummary& round : rounds) {
    if (round.round == number) return round;
  }
  rounds.emplace_back();
  rounds.back().round = number;
  return rounds.back();
}

// ---------------------------------------------------------------------------------------------
// The files of a run directory.

void flatten_yaml(const YAML::Node& node, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (node.IsMap()) {
    for (const auto& entry : node) {
      const std::string key = entry.first.as<std::string>();
      flatten_yaml(entry.second, prefix.empty() ? key : prefix + "." + key, out);
    }
  } else if (node.IsScalar()) {
    out[prefix] = node.Scalar();
  } else if (node.IsNull()) {
    out[prefix] = "null";
  } else {
    YAML::Emitter emitter;
    emitter << YAML::Flow << node;
    out[prefix] = emitter.c_str();
  }
}

void read_config(const fs::path& file, RunSummary& run) {
  if (!fs::exists(file)) {
    throw InputError(location_prefix(file.string()) + "missing: not a run directory of selm train (no config.yaml)");
  }
  const Config config = load_config({file.string()}, {});
  run.name = config.run.name;
  run.seed = config.run.seed;
  run.loss = config.train.loss;
  run.alpha = config.train.alpha;
  run.beta = config.train.beta;
  flatten_yaml(YAML::Load(dump_config_yaml(config)), "", run.config_values);
}

void read_state(const fs::path& file, RunSummary& run) {
  if (!fs::exists(file)) return;
  const RunState state = read_run_state(file);
  run.completed_stages = state.completed;
  run.stage_seconds = state.stage_seconds;
  run.finished = state.finished;
}

void read_initial_model(const fs::path& file, RunSummary& run) {
  if (!fs::exists(file)) return;
  const InitialModelRecord record = read_initial_model_record(file);
  run.initial_model_path = record.path;
  run.initial_perplexity = record.perplexity;
}

std::vector<TrainStepMetrics> read_train_metrics(const fs::path& file, bool in_progress) {
  std::vector<TrainStepMetrics> steps;
  for (const auto& [line, record] : read_jsonl(file, /*tolerate_partial_tail=*/in_progress)) {
    const std::string where = location_prefix(file.string(), line);
    if (!record.is_object()) throw InputError(where + "expected a JSON object");
    if (!record.contains("step")) bad_key(where, "step", "missing");
    TrainStepMetrics step;
    step.step = count_or_zero(record, "step", where);
    step.loss = optional_number(record, "loss", where);
    step.accuracy = optional_number(record, "rewards/accuracies", where);
    step.margin = optional_number(record, "rewards/margins", where);
    steps.push_back(step);
  }
  return steps;
}

void read_round_dir(const RoundPaths& paths, RoundSummary& round, std::string& judge_id) {
  const fs::path eval_file = paths.eval();
  if (fs::exists(eval_file)) {
    const json record = read_json_file(eval_file);
    const std::string where = location_prefix(eval_file.string());
    read_eval_fields(record, where, round);
    if (const auto judge = record.find("judge"); judge != record.end() && judge->is_object() && judge_id.empty()) {
      judge_id = optional_string(*judge, "id", where);
    }
  }
  const fs::path in_progress = paths.train_metrics_in_progress();
  if (fs::exists(paths.train_metrics())) {
    round.train_steps = read_train_metrics(paths.train_metrics(), false);
  } else if (fs::exists(in_progress)) {  // training in progress
    round.train_steps = read_train_metrics(in_progress, true);
  }
  if (!round.pairs && fs::exists(paths.pairing())) round.pairs = read_pairing_counts(paths.pairing()).pairs;
}

// ---------------------------------------------------------------------------------------------
// Presentation.

std::string with_interval(const std::optional<ValueWithInterval>& estimate, int decimals) {
  if (!estimate) return "-";
  return format_fixed(estimate->value, decimals) + " [" + format_fixed(estimate->interval.low, decimals) + ", " +
         format_fixed(estimate->interval.high, decimals) + "]";
}

// Shortest natural text of a hyper-parameter: 0.001, 1e-07.
std::string general_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

std::string optional_fixed(const std::optional<double>& value, int decimals) {
  return value ? format_fixed(*value, decimals) : "-";
}

std::vector<const RoundSummary*> evaluated_rounds(const RunSummary& run) {
  std::vector<const RoundSummary*> rounds;
  for (const RoundSummary& round : run.rounds) {
    if (round.evaluated) rounds.push_back(&round);
  }
  return rounds;
}

ChartSeries series(const std::string& label, int color_index) {
  ChartSeries result;
  result.label = label;
  result.color = chart_palette()[static_cast<std::size_t>(color_index) % chart_palette().size()];
  return result;
}

void add_point(ChartSeries& series, double x, const std::optional<ValueWithInterval>& estimate) {
  if (!estimate) return;
  series.x.push_back(x);
  series.y.push_back(estimate->value);
  series.error_bars.push_back(estimate->interval);
}

void add_value(ChartSeries& series, double x, const std::optional<double>& value) {
  if (!value) return;
  series.x.push_back(x);
  series.y.push_back(*value);
}

// A chart whose categories are rounds; the caller adds them (and "init" where it has one).
Chart round_chart(const std::string& title, const std::string& y_label) {
  Chart chart;
  chart.title = title;
  chart.x_label = "round";
  chart.y_label = y_label;
  return chart;
}

std::string chart_win_rate(const RunSummary& run) {
  Chart chart = round_chart("Win rate vs the initial model", "win rate (ties half)");
  chart.y_range = Interval{0.0, 1.0};
  chart.y_reference = 0.5;
  ChartSeries rate = series("win rate, 95% Wilson interval", 0);
  for (const RoundSummary* round : evaluated_rounds(run)) {
    add_point(rate, static_cast<double>(chart.category_labels.size()),
              ValueWithInterval{round->win_rate.rate, round->win_rate.interval});
    chart.category_labels.push_back(std::to_string(round->round));
  }
  chart.series = {rate};
  return render_svg_chart(chart);
}

std::string chart_mean_reward(const RunSummary& run) {
  Chart chart = round_chart("Mean judge reward on held-out prompts", "mean reward");
  chart.category_labels = {"init"};
  ChartSeries initial = series("initial model", 1);
  ChartSeries policy = series("policy, 95% interval", 0);
  if (const RoundSummary* first = run.first_evaluated()) add_point(initial, 0.0, first->baseline_mean_score);
  for (const RoundSummary* round : evaluated_rounds(run)) {
    add_point(policy, static_cast<double>(chart.category_labels.size()), round->mean_score);
    chart.category_labels.push_back(std::to_string(round->round));
  }
  chart.series = {initial, policy};
  return render_svg_chart(chart);
}

// Loss, accuracy and margin over the steps of all rounds one after another.
std::vector<std::string> charts_training(const RunSummary& run) {
  struct Curve {
    const char* title;
    const char* y_label;
    std::optional<double> TrainStepMetrics::*field;
    int color;
  };
  const Curve curves[] = {{"Training loss", "loss", &TrainStepMetrics::loss, 0},
                          {"Preference accuracy", "rewards/accuracies", &TrainStepMetrics::accuracy, 1},
                          {"Reward margin", "rewards/margins", &TrainStepMetrics::margin, 2}};
  std::vector<std::string> charts;
  for (const Curve& curve : curves) {
    Chart chart;
    chart.title = curve.title;
    chart.x_label = "training step (rounds concatenated)";
    chart.y_label = curve.y_label;
    chart.x_marker_label = "round boundary";
    ChartSeries values = series(curve.y_label, curve.color);
    std::int64_t offset = 0;
    for (const RoundSummary& round : run.rounds) {
      if (round.train_steps.empty()) continue;
      if (offset > 0) chart.x_markers.push_back(static_cast<double>(offset));
      for (const TrainStepMetrics& step : round.train_steps) {
        add_value(values, static_cast<double>(offset + step.step), step.*curve.field);
      }
      offset += round.train_steps.back().step;
    }
    values.markers = values.x.size() < 3;  // a lone point needs a dot to be seen
    chart.series = {values};
    charts.push_back(render_svg_chart(chart));
  }
  return charts;
}

// A strip plot: each prompt's score as a faint dot (spread sideways so that they do not hide
// each other), with the mean and its interval on top.
std::string chart_reward_distribution(const RunSummary& run) {
  Chart chart = round_chart("Judge reward per held-out prompt", "reward");
  ChartSeries dots = series("reward per prompt", 3);
  dots.line = false;
  dots.marker_opacity = 0.35;
  ChartSeries means = series("mean, 95% interval", 7);
  means.line = false;
  auto add_column = [&](const std::vector<double>& scores, const std::string& label) {
    const double x = static_cast<double>(chart.category_labels.size());
    chart.category_labels.push_back(label);
    for (std::size_t i = 0; i < scores.size(); ++i) {
      const double golden = std::fmod(static_cast<double>(i) * 0.6180339887, 1.0);  // even, repeatable spread
      dots.x.push_back(x + (golden - 0.5) * 0.5);
      dots.y.push_back(scores[i]);
    }
    if (!scores.empty()) {
      const MeanEstimate estimate = mean_estimate(scores);
      add_point(means, x, ValueWithInterval{estimate.mean, estimate.interval});
    }
  };
  if (const RoundSummary* first = run.first_evaluated()) add_column(first->baseline_scores, "init");
  for (const RoundSummary* round : evaluated_rounds(run)) add_column(round->scores, std::to_string(round->round));
  chart.series = {dots, means};
  return render_svg_chart(chart);
}

std::string chart_length(const RunSummary& run) {
  Chart chart = round_chart("Mean response length", "tokens");
  ChartSeries policy = series("policy", 0);
  ChartSeries initial = series("initial model", 1);
  for (const RoundSummary* round : evaluated_rounds(run)) {
    const double x = static_cast<double>(chart.category_labels.size());
    chart.category_labels.push_back(std::to_string(round->round));
    add_value(policy, x, round->mean_length);
    add_value(initial, x, round->baseline_mean_length);
  }
  chart.series = {policy, initial};
  return render_svg_chart(chart);
}

std::string chart_kl(const RunSummary& run) {
  Chart chart = round_chart("KL(policy || round's reference)", "KL (nats)");
  ChartSeries kl = series("KL, 95% interval", 5);
  for (const RoundSummary* round : evaluated_rounds(run)) {
    add_point(kl, static_cast<double>(chart.category_labels.size()), round->kl);
    chart.category_labels.push_back(std::to_string(round->round));
  }
  chart.series = {kl};
  return render_svg_chart(chart);
}

}  // namespace

const RoundSummary* RunSummary::first_evaluated() const {
  for (const RoundSummary& round : rounds) {
    if (round.evaluated) return &round;
  }
  return nullptr;
}

RunSummary load_run_summary(const fs::path& run_dir) {
  if (!fs::is_directory(run_dir)) throw InputError(location_prefix(run_dir.string()) + "not a directory");
  RunSummary run;
  run.dir = run_dir;
  const RunPaths paths{run_dir};
  read_config(paths.config(), run);
  read_state(paths.state(), run);
  read_initial_model(paths.initial_model(), run);

  // metrics.jsonl first: eval.json, when present, then replaces the evaluation fields.
  const fs::path metrics_file = paths.metrics();
  if (fs::exists(metrics_file)) {
    for (const auto& [line, record] : read_jsonl(metrics_file)) {
      const std::string where = location_prefix(metrics_file.string(), line);
      if (!record.is_object() || !record.contains("round")) bad_key(where, "round", "missing");
      read_eval_fields(record, where, round_entry(run.rounds, count_or_zero(record, "round", where)));
    }
  }
  for (const auto& entry : fs::directory_iterator(run_dir)) {
    const std::optional<std::int64_t> number = round_of_dir_name(entry.path().filename().string());
    if (!entry.is_directory() || !number) continue;
    read_round_dir(RoundPaths{entry.path()}, round_entry(run.rounds, *number), run.judge_id);
  }
  std::sort(run.rounds.begin(), run.rounds.end(),
            [](const RoundSummary& a, const RoundSummary& b) { return a.round < b.round; });
  return run;
}

std::vector<std::vector<std::string>> summary_table_rows(const RunSummary& run) {
  std::vector<std::vector<std::string>> rows = {
      {"round", "win rate vs init [95% CI]", "mean reward [95% CI]", "KL [95% CI]", "mean length", "pairs"}};
  const RoundSummary* first = run.first_evaluated();
  rows.push_back({"init", "-", first ? with_interval(first->baseline_mean_score, 3) : "-", "-",
                  first ? optional_fixed(first->baseline_mean_length, 1) : "-", "-"});
  for (const RoundSummary& round : run.rounds) {
    const WinRate& rate = round.win_rate;
    rows.push_back({std::to_string(round.round),
                    round.evaluated ? with_interval(ValueWithInterval{rate.rate, rate.interval}, 3) : "-",
                    with_interval(round.mean_score, 3), with_interval(round.kl, 3),
                    optional_fixed(round.mean_length, 1), round.pairs ? std::to_string(*round.pairs) : "-"});
  }
  return rows;
}

std::string render_summary_table(const RunSummary& run) {
  const auto rows = summary_table_rows(run);
  std::vector<std::size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (c > 0) line += "  ";
      line += row[c] + std::string(widths[c] - row[c].size(), ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string render_report_html(const RunSummary& run) {
  std::string out = "<h1>selm report: " + html_escape(run.name) + "</h1>\n";
  const std::string status = run.finished ? "finished"
                             : run.completed_stages.empty()
                                 ? "not started"
                                 : "in progress (last completed stage: " + run.completed_stages.back() + ")";
  out += "<p class=\"meta\">run directory " + html_escape(run.dir.string()) + " &middot; loss " +
         html_escape(enum_name(run.loss)) + ", alpha " + general_number(run.alpha) + ", beta " + general_number(run.beta) +
         ", seed " + std::to_string(run.seed) + (run.judge_id.empty() ? "" : " &middot; judge " + html_escape(run.judge_id)) +
         " &middot; " + html_escape(status) + "</p>\n";

  out += "<h2>Initial model</h2><p>" +
         (run.initial_model_path.empty() ? std::string("path unknown") : html_escape(run.initial_model_path)) +
         " &middot; held-out perplexity: " +
         (run.initial_perplexity ? format_fixed(*run.initial_perplexity, 3) : std::string("not measured")) + "</p>\n";

  out += "<h2>Summary</h2>\n" + html_table(summary_table_rows(run)) +
         "<p class=\"meta\">Win rate: judged against the initial model's responses on the same held-out prompts, "
         "ties counted half, 95% Wilson interval. Means: 95% Student-t intervals.</p>\n";

  out += "<h2>Evaluation</h2>\n<div class=\"charts\">" + chart_win_rate(run) + chart_mean_reward(run) +
         chart_reward_distribution(run) + chart_length(run) + chart_kl(run) + "</div>\n";
  out += "<h2>Training</h2>\n<div class=\"charts\">";
  for (const std::string& chart : charts_training(run)) out += chart;
  out += "</div>\n";

  out += "<h2>Wall time per stage</h2>\n";
  if (run.stage_seconds.empty()) {
    out += "<p>No stage timings (state.json missing or empty).</p>\n";
  } else {
    double total = 0;
    for (const auto& entry : run.stage_seconds) total += entry.second;
    std::vector<std::vector<std::string>> rows = {{"stage", "seconds", "share"}};
    for (const auto& [stage, seconds] : run.stage_seconds) {
      rows.push_back({stage, format_fixed(seconds, 1), total > 0 ? format_fixed(100.0 * seconds / total, 1) + "%" : "-"});
    }
    rows.push_back({"total", format_fixed(total, 1), "100.0%"});
    out += html_table(rows) + "\n";
  }

  out += "<h2>Sample generations</h2>\n";
  bool any_example = false;
  for (const RoundSummary& round : run.rounds) {
    if (round.examples.empty()) continue;
    any_example = true;
    out += "<h3>Round " + std::to_string(round.round) + "</h3>\n";
    for (const SampleGeneration& example : round.examples) {
      out += "<div class=\"example\"><b>prompt</b><pre>" + html_escape(example.prompt) + "</pre><b>policy</b><pre>" +
             html_escape(example.response) + "</pre><b>initial model</b><pre>" + html_escape(example.baseline) +
             "</pre></div>\n";
    }
  }
  if (!any_example) out += "<p>No sample generations yet.</p>\n";
  return html_page("selm report: " + run.name, out);
}

}  // namespace selm

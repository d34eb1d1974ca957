// selm report: loading a hand-written run directory, the summary table's numbers (intervals
// computed by hand), the HTML page's content and safety, and bad files mapped to exit code 2.
#include <gtest/gtest.h>

#include <algorithm>

#include "selm/eval/report.hpp"
#include "selm/eval/svg_chart.hpp"
#include "selm/util/error.hpp"
#include "support/eval_run_fixture.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using test::read_text;
using test::run_selm;
using test::write_text;
namespace fs = std::filesystem;

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++count;
  return count;
}

TEST(EvalReport, LoadsEveryFileOfTheRunDirectory) {
  test::TempDir dir;
  test::write_sample_run(dir.path());
  const RunSummary run = load_run_summary(dir.path());

  EXPECT_EQ(run.name, "sample-run");
  EXPECT_EQ(enum_name(run.loss), "selm");
  EXPECT_DOUBLE_EQ(run.alpha, 0.001);
  EXPECT_EQ(run.seed, 7);
  EXPECT_EQ(run.config_values.at("train.seed"), "107");
  EXPECT_EQ(run.judge_id, "lexicon");
  EXPECT_EQ(run.initial_model_path, "models/init");
  ASSERT_TRUE(run.initial_perplexity.has_value());
  EXPECT_DOUBLE_EQ(*run.initial_perplexity, 12.345);
  EXPECT_FALSE(run.finished);
  ASSERT_EQ(run.completed_stages.size(), 5u);
  EXPECT_EQ(run.completed_stages.back(), "round-2/generate");
  // File order, not alphabetical order.
  ASSERT_EQ(run.stage_seconds.size(), 5u);
  EXPECT_EQ(run.stage_seconds[2].first, "round-1/train");
  EXPECT_DOUBLE_EQ(run.stage_seconds[2].second, 30.0);
  EXPECT_EQ(run.stage_seconds[3].first, "round-1/eval");

  ASSERT_EQ(run.rounds.size(), 3u);
  const RoundSummary& first = run.rounds[0];
  EXPECT_EQ(first.round, 1);
  EXPECT_TRUE(first.evaluated);
  EXPECT_EQ(first.win_rate.wins, 8);
  EXPECT_EQ(first.win_rate.losses, 2);
  // Wilson interval of 8 wins out of 10, by hand: centre (0.8 + z^2/20) / (1 + z^2/10) = 0.716738,
  // half width z / (1 + z^2/10) * sqrt(0.016 + z^2/400) = 0.226577.
  EXPECT_NEAR(first.win_rate.interval.low, 0.490162, 1e-5);
  EXPECT_NEAR(first.win_rate.interval.high, 0.943318, 1e-5);
  ASSERT_TRUE(first.mean_score.has_value());
  EXPECT_DOUBLE_EQ(first.mean_score->value, 0.35);
  EXPECT_DOUBLE_EQ(first.mean_score->interval.high, 0.45);
  EXPECT_EQ(first.scores.size(), 10u);
  EXPECT_EQ(first.pairs, 12);
  ASSERT_EQ(first.train_steps.size(), 4u);
  ASSERT_TRUE(first.train_steps[3].margin.has_value());
  EXPECT_DOUBLE_EQ(*first.train_steps[3].margin, 0.08);
  ASSERT_EQ(first.examples.size(), 1u);
  EXPECT_EQ(first.examples[0].prompt, "Tell me <b>news</b>");

  // Round 2 stores no mean_score: it comes from the scores (null skipped): mean 0.4, sd
  // sqrt(0.2 / 3) = 0.258199, half width t(0.975, 3) * sd / 2 = 3.182 * 0.129099 = 0.410794.
  const RoundSummary& second = run.rounds[1];
  EXPECT_EQ(second.scores.size(), 4u);
  ASSERT_TRUE(second.mean_score.has_value());
  EXPECT_NEAR(second.mean_score->value, 0.4, 1e-12);
  EXPECT_NEAR(second.mean_score->interval.low, 0.4 - 0.410794, 1e-5);
  EXPECT_NEAR(second.mean_score->interval.high, 0.4 + 0.410794, 1e-5);
  EXPECT_EQ(second.pairs, 9);

  // Round 3 is training: two complete metric lines, the cut-off third is ignored.
  const RoundSummary& third = run.rounds[2];
  EXPECT_FALSE(third.evaluated);
  EXPECT_EQ(third.train_steps.size(), 2u);
  EXPECT_EQ(third.pairs, 7);
  EXPECT_EQ(run.first_evaluated(), &run.rounds[0]);
}

TEST(EvalReport, SummaryTableNumbers) {
  test::TempDir dir;
  test::write_sample_run(dir.path());
  const RunSummary run = load_run_summary(dir.path());
  const std::vector<std::vector<std::string>> expected = {
      {"round", "win rate vs init [95% CI]", "mean reward [95% CI]", "KL [95% CI]", "mean length", "pairs"},
      {"init", "-", "0.100 [0.000, 0.200]", "-", "20.1", "-"},
      // 6 wins, 2 ties, 2 losses: p = 0.7 over n = 10, Wilson [0.39678, 0.89221].
      {"1", "0.800 [0.490, 0.943]", "0.350 [0.250, 0.450]", "0.500 [0.400, 0.600]", "23.5", "12"},
      {"2", "0.700 [0.397, 0.892]", "0.400 [-0.011, 0.811]", "0.900 [0.700, 1.100]", "25.0", "9"},
      {"3", "-", "-", "-", "-", "7"}};
  EXPECT_EQ(summary_table_rows(run), expected);

  // The text table: the same cells, columns separated by at least two spaces.
  const std::string table = render_summary_table(run);
  std::vector<std::vector<std::string>> parsed;
  std::size_t begin = 0;
  for (std::size_t end = table.find('\n'); end != std::string::npos; begin = end + 1, end = table.find('\n', begin)) {
    const std::string line = table.substr(begin, end - begin);
    std::vector<std::string> cells;
    std::size_t cell_begin = 0;
    for (std::size_t gap = line.find("  "); gap != std::string::npos; gap = line.find("  ", cell_begin)) {
      cells.push_back(line.substr(cell_begin, gap - cell_begin));
      cell_begin = line.find_first_not_of(' ', gap);
    }
    cells.push_back(line.substr(cell_begin));
    parsed.push_back(cells);
  }
  EXPECT_EQ(parsed, expected) << table;
}

TEST(EvalReport, HtmlIsSelfContainedWithEveryChart) {
  test::TempDir dir;
  test::write_sample_run(dir.path());
  const std::string html = render_report_html(load_run_summary(dir.path()));

  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(count_of(html, "<svg"), 8u);
  EXPECT_EQ(count_of(html, "</svg>"), 8u);
  for (const char* title : {"Win rate vs the initial model", "Mean judge reward on held-out prompts",
                            "Judge reward per held-out prompt", "Mean response length", "KL(policy || round&#39;s reference)",
                            "Training loss", "Preference accuracy", "Reward margin"}) {
    EXPECT_NE(html.find(std::string("<title>") + title + "</title>"), std::string::npos) << title;
  }
  // No network resources, no scripts: the page opens offline.
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  // The example's markup is shown as text, never run.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more"), std::string::npos);
  EXPECT_NE(html.find("Tell me &lt;b&gt;news&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(html.find("round two answer"), std::string::npos);
  // Perplexity, stage timings (total 61.5 s; train 30 s = 48.8%), the table and the markers.
  EXPECT_NE(html.find("held-out perplexity: 12.345"), std::string::npos);
  EXPECT_NE(html.find("<td>round-1/train</td><td>30.0</td><td>48.8%</td>"), std::string::npos);
  EXPECT_NE(html.find("<td>total</td><td>61.5</td>"), std::string::npos);
  EXPECT_NE(html.find("<td>0.700 [0.397, 0.892]</td>"), std::string::npos);
  EXPECT_NE(html.find("round boundary"), std::string::npos);
  // The first palette colours are drawn as strokes (lines, error bars).
  for (const std::string& color : {chart_palette()[0], chart_palette()[1], chart_palette()[2]}) {
    EXPECT_NE(html.find("stroke=\"" + color + "\""), std::string::npos) << color;
  }
}

TEST(EvalReport, ChartTicksAndEscaping) {
  EXPECT_EQ(nice_ticks(0.0, 1.0, 5), (std::vector<double>{0.0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  const std::vector<double> ticks = nice_ticks(-0.011, 0.811, 5);
  ASSERT_EQ(ticks.size(), 7u);  // -0.2, 0, 0.2, ..., 1.0
  EXPECT_EQ(ticks.front(), -0.2);
  EXPECT_EQ(ticks.back(), 1.0);
  const std::vector<double> steps = nice_ticks(0.0, 37.0, 6);
  EXPECT_EQ(steps, (std::vector<double>{0, 10, 20, 30, 40}));
  EXPECT_EQ(html_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
  EXPECT_EQ(format_fixed(0.39677, 3), "0.397");
  EXPECT_EQ(format_fixed(std::nan(""), 3), "-");

  Chart chart;
  chart.title = "t";
  chart.series.push_back({"s", "#123456", {1, 2}, {0.5, 0.25}, {{0.4, 0.6}, {0.2, 0.3}}});
  const std::string svg = render_svg_chart(chart);
  EXPECT_EQ(count_of(svg, "<circle"), 2u);
  EXPECT_EQ(count_of(svg, "stroke=\"#123456\""), 2u * 3u + 1u);  // 3 lines per error bar + the polyline

  // With a fixed range, an interval wider than the plot is cut at its edges and loses its caps.
  Chart rates;
  rates.y_range = Interval{0.0, 1.0};
  rates.series.push_back({"wide", "#654321", {1}, {0.7}, {{-0.5, 1.5}}, false});
  rates.series.push_back({"narrow", "#abcdef", {2}, {0.5}, {{0.2, 0.9}}, false});
  const std::string rate_svg = render_svg_chart(rates);
  EXPECT_EQ(count_of(rate_svg, "stroke=\"#654321\""), 1u);
  EXPECT_EQ(count_of(rate_svg, "stroke=\"#abcdef\""), 3u);
  // Plot area from y = 34 (top) to 320 - 76 = 244 (bottom): the cut bar spans exactly that.
  const std::size_t stroke = rate_svg.find("stroke=\"#654321\"");
  const std::string bar = rate_svg.substr(rate_svg.rfind("<line", stroke), stroke - rate_svg.rfind("<line", stroke));
  EXPECT_NE(bar.find("y1=\"244.0\""), std::string::npos) << bar;
  EXPECT_NE(bar.find("y2=\"34.0\""), std::string::npos) << bar;
}

TEST(EvalReport, CommandWritesReportAndPrintsTable) {
  test::TempDir dir;
  test::write_sample_run(dir / "run");
  const auto result = run_selm({"report", (dir / "run").string()});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("0.800 [0.490, 0.943]"), std::string::npos) << result.output;
  EXPECT_NE(read_text(dir / "run" / "report.html").find("<svg"), std::string::npos);

  const auto elsewhere = run_selm({"report", (dir / "run").string(), "--out", (dir / "out" / "r.html").string()});
  ASSERT_EQ(elsewhere.exit_code, 0) << elsewhere.output;
  EXPECT_TRUE(fs::exists(dir / "out" / "r.html"));
}

TEST(EvalReport, BadFilesExitWithCode2NamingTheFile) {
  test::TempDir dir;
  // No config.yaml: not a run directory.
  fs::create_directories(dir / "empty");
  auto result = run_selm({"report", (dir / "empty").string()});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find((dir / "empty" / "config.yaml").string()), std::string::npos) << result.output;

  // Broken JSON on line 3 of eval.json.
  test::write_sample_run(dir / "a");
  write_text(dir / "a" / "round-2" / "eval.json", "{\n  \"round\": 2,\n  \"wins\": 6,,\n}\n");
  result = run_selm({"report", (dir / "a").string()});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find((dir / "a" / "round-2" / "eval.json").string() + ":3:"), std::string::npos)
      << result.output;

  // Broken second line of metrics.jsonl.
  test::write_sample_run(dir / "b");
  write_text(dir / "b" / "metrics.jsonl", "{\"round\": 1, \"wins\": 1}\n{\"round\": 2,\n");
  result = run_selm({"report", (dir / "b").string()});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find((dir / "b" / "metrics.jsonl").string() + ":2:"), std::string::npos) << result.output;

  // A count that is not a number: the key is named.
  test::write_sample_run(dir / "c");
  write_text(dir / "c" / "round-1" / "eval.json", "{\"round\": 1, \"wins\": \"eight\"}");
  try {
    load_run_summary(dir / "c");
    FAIL() << "expected an InputError";
  } catch (const InputError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("round-1/eval.json"), std::string::npos) << message;
    EXPECT_NE(message.find("key 'wins'"), std::string::npos) << message;
  }

  // A truncated line of a finished round's train_metrics.jsonl is damage, not progress.
  test::write_sample_run(dir / "d");
  write_text(dir / "d" / "round-1" / "train_metrics.jsonl", "{\"step\": 1, \"loss\": 0.5}\n{\"step\": 2, \"lo");
  result = run_selm({"report", (dir / "d").string()});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find((dir / "d" / "round-1" / "train_metrics.jsonl").string() + ":2"), std::string::npos)
      << result.output;
}

}  // namespace
}  // namespace selm

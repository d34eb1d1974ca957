#include "selm/eval/compare.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

#include <nlohmann/json.hpp>

#include "selm/config/config.hpp"
#include "selm/eval/svg_chart.hpp"
#include "selm/judge/judge.hpp"
#include "selm/run/run_paths.hpp"
#include "selm/util/error.hpp"
#include "selm/util/files.hpp"
#include "selm/util/log.hpp"

namespace selm {

namespace {

using ConfigKey = std::map<std::string, std::string>;

// The config that makes a run's experiment: everything but seeds and naming.
ConfigKey experiment_key(const RunSummary& run) {
  ConfigKey key;
  for (const auto& [name, value] : run.config_values) {
    if (!is_seed_or_naming_key(name)) key.emplace(name, value);
  }
  return key;
}

// The experiment apart from the preference loss: SELM and its DPO baseline share it.
ConfigKey experiment_key_without_loss(const RunSummary& run) {
  ConfigKey key = experiment_key(run);
  key.erase("train.loss");
  key.erase("train.alpha");
  return key;
}

std::string interval_text(const MeanEstimate& estimate, int decimals) {
  if (estimate.count == 0) return "-";
  return format_fixed(estimate.mean, decimals) + " [" + format_fixed(estimate.interval.low, decimals) + ", " +
         format_fixed(estimate.interval.high, decimals) + "]";
}

std::string win_rate_text(const WinRate& rate) {
  if (rate.decided() == 0) return "-";
  return format_fixed(rate.rate, 3) + " [" + format_fixed(rate.interval.low, 3) + ", " +
         format_fixed(rate.interval.high, 3) + "]";
}

// Greedy eval responses of one round: prompt_index -> {prompt, response}.
struct EvalResponse {
  std::string prompt;
  std::string response;
};

std::map<std::int64_t, EvalResponse> read_eval_generations(const fs::path& file) {
  std::map<std::int64_t, EvalResponse> responses;
  for (const auto& [line, record] : read_jsonl(file)) {
    const std::string where = location_prefix(file.string(), line);
    for (const char* key : {"prompt_index", "prompt", "response"}) {
      if (!record.is_object() || !record.contains(key)) throw InputError(where + "key '" + key + "': missing");
    }
    if (!record["prompt_index"].is_number_integer()) throw InputError(where + "key 'prompt_index': expected an integer");
    if (!record["prompt"].is_string()) throw InputError(where + "key 'prompt': expected a string");
    if (!record["response"].is_string()) throw InputError(where + "key 'response': expected a string");
    // Several samples of one prompt: the first is the one compared.
    responses.emplace(record["prompt_index"].get<std::int64_t>(),
                      EvalResponse{record["prompt"].get<std::string>(), record["response"].get<std::string>()});
  }
  return responses;
}

fs::path eval_generations_file(const RunSummary& run, std::int64_t round) {
  return RunPaths{run.dir}.round(round).eval_generations();
}

// The last round whose eval generations exist in both runs; InputError naming the missing file
// of the later run's last round when there is none.
std::int64_t last_common_round(const RunSummary& selm_run, const RunSummary& dpo_run) {
  std::int64_t best = -1;
  for (const RoundSummary& round : selm_run.rounds) {
    if (fs::exists(eval_generations_file(selm_run, round.round)) &&
        fs::exists(eval_generations_file(dpo_run, round.round))) {
      best = std::max(best, round.round);
    }
  }
  if (best >= 0) return best;
  const RunSummary& lacking =
      selm_run.rounds.empty() || !fs::exists(eval_generations_file(selm_run, selm_run.rounds.back().round)) ? selm_run
                                                                                                               : dpo_run;
  const std::int64_t round = lacking.rounds.empty() ? 1 : lacking.rounds.back().round;
  throw InputError(location_prefix(eval_generations_file(lacking, round).string()) +
                   "missing: no round with eval generations in both " + selm_run.dir.string() + " and " +
                   dpo_run.dir.string());
}

HeadToHeadSeed judge_pair(const RunSummary& selm_run, const RunSummary& dpo_run, Judge& judge, std::int64_t batch_size) {
  HeadToHeadSeed result;
  result.seed = selm_run.seed;
  result.selm_run = selm_run.dir.string();
  result.dpo_run = dpo_run.dir.string();
  result.round = last_common_round(selm_run, dpo_run);
  const fs::path selm_file = eval_generations_file(selm_run, result.round);
  const fs::path dpo_file = eval_generations_file(dpo_run, result.round);
  const auto selm_responses = read_eval_generations(selm_file);
  const auto dpo_responses = read_eval_generations(dpo_file);

  std::vector<JudgeRequest> requests;
  for (const auto& [index, selm] : selm_responses) {
    const auto dpo = dpo_responses.find(index);
    if (dpo == dpo_responses.end()) continue;
    if (dpo->second.prompt != selm.prompt) {
      throw InputError(location_prefix(selm_file.string()) + "prompt_index " + std::to_string(index) +
                       " has a different prompt in " + dpo_file.string() + ": the runs used different eval prompts");
    }
    requests.push_back({std::to_string(index), selm.prompt, {selm.response, dpo->second.response}});
  }
  std::int64_t wins = 0, ties = 0, losses = 0;
  const std::size_t step = static_cast<std::size_t>(std::max<std::int64_t>(1, batch_size));
  for (std::size_t begin = 0; begin < requests.size(); begin += step) {
    const std::vector<JudgeRequest> batch(requests.begin() + static_cast<std::ptrdiff_t>(begin),
                                          requests.begin() + static_cast<std::ptrdiff_t>(std::min(requests.size(), begin + step)));
    for (const Judgment& judgment : judge.rank(batch)) {
      if (judgment.status == JudgmentStatus::abstained) {
        ++result.abstained;
      } else if (!judgment.is_ok() || judgment.ranks.size() != 2) {
        ++result.failed;
      } else if (judgment.ranks[0] < judgment.ranks[1]) {
        ++wins;
      } else if (judgment.ranks[0] == judgment.ranks[1]) {
        ++ties;
      } else {
        ++losses;
      }
    }
  }
  result.selm_win_rate = win_rate(wins, ties, losses);
  return result;
}

// One row per group and round (the initial model first).
std::vector<std::vector<std::string>> group_rows(const std::vector<RunGroup>& groups) {
  std::vector<std::vector<std::string>> rows = {
      {"group", "round", "seeds", "mean reward [95% CI]", "win rate vs init [95% CI]"}};
  for (const RunGroup& group : groups) {
    if (group.initial_mean_score) {
      const ValueWithInterval& initial = *group.initial_mean_score;
      rows.push_back({group.label, "init", std::to_string(group.runs.size()),
                      format_fixed(initial.value, 3) + " [" + format_fixed(initial.interval.low, 3) + ", " +
                          format_fixed(initial.interval.high, 3) + "]",
                      "-"});
    }
    for (const GroupRound& round : group.rounds) {
      rows.push_back({group.label, std::to_string(round.round), std::to_string(round.seeds),
                      interval_text(round.mean_score, 3), interval_text(round.win_rate, 3)});
    }
  }
  return rows;
}

std::vector<std::vector<std::string>> run_rows(const std::vector<RunSummary>& runs, const std::vector<RunGroup>& groups) {
  std::vector<std::vector<std::string>> rows = {{"run", "group", "seed", "rounds evaluated"}};
  for (const RunGroup& group : groups) {
    for (std::size_t index : group.runs) {
      const RunSummary& run = runs[index];
      std::int64_t evaluated = 0;
      for (const RoundSummary& round : run.rounds) evaluated += round.evaluated ? 1 : 0;
      rows.push_back({run.dir.string(), group.label, std::to_string(run.seed), std::to_string(evaluated)});
    }
  }
  return rows;
}

std::vector<std::vector<std::string>> head_to_head_rows(const std::vector<HeadToHead>& results) {
  std::vector<std::vector<std::string>> rows = {{"group", "seed", "round", "SELM wins", "ties", "DPO wins", "abstained",
                                                 "failed", "SELM win rate [95% CI]"}};
  auto row = [](const std::string& label, const std::string& seed, const std::string& round, const WinRate& rate,
                std::int64_t abstained, std::int64_t failed) {
    return std::vector<std::string>{label, seed, round, std::to_string(rate.wins), std::to_string(rate.ties),
                                    std::to_string(rate.losses), std::to_string(abstained), std::to_string(failed),
                                    win_rate_text(rate)};
  };
  for (const HeadToHead& result : results) {
    rows.push_back(row(result.label, "pooled", "final", result.pooled, result.abstained, result.failed));
    for (const HeadToHeadSeed& seed : result.seeds) {
      rows.push_back(row(result.label, std::to_string(seed.seed), std::to_string(seed.round), seed.selm_win_rate,
                         seed.abstained, seed.failed));
    }
  }
  return rows;
}

std::string markdown_table(const std::vector<std::vector<std::string>>& rows) {
  std::string out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    out += "|";
    for (const std::string& cell : rows[r]) out += " " + cell + " |";
    out += "\n";
    if (r == 0) {
      out += "|";
      for (std::size_t c = 0; c < rows[r].size(); ++c) out += c < 3 ? " --- |" : " ---: |";
      out += "\n";
    }
  }
  return out;
}

// Rounds of every group, the initial model first, as the categories of the charts.
std::vector<std::int64_t> all_rounds(const std::vector<RunGroup>& groups) {
  std::set<std::int64_t> rounds;
  for (const RunGroup& group : groups) {
    for (const GroupRound& round : group.rounds) rounds.insert(round.round);
  }
  return {rounds.begin(), rounds.end()};
}

std::string group_chart(const std::vector<RunGroup>& groups, bool win_rate_chart) {
  const std::vector<std::int64_t> rounds = all_rounds(groups);
  Chart chart;
  chart.title = win_rate_chart ? "Win rate vs the initial model, mean over seeds" : "Mean judge reward, mean over seeds";
  chart.x_label = "round";
  chart.y_label = win_rate_chart ? "win rate" : "mean reward";
  const std::size_t first_round = win_rate_chart ? 0 : 1;
  if (!win_rate_chart) chart.category_labels.push_back("init");
  for (std::int64_t round : rounds) chart.category_labels.push_back(std::to_string(round));
  if (win_rate_chart) {
    chart.y_range = Interval{0.0, 1.0};
    chart.y_reference = 0.5;
  }
  for (std::size_t g = 0; g < groups.size(); ++g) {
    ChartSeries series;
    series.label = groups[g].label + " (95% CI over seeds)";
    series.color = chart_palette()[g % chart_palette().size()];
    // Side by side within a round, so that the interval bars of the groups do not hide each other.
    const double shift = (static_cast<double>(g) - static_cast<double>(groups.size() - 1) / 2.0) * 0.08;
    if (!win_rate_chart && groups[g].initial_mean_score) {
      series.x.push_back(shift);
      series.y.push_back(groups[g].initial_mean_score->value);
      series.error_bars.push_back(groups[g].initial_mean_score->interval);
    }
    for (const GroupRound& round : groups[g].rounds) {
      const MeanEstimate& estimate = win_rate_chart ? round.win_rate : round.mean_score;
      if (estimate.count == 0) continue;
      const auto position = std::find(rounds.begin(), rounds.end(), round.round) - rounds.begin();
      series.x.push_back(static_cast<double>(first_round + static_cast<std::size_t>(position)) + shift);
      series.y.push_back(estimate.mean);
      series.error_bars.push_back(estimate.interval);
    }
    chart.series.push_back(series);
  }
  chart.width = 760;
  chart.height = 360;
  return render_svg_chart(chart);
}

}  // namespace

bool is_seed_or_naming_key(const std::string& key) { return per_run_keys().count(key) == 1; }

std::string method_label(PreferenceLossType loss, double alpha) {
  if (loss != PreferenceLossType::selm) return enum_name(loss);
  if (alpha == 0.0) return "selm alpha=0 (iterative DPO)";
  char text[64];
  std::snprintf(text, sizeof text, "selm alpha=%g", alpha);
  return text;
}

bool is_dpo_baseline(const RunSummary& run) {
  return run.loss == PreferenceLossType::dpo || (run.loss == PreferenceLossType::selm && run.alpha == 0.0);
}

std::vector<RunGroup> group_runs(const std::vector<RunSummary>& runs) {
  std::vector<RunGroup> groups;
  std::vector<ConfigKey> keys;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const ConfigKey key = experiment_key(runs[i]);
    auto found = std::find(keys.begin(), keys.end(), key);
    if (found == keys.end()) {
      keys.push_back(key);
      RunGroup group;
      group.loss = runs[i].loss;
      group.alpha = runs[i].alpha;
      group.label = method_label(group.loss, group.alpha);
      groups.push_back(group);
      found = keys.end() - 1;
    }
    RunGroup& group = groups[static_cast<std::size_t>(found - keys.begin())];
    group.runs.push_back(i);
    group.seeds.push_back(runs[i].seed);
  }

  // Groups that share a method label differ in some other key: name it in the label.
  std::vector<std::string> labels(groups.size());
  for (std::size_t g = 0; g < groups.size(); ++g) {
    std::vector<std::string> differing;
    for (std::size_t other = 0; other < groups.size(); ++other) {
      if (other == g || groups[other].label != groups[g].label) continue;
      for (const auto& [name, value] : keys[g]) {
        const auto it = keys[other].find(name);
        const std::string entry = name + "=" + value;
        if ((it == keys[other].end() || it->second != value) &&
            std::find(differing.begin(), differing.end(), entry) == differing.end()) {
          differing.push_back(entry);
        }
      }
    }
    labels[g] = groups[g].label;
    if (!differing.empty()) {
      labels[g] += " [";
      for (std::size_t d = 0; d < differing.size(); ++d) labels[g] += (d > 0 ? ", " : "") + differing[d];
      labels[g] += "]";
    }
  }

  for (std::size_t g = 0; g < groups.size(); ++g) {
    RunGroup& group = groups[g];
    group.label = labels[g];
    std::map<std::int64_t, std::pair<std::vector<double>, std::vector<double>>> per_round;  // scores, win rates
    std::map<std::int64_t, std::int64_t> seeds_per_round;
    std::vector<double> initial_scores;
    for (std::size_t index : group.runs) {
      const RunSummary& run = runs[index];
      if (const RoundSummary* first = run.first_evaluated(); first && first->baseline_mean_score) {
        initial_scores.push_back(first->baseline_mean_score->value);
      }
      for (const RoundSummary& round : run.rounds) {
        if (!round.evaluated) continue;
        ++seeds_per_round[round.round];
        auto& values = per_round[round.round];
        if (round.mean_score) values.first.push_back(round.mean_score->value);
        if (round.win_rate.decided() > 0) values.second.push_back(round.win_rate.rate);
      }
    }
    for (const auto& [round, values] : per_round) {
      MeanEstimate win_rate = mean_estimate(values.second);
      // The t interval of a few seeds' win rates can reach past the possible range.
      win_rate.interval.low = std::max(0.0, win_rate.interval.low);
      win_rate.interval.high = std::min(1.0, win_rate.interval.high);
      group.rounds.push_back({round, seeds_per_round[round], mean_estimate(values.first), win_rate});
    }
    if (!initial_scores.empty()) {
      const MeanEstimate initial = mean_estimate(initial_scores);
      group.initial_mean_score = ValueWithInterval{initial.mean, initial.interval};
    }
  }
  return groups;
}

std::vector<HeadToHead> head_to_head(const std::vector<RunSummary>& runs, const std::vector<RunGroup>& groups,
                                     Judge& judge, std::int64_t batch_size) {
  std::vector<HeadToHead> results;
  for (const RunGroup& group : groups) {
    if (group.loss != PreferenceLossType::selm || group.alpha <= 0.0) continue;
    HeadToHead result;
    result.label = group.label;
    std::int64_t wins = 0, ties = 0, losses = 0;
    for (std::size_t index : group.runs) {
      const RunSummary& selm_run = runs[index];
      const ConfigKey key = experiment_key_without_loss(selm_run);
      const RunSummary* dpo_run = nullptr;
      for (const RunSummary& candidate : runs) {
        if (is_dpo_baseline(candidate) && candidate.seed == selm_run.seed && experiment_key_without_loss(candidate) == key) {
          dpo_run = &candidate;
          break;
        }
      }
      if (dpo_run == nullptr) {
        log::warn("compare: no alpha=0 run with seed " + std::to_string(selm_run.seed) + " for " +
                  selm_run.dir.string() + "; left out of the head-to-head");
        continue;
      }
      HeadToHeadSeed seed = judge_pair(selm_run, *dpo_run, judge, batch_size);
      wins += seed.selm_win_rate.wins;
      ties += seed.selm_win_rate.ties;
      losses += seed.selm_win_rate.losses;
      result.abstained += seed.abstained;
      result.failed += seed.failed;
      result.seeds.push_back(seed);
    }
    if (result.seeds.empty()) continue;
    result.pooled = win_rate(wins, ties, losses);
    results.push_back(result);
  }
  return results;
}

std::string render_compare_markdown(const std::vector<RunSummary>& runs, const std::vector<RunGroup>& groups,
                                    const std::vector<HeadToHead>& head_to_head) {
  std::string out = "# selm compare\n\n" + std::to_string(runs.size()) + " runs in " + std::to_string(groups.size()) +
                    " groups (same config apart from seeds and names). Intervals: 95% Student-t over seeds.\n\n";
  out += markdown_table(group_rows(groups)) + "\n## Runs\n\n" + markdown_table(run_rows(runs, groups));
  if (!head_to_head.empty()) {
    out += "\n## Head-to-head: SELM vs iterative DPO (alpha = 0), same seed, last common round\n\n"
           "Ties count half; 95% Wilson interval; abstained and failed judgments are counted, not verdicts.\n\n" +
           markdown_table(head_to_head_rows(head_to_head));
  }
  return out;
}

std::string render_compare_html(const std::vector<RunSummary>& runs, const std::vector<RunGroup>& groups,
                                const std::vector<HeadToHead>& head_to_head) {
  std::string body = "<h1>selm compare</h1>\n<p class=\"meta\">" + std::to_string(runs.size()) + " runs in " +
                     std::to_string(groups.size()) +
                     " groups (same config apart from seeds and names). Intervals: 95% Student-t over seeds.</p>\n";
  body += "<div class=\"charts\">" + group_chart(groups, false) + group_chart(groups, true) + "</div>\n";
  body += "<h2>Per group and round</h2>\n" + html_table(group_rows(groups));
  body += "<h2>Runs</h2>\n" + html_table(run_rows(runs, groups));
  if (!head_to_head.empty()) {
    body += "<h2>Head-to-head: SELM vs iterative DPO (alpha = 0)</h2>\n<p class=\"meta\">Same seed, last common "
            "round; ties count half; 95% Wilson interval; abstained and failed judgments are counted, not "
            "verdicts.</p>\n" +
            html_table(head_to_head_rows(head_to_head));
  }
  return html_page("selm compare", body);
}

}  // namespace selm

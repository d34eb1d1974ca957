// The c10d collectives behind Communicator, over Gloo between threads of this process, and the
// data-parallel pieces built on them: sharded JSONL merging and the gradient all-reduce.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "selm/parallel/communicator.hpp"
#include "selm/parallel/parallel_context.hpp"
#include "selm/parallel/sharded_jsonl.hpp"
#include "selm/train/gradient_reducer.hpp"
#include "selm/util/files.hpp"
#include "support/test_support.hpp"

namespace selm {
namespace SELM_UNITY_ID {

using test::read_text;
using test::TempDir;
using test::write_text;

// Runs `body(rank context)` on one thread per rank of a fresh Gloo group; rethrows the first error.
void on_ranks(int world_size, const std::function<void(const ParallelContext&)>& body,
              std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  const auto group = local_gloo_group(world_size, timeout);
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(world_size));
  std::vector<std::thread> threads;
  for (int rank = 0; rank < world_size; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        body(parallel_context_of(group[static_cast<std::size_t>(rank)]));
      } catch (...) {
        errors[static_cast<std::size_t>(rank)] = std::current_exception();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

TEST(ParallelCommunicator, CollectivesOfThreeRanks) {
  std::vector<std::vector<double>> sums(3), gathered(3), scattered(3);
  std::vector<std::string> broadcast(3);
  std::vector<std::vector<std::string>> strings(3);
  on_ranks(3, [&](const ParallelContext& parallel) {
    const int rank = parallel.rank;
    const auto r = static_cast<std::size_t>(rank);
    Communicator& communicator = *parallel.communicator;
    EXPECT_EQ(communicator.backend(), "gloo");
    sums[r] = parallel.sum({1.0 * rank, 10.0 + rank}, "test sum");
    broadcast[r] = communicator.broadcast_string(rank == 1 ? "from one" : "", 1, "test broadcast");
    strings[r] = communicator.all_gather_strings(std::string(static_cast<std::size_t>(rank), 'x'), "test gather");
    at::Tensor input = torch::full({2}, static_cast<double>(rank + 1), torch::kFloat64);
    at::Tensor output = torch::zeros({6}, torch::kFloat64);
    communicator.all_gather(output, input, "test all-gather");
    gathered[r] = std::vector<double>(output.data_ptr<double>(), output.data_ptr<double>() + 6);
    // Rank k contributes k+1 at every position: each rank's slice sums to 1+2+3 = 6 times its index.
    at::Tensor contributions = torch::arange(6, torch::kFloat64) * (rank + 1);
    at::Tensor slice = torch::zeros({2}, torch::kFloat64);
    communicator.reduce_scatter_sum(slice, contributions, "test reduce-scatter");
    scattered[r] = std::vector<double>(slice.data_ptr<double>(), slice.data_ptr<double>() + 2);
    parallel.barrier("test barrier");
  });
  for (std::size_t r = 0; r < 3; ++r) {
    EXPECT_EQ(sums[r], (std::vector<double>{3.0, 33.0}));
    EXPECT_EQ(broadcast[r], "from one");
    EXPECT_EQ(strings[r], (std::vector<std::string>{"", "x", "xx"}));
    EXPECT_EQ(gathered[r], (std::vector<double>{1, 1, 2, 2, 3, 3}));
    EXPECT_EQ(scattered[r], (std::vector<double>{6.0 * (2 * r), 6.0 * (2 * r + 1)}));
  }
}

TEST(ParallelCommunicator, AMissingRankEndsTheCollectiveWithAnErrorNamingRankAndStage) {
  const auto start = std::chrono::steady_clock::now();
  std::string message;
  try {
    on_ranks(
        2,
        [](const ParallelContext& parallel) {
          if (parallel.rank == 0) parallel.barrier("stage round-1/judge");
          // rank 1 never comes
        },
        std::chrono::milliseconds(1500));
  } catch (const CollectiveError& error) {
    message = error.what();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(message.find("rank 0/2, stage round-1/judge: barrier failed"), std::string::npos) << message;
  EXPECT_LT(seconds, 15.0);
}

TEST(ParallelShardedJsonl, MergesShardsInPositionOrderOnce) {
  TempDir dir;
  const fs::path file = dir / "out.jsonl";
  const RecordPosition position = [](const nlohmann::json& record) -> std::optional<std::int64_t> {
    const std::int64_t at = record.value("i", std::int64_t{-1});
    if (at < 0) return std::nullopt;
    return at;
  };
  // An earlier start left the file, two shards of a 2-rank job (one cut off mid-record, one
  // repeating a record the file holds), and a stale record without a position.
  write_text(file, "{\"i\":0,\"v\":\"a\"}\n");
  write_text(shard_path(file, 0), "{\"i\":2, \"v\":\"c\"}\n{\"i\":0,\"v\":\"a\"}\n{\"i\":4,");
  write_text(shard_path(file, 1), "{\"i\":1,\"v\":\"b\"}\n{\"v\":\"stale\"}\n{\"i\":3,\"v\":\"d\"}\n");
  merge_shards(file, position, ParallelContext{}, "test merge");
  EXPECT_EQ(read_text(file), "{\"i\":0,\"v\":\"a\"}\n{\"i\":1,\"v\":\"b\"}\n{\"i\":2, \"v\":\"c\"}\n{\"i\":3,\"v\":\"d\"}\n");
  EXPECT_FALSE(fs::exists(shard_path(file, 0)));
  EXPECT_FALSE(fs::exists(shard_path(file, 1)));
  // Nothing to merge: the file is left as it is.
  const auto before = fs::last_write_time(file);
  merge_shards(file, position, ParallelContext{}, "test merge");
  EXPECT_EQ(fs::last_write_time(file), before);
  // A malformed complete line names the shard and its line.
  write_text(shard_path(file, 3), "{\"i\":7}\nnot json\n");
  EXPECT_NE(test::input_error_of([&] { merge_shards(file, position, ParallelContext{}, "test merge"); })
                .find("out.jsonl.shard-3:2"),
            std::string::npos);
}

TEST(ParallelShardedJsonl, RanksWriteTheirShardsAndRankZeroMerges) {
  TempDir dir;
  const fs::path file = dir / "out.jsonl";
  const RecordPosition position = [](const nlohmann::json& record) -> std::optional<std::int64_t> {
    return record.at("i").get<std::int64_t>();
  };
  on_ranks(2, [&](const ParallelContext& parallel) {
    EXPECT_EQ(rank_output_path(file, parallel), shard_path(file, parallel.rank));
    {
      JsonlWriter writer(rank_output_path(file, parallel));
      for (int i = 0; i < 6; ++i) {
        if (parallel.owns(i)) writer.write({{"i", i}});
      }
    }
    merge_shards(file, position, parallel, "test merge");
    // After the merge every rank reads the whole file.
    EXPECT_EQ(read_text(file), "{\"i\":0}\n{\"i\":1}\n{\"i\":2}\n{\"i\":3}\n{\"i\":4}\n{\"i\":5}\n");
  });
}

TEST(ParallelGradientReducer, SumsGradientsInBucketsAndTreatsMissingGradientsAsZero) {
  std::vector<std::vector<torch::Tensor>> results(2);
  on_ranks(2, [&](const ParallelContext& parallel) {
    std::vector<torch::Tensor> parameters{torch::zeros({3, 4}, torch::requires_grad()),
                                          torch::zeros({5}, torch::requires_grad()),
                                          torch::zeros({2, 2}, torch::requires_grad())};
    // Rank 0 has gradients for all; rank 1 took no backward pass for the second parameter.
    for (std::size_t k = 0; k < parameters.size(); ++k) {
      if (parallel.rank == 1 && k == 1) continue;
      parameters[k].mutable_grad() = torch::full_like(parameters[k], static_cast<double>(1 + parallel.rank + 10 * k));
    }
    GradientReducer reducer(parameters, parallel, "test gradients", /*bucket_bytes=*/32);  // one parameter each
    EXPECT_EQ(reducer.bucket_count(), 3u);
    reducer.all_reduce();
    for (const auto& parameter : parameters) results[static_cast<std::size_t>(parallel.rank)].push_back(parameter.grad());
  });
  for (const auto& grads : results) {
    EXPECT_TRUE(torch::equal(grads[0], torch::full({3, 4}, 3.0)));   // 1 + 2
    EXPECT_TRUE(torch::equal(grads[1], torch::full({5}, 11.0)));     // 11 + nothing
    EXPECT_TRUE(torch::equal(grads[2], torch::full({2, 2}, 43.0)));  // 21 + 22
  }
}

TEST(ParallelGradientReducer, BucketsStartDuringBackwardAndAddWhatEarlierMicroBatchesAccumulated) {
  std::vector<std::vector<torch::Tensor>> results(2);
  std::vector<std::size_t> started(2);
  on_ranks(2, [&](const ParallelContext& parallel) {
    const double r = parallel.rank + 1.0;
    std::vector<torch::Tensor> parameters{torch::ones({4}, torch::requires_grad()),
                                          torch::ones({4}, torch::requires_grad())};
    // An earlier micro-batch: gradients r and 2r.
    ((parameters[0] * r).sum() + (parameters[1] * 2 * r).sum()).backward();
    GradientReducer reducer(parameters, parallel, "test gradients", /*bucket_bytes=*/16);  // one parameter each
    reducer.watch_backward();
    // The last one, a chain so that the second parameter's gradient comes first: 10r and 20r more.
    const torch::Tensor hidden = (parameters[0] * 10 * r).sum();
    (hidden * parameters[1] * 2).sum().backward();
    reducer.stop_watching();
    reducer.all_reduce();
    started[static_cast<std::size_t>(parallel.rank)] = reducer.buckets_started_in_backward();
    for (const auto& parameter : parameters) results[static_cast<std::size_t>(parallel.rank)].push_back(parameter.grad());
  });
  // d/dp0 of 2 * hidden * sum(p1) = 2 * 10r * 4 = 80r; d/dp1 = 2 * hidden = 2 * 40r = 80r. Over
  // the ranks (r = 1, 2), with the earlier micro-batch: p0 sums 3 + 240, p1 sums 6 + 240.
  for (const auto& grads : results) {
    EXPECT_TRUE(torch::allclose(grads[0], torch::full({4}, 243.0))) << grads[0];
    EXPECT_TRUE(torch::allclose(grads[1], torch::full({4}, 246.0))) << grads[1];
  }
  EXPECT_GE(started[0], 1u);
}

}  // namespace SELM_UNITY_ID
}  // namespace selm

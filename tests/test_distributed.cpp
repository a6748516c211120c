// Data parallel training (docs/distributed.md) on CPUs through c10d's Gloo: torchrun's variables, the
// rows each rank takes, 2 ranks equal to 1 rank with twice the gradient accumulation (LoRA and full
// finetuning, through `lathe launch` and torchrun), a rank killed with -9, a rank that cannot connect.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "core/io/tensor_io.h"
#include "core/runs/run_store.h"
#include "core/train/distributed_env.h"
#include "core/util/error.h"
#include "tests/child_process.h"
#include "tests/fixtures.h"
#include "tests/free_port.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

DistributedEnv env_of(const std::map<std::string, std::string>& vars) {
    return read_distributed_env([&](const char* name) -> const char* {
        auto it = vars.find(name);
        return it == vars.end() ? nullptr : it->second.c_str();
    });
}

std::string env_error(const std::map<std::string, std::string>& vars) {
    try {
        env_of(vars);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(DistributedEnv, ReadsTorchrunsVariables) {
    EXPECT_FALSE(env_of({}).distributed());
    EXPECT_FALSE(env_of({{"WORLD_SIZE", "1"}, {"RANK", "0"}}).distributed());
    DistributedEnv e = env_of({{"RANK", "5"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "4"}, {"MASTER_ADDR", "node0"},
                               {"MASTER_PORT", "29400"}, {"TORCHELASTIC_RUN_ID", "job7"}, {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                               {"TORCHELASTIC_RESTART_COUNT", "2"}});
    EXPECT_TRUE(e.distributed());
    EXPECT_EQ(e.rank, 5);
    EXPECT_EQ(e.world_size, 8);
    EXPECT_EQ(e.local_rank, 1);
    EXPECT_EQ(e.local_world_size, 4);
    EXPECT_EQ(e.address(), "node0:29400");
    EXPECT_EQ(e.run_id, "job7");
    EXPECT_EQ(e.restart_count, 2);
    EXPECT_TRUE(e.agent_store);
}

TEST(DistributedEnv, BadVariablesAreNamed) {
    EXPECT_NE(env_error({{"WORLD_SIZE", "two"}}).find("WORLD_SIZE='two'"), std::string::npos);
    EXPECT_NE(env_error({{"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}).find("RANK is not set"), std::string::npos);
    EXPECT_NE(env_error({{"WORLD_SIZE", "2"}, {"RANK", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}).find("RANK=2 is not below WORLD_SIZE=2"),
              std::string::npos);
    EXPECT_NE(env_error({{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_PORT", "1"}}).find("MASTER_ADDR is not set"), std::string::npos);
    EXPECT_NE(env_error({{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_ADDR", "h"}}).find("MASTER_PORT"), std::string::npos);
}

// Every unit of an epoch goes to exactly one rank, the same micro-batches one process with
// accumulation x world_size makes, whatever is left over at the end.
TEST(DistributedEnv, RanksShareEachStepsRowsAsOneProcessWithMoreAccumulation) {
    for (size_t units : {8u, 11u, 1u}) {
        for (int world : {1, 2, 3}) {
            std::set<std::pair<size_t, size_t>> single, ranks;
            const int64_t steps = static_cast<int64_t>((units + 2 * 2 * world - 1) / (2 * 2 * world));
            size_t covered = 0;
            for (int64_t s = 0; s < steps; ++s) {
                for (UnitRange u : micro_batches_of_rank(units, s, 2, 2 * world, 0, 1)) single.insert({u.first, u.count});
                for (int r = 0; r < world; ++r)
                    for (UnitRange u : micro_batches_of_rank(units, s, 2, 2, r, world)) {
                        ranks.insert({u.first, u.count});
                        covered += u.count;
                    }
            }
            EXPECT_EQ(ranks, single) << units << " units, " << world << " ranks";
            EXPECT_EQ(covered, units);
        }
    }
}

using test::free_port;

struct DpDir {
    test::TempDir dir;
    std::string store(const std::string& name) const { return dir.str() + "/" + name + ".db"; }
    std::string config(const std::string& name, const std::string& extra) const {
        const std::string fixture = test::fixtures() + "/hf/training/llama";
        std::ofstream(dir.path / (name + ".yaml")) << "base_model: " << test::hf_model("llama") << "\ndatasets:\n  - path: " << fixture
                                                   << "/train.jsonl\n    type: pretokenized\noutput_dir: " << dir.str() << "/" << name
                                                   << "\ndataset_prepared_path: " << dir.str() << "/prepared-" << name
                                                   << "\ndevice: cpu\nsequence_len: 64\nlearning_rate: 0.005\nseed: 3\n" << extra;
        return (dir.path / (name + ".yaml")).string();
    }
};

std::vector<double> losses_of(const std::vector<json>& events) {
    std::vector<double> out;
    for (const auto& e : events)
        if (e.value("event", "") == "step") out.push_back(e.at("loss").get<double>());
    return out;
}

std::string last_checkpoint(const std::vector<json>& events) {
    std::string path;
    for (const auto& e : events)
        if (e.value("event", "") == "checkpoint") path = e.at("path");
    return path;
}

// One rank with accumulation 2 against two ranks without, launched by `launcher`: step losses within
// 1e-5, every saved tensor within 5e-5, and only rank 0 recorded the run.
// `one_launcher` runs the reference (just the CLI for one process), `launcher` the run compared with it.
void expect_same_training(const std::vector<std::string>& one_launcher, const std::string& one_settings, const std::vector<std::string>& launcher,
                          const std::string& two_settings, const std::string& weights_file) {
    DpDir d;
    int code = -1;
    std::vector<std::string> one_args = one_launcher;
    for (const std::string& a : std::vector<std::string>{"train", d.config("one", one_settings), "--store", d.store("one")}) one_args.push_back(a);
    auto one = test::run_to_end(one_args, &code);
    ASSERT_EQ(code, 0);
    std::vector<std::string> args = launcher;
    for (const std::string& a : std::vector<std::string>{"train", d.config("two", two_settings), "--store", d.store("two")}) args.push_back(a);
    auto two = test::run_to_end(args, &code);
    ASSERT_EQ(code, 0);
    auto a = losses_of(one), b = losses_of(two);
    ASSERT_EQ(a.size(), b.size());
    ASSERT_FALSE(a.empty());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5) << "step " << i + 1;
    EXPECT_EQ(two.back().value("status", ""), "completed");
    // Rank 0's step events carry each rank's memory (here the CPU ranks' resident memory).
    for (const auto& e : two)
        if (e.value("event", "") == "step") {
            ASSERT_TRUE(e.contains("rank_mem_gib")) << e.dump();
            ASSERT_EQ(e.at("rank_mem_gib").size(), 2u);
            for (const auto& gib : e.at("rank_mem_gib")) EXPECT_GT(gib.get<double>(), 0.0);
        }

    auto saved_one = load_safetensors(last_checkpoint(one) + "/" + weights_file);
    auto saved_two = load_safetensors(last_checkpoint(two) + "/" + weights_file);
    ASSERT_EQ(saved_one.size(), saved_two.size());
    for (const auto& [name, t] : saved_one) {
        ASSERT_TRUE(saved_two.count(name)) << name;
        // 5e-5, not 1e-5: the fused output-layer loss (kernels/linear_cross_entropy.h) sums each rank's rows
        // in its own chunks, so the lm_head gradient is rounded in another order than with accumulation,
        // and AdamW's division by sqrt(v) carries float32 rounding of near-zero gradients into the weights.
        EXPECT_LE(test::max_abs_diff(t, saved_two.at(name)), 5e-5) << name;
    }
    // The optimizer state, which the two ranks kept half each (ZeRO-1), gathered whole into the checkpoint.
    auto moments_one = load_safetensors(last_checkpoint(one) + "/optimizer.safetensors");
    auto moments_two = load_safetensors(last_checkpoint(two) + "/optimizer.safetensors");
    ASSERT_EQ(moments_one.size(), moments_two.size());
    ASSERT_FALSE(moments_one.empty());
    for (const auto& [name, t] : moments_one) {
        ASSERT_TRUE(moments_two.count(name)) << name;
        EXPECT_LE(test::max_abs_diff(t, moments_two.at(name)), 1e-5) << name;
    }
    // Rank 0 alone wrote: one run in the store, one set of checkpoints.
    auto store = RunStore::open(d.store("two"));
    ASSERT_EQ(store->list_runs().size(), 1u);
    EXPECT_EQ(store->list_runs()[0].status, RunStatus::completed);
    EXPECT_EQ(store->metrics(store->list_runs()[0].id, "loss").size(), b.size());
}

void expect_two_ranks_equal_accumulation(const std::string& settings, const std::string& weights_file,
                                         const std::vector<std::string>& launcher) {
    expect_same_training({LATHE_CLI}, settings + "gradient_accumulation_steps: 2\n", launcher, settings, weights_file);
}

std::vector<std::string> lathe_launch(int nproc) {
    return {LATHE_CLI, "launch", "--nproc-per-node", std::to_string(nproc), "--master-port", std::to_string(free_port()), "--"};
}

const std::string kLoraModel = "adapter: lora\nlora_r: 4\nlora_alpha: 8\nlora_target_linear: true\n";
const std::string kLora = kLoraModel + "micro_batch_size: 2\nnum_epochs: 2\n";

TEST(DataParallel, LoraTwoRanksEqualOneRankWithAccumulation) {
    expect_two_ranks_equal_accumulation(kLora, "adapter_model.safetensors", lathe_launch(2));
}

// Micro-batches of 3 over 8 rows: the second step's 2 rows all go to rank 0, and rank 1 only joins the
// all-reduce.
TEST(DataParallel, LoraWithARankLeftWithoutRowsAtTheEpochsEnd) {
    expect_two_ranks_equal_accumulation(kLoraModel + "micro_batch_size: 3\nnum_epochs: 2\n", "adapter_model.safetensors", lathe_launch(2));
}

TEST(DataParallel, FullFinetuningTwoRanksEqualOneRankWithAccumulation) {
    expect_two_ranks_equal_accumulation("micro_batch_size: 2\nnum_epochs: 2\nweight_decay: 0.01\n", "model.safetensors", lathe_launch(2));
}

// Buckets of 2 KiB (most tensors in one of their own), so that many collectives go out while backward
// runs; with gradient checkpointing each layer's adapter gradients arrive from its recomputation, and
// with accumulation only the last micro-batch's backward communicates.
TEST(DataParallel, OverlappedBucketsWithCheckpointingAndAccumulation) {
    const std::string settings = kLoraModel + "micro_batch_size: 1\nnum_epochs: 2\ngradient_checkpointing: true\nddp_bucket_cap_mb: 0.002\n";
    expect_same_training({LATHE_CLI}, settings + "gradient_accumulation_steps: 4\n", lathe_launch(2), settings + "gradient_accumulation_steps: 2\n",
                         "adapter_model.safetensors");
}

// ZeRO-2: each bucket reduce-scattered, each rank keeps the gradients of the tensors it updates; the same
// losses, weights and (gathered) optimizer state as one process with twice the accumulation.
TEST(DataParallel, FullFinetuningZero2EqualsOneRankWithAccumulation) {
    expect_two_ranks_equal_accumulation("micro_batch_size: 2\nnum_epochs: 2\nweight_decay: 0.01\nzero_stage: 2\nddp_bucket_cap_mb: 0.05\n",
                                        "model.safetensors", lathe_launch(2));
}

TEST(DataParallel, Zero2EqualsZero1) {
    const std::string settings = "micro_batch_size: 2\nnum_epochs: 2\nweight_decay: 0.01\nddp_bucket_cap_mb: 0.05\n";
    expect_same_training(lathe_launch(2), settings + "zero_stage: 1\n", lathe_launch(2), settings + "zero_stage: 2\n", "model.safetensors");
}

TEST(DataParallel, TorchrunLaunchesIt) {
    if (!fs::exists(LATHE_TORCHRUN)) GTEST_SKIP() << "no torchrun beside this LibTorch (" << LATHE_TORCHRUN << "): a LibTorch zip, not a wheel";
    expect_two_ranks_equal_accumulation(kLora, "adapter_model.safetensors",
                                        {LATHE_TORCHRUN, "--no-python", "--nproc-per-node", "2", "--master-port", std::to_string(free_port()), LATHE_CLI});
}

// Preference tuning (rl: dpo, LoRA) on two ranks: the pairs sharded by rank, the loss and TRL's metrics
// averaged over every rank's micro-batches (as transformers' Trainer averages under DDP), so each step equals
// one rank's with twice the accumulation. Seven pairs: the last step of each epoch leaves rank 1 without any.
TEST(DataParallel, LoraDpoTwoRanksEqualOneRankWithAccumulation) {
    test::TempDir dir;
    const std::string model = test::model_with_tokenizer(dir);
    std::ofstream pairs(dir.path / "pairs.jsonl");
    for (int i = 0; i < 7; ++i)
        pairs << json{{"prompt", {{{"role", "user"}, {"content", "What is " + std::to_string(i) + " + 1?"}}}},
                      {"chosen", {{{"role", "assistant"}, {"content", std::to_string(i + 1)}}}},
                      {"rejected", {{{"role", "assistant"}, {"content", "No idea, " + std::to_string(i * 7)}}}}}
                     .dump()
              << "\n";
    pairs.close();
    auto config = [&](const std::string& name, const std::string& extra) {
        std::ofstream(dir.path / (name + ".yaml")) << "base_model: " << model << "\ndatasets:\n  - path: " << dir.str() << "/pairs.jsonl\nrl: dpo\n"
                                                   << kLoraModel << "micro_batch_size: 1\nnum_epochs: 2\nlearning_rate: 0.01\ndevice: cpu\nseed: 3\n"
                                                   << "output_dir: " << dir.str() << "/" << name << "\n" << extra;
        return (dir.path / (name + ".yaml")).string();
    };
    int code = -1;
    auto one = test::run_to_end({LATHE_CLI, "train", config("one", "gradient_accumulation_steps: 2\n"), "--store", dir.str() + "/one.db"}, &code);
    ASSERT_EQ(code, 0) << (one.empty() ? "" : one.back().dump());
    std::vector<std::string> args = lathe_launch(2);
    for (const std::string& a : std::vector<std::string>{"train", config("two", ""), "--store", dir.str() + "/two.db"}) args.push_back(a);
    auto two = test::run_to_end(args, &code);
    ASSERT_EQ(code, 0) << (two.empty() ? "" : two.back().dump());
    auto steps_of = [](const std::vector<json>& events) {
        std::vector<json> out;
        for (const auto& e : events)
            if (e.value("event", "") == "step") out.push_back(e);
        return out;
    };
    auto a = steps_of(one), b = steps_of(two);
    ASSERT_EQ(a.size(), 8u);
    ASSERT_EQ(b.size(), a.size());
    for (size_t i = 0; i < a.size(); ++i)
        for (const char* key : {"loss", "grad_norm", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "logps/chosen",
                                "logps/rejected"})
            // 1e-5, relative above 1: logps/* are float32 sums of some -380, where one float32 step is 3e-5.
            EXPECT_NEAR(a[i][key].get<double>(), b[i][key].get<double>(), 1e-5 * std::max(1.0, std::abs(a[i][key].get<double>())))
                << "step " << i + 1 << " " << key;
    EXPECT_NE(a.back()["rewards/margins"].get<double>(), 0.0);  // the adapter moved
    auto saved_one = load_safetensors(last_checkpoint(one) + "/adapter_model.safetensors");
    auto saved_two = load_safetensors(last_checkpoint(two) + "/adapter_model.safetensors");
    ASSERT_EQ(saved_one.size(), saved_two.size());
    for (const auto& [name, t] : saved_one) EXPECT_LE(test::max_abs_diff(t, saved_two.at(name)), 5e-5) << name;
}

// The ranks `lathe launch` started, by RANK.
std::map<int, pid_t> ranks_of(pid_t launcher) {
    std::map<int, pid_t> out;
    std::ifstream children("/proc/" + std::to_string(launcher) + "/task/" + std::to_string(launcher) + "/children");
    pid_t pid = 0;
    while (children >> pid) {
        std::ifstream environ_file("/proc/" + std::to_string(pid) + "/environ");
        std::string var;
        while (std::getline(environ_file, var, '\0'))
            if (var.rfind("RANK=", 0) == 0) out[std::stoi(var.substr(5))] = pid;
    }
    return out;
}

TEST(DataParallel, KillNineOfOneRankFailsTheRunWithinAMinute) {
    DpDir d;
    test::ChildProcess launcher([&] {
        auto args = lathe_launch(2);
        for (const std::string& a : std::vector<std::string>{"train", d.config("killed", kLoraModel + "micro_batch_size: 2\nnum_epochs: 300\nsave_steps: 3\n"), "--store", d.store("killed")}) args.push_back(a);
        return args;
    }());
    json e;
    int64_t run_id = 0;
    bool killed = false;
    std::chrono::steady_clock::time_point killed_at;
    std::vector<json> after;
    while (launcher.next(e)) {
        if (killed) after.push_back(e);
        run_id = e.value("run_id", run_id);
        if (!killed && e.value("event", "") == "step" && e.value("step", 0) == 5) {
            auto ranks = ranks_of(launcher.pid);
            ASSERT_EQ(ranks.size(), 2u);
            kill(ranks.at(1), SIGKILL);
            killed = true;
            killed_at = std::chrono::steady_clock::now();
        }
    }
    const int code = launcher.wait();
    ASSERT_TRUE(killed);
    EXPECT_LT(std::chrono::steady_clock::now() - killed_at, std::chrono::seconds(60));
    EXPECT_EQ(code, 128 + SIGKILL);  // the first failure: rank 1's
    ASSERT_FALSE(after.empty());
    const json& error = after[after.size() - 2];
    EXPECT_EQ(error.value("event", ""), "error");
    EXPECT_NE(error.value("message", "").find("another rank died"), std::string::npos) << error.dump();
    EXPECT_EQ(after.back().value("status", ""), "failed");
    auto store = RunStore::open(d.store("killed"));
    EXPECT_EQ(store->find_run(run_id)->status, RunStatus::failed);
    // The last checkpoint stays whole.
    auto checkpoints = store->checkpoints(run_id);
    ASSERT_FALSE(checkpoints.empty());
    EXPECT_TRUE(fs::exists(checkpoints.back().path + "/trainer_state.json"));
    EXPECT_TRUE(fs::exists(checkpoints.back().path + "/adapter_model.safetensors"));
}

// A 2-rank run killed (-9 of rank 1) resumes from its last checkpoint with 2 ranks, and with 1 rank
// with twice the accumulation, to the losses of the uninterrupted 2-rank run.
TEST(DataParallel, ResumeAfterARankDiedWithTwoRanksOrOne) {
    DpDir d;
    const std::string settings = kLoraModel + "micro_batch_size: 2\nnum_epochs: 20\nsave_steps: 2\nlr_scheduler: cosine\nwarmup_steps: 2\n";
    int code = -1;
    auto full_args = lathe_launch(2);
    for (const std::string& a : std::vector<std::string>{"train", d.config("full", settings), "--store", d.store("full")}) full_args.push_back(a);
    auto uninterrupted = losses_of(test::run_to_end(full_args, &code));
    ASSERT_EQ(code, 0);
    ASSERT_EQ(uninterrupted.size(), 40u);

    auto killed_args = lathe_launch(2);
    for (const std::string& a : std::vector<std::string>{"train", d.config("killed", settings), "--store", d.store("killed")}) killed_args.push_back(a);
    test::ChildProcess launcher(killed_args);
    json e;
    int64_t run_id = 0;
    while (launcher.next(e)) {
        run_id = e.value("run_id", run_id);
        if (e.value("event", "") == "step" && e.value("step", 0) == 3) {
            auto ranks = ranks_of(launcher.pid);
            ASSERT_EQ(ranks.size(), 2u);
            kill(ranks.at(1), SIGKILL);
        }
    }
    EXPECT_NE(launcher.wait(), 0);
    std::string checkpoint;
    {
        auto store = RunStore::open(d.store("killed"));
        EXPECT_EQ(store->find_run(run_id)->status, RunStatus::failed);
        ASSERT_FALSE(store->checkpoints(run_id).empty());
        checkpoint = store->checkpoints(run_id).back().path;
    }

    // One rank, accumulation 2, its own output folder (the checkpoint folder is read, not changed).
    auto one = test::run_to_end({LATHE_CLI, "train", d.config("one", settings + "gradient_accumulation_steps: 2\n"), "--resume", checkpoint, "--store",
                                 d.store("killed")},
                                &code);
    ASSERT_EQ(code, 0);
    ASSERT_EQ(one.front().value("event", ""), "resume");
    const int64_t from = one.front().at("step");
    auto one_losses = losses_of(one);
    ASSERT_EQ(one_losses.size(), uninterrupted.size() - from);
    for (size_t i = 0; i < one_losses.size(); ++i) EXPECT_NEAR(one_losses[i], uninterrupted[from + i], 1e-5) << "1 rank, step " << from + i + 1;

    // Two ranks, the run's own config from the checkpoint.
    auto two_args = lathe_launch(2);
    for (const std::string& a : std::vector<std::string>{"train", "--resume", checkpoint, "--store", d.store("killed")}) two_args.push_back(a);
    auto two = test::run_to_end(two_args, &code);
    ASSERT_EQ(code, 0);
    auto two_losses = losses_of(two);
    ASSERT_EQ(two_losses.size(), uninterrupted.size() - from);
    for (size_t i = 0; i < two_losses.size(); ++i) EXPECT_NEAR(two_losses[i], uninterrupted[from + i], 1e-5) << "2 ranks, step " << from + i + 1;
    EXPECT_EQ(RunStore::open(d.store("killed"))->find_run(run_id)->status, RunStatus::completed);
}

// A ZeRO-2 run resumed from its checkpoint (the whole optimizer state, gathered from the owners) with
// 2 ranks and with 1 rank continues to the losses of the uninterrupted run.
TEST(DataParallel, Zero2ResumesWithTwoRanksOrOne) {
    DpDir d;
    const std::string settings = "micro_batch_size: 2\nnum_epochs: 4\nsave_steps: 4\nweight_decay: 0.01\nzero_stage: 2\nddp_bucket_cap_mb: 0.05\n";
    int code = -1;
    auto args = lathe_launch(2);
    for (const std::string& a : std::vector<std::string>{"train", d.config("full", settings), "--store", d.store("full")}) args.push_back(a);
    auto uninterrupted = losses_of(test::run_to_end(args, &code));
    ASSERT_EQ(code, 0);
    ASSERT_EQ(uninterrupted.size(), 8u);
    const std::string checkpoint = (d.dir.path / "full" / "checkpoint-4").string();
    ASSERT_TRUE(fs::exists(checkpoint + "/optimizer.safetensors"));

    auto two_args = lathe_launch(2);
    for (const std::string& a : std::vector<std::string>{"train", "--resume", checkpoint, "--store", d.store("full")}) two_args.push_back(a);
    auto two = losses_of(test::run_to_end(two_args, &code));
    ASSERT_EQ(code, 0);
    ASSERT_EQ(two.size(), 4u);
    for (size_t i = 0; i < two.size(); ++i) EXPECT_NEAR(two[i], uninterrupted[4 + i], 1e-5) << "2 ranks, step " << 5 + i;

    auto one = losses_of(test::run_to_end({LATHE_CLI, "train", d.config("one", settings + "gradient_accumulation_steps: 2\n"), "--resume", checkpoint,
                                           "--store", d.store("full")},
                                          &code));
    ASSERT_EQ(code, 0);
    ASSERT_EQ(one.size(), 4u);
    for (size_t i = 0; i < one.size(); ++i) EXPECT_NEAR(one[i], uninterrupted[4 + i], 1e-5) << "1 rank, step " << 5 + i;
}

// SIGTERM to `lathe launch` reaches every rank; they stop at the same step, rank 0 checkpoints it and
// marks the run stopped, and the launch exits 0.
TEST(DataParallel, SigtermToLaunchStopsEveryRankAtOneStep) {
    DpDir d;
    auto args = lathe_launch(2);
    for (const std::string& a : std::vector<std::string>{"train", d.config("stopped", kLoraModel + "micro_batch_size: 2\nnum_epochs: 300\n"), "--store",
                                                         d.store("stopped")})
        args.push_back(a);
    test::ChildProcess launcher(args);
    json e, last;
    bool sent = false;
    while (launcher.next(e)) {
        last = e;
        if (!sent && e.value("event", "") == "step" && e.value("step", 0) == 3) {
            kill(launcher.pid, SIGTERM);
            sent = true;
        }
    }
    EXPECT_EQ(launcher.wait(), 0);
    ASSERT_TRUE(sent);
    EXPECT_EQ(last.value("event", ""), "end");
    EXPECT_EQ(last.value("status", ""), "stopped");
    const int64_t step = last.at("step");
    EXPECT_LT(step, 600);
    EXPECT_TRUE(fs::exists(d.dir.path / "stopped" / ("checkpoint-" + std::to_string(step)) / "optimizer.safetensors"));
    auto store = RunStore::open(d.store("stopped"));
    EXPECT_EQ(store->list_runs().at(0).status, RunStatus::stopped);
}

TEST(DataParallel, ARankThatCannotConnectNamesTheAddress) {
    DpDir d;
    const int port = free_port();
    const std::string cmd = "WORLD_SIZE=2 RANK=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " " + LATHE_CLI + " train " +
                            d.config("lonely", kLora + "ddp_timeout: 2\n") + " --store " + d.store("lonely") + " 2>&1";
    FILE* pipe = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
    const int status = pclose(pipe);
    EXPECT_EQ(WEXITSTATUS(status), 1);
    EXPECT_NE(out.find("rank 1 of 2 could not join the process group at 127.0.0.1:" + std::to_string(port) + " within ddp_timeout (2 s)"),
              std::string::npos)
        << out;
}

TEST(DataParallel, LaunchRejectsBadUsage) {
    int code = -1;
    test::run_to_end({LATHE_CLI, "launch", "--nproc-per-node", "0", "--", "train", "x.yaml"}, &code);
    EXPECT_EQ(code, 1);
    test::run_to_end({LATHE_CLI, "launch", "--nnodes", "2", "--node-rank", "2", "--", "train", "x.yaml"}, &code);
    EXPECT_EQ(code, 1);
}

}  // namespace
}  // namespace lathe

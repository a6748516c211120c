// `lathe train` end to end: config errors, schedules against transformers', the run store, events,
// checkpoints, resume after kill -9 (bit-for-bit on CPU), SIGTERM.
#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ATen/Context.h>

#include "core/io/tensor_io.h"
#include "core/runs/run_store.h"
#include "core/train/events.h"
#include "core/train/lr_schedule.h"
#include "core/train/train_config.h"
#include "core/util/error.h"
#include "core/util/json_file.h"
#include "tests/child_process.h"
#include "tests/fixtures.h"


namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::write_file;
using nlohmann::json;

std::string config_error(const std::string& yaml) {
    test::TempDir dir;
    try {
        read_train_config(write_file(dir.path / "run.yaml", yaml));
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(TrainConfig, ReadsAxolotlKeys) {
    test::TempDir dir;
    TrainConfig c = read_train_config(write_file(dir.path / "run.yaml", R"(
base_model: /models/x
adapter: lora
lora_r: 16
lora_alpha: 32
lora_dropout: 0.05
lora_target_modules: [q_proj, v_proj]
datasets:
  - path: data.jsonl
    type: pretokenized
val_set_size: 0.1
sequence_len: 1024
micro_batch_size: 2
gradient_accumulation_steps: 4
num_epochs: 3
learning_rate: 0.0002
lr_scheduler: cosine
warmup_steps: 10
weight_decay: 0.0
optimizer: adamw_torch
max_grad_norm: 1.0
output_dir: ./out
save_steps: 50
seed: 7
shuffle: false
)"));
    EXPECT_EQ(c.lora_r, 16);
    EXPECT_EQ(c.lora_target_modules, (std::vector<std::string>{"q_proj", "v_proj"}));
    EXPECT_EQ(c.datasets.size(), 1u);
    EXPECT_EQ(c.gradient_accumulation_steps, 4);
    EXPECT_DOUBLE_EQ(c.learning_rate, 2e-4);
    EXPECT_FALSE(c.shuffle);
    EXPECT_EQ(c.seed, 7u);
}

TEST(TrainConfig, EveryProblemReportedWithKeyAndLine) {
    std::string msg = config_error("base_model: /m\nlearning_rate: -1\nlora_r: many\nmistake_key: 1\ndatasets: [a.jsonl]\n");
    EXPECT_NE(msg.find("run.yaml:2: learning_rate: must be > 0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("run.yaml:3: lora_r: must be an integer"), std::string::npos) << msg;
    EXPECT_NE(msg.find("run.yaml:4: mistake_key: unknown key"), std::string::npos) << msg;
    EXPECT_NE(msg.find("3 problems"), std::string::npos) << msg;
}

// Axolotl configs carry empty placeholders for keys they do not use; an empty key is "not set" there.
TEST(TrainConfig, AnEmptyKeyIsNotSetEvenWhenLatheDoesNotReadIt) {
    test::TempDir dir;
    TrainConfig c = read_train_config(write_file(dir.path / "run.yaml",
                                                 "base_model: /m\ndatasets: [a.jsonl]\nwandb_project:\nlora_model_dir:\nlora_r:\n"));
    EXPECT_EQ(c.lora_r, TrainConfig{}.lora_r);
    EXPECT_TRUE(c.lora_model_dir.empty());
    EXPECT_NE(config_error("base_model: /m\ndatasets: [a.jsonl]\nwandb_project: lathe\n").find("wandb_project: unknown key"), std::string::npos);
}

TEST(TrainConfig, DatasetEntriesWithAxolotlKeys) {
    test::TempDir dir;
    TrainConfig c = read_train_config(write_file(dir.path / "run.yaml", R"(base_model: m
datasets:
  - path: chat.jsonl
    type: chat_template
    field_messages: conversations
    message_property_mappings:
      role: from
      content: value
    roles_to_train: [assistant, tool]
    train_on_eos: none
    weight: 0.5
  - path: notes.jsonl
    type: completion
    field: body
  - plain.jsonl
test_datasets:
  - path: val.jsonl
train_on_inputs: true
dataset_prepared_path: /tmp/prepared
strict: true
truncation: left
)"));
    ASSERT_EQ(c.datasets.size(), 3u);
    EXPECT_EQ(c.truncation, "left");
    const DatasetSpec& chat = c.datasets[0];
    EXPECT_EQ(chat.type, "chat_template");
    EXPECT_EQ(chat.field_messages, "conversations");
    EXPECT_EQ(chat.role_key, "from");
    EXPECT_EQ(chat.content_key, "value");
    EXPECT_EQ(chat.roles_to_train, (std::vector<std::string>{"assistant", "tool"}));
    EXPECT_FALSE(chat.train_on_eos);
    EXPECT_DOUBLE_EQ(chat.weight, 0.5);
    EXPECT_EQ(c.datasets[1].field, "body");
    EXPECT_EQ(c.datasets[2].path, "plain.jsonl");
    EXPECT_EQ(c.datasets[2].type, "");  // detected per row
    ASSERT_EQ(c.test_datasets.size(), 1u);
    EXPECT_TRUE(c.train_on_inputs);
    EXPECT_TRUE(c.strict);
    EXPECT_EQ(c.dataset_prepared_path, "/tmp/prepared");

    // What Lathe Studio saves (train_config_yaml) reads back with every one of these keys.
    const TrainConfig again = parse_train_config(train_config_yaml(c), "saved.yaml");
    ASSERT_EQ(again.datasets.size(), c.datasets.size());
    for (size_t i = 0; i < c.datasets.size(); ++i) {
        const DatasetSpec &a = c.datasets[i], &b = again.datasets[i];
        EXPECT_EQ(b.path, a.path);
        EXPECT_EQ(b.type, a.type);
        EXPECT_EQ(b.field, a.field);
        EXPECT_EQ(b.field_messages, a.field_messages);
        EXPECT_EQ(b.role_key, a.role_key);
        EXPECT_EQ(b.content_key, a.content_key);
        EXPECT_EQ(b.roles_to_train, a.roles_to_train);
        EXPECT_EQ(b.train_on_eos, a.train_on_eos);
        EXPECT_EQ(b.weight, a.weight);
    }
    ASSERT_EQ(again.test_datasets.size(), 1u);
    EXPECT_EQ(again.test_datasets[0].path, "val.jsonl");
    EXPECT_TRUE(again.train_on_inputs);
    EXPECT_TRUE(again.strict);
    EXPECT_EQ(again.truncation, "left");
    EXPECT_EQ(again.dataset_prepared_path, "/tmp/prepared");

    std::string msg = config_error("base_model: m\ndatasets:\n  - path: a.jsonl\n    type: sharegpt_v9\n    colour: red\n    train_on_eos: last\n"
                                   "    weight: -1\ntest_datasets: [b.jsonl]\nval_set_size: 0.1\ntruncation: middle\n");
    EXPECT_NE(msg.find("run.yaml:4: datasets.type: 'sharegpt_v9' is not supported"), std::string::npos) << msg;
    EXPECT_NE(msg.find("run.yaml:5: datasets.colour: unknown key"), std::string::npos) << msg;
    EXPECT_NE(msg.find("run.yaml:6: datasets.train_on_eos: 'last' is not supported"), std::string::npos) << msg;
    EXPECT_NE(msg.find("run.yaml:7: datasets.weight: must be >= 0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("test_datasets: gives the validation set"), std::string::npos) << msg;
    EXPECT_NE(msg.find("run.yaml:10: truncation: 'middle' is not supported"), std::string::npos) << msg;
}

TEST(TrainConfig, Bf16IsAutoTrueOrFalse) {
    test::TempDir dir;
    const std::string base = "base_model: m\ndatasets: [d.jsonl]\n";
    EXPECT_EQ(parse_train_config(base, "run.yaml").bf16, "auto");  // the default
    for (const auto& [written, read] : std::vector<std::pair<std::string, std::string>>{{"auto", "auto"}, {"true", "true"}, {"false", "false"}, {"yes", "true"}}) {
        TrainConfig c = parse_train_config(base + "bf16: " + written + "\n", "run.yaml");
        EXPECT_EQ(c.bf16, read) << written;
        EXPECT_EQ(parse_train_config(train_config_yaml(c), "saved.yaml").bf16, read) << written;  // what Lathe Studio saves
    }
    EXPECT_NE(config_error(base + "bf16: sometimes\n").find("run.yaml:3: bf16: must be auto, true or false"), std::string::npos);
}

TEST(TrainConfig, MissingRequiredAndBadYaml) {
    EXPECT_NE(config_error("learning_rate: 0.1\n").find("base_model: required"), std::string::npos);
    EXPECT_NE(config_error("base_model: [unclosed\n").find("not valid YAML"), std::string::npos);
    EXPECT_NE(config_error("base_model: m\ndatasets: [d]\nadapter: lora\n").find("lora_target_modules"), std::string::npos);
    EXPECT_NE(config_error("base_model: m\ndatasets: [d]\nlr_scheduler: magic\n").find("'magic' is not supported"), std::string::npos);
}

// Multipliers from transformers' get_scheduler (tests/interop/make_schedule_references.py).
TEST(LrSchedule, MatchesTransformers) {
    const char* dir = std::getenv("LATHE_INTEROP_REFS");
    if (!dir) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which makes the references";
    auto cases = read_json_file(std::string(dir) + "/schedules.json");
    ASSERT_GE(cases.size(), 8u);
    for (const auto& c : cases) {
        ScheduleOptions o{.kind = c["kind"], .warmup_steps = c["warmup_steps"], .total_steps = c["total_steps"],
                          .min_lr_ratio = c["min_lr_ratio"], .decay_ratio = c["decay_ratio"]};
        auto expected = c["multipliers"].get<std::vector<double>>();
        for (size_t s = 0; s < expected.size(); ++s)
            EXPECT_NEAR(lr_multiplier(o, static_cast<int64_t>(s)), expected[s], 1e-12) << o.kind << " warmup " << o.warmup_steps << " step " << s;
    }
}

TEST(RunStore, RecordsAndDeletes) {
    test::TempDir dir;
    std::string path = dir.str() + "/lathe.db";
    int64_t id;
    {
        auto store = RunStore::open(path);
        RunRecord r;
        r.name = "demo";
        r.model = "/m";
        id = store->create_run(r);
        store->set_status(id, lathe::RunStatus::running);
        store->add_metrics(id, {{1, "loss", 2.5}, {2, "loss", 2.0}, {2, "lr", 0.1}});
        store->add_checkpoint(id, {2, "/out/checkpoint-2", 0});
        store->add_event(id, R"({"event":"step"})");
        store->set_status(id, lathe::RunStatus::completed);
    }
    auto store = RunStore::open(path);  // reopened: everything was committed
    auto run = store->find_run(id);
    ASSERT_TRUE(run);
    EXPECT_EQ(run->status, RunStatus::completed);
    EXPECT_GT(run->finished_at, 0);
    EXPECT_EQ(store->metrics(id, "loss").size(), 2u);
    EXPECT_EQ(store->checkpoints(id).at(0).path, "/out/checkpoint-2");
    EXPECT_EQ(store->events(id).size(), 1u);
    EXPECT_TRUE(store->delete_run(id));
    EXPECT_FALSE(store->find_run(id));
    EXPECT_TRUE(store->metrics(id).empty());
}

using Child = test::ChildProcess;

struct RunDir {
    test::TempDir dir;
    std::string store() const { return dir.str() + "/lathe.db"; }
    std::string config(const std::string& extra, const std::string& output = "out") const {
        std::string fixture = test::fixtures() + "/hf/training/llama";
        return write_file(dir.path / (output + ".yaml"),
                          "base_model: " + test::hf_model("llama") + "\ndatasets:\n  - path: " + fixture + "/train.jsonl\n    type: pretokenized\n" +
                              "output_dir: " + dir.str() + "/" + output + "\ndataset_prepared_path: " + dir.str() + "/prepared\n" + extra);
    }
};

std::vector<json> run_all(const std::vector<std::string>& args, int* code = nullptr) { return test::run_to_end(args, code); }

std::vector<double> losses_of(const std::vector<json>& events) {
    std::vector<double> out;
    for (const auto& e : events)
        if (e.value("event", "") == "step") out.push_back(e.at("loss").get<double>());  // at(): a line without the key throws, never UB
    return out;
}

TEST(TrainRun, MatchesTheTransformersTrainingReferenceThroughTheCli) {
    RunDir d;
    std::string fixture = test::fixtures() + "/hf/training/llama";
    auto ref = read_json_file(fixture + "/reference.json");
    std::string cfg = d.config("adapter: lora\nlora_model_dir: " + fixture + "/adapter_init\nlearning_rate: 0.01\nlr_scheduler: constant\n"
                               "weight_decay: 0.01\nmicro_batch_size: 4\nnum_epochs: 2\nshuffle: false\nmax_grad_norm: 0\nsequence_len: 64\n");
    int code = -1;
    auto events = run_all({LATHE_CLI, "train", cfg, "--store", d.store()}, &code);
    ASSERT_EQ(code, 0);
    auto losses = losses_of(events);
    auto expected = ref["step_losses"].get<std::vector<double>>();
    ASSERT_EQ(losses.size(), expected.size());
    for (size_t i = 0; i < losses.size(); ++i) EXPECT_NEAR(losses[i], expected[i], 1e-4);
    // The event contract the GUI relies on.
    for (const auto& e : events) {
        if (e["event"] == "step") {
            for (const char* key : {"step", "loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s"}) EXPECT_TRUE(e.contains(key)) << key;
        }
    }
    EXPECT_EQ(events.front()["event"], "start");
    EXPECT_EQ(events.back()["event"], "end");
    EXPECT_EQ(events.back()["status"], "completed");
    auto store = RunStore::open(d.store());
    auto runs = store->list_runs();
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].status, RunStatus::completed);
    EXPECT_EQ(store->metrics(runs[0].id, "loss").size(), 4u);
    auto checkpoints = store->checkpoints(runs[0].id);
    ASSERT_EQ(checkpoints.size(), 1u);
    EXPECT_TRUE(fs::exists(checkpoints[0].path + "/adapter_model.safetensors"));
    EXPECT_TRUE(fs::exists(checkpoints[0].path + "/adapter_config.json"));
}

TEST(TrainRun, ResumeAfterKillNineRepeatsTheLossSeriesExactly) {
    RunDir d;
    const std::string settings = "adapter: lora\nlora_r: 4\nlora_alpha: 8\nlora_dropout: 0.1\nlora_target_linear: true\n"
                                 "learning_rate: 0.005\nlr_scheduler: cosine\nwarmup_steps: 2\nmicro_batch_size: 2\n"
                                 "num_epochs: 4\nsave_steps: 3\nsequence_len: 64\nseed: 3\n";
    auto uninterrupted = losses_of(run_all({LATHE_CLI, "train", d.config(settings, "full"), "--store", d.store()}));
    ASSERT_EQ(uninterrupted.size(), 16u);

    std::string cfg = d.config(settings, "killed");
    Child child({LATHE_CLI, "train", cfg, "--store", d.store()});
    json e;
    int64_t run_id = 0;
    while (child.next(e)) {
        run_id = e["run_id"];
        if (e["event"] == "step" && e["step"] == 5) {
            kill(child.pid, SIGKILL);  // after checkpoint-3, mid-way to checkpoint-6
            break;
        }
    }
    child.wait();
    auto store = RunStore::open(d.store());
    EXPECT_EQ(store->find_run(run_id)->status, RunStatus::interrupted);  // it never got to say so: its process is gone
    EXPECT_FALSE(fs::exists(d.dir.path / "killed" / ".checkpoint-6.tmp") && fs::exists(d.dir.path / "killed" / "checkpoint-6"));

    int code = -1;
    auto resumed = run_all({LATHE_CLI, "train", "--resume", std::to_string(run_id), "--store", d.store()}, &code);
    ASSERT_EQ(code, 0);
    EXPECT_EQ(resumed.front()["event"], "resume");
    EXPECT_EQ(resumed.front()["step"], 3);
    auto after = losses_of(resumed);
    ASSERT_EQ(after.size(), 13u);
    for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i], uninterrupted[i + 3]) << "step " << i + 4;
    EXPECT_EQ(RunStore::open(d.store())->find_run(run_id)->status, RunStatus::completed);
}

// `lathe runs` output (stdout and stderr).
std::string lathe_output(const std::string& args, int* code = nullptr) {
    FILE* pipe = popen((std::string(LATHE_CLI) + " " + args + " 2>&1").c_str(), "r");
    std::string out;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
    const int status = pclose(pipe);
    if (code) *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
}

// A trainer killed with -9 never writes an end event; `lathe runs` shows its run interrupted (not
// running forever), with the checkpoint to resume from, while a live run elsewhere still reads running.
TEST(TrainRun, KillNineShowsTheRunInterruptedInRunsList) {
    RunDir d;
    std::string cfg = d.config("adapter: lora\nlora_r: 4\nlora_target_modules: [q_proj]\nmicro_batch_size: 2\nnum_epochs: 1000\n"
                               "save_steps: 2\nsequence_len: 64\n", "killed");
    Child child({LATHE_CLI, "train", cfg, "--store", d.store()});
    json e;
    int64_t run_id = 0;
    bool checked_live = false;
    while (child.next(e)) {
        run_id = e.value("run_id", run_id);
        if (e["event"] == "checkpoint" && !checked_live) {
            // Read by another process while the trainer lives: running.
            auto live = json::parse(lathe_output("runs list --json --store " + d.store()));
            ASSERT_EQ(live.size(), 1u);
            EXPECT_EQ(live[0]["status"], "running");
            checked_live = true;
            kill(child.pid, SIGKILL);
            break;
        }
    }
    ASSERT_TRUE(checked_live);
    while (child.next(e)) {  // to the end of its output: it is dying (not yet reaped: a zombie soon)
    }
    // The pipe closes while the kernel is still tearing the process down; it turns zombie moments later.
    RunStatus status = RunStatus::running;
    for (int tries = 0; tries < 100 && status != RunStatus::interrupted; ++tries) {
        status = RunStore::open(d.store())->find_run(run_id)->status;
        if (status != RunStatus::interrupted) usleep(50000);
    }
    EXPECT_EQ(status, RunStatus::interrupted);
    EXPECT_EQ(child.wait(), 128 + SIGKILL);

    int code = -1;
    std::string table = lathe_output("runs list --store " + d.store(), &code);
    EXPECT_EQ(code, 0);
    EXPECT_NE(table.find("interrupted"), std::string::npos) << table;
    EXPECT_EQ(table.find("running"), std::string::npos) << table;
    auto listed = json::parse(lathe_output("runs list --json --store " + d.store()));
    EXPECT_EQ(listed[0]["status"], "interrupted");
    auto shown = json::parse(lathe_output("runs show " + std::to_string(run_id) + " --json --store " + d.store()));
    EXPECT_EQ(shown["status"], "interrupted");
    EXPECT_NE(shown["error"].get<std::string>().find("pid " + std::to_string(child.pid)), std::string::npos) << shown.dump();
    auto checkpoints = RunStore::open(d.store())->checkpoints(run_id);
    ASSERT_FALSE(checkpoints.empty());
    EXPECT_EQ(shown["resume_from"], checkpoints.back().path);
    std::string text = lathe_output("runs show " + std::to_string(run_id) + " --store " + d.store());
    EXPECT_NE(text.find("resume         lathe train --resume " + std::to_string(run_id)), std::string::npos) << text;
}

TEST(TrainRun, MaxStepsGoesOnIntoFurtherEpochs) {
    // 8 rows, 4 per step: 2 steps an epoch. max_steps replaces num_epochs, as in transformers' Trainer.
    RunDir d;
    int code = -1;
    auto events = run_all({LATHE_CLI, "train", d.config("adapter: lora\nlora_target_modules: [q_proj]\nmicro_batch_size: 4\nnum_epochs: 1\n"
                                                          "max_steps: 5\nsequence_len: 64\ndevice: cpu\n"),
                           "--store", d.store()},
                          &code);
    ASSERT_EQ(code, 0);
    EXPECT_EQ(events.front()["total_steps"], 5);
    EXPECT_EQ(events.front()["precision"], "float32");  // bf16: auto on the CPU
    std::vector<json> steps;
    for (const auto& e : events)
        if (e["event"] == "step") steps.push_back(e);
    ASSERT_EQ(steps.size(), 5u);
    EXPECT_DOUBLE_EQ(steps.back()["epoch"].get<double>(), 2.5);  // the first half of the third epoch
    EXPECT_EQ(events.back()["step"], 5);
    // The schedule spans the 5 steps: cosine from the peak to under a tenth of it at the last step.
    EXPECT_DOUBLE_EQ(steps.front()["lr"].get<double>(), 2e-4);
    EXPECT_LT(steps.back()["lr"].get<double>(), 0.2e-4);
}

// Axolotl's schedule keys through the CLI: warmup_ratio becomes whole warmup steps, a save_steps below
// 1 a share of the run (rounded up), and the end's checkpoint is still written once.
TEST(TrainRun, WarmupRatioAndFractionalSaveSteps) {
    // 8 rows, 4 per step: 2 steps an epoch, 5 epochs: 10 steps.
    RunDir d;
    int code = -1;
    auto events = run_all({LATHE_CLI, "train", d.config("adapter: lora\nlora_target_modules: [q_proj]\nmicro_batch_size: 4\nnum_epochs: 5\n"
                                                          "lr_scheduler: constant_with_warmup\nwarmup_ratio: 0.25\nsave_steps: 0.25\n"
                                                          "sequence_len: 64\ndevice: cpu\n"),
                           "--store", d.store()},
                          &code);
    ASSERT_EQ(code, 0);
    std::vector<double> lrs;
    std::vector<int64_t> checkpoints;
    for (const auto& e : events) {
        if (e["event"] == "step") lrs.push_back(e["lr"].get<double>());
        if (e["event"] == "checkpoint") checkpoints.push_back(e["step"].get<int64_t>());
    }
    ASSERT_EQ(lrs.size(), 10u);
    // int(0.25 x 10) = 2 warmup steps: 0, half the peak, then the peak (transformers' linear warmup).
    EXPECT_DOUBLE_EQ(lrs[0], 0.0);
    EXPECT_DOUBLE_EQ(lrs[1], 1e-4);
    EXPECT_DOUBLE_EQ(lrs[2], 2e-4);
    // ceil(0.25 x 10) = every 3 steps, and the end.
    EXPECT_EQ(checkpoints, (std::vector<int64_t>{3, 6, 9, 10}));
}

// optimizer: sgd trains (its numbers are SGD's own tests, test_train_parts.cpp) and resumes without
// optimizer state; saves_per_epoch: 1 checkpoints at every epoch's end, save_total_limit keeps the last two.
TEST(TrainRun, SgdWithSavesPerEpochAndSaveTotalLimit) {
    RunDir d;
    int code = -1;
    auto events = run_all({LATHE_CLI, "train", d.config("adapter: lora\nlora_target_modules: [q_proj]\nmicro_batch_size: 4\nnum_epochs: 3\n"
                                                          "optimizer: sgd\nlearning_rate: 0.1\nsaves_per_epoch: 1\nsave_total_limit: 2\n"
                                                          "sequence_len: 64\ndevice: cpu\n"),
                           "--store", d.store()},
                          &code);
    ASSERT_EQ(code, 0);
    std::vector<int64_t> checkpoints;
    std::vector<double> losses = losses_of(events);
    for (const auto& e : events)
        if (e["event"] == "checkpoint") checkpoints.push_back(e["step"].get<int64_t>());
    EXPECT_EQ(checkpoints, (std::vector<int64_t>{2, 4, 6}));  // 1 / (1 x 3) of 6 steps: every 2
    ASSERT_EQ(losses.size(), 6u);
    EXPECT_LT(losses[4] + losses[5], losses[0] + losses[1]);  // the last epoch's rows against the first's
    EXPECT_FALSE(fs::exists(d.dir.path / "out" / "checkpoint-2"));
    EXPECT_TRUE(fs::exists(d.dir.path / "out" / "checkpoint-4"));
    EXPECT_TRUE(fs::exists(d.dir.path / "out" / "checkpoint-6"));
    auto store = RunStore::open(d.store());
    EXPECT_EQ(store->checkpoints(store->list_runs().at(0).id).size(), 2u);
}

TEST(TrainRun, Bf16AutoComputesInBfloat16OnAGpu) {
    if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA GPU";
    RunDir d;
    int code = -1;
    auto events = run_all({LATHE_CLI, "train", d.config("adapter: lora\nlora_target_linear: true\nmicro_batch_size: 4\nmax_steps: 3\nsequence_len: 64\n"),
                           "--store", d.store()},
                          &code);
    ASSERT_EQ(code, 0) << (events.empty() ? std::string() : events.back().dump());
    EXPECT_EQ(events.front()["device"], "cuda");
    EXPECT_EQ(events.front()["precision"], "bfloat16");  // on Ampere or later, the GPUs Lathe is checked on (A100, H100/H200)
    EXPECT_EQ(losses_of(events).size(), 3u);
    for (double loss : losses_of(events)) EXPECT_TRUE(std::isfinite(loss));
}

TEST(TrainRun, DeviceAutoWithoutAGpuSaysSoInAWarning) {
    if (at::hasCUDA()) GTEST_SKIP() << "this machine has a GPU: device auto takes it";
    RunDir d;
    auto events = run_all({LATHE_CLI, "train", d.config("adapter: lora\nlora_target_modules: [q_proj]\nmicro_batch_size: 4\nmax_steps: 1\nsequence_len: 64\n"),
                           "--store", d.store()});
    ASSERT_GE(events.size(), 2u);
    EXPECT_EQ(events[0]["event"], "start");
    EXPECT_EQ(events[0]["device"], "cpu");
    EXPECT_EQ(events[1]["event"], "warning");
    EXPECT_NE(events[1]["message"].get<std::string>().find("no GPU found"), std::string::npos) << events[1].dump();
}

TEST(TrainRun, SamplePackingPacksRowsIntoFewerSteps) {
    RunDir d;
    const std::string settings = "adapter: lora\nlora_target_modules: [q_proj, v_proj]\nmicro_batch_size: 1\nshuffle: false\nlearning_rate: 0.001\n";
    int code = -1;
    auto unpacked = run_all({LATHE_CLI, "train", d.config(settings + "sequence_len: 64\n", "rows"), "--store", d.store()}, &code);
    ASSERT_EQ(code, 0);
    auto packed = run_all({LATHE_CLI, "train", d.config(settings + "sequence_len: 64\nsample_packing: true\n", "packed"), "--store", d.store()}, &code);
    ASSERT_EQ(code, 0);
    EXPECT_EQ(losses_of(unpacked).size(), 8u);  // 8 rows, one per step
    EXPECT_LT(losses_of(packed).size(), 8u);    // rows of 10-19 tokens share 64-token rows
    EXPECT_GT(losses_of(packed).size(), 0u);
    EXPECT_EQ(packed.back()["status"], "completed");
}

TEST(TrainRun, FullFinetuningTrainsOnlyTheUnfrozenWeights) {
    RunDir d;
    std::string cfg = d.config("unfrozen_parameters: ['model\\.layers\\.1\\.mlp\\..*', '^lm_head']\nlearning_rate: 0.01\nmicro_batch_size: 4\nmax_grad_norm: 0\nsequence_len: 64\n");
    int code = -1;
    auto events = run_all({LATHE_CLI, "train", cfg, "--store", d.store()}, &code);
    ASSERT_EQ(code, 0);
    EXPECT_EQ(events.front()["trainable_parameters"], 3 * 64 * 128 + 512 * 64);  // layer 1's MLP and the output layer
    auto before = load_safetensors(test::hf_model("llama") + "/model.safetensors");
    std::string ckpt = events[events.size() - 2]["path"];
    auto after = load_safetensors(ckpt + "/model.safetensors");
    EXPECT_TRUE(after.at("model.layers.0.mlp.up_proj.weight").equal(before.at("model.layers.0.mlp.up_proj.weight")));
    EXPECT_TRUE(after.at("model.embed_tokens.weight").equal(before.at("model.embed_tokens.weight")));
    EXPECT_FALSE(after.at("model.layers.1.mlp.up_proj.weight").equal(before.at("model.layers.1.mlp.up_proj.weight")));
    EXPECT_FALSE(after.at("lm_head.weight").equal(before.at("lm_head.weight")));
}

TEST(Bench, TrainRunsOnATinyShape) {
    Child child({LATHE_CLI, "bench", "train", "--shape", "tiny", "--device", "cpu", "--dtype", "float32", "--micro-batch", "2",
                 "--seq", "64", "--steps", "2", "--warmup", "1"});
    json result;
    ASSERT_TRUE(child.next(result));
    EXPECT_EQ(child.wait(), 0);
    EXPECT_GT(result["tokens_per_s"].get<double>(), 0);
    EXPECT_EQ(result["trainable_parameters"], 2 * 16 * (64 + 64) * 2 + 2 * 16 * (64 + 32) * 2 + 2 * 16 * (64 + 128) * 3);
    EXPECT_TRUE(std::isfinite(result["last_loss"].get<double>()));
}

// Issue 14's memory claim on the tiny shape: the bytes a LoRA step keeps per token per layer (dropout
// 0.05, no checkpointing), counted by `lathe bench train --saved-bytes`, against transformers + PEFT
// counted through saved-tensor hooks by bench/saved_bytes_hf.py. The composites are the same computation
// as PEFT in float32 and keep exactly as much; the fused ops keep at most half.
TEST(Bench, SavedBytesPerTokenPerLayerAgainstPeft) {
    if (!std::getenv("LATHE_INTEROP_REFS")) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which sets up the venv";
    const std::vector<std::string> shape = {"--shape", "tiny", "--layers", "3", "--dtype", "float32", "--seq", "64"};
    std::vector<std::string> hf_args = {std::string(LATHE_SOURCE_DIR) + "/.venv-interop/bin/python", std::string(LATHE_SOURCE_DIR) + "/bench/saved_bytes_hf.py"};
    hf_args.insert(hf_args.end(), shape.begin(), shape.end());
    int code = -1;
    const std::string text = test::run_for_text(hf_args, &code);
    ASSERT_EQ(code, 0) << text;
    const std::string last_line = text.substr(text.find_last_of('\n', text.size() - 2) + 1);  // its one JSON line, after any warning
    const json hf = json::parse(last_line);
    ASSERT_EQ(hf["lora_dropout"], 0.05);
    const double theirs = hf["saved_bytes_per_token_per_layer"].get<double>();

    auto lathe = [&](const std::string& fused) {
        std::vector<std::string> args = {"/usr/bin/env", "LATHE_FUSED_OPS=" + fused, LATHE_CLI, "bench", "train", "--device", "cpu",
                                         "--micro-batch", "1", "--lora-dropout", "0.05", "--saved-bytes"};
        args.insert(args.end(), shape.begin(), shape.end());
        Child child(args);
        json r;
        EXPECT_TRUE(child.next(r));
        EXPECT_EQ(child.wait(), 0);
        EXPECT_EQ(r["fused_ops"].get<bool>(), fused == "1");
        return r["saved_bytes_per_token_per_layer"].get<double>();
    };
    EXPECT_EQ(lathe("0"), theirs);
    const double fused = lathe("1");
    EXPECT_LE(fused, 0.5 * theirs) << "fused " << fused << " against transformers + PEFT " << theirs;
}

TEST(TrainRun, ContinuedPretrainingOnRawText) {
    RunDir d;
    test::TempDir model_dir;
    std::string model = test::model_with_tokenizer(model_dir);
    std::ofstream docs(d.dir.path / "corpus.jsonl");
    for (int i = 0; i < 6; ++i)
        docs << json{{"text", "Document " + std::to_string(i) + ": the quick brown fox jumps over the lazy dog, again and again."}}.dump() << "\n";
    docs.close();
    std::string cfg = write_file(d.dir.path / "cpt.yaml",
                                 "base_model: " + model + "\ndatasets:\n  - path: " + (d.dir.path / "corpus.jsonl").string() +
                                     "\n    type: text\nsequence_len: 16\nsample_packing: true\nadapter: lora\nlora_target_linear: true\n"
                                     "lr_scheduler: warmup_stable_decay\nwarmup_steps: 1\nmicro_batch_size: 2\nnum_epochs: 2\n"
                                     "output_dir: " + d.dir.str() + "/cpt\n");
    int code = -1;
    auto events = run_all({LATHE_CLI, "train", cfg, "--store", d.store()}, &code);
    ASSERT_EQ(code, 0) << (events.empty() ? std::string() : events.back().dump());
    // Each document (~25 tokens + EOS) is split into 16-token rows: more rows than documents.
    EXPECT_GT(events.front()["train_rows"].get<int64_t>(), 6);
    auto losses = losses_of(events);
    ASSERT_FALSE(losses.empty());
    for (double l : losses) EXPECT_TRUE(std::isfinite(l));
    EXPECT_EQ(events.back()["status"], "completed");

    std::ofstream(d.dir.path / "broken.jsonl") << "{\"text\": \"fine\"}\n{\"body\": \"no text\"}\n";
    std::string bad = write_file(d.dir.path / "bad.yaml", "base_model: " + model + "\ndatasets:\n  - path: " +
                                                             (d.dir.path / "broken.jsonl").string() + "\n    type: text\noutput_dir: " + d.dir.str() + "/b\n");
    events = run_all({LATHE_CLI, "train", bad, "--store", d.store()}, &code);
    EXPECT_EQ(code, 1);
    EXPECT_NE(events[events.size() - 2]["message"].get<std::string>().find("broken.jsonl:2:"), std::string::npos);
}

TEST(TrainRun, Bfloat16FullFinetuningKeepsFloat32Masters) {
    RunDir d;
    std::string cfg = d.config("bf16: true\nunfrozen_parameters: ['model\\.layers\\.1\\.']\nlearning_rate: 0.0001\nmicro_batch_size: 4\nsequence_len: 64\n");
    int code = -1;
    auto events = run_all({LATHE_CLI, "train", cfg, "--store", d.store()}, &code);
    ASSERT_EQ(code, 0) << (events.empty() ? std::string() : events.back().dump());
    std::string ckpt = events[events.size() - 2]["path"];
    auto model = load_safetensors(ckpt + "/model.safetensors");
    auto masters = load_safetensors(ckpt + "/master_weights.safetensors");
    const std::string name = "model.layers.1.mlp.down_proj.weight";
    ASSERT_TRUE(masters.count(name));
    EXPECT_EQ(masters.at(name).scalar_type(), at::kFloat);
    EXPECT_EQ(model.at(name).scalar_type(), at::kBFloat16);
    EXPECT_TRUE(masters.at(name).to(at::kBFloat16).equal(model.at(name)));  // the model holds the rounded masters
    auto before = load_safetensors(test::hf_model("llama") + "/model.safetensors").at(name);
    // lr 1e-4 for 2 steps moves weights by ~2e-4: visible in float32, mostly below bfloat16's resolution.
    EXPECT_GT(test::max_abs_diff(masters.at(name), before), 1e-5);
    EXPECT_FALSE(masters.count("model.layers.0.mlp.down_proj.weight"));  // frozen
}

TEST(TrainRun, ModulesToSaveTrainAndSaveWhole) {
    RunDir d;
    std::string cfg = d.config("adapter: lora\nlora_target_modules: [q_proj]\nlora_modules_to_save: [lm_head]\nlearning_rate: 0.01\nmicro_batch_size: 4\nsequence_len: 64\n");
    int code = -1;
    auto events = run_all({LATHE_CLI, "train", cfg, "--store", d.store()}, &code);
    ASSERT_EQ(code, 0) << (events.empty() ? std::string() : events.back().dump());
    std::string ckpt = events[events.size() - 2]["path"];
    auto saved = load_safetensors(ckpt + "/adapter_model.safetensors");
    ASSERT_TRUE(saved.count("base_model.model.lm_head.weight"));
    auto base = load_safetensors(test::hf_model("llama") + "/model.safetensors");
    EXPECT_FALSE(saved.at("base_model.model.lm_head.weight").equal(base.at("lm_head.weight")));  // it trained
    EXPECT_EQ(read_json_file(ckpt + "/adapter_config.json")["modules_to_save"], json::array({"lm_head"}));
    int64_t expected = 2 * 8 * (64 + 64) + 512 * 64;  // q_proj LoRA (r=8) in 2 layers + lm_head
    EXPECT_EQ(events.front()["trainable_parameters"], expected);
}

TEST(TrainRun, SigtermSavesACheckpointAndStops) {
    RunDir d;
    std::string cfg = d.config("adapter: lora\nlora_target_modules: [q_proj]\nmax_steps: 100000\nnum_epochs: 100000\nmicro_batch_size: 1\nsequence_len: 64\n");
    Child child({LATHE_CLI, "train", cfg, "--store", d.store()});
    json e;
    std::vector<json> events;
    while (child.next(e)) {
        events.push_back(e);
        if (e["event"] == "step" && e["step"] == 2) kill(child.pid, SIGTERM);
    }
    EXPECT_EQ(child.wait(), 0);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back()["event"], "end");
    EXPECT_EQ(events.back()["status"], "stopped");
    int64_t step = events.back()["step"];
    EXPECT_TRUE(fs::exists(d.dir.path / "out" / ("checkpoint-" + std::to_string(step)) / "trainer_state.json"));
    auto runs = RunStore::open(d.store())->list_runs();
    EXPECT_EQ(runs.at(0).status, RunStatus::stopped);
}

// A stop that lands on a save_steps step does not save (and record) that step twice.
TEST(TrainRun, StopOnASaveStepRecordsOneCheckpoint) {
    RunDir d;
    std::string cfg = d.config("adapter: lora\nlora_target_modules: [q_proj]\nmax_steps: 100000\nnum_epochs: 100000\nmicro_batch_size: 1\n"
                               "sequence_len: 64\nsave_steps: 2\n");
    Child child({LATHE_CLI, "train", cfg, "--store", d.store()});
    json e;
    int64_t run = 0;
    while (child.next(e)) {
        run = e.value("run_id", run);
        if (e["event"] == "step" && e["step"] == 2) kill(child.pid, SIGTERM);  // arrives while step 2's checkpoint is written
    }
    EXPECT_EQ(child.wait(), 0);
    auto checkpoints = RunStore::open(d.store())->checkpoints(run);
    ASSERT_FALSE(checkpoints.empty());
    std::set<int64_t> steps;
    for (const auto& c : checkpoints) EXPECT_TRUE(steps.insert(c.step).second) << "step " << c.step << " recorded twice";
}

// The forecast of the final loss (issue 19): step and eval events carry projected_final_loss and its band
// from 20% of the run on, refreshed at each eval_steps; early_stopping_projection stops the run once the
// band says the rest gains less than it, with a checkpoint first.
TEST(TrainRun, ProjectsTheFinalLossAndStopsOnTheProjection) {
    RunDir d;
    const std::string settings = "adapter: lora\nlora_target_modules: [q_proj]\nmicro_batch_size: 1\nmax_steps: 40\nsequence_len: 64\n"
                                 "device: cpu\neval_steps: 4\nval_set_size: 0.25\nlearning_rate: 0.01\n";
    int code = -1;
    auto events = run_all({LATHE_CLI, "train", d.config(settings), "--store", d.store()}, &code);
    ASSERT_EQ(code, 0) << (events.empty() ? std::string() : events.back().dump());
    int projected_steps = 0, projected_evals = 0;
    for (const auto& e : events) {
        if (e["event"] != "step" && e["event"] != "eval") continue;
        const bool has = e.contains("projected_final_loss");
        EXPECT_EQ(has, e["step"].get<int64_t>() >= 8) << e.dump();  // 20% of 40 steps
        EXPECT_EQ(e.contains("projected_low"), has);
        EXPECT_EQ(e.contains("projected_high"), has);
        if (!has) continue;
        EXPECT_LE(e["projected_low"].get<double>(), e["projected_final_loss"].get<double>()) << e.dump();
        EXPECT_LE(e["projected_final_loss"].get<double>(), e["projected_high"].get<double>()) << e.dump();
        (e["event"] == "step" ? projected_steps : projected_evals) += 1;
    }
    EXPECT_EQ(projected_steps, 33);
    EXPECT_EQ(projected_evals, 9);  // steps 8, 12, ..., 36 and the final one at 40

    // A gain bound no run can beat: the first projection (step 8) stops it, checkpoint first.
    events = run_all({LATHE_CLI, "train", d.config(settings + "early_stopping_projection: 100\n", "stopped"), "--store", d.store()}, &code);
    ASSERT_EQ(code, 0) << (events.empty() ? std::string() : events.back().dump());
    ASSERT_GE(events.size(), 3u);
    const json& warning = events[events.size() - 3];
    EXPECT_EQ(warning["event"], "warning");
    EXPECT_NE(warning["message"].get<std::string>().find("early stopping: the forecast says"), std::string::npos) << warning.dump();
    EXPECT_EQ(events[events.size() - 2]["event"], "checkpoint");
    EXPECT_EQ(events[events.size() - 2]["step"], 8);
    EXPECT_EQ(events.back()["status"], "completed");
    EXPECT_EQ(events.back()["step"], 8);
    EXPECT_TRUE(fs::exists(d.dir.path / "stopped" / "checkpoint-8" / "trainer_state.json"));
}

TEST(TrainRun, DryRunPrintsAMemoryEstimate) {
    RunDir d;
    std::string cfg = d.config("adapter: lora\nlora_target_linear: true\nbf16: true\nmicro_batch_size: 8\nsequence_len: 2048\n");
    int code = -1;
    const std::string text = test::run_for_text({LATHE_CLI, "train", "--dry-run", cfg, "--store", d.store()}, &code);
    EXPECT_EQ(code, 0);
    for (const char* piece : {"memory estimate", "weights", "optimizer", "activations", "total", "LoRA r=8", "16.4K parameters"})
        EXPECT_NE(text.find(piece), std::string::npos) << piece << " in\n" << text;
    EXPECT_TRUE(RunStore::open(d.store())->list_runs().empty());
}

// A row that cannot be used is skipped by default, counted and reported with its line; `strict: true`
// makes it fatal.
TEST(TrainRun, BadRowsAreSkippedOrFatalWithStrict) {
    RunDir d;
    write_file(d.dir.path / "bad.jsonl", "{\"input_ids\": [1, 2, 3]}\n{\"input_ids\": \"oops\"}\n{\"input_ids\": [4, 5, 6]}\n");
    std::string base = "base_model: " + test::hf_model("llama") + "\ndatasets: [" + (d.dir.path / "bad.jsonl").string() + "]\ndataset_prepared_path: " +
                       d.dir.str() + "/prepared\n";
    int code = -1;
    auto events = run_all({LATHE_CLI, "train", write_file(d.dir.path / "skip.yaml", base + "output_dir: " + d.dir.str() + "/s\n"), "--store", d.store()}, &code);
    ASSERT_EQ(code, 0) << (events.empty() ? std::string() : events.back().dump());
    EXPECT_EQ(events.front()["train_rows"], 2);
    bool warned = false;
    for (const auto& e : events)
        if (e["event"] == "warning" && e.contains("skipped_rows")) {
            warned = true;
            EXPECT_EQ(e["skipped_rows"], 1);
            EXPECT_NE(e["message"].get<std::string>().find("bad.jsonl:2:"), std::string::npos) << e.dump();
        }
    EXPECT_TRUE(warned);
    // Recorded in the run: the warning event and the dataset's skipped count.
    auto runs = RunStore::open(d.store())->list_runs();
    bool recorded = false;
    for (const auto& line : RunStore::open(d.store())->events(runs.at(0).id)) {
        json e = json::parse(line);
        if (e["event"] == "datasets") recorded = e["datasets"][0]["skipped"] == 1;
    }
    EXPECT_TRUE(recorded);

    events = run_all({LATHE_CLI, "train", write_file(d.dir.path / "strict.yaml", base + "strict: true\noutput_dir: " + d.dir.str() + "/o\n"), "--store", d.store()},
                     &code);
    EXPECT_EQ(code, 1);
    ASSERT_GE(events.size(), 2u);
    EXPECT_EQ(events[events.size() - 2]["event"], "error");
    EXPECT_EQ(events[events.size() - 2]["kind"], "bad_data");
    EXPECT_NE(events[events.size() - 2]["message"].get<std::string>().find("bad.jsonl:2:"), std::string::npos);
}

// The error event says what kind of failure it was, so the Studio advises without reading the message;
// every line the trainer prints reads back through core/train/events.h.
TEST(TrainRun, ErrorsSayTheirKind) {
    RunDir d;
    auto last_error = [](const std::vector<json>& events) {
        for (auto it = events.rbegin(); it != events.rend(); ++it)
            if ((*it)["event"] == "error") return *it;
        return json();
    };
    int code = -1;
    const std::string missing = write_file(d.dir.path / "missing.yaml", "base_model: " + test::hf_model("llama") + "\ndatasets: [" + d.dir.str() +
                                                                            "/no-such.jsonl]\noutput_dir: " + d.dir.str() + "/m\n");
    auto events = run_all({LATHE_CLI, "train", missing, "--store", d.store()}, &code);
    EXPECT_EQ(code, 1);
    EXPECT_EQ(last_error(events)["kind"], "missing_file") << last_error(events).dump();

    // An absurd learning rate: the loss leaves the finite numbers within a few steps.
    events = run_all({LATHE_CLI, "train", d.config("learning_rate: 1.0e+30\nmax_grad_norm: 0\nmax_steps: 6\nwarmup_steps: 0\n", "nan"), "--store", d.store()}, &code);
    EXPECT_EQ(code, 1);
    EXPECT_EQ(last_error(events)["kind"], "diverged") << last_error(events).dump();
    ASSERT_FALSE(events.empty());
    for (const auto& e : events) {
        auto typed = parse_event_line(e.dump());
        ASSERT_TRUE(typed) << e.dump();
        EXPECT_EQ(to_line(*typed), e.dump());  // a diverged loss is NaN, which JSON writes as null
    }
    const auto& end = std::get<EndEvent>(parse_event_line(events.back().dump())->event);
    EXPECT_EQ(end.status, RunStatus::failed);
}

// Chat rows through the model's chat template, a separate validation file, and the tokenized-dataset
// cache reused by the next run (the masking itself is checked against transformers in lathe_data_tests).
TEST(TrainRun, ChatDatasetWithTestDatasetsAndCache) {
    RunDir d;
    test::TempDir model_dir;
    std::string model = test::model_with_tokenizer(model_dir);
    std::ofstream chats(d.dir.path / "chat.jsonl");
    for (int i = 0; i < 6; ++i)
        chats << json{{"conversations", {{{"from", "human"}, {"value", "What is " + std::to_string(i) + " + 1?"}},
                                         {{"from", "gpt"}, {"value", "It is " + std::to_string(i + 1) + "."}}}}}.dump() << "\n";
    chats << "{\"conversations\": []}\n";
    chats.close();
    write_file(d.dir.path / "val.jsonl", "{\"instruction\": \"Say hi\", \"input\": \"\", \"output\": \"hi\"}\n");
    std::string cfg = write_file(d.dir.path / "chat.yaml",
                                 "base_model: " + model + "\ndatasets:\n  - path: " + (d.dir.path / "chat.jsonl").string() +
                                     "\n    type: chat_template\n    field_messages: conversations\n"
                                     "    message_property_mappings: {role: from, content: value}\n    weight: 2\n"
                                     "test_datasets:\n  - path: " + (d.dir.path / "val.jsonl").string() + "\n    type: alpaca\n"
                                     "sequence_len: 256\nadapter: lora\nlora_target_linear: true\nmax_steps: 2\n"
                                     "dataset_prepared_path: " + d.dir.str() + "/prepared\noutput_dir: " + d.dir.str() + "/chat\n");
    auto datasets_event = [&](int64_t run) {
        for (const auto& line : RunStore::open(d.store())->events(run)) {
            json e = json::parse(line);
            if (e["event"] == "datasets") return e["datasets"];
        }
        return json();
    };
    int code = -1;
    auto events = run_all({LATHE_CLI, "train", cfg, "--store", d.store()}, &code);
    ASSERT_EQ(code, 0) << (events.size() < 2 ? std::string() : events[events.size() - 2].dump());
    EXPECT_EQ(events.front()["train_rows"], 12);  // six conversations, weight 2
    EXPECT_EQ(events.front()["validation_rows"], 1);
    int64_t first = events.front()["run_id"];
    json ds = datasets_event(first);
    ASSERT_EQ(ds.size(), 2u);
    EXPECT_EQ(ds[0]["rows"], 6);
    EXPECT_EQ(ds[0]["skipped"], 1);
    EXPECT_EQ(ds[0]["cache_reused"], false);
    EXPECT_TRUE(fs::exists(ds[0]["cache"].get<std::string>()));
    bool evaluated = false;
    for (const auto& e : events) evaluated = evaluated || e["event"] == "eval";
    EXPECT_TRUE(evaluated);

    events = run_all({LATHE_CLI, "train", cfg, "--store", d.store()}, &code);
    ASSERT_EQ(code, 0);
    json again = datasets_event(events.front()["run_id"]);
    EXPECT_EQ(again[0]["cache_reused"], true);
    EXPECT_EQ(again[0]["cache"], ds[0]["cache"]);
    EXPECT_EQ(again[0]["skipped"], 1);  // the cache remembers the bad row
}

}  // namespace
}  // namespace lathe

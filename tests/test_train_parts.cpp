// The parts run_training is built from, each on its own: the step plan (epochs, warmup_ratio, save and
// eval intervals as Axolotl and transformers work them out), the Axolotl schedule keys in the config,
// early stopping, the Checkpointer's retention, parameter groups, and SGD (by hand on a two-parameter
// problem, and against torch.optim.SGD's own numbers from tests/interop/make_optimizer_references.py).
#include <gtest/gtest.h>

#include <ATen/ops/ones.h>
#include <ATen/ops/tensor.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/runs/run_store.h"
#include "core/train/checkpointer.h"
#include "core/train/early_stopping.h"
#include "core/train/param_groups.h"
#include "core/train/sgd.h"
#include "core/train/step_plan.h"
#include "core/train/train_config.h"
#include "core/util/error.h"
#include "core/util/json_file.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kBase = "base_model: /m\ndatasets: [a.jsonl]\n";

TrainConfig parse(const std::string& extra) { return parse_train_config(kBase + extra, "run.yaml"); }

std::string parse_error(const std::string& extra) {
    try {
        parse(extra);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// ---- the step plan ----

TEST(StepPlan, EpochsStepsAndTheirPlaces) {
    TrainConfig c;
    c.micro_batch_size = 2;
    c.gradient_accumulation_steps = 2;
    c.num_epochs = 3;
    // 10 rows an epoch, 4 a step: 3 steps an epoch (the last one short).
    StepPlan plan = plan_steps(c, 1, [](int64_t) { return 10; });
    EXPECT_EQ(plan.units_per_step, 4);
    EXPECT_EQ(plan.epoch_first_step, (std::vector<int64_t>{0, 3, 6, 9}));
    EXPECT_EQ(plan.total_steps, 9);
    EXPECT_EQ(plan.epoch_of(0), 0);
    EXPECT_EQ(plan.epoch_of(2), 0);
    EXPECT_EQ(plan.epoch_of(3), 1);
    EXPECT_EQ(plan.epoch_of(8), 2);
    EXPECT_EQ(plan.steps_in_epoch(1), 3);
    // Two ranks: each step takes twice the rows.
    EXPECT_EQ(plan_steps(c, 2, [](int64_t) { return 10; }).total_steps, 6);
    // Epochs of different sizes (sample packing): each counted on its own.
    EXPECT_EQ(plan_steps(c, 1, [](int64_t e) { return 4 + 4 * e; }).epoch_first_step, (std::vector<int64_t>{0, 1, 3, 6}));
}

TEST(StepPlan, MaxStepsRunsIntoFurtherEpochs) {
    TrainConfig c;
    c.micro_batch_size = 4;
    c.max_steps = 5;
    StepPlan plan = plan_steps(c, 1, [](int64_t) { return 8; });  // 2 steps an epoch
    EXPECT_EQ(plan.total_steps, 5);
    EXPECT_EQ(plan.epoch_first_step, (std::vector<int64_t>{0, 2, 4, 6}));
    EXPECT_EQ(plan.epoch_of(4), 2);
}

TEST(StepPlan, WholeSaveAndEvalStepsAsBefore) {
    TrainConfig c;
    c.save_steps = 3;
    c.eval_steps = 2;
    StepPlan plan = plan_steps(c, 1, [](int64_t) { return 7; });  // 7 steps
    std::vector<int64_t> saves, evals;
    for (int64_t done = 1; done <= plan.total_steps; ++done) {
        if (plan.saves_after(done)) saves.push_back(done);
        if (plan.evaluates_after(done)) evals.push_back(done);
    }
    // The last step's checkpoint and evaluation come after the loop, once.
    EXPECT_EQ(saves, (std::vector<int64_t>{3, 6}));
    EXPECT_EQ(evals, (std::vector<int64_t>{2, 4, 6}));
}

// warmup_ratio as Axolotl's _configure_warmup_and_logging turns it into steps when it knows the total:
// max(int(warmup_ratio * total_num_steps), 0), then 1 becomes 2. The values below are that formula by hand.
TEST(StepPlan, WarmupRatioIsAxolotlsWholeSteps) {
    TrainConfig c;
    auto warmup = [&](double ratio, int64_t total) {
        c.warmup_ratio = ratio;
        return warmup_steps_of(c, total);
    };
    EXPECT_EQ(warmup(0.1, 25), 2);     // int(2.5)
    EXPECT_EQ(warmup(0.03, 1000), 30);
    EXPECT_EQ(warmup(0.05, 30), 2);    // int(1.5) = 1, which Axolotl makes 2
    EXPECT_EQ(warmup(0.1, 10), 2);     // 1 -> 2
    EXPECT_EQ(warmup(0.01, 10), 0);    // int(0.1): no warmup
    c.warmup_ratio = 0;
    c.warmup_steps = 7;
    EXPECT_EQ(warmup_steps_of(c, 1000), 7);
    // In the plan.
    c.warmup_steps = 0;
    c.warmup_ratio = 0.25;
    EXPECT_EQ(plan_steps(c, 1, [](int64_t) { return 10; }).warmup_steps, 2);  // int(2.5)
}

// A fraction is rounded up as transformers' TrainerState.compute_steps does: ceil(max_steps * fraction).
TEST(StepPlan, FractionalSaveAndEvalStepsRoundUp) {
    TrainConfig c;
    c.num_epochs = 10;
    c.save_steps_fraction = 0.25;
    c.eval_steps_fraction = 0.5;
    StepPlan plan = plan_steps(c, 1, [](int64_t) { return 1; });  // 10 steps
    EXPECT_EQ(plan.save_every, 3);  // ceil(2.5)
    EXPECT_EQ(plan.eval_every, 5);
    std::vector<int64_t> saves, evals;
    for (int64_t done = 1; done <= plan.total_steps; ++done) {
        if (plan.saves_after(done)) saves.push_back(done);
        if (plan.evaluates_after(done)) evals.push_back(done);
    }
    EXPECT_EQ(saves, (std::vector<int64_t>{3, 6, 9}));
    EXPECT_EQ(evals, (std::vector<int64_t>{5}));
    c.save_steps_fraction = 0.1;
    EXPECT_EQ(save_interval(c, 7), 1);  // ceil(0.7)
}

// Axolotl's normalize_config: N saves (evaluations) per epoch is save_steps = 1 / (N * num_epochs) when
// that is below 1, then transformers' rounding as above.
TEST(StepPlan, PerEpochCountsBecomeFractions) {
    TrainConfig c;
    c.num_epochs = 5;
    c.saves_per_epoch = 1;
    EXPECT_EQ(save_interval(c, 10), 2);  // 1/5 of 10 steps: the end of every epoch
    c.num_epochs = 3;
    c.saves_per_epoch = 2;
    EXPECT_EQ(save_interval(c, 30), 5);  // ceil(30 / 6)
    c.num_epochs = 1;
    c.evals_per_epoch = 3;
    EXPECT_EQ(eval_interval(c, 10), 4);  // ceil(10 / 3)
    c.evals_per_epoch = 4;
    EXPECT_EQ(eval_interval(c, 10), 3);  // ceil(2.5)
    // One per run (1 per epoch, 1 epoch) is not below 1: only the one at the end.
    c.saves_per_epoch = 1;
    EXPECT_EQ(save_interval(c, 10), 0);
}

// ---- the config keys ----

TEST(TrainConfig, ReadsWarmupRatioAndFractionalSteps) {
    TrainConfig c = parse("warmup_ratio: 0.1\nsave_steps: 0.25\neval_steps: 0.5\n");
    EXPECT_DOUBLE_EQ(c.warmup_ratio, 0.1);
    EXPECT_EQ(c.save_steps, 0);
    EXPECT_DOUBLE_EQ(c.save_steps_fraction, 0.25);
    EXPECT_DOUBLE_EQ(c.eval_steps_fraction, 0.5);
    c = parse("save_steps: 20\neval_steps: 10\n");
    EXPECT_EQ(c.save_steps, 20);
    EXPECT_EQ(c.eval_steps, 10);
    EXPECT_EQ(c.save_steps_fraction, 0);
    c = parse("saves_per_epoch: 4\nevals_per_epoch: 2\nval_set_size: 0.1\n");
    EXPECT_EQ(c.saves_per_epoch, 4);
    EXPECT_EQ(c.evals_per_epoch, 2);
}

TEST(TrainConfig, ScheduleKeysWriteBackAsRead) {
    TrainConfig c = parse("warmup_ratio: 0.05\nsave_steps: 0.2\nevals_per_epoch: 3\nval_set_size: 0.1\n");
    TrainConfig back = parse_train_config(train_config_yaml(c), "saved.yaml");
    EXPECT_DOUBLE_EQ(back.warmup_ratio, 0.05);
    EXPECT_DOUBLE_EQ(back.save_steps_fraction, 0.2);
    EXPECT_EQ(back.evals_per_epoch, 3);
    c = parse("saves_per_epoch: 2\neval_steps: 0.125\nval_set_size: 0.1\n");
    back = parse_train_config(train_config_yaml(c), "saved.yaml");
    EXPECT_EQ(back.saves_per_epoch, 2);
    EXPECT_DOUBLE_EQ(back.eval_steps_fraction, 0.125);
}

// The conflicts Axolotl's validators raise, named by their keys, with the line of the key that clashes.
TEST(TrainConfig, ConflictingScheduleKeysAreErrors) {
    std::string msg = parse_error("warmup_steps: 10\nwarmup_ratio: 0.1\n");
    EXPECT_NE(msg.find("run.yaml:4: warmup_ratio: warmup_steps and warmup_ratio are mutually exclusive"), std::string::npos) << msg;
    msg = parse_error("save_steps: 10\nsaves_per_epoch: 2\n");
    EXPECT_NE(msg.find("run.yaml:4: saves_per_epoch: save_steps and saves_per_epoch are mutually exclusive"), std::string::npos) << msg;
    msg = parse_error("eval_steps: 0.5\nevals_per_epoch: 2\nval_set_size: 0.1\n");
    EXPECT_NE(msg.find("run.yaml:4: evals_per_epoch: eval_steps and evals_per_epoch are mutually exclusive"), std::string::npos) << msg;
    msg = parse_error("rl: simpo\nwarmup_ratio: 0.1\n");
    EXPECT_NE(msg.find("warmup_ratio: is not supported with rl: simpo (as in Axolotl); use warmup_steps"), std::string::npos) << msg;
    // Axolotl tests the values, not the keys: a 0 beside the other key is no conflict.
    EXPECT_EQ(parse("warmup_steps: 0\nwarmup_ratio: 0.1\n").warmup_ratio, 0.1);
    EXPECT_EQ(parse("save_steps: 0\nsaves_per_epoch: 2\n").saves_per_epoch, 2);
}

TEST(TrainConfig, ScheduleKeyValuesAreChecked) {
    std::string msg = parse_error("save_steps: 2.5\n");
    EXPECT_NE(msg.find("save_steps: must be a whole number of steps, or a fraction of the run below 1, got 2.5"), std::string::npos) << msg;
    msg = parse_error("eval_steps: -0.5\n");
    EXPECT_NE(msg.find("eval_steps: must be a whole number of steps, or a fraction of the run below 1, got -0.5"), std::string::npos) << msg;
    msg = parse_error("warmup_ratio: 1.5\n");
    EXPECT_NE(msg.find("warmup_ratio: must be in [0, 1]"), std::string::npos) << msg;
    msg = parse_error("saves_per_epoch: 0.5\n");
    EXPECT_NE(msg.find("saves_per_epoch: must be an integer"), std::string::npos) << msg;
    EXPECT_EQ(parse("save_steps: 4.0\n").save_steps, 4);  // a whole float is a step count, as in transformers
}

// ---- early stopping ----

TEST(EarlyStopping, StopsAfterPatienceEvaluationsWithoutALowerLoss) {
    EarlyStopping stop(2);
    EXPECT_FALSE(stop.observe(1.0));
    EXPECT_FALSE(stop.observe(0.9));
    EXPECT_FALSE(stop.observe(0.9));  // not lower: 1
    EXPECT_EQ(stop.evals_without_improvement(), 1);
    EXPECT_FALSE(stop.observe(0.8));  // lower: back to 0
    EXPECT_FALSE(stop.observe(0.85));
    EXPECT_TRUE(stop.observe(0.81));
    EXPECT_DOUBLE_EQ(stop.best_loss(), 0.8);
    // A resumed run goes on counting from its checkpoint.
    EarlyStopping resumed(2, 0.8, 1);
    EXPECT_TRUE(resumed.observe(0.9));
    // Patience 0 never stops.
    EarlyStopping off(0);
    for (int i = 0; i < 5; ++i) EXPECT_FALSE(off.observe(1.0));
    EXPECT_EQ(off.evals_without_improvement(), 4);
}

// ---- checkpoints and retention ----

struct CheckpointDir {
    test::TempDir dir;
    std::unique_ptr<RunStore> store = RunStore::open(dir.str() + "/lathe.db");
    int64_t run = store->create_run({});
    std::function<std::string()> write(int64_t step) {
        return [this, step] {
            fs::path p = dir.path / ("checkpoint-" + std::to_string(step));
            fs::create_directories(p);
            std::ofstream(p / "weights") << step;
            return p.string();
        };
    }
};

TEST(Checkpointer, KeepsTheNewestSaveTotalLimit) {
    CheckpointDir d;
    Checkpointer checkpoints(*d.store, d.run, 2, true);
    for (int64_t step : {2, 4, 6}) EXPECT_EQ(checkpoints.save(step, d.write(step)), (d.dir.path / ("checkpoint-" + std::to_string(step))).string());
    EXPECT_FALSE(fs::exists(d.dir.path / "checkpoint-2"));
    EXPECT_TRUE(fs::exists(d.dir.path / "checkpoint-4"));
    EXPECT_TRUE(fs::exists(d.dir.path / "checkpoint-6"));
    auto recorded = d.store->checkpoints(d.run);
    ASSERT_EQ(recorded.size(), 2u);
    EXPECT_EQ(recorded[0].step, 4);
    EXPECT_EQ(recorded[1].step, 6);
    EXPECT_TRUE(checkpoints.has(6));
    EXPECT_FALSE(checkpoints.has(4));
    // A resumed run's Checkpointer counts the checkpoints already there.
    Checkpointer resumed(*d.store, d.run, 2, true);
    EXPECT_EQ(resumed.kept().size(), 2u);
    resumed.save(8, d.write(8));
    EXPECT_FALSE(fs::exists(d.dir.path / "checkpoint-4"));
    EXPECT_EQ(d.store->checkpoints(d.run).size(), 2u);
}

TEST(Checkpointer, NoLimitKeepsEveryOneAndOtherRanksWriteNothing) {
    CheckpointDir d;
    Checkpointer checkpoints(*d.store, d.run, 0, true);
    for (int64_t step : {1, 2, 3}) checkpoints.save(step, d.write(step));
    EXPECT_EQ(d.store->checkpoints(d.run).size(), 3u);
    Checkpointer other_rank(*d.store, d.run, 0, false);
    EXPECT_EQ(other_rank.save(4, d.write(4)), std::nullopt);
    EXPECT_TRUE(other_rank.has(4));  // it still knows the step is done
    EXPECT_FALSE(fs::exists(d.dir.path / "checkpoint-4"));
    EXPECT_EQ(d.store->checkpoints(d.run).size(), 3u);
}

// ---- parameter groups ----

TEST(ParamGroups, LoraAAndBAndWholeModules) {
    TrainConfig c;
    c.adapter = "lora";
    c.weight_decay = 0.01;
    c.loraplus_lr_ratio = 16;
    auto t = [] { return at::tensor(std::vector<float>{1, 2}); };
    auto groups = make_param_groups(c, {{"m.q.lora_A.default.weight", t()}, {"m.q.lora_B.default.weight", t()}, {"lm_head.modules_to_save.weight", t()}});
    ASSERT_EQ(groups.size(), 3u);
    EXPECT_EQ(groups[0].name, "lora_A");
    EXPECT_EQ(groups[0].params.size(), 1u);
    EXPECT_EQ(groups[1].name, "lora_B");
    EXPECT_DOUBLE_EQ(groups[1].lr_scale, 16);
    EXPECT_EQ(groups[2].name, "modules_to_save");
    for (const auto& g : groups) EXPECT_DOUBLE_EQ(g.weight_decay, 0.01);
}

TEST(ParamGroups, FullFinetuningDecaysMatricesOnly) {
    TrainConfig c;
    c.weight_decay = 0.1;
    auto groups = make_param_groups(c, {{"w", at::ones({2, 2})}, {"bias", at::ones({2})}, {"norm", at::ones({2})}});
    ASSERT_EQ(groups.size(), 2u);
    EXPECT_EQ(groups[0].params.size(), 1u);
    EXPECT_DOUBLE_EQ(groups[0].weight_decay, 0.1);
    EXPECT_EQ(groups[1].params.size(), 2u);
    EXPECT_DOUBLE_EQ(groups[1].weight_decay, 0.0);
}

// ---- SGD ----

// torch.optim.SGD (momentum 0) by hand, in numbers that binary floats hold exactly:
// d = grad + weight_decay * p; p -= lr * d.
TEST(SGD, TwoParametersByHand) {
    at::Tensor p = at::tensor(std::vector<float>{1.0f, -2.0f}).requires_grad_(true);
    ParamGroup g{.name = "g", .params = {p}, .lr_scale = 1.0, .weight_decay = 0.25};
    SGD sgd({g});
    p.mutable_grad() = at::tensor(std::vector<float>{0.5f, 0.25f});
    sgd.step(0.5);
    // d = [0.5 + 0.25, 0.25 - 0.5] = [0.75, -0.25]; p = [1 - 0.375, -2 + 0.125]
    EXPECT_EQ(p[0].item<float>(), 0.625f);
    EXPECT_EQ(p[1].item<float>(), -1.875f);
    // lr_scale multiplies the learning rate; a parameter without a gradient is left alone.
    at::Tensor q = at::tensor(std::vector<float>{4.0f, 8.0f}).requires_grad_(true), idle = at::tensor(std::vector<float>{3.0f}).requires_grad_(true);
    SGD scaled({ParamGroup{.name = "b", .params = {q, idle}, .lr_scale = 2.0, .weight_decay = 0.0}});
    q.mutable_grad() = at::tensor(std::vector<float>{1.0f, -1.0f});
    scaled.step(0.25);  // lr 0.5
    EXPECT_EQ(q[0].item<float>(), 3.5f);
    EXPECT_EQ(q[1].item<float>(), 8.5f);
    EXPECT_EQ(idle.item<float>(), 3.0f);
    EXPECT_EQ(scaled.steps_taken(), 1);
    scaled.zero_grad();
    EXPECT_FALSE(q.grad().defined());
    EXPECT_TRUE(scaled.state().empty());
}

TEST(SGD, MatchesTorchOptimSGD) {
    const char* dir = std::getenv("LATHE_INTEROP_REFS");
    if (!dir) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which makes the references";
    const json ref = read_json_file(std::string(dir) + "/optimizer/sgd.json");
    auto tensor_of = [](const json& values, const json& shape) {
        return at::tensor(values.get<std::vector<double>>(), at::kDouble).to(at::kFloat).reshape(shape.get<std::vector<int64_t>>());
    };
    std::vector<ParamGroup> groups;
    for (size_t g = 0; g < ref["groups"].size(); ++g) {
        const json& group = ref["groups"][g];
        // step(1.0): each group's lr_scale is its learning rate.
        ParamGroup pg{.name = "g" + std::to_string(g), .params = {}, .lr_scale = group["lr"], .weight_decay = group["weight_decay"]};
        for (const auto& p : group["params"]) pg.params.push_back(tensor_of(p["init"], p["shape"]).requires_grad_(true));
        groups.push_back(pg);
    }
    SGD sgd(groups);
    for (int s = 0; s < ref["steps"].get<int>(); ++s) {
        for (size_t g = 0; g < groups.size(); ++g)
            for (size_t i = 0; i < groups[g].params.size(); ++i) {
                const json& p = ref["groups"][g]["params"][i];
                groups[g].params[i].mutable_grad() = tensor_of(p["grads"][s], p["shape"]);
            }
        sgd.step(1.0);
        sgd.zero_grad();
    }
    for (size_t g = 0; g < groups.size(); ++g)
        for (size_t i = 0; i < groups[g].params.size(); ++i) {
            const json& p = ref["groups"][g]["params"][i];
            // The same operations in the same order as torch's CPU path: equal to the bit.
            EXPECT_TRUE(groups[g].params[i].equal(tensor_of(p["final"]["param"], p["shape"]))) << g << "." << i;
        }
}

}  // namespace
}  // namespace lathe

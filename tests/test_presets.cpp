// The Train page's presets (core/train/presets.h): each gives the method it names and a configuration
// that `lathe train` accepts, and keeps the model, data and output folder it was applied to.
#include <gtest/gtest.h>

#include <cctype>

#include "core/train/presets.h"
#include "core/train/training_method.h"
#include "core/util/error.h"

namespace lathe {
namespace {

TrainConfig demo_config() {
    TrainConfig c;
    c.base_model = LATHE_SOURCE_DIR "/resources/demo-model";
    DatasetSpec data;
    data.path = LATHE_SOURCE_DIR "/resources/demo-data/train.jsonl";
    data.type = "pretokenized";
    c.datasets = {data};
    c.output_dir = "/tmp/lathe-preset-test";
    return c;
}

class Preset : public ::testing::TestWithParam<std::string> {};

TEST_P(Preset, IsAValidRunThatKeepsModelDataAndOutput) {
    TrainConfig c = demo_config();
    ASSERT_TRUE(apply_train_preset(c, GetParam()));
    EXPECT_EQ(c.base_model, demo_config().base_model);
    ASSERT_EQ(c.datasets.size(), 1u);
    EXPECT_EQ(c.datasets[0].path, demo_config().datasets[0].path);
    EXPECT_EQ(c.output_dir, demo_config().output_dir);
    // What the Studio saves and `lathe train` reads: every key validated, none with a problem.
    try {
        parse_train_config(train_config_yaml(c), "preset.yaml");
    } catch (const Error& e) {
        ADD_FAILURE() << GetParam() << ": " << e.what();
    }
}

INSTANTIATE_TEST_SUITE_P(All, Preset, ::testing::Values("Quick LoRA", "Quality LoRA", "QLoRA", "Full finetune", "Continued pretraining", "DPO LoRA"),
                         [](const auto& info) {
                             std::string name;
                             for (char ch : info.param) if (std::isalnum(static_cast<unsigned char>(ch))) name += ch;
                             return name;
                         });

TEST(Presets, ListedInOrderWithADescription) {
    std::vector<std::string> names;
    for (const TrainPreset& p : train_presets()) {
        names.push_back(p.name);
        EXPECT_FALSE(p.description.empty()) << p.name;
    }
    EXPECT_EQ(names, (std::vector<std::string>{"Quick LoRA", "Quality LoRA", "QLoRA", "Full finetune", "Continued pretraining", "DPO LoRA"}));
}

TEST(Presets, EachGivesItsMethod) {
    auto method_after = [](const char* name) {
        TrainConfig c = demo_config();
        apply_train_preset(c, name);
        return c;
    };
    EXPECT_EQ(training_method(method_after("Quick LoRA")), TrainingMethod::lora);
    EXPECT_EQ(training_method(method_after("Quality LoRA")), TrainingMethod::rslora);
    const TrainConfig qlora = method_after("QLoRA");
    EXPECT_EQ(training_method(qlora), TrainingMethod::lora);
    EXPECT_EQ(qlora.adapter, "qlora");
    EXPECT_TRUE(qlora.load_in_4bit);
    EXPECT_TRUE(qlora.gradient_checkpointing);
    EXPECT_EQ(training_method(method_after("Full finetune")), TrainingMethod::full);
    const TrainConfig cpt = method_after("Continued pretraining");
    EXPECT_TRUE(is_continued_pretraining(cpt));
    EXPECT_TRUE(cpt.sample_packing);
}

// Continued pretraining: the learning rate warmed up again and decayed by cosine to a tenth; the first
// dataset is the new domain, a further one general text replayed at a quarter of its rows; a probe of
// each, evaluated every eval_steps, so the general text's rise shows on the Monitor.
TEST(Presets, ContinuedPretrainingRewarmsReplaysAndProbes) {
    TrainConfig c = demo_config();
    DatasetSpec general;
    general.path = "/data/web.jsonl";
    c.datasets.push_back(general);
    ASSERT_TRUE(apply_train_preset(c, "Continued pretraining"));
    EXPECT_EQ(c.lr_scheduler, "cosine");
    EXPECT_GT(c.warmup_steps, 0);
    EXPECT_EQ(c.cosine_min_lr_ratio, 0.1);
    EXPECT_GT(c.eval_steps, 0);
    ASSERT_EQ(c.datasets.size(), 2u);
    EXPECT_EQ(c.datasets[0].weight, 1.0);
    EXPECT_EQ(c.datasets[1].weight, 0.25);
    ASSERT_EQ(c.probe_datasets.size(), 2u);
    EXPECT_EQ(c.probe_datasets[0].name, "domain");
    EXPECT_EQ(c.probe_datasets[0].dataset.path, c.datasets[0].path);
    EXPECT_EQ(c.probe_datasets[1].name, "general");
    EXPECT_EQ(c.probe_datasets[1].dataset.path, "/data/web.jsonl");
    EXPECT_EQ(c.probe_datasets[1].dataset.type, "text");
    EXPECT_EQ(c.probe_datasets[1].dataset.weight, 1.0);  // a probe is evaluated whole, not mixed
    EXPECT_EQ(c.probe_datasets[1].max_rows, 64);
    // Saved and read back by `lathe train` without a problem, probes included.
    TrainConfig back = parse_train_config(train_config_yaml(c), "cpt.yaml");
    ASSERT_EQ(back.probe_datasets.size(), 2u);
    EXPECT_EQ(back.datasets[1].weight, 0.25);
    // Applied again: a replay weight already chosen stays, the probes are made afresh.
    c.datasets[1].weight = 0.05;
    apply_train_preset(c, "Continued pretraining");
    EXPECT_EQ(c.datasets[1].weight, 0.05);
    EXPECT_EQ(c.probe_datasets.size(), 2u);
    // Another method leaves the decay floor at its default.
    apply_train_preset(c, "Full finetune");
    EXPECT_EQ(c.cosine_min_lr_ratio, 0.0);
    // A preference run has no probes yet: the DPO preset leaves none behind.
    apply_train_preset(c, "Continued pretraining");
    apply_train_preset(c, "DPO LoRA");
    EXPECT_TRUE(c.probe_datasets.empty());
}

TEST(Presets, LeavingQloraTurnsFourBitsOff) {
    TrainConfig c = demo_config();
    apply_train_preset(c, "QLoRA");
    apply_train_preset(c, "Quick LoRA");
    EXPECT_EQ(c.adapter, "lora");
    EXPECT_FALSE(c.load_in_4bit);
    apply_train_preset(c, "QLoRA");
    apply_train_preset(c, "Full finetune");
    EXPECT_TRUE(c.adapter.empty());
    EXPECT_FALSE(c.load_in_4bit);
    EXPECT_FALSE(c.lora_target_linear);
}

TEST(Presets, DpoTrainsOnPairsAndOthersGoBackToSupervised) {
    TrainConfig c = demo_config();
    c.val_set_size = 0.1;
    apply_train_preset(c, "DPO LoRA");
    EXPECT_EQ(c.rl, "dpo");
    EXPECT_EQ(training_method(c), TrainingMethod::lora);
    EXPECT_EQ(c.val_set_size, 0.1);            // kept: the held-out pairs are evaluated as TRL evaluates them
    EXPECT_EQ(c.datasets[0].type, "");         // TRL's prompt/chosen/rejected rows
    EXPECT_EQ(method_label(c), "DPO · LoRA");
    apply_train_preset(c, "Quick LoRA");
    EXPECT_TRUE(c.rl.empty());
    EXPECT_EQ(method_label(c), "LoRA");
}

TEST(Presets, UnknownNameChangesNothing) {
    TrainConfig c = demo_config();
    c.learning_rate = 0.123;
    EXPECT_FALSE(apply_train_preset(c, "Turbo"));
    EXPECT_EQ(c.learning_rate, 0.123);
}

}  // namespace
}  // namespace lathe

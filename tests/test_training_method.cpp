// training_method(): the one place the Train page, the Runs table and the export wizard learn how a run
// trains, read from the YAML keys Axolotl defines (adapter, peft_use_rslora, peft_use_dora).
#include <gtest/gtest.h>

#include "core/train/train_config.h"
#include "core/train/training_method.h"

using namespace lathe;

namespace {

TrainConfig parse(const std::string& extra) {
    return parse_train_config("base_model: /models/m\ndatasets: [/data/d.jsonl]\noutput_dir: /runs/o\n" + extra, "run.yaml");
}

}  // namespace

TEST(TrainingMethod, FromTheConfigKeys) {
    EXPECT_EQ(training_method(parse("")), TrainingMethod::full);
    EXPECT_EQ(training_method(parse("adapter: lora\nlora_target_linear: true\n")), TrainingMethod::lora);
    EXPECT_EQ(training_method(parse("adapter: lora\nlora_target_linear: true\npeft_use_rslora: true\n")), TrainingMethod::rslora);
    EXPECT_EQ(training_method(parse("adapter: lora\nlora_target_linear: true\npeft_use_dora: true\n")), TrainingMethod::dora);
    // DoRA decides the layer; rsLoRA then only changes its scaling (PEFT's LoraConfig).
    EXPECT_EQ(training_method(parse("adapter: lora\nlora_target_linear: true\npeft_use_dora: true\npeft_use_rslora: true\n")), TrainingMethod::dora);
}

TEST(TrainingMethod, SetAndReadBackThroughYaml) {
    for (TrainingMethod m : {TrainingMethod::full, TrainingMethod::lora, TrainingMethod::rslora, TrainingMethod::dora}) {
        TrainConfig c = parse("lora_target_linear: true\n");
        set_training_method(c, m);
        EXPECT_EQ(training_method(c), m) << to_string(m);
        // What `lathe train` would read from the YAML the Train page writes.
        EXPECT_EQ(training_method(parse_train_config(train_config_yaml(c), "written.yaml")), m) << to_string(m);
        EXPECT_EQ(parse_training_method(to_string(m)), m);
        EXPECT_EQ(trains_adapter(m), m != TrainingMethod::full);
    }
    // A QLoRA run stays QLoRA when the Train page switches between LoRA, rsLoRA and DoRA.
    TrainConfig q = parse("adapter: qlora\nload_in_4bit: true\nlora_target_linear: true\n");
    EXPECT_EQ(training_method(q), TrainingMethod::lora);
    set_training_method(q, TrainingMethod::dora);
    EXPECT_EQ(q.adapter, "qlora");
    EXPECT_EQ(training_method(q), TrainingMethod::dora);
    EXPECT_EQ(method_label(q), "QLoRA (DoRA)");
    set_training_method(q, TrainingMethod::lora);
    EXPECT_EQ(method_label(q), "QLoRA");
    // Full finetuning cannot train 4-bit weights: the base goes back to its stored precision.
    set_training_method(q, TrainingMethod::full);
    EXPECT_TRUE(q.adapter.empty());
    EXPECT_FALSE(q.load_in_4bit);
    EXPECT_EQ(method_label(q), "full");
    EXPECT_NO_THROW(parse_train_config(train_config_yaml(q), "written.yaml"));
    EXPECT_EQ(method_label(parse("adapter: lora\nlora_target_linear: true\npeft_use_rslora: true\n")), "rsLoRA");
    EXPECT_FALSE(parse_training_method("LoRA"));
    EXPECT_STREQ(display_name(TrainingMethod::rslora), "rsLoRA");
}

TEST(TrainingMethod, PreferenceRunsNameTheirObjective) {
    EXPECT_EQ(method_label(parse("adapter: lora\nlora_target_linear: true\nrl: dpo\n")), "DPO · LoRA");
    EXPECT_EQ(method_label(parse("adapter: qlora\nload_in_4bit: true\nlora_target_linear: true\nrl: orpo\n")), "ORPO · QLoRA");
    EXPECT_EQ(method_label(parse("rl: simpo\n")), "SimPO · full");
    EXPECT_EQ(method_label(parse("adapter: lora\nlora_target_linear: true\nrl: ipo\n")), "IPO · LoRA");
    EXPECT_EQ(preference_display_name("kto"), nullptr);
}

TEST(TrainingMethod, ContinuedPretrainingIsEveryDatasetRawText) {
    EXPECT_FALSE(is_continued_pretraining(parse("")));
    EXPECT_TRUE(is_continued_pretraining(parse_train_config(
        "base_model: /m\ndatasets:\n  - path: /a.txt\n    type: text\n  - path: /b.txt\n    type: text\noutput_dir: /o\n", "run.yaml")));
    EXPECT_FALSE(is_continued_pretraining(parse_train_config(
        "base_model: /m\ndatasets:\n  - path: /a.txt\n    type: text\n  - path: /b.jsonl\n    type: alpaca\noutput_dir: /o\n", "run.yaml")));
}

// QLoRA training: adapter: qlora with load_in_4bit (Axolotl's keys) and the bnb_4bit_* keys; the 4-bit
// linear's gradient against LibTorch's composite ops; a step keeping the 4-bit weights, not a dequantized
// copy of each layer; and step losses against transformers + PEFT + bitsandbytes (CPU), whose runs
// tests/interop/make_qlora_training_references.py records (LATHE_INTEROP_REFS/qlora_training).
#include <gtest/gtest.h>

#include <ATen/core/grad_mode.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/randn.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/adapters/peft.h"
#include "core/io/tensor_io.h"
#include "core/models/linear_4bit.h"
#include "core/models/loader.h"
#include "core/quant/quantize_model.h"
#include "core/train/lora.h"
#include "core/train/qlora_base.h"
#include "core/train/train_config.h"
#include "core/train/train_step.h"
#include "core/util/error.h"
#include "core/util/json_file.h"
#include "tests/child_process.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::write_file;
using nlohmann::json;

const std::string kData = "datasets:\n  - path: data.jsonl\n    type: pretokenized\n";

std::string config_error(const std::string& yaml) {
    try {
        parse_train_config("base_model: m\n" + kData + yaml, "run.yaml");
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(QloraConfig, ReadsAxolotlKeysAndWritesThemBack) {
    TrainConfig c = parse_train_config("base_model: m\n" + kData +
                                           "adapter: qlora\nload_in_4bit: true\nload_in_8bit: false\nbnb_4bit_quant_type: fp4\n"
                                           "bnb_4bit_use_double_quant: false\nbnb_4bit_compute_dtype: bfloat16\nlora_target_linear: true\n",
                                       "run.yaml");
    EXPECT_EQ(c.adapter, "qlora");
    EXPECT_TRUE(uses_lora(c));
    EXPECT_TRUE(c.load_in_4bit);
    EXPECT_EQ(c.bnb_4bit_quant_type, "fp4");
    EXPECT_EQ(c.bnb_4bit_use_double_quant, std::optional<bool>(false));
    EXPECT_EQ(c.bnb_4bit_compute_dtype, "bfloat16");
    TrainConfig again = parse_train_config(train_config_yaml(c), "saved.yaml");
    EXPECT_EQ(again.adapter, "qlora");
    EXPECT_TRUE(again.load_in_4bit);
    EXPECT_EQ(again.bnb_4bit_quant_type, "fp4");
    EXPECT_EQ(again.bnb_4bit_use_double_quant, std::optional<bool>(false));
    EXPECT_EQ(again.bnb_4bit_compute_dtype, "bfloat16");

    // Axolotl's bnb_config_kwargs mapping gives the same keys.
    TrainConfig kw = parse_train_config("base_model: m\n" + kData +
                                            "adapter: qlora\nload_in_4bit: true\nlora_target_linear: true\n"
                                            "bnb_config_kwargs:\n  bnb_4bit_quant_type: fp4\n  bnb_4bit_use_double_quant: true\n",
                                        "run.yaml");
    EXPECT_EQ(kw.bnb_4bit_quant_type, "fp4");
    EXPECT_EQ(kw.bnb_4bit_use_double_quant, std::optional<bool>(true));

    // Unset keys: Axolotl's defaults on a float checkpoint, compute in the run's dtype.
    TrainConfig plain = parse_train_config("base_model: m\n" + kData + "adapter: qlora\nload_in_4bit: true\nlora_target_linear: true\n", "run.yaml");
    quant::BnbQuantizationConfig q = qlora_quantization(plain, true);
    EXPECT_EQ(q.quant_type, "nf4");
    EXPECT_TRUE(q.double_quant);
    EXPECT_EQ(q.compute_dtype, "bfloat16");
    EXPECT_EQ(qlora_quantization(plain, false).compute_dtype, "float32");
}

TEST(QloraConfig, InconsistentKeysAreErrorsNamingTheKey) {
    const std::string lora = "lora_target_linear: true\n";
    std::string e = config_error("adapter: qlora\n" + lora);
    EXPECT_NE(e.find("run.yaml:5: adapter: qlora needs load_in_4bit: true"), std::string::npos) << e;
    e = config_error("load_in_4bit: true\n");
    EXPECT_NE(e.find("load_in_4bit: 4-bit base weights cannot be finetuned in full; set adapter: qlora"), std::string::npos) << e;
    e = config_error("adapter: lora\nload_in_4bit: true\n" + lora);
    EXPECT_NE(e.find("load_in_4bit: applies to adapter: qlora"), std::string::npos) << e;
    e = config_error("adapter: qlora\nload_in_8bit: true\n" + lora);
    EXPECT_NE(e.find("load_in_8bit: 8-bit base weights are not supported"), std::string::npos) << e;
    e = config_error("adapter: lora\nbnb_4bit_quant_type: nf4\n" + lora);
    EXPECT_NE(e.find("bnb_4bit_quant_type: applies with load_in_4bit: true"), std::string::npos) << e;
    e = config_error("adapter: qlora\nload_in_4bit: true\nbnb_4bit_quant_type: int4\nbnb_4bit_compute_dtype: fp8\n" + lora);
    EXPECT_NE(e.find("bnb_4bit_quant_type: 'int4' is not supported (nf4 or fp4)"), std::string::npos) << e;
    EXPECT_NE(e.find("bnb_4bit_compute_dtype: 'fp8' is not supported"), std::string::npos) << e;
    e = config_error("adapter: qlora\nload_in_4bit: true\nbnb_config_kwargs:\n  llm_int8_threshold: 6.0\n" + lora);
    EXPECT_NE(e.find("bnb_config_kwargs.llm_int8_threshold: not supported"), std::string::npos) << e;
}

// A pre-quantized copy of the llama fixture (nf4, no double quantization) in `dir`.
std::string prequantized_llama(const test::TempDir& dir) {
    std::string out = dir.str() + "/llama-nf4";
    quant::QuantizeModelOptions options;
    options.config.quant_type = "nf4";
    options.config.double_quant = false;
    quant::quantize_model(test::hf_model("llama"), out, options);
    return out;
}

TEST(QloraBase, PreQuantizedCheckpointNeedsQloraAndAgreeingKeys) {
    test::TempDir dir;
    const std::string base = prequantized_llama(dir);
    auto error = [&](const std::string& yaml) {
        TrainConfig c = parse_train_config("base_model: " + base + "\n" + kData + yaml, "run.yaml");
        try {
            load_training_base(c, {});
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    std::string e = error("");
    EXPECT_NE(e.find("is a bitsandbytes 4-bit checkpoint (bitsandbytes 4-bit nf4"), std::string::npos) << e;
    EXPECT_NE(e.find("cannot be finetuned in full; set adapter: qlora and load_in_4bit: true"), std::string::npos) << e;
    e = error("adapter: lora\nlora_target_linear: true\n");
    EXPECT_NE(e.find("run.yaml: adapter: "), std::string::npos) << e;
    EXPECT_NE(e.find("set adapter: qlora and load_in_4bit: true"), std::string::npos) << e;
    e = error("adapter: qlora\nload_in_4bit: true\nlora_target_linear: true\nbnb_4bit_quant_type: fp4\n");
    EXPECT_NE(e.find("bnb_4bit_quant_type: fp4, but"), std::string::npos) << e;
    EXPECT_NE(e.find("set it to nf4"), std::string::npos) << e;
    e = error("adapter: qlora\nload_in_4bit: true\nlora_target_linear: true\nbnb_4bit_use_double_quant: true\n");
    EXPECT_NE(e.find("bnb_4bit_use_double_quant: true, but"), std::string::npos) << e;

    // Used as stored (not quantized again): every decoder-block linear is 4-bit, lm_head is not.
    TrainConfig ok = parse_train_config("base_model: " + base + "\n" + kData + "adapter: qlora\nload_in_4bit: true\nlora_target_linear: true\n"
                                        "bnb_4bit_compute_dtype: bfloat16\n", "run.yaml");
    auto model = load_training_base(ok, {});
    for (Linear* layer : model->linears()) {
        const bool head = layer == &model->lm->lm_head;
        EXPECT_EQ(layer->weight_4bit == nullptr, head) << layer->name;
        if (!head) {
            EXPECT_EQ(layer->compute_dtype, std::optional<at::ScalarType>(at::kBFloat16)) << layer->name;
        }
    }
}

TEST(QloraBase, FloatCheckpointIsQuantizedOnLoadAndAdaptersStayFloat32) {
    TrainConfig c = parse_train_config("base_model: " + test::hf_model("qwen2") + "\n" + kData +
                                           "adapter: qlora\nload_in_4bit: true\nlora_target_linear: true\nbnb_4bit_quant_type: fp4\n",
                                       "run.yaml");
    auto model = load_training_base(c, {});
    ASSERT_TRUE(model->config.quantization);
    EXPECT_EQ(model->config.quantization->quant_type, "fp4");
    EXPECT_TRUE(model->config.quantization->double_quant);
    int quantized = 0;
    for (Linear* layer : model->linears()) quantized += layer->weight_4bit != nullptr;
    EXPECT_EQ(quantized, 7 * model->config.num_layers);
    LoraOptions options{.r = 4, .alpha = 8, .dropout = 0, .rslora = false, .dora = true, .target_modules = {"all-linear"}};
    EXPECT_EQ(add_lora(*model, options, 3), quantized);
    for (auto& [name, p] : make_lora_trainable(*model, at::kFloat)) {
        EXPECT_EQ(p.scalar_type(), at::kFloat) << name;
        EXPECT_TRUE(p.requires_grad()) << name;
    }
}

// `lathe train --dry-run` on a config; its stdout.
std::string dry_run(const test::TempDir& dir, const std::string& base, const std::string& yaml) {
    std::string cfg = write_file(dir.path / "dry.yaml", "base_model: " + base + "\ndatasets:\n  - path: " + test::fixtures() +
                                                            "/hf/training/llama/train.jsonl\n    type: pretokenized\n" + yaml);
    int code = -1;
    const std::string text = test::run_for_text({LATHE_CLI, "train", "--dry-run", cfg, "--store", dir.str() + "/lathe.db"}, &code);
    EXPECT_EQ(code, 0) << text;
    return text;
}

TEST(QloraDryRun, EstimateShowsTheFourBitBase) {
    test::TempDir dir;
    std::string text = dry_run(dir, test::hf_model("llama"), "adapter: qlora\nload_in_4bit: true\nlora_target_linear: true\nbnb_4bit_quant_type: fp4\n");
    for (const char* piece : {"QLoRA r=8", "quantization    bitsandbytes 4-bit fp4, double quantization, compute float32 (on load)",
                              "73.7K in 4 bits, one layer dequantized at a time", "memory estimate", "total"})
        EXPECT_NE(text.find(piece), std::string::npos) << piece << " in\n" << text;
    text = dry_run(dir, prequantized_llama(dir), "adapter: qlora\nload_in_4bit: true\nlora_target_linear: true\n");
    EXPECT_NE(text.find("quantization    bitsandbytes 4-bit nf4, compute float32 (as stored)"), std::string::npos) << text;
}

TEST(Linear4bit, ForwardAndInputGradientEqualTheDequantizedLinear) {
    at::manual_seed(0);
    at::Tensor w = at::randn({96, 128}) * 0.05;
    auto q = std::make_shared<const quant::Bnb4bitTensor>(quant::quantize_4bit(w, {.type = quant::Bnb4bitType::nf4, .blocksize = 64, .double_quant = true, .storage = at::kByte}));
    at::Tensor dense = quant::dequantize_4bit(q->packed, q->state);
    at::Tensor x = at::randn({3, 5, 128}).requires_grad_(true);
    at::Tensor x_ref = x.detach().clone().requires_grad_(true);
    at::Tensor g = at::randn({3, 5, 96});
    at::Tensor y = linear_4bit(x, q);
    at::Tensor y_ref = at::linear(x_ref, dense);
    EXPECT_TRUE(y.equal(y_ref));
    y.backward(g);
    y_ref.backward(g);
    EXPECT_LE(test::max_abs_diff(x.grad(), x_ref.grad()), 1e-6 * x_ref.grad().abs().max().item<double>());
}

// Peak resident memory of this process since the last reset (Linux: /proc/self/status VmHWM), in bytes.
int64_t peak_rss_bytes() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
    return -1;
}
bool reset_peak_rss() { return static_cast<bool>(std::ofstream("/proc/self/clear_refs") << "5"); }

TEST(QloraStep, KeepsTheFourBitWeightsNotADequantizedCopyPerLayer) {
    // A Llama shape whose dequantized decoder linears (float32) are 32 x 37 MiB = 1184 MiB: a step that kept
    // each layer's dequantized weight for backward would grow by at least that much; one that dequantizes
    // again in backward grows by what one layer's dequantization and the (small) activations need,
    // independent of the number of layers (measured: 112 MiB alone, 211 MiB beside a -j2 test run, from
    // the allocator's per-thread arenas), so the bound is a third of the hoarded size.
    test::TempDir dir;
    json config = read_json_file(test::hf_model("llama") + "/config.json");
    config["hidden_size"] = 1024;
    config["intermediate_size"] = 1792;
    config["num_attention_heads"] = 8;
    config["num_key_value_heads"] = 8;
    config["head_dim"] = 128;
    config["num_hidden_layers"] = 32;
    config["vocab_size"] = 64;
    write_file(dir.path / "config.json", config.dump());
    LoadOptions options;
    options.load_in_4bit = quant::BnbQuantizationConfig{};
    auto model = random_model((dir.path / "config.json").string(), options);
    add_lora(*model, {.r = 4, .alpha = 8, .dropout = 0, .rslora = false, .dora = false, .target_modules = {"all-linear"}}, 1);
    auto params = make_lora_trainable(*model, at::kFloat);
    for (auto& [_, p] : params) {
        at::NoGradGuard no_grad;
        p.normal_(0, 0.02);
    }
    Example row;
    for (int i = 0; i < 32; ++i) row.input_ids.push_back(i % 64), row.labels.push_back(i % 64);
    forward_backward(*model, {collate({row}, 0)});  // warm-up: allocations made once
    for (auto& [_, p] : params) p.mutable_grad() = at::Tensor();
    if (!reset_peak_rss()) GTEST_SKIP() << "no /proc/self/clear_refs to reset the peak resident size";
    const int64_t before = peak_rss_bytes();
    forward_backward(*model, {collate({row}, 0)});
    const int64_t growth = peak_rss_bytes() - before;
    const double dequantized_model = 32 * (4.0 * 1024 * 1024 + 3.0 * 1024 * 1792) * 4;
    EXPECT_LT(growth, dequantized_model / 3) << "peak grew by " << growth / 1048576.0 << " MiB over one step";
}

// ---- interop: against transformers + PEFT + bitsandbytes -------------------------------------

std::string refs_dir() {
    const char* dir = std::getenv("LATHE_INTEROP_REFS");
    return dir ? std::string(dir) + "/qlora_training" : "";
}

struct QloraCase {
    std::string name;
    std::string model;        // fixture model
    std::string yaml;         // the case's quantization keys
};

std::vector<double> step_losses(const std::vector<json>& events) {
    std::vector<double> out;
    for (const auto& e : events)
        if (e.value("event", "") == "step") out.push_back(e.at("loss").get<double>());
    return out;
}

// `lathe train` on the case's settings (reference.json), from its adapter_init.
std::vector<json> train_case(const std::string& ref, const test::TempDir& dir, const std::string& base_model, const std::string& extra) {
    json r = read_json_file(ref + "/reference.json");
    const std::string data = test::fixtures() + "/hf/" + r["training"].get<std::string>() + "/train.jsonl";
    std::string cfg = write_file(dir.path / "run.yaml",
                                 "base_model: " + base_model + "\ndatasets:\n  - path: " + data + "\n    type: pretokenized\n" +
                                     "output_dir: " + dir.str() + "/out\ndataset_prepared_path: " + dir.str() + "/prepared\n" +
                                     "adapter: qlora\nload_in_4bit: true\nlora_model_dir: " + ref + "/adapter_init\n" +
                                     "learning_rate: 0.01\nlr_scheduler: constant\nweight_decay: 0.01\nmicro_batch_size: 4\nnum_epochs: 2\n"
                                     "shuffle: false\nmax_grad_norm: 0\nsequence_len: 64\ndevice: cpu\n" + extra);
    int code = -1;
    auto events = test::run_to_end({LATHE_CLI, "train", cfg, "--store", dir.str() + "/lathe.db"}, &code);
    EXPECT_EQ(code, 0) << (events.empty() ? std::string("no output") : events.back().dump());
    return events;
}

void expect_reference_losses(const std::string& ref, const std::vector<json>& events) {
    auto expected = read_json_file(ref + "/reference.json")["step_losses"].get<std::vector<double>>();
    auto losses = step_losses(events);
    ASSERT_EQ(losses.size(), expected.size());
    for (size_t i = 0; i < losses.size(); ++i) EXPECT_NEAR(losses[i], expected[i], 1e-4) << "step " << i + 1;
}

class QloraTraining : public ::testing::TestWithParam<QloraCase> {};

TEST_P(QloraTraining, StepLossesEqualPeftWithBitsandbytes) {
    if (refs_dir().empty()) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which makes the references";
    const QloraCase& c = GetParam();
    const std::string ref = refs_dir() + "/" + c.name;
    test::TempDir dir;
    auto events = train_case(ref, dir, test::hf_model(c.model), c.yaml);
    expect_reference_losses(ref, events);

    // The adapter it ends with, against PEFT's (the caveat in test_train_exact.cpp: Adam magnifies
    // float32 noise on elements whose gradient is near eps, so a few elements may differ more).
    auto ours = load_safetensors(dir.str() + "/out/checkpoint-4/adapter_model.safetensors");
    auto theirs = load_safetensors(ref + "/adapter_final/adapter_model.safetensors");
    ASSERT_EQ(ours.size(), theirs.size());
    for (const auto& [name, t] : theirs) {
        ASSERT_TRUE(ours.count(name)) << name;
        const double scale = t.abs().max().item<double>();
        at::Tensor rel = (ours[name].to(at::kDouble) - t.to(at::kDouble)).abs() / scale;
        EXPECT_LE((rel > 1e-4).to(at::kDouble).mean().item<double>(), 0.025) << name;
        EXPECT_LT(rel.max().item<double>(), 5e-3) << name;
    }
}

INSTANTIATE_TEST_SUITE_P(Cases, QloraTraining,
                         ::testing::Values(QloraCase{"llama-nf4-dq-lora", "llama", ""},  // Axolotl's defaults: nf4, double quantization
                                           QloraCase{"qwen2-fp4-rslora", "qwen2", "bnb_4bit_quant_type: fp4\nbnb_4bit_use_double_quant: false\n"},
                                           QloraCase{"llama-nf4-dora", "llama", "bnb_4bit_quant_type: nf4\nbnb_4bit_use_double_quant: false\n"}),
                         [](const auto& info) {
                             std::string n = info.param.name;
                             for (char& ch : n) if (ch == '-') ch = '_';
                             return n;
                         });

TEST(QloraTrainingPrequantized, CheckpointWithGradientCheckpointingEqualsPeft) {
    // transformers' own nf4 + double-quantization folder of the llama fixture (make_qlora_references.py),
    // used as stored, with gradient checkpointing: the same losses as quantizing on load without it.
    if (refs_dir().empty()) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which makes the references";
    const std::string ref = refs_dir() + "/llama-nf4-dq-lora";
    test::TempDir dir;
    auto events = train_case(ref, dir, std::string(std::getenv("LATHE_INTEROP_REFS")) + "/qlora/llama-nf4-dq", "gradient_checkpointing: true\n");
    expect_reference_losses(ref, events);
}

TEST(QloraTrainingFresh, DoraMagnitudeIsTheDequantizedRowNormAsPeft) {
    if (refs_dir().empty()) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which makes the references";
    const std::string ref = refs_dir() + "/llama-nf4-dora";
    LoadOptions options;
    options.load_in_4bit = quant::BnbQuantizationConfig{};  // nf4, no double quantization: the reference's
    auto model = load_model(test::hf_model("llama"), options);
    add_lora(*model, {.r = 4, .alpha = 8, .dropout = 0, .rslora = false, .dora = true, .target_modules = {"all-linear"}}, 1);
    test::TempDir dir;
    save_peft_adapter(*model, read_peft_config(ref + "/adapter_fresh"), dir.str());
    auto ours = load_safetensors(dir.str() + "/adapter_model.safetensors");
    auto theirs = load_safetensors(ref + "/adapter_fresh/adapter_model.safetensors");
    int magnitudes = 0;
    for (const auto& [name, t] : theirs) {
        if (name.find("lora_magnitude_vector") == std::string::npos) continue;
        ASSERT_TRUE(ours.count(name)) << name;
        EXPECT_LE(test::max_abs_diff(ours[name], t), 1e-6 * t.abs().max().item<double>()) << name;
        ++magnitudes;
    }
    EXPECT_EQ(magnitudes, 14);
}

// ---- exports of a QLoRA run ----------------------------------------------------------------

std::string python() { return std::string(LATHE_SOURCE_DIR) + "/.venv-interop/bin/python "; }

// A fresh QLoRA adapter trained for two steps on `base` (a float checkpoint, quantized on load, or a
// pre-quantized one); returns the run's store.
std::string train_qlora_run(const test::TempDir& dir, const std::string& base) {
    const std::string data = test::fixtures() + "/hf/training/llama/train.jsonl";
    std::string cfg = write_file(dir.path / "run.yaml",
                                 "base_model: " + base + "\ndatasets:\n  - path: " + data + "\n    type: pretokenized\n" +
                                     "output_dir: " + dir.str() + "/out\ndataset_prepared_path: " + dir.str() + "/prepared\n" +
                                     "adapter: qlora\nload_in_4bit: true\nlora_r: 4\nlora_alpha: 8\nlora_target_linear: true\n"
                                     "learning_rate: 0.01\nlr_scheduler: constant\nmicro_batch_size: 4\nnum_epochs: 1\nshuffle: false\n"
                                     "sequence_len: 64\ndevice: cpu\nseed: 5\n");
    int code = -1;
    auto events = test::run_to_end({LATHE_CLI, "train", cfg, "--store", dir.str() + "/lathe.db"}, &code);
    EXPECT_EQ(code, 0) << (events.empty() ? std::string("no output") : events.back().dump());
    return dir.str() + "/lathe.db";
}

void export_run(const std::string& store, std::vector<std::string> more) {
    std::vector<std::string> args = {LATHE_CLI, "export", "--run", "1", "--store", store};
    args.insert(args.end(), more.begin(), more.end());
    int code = -1;
    auto events = test::run_to_end(args, &code);
    ASSERT_EQ(code, 0) << (events.empty() ? std::string("no output") : events.back().dump());
}

at::Tensor fixture_input_ids() { return load_safetensors(test::hf_model("llama") + "/reference.safetensors").at("input_ids"); }

// Runs a tests/interop script SCRIPT ARGS... INPUT OUT and returns OUT's logits.
at::Tensor interop_logits(const std::string& script, const std::string& args, const test::TempDir& dir, const std::string& tag) {
    const std::string input = dir.str() + "/input.safetensors", out = dir.str() + "/" + tag + ".safetensors";
    save_safetensors(input, {{"input_ids", fixture_input_ids()}});
    std::string cmd = python() + LATHE_SOURCE_DIR + "/tests/interop/" + script + " " + args + " " + input + " " + out + " 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return load_safetensors(out).at("logits");
}

double relative_diff(const at::Tensor& a, const at::Tensor& b) { return test::max_abs_diff(a, b) / b.abs().max().item<double>(); }

TEST(QloraTrainingExport, PeftAndMergedExportsOfAPrequantizedBaseMatchPeft) {
    if (refs_dir().empty()) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which makes the references";
    const std::string base = std::string(std::getenv("LATHE_INTEROP_REFS")) + "/qlora/llama-nf4-dq";  // transformers' own 4-bit folder
    test::TempDir dir;
    const std::string store = train_qlora_run(dir, base);

    // PEFT adapter: its config names the 4-bit base, and peft on transformers + bitsandbytes computes
    // what Lathe computes with it.
    const std::string adapter = dir.str() + "/adapter";
    export_run(store, {"--format", "peft", "--output", adapter});
    json config = read_json_file(adapter + "/adapter_config.json");
    EXPECT_EQ(config["base_model_name_or_path"], base);
    EXPECT_EQ(config["r"], 4);
    at::Tensor theirs = interop_logits("peft_logits.py", base + " " + adapter, dir, "peft");
    at::Tensor ours;
    {
        at::NoGradGuard no_grad;
        auto model = load_model(base);
        attach_peft_adapter(*model, adapter);
        ours = model->lm->forward(fixture_input_ids());
    }
    EXPECT_LT(relative_diff(ours, theirs), 1e-4);

    // Merged, float32: the dequantized base plus the adapter, a plain float folder transformers loads
    // (no quantization_config) and computes PEFT's logits with.
    const std::string merged = dir.str() + "/merged";
    export_run(store, {"--format", "merged", "--dtype", "float32", "--output", merged});
    EXPECT_FALSE(read_json_file(merged + "/config.json").contains("quantization_config"));
    for (const auto& [name, t] : load_safetensors(merged + "/model.safetensors")) {
        EXPECT_EQ(t.scalar_type(), at::kFloat) << name;
        EXPECT_EQ(name.find("absmax"), std::string::npos) << name;
    }
    EXPECT_LT(relative_diff(interop_logits("transformers_logits.py", merged, dir, "merged"), theirs), 1e-4);

    // Merged in the dtype asked: bfloat16 weights, which transformers loads as bfloat16.
    const std::string half = dir.str() + "/merged-bf16";
    export_run(store, {"--format", "merged", "--dtype", "bfloat16", "--output", half});
    for (const auto& [name, t] : load_safetensors(half + "/model.safetensors")) EXPECT_EQ(t.scalar_type(), at::kBFloat16) << name;
    at::Tensor bf16 = interop_logits("transformers_logits.py", half, dir, "merged-bf16");
    EXPECT_EQ(read_json_file(dir.str() + "/merged-bf16.safetensors.json")["dtype"], "bfloat16");
    EXPECT_LT(relative_diff(bf16, theirs), 5e-2);
}

TEST(QloraTrainingExport, MergedExportOfAFloatBaseAddsTheAdapterToTheDequantizedBase) {
    // Quantized on load: the adapter learned against the 4-bit weights, so merging adds it to those
    // (dequantized), as merging on PEFT's 4-bit model does: transformers' logits on the merged folder
    // equal the QLoRA model's (4-bit base + adapter, unmerged), not the float base's with the adapter.
    if (refs_dir().empty()) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which makes the references";
    test::TempDir dir;
    const std::string store = train_qlora_run(dir, test::hf_model("llama"));
    const std::string adapter = dir.str() + "/out/checkpoint-2";
    at::Tensor qlora, float_base;
    {
        at::NoGradGuard no_grad;
        LoadOptions options;
        options.load_in_4bit = qlora_quantization(read_train_config(dir.str() + "/run.yaml"), false);
        auto model = load_model(test::hf_model("llama"), options);
        attach_peft_adapter(*model, adapter);
        qlora = model->lm->forward(fixture_input_ids());
        auto plain = load_model(test::hf_model("llama"));
        attach_peft_adapter(*plain, adapter);
        float_base = plain->lm->forward(fixture_input_ids());
    }
    const std::string merged = dir.str() + "/merged";
    export_run(store, {"--format", "merged", "--output", merged});
    at::Tensor theirs = interop_logits("transformers_logits.py", merged, dir, "merged");
    EXPECT_LT(relative_diff(qlora, theirs), 1e-4);
    EXPECT_GT(relative_diff(float_base, theirs), 1e-3);  // the float base would be another model
}

}  // namespace
}  // namespace lathe

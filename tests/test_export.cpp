// `lathe export` end to end: models trained with `lathe train`, exported, and loaded by the tools
// users load them with — transformers (merged, sharded) and peft (adapter) — whose logits must agree
// with Lathe's within 1e-4 in float32; plus refusals, mismatched bases and interruption, which must
// leave nothing written.
#include <gtest/gtest.h>

#include <ATen/core/grad_mode.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/adapters/peft.h"
#include "core/export/export_check.h"
#include "core/export/export_source.h"
#include "core/export/ollama_modelfile.h"
#include "core/export/shards.h"
#include "core/io/checkpoint.h"
#include "core/io/tensor_io.h"
#include "core/models/loader.h"
#include "core/models/named_weights.h"
#include "core/util/error.h"
#include "core/util/json_file.h"
#include "tests/child_process.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool have_interop() {
    const char* dir = std::getenv("LATHE_INTEROP_REFS");
    return dir && *dir;
}
#define REQUIRE_INTEROP() \
    if (!have_interop()) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which sets up the venv"

std::string python() { return std::string(LATHE_SOURCE_DIR) + "/.venv-interop/bin/python "; }

// A run trained by `lathe train` on BASE (3 steps on the llama training fixture), in its own store.
struct TrainedRun {
    test::TempDir dir;
    std::string base;
    int64_t run_id = 0;
    std::string checkpoint;

    TrainedRun(const std::string& base_model, const std::string& settings) : base(base_model) {
        const std::string data = test::fixtures() + "/hf/training/llama/train.jsonl";
        std::ofstream(dir.path / "run.yaml") << "base_model: " << base << "\ndatasets:\n  - path: " << data
                                             << "\n    type: pretokenized\noutput_dir: " << dir.str() << "/out\n"
                                             << "micro_batch_size: 4\nsequence_len: 64\nnum_epochs: 2\nmax_steps: 3\nlearning_rate: 0.02\n" << settings;
        int code = -1;
        auto events = test::run_to_end({LATHE_CLI, "train", dir.str() + "/run.yaml", "--store", store()}, &code);
        EXPECT_EQ(code, 0) << (events.empty() ? "" : events.back().dump());
        for (const auto& e : events) {
            if (e.contains("run_id")) run_id = e["run_id"];
            if (e["event"] == "checkpoint") checkpoint = e["path"];
        }
    }
    std::string store() const { return dir.str() + "/lathe.db"; }
    std::string out(const std::string& name) const { return dir.str() + "/" + name; }
    // `lathe export --run ID --store DB` with more arguments.
    std::vector<std::string> export_args(std::vector<std::string> more) const {
        std::vector<std::string> args = {LATHE_CLI, "export", "--run", std::to_string(run_id), "--store", store()};
        args.insert(args.end(), more.begin(), more.end());
        return args;
    }
};

at::Tensor input_ids() { return load_safetensors(test::hf_model("llama") + "/reference.safetensors").at("input_ids"); }

// Lathe's logits: the base model with the adapter attached unmerged (or a folder of full weights).
at::Tensor lathe_logits(const std::string& model_dir, const std::string& adapter_dir = "") {
    at::NoGradGuard no_grad;
    auto model = load_model(model_dir);
    if (!adapter_dir.empty()) attach_peft_adapter(*model, adapter_dir);
    return model->lm->forward(input_ids());
}

std::string write_input(const test::TempDir& dir) {
    std::string path = dir.str() + "/input.safetensors";
    save_safetensors(path, {{"input_ids", input_ids()}});
    return path;
}

// transformers' logits for an exported folder (tests/interop/transformers_logits.py); `info` gets what it read.
at::Tensor transformers_logits(const std::string& model_dir, const test::TempDir& dir, json* info = nullptr) {
    std::string out = dir.str() + "/transformers_logits.safetensors";
    std::string cmd = python() + LATHE_SOURCE_DIR + "/tests/interop/transformers_logits.py " + model_dir + " " + write_input(dir) + " " + out + " 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    if (info) *info = read_json_file(out + ".json");
    return load_safetensors(out).at("logits");
}

// peft's logits for an exported adapter on its base (tests/interop/peft_logits.py).
at::Tensor peft_logits(const std::string& base, const std::string& adapter_dir, const test::TempDir& dir) {
    std::string out = dir.str() + "/peft_logits.safetensors";
    std::string cmd = python() + LATHE_SOURCE_DIR + "/tests/interop/peft_logits.py " + base + " " + adapter_dir + " " + write_input(dir) + " " + out + " 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return load_safetensors(out).at("logits");
}

// Hidden temporary folders an export leaves beside its output while it works.
std::vector<std::string> export_leftovers(const fs::path& parent) {
    std::vector<std::string> out;
    for (const auto& entry : fs::directory_iterator(parent))
        if (entry.path().filename().string().find(".export-") != std::string::npos) out.push_back(entry.path().string());
    return out;
}

std::string error_of(const std::vector<json>& events) {
    return !events.empty() && events.back()["event"] == "export_error" ? events.back()["message"].get<std::string>() : "";
}

// Progress contract for the GUI: export_progress lines with fractions rising from 0 to 1, then export_done.
void expect_progress_contract(const std::vector<json>& events, const std::string& output) {
    ASSERT_GE(events.size(), 2u);
    double last = 0;
    for (size_t i = 0; i + 1 < events.size(); ++i) {
        EXPECT_EQ(events[i]["event"], "export_progress");
        double f = events[i]["fraction"];
        EXPECT_GE(f, last);
        EXPECT_LE(f, 1.0);
        EXPECT_TRUE(events[i]["what"].is_string());
        last = f;
    }
    EXPECT_EQ(last, 1.0);
    EXPECT_EQ(events.back()["event"], "export_done");
    EXPECT_EQ(events.back()["path"], fs::absolute(output).string());
}

struct MergedCase {
    std::string name;
    std::string settings;  // run.yaml lines
    bool with_tokenizer = false;
};

class ExportMerged : public ::testing::TestWithParam<MergedCase> {};

// The merged export of a LoRA-trained model loads in transformers with the logits of base + adapter.
TEST_P(ExportMerged, TransformersLoadsItWithLathesLogits) {
    REQUIRE_INTEROP();
    const MergedCase& c = GetParam();
    test::TempDir model_dir;
    std::string base = c.with_tokenizer ? test::model_with_tokenizer(model_dir) : test::hf_model(c.name);
    TrainedRun run(base, c.settings);
    ASSERT_FALSE(run.checkpoint.empty());
    std::string out = run.out("merged");
    int code = -1;
    auto events = test::run_to_end(run.export_args({"--output", out}), &code);
    ASSERT_EQ(code, 0) << error_of(events);
    expect_progress_contract(events, out);

    at::Tensor ours = lathe_logits(base, run.checkpoint);
    EXPECT_GT(test::max_abs_diff(ours, lathe_logits(base)), 1e-3) << "training should have changed the model";
    json info;
    at::Tensor theirs = transformers_logits(out, run.dir, &info);
    EXPECT_LT(test::max_abs_diff(ours, theirs), 1e-4);
    EXPECT_EQ(info["dtype"], "float32");
    EXPECT_EQ(read_json_file(out + "/config.json")["dtype"], "float32");
    EXPECT_TRUE(fs::exists(out + "/generation_config.json"));
    std::ifstream card(out + "/README.md");
    std::string text((std::istreambuf_iterator<char>(card)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("base_model: \"" + base + "\""), std::string::npos) << text;
    EXPECT_NE(text.find("- steps: 3"), std::string::npos) << text;
    EXPECT_NE(text.find(std::string("(Lathe ") + LATHE_PROJECT_VERSION + ")"), std::string::npos) << text;
    EXPECT_NE(text.find("train.jsonl"), std::string::npos) << text;
    if (c.with_tokenizer) {
        // transformers reads the copied tokenizer and chat template as it reads the base model's.
        json base_info;
        transformers_logits(base, run.dir, &base_info);
        ASSERT_TRUE(info.contains("chat"));
        EXPECT_EQ(info["chat"], base_info["chat"]);
        EXPECT_TRUE(fs::exists(out + "/chat_template.jinja"));
    }
    EXPECT_TRUE(export_leftovers(run.dir.path).empty());
}

INSTANTIATE_TEST_SUITE_P(
    Export, ExportMerged,
    ::testing::Values(MergedCase{"llama", "adapter: lora\nlora_r: 4\nlora_alpha: 8\nlora_target_linear: true\nlora_modules_to_save: [lm_head]\n"},
                      MergedCase{"gpt2", "adapter: lora\nlora_r: 4\nlora_alpha: 8\nlora_target_linear: true\n"},
                      MergedCase{"qwen2", "adapter: lora\nlora_r: 4\nlora_alpha: 8\nlora_target_linear: true\npeft_use_dora: true\n", true},
                      MergedCase{"mistral", "adapter: lora\nlora_r: 4\nlora_alpha: 16\nlora_target_modules: [q_proj, v_proj, down_proj]\npeft_use_rslora: true\n"}),
    [](const auto& info) { return info.param.name + (info.param.with_tokenizer ? "_with_tokenizer" : ""); });

// A full finetune's checkpoint, exported merged, is the model Lathe trained as transformers sees it.
TEST(Export, FullFinetuneLoadsInTransformers) {
    REQUIRE_INTEROP();
    TrainedRun run(test::hf_model("llama"), "unfrozen_parameters: ['model\\.layers\\.1\\..*']\n");
    ASSERT_FALSE(run.checkpoint.empty());
    std::string out = run.out("full");
    int code = -1;
    auto events = test::run_to_end(run.export_args({"--output", out}), &code);
    ASSERT_EQ(code, 0) << error_of(events);
    at::Tensor ours = lathe_logits(run.checkpoint);
    EXPECT_GT(test::max_abs_diff(ours, lathe_logits(test::hf_model("llama"))), 1e-3);
    EXPECT_LT(test::max_abs_diff(ours, transformers_logits(out, run.dir)), 1e-4);
    // A full finetune has no adapter to export.
    events = test::run_to_end(run.export_args({"--format", "peft", "--output", run.out("no-adapter")}), &code);
    EXPECT_EQ(code, 1);
    EXPECT_NE(error_of(events).find("not an adapter"), std::string::npos) << error_of(events);
    EXPECT_FALSE(fs::exists(run.out("no-adapter")));
}

// The PEFT export loads with PeftModel.from_pretrained on the base and gives Lathe's logits.
TEST(Export, PeftLoadsTheAdapterExport) {
    REQUIRE_INTEROP();
    TrainedRun run(test::hf_model("qwen2"), "adapter: lora\nlora_r: 4\nlora_alpha: 8\nlora_target_linear: true\npeft_use_dora: true\n");
    std::string out = run.out("adapter");
    int code = -1;
    auto events = test::run_to_end(run.export_args({"--format", "peft", "--output", out}), &code);
    ASSERT_EQ(code, 0) << error_of(events);
    expect_progress_contract(events, out);
    std::set<std::string> files;
    for (const auto& entry : fs::directory_iterator(out)) files.insert(entry.path().filename().string());
    EXPECT_EQ(files, (std::set<std::string>{"README.md", "adapter_config.json", "adapter_model.safetensors"}));
    // Same tensors, names and types as the checkpoint, which peft's own layout test covers.
    EXPECT_EQ(Checkpoint::open_file(out + "/adapter_model.safetensors").names(),
              Checkpoint::open_file(run.checkpoint + "/adapter_model.safetensors").names());
    at::Tensor ours = lathe_logits(run.base, run.checkpoint);
    EXPECT_GT(test::max_abs_diff(ours, lathe_logits(run.base)), 1e-3);
    EXPECT_LT(test::max_abs_diff(ours, peft_logits(run.base, out, run.dir)), 1e-4);
}

// --max-shard-size splits the weights as transformers does; transformers loads the shards.
TEST(Export, ShardedOutputLoadsInTransformers) {
    REQUIRE_INTEROP();
    TrainedRun run(test::hf_model("llama"), "adapter: lora\nlora_r: 4\nlora_alpha: 8\nlora_target_modules: [q_proj, v_proj]\n");
    std::string out = run.out("sharded");
    int code = -1;
    auto events = test::run_to_end(run.export_args({"--output", out, "--max-shard-size", "100KB"}), &code);
    ASSERT_EQ(code, 0) << error_of(events);
    EXPECT_FALSE(fs::exists(out + "/model.safetensors"));
    json index = read_json_file(out + "/model.safetensors.index.json");
    std::set<std::string> shards;
    for (const auto& [name, file] : index["weight_map"].items()) shards.insert(file.get<std::string>());
    EXPECT_GE(shards.size(), 4u);  // 560 KB of weights, the largest tensors (131 KB) alone
    for (const auto& s : shards) {
        EXPECT_TRUE(fs::exists(out + "/" + s)) << s;
        EXPECT_LE(fs::file_size(out + "/" + s), 140'000u) << s;
    }
    EXPECT_EQ(index["weight_map"].size(), Checkpoint::open_dir(test::hf_model("llama")).names().size());
    EXPECT_LT(test::max_abs_diff(lathe_logits(run.base, run.checkpoint), transformers_logits(out, run.dir)), 1e-4);
}

// --dtype bfloat16: transformers loads the weights as bfloat16, and they are the float32 merge rounded once.
TEST(Export, ChosenDtypeIsWhatTransformersLoads) {
    REQUIRE_INTEROP();
    TrainedRun run(test::hf_model("llama"), "adapter: lora\nlora_r: 4\nlora_alpha: 8\nlora_target_linear: true\n");
    int code = -1;
    auto events = test::run_to_end(run.export_args({"--output", run.out("f32")}), &code);
    ASSERT_EQ(code, 0) << error_of(events);
    events = test::run_to_end(run.export_args({"--output", run.out("bf16"), "--dtype", "bfloat16"}), &code);
    ASSERT_EQ(code, 0) << error_of(events);
    json info;
    transformers_logits(run.out("bf16"), run.dir, &info);
    EXPECT_EQ(info["dtype"], "bfloat16");
    auto f32 = load_safetensors(run.out("f32") + "/model.safetensors");
    auto bf16 = load_safetensors(run.out("bf16") + "/model.safetensors");
    for (const auto& [name, t] : f32) EXPECT_TRUE(bf16.at(name).equal(t.to(at::kBFloat16))) << name;
}

// Without --dtype a merged export keeps the type the base model is stored in.
TEST(Export, DefaultDtypeIsTheBaseModels) {
    TrainedRun run(test::hf_model("llama"), "adapter: lora\nlora_r: 4\nlora_target_modules: [q_proj]\n");
    const std::string base = run.out("llama-bf16");
    fs::create_directories(base);
    std::vector<std::pair<std::string, at::Tensor>> weights;
    for (auto& [name, t] : load_safetensors(test::hf_model("llama") + "/model.safetensors")) weights.emplace_back(name, t.to(at::kBFloat16));
    save_safetensors(base + "/model.safetensors", weights);
    json config = read_json_file(test::hf_model("llama") + "/config.json");
    config["dtype"] = "bfloat16";
    std::ofstream(base + "/config.json") << config.dump(2);
    for (const auto& [source, out] : std::vector<std::pair<std::vector<std::string>, std::string>>{
             {{"--model", base}, run.out("plain")}, {{"--adapter", run.checkpoint, "--base-model", base}, run.out("merged")}}) {
        std::vector<std::string> args = {LATHE_CLI, "export", "--output", out};
        args.insert(args.end(), source.begin(), source.end());
        int code = -1;
        auto events = test::run_to_end(args, &code);
        ASSERT_EQ(code, 0) << error_of(events);
        EXPECT_EQ(read_json_file(out + "/config.json")["dtype"], "bfloat16");
        Checkpoint written = Checkpoint::open_dir(out);
        for (const auto& name : written.names()) EXPECT_EQ(written.at(name).entry->dtype, DType::BF16) << name;
    }
}

TEST(Export, RefusesToOverwriteWithoutForce) {
    TrainedRun run(test::hf_model("llama"), "adapter: lora\nlora_r: 4\nlora_target_modules: [q_proj]\n");
    std::string out = run.out("adapter");
    fs::create_directories(out);
    std::ofstream(out + "/keep.txt") << "mine";
    int code = -1;
    auto events = test::run_to_end(run.export_args({"--format", "peft", "--output", out}), &code);
    EXPECT_EQ(code, 1);
    EXPECT_NE(error_of(events).find("--force"), std::string::npos) << error_of(events);
    EXPECT_TRUE(fs::exists(out + "/keep.txt"));
    EXPECT_FALSE(fs::exists(out + "/adapter_config.json"));

    events = test::run_to_end(run.export_args({"--format", "peft", "--output", out, "--force"}), &code);
    ASSERT_EQ(code, 0) << error_of(events);
    EXPECT_FALSE(fs::exists(out + "/keep.txt"));  // replaced as a whole, not mixed
    EXPECT_TRUE(fs::exists(out + "/adapter_config.json"));
    EXPECT_TRUE(export_leftovers(run.dir.path).empty());
}

// A copy of the run's adapter whose adapter_config.json names a base model that is not a folder here,
// as adapters from the Hub do: only its tensors can show that it does not fit.
std::string adapter_without_local_base(const TrainedRun& run) {
    std::string dir = run.out("hub-adapter");
    fs::create_directories(dir);
    fs::copy_file(run.checkpoint + "/adapter_model.safetensors", dir + "/adapter_model.safetensors");
    json config = read_json_file(run.checkpoint + "/adapter_config.json");
    config["base_model_name_or_path"] = "meta-llama/Llama-3.2-1B";
    std::ofstream(dir + "/adapter_config.json") << config.dump();
    return dir;
}

TEST(Export, AdapterForAnotherBaseIsAnErrorAndWritesNothing) {
    TrainedRun run(test::hf_model("llama"), "adapter: lora\nlora_r: 4\nlora_target_linear: true\n");
    const std::string hub_adapter = adapter_without_local_base(run);
    // qwen2's fixture has llama's layer names and shapes: only the recorded base's config tells them
    // apart. gpt2 and phi3 (fused qkv_proj) lack the adapted layers, which the tensors show.
    const std::vector<std::pair<std::string, std::string>> cases = {
        {run.checkpoint, "qwen2"}, {run.checkpoint, "gpt2"}, {hub_adapter, "gpt2"}, {hub_adapter, "phi3"}};
    for (const std::string format : {"merged", "peft"}) {
        for (const auto& [adapter, other] : cases) {
            std::string out = run.out("wrong-" + format);
            int code = -1;
            auto events = test::run_to_end({LATHE_CLI, "export", "--adapter", adapter, "--base-model", test::hf_model(other),
                                            "--format", format, "--output", out}, &code);
            EXPECT_EQ(code, 1) << adapter << " on " << other;
            EXPECT_NE(error_of(events).find("another base model"), std::string::npos) << error_of(events);
            EXPECT_FALSE(fs::exists(out));
        }
    }
    EXPECT_TRUE(export_leftovers(run.dir.path).empty());
}

TEST(Export, UnknownRunOrCheckpointIsAnError) {
    TrainedRun run(test::hf_model("llama"), "adapter: lora\nlora_r: 4\nlora_target_modules: [q_proj]\n");
    int code = -1;
    auto events = test::run_to_end({LATHE_CLI, "export", "--run", "99", "--store", run.store(), "--output", run.out("x")}, &code);
    EXPECT_EQ(code, 1);
    EXPECT_NE(error_of(events).find("no run #99"), std::string::npos) << error_of(events);
    events = test::run_to_end(run.export_args({"--checkpoint", "7", "--output", run.out("x")}), &code);
    EXPECT_EQ(code, 1);
    EXPECT_NE(error_of(events).find("no checkpoint at step 7 (on disk: steps 3)"), std::string::npos) << error_of(events);
    events = test::run_to_end(run.export_args({"--checkpoint", "3", "--output", run.out("x"), "--max-shard-size", "lots"}), &code);
    EXPECT_EQ(code, 1);
    EXPECT_NE(error_of(events).find("size 'lots'"), std::string::npos) << error_of(events);
    EXPECT_FALSE(fs::exists(run.out("x")));
    // An adapter whose recorded base is not a folder here needs --base-model.
    events = test::run_to_end({LATHE_CLI, "export", "--adapter", adapter_without_local_base(run), "--output", run.out("x")}, &code);
    EXPECT_EQ(code, 1);
    EXPECT_NE(error_of(events).find("give --base-model"), std::string::npos) << error_of(events);
    EXPECT_FALSE(fs::exists(run.out("x")));
}

// A model big enough (80 MB) that its export is still running when the signal comes.
std::string big_model(const test::TempDir& dir) {
    json config = read_json_file(test::hf_model("llama") + "/config.json");
    config["hidden_size"] = 256;
    config["intermediate_size"] = 1024;
    config["head_dim"] = 64;
    config["num_hidden_layers"] = 4;
    config["vocab_size"] = 32000;
    std::ofstream(dir.path / "config.json") << config.dump(2);
    auto model = random_model((dir.path / "config.json").string());
    std::vector<std::pair<std::string, at::Tensor>> weights;
    for (auto& [name, t] : named_weights(*model)) weights.emplace_back(name, *t);
    save_safetensors(dir.str() + "/model.safetensors", weights);
    return dir.str();
}

TEST(Export, InterruptedExportLeavesNothing) {
    test::TempDir work;
    test::TempDir model_dir;
    std::string model = big_model(model_dir);
    std::string out = work.str() + "/exported";
    for (int sig : {SIGTERM, SIGINT, SIGKILL}) {
        test::ChildProcess child({LATHE_CLI, "export", "--model", model, "--output", out});
        json e;
        ASSERT_TRUE(child.next(e));
        EXPECT_EQ(e["event"], "export_progress");
        kill(child.pid, sig);
        std::vector<json> rest;
        while (child.next(e)) rest.push_back(e);
        int code = child.wait();
        EXPECT_FALSE(fs::exists(out)) << "signal " << sig;
        if (sig == SIGKILL) {
            EXPECT_EQ(code, 128 + SIGKILL);
            continue;  // its temporary folder stays until the next export to the same place
        }
        EXPECT_EQ(code, 1) << "signal " << sig;
        EXPECT_NE(error_of(rest).find("cancelled"), std::string::npos);
        EXPECT_TRUE(export_leftovers(work.path).empty()) << "signal " << sig;
    }
    int code = -1;
    auto events = test::run_to_end({LATHE_CLI, "export", "--model", model, "--output", out}, &code);
    ASSERT_EQ(code, 0) << error_of(events);
    EXPECT_TRUE(export_leftovers(work.path).empty()) << "the killed export's temporary folder is cleaned up";
    EXPECT_TRUE(Checkpoint::open_dir(out).names() == Checkpoint::open_dir(model).names());
}

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// `--format gguf`: the adapter merged and written by export_gguf, with a Modelfile beside it. gguf-py
// reads the file, and llama.cpp (llama-cpp-python) runs it with Lathe's logits within float16 rounding.
// Needs the GGUF interop fixture (ctest export.gguf_interop, label slow).
TEST(ExportGguf, LlamaCppRunsTheExportOfALoraRun) {
    const char* gguf_refs = std::getenv("LATHE_GGUF_REFS");
    if (!gguf_refs || !*gguf_refs) GTEST_SKIP() << "LATHE_GGUF_REFS not set; run through ctest (export.gguf_interop), which installs llama-cpp-python";
    test::TempDir model_dir;
    std::string base = test::model_with_tokenizer(model_dir);
    TrainedRun run(base, "adapter: lora\nlora_r: 4\nlora_alpha: 16\nlora_target_linear: true\n");
    std::string out = run.out("gguf");
    int code = -1;
    auto events = test::run_to_end(run.export_args({"--format", "gguf", "--gguf-type", "f16", "--output", out}), &code);
    ASSERT_EQ(code, 0) << error_of(events);
    expect_progress_contract(events, out);
    std::set<std::string> files;
    for (const auto& entry : fs::directory_iterator(out)) files.insert(entry.path().filename().string());
    EXPECT_EQ(files, (std::set<std::string>{"Modelfile", "README.md", "gguf-F16.gguf"}));
    std::string modelfile = read_text(out + "/Modelfile");
    EXPECT_NE(modelfile.find("FROM ./gguf-F16.gguf\n"), std::string::npos) << modelfile;
    EXPECT_NE(modelfile.find("TEMPLATE \"\"\"{{- range .Messages }}<|im_start|>{{ .Role }}\n"), std::string::npos) << modelfile;
    EXPECT_NE(modelfile.find("PARAMETER stop \"<|im_end|>\""), std::string::npos) << modelfile;

    const std::string gguf = out + "/gguf-F16.gguf";
    std::string cmd = python() + LATHE_SOURCE_DIR + "/tests/interop/gguf_read.py " + gguf + " " + run.out("read.json") + " " + run.out("read.safetensors") + " 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    json read = read_json_file(run.out("read.json"));
    EXPECT_EQ(read["metadata"]["general.architecture"], "qwen2");
    EXPECT_EQ(read["metadata"]["tokenizer.chat_template"], read_text(base + "/chat_template.jinja"));

    cmd = python() + LATHE_SOURCE_DIR + "/tests/interop/llama_cpp_logits.py " + gguf + " " + write_input(run.dir) + " " + run.out("llama.safetensors") + " 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    at::Tensor theirs = load_safetensors(run.out("llama.safetensors")).at("logits");
    at::Tensor ours = lathe_logits(base, run.checkpoint);
    const double scale = std::max(1.0, ours.abs().max().item<double>());
    const double rounding = test::max_abs_diff(ours, theirs);
    EXPECT_LT(rounding, 1e-2 * scale);
    // llama.cpp runs the merged weights, not the base: the adapter moves the logits far more than the
    // float16 rounding does.
    EXPECT_GT(test::max_abs_diff(ours, lathe_logits(base)), 10 * rounding);
    std::cout << "llama.cpp vs Lathe: max |diff| " << rounding << " (largest logit " << scale << ")\n";
}

// A GGUF export is refused before any work for a model llama.cpp has no architecture for, or
// without a tokenizer (GGUF carries it).
TEST(ExportGguf, UnsupportedCombinationsAreRefusedUpFront) {
    test::TempDir work;
    int code = -1;
    auto events = test::run_to_end({LATHE_CLI, "export", "--model", test::hf_model("bert-cls"), "--format", "gguf", "--output", work.str() + "/x"}, &code);
    EXPECT_EQ(code, 1);
    EXPECT_NE(error_of(events).find("cannot be exported to GGUF"), std::string::npos) << error_of(events);
    events = test::run_to_end({LATHE_CLI, "export", "--model", test::hf_model("llama"), "--format", "gguf", "--output", work.str() + "/x"}, &code);
    EXPECT_EQ(code, 1);
    EXPECT_NE(error_of(events).find("no tokenizer.json"), std::string::npos) << error_of(events);
    EXPECT_EQ(events.size(), 1u) << "refused before any progress";
    EXPECT_FALSE(fs::exists(work.str() + "/x"));
}

// The Modelfile restates a chat template only when Ollama's template gives the same prompt as the
// model's own template on every probe; otherwise it leaves the template to the GGUF and says so.
TEST(ExportGguf, ModelfileTemplateOnlyWhenExact) {
    auto modelfile_for = [](const std::string& template_file) {
        test::TempDir dir;
        std::ofstream(dir.path / "tokenizer_config.json") << R"({"eos_token": "<|im_end|>"})";
        if (!template_file.empty()) fs::copy_file(template_file, dir.path / "chat_template.jinja");
        return ollama_modelfile_for(dir.str(), "m-Q8_0.gguf");
    };
    const std::string hf_chatml = test::tokenizer_fixture("bytelevel-regex-qwen-hf") + "/chat_template.jinja";
    std::string exact = modelfile_for(hf_chatml);
    EXPECT_NE(exact.find("FROM ./m-Q8_0.gguf\n"), std::string::npos);
    EXPECT_NE(exact.find("TEMPLATE \"\"\"{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n\"\"\"\n"),
              std::string::npos) << exact;
    EXPECT_NE(exact.find("PARAMETER stop \"<|im_end|>\""), std::string::npos);
    // Qwen2.5 adds a default system prompt; the chatml and Llama 3 fixtures trim message content.
    for (const char* name : {"qwen2.5-instruct", "chatml", "llama-3-instruct", "gemma-it"}) {
        std::string mf = modelfile_for(test::fixtures() + "/chat_templates/" + name + ".jinja");
        EXPECT_EQ(mf.find("TEMPLATE \"\"\""), std::string::npos) << name << "\n" << mf;
        EXPECT_NE(mf.find("Ollama derives the prompt format from the chat template embedded in the"), std::string::npos) << name;
    }
    EXPECT_NE(modelfile_for("").find("the model has no chat template"), std::string::npos);
}

// `lathe export --verify`: the export read back (merged folder, PEFT adapter over its base, GGUF through
// Lathe's own reader) against the trained model. Exports in float32 keep the trained model's predictions
// exactly, and its tokenizer, chat template and end-of-sequence token.
TEST(ExportVerify, LosslessExportsOfALoraRunAgreeWithTheTrainedModel) {
    test::TempDir model_dir;
    const std::string base = test::model_with_tokenizer(model_dir);
    TrainedRun run(base, "adapter: lora\nlora_r: 4\nlora_alpha: 16\nlora_target_linear: true\n");
    for (const std::vector<std::string>& format : {std::vector<std::string>{"--format", "merged", "--dtype", "float32"},
                                                   std::vector<std::string>{"--format", "peft"},
                                                   std::vector<std::string>{"--format", "gguf", "--gguf-type", "f32"}}) {
        SCOPED_TRACE(format[1]);
        std::vector<std::string> args = format;
        args.insert(args.end(), {"--output", run.out("verify-" + format[1]), "--verify"});
        int code = -1;
        auto events = test::run_to_end(run.export_args(args), &code);
        ASSERT_EQ(code, 0) << error_of(events);
        ASSERT_GE(events.size(), 2u);
        const json& check = events.back();
        ASSERT_EQ(check["event"], "export_verify") << check.dump();
        EXPECT_EQ(events[events.size() - 2]["event"], "export_done");
        EXPECT_EQ(check["format"], format[1]);
        EXPECT_GT(check["tokens"].get<int64_t>(), 100);
        EXPECT_EQ(check["top1_agreement"].get<double>(), 1.0) << check.dump();
        EXPECT_LT(std::abs(check["mean_kl"].get<double>()), 1e-6) << check.dump();
        EXPECT_NEAR(check["perplexity_exported"].get<double>(), check["perplexity_trained"].get<double>(),
                    1e-4 * check["perplexity_trained"].get<double>());
        EXPECT_TRUE(check["tokenizer_same"].get<bool>());
        EXPECT_EQ(check["chat_template_same"], true);
        EXPECT_EQ(check["eos_exported"], check["eos_trained"]);
        EXPECT_TRUE(check["warnings"].empty()) << check.dump();
    }
}

// An export that is not the trained model is reported: here a float32 export whose weights were then
// damaged (the final norm scaled, as a broken conversion might) and whose tokenizer settings were changed
// (a wrong end-of-sequence token, another chat template).
TEST(ExportVerify, AnExportThatLostTheAdapterOrTemplateIsReported) {
    test::TempDir model_dir;
    const std::string base = test::model_with_tokenizer(model_dir);
    TrainedRun run(base, "adapter: lora\nlora_r: 4\nlora_alpha: 16\nlora_target_linear: true\n");
    const std::string wrong = run.out("base-only");
    int code = -1;
    auto events = test::run_to_end(run.export_args({"--dtype", "float32", "--output", wrong}), &code);
    ASSERT_EQ(code, 0) << error_of(events);
    std::vector<std::pair<std::string, at::Tensor>> weights;
    for (auto& [name, t] : load_safetensors(wrong + "/model.safetensors"))
        weights.emplace_back(name, name == "model.norm.weight" ? t * 10.0 : t.clone());
    save_safetensors(wrong + "/model.safetensors", weights);
    json config = read_json_file(wrong + "/tokenizer_config.json");
    config["eos_token"] = "<|endoftext|>";
    std::ofstream(wrong + "/tokenizer_config.json") << config.dump(2);
    std::ofstream(wrong + "/chat_template.jinja") << "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}";

    ExportSourceRequest request;
    request.run_id = run.run_id;
    request.store = run.store();
    const ExportSource source = resolve_export_source(request);
    const ExportCheck check = check_export(source, wrong, "merged", "");
    EXPECT_GT(check.mean_kl, 1e-5);  // lossless exports stay under 1e-6 (the test above); the fixture models are nearly uniform
    EXPECT_NE(check.perplexity_exported, check.perplexity_trained);
    EXPECT_EQ(check.chat_template_same, std::optional<bool>(false));
    EXPECT_EQ(check.eos_exported, "<|endoftext|>");
    std::string warnings;
    for (const auto& w : check.warnings) warnings += w + "\n";
    EXPECT_NE(warnings.find("end-of-sequence token '<|endoftext|>'"), std::string::npos) << warnings;
    EXPECT_NE(warnings.find("chat template renders a conversation differently"), std::string::npos) << warnings;
}

// transformers' convert_file_size_to_int: decimal units are powers of 1000, "i" units of 1024.
TEST(ExportShards, SizesAreReadAsTransformersReadsThem) {
    EXPECT_EQ(parse_byte_size("5GB"), 5'000'000'000u);
    EXPECT_EQ(parse_byte_size("500MB"), 500'000'000u);
    EXPECT_EQ(parse_byte_size("2GiB"), 2ull << 30);
    EXPECT_EQ(parse_byte_size("100kb"), 100'000u);
    EXPECT_EQ(parse_byte_size("4096"), 4096u);
    EXPECT_THROW(parse_byte_size("5 GB"), Error);
    EXPECT_THROW(parse_byte_size("0GB"), Error);
    EXPECT_THROW(parse_byte_size("GB"), Error);
    EXPECT_EQ(shard_file_name(0, 1), "model.safetensors");
    EXPECT_EQ(shard_file_name(1, 3), "model-00002-of-00003.safetensors");
}

}  // namespace
}  // namespace lathe

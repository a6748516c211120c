// `lathe merge`: every output tensor against mergekit's own (interop references, made by mergekit-yaml's
// entry point at test time from perturbed copies of the llama fixture), DARE's random drop by its
// statistics, recipes and their errors, and mismatched inputs refused before anything is written.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/abs.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/randn.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/io/checkpoint.h"
#include "core/io/tensor_io.h"
#include "core/merge/merge_config.h"
#include "core/merge/merge_math.h"
#include "core/merge/merge_model.h"
#include "core/merge/run_inputs.h"
#include "core/util/error.h"
#include "core/util/json_file.h"
#include "tests/child_process.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string interop_refs() {
    const char* dir = std::getenv("LATHE_INTEROP_REFS");
    return dir && *dir ? std::string(dir) + "/merge" : "";
}
#define REQUIRE_INTEROP() \
    if (interop_refs().empty()) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which sets up the venv"

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::map<std::string, at::Tensor> load_folder(const std::string& dir) {
    Checkpoint ckpt = Checkpoint::open_dir(dir);
    std::map<std::string, at::Tensor> out;
    for (const auto& name : ckpt.names()) out[name] = tensor_view(ckpt.at(name)).clone();
    return out;
}

merge::MergeResult merge_recipe(const std::string& recipe_path, const std::string& output, uint64_t seed = 0) {
    merge::MergeConfig config = merge::read_merge_config(recipe_path);
    return merge::merge_models(config, {.output = output, .seed = seed});
}

merge::MergeResult merge_text(const std::string& yaml, const std::string& output, uint64_t seed = 0) {
    merge::MergeConfig config = merge::parse_merge_config(yaml, "merge.yml");
    return merge::merge_models(config, {.output = output, .seed = seed});
}

// Every tensor of OURS equals REF's: same names, dtypes and shapes, max |a - b| <= 1e-6 max |b|.
void expect_same_tensors(const std::string& ours, const std::string& ref, double rel = 1e-6) {
    auto a = load_folder(ours), b = load_folder(ref);
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [name, expected] : b) {
        ASSERT_TRUE(a.count(name)) << name;
        const at::Tensor& got = a.at(name);
        EXPECT_EQ(got.scalar_type(), expected.scalar_type()) << name;
        ASSERT_EQ(got.sizes(), expected.sizes()) << name;
        const double scale = expected.to(at::kDouble).abs().max().item<double>();
        EXPECT_LE(test::max_abs_diff(got, expected), rel * scale) << name;
    }
}

// ---------------------------------------------------------------- against mergekit

class MergeInterop : public ::testing::TestWithParam<std::string> {};

TEST_P(MergeInterop, EveryTensorMatchesMergekit) {
    REQUIRE_INTEROP();
    const std::string name = GetParam();
    test::TempDir dir;
    merge_recipe(interop_refs() + "/configs/" + name + ".yml", dir.str() + "/out");
    expect_same_tensors(dir.str() + "/out", interop_refs() + "/merged/" + name);
}

INSTANTIATE_TEST_SUITE_P(Recipes, MergeInterop,
                         ::testing::Values("linear", "linear_unnormalized", "linear_bf16", "task_arithmetic", "chat_vector", "ties",
                                           "ties_rescaled", "slerp", "breadcrumbs", "breadcrumbs_ties"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// The command line end to end, sharded: the same tensors, an index naming every one, the recipe kept.
TEST(MergeInteropCli, ShardedOutputMatchesMergekit) {
    REQUIRE_INTEROP();
    test::TempDir dir;
    const std::string out = dir.str() + "/out";
    int code = -1;
    auto events = test::run_to_end({LATHE_CLI, "merge", interop_refs() + "/configs/ties.yml", "--output", out, "--max-shard-size", "100KB"}, &code);
    ASSERT_EQ(code, 0);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back()["event"], "done");
    EXPECT_GT(events.back()["shards"].get<int>(), 1);
    json index = read_json_file(out + "/model.safetensors.index.json");
    EXPECT_EQ(index["weight_map"].size(), load_folder(interop_refs() + "/merged/ties").size());
    EXPECT_EQ(read_text(out + "/mergekit_config.yml"), read_text(interop_refs() + "/configs/ties.yml"));
    EXPECT_EQ(read_json_file(out + "/config.json")["num_hidden_layers"], 4);
    expect_same_tensors(out, interop_refs() + "/merged/ties");
}

// ---------------------------------------------------------------- recipes

TEST(MergeConfig, ReadsAMergekitRecipe) {
    auto c = merge::parse_merge_config(R"(
merge_method: ties
base_model: /models/base
models:
  - model: /models/base
  - model: /models/a
    parameters:
      density: [1, 0.7, 0.1]
      weight: 1.0
parameters:
  normalize: true
  int8_mask: true
dtype: bfloat16
tokenizer_source: base
)", "r.yml");
    EXPECT_STREQ(c.method->name, "ties");
    EXPECT_EQ(c.base_model, "/models/base");
    ASSERT_EQ(c.models.size(), 2u);
    EXPECT_EQ(c.models[1].model, "/models/a");
    EXPECT_EQ(c.models[1].parameters.at("density").plain.values.size(), 3u);
    EXPECT_EQ(c.dtype, "bfloat16");
    EXPECT_TRUE(c.warnings.empty());
}

// mergekit's evaluate_setting: the first scope that sets a value wins; within a list of conditions the
// first whose filter is part of the tensor name; gradients interpolate linearly at t.
TEST(MergeConfig, ResolvesFiltersAndGradientsAsMergekit) {
    auto c = merge::parse_merge_config(R"(
merge_method: slerp
base_model: b
models:
  - model: b
  - model: a
parameters:
  t:
    - filter: self_attn
      value: [0, 0.5, 0.3, 0.7, 1]
    - filter: mlp
      value: [1, 0.5, 0.7, 0.3, 0]
    - value: 0.5
)", "r.yml");
    const merge::ParamSpec& t = *merge::find_parameter(*c.method, "t");
    auto at = [&](const std::string& tensor, double pos) { return *merge::resolve_parameter(t, {&c.parameters}, tensor, pos); };
    EXPECT_DOUBLE_EQ(at("model.layers.0.self_attn.q_proj.weight", 0), 0.0);
    EXPECT_DOUBLE_EQ(at("model.layers.3.self_attn.q_proj.weight", 1), 1.0);
    // t = 1/3 over 5 points: between the 2nd and 3rd, a third of the way: 0.5 * 2/3 + 0.3 * 1/3
    EXPECT_NEAR(at("model.layers.1.self_attn.o_proj.weight", 1.0 / 3), 0.5 * 2 / 3 + 0.3 / 3, 1e-15);
    EXPECT_NEAR(at("model.layers.2.mlp.up_proj.weight", 2.0 / 3), 0.7 * 1 / 3 + 0.3 * 2 / 3, 1e-15);
    EXPECT_DOUBLE_EQ(at("model.norm.weight", 0), 0.5);

    auto d = merge::parse_merge_config(R"(
merge_method: ties
base_model: b
models:
  - model: a
    parameters:
      weight:
        - filter: mlp
          value: 2
parameters:
  weight: 0.25
)", "r.yml");
    const merge::ParamSpec& weight = *merge::find_parameter(*d.method, "weight");
    const merge::ParamSpec& normalize = *merge::find_parameter(*d.method, "normalize");
    const merge::ParamSpec& lambda = *merge::find_parameter(*d.method, "lambda");
    std::vector<const merge::Parameters*> scopes = {&d.models[0].parameters, &d.parameters};
    EXPECT_DOUBLE_EQ(*merge::resolve_parameter(weight, scopes, "model.layers.0.mlp.down_proj.weight", 0), 2.0);
    EXPECT_DOUBLE_EQ(*merge::resolve_parameter(weight, scopes, "model.layers.0.self_attn.q_proj.weight", 0), 0.25);  // falls through
    EXPECT_DOUBLE_EQ(*merge::resolve_parameter(normalize, scopes, "x", 0), 1.0);  // ties' default
    EXPECT_DOUBLE_EQ(*merge::resolve_parameter(lambda, scopes, "x", 0), 1.0);
    const merge::ParamSpec& slerp_t = *merge::find_parameter(*c.method, "t");
    EXPECT_FALSE(merge::resolve_parameter(slerp_t, {}, "x", 0).has_value());  // required, unset
}

TEST(MergeConfig, ReportsEveryProblemWithItsLine) {
    try {
        merge::parse_merge_config(R"(merge_method: tiez
models:
  - model: a
    parameters:
      wieght: 1
  - path: b
dtype: float8
slices: []
)", "bad.yml");
        FAIL() << "accepted a broken recipe";
    } catch (const Error& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("bad.yml:1: merge_method: 'tiez' is not supported"), std::string::npos) << m;
        EXPECT_NE(m.find("bad.yml:6: models[1].path: unknown key"), std::string::npos) << m;
        EXPECT_NE(m.find("bad.yml:7: dtype: 'float8'"), std::string::npos) << m;
        EXPECT_NE(m.find("bad.yml:8: slices: is not supported"), std::string::npos) << m;
    }
    try {
        merge::parse_merge_config("merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      wieght: 1\n      weight: x\n", "w.yml");
        FAIL();
    } catch (const Error& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("w.yml:5: models[0].parameters.wieght: unknown parameter (linear takes: weight, normalize)"), std::string::npos) << m;
        EXPECT_NE(m.find("w.yml:6: models[0].parameters.weight: must be a number, got 'x'"), std::string::npos) << m;
    }
    // mergekit's recipes often carry parameters another method uses: a warning, not an error.
    auto c = merge::parse_merge_config("merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      weight: 1\n      density: 0.5\n", "w.yml");
    ASSERT_EQ(c.warnings.size(), 1u);
    EXPECT_NE(c.warnings[0].find("linear does not use 'density'"), std::string::npos);
    EXPECT_THROW(merge::parse_merge_config("merge_method: slerp\nbase_model: b\nmodels:\n  - model: a\n  - model: c\nparameters:\n  t: 0.5\n", "s.yml"),
                 Error);
}

// ---------------------------------------------------------------- DARE

// DARE's drop is random: checked by what it must do — keep each element with probability `density`,
// rescale the kept ones so the L1 norm is unchanged, and repeat itself for one seed.
TEST(MergeDare, KeepsTheDensityAndRescales) {
    at::Tensor x = at::randn({1000, 1000}, at::detail::createCPUGenerator(5));
    for (double density : {0.1, 0.3, 0.9}) {
        at::Tensor y = merge::sparsify_random(x, density, true, at::detail::createCPUGenerator(42));
        at::Tensor kept = y != 0;
        const double fraction = kept.to(at::kDouble).mean().item<double>();
        EXPECT_NEAR(fraction, density, 5 * std::sqrt(density * (1 - density) / 1e6)) << density;
        // every kept element is the original times one factor: the L1 ratio
        const double factor = (x.abs().sum() / (x * kept).abs().sum()).item<double>();
        EXPECT_NEAR(factor, 1 / density, 0.02 / density);
        EXPECT_TRUE(at::allclose(y, x * kept * factor, 1e-5, 1e-6));
        EXPECT_NEAR(y.abs().sum().item<double>(), x.abs().sum().item<double>(), 1e-4 * x.abs().sum().item<double>());
        // no rescale: the kept elements unchanged
        at::Tensor z = merge::sparsify_random(x, density, false, at::detail::createCPUGenerator(42));
        EXPECT_TRUE(at::equal(z, x * (z != 0)));
    }
    at::Tensor a = merge::sparsify_random(x, 0.5, true, at::detail::createCPUGenerator(1));
    at::Tensor b = merge::sparsify_random(x, 0.5, true, at::detail::createCPUGenerator(1));
    at::Tensor c = merge::sparsify_random(x, 0.5, true, at::detail::createCPUGenerator(2));
    EXPECT_TRUE(at::equal(a, b));
    EXPECT_FALSE(at::equal(a, c));
}

std::string two_llama_copies(const test::TempDir& dir) {
    // a second model: the llama fixture with every tensor doubled
    fs::create_directories(dir.path / "b");
    for (const char* f : {"config.json", "generation_config.json"}) fs::copy_file(test::hf_model("llama") + "/" + f, dir.path / "b" / f);
    std::vector<std::pair<std::string, at::Tensor>> doubled;
    for (auto& [name, t] : load_safetensors(test::hf_model("llama") + "/model.safetensors")) doubled.emplace_back(name, t * 2);
    save_safetensors((dir.path / "b" / "model.safetensors").string(), doubled);
    return (dir.path / "b").string();
}

TEST(MergeDare, DareMergesAreSeeded) {
    test::TempDir dir;
    const std::string b = two_llama_copies(dir);
    const std::string recipe = "merge_method: dare_ties\nbase_model: " + test::hf_model("llama") + "\nmodels:\n  - model: " + b +
                               "\n    parameters:\n      weight: 1\n      density: 0.4\n";
    merge_text(recipe, dir.str() + "/s1", 1);
    merge_text(recipe, dir.str() + "/s1again", 1);
    merge_text(recipe, dir.str() + "/s2", 2);
    auto base = load_folder(test::hf_model("llama"));
    auto one = load_folder(dir.str() + "/s1"), again = load_folder(dir.str() + "/s1again"), two = load_folder(dir.str() + "/s2");
    const at::Tensor& w = base.at("model.layers.0.mlp.up_proj.weight");
    EXPECT_TRUE(at::equal(one.at("model.layers.0.mlp.up_proj.weight"), again.at("model.layers.0.mlp.up_proj.weight")));
    EXPECT_FALSE(at::equal(one.at("model.layers.0.mlp.up_proj.weight"), two.at("model.layers.0.mlp.up_proj.weight")));
    // the task vector is w itself: where it was dropped the merge is w, elsewhere w + w / kept-fraction
    at::Tensor delta = one.at("model.layers.0.mlp.up_proj.weight") - w;
    const double kept = (delta.abs() > 1e-7 * w.abs().max()).to(at::kDouble).mean().item<double>();
    EXPECT_NEAR(kept, 0.4, 0.05);
    EXPECT_NEAR(delta.abs().sum().item<double>(), w.abs().sum().item<double>(), 1e-4 * w.abs().sum().item<double>());
}

// ---------------------------------------------------------------- output folder and refusals

TEST(MergeOutput, ShardedFolderWithTheBaseTokenizer) {
    test::TempDir src, dir;
    const std::string model = test::model_with_tokenizer(src);
    // one input (the base is listed, so it is not added again; its own weight wins over the top-level
    // one): a normalized linear merge of x alone is 0.5 x / 0.5 = x, exactly
    const std::string recipe = "merge_method: linear\nbase_model: " + model + "\nmodels:\n  - model: " + model +
                               "\n    parameters:\n      weight: 0.5\nparameters:\n  weight: 1.5\n";
    std::ofstream(dir.path / "r.yml") << recipe;
    merge::MergeConfig config = merge::read_merge_config((dir.path / "r.yml").string());
    auto result = merge::merge_models(config, {.output = dir.str() + "/out", .max_shard_bytes = 200'000, .recipe_text = recipe});
    EXPECT_GT(result.shards, 1u);
    auto got = load_folder(dir.str() + "/out"), want = load_folder(model);
    ASSERT_EQ(got.size(), want.size());
    for (const auto& [name, t] : want) EXPECT_TRUE(at::equal(got.at(name), t)) << name;
    for (const char* f : {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja"})
        EXPECT_EQ(read_text(dir.str() + "/out/" + f), read_text(model + "/" + f)) << f;
    EXPECT_EQ(read_json_file(dir.str() + "/out/config.json")["vocab_size"], 1503);
    EXPECT_TRUE(fs::exists(dir.path / "out" / "generation_config.json"));
    EXPECT_EQ(read_json_file(dir.str() + "/out/model.safetensors.index.json")["weight_map"].size(), want.size());
    EXPECT_EQ(read_text(dir.str() + "/out/mergekit_config.yml"), recipe);
    // OUTPUT exists: refused without --force, replaced with it
    EXPECT_THROW(merge::merge_models(config, {.output = dir.str() + "/out"}), Error);
    EXPECT_NO_THROW(merge::merge_models(config, {.output = dir.str() + "/out", .force = true}));
}

void expect_refused(const std::string& recipe, const test::TempDir& dir, const std::vector<std::string>& needles) {
    try {
        merge_text(recipe, dir.str() + "/out");
        FAIL() << "merged mismatched models";
    } catch (const Error& e) {
        for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(dir.path / "out"));
    for (const auto& entry : fs::directory_iterator(dir.path)) EXPECT_EQ(entry.path().filename().string().find(".out"), std::string::npos);
}

TEST(MergeRefuses, OtherArchitectures) {
    test::TempDir dir;
    expect_refused("merge_method: task_arithmetic\nbase_model: " + test::hf_model("llama") + "\nmodels:\n  - model: " + test::hf_model("qwen2") +
                       "\n    parameters:\n      weight: 1\n",
                   dir, {"models[0] (" + test::hf_model("qwen2") + "): config.json model_type is \"qwen2\" but base_model", "\"llama\""});
}

TEST(MergeRefuses, OtherShapes) {
    test::TempDir dir;
    fs::create_directories(dir.path / "b");
    fs::copy_file(test::hf_model("llama") + "/config.json", dir.path / "b" / "config.json");
    std::vector<std::pair<std::string, at::Tensor>> weights;
    for (auto& [name, t] : load_safetensors(test::hf_model("llama") + "/model.safetensors"))
        weights.emplace_back(name, name == "model.layers.1.mlp.up_proj.weight" ? t.narrow(0, 0, 100).contiguous() : t);
    save_safetensors((dir.path / "b" / "model.safetensors").string(), weights);
    const std::string b = (dir.path / "b").string();
    expect_refused("merge_method: linear\nmodels:\n  - model: " + test::hf_model("llama") + "\n  - model: " + b + "\nparameters:\n  weight: 1\n", dir,
                   {"models[1] (" + b + "): tensor 'model.layers.1.mlp.up_proj.weight' is [100, 64] but [128, 64] in models[0]"});
}

TEST(MergeRefuses, OtherVocabularies) {
    test::TempDir a, b, dir;
    const std::string ma = test::model_with_tokenizer(a), mb = test::model_with_tokenizer(b);
    json tok = read_json_file(mb + "/tokenizer.json");
    auto& vocab = tok["model"]["vocab"];
    std::string first = vocab.begin().key(), second = std::next(vocab.begin()).key();
    std::swap(vocab[first], vocab[second]);  // same size, two tokens trade ids
    std::ofstream(mb + "/tokenizer.json") << tok.dump();
    expect_refused("merge_method: slerp\nbase_model: " + ma + "\nmodels:\n  - model: " + mb + "\nparameters:\n  t: 0.5\n", dir,
                   {"models[0] (" + mb + "): its tokenizer.json vocabulary differs from base_model"});
}

TEST(MergeRefuses, MissingParameters) {
    test::TempDir dir;
    expect_refused("merge_method: task_arithmetic\nbase_model: " + test::hf_model("llama") + "\nmodels:\n  - model: " + test::hf_model("llama") +
                       "\n  - model: " + two_llama_copies(dir) + "\n",
                   dir, {"parameter 'weight' is missing"});
}

// ---------------------------------------------------------------- runs as inputs

// A 3-step run of `lathe train` on the llama fixture, in its own run store.
struct TrainedLlamaRun {
    test::TempDir dir;
    int64_t id = 0;
    explicit TrainedLlamaRun(const std::string& settings) {
        const std::string data = test::fixtures() + "/hf/training/llama/train.jsonl";
        std::ofstream(dir.path / "run.yaml") << "base_model: " << test::hf_model("llama") << "\ndatasets:\n  - path: " << data
                                             << "\n    type: pretokenized\noutput_dir: " << dir.str() << "/out\n"
                                             << "micro_batch_size: 4\nsequence_len: 64\nmax_steps: 3\nlearning_rate: 0.02\n" << settings;
        int code = -1;
        for (const auto& e : test::run_to_end({LATHE_CLI, "train", dir.str() + "/run.yaml", "--store", store()}, &code))
            if (e.contains("run_id")) id = e["run_id"];
        EXPECT_EQ(code, 0);
    }
    std::string store() const { return dir.str() + "/lathe.db"; }
};

// An adapter run is merged into its base first (as `lathe export --format merged` writes it); a full
// finetune's checkpoint is read as it is. base + 1 * (run - base) must give the run's weights back.
TEST(MergeRuns, RunCheckpointsAreInputs) {
    for (const std::string settings : {"adapter: lora\nlora_r: 4\nlora_alpha: 8\nlora_target_linear: true\n",
                                       "unfrozen_parameters: ['model\\.layers\\.1\\..*']\n"}) {
        TrainedLlamaRun run(settings);
        ASSERT_GT(run.id, 0);
        const std::string exported = run.dir.str() + "/exported";
        int code = -1;
        test::run_to_end({LATHE_CLI, "export", "--run", std::to_string(run.id), "--store", run.store(), "--format", "merged", "--output", exported}, &code);
        ASSERT_EQ(code, 0);
        std::ofstream(run.dir.path / "r.yml") << "merge_method: task_arithmetic\nbase_model: " << test::hf_model("llama")
                                              << "\nmodels:\n  - model: run:" << run.id << ":3\n    parameters:\n      weight: 1.0\n";
        const std::string out = run.dir.str() + "/merged";
        test::run_to_end({LATHE_CLI, "merge", run.dir.str() + "/r.yml", "--output", out, "--store", run.store()}, &code);
        ASSERT_EQ(code, 0) << settings;
        auto got = load_folder(out), want = load_folder(exported), base = load_folder(test::hf_model("llama"));
        ASSERT_EQ(got.size(), want.size());
        for (const auto& [name, t] : want)
            EXPECT_LE(test::max_abs_diff(got.at(name), t), 1e-6 * t.abs().max().item<double>()) << name;
        EXPECT_GT(test::max_abs_diff(got.at("model.layers.1.self_attn.q_proj.weight"), base.at("model.layers.1.self_attn.q_proj.weight")), 1e-4);
        // the scratch folder of the adapter merge is gone
        for (const auto& entry : fs::directory_iterator(run.dir.path))
            EXPECT_EQ(entry.path().filename().string().find("merge-inputs"), std::string::npos) << entry.path();
    }
}

TEST(MergeRuns, BadRunReferences) {
    test::TempDir dir;
    merge::RunInputResolver runs(dir.str() + "/none.db", dir.str() + "/out");
    EXPECT_EQ(runs.resolve("/models/x"), "/models/x");
    try {
        runs.resolve("run:abc");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("a run input is run:ID or run:ID:STEP"), std::string::npos) << e.what();
    }
    EXPECT_THROW(runs.resolve("run:3"), Error);  // no such store
}

}  // namespace
}  // namespace lathe

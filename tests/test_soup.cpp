// `lathe soup` (greedy soup): the ingredients' held-out losses, their order, each keep / leave-out
// decision and each candidate soup's loss against transformers (tests/interop/make_soup_references.py,
// which follows the greedy soup recipe with transformers' own causal LM loss), the uniform soup against
// mergekit's linear merge with equal weights; inputs that cannot be merged refused before anything runs.
#include <gtest/gtest.h>

#include <ATen/ops/abs.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/io/checkpoint.h"
#include "core/io/tensor_io.h"
#include "core/merge/greedy_soup.h"
#include "core/util/error.h"
#include "core/util/json_file.h"
#include "tests/child_process.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string soup_refs() {
    const char* dir = std::getenv("LATHE_INTEROP_REFS");
    return dir && *dir ? std::string(dir) + "/merge" : "";
}

std::map<std::string, at::Tensor> load_folder(const std::string& dir) {
    Checkpoint ckpt = Checkpoint::open_dir(dir);
    std::map<std::string, at::Tensor> out;
    for (const auto& name : ckpt.names()) out[name] = tensor_view(ckpt.at(name)).clone();
    return out;
}

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The transformers loss is float32 over 160 tokens; Lathe's chunked loss sums in another order.
constexpr double kLossTolerance = 2e-5;

TEST(SoupInterop, GreedySoupMatchesTransformersAndMergekit) {
    if (soup_refs().empty()) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which sets up the venv";
    const json ref = read_json_file(soup_refs() + "/soup/reference.json");
    test::TempDir dir;
    const std::string out = dir.str() + "/soup", uniform = dir.str() + "/uniform";
    std::vector<std::string> args{LATHE_CLI, "soup"};
    for (const auto& m : ref["inputs"]) args.push_back(m.get<std::string>());
    for (const std::string& a : std::vector<std::string>{"--held-out", soup_refs() + "/soup/held_out.jsonl", "--output", out,
                                                          "--uniform-output", uniform, "--batch-size", "3"})
        args.push_back(a);
    int code = -1;
    const auto events = test::run_to_end(args, &code);
    ASSERT_EQ(code, 0);
    ASSERT_FALSE(events.empty());
    const json& done = events.back();
    ASSERT_EQ(done["event"], "done");
    EXPECT_EQ(done["held_out_rows"], 8);

    // Each ingredient's own loss, as transformers computes it, reported as it is measured.
    std::map<std::string, double> measured;
    for (const auto& e : events)
        if (e["event"] == "ingredient") measured[e["input"]] = e["loss"];
    ASSERT_EQ(measured.size(), ref["inputs"].size());
    for (size_t i = 0; i < ref["inputs"].size(); ++i)
        EXPECT_NEAR(measured.at(ref["inputs"][i]), ref["losses"][i].get<double>(), kLossTolerance) << ref["inputs"][i];

    // Tried best first; the reference's losses are far enough apart for the order to be certain.
    const json& rows = done["ingredients"];
    ASSERT_EQ(rows.size(), ref["order"].size());
    for (size_t k = 0; k < rows.size(); ++k) {
        EXPECT_EQ(rows[k]["input"], ref["order"][k]) << "rank " << k + 1;
        EXPECT_EQ(rows[k]["rank"], k + 1);
        if (k > 0) EXPECT_GT(rows[k]["loss"].get<double>(), rows[k - 1]["loss"].get<double>() + 10 * kLossTolerance);
    }
    EXPECT_EQ(rows[0]["decision"], "kept");
    EXPECT_TRUE(rows[0]["soup_loss"].is_null());
    // Each candidate soup's loss and decision.
    ASSERT_EQ(ref["steps"].size() + 1, rows.size());
    for (size_t k = 1; k < rows.size(); ++k) {
        const json& step = ref["steps"][k - 1];
        EXPECT_EQ(rows[k]["decision"], step["kept"].get<bool>() ? "kept" : "left_out") << rows[k]["input"];
        EXPECT_NEAR(rows[k]["soup_loss"].get<double>(), step["soup_loss"].get<double>(), kLossTolerance) << rows[k]["input"];
    }
    // The models are made so that both happen: a soup of several, and d (logits turned away) left out.
    const std::string bad = ref["inputs"].back();
    EXPECT_EQ(rows.back()["input"], bad);
    EXPECT_EQ(rows.back()["decision"], "left_out");
    EXPECT_GT(rows.back()["soup_loss"].get<double>(), done["greedy_soup"]["loss"].get<double>());
    EXPECT_EQ(done["greedy_soup"]["models"], ref["kept"]);
    EXPECT_GE(ref["kept"].size(), 2u);
    EXPECT_NEAR(done["greedy_soup"]["loss"].get<double>(), ref["greedy_loss"].get<double>(), kLossTolerance);
    EXPECT_NEAR(done["uniform_soup"]["loss"].get<double>(), ref["uniform_loss"].get<double>(), kLossTolerance);
    EXPECT_EQ(done["uniform_soup"]["models"], ref["inputs"]);

    // The uniform soup is mergekit's linear merge with equal weights, tensor for tensor.
    auto ours = load_folder(uniform), theirs = load_folder(soup_refs() + "/soup/uniform");
    ASSERT_EQ(ours.size(), theirs.size());
    for (const auto& [name, expected] : theirs) {
        ASSERT_TRUE(ours.count(name)) << name;
        ASSERT_EQ(ours.at(name).sizes(), expected.sizes()) << name;
        EXPECT_EQ(ours.at(name).scalar_type(), expected.scalar_type()) << name;
        const double scale = expected.abs().max().item<double>();
        EXPECT_LE(test::max_abs_diff(ours.at(name), expected), 1e-6 * scale) << name;
    }
    // The greedy soup's folder says how to make it again with mergekit: its members, weight 1 each.
    const std::string recipe = read_text(out + "/mergekit_config.yml");
    EXPECT_NE(recipe.find("merge_method: linear"), std::string::npos);
    for (const auto& m : ref["inputs"])
        EXPECT_EQ(recipe.find(m.get<std::string>()) != std::string::npos,
                  std::find(ref["kept"].begin(), ref["kept"].end(), m) != ref["kept"].end())
            << m;
    EXPECT_TRUE(fs::exists(out + "/config.json"));
}

// The error of greedy_soup(options), or "" when it ran.
std::string soup_error(const merge::SoupOptions& options) {
    try {
        merge::greedy_soup(options);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(Soup, RefusesOtherArchitecturesBeforeEvaluating) {
    test::TempDir dir;
    const std::string out = dir.str() + "/soup";
    int events = 0;
    merge::SoupOptions options{.inputs = {test::hf_model("llama"), test::hf_model("qwen2")},
                               .held_out = dir.str() + "/missing.jsonl",  // never read: the inputs are refused first
                               .output = out,
                               .report = [&events](const json&) { ++events; }};
    const std::string error = soup_error(options);
    EXPECT_NE(error.find("model_type is \"qwen2\""), std::string::npos) << error;
    EXPECT_EQ(events, 0);
    EXPECT_TRUE(fs::is_empty(dir.path));
}

TEST(Soup, RefusesAnExistingOutputAndRepeatedInputs) {
    test::TempDir dir;
    fs::create_directories(dir.path / "soup");
    merge::SoupOptions options{.inputs = {test::hf_model("llama"), test::hf_model("gemma")},
                               .held_out = dir.str() + "/missing.jsonl",
                               .output = dir.str() + "/soup"};
    std::string error = soup_error(options);
    EXPECT_NE(error.find("--output " + dir.str() + "/soup exists (--force replaces it)"), std::string::npos) << error;
    options.output = dir.str() + "/other";
    options.inputs = {test::hf_model("llama"), test::hf_model("llama")};
    error = soup_error(options);
    EXPECT_NE(error.find("is given twice"), std::string::npos) << error;
    EXPECT_TRUE(fs::is_empty(dir.path / "soup"));
    EXPECT_FALSE(fs::exists(dir.path / "other"));
}

}  // namespace
}  // namespace lathe

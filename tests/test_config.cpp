#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "core/models/config.h"
#include "core/models/model_summary.h"
#include "core/util/error.h"
#include "core/util/json_file.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

std::string write_config(const test::TempDir& dir, const nlohmann::json& j) {
    std::ofstream(dir.path / "config.json") << j.dump(2);
    return dir.str();
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(Config, BothLayoutsReadTheSame) {
    for (const auto& name : test::causal_models()) {
        test::TempDir dir;
        std::filesystem::copy_file(test::hf_model(name) + "/config.transformers4.json", dir.path / "config.json");
        ModelConfig v5 = read_model_config(test::hf_model(name));
        ModelConfig v4 = read_model_config(dir.str());
        EXPECT_EQ(v5.rope.type, v4.rope.type) << name;
        EXPECT_EQ(v5.rope.theta, v4.rope.theta) << name;
        EXPECT_EQ(v5.rope.factor, v4.rope.factor) << name;
        EXPECT_EQ(v5.rope.partial_rotary_factor, v4.rope.partial_rotary_factor) << name;
        EXPECT_EQ(v5.head_dim, v4.head_dim) << name;
        EXPECT_EQ(v5.tie_word_embeddings, v4.tie_word_embeddings) << name;
        EXPECT_EQ(v5.torch_dtype, v4.torch_dtype) << name;
    }
}

TEST(Config, ReadsTheFixtureValues) {
    ModelConfig q = read_model_config(test::hf_model("qwen2"));
    EXPECT_EQ(q.rope.theta, 1000000.0);
    EXPECT_TRUE(q.attention_bias);
    EXPECT_TRUE(q.tie_word_embeddings);
    ModelConfig l3 = read_model_config(test::hf_model("llama3-rope-scaled"));
    EXPECT_EQ(l3.rope.type, "llama3");
    EXPECT_EQ(l3.rope.factor, 8.0);
    EXPECT_EQ(l3.rope.original_max_position_embeddings, 64);
    ModelConfig g = read_model_config(test::hf_model("gpt2"));
    EXPECT_EQ(g.intermediate_size, 256);  // n_inner null -> 4 * n_embd
    EXPECT_EQ(g.head_dim, 16);
}

// What differs between the families' config.json, as the architecture table says and transformers'
// config classes read it: which key names the activation, which projections have biases, and whether
// a sliding_window is applied.
TEST(Config, ArchitectureRulesReadEachFamilysKeys) {
    auto read = [](const std::string& model, const nlohmann::json& extra) {
        test::TempDir dir;
        nlohmann::json j = read_json_file(test::hf_model(model) + "/config.json");
        for (const auto& [k, v] : extra.items()) {
            if (v.is_null()) j.erase(k);
            else j[k] = v;
        }
        return read_model_config(write_config(dir, j));
    };
    // LlamaConfig's attention_bias puts biases on q, k, v and o_proj; MistralConfig's only on q, k, v.
    ModelConfig l = read("llama", {{"attention_bias", true}, {"mlp_bias", true}});
    EXPECT_TRUE(l.attention_bias && l.o_bias && l.mlp_bias);
    ModelConfig m = read("mistral", {{"attention_bias", true}});
    EXPECT_TRUE(m.attention_bias);
    EXPECT_FALSE(m.o_bias);
    // Qwen2 always has q/k/v biases (no key), never o_proj's.
    ModelConfig q = read("qwen2", {{"attention_bias", nullptr}});
    EXPECT_TRUE(q.attention_bias);
    EXPECT_FALSE(q.o_bias);
    // GPT-2: every projection has a bias; its activation is activation_function.
    ModelConfig g = read("gpt2", {{"activation_function", "gelu"}});
    EXPECT_TRUE(g.attention_bias && g.o_bias && g.mlp_bias);
    EXPECT_EQ(g.hidden_act, "gelu");
    // Gemma reads hidden_activation (its hidden_act "gelu" was the tanh approximation), else gelu_pytorch_tanh.
    EXPECT_EQ(read("gemma", {{"hidden_act", "gelu"}, {"hidden_activation", nullptr}}).hidden_act, "gelu_pytorch_tanh");
    EXPECT_EQ(read("gemma", {{"hidden_act", "silu"}, {"hidden_activation", "gelu"}}).hidden_act, "gelu");
    EXPECT_EQ(read("llama", {{"hidden_act", "gelu"}, {"hidden_activation", "relu"}}).hidden_act, "gelu");
    // Mistral applies its window; Qwen2/Qwen3 only with use_sliding_window; Llama has none.
    EXPECT_EQ(read("mistral", {{"sliding_window", 4}}).sliding_window, std::optional<int64_t>(4));
    EXPECT_FALSE(read("qwen2", {{"sliding_window", 4}, {"use_sliding_window", false}}).sliding_window);
    EXPECT_EQ(read("qwen2", {{"sliding_window", 4}, {"use_sliding_window", true}}).sliding_window, std::optional<int64_t>(4));
    EXPECT_EQ(read("qwen3", {{"sliding_window", 4}, {"use_sliding_window", true}}).sliding_window, std::optional<int64_t>(4));
    EXPECT_FALSE(read("llama", {{"sliding_window", 4}, {"use_sliding_window", true}}).sliding_window);
}

TEST(Config, OldRopeScalingTypeKeyIsRead) {
    test::TempDir dir;
    auto j = read_json_file(test::hf_model("llama3-rope-scaled") + "/config.transformers4.json");
    j["rope_scaling"].erase("rope_type");
    j["rope_scaling"]["type"] = "llama3";
    ModelConfig c = read_model_config(write_config(dir, j));
    EXPECT_EQ(c.rope.type, "llama3");
}

TEST(Config, MissingRopeThetaIsAnErrorNotADefault) {
    test::TempDir dir;
    auto j = read_json_file(test::hf_model("qwen2") + "/config.json");
    j.erase("rope_parameters");
    std::string msg = error_of([&] { read_model_config(write_config(dir, j)); });
    EXPECT_NE(msg.find("rope_theta"), std::string::npos) << msg;
    EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
}

TEST(Config, UnknownModelTypeNamesTheSupportedOnes) {
    test::TempDir dir;
    auto j = read_json_file(test::hf_model("llama") + "/config.json");
    j["model_type"] = "mamba";
    std::string msg = error_of([&] { read_model_config(write_config(dir, j)); });
    EXPECT_NE(msg.find("'mamba' is not supported"), std::string::npos) << msg;
    EXPECT_NE(msg.find("qwen3"), std::string::npos) << msg;
}

TEST(Config, WrongTypeNamesTheKey) {
    test::TempDir dir;
    auto j = read_json_file(test::hf_model("llama") + "/config.json");
    j["num_hidden_layers"] = "two";
    std::string msg = error_of([&] { read_model_config(write_config(dir, j)); });
    EXPECT_NE(msg.find("num_hidden_layers"), std::string::npos) << msg;
}

TEST(Config, UnsupportedRopeTypeIsAnError) {
    test::TempDir dir;
    auto j = read_json_file(test::hf_model("phi3") + "/config.json");
    j["rope_parameters"]["rope_type"] = "longrope";
    std::string msg = error_of([&] { read_model_config(write_config(dir, j)); });
    EXPECT_NE(msg.find("longrope"), std::string::npos) << msg;
}

TEST(Config, MalformedJsonNamesLineAndColumn) {
    test::TempDir dir;
    std::ofstream(dir.path / "config.json") << "{\n  \"model_type\": \"llama\",\n  oops\n}";
    std::string msg = error_of([&] { read_model_config(dir.str()); });
    EXPECT_NE(msg.find("config.json:3:"), std::string::npos) << msg;
}

TEST(ModelSummary, DescribesAFixtureWithoutLoadingIt) {
    ModelSummary s = summarize_model(test::hf_model("qwen2"));
    EXPECT_EQ(s.architecture, "Qwen2");
    EXPECT_EQ(s.dtype, "float32");
    EXPECT_EQ(s.parameters, 107072);  // REPORT.json's count from transformers
    EXPECT_TRUE(s.tied_embeddings);
    EXPECT_EQ(s.size_bytes, std::filesystem::file_size(test::hf_model("qwen2") + "/model.safetensors"));
}

TEST(ModelSummary, ParameterCountsMatchTransformers) {
    auto report = read_json_file(test::fixtures() + "/hf/REPORT.json");
    for (const auto& name : test::causal_models())
        EXPECT_EQ(summarize_model(test::hf_model(name)).parameters, report["models"][name]["params"].get<int64_t>()) << name;
}

}  // namespace
}  // namespace lathe

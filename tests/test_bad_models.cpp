// Model folders that are wrong in the ways real downloads are wrong: each is a clear error naming the
// file and tensor, never a crash or a silently wrong model.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/io/tensor_io.h"
#include "core/models/loader.h"
#include "core/util/error.h"
#include "core/util/json_file.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;

// A copy of a fixture whose tensors can be edited.
struct EditableModel {
    test::TempDir dir;
    std::map<std::string, at::Tensor> tensors;
    explicit EditableModel(const std::string& name) {
        fs::copy_file(test::hf_model(name) + "/config.json", dir.path / "config.json");
        for (auto& [k, v] : load_safetensors(test::hf_model(name) + "/model.safetensors")) tensors[k] = v.clone();
    }
    std::string save() {
        std::vector<std::pair<std::string, at::Tensor>> list(tensors.begin(), tensors.end());
        save_safetensors(dir.str() + "/model.safetensors", list);
        return dir.str();
    }
};

std::string load_error(const std::string& dir) {
    try {
        load_model(dir);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(BadModel, MissingTensorIsNamed) {
    EditableModel m("llama");
    m.tensors.erase("model.layers.1.mlp.up_proj.weight");
    std::string msg = load_error(m.save());
    EXPECT_NE(msg.find("'model.layers.1.mlp.up_proj.weight' is missing"), std::string::npos) << msg;
}

TEST(BadModel, WrongShapeNamesTensorAndExpectation) {
    EditableModel m("qwen3");
    m.tensors["model.layers.0.self_attn.k_proj.weight"] = at::zeros({16, 64});
    std::string msg = load_error(m.save());
    EXPECT_NE(msg.find("model.layers.0.self_attn.k_proj.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[16, 64]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[32, 64]"), std::string::npos) << msg;
}

TEST(BadModel, UntiedModelWithoutLmHeadIsRejected) {
    EditableModel m("llama");
    m.tensors.erase("lm_head.weight");
    std::string msg = load_error(m.save());
    EXPECT_NE(msg.find("lm_head.weight"), std::string::npos) << msg;
}

TEST(BadModel, IntegerWeightsAreRejected) {
    EditableModel m("gpt2");
    m.tensors["transformer.ln_f.weight"] = at::zeros({64}, at::TensorOptions().dtype(at::kLong));
    std::string msg = load_error(m.save());
    EXPECT_NE(msg.find("transformer.ln_f.weight"), std::string::npos) << msg;
}

TEST(BadModel, ConfigDisagreeingWithWeightsIsCaught) {
    EditableModel m("mistral");
    auto config = read_json_file((m.dir.path / "config.json").string());
    config["num_key_value_heads"] = 4;  // weights were made with 2
    std::ofstream(m.dir.path / "config.json") << config.dump();
    std::string msg = load_error(m.save());
    EXPECT_NE(msg.find("k_proj.weight"), std::string::npos) << msg;
}

TEST(BadModel, FolderWithoutWeights) {
    test::TempDir dir;
    fs::copy_file(test::hf_model("llama") + "/config.json", dir.path / "config.json");
    std::string msg = load_error(dir.str());
    EXPECT_NE(msg.find("no model.safetensors"), std::string::npos) << msg;
}

TEST(BadModel, FolderWithoutConfig) {
    test::TempDir dir;
    std::string msg = load_error(dir.str());
    EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
}

TEST(BadModel, Bfloat16CheckpointLoadsAndComputesInFloat32WhenAsked) {
    EditableModel m("llama");
    for (auto& [k, v] : m.tensors) v = v.to(at::kBFloat16);
    std::string dir = m.save();
    LoadOptions options;
    options.dtype = at::kFloat;
    auto model = load_model(dir, options);
    EXPECT_EQ(model->lm->dtype(), at::kFloat);
    auto native = load_model(dir);
    EXPECT_EQ(native->lm->dtype(), at::kBFloat16);
}

}  // namespace
}  // namespace lathe

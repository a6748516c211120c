// Pre-quantized bitsandbytes 4-bit checkpoints, as transformers saves them (tests/interop/
// make_qlora_references.py, run by ctest's interop_refs fixture): Lathe loads them directly and its logits
// equal transformers + bitsandbytes (CPU) within 1e-4 of the logits' scale.
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/equal.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <functional>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/cli/commands.h"
#include "core/io/tensor_io.h"
#include "core/models/loader.h"
#include "core/models/model_summary.h"
#include "core/quant/quantize_model.h"
#include "core/util/error.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;

std::string qlora_refs() {
    const char* dir = std::getenv("LATHE_INTEROP_REFS");
    return dir ? std::string(dir) + "/qlora" : "";
}

class QloraModel : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (qlora_refs().empty()) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which makes the references";
    }
    at::NoGradGuard no_grad;
};

TEST_P(QloraModel, LogitsMatchTransformersWithBitsandbytes) {
    std::string dir = qlora_refs() + "/" + GetParam();
    ASSERT_TRUE(fs::exists(dir + "/reference.safetensors")) << dir;
    auto ref = load_safetensors(dir + "/reference.safetensors");
    auto model = load_model(dir);
    ASSERT_TRUE(model->config.quantization.has_value());
    int quantized = 0;
    for (Linear* l : model->linears()) quantized += l->weight_4bit != nullptr;
    EXPECT_EQ(quantized, static_cast<int>(model->linears().size()) - 1) << "every decoder-block linear, not lm_head";
    EXPECT_FALSE(model->lm->lm_head.weight_4bit);
    EXPECT_TRUE(model->unused_tensors.empty()) << model->unused_tensors.front();

    at::Tensor logits = model->lm->forward(ref.at("input_ids"));
    at::Tensor expected = ref.at("logits");
    double scale = expected.abs().max().item<double>();
    EXPECT_LT(test::max_abs_diff(logits, expected) / scale, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Bitsandbytes, QloraModel,
                         ::testing::Values("llama-nf4-dq", "llama-fp4", "qwen2-nf4", "qwen3-fp4-dq"),
                         [](const auto& info) {
                             std::string name = info.param;
                             for (char& c : name) if (c == '-') c = '_';
                             return name;
                         });

TEST(QloraInfo, SummaryNamesTheQuantization) {
    if (qlora_refs().empty()) GTEST_SKIP() << "LATHE_INTEROP_REFS not set";
    ModelSummary s = summarize_model(qlora_refs() + "/llama-nf4-dq");
    EXPECT_EQ(s.quantization, "bitsandbytes 4-bit nf4, double quantization, compute float32");
    // The float fixture's parameter count: the packed bytes count as two weights each.
    EXPECT_EQ(s.parameters, summarize_model(test::hf_model("llama")).parameters);
}

// A copy of a 4-bit folder whose quantization_config (or quant_state) has been edited.
std::string edited_copy(const test::TempDir& tmp, const std::function<void(nlohmann::json&)>& edit) {
    std::string src = qlora_refs() + "/llama-nf4-dq";
    fs::copy(src, tmp.path, fs::copy_options::recursive);
    nlohmann::json config;
    std::ifstream(tmp.path / "config.json") >> config;
    edit(config["quantization_config"]);
    std::ofstream(tmp.path / "config.json") << config.dump(2);
    return tmp.str();
}

TEST(QloraBadInput, ConfigLatheCannotHonourIsAnErrorNamingTheKey) {
    if (qlora_refs().empty()) GTEST_SKIP() << "LATHE_INTEROP_REFS not set";
    struct Case {
        std::function<void(nlohmann::json&)> edit;
        std::string key;
    };
    std::vector<Case> cases = {
        {[](nlohmann::json& q) { q["load_in_8bit"] = true; q["load_in_4bit"] = false; }, "quantization_config.load_in_8bit"},
        {[](nlohmann::json& q) { q = {{"quant_method", "gptq"}, {"bits", 4}}; }, "quantization_config.quant_method"},
        {[](nlohmann::json& q) { q = {{"quant_method", "awq"}, {"bits", 4}}; }, "quantization_config.quant_method"},
        {[](nlohmann::json& q) { q["bnb_4bit_quant_type"] = "int4"; }, "quantization_config.bnb_4bit_quant_type"},
    };
    for (const auto& c : cases) {
        test::TempDir tmp;
        std::string dir = edited_copy(tmp, c.edit);
        try {
            load_model(dir);
            ADD_FAILURE() << "loaded despite " << c.key;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(c.key), std::string::npos) << e.what();
        }
    }
}

}  // namespace
}  // namespace lathe

namespace lathe {
namespace {

// quantize_model (`lathe quantize`) on a float fixture: the folder holds the bytes transformers + bitsandbytes save for the
// same model (make_qlora_references.py), and they load it and compute Lathe's logits.
TEST(QloraQuantize, WritesWhatTransformersSavesAndLoads) {
    if (qlora_refs().empty()) GTEST_SKIP() << "LATHE_INTEROP_REFS not set";
    test::TempDir tmp;
    const std::string out = tmp.str() + "/llama-nf4";
    // What `lathe quantize --model llama --output OUT --quant-type nf4 --double-quant` runs.
    quant::QuantizeModelOptions options;
    options.config.quant_type = "nf4";
    options.config.double_quant = true;
    auto result = quant::quantize_model(test::hf_model("llama"), out, options);
    EXPECT_EQ(result.quantized_layers, 14);  // 2 layers x (q, k, v, o, gate, up, down)

    auto ours = load_safetensors(out + "/model.safetensors");
    auto theirs = load_safetensors(qlora_refs() + "/llama-nf4-dq/model.safetensors");
    EXPECT_EQ(ours.size(), theirs.size());
    for (const auto& [name, tensor] : theirs) {
        ASSERT_TRUE(ours.count(name)) << name;
        EXPECT_EQ(ours.at(name).scalar_type(), tensor.scalar_type()) << name;
        EXPECT_TRUE(ours.at(name).sizes() == tensor.sizes()) << name;
        EXPECT_TRUE(at::equal(ours.at(name).view(at::kByte), tensor.view(at::kByte))) << name;
    }
    nlohmann::json config;
    std::ifstream(out + "/config.json") >> config;
    nlohmann::json reference;
    std::ifstream(qlora_refs() + "/llama-nf4-dq/config.json") >> reference;
    EXPECT_EQ(config["quantization_config"], reference["quantization_config"]);

    // transformers + bitsandbytes load the folder; their logits equal Lathe's on it.
    at::NoGradGuard no_grad;
    auto ref = load_safetensors(qlora_refs() + "/llama-nf4-dq/reference.safetensors");
    save_safetensors(tmp.str() + "/input.safetensors", {{"input_ids", ref.at("input_ids")}});
    std::string py = std::string(LATHE_SOURCE_DIR) + "/.venv-interop/bin/python " + LATHE_SOURCE_DIR + "/tests/interop/bnb_logits.py " +
                     out + " " + tmp.str() + "/input.safetensors " + tmp.str() + "/logits.safetensors 2>&1";
    ASSERT_EQ(std::system(py.c_str()), 0) << py;
    nlohmann::json info;
    std::ifstream(tmp.str() + "/logits.safetensors.json") >> info;
    auto model = load_model(out);
    EXPECT_EQ(info["linear4bit_layers"].get<size_t>(), model->linears().size() - 1);
    at::Tensor expected = load_safetensors(tmp.str() + "/logits.safetensors").at("logits");
    at::Tensor logits = model->lm->forward(ref.at("input_ids"));
    EXPECT_LT(test::max_abs_diff(logits, expected) / expected.abs().max().item<double>(), 1e-4);
}

}  // namespace
}  // namespace lathe

namespace lathe {
namespace {

// `lathe quantize` (the command line the issue spells out) and `lathe info` on what it wrote, run
// in-process through the functions the CLI calls.
TEST(QloraCli, QuantizeThenInfoShowsTheQuantization) {
    test::TempDir tmp;
    const std::string out = tmp.str() + "/llama-fp4";
    QuantizeCommand cmd{.model_dir = test::hf_model("llama"), .output = out, .quant_type = "fp4", .compute_dtype = "bfloat16"};
    std::ostringstream log;
    run_quantize(cmd, log);
    EXPECT_NE(log.str().find("\"event\":\"done\""), std::string::npos) << log.str();
    EXPECT_NE(log.str().find("\"quantized_layers\":14"), std::string::npos) << log.str();

    std::ostringstream info;
    run_info({.model_dir = out}, info);
    EXPECT_NE(info.str().find("quantization   bitsandbytes 4-bit fp4, compute bfloat16"), std::string::npos) << info.str();
    std::ostringstream json_info;
    run_info({.model_dir = out, .json = true}, json_info);
    EXPECT_NE(json_info.str().find("\"quantization\": \"bitsandbytes 4-bit fp4, compute bfloat16\""), std::string::npos) << json_info.str();

    // An existing output is refused without --force; an already quantized model is refused as input.
    std::ostringstream ignored;
    EXPECT_THROW(run_quantize(cmd, ignored), Error);
    QuantizeCommand twice{.model_dir = out, .output = tmp.str() + "/twice"};
    try {
        run_quantize(twice, ignored);
        ADD_FAILURE() << "quantized a quantized model";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("already quantized"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace lathe

namespace lathe {
namespace {

struct OnLoadCase {
    std::string reference;  // folder made by make_qlora_references.py
    std::string fixture;
    std::string quant_type;
    bool double_quant;
};

// load_in_4bit quantizes a float checkpoint while loading, as transformers' from_pretrained with a
// BitsAndBytesConfig does: the same bytes as the folder transformers then saved, and its logits.
TEST(QloraLoad, QuantizeOnLoadEqualsTransformers) {
    if (qlora_refs().empty()) GTEST_SKIP() << "LATHE_INTEROP_REFS not set";
    at::NoGradGuard no_grad;
    for (const OnLoadCase& c : std::vector<OnLoadCase>{{"llama-nf4-dq", "llama", "nf4", true},
                                                      {"llama-fp4", "llama", "fp4", false},
                                                      {"qwen2-nf4", "qwen2", "nf4", false},
                                                      {"qwen3-fp4-dq", "qwen3", "fp4", true}}) {
        SCOPED_TRACE(c.reference);
        LoadOptions options;
        quant::BnbQuantizationConfig config;
        config.quant_type = c.quant_type;
        config.double_quant = c.double_quant;
        options.load_in_4bit = config;
        auto model = load_model(test::hf_model(c.fixture), options);
        auto saved = load_safetensors(qlora_refs() + "/" + c.reference + "/model.safetensors");
        int quantized = 0;
        for (Linear* l : model->linears()) {
            if (!l->weight_4bit) continue;
            ++quantized;
            const auto& q = *l->weight_4bit;
            const std::string w = l->name + ".weight";
            EXPECT_TRUE(at::equal(q.packed, saved.at(w))) << w;
            EXPECT_TRUE(at::equal(q.state.absmax, saved.at(w + ".absmax"))) << w;
            if (c.double_quant) {
                EXPECT_TRUE(at::equal(q.state.nested->absmax, saved.at(w + ".nested_absmax"))) << w;
            }
        }
        EXPECT_EQ(quantized, static_cast<int>(model->linears().size()) - 1);
        auto ref = load_safetensors(qlora_refs() + "/" + c.reference + "/reference.safetensors");
        at::Tensor expected = ref.at("logits");
        at::Tensor logits = model->lm->forward(ref.at("input_ids"));
        EXPECT_LT(test::max_abs_diff(logits, expected) / expected.abs().max().item<double>(), 1e-4);
    }
}

}  // namespace
}  // namespace lathe

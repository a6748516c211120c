// PEFT adapters (LoRA, rsLoRA, DoRA) against the outputs peft produced: unmerged and merged.
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "core/adapters/peft.h"
#include "core/io/tensor_io.h"
#include "core/models/loader.h"
#include "core/util/error.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

using test::max_abs_diff;

std::vector<std::string> adapter_names() {
    std::vector<std::string> names;
    for (const auto& m : test::causal_models())
        for (const char* kind : {"lora", "rslora", "dora"}) names.push_back(m + "-" + kind);
    return names;
}

std::string base_of(const std::string& adapter) { return adapter.substr(0, adapter.rfind('-')); }

class AdapterExact : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        reference = load_safetensors(test::hf_adapter(GetParam()) + "/reference.safetensors");
        model = load_model(test::hf_model(base_of(GetParam())));
        attach_peft_adapter(*model, test::hf_adapter(GetParam()));
    }
    std::map<std::string, at::Tensor> reference;
    std::unique_ptr<LoadedModel> model;
    at::NoGradGuard no_grad;
};

TEST_P(AdapterExact, UnmergedLogitsMatchPeft) {
    at::Tensor logits = model->lm->forward(reference.at("input_ids"));
    EXPECT_LT(max_abs_diff(logits, reference.at("logits")), 1e-4);
}

TEST_P(AdapterExact, MergedLogitsMatchPeft) {
    merge_adapters(*model);
    for (Linear* l : model->linears()) ASSERT_FALSE(l->lora) << l->name;
    at::Tensor logits = model->lm->forward(reference.at("input_ids"));
    EXPECT_LT(max_abs_diff(logits, reference.at("merged_logits")), 1e-4);
}

TEST_P(AdapterExact, AdapterChangesTheOutput) {
    // Guards the test itself: the fixture's adapter must move the logits well beyond the tolerance.
    auto base = load_model(test::hf_model(base_of(GetParam())));
    at::Tensor plain = base->lm->forward(reference.at("input_ids"));
    EXPECT_GT(max_abs_diff(plain, reference.at("logits")), 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, AdapterExact, ::testing::ValuesIn(adapter_names()), [](const auto& info) {
    std::string name = info.param;
    for (char& c : name) if (c == '-') c = '_';
    return name;
});

TEST(Adapter, ForAnotherBaseModelIsRejected) {
    auto model = load_model(test::hf_model("qwen3"));
    try {
        attach_peft_adapter(*model, test::hf_adapter("gpt2-lora"));
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("another base model"), std::string::npos) << e.what();
    }
}

TEST(Adapter, MissingFolderIsAClearError) {
    auto model = load_model(test::hf_model("llama"));
    EXPECT_THROW(attach_peft_adapter(*model, "/nonexistent/adapter"), Error);
}

}  // namespace
}  // namespace lathe

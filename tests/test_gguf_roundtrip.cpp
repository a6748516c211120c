// Export to GGUF (F32) and import back: the model that comes out computes the logits transformers
// computed for the original fixture (reference.safetensors), so the tensor names, llama's q/k row
// order, Gemma's 1 + w norms, GPT-2's transposes and the rebuilt config.json all undo exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/export/gguf_export.h"
#include "core/export/gguf_import.h"
#include "core/io/safetensors.h"
#include "tests/gguf_test_util.h"

namespace lathe {
namespace {

using test::TempDir;
namespace fs = std::filesystem;

class GgufRoundTrip : public ::testing::TestWithParam<const char*> {};

TEST_P(GgufRoundTrip, ImportedExportComputesTransformersLogits) {
    const std::string name = GetParam();
    TempDir dir;
    const fs::path model = dir / "model";
    test::make_model_with_tokenizer(name, model);
    export_gguf(model.string(), (dir / "m.gguf").string(), {.type = "f32"});
    import_gguf((dir / "m.gguf").string(), (dir / "back").string(), {});

    // Only input_ids: the reference's `logits` are the unmasked forward.
    auto ref = SafetensorsFile::open(test::fixtures() + "/hf/models/" + name + "/reference.safetensors");
    const TensorEntry* ids = ref->find("input_ids");
    write_safetensors((dir / "ids.safetensors").string(), {{"input_ids", DType::I64, ids->shape, ref->data(*ids), ids->end - ids->begin}});
    std::string cmd = std::string(LATHE_CLI) + " logits --model '" + (dir / "back").string() + "' --input '" +
                      (dir / "ids.safetensors").string() + "' --out '" + (dir / "out.safetensors").string() + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

    auto out = SafetensorsFile::open((dir / "out.safetensors").string());
    const TensorEntry* got = out->find("logits");
    const TensorEntry* want = ref->find("logits");
    ASSERT_EQ(got->shape, want->shape);
    const float* a = reinterpret_cast<const float*>(out->data(*got));
    const float* b = reinterpret_cast<const float*>(ref->data(*want));
    double max_diff = 0;
    for (int64_t i = 0; i < want->numel(); ++i) max_diff = std::max(max_diff, std::abs(static_cast<double>(a[i]) - b[i]));
    EXPECT_LT(max_diff, 1e-4) << name;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GgufRoundTrip,
                         ::testing::Values("llama", "mistral", "qwen2", "qwen3", "gemma", "phi3", "gpt2"));

}  // namespace
}  // namespace lathe

// Export to GGUF (F32) and import back: the model that comes out computes the logits transformers
// computed for the original fixture (reference.safetensors), so the tensor names, llama's q/k row
// order, Gemma's 1 + w norms, GPT-2's transposes and the rebuilt config.json all undo exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>

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

TEST(GgufExport, UnsupportedInputIsRefusedBeforeWriting) {
    TempDir dir;
    const fs::path out = dir / "m.gguf";
    // An architecture GGUF export does not know.
    std::string e = test::error_of([&] { export_gguf(test::fixtures() + "/hf/models/bert-cls", out.string(), {}); });
    EXPECT_NE(e.find("model_type 'bert' cannot be exported to GGUF"), std::string::npos) << e;
    // No tokenizer.
    e = test::error_of([&] { export_gguf(test::fixtures() + "/hf/models/llama", out.string(), {}); });
    EXPECT_NE(e.find("no tokenizer.json"), std::string::npos) << e;
    // A tokenizer llama.cpp has no equivalent for (SentencePiece-style BPE with byte fallback).
    test::make_model_with_tokenizer("llama", dir / "spm");
    fs::copy_file(test::fixtures() + "/hf/tokenizers/metaspace-bytefallback-llama2/tokenizer.json", dir / "spm/tokenizer.json",
                  fs::copy_options::overwrite_existing);
    e = test::error_of([&] { export_gguf((dir / "spm").string(), out.string(), {}); });
    EXPECT_NE(e.find("byte-level BPE"), std::string::npos) << e;
    // An unknown type name.
    e = test::error_of([&] { export_gguf((dir / "spm").string(), out.string(), {.type = "q3_k_s"}); });
    EXPECT_NE(e.find("'q3_k_s' is not supported"), std::string::npos) << e;
    EXPECT_FALSE(fs::exists(out));
    for (const auto& entry : fs::directory_iterator(dir.path())) EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos);
}

// A GGUF whose metadata disagrees with its tensors is refused by import with the key named, and
// nothing is written.
TEST(GgufImport, InconsistentMetadataIsAClearError) {
    TempDir dir;
    test::make_model_with_tokenizer("llama", dir / "m");
    export_gguf((dir / "m").string(), (dir / "good.gguf").string(), {.type = "f16"});
    using KV = std::vector<std::pair<std::string, GgufValue>>;
    auto set_int = [](KV& kv, const std::string& key, int64_t v) {
        for (auto& [k, x] : kv) if (k == key) { x.i = v; x.u = static_cast<uint64_t>(v); }
    };
    struct Case {
        const char* expect;
        std::function<void(KV&, std::vector<GgufTensorInfo>&)> edit;
    };
    const Case cases[] = {
        {"tensor 'blk.2.attn_norm.weight' is missing (llama.block_count says 3 layers)",
         [&](KV& kv, auto&) { set_int(kv, "llama.block_count", 3); }},
        {"has no Hugging Face llama counterpart (is llama.block_count = 1 right?)",
         [&](KV& kv, auto&) { set_int(kv, "llama.block_count", 1); }},
        {"but llama.embedding_length is 32", [&](KV& kv, auto&) { set_int(kv, "llama.embedding_length", 32); }},
        {"llama.attention.head_count (3) is not a multiple of llama.attention.head_count_kv (2)",
         [&](KV& kv, auto&) { set_int(kv, "llama.attention.head_count", 3); }},
        {"llama.embedding_length is not a multiple of llama.attention.head_count",
         [&](KV& kv, auto&) { set_int(kv, "llama.attention.head_count", 5); set_int(kv, "llama.attention.head_count_kv", 5); }},
        {"tensor 'blk.0.attn_k.weight' has 32 rows, expected 16", [&](KV& kv, auto&) { set_int(kv, "llama.attention.head_count", 8); }},
        {"llama.vocab_size = 600 but token_embd.weight has 512 rows", [&](KV& kv, auto&) { set_int(kv, "llama.vocab_size", 600); }},
        {"tokenizer.ggml.token_type has 511 entries but tokenizer.ggml.tokens has 512",
         [&](KV& kv, auto&) { for (auto& [k, x] : kv) if (k == "tokenizer.ggml.token_type") x.ints.pop_back(); }},
        {"tokenizer.ggml.eos_token_id = 700 is not a token id", [&](KV& kv, auto&) { set_int(kv, "tokenizer.ggml.eos_token_id", 700); }},
        {"tokenizer.ggml.merges[0]", [&](KV& kv, auto&) { for (auto& [k, x] : kv) if (k == "tokenizer.ggml.merges") x.strings[0] = "nope nada"; }},
        {"tokenizer.ggml.pre 'falcon' is a pre-tokenizer lathe import does not know",
         [&](KV& kv, auto&) { for (auto& [k, x] : kv) if (k == "tokenizer.ggml.pre") x.s = "falcon"; }},
        {"'llama.attention.head_count' is string, expected an integer",
         [&](KV& kv, auto&) { for (auto& [k, x] : kv) if (k == "llama.attention.head_count") { x.type = GgufType::STRING; x.s = "4"; } }},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.expect);
        test::rewrite_gguf(dir / "good.gguf", dir / "bad.gguf", c.edit);
        std::string e = test::error_of([&] { import_gguf((dir / "bad.gguf").string(), (dir / "out").string(), {}); });
        EXPECT_NE(e.find(c.expect), std::string::npos) << e;
        EXPECT_NE(e.find("bad.gguf"), std::string::npos) << e;
        EXPECT_FALSE(fs::exists(dir / "out"));
    }
    import_gguf((dir / "good.gguf").string(), (dir / "out").string(), {.dtype = "bfloat16"});
    EXPECT_TRUE(fs::exists(dir / "out/model.safetensors"));
    std::string e = test::error_of([&] { import_gguf((dir / "good.gguf").string(), (dir / "out").string(), {}); });
    EXPECT_NE(e.find("already exists; pass --force"), std::string::npos) << e;
    import_gguf((dir / "good.gguf").string(), (dir / "out").string(), {.force = true});
    for (const auto& entry : fs::directory_iterator(dir.path())) EXPECT_EQ(entry.path().filename().string().find(".import-"), std::string::npos);
}

// With --force, an import that fails leaves the folder that was there as it was: the new one is built
// beside it and replaces it only when complete (StagedOutput), and nothing is left beside it.
TEST(GgufImport, FailedForcedImportKeepsTheOldOutput) {
    TempDir dir;
    test::make_model_with_tokenizer("llama", dir / "m");
    export_gguf((dir / "m").string(), (dir / "good.gguf").string(), {.type = "f16"});
    import_gguf((dir / "good.gguf").string(), (dir / "out").string(), {});
    auto contents = [&] {
        std::map<std::string, std::string> files;
        for (const auto& entry : fs::recursive_directory_iterator(dir / "out")) {
            std::ifstream in(entry.path(), std::ios::binary);
            files[fs::relative(entry.path(), dir / "out").string()] = std::string(std::istreambuf_iterator<char>(in), {});
        }
        return files;
    };
    const auto before = contents();
    ASSERT_TRUE(before.count("model.safetensors") && before.count("config.json"));

    // A GGUF cut off in its tensor data (a download that stopped).
    fs::copy_file(dir / "good.gguf", dir / "truncated.gguf");
    fs::resize_file(dir / "truncated.gguf", fs::file_size(dir / "good.gguf") - 1000);
    std::string e = test::error_of([&] { import_gguf((dir / "truncated.gguf").string(), (dir / "out").string(), {.force = true}); });
    EXPECT_NE(e.find("truncated.gguf"), std::string::npos) << e;
    EXPECT_EQ(contents(), before);
    // One whose metadata does not fit its tensors.
    test::rewrite_gguf(dir / "good.gguf", dir / "bad.gguf", [](auto& kv, auto&) {
        for (auto& [k, x] : kv) if (k == "llama.block_count") { x.i = 3; x.u = 3; }
    });
    e = test::error_of([&] { import_gguf((dir / "bad.gguf").string(), (dir / "out").string(), {.force = true}); });
    EXPECT_NE(e.find("llama.block_count"), std::string::npos) << e;
    EXPECT_EQ(contents(), before);
    for (const auto& entry : fs::directory_iterator(dir.path())) EXPECT_FALSE(entry.path().filename().string().ends_with(".tmp")) << entry.path();
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GgufRoundTrip,
                         ::testing::Values("llama", "mistral", "qwen2", "qwen3", "gemma", "phi3", "gpt2"));

}  // namespace
}  // namespace lathe

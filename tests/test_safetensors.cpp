#include <ATen/ops/arange.h>
#include <ATen/ops/randn.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/io/checkpoint.h"
#include "core/io/tensor_io.h"
#include "core/util/error.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(Safetensors, ReadsTransformersFileZeroCopy) {
    Checkpoint ckpt = Checkpoint::open_dir(test::hf_model("llama"));
    LocatedTensor t = ckpt.at("model.embed_tokens.weight");
    EXPECT_EQ(t.entry->shape, (std::vector<int64_t>{512, 64}));
    at::Tensor view = tensor_view(t);
    EXPECT_EQ(view.data_ptr(), static_cast<void*>(t.file->mutable_data(*t.entry))) << "aligned F32 should be viewed in place";
}

TEST(Safetensors, RoundTripsEveryDtype) {
    test::TempDir dir;
    std::vector<std::pair<std::string, at::Tensor>> tensors = {
        {"f32", at::randn({3, 5})},
        {"f16", at::randn({7}).to(at::kHalf)},
        {"bf16", at::randn({2, 2, 3}).to(at::kBFloat16)},
        {"i64", at::arange(10, at::TensorOptions().dtype(at::kLong))},
        {"i32", at::arange(6, at::TensorOptions().dtype(at::kInt)).view({2, 3})},
        {"u8", at::arange(5, at::TensorOptions().dtype(at::kByte))},
        {"bool", at::arange(4) > 1},
        {"scalar", at::randn({})},
        {"empty", at::randn({0, 4})},
        {"transposed", at::randn({4, 3}).t()},  // non-contiguous input
    };
    std::string path = dir.str() + "/x.safetensors";
    save_safetensors(path, tensors, {{"format", "pt"}, {"note", "hello"}});
    auto file = SafetensorsFile::open(path);
    EXPECT_EQ(file->header().metadata.at("note"), "hello");
    EXPECT_EQ(file->header().data_offset % 8, 0u);
    auto loaded = load_safetensors(path);
    ASSERT_EQ(loaded.size(), tensors.size());
    for (const auto& [name, t] : tensors) {
        ASSERT_TRUE(loaded.count(name)) << name;
        EXPECT_EQ(loaded[name].scalar_type(), t.scalar_type()) << name;
        EXPECT_EQ(loaded[name].sizes(), t.sizes()) << name;
        EXPECT_TRUE(loaded[name].equal(t)) << name;
    }
}

TEST(Safetensors, WriterLeavesNoTempFileAndReplacesAtomically) {
    test::TempDir dir;
    std::string path = dir.str() + "/a.safetensors";
    save_safetensors(path, {{"a", at::randn({2})}});
    save_safetensors(path, {{"b", at::randn({3})}});
    EXPECT_EQ(load_safetensors(path).count("b"), 1u);
    int files = 0;
    for (auto& e : std::filesystem::directory_iterator(dir.path)) { (void)e; ++files; }
    EXPECT_EQ(files, 1);
}

TEST(Safetensors, ShardedCheckpointThroughIndex) {
    test::TempDir dir;
    at::Tensor a = at::randn({4, 4}), b = at::randn({8});
    save_safetensors(dir.str() + "/model-00001-of-00002.safetensors", {{"a", a}});
    save_safetensors(dir.str() + "/model-00002-of-00002.safetensors", {{"b", b}});
    std::ofstream(dir.str() + "/model.safetensors.index.json")
        << R"({"metadata": {"total_size": 96}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}})";
    Checkpoint ckpt = Checkpoint::open_dir(dir.str());
    EXPECT_EQ(ckpt.files().size(), 2u);
    EXPECT_TRUE(tensor_view(ckpt.at("a")).equal(a));
    EXPECT_TRUE(tensor_view(ckpt.at("b")).equal(b));
}

TEST(Safetensors, IndexNamingATensorItsShardLacksIsAnError) {
    test::TempDir dir;
    save_safetensors(dir.str() + "/s1.safetensors", {{"a", at::randn({2})}});
    std::ofstream(dir.str() + "/model.safetensors.index.json") << R"({"weight_map": {"a": "s1.safetensors", "zz": "s1.safetensors"}})";
    try {
        Checkpoint::open_dir(dir.str());
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("'zz'"), std::string::npos) << e.what();
    }
}

TEST(Safetensors, MissingShardIsAnError) {
    test::TempDir dir;
    std::ofstream(dir.str() + "/model.safetensors.index.json") << R"({"weight_map": {"a": "gone.safetensors"}})";
    try {
        Checkpoint::open_dir(dir.str());
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("gone.safetensors"), std::string::npos) << e.what();
    }
}

// Corrupted variants of a real fixture file: each gives a lathe::Error that says what is wrong.
struct Corruption {
    const char* name;
    std::function<std::string(std::string)> apply;
    const char* expected;  // a piece of the message
};

std::string set_header(const std::string& file, const std::string& header) {
    uint64_t old_len = 0;
    for (int i = 7; i >= 0; --i) old_len = (old_len << 8) | static_cast<uint8_t>(file[i]);
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
    return out + header + file.substr(8 + old_len);
}

std::string header_of(const std::string& file) {
    uint64_t len = 0;
    for (int i = 7; i >= 0; --i) len = (len << 8) | static_cast<uint8_t>(file[i]);
    return file.substr(8, len);
}

std::string replace_once(std::string s, const std::string& from, const std::string& to) {
    auto pos = s.find(from);
    if (pos != std::string::npos) s.replace(pos, from.size(), to);
    return s;
}

TEST(Safetensors, CorruptedFilesGiveClearErrors) {
    const std::string original = read_file(test::hf_model("llama") + "/model.safetensors");
    const std::string header = header_of(original);
    const std::vector<Corruption> cases = {
        {"truncated data", [](std::string f) { return f.substr(0, f.size() - 100); }, "truncated"},
        {"truncated header", [](std::string f) { return f.substr(0, 200); }, "past the end of the file"},
        {"tiny file", [](std::string) { return std::string("abc"); }, "too short"},
        {"header not JSON", [&](std::string f) { return set_header(f, "{\"a\": [1, 2"); }, "not valid JSON"},
        {"header not an object", [&](std::string f) { return set_header(f, "[1, 2, 3]"); }, "must be a JSON object"},
        {"huge header length", [](std::string f) { f[6] = 0x7f; return f; }, "100 MB"},
        {"unsupported dtype", [&](std::string f) { return set_header(f, replace_once(header, "\"F32\"", "\"F8_E4M3\"")); }, "unsupported dtype 'F8_E4M3'"},
        {"unknown dtype", [&](std::string f) { return set_header(f, replace_once(header, "\"F32\"", "\"Q4\"")); }, "unsupported dtype 'Q4'"},
        {"shape disagrees with offsets", [&](std::string f) { return set_header(f, replace_once(header, "[512,64]", "[512,65]")); }, "needs"},
        {"negative dim", [&](std::string f) { return set_header(f, replace_once(header, "[512,64]", "[-512,64]")); }, "non-negative"},
        {"offsets overlap", [&](std::string f) {
             auto h = nlohmann::json::parse(header);
             std::vector<std::string> names;
             for (auto it = h.begin(); it != h.end(); ++it) if (it.key() != "__metadata__" && it.value()["shape"].size() == 1) names.push_back(it.key());
             auto first = h[names[0]]["data_offsets"];
             h[names[1]]["data_offsets"] = first;  // same size (both [64]) so only the overlap is wrong
             return set_header(f, h.dump());
         }, "overlap"},
        {"offsets past the end", [&](std::string f) {
             auto h = nlohmann::json::parse(header);
             for (auto it = h.begin(); it != h.end(); ++it)
                 if (it.key() != "__metadata__") {
                     uint64_t size = it.value()["data_offsets"][1].get<uint64_t>() - it.value()["data_offsets"][0].get<uint64_t>();
                     it.value()["data_offsets"] = {10000000, 10000000 + size};
                     break;
                 }
             return set_header(f, h.dump());
         }, "truncated"},
        {"end before begin", [&](std::string f) {
             auto h = nlohmann::json::parse(header);
             for (auto it = h.begin(); it != h.end(); ++it)
                 if (it.key() != "__metadata__") { it.value()["data_offsets"] = {100, 50}; break; }
             return set_header(f, h.dump());
         }, "before begin"},
        {"metadata not strings", [&](std::string f) { return set_header(f, replace_once(header, "\"format\":\"pt\"", "\"format\":7")); }, "__metadata__"},
    };
    test::TempDir dir;
    for (const auto& c : cases) {
        std::string path = dir.str() + "/model.safetensors";
        std::ofstream(path, std::ios::binary | std::ios::trunc) << c.apply(original);
        try {
            SafetensorsFile::open(path);
            ADD_FAILURE() << c.name << ": no error";
        } catch (const Error& e) {
            std::string msg = e.what();
            EXPECT_NE(msg.find(c.expected), std::string::npos) << c.name << ": " << msg;
            EXPECT_NE(msg.find(path), std::string::npos) << c.name << ": error should name the file: " << msg;
        }
    }
}

}  // namespace
}  // namespace lathe

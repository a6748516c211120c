// Lathe's quantizers produce the bytes ggml's own reference quantizers produce (llama-cpp-python's
// libggml through ctypes, and gguf-py's numpy ports), and its dequantizers the floats gguf-py computes.
// References: tests/interop/make_gguf_references.py (ctest fixture gguf_refs).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "core/io/gguf_quants.h"
#include "core/io/safetensors.h"
#include "tests/gguf_test_util.h"

namespace lathe {
namespace {

std::string refs_dir() {
    const char* d = std::getenv("LATHE_GGUF_REFS");
    return d ? d : "";
}

struct Refs {
    std::shared_ptr<SafetensorsFile> file;
    const TensorEntry& get(const std::string& name) const {
        const TensorEntry* e = file->find(name);
        if (!e) throw std::runtime_error("reference '" + name + "' missing");
        return *e;
    }
};

Refs open_refs() { return {SafetensorsFile::open(refs_dir() + "/quants.safetensors")}; }

const std::pair<const char*, GgmlType> kTypes[] = {
    {"F16", GgmlType::F16},   {"BF16", GgmlType::BF16}, {"Q8_0", GgmlType::Q8_0}, {"Q4_0", GgmlType::Q4_0},
    {"Q4_1", GgmlType::Q4_1}, {"Q5_0", GgmlType::Q5_0}, {"Q5_1", GgmlType::Q5_1}, {"Q4_K", GgmlType::Q4_K},
    {"Q5_K", GgmlType::Q5_K}, {"Q6_K", GgmlType::Q6_K},
};

TEST(GgufInteropQuants, QuantizeMatchesGgmlByteForByte) {
    if (refs_dir().empty()) GTEST_SKIP() << "LATHE_GGUF_REFS not set; run through ctest (label slow), which makes them";
    Refs refs = open_refs();
    const TensorEntry& in = refs.get("input");
    const int64_t rows = in.shape[0], n = in.shape[1];
    const float* x = reinterpret_cast<const float*>(refs.file->data(in));
    for (const auto& [name, type] : kTypes) {
        const TensorEntry& want = refs.get(std::string(name) + ".ggml");
        const uint64_t row_bytes = ggml_row_bytes(type, n);
        ASSERT_EQ(static_cast<uint64_t>(want.shape[1]), row_bytes) << name;
        std::vector<uint8_t> got(row_bytes);
        int bad_rows = 0;
        for (int64_t r = 0; r < rows; ++r) {
            quantize_row(type, x + r * n, got.data(), n);
            const uint8_t* w = refs.file->data(want) + r * row_bytes;
            if (std::memcmp(got.data(), w, row_bytes) != 0) {
                size_t at = 0;
                while (got[at] == w[at]) ++at;
                ADD_FAILURE() << name << " row " << r << ": first differing byte " << at << " (lathe " << int(got[at])
                              << ", ggml " << int(w[at]) << ")";
                if (++bad_rows > 3) break;
            }
        }
        // Where gguf-py has a quantizer too, it agrees with ggml (so the two references are one).
        if (const TensorEntry* py = refs.file->find(std::string(name) + ".gguf_py")) {
            EXPECT_EQ(std::memcmp(refs.file->data(*py), refs.file->data(want), want.end - want.begin), 0) << name;
        }
    }
}

TEST(GgufInteropQuants, DequantizeMatchesGgufPy) {
    if (refs_dir().empty()) GTEST_SKIP() << "LATHE_GGUF_REFS not set; run through ctest (label slow), which makes them";
    Refs refs = open_refs();
    const TensorEntry& in = refs.get("input");
    const int64_t rows = in.shape[0], n = in.shape[1];
    for (const auto& [name, type] : kTypes) {
        const TensorEntry& q = refs.get(std::string(name) + ".ggml");
        const TensorEntry& want = refs.get(std::string(name) + ".dequantized");
        const uint64_t row_bytes = ggml_row_bytes(type, n);
        std::vector<float> got(n);
        double max_diff = 0;
        for (int64_t r = 0; r < rows; ++r) {
            dequantize_row(type, refs.file->data(q) + r * row_bytes, got.data(), n);
            const float* w = reinterpret_cast<const float*>(refs.file->data(want)) + r * n;
            for (int64_t i = 0; i < n; ++i) {
                // gguf-py may order a product differently: allow one float32 rounding of the value.
                double tol = std::abs(static_cast<double>(w[i])) * 2.4e-7;
                double d = std::abs(static_cast<double>(got[i]) - w[i]);
                if (d > tol) max_diff = std::max(max_diff, d);
            }
        }
        EXPECT_EQ(max_diff, 0.0) << name << ": largest difference beyond float32 rounding";
    }
}

}  // namespace
}  // namespace lathe

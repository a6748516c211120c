// NF4/FP4 and 8-bit blockwise quantization against bitsandbytes' CPU backend itself: the references are
// made at test time in the test-only virtualenv (tests/interop/make_bnb_references.py, run by ctest's
// interop_refs fixture). Bytes must be identical; dequantized values identical.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <ATen/TensorOperators.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/io/tensor_io.h"
#include "core/quant/bnb_4bit.h"
#include "core/quant/bnb_checkpoint.h"
#include "core/quant/quantization_config.h"
#include "core/util/error.h"

namespace lathe::quant {
namespace {

std::string bnb_refs() {
    const char* dir = std::getenv("LATHE_INTEROP_REFS");
    return dir ? std::string(dir) + "/bnb" : "";
}

nlohmann::json cases() {
    std::ifstream in(bnb_refs() + "/cases.json");
    return nlohmann::json::parse(in);
}

at::ScalarType dtype_named(const std::string& name) {
    if (name == "float32") return at::kFloat;
    if (name == "bfloat16") return at::kBFloat16;
    if (name == "float16") return at::kHalf;
    ADD_FAILURE() << "unknown dtype " << name;
    return at::kFloat;
}

// Same dtype, shape and bytes (so -0.0 and 0.0 differ, and NaN equals NaN).
::testing::AssertionResult same_bytes(const at::Tensor& ours, const at::Tensor& theirs) {
    if (ours.scalar_type() != theirs.scalar_type())
        return ::testing::AssertionFailure() << "dtype " << ours.scalar_type() << " vs " << theirs.scalar_type();
    if (ours.sizes() != theirs.sizes())
        return ::testing::AssertionFailure() << "shape " << ours.sizes() << " vs " << theirs.sizes();
    at::Tensor a = ours.contiguous().view(at::kByte).reshape(-1), b = theirs.contiguous().view(at::kByte).reshape(-1);
    at::Tensor differ = (a != b).nonzero();
    if (differ.size(0) == 0) return ::testing::AssertionSuccess();
    int64_t byte = differ[0][0].item<int64_t>();
    return ::testing::AssertionFailure() << differ.size(0) << " bytes differ, first at byte " << byte << ": "
                                         << int(a[byte].item<uint8_t>()) << " vs " << int(b[byte].item<uint8_t>());
}

// Same dtype, shape and values; bitwise except the sign of zero: bitsandbytes' CPU kernel decodes FP4's
// sign-bit zero as -0.0 for even last dimensions and its Python path as +0.0 for odd ones.
::testing::AssertionResult same_values(const at::Tensor& ours, const at::Tensor& theirs) {
    if (ours.scalar_type() != theirs.scalar_type() || ours.sizes() != theirs.sizes()) return same_bytes(ours, theirs);
    at::Tensor differ = (ours.reshape(-1) != theirs.reshape(-1)).nonzero();
    if (differ.size(0) == 0) return ::testing::AssertionSuccess();
    int64_t i = differ[0][0].item<int64_t>();
    return ::testing::AssertionFailure() << differ.size(0) << " values differ, first at " << i << ": "
                                         << ours.reshape(-1)[i].item<double>() << " vs " << theirs.reshape(-1)[i].item<double>();
}

class BnbQuant : public ::testing::Test {
protected:
    void SetUp() override {
        if (bnb_refs().empty()) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which makes the references";
        ASSERT_TRUE(std::filesystem::exists(bnb_refs() + "/cases.json")) << bnb_refs();
    }
};

TEST_F(BnbQuant, CodeTablesAreBitsandbytes) {
    auto refs = cases();
    for (auto [type, key] : {std::pair{Bnb4bitType::nf4, "nf4_code"}, std::pair{Bnb4bitType::fp4, "fp4_code"}}) {
        at::Tensor code = bnb_4bit_code(type);
        auto expected = refs[key].get<std::vector<float>>();
        ASSERT_EQ(code.numel(), 16);
        for (int i = 0; i < 16; ++i) EXPECT_EQ(code[i].item<float>(), expected[i]) << key << "[" << i << "]";
    }
}

TEST_F(BnbQuant, BlockwiseEightBitMatches) {
    const nlohmann::json refs = cases();
    ASSERT_GE(refs["blockwise"].size(), 6u);
    for (const auto& c : refs["blockwise"]) {
        std::string name = c["name"];
        SCOPED_TRACE(name);
        auto ref = load_safetensors(bnb_refs() + "/" + name + ".safetensors");
        at::Tensor dynamic = bnb_dynamic_map();
        EXPECT_TRUE(same_bytes(dynamic, ref.at("code")));
        Blockwise8bit ours = quantize_blockwise_8bit(ref.at("input"), dynamic, c["blocksize"]);
        EXPECT_TRUE(same_bytes(ours.codes, ref.at("codes")));
        EXPECT_TRUE(same_bytes(ours.absmax, ref.at("absmax")));
        EXPECT_TRUE(same_bytes(dequantize_blockwise_8bit(ref.at("codes"), ref.at("absmax"), ref.at("code"), c["blocksize"]),
                               ref.at("dequant")));
    }
}

// The state bitsandbytes saved, read back from its tensors (what a checkpoint loader does).
Bnb4bitState state_from_reference(const nlohmann::json& c, const std::map<std::string, at::Tensor>& ref) {
    Bnb4bitState state;
    state.type = *parse_bnb_4bit_type(c["quant_type"]);
    state.blocksize = c["blocksize"];
    state.shape = c["shape"].get<std::vector<int64_t>>();
    state.dtype = dtype_named(c["input_dtype"]);
    state.absmax = ref.at("absmax");
    state.quant_map = ref.at("quant_map");
    if (c["double_quant"])
        state.nested = NestedAbsmax{.absmax = ref.at("nested_absmax"), .quant_map = ref.at("nested_quant_map"),
                                    .blocksize = 256, .offset = ref.at("nested_offset")[0].item<float>()};
    return state;
}

TEST_F(BnbQuant, FourBitQuantizeGivesBitsandbytesBytes) {
    int checked = 0;
    const nlohmann::json refs = cases();
    ASSERT_GE(refs["four_bit"].size(), 40u);
    for (const auto& c : refs["four_bit"]) {
        std::string name = c["name"];
        SCOPED_TRACE(name);
        auto ref = load_safetensors(bnb_refs() + "/" + name + ".safetensors");
        Quantize4bitOptions options{.type = *parse_bnb_4bit_type(c["quant_type"]), .blocksize = c["blocksize"],
                                    .double_quant = c["double_quant"],
                                    .storage = c["storage"] == "uint8" ? at::kByte : dtype_named(c["storage"])};
        Bnb4bitTensor ours = quantize_4bit(ref.at("input"), options);
        EXPECT_TRUE(same_bytes(ours.packed, ref.at("packed")));
        EXPECT_TRUE(same_bytes(ours.state.absmax, ref.at("absmax")));
        EXPECT_TRUE(same_bytes(ours.state.quant_map, ref.at("quant_map")));
        if (c["double_quant"]) {
            ASSERT_TRUE(ours.state.nested.has_value());
            EXPECT_TRUE(same_bytes(ours.state.nested->absmax, ref.at("nested_absmax")));
            EXPECT_TRUE(same_bytes(ours.state.nested->quant_map, ref.at("nested_quant_map")));
            EXPECT_EQ(ours.state.nested->offset, ref.at("nested_offset")[0].item<float>());
        } else {
            EXPECT_FALSE(ours.state.nested.has_value());
        }
        ++checked;
    }
    EXPECT_GE(checked, 40);
}

TEST_F(BnbQuant, FourBitDequantizeGivesBitsandbytesValues) {
    const nlohmann::json refs = cases();
    ASSERT_GE(refs["four_bit"].size(), 40u);
    for (const auto& c : refs["four_bit"]) {
        std::string name = c["name"];
        SCOPED_TRACE(name);
        auto ref = load_safetensors(bnb_refs() + "/" + name + ".safetensors");
        Bnb4bitState state = state_from_reference(c, ref);
        for (const char* dtype : {"float32", "bfloat16", "float16"}) {
            SCOPED_TRACE(dtype);
            EXPECT_TRUE(same_values(dequantize_4bit(ref.at("packed"), state, dtype_named(dtype)), ref.at(std::string("dequant.") + dtype)));
        }
    }
}

TEST_F(BnbQuant, SizeMismatchIsAnError) {
    const nlohmann::json refs = cases();
    auto c = refs["four_bit"][0];
    auto ref = load_safetensors(bnb_refs() + "/" + c["name"].get<std::string>() + ".safetensors");
    Bnb4bitState state = state_from_reference(c, ref);
    state.shape.back() += 2;
    EXPECT_THROW(dequantize_4bit(ref.at("packed"), state), Error);
    state = state_from_reference(c, ref);
    state.blocksize = 128;
    EXPECT_THROW(dequantize_4bit(ref.at("packed"), state), Error);
}

// The reference's tensors under the names transformers gives a Linear4bit weight "w".
std::map<std::string, at::Tensor> as_checkpoint(const std::map<std::string, at::Tensor>& ref) {
    std::map<std::string, at::Tensor> out;
    for (const auto& [key, tensor] : ref) {
        if (key == "packed") out["w"] = tensor;
        else if (key != "input" && key != "nested_offset" && key.rfind("dequant.", 0) != 0) out["w." + key] = tensor;
    }
    return out;
}

Bnb4bitTensor read_from(const std::map<std::string, at::Tensor>& ckpt, const std::vector<int64_t>& shape) {
    return read_bnb_4bit_weight(
        "w", shape, [&](const std::string& name) { return ckpt.at(name); },
        [&](const std::string& name) { return ckpt.count(name) > 0; }, "test.safetensors");
}

TEST_F(BnbQuant, CheckpointTensorsAreWhatBitsandbytesSaves) {
    const nlohmann::json refs = cases();
    ASSERT_GE(refs["four_bit"].size(), 40u);
    for (const auto& c : refs["four_bit"]) {
        if (c["storage"] != "uint8") continue;
        std::string name = c["name"];
        SCOPED_TRACE(name);
        auto ref = load_safetensors(bnb_refs() + "/" + name + ".safetensors");
        auto expected = as_checkpoint(ref);
        Bnb4bitTensor ours = quantize_4bit(ref.at("input"), {.type = *parse_bnb_4bit_type(c["quant_type"]),
                                                             .blocksize = c["blocksize"], .double_quant = c["double_quant"]});
        auto written = bnb_4bit_weight_tensors("w", ours);
        EXPECT_EQ(written.size(), expected.size());
        for (const auto& [key, tensor] : written) {
            ASSERT_TRUE(expected.count(key)) << key;
            EXPECT_TRUE(same_bytes(tensor, expected.at(key))) << key;
        }
        // Read back as a loader does, and dequantize: bitsandbytes' float32 values.
        Bnb4bitTensor read = read_from(expected, c["shape"].get<std::vector<int64_t>>());
        EXPECT_TRUE(same_values(dequantize_4bit(read.packed, read.state, at::kFloat), ref.at("dequant.float32")));
    }
}

TEST_F(BnbQuant, QuantStateThatDisagreesIsAnErrorNamingTheKey) {
    const nlohmann::json refs = cases();
    auto c = refs["four_bit"][1];  // double quantization
    auto ref = load_safetensors(bnb_refs() + "/" + c["name"].get<std::string>() + ".safetensors");
    auto ckpt = as_checkpoint(ref);
    std::vector<int64_t> shape = c["shape"].get<std::vector<int64_t>>();
    std::vector<int64_t> wrong = shape;
    wrong[0] += 1;
    try {
        read_from(ckpt, wrong);
        ADD_FAILURE() << "a shape the config does not imply was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("w.quant_state.bitsandbytes__nf4"), std::string::npos) << e.what();
    }
    auto truncated = ckpt;
    truncated["w"] = ckpt["w"].slice(0, 0, ckpt["w"].size(0) - 1);
    EXPECT_THROW(read_from(truncated, shape), Error);
    auto short_absmax = ckpt;
    short_absmax["w.absmax"] = ckpt["w.absmax"].slice(0, 1);
    EXPECT_THROW(read_from(short_absmax, shape), Error);
    auto no_nested = ckpt;
    no_nested.erase("w.nested_absmax");
    EXPECT_THROW(read_from(no_nested, shape), std::exception);
}

TEST(QuantizationConfig, ReadsWhatTransformersWrites) {
    auto root = nlohmann::json::parse(R"({"quantization_config": {"_load_in_4bit": true, "_load_in_8bit": false,
        "bnb_4bit_compute_dtype": "bfloat16", "bnb_4bit_quant_storage": "uint8", "bnb_4bit_quant_type": "nf4",
        "bnb_4bit_use_double_quant": true, "llm_int8_enable_fp32_cpu_offload": false, "llm_int8_has_fp16_weight": false,
        "llm_int8_skip_modules": null, "llm_int8_threshold": 6.0, "load_in_4bit": true, "load_in_8bit": false,
        "quant_method": "bitsandbytes"}})");
    auto config = read_quantization_config(root, "config.json");
    ASSERT_TRUE(config.has_value());
    EXPECT_EQ(config->quant_type, "nf4");
    EXPECT_TRUE(config->double_quant);
    EXPECT_EQ(config->compute_dtype, "bfloat16");
    EXPECT_EQ(quantization_config_json(*config), root["quantization_config"]);
    EXPECT_FALSE(read_quantization_config(nlohmann::json::object(), "config.json").has_value());
}

TEST(QuantizationConfig, WhatLatheCannotHonourIsAnErrorNamingTheKey) {
    auto expect_error = [](const char* text, const char* key) {
        try {
            read_quantization_config(nlohmann::json::parse(text), "m/config.json");
            ADD_FAILURE() << "accepted " << text;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(std::string("quantization_config.") + key), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("m/config.json"), std::string::npos) << e.what();
        }
    };
    expect_error(R"({"quantization_config": {"quant_method": "bitsandbytes", "load_in_8bit": true}})", "load_in_8bit");
    expect_error(R"({"quantization_config": {"quant_method": "gptq", "bits": 4}})", "quant_method");
    expect_error(R"({"quantization_config": {"quant_method": "awq", "bits": 4}})", "quant_method");
    expect_error(R"({"quantization_config": {"quant_method": "bitsandbytes", "load_in_4bit": true, "bnb_4bit_quant_type": "int4"}})",
                 "bnb_4bit_quant_type");
    expect_error(R"({"quantization_config": {"quant_method": "bitsandbytes", "load_in_4bit": true, "bnb_4bit_compute_dtype": "int8"}})",
                 "bnb_4bit_compute_dtype");
}

}  // namespace
}  // namespace lathe::quant

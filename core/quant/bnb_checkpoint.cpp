#include "core/quant/bnb_checkpoint.h"

#include <ATen/ops/empty.h>

#include <nlohmann/json.hpp>

#include <charconv>
#include <cstring>

#include "core/util/error.h"

namespace lathe::quant {

namespace {

using nlohmann::json;

std::string dtype_string(at::ScalarType type) {
    switch (type) {
        case at::kFloat: return "float32";
        case at::kBFloat16: return "bfloat16";
        case at::kHalf: return "float16";
        case at::kByte: return "uint8";
        default: throw Error(std::string("no bitsandbytes name for dtype ") + c10::toString(type));
    }
}

at::ScalarType dtype_from(const std::string& name, const std::string& key, const std::string& where) {
    if (name == "float32") return at::kFloat;
    if (name == "bfloat16") return at::kBFloat16;
    if (name == "float16") return at::kHalf;
    throw Error(where + ": " + key + " says dtype '" + name + "'; 4-bit weights come from float32, bfloat16 or float16");
}

// Python's repr(float): the shortest digits that read back, in fixed notation for exponents -4 ... 15.
std::string python_float(double value) {
    char digits[64];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value, std::chars_format::scientific);
    std::string sci(digits, end);
    size_t e_at = sci.find('e');
    int exponent = std::stoi(sci.substr(e_at + 1));
    std::string mantissa = sci.substr(0, e_at);
    bool negative = mantissa[0] == '-';
    if (negative) mantissa = mantissa.substr(1);
    std::string plain;  // the significant digits without the point
    for (char c : mantissa) if (c != '.') plain += c;
    std::string out;
    if (exponent < -4 || exponent >= 16) {
        out = plain.substr(0, 1) + (plain.size() > 1 ? "." + plain.substr(1) : "") + "e" + (exponent < 0 ? "-" : "+");
        std::string e = std::to_string(std::abs(exponent));
        out += (e.size() < 2 ? "0" : "") + e;
    } else if (exponent < 0) {
        out = "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + plain;
    } else {
        size_t int_digits = static_cast<size_t>(exponent) + 1;
        if (plain.size() <= int_digits) out = plain + std::string(int_digits - plain.size(), '0') + ".0";
        else out = plain.substr(0, int_digits) + "." + plain.substr(int_digits);
    }
    return (negative ? "-" : "") + out;
}

// json.dumps of QuantState.as_dict's non-tensor items, byte for byte.
std::string quant_state_json(const Bnb4bitState& state) {
    std::string shape;
    for (size_t i = 0; i < state.shape.size(); ++i) shape += (i ? ", " : "") + std::to_string(state.shape[i]);
    std::string text = std::string("{\"quant_type\": \"") + bnb_4bit_type_name(state.type) + "\", \"blocksize\": " +
                       std::to_string(state.blocksize) + ", \"dtype\": \"" + dtype_string(state.dtype) +
                       "\", \"shape\": [" + shape + "]";
    if (state.nested)
        text += ", \"nested_blocksize\": " + std::to_string(state.nested->blocksize) +
                ", \"nested_dtype\": \"float32\", \"nested_offset\": " + python_float(state.nested->offset);
    return text + "}";
}

}  // namespace

std::string bnb_quant_state_key(const std::string& weight_name, const std::function<bool(const std::string&)>& has) {
    for (const char* type : {"nf4", "fp4"}) {
        std::string key = weight_name + ".quant_state.bitsandbytes__" + type;
        if (has(key)) return key;
    }
    return "";
}

Bnb4bitTensor read_bnb_4bit_weight(const std::string& weight_name, const std::vector<int64_t>& expected_shape,
                                   const std::function<at::Tensor(const std::string&)>& take,
                                   const std::function<bool(const std::string&)>& has, const std::string& where) {
    const std::string state_key = bnb_quant_state_key(weight_name, has);
    if (state_key.empty())
        throw Error(where + ": '" + weight_name + "' has no quant_state.bitsandbytes__nf4 or __fp4 tensor beside it");
    auto fail = [&](const std::string& what) { return Error(where + ": " + state_key + ": " + what); };

    at::Tensor state_bytes = take(state_key).contiguous();
    if (state_bytes.scalar_type() != at::kByte) throw fail("must be uint8 JSON bytes");
    json meta;
    try {
        meta = json::parse(std::string(reinterpret_cast<const char*>(state_bytes.data_ptr<uint8_t>()),
                                       static_cast<size_t>(state_bytes.numel())));
    } catch (const json::exception& e) {
        throw fail(std::string("is not JSON (") + e.what() + ")");
    }
    auto field = [&](const char* key) -> const json& {
        if (!meta.is_object() || !meta.contains(key)) throw fail(std::string("has no '") + key + "'");
        return meta[key];
    };

    Bnb4bitTensor out;
    Bnb4bitState& s = out.state;
    try {
        std::string type = field("quant_type").get<std::string>();
        auto parsed = parse_bnb_4bit_type(type);
        if (!parsed) throw fail("quant_type '" + type + "' is not nf4 or fp4");
        if (state_key.substr(state_key.size() - 3) != type) throw fail("quant_type '" + type + "' disagrees with the key's name");
        s.type = *parsed;
        s.blocksize = field("blocksize").get<int64_t>();
        s.dtype = dtype_from(field("dtype").get<std::string>(), state_key, where);
        s.shape = field("shape").get<std::vector<int64_t>>();
    } catch (const json::exception& e) {
        throw fail(std::string("has a value of the wrong type (") + e.what() + ")");
    }
    if (!valid_bnb_4bit_blocksize(s.blocksize))
        throw fail("blocksize " + std::to_string(s.blocksize) + " is not one bitsandbytes uses (32 ... 4096)");
    if (s.shape != expected_shape) {
        std::string got, want;
        for (int64_t d : s.shape) got += (got.empty() ? "" : ", ") + std::to_string(d);
        for (int64_t d : expected_shape) want += (want.empty() ? "" : ", ") + std::to_string(d);
        throw fail("shape [" + got + "] but the model config implies [" + want + "]");
    }

    out.packed = take(weight_name);
    const int64_t bytes = out.packed.numel() * static_cast<int64_t>(out.packed.element_size());
    if (bytes != s.packed_bytes())
        throw Error(where + ": '" + weight_name + "' holds " + std::to_string(bytes) + " bytes, but its quant_state shape needs " +
                    std::to_string(s.packed_bytes()) + " (two 4-bit values a byte)");
    s.quant_map = take(weight_name + ".quant_map").to(at::kFloat);
    if (s.quant_map.numel() != 16) throw Error(where + ": '" + weight_name + ".quant_map' must hold 16 values");
    s.absmax = take(weight_name + ".absmax");
    if (s.absmax.numel() != s.blocks())
        throw Error(where + ": '" + weight_name + ".absmax' has " + std::to_string(s.absmax.numel()) + " values; " +
                    std::to_string(s.numel()) + " weights in blocks of " + std::to_string(s.blocksize) + " need " +
                    std::to_string(s.blocks()));

    const bool nested = meta.contains("nested_absmax") || meta.contains("nested_blocksize") || has(weight_name + ".nested_absmax");
    if (!nested) {
        if (s.absmax.scalar_type() != at::kFloat) throw Error(where + ": '" + weight_name + ".absmax' must be float32");
        return out;
    }
    if (s.absmax.scalar_type() != at::kByte)
        throw Error(where + ": '" + weight_name + ".absmax' must be uint8 with double quantization");
    NestedAbsmax n;
    try {
        n.blocksize = field("nested_blocksize").get<int64_t>();
        n.offset = static_cast<float>(field("nested_offset").get<double>());
    } catch (const json::exception& e) {
        throw fail(std::string("has a nested value of the wrong type (") + e.what() + ")");
    }
    if (n.blocksize <= 0) throw fail("nested_blocksize must be positive");
    n.absmax = take(weight_name + ".nested_absmax").to(at::kFloat);
    n.quant_map = take(weight_name + ".nested_quant_map").to(at::kFloat);
    if (n.quant_map.numel() != 256) throw Error(where + ": '" + weight_name + ".nested_quant_map' must hold 256 values");
    const int64_t nested_blocks = (s.blocks() + n.blocksize - 1) / n.blocksize;
    if (n.absmax.numel() != nested_blocks)
        throw Error(where + ": '" + weight_name + ".nested_absmax' has " + std::to_string(n.absmax.numel()) + " values; " +
                    std::to_string(s.blocks()) + " block scales in blocks of " + std::to_string(n.blocksize) + " need " +
                    std::to_string(nested_blocks));
    s.nested = std::move(n);
    return out;
}

std::vector<std::pair<std::string, at::Tensor>> bnb_4bit_weight_tensors(const std::string& weight_name,
                                                                        const Bnb4bitTensor& weight) {
    const Bnb4bitState& s = weight.state;
    std::vector<std::pair<std::string, at::Tensor>> out;
    out.emplace_back(weight_name, weight.packed);
    out.emplace_back(weight_name + ".absmax", s.absmax);
    if (s.nested) {
        out.emplace_back(weight_name + ".nested_absmax", s.nested->absmax);
        out.emplace_back(weight_name + ".nested_quant_map", s.nested->quant_map);
    }
    out.emplace_back(weight_name + ".quant_map", s.quant_map);
    std::string text = quant_state_json(s);
    at::Tensor bytes = at::empty({static_cast<int64_t>(text.size())}, at::kByte);
    std::memcpy(bytes.data_ptr<uint8_t>(), text.data(), text.size());
    out.emplace_back(weight_name + ".quant_state.bitsandbytes__" + std::string(bnb_4bit_type_name(s.type)), bytes);
    return out;
}

}  // namespace lathe::quant

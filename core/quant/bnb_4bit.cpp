// Follows bitsandbytes 0.50.2 operation for operation (functional.py, backends/default/ops.py for the
// 4-bit quantizer the CPU uses, csrc/cpu_ops.cpp for the 8-bit one), in the same ATen ops where
// bitsandbytes uses torch, so every rounding is the same and the bytes match.
#include "core/quant/bnb_4bit.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/argsort.h>
#include <ATen/ops/bucketize.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/clamp.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/linspace.h>
#include <ATen/ops/reciprocal.h>
#include <ATen/ops/scalar_tensor.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/zeros.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "core/util/error.h"

namespace lathe::quant {

const char* bnb_4bit_type_name(Bnb4bitType type) { return type == Bnb4bitType::nf4 ? "nf4" : "fp4"; }

std::optional<Bnb4bitType> parse_bnb_4bit_type(const std::string& name) {
    if (name == "nf4") return Bnb4bitType::nf4;
    if (name == "fp4") return Bnb4bitType::fp4;
    return std::nullopt;
}

bool valid_bnb_4bit_blocksize(int64_t blocksize) {
    for (int64_t allowed = 32; allowed <= 4096; allowed *= 2)
        if (blocksize == allowed) return true;
    return false;
}

int64_t Bnb4bitState::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

at::Tensor bnb_4bit_code(Bnb4bitType type) {
    // get_4bit_type: Python floats made float32, then divided by their largest magnitude.
    static constexpr std::array<double, 16> nf4 = {
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
        -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
        0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0};
    // FP4 (1 sign, 2 exponent, 1 mantissa bit) in bit-pattern order, before normalising by 12. The sign-bit
    // zero is +0.0: bitsandbytes writes it as the Python integer -0.
    static constexpr std::array<double, 16> fp4 = {0, 0.0625, 8.0, 12.0, 4.0, 6.0, 2.0, 3.0,
                                                   0.0, -0.0625, -8.0, -12.0, -4.0, -6.0, -2.0, -3.0};
    const auto& values = type == Bnb4bitType::nf4 ? nf4 : fp4;
    at::Tensor code = at::empty({16}, at::kFloat);
    float* out = code.data_ptr<float>();
    for (size_t i = 0; i < values.size(); ++i) out[i] = static_cast<float>(values[i]);
    return code.div_(code.abs().max());
}

at::Tensor bnb_dynamic_map() {
    // create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): for each exponent 10^(i-6), the
    // midpoints of a linear split of [0.1, 1] into 2^i + 1 points, both signs; then 0 and 1, sorted.
    std::vector<float> data;
    for (int i = 0; i < 7; ++i) {
        at::Tensor bounds = at::linspace(0.1, 1, (int64_t{1} << i) + 1, at::kFloat);
        at::Tensor means = (bounds.slice(0, 0, -1) + bounds.slice(0, 1)) / 2.0;
        double scale = std::pow(10.0, -6 + i);
        at::Tensor positive = (means * scale).contiguous();
        at::Tensor negative = (means * -scale).contiguous();
        data.insert(data.end(), positive.data_ptr<float>(), positive.data_ptr<float>() + positive.numel());
        data.insert(data.end(), negative.data_ptr<float>(), negative.data_ptr<float>() + negative.numel());
    }
    data.push_back(0.0f);
    data.push_back(1.0f);
    LATHE_ASSERT(data.size() == 256);
    std::sort(data.begin(), data.end());
    at::Tensor map = at::empty({256}, at::kFloat);
    std::memcpy(map.data_ptr<float>(), data.data(), 256 * sizeof(float));
    return map;
}

namespace {

// cpu_ops.cpp: the nearest of 256 sorted codes, looked up in a table over [-1, 1] in 65536 steps.
constexpr int kLutSize = 65536;

std::vector<uint8_t> build_quantize_lut(const float* code) {
    float midpoints[255];
    for (int i = 0; i < 255; ++i) midpoints[i] = 0.5f * (code[i] + code[i + 1]);
    std::vector<uint8_t> lut(kLutSize);
    int code_idx = 0;
    for (int i = 0; i < kLutSize; ++i) {
        float val = -1.0f + (2.0f * static_cast<float>(i)) / static_cast<float>(kLutSize - 1);
        while (code_idx < 255 && midpoints[code_idx] < val) ++code_idx;
        lut[i] = static_cast<uint8_t>(code_idx);
    }
    return lut;
}

// Separate float operations in this order (this file builds with -ffp-contract=off: no fused multiply-add).
uint16_t norm_to_lut_index(float val) {
    val = std::clamp(val, -1.0f, 1.0f);
    float scaled = (val + 1.0f) * 0.5f;
    scaled = scaled * static_cast<float>(kLutSize - 1);
    return static_cast<uint16_t>(scaled + 0.5f);
}

void require_cpu_float(const at::Tensor& t, const char* what) {
    if (!t.device().is_cpu()) throw Error(std::string(what) + " must be on the CPU");
    auto type = t.scalar_type();
    if (type != at::kFloat && type != at::kBFloat16 && type != at::kHalf)
        throw Error(std::string(what) + " must be float32, bfloat16 or float16, not " + c10::toString(type));
}

}  // namespace

Blockwise8bit quantize_blockwise_8bit(const at::Tensor& values, const at::Tensor& code, int64_t blocksize) {
    require_cpu_float(values, "blockwise quantization input");
    if (blocksize <= 0) throw Error("blockwise quantization: blocksize must be positive");
    at::Tensor flat = values.reshape(-1).to(at::kFloat).contiguous();
    at::Tensor code_f = code.to(at::kFloat).contiguous();
    if (code_f.numel() != 256) throw Error("blockwise quantization needs a 256-entry code");
    std::vector<uint8_t> lut = build_quantize_lut(code_f.data_ptr<float>());

    const int64_t n = flat.numel();
    const int64_t blocks = (n + blocksize - 1) / blocksize;
    at::Tensor codes = at::empty({n}, at::kByte);
    at::Tensor absmax = at::empty({blocks}, at::kFloat);
    const float* a = flat.data_ptr<float>();
    uint8_t* out = codes.data_ptr<uint8_t>();
    float* am_out = absmax.data_ptr<float>();
    for (int64_t b = 0; b < blocks; ++b) {
        const int64_t start = b * blocksize, end = std::min(start + blocksize, n);
        float am = 0.0f;
        for (int64_t i = start; i < end; ++i)
            if (!std::isnan(a[i])) am = std::max(am, std::fabs(a[i]));  // a NaN does not poison the block
        am_out[b] = am;
        if (am == 0.0f) {
            std::memset(out + start, 0, static_cast<size_t>(end - start));
            continue;
        }
        const float inv = 1.0f / am;
        for (int64_t i = start; i < end; ++i) out[i] = lut[norm_to_lut_index(a[i] * inv)];
    }
    return {codes.view(values.sizes()), absmax};
}

namespace {
// values[i] * absmax[i / blocksize] in float32, on any device (a short last block included).
// Multiplies `values` (flat, float32, owned by the caller) in place: dequantizing a layer then needs no
// second buffer of its size.
at::Tensor scale_by_block(at::Tensor values, const at::Tensor& absmax, int64_t blocksize) {
    const int64_t n = values.numel(), rem = n % blocksize, full = n - rem, blocks = full / blocksize;
    values.slice(0, 0, full).view({-1, blocksize}).mul_(absmax.slice(0, 0, blocks).view({-1, 1}));
    if (rem) values.slice(0, full).mul_(absmax[blocks]);
    return values;
}
}  // namespace

at::Tensor dequantize_blockwise_8bit(const at::Tensor& codes, const at::Tensor& absmax, const at::Tensor& code,
                                     int64_t blocksize) {
    const int64_t n = codes.numel();
    if (absmax.numel() != (n + blocksize - 1) / blocksize)
        throw Error("8-bit absmax has " + std::to_string(absmax.numel()) + " blocks; " + std::to_string(n) +
                    " values in blocks of " + std::to_string(blocksize) + " need " +
                    std::to_string((n + blocksize - 1) / blocksize));
    at::Tensor values = code.to(at::kFloat).index_select(0, codes.reshape(-1).to(at::kLong));
    return scale_by_block(values, absmax.to(at::kFloat), blocksize).view(codes.sizes());
}

Bnb4bitTensor quantize_4bit(const at::Tensor& weight, const Quantize4bitOptions& options) {
    require_cpu_float(weight, "4-bit quantization input");
    if (!valid_bnb_4bit_blocksize(options.blocksize))
        throw Error("4-bit blocksize " + std::to_string(options.blocksize) + " is not one bitsandbytes allows (32 ... 4096)");
    at::Tensor code = bnb_4bit_code(options.type);
    // _get_4bit_quantize_bounds: midpoints of the sorted code; FP4's bucket indices map back through order.
    at::Tensor order = at::argsort(code);
    at::Tensor sorted = code.index_select(0, order);
    at::Tensor bounds = (sorted.slice(0, 0, -1) + sorted.slice(0, 1)) / 2;

    at::Tensor flat = weight.reshape(-1).to(at::kFloat);
    const int64_t n = flat.numel();
    const int64_t rem = n % options.blocksize, full = n - rem, blocks = full / options.blocksize;
    at::Tensor whole = flat.slice(0, 0, full).reshape({blocks, options.blocksize});
    at::Tensor absmax = std::get<0>(whole.abs().max(-1));
    at::Tensor scaled = at::clamp(whole * at::reciprocal(absmax.clamp_min(1e-38)).view({-1, 1}), -1, 1).reshape(-1);
    if (rem) {
        at::Tensor tail = flat.slice(0, full);
        at::Tensor tail_max = tail.abs().max().clamp_min(1e-38);
        absmax = at::cat({absmax, tail_max.unsqueeze(0)});
        scaled = at::cat({scaled, at::clamp(tail / tail_max, -1, 1)});
    }
    if (scaled.numel() % 2) scaled = at::cat({scaled, at::zeros({1}, at::kFloat)});
    at::Tensor q = at::bucketize(scaled, bounds, /*out_int32=*/true);
    if (options.type != Bnb4bitType::nf4) q = order.index_select(0, q);
    q = q.to(at::kInt);
    const int64_t padded = q.numel();
    at::Tensor packed = (q.slice(0, 0, padded, 2) * 16 + q.slice(0, 1, padded, 2)).to(at::kByte).unsqueeze(1);
    if (options.storage != at::kByte) packed = packed.squeeze().view(options.storage).unsqueeze(1);

    Bnb4bitTensor result;
    result.packed = packed;
    Bnb4bitState& state = result.state;
    state.type = options.type;
    state.blocksize = options.blocksize;
    state.shape = weight.sizes().vec();
    state.dtype = weight.scalar_type();
    state.quant_map = code;
    if (!options.double_quant) {
        state.absmax = absmax;
        return result;
    }
    // compress_statistics: absmax - mean(absmax), quantized with the dynamic map in blocks of 256.
    at::Tensor offset = absmax.mean();
    at::Tensor dynamic = bnb_dynamic_map();
    Blockwise8bit nested = quantize_blockwise_8bit(absmax - offset, dynamic, 256);
    state.absmax = nested.codes;
    state.nested = NestedAbsmax{.absmax = nested.absmax, .quant_map = dynamic, .blocksize = 256,
                                .offset = offset.item<float>()};
    return result;
}

at::Tensor block_absmax(const Bnb4bitState& state) {
    if (!state.nested) return state.absmax.to(at::kFloat);
    const NestedAbsmax& nested = *state.nested;
    at::Tensor absmax = dequantize_blockwise_8bit(state.absmax, nested.absmax, nested.quant_map, nested.blocksize);
    return absmax.add_(at::scalar_tensor(nested.offset, at::kFloat));
}

at::Tensor dequantize_4bit(const at::Tensor& packed, const Bnb4bitState& state, at::ScalarType dtype) {
    if (dtype != at::kFloat && dtype != at::kBFloat16 && dtype != at::kHalf)
        throw Error(std::string("4-bit weights dequantize to float32, bfloat16 or float16, not ") + c10::toString(dtype));
    at::Tensor bytes = packed.contiguous().view(at::kByte).reshape(-1);
    const int64_t n = state.numel();
    if (bytes.numel() != state.packed_bytes())
        throw Error("4-bit weight has " + std::to_string(bytes.numel()) + " bytes; its quant_state shape needs " +
                    std::to_string(state.packed_bytes()));
    at::Tensor absmax = block_absmax(state);
    if (absmax.numel() != state.blocks())
        throw Error("4-bit absmax has " + std::to_string(absmax.numel()) + " blocks; shape and blocksize " +
                    std::to_string(state.blocksize) + " need " + std::to_string(state.blocks()));
    if (state.quant_map.numel() != 16) throw Error("4-bit quant_map must hold 16 values");

    // Unpack: element 2i is the high nibble of byte i. Nibbles as bytes and int32 indices: this runs for
    // every 4-bit layer in every forward and backward, and its scratch is part of a step's peak memory.
    at::Tensor values;
    {
        at::Tensor nibbles = at::stack({bytes.__rshift__(4), bytes.bitwise_and(15)}, 1).reshape(-1).slice(0, 0, n).to(at::kInt);
        values = state.quant_map.to(at::kFloat).index_select(0, nibbles);
    }
    at::Tensor out = scale_by_block(values, absmax, state.blocksize);
    return out.view(state.shape).to(dtype);
}

}  // namespace lathe::quant

// bitsandbytes' 4-bit formats (NF4, FP4), bit for bit: what bitsandbytes.functional.quantize_4bit /
// dequantize_4bit give on the CPU (bitsandbytes 0.50.2), including double quantization ("compress
// statistics": the float32 absmax quantized again to 8 bits in blocks of 256, around their mean).
//
// Layout (as bitsandbytes stores it, and as transformers saves Linear4bit weights):
//   packed   uint8 [ceil(n / 2), 1]: element 2i in the high nibble of byte i, 2i+1 in the low nibble;
//            an odd count is padded with a quantized 0. Other storage dtypes are views of these bytes.
//   absmax   float32 [ceil(n / blocksize)] per block of the flattened tensor (the last block may be short);
//            with double quantization uint8 codes into nested_quant_map, scaled per 256 by nested_absmax,
//            plus nested_offset.
//   quant_map float32 [16]: the code table (get_4bit_type).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lathe::quant {

enum class Bnb4bitType { nf4, fp4 };

const char* bnb_4bit_type_name(Bnb4bitType type);
std::optional<Bnb4bitType> parse_bnb_4bit_type(const std::string& name);
// The block sizes bitsandbytes accepts for 4-bit quantization (32 ... 4096, powers of two).
bool valid_bnb_4bit_blocksize(int64_t blocksize);

// get_4bit_type(name): the 16 code values, float32, in bit-pattern order.
at::Tensor bnb_4bit_code(Bnb4bitType type);
// create_dynamic_map(): bitsandbytes' signed 8-bit dynamic code, float32 [256], sorted.
at::Tensor bnb_dynamic_map();

// quantize_blockwise on the CPU (8 bits, nearest code through bitsandbytes' 65536-entry lookup table):
// codes uint8 with the input's shape, absmax float32 per block.
struct Blockwise8bit {
    at::Tensor codes;
    at::Tensor absmax;
};
Blockwise8bit quantize_blockwise_8bit(const at::Tensor& values, const at::Tensor& code, int64_t blocksize);
// code[codes] * absmax[block], float32, the codes' shape.
at::Tensor dequantize_blockwise_8bit(const at::Tensor& codes, const at::Tensor& absmax, const at::Tensor& code,
                                     int64_t blocksize);

struct NestedAbsmax {
    at::Tensor absmax;      // float32 [ceil(blocks / blocksize)]
    at::Tensor quant_map;   // float32 [256]
    int64_t blocksize = 256;
    float offset = 0;       // mean of the float32 absmax, added back after dequantizing
};

// bitsandbytes' QuantState for one 4-bit tensor.
struct Bnb4bitState {
    Bnb4bitType type = Bnb4bitType::nf4;
    int64_t blocksize = 64;
    std::vector<int64_t> shape;            // the original tensor's shape
    at::ScalarType dtype = at::kFloat;     // the original tensor's dtype (dequantize's default)
    at::Tensor absmax;                     // float32 [blocks], or uint8 [blocks] when nested
    at::Tensor quant_map;                  // float32 [16]
    std::optional<NestedAbsmax> nested;

    int64_t numel() const;
    int64_t blocks() const { return (numel() + blocksize - 1) / blocksize; }
    int64_t packed_bytes() const { return (numel() + 1) / 2; }
};

struct Bnb4bitTensor {
    at::Tensor packed;  // [packed_bytes / element size of storage, 1]
    Bnb4bitState state;
};

struct Quantize4bitOptions {
    Bnb4bitType type = Bnb4bitType::nf4;
    int64_t blocksize = 64;
    bool double_quant = false;
    at::ScalarType storage = at::kByte;  // bnb_4bit_quant_storage: the packed bytes viewed as this dtype
};

// quantize_4bit(weight, blocksize, compress_statistics=double_quant, quant_type, quant_storage).
// weight: float32, bfloat16 or float16, any shape, on the CPU.
Bnb4bitTensor quantize_4bit(const at::Tensor& weight, const Quantize4bitOptions& options);

// The per-block float32 absmax, undoing double quantization when there is one.
at::Tensor block_absmax(const Bnb4bitState& state);

// dequantize_4bit: the values in `dtype` (float32, bfloat16 or float16), with state.shape.
at::Tensor dequantize_4bit(const at::Tensor& packed, const Bnb4bitState& state, at::ScalarType dtype);
inline at::Tensor dequantize_4bit(const at::Tensor& packed, const Bnb4bitState& state) {
    return dequantize_4bit(packed, state, state.dtype);
}

}  // namespace lathe::quant

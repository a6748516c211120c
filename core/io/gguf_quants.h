// ggml's tensor encodings, torch-free: float16/bfloat16 conversion and the block quantizations
// (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 in blocks of 32; Q4_K, Q5_K, Q6_K in super-blocks of 256).
// quantize_row follows ggml-quants.c's reference quantizers (quantize_row_*_ref, what llama-quantize
// uses without an importance matrix) operation for operation, so the bytes are the same as ggml's.
#pragma once

#include <cstdint>

#include "core/io/gguf.h"

namespace lathe {

// Round-to-nearest-even, as ggml_compute_fp32_to_fp16 / ggml_compute_fp32_to_bf16 (NaN stays NaN).
uint16_t fp32_to_fp16(float f);
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f);
float bf16_to_fp32(uint16_t h);

bool can_dequantize(GgmlType type);
// Decodes n elements (a multiple of the type's block size) starting at src.
void dequantize_row(GgmlType type, const uint8_t* src, float* dst, int64_t n);

bool can_quantize(GgmlType type);
// Encodes n elements (a multiple of the block size) into ggml_row_bytes(type, n) bytes at dst.
void quantize_row(GgmlType type, const float* src, uint8_t* dst, int64_t n);

}  // namespace lathe

// Dropout noise that an op gets back in backward without keeping it in x's dtype (the LoRA ops).
//
// at::dropout keeps its noise, x * keep / (1 - p), for backward: on the CPU a tensor in x's dtype (4
// bytes an element in float32), on CUDA a bool mask. The ops here draw the same noise, from the same
// random stream, and keep less:
//   - on the CPU the kept elements as bits, 1 bit an element: drawing the mask again would cost more
//     than keeping it, since the CPU generator (mt19937) spends several ns an element, as long as the
//     adapter's whole product at small ranks;
//   - on other devices (CUDA) a copy of the generator as it was before the draw, nothing per element:
//     Philox draws the same mask again at memory speed.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <torch/csrc/autograd/custom_function.h>

#include <optional>

namespace lathe::kernels {

// x * noise, the noise drawn as at::dropout draws it on the CPU (empty_like(x).bernoulli_(1 - p), then
// div_(1 - p)) from x's device's default generator; records in ctx->saved_data what noise_times needs.
at::Tensor drop_remembering_noise(torch::autograd::AutogradContext& ctx, const at::Tensor& x, double dropout);

// v * the noise drop_remembering_noise drew, v of that x's shape: a new contiguous tensor, or v itself
// multiplied in place when `in_place` (v then must be contiguous and not needed by autograd). Bit for
// bit what v * noise gives, as often as backward asks.
at::Tensor noise_times(torch::autograd::AutogradContext& ctx, const at::Tensor& v, double dropout, bool in_place = false);

// The noise of given kept elements: keep / (1 - dropout) in x's dtype.
at::Tensor dropout_noise_of(const at::Tensor& keep, const at::Tensor& x, double dropout);

// The parts, for tests and benchmarks. Bits: element i kept when bit (i % 8) of byte i / 8 is set,
// elements in x's row-major order.
at::Tensor pack_kept_bits(const at::Tensor& noise);
at::Tensor times_kept_bits(const at::Tensor& v, const at::Tensor& bits, double dropout, bool in_place);
at::Tensor draw_dropout_noise(const at::Tensor& x, double dropout, std::optional<at::Generator> generator = std::nullopt);

}  // namespace lathe::kernels

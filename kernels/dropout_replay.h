// Dropout as at::dropout draws it on the CPU, with the draw replayable: an op that copies the random
// generator before drawing can draw the same noise again in backward instead of keeping a mask.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <optional>

namespace lathe::kernels {

// A copy of the default generator of `device` as it is now: the next draw from the default generator,
// made again from a copy of this (clone() it for each replay), gives the same numbers.
at::Generator generator_before_draw(c10::Device device);

// at::dropout's scaled noise on the CPU: bernoulli(1 - dropout) on a tensor like x, divided by 1 - dropout
// (_dropout's empty_like(x).bernoulli_(1 - p).div_(1 - p)); from `generator`, or the default one.
at::Tensor draw_dropout_noise(const at::Tensor& x, double dropout, std::optional<at::Generator> generator = std::nullopt);

// The same noise from the kept elements: keep / (1 - dropout) in x's dtype.
at::Tensor dropout_noise_of(const at::Tensor& keep, const at::Tensor& x, double dropout);

}  // namespace lathe::kernels

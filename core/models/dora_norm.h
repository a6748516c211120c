// DoRA's weight norm ||W + scale * B A|| over each output row, once per optimizer step. PEFT (and the DoRA
// paper, section 4.3) detach it from the graph: a constant of the step, so recomputing it in every forward
// (each micro-batch of a gradient accumulation, each checkpointed layer recomputed in backward) is wasted
// work, a [out, in] float32 matrix product per layer per forward.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "core/models/linear.h"

namespace lathe {

// The float32 norm [out] of `layer`'s base weight plus its adapter's scaled B A, without gradient. Computed
// again only when the tensors it came from changed: A, B or the base weight replaced, or changed in place
// (their version counters: an optimizer step bumps A's and B's), or the adapter's scale changed. Tensors
// that keep no version counter (inference tensors) are never cached.
at::Tensor dora_weight_norm(const Linear& layer);

// How many times dora_weight_norm has computed a norm in this process (tests: once per step).
int64_t dora_norm_computations();

}  // namespace lathe

// x W^T for a bitsandbytes 4-bit weight, as bitsandbytes' MatMul4Bit computes it: the weight is
// dequantized for the forward product and again for the input's gradient in backward, so autograd keeps
// only the 4-bit bytes, never a dequantized copy. A QLoRA step therefore holds the 4-bit weights plus
// the one layer being computed in the compute dtype, not the whole model dequantized.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>

#include "core/quant/bnb_4bit.h"

namespace lathe {

// x [..., in] -> [..., out], in x's dtype. The weight is frozen: gradients reach x only.
at::Tensor linear_4bit(const at::Tensor& x, const std::shared_ptr<const quant::Bnb4bitTensor>& weight);

}  // namespace lathe

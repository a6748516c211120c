// A Linear4bit weight as transformers saves it: NAME (the packed bytes), NAME.absmax, NAME.quant_map,
// with double quantization NAME.nested_absmax and NAME.nested_quant_map, and
// NAME.quant_state.bitsandbytes__nf4 (or __fp4): JSON bytes holding quant_type, blocksize, dtype, shape and
// the nested settings (bitsandbytes' QuantState.as_dict(packed=True)).
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/quant/bnb_4bit.h"

namespace lathe::quant {

// The quant_state key for NAME, if the checkpoint has one ("" otherwise).
std::string bnb_quant_state_key(const std::string& weight_name, const std::function<bool(const std::string&)>& has);

// Reads and checks one 4-bit weight; `take` returns a checkpoint tensor by name (throwing when absent),
// `where` names the file in errors. The state's shape must be expected_shape ([out, in]).
Bnb4bitTensor read_bnb_4bit_weight(const std::string& weight_name, const std::vector<int64_t>& expected_shape,
                                   const std::function<at::Tensor(const std::string&)>& take,
                                   const std::function<bool(const std::string&)>& has, const std::string& where);

// The tensors transformers saves for a 4-bit weight, by full name.
std::vector<std::pair<std::string, at::Tensor>> bnb_4bit_weight_tensors(const std::string& weight_name,
                                                                        const Bnb4bitTensor& weight);

}  // namespace lathe::quant

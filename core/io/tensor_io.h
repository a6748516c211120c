// Safetensors entries as LibTorch tensors, and tensors back to safetensors files.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/io/checkpoint.h"

namespace lathe {

at::ScalarType to_scalar_type(DType dtype);
DType to_dtype(at::ScalarType type);  // throws lathe::Error for types safetensors cannot hold

// A CPU tensor over the mapped bytes, sharing the mapping (zero-copy) when the data is aligned for its
// element type; an aligned copy otherwise. Writes go to private copy-on-write pages, never the file.
at::Tensor tensor_view(const LocatedTensor& located);

// Every tensor of a .safetensors file, by name.
std::map<std::string, at::Tensor> load_safetensors(const std::string& path);

// Writes tensors (any device, any layout) atomically; see write_safetensors.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace lathe

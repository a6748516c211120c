// Element types as safetensors names them. Torch-free so the UI can describe a checkpoint.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace lathe {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

// "F32" -> DType::F32; nullopt for names safetensors has that Lathe does not load (F8_E4M3, ...).
std::optional<DType> dtype_from_safetensors_name(std::string_view name);
const char* safetensors_name(DType dtype);
size_t element_size(DType dtype);
// Lower-case name for people: "float32", "bfloat16".
const char* dtype_display_name(DType dtype);

}  // namespace lathe

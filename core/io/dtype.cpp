#include "core/io/dtype.h"

#include "core/util/error.h"

namespace lathe {

namespace {
struct DTypeRow {
    DType dtype;
    const char* safetensors;
    const char* display;
    size_t size;
};
constexpr DTypeRow kDTypes[] = {
    {DType::F64, "F64", "float64", 8}, {DType::F32, "F32", "float32", 4}, {DType::F16, "F16", "float16", 2},
    {DType::BF16, "BF16", "bfloat16", 2}, {DType::I64, "I64", "int64", 8}, {DType::I32, "I32", "int32", 4},
    {DType::I16, "I16", "int16", 2}, {DType::I8, "I8", "int8", 1}, {DType::U8, "U8", "uint8", 1},
    {DType::BOOL, "BOOL", "bool", 1},
};
const DTypeRow& row(DType dtype) {
    for (const auto& r : kDTypes)
        if (r.dtype == dtype) return r;
    LATHE_ASSERT(false);
    return kDTypes[0];
}
}  // namespace

std::optional<DType> dtype_from_safetensors_name(std::string_view name) {
    for (const auto& r : kDTypes)
        if (name == r.safetensors) return r.dtype;
    return std::nullopt;
}

const char* safetensors_name(DType dtype) { return row(dtype).safetensors; }
size_t element_size(DType dtype) { return row(dtype).size; }
const char* dtype_display_name(DType dtype) { return row(dtype).display; }

}  // namespace lathe

#include "core/io/tensor_io.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>

#include <cstring>

#include "core/util/error.h"

namespace lathe {

at::ScalarType to_scalar_type(DType dtype) {
    switch (dtype) {
        case DType::F64: return at::kDouble;
        case DType::F32: return at::kFloat;
        case DType::F16: return at::kHalf;
        case DType::BF16: return at::kBFloat16;
        case DType::I64: return at::kLong;
        case DType::I32: return at::kInt;
        case DType::I16: return at::kShort;
        case DType::I8: return at::kChar;
        case DType::U8: return at::kByte;
        case DType::BOOL: return at::kBool;
    }
    LATHE_ASSERT(false);
    return at::kFloat;
}

DType to_dtype(at::ScalarType type) {
    switch (type) {
        case at::kDouble: return DType::F64;
        case at::kFloat: return DType::F32;
        case at::kHalf: return DType::F16;
        case at::kBFloat16: return DType::BF16;
        case at::kLong: return DType::I64;
        case at::kInt: return DType::I32;
        case at::kShort: return DType::I16;
        case at::kChar: return DType::I8;
        case at::kByte: return DType::U8;
        case at::kBool: return DType::BOOL;
        default: throw Error(std::string("tensors of type ") + c10::toString(type) + " cannot be saved as safetensors");
    }
}

at::Tensor tensor_view(const LocatedTensor& located) {
    const TensorEntry& e = *located.entry;
    auto options = at::TensorOptions().dtype(to_scalar_type(e.dtype)).device(at::kCPU);
    uint8_t* data = located.file->mutable_data(e);
    size_t nbytes = e.end - e.begin;
    if (reinterpret_cast<uintptr_t>(data) % element_size(e.dtype) != 0) {
        at::Tensor copy = at::empty(e.shape, options);
        std::memcpy(copy.data_ptr(), data, nbytes);
        return copy;
    }
    // The deleter holds the mapping so the bytes outlive the file object.
    auto keep_alive = located.file->mapping();
    return at::from_blob(data, e.shape, [keep_alive](void*) mutable { keep_alive.reset(); }, options);
}

std::map<std::string, at::Tensor> load_safetensors(const std::string& path) {
    Checkpoint ckpt = Checkpoint::open_file(path);
    std::map<std::string, at::Tensor> out;
    for (const auto& name : ckpt.names()) out[name] = tensor_view(ckpt.at(name));
    return out;
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    std::vector<at::Tensor> keep;  // contiguous CPU copies must live until written
    std::vector<TensorBytes> bytes;
    for (const auto& [name, tensor] : tensors) {
        if (!tensor.defined()) throw Error(path + ": tensor '" + name + "' is undefined");
        at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
        keep.push_back(t);
        bytes.push_back({name, to_dtype(t.scalar_type()), t.sizes().vec(), t.data_ptr(), t.nbytes()});
    }
    write_safetensors(path, std::move(bytes), metadata);
}

}  // namespace lathe

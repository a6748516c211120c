// The safetensors format (https://huggingface.co/docs/safetensors): 8-byte little-endian header length N,
// N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}, then
// the data. This file reads and checks the header and maps the data; it has no LibTorch so the UI can
// use it. core/io/tensor_io.h turns entries into tensors.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/io/dtype.h"
#include "core/util/mapped_file.h"

namespace lathe {

struct TensorEntry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    uint64_t begin = 0;  // byte offsets into the data section, end exclusive
    uint64_t end = 0;

    int64_t numel() const;
};

struct SafetensorsHeader {
    std::vector<TensorEntry> tensors;  // in the header's order
    std::map<std::string, std::string> metadata;
    uint64_t data_offset = 0;          // where the data section starts in the file: 8 + N
};

// Parses and validates a whole file image (header plus data). `where` names the file in errors.
// Every way a header can be wrong is a lathe::Error naming the file and the tensor or key.
SafetensorsHeader parse_safetensors_header(const uint8_t* file, size_t file_size, const std::string& where);

// One mapped .safetensors file.
class SafetensorsFile {
public:
    static std::shared_ptr<SafetensorsFile> open(const std::string& path);

    const std::string& path() const { return mapping_->path(); }
    const SafetensorsHeader& header() const { return header_; }
    const TensorEntry* find(const std::string& name) const;
    const uint8_t* data(const TensorEntry& entry) const { return mapping_->data() + header_.data_offset + entry.begin; }
    uint8_t* mutable_data(const TensorEntry& entry) const { return mapping_->data() + header_.data_offset + entry.begin; }
    const std::shared_ptr<MappedFile>& mapping() const { return mapping_; }

private:
    std::shared_ptr<MappedFile> mapping_;
    SafetensorsHeader header_;
    std::map<std::string, size_t> index_;
};

// A tensor to write: raw little-endian bytes of `dtype` with `shape`.
struct TensorBytes {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    const void* data = nullptr;
    size_t nbytes = 0;
};

// Writes a safetensors file atomically: a temporary beside `path`, fsync, rename. Tensors are laid out
// the way the reference implementation does (larger element size first, then by name) and the data
// section starts on an 8-byte boundary so every tensor can be viewed in place when read back.
void write_safetensors(const std::string& path, std::vector<TensorBytes> tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace lathe

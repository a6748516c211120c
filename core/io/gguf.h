// The GGUF format (ggml's docs/gguf.md): "GGUF", version (2 or 3), tensor count, key/value count, the
// key/values, the tensor infos (name, dims innermost first, ggml type, offset), padding to the
// alignment (general.alignment, default 32), then the tensor data. All little-endian. This file reads
// and checks a whole file image; it has no LibTorch. core/io/gguf_quants.h turns tensor bytes into floats.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/util/mapped_file.h"

namespace lathe {

// ggml_type ids as written in the file.
enum class GgmlType : uint32_t {
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
    Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
    I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, BF16 = 30,
};

struct GgmlTypeTraits {
    const char* name;
    int64_t block_size;  // elements per block
    int64_t type_size;   // bytes per block
};

// nullptr for ids Lathe does not know the layout of.
const GgmlTypeTraits* ggml_type_traits(uint32_t type);
// "Q4_K", or "type 16 (IQ2_XXS)" style text for ids only llama.cpp knows.
std::string ggml_type_name(uint32_t type);
// Bytes of a row of `n` elements; n must be a multiple of the block size.
uint64_t ggml_row_bytes(GgmlType type, int64_t n);

// Metadata value types as written in the file.
enum class GgufType : uint32_t {
    U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9,
    U64 = 10, I64 = 11, F64 = 12,
};
const char* gguf_type_name(GgufType type);

// One metadata value. Scalars keep their exact value in the field matching their kind; arrays keep
// their elements in `strings`, `ints` (all integer types and bool) or `floats`.
struct GgufValue {
    GgufType type = GgufType::U32;
    GgufType array_type = GgufType::U32;  // element type when type == ARRAY
    int64_t i = 0;        // signed integers and bool
    uint64_t u = 0;       // unsigned integers (also mirrored into i when it fits)
    double f = 0;         // F32/F64
    std::string s;
    std::vector<std::string> strings;
    std::vector<int64_t> ints;
    std::vector<double> floats;

    bool is_integer() const;
    size_t array_size() const;
};

struct GgufTensorInfo {
    std::string name;
    std::vector<int64_t> ne;  // dims innermost first, as in the file: a [out, in] matrix is ne = {in, out}
    GgmlType type = GgmlType::F32;
    uint64_t offset = 0;      // from the start of the data section
    uint64_t nbytes = 0;

    int64_t numel() const;
    // Dims outermost first, the way PyTorch and safetensors write shapes.
    std::vector<int64_t> shape() const;
};

struct GgufHeader {
    uint32_t version = 3;
    std::vector<std::pair<std::string, GgufValue>> metadata;  // in file order
    std::map<std::string, size_t> metadata_index;
    std::vector<GgufTensorInfo> tensors;                      // in file order
    uint64_t alignment = 32;
    uint64_t data_offset = 0;                                 // where the data section starts in the file

    const GgufValue* find(const std::string& key) const;
};

// Parses and validates a whole file image. Every way a file can be wrong (bad magic, unsupported
// version, truncated header, unknown value or tensor type, a tensor outside the data or overlapping
// another, duplicate names) is a lathe::Error naming `where` and the key or tensor.
GgufHeader parse_gguf(const uint8_t* file, size_t file_size, const std::string& where);

// One mapped .gguf file.
class GgufFile {
public:
    static std::shared_ptr<GgufFile> open(const std::string& path);

    const std::string& path() const { return mapping_->path(); }
    const GgufHeader& header() const { return header_; }
    const GgufValue* find(const std::string& key) const { return header_.find(key); }
    const GgufTensorInfo* find_tensor(const std::string& name) const;
    const uint8_t* data(const GgufTensorInfo& t) const { return mapping_->data() + header_.data_offset + t.offset; }

    // Typed metadata access; errors name the file and key ("... is missing", "... is a string, expected
    // an integer"). The optional forms return nullopt only when the key is absent.
    std::string get_string(const std::string& key) const;
    int64_t get_int(const std::string& key) const;
    double get_float(const std::string& key) const;  // accepts integers too
    std::optional<std::string> opt_string(const std::string& key) const;
    std::optional<int64_t> opt_int(const std::string& key) const;
    std::optional<double> opt_float(const std::string& key) const;
    std::optional<bool> opt_bool(const std::string& key) const;

private:
    std::shared_ptr<MappedFile> mapping_;
    GgufHeader header_;
    std::map<std::string, size_t> tensor_index_;
};

}  // namespace lathe

// Writes a GGUF v3 file the way gguf-py's GGUFWriter lays it out: header, key/values in the order they
// were set, tensor infos, padding to the alignment (32), then each tensor's data padded to the
// alignment. Tensor data is produced one tensor at a time by a callback, so a large model never has to
// be held in memory whole. The file is written atomically (core/util/atomic_file.h). Torch-free.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/io/gguf.h"

namespace lathe {

class GgufWriter {
public:
    void set_string(const std::string& key, const std::string& v);
    void set_u32(const std::string& key, uint32_t v);
    void set_i32(const std::string& key, int32_t v);
    void set_f32(const std::string& key, float v);
    void set_bool(const std::string& key, bool v);
    void set_strings(const std::string& key, const std::vector<std::string>& v);
    void set_i32s(const std::string& key, const std::vector<int32_t>& v);
    void set_f32s(const std::string& key, const std::vector<float>& v);
    void set(const std::string& key, GgufValue v);  // replaces an earlier value of the same key in place

    // ne: dims innermost first (a [out, in] matrix is {in, out}). `fill` writes exactly
    // ggml_row_bytes(type, ne[0]) * rows bytes to the buffer it is given.
    using Fill = std::function<void(uint8_t* dst)>;
    void add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne, Fill fill);

    size_t tensor_count() const { return tensors_.size(); }

    // progress(i, n, name) is called before tensor i of n is produced.
    void write(const std::string& path,
               const std::function<void(size_t, size_t, const std::string&)>& progress = nullptr) const;

private:
    struct Tensor {
        std::string name;
        GgmlType type;
        std::vector<int64_t> ne;
        uint64_t nbytes;
        Fill fill;
    };
    std::vector<std::pair<std::string, GgufValue>> kv_;
    std::vector<Tensor> tensors_;
    uint64_t alignment_ = 32;
};

}  // namespace lathe

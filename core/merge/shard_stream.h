// A safetensors file written one tensor at a time: the header is laid out up front from the tensors'
// names, dtypes and shapes (the reference implementation's layout, as write_safetensors uses: larger
// element size first, then by name), then each tensor's bytes are appended in that order. What a merge
// needs to keep only one output tensor in memory. Torch-free.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/io/dtype.h"
#include "core/util/atomic_file.h"

namespace lathe::merge {

struct PlannedTensor {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    uint64_t nbytes() const;
};

class ShardStream {
public:
    // Writes the header at once; throws naming `path` for duplicate names.
    ShardStream(const std::string& path, std::vector<PlannedTensor> tensors,
                const std::map<std::string, std::string>& metadata = {{"format", "pt"}});
    // The order append() must follow.
    const std::vector<PlannedTensor>& order() const { return tensors_; }
    // The next tensor's bytes; its name and size must be the next planned ones (a programmer error otherwise).
    void append(const std::string& name, const void* data, size_t nbytes);
    // After the last tensor: fsync and move the file into place.
    void commit();

private:
    std::string path_;
    std::vector<PlannedTensor> tensors_;
    size_t next_ = 0;
    std::unique_ptr<AtomicFile> file_;
};

}  // namespace lathe::merge

// A model folder's weights: model.safetensors, or shards listed by model.safetensors.index.json.
// Torch-free (headers and mappings only); core/io/tensor_io.h makes tensors of the entries.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/io/safetensors.h"

namespace lathe {

struct LocatedTensor {
    const SafetensorsFile* file = nullptr;
    const TensorEntry* entry = nullptr;
};

class Checkpoint {
public:
    // Opens DIR/model.safetensors, or every shard DIR/model.safetensors.index.json names, checking
    // that each tensor the index maps is really in its shard.
    static Checkpoint open_dir(const std::string& dir);
    // Opens one .safetensors file (e.g. an adapter).
    static Checkpoint open_file(const std::string& path);

    bool contains(const std::string& name) const { return where_.count(name) > 0; }
    // Throws lathe::Error naming the tensor and the folder when absent.
    LocatedTensor at(const std::string& name) const;
    std::vector<std::string> names() const;
    const std::vector<std::shared_ptr<SafetensorsFile>>& files() const { return files_; }
    const std::string& source() const { return source_; }
    uint64_t total_bytes() const;   // the files' sizes on disk
    int64_t total_elements() const; // sum of numel over tensors

private:
    std::string source_;
    std::vector<std::shared_ptr<SafetensorsFile>> files_;
    std::map<std::string, LocatedTensor> where_;
};

}  // namespace lathe

#include "core/merge/shard_stream.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "core/util/error.h"

namespace lathe::merge {

uint64_t PlannedTensor::nbytes() const {
    uint64_t n = element_size(dtype);
    for (int64_t d : shape) n *= static_cast<uint64_t>(d);
    return n;
}

ShardStream::ShardStream(const std::string& path, std::vector<PlannedTensor> tensors,
                         const std::map<std::string, std::string>& metadata)
    : path_(path), tensors_(std::move(tensors)) {
    std::stable_sort(tensors_.begin(), tensors_.end(), [](const PlannedTensor& a, const PlannedTensor& b) {
        size_t sa = element_size(a.dtype), sb = element_size(b.dtype);
        return sa != sb ? sa > sb : a.name < b.name;
    });
    nlohmann::json header = nlohmann::json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    uint64_t offset = 0;
    for (const auto& t : tensors_) {
        if (header.contains(t.name)) throw Error(path + ": tensor '" + t.name + "' given twice");
        header[t.name] = {{"dtype", safetensors_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.nbytes()}}};
        offset += t.nbytes();
    }
    std::string text = header.dump();
    while ((8 + text.size()) % 8 != 0) text.push_back(' ');  // data 8-byte aligned, as write_safetensors does
    file_ = std::make_unique<AtomicFile>(path);
    uint8_t len[8];
    const uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
    file_->write(len, 8);
    file_->write(text.data(), text.size());
}

void ShardStream::append(const std::string& name, const void* data, size_t nbytes) {
    LATHE_ASSERT(next_ < tensors_.size());
    LATHE_ASSERT(tensors_[next_].name == name && tensors_[next_].nbytes() == nbytes);
    file_->write(data, nbytes);
    ++next_;
}

void ShardStream::commit() {
    LATHE_ASSERT(next_ == tensors_.size());
    file_->commit();
}

}  // namespace lathe::merge

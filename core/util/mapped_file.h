// A read-only file mapped into memory. Pages are loaded by the kernel on first touch, so mapping a
// 10 GB checkpoint costs nothing until its tensors are used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace lathe {

class MappedFile {
public:
    // Throws lathe::Error naming the path when the file cannot be opened or mapped.
    static std::shared_ptr<MappedFile> open(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    // Mapped copy-on-write: a tensor that views these bytes may be written to in place (the write
    // lands in private pages); the file on disk never changes.
    uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    const std::string& path() const { return path_; }

private:
    MappedFile(std::string path, uint8_t* data, size_t size) : path_(std::move(path)), data_(data), size_(size) {}
    std::string path_;
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace lathe

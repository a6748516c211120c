// Writes a file so that readers see either the old file or the whole new one, never half of it:
// data goes to a temporary beside the target, is fsync'ed, then renamed over it. A crash or an
// exception before commit() leaves the target untouched and removes the temporary.
#pragma once

#include <cstddef>
#include <string>

namespace lathe {

class AtomicFile {
public:
    explicit AtomicFile(std::string path);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(const void* data, size_t size);
    void commit();

private:
    std::string path_;
    std::string temp_path_;
    int fd_ = -1;
};

// Makes a rename or file creation inside `dir` durable.
void fsync_directory(const std::string& dir);

}  // namespace lathe

// Bytes of a dataset file, decompressed on the fly (.gz, .zst), read in chunks so that a multi-GB file
// never sits in memory whole; and a buffered reader over them that counts lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/util/error.h"

namespace lathe::data {

// The file cannot be read further: a read or decompression error, or (thrown by the parsers) syntax
// that breaks the file's structure. read_rows turns it into a Problem at the line where reading stopped.
class ReadError : public Error {
public:
    using Error::Error;
};

class ByteSource {
public:
    virtual ~ByteSource() = default;
    // Up to n bytes into out; 0 at the end. Throws ReadError naming the file when reading or
    // decompressing fails (a truncated .gz, a corrupt .zst).
    virtual size_t read(char* out, size_t n) = 0;
};

enum class Compression { none, gzip, zstd };
Compression compression_of(const std::string& path);         // from the extension: .gz, .zst
std::string without_compression_suffix(const std::string& path);  // "a.jsonl.gz" -> "a.jsonl"

// The file's bytes, decompressed as its extension says. Throws lathe::Error if it cannot be opened.
std::unique_ptr<ByteSource> open_byte_source(const std::string& path);
// Bytes already in memory (not copied: they must outlive the source).
std::unique_ptr<ByteSource> memory_byte_source(const char* data, size_t size);

// Buffered reading with a line counter, for the format parsers.
class TextStream {
public:
    explicit TextStream(std::unique_ptr<ByteSource> source, int64_t first_line = 1);

    int peek() {  // the next byte (0..255) or -1 at the end
        if (pos_ == end_ && !fill()) return -1;
        return static_cast<unsigned char>(buffer_[pos_]);
    }
    int get() {
        int c = peek();
        if (c >= 0) {
            ++pos_;
            if (c == '\n') ++line_;
        }
        return c;
    }
    // The next line without its '\n' (and without a '\r' before it); false at the end.
    bool read_line(std::string& line);
    // Everything left.
    std::string read_all();
    // Skips a UTF-8 byte-order mark at the current position.
    void skip_bom();
    int64_t line() const { return line_; }  // the line of the next byte
    uint64_t offset() const { return consumed_ + pos_; }  // bytes read before the next byte

private:
    bool fill();
    std::unique_ptr<ByteSource> source_;
    std::unique_ptr<char[]> buffer_;
    size_t pos_ = 0, end_ = 0;
    uint64_t consumed_ = 0;  // bytes in the buffers before this one
    int64_t line_ = 1;
};

}  // namespace lathe::data

#include "core/data/byte_source.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>
#include <zlib.h>
#include <zstd.h>

#include "core/util/error.h"

namespace lathe::data {

namespace {

constexpr size_t kChunk = 1 << 18;

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

class FileSource : public ByteSource {
public:
    explicit FileSource(const std::string& path) : path_(path) {
        file_ = std::fopen(path.c_str(), "rb");
        if (!file_) throw Error(path + ": cannot open: " + std::strerror(errno));
    }
    ~FileSource() override { std::fclose(file_); }
    size_t read(char* out, size_t n) override {
        size_t got = std::fread(out, 1, n, file_);
        if (got == 0 && std::ferror(file_)) throw ReadError(std::string("read error: ") + std::strerror(errno));
        return got;
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
    std::FILE* file_ = nullptr;
};

class GzipSource : public ByteSource {
public:
    explicit GzipSource(const std::string& path) : file_(path), in_(kChunk) {
        if (inflateInit2(&z_, 15 + 32) != Z_OK) throw Error(path + ": cannot start gzip decompression");  // 32: gzip or zlib header
    }
    ~GzipSource() override { inflateEnd(&z_); }
    size_t read(char* out, size_t n) override {
        z_.next_out = reinterpret_cast<Bytef*>(out);
        z_.avail_out = static_cast<uInt>(n);
        while (z_.avail_out == n) {
            if (z_.avail_in == 0) {
                size_t got = file_.read(in_.data(), in_.size());
                if (got == 0) {
                    if (!finished_) throw ReadError("truncated gzip file (it ends inside compressed data)");
                    break;
                }
                z_.next_in = reinterpret_cast<Bytef*>(in_.data());
                z_.avail_in = static_cast<uInt>(got);
            }
            if (finished_) {  // concatenated gzip members (what `cat a.gz b.gz` makes) are one stream
                inflateReset(&z_);
                finished_ = false;
            }
            int rc = inflate(&z_, Z_NO_FLUSH);
            if (rc == Z_STREAM_END) finished_ = true;
            else if (rc != Z_OK && rc != Z_BUF_ERROR)
                throw ReadError(std::string("corrupt gzip data (") + (z_.msg ? z_.msg : "zlib error " + std::to_string(rc)) + ")");
        }
        return n - z_.avail_out;
    }

private:
    FileSource file_;
    std::vector<char> in_;
    z_stream z_{};
    bool finished_ = false;
};

class ZstdSource : public ByteSource {
public:
    explicit ZstdSource(const std::string& path) : file_(path), in_(ZSTD_DStreamInSize()) {
        stream_ = ZSTD_createDStream();
        if (!stream_) throw Error(path + ": cannot start zstd decompression");
    }
    ~ZstdSource() override { ZSTD_freeDStream(stream_); }
    size_t read(char* out, size_t n) override {
        ZSTD_outBuffer output{out, n, 0};
        while (output.pos == 0) {
            if (input_.pos == input_.size) {
                size_t got = file_.read(in_.data(), in_.size());
                if (got == 0) {
                    if (in_frame_) throw ReadError("truncated zstd file (it ends inside a frame)");
                    break;
                }
                input_ = {in_.data(), got, 0};
            }
            size_t rc = ZSTD_decompressStream(stream_, &output, &input_);
            if (ZSTD_isError(rc)) throw ReadError(std::string("corrupt zstd data (") + ZSTD_getErrorName(rc) + ")");
            in_frame_ = rc != 0;
        }
        return output.pos;
    }

private:
    FileSource file_;
    std::vector<char> in_;
    ZSTD_inBuffer input_{nullptr, 0, 0};
    ZSTD_DStream* stream_ = nullptr;
    bool in_frame_ = false;
};

class MemorySource : public ByteSource {
public:
    MemorySource(const char* data, size_t size) : data_(data), size_(size) {}
    size_t read(char* out, size_t n) override {
        size_t k = std::min(n, size_ - pos_);
        std::memcpy(out, data_ + pos_, k);
        pos_ += k;
        return k;
    }

private:
    const char* data_;
    size_t size_, pos_ = 0;
};

}  // namespace

Compression compression_of(const std::string& path) {
    if (ends_with(path, ".gz")) return Compression::gzip;
    if (ends_with(path, ".zst")) return Compression::zstd;
    return Compression::none;
}

std::string without_compression_suffix(const std::string& path) {
    switch (compression_of(path)) {
        case Compression::gzip: return path.substr(0, path.size() - 3);
        case Compression::zstd: return path.substr(0, path.size() - 4);
        case Compression::none: break;
    }
    return path;
}

std::unique_ptr<ByteSource> open_byte_source(const std::string& path) {
    switch (compression_of(path)) {
        case Compression::gzip: return std::make_unique<GzipSource>(path);
        case Compression::zstd: return std::make_unique<ZstdSource>(path);
        case Compression::none: break;
    }
    return std::make_unique<FileSource>(path);
}

std::unique_ptr<ByteSource> memory_byte_source(const char* data, size_t size) {
    return std::make_unique<MemorySource>(data, size);
}

TextStream::TextStream(std::unique_ptr<ByteSource> source, int64_t first_line)
    : source_(std::move(source)), buffer_(new char[kChunk]), line_(first_line) {}

bool TextStream::fill() {
    consumed_ += end_;
    pos_ = 0;
    end_ = source_->read(buffer_.get(), kChunk);
    return end_ > 0;
}

bool TextStream::read_line(std::string& line) {
    line.clear();
    if (pos_ == end_ && !fill()) return false;
    while (true) {
        const char* start = buffer_.get() + pos_;
        const void* newline = std::memchr(start, '\n', end_ - pos_);
        if (newline) {
            size_t k = static_cast<const char*>(newline) - start;
            line.append(start, k);
            pos_ += k + 1;
            break;
        }
        line.append(start, end_ - pos_);
        pos_ = end_;
        if (!fill()) break;
    }
    ++line_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return true;
}

std::string TextStream::read_all() {
    std::string all;
    while (pos_ < end_ || fill()) {
        for (size_t i = pos_; i < end_; ++i)
            if (buffer_[i] == '\n') ++line_;
        all.append(buffer_.get() + pos_, end_ - pos_);
        pos_ = end_;
    }
    return all;
}

void TextStream::skip_bom() {
    if (peek() != 0xEF) return;
    // Called at the start of a file, where the first chunk holds all three bytes. A 0xEF that does not
    // start a BOM is left for the UTF-8 check.
    if (end_ - pos_ >= 3 && static_cast<unsigned char>(buffer_[pos_ + 1]) == 0xBB && static_cast<unsigned char>(buffer_[pos_ + 2]) == 0xBF)
        pos_ += 3;
}

}  // namespace lathe::data

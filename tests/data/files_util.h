// Helpers for the dataset reader tests: a temporary folder, files written plainly or compressed with
// zlib's and libzstd's own encoders, and reading every row and problem of a file.
#pragma once

#include <gtest/gtest.h>
#include <zlib.h>
#include <unistd.h>
#include <zstd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/data/read_rows.h"
#include "core/util/remove_tree.h"

namespace lathe::test {

struct DataDir {
    std::filesystem::path path;
    DataDir() {
        std::random_device rd;
        path = std::filesystem::temp_directory_path() / ("lathe-data-read-" + std::to_string(rd()) + std::to_string(rd()));
        std::filesystem::create_directories(path);
    }
    ~DataDir() {
        std::error_code ec;
        lathe::remove_tree(path, ec);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }

    std::string write(const std::string& name, const std::string& bytes) const {
        std::filesystem::create_directories((path / name).parent_path());
        std::ofstream(file(name), std::ios::binary) << bytes;
        return file(name);
    }
    std::string write_gzip(const std::string& name, const std::string& bytes) const {
        std::filesystem::create_directories((path / name).parent_path());
        gzFile f = gzopen(file(name).c_str(), "wb");
        EXPECT_TRUE(f);
        EXPECT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
        gzclose(f);
        return file(name);
    }
    std::string write_zstd(const std::string& name, const std::string& bytes) const {
        std::string out(ZSTD_compressBound(bytes.size()), '\0');
        size_t n = ZSTD_compress(out.data(), out.size(), bytes.data(), bytes.size(), 3);
        EXPECT_FALSE(ZSTD_isError(n));
        out.resize(n);
        return write(name, out);
    }
};

struct ReadResult {
    std::vector<data::RawRow> rows;
    std::vector<data::Problem> problems;
};

inline ReadResult read_all(const std::string& path, const data::ReadOptions& options = {}) {
    ReadResult r;
    data::read_rows(
        path, options, [&](data::RawRow&& row) { r.rows.push_back(std::move(row)); },
        [&](data::Problem&& p) { r.problems.push_back(std::move(p)); });
    return r;
}

// Resident memory now (not the peak), from /proc/self/statm.
inline size_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    size_t pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace lathe::test

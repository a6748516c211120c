// Helpers for the torch-free dataset tests: where the references are, JSON files, temporary folders.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>

#include "core/util/remove_tree.h"

namespace lathe::test {

inline std::string fixtures() { return LATHE_FIXTURES; }

// Made by tests/interop/make_render_references.py (ctest runs it first: fixture interop_refs).
inline std::string render_refs() {
    const char* env = std::getenv("LATHE_RENDER_REFS");
    std::string dir = env && *env ? env : LATHE_RENDER_REFS_DEFAULT;
    if (!std::filesystem::exists(dir + "/chatml/cases.json"))
        throw std::runtime_error(dir + " has no render references: run tests/interop/make_references.sh (ctest does)");
    return dir;
}

inline nlohmann::ordered_json read_json(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path);
    return nlohmann::ordered_json::parse(in);
}

inline std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::random_device rd;
        path = std::filesystem::temp_directory_path() / ("lathe-data-test-" + std::to_string(rd()) + std::to_string(rd()));
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        lathe::remove_tree(path, ec);
    }
    std::string str() const { return path.string(); }
};

}  // namespace lathe::test

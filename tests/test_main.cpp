#include <gtest/gtest.h>

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}

#include <random>

#include "tests/fixtures.h"

namespace lathe::test {

TempDir::TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / ("lathe-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
}

}  // namespace lathe::test

// lathe::remove_tree, the std::filesystem::remove_all that LibTorch cannot shadow (core/util/remove_tree.h).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/util/remove_tree.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;

struct Scratch {
    fs::path root = fs::temp_directory_path() / ("lathe-remove-tree-" + std::to_string(std::random_device{}()));
    Scratch() { fs::create_directories(root); }
    ~Scratch() {
        std::error_code ec;
        remove_tree(root, ec);
    }
};

void write(const fs::path& path) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << "x";
}

TEST(RemoveTree, RemovesAFolderWithEverythingInIt) {
    Scratch s;
    const fs::path tree = s.root / "tree";
    write(tree / "a.txt");
    write(tree / "sub" / "b.txt");
    write(tree / "sub" / "deeper" / "c.txt");
    fs::create_directories(tree / "empty");
    std::error_code ec;
    EXPECT_EQ(remove_tree(tree, ec), 7u);  // 3 files + tree, sub, deeper, empty
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_FALSE(fs::exists(tree));
    EXPECT_TRUE(fs::exists(s.root));
}

TEST(RemoveTree, RemovesALinkNotWhatItPointsTo) {
    Scratch s;
    write(s.root / "outside" / "keep.txt");
    fs::create_directories(s.root / "tree");
    fs::create_directory_symlink(s.root / "outside", s.root / "tree" / "link");
    EXPECT_EQ(remove_tree(s.root / "tree"), 2u);
    EXPECT_FALSE(fs::exists(s.root / "tree"));
    EXPECT_TRUE(fs::exists(s.root / "outside" / "keep.txt"));
}

TEST(RemoveTree, AMissingPathIsNothingToDo) {
    Scratch s;
    std::error_code ec;
    EXPECT_EQ(remove_tree(s.root / "never-made", ec), 0u);
    EXPECT_FALSE(ec);
    EXPECT_EQ(remove_tree(s.root / "never-made"), 0u);
}

TEST(RemoveTree, RemovesASingleFile) {
    Scratch s;
    write(s.root / "file.bin");
    EXPECT_EQ(remove_tree(s.root / "file.bin"), 1u);
    EXPECT_FALSE(fs::exists(s.root / "file.bin"));
}

// The crash this replaces shows only with LibTorch 2.11 (CI has 2.15), so no new call may creep in: every
// source file of the project is read for one.
TEST(RemoveTree, NoSourceCallsStdRemoveAll) {
    const std::string needle = std::string("remove_all") + "(";
    std::vector<std::string> offenders;
    for (const char* top : {"core", "app", "ui", "tests", "kernels", "bench"}) {
        const fs::path dir = fs::path(LATHE_SOURCE_DIR) / top;
        if (!fs::exists(dir)) continue;
        for (const auto& entry : fs::recursive_directory_iterator(dir)) {
            const std::string ext = entry.path().extension().string();
            if (!entry.is_regular_file() || (ext != ".cpp" && ext != ".h" && ext != ".cu" && ext != ".cuh")) continue;
            std::ifstream in(entry.path());
            std::string line;
            for (int n = 1; std::getline(in, line); ++n)
                if (line.find(needle) != std::string::npos) offenders.push_back(entry.path().string() + ":" + std::to_string(n));
        }
    }
    EXPECT_TRUE(offenders.empty()) << "use lathe::remove_tree (core/util/remove_tree.h) instead, at: " << testing::PrintToString(offenders);
}

}  // namespace
}  // namespace lathe

#include "core/util/remove_tree.h"

#include <ftw.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>

namespace lathe {
namespace {

// nftw's callback takes no context: the count and the first error of the walk in progress (one walk per
// thread at a time).
thread_local std::uintmax_t t_removed = 0;
thread_local int t_error = 0;

int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
    if (std::remove(path) != 0) {  // files, links and (now empty, FTW_DEPTH) folders
        if (errno == ENOENT) return 0;  // gone meanwhile: what was asked
        t_error = errno;
        return 1;  // stop the walk
    }
    ++t_removed;
    return 0;
}

}  // namespace

std::uintmax_t remove_tree(const std::filesystem::path& path, std::error_code& ec) {
    ec.clear();
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno != ENOENT) ec.assign(errno, std::generic_category());
        return 0;
    }
    t_removed = 0;
    t_error = 0;
    // FTW_DEPTH: a folder after its contents; FTW_PHYS: a symbolic link is removed, never followed.
    if (::nftw(path.c_str(), remove_entry, 32, FTW_DEPTH | FTW_PHYS) != 0) ec.assign(t_error ? t_error : errno, std::generic_category());
    return t_removed;
}

std::uintmax_t remove_tree(const std::filesystem::path& path) {
    std::error_code ec;
    std::uintmax_t removed = remove_tree(path, ec);
    if (ec) throw std::filesystem::filesystem_error("cannot remove", path, ec);
    return removed;
}

}  // namespace lathe

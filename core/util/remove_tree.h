// Deletes a file or a folder with everything in it, like std::filesystem::remove_all, through POSIX
// nftw() instead: LibTorch 2.11's libtorch.so exports its own std::filesystem::remove_all (from a statically
// linked libstdc++fs) that calls a weak symbol which is null at run time, and in a program linked with
// LibTorch the dynamic loader may bind std::filesystem::remove_all to that copy (every call segfaulted in
// the CUDA tests on the GPU machine: gdb showed remove_all in libtorch.so jumping to address 0).
#pragma once

#include <cstdint>
#include <filesystem>
#include <system_error>

namespace lathe {

// The number of files and folders removed; 0 when `path` does not exist (not an error). On failure, `ec`
// says why and the count is what was removed before it.
std::uintmax_t remove_tree(const std::filesystem::path& path, std::error_code& ec);

// As above; throws std::filesystem::filesystem_error on failure.
std::uintmax_t remove_tree(const std::filesystem::path& path);

}  // namespace lathe

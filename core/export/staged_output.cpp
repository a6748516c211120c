#include "core/export/staged_output.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

#include "core/util/atomic_file.h"
#include "core/util/error.h"
#include "core/util/remove_tree.h"

namespace lathe {

namespace fs = std::filesystem;

namespace {

// ".NAME.export-PID.tmp" -> PID; 0 when the name is not one of ours.
pid_t temp_owner(const std::string& file_name, const std::string& prefix) {
    const std::string suffix = ".tmp";
    if (file_name.rfind(prefix, 0) != 0 || file_name.size() <= prefix.size() + suffix.size()) return 0;
    if (file_name.compare(file_name.size() - suffix.size(), suffix.size(), suffix) != 0) return 0;
    std::string digits = file_name.substr(prefix.size(), file_name.size() - prefix.size() - suffix.size());
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return 0;
    return static_cast<pid_t>(std::stol(digits));
}

void fsync_tree(const fs::path& dir) {
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        if (entry.is_directory()) {
            fsync_directory(entry.path().string());
            continue;
        }
        int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw Error(entry.path().string() + ": cannot open to sync: " + std::strerror(errno));
        ::fsync(fd);
        ::close(fd);
    }
    fsync_directory(dir.string());
}

}  // namespace

StagedOutput::StagedOutput(std::string final_path, bool force) : final_path_(std::move(final_path)), force_(force) {
    fs::path out = fs::absolute(final_path_).lexically_normal();
    if (out.filename().empty()) out = out.parent_path();  // "out/" -> "out"
    final_path_ = out.string();
    if (fs::exists(out) && !force)
        throw Error(final_path_ + " already exists; choose another --output or pass --force to replace it");
    fs::path parent = out.parent_path();
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) throw Error(parent.string() + ": cannot create the output's folder: " + ec.message());

    const std::string prefix = "." + out.filename().string() + ".export-";
    for (const auto& entry : fs::directory_iterator(parent)) {
        pid_t owner = temp_owner(entry.path().filename().string(), prefix);
        if (owner > 0 && owner != ::getpid() && ::kill(owner, 0) != 0 && errno == ESRCH) remove_tree(entry.path(), ec);
    }
    temp_dir_ = (parent / (prefix + std::to_string(::getpid()) + ".tmp")).string();
    remove_tree(temp_dir_, ec);
    if (!fs::create_directory(temp_dir_, ec) || ec)
        throw Error(temp_dir_ + ": cannot create the temporary export folder: " + (ec ? ec.message() : "it exists"));
}

StagedOutput::~StagedOutput() {
    if (published_) return;
    std::error_code ec;
    remove_tree(temp_dir_, ec);
}

void StagedOutput::publish() {
    fsync_tree(temp_dir_);
    std::error_code ec;
    fs::path aside;
    if (fs::exists(final_path_)) {
        if (!force_) throw Error(final_path_ + " appeared while exporting; pass --force to replace it");
        aside = fs::path(temp_dir_).string() + ".old";
        fs::rename(final_path_, aside, ec);
        if (ec) throw Error(final_path_ + ": cannot move the old output aside: " + ec.message());
    }
    fs::rename(temp_dir_, final_path_, ec);
    if (ec) {
        std::error_code ignored;
        if (!aside.empty()) fs::rename(aside, final_path_, ignored);  // put the old output back
        throw Error(final_path_ + ": cannot rename the finished export into place: " + ec.message());
    }
    published_ = true;
    fsync_directory(fs::path(final_path_).parent_path().string());
    if (!aside.empty()) remove_tree(aside, ec);
}

}  // namespace lathe

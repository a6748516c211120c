#include "kernels/fused_ops_setting.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace lathe::kernels {

namespace {
// -1: LATHE_FUSED_OPS not read yet; otherwise whether the fused ops are on.
std::atomic<int> g_fused_ops{-1};

bool fused_ops_built_default() {
#ifdef LATHE_FUSED_OPS
    return true;
#else
    return false;
#endif
}
}  // namespace

bool fused_ops_setting(const char* env_value) {
    if (env_value == nullptr || *env_value == '\0') return fused_ops_built_default();
    const std::string v(env_value);
    if (v == "0") return false;
    if (v == "1") return true;
    throw std::invalid_argument("LATHE_FUSED_OPS must be 0 (the LibTorch composites) or 1 (the fused ops), got '" + v + "'");
}

bool fused_ops_enabled() {
    int on = g_fused_ops.load(std::memory_order_relaxed);
    if (on < 0) {
        on = fused_ops_setting(std::getenv("LATHE_FUSED_OPS")) ? 1 : 0;
        g_fused_ops.store(on, std::memory_order_relaxed);
    }
    return on == 1;
}

void reread_fused_ops_setting() { g_fused_ops.store(-1, std::memory_order_relaxed); }

ScopedFusedOps::ScopedFusedOps(bool fused) {
    if (const char* v = std::getenv("LATHE_FUSED_OPS")) before_ = v;
    set(fused);
}

ScopedFusedOps::~ScopedFusedOps() {
    if (before_) ::setenv("LATHE_FUSED_OPS", before_->c_str(), 1);
    else ::unsetenv("LATHE_FUSED_OPS");
    reread_fused_ops_setting();
}

void ScopedFusedOps::set(bool fused) {
    ::setenv("LATHE_FUSED_OPS", fused ? "1" : "0", 1);
    reread_fused_ops_setting();
}

}  // namespace lathe::kernels

// Whether kernels/dispatch.h runs the fused ops or the LibTorch composites: the build's choice
// (LATHE_KERNELS), overridden at run time by the environment variable LATHE_FUSED_OPS. Torch-free, so
// that what does not link LibTorch (the memory estimate, the Studio) can ask what a run would use.
#pragma once

#include <optional>
#include <string>

namespace lathe::kernels {

// Whether the dispatch uses the fused autograd functions: the environment variable LATHE_FUSED_OPS (0: the
// composites, 1: the fused ops), read once, at the first call; unset or empty, the build's choice
// (LATHE_KERNELS=ON: fused). One binary can then measure before and after (docs/performance.md). Throws
// std::invalid_argument for another value.
bool fused_ops_enabled();
// What fused_ops_enabled() answers for LATHE_FUSED_OPS = env_value (nullptr: unset).
bool fused_ops_setting(const char* env_value);
// Makes the next fused_ops_enabled() read LATHE_FUSED_OPS again (tests).
void reread_fused_ops_setting();

// Sets LATHE_FUSED_OPS for a scope and has it read again, then puts the variable back as it was (`lathe
// bench train --alternate-fused`, which switches it between steps, and tests).
class ScopedFusedOps {
public:
    explicit ScopedFusedOps(bool fused);
    ~ScopedFusedOps();
    ScopedFusedOps(const ScopedFusedOps&) = delete;
    ScopedFusedOps& operator=(const ScopedFusedOps&) = delete;
    // Switches within the scope.
    void set(bool fused);

private:
    std::optional<std::string> before_;
};

}  // namespace lathe::kernels

// Sets LATHE_FUSED_OPS for a test's scope (and has the setting read again), then puts it back as it was.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>

#include "kernels/fused_ops_setting.h"

namespace lathe::test {

class FusedOpsSetting {
public:
    explicit FusedOpsSetting(bool fused) {
        if (const char* v = std::getenv("LATHE_FUSED_OPS")) before_ = v;
        set(fused);
    }
    ~FusedOpsSetting() {
        if (before_) ::setenv("LATHE_FUSED_OPS", before_->c_str(), 1);
        else ::unsetenv("LATHE_FUSED_OPS");
        kernels::reread_fused_ops_setting();
    }
    FusedOpsSetting(const FusedOpsSetting&) = delete;
    FusedOpsSetting& operator=(const FusedOpsSetting&) = delete;

    // Switches within the scope.
    void set(bool fused) {
        ::setenv("LATHE_FUSED_OPS", fused ? "1" : "0", 1);
        kernels::reread_fused_ops_setting();
    }

private:
    std::optional<std::string> before_;
};

}  // namespace lathe::test

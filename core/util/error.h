// Two kinds of failure: lathe::Error for expected ones (bad files, bad flags),
// caught at the CLI's main() and at the UI's edge; LATHE_ASSERT for programmer bugs.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace lathe {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}

    // Adds where we were when it happened: Error("offsets overlap").within("model.safetensors")
    // reads "model.safetensors: offsets overlap".
    Error within(const std::string& context) const { return Error(context + ": " + what()); }
};

}  // namespace lathe

#define LATHE_ASSERT(cond)                                                                  \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            std::fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                   \
        }                                                                                   \
    } while (0)

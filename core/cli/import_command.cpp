#include <iostream>

#include "core/cli/commands.h"
#include "core/export/gguf_import.h"

namespace lathe {

void run_import(const ImportCommand& cmd, std::ostream& out) {
    // Progress goes to stderr, one line per tenth, so a pipe reading stdout sees only the result.
    int last_tenth = -1;
    GgufImportOptions options{.dtype = cmd.dtype, .force = cmd.force, .progress = [&](double f, const std::string& what) {
        const int tenth = static_cast<int>(f * 10);
        if (tenth != last_tenth) {
            last_tenth = tenth;
            std::cerr << "import: " << static_cast<int>(f * 100) << "% " << what << "\n";
        }
    }};
    import_gguf(cmd.gguf_path, cmd.output, options);
    out << "imported " << cmd.gguf_path << " -> " << cmd.output << " (" << cmd.dtype << ")\n";
}

}  // namespace lathe

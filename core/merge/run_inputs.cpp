#include "core/merge/run_inputs.h"

#include <unistd.h>

#include <filesystem>

#include "core/export/export.h"
#include "core/util/error.h"
#include "core/util/remove_tree.h"

namespace lathe::merge {

namespace fs = std::filesystem;

bool is_run_reference(const std::string& reference) { return reference.rfind("run:", 0) == 0; }

RunInputResolver::RunInputResolver(std::string store, std::string output) : store_(std::move(store)) {
    fs::path out = fs::absolute(output);
    scratch_ = (out.parent_path() / ("." + out.filename().string() + ".merge-inputs-" + std::to_string(::getpid()))).string();
}

RunInputResolver::~RunInputResolver() {
    std::error_code ec;
    remove_tree(scratch_, ec);
}

std::string RunInputResolver::resolve(const std::string& reference) {
    if (!is_run_reference(reference)) return reference;
    if (auto it = done_.find(reference); it != done_.end()) return it->second;
    // run:ID or run:ID:STEP
    const std::string rest = reference.substr(4);
    const size_t colon = rest.find(':');
    const std::string id_text = rest.substr(0, colon);
    ExportSourceRequest request;
    size_t used = 0;
    try {
        request.run_id = std::stoll(id_text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != id_text.size() || request.run_id <= 0)
        throw Error("'" + reference + "': a run input is run:ID or run:ID:STEP (ID from `lathe runs list`)");
    request.checkpoint = colon == std::string::npos ? "latest" : rest.substr(colon + 1);
    request.store = store_;
    ExportSource source = resolve_export_source(request);
    std::string dir = source.weights_dir;
    if (!source.adapter_dir.empty()) {
        // An adapter: its base with the adapter merged in, in the base model's dtype.
        ExportOptions options;
        options.format = "merged";
        options.output = (fs::path(scratch_) / ("run-" + std::to_string(request.run_id) + "-" + request.checkpoint)).string();
        fs::create_directories(scratch_);
        try {
            dir = run_export(source, options);
        } catch (const Error& e) {
            throw e.within("merging the run's adapter into its base model");
        }
    }
    done_[reference] = dir;
    return dir;
}

}  // namespace lathe::merge

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <sstream>

#include "core/cli/cancel_signal.h"
#include "core/cli/commands.h"
#include "core/export/shards.h"
#include "core/merge/merge_model.h"
#include "core/merge/run_inputs.h"
#include "core/util/error.h"

namespace lathe {

void run_merge(const MergeCommand& cmd, std::ostream& out) {
    std::ifstream in(cmd.config_path);
    if (!in) throw Error(cmd.config_path + ": cannot read the merge recipe");
    std::stringstream text;
    text << in.rdbuf();
    merge::MergeConfig config = merge::parse_merge_config(text.str(), cmd.config_path);
    for (const auto& w : config.warnings) std::cerr << "lathe: warning: " << w << "\n";

    merge::RunInputResolver runs(cmd.store, cmd.output);
    merge::MergeOptions options;
    options.resolve = [&runs](const std::string& reference) { return runs.resolve(reference); };
    options.output = cmd.output;
    options.force = cmd.force;
    options.max_shard_bytes = parse_byte_size(cmd.max_shard_size);
    options.seed = cmd.seed;
    options.recipe_text = text.str();
    install_cancel_handlers();
    options.progress = [&out](double fraction, const std::string& tensor) {
        if (fraction < 1.0) throw_if_cancelled("merge");  // 1.0: the output is already in place
        out << nlohmann::json{{"event", "progress"}, {"fraction", fraction}, {"tensor", tensor}}.dump() << "\n" << std::flush;
    };
    auto result = merge::merge_models(config, options);
    out << nlohmann::json{{"event", "done"}, {"output", cmd.output}, {"tensors", result.tensors},
                          {"parameters", result.parameters}, {"bytes", result.bytes_written}, {"shards", result.shards}}.dump()
        << "\n";
    std::cerr << "lathe: wrote " << cmd.output << " (" << config.method->name << ", " << result.tensors << " tensors in "
              << result.shards << (result.shards == 1 ? " shard" : " shards") << ")\n";
}

}  // namespace lathe

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

#include "core/cli/cancel_signal.h"
#include "core/cli/commands.h"
#include "core/export/shards.h"
#include "core/merge/greedy_soup.h"
#include "core/merge/run_inputs.h"

namespace lathe {

void run_soup(const SoupCommand& cmd, std::ostream& out) {
    merge::RunInputResolver runs(cmd.store, cmd.output);
    merge::SoupOptions options{
        .inputs = cmd.inputs,
        .held_out = cmd.held_out,
        .held_out_type = cmd.held_out_type,
        .max_rows = cmd.max_rows,
        .sequence_len = cmd.sequence_len,
        .batch_size = cmd.batch_size,
        .seed = 42,
        .device = cmd.device,
        .dtype = cmd.dtype,
        .output = cmd.output,
        .uniform_output = cmd.uniform_output,
        .force = cmd.force,
        .max_shard_bytes = parse_byte_size(cmd.max_shard_size),
        .resolve = [&runs](const std::string& reference) { return runs.resolve(reference); },
        .report =
            [&out](const nlohmann::json& event) {
                if (event.value("fraction", 0.0) < 1.0) throw_if_cancelled("greedy soup");  // 1.0: the soup is written
                out << event.dump() << "\n" << std::flush;
            },
        .between_tensors = [] { throw_if_cancelled("greedy soup"); },
    };
    install_cancel_handlers();
    const merge::SoupResult result = merge::greedy_soup(options);

    nlohmann::json ingredients = nlohmann::json::array();
    for (size_t rank = 0; rank < result.ingredients.size(); ++rank) {
        const auto& i = result.ingredients[rank];
        nlohmann::json row{{"input", i.input}, {"loss", i.loss}, {"rank", rank + 1}, {"decision", i.kept ? "kept" : "left_out"}};
        row["soup_loss"] = i.soup_loss ? nlohmann::json(*i.soup_loss) : nlohmann::json(nullptr);
        ingredients.push_back(row);
    }
    nlohmann::json done{{"event", "done"},
                        {"output", cmd.output},
                        {"held_out_rows", result.held_out_rows},
                        {"ingredients", ingredients},
                        {"greedy_soup", {{"models", result.kept}, {"loss", result.greedy_loss}}},
                        {"uniform_soup", {{"models", cmd.inputs}, {"loss", result.uniform_loss}}}};
    if (!cmd.uniform_output.empty()) done["uniform_soup"]["output"] = cmd.uniform_output;
    out << done.dump() << "\n" << std::flush;

    char line[160];
    std::snprintf(line, sizeof line, "greedy soup of %zu of %zu: held-out loss %.6f (uniform soup %.6f)", result.kept.size(),
                  cmd.inputs.size(), result.greedy_loss, result.uniform_loss);
    std::cerr << "lathe: " << line << "; wrote " << cmd.output << "\n";
}

}  // namespace lathe

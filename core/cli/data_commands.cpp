// lathe data inspect: what is inside a dataset (core/data/inspect.h), as text or JSON.
#include <optional>

#include "core/cli/commands.h"
#include "core/data/inspect.h"
#include "core/data/samples.h"
#include "core/util/error.h"

namespace lathe {

void run_data_inspect(const DataInspectCommand& cmd, std::ostream& out) {
    data::InspectOptions options;
    options.read.format = cmd.format;
    options.read.json_field = cmd.json_field;
    if (!cmd.type.empty()) {
        auto type = data::parse_row_type(cmd.type);
        if (!type) throw Error("--type '" + cmd.type + "': expected auto, alpaca, chat, prompt_completion, text, pretokenized or classification");
        options.type = *type;
    }
    options.mapping = data::parse_column_mapping(cmd.mapping);
    options.strict = cmd.strict;
    options.max_length = cmd.max_length;
    options.examples = cmd.examples;
    options.render.prompt_template = cmd.prompt_template;
    std::optional<TextTokenizer> tokenizer;
    if (!cmd.model_dir.empty()) tokenizer = TextTokenizer::load(cmd.model_dir);
    // With --strict the first problem is a lathe::Error: exit status 1, the problem on stderr.
    data::InspectReport report = data::inspect_dataset(cmd.files, options, tokenizer ? &*tokenizer : nullptr);
    if (cmd.json) out << data::inspect_report_json(report).dump(2) << "\n";
    else data::print_inspect_report(report, out);
}

}  // namespace lathe

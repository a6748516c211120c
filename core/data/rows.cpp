#include "core/data/rows.h"

namespace lathe::data {

std::string Problem::to_string() const {
    std::string s = file;
    if (line > 0) s += ":" + std::to_string(line);
    s += ": ";
    if (!field.empty()) s += field + ": ";
    return s + message;
}

const char* row_type_name(RowType t) {
    switch (t) {
        case RowType::automatic: return "auto";
        case RowType::alpaca: return "alpaca";
        case RowType::chat: return "chat";
        case RowType::prompt_completion: return "prompt_completion";
        case RowType::text: return "text";
        case RowType::pretokenized: return "pretokenized";
        case RowType::classification: return "classification";
    }
    return "?";
}

std::optional<RowType> parse_row_type(const std::string& name) {
    for (RowType t : {RowType::automatic, RowType::alpaca, RowType::chat, RowType::prompt_completion, RowType::text, RowType::pretokenized,
                      RowType::classification})
        if (name == row_type_name(t)) return t;
    if (name == "sharegpt" || name == "messages") return RowType::chat;
    if (name == "completion") return RowType::prompt_completion;
    return std::nullopt;
}

}  // namespace lathe::data

// lathe tokenize / detokenize / chat-template: the tokenizer and chat template of a model folder.
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/cli/commands.h"
#include "core/text/text_tokenizer.h"
#include "core/util/error.h"
#include "core/util/json_file.h"

namespace lathe {

namespace {

nlohmann::ordered_json read_ordered_json(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open");
    try {
        return nlohmann::ordered_json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw Error(path + ": not valid JSON (" + e.what() + ")");
    }
}

}  // namespace

void run_tokenize(const TokenizeCommand& cmd, std::ostream& out) {
    TextTokenizer tokenizer = TextTokenizer::load(cmd.tokenizer_dir);
    if (cmd.file.empty()) {
        out << nlohmann::json(tokenizer.encode(cmd.text, cmd.add_special_tokens).ids).dump() << "\n";
        return;
    }
    for_each_jsonl(cmd.file, [&](size_t number, const nlohmann::json& row) {
        if (!row.is_object() || !row.contains("text") || !row["text"].is_string())
            throw Error(cmd.file + ":" + std::to_string(number) + ": expected an object with a string field \"text\"");
        out << nlohmann::json(tokenizer.encode(row["text"].get<std::string>(), cmd.add_special_tokens).ids).dump() << "\n";
    });
}

void run_detokenize(const DetokenizeCommand& cmd, std::ostream& out) {
    TextTokenizer tokenizer = TextTokenizer::load(cmd.tokenizer_dir);
    if (cmd.file.empty()) {
        out << tokenizer.decode(parse_token_ids(cmd.ids), cmd.skip_special_tokens) << "\n";
        return;
    }
    // One JSON array of ids per line (what `lathe tokenize --file` prints) -> one {"text": ...} per line.
    for_each_jsonl(cmd.file, [&](size_t number, const nlohmann::json& row) {
        if (!row.is_array()) throw Error(cmd.file + ":" + std::to_string(number) + ": expected a JSON array of token ids");
        std::vector<int64_t> ids;
        for (const auto& v : row) {
            if (!v.is_number_integer()) throw Error(cmd.file + ":" + std::to_string(number) + ": token ids must be integers");
            ids.push_back(v.get<int64_t>());
        }
        out << nlohmann::json{{"text", tokenizer.decode(ids, cmd.skip_special_tokens)}}.dump() << "\n";
    });
}

void run_chat_template(const ChatTemplateCommand& cmd, std::ostream& out) {
    TextTokenizer tokenizer = TextTokenizer::load(cmd.tokenizer_dir);
    nlohmann::ordered_json messages = read_ordered_json(cmd.messages_file);
    if (messages.is_object() && messages.contains("messages")) messages = messages["messages"];  // {"messages": [...]} rows too
    ChatOptions options;
    options.add_generation_prompt = cmd.add_generation_prompt;
    if (!cmd.tools_file.empty()) options.tools = read_ordered_json(cmd.tools_file);
    for (const auto& assignment : cmd.variables) {
        auto eq = assignment.find('=');
        if (eq == std::string::npos || eq == 0) throw Error("--var '" + assignment + "': expected NAME=VALUE (VALUE as JSON, e.g. enable_thinking=false)");
        std::string value = assignment.substr(eq + 1);
        try {
            options.extra_variables[assignment.substr(0, eq)] = nlohmann::ordered_json::parse(value);
        } catch (const nlohmann::json::exception&) {
            options.extra_variables[assignment.substr(0, eq)] = value;  // a bare word is a string
        }
    }
    std::string prompt = tokenizer.apply_chat_template(messages, options);
    if (cmd.print_ids) out << nlohmann::json(tokenizer.encode(prompt, false).ids).dump() << "\n";
    else out << prompt;
}

}  // namespace lathe

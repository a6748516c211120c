#include "core/export/ollama_modelfile.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <vector>

#include "core/chat/chat_template.h"
#include "core/text/tokenizer_config.h"
#include "core/util/json_file.h"

namespace lathe {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A chat format Ollama's template language can restate: each message is
// BEGIN role AFTER_ROLE content END, and the generation prompt is BEGIN assistant AFTER_ROLE.
struct TurnFormat {
    const char* name;
    const char* begin;
    const char* after_role;
    const char* end;
    const char* stop;  // the token that ends a turn
};

const TurnFormat kFormats[] = {
    {"ChatML", "<|im_start|>", "\n", "<|im_end|>\n", "<|im_end|>"},
    {"Llama 3", "<|start_header_id|>", "<|end_header_id|>\n\n", "<|eot_id|>", "<|eot_id|>"},
};

std::string render_turns(const TurnFormat& f, const json& messages) {
    std::string out;
    for (const auto& m : messages) out += f.begin + m["role"].get<std::string>() + f.after_role + m["content"].get<std::string>() + f.end;
    return out + f.begin + "assistant" + f.after_role;
}

std::string go_template(const TurnFormat& f) {
    return std::string("{{- range .Messages }}") + f.begin + "{{ .Role }}" + f.after_role + "{{ .Content }}" + f.end + "{{ end }}" + f.begin +
           "assistant" + f.after_role;
}

// The format whose rendering equals the model's own template on every probe conversation (BOS left
// out: llama.cpp adds it as the tokenizer says), or null.
const TurnFormat* matching_format(const std::string& source) {
    const std::vector<json> probes = {
        json::array({{{"role", "user"}, {"content", "Hi there"}}}),
        // Surrounding whitespace: templates that trim content (`| trim`) cannot be restated, as
        // Ollama's template passes content through unchanged.
        json::array({{{"role", "user"}, {"content", " Hi \n"}}}),
        json::array({{{"role", "system"}, {"content", "Be brief."}},
                     {{"role", "user"}, {"content", "What is 2+2?"}},
                     {{"role", "assistant"}, {"content", "4."}},
                     {{"role", "user"}, {"content", "And 3+3?"}}}),
    };
    try {
        ChatTemplate tmpl = ChatTemplate::parse(source);
        for (const TurnFormat& f : kFormats) {
            bool all = true;
            for (const auto& messages : probes) {
                nlohmann::ordered_json vars = {{"messages", messages}, {"add_generation_prompt", true}, {"bos_token", ""}, {"eos_token", ""}};
                all = all && tmpl.render(vars) == render_turns(f, messages);
            }
            if (all) return &f;
        }
    } catch (const Error&) {  // a template that needs other inputs, or raises for a system message
    }
    return nullptr;
}

std::string quoted(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

// Token strings of the generation config's eos_token_id(s), from tokenizer.json's added tokens.
std::vector<std::string> eos_strings(const fs::path& dir) {
    std::vector<std::string> out;
    if (!fs::exists(dir / "generation_config.json") || !fs::exists(dir / "tokenizer.json")) return out;
    json gen = read_json_file((dir / "generation_config.json").string());
    std::set<int64_t> ids;
    if (gen.contains("eos_token_id") && gen["eos_token_id"].is_number_integer()) ids.insert(gen["eos_token_id"].get<int64_t>());
    if (gen.contains("eos_token_id") && gen["eos_token_id"].is_array())
        for (const auto& id : gen["eos_token_id"]) ids.insert(id.get<int64_t>());
    json tok = read_json_file((dir / "tokenizer.json").string());
    if (tok.contains("added_tokens"))
        for (const auto& t : tok["added_tokens"])
            if (ids.count(t.value("id", int64_t{-1}))) out.push_back(t.value("content", ""));
    return out;
}

}  // namespace

std::string ollama_modelfile_for(const std::string& model_dir, const std::string& gguf_name) {
    TokenizerConfig tc = read_tokenizer_config(model_dir);
    std::vector<std::string> stops;
    auto add_stop = [&](const std::string& s) {
        if (!s.empty() && std::find(stops.begin(), stops.end(), s) == stops.end()) stops.push_back(s);
    };

    std::ostringstream mf;
    mf << "# Ollama Modelfile written by `lathe export --format gguf`. Create the model with:\n"
       << "#   ollama create NAME -f Modelfile\n"
       << "FROM ./" << gguf_name << "\n";
    auto chat = tc.chat_templates.find("default");
    const TurnFormat* format = chat == tc.chat_templates.end() ? nullptr : matching_format(chat->second);
    if (format) {
        mf << "\n# The model's chat template is " << format->name << ", restated in Ollama's template language.\n"
           << "TEMPLATE \"\"\"" << go_template(*format) << "\"\"\"\n";
        add_stop(format->stop);
    } else if (chat != tc.chat_templates.end()) {
        mf << "\n# No TEMPLATE: the model's chat template is not one this file can restate exactly in Ollama's\n"
           << "# template language, so Ollama derives the prompt format from the chat template embedded in the\n"
           << "# GGUF (tokenizer.chat_template).\n";
    } else {
        mf << "\n# No TEMPLATE: the model has no chat template; prompts are passed through as they are.\n";
    }
    for (const auto& s : eos_strings(model_dir)) add_stop(s);
    if (tc.eos_token) add_stop(*tc.eos_token);
    if (!stops.empty()) mf << "\n";
    for (const auto& s : stops) mf << "PARAMETER stop " << quoted(s) << "\n";
    return mf.str();
}

}  // namespace lathe

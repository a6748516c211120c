#include "core/text/tokenizer_config.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/util/error.h"
#include "core/util/json_file.h"

namespace lathe {

namespace fs = std::filesystem;

namespace {

std::optional<std::string> token_string(const nlohmann::json& root, const char* key, const std::string& path) {
    auto it = root.find(key);
    if (it == root.end() || it->is_null()) return std::nullopt;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
    throw Error(path + ": '" + key + "' must be a string or an object with \"content\", got " + it->dump());
}

std::optional<bool> flag(const nlohmann::json& root, const char* key, const std::string& path) {
    auto it = root.find(key);
    if (it == root.end() || it->is_null()) return std::nullopt;
    if (!it->is_boolean()) throw Error(path + ": '" + key + "' must be true or false, got " + it->dump());
    return it->get<bool>();
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path.string() + ": cannot open");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

TokenizerConfig read_tokenizer_config(const std::string& dir) {
    TokenizerConfig c;
    c.dir = dir;
    fs::path path = fs::path(dir) / "tokenizer_config.json";
    if (fs::exists(path)) {
        const std::string p = path.string();
        nlohmann::json root = read_json_file(p);
        if (!root.is_object()) throw Error(p + ": must be a JSON object");
        c.tokenizer_class = root.value("tokenizer_class", "");
        c.bos_token = token_string(root, "bos_token", p);
        c.eos_token = token_string(root, "eos_token", p);
        c.pad_token = token_string(root, "pad_token", p);
        c.unk_token = token_string(root, "unk_token", p);
        c.sep_token = token_string(root, "sep_token", p);
        c.cls_token = token_string(root, "cls_token", p);
        c.mask_token = token_string(root, "mask_token", p);
        c.add_bos_token = flag(root, "add_bos_token", p);
        c.add_eos_token = flag(root, "add_eos_token", p);
        if (auto it = root.find("model_max_length"); it != root.end() && it->is_number()) {
            double v = it->get<double>();
            if (v > 0 && v < 1e18) c.model_max_length = static_cast<int64_t>(v);  // 1e30 means "no limit"
        }
        if (auto it = root.find("chat_template"); it != root.end() && !it->is_null()) {
            if (it->is_string()) {
                c.chat_templates["default"] = it->get<std::string>();
            } else if (it->is_array()) {
                for (size_t i = 0; i < it->size(); ++i) {
                    const auto& entry = (*it)[i];
                    if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") ||
                        !entry["name"].is_string() || !entry["template"].is_string())
                        throw Error(p + ": chat_template[" + std::to_string(i) + "] must be {\"name\": ..., \"template\": ...}");
                    c.chat_templates[entry["name"].get<std::string>()] = entry["template"].get<std::string>();
                }
            } else {
                throw Error(p + ": 'chat_template' must be a string or a list of named templates");
            }
            c.chat_template_source = p;
        }
    }
    fs::path jinja = fs::path(dir) / "chat_template.jinja";
    if (fs::exists(jinja)) {
        c.chat_templates["default"] = read_text(jinja);
        c.chat_template_source = jinja.string();
    }
    return c;
}

}  // namespace lathe

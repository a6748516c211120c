// parse_model: picks the model family from tokenizer.json's "model" object.
#include <memory>
#include <string>

#include "core/tokenizer/components.h"

namespace lathe::tok {

std::unique_ptr<Model> parse_unigram(const json& j, const std::string& where);
std::unique_ptr<Model> parse_bpe(const json& j, const std::string& where);
std::unique_ptr<Model> parse_wordpiece(const json& j, const std::string& where);
std::unique_ptr<Model> parse_wordlevel(const json& j, const std::string& where);

std::unique_ptr<Model> parse_model(const json& j, const std::string& where) {
    required_object(j, where);
    std::string type;
    if (member(j, "type")) {
        type = get_string(j, "type", where);
    } else {
        // Older files leave out the model type; infer it from the fields like the Rust library.
        const json* v = member(j, "vocab");
        if (v && v->is_array()) type = "Unigram";
        else if (member(j, "merges")) type = "BPE";
        else if (member(j, "continuing_subword_prefix") || member(j, "max_input_chars_per_word")) type = "WordPiece";
        else type = "WordLevel";
    }
    if (type == "BPE") return parse_bpe(j, where);
    if (type == "WordPiece") return parse_wordpiece(j, where);
    if (type == "WordLevel") return parse_wordlevel(j, where);
    if (type == "Unigram") return parse_unigram(j, where);
    fail(where, "unknown type '" + type + "'");
}

}  // namespace lathe::tok

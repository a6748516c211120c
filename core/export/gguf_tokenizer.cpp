#include "core/export/gguf_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "core/util/error.h"
#include "core/util/json_file.h"

namespace lathe {

using ojson = nlohmann::json;  // ordered_json finds keys by linear search: far too slow for 100k-token vocabularies
using json = nlohmann::json;

namespace {

// Pre-tokenizer regexes as the Hugging Face tokenizers spell them (llama.cpp's llama-vocab.cpp has the
// same expressions for these `tokenizer.ggml.pre` names).
const char* kLlama3Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* kQwen2Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

ojson byte_level(bool use_regex) {
    return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

ojson split(const char* regex) {
    return {{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}};
}

std::string known_pre_names() { return "gpt-2, llama-bpe (llama3, llama-v3), qwen2, smollm"; }

// The normalizer and pre-tokenizer for a `tokenizer.ggml.pre` name; false when unknown.
bool pre_tokenizer_for(const std::string& pre, ojson& normalizer, ojson& pre_tokenizer, bool& ignore_merges) {
    normalizer = nullptr;
    ignore_merges = false;
    if (pre == "gpt-2" || pre == "gpt2") {
        pre_tokenizer = byte_level(true);
    } else if (pre == "smollm") {
        pre_tokenizer = {{"type", "Sequence"},
                         {"pretokenizers", ojson::array({{{"type", "Digits"}, {"individual_digits", true}}, byte_level(true)})}};
    } else if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3") {
        pre_tokenizer = {{"type", "Sequence"}, {"pretokenizers", ojson::array({split(kLlama3Regex), byte_level(false)})}};
        ignore_merges = true;  // Llama 3's tokenizer.json has it, and llama.cpp's LLAMA3 pre-type does the same
    } else if (pre == "qwen2") {
        normalizer = {{"type", "NFC"}};
        pre_tokenizer = {{"type", "Sequence"}, {"pretokenizers", ojson::array({split(kQwen2Regex), byte_level(false)})}};
    } else {
        return false;
    }
    return true;
}

const std::vector<std::string>& string_array(const GgufFile& g, const std::string& key) {
    const GgufValue* v = g.find(key);
    if (!v) throw Error(g.path() + ": metadata '" + key + "' is missing");
    if (v->type != GgufType::ARRAY || v->array_type != GgufType::STRING) {
        throw Error(g.path() + ": metadata '" + key + "' should be an array of strings");
    }
    return v->strings;
}

}  // namespace

// Splits UTF-8 text into code points (SentencePiece pieces are split by character, not byte).
std::vector<std::string> utf8_chars(const std::string& s) {
    std::vector<std::string> out;
    for (size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
        n = std::min(n, s.size() - i);
        out.push_back(s.substr(i, n));
        i += n;
    }
    return out;
}

// SentencePiece BPE (tokenizer.ggml.model "llama") as a Hugging Face BPE: merges rebuilt from the
// piece scores the way transformers' GGUF loader does (integrations/ggml.py generate_merges: every
// split of a piece into two pieces, ranked by the piece's score, ties by the parts' ids).
std::vector<std::pair<std::string, std::string>> merges_from_scores(const std::vector<std::string>& tokens,
                                                                   const std::vector<double>& scores,
                                                                   const std::unordered_map<std::string, size_t>& ids) {
    struct Merge {
        size_t left, right;
        double score;
    };
    std::vector<Merge> merges;
    for (size_t id = 0; id < tokens.size(); ++id) {
        const auto chars = utf8_chars(tokens[id]);
        std::vector<Merge> local;
        std::string left;
        for (size_t k = 1; k < chars.size(); ++k) {
            left += chars[k - 1];
            const std::string right = tokens[id].substr(left.size());
            auto l = ids.find(left), r = ids.find(right);
            if (l != ids.end() && r != ids.end()) local.push_back({l->second, r->second, scores[id]});
        }
        std::sort(local.begin(), local.end(), [](const Merge& a, const Merge& b) {
            return a.left != b.left ? a.left < b.left : a.right < b.right;
        });
        merges.insert(merges.end(), local.begin(), local.end());
    }
    std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) { return a.score > b.score; });
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(merges.size());
    for (const auto& m : merges) out.emplace_back(tokens[m.left], tokens[m.right]);
    return out;
}

HfTokenizerFiles hf_tokenizer_from_gguf(const GgufFile& g, int64_t context_length) {
    const std::string model = g.get_string("tokenizer.ggml.model");
    if (model != "gpt2" && model != "llama") {
        throw Error(g.path() + ": tokenizer.ggml.model '" + model +
                    "' is not supported by lathe import (supported: gpt2 = byte-level BPE, llama = SentencePiece BPE)");
    }
    const bool spm = model == "llama";
    const std::string pre = g.opt_string("tokenizer.ggml.pre").value_or("default");
    ojson normalizer, pre_tokenizer;
    bool ignore_merges = false;
    if (spm) {
        // llama.cpp's SPM tokenizer: a space before the text (add_space_prefix, default on), spaces as
        // U+2581, unknown bytes as <0xNN> tokens: LlamaTokenizerFast's legacy tokenizer.json does the same.
        const bool add_space_prefix = g.opt_bool("tokenizer.ggml.add_space_prefix").value_or(true);
        ojson replace = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}};
        normalizer = add_space_prefix ? ojson{{"type", "Sequence"}, {"normalizers", {{{"type", "Prepend"}, {"prepend", "\u2581"}}, replace}}}
                                      : replace;
        pre_tokenizer = nullptr;
    } else if (!pre_tokenizer_for(pre, normalizer, pre_tokenizer, ignore_merges)) {
        throw Error(g.path() + ": tokenizer.ggml.pre '" + pre + "' is a pre-tokenizer lathe import does not know (known: " +
                    known_pre_names() + ")");
    }

    const auto& tokens = string_array(g, "tokenizer.ggml.tokens");
    static const std::vector<std::string> no_merges;
    const auto& merges = spm ? no_merges : string_array(g, "tokenizer.ggml.merges");
    std::vector<int64_t> types(tokens.size(), static_cast<int64_t>(GgufTokenType::Normal));
    if (const GgufValue* tt = g.find("tokenizer.ggml.token_type")) {
        if (tt->type != GgufType::ARRAY || tt->ints.size() != tokens.size()) {
            throw Error(g.path() + ": tokenizer.ggml.token_type has " + std::to_string(tt->array_size()) +
                        " entries but tokenizer.ggml.tokens has " + std::to_string(tokens.size()));
        }
        types = tt->ints;
    }

    // ordered_json finds keys by linear search: look tokens up in a hash map instead.
    std::unordered_map<std::string, size_t> ids;
    ojson vocab = ojson::object();
    ojson added = ojson::array();
    ojson added_decoder = ojson::object();
    for (size_t id = 0; id < tokens.size(); ++id) {
        if (!ids.emplace(tokens[id], id).second) {
            throw Error(g.path() + ": tokenizer.ggml.tokens[" + std::to_string(id) + "] '" + tokens[id] +
                        "' repeats an earlier token");
        }
        vocab[tokens[id]] = id;
        auto t = static_cast<GgufTokenType>(types[id]);
        if (t == GgufTokenType::Control || t == GgufTokenType::UserDefined || t == GgufTokenType::Unknown) {
            const bool special = t != GgufTokenType::UserDefined;
            ojson a = {{"id", id}, {"content", tokens[id]}, {"single_word", false}, {"lstrip", false},
                       {"rstrip", false}, {"normalized", false}, {"special", special}};
            added.push_back(a);
            a.erase("id");
            added_decoder[std::to_string(id)] = a;
        }
    }
    // Every merge must join two tokens into a third, or the BPE model cannot use it.
    ojson merge_list = ojson::array();
    if (spm) {
        const GgufValue* sc = g.find("tokenizer.ggml.scores");
        if (!sc || sc->type != GgufType::ARRAY || sc->floats.size() != tokens.size()) {
            throw Error(g.path() + ": tokenizer.ggml.scores must be a float array with one score per token");
        }
        for (const auto& [a, b] : merges_from_scores(tokens, sc->floats, ids)) merge_list.push_back(ojson::array({a, b}));
    }
    for (size_t i = 0; i < merges.size(); ++i) {
        const std::string& m = merges[i];
        size_t sp = m.find(' ');
        if (sp == std::string::npos || sp == 0 || sp + 1 == m.size() || m.find(' ', sp + 1) != std::string::npos) {
            throw Error(g.path() + ": tokenizer.ggml.merges[" + std::to_string(i) + "] '" + m + "' is not two tokens");
        }
        std::string a = m.substr(0, sp), b = m.substr(sp + 1);
        if (!ids.count(a) || !ids.count(b) || !ids.count(a + b)) {
            throw Error(g.path() + ": tokenizer.ggml.merges[" + std::to_string(i) + "] '" + m +
                        "' names a token that is not in tokenizer.ggml.tokens");
        }
        merge_list.push_back(ojson::array({a, b}));
    }

    auto token_id = [&](const char* key) -> std::optional<int64_t> {
        auto v = g.opt_int(key);
        if (v && (*v < 0 || *v >= static_cast<int64_t>(tokens.size()))) {
            throw Error(g.path() + ": " + key + " = " + std::to_string(*v) + " is not a token id (there are " +
                        std::to_string(tokens.size()) + " tokens)");
        }
        return v;
    };
    const auto bos = token_id("tokenizer.ggml.bos_token_id");
    const auto eos = token_id("tokenizer.ggml.eos_token_id");
    const auto unk = token_id("tokenizer.ggml.unknown_token_id");
    const auto pad = token_id("tokenizer.ggml.padding_token_id");
    const bool add_bos = g.opt_bool("tokenizer.ggml.add_bos_token").value_or(spm);  // llama.cpp's defaults
    const bool add_eos = g.opt_bool("tokenizer.ggml.add_eos_token").value_or(false);
    if (add_bos && !bos) throw Error(g.path() + ": tokenizer.ggml.add_bos_token is set but there is no bos_token_id");
    if (add_eos && !eos) throw Error(g.path() + ": tokenizer.ggml.add_eos_token is set but there is no eos_token_id");

    // The post-processor adds BOS/EOS the way the GGUF says llama.cpp does.
    ojson single = ojson::array(), pair = ojson::array(), specials = ojson::object();
    auto special_piece = [&](int64_t id) {
        specials[tokens[id]] = {{"id", tokens[id]}, {"ids", {id}}, {"tokens", {tokens[id]}}};
        return ojson{{"SpecialToken", {{"id", tokens[id]}, {"type_id", 0}}}};
    };
    if (add_bos) single.push_back(special_piece(*bos));
    single.push_back({{"Sequence", {{"id", "A"}, {"type_id", 0}}}});
    if (add_eos) single.push_back(special_piece(*eos));
    pair = single;
    if (add_bos) pair.push_back(special_piece(*bos));
    pair.push_back({{"Sequence", {{"id", "B"}, {"type_id", 1}}}});
    if (add_eos) pair.push_back(special_piece(*eos));

    HfTokenizerFiles out;
    out.tokenizer = {
        {"version", "1.0"},
        {"truncation", nullptr},
        {"padding", nullptr},
        {"added_tokens", added},
        {"normalizer", normalizer},
        {"pre_tokenizer", pre_tokenizer},
        {"post_processor", {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", specials}}},
        {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
        {"model",
         {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
          {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
          {"ignore_merges", ignore_merges}, {"vocab", vocab}, {"merges", merge_list}}},
    };
    if (spm) {
        out.tokenizer["decoder"] = {{"type", "Sequence"},
                                    {"decoders",
                                     {{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
                                      {{"type", "ByteFallback"}},
                                      {{"type", "Fuse"}},
                                      {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
        out.tokenizer["model"]["byte_fallback"] = true;
        out.tokenizer["model"]["fuse_unk"] = true;
        if (unk) out.tokenizer["model"]["unk_token"] = tokens[*unk];
    }

    ojson& c = out.tokenizer_config;
    c["add_bos_token"] = add_bos;
    c["add_eos_token"] = add_eos;
    c["added_tokens_decoder"] = added_decoder;
    if (bos) c["bos_token"] = tokens[*bos];
    if (eos) c["eos_token"] = tokens[*eos];
    if (unk) c["unk_token"] = tokens[*unk];
    if (pad) c["pad_token"] = tokens[*pad];
    if (auto tmpl = g.opt_string("tokenizer.chat_template")) c["chat_template"] = *tmpl;
    c["clean_up_tokenization_spaces"] = false;
    if (context_length > 0) c["model_max_length"] = context_length;
    c["tokenizer_class"] = "PreTrainedTokenizerFast";

    if (bos) out.special_ids["bos_token_id"] = *bos;
    if (eos) out.special_ids["eos_token_id"] = *eos;
    if (pad) out.special_ids["pad_token_id"] = *pad;
    return out;
}

// ---------------------------------------------------------------------------------------------------
// Export

namespace {

bool is_byte_level(const json& j, bool use_regex) {
    return j.is_object() && j.value("type", "") == "ByteLevel" && j.value("use_regex", true) == use_regex &&
           !j.value("add_prefix_space", false);
}

// The llama.cpp pre-tokenizer name that does what tokenizer.json's normalizer + pre_tokenizer do.
std::string pre_name_for(const json& tok, const std::string& where) {
    const json normalizer = tok.value("normalizer", json());
    const json pre = tok.value("pre_tokenizer", json());
    std::string name;
    if (is_byte_level(pre, true)) {
        name = "gpt-2";
    } else if (pre.is_object() && pre.value("type", "") == "Sequence" && pre.contains("pretokenizers") &&
               pre["pretokenizers"].size() == 2) {
        const json& a = pre["pretokenizers"][0];
        const json& b = pre["pretokenizers"][1];
        if (a.value("type", "") == "Digits" && a.value("individual_digits", false) && is_byte_level(b, true)) {
            name = "smollm";
        } else if (a.value("type", "") == "Split" && a.contains("pattern") && a["pattern"].contains("Regex") &&
                   a.value("behavior", "") == "Isolated" && !a.value("invert", false) && is_byte_level(b, false)) {
            const std::string re = a["pattern"]["Regex"].get<std::string>();
            if (re == kLlama3Regex) name = "llama-bpe";
            if (re == kQwen2Regex) name = "qwen2";
        }
    }
    if (name.empty()) {
        throw Error(where + ": the pre_tokenizer " + pre.dump().substr(0, 300) +
                    " has no llama.cpp equivalent that Lathe knows (known: byte-level BPE with the pre-tokenizers " +
                    known_pre_names() + ")");
    }
    const bool nfc = normalizer.is_object() && normalizer.value("type", "") == "NFC";
    if (!normalizer.is_null() && !(nfc && name == "qwen2")) {
        throw Error(where + ": the normalizer " + normalizer.dump().substr(0, 200) +
                    " cannot be expressed in GGUF with the '" + name + "' pre-tokenizer");
    }
    return name;
}

// tokenizer_config.json's "bos_token" etc.: a string or an AddedToken object.
std::optional<std::string> special_string(const json& cfg, const char* key) {
    if (!cfg.contains(key)) return std::nullopt;
    const json& v = cfg[key];
    if (v.is_string()) return v.get<std::string>();
    if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
    return std::nullopt;
}

}  // namespace

void add_gguf_tokenizer(GgufWriter& out, const std::string& model_dir, int64_t vocab_size) {
    namespace fs = std::filesystem;
    const std::string tok_path = (fs::path(model_dir) / "tokenizer.json").string();
    if (!fs::exists(tok_path)) {
        throw Error(model_dir + ": no tokenizer.json; a GGUF file needs the tokenizer (llama.cpp reads it from the file)");
    }
    const json tok = read_json_file(tok_path);
    const json& model = tok.value("model", json::object());
    if (model.value("type", "") != "BPE" || model.value("byte_fallback", false)) {
        throw Error(tok_path + ": model type '" + model.value("type", "?") +
                    "' is not byte-level BPE; GGUF export supports byte-level BPE tokenizers only");
    }
    const json decoder = tok.value("decoder", json());
    if (!(decoder.is_object() && decoder.value("type", "") == "ByteLevel")) {
        throw Error(tok_path + ": the decoder is not ByteLevel; GGUF export supports byte-level BPE tokenizers only");
    }
    const std::string pre = pre_name_for(tok, tok_path);

    json cfg = json::object();
    const std::string cfg_path = (fs::path(model_dir) / "tokenizer_config.json").string();
    if (fs::exists(cfg_path)) cfg = read_json_file(cfg_path);

    // id -> token, from the BPE vocab and the added tokens.
    std::vector<std::string> tokens(vocab_size);
    std::vector<int32_t> types(vocab_size, static_cast<int32_t>(GgufTokenType::Unused));
    std::vector<bool> seen(vocab_size, false);
    std::map<std::string, int64_t> ids;
    auto place = [&](const std::string& text, int64_t id, GgufTokenType type, const std::string& what) {
        if (id < 0 || id >= vocab_size) {
            throw Error(tok_path + ": " + what + " '" + text + "' has id " + std::to_string(id) +
                        ", outside the model's vocab_size " + std::to_string(vocab_size));
        }
        tokens[id] = text;
        types[id] = static_cast<int32_t>(type);
        seen[id] = true;
        ids[text] = id;
    };
    for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it) {
        place(it.key(), it.value().get<int64_t>(), GgufTokenType::Normal, "vocab entry");
    }
    for (const auto& a : tok.value("added_tokens", json::array())) {
        const bool special = a.value("special", false);
        place(a.at("content").get<std::string>(), a.at("id").get<int64_t>(),
              special ? GgufTokenType::Control : GgufTokenType::UserDefined, "added token");
    }
    for (int64_t id = 0; id < vocab_size; ++id) {
        if (!seen[id]) tokens[id] = "[PAD" + std::to_string(id) + "]";  // convert_hf_to_gguf.py's filler
    }

    std::vector<std::string> merges;
    for (const auto& m : model.value("merges", json::array())) {
        if (m.is_string()) merges.push_back(m.get<std::string>());
        else if (m.is_array() && m.size() == 2) merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
        else throw Error(tok_path + ": model.merges has an entry that is neither \"a b\" nor [\"a\", \"b\"]");
    }

    out.set_string("tokenizer.ggml.model", "gpt2");
    out.set_string("tokenizer.ggml.pre", pre);
    out.set_strings("tokenizer.ggml.tokens", tokens);
    out.set_i32s("tokenizer.ggml.token_type", types);
    out.set_strings("tokenizer.ggml.merges", merges);

    // Special tokens: tokenizer_config.json names them by text; config.json's ids fill the gaps.
    json model_cfg = json::object();
    const std::string model_cfg_path = (fs::path(model_dir) / "config.json").string();
    if (fs::exists(model_cfg_path)) model_cfg = read_json_file(model_cfg_path);
    auto special_id = [&](const char* name, const char* config_key) -> std::optional<int64_t> {
        if (auto s = special_string(cfg, name)) {
            auto it = ids.find(*s);
            if (it == ids.end()) throw Error(cfg_path + ": " + name + " '" + *s + "' is not a token of tokenizer.json");
            return it->second;
        }
        std::optional<int64_t> id;
        if (config_key && model_cfg.contains(config_key) && model_cfg[config_key].is_number_integer()) {
            id = model_cfg[config_key].get<int64_t>();
        } else if (config_key && model_cfg.contains(config_key) && model_cfg[config_key].is_array() &&
                   !model_cfg[config_key].empty() && model_cfg[config_key][0].is_number_integer()) {
            id = model_cfg[config_key][0].get<int64_t>();
        }
        if (id && (*id < 0 || *id >= vocab_size)) {
            throw Error(model_cfg_path + ": " + config_key + " " + std::to_string(*id) + " is not a token id (vocab_size " +
                        std::to_string(vocab_size) + "); llama.cpp would refuse the file");
        }
        return id;
    };
    const auto bos = special_id("bos_token", "bos_token_id");
    const auto eos = special_id("eos_token", "eos_token_id");
    const auto unk = special_id("unk_token", nullptr);
    const auto pad = special_id("pad_token", "pad_token_id");
    if (bos) out.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(*bos));
    if (eos) out.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(*eos));
    if (unk) out.set_u32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(*unk));
    if (pad) out.set_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(*pad));

    // Whether BOS/EOS are added: tokenizer_config.json when it says, else what the post-processor adds.
    bool add_bos = false, add_eos = false;
    const json post = tok.value("post_processor", json());
    if (post.is_object() && post.value("type", "") == "TemplateProcessing" && post.contains("single")) {
        const json& single = post["single"];
        auto special_at = [&](size_t i) -> std::optional<int64_t> {
            if (i >= single.size() || !single[i].contains("SpecialToken")) return std::nullopt;
            auto it = ids.find(single[i]["SpecialToken"].value("id", ""));
            return it == ids.end() ? std::nullopt : std::optional<int64_t>(it->second);
        };
        add_bos = !single.empty() && bos && special_at(0) == bos;
        add_eos = !single.empty() && eos && special_at(single.size() - 1) == eos;
    }
    if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean()) add_bos = cfg["add_bos_token"].get<bool>();
    if (cfg.contains("add_eos_token") && cfg["add_eos_token"].is_boolean()) add_eos = cfg["add_eos_token"].get<bool>();
    if (add_bos && !bos) throw Error(cfg_path + ": add_bos_token is set but there is no bos_token");
    if (add_eos && !eos) throw Error(cfg_path + ": add_eos_token is set but there is no eos_token");
    out.set_bool("tokenizer.ggml.add_bos_token", add_bos);
    out.set_bool("tokenizer.ggml.add_eos_token", add_eos);

    // The chat template: chat_template.jinja wins over tokenizer_config.json, as in transformers.
    const fs::path jinja = fs::path(model_dir) / "chat_template.jinja";
    if (fs::exists(jinja)) {
        std::ifstream in(jinja, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        out.set_string("tokenizer.chat_template", ss.str());
    } else if (cfg.contains("chat_template") && cfg["chat_template"].is_string()) {
        out.set_string("tokenizer.chat_template", cfg["chat_template"].get<std::string>());
    }
}

}  // namespace lathe

// Post-processors (Rust tokenizers/src/processors), for single sequences: the special tokens they add
// get offsets {0, 0} and special_tokens_mask 1. RobertaProcessing and ByteLevel also trim the offsets
// of leading/trailing spaces ('Ġ') whether or not special tokens are added, as in Rust.
#include <memory>
#include <string>
#include <vector>

#include "core/tokenizer/byte_level.h"
#include "core/tokenizer/components.h"
#include "core/tokenizer/unicode.h"

namespace lathe::tok {

namespace {

// Rust processors/byte_level.rs process_offsets. Rust runs it on character offsets (Python and
// transformers ask for those), so the space counts move offsets by characters of `text`, never into
// the middle of one.
void trim_offsets(Encoding& enc, const std::vector<const std::string*>& values, bool add_prefix_space,
                  std::string_view text) {
    auto is_cont = [&](size_t at) { return at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80; };
    auto forward = [&](size_t at, size_t n) {
        for (; n > 0 && at < text.size(); --n) do ++at; while (is_cont(at));
        return at;
    };
    // Moves back n characters; reports false when fewer than n characters precede `at`.
    auto backward = [&](size_t at, size_t n, bool& enough) {
        for (; n > 0; --n) {
            if (at == 0) {
                enough = false;
                return at;
            }
            do --at; while (at > 0 && is_cont(at));
        }
        enough = true;
        return at;
    };
    const char32_t space_char = byte_level_table().byte_to_char[' '];
    for (size_t i = 0; i < enc.ids.size(); ++i) {
        const std::string* t = values[i];
        if (!t) continue;
        std::u32string chars;
        for (size_t k = 0; k < t->size();) chars.push_back(next_char(*t, k));
        auto is_space = [&](char32_t c) { return c == space_char || is_whitespace(c); };
        size_t leading = 0, trailing = 0;
        while (leading < chars.size() && is_space(chars[leading])) ++leading;
        while (trailing < chars.size() && is_space(chars[chars.size() - 1 - trailing])) ++trailing;
        auto& off = enc.offsets[i];
        if (leading > 0) {
            bool is_first = i == 0 || off.first == 0;
            if (is_first && add_prefix_space && leading == 1) leading = 0;
            off.first = std::min(forward(off.first, leading), off.second);
        }
        if (trailing > 0) {
            bool enough = false;
            size_t back = backward(off.second, trailing, enough);
            if (enough) off.second = std::max(back, off.first);
        }
    }
}

struct SpecialPiece {
    std::vector<int64_t> ids;  // empty for the sequence itself
    bool is_sequence = false;
};

void apply_template(Encoding& enc, std::vector<const std::string*>& values, const TokenLookup& lookup,
                    const std::vector<SpecialPiece>& pieces) {
    Encoding out;
    std::vector<const std::string*> out_values;
    for (const auto& p : pieces) {
        if (p.is_sequence) {
            out.ids.insert(out.ids.end(), enc.ids.begin(), enc.ids.end());
            out.offsets.insert(out.offsets.end(), enc.offsets.begin(), enc.offsets.end());
            out.special_tokens_mask.insert(out.special_tokens_mask.end(), enc.special_tokens_mask.begin(),
                                           enc.special_tokens_mask.end());
            out_values.insert(out_values.end(), values.begin(), values.end());
        } else {
            for (int64_t id : p.ids) {
                out.ids.push_back(id);
                out.offsets.push_back({0, 0});
                out.special_tokens_mask.push_back(1);
                out_values.push_back(lookup.token(id));
            }
        }
    }
    enc = std::move(out);
    values = std::move(out_values);
}

class TemplateProcessor : public PostProcessor {
public:
    explicit TemplateProcessor(std::vector<SpecialPiece> single) : single_(std::move(single)) {}
    void process(Encoding& enc, std::vector<const std::string*>& values, bool add_special, const TokenLookup& lookup,
                 std::string_view) const override {
        if (add_special) apply_template(enc, values, lookup, single_);
    }

private:
    std::vector<SpecialPiece> single_;
};

class ByteLevelProcessor : public PostProcessor {
public:
    ByteLevelProcessor(bool add_prefix_space, bool trim) : add_prefix_space_(add_prefix_space), trim_(trim) {}
    void process(Encoding& enc, std::vector<const std::string*>& values, bool, const TokenLookup&,
                 std::string_view text) const override {
        if (trim_) trim_offsets(enc, values, add_prefix_space_, text);
    }

private:
    bool add_prefix_space_, trim_;
};

class ClsSepProcessor : public PostProcessor {
public:
    // BertProcessing, or RobertaProcessing when `roberta` (which may also trim offsets).
    ClsSepProcessor(int64_t cls, int64_t sep, bool roberta, bool trim, bool add_prefix_space)
        : cls_(cls), sep_(sep), roberta_(roberta), trim_(trim), add_prefix_space_(add_prefix_space) {}
    void process(Encoding& enc, std::vector<const std::string*>& values, bool add_special, const TokenLookup& lookup,
                 std::string_view text) const override {
        if (roberta_ && trim_) trim_offsets(enc, values, add_prefix_space_, text);
        if (!add_special) return;
        apply_template(enc, values, lookup, {SpecialPiece{{cls_}, false}, SpecialPiece{{}, true}, SpecialPiece{{sep_}, false}});
    }

private:
    int64_t cls_, sep_;
    bool roberta_, trim_, add_prefix_space_;
};

class SequenceProcessor : public PostProcessor {
public:
    explicit SequenceProcessor(std::vector<std::unique_ptr<PostProcessor>> items) : items_(std::move(items)) {}
    void process(Encoding& enc, std::vector<const std::string*>& values, bool add_special, const TokenLookup& lookup,
                 std::string_view text) const override {
        for (const auto& p : items_) p->process(enc, values, add_special, lookup, text);
    }

private:
    std::vector<std::unique_ptr<PostProcessor>> items_;
};

int64_t token_pair_id(const json& j, const char* key, const std::string& where) {
    const json& v = required(j, key, where);
    if (!v.is_array() || v.size() != 2 || !v[0].is_string() || !v[1].is_number_integer())
        fail(child(where, key), "expected [token, id]");
    return v[1].get<int64_t>();
}

}  // namespace

std::unique_ptr<PostProcessor> parse_post_processor(const json& j, const std::string& where) {
    std::string type = get_type(j, where);
    if (type == "TemplateProcessing") {
        const json& single = required(j, "single", where);
        const json* specials = member(j, "special_tokens");
        if (!single.is_array()) fail(child(where, "single"), "expected a list");
        std::vector<SpecialPiece> pieces;
        for (size_t i = 0; i < single.size(); ++i) {
            std::string w = child(where, "single", i);
            const json& p = single[i];
            if (member(p, "Sequence")) {
                // Single-sequence encoding: only $A exists; its type_id is not part of Encoding.
                pieces.push_back({{}, true});
            } else if (const json* sp = member(p, "SpecialToken")) {
                std::string id = get_string(*sp, "id", w + ".SpecialToken");
                const json* entry = specials ? member(*specials, id.c_str()) : nullptr;
                if (!entry) fail(w, "special token '" + id + "' is not in special_tokens");
                const json& ids = required(*entry, "ids", child(child(where, "special_tokens"), id.c_str()));
                SpecialPiece piece;
                for (const auto& x : ids) {
                    if (!x.is_number_integer()) fail(child(child(where, "special_tokens"), id.c_str()), "ids must be integers");
                    piece.ids.push_back(x.get<int64_t>());
                }
                pieces.push_back(std::move(piece));
            } else {
                fail(w, "expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
            }
        }
        return std::make_unique<TemplateProcessor>(std::move(pieces));
    }
    if (type == "BertProcessing")
        return std::make_unique<ClsSepProcessor>(token_pair_id(j, "cls", where), token_pair_id(j, "sep", where), false,
                                                 false, false);
    if (type == "RobertaProcessing")
        return std::make_unique<ClsSepProcessor>(token_pair_id(j, "cls", where), token_pair_id(j, "sep", where), true,
                                                 get_bool_or(j, "trim_offsets", where, true),
                                                 get_bool_or(j, "add_prefix_space", where, true));
    if (type == "ByteLevel")
        return std::make_unique<ByteLevelProcessor>(get_bool_or(j, "add_prefix_space", where, true),
                                                    get_bool_or(j, "trim_offsets", where, true));
    if (type == "Sequence") {
        const json& list = required(j, "processors", where);
        if (!list.is_array()) fail(child(where, "processors"), "expected a list");
        std::vector<std::unique_ptr<PostProcessor>> items;
        for (size_t i = 0; i < list.size(); ++i) items.push_back(parse_post_processor(list[i], child(where, "processors", i)));
        return std::make_unique<SequenceProcessor>(std::move(items));
    }
    fail(where, "unknown type '" + type + "'");
}

}  // namespace lathe::tok

// Pre-tokenizers (Rust tokenizers/src/pre_tokenizers): split the normalized pieces into words the
// model tokenizes one by one.
#include <memory>
#include <string>
#include <vector>

#include "core/tokenizer/byte_level.h"
#include "core/tokenizer/components.h"
#include "core/tokenizer/unicode.h"

namespace lathe::tok {

namespace {

// GPT-2's pre-tokenization regex, as the Rust ByteLevel pre-tokenizer compiles it.
constexpr const char* kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevelPre : public PreTokenizer {
public:
    ByteLevelPre(bool add_prefix_space, bool use_regex)
        : add_prefix_space_(add_prefix_space), regex_(use_regex ? Pattern::regex(kGpt2Regex) : Pattern()), use_regex_(use_regex) {}

    void pre_tokenize(std::vector<Split>& splits) const override {
        split_each(splits, [&](NormalizedString& s, std::vector<NormalizedString>& out) {
            if (add_prefix_space_ && (s.get().empty() || s.get()[0] != ' ')) s.prepend(" ");
            if (use_regex_) s.split(regex_, SplitBehavior::Isolated, false, out);
            else out.push_back(std::move(s));
        });
        for (auto& s : splits)
            if (!s.tokenized) to_byte_level(s.text);
    }

private:
    bool add_prefix_space_;
    Pattern regex_;
    bool use_regex_;
};

// Split, and every pre-tokenizer that is a split on a fixed pattern (Whitespace, Punctuation, Digits, ...).
class SplitPre : public PreTokenizer {
public:
    SplitPre(Pattern p, SplitBehavior b, bool invert = false) : pattern_(std::move(p)), behavior_(b), invert_(invert) {}
    void pre_tokenize(std::vector<Split>& splits) const override {
        split_each(splits, [&](NormalizedString& s, std::vector<NormalizedString>& out) {
            s.split(pattern_, behavior_, invert_, out);
        });
    }

private:
    Pattern pattern_;
    SplitBehavior behavior_;
    bool invert_;
};

enum class PrependScheme { Always, First, Never };

class MetaspacePre : public PreTokenizer {
public:
    MetaspacePre(char32_t replacement, PrependScheme scheme, bool split)
        : replacement_(replacement), scheme_(scheme), split_(split),
          spaces_(Pattern::predicate([](char32_t c) { return c == U' '; })),
          replacement_pattern_(Pattern::predicate([replacement](char32_t c) { return c == replacement; })) {
        append_utf8(rep_, replacement);
    }

    void pre_tokenize(std::vector<Split>& splits) const override {
        split_each(splits, [&](NormalizedString& s, std::vector<NormalizedString>& out) {
            s.replace(spaces_, rep_);
            bool starts = s.get().compare(0, rep_.size(), rep_) == 0;
            if (scheme_ == PrependScheme::Always && !starts) s.prepend(rep_);
            if (scheme_ == PrependScheme::First && !starts && s.original_begin() == 0) s.prepend(rep_);
            if (split_) s.split(replacement_pattern_, SplitBehavior::MergedWithNext, false, out);
            else out.push_back(std::move(s));
        });
    }

private:
    char32_t replacement_;
    PrependScheme scheme_;
    bool split_;
    Pattern spaces_, replacement_pattern_;
    std::string rep_;
};

bool is_bert_punctuation(char32_t c) {
    bool ascii_punct = c < 0x80 && ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126));
    return ascii_punct || is_punctuation(c);
}

class BertPre : public PreTokenizer {
public:
    BertPre()
        : ws_(Pattern::predicate([](char32_t c) { return is_whitespace(c); })),
          punct_(Pattern::predicate(is_bert_punctuation)) {}
    void pre_tokenize(std::vector<Split>& splits) const override {
        split_each(splits, [&](NormalizedString& s, std::vector<NormalizedString>& out) {
            s.split(ws_, SplitBehavior::Removed, false, out);
        });
        split_each(splits, [&](NormalizedString& s, std::vector<NormalizedString>& out) {
            s.split(punct_, SplitBehavior::Isolated, false, out);
        });
    }

private:
    Pattern ws_, punct_;
};

class SequencePre : public PreTokenizer {
public:
    explicit SequencePre(std::vector<std::unique_ptr<PreTokenizer>> items) : items_(std::move(items)) {}
    void pre_tokenize(std::vector<Split>& splits) const override {
        for (const auto& p : items_) p->pre_tokenize(splits);
    }

private:
    std::vector<std::unique_ptr<PreTokenizer>> items_;
};

SplitBehavior parse_behavior(const json& j, const char* key, const std::string& where, SplitBehavior def) {
    const json* v = member(j, key);
    if (!v) return def;
    std::string b = v->is_string() ? v->get<std::string>() : "";
    if (b == "Removed") return SplitBehavior::Removed;
    if (b == "Isolated") return SplitBehavior::Isolated;
    if (b == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
    if (b == "MergedWithNext") return SplitBehavior::MergedWithNext;
    if (b == "Contiguous") return SplitBehavior::Contiguous;
    fail(child(where, key), "unknown behavior '" + v->dump() + "'");
}

char32_t single_char(const std::string& s, const std::string& where) {
    size_t i = 0;
    if (s.empty()) fail(where, "expected one character, got an empty string");
    char32_t c = next_char(s, i);
    if (i != s.size()) fail(where, "expected one character, got '" + s + "'");
    return c;
}

}  // namespace

std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const json& j, const std::string& where) {
    std::string type = get_type(j, where);
    if (type == "ByteLevel")
        return std::make_unique<ByteLevelPre>(get_bool_or(j, "add_prefix_space", where, true),
                                              get_bool_or(j, "use_regex", where, true));
    if (type == "Split")
        return std::make_unique<SplitPre>(parse_pattern(required(j, "pattern", where), child(where, "pattern")),
                                          parse_behavior(j, "behavior", where, SplitBehavior::Isolated),
                                          get_bool_or(j, "invert", where, false));
    if (type == "Metaspace") {
        char32_t rep = single_char(get_string_or(j, "replacement", where, "\xE2\x96\x81"), child(where, "replacement"));
        PrependScheme scheme = get_bool_or(j, "add_prefix_space", where, true) ? PrependScheme::Always : PrependScheme::Never;
        if (member(j, "prepend_scheme")) {
            std::string s = get_string(j, "prepend_scheme", where);
            if (s == "always") scheme = PrependScheme::Always;
            else if (s == "first") scheme = PrependScheme::First;
            else if (s == "never") scheme = PrependScheme::Never;
            else fail(child(where, "prepend_scheme"), "unknown scheme '" + s + "'");
        }
        return std::make_unique<MetaspacePre>(rep, scheme, get_bool_or(j, "split", where, true));
    }
    if (type == "Whitespace")
        return std::make_unique<SplitPre>(Pattern::regex(R"(\w+|[^\w\s]+)"), SplitBehavior::Removed, true);
    if (type == "WhitespaceSplit")
        return std::make_unique<SplitPre>(Pattern::predicate([](char32_t c) { return is_whitespace(c); }),
                                              SplitBehavior::Removed);
    if (type == "BertPreTokenizer") return std::make_unique<BertPre>();
    if (type == "Punctuation")
        return std::make_unique<SplitPre>(Pattern::predicate(is_bert_punctuation),
                                              parse_behavior(j, "behavior", where, SplitBehavior::Isolated));
    if (type == "Digits") {
        bool individual = get_bool_or(j, "individual_digits", where, false);
        return std::make_unique<SplitPre>(Pattern::predicate([](char32_t c) { return c >= '0' && c <= '9'; }),
                                              individual ? SplitBehavior::Isolated : SplitBehavior::Contiguous);
    }
    if (type == "CharDelimiterSplit") {
        char32_t d = single_char(get_string(j, "delimiter", where), child(where, "delimiter"));
        return std::make_unique<SplitPre>(Pattern::predicate([d](char32_t c) { return c == d; }), SplitBehavior::Removed);
    }
    if (type == "Sequence") {
        const json& list = required(j, "pretokenizers", where);
        if (!list.is_array()) fail(child(where, "pretokenizers"), "expected a list");
        std::vector<std::unique_ptr<PreTokenizer>> items;
        for (size_t i = 0; i < list.size(); ++i)
            items.push_back(parse_pre_tokenizer(list[i], child(where, "pretokenizers", i)));
        return std::make_unique<SequencePre>(std::move(items));
    }
    fail(where, "unknown type '" + type + "'");
}

}  // namespace lathe::tok

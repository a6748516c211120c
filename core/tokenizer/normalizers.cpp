// Normalizers (Rust tokenizers/src/normalizers): each rewrites a NormalizedString in place, keeping
// alignments, and mirrors the Rust implementation's character-level changes so offsets match.
#include <memory>
#include <string>
#include <vector>

#include "core/tokenizer/byte_level.h"
#include "core/tokenizer/components.h"
#include "core/tokenizer/unicode.h"

namespace lathe::tok {

namespace {

class UnicodeNormalizer : public Normalizer {
public:
    explicit UnicodeNormalizer(NormForm form) : form_(form) {}
    void normalize(NormalizedString& s) const override { s.unicode_normalize(static_cast<int>(form_)); }

private:
    NormForm form_;
};

class Lowercase : public Normalizer {
public:
    void normalize(NormalizedString& s) const override { s.lowercase(); }
};

class Strip : public Normalizer {
public:
    Strip(bool left, bool right) : left_(left), right_(right) {}
    void normalize(NormalizedString& s) const override { s.strip(left_, right_); }

private:
    bool left_, right_;
};

bool is_mark(char32_t c) {
    auto k = category(c);
    return k == Category::Mn || k == Category::Mc || k == Category::Me;
}

class StripAccents : public Normalizer {
public:
    void normalize(NormalizedString& s) const override {
        s.filter([](char32_t c) { return !is_mark(c); });
    }
};

class Prepend : public Normalizer {
public:
    explicit Prepend(std::string p) : prepend_(std::move(p)) {}
    void normalize(NormalizedString& s) const override { s.prepend(prepend_); }

private:
    std::string prepend_;
};

class Replace : public Normalizer {
public:
    Replace(Pattern p, std::string content) : pattern_(std::move(p)), content_(std::move(content)) {}
    void normalize(NormalizedString& s) const override { s.replace(pattern_, content_); }

private:
    Pattern pattern_;
    std::string content_;
};

bool is_chinese_char(char32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

class BertNormalizer : public Normalizer {
public:
    BertNormalizer(bool clean, bool chinese, bool strip_accents, bool lower)
        : clean_(clean), chinese_(chinese), strip_accents_(strip_accents), lower_(lower) {}

    void normalize(NormalizedString& s) const override {
        if (clean_) {
            // BERT counts \t \n \r as whitespace, not control; every other C* character goes.
            s.filter([](char32_t c) {
                bool control = c != '\t' && c != '\n' && c != '\r' && is_other(c);
                return !(c == 0 || c == 0xFFFD || control);
            });
            s.map([](char32_t c) { return (c == '\t' || c == '\n' || c == '\r' || is_whitespace(c)) ? U' ' : c; });
        }
        if (chinese_) {
            std::vector<NormalizedString::Change> dest;
            const std::string& t = s.get();
            bool any = false;
            size_t i = 0;
            while (i < t.size()) {
                char32_t c = next_char(t, i);
                if (is_chinese_char(c)) {
                    dest.push_back({U' ', 0});
                    dest.push_back({c, 1});
                    dest.push_back({U' ', 1});
                    any = true;
                } else {
                    dest.push_back({c, 0});
                }
            }
            if (any) s.transform(dest, 0);
        }
        if (strip_accents_) {
            s.unicode_normalize(static_cast<int>(NormForm::NFD));
            s.filter([](char32_t c) { return category(c) != Category::Mn; });
        }
        if (lower_) s.lowercase();
    }

private:
    bool clean_, chinese_, strip_accents_, lower_;
};

class ByteLevelNormalizer : public Normalizer {
public:
    void normalize(NormalizedString& s) const override { to_byte_level(s); }
};

class SequenceNormalizer : public Normalizer {
public:
    explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> items) : items_(std::move(items)) {}
    void normalize(NormalizedString& s) const override {
        for (const auto& n : items_) n->normalize(s);
    }

private:
    std::vector<std::unique_ptr<Normalizer>> items_;
};

}  // namespace

std::unique_ptr<Normalizer> parse_normalizer(const json& j, const std::string& where) {
    std::string type = get_type(j, where);
    if (type == "NFC") return std::make_unique<UnicodeNormalizer>(NormForm::NFC);
    if (type == "NFD") return std::make_unique<UnicodeNormalizer>(NormForm::NFD);
    if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(NormForm::NFKC);
    if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(NormForm::NFKD);
    if (type == "Lowercase") return std::make_unique<Lowercase>();
    if (type == "StripAccents") return std::make_unique<StripAccents>();
    if (type == "Strip")
        return std::make_unique<Strip>(get_bool_or(j, "strip_left", where, true), get_bool_or(j, "strip_right", where, true));
    if (type == "Prepend") return std::make_unique<Prepend>(get_string(j, "prepend", where));
    if (type == "Replace")
        return std::make_unique<Replace>(parse_pattern(required(j, "pattern", where), child(where, "pattern")),
                                         get_string(j, "content", where));
    if (type == "BertNormalizer") {
        bool lower = get_bool_or(j, "lowercase", where, true);
        // strip_accents: null means "follow lowercase", as in BERT.
        bool strip = get_bool_or(j, "strip_accents", where, lower);
        return std::make_unique<BertNormalizer>(get_bool_or(j, "clean_text", where, true),
                                                get_bool_or(j, "handle_chinese_chars", where, true), strip, lower);
    }
    if (type == "ByteLevel") return std::make_unique<ByteLevelNormalizer>();
    if (type == "Sequence") {
        const json& list = required(j, "normalizers", where);
        if (!list.is_array()) fail(child(where, "normalizers"), "expected a list");
        std::vector<std::unique_ptr<Normalizer>> items;
        for (size_t i = 0; i < list.size(); ++i) items.push_back(parse_normalizer(list[i], child(where, "normalizers", i)));
        return std::make_unique<SequenceNormalizer>(std::move(items));
    }
    if (type == "Precompiled")
        fail(where, "the Precompiled normalizer (SentencePiece charsmap) is not supported; convert the tokenizer "
                    "with an explicit normalizer (e.g. NFKC) instead");
    fail(where, "unknown type '" + type + "'");
}

}  // namespace lathe::tok

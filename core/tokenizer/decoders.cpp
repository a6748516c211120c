// Decoders (Rust tokenizers/src/decoders): each rewrites the list of token strings; the tokenizer
// joins the final list. Byte-producing decoders output lossy UTF-8 like String::from_utf8_lossy.
#include <memory>
#include <string>
#include <vector>

#include "core/tokenizer/byte_level.h"
#include "core/tokenizer/components.h"
#include "core/tokenizer/unicode.h"

namespace lathe::tok {

namespace {

std::string lossy(std::string_view bytes) {
    std::string fixed;
    return sanitize_utf8(bytes, fixed) ? std::string(bytes) : fixed;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
    if (from.empty()) return;
    std::string out;
    size_t pos = 0, hit;
    while ((hit = s.find(from, pos)) != std::string::npos) {
        out.append(s, pos, hit - pos);
        out.append(to);
        pos = hit + from.size();
    }
    if (pos == 0) return;
    out.append(s, pos, std::string::npos);
    s = std::move(out);
}

class ByteLevelDecoder : public Decoder {
public:
    void decode_chain(std::vector<std::string>& tokens) const override {
        const auto& table = byte_level_table();
        std::string bytes;
        for (const auto& t : tokens) {
            // A token with any character outside the byte table is passed through as its own bytes.
            size_t start = bytes.size();
            bool ok = true;
            for (size_t i = 0; i < t.size();) {
                char32_t c = next_char(t, i);
                if (c >= table.char_to_byte.size() || table.char_to_byte[c] < 0) {
                    ok = false;
                    break;
                }
                bytes.push_back(static_cast<char>(table.char_to_byte[c]));
            }
            if (!ok) {
                bytes.resize(start);
                bytes += t;
            }
        }
        tokens.assign(1, lossy(bytes));
    }
};

class MetaspaceDecoder : public Decoder {
public:
    MetaspaceDecoder(char32_t rep, bool prepend) : rep_(rep), prepend_(prepend) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (size_t k = 0; k < tokens.size(); ++k) {
            std::string out;
            const std::string& t = tokens[k];
            for (size_t i = 0; i < t.size();) {
                char32_t c = next_char(t, i);
                if (c == rep_) {
                    if (k == 0 && prepend_) continue;
                    out.push_back(' ');
                } else {
                    append_utf8(out, c);
                }
            }
            tokens[k] = std::move(out);
        }
    }

private:
    char32_t rep_;
    bool prepend_;  // prepend_scheme != never
};

void wordpiece_cleanup(std::string& s) {
    replace_all(s, " .", ".");
    replace_all(s, " ?", "?");
    replace_all(s, " !", "!");
    replace_all(s, " ,", ",");
    replace_all(s, " ' ", "'");
    replace_all(s, " n't", "n't");
    replace_all(s, " 'm", "'m");
    replace_all(s, " do not", " don't");
    replace_all(s, " 's", "'s");
    replace_all(s, " 've", "'ve");
    replace_all(s, " 're", "'re");
}

class WordPieceDecoder : public Decoder {
public:
    WordPieceDecoder(std::string prefix, bool cleanup) : prefix_(std::move(prefix)), cleanup_(cleanup) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (size_t i = 0; i < tokens.size(); ++i) {
            std::string& t = tokens[i];
            if (i != 0) {
                if (t.compare(0, prefix_.size(), prefix_) == 0) t.erase(0, prefix_.size());
                else t.insert(t.begin(), ' ');
            }
            if (cleanup_) wordpiece_cleanup(t);
        }
    }

private:
    std::string prefix_;
    bool cleanup_;
};

class ByteFallbackDecoder : public Decoder {
public:
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::vector<std::string> out;
        out.reserve(tokens.size());
        std::string pending;
        auto flush = [&] {
            if (pending.empty()) return;
            std::string fixed;
            if (sanitize_utf8(pending, fixed)) {
                out.push_back(pending);
            } else {
                // Rust emits one U+FFFD per byte when the bytes are not valid UTF-8.
                for (size_t k = 0; k < pending.size(); ++k) out.push_back("\xEF\xBF\xBD");
            }
            pending.clear();
        };
        for (auto& t : tokens) {
            int byte = -1;
            if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
                auto hexval = [](char c) {
                    if (c >= '0' && c <= '9') return c - '0';
                    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
                    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
                    return -1;
                };
                int hi = hexval(t[3]), lo = hexval(t[4]);
                if (hi >= 0 && lo >= 0) byte = hi * 16 + lo;
            }
            if (byte >= 0) {
                pending.push_back(static_cast<char>(byte));
            } else {
                flush();
                out.push_back(std::move(t));
            }
        }
        flush();
        tokens = std::move(out);
    }
};

class FuseDecoder : public Decoder {
public:
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::string all;
        for (const auto& t : tokens) all += t;
        tokens.assign(1, std::move(all));
    }
};

class StripDecoder : public Decoder {
public:
    StripDecoder(char32_t content, size_t start, size_t stop) : content_(content), start_(start), stop_(stop) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (auto& t : tokens) {
            std::u32string chars;
            for (size_t i = 0; i < t.size();) chars.push_back(next_char(t, i));
            size_t b = 0, e = chars.size();
            for (size_t i = 0; i < start_ && i < chars.size() && chars[i] == content_; ++i) b = i + 1;
            for (size_t i = 0; i < stop_ && i < chars.size(); ++i) {
                size_t idx = chars.size() - i - 1;
                if (chars[idx] != content_) break;
                e = idx;
            }
            std::string out;
            for (size_t i = b; i < e; ++i) append_utf8(out, chars[i]);
            t = std::move(out);
        }
    }

private:
    char32_t content_;
    size_t start_, stop_;
};

class ReplaceDecoder : public Decoder {
public:
    ReplaceDecoder(Pattern p, std::string content) : pattern_(std::move(p)), content_(std::move(content)) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::vector<Pattern::Piece> pieces;
        for (auto& t : tokens) {
            pattern_.find_matches(t, pieces);
            std::string out;
            for (const auto& p : pieces) {
                if (p.is_match) out += content_;
                else out.append(t, p.begin, p.end - p.begin);
            }
            t = std::move(out);
        }
    }

private:
    Pattern pattern_;
    std::string content_;
};

class BpeDecoder : public Decoder {
public:
    explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (size_t i = 0; i < tokens.size(); ++i) replace_all(tokens[i], suffix_, i + 1 == tokens.size() ? "" : " ");
    }

private:
    std::string suffix_;
};

class CtcDecoder : public Decoder {
public:
    CtcDecoder(std::string pad, std::string delim, bool cleanup)
        : pad_(std::move(pad)), delim_(std::move(delim)), cleanup_(cleanup) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::vector<std::string> out;
        for (size_t i = 0; i < tokens.size(); ++i) {
            if (i > 0 && tokens[i] == tokens[i - 1]) continue;  // dedup consecutive repeats
            std::string t = tokens[i];
            replace_all(t, pad_, "");
            if (cleanup_) {
                wordpiece_cleanup(t);
                replace_all(t, delim_, " ");
            }
            if (!t.empty()) out.push_back(std::move(t));
        }
        tokens = std::move(out);
    }

private:
    std::string pad_, delim_;
    bool cleanup_;
};

class SequenceDecoder : public Decoder {
public:
    explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> items) : items_(std::move(items)) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (const auto& d : items_) d->decode_chain(tokens);
    }

private:
    std::vector<std::unique_ptr<Decoder>> items_;
};

char32_t one_char(const std::string& s, const std::string& where) {
    size_t i = 0;
    if (s.empty()) fail(where, "expected one character");
    char32_t c = next_char(s, i);
    if (i != s.size()) fail(where, "expected one character, got '" + s + "'");
    return c;
}

}  // namespace

std::unique_ptr<Decoder> parse_decoder(const json& j, const std::string& where) {
    std::string type = get_type(j, where);
    if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
    if (type == "Metaspace") {
        char32_t rep = one_char(get_string_or(j, "replacement", where, "\xE2\x96\x81"), child(where, "replacement"));
        bool prepend = get_bool_or(j, "add_prefix_space", where, true);
        if (member(j, "prepend_scheme")) prepend = get_string(j, "prepend_scheme", where) != "never";
        return std::make_unique<MetaspaceDecoder>(rep, prepend);
    }
    if (type == "WordPiece")
        return std::make_unique<WordPieceDecoder>(get_string_or(j, "prefix", where, "##"), get_bool_or(j, "cleanup", where, true));
    if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
    if (type == "Fuse") return std::make_unique<FuseDecoder>();
    if (type == "Strip")
        return std::make_unique<StripDecoder>(one_char(get_string(j, "content", where), child(where, "content")),
                                              static_cast<size_t>(get_int_or(j, "start", where, 0)),
                                              static_cast<size_t>(get_int_or(j, "stop", where, 0)));
    if (type == "Replace")
        return std::make_unique<ReplaceDecoder>(parse_pattern(required(j, "pattern", where), child(where, "pattern")),
                                                get_string(j, "content", where));
    if (type == "BPEDecoder") return std::make_unique<BpeDecoder>(get_string_or(j, "suffix", where, "</w>"));
    if (type == "CTC")
        return std::make_unique<CtcDecoder>(get_string_or(j, "pad_token", where, "<pad>"),
                                            get_string_or(j, "word_delimiter_token", where, "|"),
                                            get_bool_or(j, "cleanup", where, true));
    if (type == "Sequence") {
        const json& list = required(j, "decoders", where);
        if (!list.is_array()) fail(child(where, "decoders"), "expected a list");
        std::vector<std::unique_ptr<Decoder>> items;
        for (size_t i = 0; i < list.size(); ++i) items.push_back(parse_decoder(list[i], child(where, "decoders", i)));
        return std::make_unique<SequenceDecoder>(std::move(items));
    }
    fail(where, "unknown type '" + type + "'");
}

}  // namespace lathe::tok

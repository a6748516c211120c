// A piece of text under normalization that remembers, for every byte of the normalized text, which
// bytes of the original input it came from: the Rust library's NormalizedString. Offsets reported to
// callers are always original byte offsets, so every transformation keeps `align` exact.
//
// Unlike the Rust type, alignments here are absolute (into the whole input) rather than relative to
// the piece, which makes slicing a copy of a sub-range and nothing more.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/tokenizer/pattern.h"

namespace lathe::tok {

using Offsets = std::pair<size_t, size_t>;

// How a split keeps the delimiters a pattern finds (Rust SplitDelimiterBehavior).
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

class NormalizedString {
public:
    NormalizedString() = default;
    // The original text `s`, which starts at byte `shift` of the whole input.
    NormalizedString(std::string_view s, size_t shift);

    const std::string& get() const { return text_; }
    bool empty() const { return text_.empty(); }
    size_t size() const { return text_.size(); }
    // Where this piece starts in the original input.
    size_t original_begin() const { return orig_begin_; }

    // Original byte range of normalized bytes [b, e).
    Offsets original_range(size_t b, size_t e) const;
    NormalizedString slice(size_t b, size_t e) const;

    // One entry per new character: `change` is +1 for an inserted character, 0 for one that replaces
    // a character, -n for one that replaces a character and removes the n after it. `initial_removed`
    // characters are dropped before the first. Applies to normalized bytes [b, e) (Rust transform_range).
    struct Change {
        char32_t c;
        int change;
    };
    void transform_range(size_t b, size_t e, const std::vector<Change>& dest, size_t initial_removed);
    void transform(const std::vector<Change>& dest, size_t initial_removed) {
        transform_range(0, text_.size(), dest, initial_removed);
    }

    // Replaces every byte b by the UTF-8 string table[b]; each new character keeps the alignment of
    // the character the byte belonged to. The ByteLevel step, without building a change list.
    void map_bytes(const std::string (&table)[256]);

    void filter(const std::function<bool(char32_t)>& keep);
    void map(const std::function<char32_t(char32_t)>& f);
    void lowercase();
    void unicode_normalize(int form);  // a NormForm
    void prepend(std::string_view s);
    void append(std::string_view s);
    void replace(const Pattern& pattern, std::string_view content);
    void strip(bool left, bool right);

    // Splits by pattern as the Rust NormalizedString::split does; empty pieces are kept (callers drop them).
    void split(const Pattern& pattern, SplitBehavior behavior, bool invert, std::vector<NormalizedString>& out) const;

private:
    std::string text_;
    std::vector<Offsets> align_;  // per normalized byte: original [begin, end) of its character
    size_t orig_begin_ = 0, orig_end_ = 0;  // the original range this piece covers
};

}  // namespace lathe::tok

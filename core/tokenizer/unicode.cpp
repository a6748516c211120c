#include "core/tokenizer/unicode.h"

#include <algorithm>

#include "core/tokenizer/unicode_tables.h"

namespace lathe::tok {

char32_t next_char(std::string_view s, size_t& i) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
        ++i;
        return b;
    }
    size_t n = utf8_len(b);
    char32_t c = n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
    for (size_t k = 1; k < n; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += n;
    return c;
}

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 with `bad` set to the length of the maximal
// invalid prefix to replace (WHATWG / Unicode "maximal subpart" rule, which Python follows).
size_t valid_len(std::string_view s, size_t i, size_t& bad) {
    auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char b = at(i);
    if (b < 0x80) return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
        need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 2;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
    } else {
        bad = 1;
        return 0;
    }
    for (size_t k = 1; k <= need; ++k) {
        if (i + k >= s.size()) {
            bad = k;
            return 0;
        }
        unsigned char c = at(i + k);
        unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (c < l || c > h) {
            bad = k;
            return 0;
        }
    }
    return need + 1;
}

template <typename T>
const T* find_cp(const T* table, size_t n, char32_t c) {
    const T* end = table + n;
    const T* it = std::lower_bound(table, end, c, [](const T& r, char32_t v) { return r.cp < v; });
    return it != end && it->cp == c ? it : nullptr;
}

uint8_t range_value(const tables::CategoryRange* table, size_t n, char32_t c) {
    const auto* end = table + n;
    const auto* it = std::upper_bound(table, end, c, [](char32_t v, const tables::CategoryRange& r) { return v < r.first; });
    if (it == table) return 0;
    --it;
    return c <= it->last ? it->value : 0;
}

}  // namespace

constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
                   kSCount = kLCount * kNCount;

void decompose(char32_t c, bool compat, std::u32string& out) {
    if (c >= kSBase && c < kSBase + kSCount) {
        char32_t s = c - kSBase;
        out.push_back(kLBase + s / kNCount);
        out.push_back(kVBase + (s % kNCount) / kTCount);
        if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
        return;
    }
    const tables::Mapping* m = compat ? find_cp(tables::nfkd, tables::nfkd_size, c)
                                      : find_cp(tables::nfd, tables::nfd_size, c);
    if (!m) {
        out.push_back(c);
        return;
    }
    out.append(tables::pool + m->offset, m->length);
}

char32_t compose_pair(char32_t a, char32_t b) {
    if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
        return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
    if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount)
        return a + (b - kTBase);
    const auto* end = tables::compositions + tables::compositions_size;
    const auto* it = std::lower_bound(tables::compositions, end, std::pair{a, b}, [](const tables::Composition& r, std::pair<char32_t, char32_t> v) {
        return r.first != v.first ? r.first < v.first : r.second < v.second;
    });
    return it != end && it->first == a && it->second == b ? it->composed : 0;
}


bool sanitize_utf8(std::string_view in, std::string& out, std::vector<size_t>* map) {
    size_t i = 0;
    size_t first_bad = in.size();
    while (i < in.size()) {
        size_t bad = 0, n = valid_len(in, i, bad);
        if (n == 0) {
            first_bad = i;
            break;
        }
        i += n;
    }
    if (first_bad == in.size()) return true;
    out.assign(in.substr(0, first_bad));
    if (map) {
        map->clear();
        for (size_t k = 0; k < first_bad; ++k) map->push_back(k);
    }
    i = first_bad;
    while (i < in.size()) {
        size_t bad = 0, n = valid_len(in, i, bad);
        if (n == 0) {
            out += "\xEF\xBF\xBD";
            // The replacement's start maps to the bad bytes' start; its end to their end.
            if (map) map->insert(map->end(), 3, i);
            i += bad;
        } else {
            out.append(in.substr(i, n));
            if (map)
                for (size_t k = 0; k < n; ++k) map->push_back(i + k);
            i += n;
        }
    }
    if (map) map->push_back(in.size());
    return false;
}

Category category(char32_t c) {
    return static_cast<Category>(range_value(tables::categories, tables::categories_size, c));
}

uint8_t combining_class(char32_t c) {
    if (c < 0x300) return 0;
    return range_value(tables::combining_classes, tables::combining_classes_size, c);
}

bool is_whitespace(char32_t c) {
    switch (c) {
        case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
        case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
            return true;
        default:
            return c >= 0x2000 && c <= 0x200A;
    }
}

bool is_punctuation(char32_t c) {
    auto k = category(c);
    return k >= Category::Pc && k <= Category::Po;
}

bool is_other(char32_t c) {
    // Cc, Cf, Cs, Co: the unicode_categories crate's is_other() has no unassigned (Cn) table.
    return category(c) >= Category::Cc;
}

void to_lower(char32_t c, std::u32string& out) {
    if (c < 0x80) {
        out.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
        return;
    }
    const auto* m = find_cp(tables::lowercase, tables::lowercase_size, c);
    if (!m) {
        out.push_back(c);
        return;
    }
    out.append(tables::pool + m->offset, m->length);
}

}  // namespace lathe::tok

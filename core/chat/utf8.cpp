#include "core/chat/utf8.h"

#include "core/util/utf8.h"

namespace lathe::chat::utf8 {

uint32_t decode(const std::string& s, size_t pos, size_t* len) {
    auto c = static_cast<unsigned char>(s[pos]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || pos + n > s.size()) {
        *len = 1;
        return c;
    }
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < n; ++k) {
        auto cc = static_cast<unsigned char>(s[pos + k]);
        if ((cc & 0xC0) != 0x80) {
            *len = 1;
            return c;
        }
        cp = (cp << 6) | (cc & 0x3F);
    }
    *len = n;
    return cp;
}

void append(std::string& out, uint32_t cp) { append_utf8(out, static_cast<char32_t>(cp)); }

std::vector<std::string> split_chars(const std::string& s) {
    std::vector<std::string> out;
    for (size_t pos = 0; pos < s.size();) {
        size_t len = 0;
        decode(s, pos, &len);
        out.push_back(s.substr(pos, len));
        pos += len;
    }
    return out;
}

size_t length(const std::string& s) {
    size_t n = 0;
    for (size_t pos = 0; pos < s.size(); ++n) {
        size_t len = 0;
        decode(s, pos, &len);
        pos += len;
    }
    return n;
}

bool is_space(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || (cp >= 0x1C && cp <= 0x1F) || cp == 0x85 ||
           cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::string strip(const std::string& s, const std::string* chars, bool left, bool right) {
    std::vector<uint32_t> set;
    if (chars) {
        for (size_t pos = 0; pos < chars->size();) {
            size_t len = 0;
            set.push_back(decode(*chars, pos, &len));
            pos += len;
        }
    }
    auto strippable = [&](uint32_t cp) {
        if (!chars) return is_space(cp);
        for (uint32_t c : set)
            if (c == cp) return true;
        return false;
    };
    // Code point boundaries, so right-stripping never cuts a multi-byte character.
    std::vector<size_t> starts;
    std::vector<uint32_t> cps;
    for (size_t pos = 0; pos < s.size();) {
        size_t len = 0;
        cps.push_back(decode(s, pos, &len));
        starts.push_back(pos);
        pos += len;
    }
    size_t b = 0, e = cps.size();
    if (left)
        while (b < e && strippable(cps[b])) ++b;
    if (right)
        while (e > b && strippable(cps[e - 1])) --e;
    size_t from = b < starts.size() ? starts[b] : s.size();
    size_t to = e < starts.size() ? starts[e] : s.size();
    return s.substr(from, to - from);
}

uint32_t upper_cp(uint32_t cp) {
    if (cp >= 'a' && cp <= 'z') return cp - 32;
    if (cp < 0x80) return cp;
    if (cp == 0xB5) return 0x39C;
    if ((cp >= 0xE0 && cp <= 0xFE && cp != 0xF7)) return cp - 32;
    if (cp == 0xFF) return 0x178;
    if (cp >= 0x100 && cp <= 0x17F && cp != 0x130 && cp != 0x131 && cp != 0x138 && cp != 0x149) {
        bool odd_lower = (cp >= 0x100 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177);
        if (odd_lower) return (cp & 1) ? cp - 1 : cp;
        if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) return (cp & 1) ? cp : cp - 1;
        return cp;
    }
    if (cp >= 0x3B1 && cp <= 0x3C9 && cp != 0x3C2) return cp - 32;
    if (cp >= 0x430 && cp <= 0x44F) return cp - 32;
    if (cp >= 0x450 && cp <= 0x45F) return cp - 80;
    return cp;
}

uint32_t lower_cp(uint32_t cp) {
    if (cp >= 'A' && cp <= 'Z') return cp + 32;
    if (cp < 0x80) return cp;
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 32;
    if (cp >= 0x100 && cp <= 0x17F && cp != 0x130 && cp != 0x131 && cp != 0x138 && cp != 0x149) {
        bool even_upper = (cp >= 0x100 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177);
        if (even_upper) return (cp & 1) ? cp : cp + 1;
        if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) return (cp & 1) ? cp + 1 : cp;
        if (cp == 0x178) return 0xFF;
        return cp;
    }
    if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) return cp + 32;
    if (cp >= 0x410 && cp <= 0x42F) return cp + 32;
    if (cp >= 0x400 && cp <= 0x40F) return cp + 80;
    return cp;
}

bool is_upper_cp(uint32_t cp) { return lower_cp(cp) != cp; }
bool is_lower_cp(uint32_t cp) { return upper_cp(cp) != cp; }

static std::string map_cps(const std::string& s, uint32_t (*f)(uint32_t)) {
    std::string out;
    out.reserve(s.size());
    for (size_t pos = 0; pos < s.size();) {
        size_t len = 0;
        uint32_t cp = decode(s, pos, &len);
        if (len == 1 && cp >= 0x80) {
            out += s[pos];  // invalid byte: keep as is
        } else {
            append(out, f(cp));
        }
        pos += len;
    }
    return out;
}

std::string upper(const std::string& s) {
    std::string out = map_cps(s, upper_cp);
    // Python's full case mapping turns sharp s into "SS" (one character becomes two).
    for (size_t p = out.find("\xC3\x9F"); p != std::string::npos; p = out.find("\xC3\x9F", p + 2)) out.replace(p, 2, "SS");
    return out;
}
std::string lower(const std::string& s) { return map_cps(s, lower_cp); }

}  // namespace lathe::chat::utf8

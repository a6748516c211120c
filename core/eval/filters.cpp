#include "core/eval/filters.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <memory>

#include "core/eval/doc_format.h"
#include "core/util/error.h"

namespace lathe::eval {

namespace {

struct CodeDeleter {
    void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
struct DataDeleter {
    void operator()(pcre2_match_data* d) const { pcre2_match_data_free(d); }
};
using Code = std::unique_ptr<pcre2_code, CodeDeleter>;

Code compile(const std::string& pattern) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP, &error,
                                     &offset, nullptr);
    if (!code) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error, message, sizeof(message));
        throw Error("regex_pattern '" + pattern + "': " + reinterpret_cast<const char*>(message) + " at offset " + std::to_string(offset));
    }
    return Code(code);
}

// Every non-overlapping match, as Python's finditer walks them (an empty match moves one character on).
template <typename OnMatch>
void for_each_match(const std::string& pattern, const std::string& text, OnMatch on_match) {
    Code code = compile(pattern);
    std::unique_ptr<pcre2_match_data, DataDeleter> data(pcre2_match_data_create_from_pattern(code.get(), nullptr));
    size_t at = 0;
    while (at <= text.size()) {
        int rc = pcre2_match(code.get(), reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), at, 0, data.get(), nullptr);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) throw Error("regex '" + pattern + "' failed on a response (PCRE2 error " + std::to_string(rc) + ")");
        PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.get());
        uint32_t groups = 0;
        pcre2_pattern_info(code.get(), PCRE2_INFO_CAPTURECOUNT, &groups);
        on_match(ov, groups, static_cast<uint32_t>(rc));
        size_t end = ov[1];
        if (end == ov[0]) {  // empty match: step over one UTF-8 character
            if (end >= text.size()) break;
            end += 1;
            while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
        }
        at = end;
    }
}

}  // namespace

std::vector<std::vector<std::string>> regex_findall(const std::string& pattern, const std::string& text) {
    std::vector<std::vector<std::string>> out;
    for_each_match(pattern, text, [&](PCRE2_SIZE* ov, uint32_t groups, uint32_t matched) {
        std::vector<std::string> m;
        if (groups == 0) {
            m.push_back(text.substr(ov[0], ov[1] - ov[0]));
        } else {
            for (uint32_t g = 1; g <= groups; ++g) {
                // Unset groups (did not take part) are "" in Python's findall.
                if (g >= matched || ov[2 * g] == PCRE2_UNSET) m.emplace_back();
                else m.push_back(text.substr(ov[2 * g], ov[2 * g + 1] - ov[2 * g]));
            }
        }
        out.push_back(std::move(m));
    });
    return out;
}

std::string regex_remove(const std::string& pattern, const std::string& text) {
    std::string out;
    size_t last = 0;
    for_each_match(pattern, text, [&](PCRE2_SIZE* ov, uint32_t, uint32_t) {
        out.append(text, last, ov[0] - last);
        last = ov[1];
    });
    out.append(text, last, std::string::npos);
    return out;
}

std::string apply_filter(const FilterPipeline& pipeline, const std::string& response) {
    std::string value = response;
    for (const auto& step : pipeline.steps) {
        if (step.function == "take_first") continue;
        auto matches = regex_findall(step.regex_pattern, value);
        if (matches.empty()) {
            value = step.fallback;
            continue;
        }
        int64_t n = static_cast<int64_t>(matches.size());
        int64_t index = step.group_select < 0 ? n + step.group_select : step.group_select;
        if (index < 0 || index >= n)  // Python would raise IndexError here
            throw Error("filter '" + pipeline.name + "': group_select " + std::to_string(step.group_select) + " but the response has " +
                        std::to_string(n) + " match(es)");
        const auto& m = matches[index];
        std::string picked;
        bool found = false;
        if (m.size() == 1) {
            picked = m[0], found = true;
        } else {
            for (const auto& g : m)
                if (!g.empty()) {
                    picked = g, found = true;
                    break;
                }
        }
        value = found ? py_strip(picked) : py_strip(step.fallback);
    }
    return value;
}

}  // namespace lathe::eval

#include "core/export/shards.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "core/util/error.h"

namespace lathe {

uint64_t parse_byte_size(const std::string& text) {
    size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
    std::string unit = text.substr(digits);
    std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return std::tolower(c); });
    struct Unit {
        const char* name;
        uint64_t bytes;
    };
    static const Unit units[] = {{"", 1},           {"b", 1},
                                 {"kb", 1000ull},   {"mb", 1000ull * 1000},   {"gb", 1000ull * 1000 * 1000},   {"tb", 1000ull * 1000 * 1000 * 1000},
                                 {"kib", 1ull << 10}, {"mib", 1ull << 20}, {"gib", 1ull << 30}, {"tib", 1ull << 40}};
    if (digits > 0 && digits <= 12)
        for (const auto& u : units)
            if (unit == u.name) {
                uint64_t n = std::stoull(text.substr(0, digits)) * u.bytes;
                if (n > 0) return n;
            }
    throw Error("size '" + text + "' is not valid; write a positive whole number with a unit, e.g. 5GB, 500MB or 2GiB");
}

std::vector<std::vector<size_t>> plan_shards(const std::vector<uint64_t>& sizes, uint64_t max_bytes) {
    std::vector<std::vector<size_t>> shards;
    std::vector<size_t> current;
    uint64_t current_bytes = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
        if (sizes[i] > max_bytes) {
            shards.push_back({i});
            continue;
        }
        if (current_bytes + sizes[i] > max_bytes && !current.empty()) {
            shards.push_back(std::move(current));
            current.clear();
            current_bytes = 0;
        }
        current.push_back(i);
        current_bytes += sizes[i];
    }
    if (!current.empty()) shards.push_back(std::move(current));
    return shards;
}

std::string shard_file_name(size_t index, size_t count) {
    if (count == 1) return "model.safetensors";
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", index + 1, count);
    return name;
}

}  // namespace lathe

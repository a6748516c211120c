// A token <-> id table shared by the models: lookups by string_view without building strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace lathe::tok {

// Ids above this are treated as a corrupt file (real vocabularies have at most a few million tokens).
constexpr int64_t kMaxVocabId = int64_t{1} << 26;

struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

class Vocab {
public:
    void add(std::string token, int64_t id) {
        if (id >= static_cast<int64_t>(by_id_.size())) {
            by_id_.resize(static_cast<size_t>(id) + 1);
            has_.resize(static_cast<size_t>(id) + 1, 0);
        }
        by_id_[static_cast<size_t>(id)] = token;
        has_[static_cast<size_t>(id)] = 1;
        ids_.insert_or_assign(std::move(token), id);
    }
    const int64_t* find(std::string_view token) const {
        auto it = ids_.find(token);
        return it == ids_.end() ? nullptr : &it->second;
    }
    std::optional<int64_t> get(std::string_view token) const {
        const int64_t* id = find(token);
        return id ? std::optional<int64_t>(*id) : std::nullopt;
    }
    const std::string* token(int64_t id) const {
        if (id < 0 || id >= static_cast<int64_t>(by_id_.size()) || !has_[static_cast<size_t>(id)]) return nullptr;
        return &by_id_[static_cast<size_t>(id)];
    }
    int64_t size() const { return static_cast<int64_t>(ids_.size()); }
    void reserve(size_t n) { ids_.reserve(n); }

private:
    std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>> ids_;
    std::vector<std::string> by_id_;
    std::vector<uint8_t> has_;
};

}  // namespace lathe::tok

#include "core/data/token_cache.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/util/atomic_file.h"
#include "core/util/error.h"

namespace lathe::data {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'L', 'A', 'T', 'H', 'E', 'T', 'O', 'K'};
constexpr uint32_t kVersion = 1;

struct Header {
    char magic[8];
    uint32_t version;
    uint32_t header_size;
    uint64_t rows;
    uint64_t tokens;
    uint64_t problem_bytes;
    uint64_t payload_hash;
    uint8_t key[16];
};
static_assert(sizeof(Header) == 64);

std::string hex(const uint8_t* bytes, size_t n) {
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < n; ++i) {
        s += digits[bytes[i] >> 4];
        s += digits[bytes[i] & 15];
    }
    return s;
}

std::string hex128(const XXH128_hash_t& h) {
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    return hex(c.digest, sizeof(c.digest));
}

// Streams a file through the hash without holding it in memory.
template <typename State, typename Update>
void stream_file(const std::string& path, State* state, Update update) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot read (hashing it for the dataset cache)");
    std::vector<char> buffer(1 << 20);
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        if (in.gcount() > 0) update(state, buffer.data(), static_cast<size_t>(in.gcount()));
    }
    if (in.bad()) throw Error(path + ": read failed (hashing it for the dataset cache)");
}

std::string hash_file_128(const std::string& path) {
    XXH3_state_t* state = XXH3_createState();
    XXH3_128bits_reset(state);
    try {
        stream_file(path, state, [](XXH3_state_t* s, const char* p, size_t n) { XXH3_128bits_update(s, p, n); });
    } catch (...) {
        XXH3_freeState(state);
        throw;
    }
    std::string h = hex128(XXH3_128bits_digest(state));
    XXH3_freeState(state);
    return h;
}

// A data path's contents: one file, or every regular file under a folder (by relative path).
nlohmann::ordered_json describe_data(const std::string& path) {
    if (fs::is_directory(path)) {
        std::vector<std::string> files;
        for (const auto& e : fs::recursive_directory_iterator(path))
            if (e.is_regular_file()) files.push_back(fs::relative(e.path(), path).generic_string());
        std::sort(files.begin(), files.end());
        nlohmann::ordered_json folder = nlohmann::ordered_json::object();
        for (const auto& f : files) folder[f] = hash_file_128((fs::path(path) / f).string());
        return folder;
    }
    return hash_file_128(path);
}

nlohmann::ordered_json problem_json(const Problem& p) { return {{"file", p.file}, {"line", p.line}, {"field", p.field}, {"message", p.message}}; }

}  // namespace

uint64_t hash_file(const std::string& path) {
    XXH3_state_t* state = XXH3_createState();
    XXH3_64bits_reset(state);
    try {
        stream_file(path, state, [](XXH3_state_t* s, const char* p, size_t n) { XXH3_64bits_update(s, p, n); });
    } catch (...) {
        XXH3_freeState(state);
        throw;
    }
    uint64_t h = XXH3_64bits_digest(state);
    XXH3_freeState(state);
    return h;
}

TokenCacheKey make_token_cache_key(const std::vector<std::string>& data_files, const std::string& tokenizer_dir,
                                   const nlohmann::ordered_json& settings) {
    TokenCacheKey key;
    key.described = {{"format", kVersion}};
    nlohmann::ordered_json data = nlohmann::ordered_json::array();
    for (const auto& f : data_files) data.push_back(describe_data(f));
    key.described["data"] = data;
    nlohmann::ordered_json tokenizer = nlohmann::ordered_json::object();
    if (!tokenizer_dir.empty())
        for (const char* name : {"tokenizer.json", "tokenizer.model", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json"})
            if (fs::exists(fs::path(tokenizer_dir) / name)) tokenizer[name] = hash_file_128((fs::path(tokenizer_dir) / name).string());
    key.described["tokenizer"] = tokenizer;
    key.described["settings"] = settings;
    std::string text = key.described.dump();
    key.hex = hex128(XXH3_128bits(text.data(), text.size()));
    return key;
}

std::string default_token_cache_dir(const std::string& dataset_prepared_path) {
    if (!dataset_prepared_path.empty()) return dataset_prepared_path;
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return (fs::path(xdg) / "lathe" / "datasets").string();
    if (const char* home = std::getenv("HOME"); home && *home) return (fs::path(home) / ".cache" / "lathe" / "datasets").string();
    throw Error("no place for the dataset cache: set dataset_prepared_path (or XDG_CACHE_HOME / HOME)");
}

void TokenRowsBuilder::add(const std::vector<int64_t>& input_ids, const std::vector<int64_t>& labels) {
    LATHE_ASSERT(input_ids.size() == labels.size());
    for (size_t k = 0; k < input_ids.size(); ++k) {
        // Token ids and labels fit int32 (vocabularies are far below 2^31); checked, not assumed.
        if (input_ids[k] < 0 || input_ids[k] > std::numeric_limits<int32_t>::max() || labels[k] < -100 ||
            labels[k] > std::numeric_limits<int32_t>::max())
            throw Error("token id " + std::to_string(input_ids[k]) + " / label " + std::to_string(labels[k]) + " does not fit the dataset cache's int32");
        tokens_.push_back(static_cast<int32_t>(input_ids[k]));
        labels_.push_back(static_cast<int32_t>(labels[k]));
    }
    offsets_.push_back(tokens_.size());
}

void TokenRows::write(const std::string& path, const TokenCacheKey& key, const TokenRowsBuilder& b) {
    nlohmann::ordered_json problems = nlohmann::ordered_json::array();
    for (const auto& p : b.problems_) problems.push_back(problem_json(p));
    std::string problem_text = nlohmann::ordered_json{{"key", key.described}, {"problems", problems}}.dump();

    Header h{};
    std::memcpy(h.magic, kMagic, sizeof(kMagic));
    h.version = kVersion;
    h.header_size = sizeof(Header);
    h.rows = b.offsets_.size() - 1;
    h.tokens = b.tokens_.size();
    h.problem_bytes = problem_text.size();
    XXH3_state_t* state = XXH3_createState();
    XXH3_64bits_reset(state);
    XXH3_64bits_update(state, b.offsets_.data(), b.offsets_.size() * sizeof(uint64_t));
    XXH3_64bits_update(state, b.tokens_.data(), b.tokens_.size() * sizeof(int32_t));
    XXH3_64bits_update(state, b.labels_.data(), b.labels_.size() * sizeof(int32_t));
    XXH3_64bits_update(state, problem_text.data(), problem_text.size());
    h.payload_hash = XXH3_64bits_digest(state);
    XXH3_freeState(state);
    for (size_t i = 0; i < 16; ++i) h.key[i] = static_cast<uint8_t>(std::stoi(key.hex.substr(2 * i, 2), nullptr, 16));

    fs::create_directories(fs::path(path).parent_path());
    AtomicFile out(path);
    out.write(&h, sizeof(h));
    out.write(b.offsets_.data(), b.offsets_.size() * sizeof(uint64_t));
    out.write(b.tokens_.data(), b.tokens_.size() * sizeof(int32_t));
    out.write(b.labels_.data(), b.labels_.size() * sizeof(int32_t));
    out.write(problem_text.data(), problem_text.size());
    out.commit();
}

std::unique_ptr<TokenRows> TokenRows::open(const std::string& path, const TokenCacheKey& key, std::string* why) {
    auto fail = [&](const std::string& reason) -> std::unique_ptr<TokenRows> {
        if (why) *why = reason;
        return nullptr;
    };
    if (!fs::exists(path)) return fail("");
    std::shared_ptr<MappedFile> file;
    try {
        file = MappedFile::open(path);
    } catch (const Error& e) {
        return fail(e.what());
    }
    if (file->size() < sizeof(Header)) return fail("shorter than its header");
    Header h;
    std::memcpy(&h, file->data(), sizeof(h));
    if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0) return fail("not a Lathe token cache");
    if (h.version != kVersion || h.header_size != sizeof(Header)) return fail("written by another version");
    if (hex(h.key, 16) != key.hex) return fail("made for another key");
    // Sizes in 64-bit arithmetic that cannot overflow for sizes a file can have (checked against it).
    if (h.rows > file->size() / 8 || h.tokens > file->size() / 8 || h.problem_bytes > file->size()) return fail("its sizes do not fit the file");
    uint64_t expect = sizeof(Header) + (h.rows + 1) * 8 + h.tokens * 8 + h.problem_bytes;
    if (file->size() != expect) return fail("truncated or padded (" + std::to_string(file->size()) + " bytes, expected " + std::to_string(expect) + ")");
    const uint8_t* payload = file->data() + sizeof(Header);
    if (XXH3_64bits(payload, file->size() - sizeof(Header)) != h.payload_hash) return fail("its checksum does not match (corrupted)");

    auto rows = std::unique_ptr<TokenRows>(new TokenRows());
    rows->file_ = file;
    rows->rows_ = h.rows;
    rows->offsets_ = reinterpret_cast<const uint64_t*>(payload);
    rows->tokens_ = reinterpret_cast<const int32_t*>(payload + (h.rows + 1) * 8);
    rows->labels_ = rows->tokens_ + h.tokens;
    // Offsets must rise from 0 to the token count, or a row would read outside the arrays.
    if (rows->offsets_[0] != 0 || rows->offsets_[h.rows] != h.tokens) return fail("its row offsets are inconsistent");
    for (uint64_t i = 0; i < h.rows; ++i)
        if (rows->offsets_[i] > rows->offsets_[i + 1]) return fail("its row offsets are inconsistent");
    try {
        auto j = nlohmann::json::parse(std::string_view(reinterpret_cast<const char*>(rows->labels_ + h.tokens), h.problem_bytes));
        for (const auto& p : j.at("problems"))
            rows->problems_.push_back(Problem{p.at("file"), p.at("line"), p.at("field"), p.at("message")});
    } catch (const std::exception&) {
        return fail("its problem list is not readable");
    }
    return rows;
}

TokenCacheResult load_or_build_tokens(const std::string& dir, const TokenCacheKey& key, const std::function<void(TokenRowsBuilder&)>& build) {
    std::string path = (fs::path(dir) / (key.hex + ".tokens")).string();
    TokenCacheResult result;
    result.rows = TokenRows::open(path, key, &result.rebuilt_because);
    if (result.rows) {
        result.reused = true;
        return result;
    }
    TokenRowsBuilder builder;
    build(builder);
    try {
        TokenRows::write(path, key, builder);
    } catch (const std::exception& e) {
        throw Error(std::string("writing the dataset cache: ") + e.what() + " (set dataset_prepared_path to a writable folder)");
    }
    std::string why;
    result.rows = TokenRows::open(path, key, &why);
    if (!result.rows) throw Error(path + ": the dataset cache just written cannot be read back: " + why);
    return result;
}

}  // namespace lathe::data

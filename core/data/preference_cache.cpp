#include "core/data/preference_cache.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/util/atomic_file.h"
#include "core/util/error.h"
#include "core/util/mapped_file.h"

namespace lathe::data {

namespace fs = std::filesystem;

namespace {

// Bumped whenever preference tokenization changes what it produces for the same inputs.
constexpr int kPreferenceVersion = 1;

const char* pipeline_name(PreferenceTokenization p) { return p == PreferenceTokenization::dpo ? "dpo" : "orpo_cpo"; }

std::vector<int64_t> labels_of(const PreferenceSequence& s) {
    std::vector<int64_t> labels(s.ids);
    for (int64_t t = 0; t < s.prompt_tokens && t < static_cast<int64_t>(labels.size()); ++t) labels[static_cast<size_t>(t)] = -100;
    return labels;
}

// A cached row back as one side of a pair: the prompt is every token before the first label.
PreferenceSequence sequence_of(const TokenRows& rows, size_t row) {
    PreferenceSequence s;
    auto ids = rows.input_ids(row);
    auto labels = rows.labels(row);
    s.ids.assign(ids.begin(), ids.end());
    while (s.prompt_tokens < static_cast<int64_t>(labels.size()) && labels[static_cast<size_t>(s.prompt_tokens)] == -100) ++s.prompt_tokens;
    return s;
}

constexpr char kMagic[8] = {'L', 'A', 'T', 'H', 'E', 'R', 'E', 'F'};
constexpr uint32_t kReferenceVersion = 1;

// DIR/KEY.reflogps, little-endian: this header, then float32 chosen[pairs], float32 rejected[pairs].
struct ReferenceHeader {
    char magic[8];
    uint32_t version;
    uint32_t header_size;
    uint64_t pairs;
    uint64_t payload_hash;  // XXH3-64 of the floats
    char key[32];           // the key's hex digits
};
static_assert(sizeof(ReferenceHeader) == 64);

}  // namespace

PreparedPairs prepare_preference_dataset(const std::string& path, const PreferenceFormat& format, const std::string& tokenizer_dir,
                                         const PreferenceTokenizeOptions& options, const std::string& cache_dir, double weight) {
    if (!fs::exists(path)) throw Error(path + ": no such file or folder (datasets[].path)");
    nlohmann::ordered_json settings = {
        {"preference_version", kPreferenceVersion}, {"pipeline", pipeline_name(options.pipeline)},
        {"max_length", options.max_length}, {"max_prompt_length", options.max_prompt_length},
        {"type", format.type}, {"field_messages", format.field_messages}, {"field_chosen", format.field_chosen},
        {"field_rejected", format.field_rejected}, {"role_key", format.role_key}, {"content_key", format.content_key},
    };
    PreparedPairs out;
    out.key = make_token_cache_key({path}, tokenizer_dir, settings);
    TokenCacheResult cached = load_or_build_tokens(cache_dir, out.key, [&](TokenRowsBuilder& rows) {
        const TextTokenizer tokenizer = TextTokenizer::load(tokenizer_dir);
        PreferenceFile file = read_preference_file(path, tokenizer, options, format);
        for (const PreferencePair& p : file.pairs) {
            rows.add(p.chosen.ids, labels_of(p.chosen));
            rows.add(p.rejected.ids, labels_of(p.rejected));
        }
        for (const Problem& p : file.problems) rows.problem(p);
    });
    const TokenRows& rows = *cached.rows;
    if (rows.size() % 2 != 0) throw Error(rows.path() + ": a preference cache holds an odd number of rows; delete it");
    for (size_t r = 0; r < rows.size(); r += 2) out.pairs.push_back({path, 0, sequence_of(rows, r), sequence_of(rows, r + 1)});
    out.problems = rows.problems();
    out.reused = cached.reused;
    const auto& content = out.key.described["data"][0];
    out.fingerprint = {{"path", path}, {"type", format.type.empty() ? "preference" : format.type}, {"weight", weight},
                       {"content_xxh3_128", content.is_string() ? content.get<std::string>() : content.dump()}, {"rows", out.pairs.size()},
                       {"skipped", out.problems.size()}, {"tokens", rows.total_tokens()}, {"cache", rows.path()}, {"cache_reused", out.reused}};
    return out;
}

std::string reference_log_probs_path(const std::string& dir, const TokenCacheKey& key) { return (fs::path(dir) / (key.hex + ".reflogps")).string(); }

std::optional<ReferenceLogProbs> read_reference_log_probs(const std::string& dir, const TokenCacheKey& key) {
    const std::string path = reference_log_probs_path(dir, key);
    if (!fs::exists(path)) return std::nullopt;
    std::shared_ptr<MappedFile> file;
    try {
        file = MappedFile::open(path);
    } catch (const Error&) {
        return std::nullopt;
    }
    ReferenceHeader h;
    if (file->size() < sizeof(h)) return std::nullopt;
    std::memcpy(&h, file->data(), sizeof(h));
    if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0 || h.version != kReferenceVersion || h.header_size != sizeof(h)) return std::nullopt;
    if (std::string(h.key, sizeof(h.key)) != key.hex) return std::nullopt;
    if (h.pairs > file->size() || file->size() != sizeof(h) + h.pairs * 2 * sizeof(float)) return std::nullopt;
    const uint8_t* payload = file->data() + sizeof(h);
    if (XXH3_64bits(payload, file->size() - sizeof(h)) != h.payload_hash) return std::nullopt;
    ReferenceLogProbs v;
    v.chosen.resize(h.pairs);
    v.rejected.resize(h.pairs);
    std::memcpy(v.chosen.data(), payload, h.pairs * sizeof(float));
    std::memcpy(v.rejected.data(), payload + h.pairs * sizeof(float), h.pairs * sizeof(float));
    return v;
}

std::string write_reference_log_probs(const std::string& dir, const TokenCacheKey& key, const ReferenceLogProbs& values) {
    LATHE_ASSERT(values.chosen.size() == values.rejected.size());
    LATHE_ASSERT(key.hex.size() == 32);
    ReferenceHeader h{};
    std::memcpy(h.magic, kMagic, sizeof(kMagic));
    h.version = kReferenceVersion;
    h.header_size = sizeof(h);
    h.pairs = values.chosen.size();
    XXH3_state_t* state = XXH3_createState();
    XXH3_64bits_reset(state);
    XXH3_64bits_update(state, values.chosen.data(), values.chosen.size() * sizeof(float));
    XXH3_64bits_update(state, values.rejected.data(), values.rejected.size() * sizeof(float));
    h.payload_hash = XXH3_64bits_digest(state);
    XXH3_freeState(state);
    std::memcpy(h.key, key.hex.data(), sizeof(h.key));
    const std::string path = reference_log_probs_path(dir, key);
    try {
        fs::create_directories(dir);
        AtomicFile out(path);
        out.write(&h, sizeof(h));
        out.write(values.chosen.data(), values.chosen.size() * sizeof(float));
        out.write(values.rejected.data(), values.rejected.size() * sizeof(float));
        out.commit();
    } catch (const std::exception& e) {
        throw Error(std::string("writing the reference log-probabilities cache: ") + e.what() + " (set dataset_prepared_path to a writable folder)");
    }
    return path;
}

}  // namespace lathe::data

// The tokenized-dataset cache: rendered rows (tokens, labels) stored on disk as flat arrays, keyed by
// everything that decides them, and memory-mapped when reused. Torch-free.
//
// The key is a hash (xxHash XXH3-128) of: the data files' bytes, the tokenizer's files (tokenizer.json or
// tokenizer.model, tokenizer_config.json, chat_template.jinja), and a JSON of every setting that changes
// the rendering (row type, column mapping, RenderOptions, ...). Changing any of them gives a new key, so
// the cache is rebuilt; nothing is ever invalidated by timestamps.
//
// File DIR/KEY.tokens, little-endian, written atomically:
//   header (64 bytes): "LATHETOK", u32 version, u32 header size, u64 rows, u64 tokens, u64 problem bytes,
//                      u64 XXH3-64 of everything after the header, 16 bytes of the key
//   u64 offsets[rows + 1]   row i is tokens[offsets[i], offsets[i + 1])
//   i32 tokens[tokens]
//   i32 labels[tokens]      -100 = not trained
//   problems: JSON text     the rows the build skipped, so a reused cache reports them too
// A file that is short, has another version or key, or whose checksum does not match is rebuilt.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/data/rows.h"
#include "core/util/mapped_file.h"

namespace lathe::data {

struct TokenCacheKey {
    std::string hex;                   // 32 hex digits: the file name
    nlohmann::ordered_json described;  // what went into it (hashes and settings), for people
};

// Hashes the files' contents (a folder: every file in it, by relative path) and the tokenizer folder's
// files. Throws lathe::Error naming a file that cannot be read.
TokenCacheKey make_token_cache_key(const std::vector<std::string>& data_files, const std::string& tokenizer_dir,
                                   const nlohmann::ordered_json& settings);

// XXH3-64 of a file's bytes, streamed (for fingerprints).
uint64_t hash_file(const std::string& path);

// dataset_prepared_path when set, else $XDG_CACHE_HOME/lathe/datasets, else ~/.cache/lathe/datasets.
std::string default_token_cache_dir(const std::string& dataset_prepared_path = "");

// Rows as the build adds them; becomes the file.
class TokenRowsBuilder {
public:
    void add(const std::vector<int64_t>& input_ids, const std::vector<int64_t>& labels);
    void problem(const Problem& p) { problems_.push_back(p); }
    size_t rows() const { return offsets_.size() - 1; }

private:
    friend class TokenRows;
    std::vector<uint64_t> offsets_{0};
    std::vector<int32_t> tokens_, labels_;
    std::vector<Problem> problems_;
};

// Read-only rows, mapped from the cache file.
class TokenRows {
public:
    size_t size() const { return rows_; }
    uint64_t total_tokens() const { return offsets_[rows_]; }
    std::span<const int32_t> input_ids(size_t row) const { return {tokens_ + offsets_[row], tokens_ + offsets_[row + 1]}; }
    std::span<const int32_t> labels(size_t row) const { return {labels_ + offsets_[row], labels_ + offsets_[row + 1]}; }
    const std::vector<Problem>& problems() const { return problems_; }
    const std::string& path() const { return file_->path(); }

    // Maps PATH when it is a complete, intact cache file for KEY; nullptr otherwise (with the reason
    // in *why when given).
    static std::unique_ptr<TokenRows> open(const std::string& path, const TokenCacheKey& key, std::string* why = nullptr);
    // Writes the builder's rows to PATH atomically.
    static void write(const std::string& path, const TokenCacheKey& key, const TokenRowsBuilder& rows);

private:
    std::shared_ptr<MappedFile> file_;
    const uint64_t* offsets_ = nullptr;
    const int32_t* tokens_ = nullptr;
    const int32_t* labels_ = nullptr;
    size_t rows_ = 0;
    std::vector<Problem> problems_;
};

struct TokenCacheResult {
    std::unique_ptr<TokenRows> rows;
    bool reused = false;        // found on disk; the build did not run
    std::string rebuilt_because;  // why an existing file was not used ("" when there was none)
};

// DIR/KEY.tokens when intact, else runs `build` and stores what it added.
TokenCacheResult load_or_build_tokens(const std::string& dir, const TokenCacheKey& key,
                                      const std::function<void(TokenRowsBuilder&)>& build);

}  // namespace lathe::data

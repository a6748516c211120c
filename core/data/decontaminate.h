// Finding evaluation items inside training data by word n-gram overlap, as lm-evaluation-harness's
// decontamination does (lm_eval/decontamination: Janitor.normalize_string, word_ngrams): ASCII letters
// lowercased, ASCII punctuation (Python's string.punctuation) deleted, the rest split on whitespace
// (Python's str.split(): Unicode whitespace), n consecutive words joined by one space. A training row is
// contaminated by an eval item when they share at least one n-gram (the harness's rule); an item of
// fewer than n words has no n-gram and is never found.
//
// Memory: only the eval side is held (each item's text and its n-grams as 64-bit hashes); training rows
// are streamed one at a time. Torch-free, so the Datasets page can use it too.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/data/read_rows.h"

namespace lathe::data {

// The harness's normalisation and word split: the words of `text`, as views into `buffer` (which it
// overwrites; the views live as long as buffer is not changed).
void normalized_words(std::string_view text, std::string& buffer, std::vector<std::string_view>& words);

// The text of every string field of a row (nested objects and lists too), in file order, one per line:
// what is matched against the eval items. Numbers, booleans and keys are not text.
void row_text(const nlohmann::ordered_json& value, std::string& out);

struct EvalItem {
    std::string file;
    int64_t line = 0;       // 1-based line of a data file; for a task YAML, the document's doc_id
    std::string location;   // how reports name it: "eval.jsonl:3", "task.yaml: test doc 3"
    std::string text;
    int64_t ngrams = 0;   // n-gram positions in the item (0: shorter than n words)
};

// The eval items' n-grams, hashed, in a table that answers "which items have this n-gram".
class EvalNgrams {
public:
    explicit EvalNgrams(int ngram);
    int ngram() const { return n_; }

    void add(EvalItem item);
    // Builds the lookup table; call once after the last add() and before find().
    void finish();

    const std::vector<EvalItem>& items() const { return items_; }
    size_t distinct_ngrams() const { return keys_.size() - empty_slots_; }
    // The items (indices into items()) holding the n-gram with this hash; empty when none.
    std::pair<const uint32_t*, const uint32_t*> find(uint64_t hash) const;

private:
    int n_;
    std::vector<EvalItem> items_;
    std::vector<std::pair<uint64_t, uint32_t>> pending_;  // (hash, item) until finish()
    // Open addressing: keys_[slot] (0 = empty; a real hash of 0 is stored as 1), the slot's items
    // are postings_[begin_[slot] .. begin_[slot + 1]) in the order of the slots' first filling.
    std::vector<uint64_t> keys_;
    std::vector<uint32_t> begin_, end_;
    std::vector<uint32_t> postings_;
    size_t empty_slots_ = 0;
    uint64_t mask_ = 0;
    // A bit per (top bits of a) hash that is in the table: the quick "no" before the table.
    std::vector<uint64_t> filter_;
    int filter_shift_ = 48;
};

// The hash of each n-gram of `words` (words.size() - n + 1 of them, none when fewer words), in order.
void ngram_hashes(const std::vector<std::string_view>& words, int n, std::vector<uint64_t>& hashes);

// One eval item found in one training row.
struct ContaminationHit {
    uint32_t item = 0;           // index into EvalNgrams::items()
    int64_t matched_ngrams = 0;  // the row's n-gram positions that are n-grams of the item
    std::string overlap;         // the longest run of the row's words shared with the item (normalised)
    int64_t overlap_words = 0;
};

struct ContaminatedRow {
    std::string file;
    int64_t line = 0;
    std::vector<ContaminationHit> hits;
};

// Reads each training row's text and finds the eval items in it. Reusable across rows (it keeps its
// buffers); not thread-safe.
class ContaminationScanner {
public:
    explicit ContaminationScanner(const EvalNgrams& eval) : eval_(eval) {}
    // The hits of one row's text, in order of the items' first matching n-gram; empty when clean.
    std::vector<ContaminationHit> scan(std::string_view text);

private:
    const EvalNgrams& eval_;
    std::string normalized_;
    std::vector<std::string_view> words_;
    std::vector<uint64_t> hashes_;
};

struct DecontaminateStats {
    int64_t rows = 0;
    int64_t contaminated_rows = 0;
    int64_t bytes = 0;      // the training files' sizes on disk
    double seconds = 0;      // wall time
    double cpu_seconds = 0;  // user + system time of the process meanwhile (both threads)
};

// Streams every row of `train_files` (read as read_rows reads them) through the scanner: on_row gets
// each row, its line as written when the file is JSON Lines (else empty: the row is only the parsed
// value), and its hits (empty when clean), in file order, on the calling thread (a second thread reads
// and parses the rows ahead, a few batches at most). A row the readers cannot use is a lathe::Error
// naming its file and line: decontamination must see every row.
DecontaminateStats scan_training_files(const std::vector<std::string>& train_files, const ReadOptions& read, const EvalNgrams& eval,
                                       const std::function<void(const RawRow&, std::string_view line, std::vector<ContaminationHit>&&)>& on_row);

// Every row of `files` as one eval item (its row_text).
void add_eval_files(const std::vector<std::string>& files, const ReadOptions& read, EvalNgrams& eval);

}  // namespace lathe::data

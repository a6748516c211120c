#include "core/data/decontaminate.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include <sys/resource.h>
#include <filesystem>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "core/data/byte_source.h"
#include "core/data/formats.h"
#include "core/util/error.h"

namespace lathe::data {

namespace fs = std::filesystem;

namespace {

// What the normalisation does with each byte: Janitor's translation table (ASCII upper -> lower,
// string.punctuation deleted) and str.split()'s ASCII whitespace; lead bytes of the few multi-byte
// whitespace characters are looked at more closely.
enum ByteClass : uint8_t { kKeep, kLower, kDelete, kSpace, kMaybeSpace };

constexpr std::array<uint8_t, 256> make_byte_classes() {
    std::array<uint8_t, 256> t{};
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = kLower;
    for (int c = 0x21; c <= 0x7E; ++c)
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) t[c] = kDelete;
    for (int c = 0x09; c <= 0x0D; ++c) t[c] = kSpace;
    for (int c = 0x1C; c <= 0x20; ++c) t[c] = kSpace;
    t[0xC2] = t[0xE1] = t[0xE2] = t[0xE3] = kMaybeSpace;
    return t;
}
constexpr std::array<uint8_t, 256> kByteClass = make_byte_classes();

// The length of the Unicode whitespace character (Python's str.isspace) starting at p, or 0.
// U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
size_t unicode_space_length(const unsigned char* p, const unsigned char* end) {
    size_t left = static_cast<size_t>(end - p);
    if (p[0] == 0xC2) return left >= 2 && (p[1] == 0x85 || p[1] == 0xA0) ? 2 : 0;
    if (left < 3) return 0;
    if (p[0] == 0xE1) return p[1] == 0x9A && p[2] == 0x80 ? 3 : 0;
    if (p[0] == 0xE3) return p[1] == 0x80 && p[2] == 0x80 ? 3 : 0;
    if (p[1] == 0x80) return (p[2] <= 0x8A && p[2] >= 0x80) || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF ? 3 : 0;
    if (p[1] == 0x81) return p[2] == 0x9F ? 3 : 0;
    return 0;
}

uint64_t canonical(uint64_t hash) { return hash == 0 ? 1 : hash; }

[[noreturn]] void unusable_row(const Problem& p) {
    throw Error(p.to_string() + " (decontamination reads every row: fix or remove it)");
}

}  // namespace

void normalized_words(std::string_view text, std::string& buffer, std::vector<std::string_view>& words) {
    words.clear();
    buffer.resize(text.size());  // never grows past the input: bytes are kept, lowered or dropped
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* end = p + text.size();
    char* base = buffer.data();
    char* out = base;
    char* word = base;
    auto close_word = [&] {
        if (out != word) words.emplace_back(word, static_cast<size_t>(out - word));
        word = out;
    };
    while (p < end) {
        unsigned char c = *p;
        switch (kByteClass[c]) {
            case kKeep: *out++ = static_cast<char>(c); ++p; break;
            case kLower: *out++ = static_cast<char>(c + ('a' - 'A')); ++p; break;
            case kDelete: ++p; break;
            case kSpace: close_word(); ++p; break;
            case kMaybeSpace:
                if (size_t n = unicode_space_length(p, end)) {
                    close_word();
                    p += n;
                } else {
                    *out++ = static_cast<char>(c);
                    ++p;
                }
                break;
        }
    }
    close_word();
}

void row_text(const nlohmann::ordered_json& value, std::string& out) {
    if (value.is_string()) {
        out += value.get_ref<const std::string&>();
        out += '\n';
    } else if (value.is_object() || value.is_array()) {
        for (const auto& v : value) row_text(v, out);
    }
}

namespace {

// murmur3's 64-bit finaliser: every bit of the polynomial below reaches every bit of the result.
uint64_t mix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

}  // namespace

void ngram_hashes(const std::vector<std::string_view>& words, int n, std::vector<uint64_t>& hashes) {
    hashes.clear();
    if (n < 1 || words.size() < static_cast<size_t>(n)) return;
    // Each word hashed once; an n-gram's hash is a polynomial in its words' hashes, rolled along the
    // row in O(1) per word (the harness compares the words joined by spaces, and words hold no
    // spaces, so equal word sequences are equal n-grams).
    constexpr uint64_t kBase = 0x9e3779b97f4a7c15ULL;  // odd
    uint64_t top = 1;  // kBase^(n-1)
    for (int i = 1; i < n; ++i) top *= kBase;
    auto word_hash = [&](size_t i) { return XXH3_64bits(words[i].data(), words[i].size()); };
    thread_local std::vector<uint64_t> word_hashes;
    word_hashes.resize(words.size());
    for (size_t i = 0; i < words.size(); ++i) word_hashes[i] = word_hash(i);
    uint64_t h = 0;
    for (int i = 0; i < n; ++i) h = h * kBase + word_hashes[i];
    hashes.resize(words.size() - n + 1);
    hashes[0] = canonical(mix64(h));
    for (size_t i = 1; i < hashes.size(); ++i) {
        h = (h - word_hashes[i - 1] * top) * kBase + word_hashes[i + n - 1];
        hashes[i] = canonical(mix64(h));
    }
}

EvalNgrams::EvalNgrams(int ngram) : n_(ngram) {
    if (ngram < 1) throw Error("--ngram must be at least 1");
}

void EvalNgrams::add(EvalItem item) {
    std::string buffer;
    std::vector<std::string_view> words;
    std::vector<uint64_t> hashes;
    normalized_words(item.text, buffer, words);
    ngram_hashes(words, n_, hashes);
    item.ngrams = static_cast<int64_t>(hashes.size());
    auto index = static_cast<uint32_t>(items_.size());
    for (uint64_t h : hashes) pending_.emplace_back(h, index);
    items_.push_back(std::move(item));
}

void EvalNgrams::finish() {
    std::sort(pending_.begin(), pending_.end());
    pending_.erase(std::unique(pending_.begin(), pending_.end()), pending_.end());
    size_t distinct = 0;
    for (size_t i = 0; i < pending_.size(); ++i) distinct += i == 0 || pending_[i].first != pending_[i - 1].first;
    size_t capacity = 16;
    while (capacity < 2 * distinct) capacity *= 2;  // at most half full: short probes
    keys_.assign(capacity, 0);
    begin_.assign(capacity, 0);
    end_.assign(capacity, 0);
    postings_.clear();
    postings_.reserve(pending_.size());
    mask_ = capacity - 1;
    for (size_t i = 0; i < pending_.size();) {
        uint64_t h = pending_[i].first;
        size_t slot = h & mask_;
        while (keys_[slot] != 0) slot = (slot + 1) & mask_;
        keys_[slot] = h;
        begin_[slot] = static_cast<uint32_t>(postings_.size());
        for (; i < pending_.size() && pending_[i].first == h; ++i) postings_.push_back(pending_[i].second);
        end_[slot] = static_cast<uint32_t>(postings_.size());
    }
    empty_slots_ = capacity - distinct;
    // A bitmap of about 16 bits per distinct n-gram (at least 2^16): small enough to stay in cache,
    // so that most of a row's n-grams, which are in no eval item, are turned away without touching
    // the table.
    filter_shift_ = 64 - 16;
    while ((uint64_t{1} << (64 - filter_shift_)) < 16 * distinct && filter_shift_ > 64 - 32) --filter_shift_;
    filter_.assign((uint64_t{1} << (64 - filter_shift_)) / 64, 0);
    for (uint64_t k : keys_)
        if (k != 0) filter_[(k >> filter_shift_) / 64] |= uint64_t{1} << ((k >> filter_shift_) % 64);
    pending_.clear();
    pending_.shrink_to_fit();
}

std::pair<const uint32_t*, const uint32_t*> EvalNgrams::find(uint64_t hash) const {
    uint64_t bit = hash >> filter_shift_;
    if (filter_.empty() || !(filter_[bit / 64] >> (bit % 64) & 1)) return {nullptr, nullptr};
    for (size_t slot = hash & mask_;; slot = (slot + 1) & mask_) {
        uint64_t k = keys_[slot];
        if (k == hash) return {postings_.data() + begin_[slot], postings_.data() + end_[slot]};
        if (k == 0) return {nullptr, nullptr};
    }
}

std::vector<ContaminationHit> ContaminationScanner::scan(std::string_view text) {
    normalized_words(text, normalized_, words_);
    ngram_hashes(words_, eval_.ngram(), hashes_);
    struct Tracking {
        uint32_t item;
        int64_t matched = 0;
        size_t run_start = 0, last = 0;       // the current run of consecutive matching positions
        size_t best_start = 0, best_len = 0;  // the longest run so far (in n-gram positions)
    };
    std::vector<Tracking> found;
    for (size_t pos = 0; pos < hashes_.size(); ++pos) {
        auto [first, last] = eval_.find(hashes_[pos]);
        for (const uint32_t* it = first; it != last; ++it) {
            auto t = std::find_if(found.begin(), found.end(), [&](const Tracking& x) { return x.item == *it; });
            if (t == found.end()) {
                found.push_back(Tracking{*it, 0, pos, pos, pos, 0});
                t = found.end() - 1;
            } else if (t->last + 1 != pos) {
                t->run_start = pos;
            }
            t->matched++;
            t->last = pos;
            if (pos - t->run_start + 1 > t->best_len) {
                t->best_start = t->run_start;
                t->best_len = pos - t->run_start + 1;
            }
        }
    }
    std::vector<ContaminationHit> hits;
    hits.reserve(found.size());
    const size_t n = static_cast<size_t>(eval_.ngram());
    for (const Tracking& t : found) {
        ContaminationHit hit;
        hit.item = t.item;
        hit.matched_ngrams = t.matched;
        hit.overlap_words = static_cast<int64_t>(t.best_len + n - 1);
        for (size_t w = t.best_start; w < t.best_start + t.best_len + n - 1; ++w) {
            if (!hit.overlap.empty()) hit.overlap += ' ';
            hit.overlap += words_[w];
        }
        hits.push_back(std::move(hit));
    }
    return hits;
}

namespace {

int64_t size_on_disk(const std::string& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        int64_t total = 0;
        for (const auto& e : fs::recursive_directory_iterator(path, ec))
            if (e.is_regular_file(ec)) total += static_cast<int64_t>(e.file_size(ec));
        return total;
    }
    auto size = fs::file_size(path, ec);
    return ec ? 0 : static_cast<int64_t>(size);
}

}  // namespace

namespace {

// Rows read and given their text on one thread, handed over in batches to the thread that scans
// them: parsing (the readers) and matching each take about half the time, and the machine has two
// cores. At most kMaxBatches batches wait, so memory stays flat.
struct ReadRow {
    RawRow row;
    std::string text;
    std::string line;  // JSON Lines: the row as written
};

class RowQueue {
public:
    static constexpr size_t kBatchRows = 256, kMaxBatches = 8;

    // Producer side. False when the consumer has stopped (the producer should stop too).
    bool push(std::vector<ReadRow>&& batch) {
        std::unique_lock lock(mutex_);
        space_.wait(lock, [&] { return batches_.size() < kMaxBatches || stopped_; });
        if (stopped_) return false;
        batches_.push_back(std::move(batch));
        ready_.notify_one();
        return true;
    }
    void close(std::exception_ptr error) {
        std::lock_guard lock(mutex_);
        closed_ = true;
        error_ = error;
        ready_.notify_one();
    }
    // Consumer side. False at the end (rethrowing the producer's error, if any).
    bool pop(std::vector<ReadRow>& batch) {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return !batches_.empty() || closed_; });
        if (batches_.empty()) {
            if (error_) std::rethrow_exception(error_);
            return false;
        }
        batch = std::move(batches_.front());
        batches_.pop_front();
        space_.notify_one();
        return true;
    }
    void stop() {
        std::lock_guard lock(mutex_);
        stopped_ = true;
        space_.notify_all();
    }

private:
    std::mutex mutex_;
    std::condition_variable ready_, space_;
    std::deque<std::vector<ReadRow>> batches_;
    bool closed_ = false, stopped_ = false;
    std::exception_ptr error_;
};

struct ConsumerStopped {};

// A JSON Lines file as read_jsonl reads it (same parser, same problems), each row with its line as
// written, so that a clean row can be written back byte for byte instead of re-serialised.
void read_jsonl_keeping_lines(const std::string& path, const std::function<void(ReadRow&&)>& on_row) {
    TextStream in(open_byte_source(path));
    try {
        in.skip_bom();
        std::string text;
        while (true) {
            int64_t line = in.line();
            if (!in.read_line(text)) break;
            if (text.find_first_not_of(" \t") == std::string::npos) continue;
            auto parsed = parse_jsonl_line(text, path, line);
            if (auto* problem = std::get_if<Problem>(&parsed)) unusable_row(*problem);
            ReadRow r{std::move(std::get<RawRow>(parsed)), {}, std::move(text)};
            row_text(r.row.value, r.text);
            on_row(std::move(r));
            text = {};
        }
    } catch (const ReadError& e) {
        unusable_row(Problem{path, in.line(), "", std::string(e.what()) + "; the rest of the file was not read"});
    }
}

// User + system time of the whole process (both threads).
double process_cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec); };
    return secs(u.ru_utime) + secs(u.ru_stime);
}

}  // namespace

DecontaminateStats scan_training_files(const std::vector<std::string>& train_files, const ReadOptions& read, const EvalNgrams& eval,
                                       const std::function<void(const RawRow&, std::string_view line, std::vector<ContaminationHit>&&)>& on_row) {
    DecontaminateStats stats;
    auto start = std::chrono::steady_clock::now();
    const double cpu_start = process_cpu_seconds();
    for (const auto& path : train_files) stats.bytes += size_on_disk(path);
    RowQueue queue;
    std::thread reader([&] {
        std::exception_ptr error;
        try {
            std::vector<ReadRow> batch;
            batch.reserve(RowQueue::kBatchRows);
            auto hand_over = [&] {
                if (!queue.push(std::move(batch))) throw ConsumerStopped{};
                batch = {};
                batch.reserve(RowQueue::kBatchRows);
            };
            for (const auto& path : train_files) {
                if (detect_format(path, read) == FileFormat::jsonl) {
                    read_jsonl_keeping_lines(path, [&](ReadRow&& r) {
                        batch.push_back(std::move(r));
                        if (batch.size() == RowQueue::kBatchRows) hand_over();
                    });
                    continue;
                }
                read_rows(
                    path, read,
                    [&](RawRow&& row) {
                        ReadRow r{std::move(row), {}, {}};
                        row_text(r.row.value, r.text);
                        batch.push_back(std::move(r));
                        if (batch.size() == RowQueue::kBatchRows) hand_over();
                    },
                    [](Problem&& p) { unusable_row(p); });
            }
            if (!batch.empty()) hand_over();
        } catch (const ConsumerStopped&) {
        } catch (...) {
            error = std::current_exception();
        }
        queue.close(error);
    });
    try {
        ContaminationScanner scanner(eval);
        std::vector<ReadRow> batch;
        while (queue.pop(batch)) {
            for (auto& r : batch) {
                auto hits = scanner.scan(r.text);
                stats.rows++;
                if (!hits.empty()) stats.contaminated_rows++;
                on_row(r.row, r.line, std::move(hits));
            }
        }
    } catch (...) {
        queue.stop();
        reader.join();
        throw;
    }
    reader.join();
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    stats.cpu_seconds = process_cpu_seconds() - cpu_start;
    return stats;
}

void add_eval_files(const std::vector<std::string>& files, const ReadOptions& read, EvalNgrams& eval) {
    for (const auto& path : files) {
        read_rows(
            path, read,
            [&](RawRow&& row) {
                EvalItem item;
                item.file = row.file;
                item.line = row.line;
                item.location = row.file + ":" + std::to_string(row.line);
                row_text(row.value, item.text);
                if (!item.text.empty()) item.text.pop_back();  // row_text's last line break
                eval.add(std::move(item));
            },
            [](Problem&& p) { unusable_row(p); });
    }
}

}  // namespace lathe::data

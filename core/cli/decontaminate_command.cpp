#include "core/cli/decontaminate_command.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <optional>

#include "core/data/decontaminate.h"
#include "core/eval/doc_format.h"
#include "core/eval/task_config.h"
#include "core/eval/task_docs.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"

namespace lathe {

namespace {

using Json = nlohmann::ordered_json;

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_task_yaml(const std::string& path) { return ends_with(path, ".yaml") || ends_with(path, ".yml"); }

// A task's eval documents (its test split, else its validation split, as the harness evaluates them),
// each as the harness's default decontamination query: doc_to_text.
void add_task_items(const std::string& path, data::EvalNgrams& eval) {
    eval::TaskConfig config = eval::load_task_config(path);
    auto splits = eval::load_task_docs(config);
    const std::string& split_name = config.test_split ? *config.test_split : *config.validation_split;
    const eval::Split& split = splits.at(split_name);
    eval::DocFormatter format(config, split.features);
    for (size_t i = 0; i < split.docs.size(); ++i) {
        data::EvalItem item;
        item.file = path;
        item.line = static_cast<int64_t>(i);
        item.location = path + ": " + split_name + " doc " + std::to_string(i);
        item.text = format.text(split.docs[i]);
        eval.add(std::move(item));
    }
}

// The clean rows as JSON Lines, written through a buffer into an AtomicFile (all or nothing).
class CleanWriter {
public:
    explicit CleanWriter(const std::string& path) : file_(path) {}
    // The row's line as written (JSON Lines), else its value serialised.
    void row(const Json& value, std::string_view line) {
        if (line.empty()) buffer_ += value.dump();
        else buffer_ += line;
        buffer_ += '\n';
        if (buffer_.size() >= (1u << 20)) flush();
    }
    void commit() {
        flush();
        file_.commit();
    }

private:
    void flush() {
        file_.write(buffer_.data(), buffer_.size());
        buffer_.clear();
    }
    AtomicFile file_;
    std::string buffer_;
};

// The first `limit` bytes of text on one line, in quotes, cut at a character boundary.
std::string quoted_preview(const std::string& text, size_t limit = 120) {
    size_t cut = text.size();
    if (cut > limit) {
        cut = limit;
        while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
    }
    std::string s = text.substr(0, cut);
    for (char& c : s)
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    return "\"" + s + (cut < text.size() ? "...\"" : "\"");
}

}  // namespace

void run_data_decontaminate(const DecontaminateCommand& cmd, std::ostream& out) {
    if (cmd.train_files.empty()) throw Error("give at least one training file");
    if (cmd.eval_files.empty()) throw Error("--against: give at least one eval file or task YAML");
    if (!cmd.write_clean.empty() && !ends_with(cmd.write_clean, ".jsonl"))
        throw Error("--write-clean " + cmd.write_clean + ": the clean rows are written as JSON Lines; name a .jsonl file");
    data::ReadOptions read;
    read.format = cmd.format;
    read.json_field = cmd.json_field;

    data::EvalNgrams eval(cmd.ngram);
    for (const auto& path : cmd.eval_files) {
        if (is_task_yaml(path)) add_task_items(path, eval);
        else data::add_eval_files({path}, read, eval);
    }
    eval.finish();
    if (eval.items().empty()) throw Error("--against: the eval files hold no items");
    int64_t too_short = 0;
    for (const auto& item : eval.items()) too_short += item.ngrams == 0;

    std::optional<CleanWriter> clean;
    if (!cmd.write_clean.empty()) clean.emplace(cmd.write_clean);
    std::vector<bool> item_found(eval.items().size(), false);
    const std::string n = std::to_string(cmd.ngram);
    auto stats = data::scan_training_files(cmd.train_files, read, eval, [&](const data::RawRow& row, std::string_view line, std::vector<data::ContaminationHit>&& hits) {
        if (hits.empty()) {
            if (clean) clean->row(row.value, line);
            return;
        }
        Json hits_json = Json::array();
        for (const auto& h : hits) {
            const data::EvalItem& item = eval.items()[h.item];
            item_found[h.item] = true;
            if (cmd.json) {
                hits_json.push_back({{"eval_file", item.file}, {"eval_line", item.line}, {"eval_location", item.location}, {"eval_item", item.text},
                                     {"matched_ngrams", h.matched_ngrams}, {"eval_ngrams", item.ngrams}, {"overlap_words", h.overlap_words},
                                     {"overlap", h.overlap}});
            } else {
                out << row.file << ":" << row.line << ": contains " << item.location << " " << quoted_preview(item.text) << " (" << h.matched_ngrams
                    << " of its " << item.ngrams << " " << n << "-grams; longest overlap " << h.overlap_words << " words: "
                    << quoted_preview(h.overlap) << ")\n";
            }
        }
        if (cmd.json) out << Json{{"event", "contaminated"}, {"file", row.file}, {"line", row.line}, {"hits", hits_json}}.dump() << "\n";
    });
    if (clean) clean->commit();

    int64_t found = 0;
    for (bool f : item_found) found += f;
    const double mb = static_cast<double>(stats.bytes) / 1e6;
    const double mb_s = stats.seconds > 0 ? mb / stats.seconds : 0.0;
    if (cmd.json) {
        Json result = {{"event", "result"},
                       {"ngram", cmd.ngram},
                       {"rows", stats.rows},
                       {"contaminated_rows", stats.contaminated_rows},
                       {"clean_rows", stats.rows - stats.contaminated_rows},
                       {"eval_items", eval.items().size()},
                       {"eval_items_found", found},
                       {"eval_items_too_short", too_short},
                       {"eval_ngrams", eval.distinct_ngrams()},
                       {"bytes", stats.bytes},
                       {"seconds", stats.seconds},
                       {"mb_per_s", mb_s},
                       {"cpu_seconds", stats.cpu_seconds},
                       {"mb_per_cpu_s", stats.cpu_seconds > 0 ? mb / stats.cpu_seconds : 0.0}};
        if (clean) result["clean_file"] = cmd.write_clean;
        out << result.dump() << "\n";
        return;
    }
    char line[256];
    std::snprintf(line, sizeof line, "rows: %lld, contaminated: %lld (%.2f%%)\n", static_cast<long long>(stats.rows),
                  static_cast<long long>(stats.contaminated_rows),
                  stats.rows ? 100.0 * static_cast<double>(stats.contaminated_rows) / static_cast<double>(stats.rows) : 0.0);
    out << line;
    out << "eval items: " << eval.items().size() << ", found in the training data: " << found;
    if (too_short) out << "; " << too_short << " shorter than " << n << " words cannot be matched (try a smaller --ngram)";
    out << "\n";
    std::snprintf(line, sizeof line, "read %.1f MB in %.2f s (%.1f MB/s; %.2f s of CPU time)\n", mb, stats.seconds, mb_s, stats.cpu_seconds);
    out << line;
    if (clean) out << "clean rows written to " << cmd.write_clean << ": " << stats.rows - stats.contaminated_rows << "\n";
}

}  // namespace lathe

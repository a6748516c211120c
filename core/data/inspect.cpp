#include "core/data/inspect.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "core/data/preference.h"
#include "core/data/samples.h"
#include "core/util/error.h"

namespace lathe::data {

void LengthStats::add(int64_t length) {
    ++counts[length];
    ++rows;
    sum += length;
}

int64_t LengthStats::percentile(double p) const {
    int64_t need = static_cast<int64_t>(std::ceil(p * static_cast<double>(rows))), seen = 0;
    for (const auto& [length, n] : counts) {
        seen += n;
        if (seen >= std::max<int64_t>(need, 1)) return length;
    }
    return counts.empty() ? 0 : counts.rbegin()->first;
}

std::vector<LengthStats::Bin> LengthStats::histogram(int bins) const {
    if (counts.empty()) return {};
    int64_t lo = counts.begin()->first, hi = counts.rbegin()->first;
    // A round bin width (1, 2, 5 times a power of ten) so that `bins` bins cover [lo, hi].
    int64_t width = 1;
    for (int64_t scale = 1;; scale *= 10) {
        int64_t w = 0;
        for (int64_t m : {1, 2, 5})
            if (!w && (hi / (m * scale)) - (lo / (m * scale)) < bins) w = m * scale;
        if (w) {
            width = w;
            break;
        }
    }
    std::vector<Bin> out;
    for (int64_t from = lo / width * width; from <= hi; from += width) out.push_back({from, from + width, 0});
    for (const auto& [length, n] : counts) out[static_cast<size_t>((length - out.front().from) / width)].count += n;
    return out;
}

namespace {

bool is_empty_value(const nlohmann::ordered_json& v) {
    return v.is_null() || (v.is_string() && v.get_ref<const std::string&>().find_first_not_of(" \t\r\n") == std::string::npos) ||
           ((v.is_array() || v.is_object()) && v.empty());
}

// The words of a sample, for near-duplicate detection.
std::string sample_text(const Sample& s) {
    std::string text;
    for (const Message& m : s.messages) text += m.content + "\n";
    text += s.prompt + "\n" + s.completion + "\n" + s.text;
    for (int64_t id : s.input_ids) text += std::to_string(id) + " ";
    return text;
}

uint64_t hash_bytes(std::string_view s) {
    uint64_t h = 0xCBF29CE484222325ULL;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ULL;
    return h ^ (s.size() * 0x9E3779B97F4A7C15ULL);
}

std::vector<MarkedSpan> mark_spans(const RenderedRow& r, const TextTokenizer& tokenizer) {
    std::vector<MarkedSpan> spans;
    auto append = [&](std::string text, bool trained) {
        if (text.empty()) return;
        if (!spans.empty() && spans.back().trained == trained) spans.back().text += text;
        else spans.push_back({std::move(text), trained});
    };
    if (r.text.empty()) {  // pretokenized: decode runs of tokens with the same label state
        size_t start = 0;
        for (size_t k = 1; k <= r.input_ids.size(); ++k) {
            if (k == r.input_ids.size() || (r.labels[k] != -100) != (r.labels[start] != -100)) {
                std::vector<int64_t> run(r.input_ids.begin() + start, r.input_ids.begin() + k);
                append(tokenizer.decode(run, false), r.labels[start] != -100);
                start = k;
            }
        }
        return spans;
    }
    // Bytes between tokens (none, usually) go with the token after them; the rest after the last token.
    size_t done = 0;
    for (size_t k = 0; k < r.input_ids.size() && k < r.offsets.size(); ++k) {
        size_t end = std::max(done, std::min(r.offsets[k].second, r.text.size()));
        append(r.text.substr(done, end - done), r.labels[k] != -100);
        done = end;
    }
    append(r.text.substr(done), false);
    return spans;
}

struct Inspector {
    Inspector(const InspectOptions& o, const TextTokenizer* t) : options(o), tokenizer(t), near(o.minhash) {}
    const InspectOptions& options;
    const TextTokenizer* tokenizer;
    InspectReport report;
    std::vector<std::variant<RawRow, Problem>> pending;  // what was read before the type is known, in file order
    bool resolved = false;
    std::vector<std::string> type_fields;  // as the file spells them
    // Row places packed as file number << 40 | line, so the tables cost a few bytes per row.
    std::vector<std::string> file_names;
    std::unordered_map<std::string, uint64_t> file_numbers;
    std::unordered_map<uint64_t, uint64_t> seen;  // hash of the row's JSON -> its first place
    NearDuplicateFinder near;
    std::vector<uint64_t> near_places;

    uint64_t last_file = 0;
    uint64_t pack(const RawRow& r) {
        if (file_names.empty() || file_names[last_file] != r.file) {
            auto [it, added] = file_numbers.try_emplace(r.file, file_names.size());
            if (added) file_names.push_back(r.file);
            last_file = it->second;
        }
        return last_file << 40 | static_cast<uint64_t>(r.line);
    }
    RowPlace unpack(uint64_t packed) const { return RowPlace{file_names[packed >> 40], static_cast<int64_t>(packed & ((1ULL << 40) - 1))}; }

    void problem(Problem&& p) {
        ++report.problem_count;
        if (options.strict) throw Error(p.to_string() + " (stopped: --strict makes the first problem fatal)");
        if (report.problems.size() < options.problems_listed) report.problems.push_back(std::move(p));
    }

    void resolve() {
        resolved = true;
        if (options.type != RowType::automatic) {
            report.type = options.type;
        } else if (mostly_preference_rows()) {
            report.preference = report.type_detected = true;
            for (const char* name : {"prompt", "chosen", "rejected"}) {
                type_fields.push_back(name);
                report.fields.push_back(FieldStats{name, 0, 0, 0});
            }
        } else {
            std::map<RowType, int> votes;
            for (const auto& item : pending)
                if (auto* r = std::get_if<RawRow>(&item))
                    if (auto t = detect_row_type(r->value, options.mapping)) ++votes[*t];
            int best = 0;
            for (const auto& [t, n] : votes)
                if (n > best) {
                    best = n;
                    report.type = t;
                }
            report.type_detected = best > 0;
        }
        for (const std::string& name : report.preference ? std::vector<std::string>{} : row_type_fields(report.type)) {
            auto it = options.mapping.find(name);
            type_fields.push_back(it == options.mapping.end() ? name : it->second);
            report.fields.push_back(FieldStats{type_fields.back(), 0, 0, 0});
        }
        auto items = std::move(pending);
        for (auto& item : items) {
            if (auto* r = std::get_if<RawRow>(&item)) process(std::move(*r));
            else read_problem(std::move(std::get<Problem>(item)));
        }
    }

    // The words of a pair for near-duplicate detection: its texts, or its messages' contents.
    static std::string pair_text(const PreferenceRow& row) {
        std::string text;
        for (const auto* part : {&row.prompt, &row.chosen, &row.rejected}) {
            if (part->is_string()) text += part->get<std::string>() + "\n";
            else if (part->is_array())
                for (const auto& m : *part)
                    if (m.is_object() && m.contains("content") && m["content"].is_string()) text += m["content"].get<std::string>() + "\n";
        }
        return text;
    }

    bool mostly_preference_rows() const {
        int64_t pairs = 0, rows = 0;
        for (const auto& item : pending)
            if (auto* r = std::get_if<RawRow>(&item)) {
                ++rows;
                pairs += is_preference_row(r->value);
            }
        return rows > 0 && 2 * pairs > rows;
    }

    // Exact duplicates (the row's JSON, hashed) and, among the first near_duplicate_rows rows, near
    // duplicates of `text` (what the row says: a sample's fields, a pair's texts).
    void count_duplicates(const RawRow& r, const std::string& text) {
        const RowPlace place{r.file, r.line};
        const uint64_t packed = pack(r);
        auto [it, first] = seen.try_emplace(hash_bytes(r.value.dump()), packed);
        if (!first) {
            ++report.exact_duplicates;
            if (report.exact_duplicate_examples.size() < options.duplicates_listed) report.exact_duplicate_examples.push_back({place, unpack(it->second), 1.0});
        } else if (report.near_duplicate_rows_checked < options.near_duplicate_rows) {
            ++report.near_duplicate_rows_checked;
            auto match = near.add(static_cast<int64_t>(near_places.size()), text);
            near_places.push_back(packed);
            if (match.earlier >= 0) {
                ++report.near_duplicates;
                if (report.near_duplicate_examples.size() < options.duplicates_listed)
                    report.near_duplicate_examples.push_back({place, unpack(near_places[static_cast<size_t>(match.earlier)]), match.similarity});
            }
        }
    }

    // A preference pair: TRL's row forms; identical chosen and rejected teach nothing and are flagged.
    void process_pair(RawRow&& r) {
        auto converted = to_preference_row(r);
        if (auto* p = std::get_if<Problem>(&converted)) return problem(std::move(*p));
        const PreferenceRow& row = std::get<PreferenceRow>(converted);
        if (row.chosen == row.rejected) {
            ++report.identical_pairs;
            return problem(Problem{r.file, r.line, "rejected", "chosen and rejected are identical, so the pair teaches no preference"});
        }
        count_duplicates(r, pair_text(row));
        if (tokenizer) {
            auto pair = tokenize_preference_row(row, *tokenizer, {});
            if (auto* p = std::get_if<Problem>(&pair)) return problem(std::move(*p));
            const PreferencePair& t = std::get<PreferencePair>(pair);
            const int64_t length = static_cast<int64_t>(std::max(t.chosen.ids.size(), t.rejected.ids.size()));
            report.total_lengths.add(length);
            report.tokens += static_cast<int64_t>(t.chosen.ids.size() + t.rejected.ids.size());
            report.trained_tokens += t.chosen.completion_tokens() + t.rejected.completion_tokens();
            if (options.max_length > 0 && length > options.max_length) ++report.over_max_length;
            report.field_lengths["prompt"].add(t.chosen.prompt_tokens);
            report.field_lengths["chosen"].add(t.chosen.completion_tokens());
            report.field_lengths["rejected"].add(t.rejected.completion_tokens());
        }
        ++report.usable_rows;
    }

    void row(RawRow&& r) {
        if (resolved) return process(std::move(r));
        pending.push_back(std::move(r));
        if (pending.size() >= 100) resolve();
    }

    // A row the reader could not read is still a row (a whole-file problem, line 0, is not).
    void read_problem(Problem&& p) {
        if (!resolved) {
            pending.push_back(std::move(p));
            if (pending.size() >= 100) resolve();
            return;
        }
        if (p.line > 0) ++report.rows;
        problem(std::move(p));
    }

    void process(RawRow&& r) {
        ++report.rows;
        for (size_t i = 0; i < type_fields.size(); ++i) {
            auto it = r.value.find(type_fields[i]);
            if (it == r.value.end()) ++report.fields[i].missing;
            else {
                ++report.fields[i].present;
                if (is_empty_value(*it)) ++report.fields[i].empty;
            }
        }
        if (report.preference) return process_pair(std::move(r));
        if (report.type == RowType::automatic) {
            std::string keys;
            for (const auto& [key, value] : r.value.items()) keys += (keys.empty() ? "'" : ", '") + key + "'";
            return problem(Problem{r.file, r.line, "",
                                   "cannot tell the row type from its fields (" + (keys.empty() ? std::string("none") : keys) +
                                       "); name it with --type or map the fields with --map"});
        }
        auto converted = to_sample(r, report.type, options.mapping);
        if (auto* p = std::get_if<Problem>(&converted)) return problem(std::move(*p));
        const Sample& sample = std::get<Sample>(converted);
        const RowPlace place{r.file, r.line};
        count_duplicates(r, sample_text(sample));

        if (tokenizer) {
            RenderOptions render = options.render;
            render.max_length = 0;  // measure whole rows
            auto rendered = render_sample(sample, *tokenizer, render);
            if (auto* p = std::get_if<Problem>(&rendered)) return problem(std::move(*p));
            const RenderedRow& rr = std::get<RenderedRow>(rendered);
            int64_t length = static_cast<int64_t>(rr.input_ids.size());
            report.total_lengths.add(length);
            report.tokens += length;
            for (int64_t label : rr.labels) report.trained_tokens += label != -100;
            if (options.max_length > 0 && length > options.max_length) ++report.over_max_length;
            for (const auto& [part, n] : rr.field_tokens) report.field_lengths[part].add(n);
            if (static_cast<int>(report.examples.size()) < options.examples) {
                RenderedExample ex{place, mark_spans(rr, *tokenizer), length, 0};
                for (int64_t label : rr.labels) ex.trained_tokens += label != -100;
                report.examples.push_back(std::move(ex));
            }
        }
        ++report.usable_rows;
    }
};

}  // namespace

InspectReport inspect_dataset(const std::vector<std::string>& paths, const InspectOptions& options, const TextTokenizer* tokenizer) {
    Inspector inspector(options, tokenizer);
    inspector.report.minhash = options.minhash;
    inspector.report.tokenized = tokenizer != nullptr;
    inspector.report.max_length = options.max_length;
    for (const std::string& path : paths) {
        inspector.report.files.emplace_back(path, file_format_name(detect_format(path, options.read)));
        read_rows(
            path, options.read, [&](RawRow&& row) { inspector.row(std::move(row)); },
            [&](Problem&& p) { inspector.read_problem(std::move(p)); });
    }
    if (!inspector.resolved) inspector.resolve();
    return std::move(inspector.report);
}

}  // namespace lathe::data

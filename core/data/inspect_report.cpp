// The inspection report as JSON (for the GUI and tools; fields documented in docs/data.md) and as text.
#include <cstdio>

#include "core/data/inspect.h"

namespace lathe::data {

namespace {

using Json = nlohmann::ordered_json;

Json place_json(const RowPlace& p) { return Json{{"file", p.file}, {"line", p.line}}; }

Json lengths_json(const LengthStats& s) {
    Json j{{"rows", s.rows},
           {"min", s.counts.empty() ? 0 : s.counts.begin()->first},
           {"max", s.counts.empty() ? 0 : s.counts.rbegin()->first},
           {"mean", s.rows ? static_cast<double>(s.sum) / static_cast<double>(s.rows) : 0.0},
           {"p50", s.percentile(0.5)},
           {"p90", s.percentile(0.9)},
           {"p99", s.percentile(0.99)},
           {"histogram", Json::array()}};
    for (const auto& b : s.histogram()) j["histogram"].push_back(Json{{"from", b.from}, {"to", b.to}, {"count", b.count}});
    return j;
}

Json pairs_json(const std::vector<DuplicatePair>& pairs, bool similarity) {
    Json list = Json::array();
    for (const auto& d : pairs) {
        Json j = place_json(d.row);
        j["duplicate_of"] = place_json(d.of);
        if (similarity) j["similarity"] = d.similarity;
        list.push_back(j);
    }
    return list;
}

std::string percent(int64_t part, int64_t whole) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f%%", whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0);
    return buf;
}

void print_lengths(std::ostream& out, const std::string& name, const LengthStats& s) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "  %-12s rows %-8lld min %-6lld p50 %-6lld p90 %-6lld p99 %-6lld max %-6lld mean %.1f\n", name.c_str(),
                  static_cast<long long>(s.rows), static_cast<long long>(s.counts.empty() ? 0 : s.counts.begin()->first),
                  static_cast<long long>(s.percentile(0.5)), static_cast<long long>(s.percentile(0.9)), static_cast<long long>(s.percentile(0.99)),
                  static_cast<long long>(s.counts.empty() ? 0 : s.counts.rbegin()->first), s.rows ? static_cast<double>(s.sum) / static_cast<double>(s.rows) : 0.0);
    out << buf;
}

void print_histogram(std::ostream& out, const LengthStats& s) {
    auto bins = s.histogram();
    int64_t most = 0;
    for (const auto& b : bins) most = std::max(most, b.count);
    for (const auto& b : bins) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "  %7lld-%-7lld %8lld ", static_cast<long long>(b.from), static_cast<long long>(b.to - 1), static_cast<long long>(b.count));
        out << buf << std::string(most ? static_cast<size_t>(40 * b.count / most) : 0, '#') << "\n";
    }
}

}  // namespace

nlohmann::ordered_json inspect_report_json(const InspectReport& r) {
    Json j;
    j["files"] = Json::array();
    for (const auto& [path, format] : r.files) j["files"].push_back(Json{{"path", path}, {"format", format}});
    j["type"] = r.preference ? Json("preference") : r.type == RowType::automatic ? Json(nullptr) : Json(row_type_name(r.type));
    j["type_detected"] = r.type_detected;
    if (r.preference) j["pairs"] = Json{{"usable", r.usable_rows}, {"identical", r.identical_pairs}};
    j["rows"] = r.rows;
    j["usable_rows"] = r.usable_rows;
    j["fields"] = Json::array();
    for (const auto& f : r.fields) j["fields"].push_back(Json{{"name", f.name}, {"present", f.present}, {"missing", f.missing}, {"empty", f.empty}});
    j["exact_duplicates"] = Json{{"count", r.exact_duplicates}, {"examples", pairs_json(r.exact_duplicate_examples, false)}};
    j["near_duplicates"] = Json{{"count", r.near_duplicates},
                                {"rows_checked", r.near_duplicate_rows_checked},
                                {"method", Json{{"shingle_words", r.minhash.shingle_words},
                                                {"permutations", r.minhash.permutations},
                                                {"bands", r.minhash.bands},
                                                {"threshold", r.minhash.threshold}}},
                                {"examples", pairs_json(r.near_duplicate_examples, true)}};
    Json problems = Json::array();
    for (const auto& p : r.problems) problems.push_back(Json{{"file", p.file}, {"line", p.line}, {"field", p.field}, {"message", p.message}});
    j["problems"] = Json{{"count", r.problem_count}, {"listed", problems}};
    if (!r.tokenized) {
        j["tokens"] = nullptr;
        return j;
    }
    Json fields = Json::object();
    for (const auto& [name, s] : r.field_lengths) fields[name] = lengths_json(s);
    j["tokens"] = Json{{"total", r.tokens},
                       {"trained", r.trained_tokens},
                       {"max_length", r.max_length},
                       {"over_max_length", r.over_max_length},
                       {"over_max_length_share", r.usable_rows ? static_cast<double>(r.over_max_length) / static_cast<double>(r.usable_rows) : 0.0},
                       {"lengths", lengths_json(r.total_lengths)},
                       {"fields", fields}};
    Json examples = Json::array();
    for (const auto& e : r.examples) {
        Json spans = Json::array();
        for (const auto& s : e.spans) spans.push_back(Json{{"text", s.text}, {"trained", s.trained}});
        Json ex = place_json(e.at);
        ex["tokens"] = e.tokens;
        ex["trained_tokens"] = e.trained_tokens;
        ex["spans"] = spans;
        examples.push_back(ex);
    }
    j["examples"] = examples;
    return j;
}

void print_inspect_report(const InspectReport& r, std::ostream& out) {
    for (const auto& [path, format] : r.files) out << path << " (" << format << ")\n";
    out << "rows: " << r.rows << ", usable: " << r.usable_rows << ", with problems: " << r.problem_count << "\n";
    out << "type: " << (r.preference ? "preference" : r.type == RowType::automatic ? "unknown" : row_type_name(r.type))
        << (r.type_detected ? " (detected)" : " (given)") << "\n";
    if (r.preference)
        out << "preference pairs: " << r.usable_rows << " usable, " << r.identical_pairs << " with identical chosen and rejected\n";
    for (const auto& f : r.fields)
        if (f.missing || f.empty) out << "  field '" << f.name << "': missing in " << f.missing << " rows, empty in " << f.empty << "\n";
    out << "exact duplicates: " << r.exact_duplicates << " rows\n";
    for (const auto& d : r.exact_duplicate_examples)
        out << "  " << d.row.file << ":" << d.row.line << " repeats " << d.of.file << ":" << d.of.line << "\n";
    char buf[200];
    std::snprintf(buf, sizeof buf, "near duplicates: %lld of %lld rows checked (MinHash: %d-word shingles, %d permutations, %d bands; estimated Jaccard >= %.2f)\n",
                  static_cast<long long>(r.near_duplicates), static_cast<long long>(r.near_duplicate_rows_checked), r.minhash.shingle_words,
                  r.minhash.permutations, r.minhash.bands, r.minhash.threshold);
    out << buf;
    for (const auto& d : r.near_duplicate_examples) {
        std::snprintf(buf, sizeof buf, " (similarity %.2f)\n", d.similarity);
        out << "  " << d.row.file << ":" << d.row.line << " is like " << d.of.file << ":" << d.of.line << buf;
    }
    if (r.tokenized) {
        out << "tokens: " << r.tokens << " in usable rows, " << r.trained_tokens << " trained (" << percent(r.trained_tokens, r.tokens) << ")\n";
        out << "over max length " << r.max_length << ": " << r.over_max_length << " rows (" << percent(r.over_max_length, r.usable_rows) << ")\n";
        out << "token lengths:\n";
        print_lengths(out, "total", r.total_lengths);
        for (const auto& [name, s] : r.field_lengths) print_lengths(out, name, s);
        out << "histogram of total lengths (tokens: rows):\n";
        print_histogram(out, r.total_lengths);
        for (const auto& e : r.examples) {
            out << "\nexample " << e.at.file << ":" << e.at.line << " (" << e.tokens << " tokens, " << e.trained_tokens
                << " trained; text inside \u27e6 \u27e7 is not trained on):\n";
            for (const auto& s : e.spans) out << (s.trained ? s.text : "\u27e6" + s.text + "\u27e7");
            out << "\n";
        }
    }
    if (r.problem_count) {
        out << "\nproblems (" << r.problem_count << "; the rows named are skipped, --strict stops at the first):\n";
        for (const auto& p : r.problems) out << "  " << p.to_string() << "\n";
        if (static_cast<int64_t>(r.problems.size()) < r.problem_count)
            out << "  ... and " << r.problem_count - static_cast<int64_t>(r.problems.size()) << " more, not listed\n";
    }
}

}  // namespace lathe::data

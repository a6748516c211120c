#include "core/eval/task_docs.h"

#include <filesystem>
#include <set>

#include "core/data/read_rows.h"
#include "core/util/error.h"

namespace lathe::eval {

namespace {

bool parse_int(const std::string& s, int64_t& out) {
    if (s.empty()) return false;
    size_t used = 0;
    try {
        out = std::stoll(s, &used);
    } catch (const std::exception&) {
        return false;
    }
    return used == s.size();
}

bool parse_float(const std::string& s, double& out) {
    if (s.empty()) return false;
    size_t used = 0;
    try {
        out = std::stod(s, &used);
    } catch (const std::exception&) {
        return false;
    }
    return used == s.size();
}

// pandas' read_csv types: a column whose every value is a whole number is int64, one whose every
// value is a number is float64; anything else stays text.
void infer_csv_types(Split& split) {
    for (const auto& column : split.features) {
        bool all_int = true, all_float = true;
        for (const auto& doc : split.docs) {
            const auto& v = doc[column];
            if (!v.is_string()) {
                all_int = all_float = false;
                break;
            }
            int64_t i;
            double f;
            all_int = all_int && parse_int(v.get<std::string>(), i);
            all_float = all_float && parse_float(v.get<std::string>(), f);
        }
        if (!all_int && !all_float) continue;
        for (auto& doc : split.docs) {
            std::string s = doc[column].get<std::string>();
            int64_t i;
            double f;
            if (all_int && parse_int(s, i)) doc[column] = i;
            else if (parse_float(s, f)) doc[column] = f;
        }
    }
}

Split read_split(const TaskConfig& config, const std::string& name) {
    Split split;
    std::set<std::string> seen;
    data::ReadOptions options;
    options.format = config.dataset_path == "json" ? "" : config.dataset_path;
    for (const auto& file : config.data_files.at(name)) {
        if (!std::filesystem::exists(file))
            throw Error(config.file + ": dataset_kwargs.data_files: split '" + name + "': " + file + " does not exist");
        // datasets' json loader takes JSON Lines and JSON arrays alike.
        if (config.dataset_path == "json") {
            auto ext = std::filesystem::path(file).extension().string();
            options.format = ext == ".json" ? "json" : "jsonl";
        }
        data::read_rows(
            file, options,
            [&](data::RawRow&& row) {
                for (const auto& [k, _] : row.value.items())
                    if (seen.insert(k).second) split.features.push_back(k);
                split.docs.push_back(std::move(row.value));
            },
            [&](data::Problem&& problem) { throw Error(config.file + ": split '" + name + "': " + problem.to_string()); });
    }
    if (split.docs.empty()) throw Error(config.file + ": split '" + name + "' has no documents");
    // Every row carries every column, in the column order, as a datasets table does.
    for (auto& doc : split.docs) {
        Doc full = Doc::object();
        for (const auto& f : split.features) full[f] = doc.contains(f) ? doc[f] : Doc();
        doc = std::move(full);
    }
    if (config.dataset_path == "csv") infer_csv_types(split);
    return split;
}

}  // namespace

std::map<std::string, Split> load_task_docs(const TaskConfig& config) {
    std::map<std::string, Split> splits;
    for (const auto* name : {&config.test_split, &config.validation_split, &config.training_split, &config.fewshot_split})
        if (*name && !splits.count(**name)) splits[**name] = read_split(config, **name);
    return splits;
}

}  // namespace lathe::eval

#include "core/eval/task_config.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <regex>
#include <set>

#include "core/util/error.h"

namespace lathe::eval {

const char* output_type_name(OutputType t) {
    switch (t) {
        case OutputType::multiple_choice: return "multiple_choice";
        case OutputType::loglikelihood: return "loglikelihood";
        case OutputType::loglikelihood_rolling: return "loglikelihood_rolling";
        case OutputType::generate_until: return "generate_until";
    }
    return "?";
}

namespace {

using Json = nlohmann::ordered_json;

struct Problems {
    std::vector<std::string> list;
    void add(const std::string& where, const std::string& key, const std::string& what) {
        list.push_back(where + ": " + key + ": " + what);
    }
};

// A plain scalar as PyYAML resolves it (YAML 1.1): null, bool, int, float, else string. Quoted
// scalars stay strings.
Json resolve_scalar(const YAML::Node& node) {
    const std::string& s = node.Scalar();
    if (node.Tag() == "!") return s;
    static const std::set<std::string> nulls = {"", "~", "null", "Null", "NULL"};
    static const std::set<std::string> trues = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const std::set<std::string> falses = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    if (nulls.count(s)) return nullptr;
    if (trues.count(s)) return true;
    if (falses.count(s)) return false;
    static const std::regex int_re(R"([-+]?(0|[1-9][0-9_]*))");
    static const std::regex float_re(R"([-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+)");
    std::string digits;
    for (char c : s)
        if (c != '_') digits += c;
    if (std::regex_match(s, int_re)) {
        try {
            return static_cast<int64_t>(std::stoll(digits));
        } catch (const std::exception&) {
        }
    }
    if (s != "." && std::regex_match(s, float_re)) {
        try {
            return std::stod(digits);
        } catch (const std::exception&) {
        }
    }
    return s;
}

// The whole node as JSON; a !function tag (a Python callable) is reported, not run.
Json to_json(const YAML::Node& node, const std::string& where, const std::string& key, Problems& p) {
    if (node.Tag() == "!function") {
        p.add(where, key, "!function names Python code, which Lathe cannot run; write it as a Jinja template or a field name");
        return nullptr;
    }
    switch (node.Type()) {
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined: return nullptr;
        case YAML::NodeType::Scalar: return resolve_scalar(node);
        case YAML::NodeType::Sequence: {
            Json a = Json::array();
            for (size_t i = 0; i < node.size(); ++i) a.push_back(to_json(node[i], where, key + "[" + std::to_string(i) + "]", p));
            return a;
        }
        case YAML::NodeType::Map: {
            Json o = Json::object();
            for (const auto& kv : node) {
                std::string k = kv.first.Scalar();
                o[k] = to_json(kv.second, where, key.empty() ? k : key + "." + k, p);
            }
            return o;
        }
    }
    return nullptr;
}

struct RawConfig {
    Json values = Json::object();
    std::map<std::string, std::string> where;  // key -> "file:line"
};

// Reads PATH and, first, what it includes (relative to PATH's folder), as the harness merges them.
RawConfig read_raw(const std::string& path, Problems& p, int depth) {
    if (depth > 8) throw Error(path + ": include: more than 8 levels of include (a cycle?)");
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::BadFile&) {
        throw Error(path + ": cannot open the task file");
    } catch (const YAML::Exception& e) {
        throw Error(path + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
    }
    if (!root.IsMap()) throw Error(path + ": a task file must be a YAML mapping of keys");
    RawConfig raw;
    if (root["include"]) {
        const YAML::Node inc = root["include"];
        if (!inc.IsScalar()) throw Error(path + ":" + std::to_string(inc.Mark().line + 1) + ": include: must be a file name");
        std::filesystem::path target = inc.Scalar();
        if (target.is_relative()) target = std::filesystem::path(path).parent_path() / target;
        raw = read_raw(target.string(), p, depth + 1);
    }
    for (const auto& kv : root) {
        std::string key = kv.first.Scalar();
        if (key == "include") continue;
        std::string where = path + ":" + std::to_string(kv.first.Mark().line + 1);
        raw.values[key] = to_json(kv.second, where, key, p);
        raw.where[key] = where;
    }
    return raw;
}

std::vector<std::string> string_list(const Json& v, const std::string& where, const std::string& key, Problems& p) {
    std::vector<std::string> out;
    if (v.is_string()) return {v.get<std::string>()};
    if (!v.is_array()) {
        p.add(where, key, "must be a string or a list of strings");
        return out;
    }
    for (const auto& item : v) {
        if (item.is_string()) out.push_back(item.get<std::string>());
        else p.add(where, key, "must be a list of strings");
    }
    return out;
}

const std::set<std::string>& known_metrics() {
    static const std::set<std::string> m = {"acc", "acc_norm", "exact_match", "perplexity", "word_perplexity", "byte_perplexity", "bits_per_byte"};
    return m;
}

std::vector<std::string> default_metrics(OutputType t) {
    switch (t) {
        case OutputType::loglikelihood: return {"perplexity", "acc"};
        case OutputType::loglikelihood_rolling: return {"word_perplexity", "byte_perplexity", "bits_per_byte"};
        case OutputType::multiple_choice: return {"acc", "acc_norm"};
        case OutputType::generate_until: return {"exact_match"};
    }
    return {};
}

// Which metrics an output type produces (the harness's process_results).
bool metric_fits(const std::string& metric, OutputType t) {
    switch (t) {
        case OutputType::loglikelihood: return metric == "perplexity" || metric == "acc";
        case OutputType::loglikelihood_rolling: return metric == "word_perplexity" || metric == "byte_perplexity" || metric == "bits_per_byte";
        case OutputType::multiple_choice: return metric == "acc" || metric == "acc_norm" || metric == "exact_match";
        case OutputType::generate_until: return metric == "exact_match";
    }
    return false;
}

std::string default_aggregation(const std::string& metric) {
    if (metric == "perplexity") return "perplexity";
    if (metric == "word_perplexity" || metric == "byte_perplexity") return "weighted_perplexity";
    if (metric == "bits_per_byte") return "bits_per_byte";
    return "mean";
}

void read_data_files(const Json& kwargs, const std::string& where, TaskConfig& c, Problems& p) {
    if (!kwargs.is_object()) {
        p.add(where, "dataset_kwargs", "must be a mapping with data_files");
        return;
    }
    for (const auto& [k, v] : kwargs.items()) {
        if (k == "data_files") continue;
        if (k == "trust_remote_code") continue;  // the harness drops it too (datasets >= 4)
        p.add(where, "dataset_kwargs." + k, "Lathe reads local data_files only; remove this key");
    }
    if (!kwargs.contains("data_files")) {
        p.add(where, "dataset_kwargs.data_files", "missing: name the local file(s) of each split");
        return;
    }
    const Json& files = kwargs["data_files"];
    if (files.is_object()) {
        for (const auto& [split, list] : files.items()) c.data_files[split] = string_list(list, where, "dataset_kwargs.data_files." + split, p);
    } else {
        c.data_files["train"] = string_list(files, where, "dataset_kwargs.data_files", p);  // datasets' default split
    }
}

FilterPipeline read_filter(const Json& entry, const std::string& where, size_t index, Problems& p) {
    FilterPipeline f;
    std::string key = "filter_list[" + std::to_string(index) + "]";
    if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() || !entry.contains("filter") ||
        !entry["filter"].is_array()) {
        p.add(where, key, "must have a name and a filter list");
        return f;
    }
    f.name = entry["name"].get<std::string>();
    for (size_t i = 0; i < entry["filter"].size(); ++i) {
        const Json& step = entry["filter"][i];
        std::string skey = key + ".filter[" + std::to_string(i) + "]";
        if (!step.is_object() || !step.contains("function") || !step["function"].is_string()) {
            p.add(where, skey, "must have a function");
            continue;
        }
        FilterStep s;
        s.function = step["function"].get<std::string>();
        if (s.function != "regex" && s.function != "take_first") {
            p.add(where, skey + ".function", "'" + s.function + "' is not a filter Lathe has (regex, take_first)");
            continue;
        }
        for (const auto& [k, v] : step.items()) {
            if (k == "function") continue;
            if (s.function == "regex" && k == "regex_pattern" && v.is_string()) s.regex_pattern = v.get<std::string>();
            else if (s.function == "regex" && k == "group_select" && v.is_number_integer()) s.group_select = v.get<int64_t>();
            else if (s.function == "regex" && k == "fallback" && v.is_string()) s.fallback = v.get<std::string>();
            else p.add(where, skey + "." + k, "not an option of the " + s.function + " filter Lathe honours");
        }
        f.steps.push_back(s);
    }
    return f;
}

MetricSpec read_metric(const Json& entry, const std::string& where, size_t index, OutputType type, Problems& p) {
    MetricSpec m;
    std::string key = "metric_list[" + std::to_string(index) + "]";
    if (!entry.is_object() || !entry.contains("metric") || !entry["metric"].is_string()) {
        p.add(where, key, "must have a metric name");
        return m;
    }
    m.name = entry["metric"].get<std::string>();
    if (!known_metrics().count(m.name)) {
        p.add(where, key + ".metric", "'" + m.name + "' is not a metric Lathe computes (acc, acc_norm, exact_match, perplexity, word_perplexity, byte_perplexity, bits_per_byte)");
        return m;
    }
    if (!metric_fits(m.name, type)) p.add(where, key + ".metric", "'" + m.name + "' is not produced by output_type " + output_type_name(type));
    for (const auto& [k, v] : entry.items()) {
        if (k == "metric") continue;
        if (k == "aggregation") {
            if (!v.is_string() || v.get<std::string>() != default_aggregation(m.name))
                p.add(where, key + ".aggregation", "Lathe aggregates " + m.name + " with '" + default_aggregation(m.name) + "' only");
        } else if (k == "higher_is_better") {
            if (!v.is_boolean()) p.add(where, key + ".higher_is_better", "must be true or false");
        } else if (m.name == "exact_match" && (k == "ignore_case" || k == "ignore_punctuation" || k == "ignore_numbers") && v.is_boolean()) {
            (k == "ignore_case" ? m.ignore_case : k == "ignore_punctuation" ? m.ignore_punctuation : m.ignore_numbers) = v.get<bool>();
        } else if (m.name == "exact_match" && k == "regexes_to_ignore") {
            m.regexes_to_ignore = string_list(v, where, key + ".regexes_to_ignore", p);
        } else {
            p.add(where, key + "." + k, "not an option Lathe honours for " + m.name);
        }
    }
    return m;
}

void read_generation(const Json& g, const std::string& where, TaskConfig& c, Problems& p) {
    if (!g.is_object()) {
        p.add(where, "generation_kwargs", "must be a mapping");
        return;
    }
    bool have_until = false;
    std::optional<int64_t> max_gen_toks, max_new_tokens;
    for (const auto& [k, v] : g.items()) {
        if (k == "until") {
            c.generation.until = string_list(v, where, "generation_kwargs.until", p);
            have_until = true;
        } else if ((k == "max_gen_toks" || k == "max_new_tokens") && v.is_number_integer() && v.get<int64_t>() > 0) {
            (k == "max_gen_toks" ? max_gen_toks : max_new_tokens) = v.get<int64_t>();
        } else if (k == "do_sample") {
            if (!v.is_boolean() || v.get<bool>()) p.add(where, "generation_kwargs.do_sample", "Lathe generates greedily only; set do_sample: false");
        } else if (k == "temperature") {
            if (!v.is_number() || v.get<double>() != 0.0) p.add(where, "generation_kwargs.temperature", "Lathe generates greedily only; set temperature: 0");
        } else {
            p.add(where, "generation_kwargs." + k, "not a generation option Lathe honours (until, max_gen_toks, do_sample: false, temperature: 0)");
        }
    }
    // The harness: max_gen_toks wins over max_new_tokens; no until means the few-shot delimiter.
    if (max_gen_toks) c.generation.max_gen_toks = *max_gen_toks;
    else if (max_new_tokens) c.generation.max_gen_toks = *max_new_tokens;
    if (!have_until) c.generation.until = {c.fewshot_delimiter};
}

}  // namespace

TaskConfig load_task_config(const std::string& path) {
    Problems p;
    RawConfig raw = read_raw(path, p, 0);
    TaskConfig c;
    c.file = path;
    auto where = [&](const std::string& key) { return raw.where.count(key) ? raw.where[key] : path; };
    auto str = [&](const std::string& key, std::string& out) {
        const Json& v = raw.values[key];
        if (v.is_string()) out = v.get<std::string>();
        else p.add(where(key), key, "must be a string");
    };
    auto opt_str = [&](const std::string& key, std::optional<std::string>& out) {
        const Json& v = raw.values[key];
        if (v.is_null()) out.reset();
        else if (v.is_string()) out = v.get<std::string>();
        else p.add(where(key), key, "must be a split name");
    };

    // First the keys that others depend on.
    if (raw.values.contains("output_type")) {
        std::string t;
        str("output_type", t);
        if (t == "multiple_choice") c.output_type = OutputType::multiple_choice;
        else if (t == "loglikelihood") c.output_type = OutputType::loglikelihood;
        else if (t == "loglikelihood_rolling") c.output_type = OutputType::loglikelihood_rolling;
        else if (t == "generate_until") c.output_type = OutputType::generate_until;
        else p.add(where("output_type"), "output_type", "'" + t + "' is not one of multiple_choice, loglikelihood, loglikelihood_rolling, generate_until");
    }
    if (raw.values.contains("fewshot_delimiter")) str("fewshot_delimiter", c.fewshot_delimiter);

    static const std::set<std::string> ignored = {"tag", "group", "task_alias", "metadata", "dataset_name"};
    for (const auto& [key, v] : raw.values.items()) {
        const std::string w = where(key);
        if (key == "task") str(key, c.task);
        else if (key == "dataset_path") {
            str(key, c.dataset_path);
            if (c.dataset_path != "json" && c.dataset_path != "csv" && c.dataset_path != "parquet")
                p.add(w, key, "'" + c.dataset_path + "': Lathe reads local files only: dataset_path json, csv or parquet with dataset_kwargs.data_files");
        } else if (key == "dataset_name") {
            if (!v.is_null()) p.add(w, key, "local json/csv/parquet data has no configurations; remove dataset_name");
        } else if (key == "dataset_kwargs") read_data_files(v, w, c, p);
        else if (key == "training_split") opt_str(key, c.training_split);
        else if (key == "validation_split") opt_str(key, c.validation_split);
        else if (key == "test_split") opt_str(key, c.test_split);
        else if (key == "fewshot_split") opt_str(key, c.fewshot_split);
        else if (key == "doc_to_text" || key == "doc_to_target" || key == "doc_to_choice") {
            bool ok = v.is_string() || v.is_number_integer() || v.is_null() || (key != "doc_to_text" && v.is_array()) ||
                      (key == "doc_to_choice" && v.is_object());
            if (!ok) p.add(w, key, "must be a field name, a Jinja template, an index or a list");
            (key == "doc_to_text" ? c.doc_to_text : key == "doc_to_target" ? c.doc_to_target : c.doc_to_choice) = v;
        } else if (key == "description") str(key, c.description);
        else if (key == "target_delimiter") str(key, c.target_delimiter);
        else if (key == "fewshot_delimiter" || key == "output_type") continue;
        else if (key == "num_fewshot") {
            if (v.is_number_integer() && v.get<int64_t>() >= 0) c.num_fewshot = v.get<int64_t>();
            else if (!v.is_null()) p.add(w, key, "must be a whole number >= 0");
        } else if (key == "generation_kwargs") {
            if (!v.is_null()) read_generation(v, w, c, p);
        } else if (key == "filter_list") {
            if (!v.is_array()) p.add(w, key, "must be a list of {name, filter}");
            else
                for (size_t i = 0; i < v.size(); ++i) c.filters.push_back(read_filter(v[i], w, i, p));
        } else if (key == "metric_list") {
            continue;  // after output_type is known (below)
        } else if (key == "repeats") {
            if (!(v.is_number_integer() && v.get<int64_t>() == 1)) p.add(w, key, "Lathe generates greedily, one answer per document: repeats must be 1");
        } else if (key == "should_decontaminate") {
            if (!(v.is_boolean() && !v.get<bool>())) p.add(w, key, "decontamination inside an eval is not supported; remove it");
        } else if (key == "fewshot_config") {
            if (!v.is_object()) p.add(w, key, "must be a mapping");
            else
                for (const auto& [fk, fv] : v.items()) {
                    if (fk == "sampler" && fv.is_string() && (fv == "default" || fv == "first_n")) c.fewshot_sampler = fv.get<std::string>();
                    else p.add(w, "fewshot_config." + fk, "Lathe honours fewshot_config.sampler (default, first_n) only");
                }
        } else if (ignored.count(key)) {
            continue;
        } else {
            p.add(w, key, "not a task key Lathe can honour (it runs local json/csv/parquet data with Jinja or field-name formatting)");
        }
    }
    if (raw.values.contains("metric_list")) {
        const Json& v = raw.values["metric_list"];
        if (!v.is_array()) p.add(where("metric_list"), "metric_list", "must be a list of {metric: ...}");
        else
            for (size_t i = 0; i < v.size(); ++i) c.metrics.push_back(read_metric(v[i], where("metric_list"), i, c.output_type, p));
    } else {
        for (const auto& m : default_metrics(c.output_type)) {
            MetricSpec spec;
            spec.name = m;
            c.metrics.push_back(spec);
        }
    }
    if (c.output_type == OutputType::generate_until && !raw.values.contains("generation_kwargs")) c.generation.until = {c.fewshot_delimiter};
    if (c.filters.empty()) c.filters.push_back(FilterPipeline{.name = "none", .steps = {FilterStep{.function = "take_first"}}});

    if (c.task.empty()) p.add(path, "task", "missing: every task needs a name");
    if (c.dataset_path.empty()) p.add(path, "dataset_path", "missing: json, csv or parquet");
    else if (c.data_files.empty() && raw.values.contains("dataset_kwargs") == false) p.add(path, "dataset_kwargs.data_files", "missing: name the local file(s) of each split");
    if (!c.test_split && !c.validation_split) p.add(path, "test_split", "missing: a task needs a test_split or validation_split to evaluate on");
    if (c.doc_to_text.is_null() && c.output_type != OutputType::loglikelihood_rolling) p.add(path, "doc_to_text", "missing");
    if (c.doc_to_target.is_null()) p.add(path, "doc_to_target", "missing");
    if (c.output_type == OutputType::multiple_choice && c.doc_to_choice.is_null()) p.add(path, "doc_to_choice", "missing: multiple_choice needs the choices");
    for (const auto* split : {&c.training_split, &c.validation_split, &c.test_split, &c.fewshot_split})
        if (*split && !c.data_files.empty() && !c.data_files.count(**split))
            p.add(path, "dataset_kwargs.data_files", "has no split '" + **split + "' (it names " + [&] {
                std::string names;
                for (const auto& [k, _] : c.data_files) names += (names.empty() ? "" : ", ") + k;
                return names;
            }() + ")");
    if (!p.list.empty()) {
        std::string msg = "task " + path + " has " + std::to_string(p.list.size()) + " problem(s):";
        for (const auto& line : p.list) msg += "\n  " + line;
        throw Error(msg);
    }
    return c;
}

}  // namespace lathe::eval

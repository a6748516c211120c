#include "core/merge/merge_inputs.h"

#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "core/util/error.h"
#include "core/util/json_file.h"

namespace lathe::merge {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

int64_t config_layers(const json& config) {
    for (const char* key : {"num_hidden_layers", "n_layer", "num_layers"})
        if (config.contains(key) && config[key].is_number_integer()) return config[key].get<int64_t>();
    return 0;
}

std::string config_text(const json& config, const char* key) { return config.contains(key) ? config[key].dump() : "(absent)"; }

bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64; }

// The vocabulary as tokenizer.json defines it: the model's vocab and the added tokens with their ids.
std::optional<json> vocabulary(const std::string& dir) {
    fs::path path = fs::path(dir) / "tokenizer.json";
    if (!fs::exists(path)) return std::nullopt;
    json tok = read_json_file(path.string());
    json v = json::object();
    if (tok.contains("model") && tok["model"].contains("vocab")) v["vocab"] = tok["model"]["vocab"];
    json added = json::array();
    if (tok.contains("added_tokens"))
        for (const auto& t : tok["added_tokens"]) added.push_back({t.value("id", -1), t.value("content", "")});
    v["added"] = added;
    return v;
}

InputModelFiles open_one(const std::string& reference, const std::string& label, const Parameters* parameters,
                         const ResolveModel& resolve) {
    InputModelFiles m;
    m.reference = reference;
    m.label = label + " (" + reference + ")";
    m.parameters = parameters;
    try {
        m.dir = resolve(reference);
        if (!fs::is_directory(m.dir)) throw Error("not a folder (a model folder, or run:ID[:STEP])");
        m.weights = Checkpoint::open_dir(m.dir);
        m.config = read_json_file((fs::path(m.dir) / "config.json").string());
    } catch (const Error& e) {
        throw e.within(m.label);
    }
    return m;
}

}  // namespace

std::optional<int64_t> layer_of(const std::string& tensor_name) {
    static const std::regex pattern(R"((?:^|\.)(?:layers|h|blocks|layer)\.(\d+)\.)");
    std::smatch m;
    if (!std::regex_search(tensor_name, m, pattern)) return std::nullopt;
    return std::stoll(m[1].str());
}

MergeInputs open_merge_inputs(const MergeConfig& config, const ResolveModel& resolve) {
    MergeInputs in;
    std::set<std::string> seen;
    std::vector<std::string> problems;
    const bool base_first = config.method->base_required;
    if (base_first) {
        const Parameters* own = nullptr;
        for (const auto& m : config.models)
            if (m.model == config.base_model) own = &m.parameters;
        in.models.push_back(open_one(config.base_model, "base_model", own, resolve));
        in.base = 0;
        seen.insert(config.base_model);
    }
    for (size_t i = 0; i < config.models.size(); ++i) {
        const InputModel& m = config.models[i];
        if (base_first && m.model == config.base_model) continue;
        if (!seen.insert(m.model).second) {
            problems.push_back(config.source + ":" + std::to_string(m.line) + ": models[" + std::to_string(i) + "]: '" + m.model +
                               "' is listed twice");
            continue;
        }
        in.models.push_back(open_one(m.model, "models[" + std::to_string(i) + "]", &m.parameters, resolve));
    }
    if (!base_first && !config.base_model.empty() && !seen.count(config.base_model)) {
        // mergekit adds a base model that is not listed as one more input (weighted by the top-level parameters).
        in.models.push_back(open_one(config.base_model, "base_model", nullptr, resolve));
        in.base = in.models.size() - 1;
    } else if (!base_first && !config.base_model.empty()) {
        for (size_t i = 0; i < in.models.size(); ++i)
            if (in.models[i].reference == config.base_model) in.base = i;
    }
    in.donor = in.base.value_or(0);
    if (!problems.empty()) {
        std::string all;
        for (const auto& p : problems) all += (all.empty() ? "" : "\n") + p;
        throw Error(all);
    }

    const InputModelFiles& donor = in.models[in.donor];
    in.num_layers = config_layers(donor.config);
    const std::vector<std::string> names = donor.weights.names();
    const std::set<std::string> name_set(names.begin(), names.end());
    const std::optional<json> donor_vocab = vocabulary(donor.dir);
    for (const auto& name : names) {
        const TensorEntry& e = *donor.weights.at(name).entry;
        if (!is_float(e.dtype))
            problems.push_back(donor.label + ": tensor '" + name + "' is " + dtype_display_name(e.dtype) + "; only floating-point weights can be merged");
    }
    for (size_t i = 0; i < in.models.size(); ++i) {
        if (i == in.donor) continue;
        const InputModelFiles& m = in.models[i];
        for (const char* key : {"model_type", "architectures", "vocab_size"})
            if (config_text(m.config, key) != config_text(donor.config, key))
                problems.push_back(m.label + ": config.json " + key + " is " + config_text(m.config, key) + " but " + donor.label +
                                   " has " + config_text(donor.config, key));
        if (config_layers(m.config) != in.num_layers)
            problems.push_back(m.label + ": " + std::to_string(config_layers(m.config)) + " layers but " + donor.label + " has " +
                               std::to_string(in.num_layers));
        std::optional<json> vocab = vocabulary(m.dir);
        if (vocab && donor_vocab && *vocab != *donor_vocab)
            problems.push_back(m.label + ": its tokenizer.json vocabulary differs from " + donor.label +
                               "'s; Lathe merges models that share one vocabulary (mergekit's tokenizer_source: union is not supported)");
        int missing = 0;
        for (const auto& name : names) {
            if (!m.weights.contains(name)) {
                if (missing++ < 5) problems.push_back(m.label + ": has no tensor '" + name + "' (" + donor.label + " has it)");
                continue;
            }
            const TensorEntry& a = *m.weights.at(name).entry;
            const TensorEntry& b = *donor.weights.at(name).entry;
            if (a.shape != b.shape) {
                const bool vocab_axis = name.find("embed") != std::string::npos || name.find("lm_head") != std::string::npos ||
                                        name.find("wte") != std::string::npos;
                problems.push_back(m.label + ": tensor '" + name + "' is " + shape_text(a.shape) + " but " + shape_text(b.shape) + " in " +
                                   donor.label + (vocab_axis ? " (different vocabulary sizes)" : ""));
            }
            if (!is_float(a.dtype))
                problems.push_back(m.label + ": tensor '" + name + "' is " + dtype_display_name(a.dtype) + "; only floating-point weights can be merged");
        }
        if (missing > 5) problems.push_back(m.label + ": ... " + std::to_string(missing - 5) + " more tensors missing");
        int extra = 0;
        for (const auto& name : m.weights.names())
            if (!name_set.count(name) && extra++ < 5)
                problems.push_back(m.label + ": tensor '" + name + "' is not in " + donor.label);
        if (extra > 5) problems.push_back(m.label + ": ... " + std::to_string(extra - 5) + " more tensors not in " + donor.label);
    }
    if (!problems.empty()) {
        std::string all = "the models cannot be merged:";
        for (const auto& p : problems) all += "\n  " + p;
        throw Error(all);
    }
    return in;
}

}  // namespace lathe::merge

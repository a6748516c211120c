#include "core/merge/merge_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/util/error.h"

namespace lathe::merge {

namespace {

int line_of(const YAML::Node& node) { return node.Mark().line >= 0 ? node.Mark().line + 1 : 0; }

struct Problems {
    std::string file;
    std::vector<std::string> list;
    void add(int line, const std::string& key, const std::string& what) {
        list.push_back(file + ":" + (line > 0 ? std::to_string(line) : "?") + ": " + key + ": " + what);
    }
    void add(const YAML::Node& node, const std::string& key, const std::string& what) { add(line_of(node), key, what); }
};

std::optional<double> parse_float(const std::string& text) {
    if (text.empty()) return std::nullopt;
    const char* begin = text.c_str();
    char* end = nullptr;
    double v = std::strtod(begin, &end);
    if (end != begin + text.size()) return std::nullopt;
    return v;
}

// pydantic's lax bool: true/false, yes/no, on/off, 1/0 (any case).
std::optional<double> parse_bool(const std::string& text) {
    std::string s = text;
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    if (s == "true" || s == "yes" || s == "on" || s == "1" || s == "t" || s == "y") return 1.0;
    if (s == "false" || s == "no" || s == "off" || s == "0" || s == "f" || s == "n") return 0.0;
    return std::nullopt;
}

std::optional<double> parse_value(ParamType type, const std::string& text) {
    return type == ParamType::Bool ? parse_bool(text) : parse_float(text);
}

bool read_values(const YAML::Node& node, const std::string& key, ScalarOrGradient& out, Problems& p) {
    if (node.IsScalar()) {
        out.values.push_back({node.Scalar(), line_of(node)});
        return true;
    }
    if (node.IsSequence()) {
        for (const auto& item : node) {
            if (!item.IsScalar()) {
                p.add(item, key, "a gradient is a list of numbers");
                return false;
            }
            out.values.push_back({item.Scalar(), line_of(item)});
        }
        return true;
    }
    p.add(node, key, "must be a number, a list of numbers (a gradient) or a list of {filter, value}");
    return false;
}

bool read_condition(const YAML::Node& node, const std::string& key, Condition& c, Problems& p) {
    bool ok = true, has_value = false;
    for (const auto& kv : node) {
        const std::string sub = kv.first.Scalar();
        if (sub == "filter") {
            if (kv.second.IsNull()) continue;
            if (!kv.second.IsScalar()) {
                p.add(kv.second, key + ".filter", "must be a string (part of a tensor name)");
                ok = false;
            } else {
                c.filter = kv.second.Scalar();
            }
        } else if (sub == "value") {
            has_value = true;
            ok = read_values(kv.second, key + ".value", c.value, p) && ok;
        } else {
            p.add(kv.first, key + "." + sub, "unknown key (a condition has filter and value)");
            ok = false;
        }
    }
    if (!has_value) {
        p.add(node, key, "a condition needs a value");
        ok = false;
    }
    return ok;
}

ParameterSetting read_setting(const YAML::Node& node, const std::string& key, Problems& p) {
    ParameterSetting s;
    s.line = line_of(node);
    if (node.IsMap()) {
        s.conditional = true;
        Condition c;
        if (read_condition(node, key, c, p)) s.conditions.push_back(std::move(c));
        return s;
    }
    if (node.IsSequence() && node.size() > 0 && node[0].IsMap()) {
        s.conditional = true;
        for (size_t i = 0; i < node.size(); ++i) {
            const std::string item_key = key + "[" + std::to_string(i) + "]";
            if (!node[i].IsMap()) {
                p.add(node[i], item_key, "a list of conditions holds only {filter, value} entries");
                continue;
            }
            Condition c;
            if (read_condition(node[i], item_key, c, p)) s.conditions.push_back(std::move(c));
        }
        return s;
    }
    read_values(node, key, s.plain, p);
    return s;
}

Parameters read_parameters(const YAML::Node& node, const std::string& key, Problems& p) {
    Parameters out;
    if (node.IsNull()) return out;
    if (!node.IsMap()) {
        p.add(node, key, "must be a mapping of parameter names to values");
        return out;
    }
    for (const auto& kv : node) out[kv.first.Scalar()] = read_setting(kv.second, key + "." + kv.first.Scalar(), p);
    return out;
}

std::string read_string(const YAML::Node& node, const std::string& key, Problems& p) {
    if (!node.IsScalar()) {
        p.add(node, key, "must be a string");
        return "";
    }
    return node.Scalar();
}

// Every scalar of a setting must read as the parameter's type.
void check_types(const ParamSpec& spec, const ParameterSetting& s, const std::string& key, Problems& p) {
    auto check = [&](const ScalarOrGradient& v) {
        if (v.values.empty()) p.add(s.line, key, "an empty list sets nothing");
        for (const auto& x : v.values)
            if (!parse_value(spec.type, x.text))
                p.add(x.line, key, std::string("must be ") + (spec.type == ParamType::Bool ? "true or false" : "a number") +
                                       ", got '" + x.text + "'");
    };
    if (!s.conditional) check(s.plain);
    for (const auto& c : s.conditions) check(c.value);
}

void check_parameters(const MethodSpec& method, const Parameters& params, const std::string& key, bool per_model,
                      MergeConfig& config, Problems& p) {
    for (const auto& [name, setting] : params) {
        const std::string k = key + "." + name;
        const ParamSpec* spec = find_parameter(method, name);
        if (!spec) {
            if (known_parameter(name))
                config.warnings.push_back(config.source + ":" + std::to_string(setting.line) + ": " + k + ": " +
                                          method.name + " does not use '" + name + "'; ignored");
            else
                p.add(setting.line, k, "unknown parameter (" + std::string(method.name) + " takes: " + [&] {
                    std::string names;
                    for (const auto& q : method.parameters) names += (names.empty() ? "" : ", ") + std::string(q.name);
                    return names;
                }() + ")");
            continue;
        }
        if (per_model && spec->scope == ParamScope::Shared)
            config.warnings.push_back(config.source + ":" + std::to_string(setting.line) + ": " + k + ": '" + name +
                                      "' applies to the whole merge and is read from the top-level parameters only; ignored here");
        check_types(*spec, setting, k, p);
    }
}

bool is_float_dtype(const std::string& s) { return s == "float32" || s == "float16" || s == "bfloat16"; }

}  // namespace

MergeConfig parse_merge_config(const std::string& yaml_text, const std::string& source_name) {
    MergeConfig config;
    config.source = source_name;
    Problems p{source_name, {}};
    YAML::Node root;
    try {
        root = YAML::Load(yaml_text);
    } catch (const YAML::Exception& e) {
        throw Error(source_name + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
    }
    if (!root.IsMap()) throw Error(source_name + ": a merge recipe is a YAML mapping (merge_method, models, ...)");

    std::string method_name;
    bool have_models = false;
    for (const auto& kv : root) {
        const std::string key = kv.first.Scalar();
        const YAML::Node& v = kv.second;
        if (key == "merge_method") method_name = read_string(v, key, p);
        else if (key == "base_model") config.base_model = read_string(v, key, p);
        else if (key == "dtype" || key == "out_dtype") {
            std::string s = read_string(v, key, p);
            if (!s.empty() && !is_float_dtype(s)) p.add(v, key, "'" + s + "' is not float32, float16 or bfloat16");
            (key == "dtype" ? config.dtype : config.out_dtype) = s;
        } else if (key == "tokenizer_source") {
            std::string s = read_string(v, key, p);
            if (s != "base")
                p.add(v, key, "'" + s + "' is not supported: Lathe copies the base model's tokenizer (tokenizer_source: base) and "
                              "refuses inputs whose vocabularies differ");
        } else if (key == "parameters") config.parameters = read_parameters(v, key, p);
        else if (key == "models") {
            have_models = true;
            if (!v.IsSequence() || v.size() == 0) {
                p.add(v, key, "must be a list of {model, parameters}");
                continue;
            }
            for (size_t i = 0; i < v.size(); ++i) {
                const std::string k = "models[" + std::to_string(i) + "]";
                const YAML::Node& item = v[i];
                InputModel m;
                m.line = line_of(item);
                if (!item.IsMap()) {
                    p.add(item, k, "must be a mapping with 'model' (and 'parameters')");
                    continue;
                }
                for (const auto& field : item) {
                    const std::string sub = field.first.Scalar();
                    if (sub == "model") m.model = read_string(field.second, k + ".model", p);
                    else if (sub == "parameters") m.parameters = read_parameters(field.second, k + ".parameters", p);
                    else p.add(field.first, k + "." + sub, "unknown key (an input has model and parameters)");
                }
                if (m.model.empty()) p.add(item, k + ".model", "missing: the model folder (or run:ID[:STEP])");
                config.models.push_back(std::move(m));
            }
        } else if (key == "slices" || key == "modules") {
            p.add(v, key, "is not supported: Lathe merges whole models (use models:)");
        } else if (key == "tokenizer" || key == "chat_template") {
            p.add(v, key, "is not supported: the tokenizer and chat template are the base model's (tokenizer_source: base)");
        } else {
            p.add(kv.first, key, "unknown key (merge_method, base_model, models, parameters, dtype, out_dtype, tokenizer_source)");
        }
    }
    if (method_name.empty()) p.add(root, "merge_method", "missing");
    else if (!(config.method = find_method(method_name))) {
        std::string names;
        for (const auto& n : method_names()) names += (names.empty() ? "" : ", ") + n;
        p.add(root["merge_method"], "merge_method", "'" + method_name + "' is not supported (" + names + ")");
    }
    if (!have_models) p.add(root, "models", "missing: the models to merge");

    if (config.method) {
        check_parameters(*config.method, config.parameters, "parameters", false, config, p);
        for (size_t i = 0; i < config.models.size(); ++i)
            check_parameters(*config.method, config.models[i].parameters, "models[" + std::to_string(i) + "].parameters", true, config, p);
        if (config.method->base_required && config.base_model.empty())
            p.add(root, "base_model", std::string("missing: ") + config.method->name + " merges relative to a base model");
        if (config.method->kind == MethodKind::Slerp && have_models) {
            size_t others = 0;
            for (const auto& m : config.models) others += m.model != config.base_model;
            if (others != 1)
                p.add(root["models"], "models", "slerp interpolates between the base model and exactly one other model, got " +
                                                    std::to_string(others) + " besides the base");
        }
    }
    if (!p.list.empty()) {
        std::string all;
        for (const auto& line : p.list) all += (all.empty() ? "" : "\n") + line;
        throw Error(all);
    }
    return config;
}

MergeConfig read_merge_config(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw Error(path + ": cannot read the merge recipe");
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_merge_config(ss.str(), path);
}

namespace {

// mergekit's evaluate_setting for a scalar or gradient.
double evaluate(const ParamSpec& spec, const ScalarOrGradient& v, double t) {
    std::vector<double> values;
    for (const auto& x : v.values) values.push_back(*parse_value(spec.type, x.text));  // checked when parsed
    if (values.size() == 1) return values[0];
    const double n = static_cast<double>(values.size() - 1);
    if (spec.type == ParamType::Bool) return values[static_cast<size_t>(t * n)];
    const double scaled = t * n;
    const size_t i0 = static_cast<size_t>(scaled);
    const size_t i1 = std::min(values.size() - 1, i0 + 1);
    const double frac = scaled - static_cast<double>(i0);
    return (1 - frac) * values[i0] + frac * values[i1];
}

}  // namespace

std::optional<double> resolve_parameter(const ParamSpec& spec, const std::vector<const Parameters*>& sources,
                                        const std::string& tensor_name, double t) {
    for (const Parameters* params : sources) {
        if (!params) continue;
        auto it = params->find(spec.name);
        if (it == params->end()) continue;
        const ParameterSetting& s = it->second;
        if (!s.conditional) {
            if (!s.plain.values.empty()) return evaluate(spec, s.plain, t);
            continue;
        }
        for (const auto& c : s.conditions) {
            if (!c.filter || *c.filter == "*" || (!tensor_name.empty() && tensor_name.find(*c.filter) != std::string::npos)) {
                if (!c.value.values.empty()) return evaluate(spec, c.value, t);
                break;
            }
        }
    }
    return spec.default_value;
}

}  // namespace lathe::merge

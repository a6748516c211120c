// The recipe `lathe merge CONFIG.yml` reads: mergekit's configuration format (mergekit/config.py), so
// mergekit users' recipes work unchanged. Supported: merge_method, base_model, models (each a model and
// its parameters), parameters, dtype, out_dtype, tokenizer_source (base). A parameter is a scalar, a
// gradient (a list interpolated over the layers) or a list of {filter, value} conditions whose value is
// either; docs/merge.md lists every difference from mergekit. Torch-free.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/merge/method_table.h"

namespace lathe::merge {

struct Scalar {
    std::string text;  // as written: "0.5", "true", "1e-3"
    int line = 0;
};

// mergekit's ScalarOrGradient: one value, or a gradient when there are several.
struct ScalarOrGradient {
    std::vector<Scalar> values;
};

struct Condition {
    std::optional<std::string> filter;  // absent or "*": every tensor; else a substring of the tensor's name
    ScalarOrGradient value;
};

// mergekit's ParameterSetting: a scalar or gradient, or a list of conditions (the first that matches wins).
struct ParameterSetting {
    bool conditional = false;
    ScalarOrGradient plain;
    std::vector<Condition> conditions;
    int line = 0;
};

using Parameters = std::map<std::string, ParameterSetting>;

struct InputModel {
    std::string model;  // a folder, or run:ID[:STEP]
    Parameters parameters;
    int line = 0;
};

struct MergeConfig {
    std::string source;  // the file, for messages
    const MethodSpec* method = nullptr;
    std::string base_model;
    std::vector<InputModel> models;
    Parameters parameters;
    std::string dtype;      // what inputs are converted to before merging ("" = as stored)
    std::string out_dtype;  // what the output is written in ("" = the merge's dtype)
    std::string tokenizer_source = "base";
    std::vector<std::string> warnings;  // parameters the method ignores
};

// Parses and checks a recipe; every problem at once in one lathe::Error ("merge.yml:7: models[1].parameters.weight: ...").
MergeConfig parse_merge_config(const std::string& yaml_text, const std::string& source_name);
MergeConfig read_merge_config(const std::string& path);

// The value of parameter `spec` for tensor `tensor_name` at layer position t (0 at the first layer, 1 at
// the last; 0 for tensors outside the layers), from the first of `sources` that sets it, as mergekit's
// resolve_parameter does; the default when none does, and std::nullopt when the parameter is required.
std::optional<double> resolve_parameter(const ParamSpec& spec, const std::vector<const Parameters*>& sources,
                                        const std::string& tensor_name, double t);

}  // namespace lathe::merge

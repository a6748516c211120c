#include "core/merge/method_table.h"

namespace lathe::merge {

namespace {

std::vector<ParamSpec> task_arithmetic_parameters(bool normalize, bool rescale, Sparsification sparsification) {
    std::vector<ParamSpec> p = {
        {"int8_mask", ParamType::Bool, ParamScope::Shared, 0.0},  // only the mask's storage: no effect on values
        {"normalize", ParamType::Bool, ParamScope::Shared, normalize ? 1.0 : 0.0},
        {"rescale", ParamType::Bool, ParamScope::Shared, rescale ? 1.0 : 0.0},
        {"lambda", ParamType::Float, ParamScope::Shared, 1.0},
        {"weight", ParamType::Float, ParamScope::NonBase, std::nullopt},
        {"density", ParamType::Float, ParamScope::NonBase, 1.0},
    };
    if (sparsification == Sparsification::MagnitudeOutliers) p.push_back({"gamma", ParamType::Float, ParamScope::NonBase, 0.01});
    return p;
}

MethodSpec task_arithmetic(const char* name, Consensus consensus, Sparsification sparsification, bool normalize, bool rescale) {
    return {name, MethodKind::TaskArithmetic, consensus, sparsification, true,
            task_arithmetic_parameters(normalize, rescale, sparsification)};
}

const std::vector<MethodSpec>& methods() {
    static const std::vector<MethodSpec> table = {
        {"linear", MethodKind::Linear, Consensus::None, Sparsification::None, false,
         {{"weight", ParamType::Float, ParamScope::Input, std::nullopt},
          {"normalize", ParamType::Bool, ParamScope::Shared, 1.0}}},
        {"slerp", MethodKind::Slerp, Consensus::None, Sparsification::None, true,
         {{"t", ParamType::Float, ParamScope::Shared, std::nullopt}}},
        task_arithmetic("task_arithmetic", Consensus::None, Sparsification::None, false, false),
        task_arithmetic("ties", Consensus::Sum, Sparsification::Magnitude, true, false),
        task_arithmetic("dare_ties", Consensus::Sum, Sparsification::Random, false, true),
        task_arithmetic("dare_linear", Consensus::None, Sparsification::Random, false, true),
        task_arithmetic("breadcrumbs", Consensus::None, Sparsification::MagnitudeOutliers, false, false),
        task_arithmetic("breadcrumbs_ties", Consensus::Sum, Sparsification::MagnitudeOutliers, false, false),
    };
    return table;
}

}  // namespace

const MethodSpec* find_method(const std::string& name) {
    for (const auto& m : methods())
        if (name == m.name) return &m;
    return nullptr;
}

std::vector<std::string> method_names() {
    std::vector<std::string> names;
    for (const auto& m : methods()) names.push_back(m.name);
    return names;
}

const ParamSpec* find_parameter(const MethodSpec& method, const std::string& name) {
    for (const auto& p : method.parameters)
        if (name == p.name) return &p;
    return nullptr;
}

bool known_parameter(const std::string& name) {
    for (const auto& m : methods())
        if (find_parameter(m, name)) return true;
    // mergekit methods Lathe does not implement (della's epsilon, nuslerp's, model_stock's, ...)
    static const char* others[] = {"epsilon", "nuslerp_flatten", "nuslerp_row_wise", "filter_wise", "select_topk",
                                   "tokenizer_source", "eps", "max_iter", "tol"};
    for (const char* o : others)
        if (name == o) return true;
    return false;
}

}  // namespace lathe::merge

// The merge methods `lathe merge` knows, as a table after mergekit's registry (merge_methods/registry.py,
// mergekit 0.1.5): each method's parameters with their scope, type and default, and the switches of the
// generalized task arithmetic family (consensus, sparsification, normalize/rescale defaults). Torch-free.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace lathe::merge {

enum class MethodKind { Linear, TaskArithmetic, Slerp };
enum class Consensus { None, Sum };                              // TIES' sign election ("sum")
enum class Sparsification { None, Magnitude, Random, MagnitudeOutliers };
enum class ParamType { Float, Bool };
// Shared: one value per tensor (from the top-level `parameters`); Input: each input model, the base
// included; NonBase: each input model but the base.
enum class ParamScope { Shared, Input, NonBase };

struct ParamSpec {
    const char* name;
    ParamType type;
    ParamScope scope;
    std::optional<double> default_value;  // none: required (bools as 0 / 1)
};

struct MethodSpec {
    const char* name;
    MethodKind kind;
    Consensus consensus = Consensus::None;
    Sparsification sparsification = Sparsification::None;
    bool base_required = false;
    std::vector<ParamSpec> parameters;
};

// nullptr for a method Lathe does not implement.
const MethodSpec* find_method(const std::string& name);
std::vector<std::string> method_names();
const ParamSpec* find_parameter(const MethodSpec& method, const std::string& name);
// Whether any method (of mergekit's, that Lathe implements) takes this parameter: a name no method
// knows is a typo, one another method knows is ignored with a warning (mergekit ignores both).
bool known_parameter(const std::string& name);

}  // namespace lathe::merge

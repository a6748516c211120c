// The harness's answer filters for generate_until: `regex` (re.findall, then the group_select'th
// match, a tuple's first non-empty group, stripped; `fallback` when nothing matches) and `take_first`;
// and re.sub for exact_match's regexes_to_ignore. Patterns run on PCRE2 with Unicode classes, which
// read Python's `re` syntax the same for the patterns tasks use. Torch-free.
#pragma once

#include <string>
#include <vector>

#include "core/eval/task_config.h"

namespace lathe::eval {

// One response through one pipeline (the harness applies it to the list of a document's responses;
// Lathe has one response per document, so take_first leaves it as is).
std::string apply_filter(const FilterPipeline& pipeline, const std::string& response);

// Python's re.findall(pattern, text): whole matches without groups, group 1 with one group, all groups
// with several (one vector per match).
std::vector<std::vector<std::string>> regex_findall(const std::string& pattern, const std::string& text);
// re.sub(pattern, "", text)
std::string regex_remove(const std::string& pattern, const std::string& text);

}  // namespace lathe::eval

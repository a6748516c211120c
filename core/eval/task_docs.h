// The documents of a task's splits, read from its local data_files as datasets.load_dataset(json |
// csv | parquet) gives them: every document carries every column of its split (null where a row lacks
// it), CSV columns of whole numbers become ints and of numbers floats, as pandas infers. Torch-free.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/eval/task_config.h"

namespace lathe::eval {

using Doc = nlohmann::ordered_json;

struct Split {
    std::vector<Doc> docs;
    std::vector<std::string> features;  // column names, in first-seen order
};

// Reads every split the task names (test, validation, training, fewshot). Throws lathe::Error naming
// the file and line of the first unreadable row, or a missing file.
std::map<std::string, Split> load_task_docs(const TaskConfig& config);

}  // namespace lathe::eval

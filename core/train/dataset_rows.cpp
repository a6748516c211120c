#include "core/train/dataset_rows.h"

namespace lathe {

data::PrepareOptions prepare_options(const TrainConfig& c) {
    data::PrepareOptions po;
    po.tokenizer_dir = c.base_model;
    po.sequence_len = c.sequence_len;
    po.train_on_inputs = c.train_on_inputs;
    po.strict = c.strict;
    po.truncation = c.truncation == "left" ? data::Truncation::left : c.truncation == "drop" ? data::Truncation::drop : data::Truncation::right;
    po.cache_dir = data::default_token_cache_dir(c.dataset_prepared_path);
    return po;
}

std::vector<Example> examples_of(const data::TokenRows& rows) {
    std::vector<Example> out(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
        auto ids = rows.input_ids(i), labels = rows.labels(i);
        out[i].input_ids.assign(ids.begin(), ids.end());
        out[i].labels.assign(labels.begin(), labels.end());
    }
    return out;
}

}  // namespace lathe

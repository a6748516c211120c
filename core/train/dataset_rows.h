// A run's supervised datasets as the trainer's Examples: the prepare options its keys ask for, and the
// token rows (cached, memory-mapped) copied into Examples. Shared by the training data and the probes.
#pragma once

#include <vector>

#include "core/data/prepare.h"
#include "core/data/token_cache.h"
#include "core/train/batch.h"
#include "core/train/train_config.h"

namespace lathe {

// The tokenizer, sequence length, truncation, label masking and cache folder the run's keys ask for.
data::PrepareOptions prepare_options(const TrainConfig& c);

// Every row's input_ids and labels, copied out of the token cache.
std::vector<Example> examples_of(const data::TokenRows& rows);

}  // namespace lathe

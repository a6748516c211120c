// Raw text for continued pretraining: documents tokenized with the model's own tokenizer, each ended by
// EOS, split into rows of at most sequence_len tokens, every token trained on.
#pragma once

#include <string>
#include <vector>

#include "core/text/text_tokenizer.h"
#include "core/train/batch.h"

namespace lathe {

// PATH is a .jsonl file (one document per line, in a "text" field) or a plain-text file (one document).
// Errors name the file and line.
std::vector<Example> read_text_dataset(const std::string& path, const TextTokenizer& tokenizer, int64_t sequence_len);

}  // namespace lathe

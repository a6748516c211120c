// `lathe export --verify`: loads what an export wrote (the merged folder, the PEFT adapter over its base,
// or the GGUF file through Lathe's own GGUF reader) and compares it with the trained model it came from on
// a few texts: how often both predict the same next token, the mean KL divergence of their next-token
// distributions, each one's perplexity, and whether the tokenizer, chat template and end-of-sequence token
// it carries are the trained model's. A GGUF below the agreement its quant type normally keeps (measured
// on SmolLM2-135M-Instruct, docs/export.md) gets a warning.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/export/export_source.h"

namespace lathe {

struct ExportCheck {
    std::string format;                  // merged, peft or gguf
    std::string gguf_type;               // gguf: f16, q4_k_m, ...
    int64_t texts = 0, tokens = 0;       // next-token positions compared
    double top1_agreement = 0;           // share of positions where both models' most likely next token is the same
    double mean_kl = 0;                  // mean KL(trained || exported) of the next-token distributions, in nats
    double perplexity_trained = 0, perplexity_exported = 0;
    bool tokenizer_same = true;          // the export's tokenizer encodes every text to the same ids
    std::optional<bool> chat_template_same;  // nullopt: the trained model has no chat template
    std::string eos_trained, eos_exported;   // end-of-sequence token strings ("" when none)
    double min_top1_agreement = 0;       // what this format / quant type normally keeps (below: a warning)
    std::vector<std::string> warnings;

    // The `export_verify` event (docs/export.md).
    nlohmann::json to_json() const;
};

// The agreement an export of this format (and GGUF type) keeps at least, measured on SmolLM2-135M-Instruct.
double expected_top1_agreement(const std::string& format, const std::string& gguf_type);

// `exported`: what run_export returned (a folder). Throws lathe::Error when the export cannot be loaded.
ExportCheck check_export(const ExportSource& source, const std::string& exported, const std::string& format,
                         const std::string& gguf_type);

}  // namespace lathe

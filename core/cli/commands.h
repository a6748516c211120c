// What the `lathe` subcommands do, apart from parsing their flags (app/lathe_main.cpp does that).
// Each writes results to `out` and throws lathe::Error for anything a user must fix.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace lathe {

struct InfoCommand {
    std::string model_dir;
    bool json = false;
};
void run_info(const InfoCommand& cmd, std::ostream& out);

struct LogitsCommand {
    std::string model_dir;
    std::string adapter_dir;   // optional PEFT adapter
    bool merge = false;        // merge the adapter into the weights first
    std::string input_path;    // safetensors with input_ids [B,T] (+ attention_mask, token_type_ids)
    std::string output_path;   // safetensors with float32 logits
    std::string device = "cpu";
    std::string dtype;         // empty: the checkpoint's own
};
void run_logits(const LogitsCommand& cmd, std::ostream& out);

struct GenerateCommand {
    std::string model_dir;
    std::string adapter_dir;
    std::string prompt;        // token ids separated by spaces or commas (text once tokenizers land)
    int64_t max_new_tokens = 64;
    bool greedy = false;
    double temperature = 1.0;
    int64_t top_k = 0;
    double top_p = 1.0;
    double repetition_penalty = 1.0;
    uint64_t seed = 0;
    std::vector<int64_t> stop_ids;  // extra stop tokens besides the model's EOS
    std::string device = "cpu";
    std::string dtype;
};
void run_generate(const GenerateCommand& cmd, std::ostream& out);

// "1 2, 3" -> {1, 2, 3}; errors name the bad piece.
std::vector<int64_t> parse_token_ids(const std::string& text);

}  // namespace lathe

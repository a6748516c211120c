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
    std::string prompt;        // text when the model folder has a tokenizer, else token ids ("1 345 22")
    bool prompt_is_ids = false;  // force reading the prompt as token ids
    bool chat = false;         // wrap the prompt as a user message through the chat template
    std::vector<std::string> stop_strings;  // end generation when the text contains one (cut there)
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
    // Before the result line, print one JSON line per new token as it is chosen: {"token": id} and,
    // with a tokenizer, "text": the text it adds (held back while it ends inside a UTF-8 sequence).
    bool stream = false;
};
void run_generate(const GenerateCommand& cmd, std::ostream& out);

struct TokenizeCommand {
    std::string tokenizer_dir;
    bool add_special_tokens = false;
    std::string text;  // or
    std::string file;  // JSONL, each line an object with a "text" field
};
// Prints the ids as a JSON array (one line per input line with --file).
void run_tokenize(const TokenizeCommand& cmd, std::ostream& out);

struct DetokenizeCommand {
    std::string tokenizer_dir;
    bool skip_special_tokens = false;
    std::string ids;   // "1 2 3", or
    std::string file;  // JSONL, each line a JSON array of ids -> each output line {"text": ...}
};
void run_detokenize(const DetokenizeCommand& cmd, std::ostream& out);

struct ChatTemplateCommand {
    std::string tokenizer_dir;
    std::string messages_file;  // a JSON list of {role, content}, or an object with "messages"
    std::string tools_file;     // optional JSON list of tool schemas
    bool add_generation_prompt = false;
    std::vector<std::string> variables;  // NAME=JSON, e.g. enable_thinking=false
    bool print_ids = false;     // print the prompt's token ids instead of its text
};
void run_chat_template(const ChatTemplateCommand& cmd, std::ostream& out);

struct TrainCommand {
    std::string config_path;   // run.yaml
    std::string resume;        // run id or checkpoint folder
    bool dry_run = false;
    int world_size = 0;        // --dry-run: estimate each of this many data parallel ranks (0: WORLD_SIZE, else 1)
    std::string store;         // run store database (default: RunStore::default_path())
};
// Streams JSON-lines events on `out`. Returns the exit status: 0 completed or stopped, 1 failed.
int run_train(const TrainCommand& cmd, std::ostream& out);

struct RunsCommand {
    std::string action;        // list, show, delete
    int64_t id = 0;
    bool json = false;
    std::string store;
};
void run_runs(const RunsCommand& cmd, std::ostream& out);

struct ExportCommand {
    // The source: a run (and checkpoint), an adapter on a base model, or a folder of full weights.
    int64_t run_id = 0;
    std::string checkpoint = "latest";
    std::string store;
    std::string adapter_dir;
    std::string model_dir;
    std::string base_model;
    std::string format = "merged";
    std::string output;
    std::string dtype;                  // empty: see docs/export.md
    std::string max_shard_size = "5GB";
    std::string gguf_type = "f16";
    bool force = false;
    bool verify = false;                // load what was written and compare it with the trained model
};
// JSON-lines progress on `out` (docs/export.md), a human summary on stderr. Ctrl-C / SIGTERM cancel,
// leaving nothing written.
void run_export_command(const ExportCommand& cmd, std::ostream& out);

struct QuantizeCommand {
    std::string model_dir;
    std::string output;
    std::string quant_type = "nf4";
    bool double_quant = false;
    std::string compute_dtype = "float32";
    std::string max_shard_size = "5GB";
    bool force = false;
};
// Writes MODEL as a bitsandbytes 4-bit folder (what transformers saves with load_in_4bit); JSON-lines
// progress on `out`, a summary on stderr.
void run_quantize(const QuantizeCommand& cmd, std::ostream& out);

struct BenchTrainCommand {
    std::string shape = "qwen2.5-0.5b";  // tiny, qwen2.5-0.5b, llama-3.2-1b, llama-3.1-8b
    int64_t micro_batch = 8;
    int64_t seq = 2048;
    int64_t lora_r = 16;
    int64_t steps = 10;
    int64_t warmup = 3;
    bool gradient_checkpointing = false;
    std::string device = "cuda";
    std::string dtype = "bfloat16";
    // none: full rows; padded: random row lengths in [seq/4, seq], right padding; packed: random-length
    // sequences packed into full rows of seq tokens. Row lengths come from a fixed seed.
    std::string mask = "none";
    // QLoRA: the decoder blocks' linear weights quantized on load to bitsandbytes NF4 with double
    // quantization (a run's defaults for adapter: qlora), computed in --dtype.
    bool load_in_4bit = false;
    int64_t layers = 0;         // decoder layers; 0: the shape's own count
    double lora_dropout = 0.0;  // on the adapters' input (the presets use 0.05)
    // Instead of training: the bytes autograd keeps after the training forward through the layers, with
    // every layer and with the first one only, and their difference per token and per layer.
    bool saved_bytes = false;
    // tokens/s only: each step with the fused ops and with the composites, alternately in one process.
    bool alternate_fused = false;
};
// Prints one JSON line: tokens/s and peak memory of LoRA (all linear layers) training steps, beside the
// memory estimate `lathe train --dry-run` gives for the same run (or, with saved_bytes, the saved bytes).
void run_bench_train(const BenchTrainCommand& cmd, std::ostream& out);

struct DataInspectCommand {
    std::vector<std::string> files;  // files or folders, read in order as one dataset
    std::string model_dir;     // tokenizer and chat template for token lengths and examples
    std::string type;          // row type; "" = detected
    std::string mapping;       // LATHE_NAME=FILE_FIELD,...
    std::string format;        // "" = from the extension
    std::string json_field;    // JSON object files: the key holding the rows
    std::string prompt_template = "alpaca";
    bool json = false;
    bool strict = false;
    int64_t max_length = 2048;
    int examples = 3;
};
// Prints the report (text, or JSON with --json). With --strict the first problem throws lathe::Error.
void run_data_inspect(const DataInspectCommand& cmd, std::ostream& out);

struct ImportCommand {
    std::string gguf_path;     // MODEL.gguf
    std::string output;        // the Hugging Face folder to create
    std::string dtype = "float32";  // float32 or bfloat16
    bool force = false;        // replace an existing output folder
};
// Dequantizes a GGUF model into a Hugging Face folder (core/export/gguf_import.h).
void run_import(const ImportCommand& cmd, std::ostream& out);

struct MergeCommand {
    std::string config_path;   // a mergekit recipe (docs/merge.md)
    std::string output;
    std::string max_shard_size = "5GB";
    uint64_t seed = 0;         // DARE's random drop
    bool force = false;
    std::string store;         // run store for run:ID[:STEP] inputs (default: RunStore::default_path())
};
// Merges as the recipe says, one tensor at a time; JSON-lines progress on `out`, a summary on stderr.
void run_merge(const MergeCommand& cmd, std::ostream& out);

struct SoupCommand {
    std::vector<std::string> inputs;   // model folders or run:ID[:STEP]
    std::string held_out;              // the held-out dataset
    std::string held_out_type;         // "" = detected per row
    int64_t max_rows = 0;              // 0 = every held-out row
    int64_t sequence_len = 2048;
    int64_t batch_size = 8;
    std::string output;
    std::string uniform_output;        // "" = measured, not kept
    std::string max_shard_size = "5GB";
    std::string device = "cpu";
    std::string dtype;                 // "" = the checkpoint's
    bool force = false;
    std::string store;                 // run store for run:ID[:STEP] inputs
};
// Greedy soup of finetunes of one base (docs/merge.md): JSON lines on `out` (each ingredient's loss, each
// decision, then a `done` object with all of them and the uniform soup's loss), a summary on stderr.
void run_soup(const SoupCommand& cmd, std::ostream& out);

// "1 2, 3" -> {1, 2, 3}; errors name the bad piece.
std::vector<int64_t> parse_token_ids(const std::string& text);

}  // namespace lathe

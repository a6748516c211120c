// `lathe`: the headless command line. Parses flags and hands each subcommand to core/cli.
// Exit codes: 0 success, 1 a lathe::Error (bad input, explained on stderr), 2 bad usage.
#include <CLI/CLI.hpp>

#include <iostream>

#include "core/cli/bench_kernels_command.h"
#include "core/cli/commands.h"
#include "core/cli/decontaminate_command.h"
#include "core/util/crash_report.h"
#include "core/cli/eval_command.h"
#include "core/cli/launch_command.h"
#include "core/util/error.h"
#include "core/util/version.h"

int main(int argc, char** argv) {
    lathe::install_crash_report("lathe");
    CLI::App app{"Lathe: finetune language models on your own GPUs"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("lathe ") + lathe::version());

    lathe::InfoCommand info;
    auto* info_cmd = app.add_subcommand("info", "Describe a Hugging Face model folder and check its weights");
    info_cmd->add_option("DIR", info.model_dir, "model folder (config.json + *.safetensors)")->required();
    info_cmd->add_flag("--json", info.json, "print JSON");

    lathe::LogitsCommand logits;
    auto* logits_cmd = app.add_subcommand("logits", "Run a forward pass and save the logits");
    logits_cmd->add_option("--model", logits.model_dir, "model folder")->required();
    logits_cmd->add_option("--adapter", logits.adapter_dir, "PEFT adapter folder to apply");
    logits_cmd->add_flag("--merge", logits.merge, "merge the adapter into the weights before running");
    logits_cmd->add_option("--input", logits.input_path, "safetensors with input_ids [B,T] and optional attention_mask, token_type_ids")->required();
    logits_cmd->add_option("--out", logits.output_path, "safetensors to write float32 'logits' to")->required();
    logits_cmd->add_option("--device", logits.device, "cpu, cuda or cuda:N")->capture_default_str();
    logits_cmd->add_option("--dtype", logits.dtype, "float32, bfloat16 or float16 (default: the checkpoint's)");

    lathe::GenerateCommand gen;
    auto* gen_cmd = app.add_subcommand("generate", "Continue a prompt");
    gen_cmd->add_option("--model", gen.model_dir, "model folder")->required();
    gen_cmd->add_option("--adapter", gen.adapter_dir, "PEFT adapter folder to apply");
    gen_cmd->add_option("--prompt", gen.prompt, "the prompt: text when the model folder has a tokenizer, else token ids (\"1 345 22\")")->required();
    gen_cmd->add_flag("--prompt-ids", gen.prompt_is_ids, "read --prompt as token ids even when there is a tokenizer");
    gen_cmd->add_flag("--chat", gen.chat, "send the prompt as a user message through the model's chat template");
    gen_cmd->add_option("--stop", gen.stop_strings, "stop when the generated text contains this string (repeatable)");
    gen_cmd->add_option("--max-new-tokens", gen.max_new_tokens, "tokens to generate at most")->capture_default_str();
    auto* greedy_flag = gen_cmd->add_flag("--greedy", gen.greedy, "always take the most likely token");
    auto* temperature_opt = gen_cmd->add_option("--temperature", gen.temperature, "sampling temperature")->capture_default_str();
    auto* top_p_opt = gen_cmd->add_option("--top-p", gen.top_p, "nucleus sampling: keep the smallest set with this much probability")->capture_default_str();
    auto* top_k_opt = gen_cmd->add_option("--top-k", gen.top_k, "keep the k most likely tokens (0 = all)")->capture_default_str();
    greedy_flag->excludes(temperature_opt)->excludes(top_p_opt)->excludes(top_k_opt);
    gen_cmd->add_option("--repetition-penalty", gen.repetition_penalty, "divide scores of tokens already seen (1 = off)")->capture_default_str();
    gen_cmd->add_option("--seed", gen.seed, "random seed for sampling")->capture_default_str();
    gen_cmd->add_option("--stop-id", gen.stop_ids, "extra token id that ends generation (repeatable)");
    gen_cmd->add_option("--device", gen.device, "cpu, cuda or cuda:N")->capture_default_str();
    gen_cmd->add_option("--dtype", gen.dtype, "float32, bfloat16 or float16 (default: the checkpoint's)");
    gen_cmd->add_flag("--stream", gen.stream, "print a JSON line {\"token\", \"text\"} per new token as it is chosen, then the result line");

    lathe::ImportCommand imp;
    auto* imp_cmd = app.add_subcommand("import", "Turn a GGUF model into a Hugging Face folder Lathe can finetune");
    imp_cmd->add_option("MODEL", imp.gguf_path, "the .gguf file")->required();
    imp_cmd->add_option("--output", imp.output, "folder to create")->required();
    imp_cmd->add_option("--dtype", imp.dtype, "float32 or bfloat16")->capture_default_str()->check(CLI::IsMember({"float32", "bfloat16"}));
    imp_cmd->add_flag("--force", imp.force, "replace the output folder if it exists");

    lathe::EvalCommand eval;
    auto* eval_cmd = app.add_subcommand("eval", "Score a model on lm-evaluation-harness task YAMLs (local data); progress and results on stdout");
    auto* eval_model = eval_cmd->add_option("--model", eval.model_dir, "model folder (with its tokenizer); with --run, the base model (default: the run's)");
    auto* eval_adapter = eval_cmd->add_option("--adapter", eval.adapter_dir, "PEFT adapter folder to apply");
    auto* eval_run = eval_cmd->add_option("--run", eval.run_id, "evaluate this training run's model (id from `lathe runs list`)");
    eval_cmd->add_option("--checkpoint", eval.checkpoint, "the run's checkpoint: a step, or latest")->capture_default_str()->needs(eval_run);
    eval_cmd->add_option("--store", eval.store, "run store database (default: $LATHE_HOME/lathe.db or ~/.local/share/lathe/lathe.db)");
    eval_run->excludes(eval_adapter);
    eval_cmd->add_option("--tasks", eval.tasks, "task YAML file(s), comma-separated")->required()->delimiter(',');
    eval_cmd->add_option("--limit", eval.limit, "evaluate the first N documents of each task");
    eval_cmd->add_option("--num-fewshot", eval.num_fewshot, "few-shot examples (default: each task's own)");
    eval_cmd->add_option("--batch-size", eval.batch_size, "requests per forward pass")->capture_default_str();
    eval_cmd->add_flag("--json", eval.json, "JSON-lines progress, then one JSON object with the results");
    eval_cmd->add_flag("--log-samples", eval.log_samples, "with --json: each document's requests, log-likelihoods or generation, and scores");
    eval_cmd->add_option("--device", eval.device, "cpu, cuda or cuda:N")->capture_default_str();
    eval_cmd->add_option("--dtype", eval.dtype, "float32, bfloat16 or float16 (default: the checkpoint's)");
    eval_cmd->add_option("--record-run", eval.record_run,
                         "record the scores in the run store beside this run (the Studio's Evaluate page compares them): "
                         "its checkpoints, its base model or an export of it");

    lathe::TokenizeCommand tok;
    auto* tok_cmd = app.add_subcommand("tokenize", "Print token ids as a JSON array");
    tok_cmd->add_option("--tokenizer", tok.tokenizer_dir, "folder with tokenizer.json or tokenizer.model (a model folder)")->required();
    tok_cmd->add_flag("--add-special-tokens", tok.add_special_tokens, "add BOS/EOS etc. as the tokenizer's post-processor does");
    auto* tok_text = tok_cmd->add_option("--text", tok.text, "the text to tokenize");
    auto* tok_file = tok_cmd->add_option("--file", tok.file, "JSONL file, each line an object with a \"text\" field: one array per line");
    tok_text->excludes(tok_file);

    lathe::DetokenizeCommand detok;
    auto* detok_cmd = app.add_subcommand("detokenize", "Turn token ids back into text");
    detok_cmd->add_option("--tokenizer", detok.tokenizer_dir, "folder with tokenizer.json or tokenizer.model")->required();
    detok_cmd->add_flag("--skip-special-tokens", detok.skip_special_tokens, "leave special tokens out of the text");
    auto* detok_ids = detok_cmd->add_option("--ids", detok.ids, "token ids, e.g. \"1 345 22\" or \"[1, 345, 22]\"");
    auto* detok_file = detok_cmd->add_option("--file", detok.file, "JSONL file, each line a JSON array of ids: one {\"text\"} object per line");
    detok_ids->excludes(detok_file);

    lathe::ChatTemplateCommand chat;
    auto* chat_cmd = app.add_subcommand("chat-template", "Render a conversation with the model's chat template");
    chat_cmd->add_option("--tokenizer", chat.tokenizer_dir, "folder with tokenizer_config.json / chat_template.jinja")->required();
    chat_cmd->add_option("--messages", chat.messages_file, "JSON file: a list of {\"role\", \"content\"} messages")->required();
    chat_cmd->add_flag("--add-generation-prompt", chat.add_generation_prompt, "end with the assistant turn's header");
    chat_cmd->add_option("--tools", chat.tools_file, "JSON file: a list of tool (function) schemas");
    chat_cmd->add_option("--var", chat.variables, "extra template variable NAME=JSON, e.g. enable_thinking=false (repeatable)");
    chat_cmd->add_flag("--ids", chat.print_ids, "print the rendered prompt's token ids instead of its text");

    lathe::TrainCommand train;
    auto* train_cmd = app.add_subcommand("train", "Finetune a model as run.yaml says; JSON-lines events on stdout");
    train_cmd->add_option("CONFIG", train.config_path, "run configuration (YAML, Axolotl's keys; see docs/config.md)");
    train_cmd->add_option("--resume", train.resume, "continue a run: its id (from `lathe runs list`) or a checkpoint folder");
    train_cmd->add_flag("--dry-run", train.dry_run, "print the resolved config and a memory estimate, then stop");
    train_cmd->add_option("--world-size", train.world_size, "with --dry-run: estimate each of N data parallel ranks (default: WORLD_SIZE, else 1)")
        ->check(CLI::PositiveNumber);
    train_cmd->add_option("--store", train.store, "run store database (default: $LATHE_HOME/lathe.db or ~/.local/share/lathe/lathe.db)");

    lathe::LaunchCommand launch;
    auto* launch_cmd = app.add_subcommand("launch", "Start the ranks of a data parallel run, as torchrun does (docs/distributed.md)");
    launch_cmd->add_option("--nproc-per-node", launch.nproc_per_node, "ranks on this machine (one per GPU)")->capture_default_str();
    launch_cmd->add_option("--nnodes", launch.nnodes, "machines in the run")->capture_default_str();
    launch_cmd->add_option("--node-rank", launch.node_rank, "this machine's index, 0..nnodes-1")->capture_default_str();
    launch_cmd->add_option("--master-addr", launch.master_addr, "address of node 0, where rank 0 serves the rendezvous store")->capture_default_str();
    launch_cmd->add_option("--master-port", launch.master_port, "TCP port of the rendezvous store on node 0")->capture_default_str();
    launch_cmd->add_option("COMMAND", launch.command, "after --: what every rank runs, e.g. -- train run.yaml")->required();

    lathe::RunsCommand runs;
    auto* runs_cmd = app.add_subcommand("runs", "List, show or delete recorded training runs");
    runs_cmd->add_option("ACTION", runs.action, "list, show or delete")->required()->check(CLI::IsMember({"list", "show", "delete"}));
    runs_cmd->add_option("ID", runs.id, "run id (show, delete)");
    runs_cmd->add_flag("--json", runs.json, "print JSON");
    runs_cmd->add_option("--store", runs.store, "run store database");

    lathe::DataInspectCommand data_inspect;
    auto* data_cmd = app.add_subcommand("data", "Look into datasets (see docs/data.md)");
    data_cmd->require_subcommand(1);
    auto* inspect_cmd = data_cmd->add_subcommand("inspect", "Rows, type, duplicates, problems and (with --model) token lengths of a dataset");
    inspect_cmd->add_option("FILE", data_inspect.files, "JSONL, JSON, CSV/TSV, Parquet or .txt/.md file (.gz/.zst too) or a folder of .txt/.md; several are read as one dataset")->required();
    inspect_cmd->add_option("--model", data_inspect.model_dir, "model folder: token lengths and rendered examples with its tokenizer and chat template");
    inspect_cmd->add_option("--type", data_inspect.type, "row type: alpaca, chat, prompt_completion, text, pretokenized, classification (default: detected)");
    inspect_cmd->add_option("--map", data_inspect.mapping, "field names: LATHE_NAME=FILE_FIELD,... e.g. instruction=question,output=answer");
    inspect_cmd->add_option("--format", data_inspect.format, "file format: jsonl, json, csv, tsv, text, parquet (default: from the extension)");
    inspect_cmd->add_option("--json-field", data_inspect.json_field, "JSON files holding an object: the key of the array of rows");
    inspect_cmd->add_option("--prompt-template", data_inspect.prompt_template, "alpaca and prompt/completion rows: alpaca, chat_template or none")->capture_default_str();
    inspect_cmd->add_flag("--json", data_inspect.json, "print JSON (fields in docs/data.md)");
    inspect_cmd->add_flag("--strict", data_inspect.strict, "stop with exit status 1 at the first problem");
    inspect_cmd->add_option("--max-length", data_inspect.max_length, "count rows longer than this many tokens")->capture_default_str();
    inspect_cmd->add_option("--examples", data_inspect.examples, "rendered examples to show (with --model)")->capture_default_str();
    lathe::DecontaminateCommand decon;
    auto* decon_cmd = data_cmd->add_subcommand("decontaminate", "Training rows that contain eval items (n-gram overlap, as lm-evaluation-harness normalises text)");
    decon_cmd->add_option("TRAIN", decon.train_files, "training data: files or folders in any format `data inspect` reads")->required();
    decon_cmd->add_option("--against", decon.eval_files, "eval data: files (each row an item) or lm-evaluation-harness task YAMLs")->required();
    decon_cmd->add_option("--ngram", decon.ngram, "words per n-gram")->capture_default_str();
    decon_cmd->add_flag("--json", decon.json, "JSON lines: one per contaminated row, then the result (docs/data.md)");
    decon_cmd->add_option("--write-clean", decon.write_clean, "write the rows without contamination to this .jsonl file");
    decon_cmd->add_option("--format", decon.format, "file format: jsonl, json, csv, tsv, text, parquet (default: from the extension)");
    decon_cmd->add_option("--json-field", decon.json_field, "JSON files holding an object: the key of the array of rows");

    lathe::ExportCommand exp;
    auto* export_cmd = app.add_subcommand("export", "Write a trained model as a merged Hugging Face model, a PEFT adapter or a GGUF file; JSON-lines progress on stdout");
    auto* export_run = export_cmd->add_option("--run", exp.run_id, "export this run (id from `lathe runs list`)");
    export_cmd->add_option("--checkpoint", exp.checkpoint, "the run's checkpoint: a step, or latest")->capture_default_str()->needs(export_run);
    export_cmd->add_option("--store", exp.store, "run store database (default: $LATHE_HOME/lathe.db or ~/.local/share/lathe/lathe.db)");
    auto* export_adapter = export_cmd->add_option("--adapter", exp.adapter_dir, "export this PEFT adapter folder (or LoRA checkpoint)");
    auto* export_model = export_cmd->add_option("--model", exp.model_dir, "export this folder of full weights (e.g. a full-finetune checkpoint)");
    export_run->excludes(export_adapter)->excludes(export_model);
    export_adapter->excludes(export_model);
    export_cmd->add_option("--base-model", exp.base_model, "the base model folder (default: the run's, or the adapter's base_model_name_or_path)");
    export_cmd->add_option("--format", exp.format, "merged, peft or gguf")->capture_default_str()->check(CLI::IsMember({"merged", "peft", "gguf"}));
    export_cmd->add_option("--gguf-type", exp.gguf_type, "gguf: f32, f16, bf16, q8_0, q4_0, q4_k_m, q5_k_m or q6_k")->capture_default_str();
    export_cmd->add_option("--output", exp.output, "the folder to create")->required();
    export_cmd->add_option("--dtype", exp.dtype, "float32, bfloat16 or float16 (default: the base model's; peft: as saved)");
    export_cmd->add_option("--max-shard-size", exp.max_shard_size, "largest safetensors shard, e.g. 5GB, 500MB, 2GiB")->capture_default_str();
    export_cmd->add_flag("--force", exp.force, "replace OUTPUT if it exists");
    export_cmd->add_flag("--verify", exp.verify, "load what was written and compare it with the trained model (an export_verify event)");

    lathe::BenchTrainCommand bench;
    auto* bench_cmd = app.add_subcommand("bench", "Benchmarks (results in docs/performance.md)");
    auto* bench_train = bench_cmd->add_subcommand("train", "LoRA training tokens/s and peak memory on a random model of a real shape");
    bench_cmd->require_subcommand(1);
    bench_train->add_option("--shape", bench.shape, "tiny, qwen2.5-0.5b, llama-3.2-1b, llama-3.1-8b")->capture_default_str();
    bench_train->add_option("--micro-batch", bench.micro_batch, "rows per step")->capture_default_str();
    bench_train->add_option("--seq", bench.seq, "tokens per row")->capture_default_str();
    bench_train->add_option("--lora-r", bench.lora_r, "LoRA rank (all linear layers)")->capture_default_str();
    bench_train->add_option("--steps", bench.steps, "measured steps")->capture_default_str();
    bench_train->add_option("--warmup", bench.warmup, "unmeasured steps first")->capture_default_str();
    bench_train->add_flag("--gradient-checkpointing", bench.gradient_checkpointing, "recompute layers in backward");
    bench_train->add_option("--device", bench.device, "cuda, cuda:N or cpu")->capture_default_str();
    bench_train->add_option("--dtype", bench.dtype, "bfloat16, float16 or float32")->capture_default_str();
    bench_train->add_option("--mask", bench.mask, "none, padded (random row lengths, right padding) or packed (random-length sequences packed into rows)")
        ->check(CLI::IsMember({"none", "padded", "packed"}))
        ->capture_default_str();
    bench_train->add_flag("--load-in-4bit", bench.load_in_4bit, "QLoRA: quantize the base's decoder linear layers on load (NF4, double quantization)");
    bench_train->add_option("--layers", bench.layers, "decoder layers (default 0: the shape's own count)")->capture_default_str();
    bench_train->add_option("--lora-dropout", bench.lora_dropout, "dropout on the adapters' input (the presets use 0.05)")->capture_default_str();
    bench_train->add_flag("--saved-bytes", bench.saved_bytes,
                          "instead of training: the bytes autograd keeps after the layers' forward, per token and per layer "
                          "(with all layers and with one; docs/performance.md)");
    bench_train->add_flag("--alternate-fused", bench.alternate_fused,
                          "tokens/s only: run each step with the fused ops and with the LibTorch composites, alternately in this one process");
    lathe::BenchKernelsCommand bench_kern;
    auto* bench_kernels = bench_cmd->add_subcommand("kernels", "Each fused op of kernels/ against its LibTorch composite: time and memory");
    bench_kernels->add_option("--tokens", bench_kern.sizes.tokens, "rows of every op (batch x sequence)")->capture_default_str();
    bench_kernels->add_option("--hidden", bench_kern.sizes.hidden, "RMSNorm, lm_head and LoRA width")->capture_default_str();
    bench_kernels->add_option("--intermediate", bench_kern.sizes.intermediate, "SwiGLU / GeGLU width")->capture_default_str();
    bench_kernels->add_option("--heads", bench_kern.sizes.heads, "rotary: attention heads")->capture_default_str();
    bench_kernels->add_option("--head-dim", bench_kern.sizes.head_dim, "rotary: features per head (even)")->capture_default_str();
    bench_kernels->add_option("--vocab", bench_kern.sizes.vocab, "linear + cross-entropy: vocabulary size")->capture_default_str();
    bench_kernels->add_option("--loss-chunk", bench_kern.sizes.loss_chunk, "linear + cross-entropy: rows of logits at a time")->capture_default_str();
    bench_kernels->add_option("--lora-rank", bench_kern.sizes.lora_rank, "LoRA linear: rank")->capture_default_str();
    bench_kernels->add_option("--iters", bench_kern.sizes.iters, "measured iterations")->capture_default_str();
    bench_kernels->add_option("--warmup", bench_kern.sizes.warmup, "unmeasured iterations first")->capture_default_str();
    bench_kernels->add_option("--device", bench_kern.device, "cuda, cuda:N or cpu")->capture_default_str();
    bench_kernels->add_option("--dtype", bench_kern.dtype, "bfloat16, float16 or float32")->capture_default_str();

    lathe::QuantizeCommand quant;
    auto* quant_cmd = app.add_subcommand("quantize", "Write a model as a bitsandbytes 4-bit (NF4/FP4) folder that transformers loads; JSON-lines progress on stdout");
    quant_cmd->add_option("--model", quant.model_dir, "the float Hugging Face model folder")->required();
    quant_cmd->add_option("--output", quant.output, "the folder to create")->required();
    quant_cmd->add_option("--quant-type", quant.quant_type, "nf4 or fp4")->capture_default_str()->check(CLI::IsMember({"nf4", "fp4"}));
    quant_cmd->add_flag("--double-quant", quant.double_quant, "quantize the block scales too (bnb_4bit_use_double_quant)");
    quant_cmd->add_option("--compute-dtype", quant.compute_dtype, "float32, bfloat16 or float16 (bnb_4bit_compute_dtype)")
        ->capture_default_str()->check(CLI::IsMember({"float32", "bfloat16", "float16"}));
    quant_cmd->add_option("--max-shard-size", quant.max_shard_size, "largest safetensors shard, e.g. 5GB")->capture_default_str();
    quant_cmd->add_flag("--force", quant.force, "replace OUTPUT if it exists");

    lathe::MergeCommand merge;
    auto* merge_cmd = app.add_subcommand("merge", "Merge models as a mergekit recipe says (docs/merge.md); JSON-lines progress on stdout");
    merge_cmd->add_option("CONFIG", merge.config_path, "the recipe (mergekit's YAML: merge_method, base_model, models, parameters)")->required();
    merge_cmd->add_option("--output", merge.output, "the folder to create")->required();
    merge_cmd->add_option("--max-shard-size", merge.max_shard_size, "largest safetensors shard, e.g. 5GB")->capture_default_str();
    merge_cmd->add_option("--seed", merge.seed, "seed of DARE's random drop")->capture_default_str();
    merge_cmd->add_flag("--force", merge.force, "replace OUTPUT if it exists");
    merge_cmd->add_option("--store", merge.store, "run store database for run:ID[:STEP] inputs (default: $LATHE_HOME/lathe.db or ~/.local/share/lathe/lathe.db)");

    lathe::SoupCommand soup;
    auto* soup_cmd = app.add_subcommand("soup", "Greedy soup: average finetunes of one base, best held-out loss first, keeping each that does not raise it (docs/merge.md); JSON lines on stdout");
    soup_cmd->add_option("INPUT", soup.inputs, "model folders or run:ID[:STEP] (finetunes of one base)")->required();
    soup_cmd->add_option("--held-out", soup.held_out, "held-out data (JSONL, ... as `datasets:` reads it)")->required();
    soup_cmd->add_option("--type", soup.held_out_type, "row type of the held-out data (default: detected)");
    soup_cmd->add_option("--max-rows", soup.max_rows, "use at most this many held-out rows (0: all)")->capture_default_str();
    soup_cmd->add_option("--sequence-len", soup.sequence_len, "longest held-out row in tokens")->capture_default_str();
    soup_cmd->add_option("--batch-size", soup.batch_size, "rows per evaluation batch")->capture_default_str();
    soup_cmd->add_option("--output", soup.output, "the folder for the greedy soup")->required();
    soup_cmd->add_option("--uniform-output", soup.uniform_output, "also keep the uniform soup of every input here");
    soup_cmd->add_option("--max-shard-size", soup.max_shard_size, "largest safetensors shard, e.g. 5GB")->capture_default_str();
    soup_cmd->add_option("--device", soup.device, "cpu, cuda or cuda:N")->capture_default_str();
    soup_cmd->add_option("--dtype", soup.dtype, "evaluate in float32, bfloat16 or float16 (default: the checkpoint's)");
    soup_cmd->add_flag("--force", soup.force, "replace the outputs if they exist");
    soup_cmd->add_option("--store", soup.store, "run store database for run:ID[:STEP] inputs");

    try {
        app.parse(argc, argv);
        if (*runs_cmd && runs.action != "list" && runs.id <= 0) throw CLI::RequiredError("runs " + runs.action + ": ID");
        if (*eval_cmd && !eval_model->count() && !eval_run->count()) throw CLI::RequiredError("eval: --model or --run");
        if (*tok_cmd && !tok_text->count() && !tok_file->count()) throw CLI::RequiredError("tokenize: --text or --file");
        if (*detok_cmd && !detok_ids->count() && !detok_file->count()) throw CLI::RequiredError("detokenize: --ids or --file");
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }

    try {
        if (*info_cmd) lathe::run_info(info, std::cout);
        else if (*logits_cmd) lathe::run_logits(logits, std::cout);
        else if (*gen_cmd) lathe::run_generate(gen, std::cout);
        else if (*imp_cmd) lathe::run_import(imp, std::cout);
        else if (*eval_cmd) lathe::run_eval(eval, std::cout);
        else if (*tok_cmd) lathe::run_tokenize(tok, std::cout);
        else if (*detok_cmd) lathe::run_detokenize(detok, std::cout);
        else if (*chat_cmd) lathe::run_chat_template(chat, std::cout);
        else if (*runs_cmd) lathe::run_runs(runs, std::cout);
        else if (*train_cmd) return lathe::run_train(train, std::cout);
        else if (*launch_cmd) return lathe::run_launch(launch);
        else if (*export_cmd) lathe::run_export_command(exp, std::cout);
        else if (*quant_cmd) lathe::run_quantize(quant, std::cout);
        else if (*merge_cmd) lathe::run_merge(merge, std::cout);
        else if (*soup_cmd) lathe::run_soup(soup, std::cout);
        else if (*bench_train) lathe::run_bench_train(bench, std::cout);
        else if (*bench_kernels) lathe::run_bench_kernels(bench_kern, std::cout);
        else if (*inspect_cmd) lathe::run_data_inspect(data_inspect, std::cout);
        else if (*decon_cmd) lathe::run_data_decontaminate(decon, std::cout);
    } catch (const lathe::Error& e) {
        std::cerr << "lathe: error: " << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "lathe: unexpected error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

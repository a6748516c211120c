// `lathe`: the headless command line. Parses flags and hands each subcommand to core/cli.
// Exit codes: 0 success, 1 a lathe::Error (bad input, explained on stderr), 2 bad usage.
#include <CLI/CLI.hpp>

#include <iostream>

#include "core/cli/commands.h"
#include "core/util/error.h"

int main(int argc, char** argv) {
    CLI::App app{"Lathe: finetune language models on your own GPUs"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "lathe 0.1.0");

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
    gen_cmd->add_option("--prompt", gen.prompt, "the prompt as token ids, e.g. \"1 345 22\"")->required();
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

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }

    try {
        if (*info_cmd) lathe::run_info(info, std::cout);
        else if (*logits_cmd) lathe::run_logits(logits, std::cout);
        else if (*gen_cmd) lathe::run_generate(gen, std::cout);
    } catch (const lathe::Error& e) {
        std::cerr << "lathe: error: " << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "lathe: unexpected error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

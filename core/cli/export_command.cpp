// lathe export.
#include <atomic>
#include <csignal>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/cli/commands.h"
#include "core/export/export.h"
#include "core/export/export_check.h"
#include "core/export/shards.h"
#include "core/util/error.h"

namespace lathe {

namespace {

std::atomic<bool> g_cancel{false};
extern "C" void on_cancel_signal(int) { g_cancel.store(true); }

DType export_dtype(const std::string& name) {
    if (name == "float32" || name == "fp32" || name == "f32") return DType::F32;
    if (name == "bfloat16" || name == "bf16") return DType::BF16;
    if (name == "float16" || name == "fp16" || name == "f16" || name == "half") return DType::F16;
    throw Error("--dtype '" + name + "' is not supported; use float32, bfloat16 or float16");
}

}  // namespace

void run_export_command(const ExportCommand& cmd, std::ostream& out) {
    auto emit = [&](const nlohmann::json& event) { out << event.dump() << "\n" << std::flush; };
    try {
        ExportOptions options;
        options.format = cmd.format;
        options.output = cmd.output;
        if (!cmd.dtype.empty()) options.dtype = export_dtype(cmd.dtype);
        options.max_shard_bytes = parse_byte_size(cmd.max_shard_size);
        options.force = cmd.force;
        options.gguf_type = cmd.gguf_type;
        ExportSourceRequest request{.run_id = cmd.run_id, .checkpoint = cmd.checkpoint, .store = cmd.store,
                                    .adapter_dir = cmd.adapter_dir, .model_dir = cmd.model_dir, .base_model = cmd.base_model};
        ExportSource source = resolve_export_source(request);

        // Cancelling is checked at each progress report (between tensors); the staged output is then
        // removed as the exception unwinds.
        g_cancel.store(false);
        std::signal(SIGINT, on_cancel_signal);
        std::signal(SIGTERM, on_cancel_signal);
        options.progress = [&](double fraction, const std::string& what) {
            if (g_cancel.load()) throw Error("export cancelled; nothing was written");
            emit({{"event", "export_progress"}, {"fraction", fraction}, {"what", what}});
        };
        std::string path = run_export(source, options);
        emit({{"event", "export_done"}, {"path", path}, {"format", cmd.format}});
        std::cerr << "lathe: exported " << cmd.format << " to " << path << "\n";
        if (cmd.verify) {
            std::signal(SIGINT, SIG_DFL);  // the export is complete; Ctrl-C now just ends the check
            std::signal(SIGTERM, SIG_DFL);
            const ExportCheck check = check_export(source, path, cmd.format, cmd.gguf_type);
            emit(check.to_json());
            std::cerr << "lathe: verified against the trained model: next token agrees " << 100 * check.top1_agreement << "% of "
                      << check.tokens << " positions, mean KL " << check.mean_kl << ", perplexity " << check.perplexity_trained
                      << " trained / " << check.perplexity_exported << " exported\n";
            for (const auto& w : check.warnings) std::cerr << "lathe: warning: " << w << "\n";
        }
    } catch (const Error& e) {
        emit({{"event", "export_error"}, {"message", e.what()}});
        throw;
    }
}

}  // namespace lathe

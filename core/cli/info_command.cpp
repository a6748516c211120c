#include <nlohmann/json.hpp>

#include "core/cli/commands.h"
#include "core/models/loader.h"
#include "core/models/model_summary.h"

namespace lathe {

void run_info(const InfoCommand& cmd, std::ostream& out) {
    ModelSummary s = summarize_model(cmd.model_dir);
    // Loading (zero-copy on CPU) checks every tensor's presence and shape against the config.
    auto model = load_model(cmd.model_dir);

    if (cmd.json) {
        nlohmann::json j = {
            {"dir", s.dir}, {"model_type", s.model_type}, {"architecture", s.architecture}, {"task", s.task},
            {"parameters", s.parameters}, {"dtype", s.dtype}, {"quantization", s.quantization}, {"size_bytes", s.size_bytes}, {"files", s.files},
            {"layers", s.layers}, {"hidden_size", s.hidden_size}, {"intermediate_size", s.intermediate_size},
            {"heads", s.heads}, {"kv_heads", s.kv_heads}, {"head_dim", s.head_dim}, {"vocab_size", s.vocab_size},
            {"context_length", s.context_length}, {"rope", s.rope}, {"tied_embeddings", s.tied_embeddings},
            {"has_tokenizer", s.has_tokenizer}, {"has_chat_template", s.has_chat_template},
            {"unused_tensors", model->unused_tensors},
        };
        out << j.dump(2) << "\n";
        return;
    }
    out << "model          " << s.dir << "\n"
        << "architecture   " << s.architecture << " (" << s.model_type << "), " << s.task << "\n"
        << "parameters     " << human_count(s.parameters) << " (" << s.parameters << ")\n"
        << "dtype          " << s.dtype << "\n";
    if (!s.quantization.empty()) out << "quantization   " << s.quantization << "\n";
    out
        << "size on disk   " << human_bytes(s.size_bytes) << " in " << s.files << " file" << (s.files == 1 ? "" : "s") << "\n"
        << "layers         " << s.layers << "\n"
        << "hidden size    " << s.hidden_size << " (MLP " << s.intermediate_size << ")\n"
        << "attention      " << s.heads << " heads, " << s.kv_heads << " key/value heads, head dim " << s.head_dim << "\n"
        << "vocabulary     " << s.vocab_size << (s.tied_embeddings ? " (embeddings tied to the output layer)" : "") << "\n"
        << "context        " << s.context_length << " positions\n";
    if (!s.rope.empty()) out << "rope           " << s.rope << "\n";
    out << "tokenizer      " << (s.has_tokenizer ? "yes" : "none") << (s.has_chat_template ? ", with chat template" : "") << "\n";
    if (!model->unused_tensors.empty()) {
        out << "note           " << model->unused_tensors.size() << " tensor(s) in the checkpoint are not used by the model:";
        for (size_t i = 0; i < model->unused_tensors.size() && i < 5; ++i) out << " " << model->unused_tensors[i];
        out << (model->unused_tensors.size() > 5 ? " ..." : "") << "\n";
    }
}

}  // namespace lathe

#include <ATen/core/grad_mode.h>

#include "core/adapters/peft.h"
#include "core/cli/commands.h"
#include "core/io/tensor_io.h"
#include "core/models/loader.h"
#include "core/util/error.h"

namespace lathe {

namespace {

at::Tensor integer_input(const std::map<std::string, at::Tensor>& inputs, const std::string& name,
                         const std::string& path, bool required) {
    auto it = inputs.find(name);
    if (it == inputs.end()) {
        if (required) throw Error(path + ": no tensor '" + name + "'");
        return {};
    }
    if (at::isFloatingType(it->second.scalar_type()) || it->second.dim() != 2)
        throw Error(path + ": '" + name + "' must be an integer tensor [batch, sequence]");
    return it->second.to(at::kLong);
}

}  // namespace

void run_logits(const LogitsCommand& cmd, std::ostream& out) {
    at::NoGradGuard no_grad;
    LoadOptions options;
    options.device = parse_device(cmd.device);
    if (!cmd.dtype.empty()) options.dtype = parse_dtype(cmd.dtype);
    auto model = load_model(cmd.model_dir, options);
    if (!cmd.adapter_dir.empty()) {
        attach_peft_adapter(*model, cmd.adapter_dir);
        if (cmd.merge) merge_adapters(*model);
    } else if (cmd.merge) {
        throw Error("--merge needs --adapter");
    }

    auto inputs = load_safetensors(cmd.input_path);
    at::Tensor ids = integer_input(inputs, "input_ids", cmd.input_path, true);
    at::Tensor mask = integer_input(inputs, "attention_mask", cmd.input_path, false);
    if (mask.defined() && mask.sizes() != ids.sizes())
        throw Error(cmd.input_path + ": 'attention_mask' must have the shape of 'input_ids'");

    at::Tensor logits;
    if (model->lm) {
        logits = model->lm->forward(ids, mask);
    } else {
        at::Tensor types = integer_input(inputs, "token_type_ids", cmd.input_path, false);
        logits = model->classifier->forward(ids, mask, types);
    }
    save_safetensors(cmd.output_path, {{"logits", logits.to(at::kFloat)}});
    out << "wrote logits " << logits.sizes() << " to " << cmd.output_path << "\n";
}

}  // namespace lathe

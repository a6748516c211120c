#include "core/train/qlora_base.h"

#include "core/models/config.h"
#include "core/util/error.h"

namespace lathe {

std::unique_ptr<LoadedModel> load_training_base(const TrainConfig& c, const LoadOptions& options) {
    const ModelConfig base = read_model_config(c.base_model);
    const std::string where = c.source + ": ";
    if (base.quantization) {  // pre-quantized: its 4-bit weights are used as stored
        const std::string what = c.base_model + " is a bitsandbytes 4-bit checkpoint (" + quant::describe(*base.quantization) + ")";
        if (c.adapter != "qlora")
            throw Error(where + "adapter: " + what + (c.adapter.empty() ? "; its 4-bit weights cannot be finetuned in full" : "") +
                        "; set adapter: qlora and load_in_4bit: true to train an adapter on it");
        if (!c.bnb_4bit_quant_type.empty() && c.bnb_4bit_quant_type != base.quantization->quant_type)
            throw Error(where + "bnb_4bit_quant_type: " + c.bnb_4bit_quant_type + ", but " + what + "; leave the key out or set it to " +
                        base.quantization->quant_type);
        if (c.bnb_4bit_use_double_quant && *c.bnb_4bit_use_double_quant != base.quantization->double_quant)
            throw Error(where + "bnb_4bit_use_double_quant: " + (*c.bnb_4bit_use_double_quant ? "true" : "false") + ", but " + what +
                        "; leave the key out or set it to " + (base.quantization->double_quant ? "true" : "false"));
        auto model = load_model(c.base_model, options);
        if (!c.bnb_4bit_compute_dtype.empty()) {  // the run's choice over config.json's, as a BitsAndBytesConfig passed to transformers
            const at::ScalarType compute = parse_dtype(c.bnb_4bit_compute_dtype);
            for (Linear* layer : model->linears())
                if (layer->weight_4bit) layer->compute_dtype = compute;
        }
        return model;
    }
    if (c.adapter != "qlora") return load_model(c.base_model, options);
    LoadOptions quantized = options;
    quantized.load_in_4bit = qlora_quantization(c, options.dtype == at::kBFloat16);
    return load_model(c.base_model, quantized);
}

}  // namespace lathe

#include <nlohmann/json.hpp>

#include <iostream>

#include "core/cli/commands.h"
#include "core/export/shards.h"
#include "core/quant/quantize_model.h"

namespace lathe {

void run_quantize(const QuantizeCommand& cmd, std::ostream& out) {
    quant::QuantizeModelOptions options;
    options.config.quant_type = cmd.quant_type;
    options.config.double_quant = cmd.double_quant;
    options.config.compute_dtype = cmd.compute_dtype;
    options.max_shard_bytes = parse_byte_size(cmd.max_shard_size);
    options.force = cmd.force;
    options.progress = [&out](double fraction, const std::string& what) {
        out << nlohmann::json{{"event", "progress"}, {"fraction", fraction}, {"tensor", what}}.dump() << "\n" << std::flush;
    };
    auto result = quant::quantize_model(cmd.model_dir, cmd.output, options);
    out << nlohmann::json{{"event", "done"}, {"output", cmd.output}, {"quantized_layers", result.quantized_layers},
                          {"bytes", result.bytes_written}}.dump() << "\n";
    std::cerr << "lathe: wrote " << cmd.output << " (" << result.quantized_layers << " linear layers in 4-bit "
              << cmd.quant_type << (cmd.double_quant ? ", double quantization" : "") << ")\n";
}

}  // namespace lathe

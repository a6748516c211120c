#include "core/train/saved_bytes.h"

#include "core/train/train_step.h"
#include "core/util/error.h"
#include "kernels/allocation_probe.h"

namespace lathe {

int64_t forward_saved_bytes(LoadedModel& model, const Batch& b) {
    Batch d = batch_to_device(b, model.lm->device());
    kernels::AllocationProbe probe(model.lm->device().type());
    at::Tensor hidden = model.lm->hidden_states(d.input_ids, d.attention_mask, d.position_ids, nullptr, /*training=*/true, d.sequence_ids);
    return probe.live_bytes();
}

SavedBytes measure_saved_bytes(LoadedModel& model, const Batch& b) {
    SavedBytes s;
    s.layers = static_cast<int64_t>(model.lm->layers.size());
    if (s.layers < 2) throw Error("--saved-bytes needs at least 2 layers (the per-layer figure is the difference against one layer)");
    const int64_t tokens = b.input_ids.numel();
    forward_saved_bytes(model, b);  // first forward: lazily made tables (rotary) are not counted below
    s.all_layers = forward_saved_bytes(model, b);
    model.lm->layers.erase(model.lm->layers.begin() + 1, model.lm->layers.end());
    s.one_layer = forward_saved_bytes(model, b);
    s.per_token_per_layer = static_cast<double>(s.all_layers - s.one_layer) / static_cast<double>(s.layers - 1) / static_cast<double>(tokens);
    return s;
}

}  // namespace lathe

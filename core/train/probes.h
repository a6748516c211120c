// Probe datasets (`probe_datasets:` in the run configuration): named evaluation sets, such as general
// text and the new domain, scored beside the validation set at every evaluation. In continued
// pretraining they show, while the run goes, the general-domain loss rising after the learning rate is
// warmed up again and recovering as it decays (the "stability gap"), and the domain's loss falling.
// Each probe's loss becomes an `eval` event with `probe` set and the run metrics eval_loss/NAME and
// eval_perplexity/NAME (core/train/events.h).
#pragma once

#include <string>
#include <vector>

#include "core/models/loader.h"
#include "core/train/batch.h"
#include "core/train/train_config.h"

namespace lathe {

struct ProbeSet {
    std::string name;
    std::vector<Example> rows;
};

// Renders every entry of c.probe_datasets as a `datasets` entry is rendered (raw text split into
// sequence_len rows; the other types through the tokenized-dataset cache), keeping max_rows rows drawn
// with the run's seed (in file order). Throws lathe::Error naming the probe for one that cannot be read or
// holds no row with a label.
std::vector<ProbeSet> load_probes(const TrainConfig& c);

struct ProbeLoss {
    std::string name;
    double loss = 0;  // mean token cross-entropy over the probe's rows
};

// Each probe's loss with the model as it is (no gradients), in the order of `probes`.
std::vector<ProbeLoss> evaluate_probes(LoadedModel& model, const std::vector<ProbeSet>& probes, int64_t batch_size, int64_t pad_id);

}  // namespace lathe

#include "core/train/probes.h"

#include <optional>

#include "core/data/mix.h"
#include "core/data/prepare.h"
#include "core/data/token_cache.h"
#include "core/train/dataset_rows.h"
#include "core/text/text_tokenizer.h"
#include "core/train/text_dataset.h"
#include "core/train/train_step.h"
#include "core/util/error.h"

namespace lathe {

namespace {

// The rows of one probe, rendered with the run's settings (what the trainer does for a `datasets` entry;
// skipped rows are left out silently, as a probe only measures).
std::vector<Example> render_probe(const DatasetSpec& spec, const TrainConfig& c, std::optional<TextTokenizer>& tokenizer) {
    if (spec.type == "text") {
        if (!tokenizer) tokenizer = TextTokenizer::load(c.base_model);
        return read_text_dataset(spec.path, *tokenizer, c.sequence_len);
    }
    return examples_of(*data::prepare_dataset(spec, prepare_options(c)).rows);
}

bool has_label(const Example& e) {
    for (int64_t l : e.labels)
        if (l != -100) return true;
    return false;
}

}  // namespace

std::vector<ProbeSet> load_probes(const TrainConfig& c) {
    std::vector<ProbeSet> out;
    std::optional<TextTokenizer> tokenizer;
    for (const ProbeSpec& spec : c.probe_datasets) {
        ProbeSet probe{.name = spec.name, .rows = {}};
        try {
            for (Example& e : render_probe(spec.dataset, c, tokenizer))
                if (has_label(e)) probe.rows.push_back(std::move(e));
        } catch (const Error& e) {
            throw Error("probe_datasets '" + spec.name + "': " + e.what());
        }
        if (probe.rows.empty()) throw Error("probe_datasets '" + spec.name + "': " + spec.dataset.path + " holds no row with a trained token");
        const uint64_t n = probe.rows.size();
        if (spec.max_rows > 0 && n > static_cast<uint64_t>(spec.max_rows)) {
            // A seeded spread over the whole file rather than its first rows (often one long document).
            std::vector<Example> kept;
            for (uint64_t i : data::sample_indices(n, static_cast<uint64_t>(spec.max_rows), c.seed)) kept.push_back(std::move(probe.rows[i]));
            probe.rows = std::move(kept);
        }
        out.push_back(std::move(probe));
    }
    return out;
}

std::vector<ProbeLoss> evaluate_probes(LoadedModel& model, const std::vector<ProbeSet>& probes, int64_t batch_size, int64_t pad_id) {
    std::vector<ProbeLoss> out;
    for (const ProbeSet& p : probes) out.push_back({.name = p.name, .loss = evaluation_loss(model, p.rows, batch_size, pad_id)});
    return out;
}

}  // namespace lathe

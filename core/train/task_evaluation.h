// eval_tasks (the run configuration's lm-evaluation-harness task YAMLs): scored with the model being
// trained, adapter on, before step 1, at every evaluation and at the end, through the same task runner as
// `lathe eval` (core/eval/evaluate.h). Each score becomes a `task_score` event and the run metrics
// eval_tasks/TASK/METRIC,FILTER and eval_tasks/TASK/METRIC_stderr,FILTER (core/train/events.h).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/eval/evaluate.h"
#include "core/runs/run_store.h"
#include "core/text/text_tokenizer.h"
#include "core/train/events.h"
#include "core/train/train_config.h"

namespace lathe {

class TaskEvaluation {
public:
    // Inactive when the run has no eval_tasks or `this_rank_scores` is false (a data parallel run scores
    // on rank 0 only). Loads the base model's tokenizer when active.
    TaskEvaluation(const TrainConfig& c, bool this_rank_scores);

    bool active() const { return tokenizer_.has_value(); }
    // Scores every task with `lm` as it is now; records the scores under `step` in the run store and
    // emits one TaskScoreEvent per task, metric and filter. Does nothing when inactive.
    void run(const DecoderLM& lm, int64_t step, RunStore& store, int64_t run_id, const std::function<void(TrainEvent)>& emit) const;

private:
    std::vector<std::string> tasks_;
    eval::EvalOptions options_;  // eval_tasks_limit, eval_tasks_num_fewshot, eval_tasks_batch_size
    std::optional<TextTokenizer> tokenizer_;
};

}  // namespace lathe

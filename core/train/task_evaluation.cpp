#include "core/train/task_evaluation.h"

#include <chrono>
#include <cstdio>

#include "core/cli/eval_command.h"

namespace lathe {

TaskEvaluation::TaskEvaluation(const TrainConfig& c, bool this_rank_scores) : tasks_(c.eval_tasks) {
    if (c.eval_tasks_limit > 0) options_.limit = c.eval_tasks_limit;
    if (c.eval_tasks_num_fewshot >= 0) options_.num_fewshot = c.eval_tasks_num_fewshot;
    options_.batch_size = c.eval_tasks_batch_size;
    if (!tasks_.empty() && this_rank_scores) tokenizer_ = TextTokenizer::load(c.base_model);
}

void TaskEvaluation::run(const DecoderLM& lm, int64_t step, RunStore& store, int64_t run_id, const std::function<void(TrainEvent)>& emit) const {
    if (!active()) return;
    const auto start = std::chrono::steady_clock::now();
    // The task files are read again each time: a task is scored as `lathe eval` would score it then.
    const nlohmann::ordered_json report = eval::evaluate_tasks(lm, *tokenizer_, tasks_, options_);
    const std::vector<EvalScore> scores = eval_scores_of_report(report, options_.limit.value_or(-1));
    std::vector<MetricPoint> metrics;
    for (const EvalScore& s : scores) {
        metrics.push_back({step, task_score_metric(s.task, s.metric, s.filter), s.value});
        if (s.stderr_value) metrics.push_back({step, task_stderr_metric(s.task, s.metric, s.filter), *s.stderr_value});
    }
    store.add_metrics(run_id, metrics);
    for (const EvalScore& s : scores)
        emit(TaskScoreEvent{.step = step, .task = s.task, .metric = s.metric, .filter = s.filter, .value = s.value, .stderr_value = s.stderr_value});
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "lathe: eval_tasks at step %lld: %zu scores in %.1f s\n", static_cast<long long>(step), scores.size(), seconds);
}

}  // namespace lathe

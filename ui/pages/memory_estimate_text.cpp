#include "ui/pages/memory_estimate_text.h"

#include <QCoreApplication>

#include "core/train/memory_estimate.h"
#include "core/models/model_summary.h"

namespace {
QString tr(const char* text) { return QCoreApplication::translate("TrainPage", text); }
QString gib(double bytes) { return QString::fromStdString(lathe::format_gib(bytes)); }
QString bytes(double b) { return QString::fromStdString(lathe::human_bytes(static_cast<uint64_t>(b))); }
}  // namespace

MemoryEstimateText describeMemoryEstimate(const lathe::MemoryEstimate& e, bool bf16) {
    constexpr double kGiB = 1024.0 * 1024 * 1024;
    MemoryEstimateText t;
    t.device_gib = e.device_total() / kGiB;
    t.all_ranks_gib = e.total / kGiB;
    const QString compute = bf16 ? tr("bfloat16") : tr("float32");
    if (e.ranks.empty()) {
        t.details = tr("%1 compute\nweights %2\ngradients %3\noptimizer %4\nactivations %5 (+ %6 logits)")
                        .arg(compute, gib(e.weights), gib(e.gradients), gib(e.optimizer), gib(e.activations), gib(e.logits));
        return t;
    }
    t.all_ranks_gib = 0;
    size_t largest = 0;
    for (size_t r = 0; r < e.ranks.size(); ++r) {
        t.all_ranks_gib += e.ranks[r].total / kGiB;
        if (e.ranks[r].total > e.ranks[largest].total) largest = r;
    }
    const lathe::RankMemory& m = e.ranks[largest];
    t.rank_summary = tr("zero_stage %1; largest, rank %2: optimizer %3, gradients %4, buckets %5")
                         .arg(e.zero_stage).arg(largest).arg(bytes(m.optimizer_states + m.master), bytes(m.gradients), bytes(m.buckets));
    t.details = tr("%1 compute, %2 ranks, zero_stage %3\nweights %4 on every rank\nactivations %5 (+ %6 logits) on every rank")
                    .arg(compute).arg(e.ranks.size()).arg(e.zero_stage).arg(gib(e.weights), gib(e.activations), gib(e.logits));
    for (size_t r = 0; r < e.ranks.size(); ++r)
        t.details += tr("\nrank %1: optimizer %2 (master %3), gradients %4, buckets %5, total %6")
                         .arg(r).arg(bytes(e.ranks[r].optimizer_states), bytes(e.ranks[r].master), bytes(e.ranks[r].gradients),
                                     bytes(e.ranks[r].buckets), gib(e.ranks[r].total));
    return t;
}

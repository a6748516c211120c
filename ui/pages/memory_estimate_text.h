// The words and figures the Train page shows for a memory estimate (core/train/memory_estimate.h): the
// one device's need, every rank's together, the largest rank's sharded parts and the tooltip's breakdown.
#pragma once

#include <QString>

namespace lathe {
struct MemoryEstimate;
}

struct MemoryEstimateText {
    double device_gib = -1;     // one device's need: the process's, or the largest rank's of a data parallel run
    double all_ranks_gib = -1;  // every rank's together (CPU ranks share this machine's memory)
    QString rank_summary;       // data parallel: the largest rank's sharded parts; empty for one process
    QString details;            // the estimate's parts, one per line, for the tooltip
};

MemoryEstimateText describeMemoryEstimate(const lathe::MemoryEstimate& e, bool bf16);
